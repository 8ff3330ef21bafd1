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


def test_inputs_skip_fsync_but_stage_files_do_not(tmp_path, monkeypatch):
    """A LAMMPS input is rendered anew by every (re)run, so it is renamed into place without an
    fsync (the IBI loop's largest cost outside LAMMPS); a file that marks a stage done keeps it."""
    from mobcg import files
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    lammps.render("cg_nvt.in", tmp_path / "cg_nvt.0.in", n_beads=1, job_id="j", segment=0, name="cg_nvt",
                  data_file="cg.data", table_points=5000, table_file="cg.table", keyword="CG", r_cut="10",
                  skin=2.0, timestep=5.0, temperature=298.15, seed=1, thermo_every=10, frame_every=10,
                  equilibrate_steps=10, production_steps=10, restart_every=10, restart_files="a b",
                  pressure=None, write_positions=True, rdf_bins=None, self_name="cg_nvt.0.in", resume=None,
                  stress_every=None, friction=None, table_style="spline")
    assert (tmp_path / "cg_nvt.0.in").is_file() and synced == []
    files.write_json(tmp_path / "done.json", {"ok": True})
    assert len(synced) == 1 and not list(tmp_path.glob(".*.tmp"))


CG_CONTEXT = dict(n_beads=1, job_id="j", segment=0, name="cg_nvt", data_file="cg.data", table_points=5000,
                  table_file="cg.table", keyword="CG", r_cut="10", skin=2.0, timestep=5.0, temperature=298.15,
                  seed=1, thermo_every=10, frame_every=10, equilibrate_steps=10, production_steps=10,
                  restart_every=10, restart_files="a b", pressure=None, write_positions=True, rdf_bins=None,
                  self_name="cg_nvt.0.in", resume=None, stress_every=None, friction=None, table_style="spline")


def test_compiled_templates_are_kept_across_processes_and_a_bad_cache_is_harmless(tmp_path, monkeypatch):
    """The templates' compiled code is cached on disk (lammps._TemplateCache): a new process loads it
    instead of compiling (the same text); a corrupt or unwritable cache only means compiling."""
    import jinja2

    assert isinstance(lammps._env.bytecode_cache, lammps._TemplateCache)

    def env(folder):
        return jinja2.Environment(loader=jinja2.FileSystemLoader(lammps.TEMPLATES), undefined=jinja2.StrictUndefined,
                                  keep_trailing_newline=True, bytecode_cache=lammps._TemplateCache(str(folder)))

    text = env(tmp_path).get_template("cg_nvt.in").render(**CG_CONTEXT)
    (cached,) = tmp_path.glob("__jinja2_*.cache")
    with monkeypatch.context() as m:  # a fresh environment (as in a new process) compiles nothing
        m.setattr(jinja2.Environment, "compile", lambda *a, **k: (_ for _ in ()).throw(AssertionError("compiled")))
        assert env(tmp_path).get_template("cg_nvt.in").render(**CG_CONTEXT) == text
    good = cached.read_bytes()
    for bad in (good[: len(good) * 4 // 5], jinja2.bccache.bc_magic + b"\x80\x05not a pickle"):  # cut, garbled
        cached.write_bytes(bad)
        assert env(tmp_path).get_template("cg_nvt.in").render(**CG_CONTEXT) == text
    assert env(tmp_path / "missing").get_template("cg_nvt.in").render(**CG_CONTEXT) == text  # unwritable
