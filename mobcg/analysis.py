"""Centre-of-mass analysis with freud: density, RDF, MSD and D with an error bar.

Units: Å, fs, g/cm³; D in 1e-9 m²/s (1 Å²/fs = 1e-5 m²/s = 1e4 × 1e-9 m²/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# freud and scipy.stats are imported where used: they cost ~2 s at start-up (freud pulls in
# matplotlib), which every `project.py status` would otherwise pay.

A2_PER_FS_IN_1E9_M2_PER_S = 1.0e4
AVOGADRO = 6.02214076e23


def density(n_molecules: int, molar_mass: float, boxes: np.ndarray) -> float:
    """Mean mass density (g/cm³) over frames of box lengths (F, 3) in Å."""
    volume = np.prod(boxes, axis=1).mean() * 1e-24  # cm³
    return float(n_molecules * molar_mass / AVOGADRO / volume)


def densities(n_molecules: int, molar_mass: float, boxes: np.ndarray) -> np.ndarray:
    """Each frame's mass density (g/cm³) from box lengths (F, 3) in Å."""
    return n_molecules * molar_mass / AVOGADRO / (np.prod(np.asarray(boxes, float), axis=1) * 1e-24)


def _check_range(r_max: float, boxes) -> None:
    half = 0.5 * float(np.min(boxes))
    if r_max >= half:
        raise ValueError(f"RDF range r_max = {r_max:.4g} Å exceeds half the smallest box ({half:.4g} Å): "
                         "pairs beyond it would be counted twice under periodic images")


def rdf(positions: np.ndarray, boxes: np.ndarray, r_max: float, bins: int):
    """Frame-averaged g(r) of points (F, N, 3) in boxes (F, 3); returns (bin centres Å, g).

    Each frame is normalised by its own volume (see rdf_frames: an NPT trajectory's g is not its last
    frame's volume times its pair counts). ValueError if r_max exceeds half the smallest box: callers
    choose their range (rdf_range)."""
    r, g, _, _ = rdf_frames(positions, boxes, r_max, bins)
    return r, g


def rdf_frames(positions: np.ndarray, boxes: np.ndarray, r_max: float, bins: int):
    """As :func:`rdf`, plus each frame's pair-distance histogram: (r, g, counts (F, bins), norms (F, bins)).

    counts[f, a] is the number of ordered pairs (each pair twice) of frame f in bin a (freud's bin
    counts); norms[f, a] = N(N-1) shell_a / V_f is the ordered-pair count N uniform points in V_f
    would give (so g → 1 far away whatever N: an AA target of 48 molecules and a CG run of 1296 beads
    compare bin by bin; freud's own N² would put them 2 % apart); g = counts.sum(0) / norms.sum(0). Any subset of frames (e.g. a half) is normalised by its own volumes: the histograms
    whose cross-correlations inverse Monte Carlo needs.

    freud's own accumulated g (compute with reset=False) is not used: it divides all frames' counts by
    the last frame's volume, which for the small preset's NPT target put g 2.5 % low (its last volume
    was 0.975 of the mean) and held IBI at 2.6-3 % deviation whatever it did."""
    import freud
    _check_range(r_max, boxes)
    calc = freud.density.RDF(bins=bins, r_max=r_max)
    counts = np.empty((len(positions), bins))
    for f, (xyz, lengths) in enumerate(zip(positions, boxes)):
        box = freud.box.Box(*lengths)
        calc.compute((box, box.wrap(xyz)), reset=True)
        counts[f] = np.asarray(calc.bin_counts, dtype=float)
    rc = np.asarray(calc.bin_centers, dtype=float)
    n = positions.shape[1]
    norms = ideal_counts(rc, r_max / bins, boxes, n)
    return rc, counts.sum(0) / norms.sum(0), counts, norms


def ideal_counts(r: np.ndarray, dr: float, boxes: np.ndarray, n: int) -> np.ndarray:
    """(F, bins): n(n-1) × shell volume / frame volume, the ordered-pair count in each bin of width dr
    centred on r that n uniform points would give (each pair counted twice, none with itself)."""
    shell = 4.0 / 3.0 * np.pi * ((r + dr / 2) ** 3 - (r - dr / 2) ** 3)
    return float(n) * (n - 1) * shell[None, :] / np.prod(np.asarray(boxes, dtype=float), axis=1)[:, None]


def rdf_from_lammps(g_frames: np.ndarray, r_max: float, boxes: np.ndarray, n: int):
    """:func:`rdf_frames`' (r, g, counts, norms) from LAMMPS' per-frame `compute rdf` g(r): g_frames
    (F, bins) on bins of r_max/bins Å from 0, for n particles in boxes (F, 3).

    LAMMPS normalises each frame by n(n-1) ordered pairs in the frame's volume, which gives back the
    exact pair counts; norms as rdf_frames', so the CG g(r) is comparable bin by bin with an AA target
    binned by freud."""
    g_frames = np.asarray(g_frames, float)
    dr = r_max / g_frames.shape[1]
    r = (np.arange(g_frames.shape[1]) + 0.5) * dr
    norms = ideal_counts(r, dr, boxes, n)
    counts = np.rint(g_frames * norms)  # integers, up to the printed digits
    return r, counts.sum(0) / norms.sum(0), counts, norms


def rdf_range(r_max: float, bins: int, boxes: np.ndarray) -> tuple[float, int]:
    """(r_max, bins) with the bin width of (r_max, bins), cut to whole bins strictly below half the
    smallest box."""
    dr = r_max / bins
    half = 0.5 * float(np.min(boxes))
    if r_max < half:
        return r_max, bins
    n = int(np.ceil(half / dr)) - 1  # strictly below half the box
    return n * dr, n


def coordination_number(r: np.ndarray, g: np.ndarray, number_density: float, r_upper: float) -> float:
    """n(r_upper) = 4π ρ ∫_0^r_upper g(r) r² dr, summed over histogram shells (uniform bin centres r)."""
    half = 0.5 * (r[1] - r[0])
    shells = 4.0 / 3.0 * np.pi * ((r + half) ** 3 - (r - half) ** 3)
    mask = r + half <= r_upper + 1e-9
    return float(number_density * np.sum(g[mask] * shells[mask]))


def msd_xyz(positions: np.ndarray) -> np.ndarray:
    """Windowed MSD per Cartesian direction of unwrapped positions (F, N, 3): array (F, 3) in Å²."""
    import freud
    box = freud.box.Box.cube(1.0)  # unused for unwrapped input without images
    out = []
    for axis in range(3):
        one = np.zeros_like(positions)
        one[..., axis] = positions[..., axis]
        out.append(freud.msd.MSD(box, mode="window").compute(one).msd)
    return np.stack(out, axis=1)


@dataclass
class Diffusion:
    D: float  # 1e-9 m²/s, mean of the x, y, z estimates
    err: float  # 1e-9 m²/s, their standard error
    per_axis: tuple[float, float, float]
    window_ps: tuple[float, float]
    exponent: float  # d ln MSD / d ln t over the window (1 = diffusive)
    diffusive: bool = False  # exponent within DIFFUSIVE: the window is in the Fickian regime


# A fit window counts as diffusive (Fickian) when the log-log slope of its MSD lies in this range:
# below it the molecules are still caged (sub-diffusive), above it still ballistic (gas-like).
DIFFUSIVE = (0.9, 1.15)


def _loglog_slope(t: np.ndarray, total: np.ndarray, sel: np.ndarray, points: int = 32) -> float:
    """d ln MSD / d ln t over the selected times, fitted on log-spaced samples (each factor of time
    weighs the same; uniform samples would let the last lags decide alone)."""
    from scipy import stats
    ts, ms = t[sel], total[sel]
    ts, ms = ts[ts > 0], ms[ts > 0]
    if len(ts) < 3:
        return math.nan
    grid = np.geomspace(ts[0], ts[-1], min(points, len(ts)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.linregress(np.log(grid), np.log(np.interp(grid, ts, ms))).slope)


def diffusion_window(times_fs: np.ndarray, msd: np.ndarray, end_fraction: float = 0.5,
                     span: float = 2.0, earliest_fs: float = 2000.0) -> tuple[float, float]:
    """The MSD fit window (fs), chosen from the MSD itself, not from fractions of the run.

    The window ends at `end_fraction` of the trajectory (longer lags average few time origins) and
    starts at the earliest time t0 from which the log-log slope of the MSD over [t0, end], and over
    its first half, has settled into the diffusive range (DIFFUSIVE). t0 is searched on a log grid;
    the window spans at least a factor `span` in time and starts no earlier than `earliest_fs` (2 ps:
    well past the ballistic regime of a molecule's centre of mass). If no start gives a diffusive
    window, the latest one (t0 = end / span, the closest to the long-time limit) is returned and its
    exponent says so.
    """
    t = np.asarray(times_fs, float)
    total = np.asarray(msd, float).sum(axis=1)
    end = end_fraction * t[-1]
    latest = end / span
    positive = t[(t >= min(earliest_fs, latest)) & (t > 0) & (t <= latest)]
    if len(positive) == 0:
        return 0.0, end

    def fickian(lo, hi):
        sel = (t >= lo) & (t <= hi)
        return sel.sum() >= 3 and DIFFUSIVE[0] <= _loglog_slope(t, total, sel) <= DIFFUSIVE[1]

    for t0 in np.geomspace(positive[0], latest, 24):
        # the whole window and its first (log-)half: a ballistic start and a caged middle must not
        # average out to a slope of one
        if fickian(t0, end) and fickian(t0, np.sqrt(t0 * end)):
            return float(t0), float(end)
    return float(latest), float(end)


def diffusion(times_fs: np.ndarray, msd: np.ndarray, window_fs: tuple[float, float] | None = None) -> Diffusion:
    """Fit MSD_a(t) = 2 D_a t + c in the diffusive window for each axis a (window: diffusion_window).

    The exponent d ln MSD / d ln t over the window is returned with `diffusive` (exponent within
    DIFFUSIVE), so a caller can extend a run whose MSD has not reached the Fickian regime yet.
    """
    from scipy import stats  # imported here: see rdf
    t = np.asarray(times_fs, float)
    total = msd.sum(axis=1)
    lo, hi = diffusion_window(t, msd) if window_fs is None else window_fs
    sel = (t >= lo) & (t <= hi)
    if sel.sum() < 3:
        raise ValueError(f"MSD fit window {lo}-{hi} fs holds fewer than 3 points")
    per_axis = [stats.linregress(t[sel], msd[sel, a]).slope / 2 * A2_PER_FS_IN_1E9_M2_PER_S for a in range(3)]
    exponent = _loglog_slope(t, total, sel & (t > 0))
    return Diffusion(float(np.mean(per_axis)), float(np.std(per_axis, ddof=1) / np.sqrt(3)),
                     tuple(float(d) for d in per_axis), (float(lo) / 1000, float(hi) / 1000), float(exponent),
                     bool(DIFFUSIVE[0] <= exponent <= DIFFUSIVE[1]))


@dataclass
class Settled:
    """Whether a density series (NPT) has settled: block means over the last part of the run."""
    settled: bool
    mean: float  # g/cm³, over the window
    blocks: tuple[float, ...]  # block means, g/cm³
    error: float  # standard error of the window mean from the block means, relative
    drift: float  # relative change over the window from a straight-line fit of the block means
    drift_err: float  # its standard error
    window_ps: tuple[float, float]

    def describe(self) -> str:
        return (f"density {self.mean:.3f} ± {100 * self.error:.1f} % g/cm³ over {self.window_ps[0]:.3g}-"
                f"{self.window_ps[1]:.3g} ps, block means {', '.join(f'{b:.3f}' for b in self.blocks)}, "
                f"drift {100 * self.drift:+.1f} ± {100 * self.drift_err:.1f} %")


def density_settled(times_ps: np.ndarray, density_: np.ndarray, tol: float = 0.01, blocks: int = 4,
                    window_ps: float | None = None) -> Settled:
    """Block-average test of an NPT density series (g/cm³ against time in ps).

    Over the last `window_ps` of the series (default: its second half), the mean from `blocks` block
    averages must be known to within `tol` (relative standard error of the block means), and the
    straight-line drift through the block means across the window must be within twice its standard
    error or within twice `tol` (four block means of a small box scatter by a few %, and their
    regression error is itself uncertain; a drift below 2 tol is not resolvable there). Block means, not
    single frames: consecutive frames are correlated over the barostat period, and a small box's density
    fluctuates by several % from frame to frame, so the test asks how well the mean is known, not that
    every block lies within 1 %.
    """
    from scipy import stats
    t, x = np.asarray(times_ps, float), np.asarray(density_, float)
    start = t[-1] - window_ps if window_ps is not None else t[0] + 0.5 * (t[-1] - t[0])
    sel = t >= max(start, t[0])
    t, x = t[sel], x[sel]
    if len(x) < 2 * blocks:
        raise ValueError(f"density series of {len(x)} points is too short for {blocks} blocks")
    parts = np.array_split(np.arange(len(x)), blocks)
    means = np.array([x[p].mean() for p in parts])
    centres = np.array([t[p].mean() for p in parts])
    mean = float(means.mean())
    error = float(means.std(ddof=1) / np.sqrt(blocks) / mean)
    span = t[-1] - t[0]
    if np.ptp(means) == 0:  # a flat series has no drift (linregress would give a NaN error)
        drift, drift_err = 0.0, 0.0
    else:
        fit = stats.linregress(centres, means)
        drift, drift_err = fit.slope * span / mean, fit.stderr * span / mean
    ok = error <= tol and abs(drift) <= max(2 * drift_err, 2 * tol)
    return Settled(bool(ok), mean, tuple(float(m) for m in means), error, float(drift), float(drift_err),
                   (float(t[0]), float(t[-1])))


# ------------------------------------------------------------------------ viscosity and box size

BOLTZMANN = 1.380649e-23  # J/K
ATM_PA = 101325.0  # Pa per atm
XI_CUBIC = 2.837297  # Yeh & Hummer's constant for a cubic periodic box


@dataclass
class Viscosity:
    """Green–Kubo shear viscosity with its block error: eta ± err in mPa·s, integrated up to t_cut_ps;
    per-block values; the running integral (t_ps, mPa·s) averaged over blocks, with its standard error."""
    eta: float
    err: float
    t_cut_ps: float
    blocks: tuple[float, ...]
    running_t_ps: np.ndarray
    running: np.ndarray
    running_err: np.ndarray


def _acf(x: np.ndarray, lags: int) -> np.ndarray:
    """Unbiased autocorrelation <x(0) x(k)> of the columns of x (n, c) for k < lags, summed over columns."""
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(x, size, axis=0)
    c = np.fft.irfft(f * np.conj(f), size, axis=0)[:lags]
    return c.sum(axis=1) / (n - np.arange(lags))


def viscosity(stress_atm: np.ndarray, window_fs: float, volume_A3: float, T: float, blocks: int = 5,
              t_max_ps: float | None = None) -> Viscosity:
    """Shear viscosity (mPa·s) by Green–Kubo from a pressure tensor series (F, 6) in atm, columns
    xx yy zz xy xz yz, each row the average over one window of `window_fs` (LAMMPS fix ave/time 1 N N).

    The window averages keep the integral exact: with A_n the mean of P over window n,
    ∫_0^∞ <P(0)P(t)> dt = τ (C_A(0)/2 + Σ_{k≥1} C_A(k)) (from the variance of ∫P dt), so no step-by-step
    output is needed and the bond vibrations average out inside a window. All five independent
    components of the symmetric traceless tensor are used (Daivis & Evans 1994):
    η = V/(10 kT) ∫ Σ_αβ <Q_αβ(0) Q_αβ(t)> dt, Q = P − tr(P)/3, whose sum weighs each off-diagonal
    component twice. The series is cut into `blocks` blocks, each block's ACF taken about zero (the
    mean of a shear stress; subtracting a block's own mean would bias the integral low by 2 t/T_block);
    the integral is taken up to the end of the first doubling of the integration time that no longer
    adds more than its standard error (_plateau), at most `t_max_ps` (default: a quarter of a block);
    eta is the block mean there, err its standard error."""
    p = np.asarray(stress_atm, float)
    if p.ndim != 2 or p.shape[1] != 6:
        raise ValueError(f"viscosity: stress must be (frames, 6) [xx yy zz xy xz yz], got {p.shape}")
    n_block = len(p) // int(blocks)
    if blocks < 2 or n_block < 8:
        raise ValueError(f"viscosity: {len(p)} windows are too few for {blocks} blocks of >= 8")
    trace = p[:, :3].mean(axis=1, keepdims=True)
    # components whose ACFs sum to Σ_αβ <Q_αβ Q_αβ>: each off-diagonal twice (αβ and βα)
    q = np.hstack([p[:, :3] - trace, np.sqrt(2.0) * p[:, 3:]]) * ATM_PA
    lags = max(2, n_block // 4 if t_max_ps is None else min(n_block // 2, int(t_max_ps * 1000 / window_fs) + 1))
    acfs = np.array([_acf(q[b * n_block:(b + 1) * n_block], lags)
                     for b in range(blocks)])
    tau = window_fs * 1e-15
    scale = volume_A3 * 1e-30 / (10 * BOLTZMANN * T) * 1e3  # → mPa·s
    running = scale * tau * (np.cumsum(acfs, axis=1) - 0.5 * acfs[:, :1])  # (blocks, lags)
    cut = _plateau(running, first=max(1, int(round(500.0 / window_fs))))
    per_block = running[:, cut]
    return Viscosity(float(per_block.mean()), float(per_block.std(ddof=1) / np.sqrt(blocks)),
                     float(cut * window_fs / 1000), tuple(float(v) for v in per_block),
                     np.arange(lags) * window_fs / 1000, running.mean(0), running.std(0, ddof=1) / np.sqrt(blocks))


def _plateau(running: np.ndarray, first: int) -> int:
    """The lag where the running integrals (blocks, lags) stop growing: the end of the first doubling
    of the integration time (from `first` lags on: 0.5 ps) over which the block-mean increment is no
    larger than its standard error, or the last lag. Doublings from 0.5 ps, not single lags: window
    means of a molecular liquid anticorrelate over one lag (its bonds vibrate within a window), and
    its integral grows by a third between 0.5 and 3 ps after a pause near 0.2 ps (the 2,3,4-
    trimethylpentane reference, 48 molecules)."""
    blocks, lags = running.shape
    k = min(first, lags - 1)
    while 2 * k < lags:
        step = running[:, 2 * k] - running[:, k]
        if step.mean() <= step.std(ddof=1) / math.sqrt(blocks):
            return 2 * k
        k *= 2
    return lags - 1


def yeh_hummer_shift(eta_mpas: float, T: float, box_A: float) -> float:
    """The self-diffusion a cubic periodic box of edge box_A (Å) loses to its images (1e-9 m²/s):
    ξ kT / (6π η L), Yeh & Hummer, J. Phys. Chem. B 108, 15873 (2004); D(∞) = D(L) + this."""
    return XI_CUBIC * BOLTZMANN * T / (6 * math.pi * eta_mpas * 1e-3 * box_A * 1e-10) * 1e9


def infinite_box(D: float, D_err: float, eta: float, eta_err: float, T: float, box_A: float) -> tuple[float, float]:
    """(D(∞), its error) from D ± D_err measured in a cubic box of edge box_A Å and the liquid's own
    viscosity eta ± eta_err (mPa·s): Yeh–Hummer, the viscosity's error propagated (shift ∝ 1/η)."""
    shift = yeh_hummer_shift(eta, T, box_A)
    return float(D + shift), float(math.hypot(D_err, shift * eta_err / eta))


def box_corrected(model: str, d: Diffusion, stress: np.ndarray, box: float, T: float) -> tuple[dict, Viscosity]:
    """A D measured in a cubic box of edge `box` (Å) moved to an infinite box with the model's own
    Green–Kubo viscosity (`stress`: rows t_fs + the pressure tensor in atm, windows of equal length):
    ({eta_<model>, its error and integration time, box_<model>, D_<model>_inf and its error}, the
    Viscosity). No D_<model>_inf where the viscosity came out ≤ 0 (noise: no correction to be had)."""
    stress = np.asarray(stress, float)
    eta = viscosity(stress[:, 1:], float(stress[1, 0] - stress[0, 0]), box ** 3, T)
    out = {f"eta_{model}": eta.eta, f"eta_{model}_err": eta.err, f"eta_{model}_tcut_ps": eta.t_cut_ps,
           f"box_{model}": float(box)}
    if eta.eta > 0:
        D_inf, err = infinite_box(d.D, d.err, eta.eta, eta.err, T, box)
        out.update({f"D_{model}_inf": D_inf, f"D_{model}_inf_err": err})
    return out, eta
