"""The coarse-grained stage: IBI for a one-bead-per-molecule pair potential, CG sampling, analysis.

Each job-level function takes a signac job, works in its folder, and leaves a file or job.doc key
that marks it done (written last). The CG beads sit at the molecules' centres of mass; the CG box
starts from the last AA centre-of-mass frame (aa_com.gsd), so the CG liquid has the AA density.
Units: LAMMPS real (Å, fs, kcal/mol, atm, K); D in 1e-9 m²/s.

    simulate(table, workdir, positions, box, T, section)   one CG NVT run -> CGRun (arrays)
    run_ibi(job)    IBI in <job>/ibi/, final potential -> cg_potential.{table,xvg,csv}
    sample(job)     CG production with the final potential -> cg_com.gsd
    analyze(job)    CG RDF (vs the AA target), MSD -> D_CG, viscosity -> D_CG_inf, alpha = D_CG_inf / D_AA_inf
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import analysis, files, friction, ibi, jobs, lammps, tables, target
from .lammps import data, trajectory

# Files that mark each stage done (written last, atomically).
POTENTIAL = "cg_potential"  # stem: cg_potential.table / .xvg / .csv
POTENTIAL_TABLE = POTENTIAL + ".table"
IBI_DIR = "ibi"
TRAJECTORY = "cg_com.gsd"
RDF = "rdf_cg.txt"
MSD = "msd_cg.txt"
STRESS = "stress_cg.txt"  # the production's pressure tensor in windows (Green–Kubo viscosity)
VISCOSITY = "viscosity_cg.txt"  # its running Green–Kubo integral
AA_TRAJECTORY = "aa_com.gsd"  # the AA stage's (mobcg.aa.TRAJECTORY)
IBI_INPUT = target.FILE  # run_ibi's input, stored by the AA analysis (mobcg.target)

TMP_MASS = 114.232  # g/mol, C8H18 (2,3,4-trimethylpentane): the default; a job's is bead_mass(job)
TABLE_KEYWORD = "CG"
SKIN = 2.0  # Å, the neighbor skin of the CG runs (cg_nvt.in)
TABLE_STYLE = "spline"  # how LAMMPS interpolates the CG table (pair_style table <style> N)
RUN_NAME = "cg_nvt"  # segment files cg_nvt.K.{in,log,com,box}, restarts cg_nvt.restart.{a,b}


@dataclass
class CGRun:
    """One CG simulation: times (F,) fs from 0, unwrapped positions (F, N, 3) Å, boxes (F, 3) Å,
    mean pressure (atm, averaged over every production step), its standard error, and the GSD."""
    times: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    pressure: float
    pressure_err: float
    gsd: Path | None
    log: Path
    rdf: tuple | None = None  # (r, g, counts, norms) as analysis.rdf_frames, from LAMMPS (simulate's `rdf`)
    stress: np.ndarray | None = None  # (W, 6) pressure tensor (atm) averaged over windows of stress_fs
    stress_fs: float | None = None

    def stress_rows(self) -> np.ndarray:
        """(W, 7): the end of each window (fs from the production's start) and the pressure tensor (atm)."""
        return np.column_stack([(np.arange(len(self.stress)) + 1) * self.stress_fs, self.stress])


def truncated(table: tables.Table, r_cut: float) -> tuple[tables.Table, float]:
    """The table up to the first point at or beyond r_cut, and the pair_coeff cutoff to use
    (min(r_cut, last r)): LAMMPS needs the cutoff inside the table."""
    n = int(np.searchsorted(table.r, r_cut - 1e-9, side="left")) + 1
    n = min(max(n, 2), len(table.r))
    return tables.Table(table.r[:n], table.U[:n], table.F[:n]), float(min(r_cut, table.r[n - 1]))


def simulate(table: tables.Table, workdir, positions: np.ndarray, box, T: float, section: dict,
             r_cut: float | None = None, np: int = 1, job_id: str = "?", seed: int | None = None,
             mass: float = TMP_MASS, gsd_name: str | None = TRAJECTORY, keep_raw: bool = True,
             pressure: float | None = None, rdf: tuple[float, int] | None = None,
             positions_out: bool = True, discard=None, stress_ps: float | None = None,
             friction: dict | None = None) -> CGRun:
    """Run one CG NVT (Nosé–Hoover) simulation of beads at `positions` (N, 3) in box (3,) Å.

    `section` is a preset's "ibi" or "cg" section: equilibrate_ps, production_ps, frame_ps,
    timestep_fs. Writes cg.table, cg.data, cg_nvt.K.in/.log/.box (K: segment) and `gsd_name` into `workdir`;
    resumable like AA production (lammps.run_resumable): a killed run continues from its last restart;
    raises lammps.LammpsError / SimulationBlowUp on failure. `gsd_name` None: no GSD (IBI iterations,
    whose record is the iteration file; writing and reading it back was a tenth of their time).
    `pressure` (atm): NPT instead of NVT, only to find the density a potential gives (boxes then vary
    per frame).
    `rdf` (r_max Å, bins): LAMMPS bins each frame's pairs (compute rdf) into cg_nvt.K.rdf, returned as
    CGRun.rdf; `positions_out` False: no position output (CGRun.positions None). IBI iterations
    need only the histograms, and this spares writing, parsing and re-binning every frame's positions.
    `discard(paths)`: deletes the files the run no longer needs (its periodic restarts; with keep_raw
    False its raw outputs), default at once; IBI passes one that deletes them while the next run works.
    `stress_ps`: the production's pressure tensor averaged over windows of this length (CGRun.stress,
    for its Green–Kubo viscosity).
    `friction`: NVE with a friction as the thermostat instead of Nosé–Hoover: {"kind": "dpd", "gamma":
    kcal fs/(mol Å²), "cutoff": Å} (LAMMPS pair dpd/tstat overlaid on the table) or {"kind": "langevin",
    "damp": fs} (fix langevin).
    """
    if not (positions_out or rdf or gsd_name):
        raise ValueError("simulate: nothing to record (positions_out False, no rdf, no gsd_name)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    r_cut = float(table.r[-1] if r_cut is None else r_cut)
    short, cutoff = truncated(table, r_cut)
    tables.write_lammps(workdir / "cg.table", short, keyword=TABLE_KEYWORD, durable=False)
    data.write_cg(workdir / "cg.data", np_asarray(positions), np_asarray(box), mass)
    ctx = _simulation_context(section, len(positions), len(short), cutoff, T, job_id,
                              seed if seed is not None else lammps.seed(f"{job_id}{workdir.name}"),
                              pressure, positions_out or gsd_name is not None, rdf, stress_ps, friction)
    # Resumable: a killed run continues from the last periodic restart of its production (segments
    # cg_nvt.K.in/.log/.com/.box, merged below); a kill before the first restart starts over.
    segments = lammps.run_resumable("cg_nvt.in", workdir, RUN_NAME, ctx, np=np, job=job_id)
    return _collect(workdir, segments, ctx, rdf, stress_ps, gsd_name, keep_raw, discard, len(positions), job_id)


def _simulation_context(section: dict, n_beads: int, table_points: int, cutoff: float, T: float, job_id: str,
                        seed: int, pressure, write_positions: bool, rdf, stress_ps, friction_) -> dict:
    """cg_nvt.in's context: the section's lengths in steps of its time step, the outputs asked for."""
    dt = float(section["timestep_fs"])
    frame_every = lammps.steps(section["frame_ps"], dt)
    production_steps = max(frame_every, lammps.steps(section["production_ps"], dt) // frame_every * frame_every)
    return dict(n_beads=n_beads, job_id=job_id, data_file="cg.data", name=RUN_NAME,
                table_points=max(5000, table_points), table_file="cg.table", keyword=TABLE_KEYWORD,
                r_cut=f"{cutoff:.6g}", skin=SKIN, timestep=dt, temperature=T, seed=seed,
                thermo_every=frame_every * 20, frame_every=frame_every,
                equilibrate_steps=lammps.steps(section["equilibrate_ps"], dt), production_steps=production_steps,
                restart_every=max(frame_every, (production_steps // 10) // frame_every * frame_every),
                pressure=pressure, write_positions=write_positions,
                rdf_bins=rdf[1] if rdf else None, rdf_cutoff=f"{rdf[0]:.10g}" if rdf else None,
                rdf_comm_cutoff=f"{max(rdf[0], cutoff) + SKIN + 0.1:.6g}" if rdf else None,
                stress_every=lammps.steps(stress_ps, dt) if stress_ps else None, friction=friction_,
                table_style=TABLE_STYLE)


def _collect(workdir: Path, segments: list[int], ctx: dict, rdf, stress_ps, gsd_name, keep_raw: bool, discard,
             n_beads: int, job_id: str) -> CGRun:
    """The run's segments merged into a CGRun (and the GSD); the files it no longer needs discarded."""
    dt = ctx["timestep"]
    log = workdir / f"{RUN_NAME}.{segments[-1]}.log"
    boxes_ = [workdir / f"{RUN_NAME}.{k}.box" for k in segments]
    outputs = {kind: [workdir / f"{RUN_NAME}.{k}.{kind}" for k in segments]
               for kind, wanted in (("com", ctx["write_positions"]), ("rdf", rdf)) if wanted}
    stress_files = [workdir / f"{RUN_NAME}.{k}.stress" for k in segments] if stress_ps else []
    try:
        merged = {kind: trajectory.merge_segments(list(zip(files, boxes_))) for kind, files in outputs.items()}
        steps, frames = _common_frames(merged)
        by_step = next(iter(merged.values()))[2]  # the box file's rows, the same for each kind
        for kind in merged:
            trajectory.checked(steps, by_step, outputs[kind][-1])
        if gsd_name is not None:
            trajectory.write_gsd(steps, frames["com"], by_step, workdir / gsd_name, dt)
        # per-frame pressure averages (every production step) of the frames this run kept
        press = np_asarray([row[3] for step, row in sorted(by_step.items()) if step <= steps[-1]])
        stress = trajectory.merge_rows(stress_files)[1] if stress_ps else None
    except (trajectory.TrajectoryError, IndexError) as exc:
        raise jobs.StageFailed(f"job {job_id}: {exc}") from None
    # a rerun after this starts a fresh segment
    done = [*lammps.restart_files(workdir, RUN_NAME),
            *(() if keep_raw else (p for f in [*outputs.values(), stress_files] for p in f))]
    (discard or unlink_all)(done)
    # the arrays read_gsd would give, without reading the GSD back (float64, not GSD's float32)
    times = (np_asarray(steps) - steps[0]) * dt
    boxes = np_asarray([by_step[int(s)][:3] for s in steps])
    gsd = workdir / gsd_name if gsd_name is not None else None
    histograms = analysis.rdf_from_lammps(frames["rdf"][:, :, 0], rdf[0], boxes, n_beads) if rdf else None
    return CGRun(times, np_asarray(frames["com"]) if "com" in frames else None, boxes, float(press.mean()),
                 _block_error(press), gsd, log, histograms, stress,
                 ctx["stress_every"] * dt if stress_ps else None)


def unlink_all(paths) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


def _common_frames(merged: dict) -> tuple[np.ndarray, dict]:
    """{kind: merge_segments(...)} → (steps in every kind, {kind: its rows at those steps}): the
    outputs share their frame steps (fix ave/time, same period), except a frame a kill cut in one."""
    steps = functools.reduce(np.intersect1d, [m[0] for m in merged.values()])
    return steps, {kind: rows[np.isin(kind_steps, steps)] for kind, (kind_steps, rows, _) in merged.items()}


def np_asarray(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _block_error(x: np.ndarray, blocks: int = 10) -> float:
    """Standard error of the mean from `blocks` block averages (correlated samples)."""
    x = np.asarray(x, float)
    if len(x) < 2 * blocks:
        return float(np.std(x, ddof=1) / math.sqrt(max(len(x) - 1, 1))) if len(x) > 1 else math.nan
    means = np.array([b.mean() for b in np.array_split(x, blocks)])
    return float(means.std(ddof=1) / math.sqrt(blocks))


def potential_table(r: np.ndarray, U: np.ndarray, r_cut: float, grid=tables.PAPER_GRID,
                    whole: bool = False) -> tables.Table:
    """A potential on the IBI grid as a simulation-ready table on `grid` (up to the first point at
    or past r_cut; `whole`: all of it, e.g. the exported paper grid 0.0001..15.49 Å):
    exponential wall in the core, U = F = 0 from r_cut on."""
    grid = np.asarray(grid, float)
    if not whole:
        last = int(np.searchsorted(grid, r_cut - 1e-9, side="left"))
        grid = grid[:min(last + 1, len(grid))]
    return tables.simulation_ready(r, U, grid=grid, r_cut=min(r_cut, grid[-1]))


# ----------------------------------------------------------------------------------------
# job level


def bead_mass(job) -> float:
    """The CG bead's mass: the job's molecule's molar mass (g/mol; one bead per molecule)."""
    return jobs.info(job).mass


def replicated(positions: np.ndarray, box, min_beads: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The configuration (positions in [0, L), box) tiled k × k × k times, k the smallest with at least
    `min_beads` beads (None or fewer than the beads there: unchanged). Each tile is the AA liquid's own
    periodic configuration, so the local structure is the AA one from the first step; the copies part
    within picoseconds (independent velocities) while the CG equilibration runs."""
    positions, box = np_asarray(positions), np_asarray(box)
    n = len(positions)
    k = 1 if not min_beads or n >= min_beads else int(math.ceil((min_beads / n) ** (1 / 3) - 1e-9))
    if k == 1:
        return positions, box
    shifts = np.indices((k, k, k)).reshape(3, -1).T * box
    return (positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3), box * k


def iterate(r, g_target, positions, box, T: float, section: dict, directory, r_cut: float,
            P_target: float | None = None, mass: float = TMP_MASS, np: int = 1, job_id: str = "?",
            report=None, progress=print, U_start=None, start: str = "pmf",
            target_noise: float | None = None, background: files.Background | None = None) -> ibi.IBIResult:
    """IBI towards g_target (on the grid r, bin centres of analysis.rdf from 0 to r[-1] + dr/2)
    with CG runs of `positions` in `box` (preset "ibi" section: method "ibi" or "imc",
    max_iterations, tol, p_tol, lam, reg, run lengths). Resumable: state in `directory`.
    `report(iteration, deviation, pressure)` is called after every simulation (by a helper thread, in
    order; all calls are done when iterate returns). P_target None or
    section p_tol None: structure only. `U_start` (kcal/mol on r) replaces the PMF start; `start`
    says where it came from. `target_noise`: the deviation g_target's own sampling noise explains
    (see target_rdf); with it, an iteration whose deviation is within the combined noise of target
    and run counts as converged. `background`: the helper thread for the file work (see below) of a
    caller that waits for it itself (then done once it has), else iterate's own."""
    r = np_asarray(r)
    r_max, bins = _check_ibi_grid(r, box)
    r_cut = min(float(r_cut), float(r[-1]))
    p_tol = section.get("p_tol") if P_target is not None else None
    method = section.get("method", "ibi")

    # file work a run does not wait for (deleting its restarts and raw histograms, writing the
    # iteration's record, `report`) is done by a helper thread while the next run works: it was a third
    # of an iteration's time outside LAMMPS on a busy disk. All of it is done when iterate returns.
    own = background is None
    background = files.Background() if own else background
    # numpy's work on one BLAS thread from the first run's results on (one_blas_thread); finding the
    # BLAS library (10 ms) is done by the helper thread while that run works
    background.submit(_blas)
    one_thread, limited = contextlib.ExitStack(), []

    def sim(U, k, workdir):
        table = potential_table(r, U, r_cut)
        # per-frame pair histograms, binned by LAMMPS: g, its noise (half against half) and, for IMC,
        # the run's response
        run = simulate(table, workdir, positions, box, T, section, r_cut=r_cut, np=np, job_id=job_id,
                       seed=lammps.seed(f"{job_id}{k}"), mass=mass, keep_raw=False, gsd_name=None,
                       rdf=(r_max, bins), positions_out=False,
                       discard=lambda paths: background.submit(unlink_all, paths))
        if not limited:
            limited.append(one_thread.enter_context(one_blas_thread()))
        _, g, counts, norms = run.rdf
        if report is not None:
            background.submit(report, k, ibi.deviation(r, g, g_target), run.pressure)
        return ibi.Sample(g, run.pressure, ibi.imc_jacobian(counts, norms.mean(0), T) if method == "imc" else None,
                          target.sampling_noise(r, counts, norms))

    say = (lambda line: progress(f"job {job_id}: {line}")) if progress else None
    density = len(positions) / float(np_asarray(box).prod())  # beads per Å³, for the Newton step
    with background if own else contextlib.nullcontext(), one_thread:
        return ibi.run_ibi(r, g_target, P_target if p_tol is not None else None, T, sim, directory, r_cut,
                           p_tol=p_tol, method=method, density=density, progress=say, U_start=U_start, start=start,
                           target_noise=target_noise, background=background, **_ibi_options(section))


def _check_ibi_grid(r: np.ndarray, box) -> tuple[float, int]:
    """(r_max, bins) of IBI's grid r after checking it: analysis.rdf gives bin centres of a histogram from
    0, and IBI compares g and g_target bin by bin, so a target on any other grid, or past half the box,
    would be silently misread."""
    dr = r[1] - r[0]
    if abs(r[1:] - r[:-1] - dr).max() > 1e-4 * dr or abs(r[0] - dr / 2) > 1e-3 * dr:  # freud: float32
        raise ValueError(f"IBI grid: r must be the bin centres of a histogram from 0 (r[0] = dr/2, uniform); "
                         f"got r[0] = {r[0]:.6g} Å, dr = {dr:.6g} Å")
    half = 0.5 * float(np_asarray(box).min())  # (`np` is the rank count here, not numpy)
    if r[-1] + dr / 2 > half * (1 + 1e-9):
        raise ValueError(f"IBI grid: r_max = {r[-1] + dr / 2:.4g} Å exceeds half the CG box ({half:.4g} Å)")
    return r[-1] + dr / 2, len(r)


def _ibi_options(section: dict) -> dict:
    """ibi.run_ibi's settings from a preset's "ibi" section (its defaults where the section is silent)."""
    return dict(max_iterations=int(section["max_iterations"]), tol=float(section["tol"]),
                lam=float(section.get("lam", 1.0)), smooth=int(section.get("smooth", 1)),
                pressure_scale=float(section.get("pressure_scale", 0.1)), reg=float(section.get("reg", 0.05)),
                max_step=float(section.get("max_step", 2.0)),
                stop_within_noise=bool(section.get("stop_within_noise", True)),
                stall_iterations=int(section.get("stall_iterations", 0)),
                stall_gain=float(section.get("stall_gain", 0.05)),
                reg_near=None if section.get("reg_near") is None else float(section["reg_near"]),
                reg_switch=float(section.get("reg_switch", 0.05)))


@functools.lru_cache(maxsize=None)
def _blas():
    try:
        import threadpoolctl
        return threadpoolctl.ThreadpoolController().select(user_api="blas")
    except Exception:  # (a scikit-learn dependency; without it BLAS keeps its threads)
        return None


def one_blas_thread():
    """A context in which numpy's BLAS uses one thread. IBI's matrices are ~100 × 100 (the IMC
    covariance, the Newton step): a second BLAS thread only adds the wait for it to wake, and after
    each CG run it sleeps: on a busy machine np.cov of 120 × 111 took 8-16 ms so, 0.4 ms on one
    thread, with bit-identical results (OpenBLAS splits the output between threads, not the sums)."""
    blas = _blas()
    return blas.limit(limits=1) if blas is not None and len(blas) else contextlib.nullcontext()


def start_potential(r, g_target, T: float, r_cut: float, predicted=None, rho: float | None = None):
    """(U_start on r in kcal/mol, source); (None, "pmf") without `predicted`. `predicted` is either an
    ibi.StartCorrection (aggregate.warm_start: this target's PMF plus the correction at the bead density
    `rho`, beads/Å³) or (grid Å, U kcal/mol, source), a whole potential (e.g. a model's prediction). Either
    is moved onto the IBI grid, its core re-extrapolated from the first bin the target samples (a model's
    core is a table wall, not data) and brought to 0 at r_cut like every IBI potential."""
    if predicted is None:
        return None, "pmf"
    if isinstance(predicted, ibi.StartCorrection):
        U = ibi.pmf_start(r, g_target, T, r_cut) + np.interp(r, predicted.r, predicted.at(rho))
        return as_start(r, r, U, g_target, T, r_cut), predicted.source
    grid, U, source = predicted
    return as_start(r, grid, U, g_target, T, r_cut), source


def as_start(r, grid, U, g_target, T: float, r_cut: float) -> np.ndarray:
    """A potential U (kcal/mol on `grid`, Å) as an IBI start on r: interpolated, its core
    re-extrapolated from the first bin g_target samples, 0 from r_cut on."""
    r = np_asarray(r)
    U = np.interp(r, grid, U)
    U = ibi.extend_core(r, U, int(np.flatnonzero(np_asarray(g_target) > ibi.G_MIN)[0]), T)
    return (U - np.interp(r_cut, r, U)) * (r < r_cut)


def run_ibi(job, np: int = 1, progress=print, start=None) -> ibi.IBIResult:
    """IBI towards the AA COM RDF at the AA density and pressure; resumable (state in ibi/).

    `start`: what to start from instead of the PMF (start_potential): the PMF plus the correction the
    finished jobs' IBI made (aggregate.warm_start, passed in by the workflow), or a whole potential;
    job.doc["ibi_start"] says which (a resumed run keeps the start it began with).
    Target, start and bead mass come from ibi_input.npz (the AA analysis', aa_input) when current, else
    from aa_com.gsd. Done marker: job.doc["ibi_converged"] (set last, after cg_potential.* are written).
    """
    info = jobs.info(job)
    with files.Background() as background:  # IBI's file work off the critical path (iterate)
        result, r_cut = _run_ibi(info, job.doc.update, np, progress, start, background)
    # every record on disk; then the done marker
    job.doc.update({"ibi_start": result.start,  # a resumed run keeps the start it began with
                    "ibi_iterations": len(result.iterations), "ibi_final_iteration": result.iteration,
                    "ibi_pressure": float(result.pressure), "ibi_r_cut": r_cut,
                    "ibi_deviation": float(result.deviation), "ibi_method": result.method,
                    "ibi_noise": _finite(result.iterations[result.iteration].noise),
                    "ibi_stopped": result.stopped})
    job.doc["ibi_converged"] = bool(result.converged)
    return result


def aa_input(info: jobs.Info) -> target.IBIInput:
    """What the CG stage takes from the AA one (target.IBIInput: IBI's target, the CG start, the bead
    mass): stored by the AA analysis (ibi_input.npz) when current, else computed from aa_com.gsd."""
    sec = info.preset["ibi"]
    r_cut, dr = float(sec["r_cut"]), float(sec.get("rdf_dr", 0.1))
    return (target.load(info.fn(IBI_INPUT), target.key(info.fn(AA_TRAJECTORY), r_cut, dr))
            or target.compute(trajectory.read_gsd(info.fn(AA_TRAJECTORY)), r_cut, dr, info.mass))


def _run_ibi(info: jobs.Info, record, np, progress, predicted, background):
    """IBI for the job `info` describes; `record(dict)` updates its document (progress keys, by the helper
    thread); cg_potential.* exported. (result, r_cut)."""
    sec = info.preset["ibi"]
    inp = aa_input(info)
    r, g_target, target_noise = inp.r, inp.g, inp.noise
    # IBI's CG box as large as the preset allows (ibi.min_beads), the target unchanged
    positions, box = replicated(inp.positions, inp.box, sec.get("min_beads"))
    background.submit(record, {"ibi_target_noise": target_noise})
    directory = Path(info.fn(IBI_DIR))
    directory.mkdir(exist_ok=True)
    # a record of the target, written anew by every (re)run: no fsync
    jobs.save_columns(directory / "target_rdf.txt", "r_angstrom g_aa_com", r, g_target, durable=False)

    def report(k, dev, pressure):
        record({"ibi_iteration": int(k), "ibi_deviation_current": float(dev), "ibi_pressure_current": float(pressure)})

    r_cut = min(float(sec["r_cut"]), float(r[-1]))
    rho = len(inp.positions) / float(np_asarray(inp.box).prod())  # beads per Å³ of the AA liquid
    U_start, start = start_potential(r, g_target, info.T, r_cut, predicted, rho)
    result = iterate(r, g_target, positions, box, info.T, sec, directory, float(sec["r_cut"]),
                     P_target=info.P, mass=inp.mass, np=np, job_id=info.id, report=report, progress=progress,
                     U_start=U_start, start=start, target_noise=target_noise, background=background)
    final = potential_table(result.r, result.U, r_cut, grid=tables.PAPER_GRID, whole=True)
    tables.export_all(final, info.path, POTENTIAL)  # while the helper writes the last record
    return result, r_cut


def _finite(x) -> float | None:
    return float(x) if math.isfinite(x) else None


def ibi_done(job) -> bool:
    return "ibi_converged" in jobs.document(job) and jobs.has_file(job, POTENTIAL_TABLE)


def sample(job, np: int = 1, progress=print) -> CGRun:
    """CG production with the final IBI potential, long enough for a diffusive MSD; cg_com.gsd marks it done.

    Starts with cg.production_ps; while the MSD's fit window is not diffusive, reruns twice as long
    (CG runs are cheap: a fresh longer run costs less bookkeeping than continuing one), up to
    cg.production_max_ps. analyze records whether it got there (D_CG_diffusive). With
    cg.potential_error, two more runs measure how much D_CG depends on the potential
    (job.doc.D_CG_perturbed, see potential_error).
    """
    info = jobs.info(job)
    sec = dict(info.preset["cg"])
    inp = aa_input(info)
    # at the paper's size (cg.min_beads, 1000): a small box slows a low-viscosity CG liquid more than the AA
    positions, box = replicated(inp.positions, inp.box, sec.get("min_beads"))
    r_cut = float(job.doc.get("ibi_r_cut", info.preset["ibi"]["r_cut"]))
    run = _produce_until_diffusive(info, tables.read_lammps(info.fn(POTENTIAL_TABLE)), sec, positions, box, r_cut,
                                   inp.mass, np, progress)
    job.doc["cg_pressure"] = run.pressure
    job.doc["cg_pressure_err"] = run.pressure_err
    if sec.get("potential_error", False):
        job.doc["D_CG_perturbed"] = potential_error(info, run, sec, positions, box, r_cut, int(job.doc["ibi_final_iteration"]),
                                                    np=np, progress=progress)
    elif "D_CG_perturbed" in job.doc:
        del job.doc["D_CG_perturbed"]  # from an earlier run with other settings
    save_stress(info.fn(STRESS), run)
    os.replace(run.gsd, info.fn(TRAJECTORY))
    return run


def _produce_until_diffusive(info: jobs.Info, table, sec: dict, positions, box, r_cut: float, mass: float, np: int,
                             progress) -> CGRun:
    """The CG production in cg_run/, rerun twice as long while its MSD is not diffusive (up to the cap)."""
    import shutil
    cap = float(sec.get("production_max_ps", sec["production_ps"]))
    work = Path(info.fn("cg_run"))
    # a killed longer rerun continues at the length it was asked for
    asked = lammps.requested_steps(work, RUN_NAME) * float(sec["timestep_fs"]) / 1000
    sec["production_ps"] = max(float(sec["production_ps"]), asked)
    while True:
        run = simulate(table, work, positions, box, info.T, sec, r_cut=r_cut, np=np, job_id=info.id,
                       seed=lammps.seed(info.id + "cg"), mass=mass, keep_raw=False, stress_ps=sec.get("stress_ps", 0.05))
        _, d = diffusion_of(run.times, run.positions)
        if d.diffusive or sec["production_ps"] >= cap:
            return run
        sec["production_ps"] = min(cap, 2 * sec["production_ps"])
        if progress:
            progress(f"job {info.id}: CG MSD not diffusive yet (exponent {d.exponent:.2f}); production rerun "
                     f"for {sec['production_ps']:.0f} ps")
        shutil.rmtree(work)


def save_stress(path, run: CGRun) -> None:
    """A run's pressure tensor windows (t in fs from the production's start, six components in atm)."""
    jobs.save_columns(path, f"t_fs pxx pyy pzz pxy pxz pyz (atm, each the mean over the {run.stress_fs:g} fs window "
                      "ending at t)", *run.stress_rows().T)


def potential_error(info: jobs.Info, run: CGRun, section: dict, positions, box, r_cut: float, final_iteration: int,
                    np: int = 1, progress=print) -> list[float]:
    """D_CG (1e-9 m²/s) with the final IBI potential moved so that its RDF shifts by ∓ and ± the AA
    target's own sampling noise: [D_minus, D_plus].

    Every potential whose RDF lies within the target's noise fits it as well as the one IBI stopped at.
    The shift δ is half the difference between the target's first and second half (its noise); the
    step is Gauss–Newton with the Jacobian of this production's own pair histograms, the pressure held
    at this run's. Each perturbed potential runs as the production did (same length and seed; the
    trajectories still part within picoseconds), so the scatter of D over the three runs holds the
    run-to-run noise and the potential's uncertainty together: analyze takes it as D_CG's error when it
    exceeds the three axes' spread, which in the demo was a third of the scatter between seeds."""
    T, ibi_sec = info.T, info.preset["ibi"]
    final = ibi.load_history(info.fn(IBI_DIR))[final_iteration]
    r, U = final.r, final.U
    dr = float(r[1] - r[0])
    r_max, bins = float(r[-1]) + dr / 2, len(r)
    _, aa_pos, aa_boxes = trajectory.read_gsd(info.fn(AA_TRAJECTORY))
    _, _, counts, norms = analysis.rdf_frames(aa_pos, aa_boxes, r_max, bins)
    first, second = target.halves(counts, norms)
    delta = 0.5 * (first - second)
    _, g, counts, norms = analysis.rdf_frames(run.positions, run.boxes, r_max, bins)
    jacobian = ibi.imc_jacobian(counts, norms.mean(0), T)
    rho = len(positions) / float(np_asarray(box).prod())
    step = functools.partial(ibi.newton_update, U, g, T=T, r=r, rho=rho, r_cut=r_cut, P=run.pressure,
                             P_target=run.pressure, reg=float(ibi_sec.get("reg_near") or ibi_sec.get("reg", 0.05)),
                             max_step=float(ibi_sec.get("max_step", 2.0)), jacobian=jacobian)
    # the response to ±δ alone: a step with δ = 0 still re-extrapolates the core from this run's edge,
    # which is not the target's noise (and alone moved D_CG by 3 % in the demo's reference)
    base = step(g_target=g)
    out = []
    for sign, name in ((-1, "minus"), (1, "plus")):
        U_p = U + step(g_target=g + sign * delta) - base
        if progress:
            progress(f"job {info.id}: CG production {name}: the potential moved so that g shifts by "
                     f"{'-' if sign < 0 else '+'}1 × the AA target's noise (D_CG's error from three runs)")
        perturbed = simulate(potential_table(r, U_p, r_cut), info.fn(f"cg_run_{name}"), positions, box, T, section,
                             r_cut=r_cut, np=np, job_id=info.id, seed=lammps.seed(info.id + "cg"),
                             mass=info.mass, gsd_name=None, keep_raw=False)
        out.append(float(diffusion_of(perturbed.times, perturbed.positions)[1].D))
    return out


def diffusion_of(times, positions) -> tuple[np.ndarray, analysis.Diffusion]:
    msd = analysis.msd_xyz(positions)
    return msd, analysis.diffusion(times, msd)


def analyze(job, before_done=None) -> None:
    """CG RDF (deviation from the AA target), MSD → D_CG ± err, the CG viscosity (Green–Kubo) and
    D_CG_inf (Yeh–Hummer), alpha = D_CG_inf / D_AA_inf ± err (mobility_ratio).

    Done marker: job.doc["alpha"] (set last; `before_done(job)`, e.g. the figures, runs just before it,
    so a kill in between leaves the stage undone instead of done without figures)."""
    t, pos, boxes = trajectory.read_gsd(job.fn(TRAJECTORY))
    aa_rdf = jobs.load_columns(job.fn("rdf_aa.txt"))
    r_aa, g_aa = aa_rdf[:, 0], aa_rdf[:, 1]
    dr = r_aa[1] - r_aa[0]
    r_max = r_aa[-1] + dr / 2
    r, g = analysis.rdf(pos, boxes, r_max, len(r_aa))
    if len(r) == len(r_aa) and np.allclose(r, r_aa, atol=1e-6):
        dev = ibi.deviation(r, g, g_aa)
    else:  # the CG box is smaller than the AA RDF range: compare where both exist
        dev = ibi.deviation(r, g, np.interp(r, r_aa, g_aa))
    jobs.save_columns(job.fn(RDF), "r_angstrom g_cg", r, g)
    msd, d = diffusion_of(t, pos)
    jobs.save_columns(job.fn(MSD), "t_fs msd_x msd_y msd_z (angstrom^2)", t, msd)
    if not np.isfinite(d.D) or d.D <= 0:
        raise jobs.StageFailed(f"job {job.id}: no CG diffusion (D_CG = {d.D:.3g})")
    # D_CG's error: the spread of its three axes (2 degrees of freedom: in the demo it was a third of
    # the scatter between seeds) or, where sample ran the two perturbed runs, the scatter of D over the
    # three runs, whose trajectories and potentials (within the target's noise) differ: the larger
    perturbed = job.doc.get("D_CG_perturbed")
    e_runs = float(np.std([d.D, *perturbed], ddof=1)) if perturbed else None
    err = max(d.err, e_runs or 0.0)
    box = float(np.prod(boxes, axis=1).mean() ** (1 / 3))
    finite_size = jobs.box_corrected(job, "CG", dataclasses.replace(d, err=err), jobs.load_columns(job.fn(STRESS)),
                                     box, VISCOSITY)
    job.doc.update({"cg_rdf_deviation": float(dev), "D_CG_axes": list(d.per_axis),
                    "D_CG_fit_window_ps": [float(x) for x in d.window_ps], "D_CG_msd_exponent": d.exponent,
                    "D_CG_diffusive": d.diffusive, "cg_production_ps": round(float(t[-1]) / 1000, 3),
                    "n_beads": int(pos.shape[1]), "D_CG": d.D, "D_CG_err_axes": d.err, "D_CG_err_runs": e_runs,
                    "D_CG_err": err, **finite_size})
    ratio = mobility_ratio(dict(job.doc))
    alpha = ratio.pop("alpha")
    job.doc.update(ratio)
    if before_done is not None:
        before_done(job)
    job.doc["alpha"] = alpha


def infinite_D(doc, model: str) -> tuple[float, float]:
    """(D_<model>_inf, its error) of an analysed job (1e-9 m²/s): the convention of alpha, the datasets
    and the pairs. A trusted job always has it (viscosity_resolved); only an untrusted job, or a preset
    that waives trust (tiny, tests), can lack it, and then gets the raw D."""
    if f"D_{model}_inf" in doc:
        return float(doc[f"D_{model}_inf"]), float(doc[f"D_{model}_inf_err"])
    return float(doc[f"D_{model}"]), float(doc.get(f"D_{model}_err", 0.0))


def matched_gamma(doc) -> float:
    """The DPD friction of a job document where match_mobility reached D_AA (kcal fs/(mol Å²)), else NaN:
    a capped, unmatched γ is no training target."""
    return float(doc["dpd_gamma"]) if doc.get("dpd_matched") is True else math.nan


def mobility_ratio(doc: dict) -> dict:
    """alpha = D_CG / D_AA from a job document's D values: `alpha` ± `alpha_err` from the infinite-box
    D of both models (the convention of alpha, the datasets and the pairs), `alpha_raw` from the
    measured ones (in boxes of different sizes: AA box_AA, CG box_CG), and `viscosity_resolved`, false
    where either model's Green–Kubo viscosity came out ≤ 0 (no correction: alpha is then the raw
    ratio, and the job is untrusted, aggregate.TRUST_FLAGS)."""
    raw = doc["D_CG"] / doc["D_AA"]
    resolved = "D_AA_inf" in doc and "D_CG_inf" in doc
    if resolved:
        (a, ea), (b, eb) = infinite_D(doc, "CG"), infinite_D(doc, "AA")
    else:  # never one model's infinite-box D over the other's raw one
        (a, ea), (b, eb) = (doc["D_CG"], doc.get("D_CG_err", 0.0)), (doc["D_AA"], doc.get("D_AA_err", 0.0))
    alpha = a / b
    return {"alpha_raw": raw, "alpha": alpha, "alpha_err": alpha * math.hypot(ea / a, eb / b),
            "viscosity_resolved": resolved}


def ibi_label(job) -> str | None:
    """"ibi 5: 2.3%" while IBI runs (iteration, current RDF deviation); None otherwise."""
    doc = jobs.document(job)
    if "ibi_iteration" not in doc or "ibi_converged" in doc:
        return None
    return f"ibi {doc['ibi_iteration']}: {100 * doc.get('ibi_deviation_current', float('nan')):.1f}%"


# ----------------------------------------------------------------------------------------
# structure and mobility in one model: the IBI table + a DPD friction matched to D_AA (issue 23)

MOBILITY_DIR = "mobility"  # one folder per CG run of the search, and search.json
FRAGMENT = "cg_dpd.in"  # the LAMMPS fragment for a user's own CG input


def mobility_done(job) -> bool:
    doc = jobs.document(job)
    return "dpd_gamma" in doc or "mobility_failed" in doc


def match_mobility(job, np: int = 1, progress=print) -> dict:
    """The DPD friction γ with which the job's IBI table moves as fast as the all-atom liquid:
    D_CG_inf(γ) = D_AA_inf within their combined error, by a root search on log γ (friction.Search)
    started from the estimate of a bead among resting neighbours (friction.einstein_gamma). Each run is
    the CG production (cg section: size, length, seed) with NVE + LAMMPS' DPD thermostat (pair
    dpd/tstat, reach: the first minimum of the AA g(r)) instead of Nosé–Hoover, its D moved to an
    infinite box with its own Green–Kubo viscosity (the friction raises it). Resumable: every finished
    run is recorded in mobility/search.json, a killed run resumes from its restart. Writes the fragment
    cg_dpd.in (with cg_potential.table) and records dpd_gamma (the done marker, last), dpd_cutoff,
    D_CG_matched ± err, alpha_matched, the matched run's RDF deviation, r² and pressure. A job whose CG
    model is already slower than the AA one (alpha < 1 beyond the errors: no friction can help) records
    mobility_failed with the reason and leaves its other results as they are; so does one already as
    slow within the errors (no friction to add), and a search that fails (project.py: jobs.failures with
    only="mobility_failed")."""
    info, doc = jobs.info(job), dict(job.doc)
    (target, target_err), (D0, D0_err) = infinite_D(doc, "AA"), infinite_D(doc, "CG")
    if D0 <= target:  # a friction only slows: nothing to search
        how = ("already as slow as the all-atom liquid within the errors" if D0 + math.hypot(D0_err, target_err) >= target
               else "already slower than the all-atom liquid")
        reason = (f"job {job.id}: the CG model without friction is {how} (D_CG_inf {D0:.3g} ± {D0_err:.2g}, "
                  f"D_AA_inf {target:.3g} ± {target_err:.2g}): no friction to match")
        job.doc["mobility_failed"] = reason
        if progress:
            progress(reason)
        return {"mobility_failed": reason}
    r_cut = float(doc.get("ibi_r_cut", info.preset["ibi"]["r_cut"]))
    table = tables.read_lammps(info.fn(POTENTIAL_TABLE))
    runs, search, cutoff = _search_friction(info, table, r_cut, target, target_err, D0, np, progress)
    gamma, D, err = search.best()
    best = next(r for r in runs if r["gamma"] == gamma)
    files.write_text(info.fn(FRAGMENT), friction.fragment(POTENTIAL_TABLE, r_cut, gamma, cutoff, info.T, info.mass,
                                                          keyword=POTENTIAL, table_style=TABLE_STYLE, job=info.id))
    noise = doc.get("ibi_noise") or doc.get("ibi_target_noise") or 0.0
    keys = {"dpd_cutoff": cutoff, "dpd_runs": len(runs), "dpd_matched": search.matched(D, err),
            "D_CG_matched": D, "D_CG_matched_err": err, "alpha_matched": D / target,
            "alpha_matched_err": D / target * math.hypot(err / D, target_err / target),
            "eta_CG_matched": best["eta_CG"], "cg_matched_pressure": best["pressure"],
            "cg_matched_rdf_deviation": best["rdf_deviation"], "cg_matched_rdf_r2": best["rdf_r2"],
            # a thermostat does not move g(r): the matched run's RDF must fit as well as the unmatched one's
            "cg_matched_rdf_within_noise": best["rdf_deviation"] <= doc.get("cg_rdf_deviation", 0.0) + noise}
    job.doc.update(keys)
    job.doc["dpd_gamma"] = gamma  # kcal fs/(mol Å²), within dpd_cutoff Å: the done marker, last
    return keys | {"dpd_gamma": gamma}


def _search_friction(info: jobs.Info, table, r_cut: float, target: float, target_err: float, D0: float, np: int,
                     progress) -> tuple[list, friction.Search, float]:
    """match_mobility's search: its runs (each recorded in mobility/search.json as it ends), the search and
    the friction's reach (Å, the first minimum of the AA g(r))."""
    sec = info.preset["cg"]
    inp = aa_input(info)
    positions, box = replicated(inp.positions, inp.box, sec.get("min_beads"))
    r_aa, g_aa = jobs.load_columns(info.fn("rdf_aa.txt")).T
    cutoff = friction.first_minimum(r_aa, g_aa)
    start = friction.einstein_gamma(D0, target, r_aa, g_aa, len(inp.positions) / float(np_asarray(inp.box).prod()),
                                    cutoff, info.T) or 1e-3
    # a friction that needs a time step below 0.5 fs is not worth its cost (friction.max_timestep)
    search = friction.Search(target, target_err, D0, start, max_gamma=friction.max_timestep(1.0, inp.mass) / 0.5)
    record = Path(info.fn(MOBILITY_DIR)) / "search.json"
    setup = {"D_target": target, "D_target_err": target_err, "D0": D0, "start": start, "cutoff": cutoff}
    earlier = json.loads(record.read_text()) if record.is_file() else {}
    # runs of a search for another target, start or reach (the job was reanalysed) are not this search's
    if {k: earlier.get(k) for k in setup} == setup:
        runs = earlier["runs"]
    else:  # nor are their run folders (a run_NN would resume from their restarts)
        runs = []
        for folder in Path(info.fn(MOBILITY_DIR)).glob("run_*"):
            shutil.rmtree(folder)
        files.write_json(record, {**setup, "runs": runs})  # before the first run: its folder is this search's
    search.runs = [(r["gamma"], r["D_CG_inf"], r["D_CG_inf_err"]) for r in runs]
    while not search.done():
        gamma = search.next_gamma()
        result = model_run(info, table, r_cut, sec, positions, box, Path(info.fn(MOBILITY_DIR)) / f"run_{len(runs):02d}",
                           "cg", {"kind": "dpd", "gamma": gamma, "cutoff": cutoff}, np=np)
        if not result["viscosity_resolved"]:  # its raw D is no match for an infinite-box target
            raise jobs.StageFailed(f"job {info.id}: the DPD run at gamma {gamma:.4g} has no positive viscosity "
                                   f"(eta_CG {result['eta_CG']:.3g} mPa s): its D cannot be moved to an infinite box")
        runs.append(result)
        search.runs.append((gamma, result["D_CG_inf"], result["D_CG_inf_err"]))
        files.write_json(record, {**setup, "runs": runs})
        if progress:
            progress(f"job {info.id}: DPD friction gamma {gamma:.4g} kcal fs/(mol Å²): D_CG_inf {result['D_CG_inf']:.3g} "
                     f"± {result['D_CG_inf_err']:.2g} (target D_AA_inf {target:.3g} ± {target_err:.2g})")
    return runs, search, cutoff


def model_run(info: jobs.Info, table: tables.Table, r_cut: float, section: dict, positions, box, workdir,
              seed_tag: str, friction_: dict | None = None, np: int = 1) -> dict:
    """One CG production of a model (a table, and a friction as the thermostat or Nosé–Hoover) at the
    job's state, judged as the job's own: its D (raw, and moved to an infinite box with the run's own
    viscosity), RDF deviation and r² against the AA target, pressure. A DPD friction gets a time step that
    resolves it (friction.max_timestep)."""
    section = dict(section)
    if friction_ and friction_["kind"] == "dpd":
        section["timestep_fs"] = min(float(section["timestep_fs"]),
                                     math.floor(100 * friction.max_timestep(friction_["gamma"], info.mass)) / 100)
    run = simulate(table, workdir, positions, box, info.T, section, r_cut=r_cut, np=np, job_id=info.id,
                   seed=lammps.seed(info.id + seed_tag), mass=info.mass, keep_raw=False,
                   stress_ps=section.get("stress_ps", 0.05), friction=friction_)
    _, d = diffusion_of(run.times, run.positions)
    keys, _ = analysis.box_corrected("CG", d, run.stress_rows(), float(box[0]), info.T)
    dev, r2 = rdf_against_target(jobs.load_columns(info.fn("rdf_aa.txt")), run.positions, run.boxes)
    return {**(friction_ or {}), "timestep_fs": section["timestep_fs"], "D_CG": d.D, "D_CG_err": d.err,
            "D_CG_diffusive": d.diffusive, "D_CG_inf": keys.get("D_CG_inf", d.D),
            "D_CG_inf_err": keys.get("D_CG_inf_err", d.err), "eta_CG": keys["eta_CG"], "eta_CG_err": keys["eta_CG_err"],
            "viscosity_resolved": "D_CG_inf" in keys,  # false: D_CG_inf is the raw D (no positive viscosity)
            "rdf_deviation": dev, "rdf_r2": r2, "pressure": run.pressure, "pressure_err": run.pressure_err,
            "run": Path(workdir).name}


def rdf_against_target(aa_rdf: np.ndarray, positions, boxes) -> tuple[float, float]:
    """(RDF deviation, r²) of CG frames against an AA target (rows r, g as in rdf_aa.txt), on its grid."""
    from .datasets import rdf_r2
    dr = aa_rdf[1, 0] - aa_rdf[0, 0]
    r, g = analysis.rdf(positions, boxes, aa_rdf[-1, 0] + dr / 2, len(aa_rdf))
    n = min(len(r), len(aa_rdf))
    return float(ibi.deviation(r[:n], g[:n], aa_rdf[:n, 1])), rdf_r2(aa_rdf[:n, 1], g[:n])
