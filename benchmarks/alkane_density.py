#!/usr/bin/env python
"""Unmodified OPLS-AA density of n-hexane and n-octane at 298.15 K, 1 atm against experiment.

Experiment (298.15 K): n-hexane 0.655 g/cm³, n-octane 0.699 g/cm³. Target: within 3 %.
Runs the project's own AA equilibration (mobcg.aa.build + aa.equilibrate: squeeze, NVT relax,
Nosé–Hoover NPT until the block-averaged density has settled) in a scratch signac project, with the
`small` preset's protocol (125 molecules). The density is the settled NPT mean
(job.doc["equilibration_density"], the mean of four block averages over the last density_window_ps).

    python benchmarks/alkane_density.py                        # the small preset, 125 molecules
    python benchmarks/alkane_density.py --molecules 64 --np 1  # shorter: 64 molecules
"""

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aa, presets  # noqa: E402
from mobcg.forcefield import OPLS_AA  # noqa: E402
from mobcg.init import statepoint  # noqa: E402

EXPERIMENT = {"n-hexane": 0.655, "n-octane": 0.699}  # g/cm³, 298.15 K


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", type=int, default=None, help="molecules per box (default: the small preset's)")
    parser.add_argument("--np", type=int, default=1, help="MPI ranks for LAMMPS")
    parser.add_argument("--only", choices=list(EXPERIMENT), nargs="+", default=list(EXPERIMENT))
    parser.add_argument("--root", default=None, help="scratch project folder (default: a temp dir; reused: resumes)")
    args = parser.parse_args()
    root = Path(args.root or tempfile.mkdtemp(prefix="mobcg-bench-alkanes-"))
    project = signac.init_project(root)
    preset_name = "small"
    if args.molecules:  # a variant of `small` with fewer molecules, registered for this process only
        preset_name = f"small-{args.molecules}"
        presets.PRESETS[preset_name] = presets.get("small") | {"n_molecules": args.molecules}
    rows = []
    for name in args.only:
        job = project.open_job(statepoint(OPLS_AA, preset_name, molecule=name)).init()
        started = time.monotonic()
        if not job.isfile(aa.DATA):
            aa.build(job)
        if not job.isfile(aa.EQUILIBRATED):
            print(f"[{name}] equilibrating in {job.path} ...", flush=True)
            aa.equilibrate(job, np=args.np)
        rho = job.doc["equilibration_density"]
        rows.append((name, presets.get("small")["n_molecules"] if not args.molecules else args.molecules,
                     rho, EXPERIMENT[name], job.doc["equilibration_ps"], time.monotonic() - started))
    print("\ncommand: python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"preset {preset_name}, unmodified OPLS-AA, 298.15 K, 1 atm; scratch project {root}")
    print("molecule   N    density g/cm³  experiment  ratio   NPT ps  wall s")
    for name, n, rho, exp, t, wall in rows:
        print(f"{name:9s} {n:4d}   {rho:.4f}        {exp:.3f}      {rho / exp:.3f}   {t:6.1f}  {wall:6.0f}"
              f"   {'within 3 %' if abs(rho / exp - 1) <= 0.03 else 'MISSED 3 %'}")


if __name__ == "__main__":
    main()
