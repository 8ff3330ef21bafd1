"""Atomic writes: a file that marks a stage done is either complete or absent; a lock for folders
that several processes write (analysis/: `project.py run --parallel`, simultaneous SLURM jobs)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from pathlib import Path


class MachineError(RuntimeError):
    """The machine is at fault, not the parameter set (LAMMPS or MPI missing, a LAMMPS build lacking
    a package, a full disk): nothing is marked failed; `project.py run` stops with this one line."""


class DiskFull(MachineError):
    pass


DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_UMASK = os.umask(0o022)  # read once, at import (os.umask can only be read by setting it)
os.umask(_UMASK)
MIN_FREE_BYTES = 1 << 20  # below this a LAMMPS error is blamed on the disk, not on the parameters


def disk_full(path: str | os.PathLike) -> bool:
    try:
        return shutil.disk_usage(path).free < MIN_FREE_BYTES
    except OSError:
        return False


def machine_fault(exc: BaseException) -> MachineError | None:
    """The MachineError behind `exc` (flow wraps operation errors), a full disk included; else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MachineError):
            return exc
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
            return DiskFull(f"disk full writing {exc.filename or 'a file'}: {exc.strerror}; "
                            "free some space and rerun")
        exc = exc.__cause__ or exc.__context__
    return None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = True):
    """Yield a temporary path beside `path`; on success rename it into place, else delete it.

    `durable` False skips the fsync: for inputs that every (re)run writes anew (LAMMPS inputs, CG
    tables and data), where a crash can lose nothing and the fsync was the IBI loop's largest cost."""
    path = Path(path)
    if not path.parent.is_dir():  # (a stat: mkdir of an existing folder waited for its lock)
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600); give it the mode open() would, so a group's shared
    # workspace or a release stays readable by the group
    os.fchmod(fd, 0o666 & ~_UMASK)
    os.close(fd)
    try:
        yield Path(tmp)
        if durable:
            with open(tmp, "rb+") as fh:  # durable before it becomes visible
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str, durable: bool = True) -> Path:
    with atomic_path(path, durable) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_with(path: str | os.PathLike, writer, binary: bool = True, durable: bool = True) -> Path:
    """Atomically write `path` with `writer(file_handle)` (binary by default, else UTF-8 text);
    `durable` False: no fsync (atomic_path)."""
    with atomic_path(path, durable) as tmp:
        with open(tmp, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": "\n"})) as fh:
            writer(fh)
    return Path(path)


class Background:
    """File work (writes, deletions) done in order by one helper thread while the caller goes on, e.g.
    an IBI iteration's record while the next LAMMPS run works. `wait()` blocks until all submitted
    work is done and raises the first error any of it met; leaving the `with` block waits too (and
    raises such an error unless an exception is already leaving it). Work submitted later never
    overtakes earlier work, and after a failure nothing more is done: what is on disk is always a
    prefix of what was submitted."""

    def __init__(self):
        import concurrent.futures
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mobcg-files")
        self._pending = []
        self._failed = False

    def _run(self, fn, args, kwargs):
        if self._failed:  # (an earlier piece of work failed: this one would break the prefix)
            return None
        try:
            return fn(*args, **kwargs)
        except BaseException:
            self._failed = True
            raise

    def submit(self, fn, *args, **kwargs) -> None:
        finished = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        for future in finished:  # an error of earlier work surfaces here, not only at wait()
            future.result()
        if self._failed:
            self.wait()
            raise RuntimeError("earlier file work in the background failed; nothing more is done")
        self._pending.append(self._pool.submit(self._run, fn, args, kwargs))

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        error = None
        for future in pending:
            exc = future.exception()
            error = error or exc
        if error is not None:
            raise error

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.wait()
        except Exception:
            if exc_type is None:
                raise
        finally:
            self._pool.shutdown(wait=True)


# What an interrupted writer leaves behind: atomic_path's and ibi's ".NAME.XXXX.tmp", LAMMPS'
# "NAME.part" (written, then renamed), signac's "._UUID_signac_job_document.json".
_STALE = re.compile(r"^(\..+\.tmp|.+\.part|\._[0-9a-f-]{36}_signac_.+\.json)$")


def stale_temporaries(root: str | os.PathLike) -> list[Path]:
    """Leftovers of writes interrupted by a kill under `root` (recursively), see _STALE."""
    return sorted(p for p in Path(root).rglob("*") if _STALE.match(p.name) and p.is_file())


def sweep_temporaries(root: str | os.PathLike) -> list[Path]:
    """Delete stale_temporaries(root): call only while no other writer works under `root`
    (flow runs one operation per job at a time; analysis/ holds its lock)."""
    removed = []
    for path in stale_temporaries(root):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


LOCK_NAME = ".lock"


@contextlib.contextmanager
def locked(directory: str | os.PathLike, shared: bool = False):
    """Hold fcntl.flock on `directory`/.lock: exclusive for writers, `shared` for readers that need
    several files of one consistent generation. Blocks until granted; the kernel releases it when the
    process dies (a killed holder never leaves the folder locked). NFS: flock works on NFSv4 (as on
    the Lichtenberg cluster's file systems); a local folder needs nothing."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
