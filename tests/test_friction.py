"""Structure and mobility in one CG model (issue 23): the IBI table plus a DPD friction matched to D_AA.

Real LAMMPS on tiny systems: the DPD thermostat's units against Groot & Warren's friction of an ideal
DPD gas, g(r) unchanged by a friction on a LJ liquid, the root search on a synthetic response, and
match_mobility on a tiny job (kill-safe, its fragment reproducing its numbers in a plain lmp).
Units: Å, fs, kcal/mol; D in 1e-9 m²/s; γ in kcal fs/(mol Å²).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import analysis, cg, files, friction, ibi, jobs, tables, target
from mobcg.forcefield import OPLS_AA
from mobcg.init import statepoint

import test_cg_dynamics as lj

REPO = Path(__file__).resolve().parents[1]
T = 298.15


def _lattice(n, length, seed=1):
    k = int(math.ceil(n ** (1 / 3)))
    sites = (np.indices((k, k, k)).reshape(3, -1).T + 0.5) * length / k
    return sites[np.random.default_rng(seed).choice(len(sites), n, replace=False)]


def test_the_dpd_friction_of_an_ideal_gas_against_groot_and_warren(tmp_path):
    """No conservative force, only LAMMPS' DPD thermostat, at Groot & Warren's standard DPD parameters:
    ρ rc³ = 3 and γ* = γ rc / √(m kT) = 4.5 (rc 9 Å, beads of 114.232 g/mol: γ = 201 kcal fs/(mol Å²)).
    Their kinetic estimate, each neighbour at rest, D = 45 kT / (2π γ ρ rc³) (J. Chem. Phys. 107, 4423
    (1997)) = 70.4 × 1e-9 m²/s, is a lower bound: a momentum-conserving friction drags the neighbours
    along. Measured 93 ± 7 (ratio 1.33; 2.2 at γ* = 20, 4.1 at 100, where the friction dominates and the
    liquid moves as a whole). A γ in other units (per ps: × 1000), or the friction not acting (D ballistic
    beyond the run), would be far outside 1.05-1.7 ×. friction.einstein_gamma, from the same estimate, gives
    back γ (g = 1, D0 → ∞)."""
    n, rc, mass = 512, 9.0, 114.232
    rho = 3.0 / rc ** 3
    length = (n / rho) ** (1 / 3)
    kT = friction.KB * T
    # γ* = γ rc / √(m kT) with m in kcal fs²/(mol Å²): 1 g/mol = 2390.06 of those (FS_PER_MASS_OVER_ZETA)
    gamma = 4.5 * math.sqrt(mass * friction.FS_PER_MASS_OVER_ZETA * kT) / rc
    assert gamma == pytest.approx(201.1, abs=0.1)
    D_formula = 45 * kT / (2 * math.pi * rho * rc ** 3 * gamma) / friction.D_UNIT
    r = np.arange(0.05, rc + 0.1, 0.1)
    assert friction.einstein_gamma(1e12, D_formula, r, np.ones_like(r), rho, rc, T) == pytest.approx(gamma, rel=2e-3)
    flat = tables.Table.from_potential(np.r_[1e-4, np.arange(0.01, 12.005, 0.01)], np.zeros(1201))
    run = cg.simulate(flat, tmp_path / "gas", _lattice(n, length), [length] * 3, T,
                      dict(timestep_fs=5.0, frame_ps=1.0, equilibrate_ps=20.0, production_ps=150.0), r_cut=12.0,
                      gsd_name=None, mass=mass, friction={"kind": "dpd", "gamma": gamma, "cutoff": rc})
    assert "dpd/tstat" in (tmp_path / "gas" / "cg_nvt.0.in").read_text()
    assert lj.lammps.parse_log(run.log)[-1]["Temp"].mean() == pytest.approx(T, rel=0.03)  # the thermostat
    _, d = cg.diffusion_of(run.times, run.positions)
    print(f"DPD ideal gas: gamma {gamma:.4g}, D = {d.D:.2f} ± {d.err:.2f}, Groot-Warren {D_formula:.2f}")
    assert 1.05 * D_formula < d.D < 1.7 * D_formula


@pytest.fixture(scope="module")
def lj_runs(tmp_path_factory):
    """The LJ liquid at the triple point (256 beads, 100 ps): Nosé–Hoover, and NVE with a DPD friction
    whose Einstein estimate halves D, and with a Langevin friction of the same Einstein friction."""
    root = tmp_path_factory.mktemp("lj_friction")
    n = 256
    base, length = lj.lj_run(root / "nh", n, 100.0)
    _, d0 = cg.diffusion_of(base.times, base.positions)
    r, g = analysis.rdf(base.positions, base.boxes, 0.49 * length, 60)
    rho, rc = n / length ** 3, 1.5 * lj.SIGMA
    T_lj = lj.T_STAR * lj.EPS_K
    gamma = friction.einstein_gamma(d0.D, d0.D / 2, r, g, rho, rc, T_lj)
    zeta = friction.KB * T_lj / (d0.D / 2 * friction.D_UNIT) - friction.KB * T_lj / (d0.D * friction.D_UNIT)
    runs = {"nh": (base, d0, g)}
    for name, fr in (("dpd", {"kind": "dpd", "gamma": gamma, "cutoff": rc}),
                     ("langevin", {"kind": "langevin", "damp": friction.langevin_damp(zeta, lj.MASS)})):
        k = int(math.ceil(n ** (1 / 3)))
        sites = (np.indices((k, k, k)).reshape(3, -1).T + 0.5) * length / k
        positions = sites[np.random.default_rng(1).choice(len(sites), n, replace=False)]
        run = cg.simulate(lj.lj_table(), root / name, positions, [length] * 3, T_lj,
                          dict(timestep_fs=10.0, frame_ps=1.0, equilibrate_ps=50.0, production_ps=100.0),
                          r_cut=lj.R_CUT, mass=lj.MASS, gsd_name=None, friction=fr)
        _, d = cg.diffusion_of(run.times, run.positions)
        runs[name] = (run, d, analysis.rdf(run.positions, run.boxes, 0.49 * length, 60)[1])
    return runs, d0.D / 2


def test_a_friction_slows_the_lj_liquid_and_leaves_its_structure(lj_runs):
    """A thermostat leaves the Boltzmann distribution alone: g(r) with either friction within the noise
    of the Nosé–Hoover run (max |Δg| < 0.1 at a first peak near 3; measured 0.06 and 0.03). D falls. The
    DPD friction sized by Groot & Warren's estimate to halve D (ζ_DPD = kT/(D0/2) − kT/D0, neighbours
    taken at rest) halves it to within 20 %, from above (measured D 0.84 for 0.78: neighbours drift
    along, so the estimate is a lower bound). The Langevin friction of the same size acts on every bead
    alone, the cage's neighbours included, and slows the liquid far more than the estimate (measured
    0.23): below it."""
    runs, einstein = lj_runs
    _, d0, g0 = runs["nh"]
    for name in ("dpd", "langevin"):
        _, d, g = runs[name]
        print(f"LJ {name}: D {d.D:.3f} (NH {d0.D:.3f}, Einstein estimate {einstein:.3f}); max |dg| {np.abs(g - g0).max():.3f}")
        assert np.abs(g - g0).max() < 0.1
    assert einstein <= runs["dpd"][1].D < 1.2 * einstein
    assert runs["langevin"][1].D < einstein


def test_the_langevin_friction_of_an_ideal_gas_is_einsteins(tmp_path):
    """No conservative force, LAMMPS' fix langevin with damping time τ: D = kT τ / m exactly (Einstein's
    free Brownian particle), so friction.langevin_damp's units hold: ζ = kT / D gives τ = m / ζ. 256 beads
    of 114.232 g/mol, ζ for D = 0.5: measured within 5 %."""
    n, length, D_target, mass = 256, 40.0, 0.5, 114.232
    zeta = friction.KB * T / (D_target * friction.D_UNIT)
    flat = tables.Table.from_potential(np.r_[1e-4, np.arange(0.01, 12.005, 0.01)], np.zeros(1201))
    run = cg.simulate(flat, tmp_path / "gas", _lattice(n, length), [length] * 3, T,
                      dict(timestep_fs=5.0, frame_ps=1.0, equilibrate_ps=10.0, production_ps=100.0), r_cut=12.0,
                      gsd_name=None, mass=mass, friction={"kind": "langevin", "damp": friction.langevin_damp(zeta, mass)})
    _, d = cg.diffusion_of(run.times, run.positions)
    print(f"Langevin ideal gas: D = {d.D:.3f} ± {d.err:.3f}, Einstein {D_target}")
    assert d.D == pytest.approx(D_target, rel=0.05)


def test_the_root_search_reaches_a_target_on_a_synthetic_response():
    """D(γ) = 1 / (1/D0 + c γ^p), three shapes, from an estimate a factor 5 off: within the combined
    error in at most 5 runs, every run's γ positive, D decreasing as it should."""
    for c, p, start_factor in ((0.02, 0.9, 0.2), (1e-4, 1.3, 5.0), (0.5, 0.5, 3.0)):
        D0, target = 6.0, 1.2
        response = lambda g: 1 / (1 / D0 + c * g ** p)  # noqa: E731
        exact = ((1 / target - 1 / D0) / c) ** (1 / p)
        search = friction.Search(target, 0.05, D0, start=exact * start_factor)
        while not search.done():
            g = search.next_gamma()
            assert g > 0
            search.runs.append((g, response(g), 0.03))
        best = search.best()
        assert len(search.runs) <= 5 and search.matched(*best[1:]), search.runs
        assert best[0] == pytest.approx(exact, rel=0.15)


# -- match_mobility on a tiny job ---------------------------------------------------------------

@pytest.fixture(scope="module")
def cg_job(tmp_path_factory):
    """A job whose CG stage is a Lennard-Jones liquid (argon's σ and ε, beads of the job's molar mass,
    256 at ρ* = 0.8442, 298.15 K): its table as cg_potential.table, its start as ibi_input.npz, its
    g(r) as the AA target and its D moved to an infinite box with its own viscosity as D_CG_inf; the
    AA target D_AA_inf half that. What match_mobility reads, and a liquid a friction slows as a liquid
    (the tiny preset's 27-bead IBI model hardly slows: its D is mostly its periodic images')."""
    root = tmp_path_factory.mktemp("mobility")
    job = signac.init_project(root).open_job(statepoint(OPLS_AA, "tiny")).init()
    mass, n = cg.bead_mass(job), 256
    length = (n / lj.RHO_STAR) ** (1 / 3) * lj.SIGMA
    positions = _lattice(n, length)
    sec = dict(jobs.preset(job)["cg"], production_ps=40.0)
    run = cg.simulate(lj.lj_table(), root / "nh", positions, [length] * 3, T, sec, r_cut=lj.R_CUT, mass=mass,
                      gsd_name=None, stress_ps=0.05)
    _, d = cg.diffusion_of(run.times, run.positions)
    keys, _ = analysis.box_corrected("CG", d, run.stress_rows(), length, T)
    r, g = analysis.rdf(run.positions, run.boxes, 0.45 * length, 60)
    jobs.save_columns(job.fn("rdf_aa.txt"), "r_angstrom g", r, g)
    tables.export_all(lj.lj_table(), job.path, cg.POTENTIAL)
    ibi_sec = jobs.preset(job)["ibi"]
    target.save(job.fn(target.FILE), target.IBIInput(r, g, 0.01, positions, np.full(3, length), mass),
                target.key(job.fn("aa_com.gsd"), ibi_sec["r_cut"], ibi_sec.get("rdf_dr", 0.1)))  # (as released)
    job.doc.update({**keys, "D_CG": d.D, "D_CG_err": d.err, "ibi_r_cut": lj.R_CUT, "cg_rdf_deviation": 0.0,
                    "ibi_noise": 0.02, "D_AA_inf": 0.5 * keys["D_CG_inf"], "D_AA_inf_err": 0.05 * keys["D_CG_inf"]})
    return job


def _copy(job, root):
    project = signac.init_project(root)
    return project.clone(job)


KILLABLE = """
import json, sys, signac
from mobcg import cg, presets
job = signac.get_project(sys.argv[1]).open_job(id=sys.argv[2])
cg.match_mobility(job, progress=None)
"""


def test_match_mobility_finds_the_friction_resumes_after_a_kill_and_records_it(cg_job, tmp_path):
    """The search ends matched (D_CG_inf of its best run within the combined error of the target) in at
    most 5 runs; a SIGKILL while its second run works leaves the first recorded, and the rerun neither
    repeats it nor ends elsewhere than an uninterrupted search (1 rank: LAMMPS is deterministic)."""
    whole = _copy(cg_job, tmp_path / "whole")
    cg.match_mobility(whole, progress=None)
    assert whole.doc["dpd_matched"] is True and 1 <= whole.doc["dpd_runs"] <= 5
    target, target_err = whole.doc["D_AA_inf"], whole.doc["D_AA_inf_err"]
    assert abs(whole.doc["D_CG_matched"] - target) <= math.hypot(whole.doc["D_CG_matched_err"], target_err)
    assert whole.doc["alpha_matched"] == pytest.approx(whole.doc["D_CG_matched"] / target)
    search = json.loads(Path(whole.fn("mobility/search.json")).read_text())
    assert [r["run"] for r in search["runs"]] == [f"run_{k:02d}" for k in range(whole.doc["dpd_runs"])]
    best = min(search["runs"], key=lambda r: abs(r["D_CG_inf"] - target) / math.hypot(r["D_CG_inf_err"], target_err))
    assert whole.doc["dpd_gamma"] == best["gamma"] and (Path(whole.fn(cg.FRAGMENT)).read_text().count(f"{best['gamma']:.6g}") == 1)
    # killed during the second run
    killed = _copy(cg_job, tmp_path / "killed")
    script = tmp_path / "run.py"
    script.write_text(KILLABLE)
    cmd = [sys.executable, str(script), str(tmp_path / "killed"), killed.id]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not Path(killed.fn("mobility/run_01/cg_nvt.0.in")).exists():
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if "dpd_gamma" in killed.doc:
        pytest.skip("the search ended before its second run could be killed")
    first = json.loads(Path(killed.fn("mobility/search.json")).read_text())["runs"]
    assert [r["run"] for r in first] == ["run_00"]
    mtime = Path(killed.fn("mobility/run_00/cg_nvt.0.log")).stat().st_mtime_ns
    subprocess.run(cmd, check=True)
    assert Path(killed.fn("mobility/run_00/cg_nvt.0.log")).stat().st_mtime_ns == mtime  # not run again
    assert killed.doc["dpd_gamma"] == pytest.approx(whole.doc["dpd_gamma"], rel=1e-9)


def test_a_search_recorded_for_another_target_is_not_reused(cg_job, tmp_path):
    """A job reanalysed after a killed search has another D_AA_inf: the recorded runs (here one that
    would match the new target at once) and their folders belong to the old search and are discarded."""
    job = _copy(cg_job, tmp_path / "reanalysed")
    target = job.doc["D_AA_inf"]
    old = {"D_target": 2 * target, "D_target_err": 0.01, "D0": 1.0, "start": 1.0, "cutoff": 9.0,
           "runs": [{"gamma": 1.0, "D_CG_inf": target, "D_CG_inf_err": 0.01, "run": "run_00"}]}
    Path(job.fn("mobility/run_00")).mkdir(parents=True)
    files.write_json(job.fn("mobility/search.json"), old)
    files.write_text(job.fn("mobility/run_00/stale.txt"), "from the old search")
    cg.match_mobility(job, progress=None)
    record = json.loads(Path(job.fn("mobility/search.json")).read_text())
    assert record["D_target"] == target and job.doc["dpd_gamma"] != 1.0
    assert all(r["gamma"] != 1.0 for r in record["runs"]) and not Path(job.fn("mobility/run_00/stale.txt")).exists()


@pytest.mark.parametrize("factor, err, says", [(3.0, 0.01, "already slower than the all-atom liquid"),
                                                (1.01, 5.0, "already as slow as the all-atom liquid within the errors")])
def test_a_cg_model_not_faster_than_the_aa_one_fails_this_stage_alone(cg_job, tmp_path, factor, err, says):
    job = _copy(cg_job, tmp_path / "slow")
    d_cg, _ = cg.infinite_D(job.doc, "CG")
    job.doc.update({"D_AA_inf": factor * d_cg, "D_AA_inf_err": err})
    cg.match_mobility(job, progress=None)
    assert says in job.doc["mobility_failed"]
    assert "dpd_gamma" not in job.doc and not job.doc.get("failed") and cg.mobility_done(job)
    assert not Path(job.fn("mobility")).exists()  # no run was made
    with pytest.raises(ValueError, match="a friction only slows"):
        friction.Search(factor * d_cg, err, d_cg, 1.0)


def test_a_failed_friction_search_leaves_the_jobs_other_results_standing(cg_job, tmp_path):
    """project.py's match_mobility runs under jobs.failures(..., only="mobility_failed"): a LAMMPS error
    or an unforeseen exception of the search is recorded there; the job is not failed."""
    job = _copy(cg_job, tmp_path / "broken")
    for exc in (jobs.StageFailed("the DPD run blew up"), ZeroDivisionError("a bug")):
        with jobs.failures(job, "match_mobility", only="mobility_failed"):
            raise exc
        assert str(exc) in job.doc["mobility_failed"] and not job.doc.get("failed") and "D_CG_inf" in job.doc


PLAIN = """units           real
atom_style      atomic
boundary        p p p
read_data       start.data
include         cg_dpd.in
neighbor        2.0 bin
timestep        {dt}
velocity        all create {T} 1234 mom yes rot no dist gaussian
fix             1 all nve
run             {eq}
reset_timestep  0
compute         msd all msd
fix             out all ave/time 100 1 100 c_msd[4] file msd.txt
dump            pos all custom 100 pos.dump id xu yu zu
run             {n}
"""


def _dump_frames(path) -> np.ndarray:
    """Positions (F, N, 3) of a LAMMPS custom dump `id xu yu zu`, sorted by id."""
    lines = Path(path).read_text().splitlines()
    n = int(lines[3])
    frames = []
    for start in range(0, len(lines), n + 9):
        rows = np.array([l.split() for l in lines[start + 9:start + 9 + n]], float)
        frames.append(rows[np.argsort(rows[:, 0])][:, 1:])
    return np.array(frames)


def test_the_fragment_runs_in_a_plain_lmp_and_gives_the_jobs_numbers(cg_job, tmp_path):
    """cg_dpd.in with cg_potential.table in a separate folder, included by a plain LAMMPS input of a
    user (not mobcg's templates): the MSD slope gives D within 3 combined errors of the matched run's
    (raw) D_CG, and g(r) within the matched run's noise of its RDF."""
    job = _copy(cg_job, tmp_path / "frag")
    cg.match_mobility(job, progress=None)
    best = json.loads(Path(job.fn("mobility/search.json")).read_text())["runs"]
    best = next(r for r in best if r["gamma"] == job.doc["dpd_gamma"])
    user = tmp_path / "user"
    user.mkdir()
    for name in (cg.FRAGMENT, cg.POTENTIAL_TABLE):
        shutil.copy(job.fn(name), user / name)
    shutil.copy(job.fn(f"mobility/{best['run']}/cg.data"), user / "start.data")
    sec = jobs.preset(job)["cg"]
    dt = sec["timestep_fs"]
    steps = int(sec["production_ps"] * 1000 / dt)
    (user / "in.user").write_text(PLAIN.format(dt=dt, T=T, eq=int(sec["equilibrate_ps"] * 1000 / dt), n=steps))
    subprocess.run([str(Path(sys.executable).parent / "lmp"), "-in", "in.user", "-log", "log.lammps", "-screen", "none"],
                   cwd=user, check=True)
    msd = np.loadtxt(user / "msd.txt")
    t = msd[:, 0] * dt
    half = t > t[-1] / 4
    D = np.polyfit(t[half], msd[half, 1], 1)[0] / 6 * 1e4
    print(f"fragment: D = {D:.3f}, matched run D_CG = {best['D_CG']:.3f} ± {best['D_CG_err']:.3f}")
    assert D == pytest.approx(best["D_CG"], abs=3 * math.hypot(best["D_CG_err"], 0.1 * best["D_CG"]))
    # g(r) of the user's run against the matched run's, both from their frames with the job's own RDF code
    frames = _dump_frames(user / "pos.dump")
    _, pos, boxes = cg.trajectory.read_gsd(job.fn(f"mobility/{best['run']}/{cg.TRAJECTORY}"))
    r_max = 0.49 * boxes[0].min()
    r, g_job = analysis.rdf(pos, boxes, r_max, 40)
    _, g_user = analysis.rdf(frames, np.repeat(boxes[:1], len(frames), axis=0), r_max, 40)
    print(f"fragment: RDF deviation from the matched run {ibi.deviation(r, g_user, g_job):.3f}")
    assert ibi.deviation(r, g_user, g_job) < 0.1
