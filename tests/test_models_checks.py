"""models: the regressors' documented configuration, input checks, ensemble seeding, target
transforms, CV bookkeeping and save/load metadata (issue 14: the mutants test_datasets_models.py left
alive). Fast: linear or tiny models only."""

import json
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import RepeatedKFold
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from mobcg import models


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        yield


# ------------------------------------------------------------------------------ configuration


def _expected_kernel(n, nu):
    base = RBF(np.ones(n), (1e-2, 1e3)) if nu is None else Matern(np.ones(n), (1e-2, 1e3), nu=nu)
    return ConstantKernel(1.0, (1e-3, 1e3)) * base + WhiteKernel(0.1, (1e-5, 1.0))


@pytest.mark.parametrize("target, nu, n, with_daa, func, inverse", [
    ("D_AA", 2.5, 19, False, np.log, np.exp),
    ("D_CG", None, 22, True, np.log1p, np.expm1),
    ("alpha", None, 22, True, np.log1p, np.expm1),
])
def test_our_regressor_is_the_documented_gp(target, nu, n, with_daa, func, inverse):
    for seed, expected_seed in ((None, 0), (7, 7)):
        reg = models.our_regressor(target) if seed is None else models.our_regressor(target, random_state=seed)
        assert reg.func is func and reg.inverse_func is inverse
        names = [type(step).__name__ for _, step in reg.regressor.steps]
        assert names == ["PhysicalFeatures", "StandardScaler", "QuietGaussianProcessRegressor"]
        assert reg.regressor.steps[0][1].with_daa is with_daa
        gp = reg.regressor.steps[-1][1]
        assert gp.normalize_y is True and gp.n_restarts_optimizer == 0 and gp.random_state == expected_seed
        assert repr(gp.kernel) == repr(_expected_kernel(n, nu))
        expected = _expected_kernel(n, nu).get_params()
        for key, value in gp.kernel.get_params().items():
            if not hasattr(value, "get_params"):
                assert np.all(np.asarray(value == expected[key])), key
    with pytest.raises(ValueError) as info:
        models.our_regressor("D_XX")
    assert str(info.value) == "unknown target 'D_XX'; expected one of ('D_AA', 'D_CG', 'alpha')"


def test_paper_random_forest_defaults():
    rf = models.paper_random_forest()
    assert rf.max_depth == 4 and rf.random_state == 0 and models.paper_random_forest(3).random_state == 3


def test_quiet_gp_silences_only_convergence_warnings(monkeypatch):
    def noisy_fit(self, X, y):
        warnings.warn("bound reached", ConvergenceWarning)
        warnings.warn("something else", UserWarning)
        return self
    monkeypatch.setattr(GaussianProcessRegressor, "fit", noisy_fit)
    gp = models.QuietGaussianProcessRegressor()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert gp.fit(np.zeros((2, 1)), np.zeros(2)) is gp
    assert [(w.category, str(w.message)) for w in caught] == [(UserWarning, "something else")]


def test_defaults_of_the_ensembles():
    assert models.ScalarModel().get_params() == {
        "base": None, "n_members": 5, "target_transform": None, "hidden_layer_sizes": (32, 32),
        "alpha": 1e-2, "max_iter": 2000, "seed": 0}
    assert models.PotentialModel().get_params() == {
        "n_components": 6, "hidden_layer_sizes": (32, 32), "alpha": 1e-3, "n_members": 5,
        "max_iter": 3000, "seed": 0}
    assert models.PhysicalFeatures().with_daa is False


# ------------------------------------------------------------------------------ PhysicalFeatures


def test_physical_features_values_and_checks():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2.0, (4, 19))
    assert np.array_equal(models.PhysicalFeatures().fit(X).transform(X), X)
    daa = np.array([0.25, 1.0, 2.0, 8.0])
    Xd = np.column_stack([X, daa])
    f = models.PhysicalFeatures(with_daa=True).fit(Xd)
    assert f.n_features_in_ == 20
    out = f.transform(Xd)
    assert out.shape == (4, 22)
    np.testing.assert_array_equal(out[:, :19], X)
    np.testing.assert_allclose(out[:, 19:], np.column_stack([np.log(daa), 1 / daa, daa]), rtol=1e-15)
    for bad, shape in ((np.ones(20), "(20,)"), (np.ones((3, 19)), "(3, 19)"), (np.ones((2, 21)), "(2, 21)")):
        with pytest.raises(ValueError) as info:
            models.PhysicalFeatures(with_daa=True).fit(bad)
        assert str(info.value) == f"expected 20 input columns, got shape {shape}"
    for bad, shape in ((np.ones(20), "(20,)"), (np.ones((3, 19)), "(3, 19)")):
        with pytest.raises(ValueError) as info:
            f.transform(bad)
        assert str(info.value) == f"expected 20 input columns, got shape {shape}"
    for value in (0.0, -1.0):
        bad = Xd.copy()
        bad[2, -1] = value
        with pytest.raises(ValueError) as info:
            f.transform(bad)
        assert str(info.value) == "D_AA (last column) must be > 0"
    X_neg = Xd.copy()
    X_neg[:, 0] = -3.0  # only the last column must be positive
    assert f.transform(X_neg)[0, 0] == -3.0


# ------------------------------------------------------------------------------ ScalarModel


class _Warner(BaseEstimator, RegressorMixin):
    """A base whose fit warns twice: the ensemble hides only the ConvergenceWarning."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        warnings.warn("not converged", ConvergenceWarning)
        warnings.warn("look here", UserWarning)
        self.c_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.c_)


def test_scalar_model_transforms_are_exact_with_a_linear_base():
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (30, 3))
    a = np.array([0.5, -1.0, 2.0])
    for transform, y in ((None, X @ a + 3.0), ("log", np.exp(X @ a)), ("log1p", np.expm1(X @ a + 3.0))):
        sm = models.ScalarModel(base=LinearRegression(), n_members=2, target_transform=transform).fit(X, y)
        assert sm.n_features_in_ == 3 and len(sm.members_) == 2
        assert all(isinstance(m, LinearRegression) for m in sm.members_)
        mean, std = sm.predict(X[:5])
        np.testing.assert_allclose(mean, y[:5], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(std, 0.0, atol=1e-9)
    with pytest.raises(ValueError) as info:
        models.ScalarModel(base=LinearRegression(), target_transform="sqrt").fit(X, X[:, 0])
    assert str(info.value) == "unknown target_transform 'sqrt'"


def test_scalar_model_checks_shapes():
    sm = models.ScalarModel(base=LinearRegression(), n_members=1)
    for X, y, shapes in ((np.ones(4), np.ones(4), "(4,), (4,)"), (np.ones((4, 2)), np.ones(3), "(4, 2), (3,)")):
        with pytest.raises(ValueError) as info:
            sm.fit(X, y)
        assert str(info.value) == f"X must be (n, p) and y (n,), got {shapes}"


def test_scalar_model_members_get_consecutive_seeds():
    X = np.random.default_rng(5).uniform(-1, 1, (20, 2))
    y = X[:, 0] ** 2
    sm = models.ScalarModel(n_members=3, hidden_layer_sizes=(4,), max_iter=20, seed=10).fit(X, y)
    assert [type(s) for _, s in sm.members_[0].steps] == [StandardScaler, MLPRegressor]
    assert [m.steps[-1][1].random_state for m in sm.members_] == [10, 11, 12]
    mlp = sm.members_[0].steps[-1][1]
    assert (mlp.hidden_layer_sizes, mlp.max_iter, mlp.alpha, mlp.solver) == ((4,), 20, 1e-2, "lbfgs")
    assert models.ScalarModel(n_members=1, alpha=0.5, max_iter=5).fit(X, y).members_[0].steps[-1][1].alpha == 0.5
    bare = models.ScalarModel(base=MLPRegressor(hidden_layer_sizes=(3,), max_iter=5), n_members=2, seed=4).fit(X, y)
    assert [m.random_state for m in bare.members_] == [4, 5]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warner = models.ScalarModel(base=_Warner(), n_members=2, seed=1).fit(X, y)
    assert [w.category for w in caught] == [UserWarning, UserWarning]
    assert [m.random_state for m in warner.members_] == [1, 2]


# ------------------------------------------------------------------------------ PotentialModel


def _curves(n, m, rng):
    X = rng.uniform(0, 1, (n, 2))
    r = np.linspace(1, 2, m)
    return X, X[:, :1] * np.sin(3 * r) + X[:, 1:] * r


def test_potential_model_components_and_record():
    rng = np.random.default_rng(6)
    X, U = _curves(8, 5, rng)
    small = dict(hidden_layer_sizes=(3,), n_members=2, max_iter=30)
    pm = models.PotentialModel(n_components=6, **small).fit(X, U, r=[1, 2, 3, 4, 5])
    assert pm.pca_.n_components_ == 5 and pm.n_features_in_ == 2 and pm.n_points_ == 5  # k <= m
    assert pm.r_.dtype == float and np.array_equal(pm.r_, [1, 2, 3, 4, 5])
    assert models.PotentialModel(n_components=6, **small).fit(X[:4], U[:4]).pca_.n_components_ == 3  # k <= n - 1
    pm1 = models.PotentialModel(n_components=1, **small).fit(X, U)
    assert pm1.r_ is None and pm1.pca_.n_components_ == 1
    assert pm1.predict(X[:3])[0].shape == (3, 5)
    assert models.PotentialModel(n_components=6, **small).fit(X[:2], U[:2]).pca_.n_components_ == 1
    pm2 = models.PotentialModel(n_components=2, **small).fit(X, U)
    mean, std = pm2.predict(X[:3])
    assert mean.shape == std.shape == (3, 5)
    # members: seeds seed, seed + 1, ...; the same seed gives the same fit
    assert [m.random_state for m in pm2.members_] == [0, 1]
    assert [(m.alpha, m.solver, m.max_iter) for m in pm2.members_] == [(1e-3, "lbfgs", 30)] * 2
    again = models.PotentialModel(n_components=2, **small).fit(X, U).predict(X[:3])
    np.testing.assert_array_equal(again[0], mean)
    np.testing.assert_array_equal(again[1], std)
    assert np.all(std[:, 1:] > 0)


def test_potential_model_is_reproducible_on_a_wide_grid():
    # 12 x 600 points: sklearn's PCA picks its randomized solver, so the seed must reach it too
    X, U = _curves(12, 600, np.random.default_rng(9))
    U = U + np.random.default_rng(10).normal(0, 0.01, U.shape)
    fits = [models.PotentialModel(n_components=3, hidden_layer_sizes=(3,), n_members=1, max_iter=10).fit(X, U)
            for _ in range(2)]
    assert fits[0].pca_._fit_svd_solver == "randomized"
    np.testing.assert_array_equal(fits[0].pca_.components_, fits[1].pca_.components_)
    np.testing.assert_array_equal(fits[0].predict(X[:2])[0], fits[1].predict(X[:2])[0])


@pytest.mark.parametrize("make", [lambda: models.PotentialModel(n_members=1), models.MobilityPotentialModel],
                         ids=["PotentialModel", "MobilityPotentialModel"])
def test_potential_models_check_input(make):
    """One clear error for shapes (no rows included) and non-finite values, the same from both potential
    models (a NaN would otherwise pass silently into the PCA and every prediction)."""
    X, U = np.ones((4, 2)), np.ones((4, 3))
    pm = make()
    for a, b, shapes in ((np.ones(4), U, "(4,), (4, 3)"), (X, np.ones(4), "(4, 2), (4,)"),
                         (X, np.ones((5, 3)), "(4, 2), (5, 3)"), (np.ones((0, 2)), np.ones((0, 3)), "(0, 2), (0, 3)")):
        with pytest.raises(ValueError) as info:
            pm.fit(a, b)
        assert str(info.value) == f"X must be (n, p) and U (n, m), got {shapes}"
    for a, b in ((np.where(np.eye(4, 2), np.nan, 1.0), U), (X, np.where(np.eye(4, 3), np.inf, 1.0))):
        with pytest.raises(ValueError) as info:
            pm.fit(a, b)
        assert str(info.value) == "X and U must be finite"


def test_potential_model_hides_only_convergence_warnings(monkeypatch):
    monkeypatch.setattr(models, "_default_mlp", lambda *args: _Warner())
    X, U = _curves(6, 4, np.random.default_rng(7))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models.PotentialModel(n_members=2).fit(X, U)
    assert [w.category for w in caught] == [UserWarning, UserWarning]


# ------------------------------------------------------------------------------ cross-validation


def test_cross_validate_scores_default_folds_and_signs():
    rng = np.random.default_rng(8)
    X = rng.uniform(0, 1, (30, 2))
    y = X @ [1.0, -2.0] + rng.normal(0, 0.3, 30)
    res = models.cross_validate_scores(LinearRegression(), X, y)
    assert (res["n_splits"], res["n_repeats"], res["seed"]) == (10, 5, 0)
    cv = RepeatedKFold(n_splits=10, n_repeats=5, random_state=0)
    r2, mae = [], []
    for train, test in cv.split(X):
        pred = LinearRegression().fit(X[train], y[train]).predict(X[test])
        r2.append(1 - np.sum((y[test] - pred) ** 2) / np.sum((y[test] - y[test].mean()) ** 2))
        mae.append(np.mean(np.abs(y[test] - pred)))
    np.testing.assert_allclose(res["r2"], r2, rtol=1e-10)
    np.testing.assert_allclose(res["mae"], mae, rtol=1e-10)
    assert res["r2_mean"] == pytest.approx(np.mean(r2)) and res["r2_std"] == pytest.approx(np.std(r2))
    assert res["mae_mean"] == pytest.approx(np.mean(mae)) and res["mae_std"] == pytest.approx(np.std(mae))
    other = models.cross_validate_scores(LinearRegression(), X, y, n_splits=3, n_repeats=2, seed=1)
    assert (other["n_splits"], other["n_repeats"], other["seed"]) == (3, 2, 1) and other["r2"].shape == (6,)


# ------------------------------------------------------------------------------ persistence


def test_library_versions_names_the_pickling_libraries():
    import platform

    import joblib
    import sklearn
    assert models.library_versions() == {"python": platform.python_version(), "numpy": np.__version__,
                                         "sklearn": sklearn.__version__, "joblib": joblib.__version__}


def test_save_metadata_side_file(tmp_path):
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
    path = models.save(model, tmp_path / "a" / "b" / "m.joblib",
                       {"where": tmp_path / "x", "kinds": {3, 4}, "n": np.int64(5), "grid": np.arange(2.0)})
    side = (tmp_path / "a" / "b" / "m.joblib.json").read_text()
    meta = json.loads(side)
    assert meta["where"] == str(tmp_path / "x") and meta["kinds"] == "{3, 4}" and meta["n"] == 5
    assert meta["grid"] == [0.0, 1.0] and meta["model_class"] == "sklearn.linear_model._base.LinearRegression"
    assert list(meta) == sorted(meta) and side.index('"grid"') < side.index('"kinds"')  # stable order
    models.save(model, tmp_path / "a" / "b" / "m2.joblib")  # into an existing folder
    loaded, meta2 = models.load(tmp_path / "a" / "b" / "m2.joblib")
    assert loaded.predict([[3.0]])[0] == pytest.approx(6.0) and meta2["versions"] == models.library_versions()
    assert models.save(models.PotentialModel(), tmp_path / "p.joblib") == tmp_path / "p.joblib"
    assert models.load(tmp_path / "p.joblib")[1]["model_class"] == "mobcg.models.PotentialModel"
    mine = models.save(model, tmp_path / "c.joblib", {"model_class": "mine", "versions": {"numpy": "1"}})
    with pytest.warns(UserWarning):
        assert models.load(mine)[1]["model_class"] == "mine"  # given metadata is kept


def test_load_errors_and_version_warnings(tmp_path, monkeypatch):
    import joblib
    with pytest.raises(FileNotFoundError) as info:
        models.load(tmp_path / "none.joblib")
    assert str(info.value) == f"{tmp_path / 'none.joblib'}: no saved model"
    for payload in ([1, 2], {"model": 1}, {"metadata": {}}):
        joblib.dump(payload, tmp_path / "bad.joblib")
        with pytest.raises(ValueError) as info:
            models.load(tmp_path / "bad.joblib")
        assert str(info.value) == f"{tmp_path / 'bad.joblib'}: not a file written by mobcg.models.save"
    path = models.save(LinearRegression(), tmp_path / "m.joblib")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.load(path)  # same versions: silent
    now = models.library_versions()
    monkeypatch.setattr(models, "library_versions", lambda: {**now, "sklearn": "0.1", "python": "2.7"})
    with pytest.warns(UserWarning) as caught:
        models.load(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: saved with other library versions {{'sklearn': ({now['sklearn']!r}, '0.1')}}"]
    assert not caught[0].filename.endswith("models.py")  # points at the caller (stacklevel 2)
    joblib.dump({"model": 1, "metadata": {}}, tmp_path / "old.joblib")
    with pytest.warns(UserWarning) as caught:
        assert models.load(tmp_path / "old.joblib") == (1, {})
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'old.joblib'}: saved with other library versions "
        f"{{'numpy': (None, {now['numpy']!r}), 'sklearn': (None, '0.1')}}"]
