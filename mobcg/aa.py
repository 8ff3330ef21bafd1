"""The all-atom stage: build the box, equilibrate (NPT Nosé–Hoover), sample, analyse.

Each function takes a signac job, works in its folder, and leaves a file or job.doc key that
marks it done (written last, atomically). Units: LAMMPS real (Å, fs, kcal/mol, atm, K).
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import analysis, jobs, lammps, target
from .forcefield import MIN_TIMESTEP, NONBONDED, OPLS_AA, ForceFieldError, timestep  # noqa: F401 (re-exported)
from .lammps import data, trajectory
from .molecule import box_length, build as build_molecule, molar_mass, packing_fraction, vdw_volume

# Files that mark each stage done.
DATA = "aa.data"
EQUILIBRATED = "aa_equilibrated.restart"
TRAJECTORY = "aa_com.gsd"
RDF = "rdf_aa.txt"
MSD = "msd_aa.txt"
STRESS = "stress_aa.txt"  # the production's pressure tensor in windows (Green–Kubo viscosity)
VISCOSITY = "viscosity_aa.txt"  # its running Green–Kubo integral


def md_settings(ff: dict, section: dict) -> dict:
    """How the AA runs integrate (preset "aa" section): the inner time step of the bonded terms
    (`timestep(ff)`, fs), r-RESPA's outer step for pair and k-space forces (`respa` inner steps, 1 = plain
    velocity Verlet) as LAMMPS' `timestep`, the neighbour skin (Å), and the thermostat and barostat
    damping times (fs: 100 and 1000 inner steps, as before r-RESPA, so they do not change with it)."""
    inner = timestep(ff)
    respa = int(section.get("respa", 1))
    return {"inner_timestep": inner, "respa": respa, "timestep": round(inner * respa, 6),
            "skin": float(section.get("skin", 2.0)), "tdamp": round(100 * inner, 6), "pdamp": round(1000 * inner, 6)}


def _common(job, ff: dict, preset: dict) -> dict:
    md = md_settings(ff, preset["aa"])
    frame_every = lammps.steps(preset["aa"]["frame_ps"], md["timestep"])
    return {"ff": ff, "lj": NONBONDED["lj"], "special14": NONBONDED["special_lj_coul_14"],
            "cutoff": preset["aa"]["cutoff"], **md, "temperature": job.sp.get("temperature", 298.15),
            "pressure": job.sp.get("pressure", 1.0), "job_id": job.id, "molecule": jobs.molecule(job),
            "n_molecules": preset["n_molecules"], "seed": 1 + int(job.id[:6], 16) % 900000,
            "thermo_every": frame_every * 10, "frame_every": frame_every,
            # the stress windows divide a frame, so a restart (at a frame) falls between two windows
            "stress_every": _divisor_near(frame_every, lammps.steps(preset["aa"].get("stress_ps", 0.02), md["timestep"]))}


def _divisor_near(n: int, want: int) -> int:
    """The largest divisor of n that is at most `want` (at least 1)."""
    return max(d for d in range(1, max(1, min(n, want)) + 1) if n % d == 0)


def build(job) -> None:
    """Random packing of N molecules in a dilute cubic lattice → aa.data."""
    ff, preset = jobs.forcefield(job), jobs.preset(job)
    molecule = build_molecule(jobs.molecule(job))
    # Stretch the RDKit conformer so drawn long bonds fit without overlaps.
    scale = max(1.0, ff["bonds"]["CC"]["r0"] / OPLS_AA["bonds"]["CC"]["r0"],
                ff["bonds"]["CH"]["r0"] / OPLS_AA["bonds"]["CH"]["r0"])
    from .molecule import pack
    positions, length = pack(molecule, preset["n_molecules"], seed=int(job.id[:8], 16), scale=scale)
    data.write_aa(job.fn(DATA), molecule, positions, length, preset["n_molecules"])


def _npt_series(job, segments: list[int], dt: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(t in ps from the start of the Nosé–Hoover NPT phase, density g/cm³, longest bond Å at the end).

    The NPT phase is the last thermo block of every segment log; a resumed segment repeats the
    steps after its restart, so later segments' rows replace earlier ones at the same step."""
    by_step = {}
    for k in segments:
        log = job.fn(f"equilibrate_aa.{k}.log")
        blocks = [b for b in lammps.parse_log(log) if "Density" in b and len(b["Density"])]
        if not blocks:
            raise lammps.LammpsLogError(f"job {job.id}: {log}: no thermo column 'Density' in this LAMMPS log "
                                        "(truncated or corrupted?)", log=log)
        by_step.update(zip(blocks[-1]["Step"].astype(int), zip(blocks[-1]["Density"], blocks[-1]["c_longest"])))
    steps = np.array(sorted(by_step))
    rho = np.array([by_step[s][0] for s in steps])
    return steps * dt / 1000.0, rho, float(by_step[steps[-1]][1])


def equilibrate(job, np: int = 1, progress=print) -> None:
    """Minimise, compress, relax at constant volume, then Nosé–Hoover NPT until the density has settled.

    The NPT phase is extended in resumable segments (preset aa.equilibrate_block_ps) until
    analysis.density_settled passes, up to aa.equilibrate_max_ps. A set whose packing fraction
    (molecules' van der Waals volume / box) falls below the preset's liquid threshold is not a
    liquid at this T and P and fails with that reason; one that keeps drifting up to the cap fails
    naming the drift. Records density_converged, equilibration_ps, the block means and the packing
    fraction; the restart file marks the stage done.
    """
    ff, preset = jobs.forcefield(job), jobs.preset(job)
    aa, crit = preset["aa"], preset["analysis"]
    molecule = build_molecule(jobs.molecule(job))
    ctx = _common(job, ff, preset)
    dt = ctx["timestep"]
    v_mol = vdw_volume(molecule, ff)  # Å³, with the drawn bond lengths
    # Squeeze to a packing fraction near a liquid's (aa.packing_start, 0.5; liquid alkanes ≈ 0.55) of
    # this molecule's own volume, so long or short drawn bonds start equally near the liquid.
    target = (preset["n_molecules"] * v_mol / aa["packing_start"]) ** (1 / 3)
    npt_steps = lammps.steps(aa["equilibrate_ps"], dt)
    density_every = lammps.steps(aa.get("density_every_ps", 0.1), dt)
    block_steps = lammps.steps(aa["equilibrate_block_ps"], dt)
    ctx.update(data_file=DATA, target_length=round(target, 4), packing_start=aa["packing_start"],
               compress_steps=lammps.steps(aa["compress_ps"], dt), relax_steps=lammps.steps(aa["relax_ps"], dt),
               density_every=density_every, restart_every=max(density_every, block_steps // 5 // density_every * density_every),
               restart_out="equilibrate_aa.end.restart")
    part = "equilibrate_aa.end.restart"  # end state of the newest NPT segment
    cap = lammps.steps(aa["equilibrate_max_ps"], dt)
    # A kill during an extension leaves the last segment's end state (part): continue from there.
    start = part if job.isfile(part) else None
    if start:
        npt_steps = max(npt_steps, lammps.requested_steps(job.path, "equilibrate_aa"))
    segments = lammps.run_resumable("aa_equilibrate.in", job.path, "equilibrate_aa",
                                    dict(ctx, npt_until=npt_steps), np=np, job=job.id, start_from=start)
    while True:
        t, rho, longest = _npt_series(job, segments, dt)
        recent = rho[t >= 0.9 * t[-1]].mean()
        eta = packing_fraction(preset["n_molecules"], v_mol,
                               molecule_box_volume(preset["n_molecules"], molecule.mass, recent))
        if longest > BROKEN + max(ff["bonds"]["CC"]["r0"], ff["bonds"]["CH"]["r0"]):
            raise jobs.StageFailed(
                f"job {job.id}: not a liquid of molecules: a bond stretched to {longest:.1f} Å (r0_CC "
                f"{ff['bonds']['CC']['r0']} Å, r0_CH {ff['bonds']['CH']['r0']} Å, K_CC {ff['bonds']['CC']['k']}, "
                f"K_CH {ff['bonds']['CH']['k']} kcal/mol/Å²): this force field does not hold its molecules together")
        # (non-finite thermo never gets here: lammps.run raises SimulationBlowUp on it)
        check = analysis.density_settled(t, rho, tol=crit["density_tol"], window_ps=aa["density_window_ps"])
        # Below the liquid packing a box that is still densifying gets its time; one that has settled
        # there, or expands, or has used up its time, is a gas or a vapour-liquid mixture.
        if eta < crit["liquid_packing"] and (check.settled or check.drift <= 0 or npt_steps >= cap):
            raise jobs.StageFailed(
                f"job {job.id}: not a liquid at {ctx['temperature']} K, {ctx['pressure']} atm: after "
                f"{t[-1]:.3g} ps of NPT the molecules fill {eta:.2f} of the box (density {recent:.3f} g/cm³; "
                f"a liquid alkane fills about 0.5, the threshold is {crit['liquid_packing']})")
        if check.settled or npt_steps >= cap:
            break
        npt_steps = min(cap, npt_steps + block_steps)
        if progress:
            progress(f"job {job.id}: density not settled yet ({check.describe()}); NPT extended to "
                     f"{npt_steps * dt / 1000:.0f} ps")
        segments = lammps.run_resumable("aa_equilibrate.in", job.path, "equilibrate_aa",
                                        dict(ctx, npt_until=npt_steps), np=np, job=job.id, start_from=part)
    if not check.settled:
        raise jobs.StageFailed(f"job {job.id}: density did not settle within {t[-1]:.3g} ps of NPT "
                               f"(cap aa.equilibrate_max_ps): {check.describe()}")
    job.doc.update({"density_converged": True, "equilibration_ps": round(float(t[-1]), 3),
                    "equilibration_density": check.mean, "equilibration_density_blocks": list(check.blocks),
                    "equilibration_density_drift": check.drift, "packing_fraction": float(eta),
                    "molecule_vdw_volume": v_mol})
    os.replace(job.fn(part), job.fn(EQUILIBRATED))
    lammps.remove_restarts(job.path, "equilibrate_aa")


# A bond this much (Å) longer than the longest r0 is broken: within the sampling box (K >= 20
# kcal/mol/Å²) that costs >= 125 kcal/mol, never reached thermally; only a force field too weak to hold
# its molecules together gets there.
BROKEN = 2.5


def molecule_box_volume(n_molecules: int, molar_mass: float, density: float) -> float:
    """Box volume (Å³) of n molecules of molar mass (g/mol) at density (g/cm³)."""
    return box_length(n_molecules, molar_mass, density) ** 3


def _production(job, ctx: dict, steps: int, np: int, start_from: str | None = None):
    """Run (or extend, from `start_from`) the NPT production to `steps`; the merged COM frames."""
    ctx = dict(ctx, production_steps=steps,
               restart_every=max(ctx["frame_every"], (steps // 10) // ctx["frame_every"] * ctx["frame_every"]))
    segments = lammps.run_resumable("aa_production.in", job.path, "sample_aa", ctx, np=np, job=job.id,
                                    start_from=start_from)
    pairs = [(job.fn(f"sample_aa.{k}.com"), job.fn(f"sample_aa.{k}.box")) for k in segments]
    try:
        steps_, com, by_step = trajectory.merge_segments(pairs)
        trajectory.checked(steps_, by_step, pairs[-1][0])
        stress = trajectory.merge_rows([job.fn(f"sample_aa.{k}.stress") for k in segments])
    except trajectory.TrajectoryError as exc:
        raise jobs.StageFailed(f"job {job.id}: {exc}") from None
    return steps_, com, by_step, stress  # merge_segments' float arrays; (steps, pressure tensor rows)


def production_density(job, times_fs, boxes, n_molecules: int) -> analysis.Settled:
    """The NPT block test (analysis.density_settled, the preset's density_tol) over a whole production:
    frame times in fs, box lengths (F, 3) in Å. A production that fails it was still changing (or its
    mean density is not known to density_tol) while D_AA and the RDF were measured."""
    t_ps = np.asarray(times_fs, float) / 1000
    rho = analysis.densities(n_molecules, molar_mass(jobs.molecule(job)), boxes)  # (from the graph: no 3D build)
    try:
        return analysis.density_settled(t_ps, rho, tol=jobs.preset(job)["analysis"]["density_tol"],
                                        window_ps=t_ps[-1] - t_ps[0])
    except ValueError as exc:  # fewer frames than the test needs: aa.frame_ps too long for the production
        raise jobs.StageFailed(f"job {job.id}: production density: {exc} (aa.frame_ps "
                               f"{jobs.preset(job)['aa']['frame_ps']} ps over {t_ps[-1] - t_ps[0]:.3g} ps)") from None


def sample(job, np: int = 1, progress=print) -> None:
    """NPT production, extended until the COM MSD is diffusive and the density steady; the COM
    trajectory (GSD) marks it done.

    Starts with aa.production_ps; while the MSD's fit window (analysis.diffusion_window) is not in
    the diffusive regime, or the production's density fails the NPT block test (production_density),
    the run is continued from its end state (aa.production_growth times longer, default 2) up to
    aa.production_max_ps. Whether it got there is recorded by analyze (D_AA_diffusive, density_steady).
    """
    ff, preset = jobs.forcefield(job), jobs.preset(job)
    ctx = _common(job, ff, preset)
    dt = ctx["timestep"]
    ctx.update(restart_in=EQUILIBRATED, name="sample_aa")
    steps = lammps.steps(preset["aa"]["production_ps"], dt) // ctx["frame_every"] * ctx["frame_every"]
    # whole frames, like steps: a cap between frames was never reached and the extension looped forever
    cap = lammps.steps(preset["aa"].get("production_max_ps", preset["aa"]["production_ps"]), dt) \
        // ctx["frame_every"] * ctx["frame_every"]
    end = "sample_aa.end.restart"
    # A kill during an extension: continue it from the end state of the last finished segment.
    start = end if job.isfile(end) else None
    if start:
        steps = max(steps, lammps.requested_steps(job.path, "sample_aa"))
    frames = _production(job, ctx, steps, np, start_from=start)
    while True:
        t = (frames[0] - frames[0][0]) * dt
        d = analysis.diffusion(t, analysis.msd_xyz(frames[1]))
        density = production_density(job, t, [frames[2][int(s)][:3] for s in frames[0]], len(frames[1][0]))
        if (d.diffusive and density.settled) or steps >= cap:
            break
        steps = min(cap, int(preset["aa"].get("production_growth", 2.0) * steps)) // ctx["frame_every"] * ctx["frame_every"]
        if progress:
            why = [f"MSD not diffusive yet (exponent {d.exponent:.2f} over {d.window_ps[0]:.0f}-{d.window_ps[1]:.0f} ps)"
                   ] if not d.diffusive else []
            why += [f"density not steady yet ({density.describe()})"] if not density.settled else []
            progress(f"job {job.id}: {'; '.join(why)}; production extended to {steps * dt / 1000:.0f} ps")
        frames = _production(job, ctx, steps, np, start_from=end)
    steps_s, stress = frames[3]
    jobs.save_columns(job.fn(STRESS), f"t_fs pxx pyy pzz pxy pxz pyz (atm, each the mean over the {ctx['stress_every'] * dt:g} fs "
                      "window ending at t)", steps_s * dt, *stress.T)
    trajectory.write_gsd(*frames[:3], job.fn(TRAJECTORY), dt)
    lammps.remove_restarts(job.path, "sample_aa")
    if job.isfile(end):
        os.unlink(job.fn(end))


def analyze(job) -> None:
    """Density, COM RDF and D_AA from the diffusive window, and IBI's input (mobcg.target: the target
    on the IBI grid, the CG start, the bead mass); job.doc's D_AA marks it done.

    The production's density must pass the block test the NPT equilibration passed, now over the whole
    production (analysis.density_settled): a box still densifying while D_AA and the RDF were measured
    is flagged (density_steady False, a trust flag), and density_err is the block means' standard error.
    """
    preset = jobs.preset(job)
    molecule = build_molecule(jobs.molecule(job))
    t, pos, boxes = trajectory.read_gsd(job.fn(TRAJECTORY))
    rho = analysis.density(pos.shape[1], molecule.mass, boxes)
    steady = production_density(job, t, boxes, pos.shape[1])
    # the preset's range, cut to whole bins below half the smallest NPT box (recorded as rdf_r_max)
    r_max, bins = analysis.rdf_range(preset["analysis"]["rdf_r_max"], preset["analysis"]["rdf_bins"], boxes)
    r, g = analysis.rdf(pos, boxes, r_max, bins)
    jobs.save_columns(job.fn(RDF), "r_angstrom g_com", r, g)
    msd = analysis.msd_xyz(pos)
    jobs.save_columns(job.fn(MSD), "t_fs msd_x msd_y msd_z (angstrom^2)", t, msd)
    d = analysis.diffusion(t, msd)
    if not np.isfinite(d.D) or d.D <= 0:
        raise jobs.StageFailed(f"job {job.id}: no diffusion (D_AA = {d.D:.3g})")
    box = float(np.prod(boxes, axis=1).mean() ** (1 / 3))  # Å, the cube of the mean volume
    finite_size = jobs.box_corrected(job, "AA", d, jobs.load_columns(job.fn(STRESS)), box, VISCOSITY)
    # what IBI needs from these frames (target on its grid, CG start, bead mass), computed once here:
    # run_ibi then neither reads the trajectory again nor computes the target (ibi_input.npz)
    r_cut, dr = float(preset["ibi"]["r_cut"]), float(preset["ibi"].get("rdf_dr", 0.1))
    try:
        target.save(job.fn(target.FILE), target.compute((t, pos, boxes), r_cut, dr, molar_mass(jobs.molecule(job))),
                    target.key(job.fn(TRAJECTORY), r_cut, dr))
    except ValueError:  # a box too small for the IBI grid: run_ibi computes it and says why
        pass
    job.doc.update({"density": float(rho), "density_err": steady.error * float(rho), "density_steady": steady.settled,
                    "density_drift": steady.drift, "density_drift_err": steady.drift_err,
                    "n_molecules": int(pos.shape[1]), "rdf_r_max": float(r_max),
                    "D_AA_axes": list(d.per_axis),
                    "D_AA_fit_window_ps": list(d.window_ps), "D_AA_msd_exponent": d.exponent,
                    "D_AA_diffusive": d.diffusive, "production_ps": round(float(t[-1]) / 1000, 3),
                    "D_AA_err": d.err, **finite_size, "D_AA": d.D})


def single_point(directory, forcefield: dict, molecule, positions: np.ndarray, length: float,
                 n_molecules: int = 1, cutoff: float = 10.0, md: dict | None = None,
                 forces: bool = False) -> dict[str, float]:
    """LAMMPS energies (kcal/mol) of one configuration: {'PotEng': ..., 'E_bond': ..., ...}, through the
    project's force-field template with the integration settings `md` (a preset's "aa" section: skin,
    respa; default today's Verlet with a 2 Å skin). `forces`: also 'forces', the (atoms, 3) total
    forces in kcal/mol/Å by atom id."""
    from pathlib import Path
    directory = Path(directory)
    data.write_aa(directory / "single_point.data", molecule, positions, length, n_molecules)
    script = lammps.render("aa_single_point.in", directory / "single_point.in", ff=forcefield,
                           lj=NONBONDED["lj"], special14=NONBONDED["special_lj_coul_14"], cutoff=cutoff,
                           data_file="single_point.data", self_name="single_point.in",
                           forces_file="single_point.forces" if forces else None,
                           **md_settings(forcefield, md or {}))
    log = lammps.run(script, cwd=directory, job="single point", log="single_point.log")
    out = {k: float(v[-1]) for k, v in lammps.parse_log(log)[-1].items()}
    if forces:
        out["forces"] = np.loadtxt(directory / "single_point.forces", skiprows=9)[:, 1:]
    return out
