"""Learning curve of a published-data model: test R² against the number of training sets, and how
many sets a saturating power law fitted to it says would reach a goal R² (default: alpha|D_AA, 0.85).

    python benchmarks/learning_curve.py [--model 'alpha|D_AA'] [--sizes 50 80 110 140 170 210]
                                        [--repeats 2] [--goal 0.85] [--boot 2000] [--jobs 1]

Protocol: the repeated 10-fold splits of benchmarks/reference_scores.py (RepeatedKFold, seed 0);
in each outer fold the model is fitted (hyperparameters by marginal likelihood on the subsample
only) on nested random subsamples of the training fold of each size (the largest = the whole fold),
and scored by R² on the raw scale on that fold's held-out sets. The mean R² over folds per size is
fitted by R²(n) = a - b n^-c (a ≤ 1, b > 0, c > 0; weighted by the standard error over folds); the
sets needed for the goal are n* = (b / (a - goal))^(1/c), infinite when the asymptote a is below
the goal. Uncertainty: bootstrap over the outer folds (each fold contributes its whole curve),
refitting each resample; printed: n* of the fit, its 16-84 % bootstrap interval and the share of
resamples whose asymptote stays below the goal.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mobcg import published  # noqa: E402
from mobcg.datasets import load_reference_systems  # noqa: E402


def saturating(n, a, b, c):
    return a - b * np.power(n, -c)


def fit_curve(sizes, r2, sigma=None) -> tuple[float, float, float]:
    """Least-squares (a, b, c) of R²(n) = a - b n^-c with a ≤ 1, b ≥ 0, 0.05 ≤ c ≤ 3."""
    from scipy.optimize import curve_fit

    sizes, r2 = np.asarray(sizes, dtype=float), np.asarray(r2, dtype=float)
    best = None
    for c0 in (0.3, 0.7, 1.5):  # a few starts: the fit is not convex in c
        try:
            p, _ = curve_fit(saturating, sizes, r2, p0=(min(r2.max() + 0.05, 1.0), 1.0, c0), sigma=sigma,
                             bounds=([-np.inf, 0.0, 0.05], [1.0, np.inf, 3.0]), maxfev=20000)
        except RuntimeError:
            continue
        w = 1.0 if sigma is None else 1.0 / np.asarray(sigma) ** 2
        cost = float(np.sum(w * (saturating(sizes, *p) - r2) ** 2))
        if best is None or cost < best[0]:
            best = (cost, tuple(float(v) for v in p))
    if best is None:
        raise RuntimeError("learning-curve fit failed")
    return best[1]


def sets_to_reach(params, goal: float) -> float:
    """Training sets n at which a - b n^-c reaches ``goal`` (inf if the asymptote a ≤ goal)."""
    a, b, c = params
    if a <= goal:
        return float("inf")
    if b <= 0:
        return 0.0
    return float((b / (a - goal)) ** (1.0 / c))


def curve(model: str, sizes, n_repeats: int, seed: int, n_jobs: int, data=None) -> np.ndarray:
    """R² of ``model`` per (outer fold, size): array (folds, len(sizes))."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import RepeatedKFold

    data = data if data is not None else load_reference_systems()
    inputs, _, transform, kernel = published.SPECS[model]
    X, y = published.training_data(data, model)
    folds = list(RepeatedKFold(n_splits=10, n_repeats=n_repeats, random_state=seed).split(X))

    def one(k, tr, te):
        order = np.random.default_rng([seed, k]).permutation(tr)  # nested: size n = first n of one order
        row = []
        for n in sizes:
            sub = order[:min(n, len(order))]
            m = published.GPModel(inputs, transform, kernel).fit(X[sub], y[sub], calibration="loo")
            p = m.predict(X[te])
            row.append(1.0 - np.sum((y[te] - p) ** 2) / np.sum((y[te] - y[te].mean()) ** 2))
        return row

    return np.array(Parallel(n_jobs=n_jobs)(delayed(one)(k, tr, te) for k, (tr, te) in enumerate(folds)))


def extrapolate(sizes, R, goal: float, n_boot: int, seed: int = 0) -> dict:
    """Fit the mean curve of R (folds, sizes) and bootstrap over folds: n* and its spread."""
    sizes = np.asarray(sizes, dtype=float)
    mean = R.mean(0)
    se = np.maximum(R.std(0, ddof=1) / np.sqrt(len(R)), 1e-3)
    params = fit_curve(sizes, mean, se)
    rng = np.random.default_rng(seed)
    boots, asym = [], []
    for _ in range(n_boot):
        Rb = R[rng.integers(0, len(R), len(R))]
        try:
            pb = fit_curve(sizes, Rb.mean(0), np.maximum(Rb.std(0, ddof=1) / np.sqrt(len(Rb)), 1e-3))
        except RuntimeError:
            continue
        boots.append(sets_to_reach(pb, goal))
        asym.append(pb[0])
    boots, asym = np.array(boots), np.array(asym)
    return {"params": params, "n_star": sets_to_reach(params, goal), "mean": mean, "se": se,
            "n_star_16": float(np.percentile(boots, 16, method="nearest")), "n_star_50": float(np.percentile(boots, 50, method="nearest")),
            "n_star_84": float(np.percentile(boots, 84, method="nearest")), "share_unreachable": float(np.mean(~np.isfinite(boots))),
            "asymptote_16": float(np.percentile(asym, 16)), "asymptote_84": float(np.percentile(asym, 84))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="alpha|D_AA", choices=[n for n in published.SPECS if published.SPECS[n][2] != "ratio"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 80, 110, 140, 170, 210])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--goal", type=float, default=0.85)
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.time()
    R = curve(args.model, args.sizes, args.repeats, args.seed, args.jobs)
    res = extrapolate(args.sizes, R, args.goal, args.boot, args.seed)
    print(f"{args.model}: 10-fold x {args.repeats} (seed {args.seed}), nested subsamples of each training fold; "
          f"{time.time() - t0:.0f} s")
    print("| training sets | test R² (mean ± std over folds) | fit |")
    print("| --- | --- | --- |")
    for n, col, f in zip(args.sizes, R.T, saturating(np.asarray(args.sizes, float), *res["params"])):
        print(f"| {n} | {col.mean():.3f} ± {col.std():.3f} | {f:.3f} |")
    a, b, c = res["params"]
    print(f"fit R²(n) = {a:.3f} - {b:.3g} n^-{c:.3f}; asymptote 16-84 %: {res['asymptote_16']:.3f}-{res['asymptote_84']:.3f}")
    fmt = lambda v: "never" if not np.isfinite(v) else f"{v:.0f}"  # noqa: E731
    print(f"sets for R² {args.goal}: {fmt(res['n_star'])} (bootstrap over folds: median {fmt(res['n_star_50'])}, "
          f"16-84 % {fmt(res['n_star_16'])}-{fmt(res['n_star_84'])}; asymptote below the goal in "
          f"{100 * res['share_unreachable']:.0f} % of {args.boot} resamples); the published data has 234")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
