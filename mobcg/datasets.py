"""Published reference data (Bag, Meinel, Müller-Plathe, JCTC 2022) and mobility pairing.

The reference files are tab-separated with one header line (see ``reference_dir()/README.md``).
Every loader checks the header, the number of fields on every line and that every number parses
and is finite; anything else raises :class:`DatasetError` naming the file, the line and the column.

Units as published: D in 1e-9 m^2/s, alpha = D_CG/D_AA, r in Å, potentials in kcal/mol.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mobcg.forcefield import PARAMETER_NAMES

SYSTEMS_FILE = "bag2022_234tmp_systems.tsv"
IBI_TEST_SYSTEMS_FILE = "bag2022_ibi_test_systems.tsv"
IBI_TEST_POTENTIALS_FILE = "bag2022_ibi_test_potentials.tsv"
PAIRS_FILE = "bag2022_mobility_pairs_test.tsv"
PAIRS_POTENTIALS_FILE = "bag2022_mobility_pairs_potentials.tsv"
PAIRS_RDFS_FILE = "bag2022_mobility_pairs_rdfs.tsv"


class DatasetError(ValueError):
    """A reference file is missing, unreadable or malformed."""


def reference_dir() -> Path:
    """Directory of the published reference data.

    ``$MOBCG_REFERENCE`` if set, else the copy shipped inside the package (``mobcg/reference/``,
    with its README giving the citation, source and units), so a clone needs nothing beside it.
    """
    env = os.environ.get("MOBCG_REFERENCE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "reference"


# ----------------------------------------------------------------------------------------------
# low-level TSV reader


@dataclass
class _Table:
    path: Path
    header: list[str]
    ids: list[str]          # first column, verbatim
    values: np.ndarray      # float, (n_rows, n_columns - 1) unless first column is numeric too

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.header.index(name) - 1]


def _read_tsv(path, required: list[str] | None = None, id_column: bool = True) -> _Table:
    """Read a header + numbers TSV. If ``id_column``, the first column is kept as strings."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read file ({exc})") from None
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise DatasetError(f"{path}: file is empty (expected a tab-separated header line)")
    header_no, header_line = lines[0]
    header = [h.strip() for h in header_line.split("\t")]
    if len(header) < 2 or any(not h for h in header):
        raise DatasetError(f"{path}: line {header_no}: malformed header {header_line!r} "
                           "(expected tab-separated column names)")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DatasetError(f"{path}: line {header_no}: duplicate column(s) {', '.join(dup)}")
    missing = [c for c in (required or []) if c not in header]
    if missing:
        raise DatasetError(f"{path}: line {header_no}: missing column(s) {', '.join(missing)}")
    if len(lines) < 2:
        raise DatasetError(f"{path}: no data lines after the header")
    first = 1 if id_column else 0
    ids, rows = [], []
    for n, line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DatasetError(f"{path}: line {n}: {len(fields)} fields, header has {len(header)}")
        row = []
        for col, value in zip(header[first:], fields[first:]):
            try:
                x = float(value)
            except ValueError:
                raise DatasetError(f"{path}: line {n}, column {col!r}: cannot parse "
                                   f"{value!r} as a number") from None
            if not math.isfinite(x):
                raise DatasetError(f"{path}: line {n}, column {col!r}: non-finite value {value!r}")
            row.append(x)
        ids.append(fields[0].strip() if id_column else str(len(ids)))
        rows.append(row)
    if id_column and len(set(ids)) != len(ids):
        raise DatasetError(f"{path}: column {header[0]!r}: duplicate ids")
    values = np.asarray(rows, dtype=float)
    if not id_column:
        header = ["_row"] + header
    return _Table(path, header, ids, values)


def _check_positive(table: _Table, names: list[str]) -> None:
    for name in names:
        col = table.column(name)
        bad = np.flatnonzero(col <= 0)
        if bad.size:
            raise DatasetError(f"{table.path}: line of id {table.ids[bad[0]]!r}, column {name!r}: "
                               f"{float(col[bad[0]])!r} is not > 0")


# ----------------------------------------------------------------------------------------------
# reference systems


@dataclass
class ReferenceSystems:
    """Parameter sets with their diffusion coefficients. X columns: ``parameter_names``."""
    ids: list[str]
    X: np.ndarray           # (n, 19)
    D_AA: np.ndarray        # (n,)
    D_CG: np.ndarray        # (n,)
    alpha: np.ndarray       # (n,)
    parameter_names: list[str] = field(default_factory=lambda: list(PARAMETER_NAMES))
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def X_with_daa(self) -> np.ndarray:
        """19 parameters + D_AA as the last column (input of the D_CG and alpha models)."""
        return np.column_stack([self.X, self.D_AA])


def load_reference_systems(path=None) -> ReferenceSystems:
    """Load ``bag2022_234tmp_systems.tsv`` (default) or any file of the same layout
    (e.g. ``bag2022_ibi_test_systems.tsv``): id, D_AA, D_CG, alpha, 19 parameters."""
    path = Path(path) if path is not None else reference_dir() / SYSTEMS_FILE
    t = _read_tsv(path, required=["D_AA", "D_CG", "alpha", *PARAMETER_NAMES])
    _check_positive(t, ["D_AA", "D_CG", "alpha"])
    X = np.column_stack([t.column(p) for p in PARAMETER_NAMES])
    return ReferenceSystems(ids=t.ids, X=X, D_AA=t.column("D_AA"), D_CG=t.column("D_CG"),
                            alpha=t.column("alpha"), path=path)


# ----------------------------------------------------------------------------------------------
# mobility pairs


@dataclass
class ReferencePairs:
    """Published mobility-preserving pairs: all-atom system i (parameters X_i, D_AA_i) matched
    with the CG model of system j (D_CG_j); alpha_ij = D_CG_j / D_AA_i; rdf_r2 as published."""
    ids: list[str]
    X_i: np.ndarray         # (n, 19)
    D_AA_i: np.ndarray
    D_CG_j: np.ndarray
    alpha_ij: np.ndarray
    rdf_r2: np.ndarray
    parameter_names: list[str] = field(default_factory=lambda: list(PARAMETER_NAMES))
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.ids)


def load_reference_pairs(path=None) -> ReferencePairs:
    """Load ``bag2022_mobility_pairs_test.tsv`` (default)."""
    path = Path(path) if path is not None else reference_dir() / PAIRS_FILE
    pcols = [f"{p}_i" for p in PARAMETER_NAMES]
    t = _read_tsv(path, required=["D_AA_i", "D_CG_j", "alpha_ij", *pcols, "rdf_r2_ij"])
    _check_positive(t, ["D_AA_i", "D_CG_j", "alpha_ij"])
    return ReferencePairs(ids=t.ids, X_i=np.column_stack([t.column(c) for c in pcols]),
                          D_AA_i=t.column("D_AA_i"), D_CG_j=t.column("D_CG_j"),
                          alpha_ij=t.column("alpha_ij"), rdf_r2=t.column("rdf_r2_ij"), path=path)


# ----------------------------------------------------------------------------------------------
# curves on a grid: RDFs and potentials


@dataclass
class ReferenceRDFs:
    """All-atom COM RDF of system i and CG RDF of system j per pair, on grid ``r`` (Å)."""
    ids: list[str]
    r: np.ndarray           # (m,)
    g_aa: np.ndarray        # (n_pairs, m)
    g_cg: np.ndarray        # (n_pairs, m)
    path: Path | None = None


@dataclass
class ReferencePotentials:
    """Tabulated CG pair potentials U (kcal/mol), one row per system, on grid ``r`` (Å)."""
    ids: list[str]
    r: np.ndarray           # (m,)
    U: np.ndarray           # (n, m)
    path: Path | None = None


def _curve_table(path: Path):
    t = _read_tsv(path, id_column=False)
    if t.header[1] != "r_angstrom":
        raise DatasetError(f"{path}: line 1, column 1: expected 'r_angstrom', got {t.header[1]!r}")
    r = t.values[:, 0]
    if np.any(np.diff(r) <= 0):
        k = int(np.flatnonzero(np.diff(r) <= 0)[0])
        raise DatasetError(f"{path}: line {k + 3}, column 'r_angstrom': grid is not increasing")
    return t, r


def load_reference_rdfs(path=None) -> ReferenceRDFs:
    """Load ``bag2022_mobility_pairs_rdfs.tsv`` (default): columns r_angstrom, g_AA_<id>...,
    g_CG_<id>... with the same ids in the same order."""
    path = Path(path) if path is not None else reference_dir() / PAIRS_RDFS_FILE
    t, r = _curve_table(path)
    cols = t.header[2:]
    aa = [c for c in cols if c.startswith("g_AA_")]
    cg = [c for c in cols if c.startswith("g_CG_")]
    ids = [c[len("g_AA_"):] for c in aa]
    if not aa or len(aa) + len(cg) != len(cols) or ids != [c[len("g_CG_"):] for c in cg]:
        raise DatasetError(f"{path}: line 1: expected columns g_AA_<id>... then g_CG_<id>... "
                           "with matching ids")
    return ReferenceRDFs(ids=ids, r=r, g_aa=np.stack([t.column(c) for c in aa]),
                         g_cg=np.stack([t.column(c) for c in cg]), path=path)


def load_reference_potentials(path=None) -> ReferencePotentials:
    """Load ``bag2022_ibi_test_potentials.tsv`` (default) or
    ``bag2022_mobility_pairs_potentials.tsv``: columns r_angstrom, U_<id>_kcal_per_mol..."""
    path = Path(path) if path is not None else reference_dir() / IBI_TEST_POTENTIALS_FILE
    t, r = _curve_table(path)
    cols = t.header[2:]
    bad = [c for c in cols if not (c.startswith("U_") and c.endswith("_kcal_per_mol"))]
    if bad:
        raise DatasetError(f"{path}: line 1, column {bad[0]!r}: expected U_<id>_kcal_per_mol")
    ids = [c[2:-len("_kcal_per_mol")] for c in cols]
    return ReferencePotentials(ids=ids, r=r, U=np.stack([t.column(c) for c in cols]), path=path)


# ----------------------------------------------------------------------------------------------
# pairing


def rdf_r2(g1, g2) -> float:
    """Coefficient of determination of ``g2`` as a prediction of ``g1`` (same grid):
    1 - sum (g1 - g2)^2 / sum (g1 - mean g1)^2. Not symmetric. A constant ``g1`` gives 1.0
    if ``g2`` equals it exactly, else -inf."""
    g1 = np.asarray(g1, dtype=float)
    g2 = np.asarray(g2, dtype=float)
    if g1.shape != g2.shape or g1.ndim != 1:
        raise ValueError(f"rdf_r2 needs two 1-D arrays of equal length, got {g1.shape}, {g2.shape}")
    return float(_r2_matrix(g1[None, :], g2[None, :])[0, 0])


def _r2_matrix(G1: np.ndarray, G2: np.ndarray) -> np.ndarray:
    """R[i, j] = rdf_r2(G1[i], G2[j])."""
    ss_res = ((G1[:, None, :] - G2[None, :, :]) ** 2).sum(axis=-1)
    ss_tot = ((G1 - G1.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    const = np.broadcast_to(ss_tot == 0, r2.shape)
    return np.where(const, np.where(ss_res == 0, 1.0, -np.inf), r2)


def pairing(D_AA, D_CG, rdf_aa, rdf_cg, tol: float = 0.2, r2_min: float = 0.8) -> list[tuple[int, int]]:
    """Mobility-preserving pairs (i, j), i != j, between all-atom system i and CG model of j.

    A pair qualifies when the CG model of j reproduces the all-atom mobility of i,
    ``|D_CG[j] / D_AA[i] - 1| <= tol``, and its structure,
    ``rdf_r2(rdf_aa[i], rdf_cg[j]) >= r2_min`` (rdf_cg[j] as a prediction of rdf_aa[i]).
    Returns every qualifying pair, sorted by (i, j).

    Defaults, checked against the 9 published pairs (``bag2022_mobility_pairs_test.tsv``):
    their alpha_ij = D_CG(j)/D_AA(i) lie in 0.92-1.18, i.e. |alpha_ij - 1| <= 0.18, and their
    RDF r² in 0.81-0.87. ``tol = 0.2`` and ``r2_min = 0.8`` are the round bounds just outside
    those ranges: every published pair passes, nothing looser than what was published is let
    in. (The published r² is the authors' own number; recomputing it from
    ``bag2022_mobility_pairs_rdfs.tsv`` with :func:`rdf_r2` does not reproduce it, so r2_min is
    matched to their value, not to a recomputation.)
    """
    D_AA = np.asarray(D_AA, dtype=float)
    D_CG = np.asarray(D_CG, dtype=float)
    G_aa = np.asarray(rdf_aa, dtype=float)
    G_cg = np.asarray(rdf_cg, dtype=float)
    n = D_AA.shape[0]
    if D_AA.ndim != 1 or D_CG.shape != (n,) or G_aa.ndim != 2 or G_aa.shape[0] != n \
            or G_cg.shape != G_aa.shape:
        raise ValueError("pairing needs D_AA, D_CG of shape (n,) and rdf_aa, rdf_cg of shape (n, m); "
                         f"got {D_AA.shape}, {D_CG.shape}, {G_aa.shape}, {G_cg.shape}")
    if np.any(D_AA <= 0):
        raise ValueError("D_AA must be > 0")
    mobility = np.abs(D_CG[None, :] / D_AA[:, None] - 1.0) <= tol
    ok = mobility & ~np.eye(n, dtype=bool)
    if ok.any():
        ok &= _r2_matrix(G_aa, G_cg) >= r2_min
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(ok))]
