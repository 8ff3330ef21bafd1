"""Run a campaign: every pending job through the per-job pipeline, one job at a time per worker.

    python -m mobcg campaign --workers 2 --release data/campaign-2026-12 --commit

Depth-first, unlike `project.py run` (which runs each stage for every job before the next stage): each
worker runs `python project.py run -j ID -o aa cg` for one job at low priority (nice) and one MPI rank,
so a job is finished within minutes of its start and, with --release, exported into the data release
(mobcg.release) and, with --commit, committed there at once: a finished job is never lost with the
machine. Two one-rank jobs on two cores do ~14 % more than one two-rank job (benchmarks/README.md);
a machine with more cores runs more workers. Rerunning the command resumes: stages resume where they
stopped, ended jobs (finished or failed) are skipped. The release's plan.json names the jobs not yet
ended, so on a new machine (a clone of the repository, an empty workspace) the same command first brings
the release's ended jobs and the planned ones into the workspace, and goes on where the old machine
stopped. A fault of the machine (LAMMPS missing, disk full) stops the campaign with the worker's message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import signac

from . import aa, files, release

# reference first (it anchors the comparison with the paper), then the draws in the order made
ORDER = {"reference": 0, "published": 1, "params": 1, "random": 2, "suggested": 3}


def pending(project) -> list:
    jobs = [j for j in project if not release.ended(j.document())]
    return sorted(jobs, key=lambda j: (ORDER.get(j.doc.get("draw"), 2), j.id))


SUPERSEDED = "superseded"


def redo_other_integrator(project, progress=print) -> list[str]:
    """Ended jobs whose AA runs integrated otherwise than their preset does now (job.doc.aa_integrator
    against aa.planned_integrator, e.g. the campaign's first jobs ran r-RESPA before the preset took HMR):
    each job's files are moved into superseded/<n>/ with its document, and the document is set back to
    what init.py gave it, so the campaign runs the job again under one protocol. The release keeps the
    old results until the new ones replace them (and git keeps both). Returns the ids."""
    redone = []
    for job in sorted(project, key=lambda j: j.id):
        doc = job.document()
        if not release.ended(doc) or "aa_integrator" not in doc:
            continue  # (a job that recorded none predates the record: nothing to compare)
        now = aa.planned_integrator(job)
        if doc["aa_integrator"] == now:
            continue
        folder = Path(job.path)
        superseded = folder / SUPERSEDED
        old = superseded / str(len(list(superseded.iterdir())) if superseded.is_dir() else 0)
        old.mkdir(parents=True)
        for path in list(folder.iterdir()):
            if path.name not in (SUPERSEDED, "signac_statepoint.json", "signac_job_document.json"):
                shutil.move(str(path), old / path.name)
        files.write_json(old / "signac_job_document.json", doc)
        job.document.reset({k: doc[k] for k in release.INIT_KEYS if k in doc})
        progress(f"campaign: job {job.id} ran {doc['aa_integrator']}, its preset now {now}: "
                 f"runs again (the old files in {old.relative_to(folder)})")
        redone.append(job.id)
    return redone


def commit(path: Path, message: str, attempts: int = 5) -> bool:
    """git add + commit of `path` alone (other staged changes stay staged); retried while another git
    process holds the index. False when git is not there or every attempt failed."""
    for _ in range(attempts):
        add = subprocess.run(["git", "add", "-A", "--", str(path)], cwd=path, capture_output=True, text=True)
        if add.returncode == 0:
            done = subprocess.run(["git", "commit", "-q", "-m", message, "--", str(path)], cwd=path,
                                  capture_output=True, text=True)
            if done.returncode == 0 or "nothing to commit" in done.stdout + done.stderr:
                return True
        time.sleep(2)
    return False


def _lower_session_priority(nice: int) -> None:
    """Linux schedules sessions (autogroups) against each other before niceness counts within one: a
    campaign started in its own session (setsid, nohup from a terminal) would get half the cores however
    nice its workers are. Setting the session's own niceness makes it yield to the user's work too."""
    try:
        with open("/proc/self/autogroup", "w") as fh:
            fh.write(str(nice))
    except OSError:  # not Linux, autogroups off, or not allowed: niceness alone then
        pass


def run(root=".", workers: int = 1, target: str | None = None, do_commit: bool = False, nice: int = 19,
        np_: int = 1, progress=print, limit: int | None = None, redo: bool = False) -> int:
    """Run the campaign in the project at `root` (see the module docstring); returns an exit status.
    `redo`: first send the ended jobs of another AA integrator back to the queue (redo_other_integrator)."""
    root = Path(root).resolve()
    project = signac.get_project(root)
    target_path = Path(target).resolve() if target else None
    if target_path and (target_path / release.JOBS).is_dir():  # a new machine: the release and its plan
        imported = release.import_release(project, target_path, progress=None)
        planned = release.import_plan(project, target_path)
        if imported or planned:
            progress(f"campaign: {target_path.name}: {len(imported)} ended job(s) and {len(planned)} planned "
                     f"one(s) brought into {root}")
    if redo:
        redo_other_integrator(project, progress)
    queue = pending(project)[:limit]
    if target_path:
        release.export(project, target_path)  # what ended before (an interrupted campaign)
        release.write_plan(project, target_path)
    total, running, started, status = len(queue), {}, time.monotonic(), 0
    progress(f"campaign: {total} job(s) to run in {root}, {workers} worker(s) at nice {nice}, {np_} rank(s) each")
    _lower_session_priority(nice)
    env = dict(os.environ, MOBCG_NP=str(np_))
    (root / LOGS).mkdir(exist_ok=True)
    _stop_workers_on_signals(running)
    try:
        while queue or running:
            while queue and len(running) < workers and status == 0:
                job = queue.pop(0)
                proc = _start_worker(job, root, nice, env)
                running[proc.pid] = (proc, job, time.monotonic())
            if not running:
                break
            pid, rc = os.wait()
            if pid not in running:
                continue
            proc, job, t0 = running.pop(pid)
            if (rc := os.waitstatus_to_exitcode(rc)) != 0:
                status = rc
                progress(f"campaign: job {job.id}: project.py run stopped with status {rc} "
                         f"(see {root / LOGS / (job.id + '.log')}); no new job is started")
                continue
            doc = job.document()
            what = (f"failed in {doc.get('failed_stage')}" if doc.get("failed") else
                    f"alpha {doc['alpha']:.2f}" if "alpha" in doc else "not ended")
            progress(f"campaign: job {job.id} {what} in {(time.monotonic() - t0) / 60:.1f} min "
                     f"[{total - len(queue) - len(running)}/{total}, {(time.monotonic() - started) / 3600:.2f} h]")
            if target_path and release.ended(doc):
                _release(project, job, what, target_path, do_commit, progress)
    except KeyboardInterrupt:
        progress("campaign: interrupted; rerun the same command to resume")
        return 130
    return status


LOGS = "campaign_logs"


def _start_worker(job, root: Path, nice: int, env: dict) -> subprocess.Popen:
    """`project.py run -j ID -o aa cg` at `nice`, logging to campaign_logs/ID.log, leading its own process
    group (so LAMMPS and mpirun below it can be stopped with it) inside this niced session."""
    with open(root / LOGS / f"{job.id}.log", "a") as log:
        return subprocess.Popen(["nice", "-n", str(nice), sys.executable, "project.py", "run", "-j", job.id,
                                 "-o", "aa", "cg"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=os.setpgrp)


def _stop_workers_on_signals(running: dict) -> None:
    """SIGTERM or SIGINT stops every running worker's whole process group, then the campaign."""
    def stop(*_):
        for proc, _job, _t in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _release(project, job, what: str, target: Path, do_commit: bool, progress) -> None:
    release.export([job], target)
    release.write_plan(project, target)
    if do_commit and not commit(target, f"data: {target.name}: job {job.id[:8]} {what}"):
        progress(f"campaign: could not commit {target} (git busy or missing); it stays on disk")
