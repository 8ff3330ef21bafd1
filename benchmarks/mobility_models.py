#!/usr/bin/env python
"""Structure and mobility in one CG model, four ways, on finished jobs (issue 23):

    (a) the plain IBI model (Nosé–Hoover): alpha, RDF r² against the AA target;
    (b) IBI + the DPD friction matched to D_AA (match_mobility): pairwise, momentum-conserving;
    (c) IBI + a Langevin friction matched the same way (the same root search, fix langevin): a friction
        on each bead, which conserves no momentum, so the liquid has no hydrodynamics: its D does not
        depend on the box (no Yeh–Hummer shift: its raw D is compared with D_AA_inf) and a viscosity
        of its stress means nothing;
    (d) the paper's mobility-preserving potential (the project's trained mobility model's table for the
        job's force field, Nosé–Hoover): alpha, RDF r².

Printed: a table of alpha and RDF r² per job and way, with the mean; written: the MSD curves of each
way against the AA one (`--plot`, PNG). Runs CG only (the runs go to <job>/mobility_benchmark/).

    python benchmarks/mobility_models.py --root PROJECT [--jobs ID ...] [--analysis PROJECT/analysis] --plot msd.png

Units: D in 1e-9 m²/s, γ and ζ in kcal fs/(mol Å²), MSD in Å², t in ps.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aggregate, cg, datasets, friction, jobs, tables  # noqa: E402
from mobcg.lammps import trajectory  # noqa: E402


def langevin_match(info: jobs.Info, doc: dict, positions, box, table, r_cut: float, work: Path):
    """The Langevin friction ζ with which the table's raw D equals D_AA_inf (root search as for DPD)."""
    target, target_err = cg.infinite_D(doc, "AA")
    D0 = doc["D_CG"]  # raw: a Langevin liquid has no hydrodynamic finite-size effect to correct
    kT = friction.KB * info.T
    start = kT / (target * friction.D_UNIT) - kT / (D0 * friction.D_UNIT)
    search = friction.Search(target, target_err, D0, start)
    runs = []
    while not search.done():
        zeta = search.next_gamma()
        fr = {"kind": "langevin", "damp": friction.langevin_damp(zeta, info.mass)}
        run = cg.model_run(info, table, r_cut, info.preset["cg"], positions, box, work / f"langevin_{len(runs):02d}",
                           "cg", fr, np=1)
        runs.append((zeta, run))
        search.runs.append((zeta, run["D_CG"], run["D_CG_err"]))
    zeta = search.best()[0]
    return zeta, next(r for z, r in runs if z == zeta), len(runs)


def mobility_run(info: jobs.Info, job, analysis: Path, positions, box, work: Path):
    """(d): the trained mobility model's table for the job's force field, run as a CG production."""
    kinds = {k: (t, rc, fr) for k, t, rc, fr in aggregate._predicted_models(job, analysis)}
    if "mobility" not in kinds:
        return None
    table, r_cut, _ = kinds["mobility"]
    return cg.model_run(info, table, r_cut, info.preset["cg"], positions, box, work / "mobility_model", "mobility",
                        None, np=1)


def msd_of(gsd) -> tuple[np.ndarray, np.ndarray]:
    t, pos, _ = trajectory.read_gsd(gsd)
    return t / 1000, cg.analysis.msd_xyz(pos).sum(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--jobs", nargs="*", default=None, help="job ids (default: every job with dpd_gamma)")
    parser.add_argument("--analysis", default=None, help="trained models for (d) (default: ROOT/analysis)")
    parser.add_argument("--plot", default=None, help="PNG of the MSD curves")
    args = parser.parse_args()
    project = signac.get_project(args.root)
    analysis = Path(args.analysis or Path(args.root) / "analysis")
    chosen = [project.open_job(id=i) for i in args.jobs] if args.jobs else [j for j in project if "dpd_gamma" in j.doc]
    rows, curves = [], []
    for job in chosen:
        info, doc = jobs.info(job), dict(job.doc)
        inp = cg.aa_input(info)
        positions, box = cg.replicated(inp.positions, inp.box, info.preset["cg"].get("min_beads"))
        table = tables.read_lammps(info.fn(cg.POTENTIAL_TABLE))
        r_cut = float(doc["ibi_r_cut"])
        work = Path(info.fn("mobility_benchmark"))
        aa_rdf, cg_rdf = jobs.load_columns(info.fn("rdf_aa.txt")), jobs.load_columns(info.fn(cg.RDF))
        n = min(len(aa_rdf), len(cg_rdf))
        r2_plain = datasets.rdf_r2(aa_rdf[:n, 1], np.interp(aa_rdf[:n, 0], cg_rdf[:, 0], cg_rdf[:, 1]))
        zeta, lang, n_lang = langevin_match(info, doc, positions, box, table, r_cut, work)
        mob = mobility_run(info, job, analysis, positions, box, work)
        target = cg.infinite_D(doc, "AA")[0]
        row = {"job": job.id[:8], "a_alpha": doc["alpha"], "a_r2": r2_plain,
               "b_alpha": doc["alpha_matched"], "b_r2": doc["cg_matched_rdf_r2"], "b_runs": doc["dpd_runs"],
               "c_alpha": lang["D_CG"] / target, "c_r2": lang["rdf_r2"], "c_runs": n_lang, "c_zeta": zeta,
               "d_alpha": mob["D_CG_inf"] / target if mob else math.nan, "d_r2": mob["rdf_r2"] if mob else math.nan}
        rows.append(row)
        print(f"{row['job']}: (a) alpha {row['a_alpha']:.2f} r² {row['a_r2']:.3f} | (b) DPD γ {doc['dpd_gamma']:.3g}: "
              f"alpha {row['b_alpha']:.2f} r² {row['b_r2']:.3f} ({row['b_runs']} runs) | (c) Langevin ζ {zeta:.3g}: "
              f"alpha {row['c_alpha']:.2f} r² {row['c_r2']:.3f} ({n_lang} runs) | (d) mobility model: "
              f"alpha {row['d_alpha']:.2f} r² {row['d_r2']:.3f}", flush=True)
        curves.append((job.id[:8], np.loadtxt(info.fn("msd_aa.txt")), np.loadtxt(info.fn(cg.MSD)),
                       msd_of(Path(info.fn(cg.MOBILITY_DIR)) / _best_run(info, doc) / cg.TRAJECTORY),
                       msd_of(work / f"langevin_{n_lang - 1:02d}" / cg.TRAJECTORY)))
    if rows:
        print("\nmean over", len(rows), "jobs:", ", ".join(
            f"{k} {np.nanmean([r[k] for r in rows]):.3f}" for k in ("a_alpha", "a_r2", "b_alpha", "b_r2", "c_alpha",
                                                                    "c_r2", "d_alpha", "d_r2")))
    if args.plot and curves:
        _plot(curves, args.plot)


def _best_run(info: jobs.Info, doc: dict) -> str:
    import json
    runs = json.loads((Path(info.fn(cg.MOBILITY_DIR)) / "search.json").read_text())["runs"]
    return next(r["run"] for r in runs if r["gamma"] == doc["dpd_gamma"])


def _plot(curves, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.5), squeeze=False)
    for ax, (name, aa, plain, dpd, lang) in zip(axes[0], curves, strict=True):
        ax.loglog(aa[1:, 0] / 1000, aa[1:, 1:].sum(1), "k-", label="AA")
        ax.loglog(plain[1:, 0] / 1000, plain[1:, 1:].sum(1), label="IBI")
        ax.loglog(dpd[0][1:], dpd[1][1:], label="IBI + DPD")
        ax.loglog(lang[0][1:], lang[1][1:], "--", label="IBI + Langevin")
        ax.set(title=name, xlabel="t (ps)", ylabel="MSD (Å²)")
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
