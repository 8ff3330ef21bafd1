"""Issue 21's faster AA settings change how often the neighbour list is built and the pair and k-space
forces are evaluated, never the forces: checked on a stored configuration through the project's own
force-field template (aa.single_point), with real LAMMPS."""

from __future__ import annotations

import numpy as np
import pytest

from mobcg import aa, forcefield, molecule, presets

TODAY = {"respa": 1, "skin": 2.0}  # velocity Verlet, 2 Å skin: the settings before issue 21


@pytest.fixture(scope="module")
def configuration():
    """27 reference molecules on the packing lattice, 3.3 Å apart at the closest: every pair style and
    the k-space sum have work to do, and many pairs lie between the cut-off and cut-off + skin."""
    mol = molecule.build(molecule.DEFAULT)
    positions, length = molecule.pack(mol, 27, seed=11)
    return mol, positions, length


def _forces(tmp_path, configuration, md, name):
    mol, positions, length = configuration
    (tmp_path / name).mkdir()
    return aa.single_point(tmp_path / name, forcefield.OPLS_AA, mol, positions, length, 27, cutoff=8.0, md=md,
                           forces=True)


def test_the_presets_aa_settings_give_todays_forces_to_1e_6(tmp_path, configuration):
    """Skin 1.5 and 1.0 Å, and r-RESPA (the forces of its levels summed): every atom's force equals today's
    to 1e-6 relative (of the largest force), and so does every energy term. Measured: 2e-13."""
    today = _forces(tmp_path, configuration, TODAY, "today")
    f0 = today["forces"]
    assert f0.shape == (27 * 26, 3)
    scale = np.abs(f0).max()
    assert scale > 1.0  # kcal/mol/Å: the RDKit conformers are not at the force field's minimum
    for md in (presets.RESPA_AA, presets.FAST_AA, {"respa": 2, "skin": 1.0}, {"respa": 1, "skin": 1.5}):
        other = _forces(tmp_path, configuration, md, f"respa{md['respa']}_skin{md['skin']}")
        np.testing.assert_allclose(other["forces"], f0, rtol=0, atol=1e-6 * scale, err_msg=str(md))
        for term in ("PotEng", "E_bond", "E_angle", "E_dihed", "E_vdwl", "E_coul", "E_long"):
            assert other[term] == pytest.approx(today[term], rel=1e-6, abs=1e-6), (md, term)
    rendered = (tmp_path / "respa2_skin1.5" / "single_point.in").read_text()
    assert "run_style       respa 2 2 bond 1 angle 1 dihedral 1 pair 2 kspace 2" in rendered
    assert "neighbor        1.5 bin" in rendered


def test_respa_keeps_the_bonded_time_step_and_the_thermostat_times():
    """r-RESPA's outer step is `respa` inner steps; the inner one is the bond rule's (aa.timestep); the
    Nosé–Hoover damping times stay 100 and 1000 inner steps, as before r-RESPA (they are times, fs)."""
    stiff = forcefield.nest(forcefield.flatten(forcefield.OPLS_AA) | {"K_CH": 900.0})
    for ff in (forcefield.OPLS_AA, stiff):
        inner = aa.timestep(ff)
        md = aa.md_settings(ff, presets.RESPA_AA)
        assert md["inner_timestep"] == inner and md["timestep"] == pytest.approx(2 * inner)
        assert (md["tdamp"], md["pdamp"]) == (pytest.approx(100 * inner), pytest.approx(1000 * inner))
    assert aa.timestep(stiff) < 1.0
    assert aa.md_settings(forcefield.OPLS_AA, TODAY)["timestep"] == 1.0


def test_hydrogen_mass_repartitioning_keeps_the_molecule_and_slows_only_the_c_h_bond():
    """HMR (aa "hmr": true): H 3 × 1.008 amu, the carbons lighter by what the hydrogens gain, so C8H18 still
    weighs 114.23 g/mol (8 × 12.011 + 18 × 1.008); the step is the one that gives the repartitioned C–H
    bond (reduced mass 2.154 amu, K = 340 kcal/mol/Å²) today's 10 steps per period, from SI constants."""
    m = forcefield.repartitioned_masses(*molecule.composition(molecule.DEFAULT))
    assert m["H"] == pytest.approx(3.024) and 8 * m["C"] + 18 * m["H"] == pytest.approx(114.232, abs=1e-6)
    mu = m["C"] * m["H"] / (m["C"] + m["H"]) * 1.66053906660e-27  # kg
    k = 2 * 340.0 * 4184.0 / 6.02214076e23 * 1e20  # J/m², the spring constant 2K
    period_fs = 2 * np.pi * np.sqrt(mu / k) * 1e15  # 17.2 fs, against 11.3 fs with the true masses
    md = aa.md_settings(forcefield.OPLS_AA, {"hmr": True}, molecule.composition(molecule.DEFAULT))
    assert md["timestep"] == pytest.approx(np.floor(period_fs * 10) / 100) and md["timestep"] > 1.6
    # the thermostat and barostat keep today's times: only the integration changes
    assert (md["tdamp"], md["pdamp"]) == (100.0, 1000.0)
    assert md["masses"] == m
    assert aa.md_settings(forcefield.OPLS_AA, TODAY)["masses"] is None


def test_a_job_says_how_its_aa_runs_integrate():
    """job.doc.aa_integrator (aa.integrator) names the protocol, the step aside (it follows from each
    force field). Every preset a campaign or a user runs integrates as FAST_AA (issue 21's winner); only the
    tests' tiny keeps r-RESPA."""
    composition = molecule.composition(molecule.DEFAULT)
    described = {name: aa.integrator(aa.md_settings(forcefield.OPLS_AA, section, composition))
                 for name, section in (("fast", presets.FAST_AA), ("respa", presets.RESPA_AA), ("today", TODAY))}
    assert described == {"fast": "HMR, velocity Verlet", "respa": "r-RESPA (2 inner steps)",
                         "today": "velocity Verlet"}
    assert {name for name, p in presets.PRESETS.items() if p["aa"].get("hmr")} == {"demo", "campaign", "small", "paper"}


def test_hmr_changes_no_force(tmp_path, configuration):
    """Masses enter the integration only: HMR's forces and energies are today's, and its input sets them."""
    today = _forces(tmp_path, configuration, TODAY, "today")
    hmr = _forces(tmp_path, configuration, {"respa": 1, "skin": 2.0, "hmr": True}, "hmr")
    np.testing.assert_allclose(hmr["forces"], today["forces"], rtol=0, atol=1e-6 * np.abs(today["forces"]).max())
    assert hmr["PotEng"] == pytest.approx(today["PotEng"], rel=1e-9)
    rendered = (tmp_path / "hmr" / "single_point.in").read_text()
    assert "mass            1 7.475" in rendered and "mass            2 3.024" in rendered


def test_hmr_production_writes_the_true_centres_of_mass(tmp_path, monkeypatch):
    """With repartitioned masses the production still writes each molecule's centre of mass weighted by
    the true masses (C 12.011, H 1.008): the COM RDF and MSD are those of the real molecule. Checked by
    rerunning the job's own rendered input with the atoms dumped at the first frame. The NPT before it ran
    r-RESPA (a preset changed between the stages), and job.doc.aa_integrator says so."""
    import copy
    import subprocess
    from pathlib import Path

    import signac

    from mobcg import lammps
    from mobcg.init import statepoint
    from mobcg.lammps import trajectory

    job = signac.init_project(tmp_path).open_job(statepoint(forcefield.OPLS_AA, "tiny")).init()
    aa.build(job)
    aa.equilibrate(job, progress=None)  # the tiny preset's r-RESPA
    preset = copy.deepcopy(presets.PRESETS["tiny"])
    preset["aa"].update(respa=1, hmr=True)
    monkeypatch.setitem(presets.PRESETS, "tiny", preset)
    aa.sample(job, progress=None)
    # a preset changed between the stages: the job says how each ran
    assert job.doc["aa_integrator"] == "r-RESPA (2 inner steps) (NPT), HMR, velocity Verlet (production)"
    assert job.doc["aa_timestep_fs"] == 1.72  # the production's step, computed above
    # the job's own production input, rerun beside it with the atoms dumped at every frame
    steps, _ = trajectory.read_vector_file(job.fn("sample_aa.0.com"))
    every = int(steps[1] - steps[0])
    text = Path(job.fn("sample_aa.0.in")).read_text().replace("read_restart    aa_equilibrated.restart",
                                                                f"read_restart    {job.fn('aa_equilibrated.restart')}")
    text = text.replace("\nrun ", f"\ndump            atoms all custom {every} atoms.dump id mol type xu yu zu\n"
                                  "dump_modify     atoms sort id format float %.10g\nrun ", 1)
    (tmp_path / "rerun.in").write_text(text.replace("sample_aa.", "rerun."))
    subprocess.run(lammps.command(1) + ["-in", "rerun.in", "-screen", "none", "-nocite"], cwd=tmp_path, check=True)
    steps, rows = trajectory.read_vector_file(tmp_path / "rerun.0.com")
    lines = (tmp_path / "atoms.dump").read_text().splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP") and int(lines[i + 1]) == steps[0]][0]
    atoms = np.loadtxt(lines[at + 9:at + 9 + 27 * 26])
    mol = atoms[:, 1].astype(int)

    def centres(mass_c, mass_h):
        w = np.where(atoms[:, 2] == 1, mass_c, mass_h)
        return np.array([np.average(atoms[mol == m, 3:6], axis=0, weights=w[mol == m]) for m in range(1, 28)])

    np.testing.assert_allclose(rows[0][:, -3:], centres(12.011, 1.008), atol=1e-4)
    assert np.abs(centres(7.475, 3.024) - centres(12.011, 1.008)).max() > 0.01  # Å: another point
