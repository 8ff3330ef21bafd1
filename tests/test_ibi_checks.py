"""ibi: building blocks against hand-computed numbers, exact messages, the driver's records (ibi.json,
progress lines) and its branches (issue 14: these tests kill mutmut's mutants of mobcg/ibi.py)."""

import json
import math
import re

import numpy as np
import pytest

from mobcg import ibi

T = 300.0
KT = 0.0019872043 * 300.0  # kcal/mol


def exact(message):
    return "^" + re.escape(message) + "$"


def switch(r, r_cut, width):
    """1 below r_cut - width, 0 from r_cut on, 0.5 (1 + cos(π x)) in between (typed in from the docs)."""
    x = (r - (r_cut - width)) / width
    return np.where(r >= r_cut, 0.0, np.where(r <= r_cut - width, 1.0, 0.5 * (1 + np.cos(np.pi * x))))


# ---------------------------------------------------------------------------------------- checks

@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf")])
def test_temperature_must_be_positive_and_finite(temperature):
    r = np.arange(1.0, 7.0)
    with pytest.raises(ValueError, match=exact(f"temperature must be positive, got {temperature!r}")):
        ibi.pmf_start(r, np.ones(6), temperature, 5.0)


def test_a_temperature_below_one_kelvin_is_a_temperature():
    r = np.arange(1.0, 7.0)
    g = np.exp(-np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.0]))  # -ln g = those numbers at kT = 1 kcal/mol
    U = ibi.extend_core(r, -KT * np.log(g), 0, 0.5)
    assert U == pytest.approx(-KT * np.log(g))


@pytest.mark.parametrize("r, arrays, message", [
    ([1.0, 2.0, 3.0], [[1.0] * 3, [1.0] * 3], "r must be a 1-D grid with at least 4 points"),
    ([[1.0, 2.0, 3.0, 4.0]], [[1.0] * 4, [1.0] * 4], "r must be a 1-D grid with at least 4 points"),
    ([1.0, 2.0, 2.0, 3.0], [[1.0] * 4, [1.0] * 4], "r must be finite and strictly increasing"),
    ([1.0, 2.0, np.nan, 3.0], [[1.0] * 4, [1.0] * 4], "r must be finite and strictly increasing"),
    ([1.0, 2.0, 3.0, 4.0], [[1.0] * 3, [1.0] * 4], "array of shape (3,) does not match grid shape (4,)"),
])
def test_grid_checks(r, arrays, message):
    with pytest.raises(ValueError, match=exact(message)):
        ibi.deviation(r, *arrays)


def test_deviation_on_a_non_uniform_grid_of_four_points():
    assert ibi.deviation([0.0, 0.1, 0.2, 0.3], [1.1] * 4, [1.0] * 4) == pytest.approx(0.1)  # ∫ g_target < 1
    r = [0.0, 1.0, 3.0, 7.0]
    gt = [1.0, 1.0, 1.0, 1.0]  # ∫ = 7
    g = [1.0, 2.0, 1.0, 1.0]  # ∫|Δ| = trapezoids 0.5 + 1.0
    assert ibi.deviation(r, g, gt) == pytest.approx(1.5 / 7, rel=1e-12)
    with pytest.raises(ValueError, match=exact("g and g_target must be finite for the deviation")):
        ibi.deviation(r, g, [1.0, np.inf, 1.0, 1.0])
    with pytest.raises(ValueError, match=exact("∫ g_target dr must be positive")):
        ibi.deviation(r, g, [0.0, 0.0, 0.0, 0.0])


def test_halves_noise_is_half_the_deviation_between_halves():
    assert ibi.halves_noise(0.04) == 0.02
    assert ibi.halves_noise(np.float32(0.5)) == 0.25 and type(ibi.halves_noise(1)) is float


# ---------------------------------------------------------------------------------------- PMF start, core

R = np.round(np.arange(1, 41) * 0.25, 10)  # 0.25 .. 10 Å


def test_pmf_start_is_minus_kT_ln_g_shifted_and_switched_off():
    U_true = 0.3 * np.cos(R) + 0.01 * R
    g = np.exp(-U_true / KT)
    U = ibi.pmf_start(R, g, T, 8.0)  # default tail: 1 Å
    expected = (U_true - U_true[R == 8.0]) * switch(R, 8.0, 1.0)
    assert U == pytest.approx(expected, abs=1e-12)
    U = ibi.pmf_start(R, g, T, 8.0, tail_width=0.6)
    assert U == pytest.approx((U_true - U_true[R == 8.0]) * switch(R, 8.0, 0.6), abs=1e-12)
    U = ibi.pmf_start(R, g, T, 10.0, tail_width=0.0)  # no switch: only the shift
    assert U == pytest.approx(np.where(R < 10.0, U_true - U_true[-1], 0.0), abs=1e-12)


def test_pmf_start_core_is_a_line_at_least_min_slope_steep():
    U_true = 0.05 * (R - 6.0) ** 2  # gentle: slope -0.25 kcal/mol/Å at 3.5 Å, much less than 5 kT/Å
    g = np.exp(-U_true / KT)
    g[R < 3.5] = 0.0
    g[R == 3.5] = 1e-4  # at g_min: not reliable either
    i0 = int(np.flatnonzero(R == 3.75)[0])
    U = ibi.pmf_start(R, g, T, 9.0, tail_width=0.5)
    shift = U_true[R == 9.0][0]
    assert U[i0:] == pytest.approx(((U_true - shift) * switch(R, 9.0, 0.5))[i0:], abs=1e-12)
    assert U[:i0] == pytest.approx(U[i0] - 5 * KT * (R[:i0] - R[i0]), rel=1e-12)
    U = ibi.pmf_start(R, g, T, 9.0, tail_width=0.5, min_slope=2.0)
    assert U[:i0] == pytest.approx(U[i0] - 2 * KT * (R[:i0] - R[i0]), rel=1e-12)


def test_pmf_start_core_uses_the_three_edge_points():
    U_true = np.where(R < 5.0, 12.0 - 4.0 * R, 0.0 - 0.01 * R)  # steep wall -4 kcal/mol/Å to 5 Å
    U_true[R == 4.25] = 12.0 - 4.0 * 4.25 - 1.0  # the step after the third edge point is steeper still
    g = np.exp(-U_true / KT)
    g[R < 3.5] = 0.0
    i0 = int(np.flatnonzero(R == 3.5)[0])
    U = ibi.pmf_start(R, g, T, 9.0)
    slope = (U[i0 + 1] - U[i0]) / 0.25
    assert slope == pytest.approx(-4.0, rel=1e-9)  # from 3.5, 3.75, 4.0: -4 kcal/mol/Å
    assert U[:i0] == pytest.approx(U[i0] + slope * (R[:i0] - R[i0]), rel=1e-12)
    U4 = ibi.pmf_start(R, g, T, 9.0, n_edge=4)  # 3.5 .. 4.25: the -8 kcal/mol/Å step counts
    assert U4[:i0] == pytest.approx(U4[i0] - 8.0 * (R[:i0] - R[i0]), rel=1e-12)


def test_pmf_start_needs_two_reliable_points():
    g = np.zeros_like(R)
    g[[10, 30]] = 1.0
    U = ibi.pmf_start(R, g, T, 9.0)
    assert np.all(np.isfinite(U))
    g[30] = 1e-4
    with pytest.raises(ValueError, match=exact("g_target has fewer than 2 reliable points (g > g_min)")):
        ibi.pmf_start(R, g, T, 9.0)


@pytest.mark.parametrize("r_cut", [0.25, 10.5])
def test_the_cut_off_must_lie_inside_the_grid(r_cut):
    with pytest.raises(ValueError, match=exact(f"r_cut={r_cut} must lie inside the grid (0.25, 10.0]")):
        ibi.pmf_start(R, np.ones_like(R), T, r_cut)


def test_a_cut_off_just_past_the_first_point_is_inside():
    U = ibi.pmf_start(R, np.ones_like(R), T, 0.5, tail_width=0.0)
    assert np.all(U == 0.0)


def test_extend_core_slopes():
    r = np.arange(8) * 0.5
    u = np.array([9.0, 9.0, 9.0, 3.0, 2.5, 2.0, 1.5, 1.0])
    # gentle edge (-1 kcal/mol/Å): at least 5 kT/Å
    out = ibi.extend_core(r, u, 3, T)
    assert out[3:] == pytest.approx(u[3:]) and out[:3] == pytest.approx(3.0 - 5 * KT * (r[:3] - 1.5))
    assert ibi.extend_core(r, u, 3, T, min_slope=-3.0)[:3] == pytest.approx(3.0 - 3 * KT * (r[:3] - 1.5))
    # rising edge: never uphill
    up = np.array([9.0, 9.0, 9.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert ibi.extend_core(r, up, 3, T)[:3] == pytest.approx(1.0 - 5 * KT * (r[:3] - 1.5))
    # a very steep edge is capped at 100 kT/Å (or max_slope)
    steep = np.array([9.0, 9.0, 9.0, 300.0, 200.0, 100.0, 0.0, 0.0])
    assert ibi.extend_core(r, steep, 3, T)[:3] == pytest.approx(300.0 - 100 * KT * (r[:3] - 1.5))
    assert ibi.extend_core(r, steep, 3, T, max_slope=-150.0)[:3] == pytest.approx(300.0 - 150 * KT * (r[:3] - 1.5))
    # a concave edge: the steepest single step, not the fitted line, sets the wall
    concave = np.array([9.0, 9.0, 9.0, 10.0, 9.5, 7.0, 0.0, 0.0])
    assert ibi.extend_core(r, concave, 3, T)[:3] == pytest.approx(10.0 - 5.0 * (r[:3] - 1.5))
    assert ibi.extend_core(r, concave, 3, T, n_edge=2)[:3] == pytest.approx(10.0 - 5 * KT * (r[:3] - 1.5))
    assert ibi.extend_core(r, concave, 3, T, n_edge=1)[:3] == pytest.approx(10.0 - 5 * KT * (r[:3] - 1.5))
    # a bowed edge whose fitted line's intercept is far below: the steps decide
    bowed = np.array([0.0, 0.0, 0.0, -20.0, -19.9, -19.6, -19.0, -18.0])
    assert ibi.extend_core(r, bowed, 3, T)[:3] == pytest.approx(-20.0 - 5 * KT * (r[:3] - 1.5))
    # a parabola's edge, steeper than its fitted quadratic coefficient is
    para = np.array([0.0, 0.0, 0.0, 0.0, -0.1, -0.4, -0.9, -1.6])
    assert ibi.extend_core(r, para, 3, T)[:3] == pytest.approx(-5 * KT * (r[:3] - 1.5))
    fine = np.arange(8) * 0.25  # -10 (r - 0.75)²: steps -2.5 and -7.5 kcal/mol/Å, the steeper one sets it
    bend = np.r_[0.0, 0.0, 0.0, -10 * (fine[3:] - 0.75) ** 2]
    assert ibi.extend_core(fine, bend, 3, T)[:3] == pytest.approx(-7.5 * (fine[:3] - 0.75))


def test_extend_core_index_is_clipped_to_the_grid():
    r = np.arange(6) * 1.0
    u = np.array([5.0, 4.0, 3.0, 2.0, 1.0, -9.0])  # last step: -10 kcal/mol/Å
    assert ibi.extend_core(r, u, 0, T).tolist() == u.tolist()
    assert ibi.extend_core(r, u, -3, T).tolist() == u.tolist()
    out = ibi.extend_core(r, u, 99, T)  # clipped to 4: the last two points give the wall
    assert out[4:].tolist() == [1.0, -9.0]
    assert out[:4] == pytest.approx(1.0 - 10.0 * (r[:4] - 4.0))
    out = ibi.extend_core([0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, -9], 4, T)  # integer input
    assert out[:4] == pytest.approx(1.0 - 10.0 * (r[:4] - 4.0))


# ---------------------------------------------------------------------------------------- IBI update

def test_update_without_grid_adds_kT_ln_ratio():
    U = np.array([3.0, 1.0, -0.5, -0.2, 0.0, 0.0])
    gt = np.array([0.1, 0.5, 1.5, 1.2, 1.0, 1.0])
    g = 1.3 * gt
    out = ibi.update(U, g, gt, T)
    assert out == pytest.approx(U + KT * np.log(1.3), rel=1e-12)
    assert ibi.update(U, g, gt, T, 0.5) == pytest.approx(U + 0.5 * KT * np.log(1.3), rel=1e-12)
    # no reliable bin: the potential comes back unchanged (a copy)
    same = ibi.update(U, np.zeros(6), gt, T)
    assert same.tolist() == U.tolist() and same is not U
    with pytest.raises(ValueError, match=exact("r_cut needs the grid r")):
        ibi.update(U, g, gt, T, r_cut=3.0)


def test_update_interpolates_over_unreliable_bins_and_smooths_the_increment():
    U = np.zeros(7)
    gt = np.ones(7)
    g = np.array([2.0, 2.0, 1e-4, 2.0, 2.0, np.nan, 2.0])  # g at g_min and NaN: unreliable
    out = ibi.update(U, g, gt, T, smooth=0)
    assert out == pytest.approx(np.full(7, KT * np.log(2.0)), rel=1e-12)
    gt2 = np.array([1.0, 1.0, 1e-4, 1.0, 1.0, 1.0, 1.0])  # target at g_min: unreliable
    out = ibi.update(U, np.ones(7), gt2, T, smooth=0)
    assert out == pytest.approx(np.zeros(7), abs=1e-15)
    # one pass of [1, 2, 1] / 4 on ΔU = kT ln(g/gt), end points kept
    ratio = np.array([1.0, 1.0, 1.0, np.e, 1.0, 1.0, np.e ** 2])
    out = ibi.update(U, ratio, gt, T)
    assert out == pytest.approx(KT * np.array([0, 0, 0.25, 0.5, 0.25, 0.5, 2.0]), abs=1e-12)
    out = ibi.update(U, ratio, gt, T, smooth=2)
    assert out == pytest.approx(KT * np.array([0, 1 / 16, 0.25, 6 / 16, 0.375, 0.8125, 2.0]), abs=1e-12)


def test_update_on_a_grid_with_a_cut_off_switches_the_increment_off():
    U = 0.2 * np.cos(R)
    gt = np.ones_like(R)
    g = np.exp(0.05 * R)  # ΔU = kT · 0.05 r, linear: the smoothing leaves it alone
    du = KT * 0.05 * R
    out = ibi.update(U, g, gt, T, r=R, r_cut=8.0, smooth=1)
    expected = U + (du - KT * 0.05 * 8.0) * switch(R, 8.0, 1.0)
    # the core (below the first reliable bin) is re-extrapolated; here every bin is reliable
    assert out == pytest.approx(expected, abs=1e-12)
    out = ibi.update(U, g, gt, T, r=R, r_cut=8.0, tail_width=0.5)
    assert out == pytest.approx(U + (du - KT * 0.4) * switch(R, 8.0, 0.5), abs=1e-12)
    # a grid without a cut-off: the increment everywhere
    assert ibi.update(U, g, gt, T, r=R) == pytest.approx(U + du, abs=1e-12)


def test_update_on_a_grid_re_extrapolates_the_core():
    U = np.where(R < 3.0, 50.0, 0.1 * (R - 6.0) ** 2)
    gt = np.where(R < 3.0, 0.0, 1.0)
    g = np.where(R < 3.0, 0.0, 1.5)
    out = ibi.update(U, g, gt, T, r=R, r_cut=10.0, tail_width=0.0)
    i0 = int(np.flatnonzero(R == 3.0)[0])
    # ΔU = kT ln 1.5 everywhere, shifted to 0 at r_cut = 10 Å: U itself where sampled
    assert out[i0:] == pytest.approx(U[i0:], abs=1e-12)
    # the wall: a line from the edge value with the edge's steepest step (or 5 kT/Å)
    steps = np.diff(out[i0:i0 + 3]) / 0.25
    slope = min(-5 * KT, steps.min())
    assert out[:i0] == pytest.approx(out[i0] + slope * (R[:i0] - R[i0]), rel=1e-12)


# ---------------------------------------------------------------------------------------- pressure

@pytest.mark.parametrize("P, expected_A", [
    (1800.0, -0.1 * KT * 0.3),  # |f ΔP| = 0.3
    (-1200.0, +0.1 * KT * 0.6),
    (5000.0, -0.1 * KT),  # |f ΔP| > 1: the full scale
    (800.0, 0.0),
])
def test_pressure_amplitude_and_ramp(P, expected_A):
    assert ibi.pressure_amplitude(P, 800.0, T) == pytest.approx(expected_A, rel=1e-12, abs=1e-15)
    r = np.array([0.0, 2.0, 5.0, 7.5, 10.0, 12.0])
    ramp = ibi.pressure_correction(r, P, 800.0, T, 10.0)
    assert ramp == pytest.approx(expected_A * np.array([1.0, 0.8, 0.5, 0.25, 0.0, 0.0]), rel=1e-12, abs=1e-15)


def test_pressure_amplitude_options_and_checks():
    assert ibi.pressure_amplitude(1800.0, 800.0, T, scale=0.2, f=5e-4) == pytest.approx(-0.2 * KT * 0.5)
    r = np.array([0.0, 5.0, 10.0])
    assert ibi.pressure_correction(r, 1800.0, 800.0, T, 10.0, scale=0.2, f=5e-4) == pytest.approx(
        [-0.2 * KT * 0.5, -0.1 * KT * 0.5, 0.0])
    with pytest.raises(ValueError, match=exact("pressure not finite: P=nan, P_target=1.0")):
        ibi.pressure_amplitude(float("nan"), 1.0, T)


def test_virial_pressure_change_is_the_shell_integral():
    r = np.array([1.0, 2.0, 3.0, 4.0])
    rho = 0.01
    one = ibi.virial_pressure_change(r, np.ones(4), rho)
    # ΔP = (2π/3) ρ² ∫ r³ g Δf dr with g = 1 and Δf = 1 on one bin: (π/6) ρ² (b⁴ - a⁴), in atm
    atm = 68568.415
    assert one == pytest.approx(atm * np.pi / 6 * rho ** 2 * np.array([15.0, 65.0, 175.0]), rel=1e-12)
    g = np.array([1.0, 3.0, 0.0, 2.0])  # trapezoid: mean of the bin's two ends
    assert ibi.virial_pressure_change(r, g, rho) == pytest.approx(one * np.array([2.0, 1.5, 1.0]), rel=1e-12)
    assert ibi.virial_pressure_change([1, 2, 3, 4], [1, 1, 1, 1], rho) == pytest.approx(one)


# ---------------------------------------------------------------------------------------- IMC Jacobian

def test_imc_jacobian_is_minus_covariance_over_2_kT_norm():
    counts = np.array([[10.0, 4.0, 1.0], [12.0, 3.0, 1.0], [8.0, 6.0, 1.0], [14.0, 3.0, 1.0]])
    norm = np.array([2.0, 4.0, 8.0])
    dev = counts - counts.mean(0)
    cov = dev.T @ dev / 3  # sample covariance over 4 frames
    J = ibi.imc_jacobian(counts, norm, T)
    assert J == pytest.approx(-cov / (2 * KT * norm[:, None]), rel=1e-12, abs=1e-15)
    assert J[0, 1] != J[1, 0]  # rows are divided by their own bin's norm
    J3 = ibi.imc_jacobian([[1, 2], [2, 1], [3, 3]], [1, 1], T)  # three frames, integer input
    assert J3 == pytest.approx(-np.cov(np.array([[1, 2], [2, 1], [3, 3]]).T) / (2 * KT))


@pytest.mark.parametrize("counts, norm, shape", [
    (np.ones((2, 3)), np.ones(3), "(2, 3)"),
    (np.ones((5, 3)), np.ones(4), "(5, 3)"),
    (np.ones(5), np.ones(5), "(5,)"),
    (np.ones((4, 3, 1)), np.ones(3), "(4, 3, 1)"),
])
def test_imc_jacobian_checks_its_histograms(counts, norm, shape):
    with pytest.raises(ValueError, match=exact(f"imc_jacobian: counts must be (frames ≥ 3, {norm.size}), got {shape}")):
        ibi.imc_jacobian(counts, norm, T)


# ---------------------------------------------------------------------------------------- history

def iteration(k, n=4, dev=0.5, **kw):
    r = np.arange(1.0, n + 1)
    return ibi.IBIIteration(k, r, np.full(n, float(k)), np.ones(n), 100.0 + k, dev, np.full(n, k + 1.0), **kw)


def test_iterations_round_trip_and_summary(tmp_path):
    state = ibi.IBIState(tmp_path / "h")
    state.append(iteration(0, pressure_A=-0.25, noise=0.01))
    state.append(ibi.IBIIteration(1, np.arange(1.0, 5.0), np.zeros(4), np.ones(4), float("nan"), 0.25, np.ones(4)))
    with pytest.raises(ValueError, match=exact("expected iteration 2, got 3")):
        state.append(iteration(3))
    loaded = ibi.IBIState.load(tmp_path / "h").iterations
    assert [it.index for it in loaded] == [0, 1]
    a = loaded[0]
    assert a.r.tolist() == [1.0, 2.0, 3.0, 4.0] and a.U.tolist() == [0.0] * 4 and a.U_next.tolist() == [1.0] * 4
    assert (a.pressure, a.deviation, a.pressure_A, a.noise) == (100.0, 0.5, -0.25, 0.01)
    assert math.isnan(loaded[1].noise) and math.isnan(loaded[1].pressure) and loaded[1].pressure_A == 0.0
    path = state.write_summary(status="running", note=np.float32(1.5))
    assert path == tmp_path / "h" / "ibi.json"
    doc = json.loads(path.read_text())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", doc.pop("updated"))
    assert doc == {"status": "running", "note": "1.5", "iterations": [
        {"iteration": 0, "file": "iteration_000.npz", "deviation": 0.5, "pressure_atm": 100.0,
         "pressure_A_kcal": -0.25, "noise": 0.01},
        {"iteration": 1, "file": "iteration_001.npz", "deviation": 0.25, "pressure_atm": None,
         "pressure_A_kcal": 0.0, "noise": None}]}
    assert path.read_text().startswith('{\n  "status": "running",\n') and path.read_text().endswith("}\n")


def test_load_history_of_nothing_and_its_repairs(tmp_path):
    assert ibi.load_history(tmp_path / "none") == []
    d = tmp_path / "h"
    state = ibi.IBIState(d)
    for k in range(3):
        state.append(iteration(k))
    for stray in (".iteration_003.npz.tmp", ".ibi.json.tmp", "keep.tmp", "iteration_x.npz"):
        (d / stray).write_text("x")
    (d / "iteration_003.npz").write_bytes(b"torn")
    assert [it.index for it in ibi.load_history(d)] == [0, 1, 2]  # the torn last one is not finished
    assert (d / "iteration_003.npz").exists() and (d / ".ibi.json.tmp").exists()
    assert [it.index for it in ibi.load_history(d, repair=True)] == [0, 1, 2]
    left = sorted(p.name for p in d.iterdir())
    assert left == ["iteration_000.npz", "iteration_001.npz", "iteration_002.npz", "iteration_x.npz", "keep.tmp"]


def test_load_history_refuses_a_corrupt_middle_or_a_gap(tmp_path):
    d = tmp_path / "h"
    state = ibi.IBIState(d)
    for k in range(3):
        state.append(iteration(k))
    (d / "iteration_001.npz").write_bytes(b"bad")
    with pytest.raises(RuntimeError, match="^" + re.escape(f"corrupt IBI history file {d / 'iteration_001.npz'} (not the last): ")):
        ibi.load_history(d, repair=True)
    assert (d / "iteration_001.npz").exists()
    (d / "iteration_001.npz").unlink()
    with pytest.raises(RuntimeError, match=exact(f"IBI history in {d} is not consecutive at iteration_002.npz")):
        ibi.load_history(d)
    # a file whose stored index disagrees with its name
    d2 = tmp_path / "h2"
    ibi.IBIState(d2).append(iteration(0))
    ibi._write_iteration(d2, iteration(5))
    (d2 / "iteration_005.npz").rename(d2 / "iteration_001.npz")
    ibi._write_iteration(d2, iteration(2))
    with pytest.raises(RuntimeError, match=exact(f"IBI history in {d2} is not consecutive at iteration_001.npz")):
        ibi.load_history(d2)


def test_an_old_history_without_noise_reads_as_nan(tmp_path):
    it = iteration(0)
    np.savez(tmp_path / "iteration_000.npz", index=np.int64(0), r=it.r, U=it.U, g=it.g, pressure=np.float64(1.0),
             deviation=np.float64(0.5), U_next=it.U_next, pressure_A=np.float64(0.0))
    (loaded,) = ibi.load_history(tmp_path)
    assert math.isnan(loaded.noise) and loaded.deviation == 0.5


def test_a_history_with_inconsistent_shapes_is_not_finished(tmp_path):
    it = iteration(0)
    np.savez(tmp_path / "iteration_000.npz", index=np.int64(0), r=it.r, U=it.U[:3], g=it.g, pressure=np.float64(1.0),
             deviation=np.float64(0.5), U_next=it.U_next, pressure_A=np.float64(0.0))
    assert ibi.load_history(tmp_path) == []
    with pytest.raises(ValueError, match=exact(f"{tmp_path / 'iteration_000.npz'}: inconsistent array shapes")):
        ibi._read_iteration(tmp_path / "iteration_000.npz")


# ---------------------------------------------------------------------------------------- driver

G = np.arange(1, 41) * 0.25  # the grid of the driver tests, 0.25 .. 10 Å
U_TRUE = np.where(G < 9.0, 0.4 * (np.exp(-(G - 4.0)) - 2 * np.exp(-0.5 * (G - 4.0))), 0.0)
U_TRUE = np.where(G < 9.0, U_TRUE - U_TRUE[G == 9.0], 0.0)
G_TARGET = np.exp(-U_TRUE / KT)


def dilute(U, *_):
    """g of a dilute gas: exp(-U/kT); its virial pressure is 1000 atm per kcal/mol of U at 5 Å (a toy)."""
    U = np.asarray(U)
    return np.exp(-U / KT), 300.0 + 1000.0 * float(U[G == 5.0][0])


def test_run_ibi_records_its_parameters_and_progress(tmp_path):
    lines = []
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, dilute, tmp_path / "a", 9.0, tol=1e-9, p_tol=5000.0,
                      max_iterations=2, lam=0.5, pressure_every=2, progress=lines.append)
    doc = json.loads((tmp_path / "a" / "ibi.json").read_text())
    assert doc["parameters"] == {"T": 300.0, "P_target": 300.0, "r_cut": 9.0, "tol": 1e-9, "p_tol": 5000.0,
                                 "lam": 0.5, "max_iterations": 2, "pressure_every": 2, "method": "ibi",
                                 "density": None, "reg": None, "tail_width": 0.75, "stall_iterations": 0,
                                 "stall_gain": 0.05, "reg_near": None, "reg_switch": None}
    assert doc["status"] == "max_iterations" and doc["start"] == "pmf" and doc["method"] == "ibi"
    assert doc["final_iteration"] == res.iteration == res.best_iteration
    assert doc["best_iteration"] == int(np.argmin([it.deviation for it in res.iterations]))
    assert [it.index for it in res.iterations] == [0, 1] and res.n_simulated == 2
    assert res.directory == tmp_path / "a" and res.start == "pmf" and res.method == "ibi" and not res.converged
    assert res.stopped == "max_iterations"
    assert len(lines) == 3
    it0, it1 = res.iterations
    # iteration 0 corrects the pressure (0 % 2 == 0), iteration 1 does not
    A0 = ibi.pressure_amplitude(it0.pressure, 300.0, T)
    assert it0.pressure_A == pytest.approx(A0) and it1.pressure_A == 0.0
    assert lines[0] == (f"IBI iteration 0: deviation {it0.deviation:.4f}, P {it0.pressure:.1f} atm, "
                        f"pressure A {A0:+.4f} kcal/mol")
    assert lines[1] == f"IBI iteration 1: deviation {it1.deviation:.4f}, P {it1.pressure:.1f} atm"
    final = res.iterations[res.iteration]
    assert lines[2] == f"IBI: not converged; using iteration {final.index} (deviation {final.deviation:.4f})"
    # the PMF start of the dilute gas is the answer: U_next of 0 is U_0 plus half the (tiny) update
    expected_next = ibi.update(it0.U, it0.g, G_TARGET, T, 0.5, r=G, r_cut=9.0, tail_width=0.75) \
        + ibi.pressure_correction(G, it0.pressure, 300.0, T, 9.0)
    assert it0.U_next == pytest.approx(expected_next, abs=1e-12)
    assert it1.U == pytest.approx(expected_next, abs=1e-12)
    assert it1.U_next == pytest.approx(ibi.update(it1.U, it1.g, G_TARGET, T, 0.5, r=G, r_cut=9.0, tail_width=0.75),
                                       abs=1e-12)
    assert res.U.tolist() == final.U.tolist() and res.deviation == final.deviation and res.pressure == final.pressure


def test_run_ibi_options_reach_the_update(tmp_path):
    # the dilute gas from a start 0.1 kcal/mol too shallow: the update is kT ln(g/g_target) = -ΔU exactly
    start = U_TRUE + 0.1 * (G < 9.0) * (1 - G / 9.0)
    res = ibi.run_ibi(G, G_TARGET, None, T, lambda U, k, w: (np.exp(-U / KT), None), tmp_path / "b", 9.0,
                      p_tol=None, max_iterations=1, lam=0.7, smooth=0, tail_width=0.0, g_min=1e-3,
                      U_start=list(start), start="mine", progress=None)
    (it,) = res.iterations
    assert it.U.tolist() == start.tolist() and math.isnan(it.pressure)
    assert it.U_next == pytest.approx(ibi.update(start, np.exp(-start / KT), G_TARGET, T, 0.7, r=G, r_cut=9.0,
                                                 g_min=1e-3, smooth=0, tail_width=0.0), abs=1e-12)
    sampled = np.minimum(np.exp(-start / KT), G_TARGET) > 1e-3  # the core below is re-extrapolated
    assert sampled.sum() == 36
    assert it.U_next[sampled] == pytest.approx((start - 0.7 * (start - U_TRUE))[sampled], abs=1e-12)
    doc = json.loads((tmp_path / "b" / "ibi.json").read_text())
    assert doc["start"] == "mine" and res.start == "mine" and doc["parameters"]["tail_width"] == 0.0
    assert doc["parameters"]["p_tol"] is None and doc["parameters"]["P_target"] is None


def test_run_ibi_converges_on_tol_and_keeps_the_converged_potential(tmp_path):
    lines = []
    res = ibi.run_ibi(G, G_TARGET, None, T, lambda U, k, w: (np.exp(-U / KT), None), tmp_path / "c", 9.0,
                      p_tol=None, tol=0.01, progress=lines.append)
    assert res.converged and res.iteration == 0 and res.n_simulated == 1
    assert lines[-1] == f"IBI: converged; using iteration 0 (deviation {res.deviation:.4f})"
    doc = json.loads((tmp_path / "c" / "ibi.json").read_text())
    assert doc["status"] == "converged" and doc["iterations"][0]["iteration"] == 0
    # resumed: nothing to do, and it says so
    lines.clear()
    again = ibi.run_ibi(G, G_TARGET, None, T, None, tmp_path / "c", 9.0, p_tol=None, tol=0.01,
                        progress=lines.append)
    assert again.n_simulated == 0 and again.converged and again.U.tolist() == res.U.tolist()
    assert lines[0] == f"IBI: resuming after iteration 0 (deviation {res.deviation:.4f})"


def test_run_ibi_default_tolerance_is_one_percent(tmp_path):
    off = lambda U, k, w: (G_TARGET * (1 + 0.012 * (G > 2)), None)  # noqa: E731  1.2 % off
    res = ibi.run_ibi(G, G_TARGET, None, T, off, tmp_path / "d", 9.0, p_tol=None, max_iterations=2, progress=None)
    assert not res.converged and res.n_simulated == 2
    near = lambda U, k, w: (G_TARGET * (1 + 0.009 * (G > 2)), None)  # noqa: E731
    res = ibi.run_ibi(G, G_TARGET, None, T, near, tmp_path / "e", 9.0, p_tol=None, max_iterations=2, progress=None)
    assert res.converged and res.n_simulated == 1


def test_run_ibi_default_pressure_tolerance_is_100_atm(tmp_path):
    at = lambda P: (lambda U, k, w: (G_TARGET, P))  # noqa: E731
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, at(399.0), tmp_path / "p1", 9.0, max_iterations=2, progress=None)
    assert res.converged and res.n_simulated == 1
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, at(401.0), tmp_path / "p2", 9.0, max_iterations=2, progress=None)
    assert not res.converged and res.n_simulated == 2
    # the default correction: 0.1 kT · min(1, 3e-4 · 101 atm) every iteration
    for it in res.iterations:
        assert it.pressure_A == pytest.approx(-0.1 * KT * 3e-4 * 101.0)
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, at(401.0), tmp_path / "p3", 9.0, max_iterations=1, progress=None,
                      pressure_scale=0.2, pressure_f=1e-3)
    assert res.iterations[0].pressure_A == pytest.approx(-0.2 * KT * 0.101)
    assert res.iterations[0].U_next - res.iterations[0].U == pytest.approx(
        ibi.update(res.iterations[0].U, G_TARGET, G_TARGET, T, r=G, r_cut=9.0, tail_width=0.75)
        - res.iterations[0].U + ibi.pressure_correction(G, 401.0, 300.0, T, 9.0, scale=0.2, f=1e-3), abs=1e-12)
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, at(401.0), tmp_path / "p4", 9.0, max_iterations=1, progress=None,
                      pressure_every=0)
    assert res.iterations[0].pressure_A == 0.0


def test_run_ibi_stops_within_the_sampling_noise(tmp_path):
    noisy = lambda U, k, w: ibi.Sample(G_TARGET * (1 + 0.03 * (G > 2)), None, None, 0.04)  # noqa: E731
    lines = []
    res = ibi.run_ibi(G, G_TARGET, None, T, noisy, tmp_path / "n", 9.0, p_tol=None, target_noise=0.03,
                      max_iterations=3, progress=lines.append)
    it = res.iterations[0]
    assert it.noise == pytest.approx(0.05) and res.converged and res.n_simulated == 1
    assert lines[0] == f"IBI iteration 0: deviation {it.deviation:.4f} (noise 0.0500), P nan atm"
    res = ibi.run_ibi(G, G_TARGET, None, T, noisy, tmp_path / "n2", 9.0, p_tol=None, target_noise=0.03,
                      max_iterations=2, stop_within_noise=False, progress=None)
    assert not res.converged and res.n_simulated == 2
    res = ibi.run_ibi(G, G_TARGET, None, T, noisy, tmp_path / "n3", 9.0, p_tol=None, max_iterations=2,
                      progress=None)  # no target noise: no noise known
    assert math.isnan(res.iterations[0].noise) and res.n_simulated == 2
    quiet = lambda U, k, w: ibi.Sample(G_TARGET * (1 + 0.03 * (G > 2)))  # noqa: E731
    res = ibi.run_ibi(G, G_TARGET, None, T, quiet, tmp_path / "n4", 9.0, p_tol=None, target_noise=0.03,
                      max_iterations=2, progress=None)  # the run gives no noise: none known
    assert math.isnan(res.iterations[0].noise) and res.n_simulated == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="newton"), "unknown IBI method 'newton'; choose one of ibi, imc"),
    (dict(method="imc"), "method 'imc' needs the bead number density (1/Å³), got None"),
    (dict(method="imc", density=0.0), "method 'imc' needs the bead number density (1/Å³), got 0.0"),
    (dict(method="imc", density=float("nan")), "method 'imc' needs the bead number density (1/Å³), got nan"),
    (dict(P_target=None, p_tol=10.0), "P_target needed when p_tol is set"),
    (dict(P_target=float("nan"), p_tol=10.0), "P_target needed when p_tol is set"),
    (dict(U_start=np.ones(3)), "start potential must be finite and on the grid r"),
    (dict(U_start=np.full(40, np.nan)), "start potential must be finite and on the grid r"),
    (dict(max_iterations=0), "max_iterations must be at least 1"),
    (dict(simulate=lambda U, k, w: (np.ones(3), 1.0)), "simulate returned a bad RDF at iteration 0"),
    (dict(simulate=lambda U, k, w: (np.full(40, np.nan), 1.0)), "simulate returned a bad RDF at iteration 0"),
    (dict(simulate=lambda U, k, w: (G_TARGET, None)), "simulate returned no finite pressure at iteration 0"),
    (dict(method="imc", density=0.01), "method 'imc' needs simulate to return the run's dg/dU (Sample.jacobian)"),
])
def test_run_ibi_refuses(tmp_path, kwargs, message):
    args = dict(P_target=300.0, simulate=lambda U, k, w: (G_TARGET, 300.0), p_tol=10.0) | kwargs
    P_target, simulate, p_tol = args.pop("P_target"), args.pop("simulate"), args.pop("p_tol")
    with pytest.raises(ValueError, match=exact(message)):
        ibi.run_ibi(G, G_TARGET, P_target, T, simulate, tmp_path / "x", 9.0, p_tol=p_tol, progress=None, **args)
    summary = tmp_path / "x" / "ibi.json"
    if summary.exists():  # stopped inside the loop: the reason is on record, with the run's settings
        doc = json.loads(summary.read_text())
        assert doc["status"] == "interrupted: ValueError" and doc["start"] == "pmf"
        assert doc["method"] == args.get("method", "ibi") and doc["parameters"]["r_cut"] == 9.0


def test_run_ibi_resumes_with_the_start_it_was_begun_with(tmp_path):
    d = tmp_path / "r"
    sim = lambda U, k, w: (G_TARGET * 1.05, None)  # noqa: E731
    ibi.run_ibi(G, G_TARGET, None, T, sim, d, 9.0, p_tol=None, max_iterations=1, start="model", U_start=U_TRUE,
                progress=None)
    res = ibi.run_ibi(G, G_TARGET, None, T, sim, d, 9.0, p_tol=None, max_iterations=2, progress=None)
    assert res.start == "model" and json.loads((d / "ibi.json").read_text())["start"] == "model"
    assert res.iterations[1].U.tolist() == res.iterations[0].U_next.tolist()
    (d / "ibi.json").write_text("{")  # an unreadable summary: the start given now
    res = ibi.run_ibi(G, G_TARGET, None, T, sim, d, 9.0, p_tol=None, max_iterations=3, progress=None, start="other")
    assert res.start == "other"
    with pytest.raises(ValueError, match=exact(f"grid r differs from the one stored in {d}")):
        ibi.run_ibi(G * 1.01, G_TARGET, None, T, sim, d, 9.0, p_tol=None, max_iterations=4, progress=None)
    with pytest.raises(ValueError, match=exact(f"grid r differs from the one stored in {d}")):
        ibi.run_ibi(G[:-1], G_TARGET[:-1], None, T, sim, d, 9.0, p_tol=None, max_iterations=4, progress=None)


def test_run_ibi_prefers_iterations_within_the_pressure_tolerance(tmp_path):
    # iteration 0 fits g best but misses the pressure; iteration 1 fits worse within p_tol
    out = {0: (G_TARGET * 1.02, 900.0), 1: (G_TARGET * 1.04, 310.0), 2: (G_TARGET * 1.03, 2000.0)}
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: out[k], tmp_path / "s", 9.0, tol=1e-6, p_tol=50.0,
                      max_iterations=3, progress=None)
    assert res.best_iteration == 1 and res.iteration == 1 and res.pressure == 310.0
    # none within p_tol: the lowest deviation
    out[1] = (G_TARGET * 1.04, 900.0)
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: out[k], tmp_path / "s2", 9.0, tol=1e-6, p_tol=50.0,
                      max_iterations=3, progress=None)
    assert res.best_iteration == 0


def test_run_ibi_imc_passes_its_options_to_the_newton_step(tmp_path):
    n = G.size
    jac = -np.eye(n) / KT  # a dilute gas: dg_a/dU_b = -g_a δ_ab / kT (g ≈ 1 away from the core)
    sample = lambda U, k, w: ibi.Sample(G_TARGET * 1.02, 400.0, jac)  # noqa: E731
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, sample, tmp_path / "i", 9.0, method="imc", density=0.004,
                      p_tol=1000.0, tol=1e-6, max_iterations=1, lam=0.8, reg=0.1, max_step=0.5, g_min=1e-3,
                      tail_width=0.5, progress=None)
    (it,) = res.iterations
    expected = ibi.newton_update(it.U, it.g, G_TARGET, T, G, 0.004, 9.0, P=400.0, P_target=300.0, lam=0.8,
                                 g_min=1e-3, reg=0.1, max_step=0.5, tail_width=0.5, jacobian=jac)
    assert it.U_next == pytest.approx(expected, abs=1e-12)
    assert not np.allclose(expected, ibi.newton_update(it.U, it.g, G_TARGET, T, G, 0.004, 9.0, jacobian=jac))
    doc = json.loads((tmp_path / "i" / "ibi.json").read_text())
    assert doc["parameters"]["reg"] == 0.1 and doc["parameters"]["density"] == 0.004 and doc["method"] == "imc"
    assert res.method == "imc" and it.pressure_A == 0.0
    # without a pressure correction this iteration (pressure_every = 2, k = 1): no constraint
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, sample, tmp_path / "i", 9.0, method="imc", density=0.004,
                      p_tol=1000.0, tol=1e-6, max_iterations=2, lam=0.8, reg=0.1, max_step=0.5, g_min=1e-3,
                      tail_width=0.5, pressure_every=2, progress=None)
    it = res.iterations[1]
    expected = ibi.newton_update(it.U, it.g, G_TARGET, T, G, 0.004, 9.0, lam=0.8, g_min=1e-3, reg=0.1,
                                 max_step=0.5, tail_width=0.5, jacobian=jac)
    # iteration 1 is no worse than 0 (same g): its own step, not a backtrack
    assert it.U_next == pytest.approx(expected, abs=1e-12)


def test_run_ibi_imc_backtracks_from_a_worse_iteration(tmp_path):
    n = G.size
    jac = -np.eye(n) / KT
    devs = {0: 1.02, 1: 1.30, 2: 1.40}
    sample = lambda U, k, w: ibi.Sample(G_TARGET * devs[k], None, jac)  # noqa: E731
    lines = []
    res = ibi.run_ibi(G, G_TARGET, None, T, sample, tmp_path / "bt", 9.0, method="imc", density=0.004,
                      p_tol=None, tol=1e-6, max_iterations=3, progress=lines.append)
    it0, it1, it2 = res.iterations
    assert it1.U_next == pytest.approx(it0.U + 0.5 * (it0.U_next - it0.U), abs=1e-12)
    assert it2.U_next == pytest.approx(it0.U + 0.25 * (it0.U_next - it0.U), abs=1e-12)
    assert lines[1].endswith("; worse than iteration 0: its step × 0.5 instead")
    assert lines[2].endswith("; worse than iteration 0: its step × 0.25 instead")
    assert not lines[0].endswith("instead")
    # 1.25 times the best deviation is still followed
    devs.update({1: 1.024})
    res = ibi.run_ibi(G, G_TARGET, None, T, sample, tmp_path / "bt2", 9.0, method="imc", density=0.004,
                      p_tol=None, tol=1e-6, max_iterations=2, progress=None)
    it0, it1 = res.iterations
    assert it1.deviation < 1.25 * it0.deviation
    assert it1.U_next == pytest.approx(ibi.newton_update(it1.U, it1.g, G_TARGET, T, G, 0.004, 9.0,
                                                         tail_width=0.75, jacobian=jac), abs=1e-12)


def test_run_ibi_writes_a_running_summary_after_each_iteration(tmp_path):
    seen = []

    def sim(U, k, workdir):
        assert workdir == tmp_path / "a" / "b" / f"iter_{k:03d}" and workdir.is_dir()
        if k:
            seen.append(json.loads((tmp_path / "a" / "b" / "ibi.json").read_text()))
        return G_TARGET * 1.05, 300.0

    res = ibi.run_ibi(G, G_TARGET, 300.0, T, sim, tmp_path / "a" / "b", 9.0, max_iterations=2, g_min=1e-3,
                      progress=None)  # a directory two levels down
    (doc,) = seen
    assert doc["status"] == "running" and doc["start"] == "pmf" and doc["method"] == "ibi"
    assert doc["parameters"]["max_iterations"] == 2 and len(doc["iterations"]) == 1
    assert np.array_equal(res.r, G)
    start = ibi.pmf_start(G, G_TARGET, T, 9.0, g_min=1e-3, tail_width=0.75)
    assert not np.allclose(start, ibi.pmf_start(G, G_TARGET, T, 9.0, tail_width=0.75))  # g_min matters here
    assert res.iterations[0].U.tolist() == start.tolist()


def test_run_ibi_stops_after_30_iterations_by_default(tmp_path):
    res = ibi.run_ibi(G, G_TARGET, None, T, lambda U, k, w: (G_TARGET * 1.05, None), tmp_path / "m", 9.0,
                      p_tol=None, progress=None)
    assert res.n_simulated == 30 and not res.converged


def test_run_ibi_default_pressure_tolerance_is_strict(tmp_path):
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: (G_TARGET, 400.5), tmp_path / "q", 9.0,
                      max_iterations=2, progress=None)
    assert res.n_simulated == 2 and not res.converged


def test_run_ibi_keeps_the_converged_iteration_not_the_best(tmp_path):
    out = {0: ibi.Sample(G_TARGET * 1.02, None, None, 0.0), 1: ibi.Sample(G_TARGET * 1.03, None, None, 0.05)}
    res = ibi.run_ibi(G, G_TARGET, None, T, lambda U, k, w: out[k], tmp_path / "cv", 9.0, p_tol=None,
                      target_noise=0.0, max_iterations=3, progress=None)
    assert res.converged and res.iteration == 1 and res.best_iteration == 0
    assert res.U.tolist() == res.iterations[1].U.tolist()


def test_run_ibi_resume_checks_convergence_as_the_run_did(tmp_path):
    # converged within the noise: nothing more to do on resume
    d = tmp_path / "noise"
    out = ibi.Sample(G_TARGET * 1.03, 300.0, None, 0.05)
    ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: out, d, 9.0, target_noise=0.0, progress=None)
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, None, d, 9.0, target_noise=0.0, progress=None)
    assert res.converged and res.n_simulated == 0
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: out, d, 9.0, target_noise=0.0, max_iterations=2,
                      stop_within_noise=False, progress=None)  # asked to beat the noise: goes on
    assert res.n_simulated == 1 and not res.converged
    # g converged but the pressure not: the resumed run goes on
    d = tmp_path / "pressure"
    ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: (G_TARGET, 900.0), d, 9.0, max_iterations=1, progress=None)
    res = ibi.run_ibi(G, G_TARGET, 300.0, T, lambda U, k, w: (G_TARGET, 300.0), d, 9.0, max_iterations=3,
                      progress=None)
    assert res.converged and res.n_simulated == 1 and res.iteration == 1


def test_run_ibi_resume_without_a_recorded_start_keeps_the_given_one(tmp_path):
    d = tmp_path / "s"
    sim = lambda U, k, w: (G_TARGET * 1.05, None)  # noqa: E731
    ibi.run_ibi(G, G_TARGET, None, T, sim, d, 9.0, p_tol=None, max_iterations=1, progress=None)
    (d / "ibi.json").write_text("{}")
    res = ibi.run_ibi(G, G_TARGET, None, T, sim, d, 9.0, p_tol=None, max_iterations=2, start="given",
                      progress=None)
    assert res.start == "given"


def test_state_load_repairs_by_default(tmp_path):
    d = tmp_path / "one" / "two"
    ibi.IBIState(d).append(iteration(0))  # creates both levels
    (d / ".iteration_001.npz.tmp").write_text("x")
    assert [it.index for it in ibi.IBIState.load(d).iterations] == [0]
    assert not (d / ".iteration_001.npz.tmp").exists()


def test_newton_update_checks(tmp_path):
    r = np.arange(1.0, 11.0)
    one = np.ones(10)
    jac = -np.eye(10) / KT
    with pytest.raises(ValueError, match=exact("newton_update: number density must be positive, got 0.0")):
        ibi.newton_update(one, one, one, T, r, 0.0, 9.0, jacobian=jac)
    with pytest.raises(ValueError, match=exact("newton_update: number density must be positive, got nan")):
        ibi.newton_update(one, one, one, T, r, float("nan"), 9.0, jacobian=jac)
    with pytest.raises(ValueError, match=exact("newton_update: no bins between the core edge 1 Å and r_cut 2 Å")):
        ibi.newton_update(one, one, one, T, r, 0.01, 2.0, jacobian=jac)
    ibi.newton_update(one, one, one, T, r, 0.01, 3.0, jacobian=jac, tail_width=0.0)  # two force bins: fine
    for bad in (np.eye(9), np.full((10, 10), np.nan)):
        with pytest.raises(ValueError, match=exact("newton_update: the Jacobian must be a finite (10 × 10) matrix")):
            ibi.newton_update(one, one, one, T, r, 0.01, 9.0, jacobian=bad)
    with pytest.raises(ValueError, match=exact("newton_update: pressure not finite: P=nan, P_target=1.0")):
        ibi.newton_update(one, one, one, T, r, 0.01, 9.0, P=float("nan"), P_target=1.0, jacobian=jac)
    assert ibi.newton_update(np.zeros(10), np.zeros(10), np.zeros(10), T, r, 0.01, 9.0, jacobian=jac).tolist() \
        == [0.0] * 10  # nothing sampled: no step


def test_newton_update_step_scales_with_lam_and_is_capped():
    r = np.arange(1.0, 21.0) * 0.5
    U = np.zeros(20)
    gt = np.ones(20)
    g = 1.01 * gt
    jac = -np.eye(20) / KT
    kw = dict(jacobian=jac, reg=1e-3, tail_width=0.0)
    full = ibi.newton_update(U, g, gt, T, r, 0.01, 9.0, **kw)
    assert np.abs(full).max() < 0.05 * KT  # a small step: no cap
    half = ibi.newton_update(U, g, gt, T, r, 0.01, 9.0, lam=0.5, **kw)
    assert half == pytest.approx(0.5 * full, abs=1e-14)
    # the default fade before the cut-off is 0.3 Å: below 8.7 Å the step is the unfaded one
    dflt = ibi.newton_update(U, g, gt, T, r, 0.01, 9.0, jacobian=jac, reg=1e-3)
    assert dflt[r < 8.7] == pytest.approx(full[r < 8.7], abs=1e-14) and dflt[r >= 9.0].tolist() == [0.0] * 3
    # a pressure without its target is no constraint
    assert ibi.newton_update(U, g, gt, T, r, 0.01, 9.0, P=500.0, **kw) == pytest.approx(full, abs=1e-14)
    capped = ibi.newton_update(U, g, gt, T, r, 0.01, 9.0, max_step=0.004, **kw)
    assert np.abs(capped).max() == pytest.approx(0.004 * KT, rel=1e-9)
    assert capped == pytest.approx(full * 0.004 * KT / np.abs(full).max(), abs=1e-14)
    # the default trust region, 2 kT
    big = ibi.newton_update(U, 5.0 * gt, gt, T, r, 0.01, 9.0, **kw)  # uncapped: 4 kT
    assert np.abs(big).max() == pytest.approx(2.0 * KT, rel=1e-9)


def test_run_ibi_imc_default_and_given_trust_region(tmp_path):
    jac = -np.eye(G.size) / KT
    sample = lambda U, k, w: ibi.Sample(G_TARGET * 5.0, None, jac)  # noqa: E731
    for name, kw, cap in (("d", {}, 2.0), ("g", {"max_step": 0.01}, 0.01)):
        res = ibi.run_ibi(G, G_TARGET, None, T, sample, tmp_path / name, 9.0, method="imc", density=0.004,
                          p_tol=None, max_iterations=1, tail_width=0.0, progress=None, **kw)
        (it,) = res.iterations
        step = (it.U_next - it.U)[G_TARGET > 1e-4]
        assert np.abs(step).max() == pytest.approx(cap * KT, rel=1e-9)
