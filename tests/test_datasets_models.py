import json

import numpy as np
import pytest

from mobcg import datasets as ds
from mobcg import models
from mobcg.forcefield import PARAMETER_NAMES

@pytest.fixture(autouse=True)
def _one_blas_thread():
    # tiny MLPs/GPs: multithreaded BLAS on a shared machine only oversubscribes the cores
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        yield


HAVE_REFERENCE = (ds.reference_dir() / ds.SYSTEMS_FILE).exists()
needs_reference = pytest.mark.skipif(not HAVE_REFERENCE, reason="reference data not present")


# ------------------------------------------------------------------------------ loading


@needs_reference
def test_load_reference_systems_shapes():
    s = ds.load_reference_systems()
    assert s.X.shape == (234, 19)
    assert s.D_AA.shape == s.D_CG.shape == s.alpha.shape == (234,)
    assert len(s.ids) == 234 and s.parameter_names == PARAMETER_NAMES
    assert s.X_with_daa().shape == (234, 20)
    # published alpha matches D_CG / D_AA to < 1 %
    assert np.allclose(s.alpha, s.D_CG / s.D_AA, rtol=0.01)
    assert 0.06 < s.D_AA.min() and s.D_AA.max() < 15.2
    t = ds.load_reference_systems(ds.reference_dir() / ds.IBI_TEST_SYSTEMS_FILE)
    assert t.X.shape == (9, 19) and t.ids[0] == "T1"


@needs_reference
def test_load_reference_pairs_rdfs_potentials():
    p = ds.load_reference_pairs()
    assert p.X_i.shape == (9, 19) and p.ids == [f"P{k}" for k in range(1, 10)]
    assert np.allclose(p.alpha_ij, p.D_CG_j / p.D_AA_i, rtol=0.01)
    # the pairing defaults admit every published pair
    assert np.all(np.abs(p.alpha_ij - 1) <= 0.2) and np.all(p.rdf_r2 >= 0.8)
    g = ds.load_reference_rdfs()
    assert g.ids == p.ids and g.r.shape == (481,) and g.g_aa.shape == g.g_cg.shape == (9, 481)
    u = ds.load_reference_potentials()
    assert u.r.shape == (1550,) and u.U.shape == (9, 1550) and u.ids[0] == "T1"
    up = ds.load_reference_potentials(ds.reference_dir() / ds.PAIRS_POTENTIALS_FILE)
    assert up.ids == p.ids


def test_reference_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MOBCG_REFERENCE", str(tmp_path))
    assert ds.reference_dir() == tmp_path


def _write_systems(path, rows):
    header = "\t".join(["system", "D_AA", "D_CG", "alpha", *PARAMETER_NAMES])
    path.write_text(header + "\n" + "\n".join("\t".join(r) for r in rows) + "\n")


def test_malformed_files_name_file_line_column(tmp_path):
    good = ["1", "1.0", "7.0", "7.0"] + ["1.5"] * 19
    f = tmp_path / "sys.tsv"
    _write_systems(f, [good, ["2", "1.0", "oops", "7.0"] + ["1.5"] * 19])
    with pytest.raises(ds.DatasetError, match=r"sys\.tsv: line 3, column 'D_CG'.*'oops'"):
        ds.load_reference_systems(f)
    _write_systems(f, [good, good[:10]])
    with pytest.raises(ds.DatasetError, match=r"sys\.tsv: line 3: 10 fields, header has 23"):
        ds.load_reference_systems(f)
    _write_systems(f, [good, ["2", "nan", "7.0", "7.0"] + ["1.5"] * 19])
    with pytest.raises(ds.DatasetError, match=r"sys\.tsv: line 3, column 'D_AA'.*non-finite"):
        ds.load_reference_systems(f)
    f.write_text("system\tD_AA\n1\t1.0\n")
    with pytest.raises(ds.DatasetError, match=r"sys\.tsv.*missing column\(s\) D_CG"):
        ds.load_reference_systems(f)
    with pytest.raises(ds.DatasetError, match=r"nothere\.tsv: file not found"):
        ds.load_reference_systems(tmp_path / "nothere.tsv")
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ds.DatasetError, match=r"sys\.tsv: cannot read"):
        ds.load_reference_systems(f)
    assert issubclass(ds.DatasetError, ValueError)
    r = tmp_path / "rdf.tsv"
    r.write_text("r_angstrom\tg_AA_P1\tg_CG_P1\n1.0\t0.5\t0.4\n1.0\t0.6\t0.5\n")
    with pytest.raises(ds.DatasetError, match=r"rdf\.tsv: line 3, column 'r_angstrom'"):
        ds.load_reference_rdfs(r)


# ------------------------------------------------------------------------------ pairing


def test_rdf_r2():
    g = np.linspace(0, 3, 50) ** 2
    assert ds.rdf_r2(g, g) == 1.0
    assert ds.rdf_r2(g, np.full_like(g, g.mean())) == pytest.approx(0.0)
    from sklearn.metrics import r2_score
    h = g + np.sin(np.arange(50))
    assert ds.rdf_r2(g, h) == pytest.approx(r2_score(g, h))


@pytest.mark.parametrize("seed", range(25))
def test_pairing_property(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 12)), int(rng.integers(3, 30))
    D_AA = rng.uniform(0.5, 2.0, n)
    D_CG = rng.uniform(0.5, 2.0, n)
    base = np.sin(np.linspace(0, 3, m))
    rdf_aa = base + rng.normal(0, rng.uniform(0.05, 0.6), (n, m))
    rdf_cg = base + rng.normal(0, rng.uniform(0.05, 0.6), (n, m))
    tol = float(rng.uniform(0.05, 0.5))
    r2_min = float(rng.uniform(0.0, 0.9))
    got = ds.pairing(D_AA, D_CG, rdf_aa, rdf_cg, tol=tol, r2_min=r2_min)
    expected = [(i, j) for i in range(n) for j in range(n)
                if i != j and abs(D_CG[j] / D_AA[i] - 1) <= tol
                and ds.rdf_r2(rdf_aa[i], rdf_cg[j]) >= r2_min]
    assert got == expected
    for i, j in got:
        assert i != j
        assert abs(D_CG[j] / D_AA[i] - 1) <= tol
        assert ds.rdf_r2(rdf_aa[i], rdf_cg[j]) >= r2_min


def test_pairing_never_pairs_self_and_checks_shapes():
    g = np.tile(np.linspace(0, 1, 10), (3, 1))
    D = np.ones(3)
    assert ds.pairing(D, D, g, g) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    with pytest.raises(ValueError):
        ds.pairing(D, D[:2], g, g)


# ------------------------------------------------------------------------------ models


def _lj_family(n, r, rng):
    sigma = rng.uniform(3.5, 5.0, n)
    eps = rng.uniform(0.2, 1.0, n)
    X = np.column_stack([sigma, eps, rng.uniform(0, 1, n)])  # last column is irrelevant
    s6 = (sigma[:, None] / r[None, :]) ** 6
    U = 4 * eps[:, None] * (s6 ** 2 - s6)
    return X, U


def test_potential_model_reproduces_lj_family():
    rng = np.random.default_rng(0)
    r = np.linspace(3.6, 12.0, 120)
    X, U = _lj_family(60, r, rng)
    Xt, Ut = _lj_family(20, r, rng)
    U, Ut = np.minimum(U, 5.0), np.minimum(Ut, 5.0)  # cap the repulsive wall, as tables do
    pm = models.PotentialModel(n_components=5, hidden_layer_sizes=(16, 16), n_members=3,
                                max_iter=300).fit(X, U, r=r)
    mean, std = pm.predict(Xt)
    assert mean.shape == std.shape == Ut.shape
    assert np.all(std >= 0)
    mse_model = np.mean((mean - Ut) ** 2)
    mse_mean = np.mean((U.mean(axis=0) - Ut) ** 2)
    assert mse_model < 0.1 * mse_mean, (mse_model, mse_mean)


def test_scalar_model_ensemble():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (80, 3))
    y = np.exp(X[:, 0] + 0.5 * X[:, 1] ** 2)
    sm = models.ScalarModel(n_members=3, target_transform="log", hidden_layer_sizes=(16,),
                            max_iter=300).fit(X[:60], y[:60])
    mean, std = sm.predict(X[60:])
    assert mean.shape == std.shape == (20,) and np.all(std >= 0) and np.all(mean > 0)
    assert np.mean((mean - y[60:]) ** 2) < 0.2 * np.var(y[60:])


def test_regressor_factories_and_cv_same_folds():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.uniform(0, 1, (40, 19)), rng.uniform(0.1, 10, 40)])
    y = X[:, -1] * (1 + X[:, 1])
    assert models.paper_random_forest().max_depth == 4
    for t in models.TARGETS:
        assert hasattr(models.our_regressor(t), "fit")
    with pytest.raises(ValueError):
        models.our_regressor("nope")
    rf = models.paper_random_forest().set_params(n_estimators=10)
    a = models.cross_validate_scores(rf, X, y, n_splits=4, n_repeats=2, seed=3)
    b = models.cross_validate_scores(rf, X, y, n_splits=4, n_repeats=2, seed=3)
    assert a["r2"].shape == (8,) and np.allclose(a["r2"], b["r2"])
    assert set(a) >= {"r2_mean", "r2_std", "mae_mean", "mae_std"}
    m = models.our_regressor("D_CG").fit(X, y)
    assert m.predict(X[:5]).shape == (5,)
    m = models.our_regressor("D_AA").fit(X[:, :19], X[:, -1])
    assert m.predict(X[:5, :19]).shape == (5,)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    r = np.linspace(3.6, 12.0, 40)
    X, U = _lj_family(20, r, rng)
    pm = models.PotentialModel(n_components=3, n_members=2, max_iter=200).fit(X, np.minimum(U, 5))
    meta = {"training_ids": [f"S{k}" for k in range(20)], "grid": r, "scores": {"r2": 0.9}}
    path = models.save(pm, tmp_path / "sub" / "pm.joblib", meta)
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    pm2, meta2 = models.load(path)
    assert meta2["training_ids"] == meta["training_ids"]
    assert np.array_equal(meta2["grid"], r) and meta2["scores"] == {"r2": 0.9}
    assert set(meta2["versions"]) >= {"python", "numpy", "sklearn"}
    for a, b in zip(pm.predict(X[:3]), pm2.predict(X[:3])):
        assert np.array_equal(a, b)
    side = json.loads((tmp_path / "sub" / "pm.joblib.json").read_text())
    assert side["training_ids"][0] == "S0" and len(side["grid"]) == 40
    with pytest.raises(ValueError):
        bad = tmp_path / "bad.joblib"
        import joblib
        joblib.dump([1, 2], bad)
        models.load(bad)
