"""Fault injection: seeded random SIGKILLs of `python project.py run` (the whole process group:
python + mpirun + lmp) at random moments of the per-job pipeline; the next run must finish the job,
and nothing may be truncated, half-written or read as done when it is not.

How it stays cheap: the tiny pipeline runs once, operation by operation, and the project folder is
snapshotted before each operation, with the files each operation leaves and their sizes. A trial
restores the snapshot before a randomly drawn operation, starts `project.py run` (which runs that
operation and everything after it) and kills it at an event drawn at random from what that run writes:
a file of the uninterrupted run has appeared and grown to a random fraction of its final size (a
trajectory half written, an iteration file there, a log begun). Events, not delays: the kill lands at
the same point of the pipeline however loaded the machine is. Then it checks the killed state, runs
`project.py run` again and checks the finished state. The default suite runs FAST_TRIALS trials
(seeded); the `slow` marked version runs SLOW_TRIALS (`pytest -m slow tests/test_faults.py`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import aa, cg, files, ibi, jobs, lammps, tables
from mobcg.lammps import trajectory

from test_restart import REPO, kill_when, start

OPERATIONS = ["build_aa", "equilibrate_aa", "sample_aa", "analyze_aa", "run_ibi", "sample_cg", "analyze_cg"]
FAST_TRIALS, SLOW_TRIALS = 3, 20  # (the default suite's time, issue 24: 5 trials took 84 s of it)
SEED = 20240611


# module-scoped fixtures run before conftest's per-test environment pinning: set it here too
ENV = dict(os.environ, SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment",
           PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))


def run(cwd, *args):
    proc = subprocess.run([sys.executable, "project.py", *args], cwd=cwd, capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, f"project.py {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _listing(root: Path) -> dict:
    """{path relative to root: size} of every file in the project's workspace."""
    return {str(p.relative_to(root)): p.stat().st_size for p in (root / "workspace").rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    """[(operation, project folder before it, [(file, final size) it and the operations after it leave])],
    one tiny job."""
    base = tmp_path_factory.mktemp("faults")
    work = base / "work"
    work.mkdir()
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, work / name)
    subprocess.run([sys.executable, "init.py", "--n", "0", "--preset", "tiny"], cwd=work, check=True,
                   capture_output=True, env=ENV)
    written = []
    for i, op in enumerate(OPERATIONS):
        shutil.copytree(work, base / f"before_{i}", symlinks=True)
        before = _listing(work)
        run(work, "run", "-o", op)
        after = _listing(work)
        written.append([(path, size) for path, size in sorted(after.items())
                        if path not in before and not path.endswith(".tmp")])
    check(work, finished=True)
    print("\nfiles written per operation: " + ", ".join(f"{op} {len(w)}" for op, w in zip(OPERATIONS, written)))
    return [(op, base / f"before_{i}", [e for w in written[i:] for e in w]) for i, op in enumerate(OPERATIONS)]


def _event(rng, events):
    """A kill event drawn from `events`: (file, size it must reach) at a random fraction of its final size."""
    path, size = events[int(rng.integers(len(events)))]
    return path, max(1, int(float(rng.uniform(0.05, 1.0)) * size))


def expected_frames(job):
    preset = jobs.preset(job)
    dt = aa.timestep(jobs.forcefield(job))
    every = lammps.steps(preset["aa"]["frame_ps"], dt)
    n_aa = lammps.steps(preset["aa"]["production_ps"], dt) // every + 1  # frames at 0, every, ..., end
    sec = preset["cg"]
    f = lammps.steps(sec["frame_ps"], sec["timestep_fs"])
    n_cg = max(f, lammps.steps(sec["production_ps"], sec["timestep_fs"]) // f * f) // f - 1  # from step 2f on
    return n_aa, n_cg


def check_gsd(path, n_expected=None):
    t, pos, boxes = trajectory.read_gsd(path)  # raises TrajectoryError when unreadable
    dt = np.diff(t)
    assert len(t) >= 2 and np.all(dt > 0) and np.allclose(dt, dt[0]), f"{path}: frames {t}"
    assert np.all(np.isfinite(pos)) and np.all(boxes > 0), path
    if n_expected is not None:
        assert len(t) == n_expected, f"{path}: {len(t)} frames, expected {n_expected}"


def check(root, finished: bool):
    """Invariants that hold at every moment (killed or not); `finished`: the job's pipeline is done."""
    project = signac.get_project(root)
    for job in project:
        doc, has = job.doc(), job.isfile
        assert not doc.get("failed"), doc.get("failure_reason")
        n_aa, n_cg = expected_frames(job)
        if has(aa.TRAJECTORY):
            check_gsd(job.fn(aa.TRAJECTORY), n_aa)
        if has(cg.TRAJECTORY):
            check_gsd(job.fn(cg.TRAJECTORY), n_cg)
            assert "cg_pressure" in doc
        for sub in Path(job.path).rglob("*.gsd"):  # IBI / CG working runs: whole or absent
            check_gsd(sub)
        if has(aa.EQUILIBRATED):
            assert os.path.getsize(job.fn(aa.EQUILIBRATED)) > 0
        assert ("D_AA" in doc) == ("D_AA_err" in doc)
        if "D_AA" in doc:
            assert has(aa.TRAJECTORY) and doc["D_AA"] > 0
            assert jobs.load_columns(job.fn(aa.RDF)).shape[1] == 2
            assert jobs.load_columns(job.fn(aa.MSD)).shape == (n_aa, 4)
        history = ibi.load_history(job.fn(cg.IBI_DIR))  # raises on a torn file before the last
        for path in Path(job.fn(cg.IBI_DIR)).glob("iteration_*.npz") if has(cg.IBI_DIR) else []:
            ibi._read_iteration(path)  # atomic: every stored iteration is whole
        if "ibi_converged" in doc:
            assert "D_AA" in doc and doc["ibi_iterations"] == len(history) > 0
            for ext in ("table", "csv", "xvg"):
                assert has(f"{cg.POTENTIAL}.{ext}")
            tables.read_lammps(job.fn(cg.POTENTIAL_TABLE))
        if has(cg.TRAJECTORY):
            assert "ibi_converged" in doc
        if "alpha" in doc:
            assert has(cg.TRAJECTORY) and "D_CG" in doc and "D_CG_err" in doc
            assert jobs.load_columns(job.fn(cg.MSD)).shape == (n_cg, 4)
            for png in ("rdf.png", "potential.png", "msd.png"):
                assert Path(job.fn(png)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        if finished:
            assert "alpha" in doc and doc["alpha"] > 0
            assert not files.stale_temporaries(job.path), files.stale_temporaries(job.path)


def trials(snapshots, tmp_path, n, seed):
    rng = np.random.default_rng(seed)
    log = []
    for trial in range(n):
        i = int(rng.integers(len(snapshots)))
        op, state, events = snapshots[i]
        root = tmp_path / f"trial_{trial}"
        shutil.copytree(state, root, symlinks=True)
        path, size = _event(rng, events)
        target = root / path

        def reached():
            try:
                return target.stat().st_size >= size
            except FileNotFoundError:
                return False

        proc = start(root, "run")
        killed = kill_when(proc, reached, timeout=600)
        check(root, finished=False)
        run(root, "run")
        check(root, finished=True)
        log.append(f"trial {trial}: from {op}, kill once {path} has {size} bytes: "
                   f"{'killed' if killed else 'finished first'}")
        shutil.rmtree(root)
    print("\n".join(log))
    return log


def test_random_kills_resume_and_leave_nothing_half_written(snapshots, tmp_path):
    log = trials(snapshots, tmp_path, FAST_TRIALS, SEED)
    assert sum("killed" in line for line in log) >= FAST_TRIALS - 1


@pytest.mark.slow
def test_random_kills_many_trials(snapshots, tmp_path):
    log = trials(snapshots, tmp_path, SLOW_TRIALS, SEED + 1)
    assert sum("killed" in line for line in log) >= SLOW_TRIALS - 3
