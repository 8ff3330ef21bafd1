"""What the CG stage takes from the AA one: IBI's target and the CG start, from the AA COM frames.

The AA analysis computes it once from the frames it holds in memory (`compute`) and stores it beside
the job's trajectory (`save`, ibi_input.npz); the CG stage reads it (`load`) and never the trajectory.
A helper below both stages: plain arrays and paths, no job.

    grid(r_cut, dr, box)                  the IBI RDF grid (r_max, bins)
    start_configuration(frames)           the last frame at the mean NPT volume
    rdf(positions, boxes, r_max, bins)    the target g(r) and the deviation its sampling noise explains
    compute(frames, r_cut, dr, mass)      all of it: an IBIInput

Units: Å, g/mol.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from . import analysis, files, ibi

FILE = "ibi_input.npz"  # in the job folder, written by the AA analysis, read by run_ibi and the CG runs
VERSION = 2  # raise when IBIInput's content or its computation changes: older files are ignored
# (2: g normalised by N(N-1) pairs, analysis.ideal_counts)


@dataclass
class IBIInput:
    """The target on the IBI grid (bin centres r, g and the deviation its sampling noise explains),
    the CG start (positions in [0, L) and box, start_configuration) and the bead mass (g/mol)."""
    r: np.ndarray
    g: np.ndarray
    noise: float
    positions: np.ndarray
    box: np.ndarray
    mass: float


def grid(r_cut: float, dr: float, box=None) -> tuple[float, int]:
    """(r_max, bins) of the IBI RDF grid: bins of dr Å from 0 to one bin past r_cut (so r_cut lies
    inside the grid of bin centres), but below half the box, where analysis.rdf would cut anyway."""
    bins = int(math.ceil(float(r_cut) / dr - 1e-9)) + 1
    if box is not None:
        bins = min(bins, int(0.5 * float(np.min(box)) * 0.999 / dr))
    return bins * dr, max(4, bins)


def start_configuration(frames) -> tuple[np.ndarray, np.ndarray]:
    """The last AA centre-of-mass frame, scaled to the mean AA (NPT) volume: (positions in [0, L), box).

    The CG runs are NVT, so their density must be the AA average, not one frame's: a 64-molecule
    NPT box fluctuates by several % in volume, and a 6 % denser CG box kept the first RDF peak 10 %
    high however IBI changed the potential (and drove the CG pressure up)."""
    _, pos, boxes = frames
    scale = (np.prod(boxes, axis=1).mean() / np.prod(boxes[-1])) ** (1 / 3)
    box = boxes[-1] * scale
    return np.mod(pos[-1] * scale, box), box


def rdf(positions, boxes, r_max: float, bins: int):
    """The IBI target: the AA COM RDF of frames (F, N, 3) in boxes (F, 3) on the IBI grid, and the
    deviation its sampling noise explains (first half of the frames against the second): (r, g, noise)."""
    r, g, counts, norms = analysis.rdf_frames(positions, boxes, r_max, bins)
    return r, g, sampling_noise(r, counts, norms)


def sampling_noise(r, counts, norms) -> float:
    """The RDF deviation sampling noise explains: per-frame histograms and their ideal-gas counts
    (F, bins, analysis.rdf_frames), first half against second, each by its own volumes."""
    return ibi.halves_noise(ibi.deviation(r, *halves(counts, norms)))


def halves(counts, norms) -> tuple[np.ndarray, np.ndarray]:
    """g of the first half of the frames and of the second, each normalised by its own volumes."""
    h = len(counts) // 2
    return counts[:h].sum(0) / norms[:h].sum(0), counts[h:].sum(0) / norms[h:].sum(0)


def compute(frames, r_cut: float, dr: float, mass: float) -> IBIInput:
    """IBIInput from AA COM frames (times, positions (F, N, 3), boxes (F, 3), as trajectory.read_gsd) on
    the IBI grid of (r_cut, dr)."""
    positions, box = start_configuration(frames)
    # the target comes from the AA frames, whose smallest NPT box is below the (mean-volume) CG box
    r_max, bins = grid(r_cut, dr, [float(frames[2].min()), *box])
    r, g, noise = rdf(frames[1], frames[2], r_max, bins)
    return IBIInput(r, g, noise, positions, box, float(mass))


def key(trajectory, r_cut: float, dr: float) -> str:
    """What a stored IBIInput depends on beyond the statepoint: the IBI grid (r_cut, dr) and the AA
    trajectory it came from (size and mtime; "released" where a data release brought the job without it,
    see mobcg.release: then the stored input is the only one there is)."""
    try:
        st = os.stat(trajectory)
        source = f"{st.st_size}:{st.st_mtime_ns}"
    except FileNotFoundError:
        source = "released"
    return f"v{VERSION} r_cut={float(r_cut)!r} rdf_dr={float(dr)!r} {os.path.basename(trajectory)}={source}"


def save(path, inp: IBIInput, key_: str) -> None:
    """Store `inp` under `key_` (atomically)."""
    files.write_with(path, lambda fh: np.savez(
        fh, key=np.array(key_), r=inp.r, g=inp.g, noise=np.float64(inp.noise), positions=inp.positions,
        box=inp.box, mass=np.float64(inp.mass)))


def load(path, key_: str) -> IBIInput | None:
    """The stored IBIInput if it is there and current (its key is `key_`, or `key_` is a released job's and
    the grid is the same), else None (jobs analysed before it existed, a changed preset, a new trajectory)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = str(z["key"])
            if stored != key_ and not (key_.endswith("=released") and stored.rsplit("=", 1)[0] == key_.rsplit("=", 1)[0]):
                return None
            return IBIInput(np.array(z["r"]), np.array(z["g"]), float(z["noise"]), np.array(z["positions"]),
                            np.array(z["box"]), float(z["mass"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
