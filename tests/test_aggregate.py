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

from mobcg import aggregate, cg, forcefield, ibi, tables
from mobcg.molecule import DEFAULT, molar_mass

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
    (root / "run.out").write_text(sh(root, "project.py", "run").stdout)
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
        # IBI's warm start learns from the PMF and the bead density: the density times the molar mass is the
        # production's measured density (g/cm³; box_AA is the production's mean box, density its mean), and
        # the PMF is -kT ln g of the AA RDF where that is sampled, shifted to 0 at r_cut as IBI's start
        assert data["rho"][i] * molar_mass(DEFAULT) / 0.602214076 == pytest.approx(job.doc["density"], rel=0.02)
        rdf = np.loadtxt(job.fn("rdf_aa.txt"))
        # (the PMF is switched off over 1 Å at r_cut)
        at = rdf[(rdf[:, 1] > 0.05) & (rdf[:, 0] >= 5.0) & (rdf[:, 0] < data["r"][-1] - 1.0)]
        assert len(at) > 10
        shift = np.interp(at[:, 0], data["r"], data["U_pmf"][i]) + ibi.KB * 298.15 * np.log(at[:, 1])
        assert np.ptp(shift) < 0.1  # (read back between the 0.01 Å grid's points: kinks; -kT ln g spans 1.4)
    for i, j in data["pairs"]:  # pairs respect the tolerances
        assert i != j and abs(data["D_CG"][j] / data["D_AA"][i] - 1) <= summary["pairing"]["tol"]


def test_models_validation_and_report_come_from_this_run(finished_project):
    analysis = Path(finished_project.path) / "analysis"
    models_json = json.loads((analysis / "models.json").read_text())
    assert models_json["dataset"] == json.loads((analysis / "datasets.json").read_text())["fingerprint"]
    assert {"structure", "alpha", "D_CG", "D_AA"} <= set(models_json["models"])
    start = models_json["models"]["ibi_start"]  # IBI's warm start for new jobs, from every training job
    assert start["n"] == models_json["n_train"] == 3 and (analysis / start["file"]).exists()
    assert aggregate.warm_start(analysis).n == 3
    assert (f"| ibi_start | 3 | IBI's start: leave-one-out RMSE {start['loo_rmse']:.3f} kcal/mol from the converged "
            f"tables (the PMF alone: {start['pmf_rmse']:.3f}) |") in (analysis / "report.md").read_text()
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
    # structure and mobility in one model: the predicted DPD friction over the structure table, a fragment
    # that plain LAMMPS runs (the training jobs matched theirs: match_mobility ran in the pipeline)
    trained = [j.doc["dpd_gamma"] for j in finished_project if "dpd_gamma" in j.doc and not j.doc.get("holdout")]
    assert len(trained) >= 2 and min(trained) / 3 < result["dpd_gamma"] < 3 * max(trained)
    assert f"DPD friction gamma = " in proc.stdout and "structure_dpd.in" in proc.stdout
    fragment = (tmp_path / "out" / "structure_dpd.in").read_text()
    assert f"pair_coeff      1 1 dpd/tstat {result['dpd_gamma']:.6g} " in fragment
    (tmp_path / "out" / "in.dpd").write_text("units real\natom_style atomic\nregion box block 0 40 0 40 0 40\n"
                                             "create_box 1 box\ncreate_atoms 1 random 50 7 NULL overlap 5.0\n"
                                             "mass 1 114.232\ninclude structure_dpd.in\nvelocity all create 298.15 3\n"
                                             "fix 1 all nve\ntimestep 1.0\nrun 100\n")
    subprocess.run([LMP, "-in", "in.dpd", "-log", "log.dpd", "-screen", "none"], cwd=tmp_path / "out", check=True)


def test_mobility_model_trains_on_pairs_and_predicts_a_table(tmp_path):
    """Synthetic finished jobs (no LAMMPS) built so that D_CG(k) = D_AA(k + 1) = 1.5^(k + 1): with
    neighbours 1.5 apart the pairing (tol 0.2) finds exactly the seven pairs (AA system k + 1, CG model
    k). The mobility-preserving model maps an AA system's parameters to the potential of the CG model
    that reproduces its mobility; here CG model k's well deepens linearly with the log of the AA mobility
    that the published-data model predicts for job k + 1 (eight sets ≥ 0.5 apart in it, well depths
    0.3-1.8 kcal/mol), so predict at job k + 1's parameters (a training point) must write job k's IBI
    potential: within 0.02 kcal/mol RMS (measured: < 1e-5), where any two jobs' potentials differ by 0.08
    or more. Pairs read the wrong way round (parameters of k -> potential of k + 1) give another job's
    potential there instead."""
    from test_concurrency import fake_finished_job

    from mobcg import models
    project = signac.init_project(tmp_path / "project")
    rng = np.random.default_rng(3)
    r = np.arange(0.05, 9.0, 0.1)
    pool = forcefield.sample(60, seed=5)
    f = np.log(models._published_d_aa().predict(np.array([forcefield.vector(ff) for ff in pool])))
    chosen = [int(np.argmin(f))]
    for i in np.argsort(f):  # ascending, each ≥ 0.5 above the last chosen
        if f[i] >= f[chosen[-1]] + 0.5 and len(chosen) < 8:
            chosen.append(int(i))
    assert len(chosen) == 8
    ids = []
    for k, i in enumerate(chosen):
        job = fake_finished_job(project, pool[i], k, rng)
        partner = f[chosen[k + 1]] if k < 7 else f[i] + 0.5  # the AA system whose mobility this CG model has
        U = np.where(r < 4.5, 5.0, 0.0) - (0.3 + 0.4 * (partner - f[chosen[1]])) * np.exp(-(r - 6) ** 2)
        tables.export_all(cg.potential_table(r, U, 9.0, grid=tables.PAPER_GRID, whole=True), job.path, cg.POTENTIAL)
        job.doc.update({"D_AA": 1.5 ** k, "D_CG": 1.5 ** (k + 1), "alpha": 1.5})
        ids.append(job.id)
    analysis = tmp_path / "analysis"
    summary = aggregate.build_datasets(list(project), analysis)
    data = aggregate.load_datasets(analysis)
    row = {str(job_id): i for i, job_id in enumerate(data["ids"])}
    expected = {(row[ids[k + 1]], row[ids[k]]) for k in range(7)}
    assert summary["n_pairs"] == 7 and {tuple(p) for p in data["pairs"].tolist()} == expected
    trained = aggregate.train_models(analysis)
    assert trained["models"]["mobility"]["n_samples"] == 7
    rms = lambda a, b: float(np.sqrt(np.mean((a - b) ** 2)))  # noqa: E731
    assert min(rms(data["U"][i], data["U"][k]) for i in range(8) for k in range(i)) > 0.08  # the test has teeth
    for k in range(7):
        params = forcefield.flatten(project.open_job(id=ids[k + 1]).sp.forcefield())
        result = aggregate.predict(params, analysis, tmp_path / "out" / str(k))
        r_table, U_table = _csv(result["tables"]["mobility"]["csv"])
        assert U_table[-1] == 0.0  # simulation-ready: zero at the cut-off
        predicted = np.interp(data["r"], r_table, U_table)
        assert rms(predicted, data["U"][row[ids[k]]]) <= 0.02, k


# -- values, not shapes: each row is its own job's, validation simulates, predict answers its model --


def _csv(path):
    """A cg_potential.csv read with numpy alone (independent of mobcg.tables): r, U."""
    a = np.loadtxt(path, delimiter=",", skiprows=1)
    return a[:, 0], a[:, 1]


def test_datasets_pair_each_parameter_set_with_its_own_potential_and_rdfs(finished_project):
    """Row i of X, U, rdf_aa, rdf_cg, D_AA, D_CG is job ids[i]'s: compared value by value with the job's
    own files (read with numpy, interpolated linearly) -- a row shifted to another job, or the AA and
    CG RDFs swapped, differs by far more than the tolerance (checked: the jobs' curves differ)."""
    analysis = Path(finished_project.path) / "analysis"
    data = aggregate.load_datasets(analysis)
    n = len(data["ids"])
    for i, job_id in enumerate(data["ids"]):
        job = finished_project.open_job(id=str(job_id))
        assert np.array_equal(data["X"][i], forcefield.vector(job.sp.forcefield()))
        r, U = _csv(job.fn("cg_potential.csv"))
        assert np.allclose(data["U"][i], np.interp(data["r"], r, U), atol=2e-3), job_id  # kcal/mol
        aa = np.loadtxt(job.fn("rdf_aa.txt"))
        cg_ = np.loadtxt(job.fn("rdf_cg.txt"))
        assert np.allclose(data["rdf_aa"][i], np.interp(data["r_rdf"], aa[:, 0], aa[:, 1]), atol=1e-6)
        assert np.allclose(data["rdf_cg"][i], np.interp(data["r_rdf"], cg_[:, 0], cg_[:, 1]), atol=1e-6)
        # one convention: the infinite-box D of both models (Yeh–Hummer with each one's own viscosity)
        assert (data["D_AA"][i], data["D_CG"][i]) == (job.doc["D_AA_inf"], job.doc["D_CG_inf"])
        assert data["alpha"][i] == job.doc["alpha"] == pytest.approx(job.doc["D_CG_inf"] / job.doc["D_AA_inf"])
        assert bool(data["holdout"][i]) == bool(job.doc.get("holdout", False))
    # the check has teeth: any two jobs' potentials and RDFs differ by more than its tolerances,
    # and each job's AA and CG RDFs differ too (a swap would be seen)
    for i in range(n):
        assert np.max(np.abs(data["rdf_aa"][i] - data["rdf_cg"][i])) > 1e-3
        for k in range(i + 1, n):
            assert np.max(np.abs(data["U"][i] - data["U"][k])) > 1e-2
            assert np.max(np.abs(data["rdf_aa"][i] - data["rdf_aa"][k])) > 1e-3


class FixedPotentialModel:
    """A stand-in potential model that predicts one given potential U (on its grid) for any input,
    saved with mobcg.models.save so that validation loads it as it loads a trained model."""

    def __init__(self, U):
        self.U = np.asarray(U, float)

    def predict(self, X):
        return np.repeat(self.U[None, :], len(X), axis=0), np.zeros((len(X), len(self.U)))


def _r2(target, other):
    """Coefficient of determination of `other` as a prediction of `target`, written out here."""
    return 1 - np.sum((target - other) ** 2) / np.sum((target - target.mean()) ** 2)


def _validate_with(job, tmp_path, name, U_of_r):
    """aggregate.validate of a clone of `job` with a stand-in structure model predicting U_of_r."""
    from mobcg import models
    project = signac.init_project(tmp_path / name)
    clone = project.clone(job)
    for key in [k for k in clone.doc if k.startswith(("rdf_r2", "alpha_pred", "D_CG_pred", "validat"))]:
        del clone.doc[key]
    analysis = tmp_path / name / "analysis"
    grid = np.round(np.arange(aggregate.R_MIN, float(job.doc["ibi_r_cut"]) - aggregate.DR / 2, aggregate.DR), 4)
    models.save(FixedPotentialModel(U_of_r(grid)), analysis / "models" / "structure.joblib", {"grid": grid.tolist()})
    (analysis / "models.json").write_text(json.dumps({"fingerprint": name}))
    results = aggregate.validate(clone, analysis)
    return clone, results


def test_validation_simulates_and_scores_the_exact_potential_high_and_a_wrong_one_low(finished_project, tmp_path):
    """Validation with the job's own IBI potential as the "prediction" must reproduce the job's CG
    structure (r² vs the AA RDF high, like the job's own CG run); the same potential shrunk by 20 %
    in r (beads effectively smaller at the same density) must score low (measured: exact 0.98-0.99, wrong
    -0.1 to 0.56 depending on the IBI potential it is made from: its run is far from the AA structure). Both run LAMMPS: the run
    folder holds its input, log (a finished run) and trajectory, and r² recomputed here from that
    trajectory with freud agrees with the recorded one."""
    import freud

    from mobcg.lammps import trajectory
    job = next(j for j in finished_project if aggregate.finished(j) and j.doc.get("holdout"))
    r_csv, U_csv = _csv(job.fn("cg_potential.csv"))
    aa = np.loadtxt(job.fn("rdf_aa.txt"))
    own = np.loadtxt(job.fn("rdf_cg.txt"))
    n_own = min(len(own), len(aa))
    r2_own = _r2(aa[:n_own, 1], np.interp(aa[:n_own, 0], own[:, 0], own[:, 1]))
    scores = {}
    for name, stretch in (("exact", 1.0), ("wrong", 0.8)):
        clone, results = _validate_with(job, tmp_path, name, lambda r: np.interp(r / stretch, r_csv, U_csv))
        run = Path(clone.fn("validate_structure"))
        log = run / "cg_nvt.0.log"
        assert (run / "cg_nvt.0.in").is_file() and "Loop time" in log.read_text()
        assert clone.doc["validated_with"] == name
        t, pos, boxes = trajectory.read_gsd(run / "cg_com.gsd")
        dr = aa[1, 0] - aa[0, 0]
        r_max = min(aa[-1, 0] + dr / 2, 0.499 * boxes[-1].min())
        rdf = freud.density.RDF(bins=int(round(r_max / dr)), r_max=r_max)
        for k in range(len(pos)):  # every production frame, as validate does
            rdf.compute((freud.box.Box.cube(boxes[k][0]), (pos[k] % boxes[k][0]) - boxes[k][0] / 2), reset=False)
        m = len(rdf.bin_centers)
        scores[name] = _r2(aa[:m, 1], rdf.rdf)
        print(name, results, "own", r2_own, "freud", scores[name])
        assert results["rdf_r2_structure"] == pytest.approx(scores[name], abs=0.05)
        # alpha of the prediction in the datasets' convention: infinite-box D of both models, the
        # predicted CG model's with its own Green–Kubo viscosity from this run
        assert results["eta_CG_pred_structure"] > 0
        assert results["alpha_pred_structure"] == pytest.approx(results["D_CG_pred_structure"] / job.doc["D_AA_inf"])
    assert scores["exact"] > 0.9 and scores["exact"] == pytest.approx(r2_own, abs=0.05)
    assert scores["wrong"] < 0.75 and scores["exact"] - scores["wrong"] > 0.2


def test_predict_on_a_training_point_returns_its_values_within_the_stated_error(tmp_path):
    """Synthetic finished jobs (no LAMMPS): alpha ≈ 6, D_CG = alpha D_AA in 5.8-10.7, D_AA in 1.0-1.7,
    three ranges that a prediction taken from the wrong model would leave. On each training point,
    predict returns the job's alpha, D_CG and D_AA within the model's stated error, its cross-validated
    MAE in models.json (measured here: 0.22, 1.7, 0.29; actual training-point errors <= 2 %), and
    the structure potential within three times the model's cross-validated RMSE of the job's IBI
    potential (measured: 0.08-2.05 times; the wells follow the predicted AA mobility but for 0.01 i
    kcal/mol, so the model fits the training points up to that; most pairs of jobs differ by 0.03-0.3)."""
    from test_concurrency import fake_finished_job

    project = signac.init_project(tmp_path / "project")
    rng = np.random.default_rng(3)
    for i, ff in enumerate(forcefield.sample(8, seed=5)):
        fake_finished_job(project, ff, i, rng)
    analysis = tmp_path / "analysis"
    aggregate.build_datasets(list(project), analysis)
    trained = aggregate.train_models(analysis)
    data = aggregate.load_datasets(analysis)
    mae = {t: trained["models"][t]["mae"] for t in ("alpha", "D_CG", "D_AA")}
    rmse = trained["models"]["structure"]["rmse"]
    # the wells follow the predicted AA mobility, so cross-validation keeps the model built on it
    # (measured: CV RMSE 0.009 kcal/mol, the MLP ensemble on the 19 parameters 0.067)
    candidates = trained["models"]["structure"]["candidates"]
    assert trained["models"]["structure"]["model"] == "MobilityPotentialModel"
    assert rmse == candidates["MobilityPotentialModel"] < 0.5 * candidates["PotentialModel"]
    for i, job_id in enumerate(data["ids"]):
        job = project.open_job(id=str(job_id))
        result = aggregate.predict(forcefield.flatten(job.sp.forcefield()), analysis, tmp_path / "out" / str(i))
        for target in ("alpha", "D_CG", "D_AA"):
            assert result[target] == pytest.approx(job.doc[target], abs=mae[target]), (target, job.doc[target])
            assert 0 <= result[f"{target}_std"] <= mae[target]
        r, U = _csv(result["tables"]["structure"]["csv"])
        inside = (r >= data["r"][0]) & (r <= data["r"][-1])
        assert np.sqrt(np.mean((np.interp(r[inside], data["r"], data["U"][i]) - U[inside]) ** 2)) <= 3 * rmse
        assert json.loads((tmp_path / "out" / str(i) / "prediction.json").read_text())["alpha"] == result["alpha"]


MEASURES = {"release": "rel", "a": {"random": {"drawn": 4, "liquids": 3, "share": 0.75, "trusted": 3,
                                               "expected_share": 0.61, "liquid_probability_auc": 0.83},
                                    "ks": {"K_CC": 0.42, "r0_CC": 0.031, "K_CH": None},
                                    "untrusted_liquids": {"n": 2, "by_flag": {"D_AA_diffusive": 2, "density_steady": 1},
                                                          "D_AA_median": 0.21, "trusted_D_AA_median": 2.04}},
            "b": {key: {"ours_5_50_95": [1.0, 2.0, 3.0], "published_5_50_95": [1.5, 2.5, 3.5],
                        "published_models_r2_log": 0.61, "coverage_68": 0.5, "coverage_95": 0.9}
                  for key in ("D_AA", "D_CG", "alpha")}
                 | {"raw": {key: {"published_models_r2_log": r2, "coverage_68": 0.43, "coverage_95": 1.0}
                            for key, r2 in (("D_AA", -0.28), ("D_CG", -4.4), ("alpha", 0.28))}},
            "c": {"trusted": 3, "training": 2, "pairs": 2, "tolerance": {"tol": 0.2}},
            "closed_loop": {"mobility": {"n": 3, "alpha_median": 1.12, "within_0.3": 0.67, "within_0.5": 1.0,
                                         "rdf_r2_median": 0.987, "rdf_r2_min": 0.95},
                            "warm_start": {"n": 3, "pmf_mean": 7.0, "model_mean": 8.0, "correction_mean": 6.0,
                                           "oracle_mean": 4.0, "model_ratio": 1.14, "correction_ratio": 0.86,
                                           "oracle_ratio": 0.57}}}


def test_a_released_project_imports_and_trains_without_rerunning_its_md(finished_project, tmp_path):
    """Issue 22.2: export the finished jobs as a data release, `init.py --import` it into a new project,
    `project.py run`: the same datasets (the same potentials, bit for bit), models trained on them, the
    report with the release's measures; no per-job MD ran again."""
    rel = tmp_path / "data" / "rel"
    sh(REPO, "-m", "mobcg", "release", str(rel), "--root", str(finished_project.path))
    (rel / "measures").mkdir()
    (rel / "measures" / "campaign_measures.json").write_text(json.dumps(MEASURES))
    new = tmp_path / "new"
    new.mkdir()
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, new / name)
    sh(new, "init.py", "--import", str(rel))
    said = sh(new, "project.py", "run").stdout.splitlines()  # each aggregate operation says what it made
    before = aggregate.load_datasets(Path(finished_project.path) / "analysis")
    n, held = len(before["ids"]), [j.id for j in finished_project if j.doc.get("holdout")]
    assert (f"build_datasets: {n} trusted job(s), {n - 1} to train on, 1 held out, "
            f"{len(before['pairs'])} mobility-preserving pair(s)") in said
    # the held-out job's closed loop ran once, in the project that made the release, with these same models
    assert not [line for line in said if line.startswith("validate_prediction")]
    first = (Path(finished_project.path) / "run.out").read_text().splitlines()
    assert [line.split(": ")[1] for line in first if line.startswith("validate_prediction")] == [f"job {held[0]}"]
    assert f"write_report: {new / 'analysis' / 'report.md'}" in said
    old_data = aggregate.load_datasets(Path(finished_project.path) / "analysis")
    new_data = aggregate.load_datasets(new / "analysis")
    assert list(new_data["ids"]) == list(old_data["ids"]) and np.array_equal(new_data["U"], old_data["U"])
    assert np.array_equal(new_data["alpha"], old_data["alpha"]) and np.array_equal(new_data["X"], old_data["X"])
    assert np.array_equal(new_data["U_pmf"], old_data["U_pmf"]) and np.array_equal(new_data["rho"], old_data["rho"])
    models_json = json.loads((new / "analysis" / "models.json").read_text())
    assert {"structure", "alpha", "D_CG"} <= set(models_json["models"])
    for job in signac.get_project(new):
        assert job.doc["released"] == "rel"
        assert not list(Path(job.path).glob("*_aa.*.log")) and not Path(job.fn("ibi")).joinpath("iter_000").exists()
    report = (new / "analysis" / "report.md").read_text()
    assert "## The campaign release `rel`, measured" in report
    assert "r0_CC 0.031, K_CC 0.42" in report and "2 real pairs among the 2 training jobs (3 trusted, the held-out ones aside)" in report
    assert ("- random draws: 4 drawn, 3 liquids (75 %), 3 trusted; the chance of a liquid (mobcg.suggest) "
            "expected 61 %, ranking them with ROC AUC 0.83") in report
    assert "alpha_pred median 1.12, 67 % within 1 ± 0.3" in report
    assert ("- warm start (3 jobs), IBI simulations to convergence: from the PMF 7.0, from the structure model's "
            "table 8.0, from the PMF plus the density correction (the pipeline's) 6.0 (ratio 0.86), from the job's "
            "own converged table 4.0 (the floor, ratio 0.57)") in report
    assert ("- liquids not trusted: 2 (D_AA_diffusive 2, density_steady 1 failed); their median D_AA 0.21, "
            "the trusted ones' 2.04") in report
    assert "D_CG R²(log) -4.40, coverage 43 % / 100 %; alpha R²(log) 0.28" in report  # the raw convention's line
