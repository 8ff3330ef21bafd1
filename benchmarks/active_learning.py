"""Active learning on the 234 published sets as a pool: learning curves of test R² (D_CG, alpha,
D_AA) against the number of labelled sets, active (mobcg.suggest's acquisition) vs random selection.

    python benchmarks/active_learning.py [--seeds 3] [--start 20] [--batch 10] [--max 150] [--jobs 2]

Per seed: one test fold (a fifth of the sets, the same for both strategies), the rest is the pool;
both start from the same random ``--start`` sets. Active: greedy batches maximising the summed
prior-normalized GP posterior variance of the 19-parameter models of D_AA, D_CG and alpha
(mobcg.published.select_batch, as `init.py --suggest`). Random: the next sets of a random order.
Test R² on the raw scale of the models `predict` uses: D_AA from 19 parameters, D_CG and alpha from
D_AA + 19. Hyperparameters are re-tuned (marginal likelihood, labelled sets only) whenever the
labelled count has grown by half since the last tuning, else the GP is conditioned on the new sets
with the last ones (exact, milliseconds): identical rule for both strategies.
Printed: mean R² ± spread over seeds per size, and the ratio n_active / n_random at which active
first reaches random's R² at ``--max`` sets.
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

ACQUIRE = ("D_AA", "D_CG", "alpha")            # 19 parameters only: D_AA is unknown before a run
EVALUATE = {"D_CG": "D_CG|D_AA", "alpha": "alpha|D_AA", "D_AA": "D_AA"}


def r2(y, p) -> float:
    return float(1.0 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


def run(seed: int, strategy: str, args, data) -> dict:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    n_test = len(data) // 5
    test, pool = order[:n_test], order[n_test:]
    labelled = list(pool[:args.start])
    rest = [int(i) for i in pool[args.start:]]  # random strategy: take these in this order
    hyper, tuned_at = {}, 0
    curves = {t: [] for t in EVALUATE}
    sizes = []
    ratio = {n: published.SPECS[n][3] for n in EVALUATE.values() if published.SPECS[n][2] == "ratio"}
    names = sorted((set(ACQUIRE) | set(EVALUATE.values()) | set(ratio.values())) - set(ratio))
    while True:
        n = len(labelled)
        retune = n >= 1.5 * tuned_at
        models = {}
        for name in names:
            X, y = published.training_data(data, name)
            inputs, _, transform, kernel = published.SPECS[name]
            m = published.GPModel(inputs, transform, kernel, hyper.get(name))
            if retune:
                m.hyper = m._optimize(X[labelled], y[labelled], None, 0, seed)
                hyper[name] = m.hyper
            models[name] = m.condition(X[labelled], y[labelled])
        for name, base in ratio.items():  # alpha|D_AA is D_CG|D_AA divided by D_AA
            models[name] = published.RatioModel(models[base])
        if retune:
            tuned_at = n
        sizes.append(n)
        for target, name in EVALUATE.items():
            X, y = published.training_data(data, name)
            curves[target].append(r2(y[test], models[name].predict(X[test])))
        if n >= args.max:
            break
        k = min(args.batch, args.max - n)
        if strategy == "random":
            new = rest[:k]
        else:
            cand = [i for i in pool if i not in set(labelled)]
            picks, _ = published.select_batch([models[t] for t in ACQUIRE], data.X[cand], k)
            new = [int(cand[i]) for i in picks]
        labelled += new
        rest = [i for i in rest if i not in set(new)]
    return {"seed": seed, "strategy": strategy, "sizes": sizes, "r2": curves}


def first_reaching(sizes, curve, goal) -> float:
    """Smallest (linearly interpolated) size at which ``curve`` reaches ``goal``; inf if never."""
    for k, v in enumerate(curve):
        if v >= goal:
            if k == 0:
                return float(sizes[0])
            a, b = curve[k - 1], v
            return float(sizes[k - 1] + (goal - a) / (b - a) * (sizes[k] - sizes[k - 1]))
    return float("inf")


def main(argv=None) -> int:
    from joblib import Parallel, delayed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--start", type=int, default=20)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--max", type=int, default=150)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    data = load_reference_systems()
    t0 = time.time()
    runs = Parallel(n_jobs=args.jobs)(delayed(run)(s, st, args, data)
                                      for s in range(args.seeds) for st in ("active", "random"))
    sizes = runs[0]["sizes"]
    print(f"{len(data)} published sets; per seed test fold {len(data) // 5}, pool {len(data) - len(data) // 5}; "
          f"{args.seeds} seeds; start {args.start}, batch {args.batch}; {time.time() - t0:.0f} s\n")
    mean = {}
    for st in ("active", "random"):
        for t in EVALUATE:
            R = np.array([r["r2"][t] for r in runs if r["strategy"] == st])
            mean[st, t] = (R.mean(0), R.std(0))
    head = "| labelled | " + " | ".join(f"{t} active | {t} random" for t in EVALUATE) + " |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for k, n in enumerate(sizes):
        cells = []
        for t in EVALUATE:
            for st in ("active", "random"):
                m, s = mean[st, t]
                cells.append(f"{m[k]:.3f} ± {s[k]:.3f}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print(f"\nSample ratio at equal R² (mean over seeds): sets active needs to reach random's R² at {sizes[-1]}")
    for t in EVALUATE:
        goal = mean["random", t][0][-1]
        n_act = first_reaching(sizes, mean["active", t][0], goal)
        print(f"  {t}: random R² {goal:.3f} at {sizes[-1]}; active reaches it at {n_act:.0f} "
              f"→ ratio {n_act / sizes[-1]:.2f} (goal ≤ {100 / 150:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
