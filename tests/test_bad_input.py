"""Bad input, one table: every row must give one clear error naming the thing, and leave nothing half-written.

Policy (README "Bad input"): what is wrong with a *parameter set* (a statepoint edited into K_CC = "abc",
a negative force constant, an unknown preset, a statepoint file edited by hand) fails that job
(job.doc failed/failure_reason naming the job and the value, via jobs.failures) and the run goes on
with the other jobs, exactly like a set that breaks the simulation. What is wrong with the *machine or
a file* (lmp missing, a damaged trajectory/table/log/reference file) raises an error naming the
program or file, and marks nothing failed: fix it and rerun.

init.py options already covered by tests/test_project_aa.py::test_init_rejects_bad_input_and_creates_nothing
(--n -1, unknown --preset, --box lower > upper, negative K or θ0 ≥ 180° in --box, r0 = 0 or a text
value in --params) are not repeated here; the rows below add the remaining init.py options.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import aa, datasets, forcefield, jobs, lammps, tables
from mobcg.init import statepoint
from mobcg.lammps import trajectory

REPO = Path(__file__).resolve().parents[1]
OPLS = forcefield.flatten(forcefield.OPLS_AA)
IN_BOX = {k: round(0.5 * (lo + hi), 3) for k, (lo, hi) in forcefield.SAMPLING_BOX.items()}


def py(cwd, *args, env=None):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env=None if env is None else dict(os.environ, **env))


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# ------------------------------------------------------------------------------ init.py options
INIT_FILES = {"list.json": [1, 2, 3], "partial.json": {k: v for k, v in OPLS.items() if k != "K_CC"},
              "broken.json": "{not json", "box_text.json": {"K_CC": ["a", "b"]}}

INIT_ROWS = [
    (["--holdout", "1.5"], "--holdout 1.5"),
    (["--box", "nowhere.json"], "--box nowhere.json"),
    (["--box", "broken.json"], "--box broken.json"),
    (["--box", "box_text.json"], "K_CC = ('a', 'b') is not a (lower, upper) pair"),
    (["--params", "nowhere.json"], "--params nowhere.json"),
    (["--params", "list.json"], "expected a JSON object"),
    (["--params", "partial.json"], "missing parameter(s): K_CC"),
    (["--params", "broken.json"], "--params broken.json"),
]


@pytest.mark.parametrize("args, message", INIT_ROWS, ids=[" ".join(a) for a, _ in INIT_ROWS])
def test_init_option(tmp_path, args, message):
    shutil.copy(REPO / "init.py", tmp_path / "init.py")
    for name, content in INIT_FILES.items():
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = py(tmp_path, "init.py", "--preset", "tiny", *args)
    assert proc.returncode == 2 and message in one_line(proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no .signac, no workspace


# ------------------------------------------------------------------------------ statepoints
DELETE = object()


def _set(path, value):
    def edit(job):
        sp = json.loads(json.dumps(job.statepoint()))  # a plain copy
        node = sp
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        job.statepoint = sp  # moves the job to its new id
    return edit


def _edit_file(job):
    fn = Path(job.path) / "signac_statepoint.json"
    fn.write_text(fn.read_text().replace('"k": 268.0', '"k": 999.0'))  # id no longer matches


STATEPOINT_ROWS = {
    "K_CC text": (_set(["forcefield", "bonds", "CC", "k"], "abc"), "K_CC = 'abc' is not a finite number"),
    "K_CC negative": (_set(["forcefield", "bonds", "CC", "k"], -5.0), "K_CC = -5.0 must be a positive"),
    # aa.timestep would round to 0 fs (ZeroDivisionError in equilibrate_aa before the guard)
    "K_CH too stiff": (_set(["forcefield", "bonds", "CH", "k"], 1e6), "too stiff to simulate"),
    "theta0 180": (_set(["forcefield", "angles", "CCC", "theta0"], 185.0), "theta0_CCC = 185.0"),
    "no force field": (_set(["forcefield"], DELETE), "lacks a valid force field"),
    "temperature text": (_set(["temperature"], "hot"), "temperature = 'hot'"),
    "pressure negative": (_set(["pressure"], -1.0), "pressure = -1.0"),
    "unknown preset": (_set(["preset"], "huge"), "unknown preset 'huge'"),
    "file edited by hand": (_edit_file, "signac_statepoint.json no longer matches the job id"),
}


@pytest.fixture(scope="module")
def statepoint_project(tmp_path_factory):
    """One project, one job per bad statepoint (plus a good one), one `project.py run -o build_aa`."""
    root = tmp_path_factory.mktemp("statepoints")
    shutil.copy(REPO / "project.py", root / "project.py")
    project = signac.init_project(root)
    ids = {}
    for i, (name, (edit, _)) in enumerate(STATEPOINT_ROWS.items()):
        job = project.open_job(statepoint(forcefield.OPLS_AA, "tiny", replica=i + 1)).init()
        edit(job)
        ids[name] = job.id
    good = project.open_job(statepoint(forcefield.OPLS_AA, "tiny")).init()
    env = {"SIGNAC_FLOW_ENVIRONMENT": "StandardEnvironment",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = py(root, "project.py", "run", "-o", "build_aa", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert good.isfile(aa.DATA) and not good.doc.get("failed")  # the others did not stop the run
    return root, ids, proc.stdout


@pytest.mark.parametrize("name", list(STATEPOINT_ROWS))
def test_bad_statepoint_fails_its_job_with_a_clear_reason(statepoint_project, name):
    root, ids, stdout = statepoint_project
    message = STATEPOINT_ROWS[name][1]
    path = Path(root) / "workspace" / ids[name]
    doc = json.loads((path / "signac_job_document.json").read_text())
    assert doc["failed"] is True and doc["failed_stage"] == "build_aa"
    assert ids[name] in doc["failure_reason"] and message in doc["failure_reason"], doc["failure_reason"]
    assert sum(ids[name] in line and message in line for line in stdout.splitlines()) == 1, stdout
    assert sorted(p.name for p in path.iterdir()) == ["signac_job_document.json", "signac_statepoint.json"]


# ------------------------------------------------------------------------------ files and programs
def _gsd(tmp_path):
    import gsd.hoomd
    good = tmp_path / "good.gsd"
    with gsd.hoomd.open(good, "w") as traj:
        for step in range(10):
            traj.append(trajectory.frame(np.random.default_rng(step).random((27, 3)) * 10, [20.0] * 3, step * 10))
    return good.read_bytes()


def gsd_truncated(tmp_path):
    path = tmp_path / "aa_com.gsd"
    data = _gsd(tmp_path)
    path.write_bytes(data[:len(data) // 2])
    return lambda: trajectory.read_gsd(path), trajectory.TrajectoryError, str(path)


def gsd_garbage(tmp_path):
    path = tmp_path / "aa_com.gsd"
    path.write_bytes(os.urandom(2000))
    return lambda: trajectory.read_gsd(path), trajectory.TrajectoryError, str(path)


def gsd_in_job_analyze(tmp_path):
    """aa.analyze on a job whose aa_com.gsd was cut short: the error names the file, job not failed."""
    project = signac.init_project(tmp_path)
    job = project.open_job(statepoint(forcefield.OPLS_AA, "tiny")).init()
    data = _gsd(tmp_path)
    Path(job.fn(aa.TRAJECTORY)).write_bytes(data[:len(data) - 100])

    def call():
        with jobs.failures(job, "analyze_aa"):
            aa.analyze(job)
    check = lambda: not job.doc.get("failed") and "D_AA" not in job.doc and not job.isfile(aa.RDF)  # noqa: E731
    return call, trajectory.TrajectoryError, job.fn(aa.TRAJECTORY), check


def _table(tmp_path):
    path = tmp_path / "cg_potential.table"
    r = np.linspace(1.0, 12.0, 200)
    tables.write_lammps(path, tables.Table.from_potential(r, 4 * ((4 / r) ** 12 - (4 / r) ** 6)), keyword="CG")
    return path


def table_truncated(tmp_path):
    path = _table(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:len(lines) // 2]) + "\n12")  # cut mid-line
    return lambda: tables.read_lammps(path), tables.TableError, f"{path}:"


def table_garbage(tmp_path):
    path = _table(tmp_path)
    path.write_bytes(os.urandom(500))
    return lambda: tables.read_lammps(path), tables.TableError, str(path)


def table_text_value(tmp_path):
    path = _table(tmp_path)
    lines = path.read_text().splitlines()
    n = len(lines) - 3
    lines[n] = lines[n].rsplit(" ", 1)[0] + " abc"
    path.write_text("\n".join(lines) + "\n")
    return lambda: tables.read_lammps(path), tables.TableError, f"{path}:{n + 1}"


def log_corrupted(tmp_path):
    path = tmp_path / "equilibrate_aa.0.log"
    path.write_text("LAMMPS (2 Aug 2023)\nStep Temp Dens\n0 298.0 0.7\n1 nonsense\x00\x00")
    return lambda: lammps.last_value(path, "Density", job="J"), lammps.LammpsLogError, str(path)


def log_garbage(tmp_path):
    path = tmp_path / "sample_aa.0.log"
    path.write_bytes(os.urandom(800))
    return lambda: lammps.last_value(path, "Density", job="J"), lammps.LammpsLogError, str(path)


def lmp_missing(tmp_path, monkeypatch):
    """MOBCG_LMP=/nonexistent/lmp inside a stage: LammpsNotFound naming it, the job not marked failed."""
    monkeypatch.setenv("MOBCG_LMP", "/nonexistent/lmp")
    project = signac.init_project(tmp_path)
    job = project.open_job(statepoint(forcefield.OPLS_AA, "tiny")).init()
    script = tmp_path / "in.lmp"
    script.write_text("units real\n")

    def call():
        with jobs.failures(job, "equilibrate_aa"):
            lammps.run(script, job=job.id)
    return call, lammps.LammpsNotFound, "/nonexistent/lmp", lambda: not job.doc.get("failed")


def reference_garbage(tmp_path):
    path = tmp_path / "bag2022_234tmp_systems.tsv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    return lambda: datasets.load_reference_systems(path), datasets.DatasetError, str(path)


def reference_truncated(tmp_path):
    path = tmp_path / "systems.tsv"
    path.write_text("id\tD_AA\tD_CG\talpha\t" + "\t".join(forcefield.PARAMETER_NAMES) + "\n1\t1.0\t6.0\n")
    return lambda: datasets.load_reference_systems(path), datasets.DatasetError, f"{path}: line 2"


FILE_ROWS = [gsd_truncated, gsd_garbage, gsd_in_job_analyze, table_truncated, table_garbage, table_text_value,
             log_corrupted, log_garbage, lmp_missing, reference_garbage, reference_truncated]


@pytest.mark.parametrize("row", FILE_ROWS, ids=[f.__name__ for f in FILE_ROWS])
def test_damaged_file_or_missing_program(tmp_path, monkeypatch, row):
    made = row(tmp_path, monkeypatch) if row is lmp_missing else row(tmp_path)
    call, error, names = made[:3]
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert names in message and len(message.splitlines()) == 1, message
    if len(made) > 3:
        assert made[3]()
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.part"))


# ------------------------------------------------------------------------------ python -m mobcg predict
PREDICT_ROWS = {
    "missing key": ({k: v for k, v in IN_BOX.items() if k != "r0_CH"}, "missing parameter(s): r0_CH"),
    "out of box": (IN_BOX | {"K_CC": 5000.0}, "K_CC = 5000.0 lies outside the trained box"),
    "not a number": (IN_BOX | {"K_CC": "stiff"}, "K_CC = 'stiff' is not a number"),
    "negative": (IN_BOX | {"K_CH": -3.0}, "K_CH = -3.0 must be a positive"),
    "not an object": ([1, 2], "expected a JSON object"),
    "unreadable JSON": ("{K_CC: 1", "cannot read parameters"),
    "no such file": (None, "cannot read parameters"),
    "no trained models": (IN_BOX, "no trained models"),
}


@pytest.mark.parametrize("name", list(PREDICT_ROWS))
def test_predict_input(tmp_path, name):
    content, message = PREDICT_ROWS[name]
    params = tmp_path / "params.json"
    if content is not None:
        params.write_text(content if isinstance(content, str) else json.dumps(content))
    (tmp_path / "analysis").mkdir()
    proc = py(tmp_path, "-m", "mobcg", "predict", "params.json", "--out", "out", "--analysis", "analysis",
              env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith("mobcg predict: error: ") and message in line, line
    assert "params.json" in line or name == "no trained models"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ------------------------------------------------------------------------------ the sampling box's corners
# init.py accepts own sets up to one published box width outside the box (forcefield.check_near_box) if
# they pass the sanity checks and give a time step >= aa.MIN_TIMESTEP; every accepted set passes
# jobs.check_statepoint (so it runs, or fails its own job in LAMMPS), every refused one names the value.
def _plan(tmp_path, flat, *args):
    from mobcg.init import parse_args, plan
    path = tmp_path / f"set{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(flat))
    return plan(parse_args(["--n", "0", "--no-reference", "--preset", "tiny", "--params", str(path), *args]))


def _corners(name):
    lo, hi = forcefield.SAMPLING_BOX[name]
    width = hi - lo
    return {"at lower": lo, "at upper": hi, "width below": lo - width, "width above": hi + width,
            "beyond below": lo - 1.01 * width, "beyond above": hi + 1.01 * width}


@pytest.mark.parametrize("name", forcefield.PARAMETER_NAMES)
def test_init_at_and_beyond_every_corner_of_the_box(tmp_path, name):
    project = signac.init_project(tmp_path / "project")
    sets = tmp_path / "sets"
    sets.mkdir()
    for where, value in _corners(name).items():
        flat = OPLS | {name: round(value, 4)}
        physical = not ((name.startswith(("K_", "r0_")) and value <= 0)
                        or (name.startswith("theta0_") and not 0 < value < 180))
        if where.startswith("beyond") or not physical:
            with pytest.raises(forcefield.ForceFieldError, match=name):
                _plan(sets, flat)
            continue
        [(sp, *_)] = _plan(sets, flat)
        job = project.open_job(sp).init()
        jobs.check_statepoint(job)  # accepted by init => usable by every operation
        assert aa.timestep(jobs.forcefield(job)) >= aa.MIN_TIMESTEP


def test_init_stiffest_corner_runs_and_a_stiffer_box_is_refused(tmp_path):
    width = {k: hi - lo for k, (lo, hi) in forcefield.SAMPLING_BOX.items()}
    stiffest = OPLS | {k: forcefield.SAMPLING_BOX[k][1] + width[k] for k in ("K_CC", "K_CH")}
    [(sp, *_)] = _plan(tmp_path, stiffest)
    assert aa.timestep(sp["forcefield"]) == pytest.approx(0.47)
    # A --box of the user's own moves the allowed range, but a time step < 0.1 fs is never accepted.
    box = tmp_path / "box.json"
    box.write_text(json.dumps({"K_CH": [20, 60000]}))
    with pytest.raises(forcefield.ForceFieldError, match="too stiff to simulate"):
        _plan(tmp_path, OPLS, "--box", str(box))
    box.write_text(json.dumps({"K_CH": [20, 5000]}))
    [(sp, *_)] = _plan(tmp_path, OPLS | {"K_CH": 5900.0}, "--box", str(box))
    assert aa.timestep(sp["forcefield"]) >= aa.MIN_TIMESTEP


def test_unforeseen_exception_fails_only_its_job(tmp_path):
    """Not a LAMMPS error, not a StageFailed: the job fails with the exception and a traceback file;
    a machine fault or a damaged file still propagates and marks nothing."""
    project = signac.init_project(tmp_path)
    job = project.open_job(statepoint(forcefield.OPLS_AA, "tiny")).init()
    with jobs.failures(job, "equilibrate_aa"):
        1 / 0
    assert job.doc["failed"] is True and job.doc["failed_stage"] == "equilibrate_aa"
    assert job.id in job.doc["failure_reason"] and "ZeroDivisionError" in job.doc["failure_reason"]
    assert "1 / 0" in Path(job.fn(jobs.TRACEBACK)).read_text()
    other = project.open_job(statepoint(forcefield.OPLS_AA, "tiny", replica=1)).init()
    for exc in (OSError(28, "No space left on device", "x.log"), trajectory.TrajectoryError("a.gsd: truncated")):
        with pytest.raises((type(exc), lammps.files.DiskFull)):
            with jobs.failures(other, "sample_aa"):
                raise exc
        assert not other.doc.get("failed")
