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

Every iteration is checkpointed to ``<directory>/iteration_XXX.npz`` (atomic writes) plus a
JSON summary ``<directory>/ibi.json``, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

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
SUMMARY_NAME = "ibi.json"
_ITER_RE = re.compile(r"^iteration_(\d+)\.npz$")

__all__ = [
    "KB", "kB", "G_MIN", "pmf_start", "update", "pressure_amplitude", "pressure_correction",
    "deviation", "IBIIteration", "IBIState", "IBIResult", "load_history", "run_ibi",
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
    i0 = int(np.flatnonzero(rel)[0])
    j = slice(i0, min(i0 + max(n_edge, 2), r.size))
    slope = np.polyfit(r[j], u[j], 1)[0] if r[j].size >= 2 else -np.inf
    slope = min(slope, -abs(min_slope) * kT)  # never flatter than min_slope, never uphill
    u[:i0] = u[i0] + slope * (r[:i0] - r[i0])
    return _apply_tail(r, u, r_cut, tail_width)


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
    return U + du


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

    @property
    def filename(self) -> str:
        return f"iteration_{self.index:03d}.npz"


def _write_iteration(directory: Path, it: IBIIteration) -> Path:
    path = Path(directory) / it.filename
    files.write_with(path, lambda fh: np.savez(
        fh, index=np.int64(it.index), r=it.r, U=it.U, g=it.g, pressure=np.float64(it.pressure),
        deviation=np.float64(it.deviation), U_next=it.U_next, pressure_A=np.float64(it.pressure_A)))
    return path


def _read_iteration(path: Path) -> IBIIteration:
    # np.load is lazy: touch every array inside the with-block so corruption surfaces here.
    with np.load(path, allow_pickle=False) as z:
        it = IBIIteration(index=int(z["index"]), r=np.array(z["r"]), U=np.array(z["U"]),
                          g=np.array(z["g"]), pressure=float(z["pressure"]),
                          deviation=float(z["deviation"]), U_next=np.array(z["U_next"]),
                          pressure_A=float(z["pressure_A"]))
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

    def append(self, it: IBIIteration) -> None:
        """Persist ``it`` (atomically) and add it to the in-memory list."""
        if it.index != len(self.iterations):
            raise ValueError(f"expected iteration {len(self.iterations)}, got {it.index}")
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_iteration(self.directory, it)
        self.iterations.append(it)

    def write_summary(self, **info) -> Path:
        """Atomically rewrite ``ibi.json``: per-iteration deviation/pressure + ``info``."""
        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)
        doc = dict(info)
        doc["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        doc["iterations"] = [
            {"iteration": it.index, "file": it.filename, "deviation": num(it.deviation),
             "pressure_atm": num(it.pressure), "pressure_A_kcal": num(it.pressure_A)}
            for it in self.iterations]
        path = self.directory / SUMMARY_NAME
        data = (json.dumps(doc, indent=2, default=str) + "\n").encode()
        files.write_with(path, lambda fh: fh.write(data))
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


def _pressure_ok(it: IBIIteration, P_target: float, p_tol: Optional[float]) -> bool:
    return p_tol is None or (math.isfinite(it.pressure) and abs(it.pressure - P_target) < p_tol)


def _is_converged(it: IBIIteration, tol: float, P_target: float, p_tol: Optional[float]) -> bool:
    return it.deviation < tol and _pressure_ok(it, P_target, p_tol)


def _best(iterations, P_target, p_tol) -> IBIIteration:
    ok = [it for it in iterations if _pressure_ok(it, P_target, p_tol)] or list(iterations)
    return min(ok, key=lambda it: it.deviation)


def run_ibi(r, g_target, P_target: Optional[float], T: float,
            simulate: Callable[[np.ndarray, int, Path], tuple], directory, r_cut: float, *,
            max_iterations: int = 30, tol: float = 0.01, p_tol: Optional[float] = 100.0,
            lam: float = 1.0, pressure_every: int = 1, pressure_scale: float = 0.1,
            pressure_f: float = 3e-4, g_min: float = G_MIN, smooth: int = 1,
            tail_width: float = 1.0, U_start=None,
            progress: Optional[Callable[[str], None]] = print) -> IBIResult:
    """Run (or resume) IBI until converged or ``max_iterations`` simulations exist in total.

    ``simulate(U, iteration, workdir) -> (g, P)`` runs CG MD with the tabulated pair
    potential U (kcal/mol on grid ``r``, Å; U = 0 from r_cut on) and returns the RDF on the
    same grid and the pressure in atm (P may be None when p_tol is None). ``workdir`` is
    ``<directory>/iter_XXX`` (created). Iterations are numbered from 0 (0 = PMF start).

    Resume: finished iterations found in ``directory`` are not redone; the run continues
    with the stored next potential. A torn last checkpoint is discarded and redone.
    Convergence: deviation < tol and |P - P_target| < p_tol (p_tol=None: structure only,
    no pressure correction). Pressure correction (VOTCA simple, see
    :func:`pressure_correction`) is added to the update every ``pressure_every`` iterations.

    Returns :class:`IBIResult`. If not converged, the final potential is the *best*
    iteration's (lowest deviation, preferring those within p_tol), not the last one: a
    late noisy or diverging iteration never replaces a better earlier potential.
    """
    say = progress or (lambda *a, **k: None)
    r, g_target = _grid(r, g_target)
    if p_tol is not None and (P_target is None or not math.isfinite(P_target)):
        raise ValueError("P_target needed when p_tol is set")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = IBIState.load(directory, repair=True)
    params = dict(T=T, P_target=P_target, r_cut=r_cut, tol=tol, p_tol=p_tol, lam=lam,
                  max_iterations=max_iterations, pressure_every=pressure_every)

    if state.iterations:
        last = state.iterations[-1]
        if last.r.shape != r.shape or not np.allclose(last.r, r):
            raise ValueError(f"grid r differs from the one stored in {directory}")
        U = last.U_next
        say(f"IBI: resuming after iteration {last.index} (deviation {last.deviation:.4f})")
    else:
        U = pmf_start(r, g_target, T, r_cut, g_min=g_min, tail_width=tail_width) \
            if U_start is None else np.array(U_start, dtype=float)
        if U.shape != r.shape or not np.all(np.isfinite(U)):
            raise ValueError("start potential must be finite and on the grid r")

    converged = bool(state.iterations) and _is_converged(state.iterations[-1], tol, P_target, p_tol)
    n_sim = 0
    k = len(state.iterations)
    try:
        while not converged and k < max_iterations:
            workdir = directory / f"iter_{k:03d}"
            workdir.mkdir(exist_ok=True)
            g, P = simulate(U.copy(), k, workdir)
            n_sim += 1
            g = np.asarray(g, dtype=float)
            if g.shape != r.shape or not np.all(np.isfinite(g)):
                raise ValueError(f"simulate returned a bad RDF at iteration {k}")
            P = float("nan") if P is None else float(P)
            if p_tol is not None and not math.isfinite(P):
                raise ValueError(f"simulate returned no finite pressure at iteration {k}")
            dev = deviation(r, g, g_target)
            U_next = update(U, g, g_target, T, lam, r=r, r_cut=r_cut, g_min=g_min,
                            smooth=smooth, tail_width=tail_width)
            A = 0.0
            if p_tol is not None and pressure_every > 0 and k % pressure_every == 0:
                A = pressure_amplitude(P, P_target, T, scale=pressure_scale, f=pressure_f)
                U_next = U_next + pressure_correction(r, P, P_target, T, r_cut,
                                                      scale=pressure_scale, f=pressure_f)
            it = IBIIteration(k, r.copy(), U.copy(), g, P, dev, U_next, A)
            state.append(it)
            converged = _is_converged(it, tol, P_target, p_tol)
            state.write_summary(status="converged" if converged else "running",
                                parameters=params)
            say(f"IBI iteration {k}: deviation {dev:.4f}, P {P:.1f} atm"
                + (f", pressure A {A:+.4f} kcal/mol" if A else ""))
            U = U_next
            k += 1
    except BaseException as exc:
        # Record why we stopped; finished iterations are already safely on disk.
        try:
            state.write_summary(status=f"interrupted: {type(exc).__name__}", parameters=params)
        except Exception:
            pass
        raise

    if not state.iterations:
        raise ValueError("max_iterations must be at least 1")
    best = _best(state.iterations, P_target, p_tol)
    final = state.iterations[-1] if converged else best
    state.write_summary(status="converged" if converged else "max_iterations",
                        parameters=params, final_iteration=final.index,
                        best_iteration=best.index)
    say(f"IBI: {'converged' if converged else 'not converged'}; using iteration "
        f"{final.index} (deviation {final.deviation:.4f})")
    return IBIResult(r=r, U=final.U.copy(), iteration=final.index, deviation=final.deviation,
                     pressure=final.pressure, converged=converged, best_iteration=best.index,
                     iterations=state.iterations, n_simulated=n_sim, directory=directory)
