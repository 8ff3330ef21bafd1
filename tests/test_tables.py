"""Tests of mobcg.tables: file round trips, force/energy consistency, reference data,
simulation-ready tables, error messages, and a LAMMPS cross-check of the table format."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobcg.tables import (
    PAPER_GRID,
    Table,
    TableError,
    export_all,
    read_csv,
    read_lammps,
    read_reference_potentials,
    read_xvg,
    resample,
    simulation_ready,
    write_csv,
    write_lammps,
    write_xvg,
)

from mobcg.datasets import reference_dir  # noqa: E402

REF = reference_dir()
IBI_TSV = REF / "bag2022_ibi_test_potentials.tsv"
PAIRS_TSV = REF / "bag2022_mobility_pairs_potentials.tsv"
LMP = Path(sys.executable).parent / "lmp"



def lj_table(r=None):
    """A smooth LJ-like test potential (kcal/mol, Å)."""
    r = np.linspace(3.0, 12.0, 901) if r is None else r
    eps, sig = 0.5, 4.0
    U = 4 * eps * ((sig / r) ** 12 - (sig / r) ** 6)
    return Table.from_potential(r, U)


@pytest.fixture(scope="module")
def t1():
    return read_reference_potentials(IBI_TSV)["T1"]


# --- round trips ------------------------------------------------------------------------


def test_lammps_round_trip(tmp_path):
    t = lj_table()
    p = write_lammps(tmp_path / "lj.table", t, keyword="LJ")
    text = p.read_text().splitlines()
    assert text[1] == "" and text[2] == "LJ" and text[3].startswith("N 901 R 3 12")
    assert text[4] == "" and text[5].split()[0] == "1"
    back = read_lammps(p, "LJ")
    np.testing.assert_allclose(back.r, t.r, rtol=1e-13)
    np.testing.assert_allclose(back.U, t.U, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(back.F, t.F, rtol=1e-13, atol=1e-13)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind


def test_lammps_non_uniform_grid_and_cutoff(tmp_path):
    r = np.concatenate([np.linspace(3.0, 4.0, 11), np.linspace(4.2, 12.0, 40)])
    t = lj_table(r)
    p = write_lammps(tmp_path / "nu.table", t, r_cut=10.0)
    assert (p.read_text().splitlines()[3]).split() == ["N", str(int((r <= 10.0).sum()))]
    back = read_lammps(p)
    assert back.r[-1] <= 10.0
    np.testing.assert_allclose(back.U, t.U[r <= 10.0], rtol=1e-13, atol=1e-13)


def test_read_votca_style_and_multiple_sections(tmp_path):
    t = lj_table(np.linspace(3.0, 12.0, 10))
    rows = "\n".join(f"{i} {a} {b} {c}" for i, (a, b, c) in enumerate(zip(t.r, t.U, t.F), 1))
    p = tmp_path / "votca.table"
    p.write_text("# VOTCA table\n\nFIRST\nN 10\n\n" + rows + "\n\n"
                 "VOTCA\nN 10 R 3.0 12.0\n\n" + rows + "\n")
    for kw in (None, "FIRST", "VOTCA"):
        back = read_lammps(p, kw)
        np.testing.assert_allclose(back.U, t.U, rtol=1e-12)
        np.testing.assert_allclose(back.r, t.r, rtol=1e-12)


def test_xvg_round_trip_and_units(tmp_path):
    t = lj_table()
    for cols in (3, 7):
        p = write_xvg(tmp_path / f"lj{cols}.xvg", t, columns=cols)
        data = np.loadtxt(p, comments=("#", "@"))
        assert data.shape == (len(t), cols)
        # GROMACS units: nm, kJ/mol, kJ/mol/nm
        np.testing.assert_allclose(data[:, 0], t.r / 10.0, rtol=1e-13)
        np.testing.assert_allclose(data[:, -2], t.U * 4.184, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(data[:, -1], t.F * 41.84, rtol=1e-13, atol=1e-12)
        back = read_xvg(p)
        np.testing.assert_allclose(back.r, t.r, rtol=1e-13)
        np.testing.assert_allclose(back.U, t.U, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(back.F, t.F, rtol=1e-12, atol=1e-12)


def test_csv_round_trip(tmp_path):
    t = lj_table()
    p = write_csv(tmp_path / "lj.csv", t)
    assert p.read_text().splitlines()[0] == "r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom"
    back = read_csv(p)
    for a, b in ((back.r, t.r), (back.U, t.U), (back.F, t.F)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def test_export_all(tmp_path):
    t = lj_table()
    paths = export_all(t, tmp_path / "out", "lj")
    assert {p.name for p in paths.values()} == {"lj.table", "lj.xvg", "lj.csv"}
    np.testing.assert_allclose(read_lammps(paths["lammps"], "lj").U, t.U, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(read_xvg(paths["xvg"]).U, t.U, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(read_csv(paths["csv"]).U, t.U, rtol=1e-13, atol=1e-13)


# --- physics of the table ---------------------------------------------------------------


def test_forces_consistent_with_energies():
    t = lj_table()
    x = np.linspace(3.2, 11.8, 200)
    h = 1e-5
    U, F = t.evaluate(x)
    dU = (t.evaluate(x + h)[0] - t.evaluate(x - h)[0]) / (2 * h)
    np.testing.assert_allclose(F, -dU, rtol=1e-4, atol=1e-5)
    # and against the analytic LJ force
    eps, sig = 0.5, 4.0
    F_exact = 24 * eps / x * (2 * (sig / x) ** 12 - (sig / x) ** 6)
    np.testing.assert_allclose(F, F_exact, rtol=1e-4, atol=1e-5)


def test_evaluate_and_resample():
    t = lj_table()
    U, F = t.evaluate(t.r)
    np.testing.assert_allclose(U, t.U, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F, t.F, rtol=1e-12, atol=1e-12)
    u, f = t.evaluate(5.0)
    assert isinstance(u, float) and isinstance(f, float)
    fine = resample(t, np.linspace(3.0, 12.0, 1801))
    np.testing.assert_allclose(fine.U[::2], t.U, rtol=1e-10, atol=1e-10)
    with pytest.raises(TableError):
        t.evaluate(2.0)


def test_table_is_immutable_and_validated():
    t = lj_table()
    with pytest.raises(ValueError):
        t.U[0] = 1.0
    with pytest.raises(TableError, match="strictly increasing"):
        Table([1.0, 1.0, 2.0], [0, 0, 0], [0, 0, 0])
    with pytest.raises(TableError, match="non-finite"):
        Table([1.0, 2.0], [0, np.nan], [0, 0])


# --- reference data ---------------------------------------------------------------------


def test_reference_potentials():
    pots = read_reference_potentials(IBI_TSV)
    assert list(pots) == [f"T{i}" for i in range(1, 10)]
    for t in pots.values():
        assert len(t) == 1550
        assert t.r[0] == pytest.approx(0.0001)
        assert t.r[-1] == pytest.approx(15.4901)
        np.testing.assert_allclose(t.r, PAPER_GRID, atol=1e-9)
        assert np.all(np.isfinite(t.F))
    assert pots["T1"].U[0] == pytest.approx(36349.9333)
    pairs = read_reference_potentials(PAIRS_TSV)
    assert list(pairs) == [f"P{i}" for i in range(1, 10)]
    assert all(len(t) == 1550 for t in pairs.values())


def test_reference_malformed(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_text("r_angstrom\tU_T1_kcal_per_mol\n0.0001\t1.0\n0.0101\tabc\n")
    with pytest.raises(TableError, match=r"bad\.tsv:3"):
        read_reference_potentials(p)
    p.write_text("r\tU_T1_kcal_per_mol\n0.0001\t1.0\n")
    with pytest.raises(TableError, match=r"bad\.tsv:1.*r_angstrom"):
        read_reference_potentials(p)
    p.write_text("r_angstrom\tU_T1_kcal_per_mol\n0.0001\t1.0\n0.0101\n")
    with pytest.raises(TableError, match=r"bad\.tsv:3.*expected 2"):
        read_reference_potentials(p)
    with pytest.raises(TableError, match="missing.tsv"):
        read_reference_potentials(tmp_path / "missing.tsv")


# --- simulation-ready tables ------------------------------------------------------------


def _check_ready(t, r0, r_cut):
    assert np.all(np.isfinite(t.U)) and np.all(np.isfinite(t.F))
    short = t.r < r0
    assert short.sum() > 10
    assert np.all(np.diff(t.U[short]) < 0), "not monotonically repulsive at short range"
    assert np.all(t.F[short] > 0)
    assert np.all(t.U[t.r >= r_cut] == 0) and np.all(t.F[t.r >= r_cut] == 0)
    assert t.evaluate(r_cut)[0] == pytest.approx(0.0, abs=1e-12)


def test_simulation_ready_with_nan_core(t1):
    U = t1.U.copy()
    U[t1.r < 4.0] = np.nan  # as -kT ln g with g = 0
    U[t1.r < 2.0] = np.inf
    t = simulation_ready(t1.r, U)
    _check_ready(t, 4.0, PAPER_GRID[-1])
    # the trusted region is kept (the shift is ~0 here since T1 ends at 0)
    keep = (t1.r >= 4.0) & (t1.r < 15.0)
    np.testing.assert_allclose(t.U[keep], t1.U[keep], atol=1e-9)
    # force continuous across the join at 4 Å
    i = int(np.searchsorted(t.r, 4.0))
    assert abs(t.F[i] - t.F[i - 1]) < 0.05 * abs(t.F[i]) + 0.5
    # F consistent with U (skip 5.3-5.8 Å, where the published T1 is noisy on the grid
    # scale, so the U and F splines differ by up to ~0.1 kcal/mol/Å between grid points)
    x = np.linspace(0.5, 15.0, 600)
    x = x[(x < 5.3) | (x > 5.8)]
    dU = (t.evaluate(x + 1e-5)[0] - t.evaluate(x - 1e-5)[0]) / 2e-5
    np.testing.assert_allclose(t.evaluate(x)[1], -dU, rtol=2e-3, atol=2e-2)


def test_simulation_ready_noisy_prediction_with_cutoff_and_core():
    rng = np.random.default_rng(1)
    r = np.linspace(2.0, 16.0, 701)
    U = lj_table(r).U + rng.normal(0, 0.02, r.size)  # noisy predicted potential
    U[r < 3.2] = np.nan
    U[350] = np.nan  # an isolated hole inside the trusted range
    t = simulation_ready(r, U, grid=PAPER_GRID, r_cut=12.0001, r_core=3.5)
    _check_ready(t, 3.5, 12.0001)
    assert t.U[0] > 100.0  # a real wall
    # a grid starting at r = 0 (as GROMACS wants) stays finite
    t0 = simulation_ready(r, U, grid=np.linspace(0.0, 15.0, 1501), r_cut=12.0)
    _check_ready(t0, 3.2, 12.0)


def test_simulation_ready_attractive_at_core_still_repulsive():
    r = np.linspace(3.0, 12.0, 91)
    U = -np.exp(-((r - 6.0) ** 2))  # slope > 0 at 3 Å: not repulsive at all
    t = simulation_ready(r, U, grid=PAPER_GRID, r_cut=12.0001)
    _check_ready(t, 3.0, 12.0001)


def test_simulation_ready_rejects_all_nan():
    with pytest.raises(TableError, match="no finite"):
        simulation_ready(PAPER_GRID, np.full(PAPER_GRID.shape, np.nan))


# --- malformed files --------------------------------------------------------------------


def _table_text(n_header=5, n_rows=5, spec=None, keyword="CG"):
    spec = spec or f"N {n_header} R 3.0 {3.0 + n_rows - 1}"
    rows = "\n".join(f"{i} {2.0 + i} {1.0 / i} {0.5 / i}" for i in range(1, n_rows + 1))
    return f"# test\n\n{keyword}\n{spec}\n\n{rows}\n"


@pytest.mark.parametrize(
    "text, pattern",
    [
        (_table_text(n_header=7), r"expects N = 7 data lines, found 5 \(truncated"),
        (_table_text(n_header=4, spec="N 4"), r"bad\.table:10: expected a section keyword"),
        (_table_text(spec="N 5 R 3.0 9.0"), r"bad\.table:7: r = 4\.0 disagrees with R"),
        (_table_text(spec="N 5").replace("3 5.0", "3 4.0"), r"bad\.table:8: r is not strictly"),
        (_table_text().replace("1 3.0 1.0", "1 3.0 nan"), r"bad\.table:6: NaN or inf"),
        (_table_text(spec="M 5"), r"bad\.table:4: expected the parameter line"),
        (_table_text().replace("4 6.0 0.25 0.125", "4 6.0 0.25"), r"bad\.table:9: expected 'i r e f'"),
        ("# only a comment\n", r"bad\.table: no table section"),
    ],
)
def test_lammps_malformed(tmp_path, text, pattern):
    p = tmp_path / "bad.table"
    p.write_text(text)
    with pytest.raises(TableError, match=pattern):
        read_lammps(p)


def test_lammps_missing_keyword(tmp_path):
    p = write_lammps(tmp_path / "ok.table", lj_table(), keyword="LJ")
    with pytest.raises(TableError, match=r"ok\.table: keyword 'XX' not found \(sections: LJ\)"):
        read_lammps(p, "XX")


def test_truncated_files_other_formats(tmp_path):
    t = lj_table()
    p = write_xvg(tmp_path / "t.xvg", t)
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines[:-1] + [lines[-1].rsplit(" ", 1)[0]]) + "\n")
    with pytest.raises(TableError, match=r"t\.xvg:\d+: expected 3 columns"):
        read_xvg(p)
    c = write_csv(tmp_path / "t.csv", t)
    lines = c.read_text().splitlines()
    c.write_text("\n".join(lines[:-1] + [lines[-1].rsplit(",", 1)[0]]) + "\n")
    with pytest.raises(TableError, match=r"t\.csv:\d+: expected 3 comma"):
        read_csv(c)
    c.write_text("r,U,F\n1,2,3\n")
    with pytest.raises(TableError, match=r"t\.csv:1: expected header"):
        read_csv(c)


# --- LAMMPS reads our table as we do ---------------------------------------------------

LAMMPS_INPUT = """\
units real
atom_style atomic
atom_modify map array
boundary p p p
region box block -50 50 -50 50 -50 50
create_box 1 box
create_atoms 1 single 0.0 0.0 0.0
create_atoms 1 single 5.0 0.0 0.0
mass 1 114.23
pair_style table spline {n}
pair_coeff 1 1 {file} {keyword} {cut}
neighbor 2.0 bin
thermo_style custom step pe
variable r index {rlist}
label loop
set atom 2 x ${{r}}
run 0 post no
print "RESULT ${{r}} $(pe:%.12g) $(fx[1]:%.12g) $(fx[2]:%.12g)"
next r
jump SELF loop
"""


@pytest.mark.skipif(not LMP.exists(), reason="lmp executable not found next to python")
@pytest.mark.parametrize("n, f_tol", [(5000, 1e-2), (1550, 0.1)])
def test_lammps_reads_table_like_evaluate(tmp_path, t1, n, f_tol):
    """Energy and force from a plain `lmp` run (pair_style table spline n) agree with
    Table.evaluate at r = 4.5..12 Å, for T1 made simulation-ready on the paper grid.

    Tolerances: |dU| <= 1e-3 kcal/mol; |dF| <= 1e-2 kcal/mol/Å with n = 5000 (observed
    ~1e-5 and ~6e-4). With the paper's n = 1550, LAMMPS' internal table (evenly spaced in
    r^2) is coarser than the 0.01 Å file grid below 7.7 Å, where T1 is noisy, so forces
    differ by up to ~0.05 kcal/mol/Å near 5.5 Å: tolerance 0.1 there.
    """
    table = simulation_ready(t1.r, t1.U, grid=PAPER_GRID)
    path = write_lammps(tmp_path / "t1.table", table, keyword="T1")
    rs = np.round(np.linspace(4.5, 12.0, 16), 4)
    rs = np.append(rs, [4.5037, 5.5437, 6.1234, 9.8765])  # off-grid points too
    (tmp_path / "in.table").write_text(LAMMPS_INPUT.format(
        n=n, file=path.name, keyword="T1", cut=f"{table.r[-1]:.15g}",
        rlist=" ".join(f"{x:.4f}" for x in rs)))
    proc = subprocess.run([str(LMP), "-in", "in.table", "-log", "log.lammps", "-screen", "none"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "log.lammps").read_text() if (tmp_path / "log.lammps").exists() else ""
    assert proc.returncode == 0, f"lmp failed:\n{proc.stdout}\n{proc.stderr}\n{log[-3000:]}"
    res = np.array([[float(v) for v in line.split()[1:]]
                    for line in log.splitlines() if line.startswith("RESULT")])
    assert len(res) == len(rs)
    r, pe, fx1, fx2 = res.T
    np.testing.assert_allclose(r, rs)
    U, F = table.evaluate(r)
    # atom 2 sits at +x from atom 1: a repulsive F > 0 pushes atom 2 to +x, atom 1 to -x
    np.testing.assert_allclose(pe, U, rtol=0, atol=1e-3)
    np.testing.assert_allclose(fx2, F, rtol=0, atol=f_tol)
    np.testing.assert_allclose(fx1, -F, rtol=0, atol=f_tol)
    assert np.ptp(U) > 1.0 and np.ptp(F) > 1.0  # the comparison is not trivially flat


def test_fast_row_formatting_writes_the_same_text_as_per_value_formatting(tmp_path):
    """The writers format whole rows at once (tables._rows); the text must be exactly that of one
    f"{x:.15g}" per value, signed zeros, subnormals and extremes included."""
    from mobcg import tables
    g = tables._g
    rng = np.random.default_rng(3)
    n = 400
    r = np.cumsum(rng.uniform(1e-4, 0.1, n))
    U = rng.normal(size=n) * 10.0 ** rng.integers(-300, 300, n)
    F = rng.normal(size=n) * 10.0 ** rng.integers(-20, 20, n)
    U[:6] = [0.0, -0.0, 5e-324, -1.7e307, 1 / 3, 123456789012345.67]
    F[:3] = [-0.0, 2.2250738585072014e-308, 1e16]
    t = Table(r, U, F)
    write_lammps(tmp_path / "t.table", t, keyword="CG")
    lines = (tmp_path / "t.table").read_text().splitlines()
    assert lines[5:] == [f"{i} {g(a)} {g(b)} {g(c)}" for i, (a, b, c) in enumerate(zip(r, U, F), 1)]
    write_csv(tmp_path / "t.csv", t)
    assert (tmp_path / "t.csv").read_text().splitlines()[1:] == [f"{g(a)},{g(b)},{g(c)}" for a, b, c in zip(r, U, F)]
    x, V, mdV = r / tables.NM_TO_ANGSTROM, U * tables.KCAL_TO_KJ, F * tables.KCAL_TO_KJ * tables.NM_TO_ANGSTROM
    for columns, row in ((3, "{} {} {}"), (7, "{} 0 0 0 0 {} {}")):
        write_xvg(tmp_path / "t.xvg", t, columns=columns)
        body = [l for l in (tmp_path / "t.xvg").read_text().splitlines() if l[0] not in "#@"]
        assert body == [row.format(g(a), g(b), g(c)) for a, b, c in zip(x, V, mdV)]


def test_export_all_writes_its_three_files_durably_and_reports_a_failed_one(tmp_path, monkeypatch):
    """export_all writes the three at once (their fsyncs overlap); each is still fsynced before it is
    renamed into place, and a writer's error is export_all's."""
    import os

    from mobcg import tables
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    r = np.linspace(2.0, 12.0, 50)
    t = Table.from_potential(r, (r - 12.0) ** 2)
    paths = export_all(t, tmp_path, "lj")
    assert sorted(Path(p).name.split(".")[1] + "." + Path(p).name.split(".")[2] for p in synced) == \
        ["lj.csv", "lj.table", "lj.xvg"]
    assert np.allclose(read_lammps(paths["lammps"]).U, t.U, rtol=1e-13) and not list(tmp_path.glob(".*.tmp"))

    def broken(path, table, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(tables, "write_xvg", broken)
    with pytest.raises(OSError, match="No space left"):
        export_all(t, tmp_path / "again", "lj")
