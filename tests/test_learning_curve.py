"""benchmarks/learning_curve.py: the saturating fit and its extrapolation, on curves with a known answer;
mobcg.descriptors on geometries whose answer is known without the code under test."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("learning_curve", REPO / "benchmarks" / "learning_curve.py")
lc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lc)


def test_fit_recovers_a_known_power_law_and_the_sets_it_needs():
    """R²(n) = 0.95 - 3 n^-0.6: exact points give back (a, b, c); 0.85 is reached at
    (3 / 0.10)^(1 / 0.6) = 290.6 sets, worked out by hand."""
    sizes = np.array([50, 80, 110, 140, 170, 210], float)
    params = lc.fit_curve(sizes, 0.95 - 3.0 * sizes ** -0.6)
    assert params == pytest.approx((0.95, 3.0, 0.6), rel=1e-3)
    assert lc.sets_to_reach(params, 0.85) == pytest.approx(290.6, rel=1e-2)
    assert lc.sets_to_reach((0.84, 3.0, 0.6), 0.85) == math.inf  # asymptote below the goal
    assert lc.sets_to_reach((0.95, 3.0, 0.6), 0.85) == pytest.approx((3.0 / 0.1) ** (1 / 0.6))


def test_bootstrap_brackets_the_true_answer_on_noisy_folds():
    """20 noisy 'folds' of the curve above (noise 0.03 per fold): the bootstrap 16-84 % interval of
    n* contains 290.6; a flat curve at 0.80 is unreachable on the central fit and at least
    practically so (> 1e6 sets) in 84 % of the resamples (a power law with a free exponent can
    always bend upwards a little: this is why the benchmark prints the bootstrap, not n* alone)."""
    rng = np.random.default_rng(1)
    sizes = np.array([50, 80, 110, 140, 170, 210], float)
    R = 0.95 - 3.0 * sizes ** -0.6 + rng.normal(0, 0.03, (20, len(sizes)))
    res = lc.extrapolate(sizes, R, 0.85, n_boot=100)
    assert res["n_star_16"] <= 290.6 <= res["n_star_84"], res
    flat = 0.80 + rng.normal(0, 0.01, (20, len(sizes)))
    res = lc.extrapolate(sizes, flat, 0.85, n_boot=40)
    assert res["n_star"] == math.inf and res["n_star_16"] > 1e6, res


def test_descriptors_of_opls_aa_match_independent_numbers():
    """OPLS-AA: the minimised molecule keeps its C–C bonds near r0 = 1.529 Å and C–C–C angles near
    112.7° (both from forcefield.OPLS_AA, not from the code); its Bondi volume is the drawn-geometry
    volume of molecule.vdw_volume within 3 %; the CCCC barrier of K1 1.3, K2 -0.05, K3 0.2 is the
    max - min of the series on a fine grid done here by hand; the stiffness ratio is log(268 / 340)."""
    from mobcg import descriptors, forcefield, molecule

    ff = forcefield.OPLS_AA
    mol = molecule.build()
    xyz = descriptors.equilibrium_geometry(ff)
    cc = [np.linalg.norm(xyz[i] - xyz[j]) for k, i, j in mol.bonds if k == "CC"]
    assert np.mean(cc) == pytest.approx(1.529, abs=0.02)
    ccc = []
    for k, i, j, l in mol.angles:
        if k == "CCC":
            u, v = xyz[i] - xyz[j], xyz[l] - xyz[j]
            ccc.append(np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v))))
    assert np.mean(ccc) == pytest.approx(112.7, abs=3.0)
    d = dict(zip(descriptors.NAMES, descriptors.compute(forcefield.vector(ff))))
    assert d["volume"] == pytest.approx(molecule.vdw_volume(mol, ff), rel=0.03)
    phi = np.linspace(0, 2 * np.pi, 100001)
    v = 0.5 * (1.3 * (1 + np.cos(phi)) - 0.05 * (1 - np.cos(2 * phi)) + 0.2 * (1 + np.cos(3 * phi)))
    assert d["barrier_CCCC"] == pytest.approx(v.max() - v.min(), abs=2e-3)
    assert d["log_kcc_kch"] == pytest.approx(math.log(268.0 / 340.0))
    # Longer C–C bonds make a bigger molecule: radius of gyration and end-to-end grow with r0_CC.
    flat = forcefield.flatten(ff)
    longer = dict(zip(descriptors.NAMES, descriptors.compute(
        forcefield.vector(forcefield.nest(dict(flat, r0_CC=2.0))))))
    assert longer["rg"] > d["rg"] * 1.15 and longer["end_to_end"] > d["end_to_end"] * 1.2
