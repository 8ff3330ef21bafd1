"""The all-atom stage: build the box, equilibrate (NPT Nosé–Hoover), sample, analyse.

Each function takes a signac job, works in its folder, and leaves a file or job.doc key that
marks it done (written last, atomically). Units: LAMMPS real (Å, fs, kcal/mol, atm, K).
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import analysis, jobs, lammps
from .forcefield import NONBONDED, OPLS_AA, ForceFieldError
from .lammps import data, trajectory
from .molecule import MASS, box_length, build as build_molecule

AMU_KCAL = 4184.0 / 6.02214076e23 * 1e20 / 1.66053906660e-27  # (kcal/mol/Å²)/amu in s⁻²

# Files that mark each stage done.
DATA = "aa.data"
EQUILIBRATED = "aa_equilibrated.restart"
TRAJECTORY = "aa_com.gsd"
RDF = "rdf_aa.txt"
MSD = "msd_aa.txt"


# Below this a set costs > 10× the OPLS-AA run (1 fs) and rounding would reach 0 (ZeroDivisionError):
# K ≈ 4e4 kcal/mol/Å², 40× the sampling box's stiffest corner (0.66 fs).
MIN_TIMESTEP = 0.1


def timestep(forcefield: dict, steps_per_period: int = 10, maximum: float = 1.0) -> float:
    """Time step (fs) resolving the fastest bond vibration with `steps_per_period` steps, ≤ `maximum`.

    Harmonic bond E = K (r − r0)² has spring constant 2K; ω = sqrt(2K/μ) with the reduced mass μ.
    ForceFieldError when that is below MIN_TIMESTEP (a bond too stiff to simulate).
    """
    periods = []
    for bond, (a, b) in {"CC": ("C", "C"), "CH": ("C", "H")}.items():
        mu = MASS[a] * MASS[b] / (MASS[a] + MASS[b])
        omega = math.sqrt(2 * forcefield["bonds"][bond]["k"] * AMU_KCAL / mu)  # rad/s
        periods.append(2 * math.pi / omega * 1e15)  # fs
    dt = min(maximum, min(periods) / steps_per_period)
    if dt < MIN_TIMESTEP:
        raise ForceFieldError(f"K_CC = {forcefield['bonds']['CC']['k']:g}, K_CH = {forcefield['bonds']['CH']['k']:g} "
                              f"kcal/mol/Å² need a {dt:.2g} fs time step (< {MIN_TIMESTEP} fs): too stiff to simulate")
    return math.floor(dt * 100) / 100


def _common(job, ff: dict, preset: dict) -> dict:
    dt = timestep(ff)
    frame_every = lammps.steps(preset["aa"]["frame_ps"], dt)
    return {"ff": ff, "lj": NONBONDED["lj"], "special14": NONBONDED["special_lj_coul_14"],
            "cutoff": preset["aa"]["cutoff"], "timestep": dt, "temperature": job.sp.get("temperature", 298.15),
            "pressure": job.sp.get("pressure", 1.0), "job_id": job.id, "molecule": job.sp.get("molecule"),
            "n_molecules": preset["n_molecules"], "seed": 1 + int(job.id[:6], 16) % 900000,
            "thermo_every": frame_every * 10, "frame_every": frame_every}


def build(job) -> None:
    """Random packing of N molecules in a dilute cubic lattice → aa.data."""
    ff, preset = jobs.forcefield(job), jobs.preset(job)
    molecule = build_molecule(job.sp.get("molecule", "2,3,4-trimethylpentane"))
    # Stretch the RDKit conformer so drawn long bonds fit without overlaps.
    scale = max(1.0, ff["bonds"]["CC"]["r0"] / OPLS_AA["bonds"]["CC"]["r0"],
                ff["bonds"]["CH"]["r0"] / OPLS_AA["bonds"]["CH"]["r0"])
    from .molecule import pack
    positions, length = pack(molecule, preset["n_molecules"], seed=int(job.id[:8], 16), scale=scale)
    data.write_aa(job.fn(DATA), molecule, positions, length, preset["n_molecules"])


def equilibrate(job, np: int = 1) -> None:
    """Minimise, compress to a liquid, then NPT Nosé–Hoover; the restart file marks it done."""
    ff, preset = jobs.forcefield(job), jobs.preset(job)
    molecule = build_molecule(job.sp.get("molecule", "2,3,4-trimethylpentane"))
    ctx = _common(job, ff, preset)
    scale = max(1.0, ff["bonds"]["CC"]["r0"] / OPLS_AA["bonds"]["CC"]["r0"])
    # Compress towards 0.7 g/cm³ (a liquid alkane), scaled for longer bonds; NPT finds the rest.
    target = box_length(preset["n_molecules"], molecule.mass, 0.70) * scale
    equilibrate_steps = lammps.steps(preset["aa"]["equilibrate_ps"], ctx["timestep"])
    ctx.update(data_file=DATA, target_length=round(target, 4),
               compress_steps=lammps.steps(preset["aa"]["compress_ps"], ctx["timestep"]),
               equilibrate_steps=equilibrate_steps, restart_every=max(100, equilibrate_steps // 10),
               restart_out=EQUILIBRATED + ".part")
    part = job.fn(EQUILIBRATED + ".part")
    try:
        segments = lammps.run_resumable("aa_equilibrate.in", job.path, "equilibrate_aa", ctx, np=np, job=job.id)
        log = job.fn(f"equilibrate_aa.{segments[-1]}.log")
        rho = lammps.last_value(log, "Density", job=job.id)
        if not 0.1 < rho < 3.0:  # a liquid of C8 molecules, however distorted, stays within these
            raise jobs.StageFailed(f"job {job.id}: unphysical density {rho:.3f} g/cm³ after NPT equilibration")
    except BaseException:
        if os.path.exists(part):
            os.unlink(part)
        raise
    os.replace(part, job.fn(EQUILIBRATED))
    lammps.remove_restarts(job.path, "equilibrate_aa")


def sample(job, np: int = 1) -> None:
    """NPT production, resumable after a crash; the unwrapped COM trajectory (GSD) marks it done."""
    ff, preset = jobs.forcefield(job), jobs.preset(job)
    ctx = _common(job, ff, preset)
    steps = lammps.steps(preset["aa"]["production_ps"], ctx["timestep"])
    ctx.update(restart_in=EQUILIBRATED, name="sample_aa", production_steps=steps,
               restart_every=max(ctx["frame_every"], (steps // 10) // ctx["frame_every"] * ctx["frame_every"]))
    segments = lammps.run_resumable("aa_production.in", job.path, "sample_aa", ctx, np=np, job=job.id)
    try:
        trajectory.com_to_gsd([job.fn(f"sample_aa.{k}.com") for k in segments],
                              [job.fn(f"sample_aa.{k}.box") for k in segments], job.fn(TRAJECTORY), ctx["timestep"])
    except trajectory.TrajectoryError as exc:
        raise jobs.StageFailed(f"job {job.id}: {exc}") from None
    lammps.remove_restarts(job.path, "sample_aa")


def analyze(job) -> None:
    """Density, COM RDF (the IBI target) and D_AA; job.doc's D_AA marks it done."""
    preset = jobs.preset(job)
    molecule = build_molecule(job.sp.get("molecule", "2,3,4-trimethylpentane"))
    t, pos, boxes = trajectory.read_gsd(job.fn(TRAJECTORY))
    rho = analysis.density(pos.shape[1], molecule.mass, boxes)
    r, g = analysis.rdf(pos, boxes, preset["analysis"]["rdf_r_max"], preset["analysis"]["rdf_bins"])
    jobs.save_columns(job.fn(RDF), "r_angstrom g_com", r, g)
    msd = analysis.msd_xyz(pos)
    jobs.save_columns(job.fn(MSD), "t_fs msd_x msd_y msd_z (angstrom^2)", t, msd)
    d = analysis.diffusion(t, msd)
    if not np.isfinite(d.D) or d.D <= 0:
        raise jobs.StageFailed(f"job {job.id}: no diffusion (D_AA = {d.D:.3g})")
    job.doc.update({"density": float(rho), "n_molecules": int(pos.shape[1]), "D_AA_axes": list(d.per_axis),
                    "D_AA_fit_window_ps": list(d.window_ps), "D_AA_msd_exponent": d.exponent,
                    "D_AA_err": d.err, "D_AA": d.D})


def single_point(directory, forcefield: dict, molecule, positions: np.ndarray, length: float,
                 n_molecules: int = 1, cutoff: float = 10.0) -> dict[str, float]:
    """LAMMPS energies (kcal/mol) of one configuration: {'E_bond': ..., 'E_angle': ..., ...}."""
    from pathlib import Path
    directory = Path(directory)
    data.write_aa(directory / "single_point.data", molecule, positions, length, n_molecules)
    script = lammps.render("aa_single_point.in", directory / "single_point.in", ff=forcefield,
                           lj=NONBONDED["lj"], special14=NONBONDED["special_lj_coul_14"], cutoff=cutoff,
                           data_file="single_point.data", self_name="single_point.in")
    log = lammps.run(script, cwd=directory, job="single point", log="single_point.log")
    return {k: float(v[-1]) for k, v in lammps.parse_log(log)[-1].items()}
