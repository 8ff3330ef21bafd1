#!/usr/bin/env python
"""A longer all-atom IBI target for a finished `small`-preset job, sampled on a big machine.

IBI stops once its RDF deviation is within the sampling noise of its AA target (125 molecules,
150 ps: 1.27 %), so what IBI can show at the small preset is bounded by that target. This benchmark adds independent NPT production replicas of the same job,
run where there are cores (a 16-core machine without Python: the venv's `lmp` and `mpirun` packed
with their libraries into one tarball), and joins their frames to the job's own:

    python benchmarks/longer_target.py render JOB RUNS [--replicas 4] [--ps 200] [--minutes 8]
    (on the big machine, per replica k:  cd RUNS/rep{k} && mpirun -np 4 lmp -in extend.in -log extend.log)
    python benchmarks/longer_target.py combine JOB RUNS NEWJOB [--discard-ps 5]
    python benchmarks/ibi_convergence.py --target reference --job NEWJOB --methods imc ...

`render` takes the job's own production input (sample_aa.0.in, rendered by mobcg.aa.sample), and per
replica: starts from the job's equilibrated restart with velocities drawn anew (seed per replica),
writes the COM and box series to rep{k}.com / rep{k}.box, and stops cleanly at a LAMMPS wall-clock
timeout (`timer timeout`), so the run fits a lease. `combine` drops each replica's first
--discard-ps (they all start from the equilibrated positions) and writes NEWJOB/aa_com.gsd with the
job's frames first, then the replicas', plus the job's statepoint and document; the target RDF
is the average over all frames, and its noise is first half against second (mobcg.target.rdf).
Units: ps, Å, atm; frames every 0.5 ps as in the job.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg.lammps import trajectory  # noqa: E402


def timestep(text: str) -> float:
    """The time step (fs) of a rendered LAMMPS input."""
    return float(re.search(r"^timestep\s+(\S+)", text, re.M).group(1))


def render(job: Path, runs: Path, replicas: int, ps: float, minutes: float) -> None:
    text = (job / "sample_aa.0.in").read_text()
    dt = timestep(text)
    steps = int(round(ps * 1000 / dt))
    for k in range(replicas):
        rep = runs / f"rep{k}"
        rep.mkdir(parents=True, exist_ok=True)
        shutil.copy(job / "aa_equilibrated.restart", rep)
        new = text.replace("sample_aa.0.com", f"rep{k}.com").replace("sample_aa.0.box", f"rep{k}.box")
        new = re.sub(r"^restart\s.*$", "# (no restart files: a replica is run once)", new, flags=re.M)
        new = re.sub(r"^run\s+\d+ upto$", f"run             {steps} upto", new, flags=re.M)
        new = re.sub(r"^write_restart\s.*$", "", new, flags=re.M)
        new = new.replace(
            "reset_timestep  0\n",
            f"reset_timestep  0\n# replica {k}: new velocities, and a clean stop at the wall-clock limit\n"
            f"velocity        all create 298.15 {4242 + 1000 * k} dist gaussian mom yes rot yes\n"
            f"timer           timeout {int(minutes * 60)} every 500\n")
        assert new.count("velocity") == 1 and f"rep{k}.com" in new and f"run             {steps}" in new
        (rep / "extend.in").write_text(new)
    print(f"{replicas} replicas of {ps:g} ps (at most {minutes:g} min each) in {runs}")


def combine(job: Path, runs: Path, out: Path, discard_ps: float) -> None:
    t, pos, boxes = trajectory.read_gsd(job / "aa_com.gsd")
    dt = timestep((job / "sample_aa.0.in").read_text())
    step0 = np.rint(t / dt).astype(int)
    frame = int(step0[1] - step0[0])
    all_steps, all_com, by_step = list(step0), list(pos), {int(s): b for s, b in zip(step0, boxes)}
    print(f"job: {len(step0)} frames ({(step0[-1] - step0[0]) * dt / 1000:.1f} ps)")
    for rep in sorted(runs.glob("rep*/")):
        k = rep.name[3:]
        steps, com, boxes_k = trajectory.merge_segments([(rep / f"rep{k}.com", rep / f"rep{k}.box")])
        keep = steps * dt >= discard_ps * 1000
        print(f"{rep.name}: {len(steps)} frames ({steps[-1] * dt / 1000:.1f} ps), {keep.sum()} kept")
        offset = all_steps[-1] + frame - int(steps[keep][0])
        for s, xyz in zip(steps[keep], com[keep]):
            all_steps.append(int(s) + offset)
            all_com.append(xyz)
            by_step[int(s) + offset] = np.asarray(boxes_k[int(s)][:3], float)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("signac_statepoint.json", "signac_job_document.json", "sample_aa.0.in"):
        shutil.copy(job / name, out)
    n = trajectory.write_gsd(np.array(all_steps), np.array(all_com), by_step, out / "aa_com.gsd", dt)
    print(f"{out / 'aa_com.gsd'}: {n} frames = {n * frame * dt / 1000:.1f} ps of target")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("render")
    r.add_argument("job", type=Path)
    r.add_argument("runs", type=Path)
    r.add_argument("--replicas", type=int, default=4)
    r.add_argument("--ps", type=float, default=200.0)
    r.add_argument("--minutes", type=float, default=8.0)
    c = sub.add_parser("combine")
    c.add_argument("job", type=Path)
    c.add_argument("runs", type=Path)
    c.add_argument("out", type=Path)
    c.add_argument("--discard-ps", type=float, default=5.0)
    a = ap.parse_args()
    if a.what == "render":
        render(a.job, a.runs, a.replicas, a.ps, a.minutes)
    else:
        combine(a.job, a.runs, a.out, a.discard_ps)


if __name__ == "__main__":
    main()
