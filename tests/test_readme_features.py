"""README features that had no test: `project.py run --parallel`, `dashboard.py run --host --port`,
`init.py --holdout` and `--box`, the IBI progress label of `project.py status`, the demo preset."""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import aggregate, forcefield, presets

REPO = Path(__file__).resolve().parents[1]


def sh(cwd, *args, check=True, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO), SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment")
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture
def project_dir(tmp_path):
    for name in ("project.py", "init.py", "dashboard.py"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_init_holdout_and_box(project_dir):
    """`init.py --n 10 --holdout 0.3 --box box.json`: 10 drawn sets (+ the OPLS-AA reference), 3 of
    them held out (round(0.3 × 10)), the reference never; K_CC and theta0_CCC drawn inside the box
    given, every other parameter inside the published sampling box."""
    (project_dir / "box.json").write_text(json.dumps({"K_CC": [300, 320], "theta0_CCC": [111, 112]}))
    sh(project_dir, "init.py", "--n", "10", "--seed", "7", "--holdout", "0.3", "--box", "box.json",
       "--preset", "tiny")
    jobs_ = list(signac.get_project(project_dir))
    assert len(jobs_) == 11
    drawn = [j for j in jobs_ if not j.doc.get("reference")]
    assert len(drawn) == 10 and sum(bool(j.doc["holdout"]) for j in drawn) == 3
    assert all(not j.doc.get("holdout") for j in jobs_ if j.doc.get("reference"))
    for job in drawn:
        flat = forcefield.flatten(job.sp.forcefield())
        assert 300 <= flat["K_CC"] <= 320 and 111 <= flat["theta0_CCC"] <= 112
        for name, value in flat.items():
            if name not in ("K_CC", "theta0_CCC"):
                lo, hi = forcefield.SAMPLING_BOX[name]
                assert lo <= value <= hi, name
    # they are drawn across the box given, not pinned to one value
    values = [forcefield.flatten(j.sp.forcefield())["K_CC"] for j in drawn]
    assert max(values) - min(values) > 5


def test_status_shows_the_ibi_progress_label(project_dir):
    """While IBI runs (iteration and current deviation in the job document, not yet converged),
    `project.py status` shows the label "ibi 5: 2.3%"; once IBI is done the label is gone."""
    sh(project_dir, "init.py", "--n", "0", "--preset", "tiny")
    (job,) = signac.get_project(project_dir)
    job.doc.update({"ibi_iteration": 5, "ibi_deviation_current": 0.0234})
    out = sh(project_dir, "project.py", "status", "--detailed").stdout
    assert "ibi 5: 2.3 %" in out, out
    job.doc["ibi_converged"] = True
    assert "ibi 5" not in sh(project_dir, "project.py", "status", "--detailed").stdout


def test_demo_preset_is_the_default_and_as_the_readme_says(project_dir):
    """README: `make demo` is `init.py --preset demo`: 48 molecules, runs of at most a few hundred ps,
    every stage present; init.py without --preset uses it (with --n: random sets instead of the
    published ones); project.py status lists its jobs as ready to build."""
    demo = presets.get("demo")
    assert demo["n_molecules"] == 48
    assert {"aa", "ibi", "cg"} <= set(demo)
    for stage in ("aa", "ibi", "cg"):
        runs = {k: v for k, v in demo[stage].items() if k.endswith("_ps")}
        assert runs and all(0 < v <= 800 for v in runs.values()), (stage, runs)  # ps, not ns
    sh(project_dir, "init.py", "--n", "2", "--seed", "1")
    jobs_ = list(signac.get_project(project_dir))
    assert len(jobs_) == 3 and {j.sp.preset for j in jobs_} == {"demo"}
    out = sh(project_dir, "project.py", "status").stdout
    assert "3 jobs/aggregates with eligible operations" in out, out


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_run_with_host_and_port(project_dir):
    """`python dashboard.py run --host 127.0.0.1 --port P` serves this project on that port and prints
    a login URL with a token; the token logs in and the project page shows the project's job count."""
    sh(project_dir, "init.py", "--n", "2", "--seed", "1", "--preset", "tiny")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment",
               PYTHONUNBUFFERED="1")
    server = subprocess.Popen([sys.executable, "dashboard.py", "run", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=project_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                break
            if "/login?token=" in line:
                url = line.strip()
        assert url and url.startswith(f"http://127.0.0.1:{port}/login?token="), url
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        for _ in range(100):  # the server may still be starting
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/project/", timeout=5):
                    pass
            except urllib.error.HTTPError as exc:
                assert exc.code == 401  # up, and login required
                break
            except OSError:
                time.sleep(0.2)
        with opener.open(url, timeout=30) as response:
            assert response.status == 200
        with opener.open(f"http://127.0.0.1:{port}/project/", timeout=60) as response:
            html = response.read().decode()
        assert "Project summary" in html and "3</strong> jobs" in html
    finally:
        server.terminate()
        server.wait(timeout=30)


def _synthetic_finished_project(project_dir):
    """8 jobs as the per-job pipeline leaves them (no LAMMPS): alpha, RDFs, IBI potential, markers."""
    from mobcg import aa, cg
    from test_concurrency import fake_finished_job

    project = signac.init_project(project_dir)
    rng = np.random.default_rng(3)
    for i, ff in enumerate(forcefield.sample(8, seed=5)):
        job = fake_finished_job(project, ff, i, rng)
        for name in (aa.DATA, aa.EQUILIBRATED, aa.TRAJECTORY, cg.TRAJECTORY):  # the per-job markers
            Path(job.fn(name)).touch()
        job.doc.update({"ibi_converged": True, "density": 0.72 + 0.001 * i, "D_CG_err": 0.1, "ibi_deviation": 0.01})
    return project


def test_run_parallel_runs_what_is_eligible(project_dir):
    """`project.py run --parallel` (flow's process pool) on a project whose per-job pipelines have
    ended: it runs the eligible aggregate operation (here limited to build_datasets, the one that needs
    no model training) and leaves datasets built from all 8 jobs (the whole chain: the slow test below)."""
    project = _synthetic_finished_project(project_dir)
    sh(project_dir, "project.py", "run", "--parallel", "-o", "build_datasets", timeout=600)
    ids = sorted(j.id for j in project)
    summary = json.loads((project_dir / "analysis" / "datasets.json").read_text())
    assert summary["ids"] == ids and summary["fingerprint"] == aggregate.datasets_fingerprint(ids)
    assert not (project_dir / "analysis" / "models.json").exists()  # -o build_datasets: nothing else ran


@pytest.mark.slow
def test_run_parallel_builds_datasets_models_and_report(project_dir):
    """The whole aggregate chain under `run --parallel`: datasets, models and the report of those
    models; status then has nothing left (slow: trains the model ensembles)."""
    project = _synthetic_finished_project(project_dir)
    out = sh(project_dir, "project.py", "run", "--parallel", timeout=1200)
    analysis = project_dir / "analysis"
    ids = sorted(j.id for j in project)
    summary = json.loads((analysis / "datasets.json").read_text())
    assert summary["ids"] == ids and summary["fingerprint"] == aggregate.datasets_fingerprint(ids)
    assert aggregate.models_up_to_date(analysis, ids)
    assert aggregate.report_fingerprint(analysis) == aggregate.models_fingerprint(analysis)
    text = (analysis / "report.md").read_text()
    for job in project:
        assert f"{job.doc['alpha']:.2f}" in text
    status = sh(project_dir, "project.py", "status").stdout
    assert "0 jobs/aggregates with eligible operations" in status, (out.stdout, status)
