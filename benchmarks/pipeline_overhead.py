#!/usr/bin/env python
"""AA production through the pipeline vs the same rendered input run by plain `lmp`; analysis cost.

Prints speed ratio = t(plain lmp) / t(pipeline) (target >= 0.95) measured in the same run, and the
analysis time (RDF + MSD) per trajectory frame.

    python benchmarks/pipeline_overhead.py [--preset demo] [--np 2]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aa, lammps  # noqa: E402
from mobcg.forcefield import OPLS_AA  # noqa: E402
from mobcg.init import statepoint  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--np", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mobcg-bench-overhead-"))
    project = signac.init_project(root)
    job = project.open_job(statepoint(OPLS_AA, args.preset)).init()
    aa.build(job)
    aa.equilibrate(job, np=args.np)
    pipeline, plain = [], []
    for _ in range(args.repeats):
        for f in Path(job.path).glob("sample_aa.*"):
            f.unlink()
        Path(job.fn(aa.TRAJECTORY)).unlink(missing_ok=True)
        t0 = time.perf_counter()
        aa.sample(job, np=args.np)  # render + run + GSD conversion
        pipeline.append(time.perf_counter() - t0)
        scratch = Path(tempfile.mkdtemp(dir=root))
        shutil.copy(job.fn("sample_aa.0.in"), scratch)
        shutil.copy(job.fn(aa.EQUILIBRATED), scratch)
        t0 = time.perf_counter()
        subprocess.run(lammps.command(args.np) + ["-in", "sample_aa.0.in", "-log", "plain.log", "-screen", "none"],
                       cwd=scratch, check=True)
        plain.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    aa.analyze(job)
    analysis_s = time.perf_counter() - t0
    frames = len(aa.trajectory.read_gsd(job.fn(aa.TRAJECTORY))[0])
    best_pipe, best_plain = min(pipeline), min(plain)
    print(f"AA production ({args.preset}, np={args.np}): pipeline {best_pipe:.2f} s, plain lmp {best_plain:.2f} s "
          f"(best of {args.repeats})")
    print(f"speed ratio plain/pipeline = {best_plain / best_pipe:.3f} (target >= 0.95)")
    print(f"analysis (density, RDF, MSD, D fit): {analysis_s:.2f} s for {frames} frames = "
          f"{1000 * analysis_s / frames:.2f} ms/frame; ratio to production time = {analysis_s / best_plain:.3f}")


if __name__ == "__main__":
    main()
