"""Tests for mobcg.ibi with synthetic engines where g[U] is known in closed form.

Dilute limit: g(r) = exp(-U(r)/kT) exactly, so the PMF start is already the answer.
Mean-field engine: g = exp(-(U + W[U])/kT), W[U] = alpha * (Gaussian smoothing of
exp(-U/kT) - 1) -- a crude density-dependent mean field; the PMF is then U* + W[U*], not
U*, and IBI needs several contracting iterations to find U*.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from mobcg import ibi

T = 300.0
KT = ibi.KB * T
R = np.arange(1, 601) * 0.025  # 0.025 .. 15 Å
RC = 15.0
ATM_PER_KCAL_MOL_A3 = 4184.0 / 6.02214076e23 / 1e-30 / 101325.0  # ≈ 68568 atm


def lj(r, eps=0.6, sigma=5.0):
    return 4 * eps * ((sigma / r) ** 12 - (sigma / r) ** 6)


U_STAR = np.where(R < RC, lj(R) - lj(RC), 0.0)  # target potential, kcal/mol
WELL = (R > 4.9) & (R < 9.0)  # sampled well/first-shell region


def dilute(U):
    with np.errstate(over="ignore"):
        return np.exp(-np.asarray(U) / KT)


def mean_field_g(U, alpha=0.3 * KT, width=1.0):
    h = dilute(U) - 1.0
    x = np.arange(-4 * width, 4 * width + 1e-9, 0.025)
    kern = np.exp(-0.5 * (x / width) ** 2)
    kern /= kern.sum()
    W = alpha * np.convolve(h, kern, mode="same")
    return dilute(np.asarray(U) + W)


def virial_pressure(U, g, rho=0.004):
    """P = rho kT - (2π/3) rho² ∫ r³ U'(r) g(r) dr, in atm (rho in 1/Å³)."""
    dU = np.gradient(U, R)
    p = rho * KT - 2 * np.pi / 3 * rho**2 * np.trapezoid(R**3 * dU * g, R)
    return p * ATM_PER_KCAL_MOL_A3


def quiet(*a, **k):
    pass


# ---------------------------------------------------------------- building blocks

def test_deviation_known_functions():
    r = np.linspace(0.0, 10.0, 1001)
    gt = np.ones_like(r)
    assert ibi.deviation(r, gt, gt) == 0.0
    assert ibi.deviation(r, 1.1 * gt, gt) == pytest.approx(0.1)
    assert ibi.deviation(r, 0.0 * gt, gt) == pytest.approx(1.0)
    # triangle target, g off by a constant 0.5 on half of the range
    gt2 = r / 10.0  # ∫ = 5
    g2 = gt2 + np.where(r < 5.0, 0.5, 0.0)  # ∫|Δ| = 2.5 (up to one trapezoid at the step)
    assert ibi.deviation(r, g2, gt2) == pytest.approx(0.5, abs=2e-3)
    with pytest.raises(ValueError):
        ibi.deviation(r, np.full_like(r, np.nan), gt)


def test_pmf_start_zeros_give_finite_monotone_repulsive_core():
    g = dilute(U_STAR)
    g[R < 4.0] = 0.0  # no pairs sampled below 4 Å
    g[R < 4.1] = np.minimum(g[R < 4.1], 1e-12)
    U = ibi.pmf_start(R, g, T, RC)
    assert np.all(np.isfinite(U))
    core = R < 4.1
    i0 = np.flatnonzero(~core)[0]
    assert np.all(np.diff(U[: i0 + 1]) < 0)  # strictly repulsive, monotone
    slope_core = (U[1] - U[0]) / (R[1] - R[0])
    slope_edge = (U[i0 + 2] - U[i0]) / (R[i0 + 2] - R[i0])
    assert slope_core <= slope_edge + 1e-9  # at least as steep as at the edge
    assert U[0] > U[i0] > 5 * KT
    # Reliable region is the PMF, tail is exactly zero at and beyond r_cut.
    assert np.allclose(U[WELL], U_STAR[WELL], atol=1e-9)
    assert U[-1] == 0.0
    # No NaN even with NaN / negative g or r_cut short of the grid end.
    g2 = g.copy()
    g2[300] = np.nan
    g2[5] = -1.0
    U2 = ibi.pmf_start(R, g2, T, 12.0)
    assert np.all(np.isfinite(U2)) and np.all(U2[R >= 12.0] == 0.0)
    with pytest.raises(ValueError):
        ibi.pmf_start(R, np.zeros_like(R), T, RC)


def test_update_refits_the_core_and_does_not_smooth_U():
    rng = np.random.default_rng(0)
    gt = dilute(U_STAR)
    i_edge = np.flatnonzero(gt > ibi.G_MIN)[0]
    U = ibi.pmf_start(R, gt, T, RC)
    U[i_edge:] += 0.01 * rng.standard_normal(R.size - i_edge) * (R[i_edge:] < 14)
    U = ibi.extend_core(R, U, i_edge, T)  # as every U the driver makes: core from its own edge
    # g == g_target: no change at all, however rough U is (smoothing acts on ΔU only).
    assert np.array_equal(ibi.update(U, gt, gt, T, r=R, r_cut=RC), U)
    # g unsampled in the core: the core is re-extrapolated from the new edge, a straight wall at
    # least as steep as the new U's first reliable bins (its shape follows the update)
    g = gt * np.where(R < 10.0, 1.05, 1.0)  # CG too structured below 10 Å
    g[R < 4.5] = 0.0
    Un = ibi.update(U, g, gt, T, lam=1.0, r=R, r_cut=RC, smooth=0)
    dU = Un - U
    assert np.all(np.isfinite(Un))
    i0 = np.flatnonzero(R >= 4.5)[0]
    core_slope = np.diff(Un[:i0 + 1]) / np.diff(R[:i0 + 1])
    assert np.allclose(core_slope, core_slope[0])  # straight
    edge_steps = np.diff(Un[i0:i0 + 3]) / np.diff(R[i0:i0 + 3])
    assert core_slope[0] <= edge_steps.min() + 1e-9 and core_slope[0] <= -5 * KT
    assert np.allclose(dU[(R >= 4.5) & (R < 10.0)], KT * np.log(1.05))  # U raised there
    assert np.allclose(dU[(R > 10.0) & (R < 13.0)], 0.0)
    assert dU[-1] == 0.0 and np.all(dU[R >= RC] == 0.0)


def test_pressure_correction_sign_and_size():
    dU_hi = ibi.pressure_correction(R, 1500.0, 1.0, T, RC)  # CG pressure too high
    dU_lo = ibi.pressure_correction(R, -500.0, 1.0, T, RC)  # too low
    F_hi = -np.gradient(dU_hi, R)
    F_lo = -np.gradient(dU_lo, R)
    inside = R < RC - 0.1
    assert np.all(F_hi[inside] < 0)  # force pulls pairs together (attraction)
    assert np.all(F_lo[inside] > 0)  # pushes apart
    assert dU_hi[0] < 0 and dU_lo[0] > 0
    assert np.all(dU_hi[R >= RC] == 0.0)
    # amplitude: 0.1 kT * min(1, f|ΔP|), f = 3e-4/atm
    assert ibi.pressure_amplitude(1501.0, 1.0, T) == pytest.approx(-0.1 * KT * 0.45)
    assert ibi.pressure_amplitude(1e6, 1.0, T) == pytest.approx(-0.1 * KT)
    assert ibi.pressure_amplitude(-1e6, 1.0, T) == pytest.approx(0.1 * KT)
    assert ibi.pressure_amplitude(1.0, 1.0, T) == 0.0
    # Physically: with the same g, the corrected potential has a lower virial pressure.
    g = dilute(U_STAR)
    assert virial_pressure(U_STAR + dU_hi, g) < virial_pressure(U_STAR, g)
    assert virial_pressure(U_STAR + dU_lo, g) > virial_pressure(U_STAR, g)


# ---------------------------------------------------------------- driver

def test_dilute_engine_recovers_target(tmp_path):
    gt = dilute(U_STAR)
    res = ibi.run_ibi(R, gt, None, T, lambda U, k, w: (dilute(U), None), tmp_path, RC,
                      p_tol=None, max_iterations=10, tol=0.01, progress=quiet)
    assert res.converged and res.deviation < 0.01
    assert np.allclose(res.U[WELL], U_STAR[WELL], atol=0.02)
    assert np.all(np.isfinite(res.U))


def test_mean_field_engine_needs_several_iterations(tmp_path):
    gt = mean_field_g(U_STAR)
    U0 = ibi.pmf_start(R, gt, T, RC)
    assert ibi.deviation(R, mean_field_g(U0), gt) > 0.02  # PMF alone is not good enough
    calls = []

    def sim(U, k, workdir):
        calls.append(k)
        assert Path(workdir).is_dir()
        return mean_field_g(U), None

    res = ibi.run_ibi(R, gt, None, T, sim, tmp_path, RC, p_tol=None, max_iterations=40,
                      tol=0.002, progress=quiet)
    assert res.converged and res.deviation < 0.002
    assert len(calls) >= 3 and calls == list(range(len(calls)))
    assert np.allclose(res.U[WELL], U_STAR[WELL], atol=0.03)
    devs = [it.deviation for it in res.iterations]
    assert devs[-1] < devs[0] / 5


def test_noisy_engine_converges_and_stays_finite(tmp_path):
    rng = np.random.default_rng(1)
    gt = mean_field_g(U_STAR)

    def sim(U, k, w):
        return mean_field_g(U) * (1 + 0.002 * rng.standard_normal(R.size)), None

    res = ibi.run_ibi(R, gt, None, T, sim, tmp_path, RC, p_tol=None, max_iterations=30,
                      tol=0.01, progress=quiet)
    assert res.converged and np.all(np.isfinite(res.U))
    assert np.allclose(res.U[WELL], U_STAR[WELL], atol=0.05)


def test_pressure_matched_with_virial_engine(tmp_path):
    gt = dilute(U_STAR)
    P_t = virial_pressure(U_STAR, gt)
    res = ibi.run_ibi(R, gt, P_t, T, lambda U, k, w: (dilute(U), virial_pressure(U, dilute(U))),
                      tmp_path, RC, p_tol=1.0, max_iterations=10, progress=quiet)
    assert res.converged and abs(res.pressure - P_t) < 1.0


def test_pressure_correction_applied_in_driver(tmp_path):
    gt = dilute(U_STAR)
    res = ibi.run_ibi(R, gt, 1.0, T, lambda U, k, w: (dilute(U), 2001.0), tmp_path, RC,
                      p_tol=10.0, max_iterations=3, pressure_every=2, progress=quiet)
    assert not res.converged
    As = [it.pressure_A for it in res.iterations]
    assert As[0] == pytest.approx(-0.1 * KT * 0.6) and As[1] == 0.0 and As[2] < 0
    it = res.iterations[0]
    plain = ibi.update(it.U, it.g, gt, T, 1.0, r=R, r_cut=RC, tail_width=3 * 0.025)  # the driver's
    assert np.allclose(it.U_next - plain, ibi.pressure_correction(R, 2001.0, 1.0, T, RC))


def test_best_iteration_kept_when_last_is_worse(tmp_path):
    gt = mean_field_g(U_STAR)

    def sim(U, k, w):
        g = mean_field_g(U)
        return (g * 1.5 if k == 3 else g), None

    res = ibi.run_ibi(R, gt, None, T, sim, tmp_path, RC, p_tol=None, max_iterations=4,
                      tol=0.0, progress=quiet)
    assert not res.converged
    assert res.best_iteration == 2 and res.iteration == 2
    assert np.array_equal(res.U, res.iterations[2].U)
    assert res.deviation == res.iterations[2].deviation < res.iterations[3].deviation


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_resume_continues_after_interrupt(tmp_path, exc):
    gt = mean_field_g(U_STAR)
    kw = dict(p_tol=None, max_iterations=6, tol=0.0, progress=quiet)
    ref = ibi.run_ibi(R, gt, None, T, lambda U, k, w: (mean_field_g(U), None),
                      tmp_path / "ref", RC, **kw)

    def crashing(U, k, w):
        if k == 3:
            raise exc("engine died")
        return mean_field_g(U), None

    d = tmp_path / "run"
    with pytest.raises(exc):
        ibi.run_ibi(R, gt, None, T, crashing, d, RC, **kw)
    assert [it.index for it in ibi.load_history(d)] == [0, 1, 2]
    assert json.loads((d / "ibi.json").read_text())["status"].startswith("interrupted")

    calls = []

    def sim(U, k, w):
        calls.append(k)
        return mean_field_g(U), None

    res = ibi.run_ibi(R, gt, None, T, sim, d, RC, **kw)
    assert calls == [3, 4, 5] and res.n_simulated == 3
    assert [it.index for it in res.iterations] == list(range(6))
    assert np.allclose(res.U, ref.U) and res.iteration == ref.iteration
    # Nothing left to do: a third call simulates nothing.
    again = ibi.run_ibi(R, gt, None, T, sim, d, RC, **kw)
    assert again.n_simulated == 0 and calls == [3, 4, 5]


def test_resume_of_converged_run_does_not_simulate(tmp_path):
    gt = dilute(U_STAR)
    sim = lambda U, k, w: (dilute(U), None)  # noqa: E731
    ibi.run_ibi(R, gt, None, T, sim, tmp_path, RC, p_tol=None, progress=quiet)
    res = ibi.run_ibi(R, gt, None, T, lambda *a: pytest.fail("simulated"), tmp_path, RC,
                      p_tol=None, progress=quiet)
    assert res.converged and res.n_simulated == 0


def test_history_files_atomic_and_corrupt_last_ignored(tmp_path):
    gt = mean_field_g(U_STAR)
    kw = dict(p_tol=None, max_iterations=4, tol=0.0, progress=quiet)
    sim = lambda U, k, w: (mean_field_g(U), None)  # noqa: E731
    ibi.run_ibi(R, gt, None, T, sim, tmp_path, RC, **kw)
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == ["ibi.json"] + [f"iteration_{k:03d}.npz" for k in range(4)]
    summary = json.loads((tmp_path / "ibi.json").read_text())
    assert [e["iteration"] for e in summary["iterations"]] == [0, 1, 2, 3]
    assert summary["best_iteration"] == 3
    hist = ibi.load_history(tmp_path)
    assert len(hist) == 4 and np.array_equal(hist[0].r, R)

    # Simulate a crash mid-write of iteration 3: torn npz + a stray temp file.
    last = tmp_path / "iteration_003.npz"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    (tmp_path / ".iteration_003.npz.abc123.tmp").write_bytes(data[:100])
    assert [it.index for it in ibi.load_history(tmp_path)] == [0, 1, 2]
    assert last.exists()  # plain load does not delete

    calls = []

    def sim2(U, k, w):
        calls.append(k)
        return mean_field_g(U), None

    res = ibi.run_ibi(R, gt, None, T, sim2, tmp_path, RC, **kw)
    assert calls == [3] and len(res.iterations) == 4
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert len(ibi.load_history(tmp_path)) == 4

    # A corrupt file that is *not* the last one is an error, not silently skipped.
    (tmp_path / "iteration_001.npz").write_bytes(b"garbage")
    with pytest.raises(RuntimeError):
        ibi.load_history(tmp_path)


def test_grid_mismatch_on_resume_is_refused(tmp_path):
    gt = mean_field_g(U_STAR)
    ibi.run_ibi(R, gt, None, T, lambda U, k, w: (mean_field_g(U), None), tmp_path, RC,
                p_tol=None, max_iterations=2, tol=0.0, progress=quiet)
    r2 = R * 1.001
    with pytest.raises(ValueError):
        ibi.run_ibi(r2, gt, None, T, lambda U, k, w: (mean_field_g(U), None), tmp_path, RC,
                    p_tol=None, max_iterations=3, tol=0.0, progress=quiet)


def test_pressure_correction_lowers_too_high_pressure(tmp_path):
    # Engine whose pressure has a spurious +300 atm (e.g. missing many-body terms): the
    # correction must move the next iteration's pressure toward the target.
    gt = dilute(U_STAR)
    P_t = virial_pressure(U_STAR, gt)

    def sim(U, k, w):
        g = dilute(U)
        return g, virial_pressure(U, g) + 300.0

    res = ibi.run_ibi(R, gt, P_t, T, sim, tmp_path, RC, p_tol=1.0, max_iterations=3,
                      U_start=U_STAR, progress=quiet)
    P = [it.pressure - P_t for it in res.iterations]
    assert P[0] == pytest.approx(300.0, abs=1.0)
    assert res.iterations[0].pressure_A < 0
    # (In this fully structure-sensitive dilute engine IBI partly undoes the ramp on the
    # next step, so only the direction of the first response is asserted.)
    assert 0 < P[1] < P[0] and P[2] < P[0]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_records_written_in_the_background_are_on_disk_when_run_ibi_returns_or_raises(tmp_path, exc, monkeypatch):
    """With a files.Background the iteration files and ibi.json are written by its thread, each after the
    one before: on disk, the same as without it, when run_ibi raises, or once the caller has waited for
    the thread after it returned (the last summary after every iteration file)."""
    from mobcg import files

    gt = mean_field_g(U_STAR)
    kw = dict(p_tol=None, max_iterations=4, tol=0.0, progress=quiet)
    ref = ibi.run_ibi(R, gt, None, T, lambda U, k, w: (mean_field_g(U), None), tmp_path / "ref", RC, **kw)
    real_write, order = ibi._write_iteration, []

    def slow_write(directory, it):  # the thread writes later than the loop submits
        import time
        time.sleep(0.05)
        order.append(it.index)
        return real_write(directory, it)

    monkeypatch.setattr(ibi, "_write_iteration", slow_write)
    with files.Background() as background:
        res = ibi.run_ibi(R, gt, None, T, lambda U, k, w: (mean_field_g(U), None), tmp_path / "bg", RC,
                          background=background, **kw)
        background.wait()
        assert order == [0, 1, 2, 3] and [it.index for it in ibi.load_history(tmp_path / "bg")] == [0, 1, 2, 3]
        summary = json.loads((tmp_path / "bg" / "ibi.json").read_text())
        assert summary["status"] == "max_iterations" and len(summary["iterations"]) == 4
    assert np.array_equal(res.U, ref.U)
    for a, b in zip(ibi.load_history(tmp_path / "bg"), ref.iterations):
        assert np.array_equal(a.U_next, b.U_next) and a.deviation == b.deviation

    def crashing(U, k, w):
        if k == 2:
            raise exc("engine died")
        return mean_field_g(U), None

    order.clear()
    with pytest.raises(exc), files.Background() as background:
        ibi.run_ibi(R, gt, None, T, crashing, tmp_path / "crash", RC, background=background, **kw)
    assert order == [0, 1] and [it.index for it in ibi.load_history(tmp_path / "crash")] == [0, 1]
    assert json.loads((tmp_path / "crash" / "ibi.json").read_text())["status"].startswith("interrupted")


def test_a_failed_background_write_stops_run_ibi_with_its_error(tmp_path, monkeypatch):
    """A record the helper thread could not write (a full disk) is not lost silently: run_ibi raises
    that error (files.machine_fault recognises it), and what is on disk is the history before it."""
    import errno

    from mobcg import files

    real_write = ibi._write_iteration

    def full_disk_at_1(directory, it):
        if it.index == 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(directory / it.filename))
        return real_write(directory, it)

    monkeypatch.setattr(ibi, "_write_iteration", full_disk_at_1)
    gt = mean_field_g(U_STAR)
    with pytest.raises(OSError) as raised, files.Background() as background:
        ibi.run_ibi(R, gt, None, T, lambda U, k, w: (mean_field_g(U), None), tmp_path, RC, p_tol=None,
                    max_iterations=5, tol=0.0, progress=quiet, background=background)
    assert raised.value.errno == errno.ENOSPC and isinstance(files.machine_fault(raised.value), files.DiskFull)
    assert [it.index for it in ibi.load_history(tmp_path)] == [0]


def test_per_iteration_summary_skips_fsync_but_iterations_and_the_last_summary_do_not(tmp_path, monkeypatch):
    """Each iteration file is fsynced (what a resume reads); ibi.json after each iteration is not, the
    run's last one is."""
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    gt = mean_field_g(U_STAR)
    ibi.run_ibi(R, gt, None, T, lambda U, k, w: (mean_field_g(U), None), tmp_path, RC, p_tol=None,
                max_iterations=3, tol=0.0, progress=quiet)
    names = [Path(p).name for p in synced]  # atomic_path's temporaries: .NAME.XXXXXXXX.tmp
    assert [n.split(".")[1] for n in names if n.startswith(".iteration_")] == [f"iteration_00{k}" for k in range(3)]
    assert sum(n.startswith(f".{ibi.SUMMARY_NAME}.") for n in names) == 1 and len(names) == 4
