"""The all-atom stage: build the box, equilibrate (NPT Nosé–Hoover), sample, analyse.

Each function takes a signac job, works in its folder, and leaves a file or job.doc key that
marks it done (written last, atomically). Units: LAMMPS real (Å, fs, kcal/mol, atm, K).
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import analysis, jobs, lammps, target
from .forcefield import MASS, MIN_TIMESTEP, NONBONDED, OPLS_AA, ForceFieldError, repartitioned_masses, timestep  # noqa: F401 (re-exported)
from .lammps import data, trajectory
from .molecule import box_length, build as build_molecule, composition, packing_fraction, vdw_volume

# Files that mark each stage done.
DATA = "aa.data"
EQUILIBRATED = "aa_equilibrated.restart"
TRAJECTORY = "aa_com.gsd"
RDF = "rdf_aa.txt"
MSD = "msd_aa.txt"
STRESS = "stress_aa.txt"  # the production's pressure tensor in windows (Green–Kubo viscosity)
VISCOSITY = "viscosity_aa.txt"  # its running Green–Kubo integral


def md_settings(ff: dict, section: dict, composition: tuple[int, int] | None = None) -> dict:
    """How the AA runs integrate (preset "aa" section): the inner time step of the bonded terms
    (`timestep(ff)`, fs), r-RESPA's outer step for pair and k-space forces (`respa` inner steps, 1 = plain
    velocity Verlet) as LAMMPS' `timestep`, the neighbour skin (Å), and the thermostat and barostat
    damping times (fs: 100 and 1000 steps of the true masses' Verlet step, so neither r-RESPA nor HMR changes them).

    `"hmr": true` repartitions the hydrogen masses (`masses`, amu by element; the molecule's
    `composition`, (carbons, hydrogens), says how much the carbons give) and takes the step that
    resolves the slower C–H vibration as well as today's (up to 2 fs). The forces and the equilibrium
    configurations are today's; the centres of mass are still weighted by the true masses (`com_weights`)."""
    masses, weights = None, None
    if section.get("hmr"):
        if composition is None:
            raise ValueError("hydrogen mass repartitioning needs the molecule's composition")
        masses = repartitioned_masses(*composition)
        total = composition[0] * MASS["C"] + composition[1] * MASS["H"]
        weights = {e: round(MASS[e] / total, 12) for e in ("C", "H")}
    plain = timestep(ff)  # the damping times stay those of the true masses' step
    inner = timestep(ff, maximum=2.0, masses=masses) if masses else plain
    respa = int(section.get("respa", 1))
    return {"inner_timestep": inner, "respa": respa, "timestep": round(inner * respa, 6),
            "skin": float(section.get("skin", 2.0)), "tdamp": round(100 * plain, 6), "pdamp": round(1000 * plain, 6),
            "masses": masses, "com_weights": weights}


def integrator(md: dict) -> str:
    """The integration protocol of md_settings' runs, in words, for job.doc (`aa_integrator`) and a release's
    summary: a campaign's jobs are comparable only when they say the same. The step itself follows from
    the force field (aa.timestep) and is recorded beside it (`aa_timestep_fs`)."""
    text = f"r-RESPA ({md['respa']} inner steps)" if md["respa"] > 1 else "velocity Verlet"
    return ("HMR, " if md["masses"] else "") + text


def _md(info: jobs.Info) -> dict:
    section = info.preset["aa"]
    return md_settings(info.forcefield, section, composition(info.molecule) if section.get("hmr") else None)


def planned_integrator(job) -> str:
    """How the job's AA runs integrate under its preset as it stands (aa.integrator): what a campaign
    compares with the job's own record (job.doc.aa_integrator) after a preset changed."""
    return integrator(_md(jobs.info(job)))


def _context(info: jobs.Info) -> dict:
    """The template context every AA input of the job shares (force field, integration, output steps)."""
    preset = info.preset
    md = _md(info)
    frame_every = lammps.steps(preset["aa"]["frame_ps"], md["timestep"])
    return {"ff": info.forcefield, "lj": NONBONDED["lj"], "special14": NONBONDED["special_lj_coul_14"],
            "cutoff": preset["aa"]["cutoff"], **md, "temperature": info.T, "pressure": info.P, "job_id": info.id,
            "molecule": info.molecule, "n_molecules": preset["n_molecules"], "seed": 1 + int(info.id[:6], 16) % 900000,
            "thermo_every": frame_every * 10, "frame_every": frame_every,
            # the stress windows divide a frame, so a restart (at a frame) falls between two windows
            "stress_every": _divisor_near(frame_every, lammps.steps(preset["aa"].get("stress_ps", 0.02), md["timestep"]))}


def _divisor_near(n: int, want: int) -> int:
    """The largest divisor of n that is at most `want` (at least 1)."""
    return max(d for d in range(1, max(1, min(n, want)) + 1) if n % d == 0)


def build(job) -> None:
    """Random packing of N molecules in a dilute cubic lattice → aa.data."""
    info = jobs.info(job)
    ff, n = info.forcefield, info.preset["n_molecules"]
    molecule = build_molecule(info.molecule)
    # Stretch the RDKit conformer so drawn long bonds fit without overlaps.
    scale = max(1.0, ff["bonds"]["CC"]["r0"] / OPLS_AA["bonds"]["CC"]["r0"],
                ff["bonds"]["CH"]["r0"] / OPLS_AA["bonds"]["CH"]["r0"])
    from .molecule import pack
    positions, length = pack(molecule, n, seed=int(info.id[:8], 16), scale=scale)
    data.write_aa(info.fn(DATA), molecule, positions, length, n)


def _npt_series(info: jobs.Info, segments: list[int], dt: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(t in ps from the start of the Nosé–Hoover NPT phase, density g/cm³, longest bond Å at the end).

    The NPT phase is the last thermo block of every segment log; a resumed segment repeats the
    steps after its restart, so later segments' rows replace earlier ones at the same step. An earlier
    segment killed before its first thermo row (or before LAMMPS opened its log) adds nothing."""
    by_step = {}
    for k in segments:
        log = info.fn(f"equilibrate_aa.{k}.log")
        blocks = [b for b in lammps.parse_log(log) if "Density" in b and len(b["Density"])] \
            if os.path.exists(log) else []
        if not blocks and k != segments[-1]:
            continue
        if not blocks:
            raise lammps.LammpsLogError(f"job {info.id}: {log}: no thermo column 'Density' in this LAMMPS log "
                                        "(truncated or corrupted?)", log=log)
        by_step.update(zip(blocks[-1]["Step"].astype(int), zip(blocks[-1]["Density"], blocks[-1]["c_longest"])))
    steps = np.array(sorted(by_step))
    rho = np.array([by_step[s][0] for s in steps])
    return steps * dt / 1000.0, rho, float(by_step[steps[-1]][1])


EQUILIBRATE_PART = "equilibrate_aa.end.restart"  # the end state of the newest NPT segment


def equilibrate(job, np: int = 1, progress=print) -> None:
    """Minimise, compress, relax at constant volume, then Nosé–Hoover NPT until the density has settled.

    The NPT phase is extended in resumable segments (preset aa.equilibrate_block_ps) until
    analysis.density_settled passes, up to aa.equilibrate_max_ps. A set whose packing fraction
    (molecules' van der Waals volume / box) falls below the preset's liquid threshold is not a
    liquid at this T and P and fails with that reason; one that keeps drifting up to the cap fails
    naming the drift. Records density_converged, equilibration_ps, the block means and the packing
    fraction; the restart file marks the stage done.
    """
    info = jobs.info(job)
    molecule = build_molecule(info.molecule)
    v_mol = vdw_volume(molecule, info.forcefield)  # Å³, with the drawn bond lengths
    ctx = _equilibration_context(info, v_mol)
    # before the runs: a set that fails here says how it ran too
    job.doc.update({"aa_integrator": integrator(ctx), "aa_timestep_fs": ctx["timestep"]})
    check, t, eta = _npt_until_settled(info, ctx, molecule.mass, v_mol, np, progress)
    job.doc.update({"density_converged": True, "equilibration_ps": round(float(t[-1]), 3),
                    "equilibration_density": check.mean, "equilibration_density_blocks": list(check.blocks),
                    "equilibration_density_drift": check.drift, "packing_fraction": float(eta),
                    "molecule_vdw_volume": v_mol})
    os.replace(info.fn(EQUILIBRATE_PART), info.fn(EQUILIBRATED))
    lammps.remove_restarts(info.path, "equilibrate_aa")


def _equilibration_context(info: jobs.Info, v_mol: float) -> dict:
    """aa_equilibrate.in's context: squeeze to a packing fraction near a liquid's (aa.packing_start,
    0.5; liquid alkanes ≈ 0.55) of this molecule's own volume, so long or short drawn bonds start equally
    near the liquid; the phases' lengths in steps."""
    aa = info.preset["aa"]
    ctx = _context(info)
    dt = ctx["timestep"]
    target_length = (info.preset["n_molecules"] * v_mol / aa["packing_start"]) ** (1 / 3)
    density_every = lammps.steps(aa.get("density_every_ps", 0.1), dt)
    block_steps = lammps.steps(aa["equilibrate_block_ps"], dt)
    ctx.update(data_file=DATA, target_length=round(target_length, 4), packing_start=aa["packing_start"],
               compress_steps=lammps.steps(aa["compress_ps"], dt), relax_steps=lammps.steps(aa["relax_ps"], dt),
               density_every=density_every, restart_every=max(density_every, block_steps // 5 // density_every * density_every),
               restart_out=EQUILIBRATE_PART)
    return ctx


def _npt_until_settled(info: jobs.Info, ctx: dict, mass: float, v_mol: float, np: int, progress):
    """Run the equilibration input and extend its NPT phase until the density settles: (the check, the
    NPT times, the packing fraction). StageFailed for no liquid, broken molecules or no settling."""
    aa, dt = info.preset["aa"], ctx["timestep"]
    npt_steps = lammps.steps(aa["equilibrate_ps"], dt)
    block_steps, cap = lammps.steps(aa["equilibrate_block_ps"], dt), lammps.steps(aa["equilibrate_max_ps"], dt)
    # A kill during an extension leaves the last segment's end state: continue from there.
    start = EQUILIBRATE_PART if os.path.isfile(info.fn(EQUILIBRATE_PART)) else None
    if start:
        npt_steps = max(npt_steps, lammps.requested_steps(info.path, "equilibrate_aa"))
    while True:
        segments = lammps.run_resumable("aa_equilibrate.in", info.path, "equilibrate_aa",
                                        dict(ctx, npt_until=npt_steps), np=np, job=info.id, start_from=start)
        t, rho, longest = _npt_series(info, segments, dt)
        recent = rho[t >= 0.9 * t[-1]].mean()
        eta = packing_fraction(info.preset["n_molecules"], v_mol,
                               molecule_box_volume(info.preset["n_molecules"], mass, recent))
        check = _liquid_check(info, t, rho, longest, eta, recent, at_cap=npt_steps >= cap)
        if check.settled or npt_steps >= cap:
            break
        npt_steps, start = min(cap, npt_steps + block_steps), EQUILIBRATE_PART
        if progress:
            progress(f"job {info.id}: density not settled yet ({check.describe()}); NPT extended to "
                     f"{npt_steps * dt / 1000:.0f} ps")
    if not check.settled:
        raise jobs.StageFailed(f"job {info.id}: density did not settle within {t[-1]:.3g} ps of NPT "
                               f"(cap aa.equilibrate_max_ps): {check.describe()}")
    return check, t, eta


def _liquid_check(info: jobs.Info, t, rho, longest: float, eta: float, recent: float, at_cap: bool) -> analysis.Settled:
    """The NPT block test of the density so far; StageFailed when the molecules came apart or the box is
    no liquid (non-finite thermo never gets here: lammps.run raises SimulationBlowUp on it)."""
    ff, crit = info.forcefield, info.preset["analysis"]
    if longest > BROKEN + max(ff["bonds"]["CC"]["r0"], ff["bonds"]["CH"]["r0"]):
        raise jobs.StageFailed(
            f"job {info.id}: not a liquid of molecules: a bond stretched to {longest:.1f} Å (r0_CC "
            f"{ff['bonds']['CC']['r0']} Å, r0_CH {ff['bonds']['CH']['r0']} Å, K_CC {ff['bonds']['CC']['k']}, "
            f"K_CH {ff['bonds']['CH']['k']} kcal/mol/Å²): this force field does not hold its molecules together")
    check = analysis.density_settled(t, rho, tol=crit["density_tol"], window_ps=info.preset["aa"]["density_window_ps"])
    # Below the liquid packing a box that is still densifying gets its time; one that has settled
    # there, or expands, or has used up its time, is a gas or a vapour-liquid mixture.
    if eta < crit["liquid_packing"] and (check.settled or check.drift <= 0 or at_cap):
        raise jobs.StageFailed(
            f"job {info.id}: not a liquid at {info.T} K, {info.P} atm: after "
            f"{t[-1]:.3g} ps of NPT the molecules fill {eta:.2f} of the box (density {recent:.3f} g/cm³; "
            f"a liquid alkane fills about 0.5, the threshold is {crit['liquid_packing']})")
    return check


# A bond this much (Å) longer than the longest r0 is broken: within the sampling box (K >= 20
# kcal/mol/Å²) that costs >= 125 kcal/mol, never reached thermally; only a force field too weak to hold
# its molecules together gets there.
BROKEN = 2.5


def molecule_box_volume(n_molecules: int, molar_mass: float, density: float) -> float:
    """Box volume (Å³) of n molecules of molar mass (g/mol) at density (g/cm³)."""
    return box_length(n_molecules, molar_mass, density) ** 3


def _production(info: jobs.Info, ctx: dict, steps: int, np: int, start_from: str | None = None):
    """Run (or extend, from `start_from`) the NPT production to `steps`; the merged COM frames."""
    ctx = dict(ctx, production_steps=steps,
               restart_every=max(ctx["frame_every"], (steps // 10) // ctx["frame_every"] * ctx["frame_every"]))
    segments = lammps.run_resumable("aa_production.in", info.path, "sample_aa", ctx, np=np, job=info.id,
                                    start_from=start_from)
    pairs = [(info.fn(f"sample_aa.{k}.com"), info.fn(f"sample_aa.{k}.box")) for k in segments]
    try:
        steps_, com, by_step = trajectory.merge_segments(pairs)
        trajectory.checked(steps_, by_step, pairs[-1][0])
        stress = trajectory.merge_rows([info.fn(f"sample_aa.{k}.stress") for k in segments])
    except trajectory.TrajectoryError as exc:
        raise jobs.StageFailed(f"job {info.id}: {exc}") from None
    return steps_, com, by_step, stress  # merge_segments' float arrays; (steps, pressure tensor rows)


def production_density(info: jobs.Info, times_fs, boxes, n_molecules: int) -> analysis.Settled:
    """The NPT block test (analysis.density_settled, the preset's density_tol) over a whole production:
    frame times in fs, box lengths (F, 3) in Å. A production that fails it was still changing (or its
    mean density is not known to density_tol) while D_AA and the RDF were measured."""
    t_ps = np.asarray(times_fs, float) / 1000
    rho = analysis.densities(n_molecules, info.mass, boxes)
    try:
        return analysis.density_settled(t_ps, rho, tol=info.preset["analysis"]["density_tol"],
                                        window_ps=t_ps[-1] - t_ps[0])
    except ValueError as exc:  # fewer frames than the test needs: aa.frame_ps too long for the production
        raise jobs.StageFailed(f"job {info.id}: production density: {exc} (aa.frame_ps "
                               f"{info.preset['aa']['frame_ps']} ps over {t_ps[-1] - t_ps[0]:.3g} ps)") from None


PRODUCTION_END = "sample_aa.end.restart"  # the end state of the newest production segment


def sample(job, np: int = 1, progress=print) -> None:
    """NPT production, extended until the COM MSD is diffusive and the density steady; the COM
    trajectory (GSD) marks it done.

    Starts with aa.production_ps; while the MSD's fit window (analysis.diffusion_window) is not in
    the diffusive regime, or the production's density fails the NPT block test (production_density),
    the run is continued from its end state (aa.production_growth times longer, default 2) up to
    aa.production_max_ps. Whether it got there is recorded by analyze (D_AA_diffusive, density_steady).
    """
    info = jobs.info(job)
    ctx = dict(_context(info), restart_in=EQUILIBRATED, name="sample_aa")
    frames = _produce_until_diffusive(info, ctx, np, progress)
    dt = ctx["timestep"]
    steps_s, stress = frames[3]
    jobs.save_columns(info.fn(STRESS), f"t_fs pxx pyy pzz pxy pxz pyz (atm, each the mean over the "
                      f"{ctx['stress_every'] * dt:g} fs window ending at t)", steps_s * dt, *stress.T)
    trajectory.write_gsd(*frames[:3], info.fn(TRAJECTORY), dt)
    if job.doc.get("aa_integrator") != integrator(ctx):  # the preset changed between the AA stages: both said
        job.doc["aa_integrator"] = f"{job.doc.get('aa_integrator', 'unrecorded')} (NPT), {integrator(ctx)} (production)"
    job.doc["aa_timestep_fs"] = dt  # the production's
    lammps.remove_restarts(info.path, "sample_aa")
    if os.path.isfile(info.fn(PRODUCTION_END)):
        os.unlink(info.fn(PRODUCTION_END))


def _produce_until_diffusive(info: jobs.Info, ctx: dict, np: int, progress):
    """The production (_production), extended while its MSD is not diffusive or its density not steady."""
    aa, dt, frame = info.preset["aa"], ctx["timestep"], ctx["frame_every"]
    steps = lammps.steps(aa["production_ps"], dt) // frame * frame
    # whole frames, like steps: a cap between frames was never reached and the extension looped forever
    cap = lammps.steps(aa.get("production_max_ps", aa["production_ps"]), dt) // frame * frame
    # A kill during an extension: continue it from the end state of the last finished segment.
    start = PRODUCTION_END if os.path.isfile(info.fn(PRODUCTION_END)) else None
    if start:
        steps = max(steps, lammps.requested_steps(info.path, "sample_aa"))
    frames = _production(info, ctx, steps, np, start_from=start)
    while True:
        t = (frames[0] - frames[0][0]) * dt
        d = analysis.diffusion(t, analysis.msd_xyz(frames[1]))
        density = production_density(info, t, [frames[2][int(s)][:3] for s in frames[0]], len(frames[1][0]))
        if (d.diffusive and density.settled) or steps >= cap:
            return frames
        steps = min(cap, int(aa.get("production_growth", 2.0) * steps)) // frame * frame
        if progress:
            why = [f"MSD not diffusive yet (exponent {d.exponent:.2f} over {d.window_ps[0]:.0f}-{d.window_ps[1]:.0f} ps)"
                   ] if not d.diffusive else []
            why += [f"density not steady yet ({density.describe()})"] if not density.settled else []
            progress(f"job {info.id}: {'; '.join(why)}; production extended to {steps * dt / 1000:.0f} ps")
        frames = _production(info, ctx, steps, np, start_from=PRODUCTION_END)


def analyze(job) -> None:
    """Density, COM RDF and D_AA from the diffusive window, the viscosity and D_AA_inf, and IBI's input
    (mobcg.target: the target on the IBI grid, the CG start, the bead mass); job.doc's D_AA marks it done.

    The production's density must pass the block test the NPT equilibration passed, now over the whole
    production (analysis.density_settled): a box still densifying while D_AA and the RDF were measured
    is flagged (density_steady False, a trust flag), and density_err is the block means' standard error.
    """
    info = jobs.info(job)
    t, pos, boxes = trajectory.read_gsd(info.fn(TRAJECTORY))
    rho = analysis.density(pos.shape[1], info.mass, boxes)
    steady = production_density(info, t, boxes, pos.shape[1])
    r_max = _rdf(info, pos, boxes)
    d = _diffusion(info, t, pos)
    box = float(np.prod(boxes, axis=1).mean() ** (1 / 3))  # Å, the cube of the mean volume
    finite_size = jobs.box_corrected(job, "AA", d, jobs.load_columns(info.fn(STRESS)), box, VISCOSITY)
    _save_ibi_input(info, (t, pos, boxes))
    job.doc.update({"density": float(rho), "density_err": steady.error * float(rho), "density_steady": steady.settled,
                    "density_drift": steady.drift, "density_drift_err": steady.drift_err,
                    "n_molecules": int(pos.shape[1]), "rdf_r_max": float(r_max),
                    "D_AA_axes": list(d.per_axis),
                    "D_AA_fit_window_ps": list(d.window_ps), "D_AA_msd_exponent": d.exponent,
                    "D_AA_diffusive": d.diffusive, "production_ps": round(float(t[-1]) / 1000, 3),
                    "D_AA_err": d.err, **finite_size, "D_AA": d.D})


def _rdf(info: jobs.Info, pos, boxes) -> float:
    """The COM RDF → rdf_aa.txt, on the preset's range cut to whole bins below half the smallest NPT
    box; returns that range (r_max, Å)."""
    sec = info.preset["analysis"]
    r_max, bins = analysis.rdf_range(sec["rdf_r_max"], sec["rdf_bins"], boxes)
    r, g = analysis.rdf(pos, boxes, r_max, bins)
    jobs.save_columns(info.fn(RDF), "r_angstrom g_com", r, g)
    return r_max


def _diffusion(info: jobs.Info, t, pos) -> analysis.Diffusion:
    """The COM MSD → msd_aa.txt and D_AA from its diffusive window; StageFailed for no diffusion."""
    msd = analysis.msd_xyz(pos)
    jobs.save_columns(info.fn(MSD), "t_fs msd_x msd_y msd_z (angstrom^2)", t, msd)
    d = analysis.diffusion(t, msd)
    if not np.isfinite(d.D) or d.D <= 0:
        raise jobs.StageFailed(f"job {info.id}: no diffusion (D_AA = {d.D:.3g})")
    return d


def _save_ibi_input(info: jobs.Info, frames) -> None:
    """What IBI needs from these frames (target on its grid, CG start, bead mass), computed once here:
    run_ibi then neither reads the trajectory again nor computes the target (ibi_input.npz)."""
    r_cut, dr = float(info.preset["ibi"]["r_cut"]), float(info.preset["ibi"].get("rdf_dr", 0.1))
    try:
        target.save(info.fn(target.FILE), target.compute(frames, r_cut, dr, info.mass),
                    target.key(info.fn(TRAJECTORY), r_cut, dr))
    except ValueError:  # a box too small for the IBI grid: run_ibi computes it and says why
        pass


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
                           **md_settings(forcefield, md or {}, (molecule.elements.count("C"), molecule.elements.count("H"))))
    log = lammps.run(script, cwd=directory, job="single point", log="single_point.log")
    out = {k: float(v[-1]) for k, v in lammps.parse_log(log)[-1].items()}
    if forces:
        out["forces"] = np.loadtxt(directory / "single_point.forces", skiprows=9)[:, 1:]
    return out
