"""An alkane from its SMILES: OPLS-AA typing, bonded topology, 3D geometry, packed boxes.

Typing follows OPLS-AA for saturated hydrocarbons: every carbon is CT, every hydrogen HC; a
carbon's charge depends on how many hydrogens it carries (CH3 -0.18, CH2 -0.12, CH -0.06).
Bonded types are named by elements, as in the job statepoint: CC, CH; CCC, CCH, HCH;
CCCC, CCCH, HCCH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .forcefield import NONBONDED

SMILES = {"2,3,4-trimethylpentane": "CC(C)C(C)C(C)C"}
MASS = {"C": 12.011, "H": 1.008}  # amu
ATOM_TYPES = ("C", "H")
BOND_TYPES = ("CC", "CH")
ANGLE_TYPES = ("CCC", "CCH", "HCH")
DIHEDRAL_TYPES = ("CCCC", "CCCH", "HCCH")
AVOGADRO = 6.02214076e23


class MoleculeError(ValueError):
    """A molecule this force field cannot describe."""


def _canonical(elements: tuple[str, ...]) -> str:
    """Name a bonded term by its elements, read in the direction that sorts first ('CCH' not 'HCC')."""
    forward, backward = "".join(elements), "".join(reversed(elements))
    return min(forward, backward)


@dataclass(frozen=True)
class Molecule:
    name: str
    smiles: str
    elements: tuple[str, ...]
    charges: np.ndarray  # e
    positions: np.ndarray  # Å, one conformer centred on its centre of mass
    bonds: tuple[tuple[str, int, int], ...]
    angles: tuple[tuple[str, int, int, int], ...]
    dihedrals: tuple[tuple[str, int, int, int, int], ...]
    masses: np.ndarray = field(repr=False, default=None)

    @property
    def n_atoms(self) -> int:
        return len(self.elements)

    @property
    def mass(self) -> float:
        """Molar mass in g/mol."""
        return float(self.masses.sum())


@lru_cache(maxsize=None)
def build(name: str = "2,3,4-trimethylpentane", seed: int = 7) -> Molecule:
    """Build the molecule with RDKit (ETKDG geometry, MMFF-relaxed) and type it for OPLS-AA."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    smiles = SMILES.get(name, name)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise MoleculeError(f"molecule {name!r}: RDKit cannot parse SMILES {smiles!r}")
    if any(a.GetSymbol() != "C" for a in mol.GetAtoms()) or any(
        b.GetBondType() != Chem.BondType.SINGLE for b in mol.GetBonds()
    ):
        raise MoleculeError(f"molecule {name!r}: only saturated hydrocarbons (alkanes) are typed")
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise MoleculeError(f"molecule {name!r}: RDKit could not embed a 3D conformer")
    AllChem.MMFFOptimizeMolecule(mol)

    elements = tuple(a.GetSymbol() for a in mol.GetAtoms())
    charge_of = NONBONDED["charge"]
    charges = np.array(
        [charge_of["H"] if e == "H" else charge_of[{3: "CH3", 2: "CH2", 1: "CH", 0: "C"}[a.GetTotalNumHs(includeNeighbors=True)]]
         for e, a in zip(elements, mol.GetAtoms())]
    )
    if abs(charges.sum()) > 1e-9:
        raise MoleculeError(f"molecule {name!r}: OPLS-AA charges sum to {charges.sum():.3f} e, not 0")
    masses = np.array([MASS[e] for e in elements])
    xyz = mol.GetConformer().GetPositions()
    xyz = xyz - (masses[:, None] * xyz).sum(0) / masses.sum()

    neighbours = {a.GetIdx(): [n.GetIdx() for n in a.GetNeighbors()] for a in mol.GetAtoms()}
    bonds = tuple(
        (_canonical((elements[b.GetBeginAtomIdx()], elements[b.GetEndAtomIdx()])),
         b.GetBeginAtomIdx(), b.GetEndAtomIdx())
        for b in mol.GetBonds()
    )
    angles = tuple(
        (_canonical((elements[i], elements[j], elements[k])), i, j, k)
        for j in range(len(elements))
        for a, i in enumerate(neighbours[j])
        for k in neighbours[j][a + 1:]
    )
    dihedrals = []
    for _, j, k in bonds:
        for i in neighbours[j]:
            for l in neighbours[k]:
                if i != k and l != j and i != l:
                    dihedrals.append((_canonical(tuple(elements[x] for x in (i, j, k, l))), i, j, k, l))
    for kind, types in (("bond", BOND_TYPES), ("angle", ANGLE_TYPES), ("dihedral", DIHEDRAL_TYPES)):
        terms = {"bond": bonds, "angle": angles, "dihedral": dihedrals}[kind]
        unknown = {t[0] for t in terms} - set(types)
        if unknown:
            raise MoleculeError(f"molecule {name!r}: {kind} types {sorted(unknown)} have no parameters")
    return Molecule(name, smiles, elements, charges, xyz, bonds, angles, tuple(dihedrals), masses)


def box_length(n_molecules: int, molar_mass: float, density: float) -> float:
    """Cubic box edge (Å) holding n molecules of molar mass (g/mol) at density (g/cm³)."""
    volume_cm3 = n_molecules * molar_mass / AVOGADRO / density
    return (volume_cm3 * 1e24) ** (1.0 / 3.0)


def density(n_molecules: int, molar_mass: float, volume: float) -> float:
    """Mass density in g/cm³ from a volume in Å³."""
    return n_molecules * molar_mass / AVOGADRO / (volume * 1e-24)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([
        [a*a + b*b - c*c - d*d, 2*(b*c - a*d), 2*(b*d + a*c)],
        [2*(b*c + a*d), a*a - b*b + c*c - d*d, 2*(c*d - a*b)],
        [2*(b*d - a*c), 2*(c*d + a*b), a*a - b*b - c*c + d*d],
    ])


def pack(molecule: Molecule, n_molecules: int, seed: int, scale: float = 1.0,
         min_spacing: float | None = None) -> tuple[np.ndarray, float]:
    """Random packing on a cubic lattice with random orientations, free of overlaps.

    `scale` stretches the conformer (a force field with longer bonds needs more room).
    Returns (positions (n_molecules*n_atoms, 3) Å in [0, L), L in Å).
    """
    rng = np.random.default_rng(seed)
    xyz = molecule.positions * scale
    extent = 2 * np.linalg.norm(xyz, axis=1).max()
    spacing = max(extent + 2.5, min_spacing or 0.0)  # 2.5 Å ≈ C–H contact distance
    per_side = int(np.ceil(n_molecules ** (1 / 3)))
    sites = np.array([(i, j, k) for i in range(per_side) for j in range(per_side) for k in range(per_side)])
    sites = sites[rng.permutation(len(sites))[:n_molecules]]
    length = per_side * spacing
    coords = [(xyz @ _random_rotation(rng).T) + (site + 0.5) * spacing for site in sites]
    return np.concatenate(coords) % length, length


BONDI_RADIUS = {"C": 1.70, "H": 1.20}  # Å, van der Waals radii (Bondi, J. Phys. Chem. 1964, 68, 441)


def drawn_geometry(molecule: Molecule, forcefield: dict) -> np.ndarray:
    """The conformer with the drawn bond lengths: the carbon skeleton scaled by r0_CC / its C–C
    length, each hydrogen placed at r0_CH from its carbon along the original C–H direction (Å).
    An estimate of the size of the molecule a force field makes, before any simulation."""
    xyz = molecule.positions
    cc = [np.linalg.norm(xyz[i] - xyz[j]) for kind, i, j in molecule.bonds if kind == "CC"]
    out = xyz * (forcefield["bonds"]["CC"]["r0"] / np.mean(cc))
    for kind, i, j in molecule.bonds:
        if kind == "CH":
            c, h = (i, j) if molecule.elements[i] == "C" else (j, i)
            direction = (xyz[h] - xyz[c]) / np.linalg.norm(xyz[h] - xyz[c])
            out[h] = out[c] + direction * forcefield["bonds"]["CH"]["r0"]
    return out


def vdw_volume(molecule: Molecule, forcefield: dict, spacing: float = 0.15) -> float:
    """Van der Waals volume (Å³) of the molecule with the drawn bond lengths: the union of Bondi
    spheres, counted on a grid of `spacing` Å (converged to < 1 % at 0.15 Å)."""
    xyz = drawn_geometry(molecule, forcefield)
    radii = np.array([BONDI_RADIUS[e] for e in molecule.elements])
    lo, hi = (xyz - radii[:, None]).min(0), (xyz + radii[:, None]).max(0)
    axes = [np.arange(a + spacing / 2, b, spacing) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    inside = np.zeros(len(grid), bool)
    for centre, radius in zip(xyz, radii):
        inside |= ((grid - centre) ** 2).sum(1) <= radius ** 2
    return float(inside.sum() * spacing ** 3)


def packing_fraction(n_molecules: int, molecule_volume: float, box_volume: float) -> float:
    """Fraction of the box filled by the molecules' van der Waals volume (liquid alkanes ≈ 0.5)."""
    return n_molecules * molecule_volume / box_volume
