"""Every energy term of the project's AA force field, recomputed in numpy and compared with LAMMPS.

One small periodic box (8 packed 2,3,4-trimethylpentanes, a drawn force field in which all 19 bonded
constants differ from OPLS-AA) goes through the project's own input template (aa.single_point, `run 0`).
numpy recomputes each thermo term from the published OPLS-AA non-bonded constants, written out below
and deliberately *not* read from mobcg: a change to an LJ constant, a charge, the 1-4 scaling, the mixing
rule or a template setting (tail correction, special bonds, cut-off) changes a LAMMPS number and not
its numpy twin, and the test goes red. Units: LAMMPS real (Å, kcal/mol, e).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy.special import erfc

from mobcg import aa, forcefield, molecule

K_COULOMB = 332.06371  # kcal·Å/(mol·e²): LAMMPS `units real`, force->qqr2e
LJ = {"C": (3.5, 0.066), "H": (2.5, 0.030)}  # OPLS-AA CT and HC: sigma (Å), epsilon (kcal/mol)
Q_H = 0.06  # e; a carbon carries -Q_H per hydrogen (CH3 -0.18, CH -0.06), so each CHn group is neutral
SCALE_14 = 0.5  # OPLS-AA: 1-4 LJ and Coulomb halved; 1-2 and 1-3 pairs excluded
N_MOLECULES = 8
CUTOFF = 9.0  # Å, LJ and real-space Coulomb; below half the 19.0 Å box, so one image per pair


# -- numpy energies -----------------------------------------------------------------------------

def _minimum_image(d: np.ndarray, length: float) -> np.ndarray:
    """Separation vectors (…, 3) folded into the cubic box of edge `length` (Å)."""
    return d - length * np.round(d / length)


def _hops(mol) -> np.ndarray:
    """(n, n) number of bonds on the shortest path between two atoms of one molecule (mol.bonds)."""
    n = mol.n_atoms
    hops = np.full((n, n), n + 1)
    np.fill_diagonal(hops, 0)
    for _ in range(n):
        for _, i, j in mol.bonds:
            for a, b in ((i, j), (j, i)):
                hops[:, b] = np.minimum(hops[:, b], hops[:, a] + 1)
    return hops


def _charges(mol) -> np.ndarray:
    """OPLS-AA alkane charges (e) from the bond graph alone: H +Q_H, C -Q_H per bonded hydrogen."""
    hydrogens = np.zeros(mol.n_atoms)
    for _, i, j in mol.bonds:
        if {mol.elements[i], mol.elements[j]} == {"C", "H"}:
            hydrogens[i if mol.elements[i] == "C" else j] += 1
    return np.array([Q_H if e == "H" else -Q_H * h for e, h in zip(mol.elements, hydrogens)])


def _pairs(mol, n_molecules: int, xyz: np.ndarray, length: float) -> dict:
    """All atom pairs i < j of the box: minimum-image distance r (Å) and special-bond weight w
    (0 for 1-2 and 1-3 pairs, SCALE_14 for 1-4 pairs, 1 for the rest and between molecules)."""
    n = mol.n_atoms
    i, j = np.triu_indices(n * n_molecules, 1)
    same = i // n == j // n
    hops = np.where(same, _hops(mol)[i % n, j % n], 99)
    w = np.where(hops <= 2, 0.0, np.where(hops == 3, SCALE_14, 1.0))
    r = np.linalg.norm(_minimum_image(xyz[j] - xyz[i], length), axis=1)
    return {"i": i, "j": j, "r": r, "w": w, "hops": hops}


def _numpy_bonded(mol, n_molecules: int, xyz: np.ndarray, length: float, ff: dict) -> tuple[float, ...]:
    """(E_bond, E_angle, E_dihed), kcal/mol: K (r - r0)², K (θ - θ0)² and OPLS
    ½ [K1 (1 + cos φ) + K2 (1 - cos 2φ) + K3 (1 + cos 3φ)], φ = 180° for trans (IUPAC; the convention of
    tests/test_molecule_forcefield._numpy_bonded). LAMMPS' dihedral_style opls uses it too: the other one
    (cis = 180°) flips the sign of the K1 and K3 terms, which the 1e-6 match with K1, K3 ≠ 0 rules out."""
    n = mol.n_atoms
    e_bond = e_angle = e_dihed = 0.0
    for m in range(n_molecules):
        x = xyz[m * n:(m + 1) * n]
        vec = lambda a, b: _minimum_image(x[b] - x[a], length)  # noqa: E731 (bond vector a -> b, Å)
        for t, i, j in mol.bonds:
            p = ff["bonds"][t]
            e_bond += p["k"] * (np.linalg.norm(vec(i, j)) - p["r0"]) ** 2
        for t, i, j, k in mol.angles:
            a, b, p = vec(j, i), vec(j, k), ff["angles"][t]
            theta = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
            e_angle += p["k"] * (theta - np.radians(p["theta0"])) ** 2
        for t, i, j, k, l in mol.dihedrals:
            phi = _dihedral(vec(i, j), vec(j, k), vec(k, l))
            p = ff["dihedrals"][t]
            e_dihed += 0.5 * (p["k1"] * (1 + np.cos(phi)) + p["k2"] * (1 - np.cos(2 * phi))
                              + p["k3"] * (1 + np.cos(3 * phi)))
    return e_bond, e_angle, e_dihed


def _dihedral(b1: np.ndarray, b2: np.ndarray, b3: np.ndarray) -> float:
    """Dihedral angle (rad) of the bond vectors b1, b2, b3: ±π for trans, 0 for cis."""
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    return math.atan2(np.linalg.norm(b2) * b1 @ n2, n1 @ n2)


def _mixed(a: str, b: str) -> tuple[float, float]:
    """(sigma Å, epsilon kcal/mol) of an a-b pair: geometric mixing of both (OPLS, `mix geometric`)."""
    return math.sqrt(LJ[a][0] * LJ[b][0]), math.sqrt(LJ[a][1] * LJ[b][1])


def _numpy_lj(elements, pairs: dict, cutoff: float) -> float:
    """Truncated, unshifted LJ (kcal/mol): Σ w 4ε [(σ/r)¹² - (σ/r)⁶] over pairs with r < cutoff."""
    mixed = {(a, b): _mixed(a, b) for a in LJ for b in LJ}
    sigma, eps = np.array([mixed[elements[i], elements[j]] for i, j in zip(pairs["i"], pairs["j"])]).T
    sr6 = (sigma / pairs["r"]) ** 6
    return float(np.sum(np.where(pairs["r"] < cutoff, pairs["w"] * 4 * eps * (sr6 * sr6 - sr6), 0.0)))


def _lj_tail(elements, volume: float, cutoff: float) -> float:
    """LJ tail correction (kcal/mol) of `pair_modify tail yes`, as LAMMPS' Pair::init sums it: over
    ordered type pairs (a, b), (8/3) π N_a N_b / V · ε σ³ [(1/3)(σ/rc)⁹ - (σ/rc)³], i.e.
    2π N_a N_b / V ∫_rc^∞ r² u_ab(r) dr, with every atom counted (bonded pairs are not excluded)."""
    count = {e: list(elements).count(e) for e in LJ}
    total = 0.0
    for a in LJ:
        for b in LJ:
            sigma, eps = _mixed(a, b)
            s = sigma / cutoff
            total += 8 / 3 * math.pi * count[a] * count[b] / volume * eps * sigma ** 3 * (s**9 / 3 - s**3)
    return total


def _numpy_coul_real(q: np.ndarray, pairs: dict, g_ewald: float, cutoff: float) -> float:
    """LAMMPS' real-space Coulomb E_coul (kcal/mol) of coul/long with splitting parameter g (1/Å):
    Σ_{r < rc} k q_i q_j [erfc(g r) - (1 - w)] / r; the k-space sum holds every pair in full, so a pair
    of special weight w < 1 has (1 - w) of its bare 1/r taken off here."""
    qq = K_COULOMB * q[pairs["i"]] * q[pairs["j"]]
    r = pairs["r"]
    return float(np.sum(np.where(r < cutoff, qq * (erfc(g_ewald * r) - (1 - pairs["w"])) / r, 0.0)))


def _ewald(q: np.ndarray, xyz: np.ndarray, length: float, pairs: dict, alpha_length: float = 12.0
           ) -> float:
    """Total Coulomb energy (kcal/mol) of the periodic, neutral box by an Ewald sum, special pairs
    corrected: E = k [Σ_{i<j} q_i q_j erfc(α r)/r + (2π/V) Σ_{k≠0} e^{-k²/4α²}/k² |S(k)|² - α/√π Σ q²]
    - k Σ_special (1 - w) q_i q_j / r. α = alpha_length / L: erfc(α L/2) < 1e-16, so the minimum
    image is the only real-space image that counts; |k| runs to 2π/L · 2 alpha_length, where
    e^{-k²/4α²} < 1e-15. Converged to ~1e-12 relative (the test checks two α)."""
    alpha = alpha_length / length
    qq = K_COULOMB * q[pairs["i"]] * q[pairs["j"]]
    r = pairs["r"]
    real = np.sum(qq * erfc(alpha * r) / r)
    n_max = int(2 * alpha_length) + 1
    n = np.arange(-n_max, n_max + 1)
    phase = np.exp(2j * np.pi / length * xyz[:, :, None] * n)  # (atoms, 3, 2 n_max + 1)
    structure = np.einsum("a,ax,ay,az->xyz", q, phase[:, 0], phase[:, 1], phase[:, 2], optimize=True)
    k2 = (2 * np.pi / length) ** 2 * (n[:, None, None] ** 2 + n[None, :, None] ** 2 + n[None, None, :] ** 2)
    k2[n_max, n_max, n_max] = np.inf  # k = 0 left out (neutral box)
    reciprocal = 2 * np.pi / length ** 3 * K_COULOMB * np.sum(np.exp(-k2 / (4 * alpha ** 2)) / k2
                                                              * np.abs(structure) ** 2)
    self_energy = -K_COULOMB * alpha / math.sqrt(math.pi) * np.sum(q ** 2)
    special = -np.sum(qq * (1 - pairs["w"]) / r)
    return float(real + reciprocal + self_energy + special)


# -- the LAMMPS side ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """The configuration, its force field and LAMMPS' energies and PPPM splitting parameter g (1/Å).

    Positions and box length are rounded to the 6 decimals write_aa writes, so that numpy and
    LAMMPS see the very same numbers (unrounded, the bonded terms here differ by 1e-7, and by more
    the closer a configuration sits to the force field's minimum)."""
    mol = molecule.build()
    ff = forcefield.sample(1, seed=11)[0]  # every bonded constant drawn, none at its OPLS-AA value
    xyz, length = molecule.pack(mol, N_MOLECULES, seed=4)
    xyz, length = np.round(xyz, 6), round(length, 6)
    directory = tmp_path_factory.mktemp("energy")
    energies = aa.single_point(directory, ff, mol, xyz, length, N_MOLECULES, cutoff=CUTOFF)
    log = (directory / "single_point.log").read_text()
    pppm = {key: float(re.search(pattern + r" = (\S+)", log).group(1)) for key, pattern in
            (("g_ewald", r"G vector \(1/distance\)"), ("accuracy", "estimated relative force accuracy"))}
    assert CUTOFF < length / 2
    return {"mol": mol, "ff": ff, "xyz": xyz, "length": length, "lammps": energies, "pppm": pppm,
            "pairs": _pairs(mol, N_MOLECULES, xyz, length), "q": np.tile(_charges(mol), N_MOLECULES),
            "elements": mol.elements * N_MOLECULES}


def test_the_box_exercises_every_term(box):
    """Sanity of the fixture: a drawn force field, pairs of every kind inside the cut-off."""
    opls = forcefield.flatten(forcefield.OPLS_AA)
    assert all(v != opls[k] for k, v in forcefield.flatten(box["ff"]).items())
    pairs = box["pairs"]
    inside = pairs["r"] < CUTOFF
    same = pairs["i"] // box["mol"].n_atoms == pairs["j"] // box["mol"].n_atoms
    assert np.sum(inside & ~same) > 1000  # intermolecular pairs ...
    across = np.any(np.abs(box["xyz"][pairs["j"]] - box["xyz"][pairs["i"]]) > box["length"] / 2, axis=1)
    assert np.sum(inside & across) > 100  # ... some of them across the periodic boundary
    assert {1, 2, 3, 4, 5} <= set(pairs["hops"][inside & same].tolist())  # 1-2 ... and beyond 1-4
    assert sorted({round(x, 2) for x in box["q"]}) == [-0.18, -0.06, 0.06] and abs(box["q"].sum()) < 1e-12
    down, along, up = np.array([0.0, -1, 0]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    assert abs(_dihedral(down, along, down)) == pytest.approx(math.pi)  # trans: 1-4 atoms on opposite sides
    assert _dihedral(down, along, up) == pytest.approx(0.0)  # cis


def test_bonded_energies_match_numpy(box):
    """Bonds, angles, OPLS dihedrals to 1e-6 relative: the same formulas on the same positions, so only
    rounding is left (LAMMPS prints 8 significant digits). Measured: 4e-9, 3e-8, 2e-8."""
    e_bond, e_angle, e_dihed = _numpy_bonded(box["mol"], N_MOLECULES, box["xyz"], box["length"], box["ff"])
    assert box["lammps"]["E_bond"] == pytest.approx(e_bond, rel=1e-6)
    assert box["lammps"]["E_angle"] == pytest.approx(e_angle, rel=1e-6)
    assert box["lammps"]["E_dihed"] == pytest.approx(e_dihed, rel=1e-6)


def test_lennard_jones_matches_numpy(box):
    """E_vdwl = truncated LJ (1-4 halved, 1-2 and 1-3 left out, geometric σ and ε) + the tail
    correction, to 1e-6 relative (the same sums; measured 1.5e-8). The tail is -2.0 of 17.5 kcal/mol
    here, so `tail no` fails by far more than the tolerance, and so does arithmetic mixing of σ (C-H
    3.00 instead of 2.96 Å)."""
    lj = _numpy_lj(box["elements"], box["pairs"], CUTOFF)
    tail = _lj_tail(box["elements"], box["length"] ** 3, CUTOFF)
    assert box["lammps"]["E_vdwl"] == pytest.approx(lj + tail, rel=1e-6)
    assert abs(tail) > 0.05 * abs(lj + tail)


def test_real_space_coulomb_matches_numpy(box):
    """E_coul with LAMMPS' own g_ewald (its log prints 8 digits: 1e-8 in E_coul) to 5e-6 relative.

    Not 1e-6: coul/long does not evaluate erfc exactly. Pairs closer than √2 Å (the 144 bonded C-H,
    whose erf part is taken off) use Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the rest a 12-bit
    linear table looked up in single precision. Measured against exact erfc: -1.87e-6 here, of which
    -1.46e-6 is the polynomial and -0.41e-6 the table (-1.6e-6 to -2.6e-6 over five other boxes); with
    the polynomial in numpy and `pair_modify table 0` in LAMMPS it is 5e-8. A charge or the 1-4 factor
    moves E_coul by percents."""
    e_coul = _numpy_coul_real(box["q"], box["pairs"], box["pppm"]["g_ewald"], CUTOFF)
    assert box["lammps"]["E_coul"] == pytest.approx(e_coul, rel=5e-6)


def test_total_coulomb_matches_an_ewald_sum(box):
    """E_coul + E_long (PPPM at the template's 1e-4) against a converged Ewald sum, to 4e-3 relative.

    The reference converges to 1e-12 (two α agree) and agrees with LAMMPS' own `kspace_style ewald
    1e-10` to 3e-8 and `pppm 1e-8` to 5e-7 (checked by hand on this box). PPPM at 1e-4 (a relative
    *force* accuracy: LAMMPS estimates 1.9e-5 on its 6x6x6 mesh) misses the energy by 0.137 kcal/mol
    (7e-4 per atom): 3.0e-3 of the total here, 1.7e-3 of E_long; 2.2e-3 to 3.0e-3 over four other
    boxes with this cut-off. So 4e-3 passes with a third to spare, and anything wrong in the exclusions,
    the 1-4 factor, the charges or Coulomb's constant (each a percent or more) fails."""
    q, xyz, length, pairs = box["q"], box["xyz"], box["length"], box["pairs"]
    ewald = _ewald(q, xyz, length, pairs)
    assert _ewald(q, xyz, length, pairs, alpha_length=14.0) == pytest.approx(ewald, rel=1e-11)  # converged
    assert box["pppm"]["accuracy"] <= 1e-4  # the template's `kspace_style pppm 1.0e-4`, as LAMMPS met it
    total = box["lammps"]["E_coul"] + box["lammps"]["E_long"]
    assert total == pytest.approx(ewald, rel=4e-3)


def test_potential_energy_is_the_sum_of_the_terms(box):
    """PotEng = E_bond + E_angle + E_dihed + E_vdwl + E_coul + E_long: each printed to 8 significant
    digits (within 5e-8 of itself), so 2e-7 relative. Measured: 1e-8."""
    e = box["lammps"]
    terms = e["E_bond"] + e["E_angle"] + e["E_dihed"] + e["E_vdwl"] + e["E_coul"] + e["E_long"]
    assert e["PotEng"] == pytest.approx(terms, rel=2e-7)
