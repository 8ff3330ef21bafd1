"""Iterative Boltzmann inversion (IBI) for a one-bead-per-molecule CG pair potential.

Pure numpy; the MD engine is injected by the caller as ``simulate(U, iteration, workdir)``.

Units (LAMMPS ``real``): r in Å, potentials in kcal/mol, T in K, pressures in atm,
g(r) dimensionless. All arrays live on one ascending grid ``r`` (uniform or not).

Scheme (Reith, Pütz, Müller-Plathe 2003; VOTCA conventions):

* start:   U_0(r) = -kT ln g_target(r)                       (potential of mean force)
* update:  U_{n+1}(r) = U_n(r) + lam kT ln(g_n(r) / g_target(r))
* pressure (optional, VOTCA ``post_update pressure simple``):
           ΔU_p(r) = A (1 - r/r_cut),
           A = -sgn(P - P_target) · scale · kT · min(1, |f (P - P_target)|)

Newton-type update (``method="imc"``, :func:`newton_update`): a Gauss–Newton step in the form of
Delbary, Hanke & Ivanizki (Inverse Problems 2020; VOTCA's ``iie gauss-newton``, "p-HNCGN") with the
Jacobian dg/dU measured in each CG run (inverse Monte Carlo, Lyubartsev & Laaksonen 1995:
:func:`imc_jacobian`). The step is parametrised by the force change on [core edge, r_cut), so
ΔU = 0 at the cut-off by construction; it fits g - g_target out to the end of the grid (past r_cut
too), is Tikhonov-regularised against histogram noise and, with a pressure target, satisfies the
linearised virial pressure exactly (a constraint, not a post-hoc ramp). Below the first bin where g
or g_target is reliable, U continues linearly with a slope refitted every iteration on the new U's
first reliable bins (:func:`extend_core`). The closure-based Jacobian of the same paper (HNC) was
measured too and diverged here: the RDF, cut at 14 Å where h(r) still oscillates by ±0.3, gives a
structure factor S(k) < 0 whose 1/S² dominates it (benchmarks/README.md).
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from . import files

KB = 0.0019872043  # Boltzmann constant, kcal/mol/K
kB = KB

G_MIN = 1e-4  # g below this is "unreliable" (≈ 9.2 kT); no log is taken of it
ATM = 68568.415  # atm per kcal/mol/Å³ (LAMMPS real: nktv2p)
WORSE = 1.25  # a Newton iterate this much worse (deviation ratio) than the best so far is not followed
METHODS = ("ibi", "imc")  # plain IBI; Gauss–Newton with the CG run's own Jacobian
SUMMARY_NAME = "ibi.json"
_ITER_RE = re.compile(r"^iteration_(\d+)\.npz$")

__all__ = [
    "KB", "kB", "G_MIN", "ATM", "METHODS", "pmf_start", "update", "newton_update", "extend_core",
    "imc_jacobian", "virial_pressure_change", "pressure_amplitude", "pressure_correction",
    "deviation", "Sample", "halves_noise", "IBIIteration", "IBIState", "IBIResult", "load_history", "read_iteration",
    "run_ibi",
]


# --------------------------------------------------------------------------- helpers

def _kT(T: float) -> float:
    if not (np.isfinite(T) and T > 0):
        raise ValueError(f"temperature must be positive, got {T!r}")
    return KB * float(T)


def _trapz(y: np.ndarray, x: np.ndarray) -> float:
    trap = getattr(np, "trapezoid", None) or np.trapz  # numpy<2 has only trapz
    return float(trap(y, x))


def _grid(r, *arrays):
    r = np.asarray(r, dtype=float)
    if r.ndim != 1 or r.size < 4:
        raise ValueError("r must be a 1-D grid with at least 4 points")
    if not np.all(np.isfinite(r)) or np.any(np.diff(r) <= 0):
        raise ValueError("r must be finite and strictly increasing")
    out = []
    for a in arrays:
        a = np.asarray(a, dtype=float)
        if a.shape != r.shape:
            raise ValueError(f"array of shape {a.shape} does not match grid shape {r.shape}")
        out.append(a)
    return (r, *out)


def _switch(r: np.ndarray, r_cut: float, width: float) -> np.ndarray:
    """1 below r_cut-width, 0 from r_cut on, cosine in between (zero slope at both ends)."""
    s = np.ones_like(r)
    s[r >= r_cut] = 0.0
    if width > 0:
        inside = (r > r_cut - width) & (r < r_cut)
        x = (r[inside] - (r_cut - width)) / width
        s[inside] = 0.5 * (1.0 + np.cos(np.pi * x))
    return s


def _apply_tail(r: np.ndarray, u: np.ndarray, r_cut: float, width: float) -> np.ndarray:
    """Shift u to 0 at r_cut, bring it smoothly to 0 over [r_cut-width, r_cut], 0 beyond.

    The shift pins U's constant offset, which g in an NVT liquid barely constrains (without it
    the recovery test converged in g but left U 0.1 kcal/mol too shallow everywhere).
    """
    if not (r[0] < r_cut <= r[-1]):
        raise ValueError(f"r_cut={r_cut} must lie inside the grid ({r[0]}, {r[-1]}]")
    u = u - np.interp(r_cut, r, u)
    return u * _switch(r, r_cut, width)


def _smooth3(x: np.ndarray, passes: int) -> np.ndarray:
    """[1,2,1]/4 running average, end points kept; `passes` repetitions (0 = none)."""
    x = np.array(x, dtype=float)
    for _ in range(int(passes)):
        x[1:-1] = 0.25 * x[:-2] + 0.5 * x[1:-1] + 0.25 * x[2:]
    return x


# --------------------------------------------------------------------------- physics

def pmf_start(r, g_target, T: float, r_cut: float, *, g_min: float = G_MIN,
              min_slope: float = 5.0, n_edge: int = 3, tail_width: float = 1.0) -> np.ndarray:
    """Initial guess: potential of mean force U_0 = -kT ln g_target, made usable as a table.

    Parameters
    ----------
    r : (n,) grid in Å, strictly increasing.
    g_target : (n,) target RDF on ``r``; may contain zeros / NaN (treated as unreliable).
    T : temperature in K.
    r_cut : cutoff in Å (inside the grid); U is 0 from r_cut on.
    g_min : g at or below this is unreliable; no logarithm is taken there.
    min_slope : minimal steepness of the core extrapolation, in kT/Å.
    n_edge : number of reliable points used to fit the slope at the core edge.
    tail_width : width (Å) of the cosine switch bringing U and dU/dr to 0 at r_cut.

    Returns
    -------
    U : (n,) potential in kcal/mol, finite everywhere. In the core (before the first
        reliable point) U continues linearly with slope min(edge slope, -min_slope·kT/Å),
        i.e. strictly decreasing with r and at least as steep as at the edge. Interior
        unreliable bins are linearly interpolated.
    """
    r, g = _grid(r, g_target)
    kT = _kT(T)
    rel = np.isfinite(g) & (g > g_min)
    if rel.sum() < 2:
        raise ValueError("g_target has fewer than 2 reliable points (g > g_min)")
    u_rel = -kT * np.log(g[rel])
    u = np.interp(r, r[rel], u_rel)  # fills gaps; core is overwritten below
    u = extend_core(r, u, int(np.flatnonzero(rel)[0]), T, min_slope=min_slope, n_edge=n_edge)
    return _apply_tail(r, u, r_cut, tail_width)


@dataclass(frozen=True)
class StartCorrection:
    """What IBI's converged potentials added to their PMF starts, as a line in the bead number density:
    U_start(r) = PMF(r) + a(r) + rho b(r) (kcal/mol; rho in beads/Å³). Why a line in rho: the PMF is the
    pair potential plus a many-body part that the density expansion of g(r) makes first order in rho;
    over the campaign's 33 trusted liquids, leave-one-out, the start lies 0.12 kcal/mol (RMS, 5-9.8 Å)
    from the converged table, where the PMF lies 0.32 and the structure model's table 0.26-0.35
    (benchmarks/README.md, issue 22 f). `source` names it in job.doc["ibi_start"]."""
    r: np.ndarray
    a: np.ndarray
    b: np.ndarray
    source: str = "pmf+correction"
    n: int = 0  # rows it was fitted on

    def at(self, rho: float) -> np.ndarray:
        return self.a + float(rho) * self.b


def fit_start_correction(r, dU, rho, source: str = "pmf+correction") -> tuple[StartCorrection, np.ndarray]:
    """(StartCorrection, leave-one-out residuals (n, m)) by least squares of dU (n, m: converged table minus
    PMF start, kcal/mol on r) on [1, rho] at each r. Below three rows, or one density, b = 0 (the mean);
    leave-one-out residuals from the hat matrix, NaN where a row cannot be left out."""
    dU, rho = np.asarray(dU, dtype=float), np.asarray(rho, dtype=float)
    if dU.ndim != 2 or dU.shape[0] != rho.shape[0] or not len(rho) or not np.all(np.isfinite(dU)) \
            or not np.all(np.isfinite(rho)):
        raise ValueError(f"start correction: {dU.shape} differences and {rho.shape} densities, all finite")
    A = np.c_[np.ones(len(rho)), rho] if len(rho) >= 3 and np.ptp(rho) > 0 else np.ones((len(rho), 1))
    coef = np.linalg.lstsq(A, dU, rcond=None)[0]
    h = np.einsum("ij,jk,ik->i", A, np.linalg.pinv(A.T @ A), A)
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = (dU - A @ coef) / (1 - h)[:, None]
    loo[h > 1 - 1e-9] = np.nan
    b = coef[1] if len(coef) > 1 else np.zeros(dU.shape[1])
    return StartCorrection(np.asarray(r, dtype=float), coef[0], b, source, len(rho)), loo


def extend_core(r, U, i0: int, T: float, *, min_slope: float = 5.0, n_edge: int = 3,
                max_slope: float = 100.0) -> np.ndarray:
    """U below index i0 (the core, where no pair is sampled) continued as a straight line from U[i0].

    The slope is the steepest of: the least-squares slope over the n_edge bins from i0 on, and the
    steepest single step among them, but never flatter than -min_slope·kT/Å. Taking the steepest
    keeps the wall from being fitted across the first minimum, where the slope flattens
    (a fit over three bins that straddle it gave -9.5 kT/Å where the data rise at -49 kT/Å);
    refitting it on every new U lets the core's shape follow the update instead of only its offset.
    The wall is capped at -max_slope·kT/Å (a noisy edge bin must not make a 5 fs step explode).
    """
    r = np.asarray(r, dtype=float)
    u = np.array(U, dtype=float)
    kT = _kT(T)
    i0 = int(np.clip(i0, 0, r.size - 2))
    j = slice(i0, min(i0 + max(int(n_edge), 2), r.size))
    slope = -abs(min_slope) * kT  # never flatter than min_slope, never uphill
    if r[j].size >= 2:
        steps = np.diff(u[j]) / np.diff(r[j])
        slope = min(slope, float(np.polyfit(r[j], u[j], 1)[0]), float(steps.min()))
    slope = max(slope, -abs(max_slope) * kT)
    u[:i0] = u[i0] + slope * (r[:i0] - r[i0])
    return u


def update(U, g, g_target, T: float, lam: float = 1.0, *, r=None, r_cut: Optional[float] = None,
           g_min: float = G_MIN, smooth: int = 1, tail_width: float = 1.0) -> np.ndarray:
    """One IBI step: U_new = U + lam·kT·ln(g/g_target), returned as a new array (kcal/mol).

    The update ΔU (not U) is computed only where both g and g_target exceed ``g_min``;
    elsewhere it is interpolated from reliable neighbours and held constant beyond the first
    / last reliable point, so the core extrapolation keeps its shape and just moves with the
    edge (no step in U). ΔU is then smoothed with ``smooth`` passes of a [1,2,1]/4 average:
    smoothing the increment instead of U keeps repeated iterations from washing out U.
    If ``r`` and ``r_cut`` are given, ΔU is shifted to 0 at r_cut and switched off over
    ``tail_width`` Å before it, so U keeps a smooth zero tail.
    With the grid ``r`` the core (below the first reliable bin) is re-extrapolated from the new U
    (:func:`extend_core`), so its slope follows the update, not only its offset.
    If no bin is reliable the input potential is returned unchanged (copy).
    """
    U = np.asarray(U, dtype=float)
    x = np.arange(U.size, dtype=float) if r is None else np.asarray(r, dtype=float)
    x, U, g, gt = _grid(x, U, g, g_target)
    kT = _kT(T)
    with np.errstate(invalid="ignore"):
        rel = np.isfinite(g) & np.isfinite(gt) & (g > g_min) & (gt > g_min)
    if not rel.any():
        return U.copy()
    du_rel = lam * kT * np.log(g[rel] / gt[rel])
    du = np.interp(x, x[rel], du_rel)
    du = _smooth3(du, smooth)
    if r_cut is not None:
        if r is None:
            raise ValueError("r_cut needs the grid r")
        du = _apply_tail(x, du, r_cut, tail_width)
    if r is None:
        return U + du
    return extend_core(x, U + du, int(np.flatnonzero(rel)[0]), T)


# --------------------------------------------------------------------------- Newton (IMC)

def imc_jacobian(counts, norm, T: float) -> np.ndarray:
    """dg/dU (n × n, 1/(kcal/mol)) measured in the CG run itself (inverse Monte Carlo, Lyubartsev &
    Laaksonen 1995): d⟨S_a⟩/dU_b = -β/2 cov(S_a, S_b) for ordered-pair histograms S (each pair
    counted twice, so the energy is Σ_b U_b S_b / 2); g_a = ⟨S_a⟩ / norm_a.

    counts: (F, n) per-frame histograms; norm: (n,) their mean ideal-gas counts (analysis.rdf_frames'
    norms averaged over frames; one box in NVT). No closure is
    assumed: this is the exact linear response of the finite NVT system sampled, noise and all."""
    counts = np.asarray(counts, dtype=float)
    norm = np.asarray(norm, dtype=float)
    if counts.ndim != 2 or counts.shape[0] < 3 or counts.shape[1] != norm.size:
        raise ValueError(f"imc_jacobian: counts must be (frames ≥ 3, {norm.size}), got {counts.shape}")
    cov = np.cov(counts, rowvar=False)
    return -cov / (2 * _kT(T) * norm[:, None])


def virial_pressure_change(r, g, rho: float) -> np.ndarray:
    """Row l with ΔP = l · w (atm): the change of the virial pressure when the pair force on
    [r_i, r_i+1) changes by w_i (kcal/mol/Å), g held fixed (trapezoid in r³ g):
    ΔP = (2π/3) ρ² ∫ r³ g Δf dr."""
    r = np.asarray(r, dtype=float)
    g = np.asarray(g, dtype=float)
    return ATM * np.pi / 12 * rho ** 2 * (g[:-1] + g[1:]) * (r[1:] ** 4 - r[:-1] ** 4)


def newton_update(U, g, g_target, T: float, r, rho: float, r_cut: float, *, P: Optional[float] = None,
                  P_target: Optional[float] = None, lam: float = 1.0, g_min: float = G_MIN,
                  reg: float = 0.05, max_step: float = 2.0, tail_width: float = 0.3,
                  jacobian) -> np.ndarray:
    """One Gauss–Newton step (kcal/mol on the grid r, Å) towards g_target; see the module docstring.

    The step minimises |J w - (g_target - g)|² + (reg·s)² |w|² over the force change w on the bins
    from the core edge to r_cut (ΔU = ∫_r^r_cut w), J = dg/dU·A, s = J's largest singular value:
    reg damps the directions noise would otherwise blow up. dg/dU is ``jacobian`` (n × n, e.g.
    :func:`imc_jacobian` from the CG run); rho (1/Å³) enters the pressure constraint. With P and
    P_target (atm) the linearised virial pressure of the new potential equals P_target
    (:func:`virial_pressure_change`, evaluated on g_target). The core edge is the first bin where
    g or g_target exceeds g_min: bins the CG liquid samples but the target never does are pushed
    out. The step is scaled by lam and so that max|ΔU| ≤ max_step·kT (a trust region: the response is
    linear only for small steps); ΔU fades to 0 over tail_width Å before r_cut; the core is re-extrapolated.
    """
    r, U, g, gt = _grid(r, U, g, g_target)
    kT = _kT(T)
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"newton_update: number density must be positive, got {rho!r}")
    rel = (gt > g_min) | (g > g_min)
    if not rel.any():
        return U.copy()
    s = int(np.flatnonzero(rel)[0])
    co = int(np.searchsorted(r, r_cut, side="right"))  # first bin past the cut-off
    m = co - s - 1  # force bins in [r_s, r_co-1); ΔU(r_co-1) = 0
    if m < 2:
        raise ValueError(f"newton_update: no bins between the core edge {r[s]:.3g} Å and r_cut {r_cut:.3g} Å")
    dgdu = np.asarray(jacobian, dtype=float)
    if dgdu.shape != (r.size, r.size) or not np.all(np.isfinite(dgdu)):
        raise ValueError(f"newton_update: the Jacobian must be a finite ({r.size} × {r.size}) matrix")
    dgdu = dgdu[s:, s:]
    A0 = (r[1] - r[0]) * np.triu(np.ones((r.size - s, m)))
    J = dgdu @ A0
    b = (gt - g)[s:]
    mu2 = (reg * np.linalg.norm(J, 2)) ** 2
    H = J.T @ J + mu2 * np.eye(m)
    rhs = J.T @ b
    if P is not None and P_target is not None:
        if not (np.isfinite(P) and np.isfinite(P_target)):
            raise ValueError(f"newton_update: pressure not finite: P={P!r}, P_target={P_target!r}")
        c = virial_pressure_change(r[s:co], gt[s:co], rho)
        K = np.block([[H, c[:, None]], [c[None, :], np.zeros((1, 1))]])
        w = np.linalg.solve(K, np.append(rhs, float(P_target) - float(P)))[:m]
    else:
        w = np.linalg.solve(H, rhs)
    du = np.zeros_like(U)
    du[s:] = A0 @ w
    du *= float(lam)
    biggest = np.abs(du).max()
    if biggest > max_step * kT:
        du *= max_step * kT / biggest
    du *= _switch(r, r_cut, tail_width)
    return extend_core(r, U + du, s, T)


def pressure_amplitude(P: float, P_target: float, T: float, *, scale: float = 0.1,
                       f: float = 3e-4) -> float:
    """Amplitude A (kcal/mol) of VOTCA's simple pressure correction.

    A = -sgn(ΔP)·scale·kT·min(1, |f·ΔP|), ΔP = P - P_target in atm. ``f`` (1/atm) is VOTCA's
    ``pressure.simple.scale``: |ΔP| ≥ 1/f gives the full ``scale``·kT (VOTCA: 0.1 kT);
    default 3e-4/atm ≈ VOTCA's suggested 3e-4/bar. P too high → A < 0 (attraction).
    """
    dP = float(P) - float(P_target)
    if not np.isfinite(dP):
        raise ValueError(f"pressure not finite: P={P!r}, P_target={P_target!r}")
    return -float(np.sign(dP)) * scale * _kT(T) * min(1.0, abs(f * dP))


def pressure_correction(r, P: float, P_target: float, T: float, r_cut: float, *,
                        scale: float = 0.1, f: float = 3e-4) -> np.ndarray:
    """ΔU_p(r) = A (1 - r/r_cut) for r < r_cut, 0 beyond (kcal/mol); A from
    :func:`pressure_amplitude`. Its force -dΔU_p/dr = A/r_cut is constant: for P > P_target
    (A < 0) it pulls pairs together, lowering the virial pressure; for P < P_target it pushes.
    """
    r = np.asarray(r, dtype=float)
    A = pressure_amplitude(P, P_target, T, scale=scale, f=f)
    return np.where(r < r_cut, A * (1.0 - r / r_cut), 0.0)


def deviation(r, g, g_target) -> float:
    """Relative RDF error ∫|g - g_target| dr / ∫ g_target dr over the grid (trapezoid), a
    fraction (0.01 = 1 %). Non-finite g counts as maximally wrong (raises ValueError)."""
    r, g, gt = _grid(r, g, g_target)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(gt))):
        raise ValueError("g and g_target must be finite for the deviation")
    den = _trapz(gt, r)
    if den <= 0:
        raise ValueError("∫ g_target dr must be positive")
    return _trapz(np.abs(g - gt), r) / den


@dataclass
class Sample:
    """What one CG run of the driver's ``simulate`` gives: g on the grid, the pressure (atm, or None),
    optionally dg/dU measured in the run (for "imc") and the RDF deviation its own sampling noise
    explains (fraction; e.g. half against half of the run)."""
    g: np.ndarray
    pressure: Optional[float] = None
    jacobian: Optional[np.ndarray] = None
    noise: Optional[float] = None


def halves_noise(dev_between_halves: float) -> float:
    """The deviation from a run's sampling noise, from the deviation between its two halves: each half
    has twice the variance of the whole, their difference √2 times a half's error, so the whole run's
    error is half the difference."""
    return 0.5 * float(dev_between_halves)


# --------------------------------------------------------------------------- history

@dataclass
class IBIIteration:
    """One finished iteration: U was simulated and gave g, pressure (atm, NaN if unknown);
    U_next is the potential for the following iteration (IBI update + pressure correction
    of amplitude ``pressure_A`` kcal/mol, 0 if none)."""
    index: int
    r: np.ndarray
    U: np.ndarray
    g: np.ndarray
    pressure: float
    deviation: float
    U_next: np.ndarray
    pressure_A: float = 0.0
    noise: float = float("nan")  # deviation expected from sampling noise alone (target and run), fraction

    @property
    def filename(self) -> str:
        return f"iteration_{self.index:03d}.npz"


def _write_iteration(directory: Path, it: IBIIteration) -> Path:
    path = Path(directory) / it.filename
    files.write_with(path, lambda fh: np.savez(
        fh, index=np.int64(it.index), r=it.r, U=it.U, g=it.g, pressure=np.float64(it.pressure),
        deviation=np.float64(it.deviation), U_next=it.U_next, pressure_A=np.float64(it.pressure_A),
        noise=np.float64(it.noise)))
    return path


def read_iteration(path: Path) -> IBIIteration:
    """One finished iteration's record (iteration_XXX.npz); ValueError if it is inconsistent."""
    return _read_iteration(Path(path))


def _read_iteration(path: Path) -> IBIIteration:
    # np.load is lazy: touch every array inside the with-block so corruption surfaces here.
    with np.load(path, allow_pickle=False) as z:
        it = IBIIteration(index=int(z["index"]), r=np.array(z["r"]), U=np.array(z["U"]),
                          g=np.array(z["g"]), pressure=float(z["pressure"]),
                          deviation=float(z["deviation"]), U_next=np.array(z["U_next"]),
                          pressure_A=float(z["pressure_A"]),
                          noise=float(z["noise"]) if "noise" in z.files else float("nan"))
    n = it.r.size
    if not all(a.shape == (n,) for a in (it.U, it.g, it.U_next)):
        raise ValueError(f"{path}: inconsistent array shapes")
    return it


def load_history(directory, repair: bool = False) -> list[IBIIteration]:
    """Finished iterations in ``directory`` (list of :class:`IBIIteration`, index 0, 1, ...).

    An unreadable *last* ``iteration_XXX.npz`` is ignored (it is not a finished iteration);
    with ``repair=True`` it is deleted, as are stray temp files from an interrupted write.
    A corrupt file before the last one, or a gap in the numbering, raises RuntimeError:
    atomic writes should make that impossible, so something else went wrong.
    """
    d = Path(directory)
    if not d.is_dir():
        return []
    if repair:
        for p in d.iterdir():
            if p.name.endswith(".tmp") and (p.name.startswith(".iteration_")
                                            or p.name.startswith("." + SUMMARY_NAME)):
                p.unlink(missing_ok=True)
    files = sorted((int(m.group(1)), d / m.group(0))
                   for m in (_ITER_RE.match(p.name) for p in d.iterdir()) if m)
    out: list[IBIIteration] = []
    for pos, (k, path) in enumerate(files):
        try:
            it = _read_iteration(path)
        except Exception as exc:
            if pos == len(files) - 1:
                if repair:
                    path.unlink(missing_ok=True)
                break
            raise RuntimeError(f"corrupt IBI history file {path} (not the last): {exc}") from exc
        if k != pos or it.index != k:
            raise RuntimeError(f"IBI history in {d} is not consecutive at {path.name}")
        out.append(it)
    return out


class IBIState:
    """The on-disk history of one IBI run: ``iteration_XXX.npz`` files + ``ibi.json``."""

    def __init__(self, directory, iterations: Optional[Sequence[IBIIteration]] = None):
        self.directory = Path(directory)
        self.iterations: list[IBIIteration] = list(iterations or [])

    @classmethod
    def load(cls, directory, repair: bool = True) -> "IBIState":
        return cls(directory, load_history(directory, repair=repair))

    def append(self, it: IBIIteration, background: Optional[files.Background] = None) -> None:
        """Persist ``it`` (atomically; by `background`'s thread when given) and add it to the in-memory list."""
        if it.index != len(self.iterations):
            raise ValueError(f"expected iteration {len(self.iterations)}, got {it.index}")
        self.directory.mkdir(parents=True, exist_ok=True)
        if background is None:
            _write_iteration(self.directory, it)
        else:
            background.submit(_write_iteration, self.directory, it)
        self.iterations.append(it)

    def write_summary(self, durable: bool = True, background: Optional[files.Background] = None,
                      **info) -> Path:
        """Atomically rewrite ``ibi.json``: per-iteration deviation/pressure + ``info``. `durable` False:
        no fsync (the summary after each iteration: the iteration files are the record a resume reads,
        and the run's last summary is durable). `background`: written by its thread (after what was
        submitted before), from the state now."""
        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)
        doc = dict(info)
        doc["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        doc["iterations"] = [
            {"iteration": it.index, "file": it.filename, "deviation": num(it.deviation),
             "pressure_atm": num(it.pressure), "pressure_A_kcal": num(it.pressure_A),
             "noise": num(it.noise)}
            for it in self.iterations]
        path = self.directory / SUMMARY_NAME
        data = (json.dumps(doc, indent=2, default=str) + "\n").encode()
        if background is None:
            files.write_with(path, lambda fh: fh.write(data), durable=durable)
        else:
            background.submit(files.write_with, path, lambda fh: fh.write(data), durable=durable)
        return path


# --------------------------------------------------------------------------- driver

@dataclass
class IBIResult:
    """Outcome of :func:`run_ibi`.

    U : potential (kcal/mol on ``r``) chosen as the result — the one simulated in iteration
        ``iteration`` (the converged one, else the best one; never the untested U_next).
    deviation, pressure : what that potential gave (fraction, atm).
    converged : True if an iteration met tol (and p_tol).
    best_iteration : index with the lowest deviation (among those within p_tol, if any).
    iterations : full history; n_simulated : simulate() calls made by this invocation.
    """
    r: np.ndarray
    U: np.ndarray
    iteration: int
    deviation: float
    pressure: float
    converged: bool
    best_iteration: int
    iterations: list = field(default_factory=list)
    n_simulated: int = 0
    directory: Optional[Path] = None
    start: str = "pmf"
    method: str = "ibi"
    stopped: str = ""  # "converged", "stalled" or "max_iterations"


def _pressure_ok(it: IBIIteration, P_target: float, p_tol: Optional[float]) -> bool:
    return p_tol is None or (math.isfinite(it.pressure) and abs(it.pressure - P_target) < p_tol)


def _is_converged(it: IBIIteration, tol: float, P_target: float, p_tol: Optional[float],
                  within_noise: bool = True) -> bool:
    """deviation < tol, or (within_noise) no larger than the sampling noise (nothing left a longer IBI
    could tell from noise), and the pressure within p_tol."""
    close = it.deviation < tol or (within_noise and math.isfinite(it.noise) and it.deviation <= it.noise)
    return close and _pressure_ok(it, P_target, p_tol)


def _is_stalled(iterations, P_target, p_tol, window: int, gain: float) -> bool:
    """The last `window` iterations (the last within p_tol) improved on the best deviation before them
    by less than the fraction `gain`: further iterations would buy too little, whatever the cause (a
    structure this pair potential cannot reproduce, or noise the estimate misses)."""
    if window <= 0 or len(iterations) <= window or not _pressure_ok(iterations[-1], P_target, p_tol):
        return False
    before = min(it.deviation for it in iterations[:-window])
    return min(it.deviation for it in iterations[-window:]) > (1.0 - gain) * before


def _best(iterations, P_target, p_tol) -> IBIIteration:
    ok = [it for it in iterations if _pressure_ok(it, P_target, p_tol)] or list(iterations)
    return min(ok, key=lambda it: it.deviation)


def run_ibi(r, g_target, P_target: Optional[float], T: float,
            simulate: Callable[[np.ndarray, int, Path], tuple], directory, r_cut: float, *,
            max_iterations: int = 30, tol: float = 0.01, p_tol: Optional[float] = 100.0,
            lam: float = 1.0, pressure_every: int = 1, pressure_scale: float = 0.1,
            pressure_f: float = 3e-4, g_min: float = G_MIN, smooth: int = 1,
            tail_width: Optional[float] = None, U_start=None, start: str = "pmf",
            method: str = "ibi", density: Optional[float] = None, reg: float = 0.05,
            max_step: float = 2.0, target_noise: Optional[float] = None, stop_within_noise: bool = True,
            stall_iterations: int = 0, stall_gain: float = 0.05, reg_near: Optional[float] = None,
            reg_switch: float = 0.05,
            progress: Optional[Callable[[str], None]] = print,
            background: Optional[files.Background] = None) -> IBIResult:
    """Run (or resume) IBI until converged or ``max_iterations`` simulations exist in total.

    ``simulate(U, iteration, workdir) -> (g, P)`` (or a :class:`Sample`) runs CG MD with the tabulated pair
    potential U (kcal/mol on grid ``r``, Å; U = 0 from r_cut on) and returns the RDF on the
    same grid and the pressure in atm (P may be None when p_tol is None). ``workdir`` is
    ``<directory>/iter_XXX`` (created). Iterations are numbered from 0 (0 = PMF start).

    Resume: finished iterations found in ``directory`` are not redone; the run continues
    with the stored next potential. A torn last checkpoint is discarded and redone.
    Convergence: deviation < tol, or no larger than the sampling noise (√(target_noise² +
    Sample.noise²), when both are known and ``stop_within_noise``), and |P - P_target| < p_tol
    (p_tol=None: structure only, no pressure correction). Stalled (not converged, but stopped): the
    last ``stall_iterations`` (0: never) lowered the best deviation by less than the fraction
    ``stall_gain``, with the pressure within p_tol. Pressure correction (VOTCA simple, see
    :func:`pressure_correction`) is added to the update every ``pressure_every`` iterations.

    ``method``: "ibi" (the update above, VOTCA's simple pressure ramp) or "imc" (Gauss–Newton steps,
    :func:`newton_update`, with the pressure target as a constraint of the step; ``simulate`` returns
    a :class:`Sample` with the run's dg/dU, see :func:`imc_jacobian`; needs the bead number
    ``density``, 1/Å³). ``reg`` regularises the Newton step; ``reg_near`` (None: ``reg`` throughout)
    replaces it once an iteration's deviation is below ``reg_switch``: far from the target the
    linear response is poor and a damped step is safer, near it the damping only slows convergence
    (benchmarks/README.md). ``U_start`` replaces the PMF start; ``start`` names where it came
    from (recorded in ibi.json). ``tail_width`` (Å) over which updates fade before r_cut:
    default three bins, so g up to the cut-off steers U.

    ``background``: each iteration's record (its file and ibi.json, the last summary too) is written by
    this helper thread while the next simulation runs, in order; it is all on disk when run_ibi raises,
    and once the caller waits for `background` (files.Background.wait) after it returns.

    Returns :class:`IBIResult`. If not converged, the final potential is the *best*
    iteration's (lowest deviation, preferring those within p_tol), not the last one: a
    late noisy or diverging iteration never replaces a better earlier potential.
    """
    say = progress or (lambda *a, **k: None)
    r, g_target = _grid(r, g_target)
    _check_settings(method, density, p_tol, P_target)
    if tail_width is None:
        tail_width = 3 * float(r[1] - r[0])
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = IBIState.load(directory, repair=True)
    params = dict(T=T, P_target=P_target, r_cut=r_cut, tol=tol, p_tol=p_tol, lam=lam,
                  max_iterations=max_iterations, pressure_every=pressure_every, method=method,
                  density=density, reg=reg if method != "ibi" else None, tail_width=tail_width,
                  reg_near=reg_near if method != "ibi" else None,
                  reg_switch=reg_switch if method != "ibi" else None,
                  stall_iterations=stall_iterations, stall_gain=stall_gain)
    U, start = _first_potential(state, directory, r, g_target, T, r_cut, U_start, start, g_min, tail_width, say)
    step = functools.partial(_next_potential, T=T, r=r, g_target=g_target, r_cut=r_cut, P_target=P_target, p_tol=p_tol,
                             method=method, density=density, lam=lam, g_min=g_min, max_step=max_step, reg=reg,
                             reg_near=reg_near, reg_switch=reg_switch, smooth=smooth, tail_width=tail_width,
                             pressure_every=pressure_every, pressure_scale=pressure_scale, pressure_f=pressure_f)
    stop = functools.partial(_stopping, tol=tol, P_target=P_target, p_tol=p_tol, within_noise=stop_within_noise,
                             window=stall_iterations, gain=stall_gain)
    record = functools.partial(state.write_summary, background=background, parameters=params, start=start, method=method)
    try:
        converged, stalled, n_sim = _iterations(state, U, simulate, step, stop, record, directory, r, g_target,
                                                method, p_tol, max_iterations, target_noise, background, say)
    except BaseException as exc:
        # Record why we stopped; finished iterations are already safely on disk (once `background`
        # has written them).
        try:
            if background is not None:
                background.wait()
            state.write_summary(status=f"interrupted: {type(exc).__name__}", parameters=params,
                                start=start, method=method)
        except Exception:
            pass
        raise
    return _result(state, directory, r, converged, stalled, n_sim, P_target, p_tol, stall_iterations, stall_gain,
                   params, start, method, background, say)


def _stopping(iterations, *, tol, P_target, p_tol, within_noise, window, gain) -> tuple[bool, bool]:
    """(converged, stalled) after these iterations (none: neither)."""
    converged = bool(iterations) and _is_converged(iterations[-1], tol, P_target, p_tol, within_noise)
    return converged, not converged and _is_stalled(iterations, P_target, p_tol, window, gain)


def _iterations(state: IBIState, U, simulate, step, stop, record, directory: Path, r, g_target, method: str, p_tol,
                max_iterations: int, target_noise, background, say) -> tuple[bool, bool, int]:
    """Simulate, update and record iterations until converged, stalled or max_iterations exist:
    (converged, stalled, simulations run)."""
    converged, stalled = stop(state.iterations)
    n_sim, k = 0, len(state.iterations)
    while not converged and not stalled and k < max_iterations:
        out = _sample(simulate, U, k, directory, r, method, p_tol)
        n_sim += 1
        dev = deviation(r, out.g, g_target)
        U_next, A, backtrack = step(U, out.g, out.pressure, dev, out.jacobian, k, state.iterations)
        noise = float("nan")
        if target_noise is not None and out.noise is not None:
            noise = math.hypot(float(target_noise), float(out.noise))
        state.append(IBIIteration(k, r.copy(), U.copy(), out.g, out.pressure, dev, U_next, A, noise), background)
        converged, stalled = stop(state.iterations)
        record(status="converged" if converged else "running", durable=False)
        say(f"IBI iteration {k}: deviation {dev:.4f}" + (f" (noise {noise:.4f})" if math.isfinite(noise) else "")
            + f", P {out.pressure:.1f} atm" + (f", pressure A {A:+.4f} kcal/mol" if A else "") + backtrack)
        U = U_next
        k += 1
    return converged, stalled, n_sim


def _check_settings(method: str, density, p_tol, P_target) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown IBI method {method!r}; choose one of {', '.join(METHODS)}")
    if method != "ibi" and not (density is not None and np.isfinite(density) and density > 0):
        raise ValueError(f"method {method!r} needs the bead number density (1/Å³), got {density!r}")
    if p_tol is not None and (P_target is None or not math.isfinite(P_target)):
        raise ValueError("P_target needed when p_tol is set")


def _first_potential(state: IBIState, directory: Path, r, g_target, T: float, r_cut: float, U_start, start: str,
                     g_min: float, tail_width: float, say) -> tuple[np.ndarray, str]:
    """(U to simulate next, where the run started): a resumed run's stored next potential and its own
    start; a new run's U_start, or the PMF."""
    if state.iterations:  # a resumed run keeps the start it was begun with
        try:
            start = json.loads((directory / SUMMARY_NAME).read_text()).get("start", start)
        except (OSError, ValueError):
            pass
        last = state.iterations[-1]
        if last.r.shape != r.shape or not np.allclose(last.r, r):
            raise ValueError(f"grid r differs from the one stored in {directory}")
        say(f"IBI: resuming after iteration {last.index} (deviation {last.deviation:.4f})")
        return last.U_next, start
    U = pmf_start(r, g_target, T, r_cut, g_min=g_min, tail_width=tail_width) \
        if U_start is None else np.array(U_start, dtype=float)
    if U.shape != r.shape or not np.all(np.isfinite(U)):
        raise ValueError("start potential must be finite and on the grid r")
    return U, start


def _sample(simulate, U, k: int, directory: Path, r, method: str, p_tol) -> Sample:
    """Iteration k's simulation of U in <directory>/iter_XXX, its output checked (a finite RDF on r, a
    finite pressure where one is needed, the Jacobian where IMC needs it)."""
    workdir = directory / f"iter_{k:03d}"
    workdir.mkdir(exist_ok=True)
    out = simulate(U.copy(), k, workdir)
    out = out if isinstance(out, Sample) else Sample(*out)
    if method == "imc" and out.jacobian is None:
        raise ValueError("method 'imc' needs simulate to return the run's dg/dU (Sample.jacobian)")
    g = np.asarray(out.g, dtype=float)
    if g.shape != r.shape or not np.all(np.isfinite(g)):
        raise ValueError(f"simulate returned a bad RDF at iteration {k}")
    P = float("nan") if out.pressure is None else float(out.pressure)
    if p_tol is not None and not math.isfinite(P):
        raise ValueError(f"simulate returned no finite pressure at iteration {k}")
    return Sample(g, P, out.jacobian, out.noise)


def _next_potential(U, g, P: float, dev: float, jacobian, k: int, done: list, *, T, r, g_target, r_cut, P_target,
                    p_tol, method, density, lam, g_min, max_step, reg, reg_near, reg_switch, smooth, tail_width,
                    pressure_every, pressure_scale, pressure_f) -> tuple[np.ndarray, float, str]:
    """(the potential for iteration k + 1, the pressure ramp's amplitude (plain IBI), a note on a backtrack)."""
    A = 0.0
    correct_p = p_tol is not None and pressure_every > 0 and k % pressure_every == 0
    if method != "ibi":
        U_next = newton_update(U, g, g_target, T, r, density, r_cut,
                               P=P if correct_p else None, P_target=P_target if correct_p else None,
                               lam=lam, g_min=g_min, max_step=max_step,
                               reg=reg if reg_near is None or dev >= reg_switch else reg_near,
                               tail_width=tail_width, jacobian=jacobian)
    else:
        U_next = update(U, g, g_target, T, lam, r=r, r_cut=r_cut, g_min=g_min, smooth=smooth, tail_width=tail_width)
        if correct_p:
            A = pressure_amplitude(P, P_target, T, scale=pressure_scale, f=pressure_f)
            U_next = U_next + pressure_correction(r, P, P_target, T, r_cut, scale=pressure_scale, f=pressure_f)
    backtrack = ""
    if method != "ibi" and done:
        # Newton needs a globalisation: a step that made the RDF clearly worse than the best
        # potential so far is not followed; the best one's own step is retried, halved once
        # per worse iteration since (a liquid pushed near its spinodal otherwise ran away)
        best = min(done, key=lambda i: i.deviation)
        if dev > WORSE * best.deviation:
            shrink = 0.5 ** (k - best.index)
            U_next = best.U + shrink * (best.U_next - best.U)
            backtrack = f"; worse than iteration {best.index}: its step × {shrink:g} instead"
    return U_next, A, backtrack


def _result(state: IBIState, directory: Path, r, converged: bool, stalled: bool, n_sim: int, P_target, p_tol,
            stall_iterations: int, stall_gain: float, params: dict, start: str, method: str, background, say) -> IBIResult:
    """The run's outcome (the converged iteration, else the best one) and its final summary."""
    if not state.iterations:
        raise ValueError("max_iterations must be at least 1")
    best = _best(state.iterations, P_target, p_tol)
    final = state.iterations[-1] if converged else best
    stopped = "converged" if converged else "stalled" if stalled else "max_iterations"
    state.write_summary(status=stopped, background=background,  # (after every iteration file)
                        parameters=params, start=start, method=method, final_iteration=final.index,
                        best_iteration=best.index)
    say(f"IBI: {'converged' if converged else 'not converged'}"
        + (f" (stalled: < {100 * stall_gain:g} % better in {stall_iterations} iterations)" if stalled else "")
        + f"; using iteration {final.index} (deviation {final.deviation:.4f})")
    return IBIResult(r=r, U=final.U.copy(), iteration=final.index, deviation=final.deviation,
                     pressure=final.pressure, converged=converged, best_iteration=best.index,
                     iterations=state.iterations, n_simulated=n_sim, directory=directory,
                     start=start, method=method, stopped=stopped)
