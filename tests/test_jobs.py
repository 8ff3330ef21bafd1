"""jobs in-process (issue 14): statepoint checks, the document/listing caches, failure bookkeeping
and column files, on a signac project in tmp_path. The project.py tests reach the same code through
subprocesses, which mutmut does not see; these take about a second."""

from __future__ import annotations

import errno
import json
import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import signac

from mobcg import aa, files, forcefield, jobs, presets, tables
from mobcg.forcefield import ForceFieldError
from mobcg.init import statepoint
from mobcg.lammps import LammpsError


@pytest.fixture
def project(tmp_path):
    return signac.init_project(tmp_path / "project")


def _job(project, **changes):
    sp = statepoint(forcefield.OPLS_AA, "tiny")
    for key, value in changes.items():
        if value is _DELETE:
            del sp[key]
        else:
            sp[key] = value
    return project.open_job(sp).init()


_DELETE = object()


def _statepoint_error(job) -> str:
    with pytest.raises(jobs.StatepointError) as info:
        jobs.check_statepoint(job)
    return str(info.value)


# ------------------------------------------------------------------------------ statepoints


def test_a_good_statepoint_and_its_defaults(project):
    job = _job(project, preset=_DELETE, molecule=_DELETE, temperature=_DELETE, pressure=_DELETE)
    jobs.check_statepoint(job)
    assert jobs.preset(job) == presets.PRESETS["demo"] and jobs.preset(job) is not presets.PRESETS["demo"]
    assert jobs.molecule(job) == "2,3,4-trimethylpentane"
    job = _job(project, molecule="CCCCCC", temperature=350, pressure=2.5)
    jobs.check_statepoint(job)
    assert jobs.molecule(job) == "CCCCCC" and jobs.preset(job) == presets.PRESETS["tiny"]


def test_forcefield_is_a_plain_validated_dict(project):
    ff = jobs.forcefield(_job(project))
    assert ff == forcefield.OPLS_AA and type(ff) is dict
    assert type(ff["bonds"]) is dict and type(ff["bonds"]["CC"]) is dict
    job = _job(project, forcefield=_DELETE)
    with pytest.raises(ForceFieldError) as info:
        jobs.forcefield(job)
    assert str(info.value) == f"job {job.id}: statepoint lacks a valid force field ('forcefield')"
    assert _statepoint_error(job) == str(info.value)


@pytest.mark.parametrize("key, value", [
    ("temperature", True), ("temperature", "hot"), ("temperature", math.nan), ("temperature", math.inf),
    ("temperature", 0), ("temperature", -1.0), ("pressure", False), ("pressure", None),
    ("pressure", -math.inf), ("pressure", 0.0), ("pressure", -2),
])
def test_temperature_and_pressure_must_be_positive_numbers(project, key, value):
    job = _job(project, **{key: value})
    assert _statepoint_error(job) == f"job {job.id}: statepoint {key} = {value!r} is not a positive number"


def test_preset_molecule_and_force_field_errors_name_the_job(project):
    job = _job(project, preset="huge")
    message = f"job {job.id}: statepoint preset: unknown preset 'huge'; choose one of {', '.join(presets.PRESETS)}"
    assert _statepoint_error(job) == message
    with pytest.raises(jobs.StatepointError) as info:
        jobs.preset(job)
    assert str(info.value) == message
    job = _job(project, molecule="C1CC")
    assert _statepoint_error(job).startswith(f"job {job.id}: statepoint molecule 'C1CC'")
    job = _job(project, molecule=["C"])  # unhashable: TypeError from the table look-up
    assert _statepoint_error(job) == f"job {job.id}: statepoint unhashable type: 'JSONAttrList'"
    job = _job(project, forcefield={**forcefield.OPLS_AA, "bonds": {"CC": {"k": "abc", "r0": 1.5},
                                                                    "CH": {"k": 340.0, "r0": 1.09}}})
    assert _statepoint_error(job).startswith(f"job {job.id}") and "K_CC = 'abc'" in _statepoint_error(job)
    stiff = json.loads(json.dumps(forcefield.OPLS_AA))
    stiff["bonds"]["CH"]["k"] = 1e6
    with pytest.raises(ForceFieldError) as info:
        aa.timestep(stiff)
    job = _job(project, forcefield=stiff)
    assert _statepoint_error(job) == f"job {job.id}: {info.value}"
    assert issubclass(jobs.StatepointError, jobs.StageFailed)


def test_a_statepoint_file_edited_by_hand(project):
    job = _job(project)
    fn = os.path.join(job.path, "signac_statepoint.json")
    with open(fn) as fh:
        text = fh.read()
    with open(fn, "w") as fh:
        fh.write(text.replace("268.0", "999.0"))
    fresh = signac.get_project(project.path).open_job(id=job.id)
    assert _statepoint_error(fresh) == (
        f"job {job.id}: {fresh.path}/signac_statepoint.json no longer matches the job id (edited by hand?); "
        "change statepoints with job.update_statepoint or `signac update-statepoint` instead")


# ------------------------------------------------------------------------------ caches


def test_document_cache_follows_inode_mtime_and_size(tmp_path):
    job = SimpleNamespace(path=str(tmp_path), document=lambda: {"from": "signac"})
    fn = tmp_path / "signac_job_document.json"
    assert jobs.document(job) == {} and not jobs.is_failed(job)
    fn.write_text('{"a": 1}')
    first = jobs.document(job)
    assert first == {"a": 1} and jobs.document(job) is first  # unchanged file: the cached dict
    st = fn.stat()

    def rewrite(text, replace=False, same_mtime=True):
        if replace:
            tmp = tmp_path / "new.json"
            tmp.write_text(text)
            os.replace(tmp, fn)
        else:
            with open(fn, "r+") as fh:
                fh.seek(0)
                fh.write(text)
                fh.truncate()
        if same_mtime:
            os.utime(fn, ns=(st.st_atime_ns, st.st_mtime_ns))
        return jobs.document(job)

    assert rewrite('{"a": 2}', replace=True) == {"a": 2}          # new inode only
    st = fn.stat()
    assert rewrite('{"a": 33}') == {"a": 33}                      # size only
    st = fn.stat()
    os.utime(fn, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert rewrite('{"a": 44}', same_mtime=False) == {"a": 44}    # mtime only (same inode and size)
    fn.write_text('{"a": ')                                       # mid-write: ask signac
    assert jobs.document(job) == {"from": "signac"}
    fn.write_text('{"failed": 1}')
    assert jobs.is_failed(job) is True
    fn.write_text('{"failed": 0}')
    assert jobs.is_failed(job) is False


def test_snapshot_reads_each_job_once(tmp_path):
    calls = []
    job = SimpleNamespace(path=str(tmp_path), document=lambda: {})
    (tmp_path / "signac_job_document.json").write_text('{"x": 1}')
    assert jobs.once("key", lambda: calls.append(1) or len(calls)) == 1
    assert jobs.once("key", lambda: calls.append(1) or len(calls)) == 2  # outside: every time
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "only_here").write_text("")
    assert not jobs.has_file(job, "sub") and not jobs.has_file(job, "a.txt")
    with jobs.snapshot():
        assert jobs.once("key", lambda: 10) == 10 and jobs.once("key", lambda: 20) == 10
        assert jobs.once("other", lambda: 30) == 30
        assert jobs.document(job) == {"x": 1}
        assert not jobs.has_file(job, "a.txt")
        (tmp_path / "a.txt").write_text("")
        (tmp_path / "signac_job_document.json").write_text('{"x": 22}')
        assert not jobs.has_file(job, "a.txt") and jobs.document(job) == {"x": 1}
        other = SimpleNamespace(path=str(tmp_path / "sub"), document=lambda: {})
        assert jobs.has_file(job, "signac_job_document.json") and not jobs.has_file(other, "signac_job_document.json")
        assert jobs.has_file(other, "only_here") and not jobs.has_file(job, "only_here")  # one listing per job
        gone = SimpleNamespace(path=str(tmp_path / "deleted"), document=lambda: {})
        assert not jobs.has_file(gone, "a.txt") and jobs.document(gone) == {}
    assert jobs.has_file(job, "a.txt") and jobs.document(job) == {"x": 22}


# ------------------------------------------------------------------------------ failures


def test_stage_failures_mark_the_job(project, capsys, monkeypatch):
    job = _job(project)
    flushed = []
    monkeypatch.setattr(sys.stdout, "flush", lambda: flushed.append(True), raising=False)
    stale = os.path.join(job.path, ".aa.data.1234.tmp")
    open(stale, "w").close()
    with jobs.failures(job, "build_aa"):
        assert not os.path.exists(stale)  # an earlier attempt's temporaries are swept first
        raise jobs.StageFailed("density 0.01 is unphysical")
    assert job.doc["failed"] is True and job.doc["failed_stage"] == "build_aa"
    assert job.doc["failure_reason"] == "density 0.01 is unphysical"
    assert flushed  # at once: a log tail shows it even if the run is killed next
    assert capsys.readouterr().out == f"job {job.id}: build_aa failed: density 0.01 is unphysical\n"
    job = _job(project, replica=1)
    with jobs.failures(job, "run_cg"):
        raise LammpsError("lost atoms")
    assert job.doc["failure_reason"] == "lost atoms" and jobs.is_failed(job)


def test_unexpected_errors_fail_the_job_with_a_traceback(project):
    job = _job(project)
    with jobs.failures(job, "ibi"):
        raise ZeroDivisionError("float division by zero")
    assert job.doc["failure_reason"] == (f"job {job.id}: unexpected ZeroDivisionError in ibi: float division by zero "
                                         "(traceback in failure_traceback.txt)")
    text = open(job.fn(jobs.TRACEBACK)).read()
    assert text.startswith("Traceback (most recent call last):") and text.endswith(
        "ZeroDivisionError: float division by zero\n")


def test_machine_and_file_faults_propagate_unmarked(project, monkeypatch):
    job = _job(project)
    for exc in (files.MachineError("no lmp"), tables.TableError("table.txt: truncated")):
        with pytest.raises(type(exc)) as info:
            with jobs.failures(job, "run_cg"):
                raise exc
        assert info.value is exc
    full = OSError(errno.ENOSPC, "No space left on device", "x.gsd")
    with pytest.raises(files.DiskFull) as info:
        with jobs.failures(job, "run_cg"):
            raise RuntimeError("flow wrapped it") from full
    assert info.value.__cause__.__cause__ is full
    assert "failed" not in job.doc and not job.isfile(jobs.TRACEBACK)
    monkeypatch.setattr(files, "disk_full", lambda path: str(path) == job.path)
    with pytest.raises(files.DiskFull) as info:
        with jobs.failures(job, "equilibrate_aa"):
            raise LammpsError("write error")
    assert str(info.value) == f"job {job.id}: equilibrate_aa: disk full in {job.path}; free some space and rerun"
    assert "failed" not in job.doc
    from mobcg import datasets
    from mobcg.lammps import trajectory
    assert jobs._damaged_file_errors() == (trajectory.TrajectoryError, tables.TableError, datasets.DatasetError)


# ------------------------------------------------------------------------------ columns


def test_save_and_load_columns(tmp_path):
    path = tmp_path / "sub" / "rdf.txt"
    jobs.save_columns(path, "r g", np.array([1.0, 2.5]), np.array([3.123456789, 4.5e-12]))
    assert path.read_text() == "# r g\n1 3.1234568\n2.5 4.5e-12\n"
    assert not [p for p in path.parent.iterdir() if p.name != "rdf.txt"]
    np.testing.assert_array_equal(jobs.load_columns(path), [[1.0, 3.1234568], [2.5, 4.5e-12]])
    jobs.save_columns(path, "x", np.array([7.0]))
    assert jobs.load_columns(path).shape == (1, 1) and jobs.load_columns(path)[0, 0] == 7.0


def test_a_reanalysis_without_a_viscosity_drops_the_earlier_infinite_box_d(project, monkeypatch):
    """A rerun analysis whose Green–Kubo viscosity came out ≤ 0 has no D_AA_inf: the earlier one must not
    survive it (alpha and viscosity_resolved would use it)."""
    from mobcg import analysis, cg
    job = _job(project)
    job.doc.update({"D_AA_inf": 1.6, "D_AA_inf_err": 0.1, "D_AA": 1.1, "D_CG": 6.6, "D_CG_inf": 7.4, "D_CG_inf_err": 0.3})
    running = SimpleNamespace(running_t_ps=np.array([0.0, 1.0]), running=np.zeros(2), running_err=np.zeros(2))
    monkeypatch.setattr(analysis, "box_corrected", lambda *a: ({"eta_AA": -0.05, "eta_AA_err": 0.1}, running))
    keys = jobs.box_corrected(job, "AA", None, np.zeros((4, 7)), 23.0, "viscosity_aa.txt")
    assert keys == {"eta_AA": -0.05, "eta_AA_err": 0.1} and "D_AA_inf" not in job.doc and "D_AA_inf_err" not in job.doc
    # then alpha is the raw ratio, never the CG's infinite-box D over the AA's raw one
    ratio = cg.mobility_ratio(dict(job.doc))
    assert ratio["alpha"] == pytest.approx(6.0) and ratio["alpha_raw"] == pytest.approx(6.0)
    assert ratio["viscosity_resolved"] is False
