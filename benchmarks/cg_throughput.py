#!/usr/bin/env python
"""CG MD throughput: the project's CG production input (cg.simulate, cg_nvt.in) under other table and
neighbour settings, against today's, and what each does to the forces.

The potential is a job's IBI table (default: the OPLS-AA reference of the data release in data/, its
table written again from IBI's final iteration), at the job's AA density, replicated to 1296 beads as
the presets' CG productions are. Each configuration runs `--ps` of production from the same start;
configurations are interleaved, `--repeats` times, the median reported as bead-steps/s and the ratio
against today's (pair_style table spline 5000, 2 Å skin). The force check: every bead's force on one
configuration (LAMMPS `run 0`, dumped) under each setting against today's, max relative difference.

    python benchmarks/cg_throughput.py
    python benchmarks/cg_throughput.py --job data/campaign-2026-12/jobs/<id> --repeats 5

Units: Å, fs, kcal/mol.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import cg, lammps, release, tables  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {  # name: (table style, table points, skin Å)
    "today (spline 5000, skin 2 Å)": ("spline", 5000, 2.0),
    "linear 5000": ("linear", 5000, 2.0),
    "linear 2000": ("linear", 2000, 2.0),
    "spline 2000": ("spline", 2000, 2.0),
    "spline 5000, skin 1 Å": ("spline", 5000, 1.0),
    "spline 5000, skin 3 Å": ("spline", 5000, 3.0),
    "linear 5000, skin 1 Å": ("linear", 5000, 1.0),
}


def reference_job() -> Path:
    """The OPLS-AA reference job of the first data release that has it finished."""
    for doc in sorted(ROOT.glob("data/*/jobs/*/signac_job_document.json")):
        d = json.loads(doc.read_text())
        if d.get("reference") and "ibi_final_iteration" in d:
            return doc.parent
    raise SystemExit("no finished OPLS-AA reference in data/*/jobs: pass --job")


def setup(folder: Path, work: Path):
    """(table, positions, box, mass, r_cut) of a released or workspace job folder."""
    work.mkdir(parents=True, exist_ok=True)
    if not (folder / cg.POTENTIAL_TABLE).is_file():
        staged = work / "job"
        staged.mkdir(exist_ok=True)
        for name in ("signac_job_document.json", cg.IBI_DIR):
            src = folder / name
            if src.is_dir():
                subprocess.run(["cp", "-r", str(src), str(staged)], check=True)
            else:
                (staged / name).write_bytes(src.read_bytes())
        release._write_tables(staged)
        folder_table = staged / cg.POTENTIAL_TABLE
    else:
        folder_table = folder / cg.POTENTIAL_TABLE
    doc = json.loads((folder / "signac_job_document.json").read_text())
    with np.load(folder / cg.IBI_INPUT) as z:
        positions, box, mass = np.array(z["positions"]), np.array(z["box"]), float(z["mass"])
    positions, box = cg.replicated(positions, box, 1000)
    return tables.read_lammps(folder_table), positions, box, mass, float(doc["ibi_r_cut"])


def run(setup_, work: Path, config, ps: float | None, tag: str, forces: bool = False) -> float:
    """bead-steps per second of one production of `ps` ps (or, `forces`, the dumped forces of its start)."""
    table, positions, box, mass, r_cut = setup_
    style, points, skin = config
    saved = cg.TABLE_STYLE, cg.SKIN
    cg.TABLE_STYLE, cg.SKIN = style, skin
    try:
        # the force dump: two frames of production after it (the first frame is not recorded), which the
        # run needs to end as a CG run does
        sec = dict(timestep_fs=5.0, frame_ps=1.0, equilibrate_ps=0.005 if forces else 2.0,
                   production_ps=2.0 if forces else ps)
        original = lammps.render
        if points != 5000 or forces:  # the table points and the force dump: edits of the rendered input
            def render(template, destination, **ctx):
                ctx["table_points"] = points
                path = original(template, destination, **ctx)
                if forces:
                    text = path.read_text().replace("minimize        1.0e-4 1.0e-6 200 2000", "dump f all custom 1 forces.dump id fx fy fz\n"
                                                    "dump_modify f sort id format float %.16g\nrun 0\nundump f")
                    path.write_text(text)
                return path
            lammps.render = render
        out = cg.simulate(table, work / tag, positions, box, 298.15, sec, r_cut=r_cut, mass=mass, gsd_name=None,
                          keep_raw=True)
    finally:
        cg.TABLE_STYLE, cg.SKIN = saved
        lammps.render = original
    if forces:
        return np.loadtxt(work / tag / "forces.dump", skiprows=9)[:, 1:]
    loop = re.findall(r"Loop time of ([\d.]+) on \d+ procs for (\d+) steps with (\d+) atoms",
                      out.log.read_text())[-1]
    return int(loop[1]) * int(loop[2]) / float(loop[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", type=Path, default=None, help="a released or workspace job folder with IBI done")
    parser.add_argument("--ps", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = args.job or reference_job()
    work = Path(tempfile.mkdtemp(prefix="mobcg-cg-throughput-"))
    s = setup(folder, work)
    print(f"{folder}: {len(s[1])} beads, box {s[2][0]:.2f} Å, r_cut {s[4]} Å; {args.ps:g} ps per run")
    f0 = run(s, work, CONFIGS[next(iter(CONFIGS))], None, "f_today", forces=True)
    results = {name: [] for name in CONFIGS}
    for rep in range(args.repeats):
        for k, (name, config) in enumerate(CONFIGS.items()):
            results[name].append(run(s, work, config, args.ps, f"{k}_{rep}"))
    base = statistics.median(results[next(iter(CONFIGS))])
    print(f"{'configuration':32s} {'bead-steps/s':>12s} {'ratio':>6s} {'max |dF| / max |F|':>18s}")
    for k, (name, config) in enumerate(CONFIGS.items()):
        f = run(s, work, config, None, f"f_{k}", forces=True)
        diff = np.abs(f - f0).max() / np.abs(f0).max()
        rate = statistics.median(results[name])
        print(f"{name:32s} {rate:12.0f} {rate / base:6.2f} {diff:18.2e}")


if __name__ == "__main__":
    main()
