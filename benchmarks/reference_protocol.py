#!/usr/bin/env python
"""The OPLS-AA reference at the small preset, two IBI protocols, several independent AA productions:
which reproduces the published D_AA, D_CG and alpha (1.15, 7.23, 6.28; 1000 molecules)?

Input: a project whose reference jobs (independent boxes: statepoint replica k) have their AA stage
analysed at the preset's settings, e.g. the one `benchmarks/aa_throughput.py --check --root DIR` leaves
(DIR/presets, preset "small-presets"). Each job is cloned twice, and the clones run the project's own
CG stages (cg.run_ibi, cg.sample, cg.analyze) with IBI's pressure constraint (the preset's p_tol) and
without it (structure only: p_tol None). Printed per job and protocol, and as the mean ± standard error
over the jobs: D_AA and D_CG as measured, in an infinite box (each model's own Green–Kubo viscosity)
and as in the paper's box of 1000 molecules (the infinite-box D moved back with the same viscosity);
alpha in both conventions; IBI's deviation and pressure. Ratios are against the published values.

    python benchmarks/aa_throughput.py --check --replicas 3 --root benchmark_runs/small_check
    python benchmarks/reference_protocol.py --root benchmark_runs/small_check/presets --preset small-presets

Units: D in 1e-9 m²/s, viscosity in mPa·s, lengths in Å, pressure in atm.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from pathlib import Path

import numpy as np
import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import analysis, cg, presets  # noqa: E402
from mobcg.molecule import DEFAULT, box_length, molar_mass  # noqa: E402

PUBLISHED = {"D_AA": 1.15, "D_CG": 7.23, "alpha": 6.28, "n_molecules": 1000}
PROTOCOLS = {"pressure": "IBI with the pressure constraint (p_tol of the preset)", "structure": "IBI without it"}


def paper_box(doc: dict, model: str, T: float) -> float:
    """D_<model>_inf moved to the paper's box of 1000 molecules at this density, with the model's own η."""
    L = box_length(PUBLISHED["n_molecules"], molar_mass(DEFAULT), doc["density"])
    return doc[f"D_{model}_inf"] - analysis.yeh_hummer_shift(doc[f"eta_{model}"], T, L)


def run_protocol(job, root: Path, preset_name: str, protocol: str):
    project = signac.init_project(root / protocol)
    clone = project.open_job(job.statepoint())
    if clone not in project:
        clone = project.clone(job)
    saved = copy.deepcopy(presets.PRESETS[preset_name])
    if protocol == "structure":
        presets.PRESETS[preset_name]["ibi"]["p_tol"] = None
    try:
        if "ibi_converged" not in clone.doc:
            cg.run_ibi(clone, np=2, progress=None)
        if not clone.isfile(cg.TRAJECTORY):
            cg.sample(clone, np=2, progress=None)
        if "alpha" not in clone.doc:
            cg.analyze(clone)
    finally:
        presets.PRESETS[preset_name] = saved
    return dict(clone.doc)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="project with the AA-analysed reference jobs")
    parser.add_argument("--preset", default="small", help="their preset (registered here if not a built-in one)")
    parser.add_argument("--out", default=None, help="folder for the clones (default: ROOT/../protocols)")
    args = parser.parse_args()
    if args.preset not in presets.PRESETS:  # the check's in-process presets: small with its AA settings
        presets.PRESETS[args.preset] = copy.deepcopy(presets.PRESETS["small"])
    source = signac.get_project(args.root)
    out = Path(args.out) if args.out else Path(args.root).parent / "protocols"
    jobs = sorted((j for j in source if "D_AA" in j.doc), key=lambda j: j.sp.get("replica", 0))
    rows = {p: [] for p in PROTOCOLS}
    for job in jobs:
        for protocol in PROTOCOLS:
            doc = run_protocol(job, out, args.preset, protocol)
            T = float(job.sp.get("temperature", 298.15))
            row = {"D_AA": doc["D_AA"], "D_AA_inf": doc["D_AA_inf"], "D_AA_1000": paper_box(doc, "AA", T),
                   "D_CG": doc["D_CG"], "D_CG_inf": doc["D_CG_inf"], "D_CG_1000": paper_box(doc, "CG", T),
                   "eta_AA": doc["eta_AA"], "eta_CG": doc["eta_CG"], "alpha": doc["alpha"],
                   "ibi_deviation": doc["ibi_deviation"], "ibi_pressure": doc["ibi_pressure"],
                   "density": doc["density"]}
            row["alpha_1000"] = row["D_CG_1000"] / row["D_AA_1000"]
            rows[protocol].append(row)
            print(f"replica {job.sp.get('replica', 0)} {protocol:9s}: density {row['density']:.4f}  D_AA {row['D_AA']:.3f} "
                  f"(inf {row['D_AA_inf']:.3f}, 1000 {row['D_AA_1000']:.3f}; eta {row['eta_AA']:.3f})  D_CG {row['D_CG']:.2f} "
                  f"(inf {row['D_CG_inf']:.2f}, 1000 {row['D_CG_1000']:.2f}; eta {row['eta_CG']:.3f})  alpha {row['alpha']:.2f} "
                  f"(1000: {row['alpha_1000']:.2f})  IBI {100 * row['ibi_deviation']:.2f} %, {row['ibi_pressure']:+.0f} atm",
                  flush=True)
    for protocol, label in PROTOCOLS.items():
        r = rows[protocol]
        if not r:
            continue
        print(f"\n{label}: mean ± standard error over {len(r)} independent AA productions")
        for key, pub in (("D_AA", "D_AA"), ("D_CG", "D_CG"), ("alpha", "alpha")):
            for suffix in ("_1000", "_inf" if key != "alpha" else ""):
                vals = np.array([x[key + suffix] for x in r])
                mean, se = vals.mean(), vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else math.nan
                where = "in the paper's 1000-molecule box" if suffix == "_1000" else "infinite box"
                print(f"  {key:6s} {where:33s} {mean:7.3f} ± {se:.3f}   published {PUBLISHED[pub]:.2f}  "
                      f"ratio {mean / PUBLISHED[pub]:.2f}  ({'within' if abs(mean / PUBLISHED[pub] - 1) <= 0.1 else 'outside'} 10 %)")


if __name__ == "__main__":
    main()
