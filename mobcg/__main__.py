"""User commands: `python -m mobcg predict PARAMS.json --out DIR [--analysis analysis/]`."""

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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
