"""signac-flow compute environments for the clusters this project runs on.

Importing this module registers the environments with flow (flow's
``ComputeEnvironment`` metaclass records every subclass at class-definition
time), so ``project.py`` only needs ``import mobcg.environments  # noqa: F401``.

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

from flow.environment import DefaultSlurmEnvironment


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


__all__ = ["LichtenbergEnvironment"]
