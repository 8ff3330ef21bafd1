"""The DPD friction predicted from the AA mobility (mobcg.models.FrictionModel), on the campaign release
the repository ships (data/campaign-2026-12: the matched frictions of its trusted liquids, kcal fs/(mol Å²)).

The friction that slows the structure-preserving CG liquid to the AA mobility spans nearly an order of
magnitude and follows D_AA; tens of jobs cannot learn it from the 19 parameters, while the published-data
D_AA model (234 sets) predicts the mobility well enough to carry it. Leave-one-out on the release: the
friction model's RMSE of log γ is below the mean's (0.49 against 0.71 on 20 matched jobs, 0.50 against
0.73 on 24); the 19-parameter regression's was 0.77 on 20 and 0.52 on 24."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mobcg import aggregate, campaign_models, models

RELEASE = Path(__file__).resolve().parents[1] / "data" / "campaign-2026-12"


@pytest.fixture(scope="module")
def frictions():
    data = campaign_models.training_sets(RELEASE)
    known = np.isfinite(data["gamma"])
    return data["X"][known], data["gamma"][known]


def loo_rmse(residuals) -> float:
    return float(np.sqrt(np.mean(np.square(residuals))))


def test_the_friction_follows_the_predicted_mobility(frictions):
    X, gamma = frictions
    assert len(gamma) >= 20 and gamma.max() / gamma.min() > 5  # nearly a decade to predict (5e3-4e4)
    ours = loo_rmse(models.FrictionModel.loo_residuals(X, gamma))
    y = np.log(gamma)
    mean = loo_rmse([y[i] - np.delete(y, i).mean() for i in range(len(y))])
    keep = np.ones(len(y), bool)
    scalar = []
    for i in range(len(y)):  # the regression on the 19 parameters that aggregate trained before
        keep[i] = False
        scalar.append(y[i] - np.log(aggregate._scalar_model().fit(X[keep], gamma[keep]).predict(X[i:i + 1])[0][0]))
        keep[i] = True
    print(f"LOO RMSE of log gamma: friction model {ours:.2f}, mean {mean:.2f}, 19-parameter regression {loo_rmse(scalar):.2f}")
    # (the regression on the parameters catches up as jobs come: 0.77 at 20 jobs, 0.52 at 24; not asserted)
    assert ours < 0.6 and ours < 0.8 * mean, (ours, mean, loo_rmse(scalar))
    slope = models.FrictionModel().fit(X, gamma).coef_[0]
    assert slope < -0.2  # faster all-atom liquids need less friction


def test_a_job_is_predicted_with_its_spread(frictions):
    X, gamma = frictions
    model = models.FrictionModel().fit(X[1:], gamma[1:])
    value, std = model.predict(X[:1])
    assert std[0] == pytest.approx(value[0] * model.sigma_) and 0.2 < model.sigma_ < 0.8
    assert abs(np.log(value[0] / gamma[0])) < 3 * model.sigma_
