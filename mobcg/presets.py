"""Protocol presets: how big and how long each stage runs.

`demo` is demo-grade on purpose: small boxes and short runs, so the whole pipeline finishes on a
2-core laptop in minutes; small and short, not unphysical: NPT runs until the density has settled,
production until the MSD is diffusive and the density steady (each up to a cap). `small` reproduces
the published OPLS-AA reference on one workstation (benchmarks/reference_pipeline.py); `paper` is the
published protocol.
Times in ps, temperature in K, pressure in atm, lengths in Å.
"""

from __future__ import annotations

import copy

# How the presets' AA runs integrate (issue 21, benchmarks/aa_throughput.py and benchmarks/README.md); the
# pressure tensor averaged over 0.02 ps windows for the Green–Kubo viscosity in both.
# FAST_AA (demo, small, campaign, paper): hydrogen mass repartitioning (H 3 × 1.008 amu, the carbons lighter by as
# much, the molecule's mass kept) and velocity Verlet at the step that resolves the slower C-H bond with
# today's 10 steps per period (1.72 fs for OPLS-AA), today's 2 Å skin. 1.6-1.8× the throughput of Verlet at
# 1 fs at 48 and 125 molecules, forces unchanged, NVE drift as at 1 fs; the reference's NPT density and D_AA
# over five boxes within their errors of Verlet at 1 fs (NVT pressure at fixed volume -52 ± 36 atm).
FAST_AA = {"respa": 1, "skin": 2.0, "hmr": True, "stress_ps": 0.02}
# RESPA_AA (tiny, the tests'; the campaign's first 20 jobs, data/campaign-2026-12, before it took FAST_AA:
# each job's aa_integrator and the release's summary say which): r-RESPA
# with pair and k-space forces every 2 inner steps, the bonded terms at the stiffest bond's step, a 1.5 Å
# skin. As fast, D_AA unmoved, but at fixed volume the pressure is 145 ± 35 atm lower than with Verlet at
# 1 fs, so the NPT density is 1.3 ± 0.5 % higher. A preset that needs Verlet at 1 fs sets "respa": 1.
RESPA_AA = {"respa": 2, "skin": 1.5, "stress_ps": 0.02}

# CG productions at the paper's size (issue 20): the AA COM box replicated to >= 1000 beads, where a
# CG liquid loses less of its D to its periodic images; the pressure tensor averaged over 0.05 ps windows
# for its Green–Kubo viscosity.
CG_BOX = {"min_beads": 1000, "stress_ps": 0.05}

PRESETS: dict[str, dict] = {
    # Small and short, never unphysical: every number is from an equilibrated liquid (the NPT density
    # settled) and a diffusive MSD window, or the job says it is not (flags in job.doc).
    "demo": {
        "n_molecules": 48,
        # The OPLS-AA reference and three published sets (liquids with known D_AA, D_CG, alpha) that
        # diffuse fast enough (D_AA >= 2) for a diffusive MSD within the demo's production cap, run at
        # a 1 fs time step and have bonds within 0.3 Å of OPLS-AA's: the whole demo fits 15 minutes on
        # 2 cores.
        "n_random": 0,
        "published": 3,
        "published_min_D_AA": 2.0,
        "published_min_timestep_fs": 1.0,
        "published_max_bond_change": 0.3,
        "aa": {"compress_ps": 2.0, "relax_ps": 2.0, "equilibrate_ps": 8.0, "equilibrate_block_ps": 4.0,
               "density_window_ps": 6.0, "equilibrate_max_ps": 32.0, "production_ps": 30.0,
               "production_growth": 1.5, "production_max_ps": 120.0, "packing_start": 0.50, "frame_ps": 0.2,
               "density_every_ps": 0.1, "cutoff": 10.0, "np": 2, **FAST_AA},
        # demo-grade: the mean NPT density known to ±1.5 % (48 molecules fluctuate by ~3 % per frame)
        "analysis": {"rdf_bins": 115, "rdf_r_max": 11.5, "density_tol": 0.015, "liquid_packing": 0.35},
        # 48 beads: ~0.3 s of LAMMPS per iteration on one core; RDF noise keeps the deviation at a
        # few %, so demo IBI stops within that noise, or stalls, after 3-10 iterations.
        "ibi": {"method": "imc", "max_iterations": 10, "tol": 0.01, "p_tol": 200.0, "lam": 1.0,
                "r_cut": 11.0, "rdf_dr": 0.1, "equilibrate_ps": 5.0, "production_ps": 60.0,
                "frame_ps": 0.5, "timestep_fs": 5.0, "np": 1, "stall_iterations": 4, "stall_gain": 0.05},
        # potential_error: two more CG runs, the potential moved by ∓/± the target's noise; D_CG's error is
        # the larger of the axes' spread and the three runs' scatter (cg.potential_error, cg.analyze)
        "cg": {"equilibrate_ps": 20.0, "production_ps": 100.0, "production_max_ps": 800.0, "frame_ps": 1.0,
               "timestep_fs": 5.0, "np": 1, "potential_error": True, **CG_BOX},
        "walltime_h": 0.5,
    },
    # Our own campaign (issue 22): random sets on one workstation, 5-10 min per liquid on 2 cores. The
    # demo's AA protocol and size (48 molecules, 10 Å cut-off, the NPT and production tests and the demo's
    # density tolerance) with longer caps for the slower liquids a random draw gives; IBI at the AA box,
    # the CG production at 1296 beads (cg.min_beads).
    "campaign": {
        "n_molecules": 48,
        "n_random": 60,
        "aa": {"compress_ps": 2.0, "relax_ps": 2.0, "equilibrate_ps": 8.0, "equilibrate_block_ps": 4.0,
               "density_window_ps": 6.0, "equilibrate_max_ps": 40.0, "production_ps": 30.0,
               "production_growth": 1.5, "production_max_ps": 150.0, "packing_start": 0.50, "frame_ps": 0.2,
               "density_every_ps": 0.1, "cutoff": 10.0, "np": 2, **FAST_AA},
        "analysis": {"rdf_bins": 115, "rdf_r_max": 11.5, "density_tol": 0.015, "liquid_packing": 0.35},
        "ibi": {"method": "imc", "max_iterations": 10, "tol": 0.01, "p_tol": 200.0, "lam": 1.0,
                "r_cut": 11.0, "rdf_dr": 0.1, "equilibrate_ps": 5.0, "production_ps": 60.0,
                "frame_ps": 0.5, "timestep_fs": 5.0, "np": 1, "stall_iterations": 4, "stall_gain": 0.05},
        "cg": {"equilibrate_ps": 20.0, "production_ps": 100.0, "production_max_ps": 800.0, "frame_ps": 1.0,
               "timestep_fs": 5.0, "np": 1, "potential_error": True, **CG_BOX},
        "walltime_h": 1.0,
    },
    # For the test-suite only: seconds per stage, numbers meaningless (tolerances wide open).
    "tiny": {
        "n_molecules": 27,
        "n_random": 1,
        "aa": {"compress_ps": 0.5, "relax_ps": 0.3, "equilibrate_ps": 0.5, "equilibrate_block_ps": 0.5, "density_window_ps": 0.5,
               "equilibrate_max_ps": 0.5, "production_ps": 2.0, "production_max_ps": 2.0,
               "packing_start": 0.50, "frame_ps": 0.05, "density_every_ps": 0.01, "cutoff": 8.0, "np": 1, **RESPA_AA},
        "analysis": {"rdf_bins": 60, "rdf_r_max": 9.0, "density_tol": 1.0, "liquid_packing": 0.05,
                     "waive_trust": True},
        # 27 beads: every deviation is within the noise, and the tests count iterations
        "ibi": {"method": "imc", "max_iterations": 3, "tol": 0.01, "p_tol": None, "lam": 1.0, "stop_within_noise": False,
                "r_cut": 9.0, "equilibrate_ps": 2.0, "production_ps": 10.0, "frame_ps": 0.5,
                "timestep_fs": 5.0, "np": 1},
        "cg": {"equilibrate_ps": 2.0, "production_ps": 20.0, "frame_ps": 0.5, "timestep_fs": 5.0,
               "np": 1, "stress_ps": 0.05},
        "walltime_h": 0.1,
    },
    # Reproduces the published OPLS-AA reference end to end on one workstation (hours on 2 cores):
    # 125 molecules, AA production until diffusive, IBI to r_cut 14 Å with the pressure correction.
    "small": {
        "n_molecules": 125,
        "n_random": 4,
        "aa": {"compress_ps": 5.0, "relax_ps": 5.0, "equilibrate_ps": 30.0, "equilibrate_block_ps": 20.0, "density_window_ps": 20.0,
               "equilibrate_max_ps": 200.0, "production_ps": 150.0, "production_max_ps": 600.0,
               "packing_start": 0.50, "frame_ps": 0.5, "density_every_ps": 0.1, "cutoff": 12.0, "np": 2, **FAST_AA},
        "analysis": {"rdf_bins": 150, "rdf_r_max": 15.0, "density_tol": 0.01, "liquid_packing": 0.35},
        "ibi": {"method": "imc", "max_iterations": 40, "tol": 0.01, "p_tol": 50.0, "lam": 1.0,
                # 800 ps of 125 beads is seconds; with 200 ps the CG run's own noise kept the reference
                # at 1.0-1.2 %, with 800 ps it is < 1 % from iteration 4 (benchmarks/README.md)
                "r_cut": 14.0, "rdf_dr": 0.1, "equilibrate_ps": 20.0, "production_ps": 800.0,
                "frame_ps": 0.5, "timestep_fs": 5.0, "np": 2,
                # 4 iterations gaining < 5 % on the best deviation end a run that no longer improves,
                # flagged not converged
                "stall_iterations": 4, "stall_gain": 0.05,
                # Newton steps damped (reg 0.05) until the deviation is below 5 %, then reg 0.02: < 1 % at
                # iteration 4 in 6 of 6 seeded runs (3: 4 of 6), potential rms error halved (benchmarks/README.md)
                "reg": 0.05, "reg_near": 0.02, "reg_switch": 0.05},
        "cg": {"equilibrate_ps": 50.0, "production_ps": 1000.0, "production_max_ps": 4000.0, "frame_ps": 1.0,
               "timestep_fs": 5.0, "np": 2, "potential_error": True, **CG_BOX},
        "walltime_h": 6.0,
    },
    # The paper's own IBI was pressure-corrected: each published potential reproduces its CG RDF and D_CG
    # at the density where it gives 1 atm (benchmarks/published_pressure.py), hence p_tol here too.
    "paper": {
        "n_molecules": 1000,
        "n_random": 234,
        "aa": {"compress_ps": 20.0, "relax_ps": 10.0, "equilibrate_ps": 1000.0, "equilibrate_block_ps": 200.0, "density_window_ps": 200.0,
               "equilibrate_max_ps": 3000.0, "production_ps": 2000.0, "production_max_ps": 8000.0,
               "packing_start": 0.50, "frame_ps": 1.0, "density_every_ps": 0.5, "cutoff": 12.0, "np": 16, **FAST_AA},
        "analysis": {"rdf_bins": 290, "rdf_r_max": 15.5, "density_tol": 0.01, "liquid_packing": 0.35},
        "ibi": {"method": "imc", "max_iterations": 100, "tol": 0.01, "p_tol": 50.0, "lam": 1.0,
                "r_cut": 15.5, "rdf_dr": 0.05, "equilibrate_ps": 100.0, "production_ps": 500.0, "frame_ps": 1.0,
                "timestep_fs": 5.0, "np": 4, "stall_iterations": 4, "stall_gain": 0.05,
                "reg": 0.05, "reg_near": 0.02, "reg_switch": 0.05},  # as small
        "cg": {"equilibrate_ps": 200.0, "production_ps": 5000.0, "production_max_ps": 20000.0, "frame_ps": 2.0,
               "timestep_fs": 5.0, "np": 4, "potential_error": True, **CG_BOX},
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
