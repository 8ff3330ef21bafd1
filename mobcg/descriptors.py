"""Physical descriptors of one molecule computed from the 19 bonded parameters alone (no simulation).

The equilibrium geometry of a single 2,3,4-trimethylpentane molecule under the drawn force field:
harmonic bonds and angles, OPLS dihedrals, and the fixed OPLS-AA Lennard-Jones and charges between
atoms three or more bonds apart (1-4 scaled by 0.5), minimised from the conformer with the drawn bond
lengths (:func:`mobcg.molecule.drawn_geometry`). From it: van der Waals volume (Bondi spheres),
mass-weighted radius of gyration, asphericity, the longest C–C distance (end to end), the mean
distance of the hydrogens from the carbon centroid, and the bonded-only strain energy left at the
minimum (how incompatible the drawn angles are with each other). Also the torsion barrier of each
dihedral type (max - min of the OPLS series over a turn) and two stiffness ratios.

Units: Å, Å³, kcal/mol. Used as extra model inputs by :mod:`mobcg.published`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import forcefield, molecule

NAMES = ("volume", "rg", "asphericity", "end_to_end", "h_reach", "strain",
         "barrier_CCCC", "barrier_CCCH", "barrier_HCCH", "log_kcc_kch", "log_kangle_ratio")
COULOMB = 332.06371  # kcal/mol Å / e², LAMMPS real units


@lru_cache(maxsize=1)
def _topology():
    mol = molecule.build()
    n = mol.n_atoms
    adj = [set() for _ in range(n)]
    for _, i, j in mol.bonds:
        adj[i].add(j)
        adj[j].add(i)
    # graph distance up to 3 for the non-bonded exclusions
    dist = np.full((n, n), 99, int)
    for s in range(n):
        dist[s, s] = 0
        frontier = {s}
        for k in range(1, 4):
            frontier = {b for a in frontier for b in adj[a] if dist[s, b] > k}
            for b in frontier:
                dist[s, b] = min(dist[s, b], k)
    ii, jj = np.triu_indices(n, 1)
    far = dist[ii, jj] >= 3
    ii, jj, scale = ii[far], jj[far], np.where(dist[ii[far], jj[far]] == 3, forcefield.NONBONDED["special_lj_coul_14"], 1.0)
    lj = forcefield.NONBONDED["lj"]
    sig = np.array([lj[e][0] for e in mol.elements])
    eps = np.array([lj[e][1] for e in mol.elements])
    return {
        "mol": mol,
        "bonds": [(k, np.array([(i, j) for kk, i, j in mol.bonds if kk == k])) for k in molecule.BOND_TYPES],
        "angles": [(k, np.array([(i, j, l) for kk, i, j, l in mol.angles if kk == k])) for k in molecule.ANGLE_TYPES],
        "dihedrals": [(k, np.array([t[1:] for t in mol.dihedrals if t[0] == k])) for k in molecule.DIHEDRAL_TYPES],
        "pairs": (ii, jj),
        "sig": np.sqrt(sig[ii] * sig[jj]),  # OPLS geometric mixing
        "eps": np.sqrt(eps[ii] * eps[jj]) * scale,
        "qq": COULOMB * mol.charges[ii] * mol.charges[jj] * scale,
    }


def _energy(x, ff: dict, top: dict, nonbonded: bool = True) -> np.ndarray:
    """Energy (kcal/mol) of a batch of geometries x (B, n, 3)."""
    e = np.zeros(x.shape[0])
    for k, idx in top["bonds"]:
        r = np.linalg.norm(x[:, idx[:, 0]] - x[:, idx[:, 1]], axis=-1)
        p = ff["bonds"][k]
        e += (p["k"] * (r - p["r0"]) ** 2).sum(1)
    for k, idx in top["angles"]:
        a, b = x[:, idx[:, 0]] - x[:, idx[:, 1]], x[:, idx[:, 2]] - x[:, idx[:, 1]]
        c = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        th = np.arccos(np.clip(c, -1.0, 1.0))
        p = ff["angles"][k]
        e += (p["k"] * (th - np.radians(p["theta0"])) ** 2).sum(1)
    for k, idx in top["dihedrals"]:
        b1 = x[:, idx[:, 1]] - x[:, idx[:, 0]]
        b2 = x[:, idx[:, 2]] - x[:, idx[:, 1]]
        b3 = x[:, idx[:, 3]] - x[:, idx[:, 2]]
        n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
        m1 = np.cross(n1, b2 / np.linalg.norm(b2, axis=-1, keepdims=True))
        phi = np.arctan2((m1 * n2).sum(-1), (n1 * n2).sum(-1))
        e += _torsion(phi, ff["dihedrals"][k]).sum(1)
    if nonbonded:
        ii, jj = top["pairs"]
        r = np.linalg.norm(x[:, ii] - x[:, jj], axis=-1)
        sr6 = (top["sig"] / r) ** 6
        e += (4 * top["eps"] * (sr6 * sr6 - sr6) + top["qq"] / r).sum(1)
    return e


def _torsion(phi, p: dict) -> np.ndarray:
    """OPLS dihedral energy (LAMMPS dihedral_style opls, K4 = 0); phi in radians, trans = 180°."""
    return 0.5 * (p["k1"] * (1 + np.cos(phi)) + p["k2"] * (1 - np.cos(2 * phi)) + p["k3"] * (1 + np.cos(3 * phi)))


def equilibrium_geometry(ff: dict, steps: int = 400) -> np.ndarray:
    """Minimised coordinates (n, 3) of one molecule under force field ``ff`` (nested statepoint form)."""
    from scipy.optimize import minimize

    top = _topology()
    mol = top["mol"]
    x0 = molecule.drawn_geometry(mol, ff)
    n = x0.size
    h = 1e-5
    eye = np.eye(n) * h

    def fun(v):
        batch = np.concatenate([v[None], v + eye, v - eye]).reshape(2 * n + 1, -1, 3)
        e = _energy(batch, ff, top)
        return e[0], (e[1:n + 1] - e[n + 1:]) / (2 * h)

    res = minimize(fun, x0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": steps, "gtol": 1e-4})
    return res.x.reshape(-1, 3)


def _barrier(p: dict) -> float:
    phi = np.linspace(-np.pi, np.pi, 721)
    v = _torsion(phi, p)
    return float(v.max() - v.min())


def compute(x19) -> np.ndarray:
    """The descriptors (order :data:`NAMES`) of one 19-parameter vector."""
    ff = forcefield.nest(dict(zip(forcefield.PARAMETER_NAMES, map(float, x19))))
    top = _topology()
    mol = top["mol"]
    xyz = equilibrium_geometry(ff)
    m = mol.masses
    com = (m[:, None] * xyz).sum(0) / m.sum()
    d = xyz - com
    gyr = (m[:, None, None] * d[:, :, None] * d[:, None, :]).sum(0) / m.sum()
    lam = np.sort(np.linalg.eigvalsh(gyr))
    rg2 = lam.sum()
    asph = float((lam[2] - 0.5 * (lam[0] + lam[1])) / rg2)
    carbons = np.array([e == "C" for e in mol.elements])
    c = xyz[carbons]
    e2e = float(np.max(np.linalg.norm(c[:, None] - c[None], axis=-1)))
    h_reach = float(np.mean(np.linalg.norm(xyz[~carbons] - c.mean(0), axis=1)))
    strain = float(_energy(xyz[None], ff, top, nonbonded=False)[0])
    vol = molecule.union_volume(xyz, mol.elements, spacing=0.2)  # of the minimised geometry as is
    kr = np.log(ff["bonds"]["CC"]["k"] / ff["bonds"]["CH"]["k"])
    ka = np.log(ff["angles"]["CCC"]["k"] / (0.5 * (ff["angles"]["CCH"]["k"] + ff["angles"]["HCH"]["k"])))
    return np.array([vol, np.sqrt(rg2), asph, e2e, h_reach, strain,
                     *(_barrier(ff["dihedrals"][k]) for k in molecule.DIHEDRAL_TYPES), kr, ka])


def table(X19) -> np.ndarray:
    """Descriptors of every row of X19 (n, 19) -> (n, len(NAMES))."""
    return np.array([compute(x) for x in np.asarray(X19, dtype=float)])
