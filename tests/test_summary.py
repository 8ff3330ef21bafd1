"""The answer at the end: `python -m mobcg summary` (and --csv), `project.py status` labels and footer,
`make demo`'s last step. Job documents as the real stages leave them; no LAMMPS needed."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import signac

from mobcg import forcefield, summary
from mobcg.init import statepoint

REPO = Path(__file__).resolve().parents[1]

# (document, expected status label) for each place a job can stand
STAGES = {
    "new": ({"holdout": False}, None),
    "aa done": ({"density": 0.7213, "D_AA": 2.1, "D_AA_err": 0.2}, "aa 0.72 g/cm³"),
    "ibi running": ({"density": 0.72, "D_AA": 2.1, "D_AA_err": 0.2, "ibi_iteration": 5,
                     "ibi_deviation_current": 0.0234}, "ibi 5: 2.3 %"),
    "ibi done": ({"density": 0.72, "D_AA": 2.1, "D_AA_err": 0.2, "ibi_iterations": 15, "ibi_deviation": 0.0312,
                  "ibi_converged": False}, "ibi 15: 3.1 %"),
    "finished": ({"density": 0.7213, "density_err": 0.0041, "density_converged": True, "density_steady": False, "D_AA": 2.1, "D_AA_err": 0.2, "D_AA_diffusive": True,
                  "D_AA_inf": 2.55, "D_AA_inf_err": 0.25, "eta_AA": 0.52, "eta_AA_err": 0.11,
                  "ibi_iterations": 15, "ibi_deviation": 0.0312, "ibi_converged": False, "D_CG": 12.81,
                  "D_CG_err": 0.4, "D_CG_inf": 15.56, "D_CG_inf_err": 0.45, "eta_CG": 0.12, "eta_CG_err": 0.01,
                  "D_CG_diffusive": False, "alpha": 6.1, "alpha_err": 0.6, "alpha_raw": 6.1, "reference": True},
                 "alpha 6.1"),
    "failed": ({"failed": True, "failed_stage": "equilibrate_aa",
                "failure_reason": "job {id}: LAMMPS failed in equilibrate_aa.0.in after 3 s: ERROR: Lost atoms"},
               "failed: equilibrate_aa: Lost atoms"),
}


@pytest.fixture
def project(tmp_path):
    shutil.copy(REPO / "project.py", tmp_path / "project.py")
    project = signac.init_project(tmp_path)
    ids = {}
    for i, (name, (doc, _)) in enumerate(STAGES.items()):
        job = project.open_job(statepoint(forcefield.OPLS_AA, "tiny", replica=i)).init()
        job.doc.update({k: v.format(id=job.id) if isinstance(v, str) else v for k, v in doc.items()})
        ids[name] = job.id
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    (analysis / "models.json").write_text(json.dumps({"n_train": 3, "models": {
        "structure": {"n_samples": 3, "rmse": 0.31, "rmse_mean_baseline": 0.25},
        "alpha": {"r2": -0.8, "mae": 1.2}, "D_AA": {"r2": 0.5, "mae": 0.1}}}))
    (analysis / "report.md").write_text("# report\n")
    return project, ids


def test_labels_say_where_a_job_stands(project):
    project, ids = project
    for name, (_, expected) in STAGES.items():
        job = project.open_job(id=ids[name])
        assert summary.label(job.doc(), job.id) == expected, name


def _run(cwd, *args):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_summary_table_scores_and_where(project):
    project, ids = project
    out = _run(project.path, "-m", "mobcg", "summary")
    lines = out.splitlines()
    row = {name: next(line for line in lines if line.startswith(ids[name][:8])) for name in STAGES}
    cells = re.split(r"\s{2,}", row["finished"])
    # the infinite-box D and each model's viscosity; the raw D are in the CSV
    assert cells == [ids["finished"][:8], "reference", "0.721 ± 0.004", "yes", "NO", "2.55 ± 0.25", "0.52 ± 0.11",
                     "yes", "3.1 %", "15", "NO", "15.56 ± 0.45", "0.12 ± 0.01", "NO", "6.10 ± 0.60"]
    # absent flags and values are '-', never a guess (an AA analysis from before the viscosities: no D_AA ∞)
    assert re.split(r"\s{2,}", row["aa done"])[1:7] == ["training", "0.721 ± -", "-", "-", "-", "-"]
    assert row["failed"].endswith("equilibrate_aa: LAMMPS failed in equilibrate_aa.0.in after 3 s: ERROR: Lost atoms")
    assert lines[0].startswith("6 jobs: 1 finished (alpha known), 1 failed, 4 not finished")
    # then the scores, with the warnings a 3-job project needs, and where to look
    assert "alpha      R² -0.80, MAE 1.2" in out
    assert "WARNING: only 3 training job(s)" in out
    assert "WARNING: structure, alpha: cross-validated predictions worse than predicting the mean" in out
    assert f"Report:    {Path(project.path).resolve() / 'analysis' / 'report.md'}" in out
    assert "python dashboard.py run" in out


def test_summary_csv_holds_the_same_rows(project, tmp_path):
    project, ids = project
    text = _run(project.path, "-m", "mobcg", "summary")
    on_stdout = _run(project.path, "-m", "mobcg", "summary", "--csv")
    _run(project.path, "-m", "mobcg", "summary", "--csv", str(tmp_path / "out.csv"))
    assert (tmp_path / "out.csv").read_text() == on_stdout
    rows = list(csv.DictReader(io.StringIO(on_stdout)))
    assert [r["job"][:8] for r in rows] == [line[:8] for line in text.splitlines()[4:4 + len(rows)]]
    finished = next(r for r in rows if r["job"] == ids["finished"])
    assert (finished["density"], finished["density_err"], finished["density_steady"], finished["D_CG"],
            finished["alpha"], finished["D_CG_diffusive"]) == ("0.7213", "0.0041", "False", "12.81", "6.1", "False")
    assert (finished["D_AA"], finished["D_AA_inf"], finished["eta_AA"], finished["D_CG_inf"]) == ("2.1", "2.55", "0.52", "15.56")
    assert next(r for r in rows if r["job"] == ids["aa done"])["density_converged"] == ""
    assert next(r for r in rows if r["job"] == ids["failed"])["failure_reason"].endswith("ERROR: Lost atoms")


def test_status_shows_the_labels_and_ends_with_scores(project):
    project, ids = project
    out = _run(project.path, "project.py", "status", "--detailed")
    for name, (_, expected) in STAGES.items():
        if expected:
            assert any(line.startswith(ids[name]) and expected in line for line in out.splitlines()), (name, out)
    tail = out[out.index("Models (k-fold"):].splitlines()
    assert "WARNING: only 3 training job(s)" in tail[4] and tail[-1].startswith("Table:"), tail
    json.loads(_run(project.path, "project.py", "status", "--json"))  # no footer in machine-readable output


def test_make_demo_ends_with_the_summary():
    recipe = (REPO / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0].strip().splitlines()
    assert recipe[-1].rstrip().endswith("-m mobcg summary"), recipe
