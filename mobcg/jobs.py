"""Job helpers shared by the stages: preset lookup, failure bookkeeping, arrays in job files."""

from __future__ import annotations

import contextlib
import os

import numpy as np

from . import files, presets
from .forcefield import ForceFieldError, validate
from .lammps import LammpsError, LammpsNotFound


class StageFailed(RuntimeError):
    """The parameter set gave unphysical results in a stage (not a bug): the job is marked failed."""


def preset(job) -> dict:
    return presets.get(job.sp.get("preset", "demo"))


def forcefield(job) -> dict:
    """The job's force field, validated, with one error naming the job and value."""
    try:
        ff = _plain(job.sp["forcefield"])
        validate(ff, where=f"job {job.id}")
    except (KeyError, TypeError) as exc:
        raise ForceFieldError(f"job {job.id}: statepoint lacks a valid force field ({exc})") from None
    return ff


def _plain(value):
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


def is_failed(job) -> bool:
    return bool(job.doc.get("failed", False))


@contextlib.contextmanager
def failures(job, stage: str):
    """Mark the job failed (with the reason) when its parameter set breaks the simulation.

    Failed jobs are skipped by every later stage and never retried; LAMMPS missing or our own bugs
    still raise, so they are not mistaken for bad physics. First it sweeps the job folder of
    temporaries an earlier, killed attempt left (files.sweep_temporaries).
    """
    files.sweep_temporaries(job.path)
    try:
        yield
    except LammpsNotFound:
        raise
    except (LammpsError, StageFailed) as exc:
        job.doc.update({"failed": True, "failure_reason": str(exc), "failed_stage": stage})
        print(f"job {job.id}: {stage} failed: {exc}", flush=True)


def save_columns(path: str | os.PathLike, header: str, *columns) -> None:
    """Write equal-length arrays as whitespace-separated columns (atomically)."""
    with files.atomic_path(path) as tmp:
        np.savetxt(tmp, np.column_stack(columns), header=header, fmt="%.8g")


def load_columns(path: str | os.PathLike) -> np.ndarray:
    return np.loadtxt(path, ndmin=2)
