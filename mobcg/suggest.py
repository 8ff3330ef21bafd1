"""Active learning: the parameter sets where the models are least certain, as new jobs.

Acquisition function: a(x) = sum over D_AA, D_CG and alpha (the models of the 19 parameters, D_AA
being unknown before a run) of the GP posterior variance of the transformed target at x, divided by
its prior variance (so each target weighs the same and a(x) lies in [0, 3]). The GPs are the shipped
published-data models (mobcg/published.py) conditioned on the published sets and on every parameter
set already in the project, finished or not: a GP's variance needs no label, so pending jobs already
count and are not suggested twice. A batch is picked greedily, each pick conditioning the next.
Candidates: ``n_candidates`` sets drawn uniformly in the sampling box (2 decimals, as ``sample``).

Idempotent: the jobs an earlier call with the same seed and models fingerprint suggested are left
out of the conditioning set, so the same call picks the same sets and signac finds them existing.
"""

from __future__ import annotations

import numpy as np

from . import forcefield, published

TARGETS = ("D_AA", "D_CG", "alpha")
N_CANDIDATES = 2000
SUGGEST_STREAM = 7  # candidates use their own random stream: not the sets `init.py --n` draws with the same seed


def _project_vectors(root, fingerprint: str, seed: int) -> list[np.ndarray]:
    import signac
    try:
        project = signac.get_project(root, search=False)
    except LookupError:
        return []
    out = []
    for job in project:
        if job.doc.get("suggested_by") == fingerprint and job.doc.get("suggest_seed") == seed:
            continue
        try:
            out.append(forcefield.vector(job.sp.forcefield()))
        except (forcefield.ForceFieldError, KeyError, AttributeError, TypeError, ValueError):
            continue  # a broken statepoint is the job's failure, not the suggestion's
    return out


def suggest(n: int, seed: int, box: dict, root=".", planned=(), n_candidates: int = N_CANDIDATES,
            models=None) -> list[tuple[dict, dict]]:
    """n (force field, job-document entries) pairs; ``planned``: statepoints about to be created."""
    pm = models if models is not None else published.load()
    fp = pm.fingerprint
    known = _project_vectors(root, fp, seed)
    known += [forcefield.vector(sp["forcefield"]) for sp in planned]
    candidates = forcefield.sample(n_candidates, [seed, SUGGEST_STREAM], box)
    C = np.array([forcefield.vector(ff) for ff in candidates])
    extra = np.array(known) if known else None
    picks, values = published.select_batch([pm.models[t] for t in TARGETS], C, n, extra=extra)
    return [(candidates[i], {"suggested_by": fp, "suggest_seed": seed, "acquisition": round(v, 6)})
            for i, v in zip(picks, values)]
