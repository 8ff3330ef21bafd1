#!/usr/bin/env python
"""How the reference's AA density depends on the non-bonded settings: cut-off, tail correction, PPPM accuracy.

From an equilibrated reference box (a job's aa_equilibrated.restart, e.g. one of
`benchmarks/aa_throughput.py --check`'s small-preset jobs), the project's AA production input runs NPT
(Nosé–Hoover, 298.15 K, 1 atm) with one setting changed at a time: the LJ and real-space Coulomb
cut-off, `pair_modify tail`, the PPPM accuracy. Printed: the mean density over the run after `--skip`
ps, with the standard error of four block means (analysis.density_settled), and the difference to the
preset's own setting. The paper gives 0.735 g/cm³ for 1000 molecules; we have had 0.721-0.729.

    python benchmarks/density_sensitivity.py --job benchmark_runs/small_check/presets/workspace/<id> --ps 60

Units: g/cm³, Å, ps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aa, analysis, lammps, presets  # noqa: E402

VARIANTS = {  # name: (cut-off override or None, (old, new) edits of the rendered input)
    "the preset's (12 Å, tail, PPPM 1e-4)": (None, []),
    "cut-off 10 Å": (10.0, []),
    "cut-off 14 Å": (14.0, []),
    "no tail correction": (None, [("pair_modify     mix geometric tail yes", "pair_modify     mix geometric tail no")]),
    "PPPM 1e-5": (None, [("kspace_style    pppm 1.0e-4", "kspace_style    pppm 1.0e-5")]),
    "PPPM 1e-3": (None, [("kspace_style    pppm 1.0e-4", "kspace_style    pppm 1.0e-3")]),
}


def run(job, preset: dict, name: str, cutoff, edits, ps: float, np_: int) -> tuple[np.ndarray, np.ndarray]:
    ctx = aa._context(aa.jobs.info(job, preset))
    if cutoff is not None:
        ctx["cutoff"] = cutoff
    dt = ctx["timestep"]
    tag = "density_" + "".join(c if c.isalnum() else "_" for c in name)[:40]
    ctx.update(restart_in=aa.EQUILIBRATED, resume=None, name=tag, segment=0, restart_files="dens.a dens.b",
               restart_every=10 ** 8, production_steps=lammps.steps(ps, dt), self_name=f"{tag}.in")
    script = lammps.render("aa_production.in", job.fn(f"{tag}.in"), **ctx)
    text = script.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    script.write_text(text)
    log = lammps.run(script, cwd=job.path, np=np_, job=job.id, log=f"{tag}.log")
    block = lammps.parse_log(log)[-1]
    return block["Step"] * dt / 1000, block["Density"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", required=True, help="a job folder with aa_equilibrated.restart")
    parser.add_argument("--preset", default="small", help="the AA settings to start from")
    parser.add_argument("--ps", type=float, default=60.0)
    parser.add_argument("--skip", type=float, default=10.0, help="ps discarded after each change")
    parser.add_argument("--np", type=int, default=2)
    args = parser.parse_args()
    job = signac.get_job(args.job)
    preset = presets.get(args.preset if args.preset in presets.PRESETS else "small")
    preset["aa"]["frame_ps"] = 0.1  # thermo (the density) every 1 ps
    print(f"{job.path}: {preset['n_molecules']} molecules, {args.ps:g} ps NPT per setting, the first "
          f"{args.skip:g} ps discarded")
    base = None
    for name, (cutoff, edits) in VARIANTS.items():
        t, rho = run(job, preset, name, cutoff, edits, args.ps, args.np)
        keep = t >= args.skip
        s = analysis.density_settled(t[keep], rho[keep], window_ps=t[keep][-1] - t[keep][0])
        base = s.mean if base is None else base
        print(f"  {name:40s} {s.mean:.4f} ± {s.error * s.mean:.4f} g/cm³  ({100 * (s.mean / base - 1):+.2f} %; "
              f"drift {100 * s.drift:+.1f} ± {100 * s.drift_err:.1f} %)", flush=True)


if __name__ == "__main__":
    main()
