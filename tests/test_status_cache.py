"""`project.py status` reads each job's document and folder once (jobs.snapshot), and only there:
outside the block every call sees the current state, so `project.py run` never acts on a stale copy."""

from __future__ import annotations

import signac

from mobcg import forcefield, jobs
from mobcg.init import statepoint


def test_snapshot_reads_once_and_forgets(tmp_path):
    project = signac.init_project(tmp_path)
    job = project.open_job(statepoint(forcefield.OPLS_AA, "tiny")).init()
    job.doc["density"] = 0.7
    assert jobs.document(job)["density"] == 0.7 and not jobs.has_file(job, "aa.data")
    with jobs.snapshot():
        assert jobs.document(job)["density"] == 0.7 and not jobs.has_file(job, "aa.data")
        job.doc["density"] = 0.8  # written by another process while status runs
        open(job.fn("aa.data"), "w").close()
        assert jobs.document(job)["density"] == 0.7  # one consistent reading per status
        assert not jobs.has_file(job, "aa.data")
        assert jobs.once("k", lambda: 1) == 1 and jobs.once("k", lambda: 2) == 1
    # outside: current at once (what `run` relies on between operations)
    assert jobs.document(job)["density"] == 0.8 and jobs.has_file(job, "aa.data")
    job.doc["failed"] = True
    assert jobs.is_failed(job)
    assert jobs.once("k", lambda: 2) == 2
