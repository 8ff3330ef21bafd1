"""analysis: density, RDF histograms, MSD and the diffusion and settling criteria against numbers known
without the module (issue 14: these tests kill mutmut's mutants of mobcg/analysis.py)."""

import re

import numpy as np
import pytest

from mobcg import analysis


def test_density_is_mass_over_mean_box_volume():
    boxes = np.array([[10.0, 20.0, 30.0], [20.0, 20.0, 20.0]])  # 6000 and 8000 Å³: mean 7000 Å³
    grams = 100 * 100.2 / 6.02214076e23
    assert analysis.density(100, 100.2, boxes) == pytest.approx(grams / 7.0e-21, rel=1e-12)
    assert analysis.density(1, 1.0, np.array([[1e8, 1.0, 1.0]])) == pytest.approx(1 / 6.02214076e23 / 1e-16)


def test_rdf_range_check_names_both_numbers():
    pos = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match="^" + re.escape(
            "RDF range r_max = 5 Å exceeds half the smallest box (5 Å): pairs beyond it would be counted "
            "twice under periodic images") + "$"):
        analysis.rdf(pos, np.array([[10.0, 11.0, 12.0]]), 5.0, 10)


def _pair(d, length=10.0):
    """Two points d apart along x in a cubic box."""
    return np.array([[1.0, 1.0, 1.0], [1.0 + d, 1.0, 1.0]]), np.array([length] * 3)


def test_rdf_accumulates_all_frames():
    (a, box), (b, _) = _pair(1.05), _pair(2.05)
    r, g = analysis.rdf(np.stack([a, b]), np.stack([box, box]), r_max=3.0, bins=30)
    assert r[0] == pytest.approx(0.05, abs=1e-6)
    hits = set(np.round(r[g > 0], 2))
    assert hits == {1.05, 2.05}  # one pair per frame, both frames counted


def _histogram(xyz, length, r_max, bins):
    """Ordered-pair distance histogram under the minimum image (numpy only)."""
    d = xyz[:, None, :] - xyz[None, :, :]
    d -= length * np.round(d / length)
    dist = np.sqrt((d ** 2).sum(-1))[~np.eye(len(xyz), dtype=bool)]
    return np.histogram(dist, bins=np.linspace(0, r_max, bins + 1))[0].astype(float)


def test_rdf_frames_gives_each_frames_pair_counts_and_ideal_gas_norms():
    rng = np.random.default_rng(4)
    n, r_max, bins = 30, 4.0, 8
    lengths = np.array([10.0, 10.0, 12.0])
    pos = np.stack([rng.uniform(0, L, size=(n, 3)) for L in lengths])
    boxes = np.repeat(lengths[:, None], 3, axis=1)
    r, g, counts, norms = analysis.rdf_frames(pos, boxes, r_max, bins)
    assert r == pytest.approx(np.arange(bins) * 0.5 + 0.25, abs=1e-6)
    for f in range(3):
        assert counts[f] == pytest.approx(_histogram(pos[f], lengths[f], r_max, bins))
    assert g == pytest.approx(analysis.rdf(pos, boxes, r_max, bins)[1], rel=1e-6)
    assert counts.sum(0) / norms.sum(0) == pytest.approx(g, rel=1e-5)
    edges = np.linspace(0, r_max, bins + 1)
    shells = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    # each frame's norm is ∝ its shell volumes / its box volume
    for f in range(3):
        assert norms[f] / shells == pytest.approx(np.full(bins, norms[f, 0] / shells[0]), rel=1e-5)
    assert norms[0] == pytest.approx(norms[1], rel=1e-12)
    assert norms[2] / norms[0] == pytest.approx(np.full(bins, 1000.0 / 1728.0), rel=1e-9)
    # one box size: the ideal-gas count of ordered pairs n(n-1) shell / V
    r, g, counts, norms = analysis.rdf_frames(pos[:2], boxes[:2], r_max, bins)
    assert norms == pytest.approx(np.repeat((n * (n - 1) * shells / 1000.0)[None], 2, axis=0), rel=1e-5)


def test_rdf_frames_of_frames_without_pairs_in_range():
    pos = np.stack([_pair(6.0, 20.0)[0]] * 2)
    boxes = np.full((2, 3), 20.0)
    r, g, counts, norms = analysis.rdf_frames(pos, boxes, 4.0, 4)
    assert np.all(counts == 0) and np.all(g == 0)
    shells = 4 / 3 * np.pi * (np.arange(1, 5) ** 3 - np.arange(4) ** 3)  # Å³, bins of 1 Å
    assert norms == pytest.approx(np.repeat((2 * 1 * shells / 8000.0)[None], 2, axis=0), rel=1e-12)  # n(n-1) shell / V


def test_rdf_range_cuts_at_half_the_box_exclusive():
    boxes = np.array([[20.0, 30.0, 40.0]])
    assert analysis.rdf_range(9.99, 999, boxes) == (9.99, 999)
    r_max, bins = analysis.rdf_range(10.0, 100, boxes)  # exactly half: one bin less
    assert bins == 99 and r_max == pytest.approx(9.9)
    r_max, bins = analysis.rdf_range(15.0, 60, boxes)  # 0.25 Å bins
    assert bins == 39 and r_max == pytest.approx(9.75)


def test_coordination_number_of_g_one_is_the_sphere_volume_times_density():
    r = np.arange(100) * 0.1 + 0.05
    g = np.ones_like(r)
    for upper in (5.0, 2.3, 9.99999999995):
        edge = round(upper, 1)
        assert analysis.coordination_number(r, g, 0.03, upper) == pytest.approx(0.03 * 4 / 3 * np.pi * edge ** 3)
    # between bin edges only whole shells count
    assert analysis.coordination_number(r, g, 0.03, 5.0999) == pytest.approx(0.03 * 4 / 3 * np.pi * 5.0 ** 3)
    step = np.where(r > 3.0, 2.0, 0.0)
    assert analysis.coordination_number(r, step, 1.0, 4.0) == pytest.approx(2 * 4 / 3 * np.pi * (4 ** 3 - 3 ** 3))


def test_msd_xyz_of_straight_lines_is_velocity_squared_times_lag_squared():
    t = np.arange(20.0)
    v = np.array([[0.5, 0.0, 0.2], [-0.5, 1.0, 0.0]])  # Å per frame, two particles
    pos = t[:, None, None] * v[None]
    msd = analysis.msd_xyz(pos)
    assert msd.shape == (20, 3)
    expected = np.outer(t ** 2, (v ** 2).mean(0))
    assert msd == pytest.approx(expected, rel=1e-4, abs=1e-4)  # freud computes in float32


def _geometric(n=25, t_max=1.0e5):
    return np.r_[0.0, np.geomspace(100.0, t_max, n)]


def test_diffusion_in_a_given_window_fits_each_axis_and_the_loglog_slope():
    t = _geometric()
    D = np.array([1.0e-4, 2.0e-4, 4.5e-4])  # Å²/fs
    curve = 3.0 * (t / 1e4) ** 1.3
    msd = 2 * t[:, None] * D[None] + curve[:, None]
    lo, hi = t[5], t[15]
    d = analysis.diffusion(t, msd, window_fs=(lo, hi))
    sel = (t >= lo) & (t <= hi)
    assert sel.sum() == 11
    slopes = [np.polyfit(t[sel], msd[sel, a], 1)[0] / 2 * 1e4 for a in range(3)]
    assert d.per_axis == pytest.approx(slopes, rel=1e-9)
    assert d.D == pytest.approx(np.mean(slopes), rel=1e-9)
    assert d.err == pytest.approx(np.std(slopes, ddof=1) / np.sqrt(3), rel=1e-9)
    assert d.window_ps == pytest.approx((lo / 1000, hi / 1000), rel=1e-12)
    # t is log-spaced and the window holds < 32 points: the exponent is the slope through them
    expected = np.polyfit(np.log(t[sel]), np.log(msd[sel].sum(1)), 1)[0]
    assert d.exponent == pytest.approx(expected, rel=1e-9)
    assert d.diffusive == bool(0.9 <= expected <= 1.15)
    # a window from t = 0: the origin takes no part in the exponent
    d0 = analysis.diffusion(t, msd, window_fs=(0.0, hi))
    expected = np.polyfit(np.log(t[1:16]), np.log(msd[1:16].sum(1)), 1)[0]
    assert d0.exponent == pytest.approx(expected, rel=1e-9)
    assert d0.window_ps == (0.0, pytest.approx(hi / 1000))


def test_diffusion_exponent_and_flag_of_power_laws():
    t = _geometric(30)
    for alpha, diffusive in ((1.0, True), (0.7, False), (1.5, False), (1.1, True), (0.95, True)):
        msd = np.repeat((t ** alpha)[:, None], 3, axis=1)
        d = analysis.diffusion(t, msd, window_fs=(t[1], t[-1]))
        assert d.exponent == pytest.approx(alpha, rel=1e-9)
        assert d.diffusive is diffusive
    # a window of 3 points from t > 0 (the log-log slope needs three) and of two
    t = np.arange(0.0, 1000.0, 100.0)
    msd = np.repeat((t ** 1.05)[:, None], 3, axis=1)
    assert analysis.diffusion(t, msd, window_fs=(100.0, 300.0)).exponent == pytest.approx(1.05, rel=1e-9)
    assert np.isnan(analysis.diffusion(t, msd, window_fs=(0.0, 200.0)).exponent)
    with pytest.raises(ValueError, match=re.escape("MSD fit window 100.0-200.0 fs holds fewer than 3 points")):
        analysis.diffusion(t, msd, window_fs=(100.0, 200.0))


def test_diffusion_window_of_a_fickian_msd_starts_at_2_ps():
    t = np.arange(0, 100_001, 100.0)  # fs
    msd = np.repeat((2e-4 * t)[:, None], 3, axis=1)
    assert analysis.diffusion_window(t, msd) == (2000.0, 50000.0)
    assert analysis.diffusion_window(t, msd, end_fraction=0.8, earliest_fs=5000.0) == (5000.0, 80000.0)
    d = analysis.diffusion(t, msd)
    assert d.window_ps == (2.0, 50.0) and d.D == pytest.approx(1.0) and d.diffusive
    assert d.exponent == pytest.approx(1.0, rel=1e-9)


def test_diffusion_window_of_a_gas_is_the_latest_one():
    t = np.arange(0, 100_001, 100.0)
    msd = np.repeat(((1e-3 * t) ** 2)[:, None], 3, axis=1)
    assert analysis.diffusion_window(t, msd) == (25000.0, 50000.0)
    assert analysis.diffusion_window(t, msd, span=4.0) == (12500.0, 50000.0)
    d = analysis.diffusion(t, msd)
    assert not d.diffusive and d.exponent == pytest.approx(2.0, rel=1e-5)


def test_diffusion_window_of_a_run_too_short_for_2_ps():
    t = np.array([0.0, 100.0, 200.0, 300.0])
    assert analysis.diffusion_window(t, np.ones((4, 3))) == (0.0, 150.0)


def _slope(t, total, a, b):
    """log-log slope over [a, b] on log-spaced samples of the MSD (numpy only)."""
    ts = np.geomspace(a, b, 40)
    return np.polyfit(np.log(ts), np.log(np.interp(ts, t, total)), 1)[0]


def test_diffusion_window_skips_starts_whose_first_half_is_not_diffusive():
    # caged (t^0.5) to 20 ps, then Fickian, then late ballistic-like t^1.1 rise: the first window start
    # whose whole window is diffusive averages a caged first half with a faster second half
    t = np.arange(0, 400_001, 100.0)
    tc = 20_000.0
    total = np.where(t < tc, (t / tc) ** 0.5, (t / tc) ** 1.1)
    msd = np.repeat(total[:, None] / 3, 3, axis=1)
    lo, hi = analysis.diffusion_window(t, msd)
    assert hi == 200_000.0
    grid = np.geomspace(2000.0, 100_000.0, 24)
    assert lo in grid
    k = int(np.flatnonzero(grid == lo)[0])

    def fickian(a, b):
        return 0.9 <= _slope(t, total, a, b) <= 1.15

    assert fickian(lo, hi) and fickian(lo, np.sqrt(lo * hi))
    assert all(not (fickian(a, hi) and fickian(a, np.sqrt(a * hi))) for a in grid[:k])
    # and the whole window alone would have started earlier
    assert any(fickian(a, hi) for a in grid[:k])


def test_density_settled_on_a_flat_series():
    t = np.arange(80.0)  # ps
    # alternates ±0.001 about block means 0.7, 0.7001, 0.6999, 0.7 (a flat line through them would
    # leave no residual to estimate the drift's error from)
    x = 0.7 + 0.001 * (-1.0) ** np.arange(80) + np.repeat([0.0, 0.0, 0.0, 0.0, 0.0, 1e-4, -1e-4, 0.0], 10)
    s = analysis.density_settled(t, x)
    assert s.settled and s.window_ps == (40.0, 79.0)
    assert s.mean == pytest.approx(0.7, rel=1e-12)
    assert s.blocks == pytest.approx((0.7, 0.7001, 0.6999, 0.7), rel=1e-12)
    assert s.error == pytest.approx(np.std([0, 1, -1, 0], ddof=1) * 1e-4 / 2 / 0.7, rel=1e-9)
    assert s.drift == pytest.approx(-2e-6 * 39 / 0.7, rel=1e-6)  # slope Σ(c - c̄)(m - m̄) / Σ(c - c̄)²


def test_density_settled_on_a_constant_series():
    # every block mean equal: no drift, no error, settled (linregress alone gives a NaN drift error,
    # which read as "not settled")
    s = analysis.density_settled(np.arange(80.0), np.full(80, 0.7))
    assert s.settled
    assert (s.drift, s.drift_err, s.error) == (0.0, 0.0, 0.0)
    assert s.mean == pytest.approx(0.7, rel=1e-12)


def test_density_settled_on_a_ramp_reports_its_drift():
    t = np.arange(80.0)
    x = 0.7 + 0.001 * t
    s = analysis.density_settled(t, x)  # window 40..79 ps, blocks of 10 points
    blocks = (0.7445, 0.7545, 0.7645, 0.7745)
    mean = 0.7595
    assert s.blocks == pytest.approx(blocks, rel=1e-12) and s.mean == pytest.approx(mean, rel=1e-12)
    assert s.error == pytest.approx(np.sqrt(500 / 3) * 1e-3 / 2 / mean, rel=1e-9)  # std of 0, 10, 20, 30 (×1e-3)
    assert s.drift == pytest.approx(0.001 * 39 / mean, rel=1e-9)
    assert s.drift_err == pytest.approx(0.0, abs=1e-12)
    assert not s.settled  # 5.1 % drift, known exactly
    # the same ramp passes when 2 tol exceeds the drift, and the block scatter is within tol
    assert analysis.density_settled(t, x, tol=0.03).settled
    assert not analysis.density_settled(t, x, tol=0.0255).settled  # 2 tol = 5.1 % < drift 5.13 %
    assert not analysis.density_settled(t, x, tol=0.0079).settled  # error 0.85 % > tol
    # the last 20 ps in 4 blocks of 6, 5, 5, 5 points
    s = analysis.density_settled(t, x, window_ps=20.0)
    assert s.window_ps == (59.0, 79.0)
    assert s.blocks == pytest.approx((0.7615, 0.767, 0.772, 0.777), rel=1e-12)
    assert s.mean == pytest.approx(0.7693750, rel=1e-12)
    s = analysis.density_settled(t, x, blocks=2, window_ps=100.0)  # a window longer than the run: all
    assert s.window_ps == (0.0, 79.0) and s.blocks == pytest.approx((0.7195, 0.7595), rel=1e-12)


def test_density_settled_noise_with_an_uncertain_drift():
    # block means 0.70, 0.72, 0.69, 0.73: scatter 1.2 %, drift +2.1 % ± 2.6 % (regression of the means)
    t = np.arange(8.0)
    x = np.repeat([0.70, 0.72, 0.69, 0.73], 2)
    s = analysis.density_settled(t, x, window_ps=7.0, tol=0.02)
    means = np.array([0.70, 0.72, 0.69, 0.73])
    centres = np.array([0.5, 2.5, 4.5, 6.5])
    slope, _ = np.polyfit(centres, means, 1)
    resid = means - np.polyval(np.polyfit(centres, means, 1), centres)
    stderr = np.sqrt(resid @ resid / 2 / ((centres - centres.mean()) ** 2).sum())
    assert s.drift == pytest.approx(slope * 7 / 0.71, rel=1e-9)
    assert s.drift_err == pytest.approx(stderr * 7 / 0.71, rel=1e-9)
    assert s.error == pytest.approx(means.std(ddof=1) / 2 / 0.71, rel=1e-9)
    assert s.settled  # error 1.2 % < 2 %, drift below 2 tol
    assert not analysis.density_settled(t, x, window_ps=7.0, tol=0.01).settled
    with pytest.raises(ValueError, match=re.escape("density series of 7 points is too short for 4 blocks")):
        analysis.density_settled(t[:7], x[:7], window_ps=10.0)
    assert analysis.density_settled(t, x, window_ps=7.0, blocks=4).blocks == pytest.approx(tuple(means))


def test_settled_describe_reads_as_a_sentence():
    s = analysis.Settled(True, 0.7234, (0.72, 0.7251), 0.0123, -0.0456, 0.0078, (20.0, 39.9))
    assert s.describe() == ("density 0.723 ± 1.2 % g/cm³ over 20-39.9 ps, block means 0.720, 0.725, "
                            "drift -4.6 ± 0.8 %")


def test_rdf_frames_reads_freuds_constant_off_a_single_sampled_bin():
    # 125 points 5 Å apart and one 0.87 Å from a corner point: a single pair closer than 4 Å, g < 1 there
    grid = np.stack(np.meshgrid(*[np.arange(5) * 5.0] * 3, indexing="ij"), -1).reshape(-1, 3) + 1.0
    pos = np.vstack([grid, grid[:1] + 0.5])[None]
    boxes = np.full((1, 3), 25.0)
    r, g, counts, norms = analysis.rdf_frames(pos, boxes, 4.0, 8)
    assert counts[0].tolist() == [0, 2, 0, 0, 0, 0, 0, 0]
    assert 0 < g[1] < 1 and np.count_nonzero(g) == 1
    edges = np.linspace(0, 4.0, 9)
    ideal = 126 * 125 * 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3) / 25.0 ** 3
    assert norms[0] == pytest.approx(ideal, rel=1e-5)


def test_fractional_times_count_from_the_first_positive_one():
    t = np.r_[0.0, 0.25 * 2.0 ** np.arange(8)]  # 0, 0.25 .. 32 fs, log-spaced
    msd = np.repeat((t + 0.2 * t ** 2)[:, None], 3, axis=1)
    d = analysis.diffusion(t, msd, window_fs=(0.0, 32.0))
    expected = np.polyfit(np.log(t[1:]), np.log(msd[1:].sum(1)), 1)[0]
    assert d.exponent == pytest.approx(expected, rel=1e-9)
    t = np.arange(0, 100.01, 0.5)
    line = np.repeat((0.1 * t)[:, None], 3, axis=1)
    assert analysis.diffusion_window(t, line, earliest_fs=0.0) == (0.5, 50.0)


def test_diffusion_window_needs_three_points_in_each_half():
    t = np.arange(0, 2001, 100.0)
    line = np.repeat((0.1 * t)[:, None], 3, axis=1)
    # from 100 fs the first (log-)half, 100-316 fs, holds exactly 100, 200 and 300 fs
    assert analysis.diffusion_window(t, line, earliest_fs=0.0) == (100.0, 1000.0)
    # the only candidate start is the latest one, 100 fs, and 100-200 fs holds two points
    t = np.arange(0, 401, 100.0)
    assert analysis.diffusion_window(t, np.repeat((0.1 * t)[:, None], 3, axis=1)) == (100.0, 200.0)


def test_density_settled_window_of_a_series_not_starting_at_zero():
    t = np.arange(100.0, 180.0)
    x = 0.7 + 0.001 * (t - 100.0)
    s = analysis.density_settled(t, x)
    assert s.window_ps == (140.0, 179.0)
    assert s.blocks == pytest.approx((0.7445, 0.7545, 0.7645, 0.7745), rel=1e-12)


def test_settled_describe_in_percent():
    s = analysis.Settled(False, 0.7, (0.7,), 0.09, -0.456, 0.09, (1.0, 2.0))
    assert s.describe() == "density 0.700 ± 9.0 % g/cm³ over 1-2 ps, block means 0.700, drift -45.6 ± 9.0 %"
