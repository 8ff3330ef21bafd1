"""An alkane from its SMILES: OPLS-AA typing, bonded topology, 3D geometry, packed boxes.

Typing follows OPLS-AA for saturated hydrocarbons: every carbon is CT, every hydrogen HC; a
carbon's charge depends on how many hydrogens it carries (CH3 -0.18, CH2 -0.12, CH -0.06, C 0.00;
H +0.06), so every CHn group is neutral. Bonded types are named by elements, as in the job
statepoint: CC, CH; CCC, CCH, HCH; CCCC, CCCH, HCCH.

A molecule is named in the statepoint by its name in SMILES (the table below) or, for any other
alkane, by its RDKit canonical SMILES (`resolve`), so one molecule is one statepoint value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .forcefield import MASS, NONBONDED  # noqa: F401 (MASS: the atoms' masses, amu)

DEFAULT = "2,3,4-trimethylpentane"  # the paper's molecule; a statepoint without "molecule" means it
SMILES = {
    "2,3,4-trimethylpentane": "CC(C)C(C)C(C)C",
    "n-hexane": "CCCCCC",
    "n-octane": "CCCCCCCC",
    "isooctane": "CC(C)(C)CC(C)C",  # 2,2,4-trimethylpentane
}
DESCRIPTORS = ("heavy_atoms", "branches", "quaternary_carbons", "molar_mass")
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


def _table_name(value: str) -> str | None:
    return next((name for name in SMILES if value.strip().lower() == name), None)


@lru_cache(maxsize=None)
def _checked(value: str):
    """(statepoint name, SMILES, RDKit heavy-atom molecule) of an acyclic alkane named by `value`;
    one MoleculeError naming `value` for anything else."""
    from rdkit import Chem, RDLogger

    if not isinstance(value, str) or not value.strip():
        raise MoleculeError(f"molecule {value!r}: expected a SMILES or one of {', '.join(SMILES)}")
    name = _table_name(value)
    smiles = SMILES[name] if name else value.strip()
    RDLogger.DisableLog("rdApp.*")  # RDKit's own stderr lines would bury our one-line error
    try:
        mol = Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")
    if mol is None:
        raise MoleculeError(f"molecule {value!r}: neither a SMILES RDKit can parse nor one of {', '.join(SMILES)}")
    why = _not_an_alkane(Chem, mol)
    if why:
        raise MoleculeError(f"molecule {value!r}: not an alkane ({why}); OPLS-AA is typed here for acyclic "
                            "saturated hydrocarbons CnH2n+2 only")
    mol = Chem.RemoveHs(mol)
    if name is None:  # a table molecule written as SMILES gets the table's name; any other its canonical SMILES
        canonical = Chem.MolToSmiles(mol)
        name = next((n for n, s in SMILES.items() if Chem.MolToSmiles(Chem.MolFromSmiles(s)) == canonical), canonical)
        smiles = SMILES.get(name, canonical)
    missing = [t for t, terms in zip(BOND_TYPES + ANGLE_TYPES + DIHEDRAL_TYPES, _type_sets(Chem.AddHs(mol)))
               if not terms]
    if missing:
        # Each of the 19 parameters must act on the molecule, else the models learn from a dead one.
        raise MoleculeError(f"molecule {value!r}: has no {', '.join(missing)} terms, so not all 19 force-field "
                            "parameters act on it (n-butane and longer chains have all)")
    return name, smiles, mol


def _not_an_alkane(Chem, mol) -> str | None:
    elements = sorted({a.GetSymbol() for a in mol.GetAtoms()} - {"C", "H"})
    if elements:
        return f"contains {', '.join(elements)}"
    if any(a.GetFormalCharge() or a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        return "charged or radical atoms"
    if any(b.GetBondType() != Chem.BondType.SINGLE for b in mol.GetBonds()):
        return "double, triple or aromatic bonds"
    if mol.GetRingInfo().NumRings():
        return "a ring"
    if len(Chem.GetMolFrags(mol)) > 1:
        return "more than one molecule"
    return None


def _topology(mol):
    """(elements, bonds, angles, dihedrals) of an RDKit molecule with explicit hydrogens, each term
    (type, atom indices...) typed by element names."""
    elements = tuple(a.GetSymbol() for a in mol.GetAtoms())
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
    return elements, bonds, angles, tuple(dihedrals)


def _type_sets(mol) -> list[bool]:
    """Whether each of BOND_TYPES + ANGLE_TYPES + DIHEDRAL_TYPES occurs in the molecule."""
    _, bonds, angles, dihedrals = _topology(mol)
    found = {t[0] for t in bonds + angles + dihedrals}
    return [t in found for t in BOND_TYPES + ANGLE_TYPES + DIHEDRAL_TYPES]


def resolve(value: str) -> str:
    """The statepoint name of a molecule given by table name or SMILES (MoleculeError otherwise)."""
    return _checked(value)[0]


def descriptors(value: str) -> dict[str, float]:
    """What the models may learn across molecules: heavy atoms, branches (methyl groups beyond the
    chain's two ends), quaternary carbons, molar mass (g/mol). From the graph: no 3D build needed."""
    _, _, mol = _checked(value)
    hydrogens = [a.GetTotalNumHs() for a in mol.GetAtoms()]
    return {"heavy_atoms": float(mol.GetNumAtoms()), "branches": float(hydrogens.count(3) - 2),
            "quaternary_carbons": float(hydrogens.count(0)), "molar_mass": molar_mass(value)}


def molar_mass(value: str) -> float:
    """Molar mass (g/mol) with this module's atomic masses, from the graph (no 3D build)."""
    n_c, n_h = composition(value)
    return round(n_c * MASS["C"] + n_h * MASS["H"], 6)


def composition(value: str) -> tuple[int, int]:
    """(carbons, hydrogens) of the molecule, from the graph."""
    _, _, mol = _checked(value)
    return mol.GetNumAtoms(), sum(a.GetTotalNumHs() for a in mol.GetAtoms())


@lru_cache(maxsize=None)
def build(name: str = DEFAULT, seed: int = 7) -> Molecule:
    """Build the molecule with RDKit (ETKDG geometry, MMFF-relaxed) and type it for OPLS-AA."""
    from rdkit.Chem import AllChem
    from rdkit import Chem

    name, smiles, mol = _checked(name)
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise MoleculeError(f"molecule {name!r}: RDKit could not embed a 3D conformer")
    AllChem.MMFFOptimizeMolecule(mol)

    elements, bonds, angles, dihedrals = _topology(mol)
    charge_of = NONBONDED["charge"]
    group = {3: "CH3", 2: "CH2", 1: "CH", 0: "C"}  # OPLS-AA alkane carbon by its hydrogens
    charges = np.array([charge_of["H"] if e == "H" else charge_of[group[a.GetTotalNumHs(includeNeighbors=True)]]
                        for e, a in zip(elements, mol.GetAtoms())])
    if abs(charges.sum()) > 1e-9:
        raise MoleculeError(f"molecule {name!r}: OPLS-AA charges sum to {charges.sum():.3f} e, not 0")
    masses = np.array([MASS[e] for e in elements])
    xyz = mol.GetConformer().GetPositions()
    xyz = xyz - (masses[:, None] * xyz).sum(0) / masses.sum()
    for kind, types, terms in (("bond", BOND_TYPES, bonds), ("angle", ANGLE_TYPES, angles),
                               ("dihedral", DIHEDRAL_TYPES, dihedrals)):
        unknown = {t[0] for t in terms} - set(types)
        if unknown:
            raise MoleculeError(f"molecule {name!r}: {kind} types {sorted(unknown)} have no parameters")
    return Molecule(name, smiles, elements, charges, xyz, bonds, angles, dihedrals, masses)


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
    return union_volume(drawn_geometry(molecule, forcefield), molecule.elements, spacing)


def union_volume(xyz: np.ndarray, elements, spacing: float = 0.15) -> float:
    """Volume (Å³) of the union of Bondi spheres at positions xyz (N, 3), counted on a grid of `spacing` Å."""
    radii = np.array([BONDI_RADIUS[e] for e in elements])
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
