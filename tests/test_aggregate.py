"""Aggregate stages on a tiny real project: datasets, models, validation, report, predict → LAMMPS."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import aggregate, forcefield, tables

REPO = Path(__file__).resolve().parents[1]
LMP = str(Path(sys.executable).parent / "lmp")


def sh(cwd, *args):
    # module-scoped fixtures run before conftest's function-scoped environment pinning: set it here
    env = dict(os.environ, PYTHONPATH=str(REPO), SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment")
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def finished_project(tmp_path_factory):
    """OPLS-AA + three mild variations, tiny preset, one held out; the whole pipeline run once."""
    root = tmp_path_factory.mktemp("aggregate")
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, root / name)
    opls = forcefield.flatten(forcefield.OPLS_AA)
    variations = [{"K_CC": 200.0, "K3_CCCC": 0.5}, {"theta0_CCC": 115.0, "K2_CCCC": 0.3},
                  {"K_CH": 300.0, "K3_HCCH": 0.1}]
    params = []
    for k, change in enumerate(variations):
        (root / f"set{k}.json").write_text(json.dumps(opls | change))
        params += ["--params", f"set{k}.json"]
    sh(root, "init.py", "--n", "0", "--preset", "tiny", *params)
    project = signac.get_project(root)
    held = next(iter(project.find_jobs({"forcefield.bonds.CH.k": 300.0})))
    held.doc["holdout"] = True
    sh(root, "project.py", "run")
    return project


def test_datasets_have_the_finished_jobs_and_right_shapes(finished_project):
    analysis = Path(finished_project.path) / "analysis"
    summary = json.loads((analysis / "datasets.json").read_text())
    done = sorted(j.id for j in finished_project if aggregate.finished(j))
    assert len(done) >= 3, [j.doc() for j in finished_project]
    assert summary["ids"] == done and summary["n_holdout"] == 1
    data = aggregate.load_datasets(analysis)
    n, m = len(done), len(data["r"])
    assert data["X"].shape == (n, 19) and data["U"].shape == (n, m) and data["rdf_aa"].shape == data["rdf_cg"].shape
    assert data["r"][0] == pytest.approx(5.0) and np.allclose(np.diff(data["r"]), 0.01)
    for i, job_id in enumerate(data["ids"]):
        job = finished_project.open_job(id=str(job_id))
        assert np.allclose(data["X"][i], forcefield.vector(job.sp.forcefield()))
        assert data["alpha"][i] == pytest.approx(job.doc["alpha"])
    for i, j in data["pairs"]:  # pairs respect the tolerances
        assert i != j and abs(data["D_CG"][j] / data["D_AA"][i] - 1) <= summary["pairing"]["tol"]


def test_models_validation_and_report_come_from_this_run(finished_project):
    analysis = Path(finished_project.path) / "analysis"
    models_json = json.loads((analysis / "models.json").read_text())
    assert models_json["dataset"] == json.loads((analysis / "datasets.json").read_text())["fingerprint"]
    assert {"structure", "alpha", "D_CG", "D_AA"} <= set(models_json["models"])
    held = [j for j in finished_project if j.doc.get("holdout") and aggregate.finished(j)]
    for job in held:
        assert job.doc["validated_with"] == models_json["fingerprint"]
        assert np.isfinite(job.doc["alpha_pred_structure"]) and job.doc["rdf_r2_structure"] <= 1
    text = (analysis / "report.md").read_text()
    for job in finished_project:
        if aggregate.finished(job):
            assert f"{job.doc['alpha']:.2f}" in text
    status = sh(finished_project.path, "project.py", "status").stdout
    assert "0 jobs/aggregates with eligible operations" in status


def test_predict_writes_tables_that_plain_lammps_reads(finished_project, tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps(forcefield.flatten(forcefield.OPLS_AA) | {"K_CC": 250.0}))
    proc = sh(finished_project.path, "-m", "mobcg", "predict", str(params), "--out", str(tmp_path / "out"))
    assert "alpha =" in proc.stdout
    result = json.loads((tmp_path / "out" / "prediction.json").read_text())
    table = tables.read_lammps(tmp_path / "out" / "structure_potential.table")
    assert np.allclose(tables.read_csv(tmp_path / "out" / "structure_potential.csv").U, table.U, atol=1e-6)
    r_cut = float(table.r[-1])
    (tmp_path / "in.read").write_text(f"""units real
atom_style atomic
region box block 0 40 0 40 0 40
create_box 1 box
create_atoms 1 single 10 10 10
create_atoms 1 single 17 10 10
mass 1 114.232
pair_style table spline 5000
pair_coeff 1 1 out/structure_potential.table structure_potential {r_cut}
thermo_style custom step pe
run 0
""")
    subprocess.run([LMP, "-in", "in.read", "-log", "log.read", "-screen", "none"], cwd=tmp_path, check=True)
    pe = [l for l in (tmp_path / "log.read").read_text().splitlines() if l.strip().startswith("0 ")][-1].split()[1]
    assert float(pe) == pytest.approx(table.evaluate(7.0)[0], abs=1e-3)
    assert result["alpha"] > 0 and result["alpha_std"] >= 0


def test_mobility_model_trains_on_pairs_and_predicts_a_table(tmp_path):
    """Synthetic finished jobs (no LAMMPS) built so that D_CG(k) = D_AA(k + 1): the pairing finds
    (k + 1, k), the mobility-preserving model trains on them, and predict writes its table."""
    from test_concurrency import fake_finished_job

    project = signac.init_project(tmp_path / "project")
    rng = np.random.default_rng(3)
    for i, ff in enumerate(forcefield.sample(8, seed=5)):
        job = fake_finished_job(project, ff, i, rng)
        job.doc["D_CG"] = 1.0 + 0.1 * (i + 1)
        job.doc["alpha"] = job.doc["D_CG"] / job.doc["D_AA"]
    analysis = tmp_path / "analysis"
    summary = aggregate.build_datasets(list(project), analysis)
    data = aggregate.load_datasets(analysis)
    assert summary["n_pairs"] >= 4
    for i, j in data["pairs"]:
        assert abs(data["D_CG"][j] / data["D_AA"][i] - 1) <= summary["pairing"]["tol"]
    trained = aggregate.train_models(analysis)
    assert trained["models"]["mobility"]["n_samples"] == summary["n_pairs"]
    params = forcefield.flatten(project.open_job(id=str(data["ids"][0])).sp.forcefield())
    result = aggregate.predict(params, analysis, tmp_path / "out")
    mobility = tables.read_lammps(result["tables"]["mobility"]["lammps"])
    assert np.all(np.isfinite(mobility.U)) and mobility.U[-1] == 0.0
