"""Centre-of-mass analysis with freud: density, RDF, MSD and D with an error bar.

Units: Å, fs, g/cm³; D in 1e-9 m²/s (1 Å²/fs = 1e-5 m²/s = 1e4 × 1e-9 m²/s).
"""

from __future__ import annotations

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


def rdf(positions: np.ndarray, boxes: np.ndarray, r_max: float, bins: int, r_min: float = 0.0):
    """Frame-averaged g(r) of points (F, N, 3) in boxes (F, 3); returns (bin centres Å, g)."""
    import freud
    r_max = min(r_max, 0.5 * boxes.min() * 0.999)
    calc = freud.density.RDF(bins=bins, r_max=r_max, r_min=r_min)
    for xyz, lengths in zip(positions, boxes):
        box = freud.box.Box(*lengths)
        calc.compute((box, box.wrap(xyz)), reset=False)
    return np.asarray(calc.bin_centers), np.asarray(calc.rdf)


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


def diffusion(times_fs: np.ndarray, msd: np.ndarray, window_fs: tuple[float, float] | None = None) -> Diffusion:
    """Fit MSD_a(t) = 2 D_a t + c in the diffusive window for each axis a.

    Default window: from where the log-log slope of the total MSD has come down from the ballistic 2
    to ≤ 1.3 (and at least a fifth of the way in, past caging) to half the trajectory (longer lags
    average few time origins). The exponent over the window is returned so a user can judge it.
    """
    from scipy import stats  # imported here: see rdf
    t = np.asarray(times_fs, float)
    total = msd.sum(axis=1)
    if window_fs is None:
        end = 0.5 * t[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.gradient(np.log(total), np.log(t))
        # Past the ballistic regime (slope 2) once the log-log slope has come down to ~1.
        ok = np.where((t > 0) & (slope <= 1.3))[0]
        # (a gas-like system may never get there within the run: then fit the second half anyway and
        # let the recorded exponent show it)
        start = min(max(t[ok[0]] if len(ok) else 0.0, 0.2 * end), 0.5 * end)
        window_fs = (start, end)
    lo, hi = window_fs
    sel = (t >= lo) & (t <= hi)
    if sel.sum() < 3:
        raise ValueError(f"MSD fit window {lo}-{hi} fs holds fewer than 3 points")
    per_axis = [stats.linregress(t[sel], msd[sel, a]).slope / 2 * A2_PER_FS_IN_1E9_M2_PER_S for a in range(3)]
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = stats.linregress(np.log(t[sel]), np.log(total[sel])).slope
    return Diffusion(float(np.mean(per_axis)), float(np.std(per_axis, ddof=1) / np.sqrt(3)),
                     tuple(float(d) for d in per_axis), (float(lo) / 1000, float(hi) / 1000), float(exponent))
