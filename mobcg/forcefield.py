"""OPLS-AA bonded parameters of alkanes: the 19 numbers a job varies, their box, their checks.

Conventions are LAMMPS `real` units: bond E = K (r - r0)^2 (K in kcal/mol/Å², r0 in Å),
angle E = K (θ - θ0)^2 (K in kcal/mol/rad², θ0 in degrees), `dihedral_style opls`
with K1..K3 in kcal/mol (K4 = 0). Non-bonded OPLS-AA stays fixed (see NONBONDED).
"""

from __future__ import annotations

import copy
import math

import numpy as np

# Unmodified OPLS-AA (Jorgensen 1996) for CT/HC alkanes, LAMMPS convention.
OPLS_AA = {
    "bonds": {"CC": {"k": 268.0, "r0": 1.529}, "CH": {"k": 340.0, "r0": 1.09}},
    "angles": {
        "CCC": {"k": 58.35, "theta0": 112.7},
        "CCH": {"k": 37.5, "theta0": 110.7},
        "HCH": {"k": 33.0, "theta0": 107.8},
    },
    "dihedrals": {
        "CCCC": {"k1": 1.3, "k2": -0.05, "k3": 0.2},
        "CCCH": {"k1": 0.0, "k2": 0.0, "k3": 0.3},
        "HCCH": {"k1": 0.0, "k2": 0.0, "k3": 0.3},
    },
}

# Fixed non-bonded OPLS-AA: LJ sigma (Å), epsilon (kcal/mol); charges (e) by attached H count.
NONBONDED = {
    "lj": {"C": (3.5, 0.066), "H": (2.5, 0.030)},
    "charge": {"CH3": -0.18, "CH2": -0.12, "CH": -0.06, "C": 0.0, "H": 0.06},
    "special_lj_coul_14": 0.5,
}

MASS = {"C": 12.011, "H": 1.008}  # amu (IUPAC conventional atomic weights)
AMU_KCAL = 4184.0 / 6.02214076e23 * 1e20 / 1.66053906660e-27  # (kcal/mol/Å²)/amu in s⁻²
# Below this a set costs > 10× the OPLS-AA run (1 fs) and rounding would reach 0 (ZeroDivisionError):
# K ≈ 4e4 kcal/mol/Å², 40× the sampling box's stiffest corner (0.66 fs).
MIN_TIMESTEP = 0.1


HMR_FACTOR = 3  # repartitioned hydrogens weigh 3 × 1.008 amu (Feenstra, Hess & Berendsen 1999; Hopkins et al. 2015)


def repartitioned_masses(n_carbons: int, n_hydrogens: int, factor: int = HMR_FACTOR) -> dict[str, float]:
    """Hydrogen mass repartitioning (amu): each H weighs `factor` × its mass, the carbons give up what
    the hydrogens gain, evenly, so the molecule's mass, and with it the density, is unchanged. The
    equilibrium distribution of configurations does not depend on the masses; the C–H vibrations slow
    by √(μ'/μ), so a longer step resolves them as well."""
    h = factor * MASS["H"]
    c = MASS["C"] - n_hydrogens / n_carbons * (h - MASS["H"])
    if c <= h:
        raise ForceFieldError(f"hydrogen mass repartitioning ×{factor} leaves the carbons {c:.3f} amu: too light")
    return {"C": round(c, 6), "H": round(h, 6)}


def timestep(forcefield: dict, steps_per_period: int = 10, maximum: float = 1.0,
             masses: dict[str, float] = MASS) -> float:
    """Time step (fs) resolving the fastest bond vibration with `steps_per_period` steps, ≤ `maximum`.

    Harmonic bond E = K (r − r0)² has spring constant 2K; ω = sqrt(2K/μ) with the reduced mass μ
    (of `masses`, amu). ForceFieldError when that is below MIN_TIMESTEP (a bond too stiff to simulate).
    """
    periods = []
    for bond, (a, b) in {"CC": ("C", "C"), "CH": ("C", "H")}.items():
        mu = masses[a] * masses[b] / (masses[a] + masses[b])
        omega = math.sqrt(2 * forcefield["bonds"][bond]["k"] * AMU_KCAL / mu)  # rad/s
        periods.append(2 * math.pi / omega * 1e15)  # fs
    dt = min(maximum, min(periods) / steps_per_period)
    if dt < MIN_TIMESTEP:
        raise ForceFieldError(f"K_CC = {forcefield['bonds']['CC']['k']:g}, K_CH = {forcefield['bonds']['CH']['k']:g} "
                              f"kcal/mol/Å² need a {dt:.2g} fs time step (< {MIN_TIMESTEP} fs): too stiff to simulate")
    return math.floor(dt * 100) / 100


# Flat names (as in the published tables) -> path in the nested statepoint.
PARAMETERS: dict[str, tuple[str, str, str]] = {
    "K_CC": ("bonds", "CC", "k"), "r0_CC": ("bonds", "CC", "r0"),
    "K_CH": ("bonds", "CH", "k"), "r0_CH": ("bonds", "CH", "r0"),
    "K_CCC": ("angles", "CCC", "k"), "theta0_CCC": ("angles", "CCC", "theta0"),
    "K_CCH": ("angles", "CCH", "k"), "theta0_CCH": ("angles", "CCH", "theta0"),
    "K_HCH": ("angles", "HCH", "k"), "theta0_HCH": ("angles", "HCH", "theta0"),
    "K1_CCCC": ("dihedrals", "CCCC", "k1"), "K2_CCCC": ("dihedrals", "CCCC", "k2"),
    "K3_CCCC": ("dihedrals", "CCCC", "k3"),
    "K1_CCCH": ("dihedrals", "CCCH", "k1"), "K2_CCCH": ("dihedrals", "CCCH", "k2"),
    "K3_CCCH": ("dihedrals", "CCCH", "k3"),
    "K1_HCCH": ("dihedrals", "HCCH", "k1"), "K2_HCCH": ("dihedrals", "HCCH", "k2"),
    "K3_HCCH": ("dihedrals", "HCCH", "k3"),
}
PARAMETER_NAMES = list(PARAMETERS)

# The published sampling box (Bag et al. 2022), uniform in each parameter.
SAMPLING_BOX: dict[str, tuple[float, float]] = {
    "K_CC": (20.0, 1000.0), "r0_CC": (1.0, 2.5),
    "K_CH": (20.0, 1000.0), "r0_CH": (0.6, 1.8),
    **{f"K_{a}": (5.0, 100.0) for a in ("CCC", "CCH", "HCH")},
    **{f"theta0_{a}": (70.0, 140.0) for a in ("CCC", "CCH", "HCH")},
    **{f"K{i}_{d}": (-2.0, 2.0) for d in ("CCCC", "CCCH", "HCCH") for i in (1, 2, 3)},
}


class ForceFieldError(ValueError):
    """A force field or sampling box that cannot describe a molecule."""


def flatten(forcefield: dict) -> dict[str, float]:
    """Nested statepoint force field -> {"K_CC": ..., ...} in PARAMETER_NAMES order."""
    flat = {}
    for name, (group, kind, key) in PARAMETERS.items():
        try:
            flat[name] = forcefield[group][kind][key]
        except (KeyError, TypeError):
            raise ForceFieldError(f"force field lacks {group}.{kind}.{key} ({name})") from None
    return flat


def nest(flat: dict[str, float]) -> dict:
    """{"K_CC": ..., ...} -> nested statepoint force field (native floats)."""
    missing = [n for n in PARAMETER_NAMES if n not in flat]
    if missing:
        raise ForceFieldError(f"missing parameter(s): {', '.join(missing)}")
    unknown = sorted(set(flat) - set(PARAMETER_NAMES))
    if unknown:
        raise ForceFieldError(f"unknown parameter(s): {', '.join(unknown)}")
    ff = copy.deepcopy(OPLS_AA)
    for name, (group, kind, key) in PARAMETERS.items():
        value = flat[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ForceFieldError(f"{name} = {value!r} is not a number")
        ff[group][kind][key] = float(value)
    return ff


def vector(forcefield: dict) -> np.ndarray:
    """The 19 parameters as a float array (model input order)."""
    return np.array(list(flatten(forcefield).values()), dtype=float)


def validate(forcefield: dict, where: str = "force field") -> dict:
    """Check physical sanity; raise one ForceFieldError naming the value and `where`."""
    flat = flatten(forcefield)
    for name, value in flat.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ForceFieldError(f"{where}: {name} = {value!r} is not a finite number")
    for name, value in flat.items():
        if name.startswith("K_") and value <= 0:
            raise ForceFieldError(f"{where}: {name} = {value} must be a positive force constant")
        if name.startswith("r0_") and value <= 0:
            raise ForceFieldError(f"{where}: {name} = {value} Å must be positive")
        if name.startswith("theta0_") and not 0 < value < 180:
            raise ForceFieldError(f"{where}: {name} = {value}° must lie in (0, 180)")
    return flat


def check_near_box(flat: dict[str, float], box: dict[str, tuple[float, float]], where: str) -> None:
    """ForceFieldError unless every value lies within one published box width of `box`.

    A user's own set may leave the sampling box (the models only extrapolate there), but not by more:
    what lies further out is a unit mix-up (K in kJ/mol/nm², r0 in nm) far more often than a plan, and
    the protocol (compression, time step, cut-offs) is tested only near the box.
    """
    for name, value in flat.items():
        lo, hi = box[name]
        width = SAMPLING_BOX[name][1] - SAMPLING_BOX[name][0]
        if not lo - width <= value <= hi + width:
            low = max(lo - width, 0.0) if name.startswith(("K_", "r0_")) else lo - width  # validate(): > 0
            high = min(hi + width, 180.0) if name.startswith("theta0_") else hi + width
            raise ForceFieldError(f"{where}: {name} = {value:g} lies more than one box width ({width:g}) outside "
                                  f"the sampling box [{lo:g}, {hi:g}] (allowed {low:g} to {high:g}); "
                                  "a unit mix-up?")


def validate_box(box: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Check a sampling box: every parameter, lower <= upper, and physically sane bounds."""
    missing = [n for n in PARAMETER_NAMES if n not in box]
    unknown = sorted(set(box) - set(PARAMETER_NAMES))
    if missing or unknown:
        raise ForceFieldError(f"sampling box: missing {missing} / unknown {unknown}")
    for name, bounds in box.items():
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ForceFieldError(f"sampling box: {name} = {bounds!r} is not a (lower, upper) pair") from None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ForceFieldError(f"sampling box: {name} = ({lo}, {hi}) is not finite")
        if lo > hi:
            raise ForceFieldError(f"sampling box: {name} lower {lo} > upper {hi}")
        # Both corners must be valid force fields.
        for corner in (lo, hi):
            probe = flatten(OPLS_AA) | {name: corner}
            validate(nest(probe), where=f"sampling box {name}")
    return {n: (float(box[n][0]), float(box[n][1])) for n in PARAMETER_NAMES}


def sample(n: int, seed: int, box: dict | None = None, decimals: int = 2) -> list[dict]:
    """Draw n force fields uniformly in `box`, rounded as the paper (2 decimals)."""
    if n < 0:
        raise ForceFieldError(f"number of parameter sets n = {n} must be >= 0")
    box = validate_box(box or SAMPLING_BOX)
    rng = np.random.default_rng(seed)
    lo = np.array([box[p][0] for p in PARAMETER_NAMES])
    hi = np.array([box[p][1] for p in PARAMETER_NAMES])
    draws = np.round(rng.uniform(lo, hi, size=(n, len(lo))), decimals)
    # Rounding may land a positive constant on 0 only if the box allows ~0: keep it valid.
    return [nest({p: float(v) for p, v in zip(PARAMETER_NAMES, row)}) for row in draws]


def check_model_input(flat, where: str = "parameters") -> np.ndarray:
    """A user's 19 parameters as a (1, 19) model input; one clear error for a non-object, missing or
    unknown keys, non-numbers, unphysical or out-of-box values (models know only the sampling box)."""
    if not isinstance(flat, dict):
        raise ForceFieldError(f"{where}: expected a JSON object with the 19 parameters")
    try:
        ff = nest(flat)
    except ForceFieldError as exc:
        raise ForceFieldError(f"{where}: {exc}") from None
    validate(ff, where=where)
    for name, value in flatten(ff).items():
        lo, hi = SAMPLING_BOX[name]
        if not lo <= value <= hi and ff != OPLS_AA:
            raise ForceFieldError(f"{where}: {name} = {value} lies outside the trained box [{lo}, {hi}]")
    return vector(ff)[None, :]
