"""The CG stage with real LAMMPS runs (small: 256 beads, 10 fs steps, seconds per run).

A Lennard-Jones-like liquid with a known tabulated potential (ε = 0.6 kcal/mol, σ = 6 Å, cut 12 Å,
beads of 2,3,4-trimethylpentane's mass at 0.0037 Å⁻³, 298.15 K: ρσ³ = 0.8, kT/ε ≈ 1) gives the target
RDF; IBI through cg.simulate must recover structure and potential.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from mobcg import analysis, cg, ibi, lammps, presets, tables, target
from mobcg.lammps import trajectory



T = 298.15
N = 256
RHO = 0.0037  # beads / Å³
L = (N / RHO) ** (1 / 3)
EPS, SIGMA, R_SWITCH, R_CUT = 0.6, 6.0, 4.8, 12.0
RUN = dict(timestep_fs=10.0, frame_ps=0.5)


def known(r):
    """LJ 12-6 (kcal/mol), continued linearly below 4.8 Å (U there ≥ 26 kcal/mol, never visited),
    shifted to 0 at 12 Å and 0 beyond."""
    r = np.asarray(r, float)
    x = np.maximum(r, R_SWITCH)
    lj = 4 * EPS * ((SIGMA / x) ** 12 - (SIGMA / x) ** 6)
    slope = 4 * EPS * (-12 * SIGMA ** 12 / R_SWITCH ** 13 + 6 * SIGMA ** 6 / R_SWITCH ** 7)
    u = np.where(r >= R_SWITCH, lj, lj + slope * (r - R_SWITCH))
    u_cut = 4 * EPS * ((SIGMA / R_CUT) ** 12 - (SIGMA / R_CUT) ** 6)
    return np.where(r >= R_CUT, 0.0, u - u_cut)


def lattice(seed=1):
    """N beads on a random subset of a 7×7×7 simple cubic lattice (no overlaps)."""
    rng = np.random.default_rng(seed)
    sites = (np.indices((7, 7, 7)).reshape(3, -1).T + 0.5) * L / 7
    return sites[rng.choice(len(sites), N, replace=False)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """800 ps of the known-potential liquid: the IBI target (and a CG run to analyse)."""
    grid = tables.PAPER_GRID[tables.PAPER_GRID <= R_CUT + 0.01]
    table = tables.Table.from_potential(grid, known(grid))
    started = time.monotonic()
    run = cg.simulate(table, tmp_path_factory.mktemp("reference"), lattice(), [L] * 3, T,
                      dict(RUN, equilibrate_ps=20.0, production_ps=800.0), r_cut=R_CUT, stress_ps=0.05)
    run.seconds = time.monotonic() - started
    return run


def test_cg_simulation_writes_gsd_and_gives_finite_diffusion(reference):
    assert reference.gsd.is_file() and (reference.gsd.parent / "cg_nvt.0.in").is_file()
    t, pos, boxes = trajectory.read_gsd(reference.gsd)
    assert pos.shape == (1599, N, 3) and np.allclose(boxes, L, rtol=1e-5)
    assert t[1] - t[0] == pytest.approx(500.0)  # fs
    assert np.isfinite(reference.pressure) and reference.pressure_err < 0.1 * abs(reference.pressure)
    msd, d = cg.diffusion_of(t, pos)
    assert np.isfinite(d.D) and d.D > 0 and np.isfinite(d.err) and 0 < d.err < 0.5 * d.D
    assert 0.8 < d.exponent < 1.2  # diffusive window
    # Nosé–Hoover at T: the log's temperature averages to T
    temp = lammps.parse_log(reference.log)[-1]["Temp"]
    assert temp.mean() == pytest.approx(T, rel=0.03)


@pytest.mark.slow  # plain IBI, not the presets' method: physics-grade, 27 s (IMC's recovery stays in the default suite)
def test_ibi_recovers_known_potential(reference, tmp_path):
    """IBI from the PMF start: RDF deviation < 1 % within 15 iterations (typically 7-12 here: run noise puts the floor near 1 %),
    and the recovered potential matches the known one to 0.1 kcal/mol where it is attractive
    (6.2-11 Å; IBI's 1 Å tail switch changes the last Å) and to 0.3 kcal/mol at 5.5 Å on the wall."""
    r_max, bins = target.grid(R_CUT, 0.2, [L] * 3)
    r, g_target = analysis.rdf(reference.positions, reference.boxes, r_max, bins)
    section = dict(RUN, max_iterations=15, tol=0.01, lam=1.0, equilibrate_ps=10.0, production_ps=150.0)
    seen = []
    started = time.monotonic()
    result = cg.iterate(r, g_target, reference.positions[-1] % L, [L] * 3, T, section, tmp_path / "ibi",
                        R_CUT, report=lambda k, dev, p: seen.append((k, dev, p)))
    seconds = time.monotonic() - started
    print(f"IBI: {len(result.iterations)} iterations in {seconds:.0f} s, deviations "
          + ", ".join(f"{it.deviation:.4f}" for it in result.iterations))
    assert result.converged and result.deviation < 0.01
    assert [k for k, _, _ in seen] == list(range(len(result.iterations)))
    assert seen[-1][1] == pytest.approx(result.iterations[-1].deviation)
    assert result.iterations[0].deviation > 0.05  # the PMF start is far off: IBI did the work
    attractive = (r >= 6.2) & (r <= 11.0)
    assert np.max(np.abs(result.U[attractive] - known(r[attractive]))) < 0.1
    assert result.U.min() == pytest.approx(known(r).min(), abs=0.1)
    i = np.argmin(abs(r - 5.5))
    assert result.U[i] == pytest.approx(known(r[i]), abs=0.3)
    # the history on disk resumes: nothing left to simulate
    again = cg.iterate(r, g_target, reference.positions[-1] % L, [L] * 3, T, section, tmp_path / "ibi",
                       R_CUT, progress=None)
    assert again.n_simulated == 0 and np.allclose(again.U, result.U)


def test_imc_recovers_potential_and_pressure_in_fewer_iterations_than_ibi(reference, tmp_path):
    """The Newton-type update (inverse Monte Carlo Jacobian from each CG run, pressure as a constraint)
    against plain IBI with VOTCA's pressure ramp, same target, run lengths and seeds: IMC reaches
    deviation < 1 % with |P - P_target| < 50 atm within 4 iterations (measured: at iteration 3, with the
    attractive part of U within 0.03 kcal/mol of the truth), plain IBI does not within 5 (measured:
    2.6-2.9 % at iteration 3, 1.4-2.2 % at 4, pressure still 50-70 atm high)."""
    r_max, bins = target.grid(R_CUT, 0.2, [L] * 3)
    r, g_target = analysis.rdf(reference.positions, reference.boxes, r_max, bins)
    start = reference.positions[-1] % L
    runs = {}
    for method in ("imc", "ibi"):
        section = dict(RUN, method=method, max_iterations=5, tol=0.01, p_tol=50.0, lam=1.0, equilibrate_ps=10.0,
                       production_ps=150.0)
        runs[method] = cg.iterate(r, g_target, start, [L] * 3, T, section, tmp_path / method, R_CUT,
                                  P_target=reference.pressure, progress=None)
        print(method, [(round(100 * it.deviation, 2), round(it.pressure)) for it in runs[method].iterations])
    imc, plain = runs["imc"], runs["ibi"]
    assert imc.converged and len(imc.iterations) <= 4
    assert abs(imc.pressure - reference.pressure) < 50.0
    assert not plain.converged
    assert [it.deviation for it in imc.iterations[:1]] == [it.deviation for it in plain.iterations[:1]]  # same start
    attractive = (r >= 6.2) & (r <= 11.0)
    assert np.max(np.abs(imc.U[attractive] - known(r[attractive]))) < 0.05


def test_the_presets_trust_region_bounds_the_newton_step(reference, tmp_path):
    """ibi.max_step (kT) from the preset section reaches the Newton step: one IMC iteration from the
    PMF moves U by at most max_step kT where the target is sampled; with room (3 kT) the same step
    is larger (measured: 0.53 kT)."""
    r_max, bins = target.grid(R_CUT, 0.2, [L] * 3)
    r, g_target = analysis.rdf(reference.positions, reference.boxes, r_max, bins)
    kT = 0.0019872041 * T
    steps = {}
    for max_step in (0.1, 3.0):
        section = dict(RUN, method="imc", max_iterations=1, tol=1e-9, p_tol=None, lam=1.0, equilibrate_ps=2.0,
                       production_ps=40.0, max_step=max_step)
        it = cg.iterate(r, g_target, reference.positions[-1] % L, [L] * 3, T, section, tmp_path / str(max_step),
                        R_CUT, progress=None).iterations[0]
        sampled = g_target > 1e-3  # the core below is re-extrapolated, not stepped
        steps[max_step] = np.max(np.abs(it.U_next - it.U)[sampled]) / kT
    assert steps[0.1] <= 0.1 + 1e-6
    assert steps[3.0] > 0.3


def test_the_presets_near_target_regularisation_reaches_the_newton_step(reference, tmp_path):
    """ibi.reg_near/reg_switch from the preset section: with the switch above the PMF's deviation the
    first Newton step is the one reg_near alone gives (same seeds, same run), with the switch below it
    it is reg's; ibi.json records the three."""
    r_max, bins = target.grid(R_CUT, 0.2, [L] * 3)
    r, g_target = analysis.rdf(reference.positions, reference.boxes, r_max, bins)

    def first_step(name, **reg):
        section = dict(RUN, method="imc", max_iterations=1, tol=1e-9, p_tol=None, lam=1.0, equilibrate_ps=2.0,
                       production_ps=40.0, max_step=50.0, **reg)
        it = cg.iterate(r, g_target, reference.positions[-1] % L, [L] * 3, T, section, tmp_path / name, R_CUT,
                        progress=None).iterations[0]
        return it.U_next

    near = first_step("near", reg=0.5, reg_near=0.02, reg_switch=1.0)
    far = first_step("far", reg=0.5, reg_near=0.02, reg_switch=1e-6)
    alone = first_step("alone", reg=0.02)
    assert np.allclose(near, alone, rtol=0, atol=1e-9)
    assert np.abs(near - far).max() > 0.01  # kcal/mol: the two regularisations differ
    params = json.loads((tmp_path / "near" / ibi.SUMMARY_NAME).read_text())["parameters"]
    assert (params["reg"], params["reg_near"], params["reg_switch"]) == (0.5, 0.02, 1.0)


def test_potential_table_is_simulation_ready():
    r = np.linspace(0.05, 12.05, 121)
    U = ibi.pmf_start(r, np.where(r < 4, 0, 1 + np.exp(-(r - 5))), T, 12.0)
    table = cg.potential_table(r, U, 12.0)
    assert table.r[0] == pytest.approx(1e-4) and table.r[-1] >= 12.0 and table.U[-1] == 0
    short, cutoff = cg.truncated(table, 12.0)
    assert cutoff == 12.0 and short.r[-1] >= 12.0 and len(short) == len(table)
    final = cg.potential_table(r, U, 12.0, grid=tables.PAPER_GRID, whole=True)
    assert len(final) == len(tables.PAPER_GRID) and np.all(final.U[tables.PAPER_GRID >= 12.0] == 0)


def test_job_stage_ibi_sample_analyze_figures(reference, tmp_path, monkeypatch):
    """The job-level functions on a stand-in AA result (the reference run as "AA" COM trajectory)."""
    import signac

    from mobcg import jobs, plots

    tiny = presets.get("demo")
    tiny["analysis"].update(rdf_bins=60, rdf_r_max=12.0)
    tiny["ibi"].update(max_iterations=2, rdf_dr=0.2, equilibrate_ps=5.0, production_ps=20.0,
                       timestep_fs=10.0, p_tol=200.0)
    tiny["cg"].update(equilibrate_ps=5.0, production_ps=60.0, frame_ps=0.5, timestep_fs=10.0)
    monkeypatch.setitem(presets.PRESETS, "tiny", tiny)
    project = signac.init_project(str(tmp_path / "project"))
    job = project.open_job({"preset": "tiny", "temperature": T, "pressure": 1.0,
                            "molecule": "2,3,4-trimethylpentane"}).init()
    t, pos, boxes = reference.times[:400], reference.positions[:400], reference.boxes[:400]
    import gsd.hoomd
    with gsd.hoomd.open(job.fn("aa_com.gsd"), "w") as traj:
        for k in range(len(t)):
            traj.append(trajectory.frame(pos[k], boxes[k], int(k * 50), 10.0))
    r, g = analysis.rdf(pos, boxes, 12.0, 60)
    jobs.save_columns(job.fn("rdf_aa.txt"), "r_angstrom g_com", r, g)
    msd, d = cg.diffusion_of(t, pos)
    jobs.save_columns(job.fn("msd_aa.txt"), "t_fs msd_x msd_y msd_z", t, msd)
    job.doc.update({"D_AA": d.D, "D_AA_err": d.err, "D_AA_fit_window_ps": [float(x) for x in d.window_ps]})

    lines = []
    cg.run_ibi(job, progress=lines.append)
    assert cg.ibi_done(job) and job.doc["ibi_iterations"] == 2
    assert {"ibi_deviation", "ibi_converged", "ibi_iteration", "ibi_deviation_current"} <= set(job.doc)
    assert 0 < job.doc["ibi_deviation"] < 1 and len(lines) == 3 and job.id in lines[0]
    assert cg.ibi_label(job) is None  # done: no progress label
    assert job.doc["ibi_start"] == "pmf" and job.doc["ibi_method"] == tiny["ibi"]["method"] == "imc"
    # the target's noise: this stand-in AA trajectory's first half against its second, halved
    r_i = np.loadtxt(job.fn("ibi/target_rdf.txt"))[:, 0]
    _, g1 = analysis.rdf(pos[:200], boxes[:200], r_i[-1] + 0.1, len(r_i))
    _, g2 = analysis.rdf(pos[200:], boxes[200:], r_i[-1] + 0.1, len(r_i))
    assert job.doc["ibi_target_noise"] == pytest.approx(ibi.deviation(r_i, g1, g2) / 2, rel=1e-3)
    # a warm start (aggregate.warm_start) is put on this target's PMF at the AA liquid's own bead density
    # (its last frame's: IBI starts from it): iteration 0 of a fresh IBI is the PMF plus rho b(r)
    warm = project.open_job(dict(job.statepoint(), warm=True)).init()
    for name in ("aa_com.gsd", "rdf_aa.txt"):
        shutil.copy(job.fn(name), warm.fn(name))
    bump = 100.0 * np.exp(-(r_i - 7.0) ** 2)  # kcal/mol per bead/Å³
    cg.run_ibi(warm, progress=None, start=ibi.StartCorrection(r_i, 0 * r_i, bump, "pmf+test"))
    U0 = ibi.read_iteration(warm.fn("ibi/iteration_000.npz")).U
    pmf = ibi.read_iteration(job.fn("ibi/iteration_000.npz")).U
    rho = pos.shape[1] / np.prod(boxes[-1])  # beads per Å³
    at = np.argmin(np.abs(r_i - 7.0))
    assert warm.doc["ibi_start"] == "pmf+test" and U0[at] - pmf[at] == pytest.approx(100 * rho, rel=0.05)
    for ext in ("table", "xvg", "csv"):
        assert job.isfile(f"cg_potential.{ext}")
    final = tables.read_lammps(job.fn("cg_potential.table"))
    assert np.allclose(final.r, tables.PAPER_GRID)
    del job.doc["ibi_converged"]
    assert cg.ibi_label(job).startswith("ibi 1: ")
    job.doc["ibi_converged"] = False

    cg.sample(job)
    assert job.isfile(cg.TRAJECTORY)
    # the potential's share of D_CG's error: two runs with the potential moved by ∓/± the target's noise,
    # as long as the production (same frames)
    d_minus, d_plus = job.doc["D_CG_perturbed"]
    for name in ("cg_run_minus", "cg_run_plus"):
        assert len(np.loadtxt(job.fn(f"{name}/{cg.RUN_NAME}.0.box"), ndmin=2)) == len(np.loadtxt(
            job.fn(f"cg_run/{cg.RUN_NAME}.0.box"), ndmin=2))
    cg.analyze(job)
    runs = [job.doc["D_CG"], d_minus, d_plus]
    assert job.doc["D_CG_err_runs"] == pytest.approx(np.std(runs, ddof=1), rel=1e-12)
    assert d_minus != d_plus  # the perturbation took effect (the runs share their seed)
    assert job.doc["D_CG_err_axes"] == pytest.approx(np.std(job.doc["D_CG_axes"], ddof=1) / np.sqrt(3))
    assert job.doc["D_CG_err"] == max(job.doc["D_CG_err_axes"], job.doc["D_CG_err_runs"])
    d_cg = job.doc["D_CG"]
    job.doc["D_CG_perturbed"] = [d_cg - 2.0, d_cg + 2.0]  # runs far apart: their scatter is the error
    cg.analyze(job)
    assert job.doc["D_CG_err"] == pytest.approx(2.0, rel=1e-9)
    # the error travels into the infinite-box D (with the viscosity's share) and into alpha
    shift = job.doc["D_CG_inf"] - d_cg
    assert shift > 0 and job.doc["D_CG_inf_err"] == pytest.approx(
        np.hypot(2.0, shift * job.doc["eta_CG_err"] / job.doc["eta_CG"]), rel=1e-9)
    # this stand-in AA stage has no viscosity: alpha is then the ratio of the raw D's (never one model's
    # infinite-box D over the other's raw one), with the raw errors, and the job is not viscosity_resolved
    assert "D_AA_inf" not in job.doc and job.doc["viscosity_resolved"] is False
    assert job.doc["alpha"] == pytest.approx(d_cg / job.doc["D_AA"], rel=1e-12)
    assert job.doc["alpha_err"] == pytest.approx(job.doc["alpha"] * np.hypot(
        2.0 / d_cg, job.doc["D_AA_err"] / job.doc["D_AA"]), rel=1e-9)
    job.doc["D_CG_perturbed"] = [d_minus, d_plus]
    cg.analyze(job)
    assert job.doc["D_CG"] > 0 and 0 < job.doc["D_CG_err"] < job.doc["D_CG"]
    assert job.doc["alpha"] == job.doc["alpha_raw"] == pytest.approx(job.doc["D_CG"] / job.doc["D_AA"])
    assert np.isfinite(job.doc["alpha_err"]) and 0 <= job.doc["cg_rdf_deviation"] < 0.5
    assert job.isfile("rdf_cg.txt") and job.isfile("msd_cg.txt")
    names = sorted(p.name for p in plots.job_figures(job))
    assert names == ["msd.png", "potential.png", "rdf.png"]
    assert all(job.isfile(n) for n in names)


def _standin_aa_job(reference, tmp_path, monkeypatch, frames=400):
    """A job whose AA stage is the reference run's first `frames` frames (aa_com.gsd), on a short preset
    ("tiny", replaced for this test): IBI of one short iteration on a 0.2 Å grid to 11 Å."""
    import gsd.hoomd
    import signac

    tiny = presets.get("demo")
    tiny["analysis"].update(rdf_bins=60, rdf_r_max=12.0)
    tiny["ibi"].update(max_iterations=1, rdf_dr=0.2, r_cut=11.0, equilibrate_ps=2.0, production_ps=10.0,
                       timestep_fs=10.0, p_tol=None)
    monkeypatch.setitem(presets.PRESETS, "tiny", tiny)
    job = signac.init_project(str(tmp_path / "project")).open_job(
        {"preset": "tiny", "temperature": T, "pressure": 1.0, "molecule": "2,3,4-trimethylpentane"}).init()
    with gsd.hoomd.open(job.fn("aa_com.gsd"), "w") as traj:
        for k in range(frames):
            traj.append(trajectory.frame(reference.positions[k], reference.boxes[k], int(k * 50), 10.0))
    cg.save_stress(job.fn("stress_aa.txt"), reference)  # its pressure tensor: the AA viscosity
    return job, tiny


def _grid_of(job):
    sec = cg.jobs.preset(job)["ibi"]
    return float(sec["r_cut"]), float(sec.get("rdf_dr", 0.1))


def _fresh_input(job):
    """The IBI input computed from aa_com.gsd now (target.compute, as run_ibi does without a stored one)."""
    return target.compute(trajectory.read_gsd(job.fn("aa_com.gsd")), *_grid_of(job), cg.bead_mass(job))


def _stored_input(job):
    """The stored IBI input if current for the job's grid and trajectory, else None."""
    return target.load(job.fn(target.FILE), target.key(job.fn("aa_com.gsd"), *_grid_of(job)))


def _assert_same_input(a, b):
    for name in ("r", "g", "positions", "box"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.noise, a.mass) == (b.noise, b.mass)


def test_aa_analysis_stores_ibi_input_and_run_ibi_uses_it(reference, tmp_path, monkeypatch):
    """aa.analyze stores what IBI needs (ibi_input.npz): exactly what run_ibi would compute from the
    trajectory, and run_ibi then reads no trajectory, computes no target and imports no rdkit."""
    import sys

    from mobcg import aa, molecule

    job, _ = _standin_aa_job(reference, tmp_path, monkeypatch)
    aa.analyze(job)
    assert job.isfile(cg.IBI_INPUT) and "D_AA" in job.doc
    fresh = _fresh_input(job)  # computed from aa_com.gsd now
    cached = _stored_input(job)
    assert cached is not None
    _assert_same_input(cached, fresh)
    assert fresh.mass == molecule.molar_mass("2,3,4-trimethylpentane")
    assert fresh.r[0] == pytest.approx(0.1) and fresh.r[1] - fresh.r[0] == pytest.approx(0.2)

    def forbidden(*args, **kwargs):
        raise AssertionError("run_ibi recomputed what the AA analysis stored")

    for module, name in ((trajectory, "read_gsd"), (analysis, "rdf_frames"), (molecule, "molar_mass"),
                         (molecule, "_checked")):
        monkeypatch.setattr(module, name, forbidden)
    result = cg.run_ibi(job, progress=None)
    assert len(result.iterations) == 1 and cg.ibi_done(job)
    target = np.loadtxt(job.fn("ibi/target_rdf.txt"))
    np.testing.assert_allclose(target[:, 0], fresh.r, rtol=1e-7)
    np.testing.assert_allclose(target[:, 1], fresh.g, rtol=1e-7, atol=1e-12)
    assert job.doc["ibi_target_noise"] == fresh.noise
    data = Path(job.fn("ibi/iter_000/cg.data")).read_text()
    assert f"1 {fresh.mass:.4f}" in data and f"0 {fresh.box[0]:.6f} xlo xhi" in data
    # the run's restarts and raw histograms, deleted by iterate's helper thread, are gone when it returns
    left = sorted(p.name for p in Path(job.fn("ibi/iter_000")).iterdir())
    assert left == ["cg.data", "cg.table", "cg_nvt.0.box", "cg_nvt.0.in", "cg_nvt.0.log"], left


def test_ibi_numpy_work_runs_on_one_blas_thread(monkeypatch):
    """IBI's small matrices (IMC covariance, Newton step) on one BLAS thread, inside iterate only: a
    sleeping second thread cost 8-16 ms per np.cov on a busy machine."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():  # numpy's BLAS (the one np.cov and the Newton step use)
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    before = blas_threads()
    if not before:
        pytest.skip("numpy's BLAS is not one threadpoolctl can limit")
    r = (np.arange(40) + 0.5) * 0.2
    counts = np.random.default_rng(2).poisson(5.0, (10, 40)).astype(float)
    norms = np.full((10, 40), 5.0)

    def simulate(*args, **kwargs):  # a CG run's histograms, without LAMMPS
        return cg.CGRun(None, None, None, 1.0, 0.1, None, None, (r, counts.sum(0) / norms.sum(0), counts, norms))

    seen = []

    def run_ibi(r_, g_target, P, T_, sim, directory, *args, **kwargs):
        seen.append(blas_threads())  # before the first run: as outside
        sample = sim(np.zeros_like(r), 0, directory)
        seen.append(blas_threads())  # from the first run's results on: one thread
        return sample

    monkeypatch.setattr(cg, "simulate", simulate)
    monkeypatch.setattr(ibi, "run_ibi", run_ibi)
    sample = cg.iterate(r, np.ones_like(r), np.zeros((2, 3)), [20.0] * 3, T,
                        dict(RUN, max_iterations=1, tol=0.01, method="imc"), "unused", r_cut=7.0)
    assert sample.jacobian.shape == (40, 40)
    assert before and seen[0] == before and seen[1] == [1] * len(before) and blas_threads() == before


def test_a_stale_ibi_input_is_not_used(reference, tmp_path, monkeypatch):
    """The stored IBI input is keyed by the IBI grid and the AA trajectory: another grid (preset changed
    since the AA analysis), a new trajectory or a file from another version is recomputed, not used."""
    from mobcg import aa

    job, tiny = _standin_aa_job(reference, tmp_path, monkeypatch)
    aa.analyze(job)
    seen = []

    class Stop(Exception):
        pass

    def iterate(r, g_target, positions, box, *args, **kwargs):
        seen.append((r, g_target, positions, box))
        raise Stop

    monkeypatch.setattr(cg, "iterate", iterate)
    reads = []
    real_read = trajectory.read_gsd
    monkeypatch.setattr(trajectory, "read_gsd", lambda path: reads.append(path) or real_read(path))

    tiny["ibi"]["rdf_dr"] = 0.25  # another grid
    assert _stored_input(job) is None
    with pytest.raises(Stop):
        cg.run_ibi(job, progress=None)
    assert len(reads) == 1 and seen[-1][0][1] - seen[-1][0][0] == pytest.approx(0.25)

    tiny["ibi"]["rdf_dr"] = 0.2  # the grid it was stored for: used
    assert _stored_input(job) is not None
    with pytest.raises(Stop):
        cg.run_ibi(job, progress=None)
    assert len(reads) == 1

    # a new AA trajectory (half the frames) after the analysis: its own target and start
    before = _fresh_input(job)
    _standin_aa_job(reference, tmp_path, monkeypatch, frames=200)
    assert _stored_input(job) is None
    with pytest.raises(Stop):
        cg.run_ibi(job, progress=None)
    assert len(reads) == 3
    now = _fresh_input(job)
    np.testing.assert_array_equal(seen[-1][1], now.g)
    np.testing.assert_array_equal(seen[-1][2], now.positions)
    assert not np.array_equal(now.g, before.g) and not np.array_equal(now.positions, before.positions)

    # a file another version wrote (its key names another version) is not read either
    target.save(job.fn(target.FILE), _fresh_input(job), target.key(job.fn("aa_com.gsd"), *_grid_of(job)))
    assert _stored_input(job) is not None
    monkeypatch.setattr(target, "VERSION", target.VERSION + 1)
    assert _stored_input(job) is None


def test_iterate_checks_its_grid_before_any_simulation(tmp_path):
    """A target not on histogram bin centres from 0, or reaching past half the box, is refused."""
    box = np.array([20.0, 20.0, 20.0])
    pos = np.random.default_rng(1).uniform(0, 20, size=(10, 3))
    section = dict(RUN, max_iterations=1, tol=0.01, lam=1.0, equilibrate_ps=1.0, production_ps=1.0)
    shifted = np.arange(0.1, 9.0, 0.1)  # edges, not centres
    with pytest.raises(ValueError, match=r"bin centres of a histogram from 0.*r\[0\] = 0.1"):
        cg.iterate(shifted, np.ones_like(shifted), pos, box, 298.15, section, tmp_path / "a", r_cut=8.0)
    wide = np.arange(0.05, 12.0, 0.1)
    with pytest.raises(ValueError, match=r"r_max = 12 Å exceeds half the CG box \(10 Å\)"):
        cg.iterate(wide, np.ones_like(wide), pos, box, 298.15, section, tmp_path / "b", r_cut=8.0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing simulated


def test_lammps_binned_rdf_equals_freud_on_the_same_frames(tmp_path):
    """The IBI iterations take their pair histograms from LAMMPS (compute rdf, no positions written):
    on the same run, they must be freud's histograms of the written positions, pair for pair
    (positions are printed to 6 digits, so a pair on a bin edge may move by one bin), with freud's
    normalisation by N(N-1) ordered pairs, which the AA target uses."""
    grid = tables.PAPER_GRID[tables.PAPER_GRID <= R_CUT + 0.01]
    r_max, bins = 0.49 * L, 60
    run = cg.simulate(tables.Table.from_potential(grid, known(grid)), tmp_path, lattice(), [L] * 3, T,
                      dict(RUN, equilibrate_ps=2.0, production_ps=20.0), r_cut=R_CUT, gsd_name=None,
                      rdf=(r_max, bins), positions_out=True)
    assert (tmp_path / "cg_nvt.0.rdf").is_file() and "compute         rdf all rdf 60" in (tmp_path / "cg_nvt.0.in").read_text()
    r, g, counts, norms = run.rdf
    r_f, g_f, counts_f, norms_f = analysis.rdf_frames(run.positions, run.boxes, r_max, bins)
    assert counts.shape == counts_f.shape == (39, bins)  # a frame every 0.5 ps after the first
    np.testing.assert_allclose(r, r_f, atol=1e-5)
    np.testing.assert_allclose(norms, norms_f, rtol=1e-5)
    assert np.abs(counts - counts_f).max() <= 4 and abs(counts.sum() - counts_f.sum()) <= 4
    assert ibi.deviation(r, g, g_f) < 2e-4
    # N(N-1) ordered pairs: far from a bead g is 1 whatever N (freud's own N² would give (N - 1) / N)
    assert g[r > 0.8 * r_max].mean() == pytest.approx(1.0, abs=0.03)


def test_ibi_runs_write_no_positions(tmp_path):
    grid = tables.PAPER_GRID[tables.PAPER_GRID <= R_CUT + 0.01]
    table, section = tables.Table.from_potential(grid, known(grid)), dict(RUN, equilibrate_ps=1.0, production_ps=5.0)
    run = cg.simulate(table, tmp_path, lattice(), [L] * 3, T, section, r_cut=R_CUT, gsd_name=None, keep_raw=False,
                      rdf=(12.0, 120), positions_out=False)
    assert run.positions is None and run.rdf[2].shape == (9, 120)
    assert "com/chunk" not in (tmp_path / "cg_nvt.0.in").read_text()
    assert not list(tmp_path.glob("*.com")) and not list(tmp_path.glob("*.rdf"))  # keep_raw False
    with pytest.raises(ValueError, match="nothing to record"):
        cg.simulate(table, tmp_path / "x", lattice(), [L] * 3, T, section, gsd_name=None, positions_out=False)
