#!/usr/bin/env python
"""Benchmark the CG engine against the published D_CG of the IBI test systems T1..T9.

Bag, Meinel & Müller-Plathe (JCTC 2022) give, for 9 held-out parameter sets, the IBI potential
(bag2022_ibi_test_potentials.tsv, their LAMMPS table grid 0.0001..15.49 Å) and D_CG
(bag2022_ibi_test_systems.tsv). This runs their potential in our CG seam (mobcg.cg.simulate:
LAMMPS pair_style table, NVT Nosé–Hoover, 298.15 K) with 1000 beads (their system size: D of a
periodic box depends on its size, Yeh–Hummer) and compares D_CG.

Density: bag2022_ibi_test_systems.tsv has no density column (columns: test_system, D_AA, D_CG,
alpha and the 19 bonded parameters), and the T-systems' AA densities are not published. The
drawn bond lengths change the AA density a lot (T1: r0_CH = 1.56 Å), and the OPLS reference
density 0.735 g/cm³ is wrong for them: T1's potential gives ~1000 atm there and D_CG 7x too small.
Their IBI potentials were pressure-corrected (VOTCA) to 1 atm at the AA density (measured:
`benchmarks/published_pressure.py`), so by default we
recover that density with a short NPT Nosé–Hoover run at 1 atm with the CG potential itself, then
run NVT there (T1: 0.468 g/cm³). `--density RHO` fixes the density instead (no NPT); a density
column in the TSV, if one appears, is used the same way.

    python benchmarks/reference_cg.py                 # T1 (NPT density, then NVT)
    python benchmarks/reference_cg.py --all           # T1..T9
    python benchmarks/reference_cg.py --density 0.735 # fixed density (OPLS reference)
    python benchmarks/reference_cg.py --production-ps 2000 --timestep-fs 2

Units: Å, fs, kcal/mol, atm; D in 1e-9 m²/s.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobcg import cg, lammps, tables  # noqa: E402
from mobcg.datasets import reference_dir  # noqa: E402
from mobcg.molecule import box_length  # noqa: E402

REFERENCE = reference_dir()
POTENTIALS = "bag2022_ibi_test_potentials.tsv"
SYSTEMS = "bag2022_ibi_test_systems.tsv"
OPLS_DENSITY = 0.735  # g/cm³, their unmodified OPLS-AA 2,3,4-trimethylpentane
TARGET = 0.15  # relative agreement we aim for


def lattice(n: int, length: float, seed: int = 1) -> np.ndarray:
    """n points on the smallest simple cubic lattice holding them (random subset)."""
    k = int(np.ceil(n ** (1 / 3) - 1e-9))
    sites = (np.indices((k, k, k)).reshape(3, -1).T + 0.5) * length / k
    return sites[np.random.default_rng(seed).choice(len(sites), n, replace=False)]


def settle_at_1atm(table, workdir, positions, length: float, section: dict, npt_ps: float, r_cut: float,
                   ranks: int, job_id: str, **simulate) -> tuple[float, np.ndarray]:
    """NPT at 1 atm (Nosé–Hoover, `npt_ps`) from `positions` in a cubic box of edge `length` Å: (the mean
    edge over the run's second half, the last frame's positions as fractions of its box)."""
    npt = cg.simulate(table, workdir, positions, [length] * 3, 298.15, dict(section, production_ps=npt_ps),
                      r_cut=r_cut, np=ranks, job_id=job_id, keep_raw=False, pressure=1.0, **simulate)
    half = len(npt.boxes) // 2
    edge = float(np.cbrt(np.prod(npt.boxes[half:], axis=1).mean()))
    return edge, np.mod(npt.positions[-1], npt.boxes[-1]) / npt.boxes[-1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--system", default="T1")
    p.add_argument("--all", action="store_true", help="all nine test systems")
    p.add_argument("--reference", type=Path, default=REFERENCE)
    p.add_argument("--beads", type=int, default=1000)
    p.add_argument("--density", type=float, default=None, help="g/cm³; default: the TSV's density column if any, "
                   "else the density the potential gives at 1 atm (NPT Nosé–Hoover, --npt-ps)")
    p.add_argument("--npt-ps", type=float, default=200.0)
    p.add_argument("--timestep-fs", type=float, default=5.0)
    p.add_argument("--equilibrate-ps", type=float, default=100.0)
    p.add_argument("--production-ps", type=float, default=500.0)
    p.add_argument("--frame-ps", type=float, default=1.0)
    p.add_argument("--np", type=int, default=1)
    p.add_argument("--workdir", type=Path, default=Path("benchmark_runs"))
    args = p.parse_args(argv)

    pots = tables.read_reference_potentials(args.reference / POTENTIALS)
    with open(args.reference / SYSTEMS, newline="") as fh:
        systems = {row["test_system"]: row for row in csv.DictReader(fh, delimiter="\t")}
    names = sorted(systems) if args.all else [args.system]
    rows = []
    for name in names:
        row, table = systems[name], pots[name]
        fixed = args.density or (float(row["density"]) if row.get("density") else None)
        rho = fixed or OPLS_DENSITY  # NPT starts from the OPLS density
        length = box_length(args.beads, cg.TMP_MASS, rho)  # Å
        r_cut = float(table.r[-1])
        section = dict(timestep_fs=args.timestep_fs, equilibrate_ps=args.equilibrate_ps,
                       production_ps=args.production_ps, frame_ps=args.frame_ps)
        started = time.monotonic()
        positions = lattice(args.beads, length)
        if fixed is None:
            new, fractions = settle_at_1atm(table, args.workdir / f"{name}_npt", positions, length, section,
                                            args.npt_ps, r_cut, args.np, f"bench-{name}-npt")
            rho = rho * (length / new) ** 3
            positions = fractions * new
            length = new
            print(f"{name}: NPT at 1 atm ({args.npt_ps:.0f} ps, second half averaged): {rho:.4f} g/cm³", flush=True)
        run = cg.simulate(table, args.workdir / name, positions, [length] * 3, 298.15,
                          section, r_cut=r_cut, np=args.np, job_id=f"bench-{name}", keep_raw=False)
        seconds = time.monotonic() - started
        msd, d = cg.diffusion_of(run.times, run.positions)
        thermo = lammps.parse_log(run.log)[-1]
        conserved = thermo["TotEng"] + thermo["f_ensemble"]
        t_ns = thermo["Step"] * args.timestep_fs * 1e-6
        drift = np.polyfit(t_ns, conserved, 1)[0] / args.beads / (cg.ibi.KB * 298.15)  # kT per bead per ns
        published = float(row["D_CG"])
        ratio = d.D / published
        ok = abs(ratio - 1) <= TARGET or abs(d.D - published) <= 2 * d.err and abs(ratio - 1) <= 2 * TARGET
        rows.append((name, d.D, d.err, published, ratio, ok))
        print(f"{name}: D_CG = {d.D:.2f} ± {d.err:.2f} (x, y, z: {', '.join(f'{x:.2f}' for x in d.per_axis)}) "
              f"vs published {published:.2f} ×1e-9 m²/s; ratio {ratio:.3f} "
              f"({'within' if abs(ratio - 1) <= TARGET else 'outside'} {TARGET:.0%}); "
              f"fit window {d.window_ps[0]:.0f}-{d.window_ps[1]:.0f} ps, MSD exponent {d.exponent:.3f}; "
              f"{args.beads} beads, {rho:.4f} g/cm³, L = {length:.2f} Å, dt = {args.timestep_fs} fs, "
              f"{args.production_ps:.0f} ps; <T> = {thermo['Temp'].mean():.1f} K, "
              f"<P> = {run.pressure:.0f} ± {run.pressure_err:.0f} atm; NH conserved-energy drift "
              f"{drift:+.2e} kT/bead/ns; {seconds:.0f} s on {args.np} rank(s)", flush=True)
    if len(rows) > 1:
        ratios = np.array([r[4] for r in rows])
        print(f"{len(rows)} systems: mean ratio {ratios.mean():.3f}, {sum(abs(ratios - 1) <= TARGET)} within "
              f"{TARGET:.0%}")
    return 0 if all(abs(r[4] - 1) <= TARGET for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
