"""A killed operation resumes where it stopped; nothing half-written is read as done (SIGKILL injection)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg.lammps import trajectory

REPO = Path(__file__).resolve().parents[1]


def start(cwd, *args):
    return subprocess.Popen([sys.executable, "project.py", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def kill_when(proc, condition, timeout=120):
    """SIGKILL the whole process group (python + mpirun + lmp) once `condition()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.wait()
    return False


CG_PRODUCTION_PS = 400.0
# sample_cg's work (cg.sample) with a longer tiny CG production, the same on the rerun that resumes it
CG_SAMPLE = '''
import sys, signac
from mobcg import cg, presets
presets.PRESETS["tiny"]["cg"].update(production_ps=float(sys.argv[3]))
cg.sample(signac.get_project(sys.argv[1]).open_job(id=sys.argv[2]), progress=None)
'''


@pytest.fixture
def tiny_project(tmp_path):
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, tmp_path / name)
    subprocess.run([sys.executable, "init.py", "--n", "0", "--preset", "tiny"], cwd=tmp_path, check=True,
                   capture_output=True)
    return tmp_path


def test_killed_production_resumes_from_its_restart_file(tiny_project):
    subprocess.run([sys.executable, "project.py", "run", "-o", "build_aa", "equilibrate_aa"], cwd=tiny_project,
                   check=True, capture_output=True)
    job = next(iter(signac.get_project(tiny_project)))
    restarts = [Path(job.fn("sample_aa.restart.a")), Path(job.fn("sample_aa.restart.b"))]
    proc = start(tiny_project, "run", "-o", "sample_aa")
    # kill after the second periodic restart file appeared: mid-run, past the first segment's start
    killed = kill_when(proc, lambda: all(p.exists() for p in restarts))
    assert killed, "the production finished before it could be killed; make the tiny run longer"
    assert not job.isfile("aa_com.gsd")  # not done, and not pretending to be
    subprocess.run([sys.executable, "project.py", "run", "-o", "sample_aa"], cwd=tiny_project, check=True,
                   capture_output=True)
    assert job.isfile("aa_com.gsd")
    # the rerun continues from a periodic restart; a kill while LAMMPS wrote that file leaves it unreadable,
    # and the rerun then tries the other one as one more segment (seen under load): never a fresh start
    resumed = [k for k in range(1, 4) if Path(job.fn(f"sample_aa.{k}.com")).exists()]
    assert resumed, sorted(p.name for p in Path(job.path).iterdir())
    for k in range(1, resumed[0] + 1):
        assert Path(job.fn(f"sample_aa.{k}.in")).read_text().count("read_restart    sample_aa.restart.") == 1
    steps, _ = zip(*[(s, None) for s in trajectory.read_vector_file(job.fn(f"sample_aa.{resumed[0]}.com"))[0]])
    assert steps[0] > 0  # the resumed segment continued, it did not start over
    t, pos, boxes = trajectory.read_gsd(job.fn("aa_com.gsd"))
    dt = np.diff(t)
    assert np.allclose(dt, dt[0]) and len(t) == 2000 // 50 + 1  # every frame once: 2 ps every 50 fs
    assert not any(Path(job.path).glob("*.tmp")) and not any(Path(job.path).glob(".*.tmp"))


def test_equilibration_killed_before_lammps_wrote_its_log_resumes(tiny_project):
    """The campaign's interrupt (SIGTERM right after a segment's input was rendered) once left a segment
    without a log, and the resumed equilibration failed reading it."""
    subprocess.run([sys.executable, "project.py", "run", "-o", "build_aa"], cwd=tiny_project, check=True,
                   capture_output=True)
    job = next(iter(signac.get_project(tiny_project)))
    first = Path(job.fn("equilibrate_aa.0.in"))
    assert kill_when(start(tiny_project, "run", "-o", "equilibrate_aa"), first.exists)
    Path(job.fn("equilibrate_aa.0.log")).unlink(missing_ok=True)  # as if LAMMPS had not opened it yet
    subprocess.run([sys.executable, "project.py", "run", "-o", "equilibrate_aa"], cwd=tiny_project, check=True,
                   capture_output=True)
    doc = job.document()
    assert not doc.get("failed"), doc.get("failure_reason")
    assert doc["density_converged"] is True and job.isfile("aa_equilibrated.restart")
    assert 0.4 < doc["equilibration_density"] < 1.0  # g/cm³: a liquid (tiny preset), read from segment 1


def test_killed_ibi_iteration_and_cg_production_resume(tiny_project):
    """A kill inside an IBI iteration's LAMMPS run leaves no finished-looking iteration; a killed CG
    production continues from its restart file (segments merged, every frame once)."""
    from mobcg import cg, ibi
    subprocess.run([sys.executable, "project.py", "run", "-o", "build_aa", "equilibrate_aa", "sample_aa",
                    "analyze_aa"], cwd=tiny_project, check=True, capture_output=True)
    job = next(iter(signac.get_project(tiny_project)))
    ibi_dir = Path(job.fn("ibi"))
    proc = start(tiny_project, "run", "-o", "run_ibi")
    # iteration 0's record is written by a helper thread while iteration 1 starts (cg.iterate): kill
    # once both are there, i.e. while iteration 1's LAMMPS runs
    assert kill_when(proc, lambda: (ibi_dir / "iter_001" / "cg_nvt.0.in").exists()
                     and (ibi_dir / "iteration_000.npz").exists())
    history = ibi.load_history(ibi_dir)  # raises if a stored iteration were torn
    assert len(history) in (1, 2) and not cg.ibi_done(job)
    if len(history) == 1:  # the usual case: killed while iteration 1's LAMMPS ran
        assert not (ibi_dir / "iteration_001.npz").exists()
    subprocess.run([sys.executable, "project.py", "run", "-o", "run_ibi"], cwd=tiny_project, check=True,
                   capture_output=True)
    assert cg.ibi_done(job) and job.doc["ibi_iterations"] == len(ibi.load_history(ibi_dir)) == 3

    run_dir = Path(job.fn("cg_run"))
    restarts = [run_dir / "cg_nvt.restart.a", run_dir / "cg_nvt.restart.b"]
    # the tiny preset's 20 ps of 27 beads last ~0.05 s, less than a poll: this run is 20 times longer
    sample_cg = [sys.executable, "-c", CG_SAMPLE, str(tiny_project), job.id, str(CG_PRODUCTION_PS)]
    proc = subprocess.Popen(sample_cg, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killed = kill_when(proc, lambda: all(p.exists() for p in restarts))
    assert killed, "the CG production finished before it could be killed; make the run longer"
    assert not job.isfile("cg_com.gsd") and "cg_pressure" not in job.doc
    subprocess.run(sample_cg, check=True, capture_output=True)
    assert job.isfile("cg_com.gsd") and not job.doc.get("failed")
    assert (run_dir / "cg_nvt.1.in").read_text().count("read_restart    cg_nvt.restart.") == 1
    assert "minimize" not in (run_dir / "cg_nvt.1.in").read_text()  # continued, not started over
    t, _, _ = trajectory.read_gsd(job.fn("cg_com.gsd"))
    dt = np.diff(t)
    assert np.allclose(dt, 500.0) and len(t) == 80000 // 100 - 1  # 400 ps, a frame every 0.5 ps from 1 ps on
    assert not any(run_dir.glob("cg_nvt.restart.*"))  # only for resuming: removed once done
