"""Any alkane from a SMILES: OPLS-AA typing of the table's molecules against hand counts, the molecule
in the statepoint (init.py --molecule, signac find), refusal of what is not an alkane, the CG bead
mass and the dataset descriptors that follow the molecule."""

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import aggregate, cg, jobs, molecule
from mobcg.forcefield import OPLS_AA
from mobcg.init import statepoint

REPO = Path(__file__).resolve().parents[1]
SIGNAC = str(Path(sys.executable).parent / "signac")

# Hand counts, from the structures (not from the code). Rules for an acyclic alkane, every carbon
# having 4 neighbours of which c are carbons and h = 4 - c hydrogens:
#   angles centred on a carbon: CCC = C(c,2), HCH = C(h,2), CCH = c*h  (6 per carbon);
#   dihedrals about a C-C bond j-k: CCCC = (c_j-1)(c_k-1), HCCH = h_j h_k,
#   CCCH = (c_j-1) h_k + h_j (c_k-1)  (9 per C-C bond).
# n-hexane CH3-(CH2)4-CH3: 2 CH3 (c1 h3), 4 CH2 (c2 h2), 5 C-C bonds.
#   CCC = 4x1 = 4; HCH = 2x3 + 4x1 = 10; CCH = 2x3 + 4x4 = 22 (36 = 6x6).
#   CCCC: 3 inner bonds x 1 = 3; HCCH: 2 end bonds x 3x2 + 3 inner x 2x2 = 24;
#   CCCH: 2 end bonds x 3 + 3 inner x (2+2) = 18 (45 = 5x9).
# n-octane CH3-(CH2)6-CH3: as hexane with 6 CH2, 7 bonds (5 inner).
#   CCC 6; HCH 2x3 + 6 = 12; CCH 6 + 6x4 = 30. CCCC 5; HCCH 2x6 + 5x4 = 32; CCCH 2x3 + 5x4 = 26.
# isooctane CH3-C(CH3)2-CH2-CH(CH3)-CH3: 5 CH3, a quaternary C (c4 h0), a CH2 (c2), a CH (c3 h1).
#   CCC: C 6 + CH2 1 + CH 3 = 10; HCH: 5x3 + 1 = 16; CCH: 5x3 + CH2 2x2 + CH 3x1 = 22.
#   bonds: 3x CH3-C (0, 0, 9 each), C-CH2 (3, 0, 6), CH2-CH (2, 2, 5), 2x CH-CH3 (0, 3, 6 each)
#   as (CCCC, HCCH, CCCH): CCCC 5, HCCH 8, CCCH 27 + 6 + 5 + 12 = 50.
# 2,3,4-trimethylpentane CH3-CH(CH3)-CH(CH3)-CH(CH3)-CH3: 5 CH3, 3 CH (c3 h1).
#   CCC 3x3 = 9; HCH 5x3 = 15; CCH 5x3 + 3x3 = 24.
#   bonds: 5x CH-CH3 (0, 3, 6 each), 2x CH-CH (4, 1, 4 each): CCCC 8, HCCH 17, CCCH 38.
HAND = {
    # name: (C, H, {CC, CH}, {CCC, CCH, HCH}, {CCCC, CCCH, HCCH}, {CH3, CH2, CH, C})
    "n-hexane": (6, 14, {"CC": 5, "CH": 14}, {"CCC": 4, "CCH": 22, "HCH": 10},
                 {"CCCC": 3, "CCCH": 18, "HCCH": 24}, {"CH3": 2, "CH2": 4, "CH": 0, "C": 0}),
    "n-octane": (8, 18, {"CC": 7, "CH": 18}, {"CCC": 6, "CCH": 30, "HCH": 12},
                 {"CCCC": 5, "CCCH": 26, "HCCH": 32}, {"CH3": 2, "CH2": 6, "CH": 0, "C": 0}),
    "isooctane": (8, 18, {"CC": 7, "CH": 18}, {"CCC": 10, "CCH": 22, "HCH": 16},
                  {"CCCC": 5, "CCCH": 50, "HCCH": 8}, {"CH3": 5, "CH2": 1, "CH": 1, "C": 1}),
    "2,3,4-trimethylpentane": (8, 18, {"CC": 7, "CH": 18}, {"CCC": 9, "CCH": 24, "HCH": 15},
                               {"CCCC": 8, "CCCH": 38, "HCCH": 17}, {"CH3": 5, "CH2": 0, "CH": 3, "C": 0}),
}
CHARGE = {"CH3": -0.18, "CH2": -0.12, "CH": -0.06, "C": 0.0, "H": 0.06}  # OPLS-AA alkanes, e


def _group(mol, i):
    """CH3/CH2/CH/C of carbon i by its hydrogen neighbours, read from the bond list."""
    partners = [b if a == i else a for _, a, b in mol.bonds if i in (a, b)]
    return {3: "CH3", 2: "CH2", 1: "CH", 0: "C"}[sum(mol.elements[p] == "H" for p in partners)]


@pytest.mark.parametrize("name", list(HAND))
def test_table_molecule_is_typed_by_hand_count(name):
    n_c, n_h, bonds, angles, dihedrals, groups = HAND[name]
    mol = molecule.build(name)
    assert mol.name == name and mol.elements.count("C") == n_c and mol.elements.count("H") == n_h
    assert Counter(t for t, *_ in mol.bonds) == bonds
    assert Counter(t for t, *_ in mol.angles) == angles
    assert Counter(t for t, *_ in mol.dihedrals) == dihedrals
    carbons = [i for i, e in enumerate(mol.elements) if e == "C"]
    assert Counter(_group(mol, i) for i in carbons) == {k: v for k, v in groups.items() if v}
    expected = [CHARGE[_group(mol, i)] if e == "C" else CHARGE["H"] for i, e in enumerate(mol.elements)]
    assert mol.charges == pytest.approx(expected, abs=1e-12)
    assert abs(mol.charges.sum()) < 1e-9
    assert mol.mass == pytest.approx(n_c * 12.011 + n_h * 1.008)
    assert molecule.molar_mass(name) == pytest.approx(mol.mass)
    # every CG-relevant geometry is a molecule's: all atoms within a few Å of the centre of mass
    assert np.linalg.norm(mol.positions, axis=1).max() < 6.0


@pytest.mark.parametrize("smiles, name", [("CCCCCC", "n-hexane"), ("C(CCCCC)", "n-hexane"),
                                          ("CCCCCCCC", "n-octane"), ("CC(C)(C)CC(C)C", "isooctane"),
                                          ("CC(C)CC(C)(C)C", "isooctane"), ("CC(C)C(C)C(C)C", "2,3,4-trimethylpentane"),
                                          ("N-Hexane", "n-hexane"), ("CCC(C)CC", "CCC(C)CC")])
def test_smiles_resolve_to_one_statepoint_name(smiles, name):
    assert molecule.resolve(smiles) == name


def test_descriptors():
    assert molecule.descriptors("n-hexane") == {"heavy_atoms": 6, "branches": 0, "quaternary_carbons": 0,
                                                "molar_mass": pytest.approx(86.178)}
    assert molecule.descriptors("isooctane")["branches"] == 3 and molecule.descriptors("isooctane")["quaternary_carbons"] == 1
    assert molecule.descriptors("2,3,4-trimethylpentane")["quaternary_carbons"] == 0


def _init(root, capsys, *args) -> tuple[int, str, str]:
    """init.py in this process (each subprocess costs seconds of imports): (status, stdout, stderr)."""
    from mobcg.init import main
    capsys.readouterr()
    code = main(["--preset", "tiny", "--root", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("smiles, why", [("CCO", "contains O"), ("C1CCCCC1", "a ring"),
                                         ("C=CC", "double"), ("CC(C)(C)C", "no CCCC"), ("CC.CCCC", "more than one"),
                                         ("hexane!", "neither a SMILES")])
def test_init_refuses_what_is_not_an_alkane(tmp_path, capsys, smiles, why):
    code, _, err = _init(tmp_path, capsys, "--molecule", smiles)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert f"molecule {smiles!r}" in lines[0] and why in lines[0]
    assert not (tmp_path / "workspace").exists() and not (tmp_path / ".signac").exists()


def test_init_script_refuses_with_one_line(tmp_path):
    shutil.copy(REPO / "init.py", tmp_path / "init.py")
    proc = subprocess.run([sys.executable, "init.py", "--molecule", "CCO"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "init.py: error: molecule 'CCO': not an alkane (contains O); OPLS-AA is typed here for acyclic saturated "
        "hydrocarbons CnH2n+2 only"]


def test_init_molecule_in_statepoint_and_signac_find(tmp_path, capsys):
    assert _init(tmp_path, capsys, "--n", "1")[0] == 0  # the default molecule
    code, out, err = _init(tmp_path, capsys, "--n", "1", "--molecule", "CCCCCC")
    assert code == 0 and "molecule n-hexane" in out, err
    project = signac.get_project(tmp_path)
    by_molecule = Counter(job.sp["molecule"] for job in project)
    assert by_molecule == {"n-hexane": 2, "2,3,4-trimethylpentane": 2}  # one drawn set + the reference each
    hexane = {job.id for job in project if job.sp["molecule"] == "n-hexane"}
    found = subprocess.run([SIGNAC, "find", "molecule", "n-hexane"], cwd=tmp_path, capture_output=True, text=True)
    assert set(found.stdout.split()) == hexane
    reference = [job for job in project if job.sp["molecule"] == "n-hexane" and job.doc.get("reference")]
    assert len(reference) == 1 and reference[0].sp["forcefield"] == OPLS_AA
    # the published sets are the paper's molecule's; their numbers mean nothing for another one
    code, _, err = _init(tmp_path, capsys, "--published", "1", "--molecule", "n-octane")
    assert code == 2 and "--published 1 with --molecule n-octane" in err


def test_bead_mass_and_statepoint_check_follow_the_molecule(tmp_path):
    project = signac.init_project(tmp_path)
    hexane = project.open_job(statepoint(OPLS_AA, "tiny", molecule="n-hexane")).init()
    assert cg.bead_mass(hexane) == pytest.approx(86.178)
    # a job from before --molecule: no key, the paper's molecule (and its unchanged id)
    old = project.open_job({k: v for k, v in statepoint(OPLS_AA, "tiny").items() if k != "molecule"}).init()
    assert cg.bead_mass(old) == pytest.approx(cg.TMP_MASS) and jobs.molecule(old) == molecule.DEFAULT
    jobs.check_statepoint(old)
    ethanol = project.open_job(statepoint(OPLS_AA, "tiny", molecule="CCO")).init()
    with pytest.raises(jobs.StatepointError, match=f"job {ethanol.id}: statepoint molecule 'CCO': not an alkane"):
        jobs.check_statepoint(ethanol)


def test_models_take_descriptors_only_across_molecules():
    """Dataset rows of two molecules: the model input is the 19 parameters + descriptors; of one
    molecule, the 19 parameters alone (constant columns carry nothing)."""
    X = np.arange(4 * 19, dtype=float).reshape(4, 19)
    names = np.array(["n-hexane", "n-hexane", "n-octane", "n-octane"])
    desc = np.array([[molecule.descriptors(n)[k] for k in molecule.DESCRIPTORS] for n in names])
    data = {"X": X, "molecule": names, "descriptors": desc}
    both = np.ones(4, bool)
    inputs, used, trained_on = aggregate._inputs(data, both)
    assert inputs.shape == (4, 19 + len(molecule.DESCRIPTORS)) and used == list(molecule.DESCRIPTORS)
    assert inputs[2, 19] == 8 and trained_on == ["n-hexane", "n-octane"]
    inputs, used, trained_on = aggregate._inputs(data, np.array([True, True, False, False]))
    assert inputs.shape == (4, 19) and used == [] and trained_on == ["n-hexane"]
    x = X[:1]
    assert aggregate.model_input(x, {"descriptors": [], "molecules": ["n-hexane"]}, "CCCCCC").shape == (1, 19)
    with pytest.raises(aggregate.AggregateError, match="molecule n-octane: these models were trained on n-hexane only"):
        aggregate.model_input(x, {"descriptors": [], "molecules": ["n-hexane"]}, "n-octane")
    across = aggregate.model_input(x, {"descriptors": list(molecule.DESCRIPTORS)}, "isooctane")
    assert across[0, 19:].tolist() == [8, 3, 1, pytest.approx(114.232)]
    # models.json from before molecules: the paper's molecule
    assert aggregate.model_input(x, {}, None).shape == (1, 19)
