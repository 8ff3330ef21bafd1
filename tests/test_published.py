"""Published-data models: calibrated intervals, exact GP algebra, shipped file, `predict` with no project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobcg import forcefield, published

REPO = Path(__file__).resolve().parents[1]
OPLS = forcefield.flatten(forcefield.OPLS_AA)


def _synthetic(n, seed, noise=0.3, p=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, p))
    f = np.sin(X[:, 0]) + 0.5 * X[:, 1] - 0.2 * X[:, 0] * X[:, 1]  # the third input is irrelevant
    return X, f + rng.normal(0.0, noise, n), f


def test_conformal_quantile_is_the_finite_sample_rank():
    s = np.arange(1, 20, dtype=float)  # 19 scores: 95 % needs rank ceil(20 * 0.95) = 19
    assert published.conformal_quantile(-s, 0.95) == 19.0
    assert published.conformal_quantile(s, 0.68) == 14.0  # ceil(20 * 0.68) = 14
    assert published.conformal_quantile(s[:10], 0.95) == np.inf  # too few to calibrate 95 %


def test_intervals_cover_at_their_level_on_a_problem_with_known_noise():
    """Gaussian noise 0.3: the calibrated 68/95 % intervals (both calibrations) hold 68/95 % of
    4000 new draws (± 4 %), and their half-width is the noise's own quantile (a model that only
    widened its intervals would fail)."""
    X, y, _ = _synthetic(150, 0)
    Xt, yt, _ = _synthetic(4000, 1)
    for calibration in ("cv", "loo"):
        m = published.GPModel("raw", "none", "rbf").fit(X, y, calibration=calibration)
        for level, z in ((0.68, 0.994), (0.95, 1.960)):
            lo, hi = m.interval(Xt, level)
            cover = np.mean((lo <= yt) & (yt <= hi))
            assert abs(cover - level) < 0.04, (calibration, level, cover)
            assert np.median(hi - lo) / 2 == pytest.approx(z * 0.3, rel=0.2)


def test_conformal_factors_repair_an_overconfident_gp():
    """Hyperparameters with a noise 100x too small: raw GP intervals undercover badly; the
    LOO-calibrated ones still hold their level."""
    X, y, _ = _synthetic(150, 2)
    good = published.GPModel("raw", "none", "rbf").fit(X, y, calibration="loo")
    bad = published.GPModel("raw", "none", "rbf", dict(good.hyper, noise=good.hyper["noise"] / 100))
    bad.condition(X, y)
    Xt, yt, _ = _synthetic(3000, 3)
    mu, sd = bad.latent(Xt)
    assert np.mean(np.abs(yt - mu) <= sd) < 0.5  # uncalibrated: far below 68 %
    lo, hi = bad.interval(Xt, 0.68)
    assert abs(np.mean((lo <= yt) & (yt <= hi)) - 0.68) < 0.06


def test_numpy_gp_equals_sklearn():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    X, y, _ = _synthetic(80, 4, p=19)
    y = np.exp(0.3 * y)
    m = published.GPModel("19", "log", "matern52").fit(X, y, calibration="loo")
    kernel = ConstantKernel(m.hyper["amplitude"]) * Matern(m.scales_, nu=2.5) + WhiteKernel(m.hyper["noise"])
    ref = GaussianProcessRegressor(kernel, optimizer=None, normalize_y=True).fit(
        (X - X.mean(0)) / X.std(0), np.log(y))
    Xt = _synthetic(20, 5, p=19)[0]
    mu, sd = ref.predict((Xt - X.mean(0)) / X.std(0), return_std=True)
    mu2, sd2 = m.latent(Xt)
    assert np.allclose(mu, mu2, atol=1e-8) and np.allclose(sd, sd2, atol=1e-8)


def test_shipped_models_are_for_the_vendored_data_and_measured():
    meta = json.loads(published.MODELS_FILE.read_text())
    assert meta["data"]["sha256"] == published.data_sha256()
    assert set(meta["models"]) == set(published.SPECS)
    for name, e in meta["models"].items():
        cv = e["cv"]
        if not cv:  # `python -m mobcg.published --score NAME` measures it; predict then says "CV not measured"
            assert name not in ("D_AA", "D_CG|D_AA"), name
            continue
        assert cv["n_splits"] == 10 and 0 < cv["r2_mean"] <= 1, name
        assert abs(cv["coverage_68"] - 0.68) <= 0.05 and abs(cv["coverage_95"] - 0.95) <= 0.05, (name, cv)


def test_predict_with_no_project(tmp_path):
    """In an empty folder: D_AA, D_CG, alpha with 68/95 % intervals, the numbers of the shipped
    models, a source line naming the published data; with --d-aa the models that take it."""
    (tmp_path / "params.json").write_text(json.dumps(OPLS))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "mobcg", "predict", "params.json", "--out", "out"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "params.json"]  # no project made
    models = published.load()
    expected = models.predict(forcefield.vector(forcefield.OPLS_AA))
    assert "published data, 234 sets" in proc.stdout and models.fingerprint in proc.stdout
    for target in ("D_AA", "D_CG", "alpha"):
        line = next(l for l in proc.stdout.splitlines() if l.startswith(f"{target} = "))
        value = float(line.split()[2])
        e = expected[target]
        assert value == pytest.approx(e["value"], rel=1e-3, abs=1e-3)
        lo68, hi68 = map(float, re.search(r"68 %: \[([^,]+), ([^\]]+)\]", line).groups())
        lo95, hi95 = map(float, re.search(r"95 %: \[([^,]+), ([^\]]+)\]", line).groups())
        assert lo95 <= lo68 < value < hi68 <= hi95
        assert [lo68, hi68] == pytest.approx(e["interval_68"], rel=1e-3, abs=1e-3)
        cv = e["cv"]
        if cv:
            assert f"R² {cv['r2_mean']:.2f}, coverage 68 % {100 * cv['coverage_68']:.0f} %" in line, line
        else:
            assert "CV not measured" in line
    saved = json.loads((tmp_path / "out" / "prediction.json").read_text())
    assert saved["source"] == "published" and saved["prediction"]["alpha"]["value"] == pytest.approx(
        expected["alpha"]["value"])

    proc = subprocess.run([sys.executable, "-m", "mobcg", "predict", "params.json", "--d-aa", "1.15"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    with_daa = models.predict(forcefield.vector(forcefield.OPLS_AA), d_aa=1.15)
    line = next(l for l in proc.stdout.splitlines() if l.startswith("D_CG = "))
    assert float(line.split()[2]) == pytest.approx(with_daa["D_CG"]["value"], rel=1e-3, abs=1e-3) and "+ D_AA" in line
    assert "D_AA = 1.15" in proc.stdout and "(given)" in proc.stdout


def test_project_models_trained_on_few_jobs_say_so():
    from mobcg import aggregate
    few = {"n": 4, "y": [1.0, 2.0, 3.0, 4.0], "pred": [1.1, 2.2, 2.7, 4.1]}
    assert aggregate.scalar_interval(2.0, few, 0.68) is None
    rng = np.random.default_rng(0)
    y = np.exp(rng.normal(0, 1, 40))
    many = {"n": 40, "y": y.tolist(), "pred": (y * np.exp(rng.normal(0, 0.2, 40))).tolist()}
    lo, hi = aggregate.scalar_interval(2.0, many, 0.68)
    assert lo < 2.0 < hi and 0.1 < np.log(hi / 2.0) < 0.4  # about the 0.2 log-scale spread


def test_project_models_are_used_and_say_when_untrustworthy(tmp_path):
    """A project trained on 8 (synthetic, finished) jobs: predict uses its models by default and says
    so, prints "untrustworthy" instead of an interval, writes the potential band beside the table;
    --models published still answers from the published data."""
    import signac

    from mobcg import aggregate
    from test_concurrency import fake_finished_job

    project = signac.init_project(tmp_path)
    rng = np.random.default_rng(3)
    for i, ff in enumerate(forcefield.sample(8, seed=5)):
        fake_finished_job(project, ff, i, rng)
    aggregate.build_datasets(list(project), tmp_path / "analysis")
    aggregate.train_models(tmp_path / "analysis")
    (tmp_path / "params.json").write_text(json.dumps(OPLS))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "mobcg", "predict", "params.json", "--out", "out"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "this project's" in proc.stdout and "± 0.00" not in proc.stdout
    for target in ("D_AA", "D_CG", "alpha"):
        line = next(l for l in proc.stdout.splitlines() if l.startswith(f"{target} = "))
        assert "untrustworthy: trained on 8 job(s), fewer than 10" in line and "68 %" not in line
    band = np.loadtxt(tmp_path / "out" / "structure_potential_band.csv", delimiter=",", skiprows=1)
    assert band.shape[1] == 3 and np.all(band[:, 2] >= 0) and np.any(band[:, 2] > 0)
    proc = subprocess.run([sys.executable, "-m", "mobcg", "predict", "params.json", "--models", "published"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "published data, 234 sets" in proc.stdout, proc.stderr
