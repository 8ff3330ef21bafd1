#!/usr/bin/env python
"""Which drawn parameter sets are liquids at 298.15 K and 1 atm, and does that explain the published sample?

The published 234 sets are not uniform in their sampling box: long bonds are missing (Kolmogorov–Smirnov
against uniform: r0_CC p ≈ 4e-9, r0_CH p ≈ 3e-10; 12 of 234 have r0_CH > 1.5 Å where ~58 were expected).
The authors evidently discarded sets that gave no usable liquid. This benchmark draws N sets uniformly
from the box, runs the project's own AA equilibration on each (aa.build + aa.equilibrate: squeeze, NVT
relax, NPT until the density settles; "not a liquid" when the molecules fill < 0.35 of the box and the box
is not densifying) and compares the survivors' parameters with the published ones, parameter by parameter
(two-sample KS), and by the share of long bonds.

    python benchmarks/liquid_filter.py --n 40                 # ~1 h on 2 cores (2 sets at a time, 1 rank each)
    python benchmarks/liquid_filter.py --n 200 --workers 16   # on a 16-core machine
"""

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mobcg import aa, jobs, presets  # noqa: E402
from mobcg.datasets import load_reference_systems  # noqa: E402
from mobcg.forcefield import PARAMETER_NAMES, SAMPLING_BOX, flatten, sample  # noqa: E402
from mobcg.init import statepoint  # noqa: E402

PRESET = "liquid-filter"


def register(n_molecules: int) -> None:
    preset = presets.get("demo")
    preset["n_molecules"] = n_molecules
    preset["aa"]["np"] = 1
    presets.PRESETS[PRESET] = preset


def classify(args) -> dict:
    root, index, ff, n_molecules = args
    import signac
    register(n_molecules)
    project = signac.get_project(root)
    job = project.open_job(statepoint(ff, PRESET)).init()
    started = time.monotonic()
    verdict, reason = "liquid", ""
    try:
        if not job.isfile(aa.DATA):
            aa.build(job)
        if not job.isfile(aa.EQUILIBRATED):
            aa.equilibrate(job, np=1, progress=None)
    except (jobs.StageFailed, aa.lammps.LammpsError) as exc:
        reason = str(exc)
        verdict = ("not a liquid" if "not a liquid" in reason else
                   "did not settle" if "did not settle" in reason else "blew up")
    doc = job.doc()
    out = {"index": index, "verdict": verdict, "reason": reason[:200], "seconds": time.monotonic() - started,
           "packing_fraction": doc.get("packing_fraction"), "density": doc.get("equilibration_density"),
           **flatten(ff)}
    print(f"set {index:3d}: {verdict:14s} r0_CC {out['r0_CC']:.2f} r0_CH {out['r0_CH']:.2f} "
          f"packing {out['packing_fraction'] or float('nan'):.2f} ({out['seconds']:.0f} s)", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--molecules", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", default=str(REPO / "benchmark_runs" / "liquid_filter"))
    args = parser.parse_args()
    import signac
    from scipy import stats

    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    signac.init_project(root)
    drawn = sample(args.n, args.seed)
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(classify, [(str(root), i, ff, args.molecules) for i, ff in enumerate(drawn)]))
    (root / "liquid_filter.json").write_text(json.dumps(results, indent=1))

    published = load_reference_systems()
    liquid = [r for r in results if r["verdict"] == "liquid"]
    counts = {v: sum(r["verdict"] == v for r in results) for v in ("liquid", "not a liquid", "did not settle", "blew up")}
    print(f"\n{args.n} sets drawn uniformly, {args.molecules} molecules: " +
          ", ".join(f"{v} {c}" for v, c in counts.items()))
    print(f"{'parameter':11s} {'published vs uniform':>21s} {'liquids vs uniform':>19s} {'liquids vs published':>21s}")
    for k, name in enumerate(PARAMETER_NAMES):
        lo, hi = SAMPLING_BOX[name]
        uniform = stats.uniform(loc=lo, scale=hi - lo).cdf
        pub = published.X[:, k]
        ours = np.array([r[name] for r in liquid])
        p_pub = stats.kstest(pub, uniform).pvalue
        p_ours = stats.kstest(ours, uniform).pvalue if len(ours) > 2 else float("nan")
        p_both = stats.ks_2samp(ours, pub).pvalue if len(ours) > 2 else float("nan")
        print(f"{name:11s} {p_pub:21.2g} {p_ours:19.2g} {p_both:21.2g}")
    for name, cut in (("r0_CH", 1.5), ("r0_CC", 2.0)):
        k = PARAMETER_NAMES.index(name)
        lo, hi = SAMPLING_BOX[name]
        share_pub = np.mean(published.X[:, k] > cut)
        share_ours = np.mean([r[name] > cut for r in liquid]) if liquid else float("nan")
        share_drawn = np.mean([r[name] > cut for r in results])
        print(f"share with {name} > {cut} Å: uniform box {(hi - cut) / (hi - lo):.2f}, drawn {share_drawn:.2f}, "
              f"our liquids {share_ours:.2f}, published {share_pub:.2f}")


if __name__ == "__main__":
    main()
