"""Create the data space: one signac job per drawn force field, plus the unmodified OPLS-AA set."""

from __future__ import annotations

import argparse
import math
import json
import sys

import signac

from . import presets
from .forcefield import (OPLS_AA, SAMPLING_BOX, ForceFieldError, check_near_box, flatten, nest, sample, validate,
                         validate_box)
from .molecule import DEFAULT, SMILES, MoleculeError, resolve
from .published import PublishedModelError

MOLECULE = DEFAULT


def statepoint(ff: dict, preset: str, temperature: float = presets.TEMPERATURE,
               pressure: float = presets.PRESSURE, replica: int = 0, molecule: str = MOLECULE) -> dict:
    return {"molecule": molecule, "forcefield": ff, "temperature": temperature, "pressure": pressure,
            "preset": preset, "replica": replica}


def nest_checked(flat: dict, where: str) -> dict:
    try:
        ff = nest(flat)
    except ForceFieldError as exc:
        raise ForceFieldError(f"{where}: {exc}") from None
    validate(ff, where=where)
    return ff


def check_runnable(ff: dict, where: str) -> None:
    """Refuse a set whose bonds are too stiff to integrate (forcefield.timestep), before any job exists."""
    from .forcefield import timestep
    try:
        timestep(ff)
    except ForceFieldError as exc:
        raise ForceFieldError(f"{where}: {exc}") from None


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
    parser.add_argument("--published", type=int, default=None, metavar="N",
                        help="add N of the 234 published parameter sets (Bag et al. 2022; chosen with --seed), "
                             "each job recording the published D_AA, D_CG, alpha (default: the preset's)")
    parser.add_argument("--published-min-daa", type=float, default=None, metavar="D",
                        help="choose published sets with D_AA >= D only (1e-9 m²/s; default: the preset's)")
    parser.add_argument("--no-reference", action="store_true", help="do not add the unmodified OPLS-AA set")
    parser.add_argument("--suggest", type=int, default=0, metavar="N",
                        help="add N parameter sets from the sampling box where the models are least certain "
                             "and a liquid is likely (acquisition: summed GP posterior variance times the chance "
                             "of a liquid, see mobcg.suggest); implies --n 0 "
                             "unless --n is given")
    parser.add_argument("--molecule", default=DEFAULT, metavar="SMILES|NAME",
                        help=f"the alkane: a SMILES (acyclic, saturated, with a chain of four carbons) or one of "
                             f"{', '.join(SMILES)} (default {DEFAULT}); the statepoint's 'molecule'")
    parser.add_argument("--import", dest="release", default=None, metavar="RELEASE",
                        help="bring a data release (e.g. data/campaign-2026-12) into the project instead of "
                             "drawing sets: its finished jobs count as done, `python project.py run` then builds "
                             "the datasets, models and report from them (mobcg.release)")
    parser.add_argument("--root", default=".", help="project directory (default: here)")
    return parser.parse_args(argv)


def plan(args) -> list[tuple[dict, bool]]:
    """All (statepoint, holdout) pairs to create; raises with one message before anything is written."""
    presets.get(args.preset)
    # the table's name, or the canonical SMILES: one molecule is one statepoint value
    args.molecule = resolve(args.molecule)
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
    stiffest = flatten(OPLS_AA) | {"K_CC": box["K_CC"][1], "K_CH": box["K_CH"][1]}
    check_runnable(nest(stiffest), "--box" if args.box else "sampling box")
    drawn = sample(n, args.seed, box)
    n_holdout = int(round(args.holdout * n))
    todo = [(statepoint(ff, args.preset, molecule=args.molecule), i < n_holdout, {"draw": "random", "draw_seed": args.seed})
            for i, ff in enumerate(drawn)]
    for path in args.params:
        try:
            with open(path) as fh:
                flat = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise ForceFieldError(f"--params {path}: cannot read a parameter set ({exc})") from None
        if not isinstance(flat, dict):
            raise ForceFieldError(f"--params {path}: expected a JSON object of the 19 parameters")
        # Own sets are checked for sanity (signs, angles), a runnable time step, and to lie within one
        # box width of the sampling box (forcefield.check_near_box).
        ff = nest_checked(flat, path)
        check_near_box(flatten(ff), box, f"--params {path}")
        check_runnable(ff, f"--params {path}")
        todo.append((statepoint(ff, args.preset, molecule=args.molecule), False, {"draw": "params"}))
    todo += published_sets(args)
    if not args.no_reference:
        todo.append((statepoint(OPLS_AA, args.preset, molecule=args.molecule), False, {"draw": "reference"}))
    if args.suggest:
        if args.molecule != DEFAULT:
            raise ForceFieldError(f"--suggest with --molecule {args.molecule}: the suggesting models know "
                                  f"{DEFAULT} only")
        from . import suggest
        todo += [(statepoint(ff, args.preset, molecule=args.molecule), False, doc | {"draw": "suggested"}) for ff, doc in
                 suggest.suggest(args.suggest, args.seed, box, args.root, [t[0] for t in todo])]
    return todo


def published_sets(args) -> list[tuple[dict, bool, dict]]:
    """(statepoint, holdout, {"published": numbers}) for --published N sets of the published 234.

    Published sets are liquids with known D_AA, D_CG and alpha, so a job made from one can be compared
    with the paper's own numbers for it (job.doc["published"]). The demo uses fast-diffusing ones
    (D_AA >= the preset's published_min_D_AA), whose MSD turns diffusive within a short production, with
    bonds soft enough for a 1 fs time step (published_min_timestep_fs) and bond lengths within
    published_max_bond_change Å of OPLS-AA's (some long-bond published sets expand at 1 atm in our
    protocol instead of settling).
    """
    preset = presets.get(args.preset)
    # the preset's published sets are its default draw: asking for --n random sets replaces them
    if args.published is None:
        # the published sets are the paper's molecule's: another molecule draws random sets instead
        n = preset.get("published", 0) if args.n is None and args.molecule == DEFAULT else 0
    else:
        n = args.published
    if n and args.molecule != DEFAULT:
        raise ForceFieldError(f"--published {n} with --molecule {args.molecule}: the published sets and their "
                              f"D_AA, D_CG, alpha are {DEFAULT}'s")
    if n < 0:
        raise ForceFieldError(f"--published {n}: the number of published sets must be >= 0")
    if n == 0:
        return []
    from .datasets import load_reference_systems
    from .forcefield import PARAMETER_NAMES
    ref = load_reference_systems()
    floor = preset.get("published_min_D_AA", 0.0) if args.published_min_daa is None else args.published_min_daa
    min_dt = preset.get("published_min_timestep_fs", 0.0)
    from .forcefield import nest, timestep
    near = preset.get("published_max_bond_change", math.inf)  # Å from OPLS-AA's r0_CC and r0_CH

    def usable(i):
        ff = nest(dict(zip(PARAMETER_NAMES, map(float, ref.X[i]))))
        return (ref.D_AA[i] >= floor and timestep(ff) >= min_dt
                and all(abs(ff["bonds"][b]["r0"] - OPLS_AA["bonds"][b]["r0"]) <= near for b in ("CC", "CH")))

    pool = [i for i in range(len(ref)) if usable(i)]
    if n > len(pool):
        raise ForceFieldError(f"--published {n}: only {len(pool)} published sets have D_AA >= {floor} "
                              f"(and the preset's time-step and bond-length limits)")
    import numpy as np
    chosen = sorted(np.random.default_rng(args.seed).choice(pool, size=n, replace=False))
    n_holdout = int(round(args.holdout * n))
    out = []
    for k, i in enumerate(chosen):
        ff = nest_checked(dict(zip(PARAMETER_NAMES, (float(x) for x in ref.X[i]))), f"published set {ref.ids[i]}")
        numbers = {"id": ref.ids[i], "D_AA": float(ref.D_AA[i]), "D_CG": float(ref.D_CG[i]),
                   "alpha": float(ref.alpha[i]), "source": "Bag, Meinel, Müller-Plathe, JCTC 2022"}
        out.append((statepoint(ff, args.preset, molecule=args.molecule), k < n_holdout,
                    {"published": numbers, "draw": "published"}))
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.release:
        from .release import ReleaseError, import_release
        try:
            import_release(signac.init_project(args.root), args.release,
                           progress=lambda line: print(f"init.py: {line}"))
        except ReleaseError as exc:
            print(f"init.py: error: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        todo = plan(args)
    except (ForceFieldError, MoleculeError, presets.PresetError, PublishedModelError) as exc:
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
    print(f"init.py: {created} new job(s), {len(project)} in total (preset {args.preset}, seed {args.seed}"
          + (f", molecule {args.molecule}" if args.molecule != DEFAULT else "") + ")"
          + (f"; {args.suggest} suggested by models {todo[-1][2]['suggested_by']}" if args.suggest else ""))
    return 0
