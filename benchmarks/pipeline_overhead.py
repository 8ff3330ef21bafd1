#!/usr/bin/env python
"""AA and CG production through the pipeline vs the same rendered input run by plain `lmp`; analysis cost.

Prints speed ratio = t(plain lmp) / t(pipeline) (target >= 0.95) measured in the same run, for AA
production (aa.sample: render + resumable run + GSD) and CG production (cg.sample: table + data +
render + resumable run + segment merge + GSD), and the analysis time (RDF + MSD) per trajectory frame.
The CG potential is the potential of mean force of the AA RDF (IBI's start; no IBI needed here).

    python benchmarks/pipeline_overhead.py [--preset demo] [--np 2] [--stage aa|cg|both]
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
from mobcg import aa, cg, ibi, jobs, lammps, tables  # noqa: E402
from mobcg.forcefield import OPLS_AA  # noqa: E402
from mobcg.init import statepoint  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--np", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--stage", choices=("aa", "cg", "both"), default="both")
    parser.add_argument("--root", type=Path, default=None,
                        help="reuse this benchmark project (its AA stage, if done) instead of a fresh one")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="mobcg-bench-overhead-"))
    project = signac.init_project(root)
    job = project.open_job(statepoint(OPLS_AA, args.preset)).init()
    print(f"project: {root}")
    if not job.isfile(aa.EQUILIBRATED):
        aa.build(job)
        aa.equilibrate(job, np=args.np)
    if args.stage in ("aa", "both"):
        bench_aa(job, root, args)
    elif "D_AA" not in job.doc:
        aa.sample(job, np=args.np)
        aa.analyze(job)
    if args.stage in ("cg", "both"):
        bench_cg(job, root, args)


def plain_lmp(files, script, root, np_):
    scratch = Path(tempfile.mkdtemp(dir=root))
    for f in files:
        shutil.copy(f, scratch)
    t0 = time.perf_counter()
    subprocess.run(lammps.command(np_) + ["-in", Path(script).name, "-log", "plain.log", "-screen", "none",
                                          "-nocite"], cwd=scratch, check=True)
    return time.perf_counter() - t0


def bench_aa(job, root, args):
    pipeline, plain = [], []
    for _ in range(args.repeats):
        for f in Path(job.path).glob("sample_aa.*"):
            f.unlink()
        Path(job.fn(aa.TRAJECTORY)).unlink(missing_ok=True)
        t0 = time.perf_counter()
        aa.sample(job, np=args.np)  # render + run + GSD conversion
        pipeline.append(time.perf_counter() - t0)
        plain.append(plain_lmp([job.fn("sample_aa.0.in"), job.fn(aa.EQUILIBRATED)], job.fn("sample_aa.0.in"),
                               root, args.np))
    t0 = time.perf_counter()
    aa.analyze(job)
    analysis_s = time.perf_counter() - t0
    frames = len(aa.trajectory.read_gsd(job.fn(aa.TRAJECTORY))[0])
    best_pipe, best_plain = min(pipeline), min(plain)
    print(f"AA production ({args.preset}, np={args.np}): pipeline {best_pipe:.2f} s, plain lmp {best_plain:.2f} s "
          f"(best of {args.repeats})")
    print(f"AA speed ratio plain/pipeline = {best_plain / best_pipe:.3f} (target >= 0.95)")
    print(f"analysis (density, RDF, MSD, D fit): {analysis_s:.2f} s for {frames} frames = "
          f"{1000 * analysis_s / frames:.2f} ms/frame; ratio to production time = {analysis_s / best_plain:.3f}")


def bench_cg(job, root, args):
    """cg.sample (the sample_cg operation's work) vs plain lmp on the same rendered cg_nvt.0.in."""
    sec = jobs.preset(job)["ibi"]
    rdf = jobs.load_columns(job.fn(aa.RDF))
    r_cut = min(float(sec["r_cut"]), float(rdf[-1, 0]))
    U = ibi.pmf_start(rdf[:, 0], rdf[:, 1], float(job.sp.get("temperature", 298.15)), r_cut)
    final = cg.potential_table(rdf[:, 0], U, r_cut, grid=tables.PAPER_GRID, whole=True)
    tables.export_all(final, job.path, cg.POTENTIAL)
    job.doc["ibi_r_cut"] = r_cut
    run_dir = Path(job.fn("cg_run"))
    pipeline, plain = [], []
    for _ in range(args.repeats):
        shutil.rmtree(run_dir, ignore_errors=True)
        Path(job.fn(cg.TRAJECTORY)).unlink(missing_ok=True)
        t0 = time.perf_counter()
        cg.sample(job, np=args.np)
        pipeline.append(time.perf_counter() - t0)
        plain.append(plain_lmp([run_dir / "cg_nvt.0.in", run_dir / "cg.data", run_dir / "cg.table"],
                               run_dir / "cg_nvt.0.in", root, args.np))
    frames = len(aa.trajectory.read_gsd(job.fn(cg.TRAJECTORY))[0])
    best_pipe, best_plain = min(pipeline), min(plain)
    print(f"CG production ({args.preset}, np={args.np}, {frames} frames): pipeline {best_pipe:.2f} s, "
          f"plain lmp {best_plain:.2f} s (best of {args.repeats})")
    print(f"CG speed ratio plain/pipeline = {best_plain / best_pipe:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
