"""Models of the 234 published parameter sets (Bag et al. 2022), usable with no project at all.

What is shipped is ``published_models.json``: for each model its Gaussian-process hyperparameters
(amplitude, one length scale per feature, noise), its input features and target transform, and
the cross-validated scores and interval coverage measured when it was fitted. The training data
are the vendored sets themselves (``mobcg/reference``), so loading a model is exact linear algebra
on 234 rows (one Cholesky factorisation, milliseconds): no pickle, no sklearn import, a few KB under
version control, and the file says exactly what it is. The slow part, maximising the marginal
likelihood, is done once by ``python -m mobcg.published --refit`` (minutes).

Intervals: the GP's predictive standard deviation (transformed scale, noise included) is rescaled
by conformal factors: the 68 % / 95 % quantiles of the leave-one-out z-scores of the training
data (closed form for a GP). The interval is mapped back through the monotone inverse transform,
so it is asymmetric on the raw scale and never negative. Coverage on held-out folds is measured
by ``benchmarks/reference_scores.py``.

Units: D in 1e-9 m²/s; alpha = D_CG / D_AA.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import datasets, files
from .forcefield import PARAMETER_NAMES

MODELS_FILE = Path(__file__).resolve().parent / "reference" / "published_models.json"
FORMAT = 1
LEVELS = (0.68, 0.95)

# name -> (inputs, target, transform, kernel). Inputs "19": the bonded parameters; "19+D_AA":
# those and D_AA (features log D_AA, 1/D_AA, D_AA: D_CG and alpha scale multiplicatively with D_AA,
# 1/D_AA lets the model follow the large alpha of slow all-atom systems). log1p rather than log
# for D_CG and alpha: one published system has D_CG = 5e-5 and would dominate a log fit.
SPECS = {
    "D_AA": ("19", "D_AA", "log", "matern52"),
    "D_CG": ("19", "D_CG", "log1p", "rbf"),
    "alpha": ("19", "alpha", "log1p", "rbf"),
    "D_CG|D_AA": ("19+D_AA", "D_CG", "log1p", "rbf"),
    "alpha|D_AA": ("19+D_AA", "alpha", "log1p", "rbf"),
}
# Candidates scored by outer CV (benchmarks/reference_scores.py --also) but not shipped. "ratio":
# alpha = D_CG|D_AA / D_AA. It won one 10-fold split (R² 0.844 vs 0.795) but lost the repeated
# 10-fold x 5 (0.685 ± 0.559 vs 0.753 ± 0.233): dividing by the smallest D_AA (0.06, at the edge
# of the data) turns a D_CG extrapolation into alpha ~ 100 in some folds.
ALTERNATIVES = {
    "alpha|D_AA ratio": ("19+D_AA", "alpha", "ratio", "D_CG|D_AA"),
}
TRANSFORMS = {"log": (np.log, np.exp), "log1p": (np.log1p, np.expm1), "none": (lambda v: v, lambda v: v)}


class PublishedModelError(RuntimeError):
    pass


def features(X, inputs: str) -> np.ndarray:
    """Model features from the 19 parameters (and D_AA as a 20th column for "19+D_AA");
    "raw": the columns as given (any number)."""
    X = np.asarray(X, dtype=float)
    if inputs == "raw":
        return X
    n = len(PARAMETER_NAMES) + (1 if inputs == "19+D_AA" else 0)
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"expected {n} input columns, got shape {X.shape}")
    if inputs == "19":
        return X
    daa = X[:, -1]
    if np.any(daa <= 0):
        raise ValueError("D_AA must be > 0")
    return np.column_stack([X[:, :-1], np.log(daa), 1.0 / daa, daa])


def _kernel(A, B, scales, kind: str) -> np.ndarray:
    """Correlation (without amplitude) between rows of A and B; sklearn's RBF / Matern(nu=2.5)."""
    a, b = A / scales, B / scales
    d2 = np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)
    if kind == "rbf":
        return np.exp(-0.5 * d2)
    if kind == "matern52":
        d = np.sqrt(5.0 * d2)
        return (1.0 + d + d * d / 3.0) * np.exp(-d)
    raise ValueError(f"unknown kernel {kind!r}")


def _short_lbfgs(obj_func, initial_theta, bounds):
    """L-BFGS limited to 30 iterations: a warm start from the full fit's hyperparameters needs few
    (the inner calibration fits), and this keeps `--refit` and the benchmarks to minutes."""
    from scipy.optimize import minimize
    res = minimize(obj_func, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": 30})
    return res.x, res.fun


def conformal_quantile(scores, level: float) -> float:
    """Split-conformal quantile: the ceil((n + 1) level)-th smallest |score| (finite-sample valid);
    inf when n is too small for that level."""
    s = np.sort(np.abs(np.asarray(scores, dtype=float)))
    k = math.ceil((len(s) + 1) * level)
    return float(s[k - 1]) if k <= len(s) else math.inf


class GPModel:
    """Gaussian process on standardized features and a transformed, normalized target.

    ``fit`` maximises the marginal likelihood (sklearn, imported only there); ``condition`` does
    the exact GP algebra for given hyperparameters with numpy alone; ``hyper`` is what is stored.
    """

    def __init__(self, inputs: str = "19", transform: str = "log", kernel: str = "rbf", hyper: dict | None = None):
        self.inputs, self.transform, self.kernel, self.hyper = inputs, transform, kernel, hyper

    # -------------------------------------------------------------- fitting
    def fit(self, X, y, restarts: int = 0, seed: int = 0, calibration: str = "cv") -> "GPModel":
        """Maximise the marginal likelihood on (X, y), then condition. ``calibration``: "loo" takes the
        conformal factors from the closed-form leave-one-out z-scores (free, but optimistic: the
        hyperparameters were tuned on those same points); "cv" (default) from 5-fold CV with the
        hyperparameters re-tuned on each inner training fold (warm-started from the full fit)."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        self.hyper = self._optimize(X, y, None, restarts, seed)
        self.condition(X, y)
        if calibration == "cv":
            z = np.empty(len(y))
            for k in range(5):
                te = np.arange(len(y)) % 5 == k  # deterministic folds; the sets are in no particular order
                inner = GPModel(self.inputs, self.transform, self.kernel, dict(self.hyper))
                inner.hyper = inner._optimize(X[~te], y[~te], self.hyper, 0, seed)
                inner.condition(X[~te], y[~te])
                mu, sd = inner.latent(X[te])
                z[te] = (TRANSFORMS[self.transform][0](y[te]) - mu) / sd
            self.z_ = z
            self.q_ = {lv: conformal_quantile(z, lv) for lv in LEVELS}
        self.calibration_ = calibration
        return self

    def _optimize(self, X, y, start, restarts, seed) -> dict:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

        F = features(X, self.inputs)
        t = TRANSFORMS[self.transform][0](np.asarray(y, dtype=float))
        mean, scale = F.mean(0), F.std(0)
        scale[scale == 0] = 1.0
        p = F.shape[1]
        ls = np.ones(p) if start is None else np.asarray(start["length_scales"], dtype=float)
        amp, noise = (1.0, 0.1) if start is None else (start["amplitude"], start["noise"])
        base = RBF(ls, (1e-2, 1e3)) if self.kernel == "rbf" else Matern(ls, (1e-2, 1e3), nu=2.5)
        k = ConstantKernel(amp, (1e-3, 1e3)) * base + WhiteKernel(noise, (1e-5, 1.0))
        gp = GaussianProcessRegressor(k, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed,
                                      optimizer="fmin_l_bfgs_b" if start is None else _short_lbfgs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # an irrelevant feature reaches its bound
            gp.fit((F - mean) / scale, t)
        kp = gp.kernel_.get_params()
        return {"amplitude": float(kp["k1__k1__constant_value"]),
                "length_scales": np.atleast_1d(kp["k1__k2__length_scale"]).astype(float).tolist(),
                "noise": float(kp["k2__noise_level"])}

    def condition(self, X, y) -> "GPModel":
        """Exact GP posterior on (X, y) with the stored hyperparameters; LOO conformal factors."""
        if self.hyper is None:
            raise PublishedModelError("no hyperparameters: call fit first")
        F = features(X, self.inputs)
        t = TRANSFORMS[self.transform][0](np.asarray(y, dtype=float))
        self.f_mean_, self.f_scale_ = F.mean(0), F.std(0)
        self.f_scale_[self.f_scale_ == 0] = 1.0
        self.Xs_ = (F - self.f_mean_) / self.f_scale_
        self.t_mean_, self.t_std_ = float(t.mean()), float(t.std()) or 1.0
        tn = (t - self.t_mean_) / self.t_std_
        self.scales_ = np.asarray(self.hyper["length_scales"], dtype=float)
        K = self.hyper["amplitude"] * _kernel(self.Xs_, self.Xs_, self.scales_, self.kernel)
        K[np.diag_indices_from(K)] += self.hyper["noise"] + 1e-10  # sklearn's jitter
        self.L_ = np.linalg.cholesky(K)
        Kinv = np.linalg.inv(K)
        self.dual_ = Kinv @ tn
        # Leave-one-out predictive residual and variance in closed form (Rasmussen & Williams 5.12).
        loo_var = 1.0 / np.diag(Kinv)
        self.loo_z_ = (self.dual_ * loo_var) / np.sqrt(loo_var)
        self.loo_q_ = {lv: conformal_quantile(self.loo_z_, lv) for lv in LEVELS}
        if getattr(self, "calibration_", "loo") == "loo" or not hasattr(self, "q_"):
            self.q_ = dict(self.loo_q_)
        self.n_train_ = len(t)
        return self

    # -------------------------------------------------------------- prediction
    def latent(self, X):
        """Mean and predictive standard deviation (noise included) on the transformed scale."""
        Xs = (features(X, self.inputs) - self.f_mean_) / self.f_scale_
        Ks = self.hyper["amplitude"] * _kernel(Xs, self.Xs_, self.scales_, self.kernel)
        mu = Ks @ self.dual_
        v = np.linalg.solve(self.L_, Ks.T)
        var = np.maximum(self.hyper["amplitude"] + self.hyper["noise"] - (v * v).sum(0), 1e-12)
        return mu * self.t_std_ + self.t_mean_, np.sqrt(var) * self.t_std_

    def predict(self, X) -> np.ndarray:
        """Point prediction on the raw scale (the back-transformed mean: a median)."""
        return TRANSFORMS[self.transform][1](self.latent(X)[0])

    def interval(self, X, level: float):
        """(lower, upper) on the raw scale containing the truth with probability ``level``
        (calibrated for 0.68 and 0.95)."""
        if level not in self.q_:
            raise ValueError(f"calibrated levels are {LEVELS}")
        mu, sd = self.latent(X)
        inv = TRANSFORMS[self.transform][1]
        lo, hi = inv(mu - self.q_[level] * sd), inv(mu + self.q_[level] * sd)
        if self.transform == "log1p":  # D and alpha are positive
            lo = np.maximum(lo, 0.0)
        return lo, hi

    def posterior_variance(self, candidates, extra=None) -> np.ndarray:
        """Prior-normalized latent variance (in [0, 1]) at ``candidates`` given the training inputs
        plus ``extra`` inputs (e.g. pending jobs): a GP's variance needs no labels."""
        C = (features(candidates, self.inputs) - self.f_mean_) / self.f_scale_
        A = self.Xs_ if extra is None or len(extra) == 0 else np.vstack(
            [self.Xs_, (features(extra, self.inputs) - self.f_mean_) / self.f_scale_])
        amp, noise = self.hyper["amplitude"], self.hyper["noise"]
        K = amp * _kernel(A, A, self.scales_, self.kernel)
        K[np.diag_indices_from(K)] += noise + 1e-10
        L = np.linalg.cholesky(K)
        v = np.linalg.solve(L, amp * _kernel(A, C, self.scales_, self.kernel))
        return np.maximum(1.0 - (v * v).sum(0) / amp, 0.0)


def select_batch(model_list, candidates, n: int, extra=None, weight=None) -> tuple[list[int], list[float]]:
    """Greedy batch of ``n`` candidate rows maximising the acquisition
    a(x) = w(x) · sum over models of the prior-normalized posterior variance of the latent target at x,
    each pick added to the conditioning inputs before the next (exact: variance needs no label).
    ``weight``: w per candidate (e.g. the chance that the set gives a liquid at all; default 1).
    Returns the indices in pick order and their acquisition values."""
    picks, values = [], []
    C = np.asarray(candidates, dtype=float)
    cond = np.zeros((0, C.shape[1])) if extra is None or len(extra) == 0 else np.asarray(extra, dtype=float)
    # Incremental Cholesky per model: posterior covariance rows of the picks against all candidates.
    states = []
    for m in model_list:
        amp = m.hyper["amplitude"]
        Cs = (features(C, m.inputs) - m.f_mean_) / m.f_scale_
        A = m.Xs_ if len(cond) == 0 else np.vstack([m.Xs_, (features(cond, m.inputs) - m.f_mean_) / m.f_scale_])
        K = amp * _kernel(A, A, m.scales_, m.kernel)
        K[np.diag_indices_from(K)] += m.hyper["noise"] + 1e-10
        V = np.linalg.solve(np.linalg.cholesky(K), amp * _kernel(A, Cs, m.scales_, m.kernel))
        var = np.maximum(amp - (V * V).sum(0), 0.0)
        states.append({"Cs": Cs, "V": V, "var": var, "amp": amp, "rows": []})
    taken = np.zeros(len(C), dtype=bool)
    w = np.ones(len(C)) if weight is None else np.asarray(weight, dtype=float)
    for _ in range(min(n, len(C))):
        acq = w * sum(s["var"] / s["amp"] for s in states)
        acq = np.where(taken, -np.inf, acq)
        i = int(np.argmax(acq))
        picks.append(i)
        values.append(float(acq[i]))
        taken[i] = True
        for s, m in zip(states, model_list):
            # Posterior covariance of candidate c with the pick i, then a rank-one downdate.
            cov = s["amp"] * _kernel(s["Cs"], s["Cs"][i:i + 1], m.scales_, m.kernel)[:, 0] - s["V"].T @ s["V"][:, i]
            for row in s["rows"]:
                cov -= row * row[i]
            vi = s["var"][i] + m.hyper["noise"]  # a pick is observed with noise
            row = cov / math.sqrt(vi)
            s["rows"].append(row)
            s["var"] = np.maximum(s["var"] - row * row, 0.0)
    return picks, values


# ---------------------------------------------------------------------------------------- stored set


def data_sha256(path=None) -> str:
    path = Path(path) if path is not None else datasets.reference_dir() / datasets.SYSTEMS_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest()


def training_data(data, name: str):
    inputs, target, _, _ = SPECS[name] if name in SPECS else ALTERNATIVES[name]
    X = data.X if inputs == "19" else data.X_with_daa()
    return X, getattr(data, target)


class RatioModel:
    """``base``'s prediction divided by the last input column (D_AA): alpha from D_CG|D_AA."""

    def __init__(self, base: GPModel):
        self.base = base
        self.inputs = base.inputs

    def predict(self, X):
        return self.base.predict(X) / np.asarray(X, dtype=float)[:, -1]

    def interval(self, X, level: float):
        lo, hi = self.base.interval(X, level)
        daa = np.asarray(X, dtype=float)[:, -1]
        return lo / daa, hi / daa


class PublishedModels:
    """The shipped models conditioned on the published sets: ``models[name]`` for names in SPECS."""

    def __init__(self, meta: dict, models: dict, data):
        self.meta, self.models, self.data = meta, models, data

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    def predict(self, x19, d_aa: float | None = None) -> dict:
        """Point predictions and 68/95 % intervals for one parameter vector (19,) ; with a known
        D_AA, D_CG and alpha come from the models that take it."""
        x = np.asarray(x19, dtype=float).reshape(1, -1)
        out = {}
        names = {"D_AA": "D_AA", "D_CG": "D_CG", "alpha": "alpha"}
        if d_aa is not None:
            names.update(D_CG="D_CG|D_AA", alpha="alpha|D_AA")
            xa = np.column_stack([x, [[float(d_aa)]]])
        for target, name in names.items():
            if target == "D_AA" and d_aa is not None:
                out["D_AA"] = {"value": float(d_aa), "given": True}
                continue
            m = self.models[name]
            xin = xa if SPECS[name][0] == "19+D_AA" else x
            entry = {"value": float(m.predict(xin)[0]), "model": name}
            for lv in LEVELS:
                lo, hi = m.interval(xin, lv)
                entry[f"interval_{int(lv * 100)}"] = [float(lo[0]), float(hi[0])]
            entry["cv"] = self.meta["models"][name].get("cv", {})
            out[target] = entry
        return out


def _fingerprint(entries: dict, sha: str) -> str:
    text = json.dumps({"models": {k: {kk: v[kk] for kk in ("inputs", "target", "transform", "kernel", "hyper")}
                                  for k, v in entries.items()}, "data": sha}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def load(path=None) -> PublishedModels:
    """Read the shipped JSON and condition each model on the published sets (~ tens of ms)."""
    path = Path(path) if path is not None else MODELS_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PublishedModelError(f"{path}: cannot read the published models ({exc})") from None
    if meta.get("format") != FORMAT:
        raise PublishedModelError(f"{path}: format {meta.get('format')!r}, expected {FORMAT}")
    data = datasets.load_reference_systems()
    if data_sha256(data.path) != meta["data"]["sha256"]:  # e.g. MOBCG_REFERENCE pointing at other sets
        raise PublishedModelError(f"{data.path}: not the data {path.name} was fitted on (sha256 differs); "
                                  "refit with `python -m mobcg.published --refit --score`")
    models = {}
    for name, e in meta["models"].items():
        if e["transform"] == "ratio":
            continue
        m = GPModel(e["inputs"], e["transform"], e["kernel"], e["hyper"])
        models[name] = m.condition(*training_data(data, name))
        m.q_ = {float(k): float(v) for k, v in e["quantiles"].items()}  # calibrated at refit (5-fold CV)
        m.calibration_ = e["calibration"]
    for name, e in meta["models"].items():
        if e["transform"] == "ratio":
            models[name] = RatioModel(models[e["kernel"]])
    return PublishedModels(meta, models, data)


# ---------------------------------------------------------------------------------------- CV


def _scores(y, folds, preds, intervals, n_splits, n_repeats, seed) -> dict:
    r2, mae = [], []
    cover = {lv: [] for lv in LEVELS}
    for (tr, te), p, iv in zip(folds, preds, intervals):
        yt = y[te]
        r2.append(1.0 - np.sum((yt - p) ** 2) / np.sum((yt - yt.mean()) ** 2))
        mae.append(float(np.mean(np.abs(yt - p))))
        for lv in LEVELS:
            cover[lv].append((iv[lv][0] <= yt) & (yt <= iv[lv][1]))
    out = {"r2_mean": float(np.mean(r2)), "r2_std": float(np.std(r2)), "mae_mean": float(np.mean(mae)),
           "mae_std": float(np.std(mae)), "n_splits": n_splits, "n_repeats": n_repeats, "seed": seed,
           "r2": np.asarray(r2), "mae": np.asarray(mae)}
    for lv in LEVELS:
        # Pooled over all held-out predictions; _std is the spread over the repeats.
        per_repeat = [np.concatenate(cover[lv][r * n_splits:(r + 1) * n_splits]).mean() for r in range(n_repeats)]
        out[f"coverage_{int(lv * 100)}"] = float(np.concatenate(cover[lv]).mean())
        out[f"coverage_{int(lv * 100)}_std"] = float(np.std(per_repeat))
    return out


def cross_validate(name: str, data=None, n_splits: int = 10, n_repeats: int = 5, seed: int = 0,
                   n_jobs: int = 1) -> dict:
    """Repeated K-fold CV of model ``name`` (hyperparameters and conformal factors fitted on the
    training folds only): {name: scores} with R², MAE on the raw scale and the coverage of the
    68/95 % intervals; CV of "D_CG|D_AA" also scores "alpha|D_AA ratio" on the same folds."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import RepeatedKFold

    data = data if data is not None else datasets.load_reference_systems()
    inputs, target, transform, kernel = SPECS[name] if name in SPECS else ALTERNATIVES[name]
    if transform == "ratio":
        return {name: cross_validate(kernel, data, n_splits, n_repeats, seed, n_jobs)[name]}
    X, y = training_data(data, name)
    folds = list(RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed).split(X))

    def one(tr, te):
        m = GPModel(inputs, transform, kernel).fit(X[tr], y[tr])
        return m.predict(X[te]), {lv: m.interval(X[te], lv) for lv in LEVELS}

    res = Parallel(n_jobs=n_jobs)(delayed(one)(tr, te) for tr, te in folds)
    out = {name: _scores(y, folds, [r[0] for r in res], [r[1] for r in res], n_splits, n_repeats, seed)}
    for other, (_, t2, tf2, base) in (SPECS | ALTERNATIVES).items():
        if tf2 == "ratio" and base == name:
            daa = X[:, -1]
            preds = [p / daa[te] for (tr, te), (p, _) in zip(folds, res)]
            ivs = [{lv: (iv[lv][0] / daa[te], iv[lv][1] / daa[te]) for lv in LEVELS} for (tr, te), (_, iv) in zip(folds, res)]
            out[other] = _scores(getattr(data, t2), folds, preds, ivs, n_splits, n_repeats, seed)
    return out


def refit(path=None, n_repeats: int = 5, n_jobs: int = 2, restarts: int = 0, names=None) -> dict:
    """Fit every model's hyperparameters and calibration on all published sets and write the JSON
    atomically; with ``n_repeats`` > 0 also measure CV scores and coverage (else keep those the file
    already has for unchanged hyperparameters, see :func:`score`)."""
    path = Path(path) if path is not None else MODELS_FILE
    data = datasets.load_reference_systems()
    sha = data_sha256(data.path)
    entries = {}
    old = json.loads(path.read_text())["models"] if names and path.exists() else {}
    for name, (inputs, target, transform, kernel) in SPECS.items():
        t0 = time.time()
        if names and name not in names and old.get(name, {}).get("transform") == transform:
            entries[name] = old[name]  # keep: hyperparameters, calibration and scores of this model
            continue
        if transform == "ratio":
            entries[name] = {"inputs": inputs, "target": target, "transform": transform, "kernel": kernel,
                             "hyper": None, "note": f"{kernel} divided by D_AA", "cv": {}}
            continue
        X, y = training_data(data, name)
        m = GPModel(inputs, transform, kernel).fit(X, y, restarts=restarts)
        entries[name] = {"inputs": inputs, "target": target, "transform": transform, "kernel": kernel,
                         "hyper": m.hyper, "calibration": m.calibration_,
                         "quantiles": {str(k): v for k, v in m.q_.items()}, "cv": {}}
        print(f"{name}: fitted ({time.time() - t0:.0f} s)", flush=True)
    meta = _meta(entries, sha, data)
    files.write_json(path, meta)
    if n_repeats > 0:
        for name in SPECS:
            if SPECS[name][2] != "ratio":
                meta = score(name, path, n_repeats=n_repeats, n_jobs=n_jobs)
    return meta


def _meta(entries, sha, data) -> dict:
    from sklearn import __version__ as skv
    return {"format": FORMAT, "data": {"file": datasets.SYSTEMS_FILE, "sha256": sha, "n": len(data)},
            "source": "Bag, Meinel & Müller-Plathe, JCTC 2022, doi:10.1021/acs.jctc.2c00898 (234 published sets)",
            "fitted_with": {"sklearn": skv, "numpy": np.__version__},
            "units": "D in 1e-9 m^2/s; alpha = D_CG/D_AA", "parameters": list(PARAMETER_NAMES),
            "models": entries, "fingerprint": _fingerprint(entries, sha)}


def score(name: str, path=None, n_repeats: int = 5, n_jobs: int = 2, n_splits: int = 10) -> dict:
    """Measure model ``name``'s repeated K-fold CV (and its ratio model's) and record it in the JSON."""
    path = Path(path) if path is not None else MODELS_FILE
    t0 = time.time()
    cvs = cross_validate(name, n_splits=n_splits, n_repeats=n_repeats, n_jobs=n_jobs)
    meta = json.loads(path.read_text())  # reread: the file is the record, other models' scores stay
    for other, cv in cvs.items():
        if other not in meta["models"]:
            continue  # an alternative, not shipped
        cv = {k: v for k, v in cv.items() if not isinstance(v, np.ndarray)}
        meta["models"][other]["cv"] = cv
        print(f"{other}: R² {cv['r2_mean']:.3f} ± {cv['r2_std']:.3f}, coverage 68 % {cv['coverage_68']:.3f}, "
              f"95 % {cv['coverage_95']:.3f} ({n_splits}-fold x {n_repeats}, {time.time() - t0:.0f} s)", flush=True)
    files.write_json(path, meta)
    return meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mobcg.published", description="refit the shipped published-data models")
    ap.add_argument("--refit", nargs="*", default=None, metavar="MODEL",
                    help="fit hyperparameters and calibration of these models (default all), write the JSON")
    ap.add_argument("--score", nargs="*", default=None, metavar="MODEL",
                    help="measure CV R² and coverage of these models (default all) into the JSON")
    ap.add_argument("--out", default=None, help=f"output file (default {MODELS_FILE})")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    if args.refit is not None:
        meta = refit(args.out, n_repeats=0 if args.score is not None else args.repeats, n_jobs=args.jobs,
                     names=args.refit or None)
        print(f"wrote {args.out or MODELS_FILE} (fingerprint {meta['fingerprint']})")
    if args.score is not None:
        for name in args.score or [n for n in SPECS if SPECS[n][2] != "ratio"]:
            score(name, args.out, n_repeats=args.repeats, n_jobs=args.jobs)
    if args.refit is None and args.score is None:
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
