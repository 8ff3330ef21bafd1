"""The Newton-type IBI updates against closed-form answers (no MD): the inverse Monte Carlo Jacobian of
an ideal gas, the size and sign of the pressure constraint (checked
with a virial integral written out here), and the warm start (the PMF plus a correction linear in the density)."""

import json

import numpy as np
import pytest

from mobcg import aggregate, cg, ibi, models, target

T = 298.15
KT = ibi.KB * T
DR = 0.1
R = (np.arange(140) + 0.5) * DR  # bin centres, 0.05 .. 13.95 Å
RC = 13.0
ATM_PER_KCAL_MOL_A3 = 4184.0 / 6.02214076e23 / 1e-30 / 101325.0  # ≈ 68568 atm


def soft(r):
    """A smooth one-bead potential (kcal/mol): wall below 5 Å, well of -0.5 at 6 Å, 0 from RC on."""
    u = 0.5 * ((6.0 / np.maximum(r, 4.0)) ** 12 - 2 * (6.0 / np.maximum(r, 4.0)) ** 6)
    return np.where(r < RC, u - 0.5 * ((6.0 / RC) ** 12 - 2 * (6.0 / RC) ** 6), 0.0)


def test_imc_jacobian_of_an_ideal_gas_is_minus_beta_on_the_diagonal():
    """Non-interacting points: pair counts per bin are Poisson and independent, so
    dg_a/dU_b = -β g_a δ_ab with g = 1 (the exact linear response of an ideal gas)."""
    from mobcg import analysis
    rng = np.random.default_rng(3)
    L = 30.0
    pos = rng.uniform(0, L, size=(1500, 60, 3))
    boxes = np.full((1500, 3), L)
    r, g, counts, norms = analysis.rdf_frames(pos, boxes, 12.0, 12)
    assert np.allclose(counts.sum(0) / norms.sum(0), g)
    J = ibi.imc_jacobian(counts, norms.mean(0), T)
    diag = np.diag(J)[4:]  # bins from 4 Å: enough pairs for a 5 % estimate
    assert np.allclose(diag * KT, -1.0, atol=0.1)
    off = J[4:, 4:] - np.diag(np.diag(J)[4:])
    assert np.mean(np.abs(off)) * KT < 0.05  # sampling noise only: 1500 frames


def virial_pressure(U, g, rho):
    """P_excess = -(2π/3) ρ² ∫ r³ U'(r) g(r) dr in atm, rho in 1/Å³ (trapezoid on R)."""
    return -2 * np.pi / 3 * rho ** 2 * np.trapezoid(R ** 3 * np.gradient(U, R) * g, R) * ATM_PER_KCAL_MOL_A3


@pytest.mark.parametrize("P", [900.0, -400.0])
def test_newton_step_moves_the_virial_pressure_to_its_target(P):
    """With g already at its target the step changes structure nothing (dilute Jacobian: no change is
    asked for), so all it does is meet the pressure: the virial pressure of g_target under U_next
    differs from that under U by P_target - P, with the sign that pulls a too-high pressure down."""
    rho = 0.0038
    g = np.exp(-soft(R) / KT)
    U = ibi.extend_core(R, soft(R), int(np.flatnonzero(g > ibi.G_MIN)[0]), T)  # as the driver keeps U
    J = np.diag(-g / KT)
    P_target = 1.0
    U_next = ibi.newton_update(U, g, g, T, R, rho, RC, P=P, P_target=P_target, jacobian=J, max_step=10.0,
                               tail_width=0.0)
    dP = virial_pressure(U_next, g, rho) - virial_pressure(U, g, rho)
    assert dP == pytest.approx(P_target - P, rel=0.05)
    mid = (R > 6.5) & (R < 11)
    if P > P_target:  # too high: the new potential is more attractive (lower) out there
        assert np.all(U_next[mid] < U[mid])
    else:
        assert np.all(U_next[mid] > U[mid])
    assert np.all(U_next[R >= RC] == 0.0)
    # no pressure target and g at its target: a fixed point
    assert np.allclose(ibi.newton_update(U, g, g, T, R, rho, RC, jacobian=J), U)


def test_newton_step_solves_the_linear_problem_it_is_given():
    """If g responds exactly linearly (g = g0 + J ΔU), one unregularised step from g0 lands on g_target
    (up to the force parametrisation, which fixes ΔU = 0 at the cut-off)."""
    U = soft(R)
    g0 = np.exp(-U / KT)
    J = np.diag(-g0 / KT)
    dU_true = 0.3 * KT * np.exp(-((R - 7.5) / 1.0) ** 2)  # a bump, ~0 at RC
    g_target = g0 + J @ dU_true
    U_next = ibi.newton_update(U, g0, g_target, T, R, 0.0038, RC, jacobian=J, reg=1e-6, tail_width=0.0)
    sampled = (g0 > 0.05) & (R < RC - 0.5)
    assert np.allclose((U_next - U)[sampled], dU_true[sampled], atol=0.01 * KT)


def test_warm_start_is_the_pmf_plus_a_correction_linear_in_the_density(tmp_path):
    """aggregate.fit_start_correction fits what converged tables added to their PMF starts as a(r) + rho b(r)
    (models/ibi_start.json); aggregate.warm_start reads it back and cg.start_potential puts it on a new
    target's PMF at that job's density, with U(r_cut) = 0; its leave-one-out error is 0 for tables that
    are such a line, and the PMF's own error is the correction's RMS. Another molecule, no file, or a
    broken one: the PMF (the last with a line saying why). Fewer than 3 rows: the mean correction."""
    from mobcg import molecule

    r = np.round(np.arange(5.0, 12.0, 0.01), 4)
    a_true = 0.3 * np.exp(-(r - 6.0) ** 2)  # kcal/mol: a well deeper than the PMF's,
    b_true = -80.0 * np.exp(-(r - 7.5) ** 2)  # and a many-body part growing with the density
    rho = np.array([0.0025, 0.0030, 0.0034, 0.0040])  # beads/Å³
    pmf = np.array([soft(r) * (1 + 0.1 * k) for k in range(4)])
    analysis_dir = tmp_path / "analysis"
    (analysis_dir / "models").mkdir(parents=True)
    data = {"r": r, "U": pmf + a_true + rho[:, None] * b_true, "U_pmf": pmf, "rho": rho}
    scores = aggregate.fit_start_correction(analysis_dir, data, np.ones(4, bool), [molecule.DEFAULT], "abc123")
    expected_pmf_rmse = np.sqrt(np.mean((a_true + rho[:, None] * b_true) ** 2))
    assert scores["n"] == 4 and scores["loo_rmse"] < 1e-9 and scores["pmf_rmse"] == pytest.approx(expected_pmf_rmse)
    start = aggregate.warm_start(analysis_dir)
    assert start.source == "pmf+correction:abc123"
    g_target = np.exp(-soft(R) / KT)
    U0, source = cg.start_potential(R, g_target, T, RC, start, rho=0.0036)
    assert source == "pmf+correction:abc123"
    sampled = (g_target > ibi.G_MIN) & (R >= 5.0) & (R < RC - 1.0)  # (pmf_start switches U off over 1 Å)
    truth = ibi.pmf_start(R, g_target, T, RC) + np.interp(R, r, a_true + 0.0036 * b_true)
    shift = np.interp(RC, R, truth)  # U(r_cut) = 0
    assert np.allclose(U0[sampled], truth[sampled] - shift, atol=1e-3)
    assert np.all(U0[R >= RC] == 0.0) and np.all(np.diff(U0[~sampled & (R < 5)]) < 0)
    # the job's own density matters: 0.0036 against 0.0025 moves the start by 0.0011 b
    U_low, _ = cg.start_potential(R, g_target, T, RC, start, rho=0.0025)
    at = np.argmin(np.abs(R - 7.45))
    assert U0[at] - U_low[at] == pytest.approx(0.0011 * -80.0 * np.exp(-0.05 ** 2), rel=0.02)

    assert aggregate.warm_start(analysis_dir, "n-octane") is None
    assert aggregate.warm_start(tmp_path / "none") is None
    assert cg.start_potential(R, g_target, T, RC, None) == (None, "pmf")
    (analysis_dir / aggregate.IBI_START).write_text("not a correction")
    lines = []
    assert aggregate.warm_start(analysis_dir, progress=lines.append) is None
    assert len(lines) == 1 and "unusable" in lines[0] and "PMF" in lines[0]
    two = {k: v[:2] for k, v in data.items() if k != "r"} | {"r": r}
    scores = aggregate.fit_start_correction(analysis_dir, two, np.ones(2, bool), [molecule.DEFAULT], "abc123")
    mean = aggregate.warm_start(analysis_dir)
    assert not scores["linear"] and np.allclose(mean.a, a_true + rho[:2].mean() * b_true) and not np.any(mean.b)

    calls = []

    def engine(U, k, workdir):
        calls.append(k)
        return np.exp(-U / KT), None

    res = ibi.run_ibi(R, g_target, None, T, engine, tmp_path / "ibi", RC, p_tol=None, max_iterations=1, tol=1e-12,
                      U_start=U0, start=source, progress=None)
    assert np.allclose(res.iterations[0].U, U0) and res.start == source
    assert json.loads((tmp_path / "ibi" / ibi.SUMMARY_NAME).read_text())["start"] == source
    again = ibi.run_ibi(R, g_target, None, T, engine, tmp_path / "ibi", RC, p_tol=None, max_iterations=2, tol=1e-12,
                        progress=None)  # resumed without naming a start: keeps the model's
    assert again.start == source and calls == [0, 1]


def test_a_deviation_within_the_sampling_noise_counts_as_converged(tmp_path):
    """√(target_noise² + run noise²) = 5 %: an iteration at 4 % deviation is converged (nothing a longer
    IBI could tell from noise), one at 6 % is not; with stop_within_noise=False only tol counts. The noise
    is recorded per iteration."""
    g_target = np.exp(-soft(R) / KT)
    devs = {}

    def engine(scale):
        def sim(U, k, workdir):
            g = g_target * (1 + scale)  # deviation = scale
            return ibi.Sample(g, None, None, 0.04)
        return sim

    for scale, within in ((0.04, True), (0.06, True), (0.04, False)):
        res = ibi.run_ibi(R, g_target, None, T, engine(scale), tmp_path / f"{scale}{within}", RC, p_tol=None,
                          max_iterations=2, tol=0.01, target_noise=0.03, stop_within_noise=within, progress=None)
        devs[(scale, within)] = (res.converged, len(res.iterations))
        assert res.iterations[0].noise == pytest.approx(0.05)
        assert res.iterations[0].deviation == pytest.approx(scale, rel=1e-3)
    assert devs == {(0.04, True): (True, 1), (0.06, True): (False, 2), (0.04, False): (False, 2)}
    summary = json.loads((tmp_path / "0.04True" / ibi.SUMMARY_NAME).read_text())
    assert summary["iterations"][0]["noise"] == pytest.approx(0.05)


def test_newton_steps_that_make_the_rdf_worse_are_backtracked(tmp_path):
    """A Jacobian 0.3 times the true response makes every full Newton step overshoot 3.3-fold, so
    followed blindly the RDF error grows 2.3-fold per iteration. The driver instead retries the best
    potential's step halved: the error falls below half the start within 8 runs, and no run
    is more than 4 times worse than the start (overshoots, each followed by a shorter step)."""
    U_true = ibi.extend_core(R, soft(R), int(np.flatnonzero(np.exp(-soft(R) / KT) > ibi.G_MIN)[0]), T)
    g_target = np.exp(-U_true / KT)
    bump = 0.2 * KT * np.exp(-((R - 8.0) / 1.0) ** 2) * (R < RC)

    def sim(U, k, workdir):
        g = np.exp(-U / KT)
        return ibi.Sample(g, None, np.diag(-0.3 * g / KT), None)

    res = ibi.run_ibi(R, g_target, None, T, sim, tmp_path, RC, p_tol=None, max_iterations=8, tol=1e-4,
                      method="imc", density=0.0038, reg=1e-6, U_start=U_true + bump, progress=None)
    devs = [it.deviation for it in res.iterations]
    assert devs[1] > ibi.WORSE * devs[0]  # the first full step overshot
    assert max(devs) < 4 * devs[0]
    assert min(devs) < 0.5 * devs[0] and res.deviation == min(devs)


def test_target_noise_normalises_each_half_by_its_own_volumes():
    """An NPT target whose box differs between the halves (ideal gas: g = 1 in both) has no structural
    difference to report: the half-against-half noise must not count the density change (+15.8 % here)
    as a deviation, while g over all frames is freud's."""
    from mobcg import analysis
    rng = np.random.default_rng(5)
    sizes = np.r_[np.full(300, 20.0), np.full(300, 21.0)]
    pos = np.stack([rng.uniform(0, L, size=(60, 3)) for L in sizes])
    boxes = np.repeat(sizes[:, None], 3, axis=1)
    r, g, noise = target.rdf(pos, boxes, 9.0, 9)
    assert np.allclose(g, analysis.rdf(pos, boxes, 9.0, 9)[1])
    assert noise < 0.02  # sampling only; counting the density change would give ≈ 0.04


def test_newton_regularisation_relaxes_once_the_rdf_is_near_its_target(tmp_path):
    """reg damps the steps taken far from the target; from the first iteration whose deviation is below
    reg_switch on, the step is regularised with reg_near instead (each step checked against
    newton_update with the expected reg, and the two regs give different steps)."""
    U_true = ibi.extend_core(R, soft(R), int(np.flatnonzero(np.exp(-soft(R) / KT) > ibi.G_MIN)[0]), T)
    g_target = np.exp(-U_true / KT)
    bump = 0.6 * KT * np.exp(-((R - 7.0) / 0.8) ** 2) * (R < RC)

    def sim(U, k, workdir):
        g = np.exp(-U / KT)
        return ibi.Sample(g, None, np.diag(-g / KT), None)

    res = ibi.run_ibi(R, g_target, None, T, sim, tmp_path, RC, p_tol=None, max_iterations=4, tol=1e-6,
                      method="imc", density=0.0038, reg=0.1, reg_near=0.02, reg_switch=0.05,
                      U_start=U_true + bump, progress=None)
    devs = [it.deviation for it in res.iterations]
    assert devs[0] > 0.05 > devs[1]  # the first step is taken far from the target, the next near it
    used = []
    for it in res.iterations:
        step = {reg: ibi.newton_update(it.U, it.g, g_target, T, R, 0.0038, RC, reg=reg, max_step=2.0,
                                       tail_width=3 * DR, jacobian=np.diag(-it.g / KT)) for reg in (0.1, 0.02)}
        assert np.abs(step[0.1] - step[0.02]).max() > 0.01 * np.abs(step[0.02] - it.U).max()
        used.append(next(reg for reg, U in step.items() if np.allclose(U, it.U_next, rtol=0, atol=1e-12)))
    assert used == [0.1, 0.02, 0.02, 0.02]
    assert json.loads((tmp_path / ibi.SUMMARY_NAME).read_text())["parameters"]["reg_near"] == 0.02
