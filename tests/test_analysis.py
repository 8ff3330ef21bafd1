"""freud-based analysis against systems whose answers are known exactly."""

import gsd.hoomd
import numpy as np
import pytest

from mobcg import analysis
from mobcg.lammps import trajectory


def test_diffusion_fit_recovers_random_walk_slope(tmp_path):
    rng = np.random.default_rng(1)
    n, frames, dt_fs, sigma = 300, 400, 10.0, 0.05  # Å per axis per 10 fs
    walk = np.cumsum(rng.normal(scale=sigma, size=(frames, n, 3)), axis=0)
    path = tmp_path / "walk.gsd"
    with gsd.hoomd.open(path, "w") as traj:
        for i, xyz in enumerate(walk):  # positions leave the 8 Å box: images carry them
            traj.append(trajectory.frame(xyz, [8.0, 8.0, 8.0], step=i * 10, timestep_fs=1.0))
    t, pos, boxes = trajectory.read_gsd(path)
    np.testing.assert_allclose(pos, walk, atol=1e-4)
    d = analysis.diffusion(t, analysis.msd_xyz(pos))
    expected = sigma**2 / (2 * dt_fs) * analysis.A2_PER_FS_IN_1E9_M2_PER_S  # 1e-9 m²/s
    assert d.D == pytest.approx(expected, rel=0.05)
    assert 0 < d.err < 0.05 * expected
    assert d.exponent == pytest.approx(1.0, abs=0.05)
    assert d.window_ps[0] < d.window_ps[1] <= t[-1] / 1000


def test_rdf_of_ideal_gas_counts_neighbours_by_density():
    rng = np.random.default_rng(2)
    length, n = 20.0, 2000
    pos = rng.uniform(0, length, size=(10, n, 3))
    boxes = np.full((10, 3), length)
    r, g = analysis.rdf(pos, boxes, r_max=9.0, bins=90)
    assert np.abs(g[r > 2] - 1).mean() < 0.03
    rho = n / length**3
    assert analysis.coordination_number(r, g, rho, 5.0) == pytest.approx(rho * 4 / 3 * np.pi * 5**3, rel=0.03)


def test_rdf_of_simple_cubic_lattice_gives_6_then_18_neighbours():
    a, m = 2.0, 10
    grid = np.stack(np.meshgrid(*[np.arange(m) * a] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    r, g = analysis.rdf(grid[None], np.full((1, 3), m * a), r_max=3.5, bins=350)
    rho = 1 / a**3
    assert analysis.coordination_number(r, g, rho, 2.2) == pytest.approx(6, abs=0.1)
    assert analysis.coordination_number(r, g, rho, 2.9) == pytest.approx(18, abs=0.1)


def test_truncated_com_file_keeps_complete_frames(tmp_path):
    com = tmp_path / "com.dat"
    com.write_text("# header\n0 2\n1 0 0 0\n2 1 1 1\n10 2\n1 0.1 0 0\n")  # second frame cut off
    steps, rows = trajectory.read_vector_file(com)
    assert steps.tolist() == [0] and rows.shape == (1, 2, 3)


def test_rdf_refuses_a_range_past_half_the_box_and_rdf_range_cuts_to_whole_bins():
    boxes = np.array([[20.0, 20.0, 20.0], [19.0, 19.5, 20.0]])
    pos = np.random.default_rng(0).uniform(0, 19, size=(2, 50, 3))
    for r_max in (12.0, 9.5):
        with pytest.raises(ValueError, match=rf"r_max = {r_max:g} Å exceeds half the smallest box \(9.5 Å\)"):
            analysis.rdf(pos, boxes, r_max, 120)
    r_max, bins = analysis.rdf_range(12.0, 120, boxes)
    assert (r_max, bins) == (pytest.approx(9.4), 94)  # same 0.1 Å bins, below half the smallest box
    r, g = analysis.rdf(pos, boxes, r_max, bins)
    assert r[0] == pytest.approx(0.05, abs=1e-6) and r[-1] == pytest.approx(9.35, abs=1e-6)  # freud: float32
    assert analysis.rdf_range(9.0, 90, boxes) == (9.0, 90)


def test_rdf_from_lammps_recovers_pair_counts_and_normalises_by_ordered_pairs():
    """LAMMPS' g is counts / (n(n-1) shell / V): counts come back exactly, norms are n(n-1) shell / V."""
    n, bins, r_max = 10, 4, 2.0
    boxes = np.array([[10.0, 10.0, 10.0], [10.0, 10.0, 20.0]])
    shell = 4 / 3 * np.pi * np.array([0.5 ** 3, 1.0 - 0.5 ** 3, 1.5 ** 3 - 1.0, 8.0 - 1.5 ** 3])
    counts = np.array([[0, 2, 4, 6], [0, 0, 2, 8]], float)
    g_lammps = counts / (n * (n - 1) * shell / np.prod(boxes, axis=1)[:, None])
    r, g, c, norms = analysis.rdf_from_lammps(g_lammps, r_max, boxes, n)
    np.testing.assert_allclose(r, [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_array_equal(c, counts)
    np.testing.assert_allclose(norms, n * (n - 1) * shell / np.prod(boxes, axis=1)[:, None])
    np.testing.assert_allclose(g, counts.sum(0) / norms.sum(0))


@pytest.mark.parametrize("order", [(30.0, 33.0), (33.0, 30.0)])
def test_rdf_of_an_npt_trajectory_normalises_each_frame_by_its_own_volume(order):
    """Uniform points in a box that changes size (NPT): g = 1 at every r (normalised by the N(N-1)
    ordered pairs, so a 125-point box and a 1000-point one agree), whichever volume comes last. freud's accumulated g divides by the last frame's volume: 1.155 or 0.869 here, and
    2.5 % low on the small preset's AA target, which held IBI at 2.6 % deviation."""
    rng = np.random.default_rng(3)
    n, per = 125, 200
    lengths = np.repeat(order, per)
    pos = np.stack([rng.uniform(0, length, (n, 3)) for length in lengths])
    boxes = np.repeat(lengths[:, None], 3, axis=1)
    r, g = analysis.rdf(pos, boxes, 14.0, 28)
    # ordered pairs per bin ≥ 2 × 200 × 125² × 4π r² dr / V ≈ 4e4 beyond 5 Å: ±0.5 % per bin
    np.testing.assert_allclose(g[r > 5.0], 1.0, rtol=0.02)
    assert g[r > 5.0].mean() == pytest.approx(1.0, rel=0.003)
    _, g_f, counts, norms = analysis.rdf_frames(pos, boxes, 14.0, 28)
    np.testing.assert_allclose(norms[:per].sum(0) / norms[per:].sum(0), (order[1] / order[0]) ** 3, rtol=1e-12)


def test_vector_file_read_in_one_parse_equals_the_line_by_line_reader(tmp_path, monkeypatch):
    """LAMMPS' usual `fix ave/time mode vector` file (comments on top, whole frames, rows 1..n) is read in
    one parse; the result is the line-by-line reader's, value for value. Anything else (a cut frame, a
    comment inside, rows not numbered 1..n) goes the line-by-line way."""
    rng = np.random.default_rng(5)
    text = "# Time-averaged data for fix rdfout\n# TimeStep Number-of-rows\n# Row c_rdf[2] c_x\n"
    for f in range(7):
        text += f"{101 + 100 * f} 4\n" + "".join(f"{i + 1} {rng.random() * 3:.12g} {rng.normal():.12g}\n"
                                                for i in range(4))
    path = tmp_path / "run.rdf"
    variants = {"whole": text, "cut": "".join(text.splitlines(keepends=True)[:-2]), "comment inside": text.replace("301 4\n", "# restart\n301 4\n"),
                "rows renumbered": text.replace("\n2 ", "\n7 ", 1)}
    expected_fast = {"whole": True, "cut": False, "comment inside": False, "rows renumbered": False}
    for name, body in variants.items():
        assert (trajectory._whole_frames(body) is not None) is expected_fast[name], name
        path.write_text(body)
        steps, rows = trajectory.read_vector_file(path)
        with monkeypatch.context() as m:
            m.setattr(trajectory, "_whole_frames", lambda text: None)
            slow_steps, slow_rows = trajectory.read_vector_file(path)
        assert steps.dtype == slow_steps.dtype and np.array_equal(steps, slow_steps), name
        assert rows.shape == slow_rows.shape and np.array_equal(rows, slow_rows), name
    assert steps.tolist() == [101 + 100 * f for f in range(7)] and rows.shape == (7, 4, 2)
