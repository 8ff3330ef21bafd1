#!/usr/bin/env python
"""How fast each IBI update converges, with the project's own CG runs (real LAMMPS).

Two targets:

* ``known`` — a target whose true potential is known: the published IBI potential of held-out system
  T1 (mobcg/reference/bag2022_ibi_test_potentials.tsv), cut at r_cut, simulated with N beads (default
  2197) at the OPLS-AA reference's density (0.7215 g/cm³, 125 beads in a 32.03 Å box) for a long run.
  The target's own noise is measured (deviation between its two halves) and printed, so the 1 % goal
  is only read where that noise is far below it. The pressure target is that run's pressure.
* ``reference`` (``--job PATH``) — the AA centre-of-mass RDF of a finished small-preset job (its
  aa_com.gsd), the AA pressure (1 atm), the job's CG box: what `project.py run` does, at the
  small preset's run lengths. Its target noise is printed too.

For each method (plain IBI with VOTCA's simple pressure ramp, Gauss–Newton with the inverse Monte
Carlo Jacobian and the pressure constraint) the same MD length per iteration and the same seeds; per iteration the RDF deviation
(%), the CG pressure (atm) and, for the known target, the RMS error of U against the truth over the
first shell; then iterations to < 2 % and < 1 % (with |P - P_target| < p_tol), and the share of wall
time spent outside LAMMPS (1 - t(lammps.run) / t(IBI)) measured in the same run.

    python benchmarks/ibi_convergence.py [--target known|reference] [--job PATH] [--beads 2197]
        [--target-ps 2000] [--iteration-ps 200] [--iterations 8] [--methods ibi,imc] [--np 2]
        [--reg R] [--reg-near R] [--reg-switch F] [--max-step S] [--seed-tag TAG]

Units: r Å, U kcal/mol, P atm, T 298.15 K.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from ibi_overhead import lammps_time  # noqa: E402
from mobcg import cg, datasets, target  # noqa: E402
from mobcg.lammps import trajectory  # noqa: E402

T = 298.15
RHO_REFERENCE = 125 / 32.03037544 ** 3  # beads/Å³: the OPLS-AA reference's AA density, 0.7215 g/cm³
DR = 0.1


def lattice(n: int, rho: float):
    """n = m³ beads on a simple cubic lattice at number density rho: (positions, box)."""
    m = round(n ** (1 / 3))
    L = (m ** 3 / rho) ** (1 / 3)
    x = (np.arange(m) + 0.5) * L / m
    return np.array(np.meshgrid(x, x, x, indexing="ij")).reshape(3, -1).T, np.array([L, L, L])


def truth_on_grid(r, r_table, U_table, r_cut: float) -> np.ndarray:
    """A tabulated potential on the IBI grid r, cut and shifted at r_cut: what a target run simulates."""
    U = np.interp(r, r_table, U_table)
    return (U - np.interp(r_cut, r, U)) * (r < r_cut)


def target_run(r, U_true, args, work: Path):
    """args.beads on a lattice at the reference density, args.target_ps with U_true (after 50 ps):
    (g on r, pressure atm, sampling noise, the run, box)."""
    positions, box = lattice(args.beads, RHO_REFERENCE)
    run = cg.simulate(cg.potential_table(r, U_true, args.r_cut), work, positions, box, T,
                      dict(equilibrate_ps=50.0, production_ps=args.target_ps, frame_ps=1.0, timestep_fs=5.0),
                      r_cut=args.r_cut, np=args.np, job_id="target", seed=12345, gsd_name=None, keep_raw=False)
    _, g, noise = target.rdf(run.positions, run.boxes, r[-1] + DR / 2, len(r))
    return g, run.pressure, noise, run, box


def known_target(args, work: Path):
    """Simulate the true potential: (r, g_target, P_target, U_true, positions, box, noise)."""
    pots = datasets.load_reference_potentials()
    _, bins = target.grid(args.r_cut, DR)
    r = (np.arange(bins) + 0.5) * DR
    U_true = truth_on_grid(r, np.asarray(pots.r), np.asarray(pots.U[0]), args.r_cut)
    positions, box = lattice(args.beads, RHO_REFERENCE)
    saved = work / "target.npz"
    if saved.exists():  # a finished target run: reuse it (it is the expensive part)
        z = np.load(saved)
        g, P, noise = z["g"], float(z["P"]), float(z["noise"])
        print(f"target: reused {saved}; P = {P:.1f} atm; noise (deviation from sampling) {100 * noise:.2f} %")
    else:
        t0 = time.perf_counter()
        g, P, noise, run, _ = target_run(r, U_true, args, work / "target")
        print(f"target: {len(positions)} beads, box {box[0]:.2f} Å, {args.target_ps:.0f} ps in "
              f"{time.perf_counter() - t0:.0f} s; P = {P:.1f} ± {run.pressure_err:.1f} atm; "
              f"noise (deviation from sampling) {100 * noise:.2f} %")
    # every method starts from the same melted liquid (50 ps with the true potential from the lattice)
    melt = cg.simulate(cg.potential_table(r, U_true, args.r_cut), work / "melt", positions, box, T,
                       dict(equilibrate_ps=0.0, production_ps=50.0, frame_ps=1.0, timestep_fs=5.0), r_cut=args.r_cut,
                       np=args.np, job_id="melt", seed=777, gsd_name=None, keep_raw=False)
    return r, g, P, U_true, melt.positions[-1] % box, box, noise


def reference_target(args):
    job = Path(args.job)
    frames = trajectory.read_gsd(job / "aa_com.gsd")
    _, pos, boxes = frames
    positions, box = target.start_configuration(frames)  # as cg.run_ibi: mean AA volume
    r_max, bins = target.grid(args.r_cut, DR, [float(boxes.min()), *box])
    r, g, noise = target.rdf(pos, boxes, r_max, bins)
    print(f"target: AA COM RDF of {job} ({len(pos)} frames of {pos.shape[1]} molecules); "
          f"noise (deviation from sampling) {100 * noise:.2f} %")
    return r, g, 1.0, None, positions, box, noise


def first_below(devs, pressures, P_target, level, p_tol):
    for k, (d, p) in enumerate(zip(devs, pressures)):
        if d < level and (p_tol is None or abs(p - P_target) < p_tol):
            return k
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["known", "reference"], default="known")
    ap.add_argument("--job", help="a finished small-preset job folder (for --target reference)")
    ap.add_argument("--beads", type=int, default=2197)
    ap.add_argument("--target-ps", type=float, default=2000.0)
    ap.add_argument("--iteration-ps", type=float, default=200.0)
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--methods", default="ibi,imc")
    ap.add_argument("--r-cut", type=float, default=14.0)
    ap.add_argument("--p-tol", type=float, default=50.0, help="atm; 0: structure only, no pressure correction")
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--reg", type=float, default=None, help="Newton regularisation (default: the ibi module's)")
    ap.add_argument("--reg-near", type=float, default=None,
                    help="Newton regularisation once the deviation is below --reg-switch (default: --reg throughout)")
    ap.add_argument("--reg-switch", type=float, default=None, help="fraction (default: the ibi module's, 0.05)")
    ap.add_argument("--max-step", type=float, default=None, help="Newton trust region, kT (default: the ibi module's)")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--seed-tag", default="",
                    help="another set of CG seeds (every method still shares it): repeats measure the scatter")
    args = ap.parse_args()
    if args.target == "reference" and not args.job:
        ap.error("--target reference needs --job")
    work = args.work or Path(tempfile.mkdtemp(prefix="mobcg-ibi-conv-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}")
    r, g_target, P_target, U_true, positions, box, noise = (
        known_target(args, work) if args.target == "known" else reference_target(args))
    if not (work / "target.npz").exists():
        np.savez(work / "target.npz", r=r, g=g_target, P=P_target, noise=noise,
                 **({} if U_true is None else {"U_true": U_true}))
    shell = (g_target > 0.2) & (r < 10.0)  # the sampled first shell and beyond, where U is determined
    p_tol = args.p_tol or None

    rows = {}
    for method in args.methods.split(","):
        section = dict(method=method, **({} if args.reg is None else {"reg": args.reg}),
                       **({} if args.max_step is None else {"max_step": args.max_step}),
                       **({} if args.reg_near is None else {"reg_near": args.reg_near}),
                       **({} if args.reg_switch is None else {"reg_switch": args.reg_switch}),
                       max_iterations=args.iterations, tol=1e-9, p_tol=p_tol, lam=1.0,
                       equilibrate_ps=10.0, production_ps=args.iteration_ps, frame_ps=0.5, timestep_fs=5.0)
        section["stop_within_noise"] = False  # the same number of iterations for every method
        with lammps_time() as inside:
            t0 = time.perf_counter()
            res = cg.iterate(r, g_target, positions, box, T, section, work / method, args.r_cut, P_target=P_target,
                             np=args.np, job_id=f"bench{args.seed_tag}", progress=None, target_noise=noise)
            wall = time.perf_counter() - t0
        devs = [it.deviation for it in res.iterations]
        ps = [it.pressure for it in res.iterations]
        print(f"\n{method}: {len(devs)} iterations in {wall:.0f} s, outside LAMMPS "
              f"{100 * (1 - inside['s'] / wall):.1f} %")
        print("  it  deviation %  noise %   P atm" + ("   U rms err (g > 0.2, r < 10 Å) kcal/mol" if U_true is not None else ""))
        for it in res.iterations:
            extra = (f"   {np.sqrt(np.mean((it.U - U_true)[shell] ** 2)):.4f}" if U_true is not None else "")
            print(f"  {it.index:2d}  {100 * it.deviation:10.2f}  {100 * it.noise:7.2f}  {it.pressure:7.1f}{extra}")
        rows[method] = {lvl: first_below(devs, ps, P_target, lvl, p_tol) for lvl in (0.02, 0.01)}
        rows[method]["best"] = min(devs)

    print(f"\nsummary (target noise {100 * noise:.2f} %, P_target {P_target:.1f} atm, ±{args.p_tol:g} atm):")
    for method, row in rows.items():
        fmt = lambda k: "not reached" if k is None else f"iteration {k}"  # noqa: E731
        print(f"  {method:7s} < 2 %: {fmt(row[0.02])};  < 1 %: {fmt(row[0.01])};  best {100 * row['best']:.2f} %")
    if "ibi" in rows and "imc" in rows and rows["ibi"][0.01] is not None and rows["imc"][0.01] is not None:
        print(f"  iterations to < 1 %, imc / ibi: {(rows['imc'][0.01] + 1) / (rows['ibi'][0.01] + 1):.2f}")


if __name__ == "__main__":
    main()
