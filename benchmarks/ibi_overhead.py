#!/usr/bin/env python
"""One IBI run (the run_ibi operation's work) on the OPLS-AA reference: how much of its wall time is
spent outside LAMMPS, and how many iterations it takes to reach 1 % RDF deviation.

Prints share outside LAMMPS = 1 - t(inside lammps.run) / t(cg.run_ibi) (target <= 5 %), measured in
the same run by wrapping mobcg.lammps.run (so LAMMPS' process start counts as LAMMPS), the deviation
per iteration and the first iteration below 1 % (or the best reached). If the target is missed, the
top cProfile entries (cumulative, the whole IBI run) show where the rest goes.

    python benchmarks/ibi_overhead.py [--preset tiny|demo] [--max-iterations N] [--top 15] [--root P] [--imported]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aa, cg, lammps, presets  # noqa: E402
from mobcg.forcefield import OPLS_AA  # noqa: E402
from mobcg.init import statepoint  # noqa: E402


@contextlib.contextmanager
def lammps_time():
    """Time every mobcg.lammps.run inside the block (LAMMPS' process start counts as LAMMPS): yields a
    dict whose "s" and "calls" grow as the runs finish."""
    inside = {"s": 0.0, "calls": 0}
    real_run = lammps.run

    def timed_run(*a, **k):
        t = time.perf_counter()
        try:
            return real_run(*a, **k)
        finally:
            inside["s"] += time.perf_counter() - t
            inside["calls"] += 1

    lammps.run = timed_run
    try:
        yield inside
    finally:
        lammps.run = real_run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--max-iterations", type=int, default=None, help="override the preset's")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--root", type=Path, default=None,
                        help="reuse this benchmark project (its AA stage, if done) instead of a fresh one")
    parser.add_argument("--imported", action="store_true",
                        help="import freud, scipy's splines and gsd before timing, as in a `project.py run` whose "
                             "analyze_aa ran in the same process (a fresh AA stage here does the same)")
    args = parser.parse_args()
    if args.imported:
        import freud  # noqa: F401
        import gsd.hoomd  # noqa: F401
        import scipy.interpolate  # noqa: F401
    if args.max_iterations:
        presets.PRESETS[args.preset]["ibi"]["max_iterations"] = args.max_iterations
    root = args.root or Path(tempfile.mkdtemp(prefix="mobcg-bench-ibi-"))
    project = signac.init_project(root)
    job = project.open_job(statepoint(OPLS_AA, args.preset)).init()
    print(f"project: {root}")
    t0 = time.perf_counter()
    if "D_AA" not in job.doc:
        aa.build(job)
        aa.equilibrate(job)
        aa.sample(job)
        aa.analyze(job)
    shutil.rmtree(job.fn(cg.IBI_DIR), ignore_errors=True)  # IBI from scratch
    for key in [k for k in job.doc if k.startswith("ibi_")]:
        del job.doc[key]
    print(f"AA stage ({args.preset}): {time.perf_counter() - t0:.1f} s (not part of the figure)")

    profiler = cProfile.Profile()
    with lammps_time() as inside:
        t0 = time.perf_counter()
        profiler.enable()
        result = cg.run_ibi(job, progress=None)
        profiler.disable()
        total = time.perf_counter() - t0

    outside = total - inside["s"]
    devs = [it.deviation for it in result.iterations]
    below = next((it.index for it in result.iterations if it.deviation < 0.01), None)
    print(f"IBI ({args.preset}): {len(devs)} iterations, {inside['calls']} LAMMPS runs; wall {total:.2f} s, "
          f"inside LAMMPS {inside['s']:.2f} s, outside {outside:.2f} s")
    print(f"share outside LAMMPS = {outside / total:.3f} (target <= 0.05); "
          f"per iteration outside: {outside / max(len(devs), 1):.3f} s")
    print("deviation per iteration: " + ", ".join(f"{100 * d:.2f}%" for d in devs))
    print("iterations to 1 % deviation: " + (f"{below + 1} (iteration {below})" if below is not None else
          f"not reached; best {100 * min(devs):.2f}% at iteration {devs.index(min(devs))}"))
    if outside / total > 0.05:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print("target missed; where the time goes (cProfile, cumulative):")
        print("\n".join(l for l in out.getvalue().splitlines() if l.strip())[-(args.top + 4) * 200:])


if __name__ == "__main__":
    main()
