"""forcefield: the 19 parameters, their box and their checks, value by value and message by message
(issue 14: these tests are what kills mutmut's mutants of mobcg/forcefield.py)."""

import re

import numpy as np
import pytest

from mobcg import forcefield as ff
from mobcg.forcefield import ForceFieldError

OPLS = ff.flatten(ff.OPLS_AA)
# the published OPLS-AA numbers, typed in again from Jorgensen et al. 1996 (LAMMPS convention)
OPLS_BY_HAND = [268.0, 1.529, 340.0, 1.09, 58.35, 112.7, 37.5, 110.7, 33.0, 107.8,
                1.3, -0.05, 0.2, 0.0, 0.0, 0.3, 0.0, 0.0, 0.3]


def exact(message):
    return "^" + re.escape(message) + "$"


def test_flatten_and_vector_give_the_19_published_numbers_in_model_order():
    assert list(OPLS) == ff.PARAMETER_NAMES
    assert len(ff.PARAMETER_NAMES) == 19
    assert list(OPLS.values()) == OPLS_BY_HAND
    v = ff.vector(ff.OPLS_AA)
    assert v.dtype == np.float64 and v.tolist() == OPLS_BY_HAND
    whole = {g: {k: {p: 1 for p in params} for k, params in kinds.items()} for g, kinds in ff.OPLS_AA.items()}
    assert ff.vector(whole).dtype == np.float64  # integer statepoint values too


@pytest.mark.parametrize("broken, message", [
    ({"bonds": {"CC": {"k": 1.0}}}, "force field lacks bonds.CC.r0 (r0_CC)"),
    ({}, "force field lacks bonds.CC.k (K_CC)"),
    ({"bonds": None}, "force field lacks bonds.CC.k (K_CC)"),
])
def test_flatten_names_the_first_missing_entry(broken, message):
    with pytest.raises(ForceFieldError, match=exact(message)):
        ff.flatten(broken)


def test_nest_is_the_inverse_of_flatten_with_native_floats():
    flat = dict(OPLS) | {"K_CC": 300, "theta0_HCH": 105.5}
    nested = ff.nest(flat)
    assert nested["bonds"]["CC"]["k"] == 300.0 and type(nested["bonds"]["CC"]["k"]) is float
    assert nested["angles"]["HCH"]["theta0"] == 105.5
    assert ff.flatten(nested) == {**OPLS, "K_CC": 300.0, "theta0_HCH": 105.5}
    assert ff.OPLS_AA["bonds"]["CC"]["k"] == 268.0  # the template is copied, not changed


@pytest.mark.parametrize("change, message", [
    ({"K_CC": None}, "missing parameter(s): K_CC"),
    ({"K_CC": None, "K3_HCCH": None}, "missing parameter(s): K_CC, K3_HCCH"),
    ({"zz": 1.0, "aa": 2.0}, "unknown parameter(s): aa, zz"),
    ({"K_CC": "268"}, "K_CC = '268' is not a number"),
    ({"r0_CH": True}, "r0_CH = True is not a number"),
])
def test_nest_refuses_incomplete_unknown_or_non_numeric_sets(change, message):
    flat = {k: v for k, v in (dict(OPLS) | change).items() if v is not None}
    with pytest.raises(ForceFieldError, match=exact(message)):
        ff.nest(flat)


def test_validate_returns_the_flat_set_of_a_sane_force_field():
    assert ff.validate(ff.OPLS_AA) == OPLS
    # the limits themselves: theta0 just inside (0, 180), constants just above 0
    edge = ff.nest(OPLS | {"theta0_CCC": 179.99, "theta0_CCH": 0.01, "K_HCH": 1e-9, "r0_CC": 1e-9})
    assert ff.validate(edge)["theta0_CCC"] == 179.99


@pytest.mark.parametrize("name, value, message", [
    ("K_CC", float("nan"), "here: K_CC = nan is not a finite number"),
    ("K_CC", float("inf"), "here: K_CC = inf is not a finite number"),
    ("K_CC", "1", "here: K_CC = '1' is not a finite number"),
    ("K_CH", True, "here: K_CH = True is not a finite number"),
    ("K_CCC", 0.0, "here: K_CCC = 0.0 must be a positive force constant"),
    ("K_HCH", -1.0, "here: K_HCH = -1.0 must be a positive force constant"),
    ("r0_CC", 0.0, "here: r0_CC = 0.0 Å must be positive"),
    ("r0_CH", -0.1, "here: r0_CH = -0.1 Å must be positive"),
    ("theta0_CCC", 0.0, "here: theta0_CCC = 0.0° must lie in (0, 180)"),
    ("theta0_HCH", 180.0, "here: theta0_HCH = 180.0° must lie in (0, 180)"),
])
def test_validate_names_the_bad_value_and_where(name, value, message):
    bad = ff.nest(OPLS)
    group, kind, key = ff.PARAMETERS[name]
    bad[group][kind][key] = value
    with pytest.raises(ForceFieldError, match=exact(message)):
        ff.validate(bad, where="here")


def test_validate_default_place_and_negative_dihedrals_are_fine():
    bad = ff.nest(OPLS | {"K1_CCCC": -2.0, "K2_CCCC": 0.0})
    assert ff.validate(bad)["K1_CCCC"] == -2.0
    bad["bonds"]["CC"]["k"] = -1.0
    with pytest.raises(ForceFieldError, match=exact("force field: K_CC = -1.0 must be a positive force constant")):
        ff.validate(bad)


def test_check_near_box_accepts_one_box_width_out_and_refuses_beyond():
    box = ff.SAMPLING_BOX
    # K_CC box [20, 1000], width 980: allowed up to 1980 and down to 0 (validate wants > 0)
    ff.check_near_box(OPLS | {"K_CC": 1980.0, "theta0_CCC": 210.0, "K1_CCCC": -6.0}, box, "w")
    ff.check_near_box(OPLS | {"K1_HCCH": 6.0, "r0_CH": 0.0 + 1e-9}, box, "w")
    with pytest.raises(ForceFieldError, match=exact(
            "w: K_CC = 1980.01 lies more than one box width (980) outside the sampling box [20, 1000] "
            "(allowed 0 to 1980); a unit mix-up?")):
        ff.check_near_box(OPLS | {"K_CC": 1980.01}, box, "w")
    with pytest.raises(ForceFieldError, match=exact(
            "w: theta0_CCC = 210.1 lies more than one box width (70) outside the sampling box [70, 140] "
            "(allowed 0 to 180); a unit mix-up?")):
        ff.check_near_box(OPLS | {"theta0_CCC": 210.1}, box, "w")
    with pytest.raises(ForceFieldError, match=exact(
            "w: K2_CCCH = -6.5 lies more than one box width (4) outside the sampling box [-2, 2] "
            "(allowed -6 to 6); a unit mix-up?")):
        ff.check_near_box(OPLS | {"K2_CCCH": -6.5}, box, "w")
    with pytest.raises(ForceFieldError, match=exact(
            "w: r0_CH = 3.1 lies more than one box width (1.2) outside the sampling box [0.6, 1.8] "
            "(allowed 0 to 3); a unit mix-up?")):
        ff.check_near_box(OPLS | {"r0_CH": 3.1}, box, "w")
    # a user's own (narrow) box: the allowance is still one *published* box width
    narrow = dict(box) | {"K_CH": (300.0, 400.0)}
    ff.check_near_box(OPLS | {"K_CH": 1380.0}, narrow, "w")
    with pytest.raises(ForceFieldError, match=exact(
            "w: K_CH = 1381 lies more than one box width (980) outside the sampling box [300, 400] "
            "(allowed 0 to 1380); a unit mix-up?")):
        ff.check_near_box(OPLS | {"K_CH": 1381.0}, narrow, "w")
    far = dict(box) | {"K_CH": (3000.0, 4000.0), "theta0_CCC": (10.0, 20.0)}
    with pytest.raises(ForceFieldError, match=exact(
            "w: K_CH = 340 lies more than one box width (980) outside the sampling box [3000, 4000] "
            "(allowed 2020 to 4980); a unit mix-up?")):
        ff.check_near_box(OPLS, far, "w")
    with pytest.raises(ForceFieldError, match=exact(
            "w: theta0_CCC = 112.7 lies more than one box width (70) outside the sampling box [10, 20] "
            "(allowed -60 to 90); a unit mix-up?")):
        ff.check_near_box(OPLS | {"K_CH": 3500.0}, far, "w")


def test_validate_box_returns_float_pairs_in_parameter_order():
    box = {k: [int(lo), int(hi)] if k.startswith("K_") else (lo, hi)
           for k, (lo, hi) in reversed(ff.SAMPLING_BOX.items())}
    out = ff.validate_box(box)
    assert list(out) == ff.PARAMETER_NAMES
    assert out["K_CC"] == (20.0, 1000.0) and type(out["K_CC"][0]) is float
    assert out == ff.SAMPLING_BOX
    ff.validate_box(dict(ff.SAMPLING_BOX) | {"K_CC": (5.0, 5.0)})  # a point is a box


@pytest.mark.parametrize("change, message", [
    ({"K_CC": None}, "sampling box: missing ['K_CC'] / unknown []"),
    ({"x": (1, 2)}, "sampling box: missing [] / unknown ['x']"),
    ({"K_CC": 5.0}, "sampling box: K_CC = 5.0 is not a (lower, upper) pair"),
    ({"K_CC": ("a", 1.0)}, "sampling box: K_CC = ('a', 1.0) is not a (lower, upper) pair"),
    ({"K_CC": (1.0, 2.0, 3.0)}, "sampling box: K_CC = (1.0, 2.0, 3.0) is not a (lower, upper) pair"),
    ({"K_CC": (1.0, float("inf"))}, "sampling box: K_CC = (1.0, inf) is not finite"),
    ({"K_CC": (float("nan"), 1.0)}, "sampling box: K_CC = (nan, 1.0) is not finite"),
    ({"K_CC": (30.0, 20.0)}, "sampling box: K_CC lower 30.0 > upper 20.0"),
    ({"K_CC": (0.0, 20.0)}, "sampling box K_CC: K_CC = 0.0 must be a positive force constant"),
    ({"theta0_CCH": (90.0, 181.0)}, "sampling box theta0_CCH: theta0_CCH = 181.0° must lie in (0, 180)"),
])
def test_validate_box_names_what_is_wrong(change, message):
    box = {k: v for k, v in (dict(ff.SAMPLING_BOX) | change).items() if v is not None}
    with pytest.raises(ForceFieldError, match=exact(message)):
        ff.validate_box(box)


def test_sample_draws_uniformly_in_the_box_rounded_to_two_decimals():
    sets = ff.sample(400, seed=11)
    assert len(sets) == 400 and ff.sample(0, seed=1) == []
    flat = np.array([list(ff.flatten(s).values()) for s in sets])
    lo = np.array([ff.SAMPLING_BOX[p][0] for p in ff.PARAMETER_NAMES])
    hi = np.array([ff.SAMPLING_BOX[p][1] for p in ff.PARAMETER_NAMES])
    assert np.all(flat >= lo) and np.all(flat <= hi)
    assert np.allclose(flat, np.round(flat, 2), atol=1e-12, rtol=0)
    # uniform: mean (lo + hi) / 2 within 4 standard errors, standard deviation (hi - lo) / √12
    width = hi - lo
    assert np.all(np.abs(flat.mean(0) - (lo + hi) / 2) < 4 * width / np.sqrt(12 * 400))
    assert np.allclose(flat.std(0), width / np.sqrt(12), rtol=0.12)
    # reproducible from the seed, the same numpy draws as by hand
    expected = np.round(np.random.default_rng(11).uniform(lo, hi, size=(400, 19)), 2)
    assert np.array_equal(flat, expected)
    assert ff.sample(3, seed=11) != ff.sample(3, seed=12)


def test_sample_in_a_user_box_and_with_other_rounding():
    box = dict(ff.SAMPLING_BOX) | {"K_CC": (300.0, 300.5)}
    sets = ff.sample(50, seed=2, box=box, decimals=0)
    values = [s["bonds"]["CC"]["k"] for s in sets]
    assert set(values) <= {300.0} | {301.0} and 300.0 in values
    with pytest.raises(ForceFieldError, match=exact("number of parameter sets n = -1 must be >= 0")):
        ff.sample(-1, seed=0)
    with pytest.raises(ForceFieldError, match=re.escape("sampling box: K_CC lower 2.0 > upper 1.0")):
        ff.sample(1, seed=0, box=dict(ff.SAMPLING_BOX) | {"K_CC": (2.0, 1.0)})


def test_check_model_input_gives_one_row_of_19_or_one_clear_error():
    mid = {k: 0.5 * (lo + hi) for k, (lo, hi) in ff.SAMPLING_BOX.items()}
    x = ff.check_model_input(mid)
    assert x.shape == (1, 19) and x[0].tolist() == [mid[k] for k in ff.PARAMETER_NAMES]
    # the box edges are inside; OPLS-AA itself (K_CC = 268 is inside, r0 fine) is accepted
    edges = {k: lo for k, (lo, hi) in ff.SAMPLING_BOX.items()}
    assert ff.check_model_input(edges)[0].tolist() == [edges[k] for k in ff.PARAMETER_NAMES]
    upper = {k: hi for k, (lo, hi) in ff.SAMPLING_BOX.items()}
    assert ff.check_model_input(upper)[0].tolist() == [upper[k] for k in ff.PARAMETER_NAMES]
    assert ff.check_model_input(OPLS, where="p")[0].tolist() == OPLS_BY_HAND
    with pytest.raises(ForceFieldError, match=exact("p: expected a JSON object with the 19 parameters")):
        ff.check_model_input([1.0] * 19, where="p")
    with pytest.raises(ForceFieldError, match=exact("parameters: missing parameter(s): K_CC")):
        ff.check_model_input({k: v for k, v in mid.items() if k != "K_CC"})
    with pytest.raises(ForceFieldError, match=exact("p: K_CC = -1.0 must be a positive force constant")):
        ff.check_model_input(mid | {"K_CC": -1.0}, where="p")
    with pytest.raises(ForceFieldError, match=exact("p: K_CC = 1000.5 lies outside the trained box [20.0, 1000.0]")):
        ff.check_model_input(mid | {"K_CC": 1000.5}, where="p")
    with pytest.raises(ForceFieldError, match=exact("p: theta0_HCH = 69.0 lies outside the trained box [70.0, 140.0]")):
        ff.check_model_input(mid | {"theta0_HCH": 69.0}, where="p")
