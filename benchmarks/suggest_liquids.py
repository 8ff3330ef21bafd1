#!/usr/bin/env python
"""How many liquids a suggested batch can expect: the acquisition with the chance of a liquid
(mobcg.suggest, today) against the GP variance alone (before 2026-12-07), the same N, seed and project.

The variance alone is largest where the published sets are missing, which is where no liquid forms, so
its batches are mostly sets that fail in equilibrate_aa. Both batches condition on the project's random
and reference jobs (its suggested ones left out, as if the batch were drawn again), and each is scored by
mobcg.suggest.liquid_probability, whose ranking is checked against the project's ended random draws.

    python benchmarks/suggest_liquids.py --root /path/to/campaign/project --n 50 --seed 2026

Prints the ROC AUC and mean chance of the ended random draws (liquids against the rest), then the
expected liquids of each batch, its shares of long bonds, and the ratio.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mobcg import forcefield, release, suggest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, required=True, help="a signac project with random draws")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    import signac
    from sklearn.metrics import roc_auc_score

    project = signac.get_project(args.root)
    ended = [j for j in project if j.doc.get("draw") == "random" and release.ended(j.document())]
    liquid = np.array([release.liquid(j.document()) for j in ended])
    chance = suggest.liquid_probability(np.array([forcefield.vector(j.sp.forcefield()) for j in ended]))
    print(f"{len(ended)} ended random draws, {liquid.sum()} liquids: ROC AUC {roc_auc_score(liquid, chance):.3f}, "
          f"mean chance {chance[liquid].mean():.2f} (liquids) against {chance[~liquid].mean():.2f} (the rest)")

    # the batch as if drawn again: conditioned on the project's jobs but its suggested ones
    known = [{"forcefield": j.sp.forcefield()} for j in project if j.doc.get("draw") != "suggested"]
    expected = {}
    for name, weigh in (("variance alone", False), ("variance x chance of a liquid", True)):
        picks = suggest.suggest(args.n, args.seed, forcefield.SAMPLING_BOX, root="/nonexistent", planned=known,
                                weigh_liquids=weigh)
        X = np.array([forcefield.vector(ff) for ff, _ in picks])
        expected[name] = sum(doc["liquid_probability"] for _, doc in picks)
        print(f"{name:30s}: {expected[name]:5.1f} liquids expected of {args.n}; r0_CC > 2 Å {np.mean(X[:, 1] > 2):.2f}, "
              f"r0_CH > 1.5 Å {np.mean(X[:, 3] > 1.5):.2f}")
    print(f"ratio (with the chance / variance alone): {expected['variance x chance of a liquid'] / expected['variance alone']:.2f}")


if __name__ == "__main__":
    main()
