"""Two aggregate builders at once (`project.py run --parallel`, simultaneous SLURM jobs) must not
interleave their writes in analysis/: build_datasets holds analysis/.lock (files.locked)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import aggregate, cg, files, forcefield, jobs, models, tables
from mobcg.init import statepoint

REPO = Path(__file__).resolve().parents[1]

BUILDER = textwrap.dedent('''
    """Build the datasets `rounds` times with pairing tol `tol`, logging when it held the lock."""
    import json, sys, time
    import signac
    from mobcg import aggregate, datasets, files
    root, tol, rounds, log = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    spans, pairing, write_json = [], datasets.pairing, files.write_json

    def slow_pairing(*args, **kwargs):  # first call inside the lock: widen the window
        spans.append([time.time(), None])
        time.sleep(0.3)
        return pairing(*args, **kwargs)

    def timed_write_json(*args, **kwargs):  # the builder's last write, still inside the lock
        out = write_json(*args, **kwargs)
        spans[-1][1] = time.time()
        return out

    datasets.pairing, files.write_json = slow_pairing, timed_write_json
    project = signac.get_project(root)
    for _ in range(rounds):
        aggregate.build_datasets(list(project), project.path + "/analysis", tol=tol)
    open(log, "w").write(json.dumps(spans))
''')


def fake_finished_job(project, ff, i, rng):
    """A job as the pipeline leaves it (alpha, RDFs, IBI potential), without running LAMMPS."""
    job = project.open_job(statepoint(ff, "tiny")).init()
    r = np.arange(0.05, 9.0, 0.1)
    g_aa = np.where(r < 4.5, 0.0, 1 + 0.3 * np.exp(-(r - 6) ** 2) * np.cos(2 * r + 0.1 * i))
    jobs.save_columns(job.fn("rdf_aa.txt"), "r_angstrom g_com", r, g_aa)
    jobs.save_columns(job.fn(cg.RDF), "r_angstrom g_cg", r, g_aa * (1 + 0.01 * rng.standard_normal(len(r))))
    # the well follows the AA mobility that the published-data model predicts (as the campaign's do), and a
    # little of it (0.01 i kcal/mol) does not
    log_d_aa = float(np.log(models._published_d_aa().predict(forcefield.vector(ff)[None, :])[0]))
    U = np.where(r < 4.5, 5.0, 0.0) - (0.3 * (1 + 0.5 * log_d_aa) + 0.01 * i) * np.exp(-(r - 6) ** 2)
    tables.export_all(cg.potential_table(r, U, 9.0, grid=tables.PAPER_GRID, whole=True), job.path, cg.POTENTIAL)
    d_aa = 1.0 + 0.1 * i
    job.doc.update({"D_AA": d_aa, "D_AA_err": 0.05, "D_CG": 6 * d_aa * (1 + 0.05 * rng.standard_normal()),
                    "ibi_r_cut": 9.0, "holdout": False,
                    "dpd_gamma": 2e4 * (1 + 0.1 * i), "dpd_cutoff": 9.0})  # match_mobility's result
    job.doc["alpha"] = job.doc["D_CG"] / d_aa
    return job


@pytest.fixture
def finished_project(tmp_path):
    project = signac.init_project(tmp_path / "project")
    rng = np.random.default_rng(3)
    for i, ff in enumerate(forcefield.sample(8, seed=5)):
        fake_finished_job(project, ff, i, rng)
    return project


def test_concurrent_build_datasets_do_not_interleave(finished_project, tmp_path):
    root = finished_project.path
    script = tmp_path / "builder.py"
    script.write_text(BUILDER)
    procs = [subprocess.Popen([sys.executable, str(script), root, str(tol), "3", str(tmp_path / f"log{k}.json")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k, tol in enumerate((0.2, 0.25))]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    spans = sorted(s for k in range(2) for s in json.loads((tmp_path / f"log{k}.json").read_text()))
    assert len(spans) >= 2  # both processes built at least once
    assert all(s[1] is not None for s in spans)
    for a, b in zip(spans, spans[1:]):
        assert a[1] <= b[0], f"two builders held analysis/ at once: {a} and {b}"
    # the outputs are whole and of one generation
    analysis = Path(root) / "analysis"
    summary = json.loads((analysis / aggregate.DATASETS_JSON).read_text())
    data = aggregate.load_datasets(analysis)
    ids = sorted(job.id for job in finished_project)
    assert summary["ids"] == data["ids"].tolist() == ids and summary["fingerprint"] == aggregate.datasets_fingerprint(ids)
    assert summary["n_pairs"] == len(data["pairs"]) and data["U"].shape[0] == len(ids)
    assert not files.stale_temporaries(analysis)
    # a builder that finds the datasets current (same jobs, same settings) leaves them alone
    before = (analysis / aggregate.DATASETS).stat().st_mtime_ns
    again = aggregate.build_datasets(list(finished_project), analysis, tol=summary["pairing"]["tol"])
    assert again == summary and (analysis / aggregate.DATASETS).stat().st_mtime_ns == before


def test_lock_is_exclusive_and_released_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f'''
        import sys, time
        from mobcg import files
        with files.locked({str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(60)
    ''')], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    import fcntl
    with open(tmp_path / files.LOCK_NAME) as fh:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.kill()
        holder.wait()
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # the kernel released it


# -- every aggregate writer and reader of analysis/ takes the lock -------------------------------------

HOLDER = '''
import sys, time
from mobcg import files
with files.locked(sys.argv[1], shared=sys.argv[2] == "shared"):
    print("locked", flush=True)
    sys.stdin.readline()  # hold until the test says so
'''


def _blocked_while_held(directory, shared, call):
    """Run `call` in a thread while another process holds analysis/.lock (shared or exclusive):
    returns (seconds the call was still waiting when the holder let go, what the call raised)."""
    import threading
    import time

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), "shared" if shared else "exclusive"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        outcome = {}

        def target():
            try:
                call()
            except Exception as exc:  # noqa: BLE001 -- whatever it raises once it got the lock
                outcome["error"] = exc
            outcome["done"] = time.monotonic()

        thread = threading.Thread(target=target, daemon=True)
        started = time.monotonic()
        thread.start()
        thread.join(1.5)
        released = time.monotonic()
        waited = "done" not in outcome
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
        thread.join(60)
        assert "done" in outcome, "the call never returned after the lock was released"
        return (released - started if waited else outcome["done"] - started - 1.5), outcome.get("error")
    finally:
        holder.kill()
        holder.wait()


def test_train_models_and_write_report_wait_for_any_holder_of_the_lock(tmp_path):
    """train_models and write_report (report.write) write analysis/ exclusively: they wait while
    another process holds the lock even shared (a reader: predict, validate_prediction). Once the
    lock is free they go on (here they then stop at the empty analysis/ folder)."""
    from mobcg import report

    analysis = tmp_path / "analysis"
    analysis.mkdir()
    for call in (lambda: aggregate.train_models(analysis), lambda: report.write([], analysis)):
        waited, error = _blocked_while_held(analysis, True, call)
        assert waited >= 1.4, f"did not wait for the lock ({waited:.2f} s)"
        assert error is not None  # it did run once the lock was free: nothing to train on / report


def test_build_datasets_waits_for_any_holder_of_the_lock(finished_project, tmp_path):
    """build_datasets writes analysis/ exclusively: while another process holds the lock (even shared)
    it waits, then builds from all 8 jobs. Unlike the two-builder race above this does not depend on
    when the builders happen to start (on a loaded machine they may not overlap at all)."""
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    waited, error = _blocked_while_held(analysis, True, lambda: aggregate.build_datasets(list(finished_project), analysis))
    assert waited >= 1.4, f"did not wait for the lock ({waited:.2f} s)"
    assert error is None
    ids = sorted(job.id for job in finished_project)
    assert json.loads((analysis / aggregate.DATASETS_JSON).read_text())["ids"] == ids


def test_predict_and_validation_wait_for_a_writer(tmp_path):
    """predict and validate_prediction (aggregate.validate) read the models under a shared lock: they
    wait while a writer (train_models, build_datasets) holds it exclusively, and then go on."""
    from mobcg import models  # noqa: F401  (scikit-learn imported now: a call that skips the lock returns at once)
    from mobcg.lammps import trajectory

    project = signac.init_project(tmp_path / "project")
    job = fake_finished_job(project, forcefield.OPLS_AA, 0, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    import gsd.hoomd
    with gsd.hoomd.open(job.fn("aa_com.gsd"), "w") as traj:
        for k in range(3):
            traj.append(trajectory.frame(rng.uniform(0, 20, (27, 3)), np.array([20.0] * 3), 100 * k, 1.0))
    analysis = tmp_path / "analysis"
    (analysis / "models").mkdir(parents=True)
    (analysis / "models.json").write_text("{}")
    (analysis / "models" / "structure.joblib").write_text("not a model")
    params = forcefield.flatten(forcefield.OPLS_AA)
    for call in (lambda: aggregate.predict(params, analysis, tmp_path / "out"),
                 lambda: aggregate.validate(job, analysis)):
        waited, error = _blocked_while_held(analysis, False, call)
        assert waited >= 1.4, f"did not wait for the lock ({waited:.2f} s)"
        assert error is not None  # after the lock: the stand-in model file is unreadable
    # two readers do not wait for each other
    waited, _ = _blocked_while_held(analysis, True, lambda: aggregate.predict(params, analysis, tmp_path / "out"))
    assert waited < 1.0
