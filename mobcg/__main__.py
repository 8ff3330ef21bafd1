"""User commands: `python -m mobcg predict PARAMS.json --out DIR [--analysis analysis/]`,
`python -m mobcg summary [--csv [FILE]] [--root .] [--analysis analysis/]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .aggregate import AggregateError, predict
from .forcefield import ForceFieldError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobcg")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="19 bonded parameters → CG potentials (LAMMPS/GROMACS/CSV) and alpha ± std")
    p.add_argument("params", help="JSON file {K_CC: ..., r0_CC: ..., ...} with all 19 parameters")
    p.add_argument("--out", required=True, help="folder for the tables and prediction.json")
    p.add_argument("--analysis", default="analysis", help="folder with the trained models (default: analysis)")
    s = sub.add_parser("summary", help="one row per job (density, D_AA, IBI, D_CG, alpha, flags, failure), "
                                        "then the model scores and where the report and dashboard are")
    s.add_argument("--csv", nargs="?", const="-", default=None, metavar="FILE",
                   help="write the rows as CSV instead: to FILE, or to stdout without one")
    s.add_argument("--root", default=".", help="project directory (default: here)")
    s.add_argument("--analysis", default=None, help="folder with models.json and report.md (default: ROOT/analysis)")
    args = parser.parse_args(argv)
    if args.command == "summary":
        return _summary(args)
    try:
        try:
            flat = json.loads(Path(args.params).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ForceFieldError(f"{args.params}: cannot read parameters ({exc})") from None
        result = predict(flat, args.analysis, args.out, where=args.params)
    except (ForceFieldError, AggregateError) as exc:
        print(f"mobcg predict: error: {exc}", file=sys.stderr)
        return 2
    print(f"alpha = {result['alpha']:.2f} ± {result['alpha_std']:.2f}; D_CG = {result['D_CG']:.2f} ± "
          f"{result['D_CG_std']:.2f} (1e-9 m²/s)")
    for kind, paths in result["tables"].items():
        print(f"{kind}-preserving potential: " + (", ".join(paths.values()) if paths else "no model trained"))
    return 0


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
