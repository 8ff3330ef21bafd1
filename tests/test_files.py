"""files in-process (issue 14): atomic writes (complete or absent, never partial, no temporary left),
the stale-temporary sweep, and how machine faults are recognised. Milliseconds; the project.py tests
reach the same code only through subprocesses, which mutmut does not see."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections import namedtuple

import pytest

from mobcg import files


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ atomic writes


def test_write_json_is_sorted_indented_and_complete(tmp_path):
    path = tmp_path / "a" / "b" / "doc.json"
    assert files.write_json(path, {"b": [1, 2], "a": {"y": 1.5, "x": None}}) == path
    assert path.read_text() == '{\n  "a": {\n    "x": null,\n    "y": 1.5\n  },\n  "b": [\n    1,\n    2\n  ]\n}\n'
    assert files.write_json(str(path), "é") == path  # a str path gives the same Path back
    assert path.read_bytes() == b'"\\u00e9"\n'
    assert _names(path.parent) == ["doc.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "doc.json"
    files.write_json(path, {"n": 1})
    with pytest.raises(TypeError):
        files.write_json(path, {"n": object()})  # not serialisable: fails before anything is written
    assert json.loads(path.read_text()) == {"n": 1} and _names(tmp_path) == ["doc.json"]

    def half(fh):
        fh.write(b"partial")
        raise KeyboardInterrupt  # even a kill-like interruption leaves no partial file
    with pytest.raises(KeyboardInterrupt):
        files.write_with(path, half)
    assert json.loads(path.read_text()) == {"n": 1} and _names(tmp_path) == ["doc.json"]
    with pytest.raises(RuntimeError):
        files.write_with(tmp_path / "new.bin", lambda fh: (_ for _ in ()).throw(RuntimeError("x")))
    assert _names(tmp_path) == ["doc.json"]


def test_write_with_binary_and_text(tmp_path):
    seen = []

    def writer(fh):
        seen.append((fh.mode, getattr(fh, "encoding", None), fh.name))
        fh.write(b"\x00\xffbytes")
    path = files.write_with(tmp_path / "sub" / "x.bin", writer)
    assert path == tmp_path / "sub" / "x.bin" and path.read_bytes() == b"\x00\xffbytes"
    mode, encoding, name = seen[0]
    assert mode == "wb" and encoding is None
    assert os.path.dirname(name) == str(tmp_path / "sub") and os.path.basename(name).startswith(".x.bin.") \
        and name.endswith(".tmp")  # written beside the target, then renamed
    text = files.write_with(str(tmp_path / "t.txt"), lambda fh: fh.write("é\nline\n"), binary=False)
    assert text == tmp_path / "t.txt" and text.read_bytes() == "é\nline\n".encode("utf-8")
    # UTF-8 whatever the locale says (the handle's own encoding name: this machine's locale is UTF-8 too)
    files.write_with(tmp_path / "t2.txt", lambda fh: seen.append(fh.encoding) or fh.write("ü\r\n"), binary=False)
    assert seen[-1] == "utf-8" and (tmp_path / "t2.txt").read_bytes() == "ü\r\n".encode("utf-8")
    assert files.write_text(tmp_path / "w.txt", "ä") == tmp_path / "w.txt"
    assert (tmp_path / "w.txt").read_text(encoding="utf-8") == "ä"


# ------------------------------------------------------------------------------ stale temporaries


def test_stale_temporaries_and_sweep(tmp_path):
    keep = ["x.tmp", ".x.tmpa", "a.parts", "data.json", "._nothex_signac_job_document.json", ".tmp", "part"]
    stale = [".doc.json.abc123.tmp", "traj.gsd.part", "._0123abcd-89ef-4567-89ab-0123456789ab_signac_job_document.json"]
    (tmp_path / "job" / "deep").mkdir(parents=True)
    for name in keep + stale:
        (tmp_path / "job" / name).write_text("")
    (tmp_path / "job" / "deep" / ".r.txt.1.tmp").write_text("")
    (tmp_path / "job" / ".folder.tmp").mkdir()  # only files are stale
    expected = sorted([tmp_path / "job" / n for n in stale] + [tmp_path / "job" / "deep" / ".r.txt.1.tmp"])
    assert files.stale_temporaries(tmp_path) == expected
    assert files.stale_temporaries(str(tmp_path / "job" / "deep")) == [tmp_path / "job" / "deep" / ".r.txt.1.tmp"]
    assert files.sweep_temporaries(tmp_path) == expected
    assert _names(tmp_path / "job") == sorted(keep + ["deep", ".folder.tmp"])
    assert files.sweep_temporaries(tmp_path) == []


def test_sweep_skips_what_vanished_meanwhile(tmp_path, monkeypatch):
    real = tmp_path / ".a.tmp"
    real.write_text("")
    monkeypatch.setattr(files, "stale_temporaries", lambda root: [tmp_path / ".gone.tmp", real])
    assert files.sweep_temporaries(tmp_path) == [real] and not real.exists()


# ------------------------------------------------------------------------------ machine faults


def test_disk_full_threshold(monkeypatch, tmp_path):
    usage = namedtuple("usage", "total used free")
    assert files.MIN_FREE_BYTES == 1 << 20
    for free, full in ((0, True), ((1 << 20) - 1, True), (1 << 20, False), (10 << 30, False)):
        monkeypatch.setattr(shutil, "disk_usage", lambda path, free=free: usage(1 << 40, 0, free))
        assert files.disk_full(tmp_path) is full

    def broken(path):
        raise FileNotFoundError(path)
    monkeypatch.setattr(shutil, "disk_usage", broken)
    assert files.disk_full(tmp_path / "gone") is False


def test_machine_fault_finds_the_cause():
    machine = files.MachineError("LAMMPS lacks MOLECULE")
    assert files.machine_fault(machine) is machine
    try:
        try:
            raise machine
        except files.MachineError as inner:
            raise RuntimeError("flow: operation failed") from inner
    except RuntimeError as outer:
        assert files.machine_fault(outer) is machine
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded", "/scratch/x.gsd")
        except OSError:
            raise ValueError("while handling")  # implicit __context__
    except ValueError as outer:
        fault = files.machine_fault(outer)
    assert type(fault) is files.DiskFull and isinstance(fault, files.MachineError)
    assert str(fault) == "disk full writing /scratch/x.gsd: Disk quota exceeded; free some space and rerun"
    fault = files.machine_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert str(fault) == "disk full writing a file: No space left on device; free some space and rerun"
    assert files.machine_fault(OSError(errno.EACCES, "Permission denied", "x")) is None
    assert files.machine_fault(ValueError("a bug")) is None
    loop = ValueError("a")
    loop.__context__ = RuntimeError("b")
    loop.__context__.__context__ = loop  # a cycle ends the search
    assert files.machine_fault(loop) is None
    assert files.DISK_ERRNOS == (errno.ENOSPC, errno.EDQUOT)


def test_locked_folder(tmp_path):
    with files.locked(tmp_path / "analysis"):
        assert (tmp_path / "analysis" / files.LOCK_NAME).exists()
    with files.locked(tmp_path / "analysis", shared=True), files.locked(tmp_path / "analysis", shared=True):
        pass  # two readers at once


def test_write_text_syncs_unless_told_the_file_is_rewritten_anyway(tmp_path, monkeypatch):
    """A stage-marking file is fsynced before the rename; an input every run writes anew (durable=False)
    is not, and is still complete and in place."""
    import os
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    files.write_text(tmp_path / "marker.json", "{}\n")
    assert len(synced) == 1
    files.write_text(tmp_path / "input.in", "run 10\n", durable=False)
    assert len(synced) == 1 and (tmp_path / "input.in").read_text() == "run 10\n"
    files.write_text(tmp_path / "again.json", "{}\n", durable=True)
    assert len(synced) == 2 and not list(tmp_path.glob(".*.tmp"))


# ------------------------------------------------------------------------------ background file work


def test_background_work_runs_in_order_and_its_last_error_surfaces_at_wait(tmp_path):
    """The last piece of work failing is seen only by wait() (no later submit to report it), and leaving
    the `with` block reports it too; work submitted after a failure is not done (disk holds a prefix)."""
    def full_disk(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    background = files.Background()
    background.submit(files.write_text, tmp_path / "a.txt", "a")
    background.submit(files.write_text, tmp_path / "b.txt", "b")
    background.submit(full_disk, tmp_path / "c.txt")
    with pytest.raises(OSError) as raised:
        background.wait()
    assert raised.value.errno == errno.ENOSPC and _names(tmp_path) == ["a.txt", "b.txt"]
    background.wait()  # reported once: nothing is pending any more
    with pytest.raises(RuntimeError, match="earlier file work in the background failed"):
        background.submit(files.write_text, tmp_path / "d.txt", "d")

    with pytest.raises(OSError, match="No space left"), files.Background() as background:
        background.submit(full_disk, tmp_path / "e.txt")
    assert _names(tmp_path) == ["a.txt", "b.txt"]


def test_atomic_writes_get_the_mode_a_plain_write_gets(tmp_path):
    """Results are as readable as files open() creates under the same umask (0644 under 022), not
    private like mkstemp's 0600: a group shares a workspace or a release."""
    (tmp_path / "plain.txt").write_text("x")
    files.write_text(tmp_path / "atomic.txt", "x")
    files.write_with(tmp_path / "atomic.bin", lambda fh: fh.write(b"x"))
    plain = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert plain == 0o666 & ~files._UMASK
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == plain
    assert (tmp_path / "atomic.bin").stat().st_mode & 0o777 == plain
