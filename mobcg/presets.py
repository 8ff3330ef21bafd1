"""Protocol presets: how big and how long each stage runs.

`demo` is demo-grade on purpose: small boxes and picosecond runs, so the whole pipeline finishes
on a 2-core laptop in minutes. Its D values are not converged; only `paper` compares with the
published numbers. Times in ps, temperature in K, pressure in atm, lengths in Å.
"""

from __future__ import annotations

import copy

PRESETS: dict[str, dict] = {
    "demo": {
        "n_molecules": 64,
        "n_random": 4,
        "aa": {"compress_ps": 2.0, "equilibrate_ps": 4.0, "production_ps": 12.0,
               "frame_ps": 0.1, "cutoff": 10.0, "np": 2},
        "analysis": {"rdf_bins": 120, "rdf_r_max": 12.0},
        # 64 beads: ~1-2 s of LAMMPS per iteration on one core; RDF noise keeps the deviation
        # near 1-3 %, so demo IBI usually stops at max_iterations with the best potential.
        "ibi": {"max_iterations": 15, "tol": 0.01, "p_tol": 200.0, "lam": 1.0,
                "r_cut": 12.0, "rdf_dr": 0.1, "equilibrate_ps": 10.0, "production_ps": 100.0,
                "frame_ps": 0.5, "timestep_fs": 5.0, "np": 1},
        "cg": {"equilibrate_ps": 20.0, "production_ps": 200.0, "frame_ps": 1.0, "timestep_fs": 5.0,
               "np": 1},
        "walltime_h": 0.5,
    },
    # For the test-suite only: seconds per stage, numbers meaningless.
    "tiny": {
        "n_molecules": 27,
        "n_random": 1,
        "aa": {"compress_ps": 0.5, "equilibrate_ps": 0.5, "production_ps": 2.0,
               "frame_ps": 0.05, "cutoff": 8.0, "np": 1},
        "analysis": {"rdf_bins": 60, "rdf_r_max": 9.0},
        "ibi": {"max_iterations": 3, "tol": 0.01, "p_tol": None, "lam": 1.0,
                "r_cut": 9.0, "equilibrate_ps": 2.0, "production_ps": 10.0, "frame_ps": 0.5,
                "timestep_fs": 5.0, "np": 1},
        "cg": {"equilibrate_ps": 2.0, "production_ps": 20.0, "frame_ps": 0.5, "timestep_fs": 5.0,
               "np": 1},
        "walltime_h": 0.1,
    },
    "paper": {
        "n_molecules": 1000,
        "n_random": 234,
        "aa": {"compress_ps": 20.0, "equilibrate_ps": 1000.0, "production_ps": 2000.0,
               "frame_ps": 1.0, "cutoff": 12.0, "np": 16},
        "analysis": {"rdf_bins": 290, "rdf_r_max": 15.5},
        "ibi": {"max_iterations": 100, "tol": 0.01, "p_tol": 50.0, "lam": 1.0,
                "r_cut": 15.5, "rdf_dr": 0.05, "equilibrate_ps": 100.0, "production_ps": 500.0, "frame_ps": 1.0,
                "timestep_fs": 5.0, "np": 4},
        "cg": {"equilibrate_ps": 200.0, "production_ps": 5000.0, "frame_ps": 2.0, "timestep_fs": 5.0,
               "np": 4},
        "walltime_h": 24.0,
    },
}

TEMPERATURE = 298.15  # K
PRESSURE = 1.0  # atm


class PresetError(ValueError):
    pass


def get(name: str) -> dict:
    """A deep copy of a preset, so callers may adjust it freely."""
    try:
        return copy.deepcopy(PRESETS[name])
    except KeyError:
        raise PresetError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
