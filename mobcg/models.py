"""Regression models: the paper's random forest, our better regressors, cross-validation,
ensembles with uncertainty for scalars and tabulated potentials, and atomic save/load.

Input convention (as in Bag et al. 2022): the D_AA model takes the 19 bonded parameters
(columns ``mobcg.forcefield.PARAMETER_NAMES``); the D_CG and alpha models take those 19 plus
D_AA as a 20th, last column.
"""

from __future__ import annotations

import functools
import json
import platform
import warnings
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
from sklearn.model_selection import RepeatedKFold, cross_validate
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mobcg import files
from mobcg.forcefield import PARAMETER_NAMES

TARGETS = ("D_AA", "D_CG", "alpha")
N_PARAMETERS = len(PARAMETER_NAMES)


# ----------------------------------------------------------------------------------------------
# scalar regressors


def paper_random_forest(random_state: int = 0) -> RandomForestRegressor:
    """The paper's model: random forest with max_depth = 4 (other settings sklearn defaults)."""
    return RandomForestRegressor(max_depth=4, random_state=random_state)


class PhysicalFeatures(BaseEstimator, TransformerMixin):
    """19 bonded parameters (+ D_AA as last column if ``with_daa``) -> model features.

    With D_AA the features are the 19 parameters, log D_AA, 1/D_AA and D_AA: D_CG and
    alpha = D_CG/D_AA scale multiplicatively with D_AA, and 1/D_AA lets a smooth model
    follow the large alpha of slow all-atom systems.
    """

    def __init__(self, with_daa: bool = False):
        self.with_daa = with_daa

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        n = N_PARAMETERS + (1 if self.with_daa else 0)
        if X.ndim != 2 or X.shape[1] != n:
            raise ValueError(f"expected {n} input columns, got shape {X.shape}")
        self.n_features_in_ = n
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} input columns, got shape {X.shape}")
        if not self.with_daa:
            return X
        daa = X[:, -1]
        if np.any(daa <= 0):
            raise ValueError("D_AA (last column) must be > 0")
        return np.column_stack([X[:, :-1], np.log(daa), 1.0 / daa, daa])


class QuietGaussianProcessRegressor(GaussianProcessRegressor):
    """GaussianProcessRegressor whose fit does not warn when a length scale reaches its bound
    (with ARD, an irrelevant input correctly goes to the upper bound)."""

    def fit(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().fit(X, y)


def _gp(n_features: int, nu: float | None = None, random_state: int = 0):
    scales = np.ones(n_features)
    base = (RBF(scales, (1e-2, 1e3)) if nu is None else Matern(scales, (1e-2, 1e3), nu=nu))
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * base + WhiteKernel(0.1, (1e-5, 1.0))
    return QuietGaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0,
                                         random_state=random_state)


def our_regressor(target: str, random_state: int = 0):
    """Our model for ``target`` in ("D_AA", "D_CG", "alpha").

    A Gaussian process with an anisotropic (ARD) kernel on standardized physical features,
    fitted to a log-type transform of the target and predicting on the raw scale:

    * D_AA (input: 19 parameters): log D_AA, Matérn-5/2 kernel (D_AA spans 0.06-15).
    * D_CG (input: 19 parameters + D_AA): log1p D_CG, RBF kernel. log1p rather than log
      because one published system has D_CG = 5e-5, which would dominate a log fit.
    * alpha (input: 19 parameters + D_AA): log1p alpha, RBF kernel.

    The kernel hyperparameters (one length scale per feature, amplitude, noise) are set by
    maximising the marginal likelihood on the training data of each fit, so inside a CV loop
    they are tuned on the training folds only (no tuning on test folds).
    """
    if target == "D_AA":
        gp = _gp(N_PARAMETERS, nu=2.5, random_state=random_state)
        inner = make_pipeline(PhysicalFeatures(with_daa=False), StandardScaler(), gp)
        return TransformedTargetRegressor(inner, func=np.log, inverse_func=np.exp)
    if target in ("D_CG", "alpha"):
        gp = _gp(N_PARAMETERS + 3, nu=None, random_state=random_state)
        inner = make_pipeline(PhysicalFeatures(with_daa=True), StandardScaler(), gp)
        return TransformedTargetRegressor(inner, func=np.log1p, inverse_func=np.expm1)
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


def cross_validate_scores(model, X, y, n_splits: int = 10, n_repeats: int = 5, seed: int = 0,
                         n_jobs: int = 1) -> dict:
    """Repeated shuffled K-fold CV. The folds depend only on (len(X), n_splits, n_repeats,
    seed), so two models scored with the same arguments see the same folds.

    Returns r2_mean, r2_std, mae_mean, mae_std (over all n_splits * n_repeats test folds,
    on the scale of ``y``) and the per-fold arrays r2, mae.
    """
    cv = RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    res = cross_validate(model, np.asarray(X, dtype=float), np.asarray(y, dtype=float), cv=cv,
                         scoring=("r2", "neg_mean_absolute_error"), n_jobs=n_jobs)
    r2 = res["test_r2"]
    mae = -res["test_neg_mean_absolute_error"]
    return {"r2_mean": float(r2.mean()), "r2_std": float(r2.std()),
            "mae_mean": float(mae.mean()), "mae_std": float(mae.std()),
            "r2": r2, "mae": mae, "n_splits": n_splits, "n_repeats": n_repeats, "seed": seed}


# ----------------------------------------------------------------------------------------------
# ensembles with uncertainty


def _with_seed(estimator, seed: int):
    est = clone(estimator)
    keys = [k for k in est.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    if keys:
        est.set_params(**{k: seed for k in keys})
    return est


def _default_mlp(hidden_layer_sizes, alpha, max_iter, seed):
    return MLPRegressor(hidden_layer_sizes=hidden_layer_sizes, alpha=alpha, solver="lbfgs",
                        max_iter=max_iter, random_state=seed)


class ScalarModel(BaseEstimator):
    """Ensemble of ``n_members`` copies of ``base`` (default StandardScaler -> MLP), differing
    in their random seeds; ``predict`` returns (mean, std) over the members.

    ``target_transform``: None, "log" or "log1p" (the members are fitted to the transformed
    target; mean and std are of the back-transformed predictions).
    """

    def __init__(self, base=None, n_members: int = 5, target_transform: str | None = None,
                 hidden_layer_sizes=(32, 32), alpha: float = 1e-2, max_iter: int = 2000,
                 seed: int = 0):
        self.base = base
        self.n_members = n_members
        self.target_transform = target_transform
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.max_iter = max_iter
        self.seed = seed

    def _funcs(self):
        if self.target_transform is None:
            return (lambda y: y), (lambda y: y)
        if self.target_transform == "log":
            return np.log, np.exp
        if self.target_transform == "log1p":
            return np.log1p, np.expm1
        raise ValueError(f"unknown target_transform {self.target_transform!r}")

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float).ravel()
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise ValueError(f"X must be (n, p) and y (n,), got {X.shape}, {y.shape}")
        fwd, _ = self._funcs()
        base = self.base if self.base is not None else make_pipeline(
            StandardScaler(), _default_mlp(self.hidden_layer_sizes, self.alpha, self.max_iter, 0))
        self.members_ = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for k in range(self.n_members):
                self.members_.append(_with_seed(base, self.seed + k).fit(X, fwd(y)))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        _, inv = self._funcs()
        P = np.stack([inv(m.predict(np.asarray(X, dtype=float))) for m in self.members_])
        return P.mean(axis=0), P.std(axis=0)


class FrictionModel(BaseEstimator):
    """The DPD friction γ that slows a structure-preserving CG liquid to the AA mobility, from the AA
    mobility the parameters are predicted to give: log γ = a + b log D̂_AA(x), with D̂_AA the published-data
    model of D_AA (mobcg.published, trained on the paper's 234 sets; the paper's molecule only).

    Why not a regression on the 19 parameters: γ spans 5e3-4e4 kcal fs/(mol Å²) over the campaign's
    trusted liquids and follows the AA mobility (log γ against log D_AA_inf: r = -0.94), which tens of
    sets hardly learn from 19 parameters; 234 published sets can (R²(log) 0.70 on our D_AA). Leave-one-out
    RMSE of log γ on the release's matched jobs: 0.49 at 20 jobs (the ScalarModel on the 19 parameters
    0.77, the mean 0.71), 0.50 at 24 (0.52, 0.73): two coefficients that hold from the first few jobs
    (tests/test_friction_model.py). ``predict`` returns (γ, std) like
    ScalarModel, std from the residuals' spread in log (γ·σ)."""

    def fit(self, X, y):
        f = _log_d_aa_hat(X)
        y = np.log(np.asarray(y, dtype=float).ravel())
        if len(y) < 2:
            raise ValueError(f"FrictionModel: {len(y)} friction(s), need at least 2")
        self.coef_ = np.polyfit(f, y, 1)
        self.sigma_ = float(np.std(y - np.polyval(self.coef_, f), ddof=min(2, len(y) - 1)))
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        gamma = np.exp(np.polyval(self.coef_, _log_d_aa_hat(X)))
        return gamma, gamma * self.sigma_

    @classmethod
    def from_coef(cls, coef, sigma: float = 0.0) -> "FrictionModel":
        """A fitted model from its stored coefficients (a, b as np.polyfit gives them: slope first)."""
        model = cls()
        model.coef_, model.sigma_ = np.asarray(coef, dtype=float), float(sigma)
        return model

    @classmethod
    def loo_residuals(cls, X, y) -> np.ndarray:
        """log(γ / γ predicted without it), leaving out each job once."""
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float).ravel()
        keep = np.ones(len(y), bool)
        out = np.empty(len(y))
        for i in range(len(y)):
            keep[i] = False
            out[i] = np.log(y[i] / cls().fit(X[keep], y[keep]).predict(X[i:i + 1])[0][0])
            keep[i] = True
        return out


@functools.lru_cache(maxsize=1)
def _published_d_aa():
    """The published-data D_AA model, conditioned once per process (about a second each time)."""
    from mobcg import published
    return published.load().models["D_AA"]


class PotentialModel(BaseEstimator):
    """Parameters -> tabulated potential U(r) on a fixed grid, with uncertainty.

    U (n, m) is standardized point by point, reduced by PCA to ``n_components`` scores,
    and an ensemble of ``n_members`` MLPs (StandardScaler on X, lbfgs, different seeds)
    maps X to the standardized scores. ``predict(X)`` returns (mean, std), each (n, m),
    over the members' reconstructed potentials. ``r`` (optional) is kept for the record.
    """

    def __init__(self, n_components: int = 6, hidden_layer_sizes=(32, 32), alpha: float = 1e-3,
                 n_members: int = 5, max_iter: int = 3000, seed: int = 0):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.n_members = n_members
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X, U, r=None):
        X, U = _potential_input(X, U)
        self.r_ = None if r is None else np.asarray(r, dtype=float)
        self.x_scaler_ = StandardScaler().fit(X)
        self.u_scaler_ = StandardScaler().fit(U)
        Us = self.u_scaler_.transform(U)
        k = max(1, min(self.n_components, X.shape[0] - 1, U.shape[1]))
        self.pca_ = PCA(n_components=k, random_state=self.seed).fit(Us)
        Z = self.pca_.transform(Us)
        self.z_scaler_ = StandardScaler().fit(Z)
        Xs, Zs = self.x_scaler_.transform(X), self.z_scaler_.transform(Z)
        self.members_ = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for i in range(self.n_members):
                mlp = _default_mlp(self.hidden_layer_sizes, self.alpha, self.max_iter, self.seed + i)
                self.members_.append(mlp.fit(Xs, Zs[:, 0] if Zs.shape[1] == 1 else Zs))  # 1-D target for one component
        self.n_features_in_ = X.shape[1]
        self.n_points_ = U.shape[1]
        return self

    def _member_curves(self, X):
        Xs = self.x_scaler_.transform(np.asarray(X, dtype=float))
        out = []
        for m in self.members_:
            Zs = m.predict(Xs).reshape(len(Xs), -1)
            Us = self.pca_.inverse_transform(self.z_scaler_.inverse_transform(Zs))
            out.append(self.u_scaler_.inverse_transform(Us))
        return np.stack(out)

    def predict(self, X):
        P = self._member_curves(X)
        return P.mean(axis=0), P.std(axis=0)


class MobilityPotentialModel(BaseEstimator):
    """Parameters -> tabulated potential U(r), through the AA mobility the parameters are predicted to
    give: the potentials' principal-component scores are a polynomial in log D̂_AA(x), D̂_AA the
    published-data model (the paper's 234 sets; the paper's molecule only), its degree (0, 1 or 2)
    the one with the smallest leave-one-out error on the training rows.

    Why: an IBI potential is fixed by the AA liquid's structure, and across random force fields that
    follows the liquid's state (density 0.3-1.1 g/cm³ over the campaign's liquids), which the AA
    mobility tracks and tens of sets hardly learn from 19 parameters. Held-out RMS error of the tables
    on 5-9.8 Å (10-20 repeats of 5-fold CV on the campaign release): at 26 trusted jobs 0.42 kcal/mol,
    against 0.55 for GPs on the 19 parameters, 0.68 for the MLP ensemble and 0.73 for the mean; at 27,
    0.50, 0.49, 0.68, 0.74 (the error sits in the repulsive core, U(5 Å) 0.1-10 kcal/mol). Through the
    closed loop on 20 held-out jobs the simulated tables' RDF r² rose from median 0.961 (min 0.31) to
    0.975 (0.76) against the MLP ensemble (benchmarks/README.md, issue 22). ``predict`` returns (mean,
    std), std from the scores' residual spread and the row's leverage, mapped onto the grid."""

    def __init__(self, max_degree: int = 2):
        self.max_degree = max_degree

    def fit(self, X, U, r=None):
        X, U = _potential_input(X, U)
        f = _log_d_aa_hat(X)
        self.r_ = None if r is None else np.asarray(r, dtype=float)
        self.mean_, self.components_ = principal_components(U)
        k = len(self.components_)
        scores = (U - self.mean_) @ self.components_.T
        # a degree needs two rows beyond its coefficients to be judged by leave-one-out
        degrees = [g for g in range(self.max_degree + 1) if g == 0 or len(U) >= g + 3]
        self.degree_ = min(degrees, key=lambda g: _loo_rmse(_design(f, g), scores)) if len(U) > 1 else 0
        A = _design(f, self.degree_)
        self.coef_ = np.linalg.lstsq(A, scores, rcond=None)[0]
        dof = len(U) - A.shape[1]
        rss = np.sum((scores - A @ self.coef_) ** 2, axis=0)
        self.sigma_ = np.sqrt(rss / dof) if dof > 0 else np.zeros(k)
        self.ata_inv_ = np.linalg.pinv(A.T @ A)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        A = _design(_log_d_aa_hat(np.asarray(X, dtype=float)), self.degree_)
        U = self.mean_ + (A @ self.coef_) @ self.components_
        leverage = np.einsum("ij,jk,ik->i", A, self.ata_inv_, A)
        var = (1 + leverage)[:, None] * ((self.sigma_ ** 2) @ (self.components_ ** 2))[None, :]
        return U, np.sqrt(var)


def principal_components(U, max_components: int = 6, kept: float = 0.999) -> tuple[np.ndarray, np.ndarray]:
    """(mean (m,), components (k, m)) of the rows of U: the fewest orthonormal components keeping `kept`
    of the variance, at most `max_components` and n - 1."""
    mean = U.mean(0)
    _, s, vt = np.linalg.svd(U - mean, full_matrices=False)
    share = np.cumsum(s ** 2) / max(float(np.sum(s ** 2)), 1e-300)
    k = int(min(max_components, np.searchsorted(share, kept) + 1, len(U) - 1))
    return mean, vt[:k]


def _potential_input(X, U) -> tuple[np.ndarray, np.ndarray]:
    """(X, U) as float arrays, or one ValueError naming the shapes or the non-finite values: both potential
    models check their training input here."""
    X, U = np.asarray(X, dtype=float), np.asarray(U, dtype=float)
    if X.ndim != 2 or U.ndim != 2 or X.shape[0] != U.shape[0] or len(U) < 1:
        raise ValueError(f"X must be (n, p) and U (n, m), got {X.shape}, {U.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(U))):
        raise ValueError("X and U must be finite")
    return X, U


def _design(f, degree: int) -> np.ndarray:
    return np.vander(np.asarray(f, dtype=float), degree + 1, increasing=True)


def _loo_rmse(A, Y) -> float:
    """Leave-one-out RMS error of the least-squares fit Y ≈ A c (the hat matrix's closed form)."""
    H = A @ np.linalg.pinv(A)
    lev = np.clip(np.diag(H), None, 1 - 1e-9)
    return float(np.sqrt(np.mean(((Y - H @ Y) / (1 - lev)[:, None]) ** 2)))


def _log_d_aa_hat(X) -> np.ndarray:
    """log D̂_AA (1e-9 m²/s) of the published-data model for the rows' 19 bonded parameters."""
    return np.log(_published_d_aa().predict(np.asarray(X, dtype=float)[:, :len(PARAMETER_NAMES)]))


# ----------------------------------------------------------------------------------------------
# persistence


def library_versions() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__,
            "sklearn": sklearn.__version__, "joblib": joblib.__version__}


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def save(model, path, metadata: dict | None = None) -> Path:
    """Write ``model`` and ``metadata`` (plus library versions) atomically to ``path``
    (joblib), and the metadata alone to ``path`` + ".json" for reading without unpickling.
    Metadata: e.g. training ids, grid, CV scores. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    meta.setdefault("versions", library_versions())
    meta.setdefault("model_class", f"{type(model).__module__}.{type(model).__qualname__}")
    files.write_with(path, lambda fh: joblib.dump({"model": model, "metadata": meta}, fh))
    text = json.dumps(meta, default=_jsonable, indent=1, sort_keys=True)
    files.write_text(path.with_name(path.name + ".json"), text)
    return path


def load(path):
    """Read what :func:`save` wrote: returns (model, metadata). Warns if the library versions
    differ from the running ones (pickles are not guaranteed across sklearn versions)."""
    path = Path(path)
    try:
        payload = joblib.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no saved model") from None
    if not isinstance(payload, dict) or "model" not in payload or "metadata" not in payload:
        raise ValueError(f"{path}: not a file written by mobcg.models.save")
    meta = payload["metadata"]
    saved = meta.get("versions", {})
    now = library_versions()
    diff = {k: (saved.get(k), now[k]) for k in ("numpy", "sklearn") if saved.get(k) != now[k]}
    if diff:
        warnings.warn(f"{path}: saved with other library versions {diff}", stacklevel=2)
    return payload["model"], meta
