"""tables: exact file texts, exact messages (file and line), boundary cases and the analytic wall of
simulation_ready (issue 14: these tests kill mutmut's mutants of mobcg/tables.py)."""

import re

import numpy as np
import pytest

from mobcg import tables
from mobcg.tables import Table, TableError


def exact(message):
    return "^" + re.escape(message) + "$"


def small():
    return Table([1.0, 1.5, 2.0], [3.0, -0.25, 0.0], [10.0, 1.5, -0.125])


# ---------------------------------------------------------------------------------------- the table

def test_table_arrays_are_private_float_copies():
    r = [1, 2, 3]
    t = Table(r, [4, 5, 6], [0, 0, 1])
    assert t.r.dtype == t.U.dtype == t.F.dtype == np.float64
    assert t.r.tolist() == [1.0, 2.0, 3.0] and t.U.tolist() == [4.0, 5.0, 6.0] and t.F.tolist() == [0.0, 0.0, 1.0]
    assert len(t) == 3 and len(Table([1.0, 2.0], [0, 0], [0, 0])) == 2


@pytest.mark.parametrize("args, message", [
    (([[1.0, 2.0]], [1.0], [1.0]), "Table.r must be one-dimensional, got shape (1, 2)"),
    (([1.0, 2.0], [1.0], [1.0, 2.0]), "Table arrays differ in length: r 2, U 1, F 2"),
    (([1.0], [1.0], [1.0]), "Table needs at least 2 points, got 1"),
    (([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, np.nan, 0.0]), "Table.F has a non-finite value at index 1"),
    (([1.0, 2.0, np.inf], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]), "Table.r has a non-finite value at index 2"),
    (([1.0, 2.0, 3.0], [np.nan, 2.0, 3.0], [0.0, 0.0, 0.0]), "Table.U has a non-finite value at index 0"),
    (([1.0, 2.0, 2.0, 3.0], [0.0] * 4, [0.0] * 4), "Table.r is not strictly increasing at index 2 (r = 2.0 then 2.0)"),
    (([1.0, 3.0, 2.5, 4.0], [0.0] * 4, [0.0] * 4), "Table.r is not strictly increasing at index 2 (r = 3.0 then 2.5)"),
])
def test_table_refuses_bad_arrays_naming_the_index(args, message):
    with pytest.raises(TableError, match=exact(message)):
        Table(*args)


def test_from_potential_forces_of_a_cubic_are_exact():
    r = np.linspace(1.0, 3.0, 9)
    U = r ** 3 - 2 * r
    t = Table.from_potential(list(r), list(U))
    assert t.F == pytest.approx(-(3 * r ** 2 - 2), rel=1e-12, abs=1e-12)  # not-a-knot spline of a cubic
    t = Table.from_potential([1, 2], [0, 1])  # two points: a straight line
    assert t.F.tolist() == pytest.approx([-1.0, -1.0])


@pytest.mark.parametrize("r, U, message", [
    ([1.0, 2.0], [1.0, 2.0, 3.0], "from_potential: r and U must be 1-D of equal length >= 2, got shapes (2,) and (3,)"),
    ([1.0], [1.0], "from_potential: r and U must be 1-D of equal length >= 2, got shapes (1,) and (1,)"),
    ([[1.0, 2.0]], [[1.0, 2.0]], "from_potential: r and U must be 1-D of equal length >= 2, got shapes (1, 2) and (1, 2)"),
    ([1.0, 2.0], [1.0, np.nan], "from_potential: r and U must be finite (use simulation_ready for potentials with NaN/inf)"),
    ([1.0, np.inf], [1.0, 2.0], "from_potential: r and U must be finite (use simulation_ready for potentials with NaN/inf)"),
    ([1.0, 1.0, 2.0], [1.0, 2.0, 3.0], "from_potential: r must be strictly increasing"),
])
def test_from_potential_refuses(r, U, message):
    with pytest.raises(TableError, match=exact(message)):
        Table.from_potential(r, U)


def test_evaluate_is_exact_for_a_quadratic_and_guards_its_range():
    r = np.linspace(2.0, 12.0, 11)
    t = Table(r, (r - 5) ** 2, -2 * (r - 5))
    x = np.array([2.0, 3.3, 7.75, 12.0])
    U, F = t.evaluate(x)
    assert U == pytest.approx((x - 5) ** 2, abs=1e-12) and F == pytest.approx(-2 * (x - 5), abs=1e-12)
    assert t.evaluate(7) == (pytest.approx(4.0), pytest.approx(-4.0)) and isinstance(t.evaluate(7)[0], float)
    # the ends, to 1e-9 relative of the largest r (12 Å here), count as inside
    assert t.evaluate(12.0 + 1e-8)[0] == pytest.approx(49.0) and t.evaluate(2.0 - 1e-8)[0] == pytest.approx(9.0)
    message = "evaluate: r outside the table range [2, 12] Å (or not finite)"
    for bad in (12.0 + 2e-8, 2.0 - 2e-8, np.nan, [3.0, np.inf]):
        with pytest.raises(TableError, match=exact(message)):
            t.evaluate(bad)
    short = Table([0.1, 0.2, 0.3], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])  # tolerance floor: 1e-9 Å
    assert short.evaluate(0.3 + 5e-10)[0] == 0.0
    with pytest.raises(TableError):
        short.evaluate(0.3 + 1.5e-9)
    assert t.evaluate(12.0 + 1.15e-8)[0] == pytest.approx(49.0)  # 1e-9 of the last r, 12 Å


def test_resample_onto_a_finer_grid():
    r = np.linspace(2.0, 12.0, 11)
    t = Table(r, (r - 5) ** 2, -2 * (r - 5))
    new = tables.resample(t, [2, 4.5, 7, 12])
    assert new.r.tolist() == [2.0, 4.5, 7.0, 12.0]
    assert new.U == pytest.approx([9.0, 0.25, 4.0, 49.0]) and new.F == pytest.approx([6.0, 1.0, -4.0, -14.0])
    assert len(tables.resample(t, [3.0, 4.0])) == 2
    for bad in ([3.0], [[3.0, 4.0]], [4.0, 3.0], [3.0, 3.0]):
        with pytest.raises(TableError, match=exact("resample: r_new must be 1-D, strictly increasing, >= 2 points")):
            tables.resample(t, bad)


# ---------------------------------------------------------------------------------------- writing

def test_write_lammps_exact_text_uniform_and_not(tmp_path):
    path = tables.write_lammps(tmp_path / "a.table", small(), keyword="PAIR_1")
    assert path.read_text() == (
        "# mobcg CG pair table: r [A], U [kcal/mol], F=-dU/dr [kcal/mol/A]; pair_coeff cutoff <= 2\n"
        "\nPAIR_1\nN 3 R 1 2\n\n1 1 3 10\n2 1.5 -0.25 1.5\n3 2 0 -0.125\n")
    odd = Table([1.0, 1.5, 2.5], [3.0, -0.25, 0.0], [10.0, 1.5, -0.125])
    text = tables.write_lammps(tmp_path / "b.table", odd, r_cut=2.5).read_text()
    assert text.splitlines()[:4] == ["# mobcg CG pair table: r [A], U [kcal/mol], F=-dU/dr [kcal/mol/A]; "
                                     "pair_coeff cutoff <= 2.5", "", "CG", "N 3"]
    # r_cut keeps the points at and below it (two are enough)
    text = tables.write_lammps(tmp_path / "c.table", small(), r_cut=1.5).read_text()
    assert text.endswith("\nCG\nN 2 R 1 1.5\n\n1 1 3 10\n2 1.5 -0.25 1.5\n")


def test_write_lammps_uniformity_is_judged_to_1e_9_relative(tmp_path):
    r = 10.0 + 10.0 * np.arange(4)  # 10, 20, 30, 40 Å
    bumped = r + np.array([0, 3.5e-8, 0, 0])  # 0.875e-9 of r[-1] = 40: uniform
    text = tables.write_lammps(tmp_path / "u.table", Table(bumped, [0.0] * 4, [0.0] * 4)).read_text()
    assert "\nN 4 R 10 40\n" in text
    bumped = r + np.array([0, 5e-8, 0, 0])  # 1.25e-9 of 40: not uniform
    text = tables.write_lammps(tmp_path / "n.table", Table(bumped, [0.0] * 4, [0.0] * 4)).read_text()
    assert "\nN 4\n" in text
    fine = np.array([0.1, 0.2, 0.3, 0.4])  # short tables: the tolerance is 1e-9 Å
    text = tables.write_lammps(tmp_path / "f.table", Table(fine + [0, 5e-10, 0, 0], [0.0] * 4, [0.0] * 4)).read_text()
    assert "\nN 4 R 0.1 0.4\n" in text
    text = tables.write_lammps(tmp_path / "g.table", Table(fine + [0, 1.5e-9, 0, 0], [0.0] * 4, [0.0] * 4)).read_text()
    assert "\nN 4\n" in text


@pytest.mark.parametrize("kwargs, message", [
    (dict(keyword="1CG"), "{p}: invalid table keyword '1CG' (one word, starting with a letter)"),
    (dict(keyword="C G"), "{p}: invalid table keyword 'C G' (one word, starting with a letter)"),
    (dict(r_cut=1.2), "{p}: r_cut = 1.2 Å leaves fewer than 2 table points"),
])
def test_write_lammps_refuses(tmp_path, kwargs, message):
    p = tmp_path / "x.table"
    with pytest.raises(TableError, match=exact(message.format(p=p))):
        tables.write_lammps(p, small(), **kwargs)


def test_write_lammps_needs_positive_r(tmp_path):
    p = tmp_path / "z.table"
    with pytest.raises(TableError, match=exact(f"{p}: LAMMPS pair_style table needs r > 0 (first r = 0 Å)")):
        tables.write_lammps(p, Table([0.0, 1.0, 2.0], [0.0] * 3, [0.0] * 3))
    with pytest.raises(TableError, match=exact(f"{p}: LAMMPS pair_style table needs r > 0 (first r = -1 Å)")):
        tables.write_lammps(p, Table([-1.0, 1.0, 2.0], [0.0] * 3, [0.0] * 3))


def test_write_xvg_exact_text_in_gromacs_units(tmp_path):
    t = Table([1.0, 2.0], [1.0, 0.5], [2.0, 0.0])
    head = ("# mobcg CG pair table, GROMACS units: r [nm], V [kJ/mol], -dV/dr [kJ/mol/nm]\n"
            "# converted from LAMMPS real units: 1 kcal = 4.184 kJ, 1 nm = 10 A\n")
    axes = ('@    title "CG pair potential"\n@    xaxis  label "r (nm)"\n'
            '@    yaxis  label "V (kJ/mol), -dV/dr (kJ/mol/nm)"\n@TYPE xy\n')
    assert tables.write_xvg(tmp_path / "a.xvg", t).read_text() == (
        head + "# columns: x V -dV/dx\n" + axes + "0.1 4.184 83.68\n0.2 2.092 0\n")
    assert tables.write_xvg(tmp_path / "b.xvg", t, columns=7).read_text() == (
        head + "# columns: x f -df/dx g -dg/dx h -dh/dx (f=g=0, h=V)\n" + axes
        + "0.1 0 0 0 0 4.184 83.68\n0.2 0 0 0 0 2.092 0\n")
    with pytest.raises(TableError, match=exact(f"{tmp_path / 'c.xvg'}: columns must be 3 or 7, got 5")):
        tables.write_xvg(tmp_path / "c.xvg", t, columns=5)


def test_write_csv_exact_text(tmp_path):
    assert tables.write_csv(tmp_path / "a.csv", small()).read_text() == (
        "r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom\n1,3,10\n1.5,-0.25,1.5\n2,0,-0.125\n")


def test_export_all_keyword_is_the_stem_when_it_can_be(tmp_path):
    out = tables.export_all(small(), tmp_path, "T1.b-c")
    assert out["lammps"].read_text().splitlines()[2] == "T1.b-c"
    assert tables.read_lammps(out["lammps"], keyword="T1.b-c").U.tolist() == [3.0, -0.25, 0.0]
    assert out["xvg"].name == "T1.b-c.xvg" and out["csv"].name == "T1.b-c.csv"
    out = tables.export_all(small(), tmp_path, "1 bad")
    assert out["lammps"].read_text().splitlines()[2] == "CG"
    out = tables.export_all(small(), tmp_path, "lower")
    assert out["lammps"].read_text().splitlines()[2] == "lower"


# ---------------------------------------------------------------------------------------- LAMMPS reading

def write(tmp_path, text, name="t.table"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_lammps_rsq_and_fprime_and_indented_comments(tmp_path):
    p = write(tmp_path, "  # indented comment\n\nRS\nN 3 RSQ 2 4 FPRIME 0.5 0.6\n\n"
                        "1 2 3 1\n2 3.1622777 2 1\n  # another\n3 4 1 1 extra columns\n")
    t = tables.read_lammps(p)
    assert t.r.tolist() == [2.0, np.sqrt(10.0), 4.0]  # recomputed from RSQ (r² uniform), as LAMMPS does
    assert t.U.tolist() == [3.0, 2.0, 1.0] and t.F.tolist() == [1.0, 1.0, 1.0]
    p = write(tmp_path, "A\nN 2 FPRIME 1 2\n\n1 1.25 0 0\n2 1.75 0 0\n")
    assert tables.read_lammps(p).r.tolist() == [1.25, 1.75]  # no R: the r column as written
    p = write(tmp_path, "A\nN 3 R 0.001 0.003\n\n1 0.001 0 0\n2 0.0020000015 0 0\n3 0.003 0 0\n")
    assert tables.read_lammps(p).r.tolist() == pytest.approx([0.001, 0.002, 0.003], rel=1e-15)


def test_read_lammps_second_section_and_line_numbers(tmp_path):
    text = "# c\nA\nN 2\n\n1 1 1 0\n2 2 0 0\n\nB\n\nN 2 R 1 2\n1 1 5 0\n2 2 6 0\n"
    p = write(tmp_path, text)
    assert tables.read_lammps(p, "B").U.tolist() == [5.0, 6.0]
    assert tables.read_lammps(p).U.tolist() == [1.0, 0.0]
    with pytest.raises(TableError, match=exact(f"{p}: keyword 'C' not found (sections: A, B)")):
        tables.read_lammps(p, "C")


@pytest.mark.parametrize("text, message", [
    ("", "{p}: no table section found"),
    ("# only\n\n", "{p}: no table section found"),
    ("A\nN 2\n1 1 1 0\n2 2 1 0\n3 3 1 0\n", "{p}:5: expected a section keyword, found data '3 3 1 0' (wrong N in the section above?)"),
    ("\nA\n\n", "{p}:2: section 'A' has no 'N n' line (truncated file?)"),
    ("A\nN 3\n1 1 1 0\n2 2 1 0\n", "{p}: section 'A' (line 1) expects N = 3 data lines, found 2 (truncated file?)"),
    ("A\nN 3\n1 1 1 0\nB\n", "{p}:4: section 'A' expects N = 3 data lines, found 1 before 'B'"),
    ("A\nN 2\n1 1 1 0\n2 2 1\n", "{p}:4: expected 'i r e f', got '2 2 1'"),
    ("A\nN 2\n1 1 x 0\n2 2 1 0\n", "{p}:3: not a number in '1 x 0'"),
    ("A\nN 2\n1 1 nan 0\n2 2 1 0\n", "{p}:3: NaN or inf in '1 nan 0'"),
    ("A\nN 2\n1 2 1 0\n2 1 1 0\n", "{p}:4: r is not strictly increasing (2.0 then 1.0)"),
    ("A\nN 3\n1 1 1 0\n2 2 1 0\n3 2 1 0\n", "{p}:5: r is not strictly increasing (2.0 then 2.0)"),
    ("A\nN 2 R 1 3\n1 1 1 0\n2 2 1 0\n", "{p}:4: r = 2.0 disagrees with R 1 3 (expected 3.0; wrong N?)"),
    ("A\nN 2 RSQ 1 3\n1 1 1 0\n2 3.00001 1 0\n", "{p}:4: r = 3.00001 disagrees with RSQ 1 3 (expected 3.0; wrong N?)"),
    ("A\nN 3 R 0.001 0.003\n1 0.001 0 0\n2 0.00200001 0 0\n3 0.003 0 0\n",
     "{p}:4: r = 0.00200001 disagrees with R 0.001 0.003 (expected 0.002; wrong N?)"),
    ("A\nM 2\n", "{p}:2: expected the parameter line 'N n [R rlo rhi]', got 'M 2'"),
    ("A\nN\n", "{p}:2: expected the parameter line 'N n [R rlo rhi]', got 'N'"),
    ("A\nN two\n", "{p}:2: N must be an integer, got 'two'"),
    ("A\nN 1\n", "{p}:2: N = 1, need at least 2 points"),
    ("A\nN 2 R 1\n", "{p}:2: R needs two numbers"),
    ("A\nN 2 FPRIME 1\n", "{p}:2: FPRIME needs two numbers"),
    ("A\nN 2 RSQ 1 x\n", "{p}:2: not a number in '1 x'"),
    ("A\nN 2 BITMAP\n", "{p}:2: BITMAP tables are not supported"),
    ("A\nN 2 rsq 1 2\n", "{p}:2: unknown table parameter 'rsq'"),
])
def test_read_lammps_refuses_naming_file_and_line(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(TableError, match=exact(message.format(p=p))):
        tables.read_lammps(p)


def test_read_lammps_of_a_missing_or_binary_file(tmp_path):
    p = tmp_path / "missing.table"
    with pytest.raises(TableError, match="^" + re.escape(f"{p}: cannot read: ")):
        tables.read_lammps(p)
    p = tmp_path / "bin.table"
    p.write_bytes(b"\xff\xfe\x00A")
    with pytest.raises(TableError, match="^" + re.escape(f"{p}: cannot read: ")):
        tables.read_lammps(p)
    p = write(tmp_path, "# Ångström, ±, kcal/mol\nA\nN 2\n1 1 1 0\n2 2 1 0\n", "utf8.table")
    assert tables.read_lammps(p).r.tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------------------------- xvg, csv, TSV

def test_read_xvg_three_and_seven_columns_two_rows(tmp_path):
    p = write(tmp_path, "# c\n@ title\n&\n\n0.1 4.184 83.68\n0.2 2.092 0\n", "a.xvg")
    t = tables.read_xvg(p)
    assert t.r.tolist() == pytest.approx([1.0, 2.0]) and t.U.tolist() == pytest.approx([1.0, 0.5])
    assert t.F.tolist() == pytest.approx([2.0, 0.0])
    p = write(tmp_path, "0.1 9 9 9 9 4.184 83.68\n0.2 9 9 9 9 2.092 0\n", "b.xvg")
    assert tables.read_xvg(p).U.tolist() == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize("text, message", [
    ("# c\n0.1 1\n", "{p}:2: expected 3 (x V -V') or 7 columns, got 2"),
    ("0.1 1 1\n0.2 1\n", "{p}:2: expected 3 columns, got 2 (truncated file?)"),
    ("0.1 1 1\n", "{p}: fewer than 2 data lines"),
    ("0.1 1 1\n@x\n0.2 y 1\n", "{p}:3: not a number in '0.2 y 1'"),
    ("0.1 1 1\n\n0.1 1 1\n", "{p}:3: r is not strictly increasing (1.0 then 1.0)"),
    ("X 1 2\n0.1 1 1\n0.2 1 1\n", "{p}:1: not a number in 'X 1 2'"),
])
def test_read_xvg_refuses(tmp_path, text, message):
    p = write(tmp_path, text, "x.xvg")
    with pytest.raises(TableError, match=exact(message.format(p=p))):
        tables.read_xvg(p)


def test_read_csv_header_with_spaces_or_bom_and_two_rows(tmp_path):
    p = write(tmp_path, "\ufeffr_angstrom, U_kcal_per_mol, F_kcal_per_mol_per_angstrom\n1,2,3\n\n2, 4 ,5\n", "a.csv")
    t = tables.read_csv(p)
    assert t.r.tolist() == [1.0, 2.0] and t.U.tolist() == [2.0, 4.0] and t.F.tolist() == [3.0, 5.0]


@pytest.mark.parametrize("text, message", [
    ("", "{p}:1: expected header 'r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom', got '(empty file)'"),
    ("r,U,F\n", "{p}:1: expected header 'r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom', got 'r,U,F'"),
    ("Xr_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom\n1,2,3\n2,3,4\n",
     "{p}:1: expected header 'r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom', got 'Xr_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom'"),
    ("r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom\n1,2,3\n", "{p}: fewer than 2 data rows"),
    ("r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom\n1,2,3\n\n2,3\n", "{p}:4: expected 3 comma-separated values, got 2"),
    ("r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom\n1,2,3\n2,x,3\n", "{p}:3: not a number in '2 x 3'"),
    ("r_angstrom,U_kcal_per_mol,F_kcal_per_mol_per_angstrom\n1,2,3\n\n0.5,2,3\n", "{p}:4: r is not strictly increasing (1.0 then 0.5)"),
])
def test_read_csv_refuses(tmp_path, text, message):
    p = write(tmp_path, text, "x.csv")
    with pytest.raises(TableError, match=exact(message.format(p=p))):
        tables.read_csv(p)


def test_read_reference_potentials_two_rows_windows_line_ends(tmp_path):
    p = tmp_path / "ref.tsv"
    p.write_bytes(b"r_angstrom\tU_T1_kcal_per_mol\t U_P10_kcal_per_mol\r\n1\t2\t3\r\n\r\n2\t4\t 5\r\n")
    out = tables.read_reference_potentials(p)
    assert list(out) == ["T1", "P10"]
    assert out["T1"].U.tolist() == [2.0, 4.0] and out["P10"].U.tolist() == [3.0, 5.0]
    assert out["T1"].F.tolist() == pytest.approx([-2.0, -2.0])


@pytest.mark.parametrize("text, message", [
    ("", "{p}:1: empty file, expected a header line"),
    ("r_angstrom\n1\n", "{p}:1: header must start with 'r_angstrom' followed by U_<name>_kcal_per_mol columns, got 'r_angstrom'"),
    ("r\tU_T1_kcal_per_mol\n", "{p}:1: header must start with 'r_angstrom' followed by U_<name>_kcal_per_mol columns, got 'r\\tU_T1_kcal_per_mol'"),
    ("r_angstrom\tU_kcal_per_mol\n", "{p}:1: column 'U_kcal_per_mol' is not U_<name>_kcal_per_mol"),
    ("r_angstrom\tU_T1_kcal_per_mol\tU_T1_kcal_per_mol\n", "{p}:1: duplicate potential names in header"),
    ("r_angstrom\tU_T1_kcal_per_mol\n1\t2\n", "{p}: fewer than 2 data lines"),
    ("r_angstrom\tU_T1_kcal_per_mol\n1\t2\n\n2 3\n", "{p}:4: expected 2 tab-separated values, got 1"),
    ("r_angstrom\tU_T1_kcal_per_mol\n1\t2\n1\t3\n", "{p}:3: r is not strictly increasing (1.0 then 1.0)"),
    ("r_angstrom\tU_T1_kcal_per_mol\tU_T2_kcal_per_mol\n1\t2\t\n", "{p}:2: not a number in '1 2 '"),
    ("r_angstrom U_T1_kcal_per_mol\n1\t2\n2\t3\n",
     "{p}:1: header must start with 'r_angstrom' followed by U_<name>_kcal_per_mol columns, got 'r_angstrom U_T1_kcal_per_mol'"),
    ("r_angstrom\tU_T1_kcal_per_mol\t\n1\t2\n2\t3\n", "{p}:1: column '' is not U_<name>_kcal_per_mol"),
    ("r_angstrom\tU_T1_kcal_per_molX\n1\t2\n2\t3\n", "{p}:1: column 'U_T1_kcal_per_molX' is not U_<name>_kcal_per_mol"),
    ("r_angstrom\tU_T1_kcal_per_mol\n1\t2X\n2\t3\n", "{p}:2: not a number in '1 2X'"),
])
def test_read_reference_potentials_refuses(tmp_path, text, message):
    p = write(tmp_path, text, "x.tsv")
    with pytest.raises(TableError, match=exact(message.format(p=p))):
        tables.read_reference_potentials(p)


def test_read_reference_header_is_cut_at_80_characters(tmp_path):
    head = "x" * 100
    p = write(tmp_path, head + "\n", "long.tsv")
    with pytest.raises(TableError, match=exact(
            f"{p}:1: header must start with 'r_angstrom' followed by U_<name>_kcal_per_mol columns, got '{'x' * 80}'")):
        tables.read_reference_potentials(p)


# ---------------------------------------------------------------------------------------- simulation_ready

GRID = np.arange(0.5, 12.01, 0.25)


def test_simulation_ready_wall_of_a_parabola_matches_value_slope_and_curvature():
    # U = (r - 5)² - 4 on [3, 10]: at r0 = 3 slope -4 (A = 4), curvature 2 (b = 2 / A = 0.5)
    r = np.linspace(3.0, 10.0, 15)  # data every 0.5 Å, the grid every 0.25 Å
    t = tables.simulation_ready(r, (r - 5) ** 2 - 4, grid=GRID)
    shift = 21.0  # U is held at U(10) = 21 beyond the data and shifted to 0 at r_cut = grid[-1]
    wall = GRID < 3.0
    expected_wall = 0.0 + 4 / 0.5 * np.expm1(0.5 * (3.0 - GRID[wall])) - shift
    assert t.U[wall] == pytest.approx(expected_wall, rel=1e-9)
    inside = (GRID >= 3.0) & (GRID <= 10.0)
    assert t.U[inside] == pytest.approx((GRID[inside] - 5) ** 2 - 4 - shift, abs=1e-9)
    assert t.U[GRID > 10.0][:-1] == pytest.approx(np.zeros((GRID > 10.0).sum() - 1), abs=1e-12)
    assert t.U[-1] == 0.0 and t.F[-1] == 0.0
    # F = -dU/dr: 4 exp(b (r0 - r)) on the wall, -2 (r - 5) inside (away from the corner at 10 Å)
    assert t.F[(GRID > 0.9) & (GRID < 3.0)] == pytest.approx(
        4 * np.exp(0.5 * (3.0 - GRID[(GRID > 0.9) & (GRID < 3.0)])), rel=2e-3)
    assert t.F[(GRID > 3.2) & (GRID < 8.5)] == pytest.approx(-2 * (GRID[(GRID > 3.2) & (GRID < 8.5)] - 5), abs=2e-3)


def test_simulation_ready_cut_off_core_and_gaps():
    r = np.linspace(2.0, 10.0, 33)
    U = (r - 5) ** 2 - 4
    U[[0, 1, 2, 10]] = [np.nan, np.inf, 50.0, np.nan]  # a NaN core, an outlier before r_core, a gap
    t = tables.simulation_ready(r, U, grid=GRID, r_cut=9.0, r_core=2.9)
    # r0 = 3, the first data point from r_core = 2.9 on: the parabola's wall (U0 = 0, A = 4, b = 0.5)
    U9 = 16.0
    keep = (GRID >= 3.0) & (GRID < 9.0)
    assert t.U[keep] == pytest.approx((GRID[keep] - 5) ** 2 - U9, abs=1e-9)
    assert np.all(t.U[GRID >= 9.0] == 0.0) and np.all(t.F[GRID >= 9.0] == 0.0)
    wall = GRID < 3.0
    assert t.U[wall] == pytest.approx(-12 + 8 * np.expm1(0.5 * (3.0 - GRID[wall])), rel=1e-9)
    # r_core on a data point: that point is the first trusted one
    t2 = tables.simulation_ready(r, U, grid=GRID, r_cut=9.0, r_core=3.0)
    assert t2.U == pytest.approx(t.U, abs=1e-12)


@pytest.mark.parametrize("shape, b", [
    ("linear", 2.0),  # curvature < 0: b = 2/Å
    ("steep", 4.0),  # curvature / A = 20: clipped to 4
    ("flat", 0.5),  # curvature / A = 0.05: clipped to 0.5
])
def test_simulation_ready_wall_exponent_default_and_clipped(shape, b):
    r = np.linspace(3.0, 10.0, 29)
    U = {"linear": 20 - 2 * r - 0.01 * (r - 3) ** 2, "steep": 20 * (r - 3.2) ** 2, "flat": 0.05 * (r - 13) ** 2}[shape]
    A = {"linear": 2.0, "steep": 8.0, "flat": 1.0}[shape]
    t = tables.simulation_ready(r, U, grid=GRID, r_cut=10.0)
    U0 = U[0] - U[-1]
    wall = GRID < 3.0
    assert t.U[wall] == pytest.approx(U0 + A / b * np.expm1(b * (3.0 - GRID[wall])), rel=1e-9)


def test_simulation_ready_attractive_edge_gets_the_least_repulsive_wall_and_far_walls_stay_finite():
    r = np.linspace(3.0, 10.0, 29)
    U = np.where(r < 6, -(r - 6) ** 2 / 9, 0.0)  # rises from the edge (slope 2/3): A = 0.5 kcal/mol/Å, b = 2
    t = tables.simulation_ready(r, U, grid=GRID)
    wall = GRID < 3.0
    assert t.U[wall] == pytest.approx(-1.0 + 0.5 / 2.0 * np.expm1(2.0 * (3.0 - GRID[wall])), rel=1e-9)
    # data from 30 Å on a grid from 10: b (r0 - grid[0]) <= 40 caps b (3/Å from the curvature) at 2/Å
    r = np.linspace(30.0, 40.0, 41)
    t = tables.simulation_ready(r, 1000 * (r - 30 - 1 / 3) ** 2, grid=np.linspace(10.0, 40.0, 121))
    assert t.U[0] == pytest.approx(1000 / 9 + 2000 / 3 / 2.0 * np.expm1(40.0) - 1000 * (29 / 3) ** 2, rel=1e-9)
    grid = np.linspace(0.0, 40.0, 161)
    t = tables.simulation_ready(r, 1000 * (r - 30.5) ** 2, grid=grid)  # A = 1000, curvature / A = 2
    b = 40.0 / 30.0
    assert t.U[0] == pytest.approx(250.0 + 1000.0 / b * np.expm1(40.0) - 90250.0, rel=1e-9)
    assert np.all(np.isfinite(t.U)) and np.all(np.isfinite(t.F))
    # two finite points only: the slope between them sets A, no curvature: b = 2
    t = tables.simulation_ready([3.0, 3.5], [1.0, -1.0], grid=GRID, r_cut=3.5)  # slope -4: A = 4
    assert t.U[0] == pytest.approx(1.0 + 4.0 / 2.0 * np.expm1(2.0 * 2.5) + 1.0, rel=1e-9)
    # three: the quadratic through them (slope -6, curvature 2: b = 1/3, clipped to 0.5)
    t = tables.simulation_ready([3.0, 4.0, 5.0], [9.0, 4.0, 1.0], grid=GRID, r_cut=5.0)
    assert t.U[0] == pytest.approx(9.0 + 6.0 / 0.5 * np.expm1(0.5 * 2.5) - 1.0, rel=1e-9)
    # a grid starting at r0: no wall, no cap
    t = tables.simulation_ready(r, 1000 * (r - 30.5) ** 2, grid=np.linspace(30.0, 40.0, 21))
    assert t.U[0] == pytest.approx(250.0 - 90250.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(r=[[1.0, 2.0]], U=[[1.0, 2.0]]), "simulation_ready: r and U must be 1-D of equal length, got shapes (1, 2) and (1, 2)"),
    (dict(r=[1.0, 2.0], U=[1.0]), "simulation_ready: r and U must be 1-D of equal length, got shapes (2,) and (1,)"),
    (dict(r=[1.0, 1.0, 2.0], U=[1.0, 1.0, 1.0]), "simulation_ready: r must be finite and strictly increasing"),
    (dict(r=[1.0, np.nan, 2.0], U=[1.0, 1.0, 1.0]), "simulation_ready: r must be finite and strictly increasing"),
    (dict(grid=[1.0, 2.0, 3.0]), "simulation_ready: grid must be finite, strictly increasing, >= 4 points"),
    (dict(grid=[[1.0, 2.0, 3.0, 4.0]]), "simulation_ready: grid must be finite, strictly increasing, >= 4 points"),
    (dict(grid=[1.0, 2.0, np.inf, 4.0]), "simulation_ready: grid must be finite, strictly increasing, >= 4 points"),
    (dict(grid=[1.0, 2.0, 2.0, 4.0]), "simulation_ready: grid must be finite, strictly increasing, >= 4 points"),
    (dict(r_cut=0.5), "simulation_ready: r_cut = 0.5 Å outside the grid (0.5, 12]"),
    (dict(r_cut=12.5), "simulation_ready: r_cut = 12.5 Å outside the grid (0.5, 12]"),
    (dict(U=[np.nan] * 8), "simulation_ready: the potential has no finite value"),
    (dict(r_core=9.5), "simulation_ready: fewer than 2 finite points at or beyond the core (r_core = 9.5, first finite r = 3 Å)"),
    (dict(U=[np.nan] * 7 + [1.0]), "simulation_ready: fewer than 2 finite points at or beyond the core (r_core = None, first finite r = 10 Å)"),
    (dict(r_cut=3.0), "simulation_ready: no finite data below r_cut = 3.0 Å"),
    (dict(r_core=4.0, r_cut=4.0), "simulation_ready: no finite data below r_cut = 4.0 Å"),
])
def test_simulation_ready_refuses(kwargs, message):
    args = dict(r=np.linspace(3.0, 10.0, 8), U=np.linspace(5.0, -1.0, 8), grid=GRID) | kwargs
    with pytest.raises(TableError, match=exact(message)):
        tables.simulation_ready(**args)


def test_simulation_ready_two_points_at_the_core_are_enough():
    r = np.linspace(3.0, 10.0, 8)
    t = tables.simulation_ready(r, np.linspace(5.0, -2.0, 8), grid=GRID, r_core=9.0)
    assert t.U[GRID == 9.0] == pytest.approx([1.0]) and t.U[GRID == 10.0] == pytest.approx([0.0])


def test_simulation_ready_forces_vanish_into_the_cut_off():
    # U = 0 from 3 Å on: F is zero there, up to the cut-off (a spline through (r_cut, 0)), apart from the
    # wall's decaying wiggle
    r = np.linspace(3.0, 10.0, 29)
    t = tables.simulation_ready(r, np.zeros(29), grid=GRID, r_cut=10.0)
    near = (GRID > 8.0) & (GRID < 10.0)
    assert t.F[near] == pytest.approx(np.zeros(near.sum()), abs=1e-9)
    assert t.U[GRID >= 3.0] == pytest.approx(np.zeros((GRID >= 3.0).sum()), abs=1e-12)


def test_simulation_ready_grid_of_four_and_cut_off_before_the_second_point():
    t = tables.simulation_ready([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], grid=[1.0, 1.5, 2.0, 2.5], r_cut=2.5)
    assert t.U.tolist() == pytest.approx([1.5, 1.0, 0.5, 0.0])
    t = tables.simulation_ready(GRID, np.linspace(5.0, 0.0, GRID.size), grid=GRID, r_cut=0.6)
    assert t.U[0] == pytest.approx(5.0 / (GRID.size - 1) * 0.1 / 0.25) and np.all(t.U[1:] == 0.0)


def test_evaluate_uses_lammps_end_conditions():
    """pair_style table builds U's spline clamped with slopes -F at the ends, and F's clamped with the
    slopes of its first and last two points: a table whose F disagrees with U shows which."""
    from scipy.interpolate import CubicSpline
    r = np.linspace(1.0, 3.0, 9)
    U = np.zeros(9)
    F = np.r_[2.0, np.zeros(7), -1.0]
    x = np.array([1.1, 1.2, 2.9])
    u, f = Table(r, U, F).evaluate(x)
    assert u == pytest.approx(CubicSpline(r, U, bc_type=((1, -2.0), (1, 1.0)))(x), rel=1e-12)
    assert f == pytest.approx(CubicSpline(r, F, bc_type=((1, -8.0), (1, -4.0)))(x), rel=1e-12)
    assert u[0] < -0.01 and f[2] < -0.1  # not the not-a-knot spline's zeros
