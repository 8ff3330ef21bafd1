"""Shared fixtures: flow-environment pinning, a stand-in FlowProject, a SLURM cluster.

Environment pinning
-------------------
flow 0.29 chooses its compute environment in ``flow.environment.get_environment``
(called by ``FlowProject.__init__``): first the ``SIGNAC_FLOW_ENVIRONMENT``
environment variable (an environment *class name*), else the newest registered
environment whose ``is_present()`` is true -- and ``DefaultSlurmEnvironment`` is
present as soon as ``sbatch`` is on PATH.  Then ``status`` and ``submit`` call
``squeue``, which fails while no controller runs.  The autouse fixture below sets
``SIGNAC_FLOW_ENVIRONMENT=StandardEnvironment`` (no scheduler: flow skips the
query) for every test; being an environment variable it also reaches
``python project.py ...`` subprocesses.  Tests that want a scheduler set it
themselves (``monkeypatch.setenv`` overrides it for that test only).
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))  # for `import slurm` (tests/slurm.py)
if str(REPO) not in sys.path:  # dashboard.py lives at the repo root, outside the package
    sys.path.insert(1, str(REPO))

import slurm as slurm_helpers  # noqa: E402

PYTHON = sys.executable

# The variables the library reads (where LAMMPS and MPI are, how many ranks, where the reference data
# is): a developer's own exports must not reach a test, which sets them itself where it needs them.
# Removed here, at collection, so the environments test modules build at import time lack them too.
LIBRARY_VARIABLES = ("MOBCG_NP", "MOBCG_LMP", "MOBCG_MPIRUN", "MOBCG_REFERENCE")
for _name in LIBRARY_VARIABLES:
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _pin_flow_environment(monkeypatch):
    """No scheduler for tests unless they ask: see the module docstring."""
    monkeypatch.setenv("SIGNAC_FLOW_ENVIRONMENT", "StandardEnvironment")
    # Subprocesses (python project.py ...) must import mobcg from this checkout.
    pythonpath = os.environ.get("PYTHONPATH", "")
    parts = [str(REPO)] + [p for p in pythonpath.split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(dict.fromkeys(parts)))


# -- a tiny stand-in for the real project.py -------------------------------------------

STANDIN_PROJECT_PY = textwrap.dedent(
    '''
    """Stand-in FlowProject for the infrastructure tests: same shape as the real one
    (operation names, job.doc keys, PNG figures), but each operation takes milliseconds."""
    import os

    from flow import FlowProject

    import mobcg.environments  # noqa: F401  (registers LichtenbergEnvironment)


    class Project(FlowProject):
        pass


    NP = min(2, os.cpu_count() or 1)
    DIRECTIVES = {"np": NP, "walltime": 0.5, "memory": "2g"}


    @Project.label
    def built(job):
        return "density" in job.doc


    @Project.label
    def analyzed(job):
        return "D_AA" in job.doc


    @Project.post(lambda job: "density" in job.doc)
    @Project.operation(directives=DIRECTIVES)
    def build_aa(job):
        job.doc.density = round(0.70 + 0.01 * job.sp.replica, 4)


    @Project.pre.after(build_aa)
    @Project.post(lambda job: "D_AA" in job.doc)
    @Project.operation(directives=DIRECTIVES)
    def analyze_aa(job):
        job.doc.D_AA = round(2.0 + job.sp.replica, 3)
        job.doc.D_AA_err = 0.1
        job.doc.host = os.uname().nodename
        job.doc.slurm_job_id = os.environ.get("SLURM_JOB_ID")


    if __name__ == "__main__":
        Project().main()
    '''
)


def make_standin_project(path, n_jobs=2, results=False):
    """Create a signac project at ``path`` with the stand-in ``project.py``.

    ``results=True`` also fills job documents like the real pipeline would (all
    DESIGN.md keys, one failed job when n_jobs > 2) and writes PNG figures.
    """
    import signac

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "project.py").write_text(STANDIN_PROJECT_PY)
    # (no templates/ copy: mobcg/templates -> ../templates lets flow find
    # lichtenberg.sh through the package that defines the environment)
    project = signac.init_project(str(path))
    for i in range(n_jobs):
        job = project.open_job(
            {"molecule": "2,3,4-trimethylpentane", "temperature": 298.15,
             "forcefield": {"bonds": {"CC": {"k": 268.0 + 10 * i, "r0": 1.529}}},
             "preset": "demo", "replica": i}
        ).init()
        if results:
            _fill_results(job, i, n_jobs)
    return project


def _fill_results(job, i, n_jobs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    if n_jobs > 2 and i == n_jobs - 1:
        job.doc.update({"failed": True, "failure_reason": "lost atoms in equilibrate_aa"})
        return
    d_aa = 2.0 + 0.5 * i
    doc = {"density": 0.70 + 0.01 * i, "D_AA": d_aa, "D_AA_err": 0.1,
           "ibi_iterations": 10 + i, "ibi_deviation": 0.008, "ibi_converged": True}
    if i % 2 == 0:  # only some jobs got through the CG stage
        d_cg = d_aa * (3.0 + i)
        doc.update({"D_CG": d_cg, "D_CG_err": 0.3, "alpha": d_cg / d_aa})
    job.doc.update(doc)
    r = np.linspace(3, 15, 200)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(r, 1 + np.exp(-(r - 5 - 0.1 * i)) * np.sin(2 * r), lw=2)
    ax.set_xlabel("r / Å")
    ax.set_ylabel("g(r)")
    fig.tight_layout()
    fig.savefig(job.fn("rdf.png"), dpi=60)
    plt.close(fig)


@pytest.fixture
def standin_project(tmp_path):
    """Factory: ``standin_project(n_jobs=2, results=False)`` -> signac Project in tmp."""

    def factory(n_jobs=2, results=False, name="project"):
        return make_standin_project(tmp_path / name, n_jobs=n_jobs, results=results)

    return factory


# -- a real SLURM cluster --------------------------------------------------------------


@pytest.fixture
def slurm_cluster(tmp_path, monkeypatch):
    """A private one-node SLURM cluster (slurmctld + slurmd as root, auth/none).

    SLURM_CONF is exported for the test (and its subprocesses).  Skipped when the
    SLURM programs are not installed (``.ci/slurm.sh install`` installs them).
    """
    missing = slurm_helpers.missing_binaries()
    if missing:
        pytest.skip(
            "SLURM not installed (missing: " + ", ".join(missing) + "); "
            "run `.ci/slurm.sh install` (Debian, as root) to enable this test"
        )
    if os.geteuid() != 0:
        pytest.skip("the test SLURM cluster runs its daemons as root (SlurmUser=root)")
    cluster = slurm_helpers.SlurmCluster(tmp_path / "slurm")
    try:
        cluster.start()
    except slurm_helpers.SlurmError:
        cluster.stop()
        raise
    monkeypatch.setenv("SLURM_CONF", str(cluster.conf))
    try:
        yield cluster
    finally:
        cluster.stop()
