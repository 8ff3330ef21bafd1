"""dashboard.py: pages render (Flask test client) and look like something (Chromium)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tempfile
import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO

from dashboard import make_dashboard
from mobcg.dashboard_modules import job_stage, project_summary

# analysis/models.json as mobcg.aggregate writes it
MODELS = {"fingerprint": "be65cb1c0824", "dataset": "0bd113660e93",
          "models": {"structure": {"file": "models/structure.joblib", "n": 40, "r2": 0.931,
                                   "rmse": 0.12},
                     "mobility": {"note": "no mobility-preserving pairs: not trained"},
                     "alpha": {"n": 40, "r2": 0.812, "rmse": 0.4,
                               "learning_curve": {"note": "too few"}}},
          "n_train": 40, "versions": {"numpy": "2.4.6", "sklearn": "1.9.1"}}


def _flow_project(project):
    """The stand-in's FlowProject (FlowStatus needs labels), loaded from its project.py."""
    spec = importlib.util.spec_from_file_location(
        f"standin_{abs(hash(project.path))}", os.path.join(project.path, "project.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Project.get_project(project.path)


@pytest.fixture
def results_project(standin_project):
    """4 jobs: 2 through CG (alpha), 1 through IBI, 1 failed; rdf.png; models.json."""
    project = standin_project(n_jobs=4, results=True)
    analysis = Path(project.path) / "analysis"
    analysis.mkdir()
    (analysis / "models.json").write_text(json.dumps(MODELS))
    return _flow_project(project)


@pytest.fixture
def client(results_project):
    dash = make_dashboard(results_project, config={"ACCESS_TOKEN": None})
    return dash.app.test_client()


# -- data functions ------------------------------------------------------------------------


def test_project_summary_counts(results_project):
    s = project_summary(results_project)
    assert s["n_jobs"] == 4
    assert s["stages"] == {"new": 0, "AA analysed": 0, "IBI done": 1, "CG analysed": 2,
                           "failed": 1}
    assert s["failure_reasons"] == {"lost atoms in equilibrate_aa": 1}
    assert s["alpha"]["n"] == 2 and s["alpha"]["min"] == pytest.approx(3.0)
    assert s["models"] == MODELS
    assert job_stage({}) == "new"
    assert job_stage({"D_AA": 1, "alpha": 2, "failed": True}) == "failed"


# -- Flask test client ---------------------------------------------------------------------


def test_home_redirects_to_project_summary(client, results_project):
    r = client.get("/", follow_redirects=True)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for text in ("Project summary", "4</strong> jobs", "CG analysed", "IBI done",
                 "lost atoms in equilibrate_aa", "alpha-histogram", "data:image/png;base64",
                 "structure", "R² 0.93", "mobility", "no mobility-preserving pairs",
                 "n_train: 40", "sklearn 1.9.1", "Project Schema", "replica",
                 "forcefield.bonds.CC.k", "float: 268.0, 278.0, 288.0, 298.0",
                 "float: 298.15"):
        assert text in html, text
    assert "defaultdict" not in html  # signac-dashboard 0.7.0's Schema card does that
    assert "<td>fingerprint</td>" not in html  # models.json's metadata is not a model


def test_job_page_shows_results_labels_document_and_figure(client, results_project):
    job = next(j for j in results_project if j.sp.replica == 0)
    r = client.get(f"/jobs/{job.id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for text in ("Results", "CG analysed", "D_AA", "1e-9 m²/s", "± 0.1",  # JobResults
                 "Flow Status", "build_aa", "analyze_aa", "completed",    # operations
                 "built", "analyzed",                                     # flow labels
                 "Statepoint Parameters", "2,3,4-trimethylpentane",       # statepoint
                 "Job Document", "ibi_converged",                         # document
                 f"/jobs/{job.id}/file/rdf.png"):                         # ImageViewer
        assert text in html, text
    png = client.get(f"/jobs/{job.id}/file/rdf.png")
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_job_page_and_job_list(client, results_project):
    failed = next(j for j in results_project if j.doc.get("failed"))
    html = client.get(f"/jobs/{failed.id}").get_data(as_text=True)
    assert "failed: lost atoms in equilibrate_aa" in html
    r = client.get("/jobs/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "replica 0 · CG analysed · α=3" in html  # MobcgDashboard.job_title


def test_without_models_or_flow_project(standin_project):
    """A plain signac project, nothing computed yet: still renders."""
    project = standin_project(n_jobs=2, name="plain")
    client = make_dashboard(project, config={"ACCESS_TOKEN": None}).app.test_client()
    html = client.get("/project/").get_data(as_text=True)
    assert "no models trained yet" in html and "no job has alpha yet" in html
    job = next(iter(project))
    r = client.get(f"/jobs/{job.id}")
    assert r.status_code == 200 and "no results yet" in r.get_data(as_text=True)


def test_login_is_on_by_default(results_project):
    client = make_dashboard(results_project).app.test_client()
    r = client.get("/project/")
    assert r.status_code == 401  # signac-dashboard answers 401 without the token


# -- the real project.py on a tiny real project --------------------------------------------

AA_OPS = ("build_aa", "equilibrate_aa", "sample_aa", "analyze_aa")


@pytest.fixture(scope="module")
def real_project(tmp_path_factory):
    """init.py --n 0 --preset tiny (the OPLS-AA reference) + the AA stage, run for real, once."""
    root = tmp_path_factory.mktemp("real")
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, root / name)
    env = dict(os.environ, SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    for args in (["init.py", "--n", "0", "--preset", "tiny"],
                 ["project.py", "run", "-o", *AA_OPS]):
        proc = subprocess.run([sys.executable, *args], cwd=root, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{args}:\n{proc.stdout}\n{proc.stderr}"
    spec = importlib.util.spec_from_file_location("real_project_py", root / "project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Project.get_project(str(root))


def test_real_project_pages(real_project):
    client = make_dashboard(real_project, config={"ACCESS_TOKEN": None}).app.test_client()
    (job,) = real_project
    assert "D_AA" in job.doc
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    for text in ("AA analysed", "D_AA", "1e-9 m²/s", "Flow Status", *AA_OPS, "run_ibi",
                 "build_datasets", "all 1 jobs", "OPLS-AA reference"):
        assert text in html, text
    # the AA stage is completed, IBI is next, the aggregate operations wait for it
    assert "<td>analyze_aa</td><td>completed</td>" in html
    assert "<td>run_ibi</td><td>eligible</td>" in html
    assert "<td>build_datasets</td><td>not eligible</td>" in html
    html = client.get("/project/").get_data(as_text=True)
    for text in ("1</strong> jobs", "AA analysed", "Workflow status", "train_models",
                 "write_report", "no models trained yet", "forcefield.bonds.CC.k"):
        assert text in html, text


# -- headless Chromium screenshot ----------------------------------------------------------


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_dashboard(results_project):
    from werkzeug.serving import make_server

    dash = make_dashboard(results_project, config={"ACCESS_TOKEN": None})
    server = make_server("127.0.0.1", _free_port(), dash.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def test_dashboard_screenshot_is_not_blank(served_dashboard, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed; run `.ci/slurm.sh install-all` "
                    "(Debian package 'chromium') to enable the screenshot test")
    import matplotlib.image
    import numpy as np

    shot = tmp_path / "dashboard.png"
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1280,900",
           f"{served_dashboard}/project/"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), f"no screenshot (rc {r.returncode}):\n{r.stderr[-3000:]}"

    img = matplotlib.image.imread(str(shot))  # floats in [0, 1], (H, W, 3 or 4)
    assert img.shape[:2] == (900, 1280)
    rgb = img[..., :3]
    assert rgb.std() > 0.05, "screenshot is (nearly) uniform"
    assert (rgb < 0.95).any(axis=-1).mean() > 0.02, "screenshot is (nearly) all white"
    # styled, not bare HTML: the dark blue-grey sidebar (CSS) and the blue histogram
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert (saturation > 0.08).mean() > 0.05, "hardly any colour: CSS missing?"
    assert (rgb.mean(axis=-1) < 0.35).mean() > 0.05, "no dark sidebar: CSS missing?"

    if os.environ.get("MOBCG_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "dashboard.png")


# -- does every card hold its content? (headless Chromium measures) ------------------------

# What a 4-job demo leaves: 4 training jobs, CV R² below 0, IBI stopped at its iteration limit.
DEMO_MODELS = {"fingerprint": "3f1c0a9be2d4", "dataset": "9d2e41c07b11", "n_train": 4,
               "versions": {"numpy": "2.4.6", "scikit-learn": "1.9.1", "scipy": "1.16.3"},
               "models": {"structure": {"file": "models/structure.joblib", "n_samples": 4, "rmse": 0.2134,
                                        "rmse_mean_baseline": 0.1987, "n": 4, "k": 4},
                          "mobility": {"note": "no mobility-preserving pairs among the training jobs "
                                               "(tol 0.3, r² ≥ 0.9): not trained"},
                          **{t: {"file": f"models/{t}.joblib", "r2": -1.7342, "mae": 0.8123, "n": 4, "k": 4,
                                 "y": [1.0, 2.0, 3.0, 4.0], "pred": [2.0, 2.0, 2.0, 2.0],
                                 "learning_curve": {"note": "too few training jobs (4) for a learning curve"}}
                             for t in ("alpha", "D_CG", "D_AA")}}}

# analysis/report.md as mobcg.report writes it (its two wide tables)
DEMO_REPORT = """# mobcg project report

Preset(s): demo — **demo-grade numbers**: tiny boxes, picosecond runs; not comparable with the published ones.

## Data space

- jobs: 6; finished (alpha known): 5; failed: 1

| job | reference | holdout | density g/cm³ | D_AA 1e-9 m²/s | D_CG 1e-9 m²/s | alpha | IBI dev. |
| --- | --- | --- | --- | --- | --- | --- | --- |
""" + "".join(f"| `{i}f3a9c2{i}` | {'yes' if i == 0 else ''} | {'yes' if i == 4 else ''} | 0.7{i}1 | "
              f"1{i}.23 ± 0.45 | 10{i}.21 ± 1.34 | 8.{i}7 | 2.{i} % |\n" for i in range(5)) + """
## Models (k-fold cross-validation on the training jobs)

| model | samples | score |
| --- | --- | --- |
| structure | 4 | RMSE 0.213 kcal/mol (predict-the-mean: 0.199) |
| mobility |  | no mobility-preserving pairs among the training jobs (tol 0.3, r² ≥ 0.9): not trained |
| alpha | 4 | R² -1.73, MAE 0.812 |

<!-- models 3f1c0a9be2d4 -->
"""

# Runs in the page after layout: every table, image and preformatted block against its card's content box.
MEASURE_JS = """
<script>
window.addEventListener('load', () => {
  const out = [];
  document.querySelectorAll('.card').forEach(card => {
    const content = card.querySelector('.card-content');
    if (!content) return;
    const box = content.getBoundingClientRect();
    const style = getComputedStyle(content);
    const right = box.right - parseFloat(style.paddingRight);
    const title = (card.querySelector('.card-header-title') || {}).textContent || '';
    content.querySelectorAll('table, img, pre').forEach(el => {
      const r = el.getBoundingClientRect();
      out.push({card: title.trim(), tag: el.tagName, width: Math.round(r.width), right: Math.round(r.right),
                card_right: Math.round(right), card_width: Math.round(box.width),
                text: (el.innerText || el.alt || '').slice(0, 40)});
    });
  });
  const warnings = [...document.querySelectorAll('.mobcg-warning')].map(e => e.innerText);
  const pre = document.createElement('pre');
  pre.id = 'mobcg-measure';
  pre.textContent = JSON.stringify({window: window.innerWidth, elements: out, warnings: warnings});
  document.body.appendChild(pre);
});
</script>
"""


def measure(chromium, url, tmp_path, width=1400):
    """Load `url` in headless Chromium at `width` px with MEASURE_JS added; its measurements."""
    import html as html_lib
    import re
    import urllib.request

    page = urllib.request.urlopen(url, timeout=30).read().decode()
    base = url.split("/", 3)[:3]
    page = page.replace("<head>", f'<head><base href="{"/".join(base)}/">', 1)
    page = page.replace("</body>", MEASURE_JS + "</body>", 1)
    local = tmp_path / "page.html"
    local.write_text(page)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},900",
           "--virtual-time-budget=10000", "--dump-dom", local.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="mobcg-measure">(.*?)</pre>', r.stdout, re.S)
    assert found, f"no measurement (rc {r.returncode}):\n{r.stderr[-3000:]}"
    return json.loads(html_lib.unescape(found.group(1)))


def test_dashboard_cards_hold_their_tables_at_1400px(served_dashboard, results_project, tmp_path):
    """The model table and the report's job table fit their cards (no column cut at the edge), and
    a 4-job demo's scores and IBI line come with their warnings."""
    if _chromium() is None:
        pytest.skip("chromium not installed (Debian package 'chromium', .ci/install-debian.sh)")
    analysis = Path(results_project.path) / "analysis"
    (analysis / "models.json").write_text(json.dumps(DEMO_MODELS))
    (analysis / "report.md").write_text(DEMO_REPORT)
    for job in results_project:  # as the demo preset leaves them: IBI at its iteration limit
        if "ibi_converged" in job.doc:
            job.doc["ibi_converged"] = False
    found = measure(_chromium(), f"{served_dashboard}/project/", tmp_path)
    assert found["window"] == 1400
    elements = found["elements"]
    cards = {e["card"] for e in elements}
    assert {"Project summary", "Report (analysis/report.md)"} <= cards, cards
    spilled = [e for e in elements if e["right"] > e["card_right"] + 1]
    assert not spilled, "out of their cards:\n" + "\n".join(map(str, spilled))
    report_job_table = next(e for e in elements if e["tag"] == "TABLE" and e["text"].startswith("job"))
    assert report_job_table["card_width"] > 1000  # a full-width card, not half of the row
    warnings = " | ".join(found["warnings"])
    assert "only 4 training job(s)" in warnings and "worse than predicting the mean" in warnings, warnings
    assert "IBI stopped short of its tolerance (at its iteration limit, or stalled: no longer improving) in 3 job(s)" in warnings, warnings


# -- the numbers themselves: formatted values with units and errors, counts, the report ---------------


def test_job_page_shows_each_value_formatted_with_its_unit_and_error(client, results_project):
    """The Results card's rows, exactly: 4 significant digits, "± err" where the document has one,
    the unit. The raw job-document card shows the unformatted numbers, so these rows can only come
    from the Results card."""
    job = next(j for j in results_project if j.sp.replica == 0)
    job.doc.update({"density": 0.72345678, "D_AA": 2.345678, "D_AA_err": 0.0456789, "ibi_iterations": 13,
                    "ibi_deviation": 0.00812345, "ibi_converged": True, "D_CG": 14.56789, "D_CG_err": 0.345678,
                    "D_AA_inf": 2.9876543, "D_AA_inf_err": 0.2345678, "eta_AA": 0.5123456, "eta_AA_err": 0.1012345,
                    "alpha": 14.56789 / 2.345678, "alpha_err": 0.71234567})
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    for label, value, unit in (("AA density", "0.7235", "g/cm³"), ("D_AA as measured", "2.346 ± 0.04568", "1e-9 m²/s"),
                               ("D_AA in an infinite box (Yeh–Hummer, own viscosity)", "2.988 ± 0.2346", "1e-9 m²/s"),
                               ("AA shear viscosity (Green–Kubo)", "0.5123 ± 0.1012", "mPa·s"),
                               ("IBI iterations", "13", ""), ("IBI RDF deviation", "0.008123", "fraction"),
                               ("IBI converged", "True", ""), ("D_CG as measured", "14.57 ± 0.3457", "1e-9 m²/s"),
                               ("alpha = D_CG / D_AA (infinite box)", "6.211 ± 0.7123", "")):
        assert f"<tr><td>{label}</td><td>{value}</td><td>{unit}</td></tr>" in html, label


def test_project_page_counts_operations_of_a_project_in_a_known_state(client, results_project):
    """The stand-in project: replicas 0-2 have density and D_AA (both operations completed), replica 3
    failed before either (build_aa eligible, analyze_aa waiting for it). Counted by hand: build_aa
    3 completed / 1 eligible / 0 not eligible; analyze_aa 3 / 0 / 1."""
    html = client.get("/project/").get_data(as_text=True)
    assert "<tr><td>build_aa</td><td>3</td><td>1</td><td>0</td><td>per job</td></tr>" in html
    assert "<tr><td>analyze_aa</td><td>3</td><td>0</td><td>1</td><td>per job</td></tr>" in html
    # one more job's density: the counts follow
    job = next(j for j in results_project if j.sp.replica == 3)
    job.doc["density"] = 0.7
    html = client.get("/project/").get_data(as_text=True)
    assert "<tr><td>build_aa</td><td>4</td><td>0</td><td>0</td><td>per job</td></tr>" in html
    assert "<tr><td>analyze_aa</td><td>3</td><td>1</td><td>0</td><td>per job</td></tr>" in html


def test_project_page_shows_the_reports_text(client, results_project):
    """analysis/report.md's headings, sentences, list items and table cells appear on the project page."""
    (Path(results_project.path) / "analysis" / "report.md").write_text(
        "# mobcg project report\n\nPreset(s): tiny — **demo-grade numbers**.\n\n## Data space\n\n"
        "- jobs: 4; finished (alpha known): 2; failed: 1\n\n"
        "| job | alpha |\n| --- | --- |\n| `0123abcd` | 6.21 |\n\n<!-- models be65cb1c0824 -->\n")
    html = client.get("/project/").get_data(as_text=True)
    assert "Report (analysis/report.md)" in html
    for text in ("mobcg project report</h4>", "<strong>demo-grade numbers</strong>", "<h5 class='title is-6'>Data space</h5>",
                 "<li>jobs: 4; finished (alpha known): 2; failed: 1</li>", "<td><code>0123abcd</code></td><td>6.21</td>"):
        assert text in html, text
    assert "be65cb1c0824 --" not in html  # the fingerprint comment is not text
