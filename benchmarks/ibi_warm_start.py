#!/usr/bin/env python
"""IBI warm-started from the structure model's prediction against IBI from the PMF, on held-out systems.

The nine published held-out systems T1..T9 (mobcg/reference: their 19 parameters and their IBI
potentials) are split leave-one-out: the project's structure-potential model (aggregate's
PotentialModel) is trained on eight, predicts the ninth's potential from its parameters, and the
ninth's published potential is the truth. Its target RDF is simulated with the true potential (N beads
at the OPLS-AA reference density, a long run); then the project's IBI (the preset's method, pressure
target = the target run's pressure) runs once from the PMF (-kT ln g) and once from the prediction
(cg.start_potential's treatment: on the IBI grid, own core, 0 at r_cut), same run lengths and seeds.
Prints per system the deviation per iteration and iterations to < 1 % (with |ΔP| < p_tol) from each
start; then the ratio prediction/PMF of the total iterations (goal ≤ 1/3).

    python benchmarks/ibi_warm_start.py [--systems T1,T5,T9] [--beads 1000] [--target-ps 500]
        [--iteration-ps 100] [--iterations 8] [--method imc] [--np 2]

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
from ibi_convergence import first_below, target_run, truth_on_grid  # noqa: E402
from mobcg import aggregate, cg, datasets, ibi, target  # noqa: E402

T = 298.15
DR = 0.1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="T1,T5,T9")
    ap.add_argument("--beads", type=int, default=1000)
    ap.add_argument("--target-ps", type=float, default=500.0)
    ap.add_argument("--iteration-ps", type=float, default=100.0)
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--method", default="imc")
    ap.add_argument("--r-cut", type=float, default=14.0)
    ap.add_argument("--p-tol", type=float, default=50.0)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mobcg-ibi-warm-"))
    print(f"work folder: {work}")

    systems = datasets.load_reference_systems(datasets.reference_dir() / datasets.IBI_TEST_SYSTEMS_FILE)
    pots = datasets.load_reference_potentials()
    X = np.asarray(systems.X, dtype=float)
    ids = list(systems.ids)
    r_paper = np.asarray(pots.r)
    U_paper = np.asarray(pots.U)[[list(pots.ids).index(i) for i in ids]]  # rows in the systems' order
    r_max, bins = target.grid(args.r_cut, DR)
    r = (np.arange(bins) + 0.5) * DR
    totals = {"pmf": 0, "model": 0}
    for name in args.systems.split(","):
        k = ids.index(name)
        train = [i for i in range(len(ids)) if i != k]
        model = aggregate._potential_model().fit(X[train], U_paper[train], r=r_paper)
        U_pred = model.predict(X[k:k + 1])[0][0]
        U_true = truth_on_grid(r, r_paper, U_paper[k], args.r_cut)
        t0 = time.perf_counter()
        g, P, noise, run, box = target_run(r, U_true, args, work / name / "target")
        positions = run.positions[-1] % box
        print(f"\n{name}: target {args.beads} beads, {args.target_ps:.0f} ps in {time.perf_counter() - t0:.0f} s, "
              f"P {P:.1f} atm, noise {100 * noise:.2f} %")
        U_model = cg.as_start(r, r_paper, U_pred, g, T, args.r_cut)  # as cg.start_potential does
        shell = (g > 0.2) & (r < 10.0)
        print(f"  U rms error (g > 0.2, r < 10 Å): prediction {np.sqrt(np.mean((U_model - U_true)[shell] ** 2)):.3f}, "
              f"PMF {np.sqrt(np.mean((ibi.pmf_start(r, g, T, args.r_cut) - U_true)[shell] ** 2)):.3f} kcal/mol")
        for start, U0 in (("pmf", None), ("model", U_model)):
            section = dict(method=args.method, max_iterations=args.iterations, tol=0.01, p_tol=args.p_tol, lam=1.0,
                           equilibrate_ps=10.0, production_ps=args.iteration_ps, frame_ps=0.5, timestep_fs=5.0)
            res = cg.iterate(r, g, positions, box, T, section, work / name / start, args.r_cut, P_target=P,
                             np=args.np, job_id=name, progress=None, U_start=U0, start=start)
            hit = first_below([it.deviation for it in res.iterations], [it.pressure for it in res.iterations],
                              P, 0.01, args.p_tol)
            n = (hit + 1) if hit is not None else None
            totals[start] += n if n is not None else args.iterations + 1  # a miss counts as one more than run
            print(f"  from {start:5s}: " + ", ".join(f"{100 * it.deviation:.2f}% ({it.pressure:.0f} atm)"
                                                       for it in res.iterations)
                  + f" -> < 1 %: {'not reached' if n is None else f'{n} simulations'}")
    print(f"\nsimulations to < 1 % (and |ΔP| < {args.p_tol:g} atm), all systems: from the model {totals['model']}, "
          f"from the PMF {totals['pmf']}; ratio {totals['model'] / totals['pmf']:.2f} (goal ≤ 0.33)")


if __name__ == "__main__":
    main()
