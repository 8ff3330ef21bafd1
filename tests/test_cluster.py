"""Cluster infrastructure: flow environments, the Lichtenberg script, a real SLURM run.

All tests run ``python project.py ...`` of a stand-in FlowProject (tests/conftest.py)
in a tmp dir, exactly as a user would run the real project.py.
"""

from __future__ import annotations

import getpass
import os
import sys
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON

LICHTENBERG = "LichtenbergEnvironment"


def flow(project_dir, *args, env=None, check=True, timeout=120):
    r = subprocess.run([PYTHON, "project.py", *args], cwd=project_dir, env=env,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"project.py {' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture
def fake_squeue(tmp_path, monkeypatch):
    """An empty-queue ``squeue`` first on PATH.

    flow's ``submit`` asks the scheduler for the queue even with ``--pretend``
    (to skip operations already queued); without this it fails where SLURM is
    absent ("SLURM not available") or installed with no controller running.
    """
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "squeue").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


# -- environment selection ---------------------------------------------------------------


def test_lichtenberg_is_registered_and_detects_its_hosts():
    from flow.environment import DefaultSlurmEnvironment, registered_environments

    from mobcg.environments import LichtenbergEnvironment as Env

    assert Env in registered_environments()
    assert issubclass(Env, DefaultSlurmEnvironment)
    for host in ("lcluster13.hrz.tu-darmstadt.de", "lcluster1",
                 "login2.lichtenberg.hrz.tu-darmstadt.de"):
        assert re.match(Env.hostname_pattern, host), host
    for host in ("vm", "gl-login1.arc-ts.umich.edu", "mycluster.example.org"):
        assert not re.match(Env.hostname_pattern, host), host


def test_tests_are_pinned_to_a_scheduler_free_environment(standin_project):
    """Even with slurm-client installed and no controller, status works in tests."""
    from flow.environment import get_environment

    assert os.environ["SIGNAC_FLOW_ENVIRONMENT"] == "StandardEnvironment"
    assert get_environment().__name__ == "StandardEnvironment"
    project = standin_project(n_jobs=2)
    r = flow(project.path, "status")
    assert "2 jobs/aggregates with eligible operations" in r.stdout
    assert "Querying scheduler" not in r.stderr


# -- the Lichtenberg submission script ----------------------------------------------------


def _pretend(project, *args, monkeypatch):
    monkeypatch.setenv("SIGNAC_FLOW_ENVIRONMENT", LICHTENBERG)
    r = flow(project.path, "submit", "--pretend", "-o", "build_aa", "-n", "1", *args)
    assert "Unable to load template" not in r.stderr, r.stderr
    return r.stdout


@pytest.mark.usefixtures("fake_squeue")
def test_lichtenberg_script_has_account_partition_modules_and_directives(
        standin_project, monkeypatch):
    project = standin_project(n_jobs=2)
    script = _pretend(project, "--account", "project01234", "--partition", "test24",
                      "--modules", "gcc/9.2.0 openmpi/4.1.2,lammps/2Aug2023",
                      "--lmp", "/opt/lammps/bin/lmp", "--launcher", "srun",
                      monkeypatch=monkeypatch)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    np_ = min(2, os.cpu_count() or 1)
    for expected in ("#SBATCH --account=project01234",
                     "#SBATCH --partition=test24",
                     f"#SBATCH --ntasks={np_}",   # directive np
                     "#SBATCH -t 00:30:00",       # directive walltime 0.5 h
                     "#SBATCH --mem=2G",          # directive memory "2g"
                     "module load gcc/9.2.0",
                     "module load openmpi/4.1.2",
                     "module load lammps/2Aug2023",
                     "export MOBCG_LMP=/opt/lammps/bin/lmp",
                     "export MOBCG_MPIRUN=srun",
                     f"cd {project.path}"):
        assert expected in lines, f"{expected!r} missing in:\n{script}"
    assert not any("gpu" in line.lower() for line in lines), script
    # the module loads come before the operation runs
    run_line = next(i for i, s in enumerate(lines) if "project.py run -o build_aa" in s)
    assert lines.index("module load lammps/2Aug2023") < run_line
    assert "# Submit command: sbatch" in script


@pytest.mark.usefixtures("fake_squeue")
def test_lichtenberg_script_sets_the_lammps_command_the_job_runs(standin_project, monkeypatch, tmp_path):
    """--lmp/--launcher reach LAMMPS: with the script's exports, lammps.command is launcher + lmp."""
    import json

    project = standin_project(n_jobs=1)
    lmp = str(Path(sys.executable).parent / "lmp")  # the wheel's (PATH need not hold the venv): command() checks it exists
    bindir = Path(os.environ["PATH"].split(os.pathsep)[0])  # fake_squeue's folder, first on PATH
    (bindir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "srun").chmod(0o755)
    script = _pretend(project, "--account", "p1", "--lmp", lmp, "--launcher", "srun --mpi=pmi2",
                      monkeypatch=monkeypatch)
    exports = "\n".join(line for line in script.splitlines() if line.startswith("export "))
    assert "MOBCG_" in exports, script
    env = {k: v for k, v in os.environ.items() if k not in ("MOBCG_LMP", "MOBCG_MPIRUN")}
    probe = "import json; from mobcg import lammps; print(json.dumps([lammps.command(1), lammps.command(4)]))"
    r = subprocess.run(["bash", "-c", f'{exports}\n"{PYTHON}" -c "{probe}"'], env=env,
                       capture_output=True, text=True, check=True)
    serial, parallel = json.loads(r.stdout)
    assert serial == [lmp]
    assert parallel == ["srun", "--mpi=pmi2", "-n", "4", lmp]


@pytest.mark.usefixtures("fake_squeue")
def test_lichtenberg_script_gpu_lines_only_when_asked(standin_project, monkeypatch):
    project = standin_project(n_jobs=1)
    plain = _pretend(project, "--account", "p1", monkeypatch=monkeypatch)
    assert "gres" not in plain and "module load" not in plain
    assert "--partition" not in plain  # Lichtenberg picks one itself unless asked
    gpu = _pretend(project, "--account", "p1", "--gpus", "2", monkeypatch=monkeypatch)
    assert "#SBATCH --gres=gpu:2" in gpu.splitlines()


@pytest.mark.usefixtures("fake_squeue")
def test_lichtenberg_defaults_from_project_config(standin_project, monkeypatch):
    """account/modules can live in .signac/config instead of on the command line."""
    project = standin_project(n_jobs=1)
    config = Path(project.path) / ".signac" / "config"
    config.write_text(config.read_text() + "[flow]\n[[LichtenbergEnvironment]]\n"
                      "account = project99999\nmodules = gcc lammps\n")
    script = _pretend(project, monkeypatch=monkeypatch).splitlines()
    assert "#SBATCH --account=project99999" in script
    assert "module load gcc" in script and "module load lammps" in script
    # the command line wins over the config
    script = _pretend(project, "--account", "p2", monkeypatch=monkeypatch).splitlines()
    assert "#SBATCH --account=p2" in script


# -- a real SLURM cluster ----------------------------------------------------------------


def test_submit_to_real_slurm_runs_the_operations(slurm_cluster, standin_project,
                                                  monkeypatch):
    monkeypatch.setenv("SIGNAC_FLOW_ENVIRONMENT", "DefaultSlurmEnvironment")
    project = standin_project(n_jobs=2)
    path = project.path
    # build_aa and analyze_aa depend on each other: one `submit` per stage, as a user would
    for _round in range(3):
        r = flow(path, "status")
        if "0 jobs/aggregates with eligible operations" in r.stdout:
            break
        r = flow(path, "submit")
        assert "Submitting cluster job" in r.stderr, r.stderr
        slurm_cluster.wait_until_empty(timeout=120)
    else:
        pytest.fail(f"operations still eligible after 3 rounds:\n{r.stdout}")
    # sbatch writes slurm-<id>.out into the submission dir (flow hides sbatch's stdout)
    out_files = sorted(Path(path).glob("slurm-*.out"))
    submitted = [f.stem.split("-", 1)[1] for f in out_files]
    outputs = "\n".join(f"--- {f.name}\n{f.read_text()}" for f in out_files)
    assert len(submitted) == 4, (r.stdout, r.stderr, outputs)  # 2 jobs x 2 operations

    project.update_cache()
    for job in project:
        assert "density" in job.doc and "D_AA" in job.doc, (job.doc(), outputs)
        # it ran inside a SLURM allocation, not in this process
        assert job.doc["slurm_job_id"] in submitted, (job.doc(), submitted)

    r = flow(path, "status", "--detailed")
    assert "0 jobs/aggregates with eligible operations" in r.stdout, r.stdout
    assert "Querying scheduler" in r.stderr  # it really asked squeue


def test_real_project_aa_group_runs_under_slurm(slurm_cluster, tmp_path, monkeypatch):
    """The real project.py, tiny preset: `submit -o aa` puts the whole AA stage in one SLURM job."""
    import shutil

    import signac

    repo = Path(__file__).resolve().parents[1]
    for name in ("project.py", "init.py"):
        shutil.copy(repo / name, tmp_path / name)
    subprocess.run([PYTHON, "init.py", "--n", "0", "--preset", "tiny"], cwd=tmp_path, check=True,
                   capture_output=True)
    monkeypatch.setenv("SIGNAC_FLOW_ENVIRONMENT", "DefaultSlurmEnvironment")
    r = flow(tmp_path, "submit", "-o", "aa")
    assert "Submitting cluster job" in r.stderr, r.stderr
    slurm_cluster.wait_until_empty(timeout=300)
    job = next(iter(signac.get_project(tmp_path)))
    outputs = "\n".join(f.read_text() for f in tmp_path.glob("slurm-*.out"))
    assert job.doc.get("D_AA", 0) > 0 and job.isfile("aa_com.gsd"), (job.doc(), outputs)
    status = flow(tmp_path, "status", "--detailed", "-a").stdout
    assert "analyze_aa" in status and "run_ibi" in status  # AA done, the CG stage is next


def test_a_scheduler_that_does_not_answer_leaves_status_working_and_stops_submit(tmp_path, monkeypatch):
    """SLURM's client with no controller (squeue exits 1, as on this machine before `.ci/slurm.sh`
    starts one): the real project.py's `status` shows the jobs and says the queue is unknown in one
    line; `submit` stops with one line and submits nothing. No traceback either way."""
    import shutil

    repo = Path(__file__).resolve().parents[1]
    for name in ("project.py", "init.py"):
        shutil.copy(repo / name, tmp_path / name)
    subprocess.run([PYTHON, "init.py", "--n", "0", "--preset", "tiny"], cwd=tmp_path, check=True,
                   capture_output=True)
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    for name, script in (("squeue", "echo 'squeue: fatal: Could not establish a configuration source' >&2; exit 1"),
                         ("sbatch", "echo submitted >> \"$(dirname \"$0\")/sbatch.calls\"; echo 'Submitted batch job 1'")):
        (bindir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SIGNAC_FLOW_ENVIRONMENT", "DefaultSlurmEnvironment")

    status = flow(tmp_path, "status")
    assert "Traceback" not in status.stderr, status.stderr
    assert "build_aa" in status.stdout and "1 jobs/aggregates with eligible operations" in status.stdout
    said = [line for line in status.stderr.splitlines() if "did not answer" in line]
    assert said == ["status: the scheduler did not answer (`squeue -u " + getpass.getuser()
                    + " -h --format=%2t%100j` exited with status 1); the jobs are shown without their"
                    " place in the queue"]

    submit = flow(tmp_path, "submit", check=False)
    assert submit.returncode == 1 and "Traceback" not in submit.stderr, submit.stderr
    assert submit.stderr.strip().splitlines()[-1] == (
        "project.py: error: the scheduler did not answer (`squeue -u " + getpass.getuser()
        + " -h --format=%2t%100j` exited with status 1); nothing was submitted")
    assert not (bindir / "sbatch.calls").exists()
