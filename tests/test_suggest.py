"""`init.py --suggest N`: valid jobs inside the box where the models are least certain, idempotent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import signac

from mobcg import forcefield, published, suggest

REPO = Path(__file__).resolve().parents[1]


def _init(root, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "init.py", "--preset", "tiny", *args], cwd=root,
                          capture_output=True, text=True, env=env)


def test_suggest_creates_valid_jobs_in_the_box_idempotently(tmp_path):
    shutil.copy(REPO / "init.py", tmp_path / "init.py")
    proc = _init(tmp_path, "--suggest", "3", "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    project = signac.get_project(tmp_path)
    fp = published.load().fingerprint
    suggested = [j for j in project if j.doc.get("suggested_by")]
    assert len(suggested) == 3 and len(project) == 4  # + the unmodified OPLS-AA reference (--n 0 implied)
    for job in suggested:
        assert job.doc["suggested_by"] == fp and job.doc["suggest_seed"] == 5 and job.doc["holdout"] is False
        flat = forcefield.validate(job.sp.forcefield(), where=job.id)
        for name, value in flat.items():
            lo, hi = forcefield.SAMPLING_BOX[name]
            assert lo <= value <= hi, (name, value)
        assert job.sp.preset == "tiny" and 0 < job.doc["acquisition"] <= 3
    ids = {j.id for j in project}

    again = _init(tmp_path, "--suggest", "3", "--seed", "5")
    assert again.returncode == 0 and "0 new job(s)" in again.stdout, again.stdout
    assert {j.id for j in signac.get_project(tmp_path)} == ids

    other = _init(tmp_path, "--suggest", "2", "--seed", "6")
    assert "2 new job(s)" in other.stdout, other.stdout


def test_suggestions_are_where_the_models_are_least_certain():
    """The first pick has the highest acquisition among the candidates; a pending job lowers the
    acquisition near it, so the same call with it present picks elsewhere."""
    models = published.load()
    picks = suggest.suggest(2, 0, forcefield.SAMPLING_BOX, root="/nonexistent", models=models)
    assert picks[0][1]["acquisition"] >= picks[1][1]["acquisition"] > 0
    cands = forcefield.sample(suggest.N_CANDIDATES, [0, suggest.SUGGEST_STREAM])
    C = np.array([forcefield.vector(ff) for ff in cands])
    acq = sum(models.models[t].posterior_variance(C) for t in suggest.TARGETS)
    assert picks[0][1]["acquisition"] == np.round(acq.max(), 6)
    planned = [{"forcefield": picks[0][0]}]
    moved = suggest.suggest(1, 0, forcefield.SAMPLING_BOX, root="/nonexistent", planned=planned, models=models)
    assert moved[0][0] != picks[0][0]


def test_suggest_beside_the_demo_draw_of_published_sets(tmp_path):
    """`init.py --preset demo --suggest 1`: the reference, the three published sets, one suggestion."""
    shutil.copy(REPO / "init.py", tmp_path / "init.py")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "init.py", "--preset", "demo", "--suggest", "1"], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    project = signac.get_project(tmp_path)
    assert len(project) == 5
    assert sum("published" in j.doc for j in project) == 3 and sum("suggested_by" in j.doc for j in project) == 1
