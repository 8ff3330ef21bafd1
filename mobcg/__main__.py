"""User commands: `python -m mobcg predict PARAMS.json [--out DIR] [--models auto|published|project]`,
`python -m mobcg summary [--csv [FILE]] [--root .] [--analysis analysis/]`.

With no project (no analysis/models.json here) the answer comes from the models of the 234 published
sets shipped with the package (mobcg/published.py); a project's own trained models are used when
present or asked for. Only the light modules are imported on the published path (< 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .forcefield import ForceFieldError, check_model_input

UNITS = {"D_AA": " (1e-9 m²/s)", "D_CG": " (1e-9 m²/s)", "alpha": ""}


def _fmt(v: float) -> str:
    return "inf" if v == float("inf") else f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}"


def _interval(name: str, lo_hi) -> str:
    return f"{name}: [{_fmt(lo_hi[0])}, {_fmt(lo_hi[1])}]"


def _published(x, args) -> tuple[dict, list[str]]:
    from . import files, published
    models = published.load()
    res = models.predict(x[0], d_aa=args.d_aa)
    meta = models.meta
    lines = [f"models: published data, {meta['data']['n']} sets of Bag, Meinel & Müller-Plathe, JCTC 2022 "
             f"(doi:10.1021/acs.jctc.2c00898); Gaussian processes, fingerprint {meta['fingerprint']}; "
             "intervals: conformal, coverage measured on held-out folds"]
    for target in ("D_AA", "D_CG", "alpha"):
        e = res[target]
        if e.get("given"):
            lines.append(f"D_AA = {_fmt(e['value'])}{UNITS['D_AA']} (given)")
            continue
        cv = e["cv"]
        inputs = "19 parameters" + (" + D_AA" if "|D_AA" in e["model"] else "")
        score = (f"{cv['n_splits']}-fold CV x {cv['n_repeats']}: R² {cv['r2_mean']:.2f}, coverage 68 % "
                 f"{100 * cv['coverage_68']:.0f} %, 95 % {100 * cv['coverage_95']:.0f} %") if cv else "CV not measured"
        lines.append(f"{target} = {_fmt(e['value'])}{UNITS[target]}  {_interval('68 %', e['interval_68'])}  "
                     f"{_interval('95 %', e['interval_95'])}  [from {inputs}; {score}]")
    result = {"source": "published", "models_fingerprint": meta["fingerprint"], "data": meta["data"],
              "parameters": dict(zip(meta["parameters"], map(float, x[0]))), "prediction": res}
    lines += _campaign_potentials(x, args, result)
    if args.out:
        files.write_json(Path(args.out) / "prediction.json", result)
    return result, lines


def _campaign_potentials(x, args, result: dict) -> list[str]:
    """Potentials on day one: the tables (with bands) and the friction the models of our own campaign
    release predict (mobcg.campaign_models), written to --out; what they are, in lines."""
    from . import campaign_models, files, friction, tables
    shipped = campaign_models.load()
    if shipped is None:
        return ["potentials: no campaign models are shipped; train a project (`python project.py run`) for tables"]
    meta = shipped.meta
    pred = shipped.predict(x[0])
    lines = [f"potentials: models trained on our campaign release {meta['release']} ({meta['n_trusted']} trusted "
             f"liquids, {meta['n_pairs']} mobility pairs; the potentials' principal components from the predicted AA mobility)"]
    if "dpd_gamma" in pred:
        gamma, iv = pred["dpd_gamma"]
        result["dpd_gamma"] = gamma
        lines.append(f"DPD friction gamma = {_fmt(gamma)} kcal fs/(mol Å²)  {_interval('68 %', iv[0.68])}  "
                     f"{_interval('95 %', iv[0.95])}  [{meta['models']['dpd_gamma']['n']} matched jobs]")
    if args.out is None:
        return lines + ["potentials: pass --out DIR to write the tables"]
    out, grid = Path(args.out), shipped.grid
    for kind in ("structure", "mobility"):
        if kind not in pred:
            lines.append(f"{kind}-preserving potential: {meta['models'][kind].get('note', 'not shipped')}")
            continue
        U, band = pred[kind]
        table = tables.simulation_ready(grid, U, r_cut=float(grid[-1]))
        paths = tables.export_all(table, out, f"{kind}_potential")
        files.write_text(out / f"{kind}_potential_band.csv", "r_angstrom,U_mean_kcal_per_mol,U_std_kcal_per_mol\n"
                         + "\n".join(f"{a:.4f},{b:.6g},{c:.6g}" for a, b, c in zip(grid, U, band)) + "\n")
        e = meta["models"][kind]
        lines.append(f"{kind}-preserving potential: {', '.join(map(str, paths.values()))} (band: "
                     f"{kind}_potential_band.csv; 5-fold CV RMSE {e['cv_rmse']:.3f} kcal/mol, predicting the mean "
                     f"{e['rmse_mean_baseline']:.3f})")
        if e["cv_rmse"] >= e["rmse_mean_baseline"]:  # too few jobs yet: say so where the table is given
            lines.append(f"  warning: on {e['n']} training jobs the {kind} model predicts held-out potentials no better "
                         "than their mean; use this table as a start for IBI, not as a model")
    if "dpd_gamma" in pred and "structure" in pred:
        from .molecule import DEFAULT, molar_mass
        from .presets import TEMPERATURE
        text = friction.fragment("structure_potential.table", float(grid[-1]), pred["dpd_gamma"][0],
                                 float(meta["models"]["dpd_gamma"]["dpd_cutoff"]), TEMPERATURE, molar_mass(DEFAULT),
                                 keyword="structure_potential", job="predicted")
        lines.append(f"structure and mobility in one model: {files.write_text(out / 'structure_dpd.in', text)}")
    return lines


def _project(flat, args, analysis: str) -> tuple[dict, list[str]]:
    from .aggregate import predict
    result = predict(flat, analysis, args.out, where=args.params)
    lines = [f"models: this project's ({analysis}/models.json, fingerprint {result['models_fingerprint']}, "
             f"{result['n_train']} training jobs)"]
    for target in ("D_AA", "D_CG", "alpha"):
        head = f"{target} = {_fmt(result[target])}{UNITS[target]}"
        if result.get(f"{target}_note"):
            lines.append(f"{head}  ({result[f'{target}_note']}; no interval)")
            continue
        cv = result[f"{target}_cv"]
        lines.append(f"{head}  {_interval('68 %', result[f'{target}_interval_68'])}  "
                     f"{_interval('95 %', result[f'{target}_interval_95'])}  "
                     f"[{cv.get('k')}-fold CV on {cv.get('n')} jobs: R² {cv.get('r2', float('nan')):.2f}]")
    if "dpd_gamma" in result:  # the friction that gives the structure-preserving table the AA mobility
        head = f"DPD friction gamma = {_fmt(result['dpd_gamma'])} kcal fs/(mol Å²)"
        if result.get("dpd_gamma_note"):
            lines.append(f"{head}  ({result['dpd_gamma_note']}; no interval)")
        else:
            cv = result["dpd_gamma_cv"]
            lines.append(f"{head}  {_interval('68 %', result['dpd_gamma_interval_68'])}  "
                         f"{_interval('95 %', result['dpd_gamma_interval_95'])}  "
                         f"[{cv.get('k')}-fold CV on {cv.get('n')} jobs: R² {cv.get('r2', float('nan')):.2f}]")
    if args.out is None:
        lines.append("potentials: pass --out DIR to write the tables")
    for kind, paths in result["tables"].items():
        if args.out is not None:
            lines.append(f"{kind}-preserving potential: " + (", ".join(paths.values()) if paths else "no model trained"))
    if result.get("dpd_fragment"):
        lines += [f"structure and mobility in one model (LAMMPS fragment, include after read_data): {result['dpd_fragment']}",
                  *("  " + line for line in Path(result["dpd_fragment"]).read_text().splitlines()
                    if not line.startswith("#"))]
    return result, lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mobcg")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="19 bonded parameters → D_AA, D_CG, alpha with intervals "
                                       "(and CG potentials with a project's models)")
    p.add_argument("params", help="JSON file {K_CC: ..., r0_CC: ..., ...} with all 19 parameters")
    p.add_argument("--out", default=None, help="folder for prediction.json (and the tables, project models)")
    p.add_argument("--analysis", default=None,
                   help="folder with a project's trained models (default: analysis, if it holds models.json)")
    p.add_argument("--models", choices=("auto", "published", "project"), default="auto",
                   help="auto (default): the project's models if --analysis is given or analysis/models.json "
                        "exists, else those of the published data")
    p.add_argument("--d-aa", type=float, default=None, dest="d_aa",
                   help="known D_AA (1e-9 m²/s): D_CG and alpha from the models that take it (published models)")
    s = sub.add_parser("summary", help="one row per job (density, D_AA, IBI, D_CG, alpha, flags, failure), "
                                        "then the model scores and where the report and dashboard are")
    s.add_argument("--csv", nargs="?", const="-", default=None, metavar="FILE",
                   help="write the rows as CSV instead: to FILE, or to stdout without one")
    s.add_argument("--root", default=".", help="project directory (default: here)")
    s.add_argument("--analysis", default=None, help="folder with models.json and report.md (default: ROOT/analysis)")
    c = sub.add_parser("campaign", help="run every pending job depth-first, one job per worker at low priority; "
                                         "export each ended job into a data release and commit it")
    c.add_argument("--root", default=".", help="project directory (default: here)")
    c.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)),
                   help="jobs at once, one MPI rank each (default: one per core)")
    c.add_argument("--release", default=None, metavar="DIR", help="data release folder to export ended jobs into")
    c.add_argument("--commit", action="store_true", help="git-commit the release folder after each ended job")
    c.add_argument("--nice", type=int, default=19, help="niceness of the workers (default 19)")
    c.add_argument("--limit", type=int, default=None, help="run at most this many jobs")
    c.add_argument("--redo-other-integrator", action="store_true",
                   help="first run again the ended jobs whose AA runs integrated otherwise than their preset does "
                        "now (job.doc.aa_integrator; their old files kept in superseded/)")
    r = sub.add_parser("release", help="export the project's ended jobs into a data release folder")
    r.add_argument("target", help="release folder, e.g. data/campaign-2026-12")
    r.add_argument("--root", default=".", help="project directory (default: here)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "summary":
        return _summary(args)
    if args.command == "campaign":
        from . import campaign
        return campaign.run(args.root, args.workers, args.release, args.commit, args.nice, limit=args.limit,
                            redo=args.redo_other_integrator)
    if args.command == "release":
        import signac

        from . import release
        out = release.export(signac.get_project(args.root), args.target)
        print(f"mobcg release: {args.target}: {out['jobs']} job(s), {out['finished']} finished, {out['trusted']} trusted")
        return 0
    try:
        lines = _predict(args)
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever the cause
        # The user's errors; those modules' classes only if they were imported (aggregate is slow to import).
        known = [ForceFieldError] + [getattr(sys.modules[m], n) for m, n in (
            ("mobcg.aggregate", "AggregateError"), ("mobcg.published", "PublishedModelError")) if m in sys.modules]
        if not isinstance(exc, tuple(known)):
            raise
        print(f"mobcg predict: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def _predict(args) -> list[str]:
    """`predict`'s lines, from the project's models or the published ones (--models)."""
    try:
        flat = json.loads(Path(args.params).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ForceFieldError(f"{args.params}: cannot read parameters ({exc})") from None
    # an optional "molecule" beside the 19 parameters: the project's models may know several
    molecule = flat.pop("molecule", None) if isinstance(flat, dict) else None
    x = check_model_input(flat, where=args.params)
    if args.d_aa is not None and not args.d_aa > 0:
        raise ForceFieldError(f"--d-aa {args.d_aa}: D_AA must be > 0")
    analysis = args.analysis or "analysis"
    use_project = args.models == "project" or (
        args.models == "auto" and (args.analysis is not None or (Path(analysis) / "models.json").exists()))
    if use_project:
        return _project(flat if molecule is None else flat | {"molecule": molecule}, args, analysis)[1]
    from .molecule import DEFAULT, MoleculeError, resolve
    try:
        if molecule is not None and resolve(molecule) != DEFAULT:
            raise ForceFieldError(f"{args.params}: molecule {molecule}: the published models know {DEFAULT} "
                                  "only; train a project of this molecule")
    except MoleculeError as exc:
        raise ForceFieldError(f"{args.params}: {exc}") from None
    return _published(x, args)[1]


def _summary(args) -> int:
    import signac

    from . import summary
    try:
        project = signac.get_project(args.root)
    except LookupError as exc:
        print(f"mobcg summary: error: no signac project at {args.root} ({exc})", file=sys.stderr)
        return 2
    analysis = Path(args.analysis) if args.analysis else Path(project.path) / "analysis"
    if args.csv is None:
        print(summary.text(project, analysis), end="")
    elif args.csv == "-":
        print(summary.to_csv(summary.rows(project)), end="")
    else:
        from .files import write_text
        write_text(args.csv, summary.to_csv(summary.rows(project)))
        print(f"mobcg summary: {len(project)} rows written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
