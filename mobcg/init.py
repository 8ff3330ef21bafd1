"""Create the data space: one signac job per drawn force field, plus the unmodified OPLS-AA set."""

from __future__ import annotations

import argparse
import json
import sys

import signac

from . import presets
from .published import PublishedModelError
from .forcefield import OPLS_AA, SAMPLING_BOX, ForceFieldError, nest, sample, validate, validate_box

MOLECULE = "2,3,4-trimethylpentane"


def statepoint(ff: dict, preset: str, temperature: float = presets.TEMPERATURE,
               pressure: float = presets.PRESSURE, replica: int = 0) -> dict:
    return {"molecule": MOLECULE, "forcefield": ff, "temperature": temperature, "pressure": pressure,
            "preset": preset, "replica": replica}


def nest_checked(flat: dict, where: str) -> dict:
    try:
        ff = nest(flat)
    except ForceFieldError as exc:
        raise ForceFieldError(f"{where}: {exc}") from None
    validate(ff, where=where)
    return ff


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="init.py", description=__doc__)
    parser.add_argument("--n", type=int, default=None,
                        help="number of random parameter sets (default: the preset's)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the draw (default 42)")
    parser.add_argument("--preset", default="demo", help=f"protocol preset: {', '.join(presets.PRESETS)}")
    parser.add_argument("--box", default=None,
                        help="JSON file {parameter: [lower, upper]} overriding parts of the sampling box")
    parser.add_argument("--params", action="append", default=[], metavar="FILE.json",
                        help="add a parameter set of your own: JSON {K_CC: ..., ...} (all 19 names); repeatable")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="fraction of random sets kept out of training to validate predictions")
    parser.add_argument("--no-reference", action="store_true", help="do not add the unmodified OPLS-AA set")
    parser.add_argument("--suggest", type=int, default=0, metavar="N",
                        help="add N parameter sets from the sampling box where the models are least certain "
                             "(acquisition: summed GP posterior variance, see mobcg.suggest); implies --n 0 "
                             "unless --n is given")
    parser.add_argument("--root", default=".", help="project directory (default: here)")
    return parser.parse_args(argv)


def plan(args) -> list[tuple[dict, bool]]:
    """All (statepoint, holdout) pairs to create; raises with one message before anything is written."""
    presets.get(args.preset)
    n = (0 if args.suggest else presets.get(args.preset)["n_random"]) if args.n is None else args.n
    if n < 0:
        raise ForceFieldError(f"--n {n}: the number of parameter sets must be >= 0")
    if args.suggest < 0:
        raise ForceFieldError(f"--suggest {args.suggest}: the number of parameter sets must be >= 0")
    if not 0 <= args.holdout < 1:
        raise ForceFieldError(f"--holdout {args.holdout}: must lie in [0, 1)")
    box = dict(SAMPLING_BOX)
    if args.box:
        try:
            with open(args.box) as fh:
                box.update({k: tuple(v) for k, v in json.load(fh).items()})
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise ForceFieldError(f"--box {args.box}: cannot read a sampling box ({exc})") from None
    box = validate_box(box)
    drawn = sample(n, args.seed, box)
    n_holdout = int(round(args.holdout * n))
    todo = [(statepoint(ff, args.preset), i < n_holdout) for i, ff in enumerate(drawn)]
    for path in args.params:
        try:
            with open(path) as fh:
                flat = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise ForceFieldError(f"--params {path}: cannot read a parameter set ({exc})") from None
        if not isinstance(flat, dict):
            raise ForceFieldError(f"--params {path}: expected a JSON object of the 19 parameters")
        # Own sets are checked for sanity (signs, angles), not for the sampling box.
        todo.append((statepoint(nest_checked(flat, path), args.preset), False))
    if not args.no_reference:
        todo.append((statepoint(OPLS_AA, args.preset), False))
    if args.suggest:
        from . import suggest
        todo += [(statepoint(ff, args.preset), False, doc) for ff, doc in
                 suggest.suggest(args.suggest, args.seed, box, args.root, [sp for sp, _ in todo])]
    return todo


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        todo = plan(args)
    except (ForceFieldError, presets.PresetError, PublishedModelError) as exc:
        print(f"init.py: error: {exc}", file=sys.stderr)
        return 2
    project = signac.init_project(args.root)
    created = 0
    for sp, holdout, *doc in todo:
        job = project.open_job(sp)
        if job not in project:
            created += 1
        job.init()
        job.doc.setdefault("holdout", holdout)
        for key, value in (doc[0] if doc else {}).items():
            job.doc.setdefault(key, value)
        if sp["forcefield"] == OPLS_AA:
            job.doc.setdefault("reference", True)
    print(f"init.py: {created} new job(s), {len(project)} in total (preset {args.preset}, seed {args.seed})"
          + (f"; {args.suggest} suggested by models {todo[-1][2]['suggested_by']}" if args.suggest else ""))
    return 0
