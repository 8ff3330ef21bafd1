"""A friction that gives the CG model the all-atom mobility while the IBI table keeps its structure.

One bead per molecule moves too fast because the atoms' friction is gone. A thermostat does not change
the equilibrium distribution, so a friction added to the IBI potential keeps its g(r) and slows the
dynamics: with LAMMPS' DPD thermostat (pair dpd/tstat, pairwise and momentum-conserving; the
dissipative force is -γ (1 - r/rc)² (r̂·v) r̂ with its random partner, Groot & Warren 1997), as in
the dissipative CG models of Klippenstein & van der Vegt (J. Chem. Phys. 154, 191102 (2021); 157,
044103 (2022)); or, for comparison, a Langevin friction on each bead (fix langevin; not
momentum-conserving). This module holds the numbers: the starting estimate, the root search on log γ,
the LAMMPS fragment. Pure numpy; no job, no LAMMPS.

Units: r in Å, D in 1e-9 m²/s, T in K, γ and ζ in kcal fs/(mol Å²) (force per velocity in LAMMPS
real units), masses in g/mol, times in fs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

KB = 0.0019872043  # kcal/mol/K
FS_PER_MASS_OVER_ZETA = 1e-3 / (4184.0 * 1e-15 / 1e-20) * 1e15  # (g/mol) / (kcal fs/(mol Å²)) in fs: 2390.06
D_UNIT = 1e-4  # 1e-9 m²/s in Å²/fs


def dpd_weight(r, cutoff: float) -> np.ndarray:
    """LAMMPS' dissipative weight (1 - r/rc)² inside rc, 0 beyond."""
    r = np.asarray(r, float)
    return np.where(r < cutoff, (1.0 - r / cutoff) ** 2, 0.0)


def first_minimum(r, g, smooth: float = 0.5) -> float:
    """Where g(r) has its first minimum after its main peak (Å): the edge of the first neighbour shell,
    the friction's default reach. g is first averaged over `smooth` Å (a broad, noisy peak has dips of
    one bin right after its top); the minimum is the first point below 1 that is no higher than the
    next `smooth` Å of the averaged curve, else the lowest averaged point below 1 after the peak."""
    from scipy.ndimage import uniform_filter1d
    r, g = np.asarray(r, float), np.asarray(g, float)
    width = max(1, int(round(smooth / (r[1] - r[0]))))
    gs = uniform_filter1d(g, size=width, mode="nearest")
    peak = int(np.argmax(gs))
    for k in range(peak + 1, len(gs) - width):
        if gs[k] < 1.0 and gs[k] <= gs[k + 1: k + 1 + width].min():
            return float(r[k])
    below = [k for k in range(peak + 1, len(gs)) if gs[k] < 1.0]
    return float(r[min(below, key=lambda k: gs[k])]) if below else float(r[-1])


def shell_sum(r, g, density: float, cutoff: float) -> float:
    """Σ_j w(r_ij) per bead on average: ρ ∫ g(r) (1 - r/rc)² 4π r² dr (bin centres r, uniform)."""
    r, g = np.asarray(r, float), np.asarray(g, float)
    dr = r[1] - r[0]
    return float(density * np.sum(g * dpd_weight(r, cutoff) * 4 * np.pi * r ** 2) * dr)


def einstein_gamma(D0: float, D_target: float, r, g, density: float, cutoff: float, T: float) -> float:
    """The γ that would slow a bead from D0 to D_target if its neighbours stood still while it moved:
    D = kT / (ζ0 + ζ_DPD) with ζ0 = kT/D0 and ζ_DPD = (γ/3) Σ_j w(r_ij) (each neighbour along r̂
    resists a third of an isotropic velocity). Neighbours move with the bead in a momentum-conserving
    friction, so the true γ is larger: a start, not an answer."""
    kT = KB * T
    extra = kT / (D_target * D_UNIT) - kT / (D0 * D_UNIT)
    return max(extra, 0.0) * 3.0 / shell_sum(r, g, density, cutoff)


def max_timestep(gamma: float, mass: float) -> float:
    """The longest time step (fs) that resolves a DPD friction γ between beads of `mass`: half the
    damping time of a pair, (m/2)/γ. At twice that (5 fs for the reference's matched γ 2.9e4) the
    integrated friction comes out too weak and D 20 % too high; at half of it (2.5 fs) D agrees with a
    1 fs run (benchmarks/README.md)."""
    return 0.5 * (0.5 * mass) / gamma * FS_PER_MASS_OVER_ZETA


def langevin_damp(zeta: float, mass: float) -> float:
    """fix langevin's damping time (fs) for a per-bead friction ζ (kcal fs/(mol Å²)) on a bead of `mass`."""
    return mass / zeta * FS_PER_MASS_OVER_ZETA


@dataclass
class Search:
    """A root search on log γ for D(γ) = D_target within the combined error.

    `runs`: (γ, D, err) of every CG run so far; D decreases with γ from D0 (no friction). The first γ
    is `start` (e.g. einstein_gamma), the next ones from next_gamma; every step at most a factor
    `max_factor`, no γ above `max_gamma` (a time step too short to pay for)."""
    D_target: float
    D_target_err: float
    D0: float
    start: float
    runs: list = field(default_factory=list)
    max_runs: int = 6
    max_factor: float = 10.0
    max_gamma: float = math.inf

    def __post_init__(self):
        if not self.D0 > self.D_target > 0:
            raise ValueError(f"a friction search needs D0 > D_target > 0 (D0 {self.D0:g}, D_target {self.D_target:g}): "
                             "a friction only slows")

    def matched(self, D: float, err: float) -> bool:
        return abs(D - self.D_target) <= math.hypot(err, self.D_target_err)

    def best(self):
        """The run closest to the target (relative to the combined error)."""
        return min(self.runs, key=lambda run: abs(run[1] - self.D_target) / math.hypot(run[2], self.D_target_err))

    def done(self) -> bool:
        """Matched, out of runs, or the next γ one already run (the search held at max_gamma)."""
        if not self.runs:
            return False
        if self.matched(*self.best()[1:]) or len(self.runs) >= self.max_runs:
            return True
        following = self.next_gamma()
        return any(math.isclose(following, g, rel_tol=1e-9) for g, _, _ in self.runs)

    def next_gamma(self) -> float:
        """The next γ to run. The search is a secant on log γ of log(1/D − 1/D0), the friction a run adds
        beyond the unmatched model's: for an added friction ζ ∝ γ^p that is a straight line, so from one run
        (p = 1, additive friction) or two, the step lands on the target; clipped to any bracket the runs
        make and to `max_factor` per step."""
        if not self.runs:
            return min(self.start, self.max_gamma)
        y_target = math.log(1 / self.D_target - 1 / self.D0)
        points = [(math.log(g), math.log(1 / D - 1 / self.D0)) for g, D, _ in self.runs if D < self.D0]
        x_last = math.log(self.runs[-1][0])
        if not points:  # no run slower than the unmatched model yet: far too little friction
            x = x_last + math.log(self.max_factor)
        elif len(points) == 1 or points[-1][0] == points[-2][0]:
            x = points[-1][0] + (y_target - points[-1][1])
        else:
            (x0, y0), (x1, y1) = points[-2], points[-1]
            slope = min(3.0, max(0.3, (y1 - y0) / (x1 - x0))) if x1 != x0 else 1.0
            x = x1 + (y_target - y1) / slope
        fast = [math.log(g) for g, D, _ in self.runs if D > self.D_target]  # too little friction
        slow = [math.log(g) for g, D, _ in self.runs if D < self.D_target]  # too much
        if fast and slow and max(fast) < min(slow):  # bracketed: stay inside, off its ends
            lo, hi = max(fast), min(slow)
            if not lo + 0.1 * (hi - lo) <= x <= hi - 0.1 * (hi - lo):
                x = 0.5 * (lo + hi)
        step = max(-math.log(self.max_factor), min(math.log(self.max_factor), x - x_last))
        return min(math.exp(x_last + step), self.max_gamma)


def fragment(table_file: str, r_cut: float, gamma: float, cutoff: float, T: float, mass: float,
             keyword: str = "CG", seed: int = 4928, table_points: int = 5000, table_style: str = "spline",
             job: str = "?") -> str:
    """A LAMMPS input fragment for a user's own CG input (units real, atom_style atomic, one bead type):
    the IBI table as the conservative force and the matched DPD friction as the thermostat."""
    return f"""# Structure and mobility in one CG model (mobcg, job {job}): the IBI table keeps the all-atom g(r),
# the DPD friction (pairwise, momentum-conserving) slows the beads to the all-atom D.
# Use in an input with: units real, atom_style atomic, one bead type of mass {mass:.4f} g/mol
# (mass 1 {mass:.4f}), and integrate with `fix 1 all nve` (the friction is the thermostat, at {T} K)
# and a time step of at most {min(5.0, max_timestep(gamma, mass)):.2f} fs (half the friction's pair damping time).
# gamma in kcal fs/(mol Å²) (force per velocity), cut-offs in Å. Needs LAMMPS' DPD-BASIC package.
comm_modify     vel yes
pair_style      hybrid/overlay table {table_style} {table_points} dpd/tstat {T} {T} {cutoff:.4g} {seed}
pair_coeff      1 1 table {table_file} {keyword} {r_cut:.6g}
pair_coeff      1 1 dpd/tstat {gamma:.6g} {cutoff:.4g}
"""
