"""datasets: every check of a malformed reference file, the loaders' custom paths, rdf_r2's constant
case and pairing's boundaries (issue 14: the mutants test_datasets_models.py left alive). Fast: tiny
files in tmp_path, no reference data needed."""

import re
import warnings

import numpy as np
import pytest

from mobcg import datasets as ds
from mobcg.forcefield import PARAMETER_NAMES

PAIR_COLUMNS = ["pair", "D_AA_i", "D_CG_j", "alpha_ij", *[f"{p}_i" for p in PARAMETER_NAMES], "rdf_r2_ij"]
SYSTEM_COLUMNS = ["system", "D_AA", "D_CG", "alpha", *PARAMETER_NAMES]


def _tsv(path, header, rows):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _system(name, daa=1.0, dcg=2.0, alpha=2.0, base=1.0):
    return [name, daa, dcg, alpha, *[base + k for k in range(19)]]


def _raises(message, func, *args):
    """func(*args) raises DatasetError whose message is exactly `message`."""
    with pytest.raises(ds.DatasetError) as info:
        func(*args)
    assert str(info.value) == message


# ------------------------------------------------------------------------------ systems


def test_systems_from_a_custom_file_values_ids_and_path(tmp_path):
    f = _tsv(tmp_path / "s.tsv", SYSTEM_COLUMNS, [_system("sys A", 0.5, 1.5, 3.0, 1.0),
                                                   _system("B", 2.0, 1.0, 0.5, 10.0)])
    s = ds.load_reference_systems(f)
    assert s.path == f and len(s) == 2
    assert s.ids == ["sys A", "B"]  # a space inside an id is kept: fields are split on tabs only
    np.testing.assert_array_equal(s.D_AA, [0.5, 2.0])
    np.testing.assert_array_equal(s.D_CG, [1.5, 1.0])
    np.testing.assert_array_equal(s.alpha, [3.0, 0.5])
    np.testing.assert_array_equal(s.X[1], 10.0 + np.arange(19))
    np.testing.assert_array_equal(s.X_with_daa()[:, -1], [0.5, 2.0])


def test_one_data_line_is_enough(tmp_path):
    f = _tsv(tmp_path / "s.tsv", SYSTEM_COLUMNS, [_system("only")])
    assert ds.load_reference_systems(f).ids == ["only"]


def test_header_names_may_contain_spaces(tmp_path):
    f = _tsv(tmp_path / "s.tsv", ["system name", *SYSTEM_COLUMNS[1:]], [_system("a"), _system("b")])
    assert ds.load_reference_systems(f).ids == ["a", "b"]


def test_header_and_line_errors_name_file_and_line(tmp_path):
    f = tmp_path / "s.tsv"
    f.write_text("\n\n")
    _raises(f"{f}: file is empty (expected a tab-separated header line)", ds.load_reference_systems, f)
    f.write_text("system\n1\n")
    _raises(f"{f}: line 1: malformed header 'system' (expected tab-separated column names)",
            ds.load_reference_systems, f)
    f.write_text("system\t\tD_AA\n1\t2\t3\n")
    _raises(f"{f}: line 1: malformed header 'system\\t\\tD_AA' (expected tab-separated column names)",
            ds.load_reference_systems, f)
    _tsv(f, [*SYSTEM_COLUMNS, "D_CG", "alpha"], [_system("a") + [1, 1]])
    _raises(f"{f}: line 1: duplicate column(s) D_CG, alpha", ds.load_reference_systems, f)
    f.write_text("system\tx\n")
    _raises(f"{f}: line 1: missing column(s) D_AA, D_CG, alpha, " + ", ".join(PARAMETER_NAMES),
            ds.load_reference_systems, f)
    f.write_text("\t".join(SYSTEM_COLUMNS) + "\n")
    _raises(f"{f}: no data lines after the header", ds.load_reference_systems, f)
    _tsv(f, SYSTEM_COLUMNS, [_system("a"), _system("a")])
    _raises(f"{f}: column 'system': duplicate ids", ds.load_reference_systems, f)


def test_nonpositive_mobility_is_refused_with_its_id(tmp_path):
    f = _tsv(tmp_path / "s.tsv", SYSTEM_COLUMNS, [_system("a"), _system("b", dcg=0.0), _system("c")])
    _raises(f"{f}: line of id 'b', column 'D_CG': 0.0 is not > 0", ds.load_reference_systems, f)
    f = _tsv(tmp_path / "s.tsv", SYSTEM_COLUMNS, [_system("a", alpha=-1.5)])
    _raises(f"{f}: line of id 'a', column 'alpha': -1.5 is not > 0", ds.load_reference_systems, f)
    # the smallest positive value passes
    f = _tsv(tmp_path / "s.tsv", SYSTEM_COLUMNS, [_system("a", daa=5e-324)])
    assert ds.load_reference_systems(f).D_AA[0] == 5e-324


# ------------------------------------------------------------------------------ pairs


def _pair(name, daa=1.0, dcg=1.1, r2=0.85):
    return [name, daa, dcg, dcg / daa, *[0.5 + k for k in range(19)], r2]


def test_pairs_from_a_custom_file(tmp_path):
    f = _tsv(tmp_path / "p.tsv", PAIR_COLUMNS, [_pair("Q1", 2.0, 2.2, 0.9), _pair("Q2", 0.5, 0.45, 0.81)])
    p = ds.load_reference_pairs(f)
    assert p.path == f and p.ids == ["Q1", "Q2"] and len(p) == 2
    np.testing.assert_array_equal(p.D_AA_i, [2.0, 0.5])
    np.testing.assert_array_equal(p.D_CG_j, [2.2, 0.45])
    np.testing.assert_allclose(p.alpha_ij, [1.1, 0.9], rtol=1e-15)
    np.testing.assert_array_equal(p.rdf_r2, [0.9, 0.81])
    np.testing.assert_array_equal(p.X_i[0], 0.5 + np.arange(19))


def test_pairs_missing_column_is_a_dataset_error(tmp_path):
    f = _tsv(tmp_path / "p.tsv", PAIR_COLUMNS[:-1], [_pair("Q1")[:-1]])
    _raises(f"{f}: line 1: missing column(s) rdf_r2_ij", ds.load_reference_pairs, f)
    f = _tsv(tmp_path / "p.tsv", PAIR_COLUMNS, [["Q1", 0.0] + _pair("Q1")[2:]])
    _raises(f"{f}: line of id 'Q1', column 'D_AA_i': 0.0 is not > 0", ds.load_reference_pairs, f)


# ------------------------------------------------------------------------------ curves


def test_rdfs_from_a_custom_file(tmp_path):
    f = _tsv(tmp_path / "g.tsv", ["r_angstrom", "g_AA_X", "g_AA_Y", "g_CG_X", "g_CG_Y"],
             [[1.0, 0.1, 0.2, 0.3, 0.4], [1.5, 1.1, 1.2, 1.3, 1.4], [2.0, 2.1, 2.2, 2.3, 2.4]])
    g = ds.load_reference_rdfs(f)
    assert g.path == f and g.ids == ["X", "Y"]
    np.testing.assert_array_equal(g.r, [1.0, 1.5, 2.0])
    np.testing.assert_array_equal(g.g_aa, [[0.1, 1.1, 2.1], [0.2, 1.2, 2.2]])
    np.testing.assert_array_equal(g.g_cg, [[0.3, 1.3, 2.3], [0.4, 1.4, 2.4]])


@pytest.mark.parametrize("columns", [
    ["g_CG_X"],                               # no all-atom curve
    ["g_AA_X", "g_CG_X", "extra"],            # a column that is neither
    ["g_AA_X", "g_CG_Y"],                     # ids differ
    ["g_AA_X", "g_AA_Y", "g_CG_Y", "g_CG_X"],  # same ids, other order
])
def test_rdf_columns_must_pair_up(tmp_path, columns):
    f = _tsv(tmp_path / "g.tsv", ["r_angstrom", *columns], [[1.0] + [0.5] * len(columns),
                                                           [2.0] + [0.7] * len(columns)])
    _raises(f"{f}: line 1: expected columns g_AA_<id>... then g_CG_<id>... with matching ids",
            ds.load_reference_rdfs, f)


def test_curve_grid_errors(tmp_path):
    f = _tsv(tmp_path / "g.tsv", ["r", "g_AA_X", "g_CG_X"], [[1.0, 0.1, 0.2], [2.0, 0.3, 0.4]])
    _raises(f"{f}: line 1, column 1: expected 'r_angstrom', got 'r'", ds.load_reference_rdfs, f)
    # the first step that does not increase is named by its file line (header = line 1)
    f = _tsv(tmp_path / "g.tsv", ["r_angstrom", "g_AA_X", "g_CG_X"],
             [[1.0, 0, 0], [1.5, 0, 0], [2.0, 0, 0], [2.0, 0, 0], [1.0, 0, 0]])
    _raises(f"{f}: line 5, column 'r_angstrom': grid is not increasing", ds.load_reference_rdfs, f)
    f = _tsv(tmp_path / "u.tsv", ["r_angstrom", "U_A_kcal_per_mol"], [[1.0, 0], [0.5, 0]])
    _raises(f"{f}: line 3, column 'r_angstrom': grid is not increasing", ds.load_reference_potentials, f)


def test_potentials_from_a_custom_file_and_bad_names(tmp_path):
    f = _tsv(tmp_path / "u.tsv", ["r_angstrom", "U_T 9_kcal_per_mol", "U_Z_kcal_per_mol"],
             [[3.0, 1.5, -0.5], [3.5, 0.25, -0.125]])
    u = ds.load_reference_potentials(f)
    assert u.path == f and u.ids == ["T 9", "Z"]
    np.testing.assert_array_equal(u.r, [3.0, 3.5])
    np.testing.assert_array_equal(u.U, [[1.5, 0.25], [-0.5, -0.125]])
    for bad in ("U_T1", "T1_kcal_per_mol"):
        f = _tsv(tmp_path / "u.tsv", ["r_angstrom", "U_A_kcal_per_mol", bad], [[3.0, 1.0, 2.0]])
        _raises(f"{f}: line 1, column {bad!r}: expected U_<id>_kcal_per_mol", ds.load_reference_potentials, f)


def test_loaders_default_to_reference_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBCG_REFERENCE", str(tmp_path))
    _tsv(tmp_path / ds.SYSTEMS_FILE, SYSTEM_COLUMNS, [_system("S")])
    _tsv(tmp_path / ds.PAIRS_FILE, PAIR_COLUMNS, [_pair("P")])
    _tsv(tmp_path / ds.PAIRS_RDFS_FILE, ["r_angstrom", "g_AA_P", "g_CG_P"], [[1.0, 1, 2]])
    _tsv(tmp_path / ds.IBI_TEST_POTENTIALS_FILE, ["r_angstrom", "U_T_kcal_per_mol"], [[1.0, 3]])
    assert ds.load_reference_systems().path == tmp_path / ds.SYSTEMS_FILE
    assert ds.load_reference_pairs().path == tmp_path / ds.PAIRS_FILE
    assert ds.load_reference_rdfs().ids == ["P"]
    assert ds.load_reference_potentials().ids == ["T"]


# ------------------------------------------------------------------------------ rdf_r2 and pairing


def test_rdf_r2_of_a_constant_reference_without_warnings():
    c = np.full(5, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 and x/0 are handled, not warned about
        assert ds.rdf_r2(c, c) == 1.0
        assert ds.rdf_r2(c, c + 1e-9) == -np.inf
        assert ds.rdf_r2([0.0, 2.0], [1.0, 2.0]) == 0.5  # ss_res 1, ss_tot 2
        assert ds.rdf_r2([1, 2, 3], [1, 2, 4]) == 0.5    # integers count as numbers


def test_rdf_r2_refuses_other_shapes():
    with pytest.raises(ValueError, match=re.escape("rdf_r2 needs two 1-D arrays of equal length, "
                                                   "got (2, 2), (2, 2)")):
        ds.rdf_r2(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=re.escape("got (3,), (2,)")):
        ds.rdf_r2(np.ones(3), np.ones(2))


def test_pairing_defaults_and_boundaries():
    same = np.array([[0.0, 2.0], [0.0, 2.0]])
    half = np.array([[1.0, 2.0], [1.0, 2.0]])  # rdf_r2(same[i], half[j]) is exactly 0.5
    one = np.ones(2)
    # D_CG[j] / D_AA[i] - 1 == 0.25 exactly: on the bound counts as a pair
    assert ds.pairing(one, [1.25, 1.25], same, same, tol=0.25) == [(0, 1), (1, 0)]
    assert ds.pairing(one, [1.25, 1.25], same, same, tol=0.24) == []
    assert ds.pairing(one, one, same, half, tol=0.0, r2_min=0.5) == [(0, 1), (1, 0)]
    assert ds.pairing(one, one, same, half, tol=0.0, r2_min=0.51) == []
    # defaults: tol 0.2, r2_min 0.8
    assert ds.pairing(one, [1.25, 1.19], same, same) == [(0, 1)]
    assert ds.pairing(one, [0.79, 0.81], same, same) == [(0, 1)]
    assert ds.pairing(one, one, same, half) == []
    assert ds.pairing(one, one, same, 0.9 * same + 0.1 * half) == [(0, 1), (1, 0)]  # r2 = 0.995


def test_pairing_refuses_bad_input():
    g = np.ones((2, 3))
    D = np.ones(2)
    for args in [(np.ones((2, 1)), D, g, g), (D, np.ones(3), g, g), (D, D, np.ones(2), np.ones(2)),
                 (D, D, np.ones((3, 3)), np.ones((3, 3))), (D, D, g, np.ones((2, 4)))]:
        with pytest.raises(ValueError) as info:
            ds.pairing(*args)
        shapes = ", ".join(str(np.shape(a)) for a in args)
        assert str(info.value) == ("pairing needs D_AA, D_CG of shape (n,) and rdf_aa, rdf_cg of shape "
                                   f"(n, m); got {shapes}")
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError) as info:
            ds.pairing([1.0, bad], D, g, g)
        assert str(info.value) == "D_AA must be > 0"
