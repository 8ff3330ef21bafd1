"""Tabulated one-bead CG pair potentials: make them simulation-ready, read and write them.

Units (LAMMPS `real`): r in Å, U in kcal/mol, F = -dU/dr in kcal/mol/Å.
GROMACS files (.xvg) are converted on the way in and out: nm, kJ/mol, kJ/mol/nm
(1 kcal = 4.184 kJ, 1 nm = 10 Å).

Formats:
- LAMMPS `pair_style table` file: comment line, blank, KEYWORD, `N n [R rlo rhi]`, blank,
  lines `i r e f`. The reader also takes VOTCA-written files (`N n` only, or `RSQ`,
  `FPRIME` parameters) and several sections per file.
- GROMACS .xvg (see `write_xvg` for exactly which table layout).
- CSV with header `r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom`.
- The published Bag et al. (2022) TSV files (`read_reference_potentials`).

Every malformed input raises `TableError` (a ValueError) naming the file and line.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import files


def CubicSpline(*args, **kwargs):  # noqa: N802
    """scipy's CubicSpline, imported on first use: scipy.interpolate takes 0.3 s to import and
    `project.py status` (which imports this module through cg) never draws a spline."""
    from scipy.interpolate import CubicSpline as spline
    return spline(*args, **kwargs)

KCAL_TO_KJ = 4.184  # kJ per kcal
NM_TO_ANGSTROM = 10.0  # Å per nm

# The published table grid (Bag et al. 2022, LAMMPS): r = 0.0001 + 0.01 k Å, k = 0..1549,
# i.e. 0.0001 .. 15.4901 Å.
PAPER_GRID = 0.0001 + 0.01 * np.arange(1550)

CSV_HEADER = "r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom"

# Short-range exponential wall (see simulation_ready).
_WALL_SLOPE_MIN = 0.5  # kcal/mol/Å, least repulsive force at the matching point
_WALL_B_DEFAULT = 2.0  # 1/Å, used when the curvature cannot set b (published walls: ~1.7)
_WALL_B_MIN, _WALL_B_MAX = 0.5, 4.0  # 1/Å, clip range of b
_WALL_MAX_EXPONENT = 40.0  # b (r0 - r_min) is kept below this: no overflow, U stays < ~1e17
_WALL_FIT_POINTS = 5  # points used to estimate slope and curvature at the matching point


class TableError(ValueError):
    """A table that cannot be read, written or built; the message names the file and line."""


def _where(path, line=None) -> str:
    return f"{path}" if line is None else f"{path}:{line}"


# ----------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True, eq=False)
class Table:
    """A tabulated pair potential: r (Å), U (kcal/mol), F = -dU/dr (kcal/mol/Å).

    Arrays are float64, read-only, same length (>= 2), r strictly increasing, all finite.
    """

    r: np.ndarray
    U: np.ndarray
    F: np.ndarray

    def __post_init__(self):
        arrays = []
        for name in ("r", "U", "F"):
            a = np.array(getattr(self, name), dtype=float)  # private copy
            if a.ndim != 1:
                raise TableError(f"Table.{name} must be one-dimensional, got shape {a.shape}")
            a.setflags(write=False)
            arrays.append(a)
        r, U, F = arrays
        if not (len(r) == len(U) == len(F)):
            raise TableError(f"Table arrays differ in length: r {len(r)}, U {len(U)}, F {len(F)}")
        if len(r) < 2:
            raise TableError(f"Table needs at least 2 points, got {len(r)}")
        for name, a in zip("rUF", arrays):
            if not np.all(np.isfinite(a)):
                i = int(np.flatnonzero(~np.isfinite(a))[0])
                raise TableError(f"Table.{name} has a non-finite value at index {i}")
        if np.any(np.diff(r) <= 0):
            i = int(np.flatnonzero(np.diff(r) <= 0)[0])
            raise TableError(f"Table.r is not strictly increasing at index {i + 1} "
                             f"(r = {float(r[i])!r} then {float(r[i + 1])!r})")
        object.__setattr__(self, "r", r)
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "F", F)

    def __len__(self) -> int:
        return len(self.r)

    @classmethod
    def from_potential(cls, r, U) -> "Table":
        """Table with F = -dU/dr from the derivative of a cubic spline (not-a-knot) of U."""
        r = np.asarray(r, dtype=float)
        U = np.asarray(U, dtype=float)
        if r.shape != U.shape or r.ndim != 1 or len(r) < 2:
            raise TableError(f"from_potential: r and U must be 1-D of equal length >= 2, "
                             f"got shapes {r.shape} and {U.shape}")
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(U))):
            raise TableError("from_potential: r and U must be finite (use simulation_ready "
                             "for potentials with NaN/inf)")
        if np.any(np.diff(r) <= 0):
            raise TableError("from_potential: r must be strictly increasing")
        F = -CubicSpline(r, U)(r, 1)
        return cls(r, U, F)

    # Splines as LAMMPS builds them from a table file (pair_table.cpp, spline_table):
    # U clamped with end slopes -F; F clamped with end slopes from the first/last two points.
    @functools.cached_property
    def _u_spline(self):
        return CubicSpline(self.r, self.U, bc_type=((1, -self.F[0]), (1, -self.F[-1])))

    @functools.cached_property
    def _f_spline(self):
        r, F = self.r, self.F
        lo = (F[1] - F[0]) / (r[1] - r[0])
        hi = (F[-1] - F[-2]) / (r[-1] - r[-2])
        return CubicSpline(r, F, bc_type=((1, lo), (1, hi)))

    def evaluate(self, r):
        """(U, F) at r (Å) by cubic-spline interpolation of the U and F columns.

        This is the project's own evaluation; it uses the same end conditions LAMMPS uses
        for the file splines of `pair_style table`. r outside [r[0], r[-1]] raises TableError.
        """
        x = np.asarray(r, dtype=float)
        tol = 1e-9 * max(1.0, abs(self.r[-1]))
        if np.any(~np.isfinite(x)) or np.any(x < self.r[0] - tol) or np.any(x > self.r[-1] + tol):
            raise TableError(f"evaluate: r outside the table range "
                             f"[{self.r[0]:g}, {self.r[-1]:g}] Å (or not finite)")
        x = np.clip(x, self.r[0], self.r[-1])
        U = self._u_spline(x)
        F = self._f_spline(x)
        if np.ndim(r) == 0:
            return float(U), float(F)
        return U, F


def resample(table: Table, r_new) -> Table:
    """The table on a new grid r_new (Å, strictly increasing, inside the table range),
    U and F each interpolated with `Table.evaluate`."""
    r_new = np.asarray(r_new, dtype=float)
    if r_new.ndim != 1 or len(r_new) < 2 or np.any(np.diff(r_new) <= 0):
        raise TableError("resample: r_new must be 1-D, strictly increasing, >= 2 points")
    U, F = table.evaluate(r_new)
    return Table(r_new, U, F)


# ----------------------------------------------------------------------------------------
# Simulation-ready tables


def _wall_parameters(r, U, i0):
    """Slope and curvature at r[i0] from a least-squares quadratic over a few points at and
    after i0 (robust to noise in a predicted potential)."""
    j = min(len(r), i0 + _WALL_FIT_POINTS)
    x, y = r[i0:j] - r[i0], U[i0:j]
    if len(x) >= 3:
        c2, c1, _ = np.polyfit(x, y, 2)
        return c1, 2.0 * c2
    if len(x) == 2:
        return (y[1] - y[0]) / (x[1] - x[0]), 0.0
    return 0.0, 0.0


def simulation_ready(r, U, grid=PAPER_GRID, r_cut=None, r_core=None) -> Table:
    """Turn a potential known on part of the range into a table LAMMPS can run with.

    r (Å), U (kcal/mol): input potential; U may hold NaN/inf (e.g. -kT ln g where g = 0),
    or be a noisy predicted potential. grid: output r (Å), strictly increasing.
    r_cut (Å): default grid[-1]; U is shifted so that U(r_cut) = 0, and U = F = 0 at and
    beyond r_cut (forces jump there by whatever slope U had; choose r_cut on the grid).
    r_core (Å): trust the data only from here on (default: first finite point).

    Short range (r < r0, r0 = first trusted point): an exponential wall
        U(r) = U0 + (A / b) (exp(b (r0 - r)) - 1),   F(r) = A exp(b (r0 - r)),
    matching U0 = U(r0) and the slope -A at r0. Why exponential: it is monotonically
    repulsive for any A > 0, b > 0 (whatever the sign of U0, unlike a power law C/r^n,
    which needs U0 > 0 and n = -U'(r0) r0 / U0), finite at r = 0 (grids starting at 0,
    as GROMACS wants, work) and it never overflows. A = max(-U'(r0), 0.5 kcal/mol/Å);
    b = U''(r0) / A (so F is also smooth at r0), clipped to [0.5, 4] 1/Å and to
    b (r0 - grid[0]) <= 40; b = 2 1/Å if the curvature is not positive. Slope and
    curvature come from a quadratic least-squares fit over 5 points (noise-robust); if the
    data are not repulsive at r0 (U'(r0) > -0.5) the force has a small jump at r0.

    Inside the trusted range, isolated non-finite values are bridged by the cubic spline
    through the finite points; past the last finite point U is held constant.
    F is -dU/dr of a cubic spline of the final U on grid points <= r_cut. Never NaN.
    """
    r, U, grid, r_cut = _checked_inputs(r, U, grid, r_cut)
    potential = _extended(r, U, grid, r_cut, r_core)
    U_grid = potential(grid) - potential(np.array([r_cut]))[0]
    inside = grid < r_cut
    U_grid[~inside] = 0.0
    # F on grid points below r_cut: spline of U through those points and (r_cut, 0)
    F_grid = np.zeros_like(grid)
    xs = np.append(grid[inside], r_cut)
    us = np.append(U_grid[inside], 0.0)
    F_grid[inside] = -CubicSpline(xs, us)(grid[inside], 1)
    if not (np.all(np.isfinite(U_grid)) and np.all(np.isfinite(F_grid))):
        raise TableError("simulation_ready: produced a non-finite value (this is a bug)")
    return Table(grid, U_grid, F_grid)


def _checked_inputs(r, U, grid, r_cut):
    """simulation_ready's arguments as float arrays (r_cut: default grid[-1]); TableError naming the fault."""
    r = np.asarray(r, dtype=float)
    U = np.asarray(U, dtype=float)
    grid = np.asarray(grid, dtype=float)
    if r.ndim != 1 or r.shape != U.shape:
        raise TableError(f"simulation_ready: r and U must be 1-D of equal length, "
                         f"got shapes {r.shape} and {U.shape}")
    if not np.all(np.isfinite(r)) or np.any(np.diff(r) <= 0):
        raise TableError("simulation_ready: r must be finite and strictly increasing")
    if grid.ndim != 1 or len(grid) < 4 or not np.all(np.isfinite(grid)) \
            or np.any(np.diff(grid) <= 0):
        raise TableError("simulation_ready: grid must be finite, strictly increasing, >= 4 points")
    r_cut = float(grid[-1]) if r_cut is None else float(r_cut)
    if not (grid[0] < r_cut <= grid[-1]):
        raise TableError(f"simulation_ready: r_cut = {r_cut} Å outside the grid "
                         f"({grid[0]:g}, {grid[-1]:g}]")
    return r, U, grid, r_cut


def _extended(r, U, grid, r_cut: float, r_core):
    """U(x) for any x: the cubic spline through the trusted finite points, the exponential wall below
    the first (simulation_ready's docstring), constant past the last."""
    finite = np.isfinite(U)
    if not finite.any():
        raise TableError("simulation_ready: the potential has no finite value")
    rf, Uf = r[finite], U[finite]
    i0 = 0
    if r_core is not None:
        i0 = int(np.searchsorted(rf, float(r_core), side="left"))
    if len(rf) - i0 < 2:
        raise TableError("simulation_ready: fewer than 2 finite points at or beyond the core "
                         f"(r_core = {r_core}, first finite r = {rf[0]:g} Å)")
    if rf[i0] >= r_cut:
        raise TableError(f"simulation_ready: no finite data below r_cut = {r_cut} Å")
    rf, Uf = rf[i0:], Uf[i0:]
    spline = CubicSpline(rf, Uf)
    r0, r_last = rf[0], rf[-1]

    slope, curv = _wall_parameters(rf, Uf, 0)
    A = max(-slope, _WALL_SLOPE_MIN)
    b = curv / A if curv > 0 else _WALL_B_DEFAULT
    b = min(max(b, _WALL_B_MIN), _WALL_B_MAX)
    span = r0 - min(grid[0], r0)
    if span > 0:
        b = min(b, _WALL_MAX_EXPONENT / span)
    U0 = Uf[0]

    def potential(x):
        x = np.asarray(x, dtype=float)
        out = np.where(x > r_last, Uf[-1], spline(np.clip(x, r0, r_last)))
        wall = x < r0
        out[wall] = U0 + (A / b) * np.expm1(b * (r0 - x[wall]))
        return out

    return potential


# ----------------------------------------------------------------------------------------
# Writing helpers


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"{path}: cannot read: {exc}") from exc


def _floats(tokens, path, lineno):
    try:
        vals = [float(t) for t in tokens]
    except ValueError:
        raise TableError(f"{_where(path, lineno)}: not a number in {' '.join(tokens)!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise TableError(f"{_where(path, lineno)}: NaN or inf in {' '.join(tokens)!r}")
    return vals


def _check_increasing(r, lines, path):
    bad = np.flatnonzero(np.diff(r) <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        raise TableError(f"{_where(path, lines[i])}: r is not strictly increasing "
                         f"({float(r[i - 1])!r} then {float(r[i])!r})")


def _g(x: float) -> str:
    return f"{x:.15g}"


def _rows(template: str, *columns) -> list[str]:
    """One line per row, template.format(*row) (fields such as {:.15g}, as _g formats): the columns go
    through tolist() and one str.format per line, the same text as per-value _g calls at a fraction
    of their cost (tables are written by every IBI iteration)."""
    return list(map(template.format, *(np.asarray(c).tolist() for c in columns)))


# ----------------------------------------------------------------------------------------
# LAMMPS pair_style table


def _is_uniform(r) -> bool:
    ideal = r[0] + (r[-1] - r[0]) * np.arange(len(r)) / (len(r) - 1)
    return bool(np.max(np.abs(r - ideal)) <= 1e-9 * max(1.0, abs(r[-1])))


def write_lammps(path, table: Table, keyword: str = "CG", r_cut=None, durable: bool = True) -> Path:
    """Write a LAMMPS `pair_style table` file with one section `keyword`.

    Lines `i r e f` (Å, kcal/mol, kcal/mol/Å). `N n R rlo rhi` is written when r is
    uniform (LAMMPS then recomputes r exactly), `N n` otherwise. r_cut (Å): keep only the
    points with r <= r_cut (use it as the pair_coeff cutoff). Use in LAMMPS as
    `pair_style table spline n` and `pair_coeff 1 1 <path> <keyword> <cutoff>`. `durable` False:
    no fsync (a run's own input, written anew by every run; files.atomic_path).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", keyword):
        raise TableError(f"{path}: invalid table keyword {keyword!r} (one word, starting "
                         "with a letter)")
    r, U, F = table.r, table.U, table.F
    if r_cut is not None:
        keep = r <= float(r_cut) * (1 + 1e-12)
        if keep.sum() < 2:
            raise TableError(f"{path}: r_cut = {r_cut} Å leaves fewer than 2 table points")
        r, U, F = r[keep], U[keep], F[keep]
    if r[0] <= 0:
        raise TableError(f"{path}: LAMMPS pair_style table needs r > 0 (first r = {r[0]:g} Å)")
    n = len(r)
    spec = f"N {n} R {_g(r[0])} {_g(r[-1])}" if _is_uniform(r) else f"N {n}"
    lines = [
        f"# mobcg CG pair table: r [A], U [kcal/mol], F=-dU/dr [kcal/mol/A]; "
        f"pair_coeff cutoff <= {_g(r[-1])}",
        "",
        keyword,
        spec,
        "",
    ]
    lines += _rows("{} {:.15g} {:.15g} {:.15g}", np.arange(1, n + 1), r, U, F)
    return files.write_text(path, "\n".join(lines) + "\n", durable)


def _parse_spec(tokens, path, lineno):
    """Parse `N n [R|RSQ rlo rhi] [FPRIME fplo fphi]`; return (n, rmode, rlo, rhi)."""
    where = _where(path, lineno)
    if not tokens or tokens[0] != "N" or len(tokens) < 2:
        raise TableError(f"{where}: expected the parameter line 'N n [R rlo rhi]', "
                         f"got {' '.join(tokens)!r}")
    try:
        n = int(tokens[1])
    except ValueError:
        raise TableError(f"{where}: N must be an integer, got {tokens[1]!r}") from None
    if n < 2:
        raise TableError(f"{where}: N = {n}, need at least 2 points")
    rmode, rlo, rhi = None, None, None
    k = 2
    while k < len(tokens):
        word = tokens[k]
        if word in ("R", "RSQ", "FPRIME"):
            if k + 2 >= len(tokens):
                raise TableError(f"{where}: {word} needs two numbers")
            a, b = _floats(tokens[k + 1:k + 3], path, lineno)
            if word != "FPRIME":
                rmode, rlo, rhi = word, a, b
            k += 3
        elif word == "BITMAP":
            raise TableError(f"{where}: BITMAP tables are not supported")
        else:
            raise TableError(f"{where}: unknown table parameter {word!r}")
    return n, rmode, rlo, rhi


def read_lammps(path, keyword=None) -> Table:
    """Read one section of a LAMMPS `pair_style table` file (also VOTCA-written files).

    keyword: the section to read; None reads the first one. With `R`/`RSQ` r is recomputed
    as LAMMPS does (and must agree with the r column to 1e-6 relative, LAMMPS' own check).
    Columns beyond `i r e f` are ignored. Raises TableError naming file and line.
    """
    sections = _sections(_read_lines(path), path)
    if not sections:
        raise TableError(f"{path}: no table section found")
    names = [s[0] for s in sections]
    if keyword is None:
        sec = sections[0]
    else:
        matches = [s for s in sections if s[0] == keyword]
        if not matches:
            raise TableError(f"{path}: keyword {keyword!r} not found (sections: "
                             f"{', '.join(names)})")
        sec = matches[0]
    name, kw_line, n, rmode, rlo, rhi, data, rownums = sec
    r_file, U, F = data[:, 0], data[:, 1], data[:, 2]
    if rmode is not None:
        k = np.arange(n) / (n - 1)
        r = rlo + (rhi - rlo) * k if rmode == "R" else np.sqrt(rlo**2 + (rhi**2 - rlo**2) * k)
        bad = np.flatnonzero(np.abs(r - r_file) > 1e-6 * np.maximum(np.abs(r_file), 1e-300))
        if len(bad):
            j = int(bad[0])
            raise TableError(f"{_where(path, rownums[j])}: r = {float(r_file[j])!r} disagrees with "
                             f"{rmode} {rlo:g} {rhi:g} (expected {float(r[j])!r}; wrong N?)")
    else:
        r = r_file
    _check_increasing(r, rownums, path)
    return Table(r, U, F)


def _sections(lines: list, path) -> list:
    """Every section of a table file: (keyword, its line, N, R/RSQ mode, rlo, rhi, rows (N, 3), row lines)."""
    sections = []
    i = 0
    nlines = len(lines)

    def skip(i):
        while i < nlines and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
            i += 1
        return i

    while True:
        i = skip(i)
        if i >= nlines:
            return sections
        tokens = lines[i].split()
        if _looks_numeric(tokens[0]):
            raise TableError(f"{_where(path, i + 1)}: expected a section keyword, "
                             f"found data {lines[i].strip()!r} (wrong N in the section above?)")
        name, kw_line = tokens[0], i + 1
        i = skip(i + 1)
        if i >= nlines:
            raise TableError(f"{_where(path, kw_line)}: section {name!r} has no 'N n' line "
                             "(truncated file?)")
        n, rmode, rlo, rhi = _parse_spec(lines[i].split(), path, i + 1)
        i += 1
        rows, rownums = [], []
        while len(rows) < n:
            i = skip(i)
            if i >= nlines:
                raise TableError(f"{path}: section {name!r} (line {kw_line}) expects N = {n} "
                                 f"data lines, found {len(rows)} (truncated file?)")
            tokens = lines[i].split()
            if not _looks_numeric(tokens[0]):
                raise TableError(f"{_where(path, i + 1)}: section {name!r} expects N = {n} "
                                 f"data lines, found {len(rows)} before {tokens[0]!r}")
            if len(tokens) < 4:
                raise TableError(f"{_where(path, i + 1)}: expected 'i r e f', "
                                 f"got {lines[i].strip()!r}")
            rows.append(_floats(tokens[1:4], path, i + 1))
            rownums.append(i + 1)
            i += 1
        sections.append((name, kw_line, n, rmode, rlo, rhi, np.array(rows), rownums))


def _looks_numeric(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------
# GROMACS .xvg


def write_xvg(path, table: Table, columns: int = 3) -> Path:
    """Write a GROMACS-style .xvg table, converting to nm, kJ/mol and kJ/mol/nm.

    columns=3 (default): `x V(x) -V'(x)`, the layout GROMACS uses for tabulated bonded
    interactions (table_b<n>.xvg, e.g. bond type 8/9) and for each function of its
    non-bonded user tables. columns=7: the full non-bonded user table
    `x f -f' g -g' h -h'` with f = g = 0 and the potential in h (VOTCA's convention;
    use C6 = 0, C12 = 1). Honest caveats: GROMACS non-bonded user tables need the
    group cut-off scheme (removed in GROMACS 2020), and mdrun wants tables starting at
    x = 0 with uniform spacing (PAPER_GRID starts at 1e-5 nm: resample or build the table
    with simulation_ready on such a grid first). This writer does not enforce either.
    """
    if columns not in (3, 7):
        raise TableError(f"{path}: columns must be 3 or 7, got {columns}")
    x = table.r / NM_TO_ANGSTROM
    V = table.U * KCAL_TO_KJ
    mdV = table.F * KCAL_TO_KJ * NM_TO_ANGSTROM
    head = [
        "# mobcg CG pair table, GROMACS units: r [nm], V [kJ/mol], -dV/dr [kJ/mol/nm]",
        "# converted from LAMMPS real units: 1 kcal = 4.184 kJ, 1 nm = 10 A",
        f"# columns: {'x V -dV/dx' if columns == 3 else 'x f -df/dx g -dg/dx h -dh/dx (f=g=0, h=V)'}",
        '@    title "CG pair potential"',
        '@    xaxis  label "r (nm)"',
        '@    yaxis  label "V (kJ/mol), -dV/dr (kJ/mol/nm)"',
        "@TYPE xy",
    ]
    body = _rows("{:.15g} {:.15g} {:.15g}" if columns == 3 else "{:.15g} 0 0 0 0 {:.15g} {:.15g}", x, V, mdV)
    return files.write_text(path, "\n".join(head + body) + "\n")


def read_xvg(path) -> Table:
    """Read a .xvg table (3 columns x V -V', or 7 columns with the potential in h = columns
    6, 7), converting nm, kJ/mol, kJ/mol/nm to Å, kcal/mol, kcal/mol/Å."""
    rows, rownums, ncol = [], [], None
    for lineno, line in enumerate(_read_lines(path), 1):
        s = line.strip()
        if not s or s[0] in "#@&":
            continue
        tokens = s.split()
        if ncol is None:
            ncol = len(tokens)
            if ncol not in (3, 7):
                raise TableError(f"{_where(path, lineno)}: expected 3 (x V -V') or 7 "
                                 f"columns, got {ncol}")
        elif len(tokens) != ncol:
            raise TableError(f"{_where(path, lineno)}: expected {ncol} columns, got "
                             f"{len(tokens)} (truncated file?)")
        vals = _floats(tokens, path, lineno)
        rows.append((vals[0], vals[1], vals[2]) if ncol == 3 else (vals[0], vals[5], vals[6]))
        rownums.append(lineno)
    if len(rows) < 2:
        raise TableError(f"{path}: fewer than 2 data lines")
    data = np.array(rows)
    r = data[:, 0] * NM_TO_ANGSTROM
    _check_increasing(r, rownums, path)
    U = data[:, 1] / KCAL_TO_KJ
    F = data[:, 2] / (KCAL_TO_KJ * NM_TO_ANGSTROM)
    return Table(r, U, F)


# ----------------------------------------------------------------------------------------
# CSV


def write_csv(path, table: Table) -> Path:
    """Write `r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom` and one row per point."""
    body = _rows("{:.15g},{:.15g},{:.15g}", table.r, table.U, table.F)
    return files.write_text(path, "\n".join([CSV_HEADER] + body) + "\n")


def read_csv(path) -> Table:
    """Read a CSV written by `write_csv` (header required; units Å, kcal/mol, kcal/mol/Å)."""
    lines = _read_lines(path)
    if not lines or lines[0].replace(" ", "").lstrip("\ufeff") != CSV_HEADER:
        got = lines[0].strip() if lines else "(empty file)"
        raise TableError(f"{_where(path, 1)}: expected header {CSV_HEADER!r}, got {got!r}")
    rows, rownums = [], []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        tokens = [t.strip() for t in line.split(",")]
        if len(tokens) != 3:
            raise TableError(f"{_where(path, lineno)}: expected 3 comma-separated values, "
                             f"got {len(tokens)}")
        rows.append(_floats(tokens, path, lineno))
        rownums.append(lineno)
    if len(rows) < 2:
        raise TableError(f"{path}: fewer than 2 data rows")
    data = np.array(rows)
    _check_increasing(data[:, 0], rownums, path)
    return Table(data[:, 0], data[:, 1], data[:, 2])


# ----------------------------------------------------------------------------------------
# Published reference potentials (Bag, Meinel, Müller-Plathe 2022)

_REF_COLUMN = re.compile(r"U_(\w+?)_kcal_per_mol")


def read_reference_potentials(path) -> dict:
    """Read a published potential TSV (header `r_angstrom U_T1_kcal_per_mol ...`, tab
    separated) into {name: Table}, e.g. "T1".."T9" or "P1".."P9". F = -dU/dr from a cubic
    spline of U (`Table.from_potential`); the files give U only."""
    lines = _read_lines(path)
    if not lines:
        raise TableError(f"{_where(path, 1)}: empty file, expected a header line")
    header = lines[0].rstrip("\r\n").split("\t")
    if header[0].strip() != "r_angstrom" or len(header) < 2:
        raise TableError(f"{_where(path, 1)}: header must start with 'r_angstrom' followed by "
                         f"U_<name>_kcal_per_mol columns, got {lines[0][:80]!r}")
    names = []
    for col in header[1:]:
        m = _REF_COLUMN.fullmatch(col.strip())
        if not m:
            raise TableError(f"{_where(path, 1)}: column {col!r} is not U_<name>_kcal_per_mol")
        names.append(m.group(1))
    if len(set(names)) != len(names):
        raise TableError(f"{_where(path, 1)}: duplicate potential names in header")
    rows, rownums = [], []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        tokens = line.rstrip("\r\n").split("\t")
        if len(tokens) != len(header):
            raise TableError(f"{_where(path, lineno)}: expected {len(header)} tab-separated "
                             f"values, got {len(tokens)}")
        rows.append(_floats([t.strip() for t in tokens], path, lineno))
        rownums.append(lineno)
    if len(rows) < 2:
        raise TableError(f"{path}: fewer than 2 data lines")
    data = np.array(rows)
    _check_increasing(data[:, 0], rownums, path)
    return {name: Table.from_potential(data[:, 0], data[:, k])
            for k, name in enumerate(names, 1)}


# ----------------------------------------------------------------------------------------


def export_all(table: Table, directory, stem: str) -> dict:
    """Write stem.table (LAMMPS, keyword = stem if it is a valid keyword, else "CG"),
    stem.xvg and stem.csv into directory; return {"lammps": path, "xvg": path, "csv": path}."""
    directory = Path(directory)
    keyword = stem if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", stem) else "CG"
    # the three written at once: their fsyncs share the file system's journal commits (a third of the
    # time one after the other took on a busy disk)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=3) as pool:
        written = {"lammps": pool.submit(write_lammps, directory / f"{stem}.table", table, keyword=keyword),
                   "xvg": pool.submit(write_xvg, directory / f"{stem}.xvg", table),
                   "csv": pool.submit(write_csv, directory / f"{stem}.csv", table)}
    return {kind: future.result() for kind, future in written.items()}
