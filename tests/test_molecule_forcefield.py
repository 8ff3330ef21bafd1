"""The molecule, its OPLS-AA typing, and LAMMPS' bonded energy against an independent numpy sum."""

import numpy as np
import pytest

from mobcg import aa, forcefield
from mobcg.molecule import build, pack


def test_trimethylpentane_is_typed_for_opls():
    mol = build()
    assert mol.n_atoms == 26 and mol.elements.count("C") == 8
    assert abs(mol.charges.sum()) < 1e-12  # neutral groups: CH3 -0.18 + 3 x 0.06 = 0
    assert sorted({round(q, 2) for q in mol.charges}) == [-0.18, -0.06, 0.06]
    assert mol.mass == pytest.approx(114.232, abs=1e-3)
    assert {b[0] for b in mol.bonds} == {"CC", "CH"} and len(mol.bonds) == 25
    assert {a[0] for a in mol.angles} == {"CCC", "CCH", "HCH"}
    assert {d[0] for d in mol.dihedrals} == {"CCCC", "CCCH", "HCCH"}


def _numpy_bonded(mol, xyz, ff):
    """Independent evaluation: E_bond = K (r - r0)², E_angle = K (θ - θ0)², OPLS dihedrals."""
    e_bond = sum(ff["bonds"][t]["k"] * (np.linalg.norm(xyz[i] - xyz[j]) - ff["bonds"][t]["r0"]) ** 2
                 for t, i, j in mol.bonds)
    e_angle = 0.0
    for t, i, j, k in mol.angles:
        a, b = xyz[i] - xyz[j], xyz[k] - xyz[j]
        theta = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        e_angle += ff["angles"][t]["k"] * (theta - np.radians(ff["angles"][t]["theta0"])) ** 2
    e_dihed = 0.0
    for t, i, j, k, l in mol.dihedrals:
        b1, b2, b3 = xyz[j] - xyz[i], xyz[k] - xyz[j], xyz[l] - xyz[k]
        n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
        phi = np.arctan2(np.linalg.norm(b2) * b1 @ n2, n1 @ n2)
        p = ff["dihedrals"][t]
        e_dihed += 0.5 * (p["k1"] * (1 + np.cos(phi)) + p["k2"] * (1 - np.cos(2 * phi))
                          + p["k3"] * (1 + np.cos(3 * phi)))
    return e_bond, e_angle, e_dihed


@pytest.mark.parametrize("seed", [0, 1])
def test_lammps_bonded_energy_matches_numpy(tmp_path, seed):
    mol = build()
    ff = forcefield.sample(1, seed=seed)[0]
    rng = np.random.default_rng(seed)
    xyz = mol.positions + rng.normal(scale=0.05, size=mol.positions.shape) + 25.0  # off-equilibrium
    energies = aa.single_point(tmp_path, ff, mol, xyz, 50.0)
    e_bond, e_angle, e_dihed = _numpy_bonded(mol, xyz - 25.0, ff)
    assert energies["E_bond"] == pytest.approx(e_bond, rel=1e-4)
    assert energies["E_angle"] == pytest.approx(e_angle, rel=1e-4)
    assert energies["E_dihed"] == pytest.approx(e_dihed, rel=1e-4, abs=1e-6)
    assert (tmp_path / "single_point.in").read_text().count("bond_coeff") == 2  # the rendered input


def test_timestep_resolves_the_stiffest_bond():
    assert aa.timestep(forcefield.OPLS_AA) == 1.0  # C-H period ~11 fs
    stiff = forcefield.nest(forcefield.flatten(forcefield.OPLS_AA) | {"K_CH": 1000.0})
    dt = aa.timestep(stiff)
    assert 0.6 <= dt < 0.7  # period 6.6 fs / 10 steps


def test_pack_has_no_overlaps():
    mol = build()
    xyz, length = pack(mol, 8, seed=3)
    com = xyz.reshape(8, mol.n_atoms, 3).mean(axis=1)
    assert np.all(xyz >= 0) and np.all(xyz < length)
    assert len(np.unique(np.round(com, 3), axis=0)) == 8


def _min_intermolecular_distance(xyz, n_atoms, length):
    """Smallest minimum-image distance between atoms of different molecules (Å), brute force."""
    mol_of = np.repeat(np.arange(len(xyz) // n_atoms), n_atoms)
    best = np.inf
    for i in range(len(xyz)):
        d = xyz - xyz[i]
        d -= length * np.round(d / length)
        r = np.linalg.norm(d, axis=1)
        other = mol_of != mol_of[i]
        best = min(best, r[other].min())
    return best


@pytest.mark.parametrize("n, seed, scale", [(8, 3, 1.0), (27, 0, 1.0), (27, 5, 1.3)])
def test_pack_keeps_molecules_2_5_angstrom_apart(n, seed, scale):
    """pack promises molecules free of overlaps: its lattice spacing is the molecule's extent plus
    2.5 Å (about the C–H···H–C contact distance), so no two atoms of different molecules may come
    closer than 2.5 Å (minimum image, across the periodic box too); molecules stay whole and rigid."""
    mol = build()
    xyz, length = pack(mol, n, seed=seed, scale=scale)
    assert xyz.shape == (n * mol.n_atoms, 3) and np.all(xyz >= 0) and np.all(xyz < length)
    assert _min_intermolecular_distance(xyz, mol.n_atoms, length) >= 2.5 - 1e-9
    # each molecule is the (scaled) conformer, rotated: its internal distances are unchanged
    ref = np.linalg.norm(mol.positions[:, None] - mol.positions[None], axis=-1) * scale
    for k in range(n):
        m = xyz[k * mol.n_atoms:(k + 1) * mol.n_atoms]
        d = m[:, None] - m[None]
        d -= length * np.round(d / length)
        assert np.allclose(np.linalg.norm(d, axis=-1), ref, atol=1e-6)
