"""Job helpers shared by the stages: preset lookup, failure bookkeeping, arrays in job files."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from . import files, presets
from .forcefield import ForceFieldError, validate
from .lammps import LammpsError


class StageFailed(RuntimeError):
    """The parameter set gave unphysical results in a stage (not a bug): the job is marked failed."""


class StatepointError(StageFailed):
    """A job's statepoint (e.g. edited by hand) is not a usable parameter set: the job is marked failed
    with this message, which names the job and the value, like a set that breaks the simulation."""


def preset(job) -> dict:
    try:
        return presets.get(job.sp.get("preset", "demo"))
    except presets.PresetError as exc:
        raise StatepointError(f"job {job.id}: statepoint preset: {exc}") from None


def molecule(job) -> str:
    """The job's molecule as its statepoint names it (a job without one is the paper's
    2,3,4-trimethylpentane); StatepointError naming the job and the value unless it is an alkane
    this force field types."""
    from .molecule import DEFAULT, MoleculeError, resolve
    value = job.sp.get("molecule", DEFAULT)
    try:
        resolve(value)
    except (MoleculeError, TypeError) as exc:
        raise StatepointError(f"job {job.id}: statepoint {exc}") from None
    return value


def check_statepoint(job) -> None:
    """Raise StatepointError naming the job and the value unless molecule, force field (its bonds not
    too stiff for forcefield.timestep included), preset, temperature and pressure are usable."""
    import signac.errors

    from .forcefield import timestep
    try:
        ff = forcefield(job)
        try:
            timestep(ff)
        except ForceFieldError as exc:
            raise ForceFieldError(f"job {job.id}: {exc}") from None
    except ForceFieldError as exc:
        raise StatepointError(str(exc)) from None
    except signac.errors.JobsCorruptedError:
        raise StatepointError(f"job {job.id}: {job.path}/signac_statepoint.json no longer matches the job id "
                              "(edited by hand?); change statepoints with job.update_statepoint or "
                              "`signac update-statepoint` instead") from None
    preset(job)
    molecule(job)
    for key, default in (("temperature", presets.TEMPERATURE), ("pressure", presets.PRESSURE)):
        value = job.sp.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value <= 0:
            raise StatepointError(f"job {job.id}: statepoint {key} = {value!r} is not a positive number")


@dataclasses.dataclass(frozen=True)
class Info:
    """What a stage takes from its job, read once at the stage's door (jobs.info): the stage's steps and
    the helpers below get these plain values, never the signac job. `fn(name)`: a file in its folder."""
    id: str
    path: str
    preset: dict  # the job's whole preset (a copy: the stage may adjust it)
    forcefield: dict | None  # validated; None for a job without one (the CG stage needs none)
    molecule: str  # as the statepoint names it (checked by check_statepoint, which every operation calls)
    T: float  # K
    P: float  # atm

    def fn(self, name: str) -> str:
        return os.path.join(self.path, name)

    @functools.cached_property
    def mass(self) -> float:
        """The molecule's molar mass, g/mol: one CG bead (from its graph; RDKit only when asked)."""
        from .molecule import molar_mass
        return molar_mass(self.molecule)


def info(job, preset_: dict | None = None) -> Info:
    """The job's Info: statepoint and preset read once (StatepointError naming the job for a preset or
    force field that is not one). `preset_`: these settings instead of the statepoint's preset
    (benchmarks that vary them)."""
    from .molecule import DEFAULT
    ff = forcefield(job) if "forcefield" in job.sp else None
    return Info(job.id, job.path, preset(job) if preset_ is None else preset_, ff, job.sp.get("molecule", DEFAULT),
                float(job.sp.get("temperature", presets.TEMPERATURE)), float(job.sp.get("pressure", presets.PRESSURE)))


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


_SNAPSHOTS: dict = {}
# While `project.py status` evaluates its conditions (jobs.snapshot()): each job's document, file list,
# and the analysis files, read once for that one status command, then forgotten.
_FROZEN: dict | None = None


@contextlib.contextmanager
def snapshot():
    """Read every job's state at most once inside the block (one status evaluation).

    flow evaluates ~30 conditions per job; each stat or JSON read again costs ~10 µs (300 000 at
    10 000 jobs). Within one status command a job's state read once is as current as read 30 times,
    and consistent across its conditions; nothing survives the block, so `project.py run`, which
    changes documents between evaluations, never sees a frozen copy.
    """
    global _FROZEN
    outer, _FROZEN = _FROZEN, {} if _FROZEN is None else _FROZEN
    try:
        yield
    finally:
        _FROZEN = outer


def once(key, compute):
    """compute() memoised under `key` inside jobs.snapshot(), computed every time outside it."""
    if _FROZEN is None:
        return compute()
    try:
        return _FROZEN[key]
    except KeyError:
        value = _FROZEN[key] = compute()
        return value


def has_file(job, name: str) -> bool:
    """job.isfile(name), from one directory listing per job inside jobs.snapshot()."""
    if _FROZEN is None:
        return os.path.isfile(os.path.join(job.path, name))
    key = ("listing", job.path)
    listing = _FROZEN.get(key)
    if listing is None:
        listing = _FROZEN[key] = _listing(job.path)
    return name in listing


def _listing(path: str) -> frozenset:
    try:
        return frozenset(os.listdir(path))
    except FileNotFoundError:
        return frozenset()


def document(job) -> dict:
    """Read-only snapshot of the job document for conditions, re-read only when its file changed.

    ``project.py status`` evaluates ~20 conditions per job and each ``job.doc`` access decodes the
    JSON again (~25 µs, also in flow's buffered mode): 10 000 jobs meant 340 000 decodes.  signac
    replaces the file on every write (new inode), so (inode, mtime, size) from one ``os.stat``
    tells whether the cached copy is current; inside jobs.snapshot() even the stat is done once.
    Never write to the returned dict.
    """
    if _FROZEN is not None:  # inlined jobs.once: ~30 calls per job in `status`
        path = job.path
        doc = _FROZEN.get(path)
        if doc is None:
            doc = _FROZEN[path] = _document(job)
        return doc
    return _document(job)


def _document(job) -> dict:
    fn = os.path.join(job.path, "signac_job_document.json")
    try:
        st = os.stat(fn)
    except FileNotFoundError:
        return {}
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _SNAPSHOTS.get(fn)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(fn, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):  # mid-write or unreadable: the slow, authoritative path
        return job.document()
    _SNAPSHOTS[fn] = (key, doc)
    return doc


def is_failed(job) -> bool:
    return bool(document(job).get("failed", False))


@contextlib.contextmanager
def failures(job, stage: str, only: str | None = None):
    """Mark the job failed (with the reason) when its parameter set breaks the simulation.

    `only` (a document key, e.g. "mobility_failed"): a stage whose failure leaves the job's other
    results standing records its reason under that key instead, and the job stays unfailed.

    Failed jobs are skipped by every later stage and never retried. A statepoint that is not a usable
    parameter set (StatepointError from check_statepoint, which every operation calls first inside this
    block: a hand-edited K_CC = "abc", a negative force constant, a bond too stiff to integrate, an
    unknown preset) fails the job the same way, naming the job and the value. Faults of the machine
    (files.MachineError: LAMMPS or MPI missing, a LAMMPS lacking a package, a full disk) mark nothing
    and propagate: `project.py run` stops with one line; so do damaged files (a truncated GSD or
    table), which name the file. Any other exception (a bug, or a set no check
    foresaw) fails this job too, with the exception and its traceback in the job folder, so that one
    absurd set never ends the run for all the others. First it sweeps the job folder of temporaries
    an earlier, killed attempt left (files.sweep_temporaries).
    """
    files.sweep_temporaries(job.path)
    started = time.monotonic()
    try:
        yield
    except files.MachineError:
        raise
    except (LammpsError, StageFailed) as exc:
        _mark_failed(job, stage, str(exc), only)
    except Exception as exc:
        fault = files.machine_fault(exc)
        if fault is not None:
            raise fault from exc
        if isinstance(exc, _damaged_file_errors()):  # the file's fault: fix or delete it and rerun
            raise
        import traceback
        with contextlib.suppress(OSError):
            files.write_text(job.fn(TRACEBACK), traceback.format_exc())
        _mark_failed(job, stage, f"job {job.id}: unexpected {type(exc).__name__} in {stage}: {exc} "
                                 f"(traceback in {TRACEBACK})", only)
    else:
        # how long each stage took, and with what code, LAMMPS and machine (a data release's provenance)
        job.doc.update({"wall_s": dict(job.doc.get("wall_s", {})) | {stage: round(time.monotonic() - started, 1)},
                        "provenance": provenance()})


TRACEBACK = "failure_traceback.txt"


def _damaged_file_errors() -> tuple:
    from . import datasets, tables
    from .lammps import trajectory
    return trajectory.TrajectoryError, tables.TableError, datasets.DatasetError


def _mark_failed(job, stage: str, reason: str, only: str | None = None) -> None:
    if files.disk_full(job.path):  # LAMMPS or a writer failed for want of space: not the parameters
        raise files.DiskFull(f"job {job.id}: {stage}: disk full in {job.path}; free some space and rerun")
    job.doc.update({only: reason} if only else {"failed": True, "failure_reason": reason, "failed_stage": stage})
    print(f"job {job.id}: {stage} failed: {reason}", flush=True)


def box_corrected(job, model: str, d, stress, box: float, curve: str) -> dict:
    """analysis.box_corrected for this job's temperature, its running Green–Kubo integral saved to
    `curve` (t_ps, eta, err in mPa·s); StageFailed naming the job when the run is too short for it."""
    from . import analysis
    try:
        keys, eta = analysis.box_corrected(model, d, stress, box, float(job.sp.get("temperature", presets.TEMPERATURE)))
    except ValueError as exc:
        raise StageFailed(f"job {job.id}: {model} viscosity: {exc}") from None
    for key in (f"D_{model}_inf", f"D_{model}_inf_err"):  # an earlier analysis's, where this one has none
        if key not in keys:
            job.doc.pop(key, None)
    save_columns(job.fn(curve), "t_ps eta_mPa_s err_mPa_s (running Green-Kubo integral, block mean and error)",
                 eta.running_t_ps, eta.running, eta.running_err)
    return keys


@functools.lru_cache(maxsize=None)
def provenance() -> dict:
    """Where this process's results come from: the code's commit (with "+modified" when tracked files
    differ from it), the LAMMPS version, the machine (name, processor, cores)."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "mobcg", "project.py"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        commit += "+modified" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    from . import lammps
    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
               platform.processor() or "?")
    return {"commit": commit, "lammps": lammps.version(),
            "machine": f"{platform.node()}: {cpu}, {os.cpu_count()} cores"}


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def save_columns(path: str | os.PathLike, header: str, *columns, durable: bool = True) -> None:
    """Write equal-length arrays as whitespace-separated columns (atomically; `durable` False: no
    fsync, files.atomic_path)."""
    with files.atomic_path(path, durable) as tmp:
        np.savetxt(tmp, np.column_stack(columns), header=header, fmt="%.8g")


def load_columns(path: str | os.PathLike) -> np.ndarray:
    return np.loadtxt(path, ndmin=2)
