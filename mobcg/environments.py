"""signac-flow compute environments for the clusters this project runs on.

Importing this module registers the environments with flow (flow's
``ComputeEnvironment`` metaclass records every subclass at class-definition
time), so importing anything from it in ``project.py`` is enough (there: ``SchedulerFaults``, below).

Selecting an environment
------------------------
* automatically, on a Lichtenberg login node (``hostname_pattern`` is matched
  against the fully qualified host name, environments defined later win, so this
  one is tried before flow's generic ``DefaultSlurmEnvironment``);
* explicitly, anywhere: ``SIGNAC_FLOW_ENVIRONMENT=LichtenbergEnvironment
  python project.py submit ...`` (flow 0.29 reads that variable in
  ``flow.environment.get_environment``; there is no ``--environment`` flag), or
  ``Project(environment=LichtenbergEnvironment)`` from Python.

Submission options (``python project.py submit --help`` lists them)::

    python project.py submit --account project01234 --partition test24 \
        --modules "gcc/9.2.0 openmpi/4.1.2 lammps" --lmp lmp --launcher srun \
        [--gpus 1] [--pretend]

Defaults for ``account`` / ``partition`` / ``modules`` / ``lmp`` / ``launcher`` can
also live in the project config (``.signac/config``)::

    [flow]
    [[LichtenbergEnvironment]]
    account = project01234
    modules = gcc/9.2.0 openmpi/4.1.2 lammps

The script template is ``templates/lichtenberg.sh`` (it extends flow's
``slurm.sh``).  flow searches ``<project root>/templates`` first, then the
``templates`` folder of the package that defines each registered environment,
here ``mobcg/templates`` -- a symlink to ``../templates``.  So the template is
found even for a project outside this repository, and flow does not warn
"Unable to load template from package" on every ``status``/``submit``.
"""

from __future__ import annotations

import subprocess
import sys

from flow.environment import DefaultSlurmEnvironment

from . import files


class LichtenbergEnvironment(DefaultSlurmEnvironment):
    """TU Darmstadt's Lichtenberg HPC cluster (SLURM, Lmod modules).

    https://www.hrz.tu-darmstadt.de/hlr/ (login nodes ``lcluster*.hrz.tu-darmstadt.de``).
    Jobs get an account (``-A``), an optional partition (Lichtenberg normally picks
    one from the requested walltime), ``module load`` lines and, only when asked
    with ``--gpus N``, ``#SBATCH --gres=gpu:N``.
    """

    hostname_pattern = (
        r"(lcluster\d+.*|.*\.lichtenberg\.hrz\.tu-darmstadt\.de"
        r"|.*lcluster\d*\.hrz\.tu-darmstadt\.de)$"
    )
    template = "lichtenberg.sh"
    # MPI programs on Lichtenberg are started with srun inside a job (flow uses
    # this for operations with the `nranks` directive).
    mpi_cmd = "srun"

    @classmethod
    def add_args(cls, parser):
        """Add Lichtenberg options to ``project.py submit``."""
        super().add_args(parser)
        parser.add_argument(
            "--account", "-A",
            type=str, default=None,
            help="Project account to charge (#SBATCH --account). "
            "Default: flow config 'LichtenbergEnvironment.account'.",
        )
        parser.add_argument(
            "--partition",
            type=str, default=None,
            help="SLURM partition (#SBATCH --partition); usually chosen by "
            "Lichtenberg itself from the walltime.",
        )
        parser.add_argument(
            "--modules",
            type=str, default=None,
            help="Modules to load before running, space- or comma-separated, "
            "e.g. \"gcc/9.2.0 openmpi/4.1.2 lammps\" (one 'module load' line each). "
            "Default: flow config 'LichtenbergEnvironment.modules'.",
        )
        parser.add_argument(
            "--gpus",
            type=int, default=0,
            help="GPUs per job (#SBATCH --gres=gpu:N). No GPU lines when 0 (default).",
        )
        parser.add_argument(
            "--lmp",
            type=str, default=None,
            help="The cluster's LAMMPS executable; exported as MOBCG_LMP in the job.",
        )
        parser.add_argument(
            "--launcher",
            type=str, default=None,
            help="MPI launcher for LAMMPS, e.g. 'srun' or 'mpirun'; exported as "
            "MOBCG_MPIRUN in the job (what mobcg.lammps.command reads).",
        )


class SchedulerFaults:
    """FlowProject mixin for a scheduler that does not answer: SLURM's client installed with no
    controller reachable (a laptop with slurm-client, a login node while the controller is down) makes
    squeue exit non-zero, which reaches flow 0.29 as a traceback, ``--ignore-errors`` or not. ``status``
    then goes on without the queue and says so in one line; ``submit`` stops with one line
    (files.MachineError), since it cannot tell which operations are queued already."""

    _showing_status = False

    def _fetch_status(self, *args, **kwargs):
        self._showing_status = True
        try:
            return super()._fetch_status(*args, **kwargs)
        finally:
            self._showing_status = False

    def _query_scheduler_status(self, err=None, ignore_errors=False):
        try:
            return super()._query_scheduler_status(err=err, ignore_errors=ignore_errors)
        except subprocess.CalledProcessError as exc:
            said = f"the scheduler did not answer (`{' '.join(exc.cmd)}` exited with status {exc.returncode})"
            if not self._showing_status:
                raise files.MachineError(f"{said}; nothing was submitted") from None
            print(f"status: {said}; the jobs are shown without their place in the queue",
                  file=err or sys.stderr)
            return {}


__all__ = ["LichtenbergEnvironment", "SchedulerFaults"]
