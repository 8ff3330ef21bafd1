#!/usr/bin/env python
"""D_CG in the AA box and at the paper's size, with the same potential (issue 20).

For each finished job folder (a workspace job or a released one: its IBI table, or IBI's final
iteration, and ibi_input.npz), the CG production of its preset runs at the job's own bead count (the AA
box) and in that box replicated to >= `--beads` (1000: the paper's size, as the presets' productions
are), with `--seeds` seeds each. Printed per job and size: the box edge, D as measured, the CG liquid's
Green–Kubo viscosity and D moved to an infinite box with it (Yeh–Hummer), mean ± standard deviation over
the seeds. In a small box a low-viscosity liquid loses much of its D to its images: the raw D differ
between the sizes, the infinite-box D should not.

    python benchmarks/cg_box_size.py data/campaign-2026-12/jobs/<id> [...] --seeds 3

Units: D in 1e-9 m²/s, η in mPa·s, L in Å.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import analysis, cg, lammps, presets, release, tables  # noqa: E402


def load(folder: Path, work: Path):
    """(table, r_cut, positions, box, mass, preset's cg section, T) of a job folder."""
    doc = json.loads((folder / "signac_job_document.json").read_text())
    sp = json.loads((folder / "signac_statepoint.json").read_text())
    table_file = folder / cg.POTENTIAL_TABLE
    if not table_file.is_file():  # a released job: its table from IBI's final iteration
        staged = work / folder.name
        staged.mkdir(parents=True, exist_ok=True)
        (staged / "signac_job_document.json").write_text(json.dumps(doc))
        (staged / cg.IBI_DIR).mkdir(exist_ok=True)
        final = f"iteration_{int(doc['ibi_final_iteration']):03d}.npz"
        (staged / cg.IBI_DIR / final).write_bytes((folder / cg.IBI_DIR / final).read_bytes())
        release._write_tables(staged)
        table_file = staged / cg.POTENTIAL_TABLE
    with np.load(folder / cg.IBI_INPUT) as z:
        positions, box, mass = np.array(z["positions"]), np.array(z["box"]), float(z["mass"])
    preset = presets.get(sp.get("preset", "demo"))
    return (tables.read_lammps(table_file), float(doc["ibi_r_cut"]), positions, box, mass, preset["cg"],
            float(sp.get("temperature", 298.15)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jobs", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--beads", type=int, default=1000)
    parser.add_argument("--production-ps", type=float, default=None, help="default: the preset's CG production")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mobcg-cg-box-"))
    print(f"{'job':10s} {'beads':>6s} {'L Å':>6s} {'D raw':>13s} {'η mPa·s':>13s} {'D inf':>13s}")
    for folder in args.jobs:
        table, r_cut, positions, box, mass, sec, T = load(folder, work)
        sec = dict(sec, production_ps=args.production_ps or sec["production_ps"])
        for label, (pos, bx) in (("own", (positions, box)), ("big", cg.replicated(positions, box, args.beads))):
            rows = []
            for seed in range(1, args.seeds + 1):
                run = cg.simulate(table, work / f"{folder.name}_{label}_{seed}", pos, bx, T, sec, r_cut=r_cut,
                                  mass=mass, gsd_name=None, keep_raw=False, seed=lammps.seed(f"{folder.name}{seed}"),
                                  stress_ps=sec.get("stress_ps", 0.05))
                _, d = cg.diffusion_of(run.times, run.positions)
                keys, _ = analysis.box_corrected("CG", d, run.stress_rows(), float(bx[0]), T)
                rows.append((d.D, keys["eta_CG"], keys.get("D_CG_inf", np.nan)))
            a = np.array(rows)
            m, s = a.mean(0), a.std(0, ddof=1) if len(a) > 1 else np.zeros(3)
            print(f"{folder.name[:8]:10s} {len(pos):6d} {bx[0]:6.1f} {m[0]:6.2f} ± {s[0]:4.2f} {m[1]:6.3f} ± {s[1]:4.3f} "
                  f"{m[2]:6.2f} ± {s[2]:4.2f}", flush=True)


if __name__ == "__main__":
    main()
