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
        time.sleep(0.05)
    proc.wait()
    return False


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
    assert Path(job.fn("sample_aa.1.in")).read_text().count("read_restart    sample_aa.restart.") == 1
    steps, _ = zip(*[(s, None) for s in trajectory.read_vector_file(job.fn("sample_aa.1.com"))[0]])
    assert steps[0] > 0  # the second segment continued, it did not start over
    t, pos, boxes = trajectory.read_gsd(job.fn("aa_com.gsd"))
    dt = np.diff(t)
    assert np.allclose(dt, dt[0]) and len(t) == 2000 // 50 + 1  # every frame once: 2 ps every 50 fs
    assert not any(Path(job.path).glob("*.tmp")) and not any(Path(job.path).glob(".*.tmp"))
