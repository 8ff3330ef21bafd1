"""LAMMPS output → GSD: centre-of-mass trajectories written by `fix ave/time ... mode vector`."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import gsd.hoomd
import numpy as np

from .. import files


class TrajectoryError(ValueError):
    pass


def read_vector_file(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(steps (F,), rows (F, N, C)) from a `fix ave/time mode vector` file; a cut-off last frame is dropped."""
    path = Path(path)
    text = path.read_text()
    whole = _whole_frames(text)
    if whole is not None:
        return whole
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    steps, blocks, i = [], [], 0
    while i < len(lines):  # walk the frame headers only; the numbers are parsed in one go below
        head = lines[i].split()
        if len(head) != 2:
            raise TrajectoryError(f"{path}: line '{lines[i][:60]}' is not a 'step nrows' frame header")
        step, nrows = int(head[0]), int(head[1])
        if i + 1 + nrows > len(lines):
            break  # the run was interrupted while writing this frame
        blocks.append((i + 1, nrows))
        steps.append(step)
        i += 1 + nrows
    if not blocks:
        raise TrajectoryError(f"{path}: no complete frame")
    nrows = {n for _, n in blocks}
    if len(nrows) != 1:
        raise TrajectoryError(f"{path}: frames have different row counts {sorted(nrows)}")
    n = nrows.pop()
    body = [lines[start + k] for start, _ in blocks for k in range(n)]
    try:
        values = np.array(" ".join(body).split(), dtype=float)
        frames = values.reshape(len(blocks), n, -1)[:, :, 1:]  # first column: the row index
    except ValueError as exc:
        raise TrajectoryError(f"{path}: malformed frame rows ({exc})") from None
    return np.array(steps), frames


def _whole_frames(text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """read_vector_file's result in one parse when the file is the usual case: comment lines only at
    the top, then complete frames of equal size, rows numbered 1..n; None otherwise (the line-by-line
    reader then drops a cut frame or names the fault). Values parse as there (str -> float)."""
    start = 0
    while text.startswith("#", start):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    body = text[start:]
    if "#" in body:
        return None
    head, first, *_ = body.split("\n", 2) + ["", ""]
    head, first = head.split(), first.split()
    if len(head) != 2 or not first or not head[1].isdigit() or int(head[1]) < 1:
        return None
    nrows, ncols = int(head[1]), len(first)
    tokens = body.split()
    size = 2 + nrows * ncols
    if len(tokens) % size:
        return None
    try:
        values = np.array(tokens, dtype=float).reshape(-1, size)
    except ValueError:
        return None
    rows = values[:, 2:].reshape(len(values), nrows, ncols)
    if not (np.all(values[:, 1] == nrows) and np.all(rows[:, :, 0] == np.arange(1, nrows + 1))):
        return None
    try:
        steps = np.array([int(t) for t in tokens[::size]])
    except ValueError:
        return None
    return steps, rows[:, :, 1:]


def read_scalar_file(path: str | os.PathLike) -> np.ndarray:
    """Rows of a `fix ave/time` scalar file (first column: step)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Empty input file": reported below instead
        try:
            data = np.loadtxt(path, comments="#", ndmin=2)
        except ValueError as exc:
            raise TrajectoryError(f"{path}: not a table of numbers ({exc})") from None
    if data.size == 0:
        raise TrajectoryError(f"{path}: empty")
    return data


def merge_segments(pairs) -> tuple[np.ndarray, np.ndarray, dict]:
    """Join (com_file, box_file) segments of a resumed run: a later segment restarts at step S,
    so an earlier segment's frames at steps >= S (written after its last restart) are dropped.
    Returns (steps, unwrapped COM rows, {step: box row without the step (lx ly lz, then any more
    columns such as the pressure)}); a later segment's box rows replace an earlier one's."""
    segments = []
    for com_file, box_file in pairs:
        if not (Path(com_file).exists() and Path(com_file).stat().st_size > 0):
            continue  # an attempt that stopped before its first frame
        try:
            steps, com = read_vector_file(com_file)
        except TrajectoryError:
            continue
        try:
            box = read_scalar_file(box_file)
        except (TrajectoryError, OSError):
            box = np.empty((0, 4))  # resumed at its last step: no box average written yet
        segments.append((steps, com, box))
    if not segments:
        raise TrajectoryError(f"{pairs[-1][0] if pairs else '?'}: no complete frame in any segment")
    all_steps, all_com, by_step = [], [], {}
    for k, (steps, com, box) in enumerate(segments):
        limit = segments[k + 1][0][0] if k + 1 < len(segments) else np.inf
        keep = steps < limit
        all_steps.append(steps[keep])
        all_com.append(com[keep])
        by_step.update({int(row[0]): row[1:] for row in box})
    return np.concatenate(all_steps), np.concatenate(all_com), by_step


def merge_rows(paths) -> tuple[np.ndarray, np.ndarray]:
    """(steps, rows) of the `fix ave/time` scalar files of a resumed run's segments (e.g. the pressure
    tensor windows, .stress): a later segment restarts at step S, so an earlier segment's rows from its
    first step on (written after the restart it continued from) are dropped, as in merge_segments. A
    segment without a complete row (stopped before its first window) is skipped."""
    segments = []
    for path in paths:
        try:
            rows = _complete_rows(path)
        except (TrajectoryError, OSError):
            continue
        segments.append(rows)
    if not segments:
        raise TrajectoryError(f"{paths[-1] if paths else '?'}: no complete row in any segment")
    kept = [rows[rows[:, 0] < (segments[k + 1][0, 0] if k + 1 < len(segments) else np.inf)]
            for k, rows in enumerate(segments)]
    merged = np.concatenate(kept)
    return merged[:, 0].astype(np.int64), merged[:, 1:]


def _complete_rows(path) -> np.ndarray:
    """read_scalar_file's rows, less a last line a kill cut short (fewer fields than the others)."""
    lines = [line.split() for line in Path(path).read_text().splitlines() if line and not line.startswith("#")]
    if lines and len(lines) > 1 and len(lines[-1]) != len(lines[0]):
        lines = lines[:-1]
    try:
        rows = np.array(lines, dtype=float)
    except ValueError as exc:
        raise TrajectoryError(f"{path}: not a table of numbers ({exc})") from None
    if rows.ndim != 2 or rows.size == 0:
        raise TrajectoryError(f"{path}: empty")
    return rows


def checked(steps, by_step, where) -> None:
    """Frames in strictly increasing step order, each with its box row."""
    missing = [s for s in steps if int(s) not in by_step]
    if missing:
        raise TrajectoryError(f"{where}: no box for step {missing[0]}")
    if len(np.unique(steps)) != len(steps) or np.any(np.diff(steps) <= 0):
        raise TrajectoryError(f"{where}: frames are not in increasing step order")


def write_gsd(steps, com, by_step, gsd_file, timestep_fs: float) -> int:
    """Unwrapped COM frames + {step: box row} → GSD (atomically); returns the number of frames."""
    with files.atomic_path(gsd_file) as tmp:
        with gsd.hoomd.open(tmp, "w") as traj:
            for step, xyz in zip(steps, com):
                traj.append(frame(xyz, by_step[int(step)][:3], int(step), timestep_fs))
    return len(steps)


def com_to_gsd(com_file, box_file, gsd_file, timestep_fs: float) -> int:
    """Convert unwrapped COM positions + box lengths into a GSD trajectory (wrapped + images).

    `com_file`/`box_file` may be lists of segment files (see merge_segments).
    HOOMD/GSD convention: box centred on the origin, positions in [-L/2, L/2), `particles/image`
    counts box crossings, so unwrapped = position + image * L. Returns the number of frames.
    """
    if isinstance(com_file, (list, tuple)):
        steps, com, by_step = merge_segments(list(zip(com_file, box_file)))
    else:
        steps, com = read_vector_file(com_file)
        by_step = {int(row[0]): row[1:] for row in read_scalar_file(box_file)}
    checked(steps, by_step, com_file)
    return write_gsd(steps, com, by_step, gsd_file, timestep_fs)


def frame(unwrapped: np.ndarray, lengths, step: int = 0, timestep_fs: float = 1.0) -> gsd.hoomd.Frame:
    lengths = np.asarray(lengths, float)
    image = np.floor(unwrapped / lengths + 0.5).astype(np.int32)
    f = gsd.hoomd.Frame()
    f.configuration.step = step
    f.configuration.box = [*lengths, 0, 0, 0]
    f.particles.N = len(unwrapped)
    f.particles.position = (unwrapped - image * lengths).astype(np.float32)
    f.particles.image = image
    f.particles.types = ["M"]
    f.particles.typeid = np.zeros(len(unwrapped), np.uint32)
    f.log["mobcg/timestep_fs"] = np.array([timestep_fs])
    return f


def read_gsd(gsd_file) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times in fs (F,), unwrapped positions (F, N, 3) Å, box lengths (F, 3) Å)."""
    try:
        with gsd.hoomd.open(gsd_file, "r") as traj:
            if len(traj) == 0:
                raise TrajectoryError(f"{gsd_file}: no frames")
            steps, pos, boxes = [], [], []
            dt = float(traj[0].log.get("mobcg/timestep_fs", [1.0])[0])
            for f in traj:
                lengths = np.asarray(f.configuration.box[:3], float)
                steps.append(f.configuration.step)
                boxes.append(lengths)
                pos.append(f.particles.position.astype(float) + f.particles.image * lengths)
    except (OSError, RuntimeError, KeyError) as exc:
        raise TrajectoryError(f"{gsd_file}: unreadable GSD trajectory ({exc})") from None
    return (np.array(steps) - steps[0]) * dt, np.stack(pos), np.stack(boxes)
