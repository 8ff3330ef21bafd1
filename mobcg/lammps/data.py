"""LAMMPS data files: the all-atom box (atom_style full) and the one-bead CG box (atom_style atomic)."""

from __future__ import annotations

import os

import numpy as np

from .. import files
from ..molecule import ANGLE_TYPES, BOND_TYPES, DIHEDRAL_TYPES, MASS, Molecule


def write_aa(path: str | os.PathLike, molecule: Molecule, positions: np.ndarray, length: float,
             n_molecules: int) -> None:
    """Atoms typed C=1, H=2; bonded types numbered as in molecule.*_TYPES (coefficients go in the input)."""
    n = molecule.n_atoms
    etype = {"C": 1, "H": 2}
    lines = [f"{molecule.name}: {n_molecules} molecules, OPLS-AA (mobcg)", "",
             f"{n * n_molecules} atoms", f"{len(molecule.bonds) * n_molecules} bonds",
             f"{len(molecule.angles) * n_molecules} angles",
             f"{len(molecule.dihedrals) * n_molecules} dihedrals", "",
             "2 atom types", f"{len(BOND_TYPES)} bond types", f"{len(ANGLE_TYPES)} angle types",
             f"{len(DIHEDRAL_TYPES)} dihedral types", "",
             f"0 {length:.6f} xlo xhi", f"0 {length:.6f} ylo yhi", f"0 {length:.6f} zlo zhi", "",
             "Masses", "", f"1 {MASS['C']}  # C", f"2 {MASS['H']}  # H", "", "Atoms  # full", ""]
    for m in range(n_molecules):
        for i in range(n):
            x, y, z = positions[m * n + i]
            lines.append(f"{m * n + i + 1} {m + 1} {etype[molecule.elements[i]]} "
                         f"{molecule.charges[i]:.4f} {x:.6f} {y:.6f} {z:.6f}")
    for section, terms, types in (("Bonds", molecule.bonds, BOND_TYPES),
                                  ("Angles", molecule.angles, ANGLE_TYPES),
                                  ("Dihedrals", molecule.dihedrals, DIHEDRAL_TYPES)):
        lines += ["", section, ""]
        count = 0
        for m in range(n_molecules):
            for kind, *atoms in terms:
                count += 1
                ids = " ".join(str(m * n + a + 1) for a in atoms)
                lines.append(f"{count} {types.index(kind) + 1} {ids}")
    files.write_text(path, "\n".join(lines) + "\n")


def write_cg(path: str | os.PathLike, positions: np.ndarray, box: np.ndarray, mass: float) -> None:
    """One bead per molecule at its centre of mass; `box` = (Lx, Ly, Lz) in Å, positions wrapped."""
    lx, ly, lz = box
    lines = ["one-bead CG model (mobcg)", "", f"{len(positions)} atoms", "1 atom types", "",
             f"0 {lx:.6f} xlo xhi", f"0 {ly:.6f} ylo yhi", f"0 {lz:.6f} zlo zhi", "",
             "Masses", "", f"1 {mass:.4f}", "", "Atoms  # atomic", ""]
    wrapped = np.mod(positions, box)
    lines += [f"{i + 1} 1 {x:.6f} {y:.6f} {z:.6f}" for i, (x, y, z) in enumerate(wrapped)]
    files.write_text(path, "\n".join(lines) + "\n", durable=False)  # written anew by every CG run
