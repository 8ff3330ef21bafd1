"""The campaign runner and its data release (mobcg.campaign, mobcg.release) on a tiny real project.

One OPLS-AA job at the tiny preset goes through `python -m mobcg campaign --release data/rel --commit`
in a git repository. The campaign is first interrupted (SIGTERM) while LAMMPS runs: nothing of the
project may keep running, and the same command then resumes and ends the job. The ended job is in the
release (small files only) and committed. `init.py --import` brings it into a new project: the potential
tables come back bit for bit, the per-job stages count as done, and no MD runs again. Training on an
imported release is tested in test_aggregate.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import signac

from mobcg import cg, release

REPO = Path(__file__).resolve().parents[1]


def env():
    return dict(os.environ, PYTHONPATH=str(REPO), SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment",
                GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")


def sh(cwd, *args, check=True):
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env())
    assert not check or proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def processes_under(root: Path) -> list[str]:
    """Command lines of the live processes that name a path under `root` (LAMMPS, mpirun, project.py)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        if cmdline.parent.name == str(os.getpid()):
            continue
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in text:
            found.append(text)
    return found


CAMPAIGN = [sys.executable, "-m", "mobcg", "campaign", "--workers", "1", "--nice", "0", "--release", "data/rel",
            "--commit"]


@pytest.fixture(scope="module")
def campaign_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    for name in ("project.py", "init.py"):
        (root / name).write_text((REPO / name).read_text())
    sh(root, "git", "init", "-q", ".")
    sh(root, sys.executable, "init.py", "--n", "0", "--preset", "tiny")
    # interrupted while LAMMPS runs
    campaign = subprocess.Popen(CAMPAIGN, cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    deadline = time.monotonic() + 120
    while not any("lmp" in line for line in processes_under(root)) and campaign.poll() is None:
        assert time.monotonic() < deadline, "LAMMPS never started"
        time.sleep(0.05)
    campaign.send_signal(signal.SIGTERM)
    out, _ = campaign.communicate(timeout=60)
    deadline = time.monotonic() + 15
    while processes_under(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = processes_under(root)
    # resumed: the same command ends the job
    resumed = sh(root, *CAMPAIGN)
    return root, campaign.returncode, out, left, resumed.stdout


def test_an_interrupted_campaign_stops_everything_and_resumes(campaign_root):
    root, rc, out, left, resumed = campaign_root
    assert rc == 130 and "interrupted; rerun the same command to resume" in out, out
    assert left == [], f"still running after the campaign was stopped: {left}"
    assert "1 job(s) to run" in resumed and "alpha" in resumed, resumed
    job = next(iter(signac.get_project(root)))
    assert release.ended(job.document()) and "alpha" in job.doc


def test_the_ended_job_is_released_small_and_committed(campaign_root):
    root = campaign_root[0]
    job = next(iter(signac.get_project(root)))
    folder = root / "data" / "rel" / "jobs" / job.id
    kept = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"signac_statepoint.json", "signac_job_document.json", "rdf_aa.txt", "msd_aa.txt", cg.RDF, cg.MSD,
            f"{cg.IBI_DIR}/iteration_{job.doc['ibi_final_iteration']:03d}.npz"} <= kept
    assert not any(name.endswith((".log", ".gsd", ".restart", ".lammpstrj", ".in")) for name in kept), kept
    doc = json.loads((folder / "signac_job_document.json").read_text())
    assert doc["alpha"] == job.doc["alpha"] and str(root) not in json.dumps(doc)  # no machine paths
    summary = json.loads((root / "data" / "rel" / "release.json").read_text())
    assert summary["jobs"] == 1 and summary["finished"] == 1
    assert summary["aa_integrators"] == {"r-RESPA (2 inner steps)": 1}  # the tiny preset's, as its job recorded
    log = sh(root, "git", "log", "--format=%s").stdout.splitlines()
    assert log == [f"data: rel: job {job.id[:8]} alpha {job.doc['alpha']:.2f}"], log
    assert sh(root, "git", "status", "--porcelain", "data").stdout == ""  # all of it committed


def test_an_imported_release_is_done_without_md(campaign_root, tmp_path):
    root = campaign_root[0]
    original = next(iter(signac.get_project(root)))
    for name in ("project.py", "init.py"):
        (tmp_path / name).write_text((REPO / name).read_text())
    out = sh(tmp_path, sys.executable, "init.py", "--import", str(root / "data" / "rel")).stdout
    assert "imported 1 job(s)" in out, out
    job = signac.get_project(tmp_path).open_job(id=original.id)
    assert job.doc["released"] == "rel" and job.doc["alpha"] == original.doc["alpha"]
    for suffix in (".table", ".xvg", ".csv"):  # the tables as run_ibi exported them, bit for bit
        assert Path(job.fn(cg.POTENTIAL + suffix)).read_bytes() == Path(original.fn(cg.POTENTIAL + suffix)).read_bytes()
    sh(tmp_path, sys.executable, "project.py", "run", "-o", "aa", "cg")  # nothing left to do per job
    assert not list(Path(job.path).rglob("*.log")), "an imported job ran LAMMPS again"
    again = sh(tmp_path, sys.executable, "init.py", "--import", str(root / "data" / "rel")).stdout
    assert "imported 0 job(s)" in again  # jobs already there are left alone


def test_a_reexport_sees_every_change_and_ignores_a_killed_exports_leftovers(campaign_root, tmp_path):
    """The copy is refreshed whenever the document's content changed (not by modification time: a
    change within the file system's time resolution counts too), and a folder a killed export left
    (.<id>.old, .<id>.*.tmp) neither blocks the next export nor counts as a job."""
    job = signac.init_project(tmp_path / "project").clone(next(iter(signac.get_project(campaign_root[0]))))
    target = tmp_path / "rel"
    release.export([job], target)
    stored = target / release.JOBS / job.id / "signac_job_document.json"
    document = Path(job.fn("signac_job_document.json"))
    before = document.stat()
    job.doc["note"] = "reanalysed"
    os.utime(document, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same time stamp as before
    for leftover in (f".{job.id}.old", f".{job.id}.x1.tmp"):
        (target / release.JOBS / leftover).mkdir()
        (target / release.JOBS / leftover / "signac_job_document.json").write_text(stored.read_text())
    summary = release.export([job], target)
    assert json.loads(stored.read_text())["note"] == "reanalysed"
    assert summary["jobs"] == 1 and summary["finished"] == 1
    assert summary["aa_integrators"] == {"r-RESPA (2 inner steps)": 1}  # the tiny preset's, as its job recorded
    assert not (target / release.JOBS / f".{job.id}.old").exists()


def test_a_preset_that_changed_integrator_sends_its_ended_jobs_back(tmp_path, monkeypatch):
    """After the tiny preset moves from r-RESPA to HMR, `campaign --redo-other-integrator` sends back to the
    queue the ended jobs whose record says r-RESPA, their files and document kept in superseded/0, the
    document reset to init.py's keys; an ended job that ran HMR and a job not yet ended stay as they are."""
    import copy

    from mobcg import campaign, forcefield, presets
    from mobcg.init import statepoint

    project = signac.init_project(tmp_path)
    jobs = {}
    for k, (integrator, ended) in enumerate([("r-RESPA (2 inner steps)", True), ("HMR, velocity Verlet", True),
                                              ("r-RESPA (2 inner steps)", False)]):
        job = jobs[k] = project.open_job(statepoint(forcefield.OPLS_AA, "tiny", replica=k)).init()
        job.doc.update({"draw": "random", "draw_seed": 7, "holdout": k == 0, "aa_integrator": integrator,
                        "equilibration_density": 0.73})
        if ended:
            job.doc.update({"failed": True, "failed_stage": "sample_aa", "failure_reason": "too slow"})
        (Path(job.path) / "ibi").mkdir()
        for name in ("aa.data", "sample_aa.0.log", "ibi/ibi.json"):
            Path(job.fn(name)).write_text(name)
    preset = copy.deepcopy(presets.PRESETS["tiny"])
    preset["aa"].update(respa=1, hmr=True)
    monkeypatch.setitem(presets.PRESETS, "tiny", preset)
    said = []
    assert campaign.redo_other_integrator(project, said.append) == [jobs[0].id]
    assert "ran r-RESPA (2 inner steps), its preset now HMR, velocity Verlet" in said[0], said
    assert jobs[0].document() == {"draw": "random", "draw_seed": 7, "holdout": True}
    kept = Path(jobs[0].path)
    assert sorted(p.name for p in kept.iterdir()) == ["signac_job_document.json", "signac_statepoint.json",
                                                       campaign.SUPERSEDED]
    old = kept / campaign.SUPERSEDED / "0"
    assert (old / "ibi" / "ibi.json").read_text() == "ibi/ibi.json" and (old / "aa.data").is_file()
    assert json.loads((old / "signac_job_document.json").read_text())["failure_reason"] == "too slow"
    for k in (1, 2):
        assert jobs[k].doc["aa_integrator"] in ("HMR, velocity Verlet", "r-RESPA (2 inner steps)")
        assert Path(jobs[k].fn("ibi/ibi.json")).is_file() and "equilibration_density" in jobs[k].doc
    assert [j.id for j in campaign.pending(project)] == sorted([jobs[0].id, jobs[2].id])
    assert campaign.redo_other_integrator(project, said.append) == []  # done once


def test_a_new_machine_resumes_the_campaign_from_the_release_alone(campaign_root, tmp_path):
    """The release's plan.json names the jobs not yet ended with their draw record; on a machine that has
    only the repository, `campaign --release` brings the ended jobs and the planned ones into an empty
    workspace, and exporting the imported jobs back leaves the release as it was, byte for byte."""
    import shutil

    from mobcg import campaign, forcefield
    from mobcg.init import statepoint

    old = signac.init_project(tmp_path / "old")
    ended = old.clone(next(iter(signac.get_project(campaign_root[0]))))
    waiting = old.open_job(statepoint(forcefield.OPLS_AA, "tiny", replica=5)).init()
    record = {"draw": "suggested", "holdout": False, "suggested_by": "abc", "suggest_seed": 3,
              "acquisition": 0.07, "liquid_probability": 0.4}
    waiting.doc.update(record | {"wall_s": {"build_aa": 0.1}})  # mid-run: only the record travels
    rel = tmp_path / "rel"
    release.export(old, rel)
    assert release.write_plan(old, rel) == 1
    plan = json.loads((rel / release.PLAN).read_text())["pending"]
    assert [e["id"] for e in plan] == [waiting.id] and plan[0]["document"] == record
    before = {p: p.read_bytes() for p in rel.rglob("*") if p.is_file()}

    new = signac.init_project(tmp_path / "new")
    said = []
    assert campaign.run(new.path, target=str(rel), limit=0, progress=said.append) == 0
    assert "1 ended job(s) and 1 planned one(s) brought into" in said[0], said
    assert {j.id for j in new} == {ended.id, waiting.id}
    assert new.open_job(id=waiting.id).document() == record
    assert [j.id for j in campaign.pending(new)] == [waiting.id]
    assert new.open_job(id=ended.id).doc["alpha"] == ended.doc["alpha"]
    after = {p: p.read_bytes() for p in rel.rglob("*") if p.is_file()}
    assert after == before  # the imported job exported back unchanged (no `released` mark), the plan the same

    shutil.rmtree(waiting.path)  # once no job is pending, no plan is left
    assert release.write_plan(old, rel) == 0 and not (rel / release.PLAN).exists()
    (rel / release.PLAN).write_text(json.dumps({"pending": [plan[0] | {"id": ended.id}]}))
    with pytest.raises(release.ReleaseError, match=f"the statepoint of job {ended.id} is job {waiting.id}"):
        release.import_plan(signac.init_project(tmp_path / "third"), rel)
