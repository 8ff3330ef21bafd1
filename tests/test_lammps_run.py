"""The LAMMPS seam with relative folders (a user's `cd project && python ...` gives them)."""

import os

import pytest

from mobcg import lammps


def test_run_with_a_relative_working_folder_writes_its_log_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("job")
    (tmp_path / "job" / "in.lj").write_text("units lj\nvariable x equal 6*7\nprint \"x = ${x}\"\n")
    log = lammps.run("job/in.lj", cwd="job", job="relative")
    assert log == (tmp_path / "job" / "in.log").resolve()
    assert "x = 42" in log.read_text()
    assert not (tmp_path / "job" / "job").exists()  # the log path was not joined to the folder twice


def test_requested_steps_reads_the_newest_segment(tmp_path):
    (tmp_path / "prod.0.in").write_text("run 1000 upto\n")
    (tmp_path / "prod.1.in").write_text("fix a all nve\nrun             4000 upto\nwrite_restart x\n")
    (tmp_path / "prod.10.in").write_text("run 8000 upto\n")  # numeric, not lexical, order
    assert lammps.requested_steps(tmp_path, "prod") == 8000
    assert lammps.requested_steps(tmp_path, "other") == 0
