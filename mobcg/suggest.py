"""Active learning: the parameter sets where the models are least certain and that give a liquid, as new jobs.

Acquisition function: a(x) = P_liquid(x) · sum over D_AA, D_CG and alpha (the models of the 19
parameters, D_AA being unknown before a run) of the GP posterior variance of the transformed target at
x, divided by its prior variance (so each target weighs the same and a(x) lies in [0, 3]). The GPs are
the shipped published-data models (mobcg/published.py) conditioned on the published sets and on every
parameter set already in the project, finished or not: a GP's variance needs no label, so pending jobs
already count and are not suggested twice. A batch is picked greedily, each pick conditioning the next.
Candidates: ``n_candidates`` sets drawn uniformly in the sampling box (2 decimals, as ``sample``).

Why P_liquid: the variance alone is largest where the published sets are missing, which is where drawn
sets give no liquid (long bonds: the authors kept the sets that did), so a variance-only batch is mostly
sets that fail in a minute and teach no model anything. ``liquid_probability`` estimates the chance.

Idempotent: the jobs an earlier call with the same seed and models fingerprint suggested are left
out of the conditioning set, so the same call picks the same sets and signac finds them existing.
"""

from __future__ import annotations

import functools

import numpy as np

from . import forcefield, published

TARGETS = ("D_AA", "D_CG", "alpha")
N_CANDIDATES = 2000
SUGGEST_STREAM = 7  # candidates use their own random stream: not the sets `init.py --n` draws with the same seed
# Share of uniform draws from the published box that are liquids under the campaign protocol: 8 of the 19
# random draws among the first 20 jobs of data/campaign-2026-12 (benchmarks/README.md, issue 22).
LIQUID_SHARE = 8 / 19
N_BACKGROUND = 5000  # uniform draws the published sets are told apart from
BACKGROUND_SEED = 8


def liquid_probability(X: np.ndarray) -> np.ndarray:
    """P(liquid) for rows of the 19 parameters (PARAMETER_NAMES order) drawn in the published box.

    The authors drew their sets uniformly in this box and kept those that gave a usable liquid, so the
    density of their 234 sets relative to uniform, r(x), is the chance of a liquid up to a constant. r
    comes from a random forest telling the published sets from uniform draws (balanced classes: r =
    p / (1 - p)), normalised so that its mean over uniform draws is 1; P = min(1, LIQUID_SHARE · r).
    Checked on our own outcomes (tests/test_suggest.py): the campaign's first 19 random draws, of which
    the 8 liquids get a mean P of 0.58 and the 11 others 0.17 (ROC AUC 0.955)."""
    ratio, lo, hi = _density_ratio()
    return np.minimum(1.0, LIQUID_SHARE * ratio((np.atleast_2d(np.asarray(X, dtype=float)) - lo) / (hi - lo)))


@functools.lru_cache(maxsize=1)
def _density_ratio():
    """(r of rows scaled to the unit box, the box's lower and upper bounds); fitted once per process
    (seconds; deterministic, so a second fit would give the same forest)."""
    from sklearn.ensemble import RandomForestClassifier

    from . import datasets

    lo, hi = (np.array([forcefield.SAMPLING_BOX[p][k] for p in forcefield.PARAMETER_NAMES]) for k in (0, 1))
    rng = np.random.default_rng(BACKGROUND_SEED)
    uniform, normaliser = rng.uniform(size=(N_BACKGROUND, len(lo))), rng.uniform(size=(N_BACKGROUND, len(lo)))
    kept = (datasets.load_reference_systems().X - lo) / (hi - lo)
    forest = RandomForestClassifier(n_estimators=200, min_samples_leaf=10, class_weight="balanced",
                                    random_state=BACKGROUND_SEED)
    forest.fit(np.vstack([kept, uniform]), np.r_[np.ones(len(kept)), np.zeros(len(uniform))])

    def odds(A):
        p = forest.predict_proba(A)[:, 1]
        return p / np.maximum(1.0 - p, 1e-6)

    mean = odds(normaliser).mean()
    return (lambda A: odds(A) / mean), lo, hi


def _project_vectors(root, fingerprint: str, seed: int) -> list[np.ndarray]:
    import signac
    try:
        project = signac.get_project(root, search=False)
    except LookupError:
        return []
    out = []
    for job in project:
        if job.doc.get("suggested_by") == fingerprint and job.doc.get("suggest_seed") == seed \
                and "liquid_probability" in job.doc:  # (one suggested without it is another call's set)
            continue
        try:
            out.append(forcefield.vector(job.sp.forcefield()))
        except (forcefield.ForceFieldError, KeyError, AttributeError, TypeError, ValueError):
            continue  # a broken statepoint is the job's failure, not the suggestion's
    return out


def suggest(n: int, seed: int, box: dict, root=".", planned=(), n_candidates: int = N_CANDIDATES,
            models=None, weigh_liquids: bool = True) -> list[tuple[dict, dict]]:
    """n (force field, job-document entries) pairs; ``planned``: statepoints about to be created.
    ``weigh_liquids`` False: the GP variance alone (as before 2026-12-07; benchmarks/suggest_liquids.py)."""
    pm = models if models is not None else published.load()
    fp = pm.fingerprint
    known = _project_vectors(root, fp, seed)
    known += [forcefield.vector(sp["forcefield"]) for sp in planned]
    candidates = forcefield.sample(n_candidates, [seed, SUGGEST_STREAM], box)
    C = np.array([forcefield.vector(ff) for ff in candidates])
    extra = np.array(known) if known else None
    liquid = liquid_probability(C)
    picks, values = published.select_batch([pm.models[t] for t in TARGETS], C, n, extra=extra,
                                           weight=liquid if weigh_liquids else None)
    return [(candidates[i], {"suggested_by": fp, "suggest_seed": seed, "acquisition": round(v, 6),
                             "liquid_probability": round(float(liquid[i]), 3)})
            for i, v in zip(picks, values)]
