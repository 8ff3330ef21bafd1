#!/usr/bin/env python
"""Which model predicts a held-out job's IBI potential best, on a campaign release (issue 22).

Repeated 5-fold CV over the release's trusted jobs (the structure model: 19 parameters -> the job's own
IBI table) and over its mobility pairs (the AA system's parameters -> the CG partner's table), all on the
shipped campaign models' grid (5 Å to the smallest cut-off): RMS error of each held-out table, for
    mobility   models.MobilityPotentialModel: PCA scores as a polynomial in log D̂_AA (the published-data model)
    gp19       GPs of the PCA scores on the 19 parameters (the shipped campaign models before format 3)
    mlp        the MLP ensemble on the 19 parameters (aggregate's PotentialModel)
    mean       the training folds' mean potential
Prints, per model, the RMS over the held-out tables and their median (kcal/mol), and the RMS as a ratio to
the mean potential's (the baseline measured in the same run).

    python benchmarks/potential_models.py data/campaign-2026-12 [--repeats 10]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aggregate, campaign_models, models  # noqa: E402
from mobcg.published import GPModel  # noqa: E402


def gp19(X, U, Xte):
    mean, components = models.principal_components(U)  # the same PCA as the mobility model's
    scores = (U - mean) @ components.T
    out = np.repeat(mean[None], len(Xte), 0)
    for j, component in enumerate(components):
        gp = GPModel("19", "none", "rbf").fit(X, scores[:, j], calibration="loo").condition(X, scores[:, j])
        out += np.outer(gp.latent(Xte)[0], component)
    return out


MODELS = {
    "mobility": lambda X, U, Xte: models.MobilityPotentialModel().fit(X, U).predict(Xte)[0],
    "gp19": gp19,
    "mlp": lambda X, U, Xte: aggregate._potential_model().fit(X, U).predict(Xte)[0],
    "mean": lambda X, U, Xte: np.repeat(U.mean(0)[None], len(Xte), 0),
}


def repeated_cv(X, U, predict, repeats: int) -> tuple[float, float]:
    """(RMS, median) of the held-out tables' RMS errors, averaged over `repeats` shuffles of 5 folds."""
    rng, out = np.random.default_rng(1), []
    for _ in range(repeats):
        perm, err = rng.permutation(len(U)), []
        for k in range(5):
            te = np.zeros(len(U), bool)
            te[perm[k::5]] = True
            err += np.sqrt(np.mean((predict(X[~te], U[~te], X[te]) - U[te]) ** 2, axis=1)).tolist()
        out.append((np.sqrt(np.mean(np.square(err))), np.median(err)))
    return tuple(np.mean(out, axis=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("release", type=Path)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    data = campaign_models.training_sets(args.release)
    X, U, pairs = data["X"], data["U"], data["pairs"]
    for kind, (Xs, Us) in {"structure": (X, U), "mobility pairs": (X[pairs[:, 0]], U[pairs[:, 1]])}.items():
        if len(Us) < 5:
            print(f"{kind}: {len(Us)} rows, too few for 5-fold CV")
            continue
        scores = {name: repeated_cv(Xs, Us, fn, args.repeats) for name, fn in MODELS.items()}
        for name, (rms, median) in scores.items():
            print(f"{kind} ({len(Us)} rows) {name:9s} RMS {rms:.3f} kcal/mol, median {median:.3f}; "
                  f"ratio to the mean potential {rms / scores['mean'][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
