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
    for md in (presets.FAST_AA, {"respa": 2, "skin": 1.0}, {"respa": 1, "skin": 1.5}):
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
        md = aa.md_settings(ff, presets.get("demo")["aa"])
        assert md["inner_timestep"] == inner and md["timestep"] == pytest.approx(2 * inner)
        assert (md["tdamp"], md["pdamp"]) == (pytest.approx(100 * inner), pytest.approx(1000 * inner))
    assert aa.timestep(stiff) < 1.0
    assert aa.md_settings(forcefield.OPLS_AA, TODAY)["timestep"] == 1.0
