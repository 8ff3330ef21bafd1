#!/usr/bin/env python
"""How the reference's AA density depends on the non-bonded settings: cut-off, tail correction, PPPM accuracy.

From an equilibrated reference box (a job's aa_equilibrated.restart, e.g. one of
`benchmarks/aa_throughput.py --check`'s small-preset jobs), the project's AA production input runs NPT
(Nosé–Hoover, 298.15 K, 1 atm) with one setting changed at a time: the LJ and real-space Coulomb
cut-off, `pair_modify tail`, the PPPM accuracy. Printed: the mean density over the run after `--skip`
ps, with the standard error of four block means (analysis.density_settled), and the difference to the
preset's own setting. The paper gives 0.735 g/cm³ for 1000 molecules; we have had 0.721-0.729.

    python benchmarks/density_sensitivity.py --job benchmark_runs/small_check/presets/workspace/<id> --ps 60

NPT runs of 40-60 ps resolve about ±0.3 % per setting. `--rerun` resolves shifts far smaller than that, at a
fraction of the cost: one NVT run (the preset's settings, velocity Verlet at 1 fs unless `--respa 2`, the box's own
volume) dumps a frame every `--every` ps, and every setting reads the same frames back (LAMMPS `rerun`). The
pressure difference per frame is then exact for the frame, and its mean over frames is the first-order shift
of the NVT pressure, ΔP; at fixed pressure the density moves by Δρ/ρ = −κ_T·ΔP. κ_T is measured from the
volume fluctuations of the job's own NPT production (`sample_aa.*.box`): κ_T = var(V) / (k_B T mean(V)).

    python benchmarks/density_sensitivity.py --rerun --job <id> --ps 20

Units: g/cm³, Å, ps, atm.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aa, analysis, lammps, presets  # noqa: E402
from mobcg.lammps import trajectory  # noqa: E402

VARIANTS = {  # name: (cut-off override or None, (old, new) edits of the rendered input)
    "the preset's (12 Å, tail, PPPM 1e-4)": (None, []),
    "cut-off 10 Å": (10.0, []),
    "cut-off 14 Å": (14.0, []),
    "no tail correction": (None, [("pair_modify     mix geometric tail yes", "pair_modify     mix geometric tail no")]),
    "PPPM 1e-5": (None, [("kspace_style    pppm 1.0e-4", "kspace_style    pppm 1.0e-5")]),
    "PPPM 1e-3": (None, [("kspace_style    pppm 1.0e-4", "kspace_style    pppm 1.0e-3")]),
}


def render(job, preset: dict, name: str, cutoff, edits, ps: float) -> tuple[Path, dict]:
    """The project's production input for `job` with one setting changed: (its path, its template context)."""
    ctx = aa._context(aa.jobs.info(job, preset))
    if cutoff is not None:
        ctx["cutoff"] = cutoff
    tag = "density_" + "".join(c if c.isalnum() else "_" for c in name)[:40]
    ctx.update(restart_in=aa.EQUILIBRATED, resume=None, name=tag, segment=0, restart_files="dens.a dens.b",
               restart_every=10 ** 8, production_steps=lammps.steps(ps, ctx["timestep"]), self_name=f"{tag}.in")
    script = lammps.render("aa_production.in", job.fn(f"{tag}.in"), **ctx)
    text = script.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    script.write_text(text)
    return script, ctx


def run(job, preset: dict, name: str, cutoff, edits, ps: float, np_: int) -> tuple[np.ndarray, np.ndarray]:
    script, ctx = render(job, preset, name, cutoff, edits, ps)
    dt = ctx["timestep"]
    log = lammps.run(script, cwd=job.path, np=np_, job=job.id, log=f"{script.stem}.log")
    block = lammps.parse_log(log)[-1]
    return block["Step"] * dt / 1000, block["Density"]


def compressibility(job, temperature: float) -> tuple[float, float]:
    """(κ_T, its standard error) in 1/atm from the volume fluctuations of the job's NPT production
    (its `sample_aa.K.box` segments joined as the project joins them, each frame once), errors from four blocks."""
    segments = sorted(int(f.name.split(".")[1]) for f in Path(job.path).glob("sample_aa.*.box"))
    steps, _, by_step = trajectory.merge_segments([(job.fn(f"sample_aa.{k}.com"), job.fn(f"sample_aa.{k}.box"))
                                                    for k in segments])
    volume = np.array([np.prod(by_step[int(t)][:3]) for t in steps if int(t) in by_step])  # Å³
    kt = 1.380649e-23 * temperature / 101325.0 * 1e30  # k_B T in atm·Å³
    blocks = [np.var(b) / (kt * np.mean(b)) for b in np.array_split(volume, 4)]
    return np.var(volume) / (kt * volume.mean()), np.std(blocks, ddof=1) / 2


def rerun(job, preset: dict, args) -> None:
    """The NVT frames of the preset's own settings, read back under each variant: ΔP per frame."""
    preset["aa"].update(respa=args.respa, hmr=False)  # the true masses: Verlet at 1 fs, or r-RESPA
    nvt, ctx = render(job, preset, "nvt_frames", None, [], args.ps)
    every = lammps.steps(args.every, ctx["timestep"])
    text, n = re.subn(r"fix\s+ensemble all npt temp (\S+) (\S+) (\S+) iso .*", r"fix             ensemble all nvt temp \1 \2 \3",
                      nvt.read_text())
    assert n == 1, f"no NPT fix in {nvt}"
    # frames with velocities, so the rerun's kinetic pressure is the run's own and ΔP is the virial's alone
    nvt.write_text(re.sub(r"^run .*$", f"dump            frames all custom {every} density_frames.dump id x y z vx vy vz ix iy iz\n"
                          f"dump_modify     frames sort id format float %.12g\nrun             {ctx['production_steps']}",
                          text, flags=re.M))
    if not job.isfile("density_frames.dump"):
        t0 = time.time()
        lammps.run(nvt, cwd=job.path, np=args.np, job=job.id, log="density_nvt.log")
        print(f"NVT {args.ps:g} ps, frames every {args.every:g} ps: {time.time() - t0:.0f} s", flush=True)
    else:
        print(f"reading the frames already in {job.fn('density_frames.dump')}")
    kappa, kappa_err = compressibility(job, ctx["temperature"])
    print(f"κ_T from the job's NPT volume fluctuations: {kappa * 1e4:.2f} ± {kappa_err * 1e4:.2f} × 1e-4 /atm")
    base = None
    for name, (cutoff, edits) in VARIANTS.items():
        script, _ = render(job, preset, "rerun " + name, cutoff, edits, args.ps)
        text = re.sub(r"^(velocity|fix|restart|write_restart) .*$", "", script.read_text(), flags=re.M)
        text = re.sub(r"^thermo .*$", f"thermo          {every}", text, flags=re.M)
        script.write_text(re.sub(r"^run .*$", "rerun           density_frames.dump dump x y z vx vy vz ix iy iz box no",
                                 text, flags=re.M))
        thermo = lammps.parse_log(lammps.run(script, cwd=job.path, np=args.np, job=job.id, log=f"{script.stem}.log"))[-1]
        p = np.asarray(thermo["Press"])
        base = p if base is None else base
        d = p - base
        # frames 0.1-0.5 ps apart are correlated: the error of ΔP from the means of eight blocks
        err = np.std([b.mean() for b in np.array_split(d, 8)], ddof=1) / np.sqrt(8)
        shift = -kappa * d.mean()
        print(f"  {name:40s} P {p.mean():8.1f} atm  ΔP {d.mean():+8.2f} ± {err:5.2f} atm  "
              f"→ Δρ/ρ {100 * shift:+.2f} ± {100 * np.hypot(kappa * err, kappa_err * d.mean()):.2f} %  ({len(p)} frames)",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", required=True, help="a job folder with aa_equilibrated.restart")
    parser.add_argument("--preset", default="small", help="the AA settings to start from")
    parser.add_argument("--ps", type=float, default=60.0)
    parser.add_argument("--skip", type=float, default=10.0, help="ps discarded after each change")
    parser.add_argument("--np", type=int, default=2)
    parser.add_argument("--rerun", action="store_true", help="one NVT run, every setting on its frames (see above)")
    parser.add_argument("--every", type=float, default=0.2, help="--rerun: ps between frames")
    parser.add_argument("--respa", type=int, default=1, help="--rerun: the NVT run's r-RESPA inner steps (1: Verlet)")
    args = parser.parse_args()
    job = signac.get_job(args.job)
    preset = presets.get(args.preset if args.preset in presets.PRESETS else "small")
    if args.rerun:
        return rerun(job, preset, args)
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
