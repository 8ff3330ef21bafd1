#!/usr/bin/env python
"""All-atom MD throughput: the project's own AA production input under other settings, against today's.

For each preset (demo, campaign, small) the OPLS-AA reference box is built and brought to liquid
density by the project's equilibration input (shortened), then `aa_production.in`, rendered by the
project's template with each configuration's settings, runs a fixed stretch of simulated time from
that state. Configurations are interleaved, `--repeats` times, so a slow spell of the machine hits all
alike; the figure is the median. Throughput is katom-fs/s (atoms × femtoseconds simulated per second /
1000: katom-step/s at a 1 fs step, the same for r-RESPA's 2 fs outer step) and ns/day; the ratio is
against "today" (velocity Verlet at 1 fs, 2 Å skin, 2 MPI ranks, the settings before issue 21).

    python benchmarks/aa_throughput.py                        # demo, campaign and small, 3 repeats
    python benchmarks/aa_throughput.py --presets demo --ps 2 --repeats 5
    python benchmarks/aa_throughput.py --presets small --configs "today,the presets"   # two rows only
    python benchmarks/aa_throughput.py --check --replicas 3   # physics: density and D_AA, today vs the preset's
    python benchmarks/aa_throughput.py --check --check-preset campaign --replicas 3
    python benchmarks/aa_throughput.py --pressure --presets campaign --ps 40 --repeats 2
    python benchmarks/aa_throughput.py --rerun --presets campaign --ps 10

`--pressure` asks why a density could move: from one liquid state it runs NVT (Nosé–Hoover, the same
box) with today's settings, the presets' and velocity Verlet at half today's step (the time-step error's
reference), `--repeats` independent velocity draws each, and prints the mean pressure (atm, from the
pressure tensor of every step, the first 2 ps dropped) and potential energy (kcal/mol) with standard
errors over the draws, and each against today's (`--configs` picks other rows: "4-5", "3-4", "k-space"). At fixed pressure a shift ΔP moves the density by
about κ_T·ΔP (κ_T ≈ 1.2e-4 /atm for a C8 alkane). `--start RESTART` starts from that LAMMPS restart (an
equilibrated box of the preset's reference) instead of the timing's 1 ps NPT state. `--rerun` dumps `--ps`
of the presets' NVT run every 0.1 ps and reads the frames back with today's Verlet input (LAMMPS `rerun`):
if the pressures agree frame by frame, a shift is in what r-RESPA samples, not in how it is measured.

`--check` runs the reference at the small preset (`--check-preset`) through the project's own stages (aa.build,
aa.equilibrate, aa.sample, aa.analyze) `--replicas` times with each of today's and the preset's
settings (independent boxes: replica k of the statepoint), and prints density and D_AA with their
standard errors over replicas and the difference in units of its error.

Units: Å, fs, g/cm³; D in 1e-9 m²/s.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import signac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import aa, lammps, presets  # noqa: E402
from mobcg.forcefield import OPLS_AA  # noqa: E402
from mobcg.init import statepoint  # noqa: E402

# "the presets" in the names below is r-RESPA 2 × 1 fs with a 1.5 Å skin: the presets' integrator before HMR
# became theirs (RESPA_AA: the campaign's first 20 jobs and the tests' tiny preset)
TODAY = {"respa": 1, "skin": 2.0, "hmr": False}
PRESET = {"respa": 2, "skin": 1.5, "hmr": False}
# hydrogen mass repartitioning (H 3.024 amu, the carbons lighter, the molecule's mass kept) and velocity Verlet
# at the step that resolves its slower C-H vibration with today's 10 steps per period (1.72 fs for OPLS-AA)
HMR = {"respa": 1, "skin": 2.0, "hmr": True}
OPT = "suffix          opt"
RESPA = "run_style       respa 2 2 bond 1 angle 1 dihedral 1 pair 2 kspace 2"
# r-RESPA with the pair forces split: those within 4-5 Å (1-4 pairs, contacts: the fast ones) on the inner step
SPLIT = [(RESPA, "run_style       respa 2 2 bond 1 angle 1 dihedral 1 inner 1 4.0 5.0 outer 2 kspace 2")]
SPLIT3 = [(RESPA, "run_style       respa 2 2 bond 1 angle 1 dihedral 1 inner 1 3.0 4.0 outer 2 kspace 2")]
KSPACE_OUTER = [(RESPA, "run_style       respa 2 2 bond 1 angle 1 dihedral 1 pair 1 kspace 2")]
# name: (preset "aa" overrides, MPI ranks, extra lmp arguments, (old, new) edits of the rendered input)
CONFIGS = {
    "today (Verlet 1 fs, skin 2 Å)": (TODAY, 2, [], []),
    "skin 1.5 Å": ({"respa": 1, "skin": 1.5}, 2, [], []),
    "skin 1.0 Å": ({"respa": 1, "skin": 1.0}, 2, [], []),
    "r-RESPA 2 × 1 fs": ({"respa": 2, "skin": 2.0}, 2, [], []),
    "r-RESPA 2 × 1 fs, skin 1.5 Å (the presets)": (PRESET, 2, [], []),
    "r-RESPA 2 × 1 fs, skin 1.0 Å": ({"respa": 2, "skin": 1.0}, 2, [], []),
    "presets, pair within 4-5 Å on the inner step": (PRESET, 2, [], SPLIT),
    "presets, pair within 3-4 Å on the inner step": (PRESET, 2, [], SPLIT3),
    "presets, only k-space on the outer step": (PRESET, 2, [], KSPACE_OUTER),
    "presets, 1 MPI rank × 2 OpenMP threads": (PRESET, 1, ["-pk", "omp", "2"], [(OPT, "suffix          omp")]),
    "presets, no OPT pair style": (PRESET, 2, [], [(OPT, "")]),
    "presets, PPPM order 7": (PRESET, 2, [], [("kspace_style    pppm 1.0e-4", "kspace_style    pppm 1.0e-4\nkspace_modify   order 7")]),
    "presets, coul/dsf (alpha 0.2) instead of PPPM": (PRESET, 2, [], [("lj/cut/coul/long", "lj/cut/coul/dsf 0.2"),
                                                                      ("kspace_style    pppm 1.0e-4", "")]),
    "HMR, Verlet 1.72 fs, skin 2 Å": (HMR, 2, [], []),
    "HMR, Verlet 1.72 fs, skin 1.5 Å": ({**HMR, "skin": 1.5}, 2, [], []),
    "today, one MPI rank": (TODAY, 1, [], []),
    "presets, one MPI rank": (PRESET, 1, [], []),
}


def liquid(preset_name: str, root: Path):
    """The reference box of `preset_name` squeezed, relaxed and 1 ps into NPT (a liquid, for timing)."""
    project = signac.init_project(root / preset_name)
    job = project.open_job(statepoint(OPLS_AA, preset_name)).init()
    if job.isfile("bench_start.restart"):
        return job
    aa.build(job)
    preset = presets.get(preset_name)
    ctx = aa._context(aa.jobs.info(job, preset))
    v_mol = aa.vdw_volume(aa.build_molecule(aa.jobs.molecule(job)), aa.jobs.forcefield(job))
    target = (preset["n_molecules"] * v_mol / preset["aa"]["packing_start"]) ** (1 / 3)
    dt = ctx["timestep"]
    ctx.update(data_file=aa.DATA, target_length=round(target, 4), packing_start=preset["aa"]["packing_start"],
               compress_steps=lammps.steps(2.0, dt), relax_steps=lammps.steps(1.0, dt), density_every=50,
               restart_every=10 ** 8, restart_out="bench_start.restart", npt_until=lammps.steps(1.0, dt),
               resume=None, segment=0, restart_files="bench.a bench.b", self_name="bench_prep.in")
    lammps.run(lammps.render("aa_equilibrate.in", job.fn("bench_prep.in"), **ctx), cwd=job.path, np=2, job="bench")
    return job


def production(job, preset_name: str, config, ps: float, tag: str) -> tuple[float, int, float]:
    """(katom-fs/s, atoms, ns/day) of one timed production stretch of `ps` ps with `config`."""
    overrides, np_, argv, edits = config
    preset = presets.get(preset_name)
    preset["aa"].update(overrides)
    ctx = aa._context(aa.jobs.info(job, preset))
    steps = lammps.steps(ps, ctx["timestep"])
    ctx.update(restart_in="bench_start.restart", resume=None, name=f"bench_{tag}", segment=0,
               restart_files="bench.a bench.b", restart_every=10 ** 8, production_steps=steps,
               self_name=f"bench_{tag}.in")
    script = lammps.render("aa_production.in", job.fn(f"bench_{tag}.in"), **ctx)
    text = script.read_text()
    for old, new in edits:
        assert old in text, f"{old!r} not in the rendered {script.name}"
        text = text.replace(old, new, 1)
    script.write_text(text)
    log = Path(job.fn(f"bench_{tag}.log"))
    subprocess.run(lammps.command(np_) + argv + ["-in", script.name, "-log", log.name, "-screen", "none", "-nocite"],
                   cwd=job.path, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))  # -pk omp sets its own
    text = log.read_text()
    loop = float(re.search(r"Loop time of ([\d.]+) on", text).group(1))
    atoms = int(re.search(r"for \d+ steps with (\d+) atoms", text).group(1))
    return atoms * ps * 1000 / loop / 1000, atoms, ps / loop * 86400 / 1000


def throughput(args) -> None:
    root = Path(tempfile.mkdtemp(prefix="mobcg-aa-throughput-"))
    for preset_name in args.presets.split(","):
        job = liquid(preset_name, root)
        chosen = {name: config for name, config in CONFIGS.items()
                  if name == next(iter(CONFIGS)) or not args.configs or any(c in name for c in args.configs.split(","))}
        results = {name: [] for name in chosen}
        for rep in range(args.repeats):
            for k, (name, config) in enumerate(chosen.items()):
                results[name].append(production(job, preset_name, config, args.ps, f"{k}_{rep}"))
        atoms = results[next(iter(CONFIGS))][0][1]
        base = statistics.median(r[0] for r in results[next(iter(CONFIGS))])
        print(f"\n{preset_name}: {atoms} atoms, {args.ps:g} ps per run, median of {args.repeats} interleaved repeats")
        print(f"{'configuration':48s} {'katom-fs/s':>10s} {'ns/day':>8s} {'ratio':>6s}")
        for name in chosen:
            kfs = statistics.median(r[0] for r in results[name])
            nsd = statistics.median(r[2] for r in results[name])
            print(f"{name:48s} {kfs:10.1f} {nsd:8.2f} {kfs / base:6.2f}")


NVT_CONFIGS = {"today (Verlet 1 fs)": (TODAY, None, []), "the presets (r-RESPA 2 × 1 fs)": (PRESET, None, []),
               "Verlet 0.5 fs": (TODAY, 0.5, []), "r-RESPA, pair within 4-5 Å inner": (PRESET, None, SPLIT),
               "r-RESPA, pair within 3-4 Å inner": (PRESET, None, SPLIT3),
               "r-RESPA, only k-space outer": (PRESET, None, KSPACE_OUTER),
               "HMR, Verlet 1.72 fs": (HMR, None, []),
               "Verlet 1.72 fs, true masses": (TODAY, 1.72, [])}


def nve(args) -> None:
    """Total-energy drift in NVE from one liquid state, per configuration (the integrators' own error)."""
    job, preset_name, start = nvt_start(args, "mobcg-aa-nve-")
    chosen = {name: config for name, config in NVT_CONFIGS.items()
              if name == next(iter(NVT_CONFIGS)) or not args.configs or any(c in name for c in args.configs.split(","))}
    print(f"{preset_name} reference, NVE {args.ps:g} ps from {start} (velocities drawn at 298.15 K; the slope of "
          "the total energy after 1 ps, kcal/mol per ns per atom, mean ± standard error over draws)")
    for name, config in chosen.items():
        slopes = []
        for rep in range(args.first_draw, args.first_draw + args.repeats):
            script, ctx = nvt_input(job, preset_name, config, args.ps, 1000 + rep, f"nve_{rep}", start)
            text, n = re.subn(r"fix\s+ensemble all nvt .*", "fix             ensemble all nve", script.read_text())
            assert n == 1
            script.write_text(text)
            log = lammps.run(script, cwd=job.path, np=2, job="bench")
            thermo = lammps.parse_log(log)[-1]
            t = np.asarray(thermo["Step"]) * ctx["timestep"] / 1e6  # ns
            keep = t > 1e-3
            atoms = int(re.search(r"with (\d+) atoms", log.read_text()).group(1))
            slopes.append(np.polyfit(t[keep], np.asarray(thermo["TotEng"])[keep], 1)[0] / atoms)
        print(f"  {name:34s} dt {ctx['timestep']:.2f} fs: drift {np.mean(slopes):+8.3f} ± "
              f"{np.std(slopes, ddof=1) / np.sqrt(len(slopes)) if len(slopes) > 1 else 0:6.3f} kcal/mol/ns/atom "
              f"({', '.join(f'{x:+.3f}' for x in slopes)})", flush=True)


def nvt_input(job, preset_name: str, config, ps: float, seed: int, tag: str, start: str) -> tuple[Path, dict]:
    """(the rendered NVT input, its template context): the production input with NPT swapped for NVT."""
    overrides, dt, edits = config
    preset = presets.get(preset_name)
    preset["aa"].update(overrides)
    ctx = aa._context(aa.jobs.info(job, preset))
    if dt:  # plain Verlet at another step: frames and stress windows keep their length in fs
        scale = ctx["timestep"] / dt
        ctx.update(timestep=dt, inner_timestep=dt, frame_every=int(ctx["frame_every"] * scale),
                   stress_every=int(ctx["stress_every"] * scale))
    ctx["thermo_every"] = lammps.steps(0.1, ctx["timestep"])  # the potential energy every 0.1 ps
    steps = lammps.steps(ps, ctx["timestep"])
    ctx.update(restart_in=start, resume=None, name=f"nvt_{tag}", segment=0, restart_files="bench.a bench.b",
               restart_every=10 ** 8, production_steps=steps, self_name=f"nvt_{tag}.in")
    script = lammps.render("aa_production.in", job.fn(f"nvt_{tag}.in"), **ctx)
    text, n = re.subn(r"fix\s+ensemble all npt temp (\S+) (\S+) (\S+) iso .*",
                      rf"velocity        all create \1 {seed} mom yes rot yes dist gaussian\n"
                      r"fix             ensemble all nvt temp \1 \2 \3", script.read_text())
    assert n == 1, f"no NPT fix in the rendered {script.name}"
    for old, new in edits:
        assert old in text, f"{old!r} not in the rendered {script.name}"
        text = text.replace(old, new, 1)
    script.write_text(text)
    return script, ctx


def nvt_run(job, preset_name: str, config, ps: float, seed: int, tag: str, start: str) -> tuple[np.ndarray, np.ndarray]:
    """(pressure in atm per stress window after 2 ps, potential energy per thermo row after 2 ps) of one NVT run."""
    script, ctx = nvt_input(job, preset_name, config, ps, seed, tag, start)
    log = lammps.run(script, cwd=job.path, np=2, job="bench")
    stress = np.loadtxt(job.fn(f"nvt_{tag}.0.stress"), comments="#")
    stress = stress[stress[:, 0] * ctx["timestep"] > 2000.0]
    thermo = lammps.parse_log(log)[-1]
    keep = thermo["Step"] * ctx["timestep"] > 2000.0
    return stress[:, 1:4].mean(axis=1), thermo["PotEng"][keep]


def nvt_start(args, prefix: str):
    """(job, preset name, restart to start from) of --pressure and --rerun: the first of --presets, from
    --start or the timing's liquid."""
    preset_name = args.presets.split(",")[0]
    job = liquid(preset_name, Path(tempfile.mkdtemp(prefix=prefix)))
    return job, preset_name, str(Path(args.start).resolve()) if args.start else "bench_start.restart"


def pressure(args) -> None:
    """Mean NVT pressure and potential energy of today's settings against the others (see the docstring)."""
    job, preset_name, start = nvt_start(args, "mobcg-aa-pressure-")
    rows = {}
    chosen = {name: config for name, config in NVT_CONFIGS.items()
              if (name == next(iter(NVT_CONFIGS)) and not args.skip_today)
              or not args.configs or any(c in name for c in args.configs.split(","))}
    for rep in range(args.first_draw, args.first_draw + args.repeats):
        for k, (name, config) in enumerate(chosen.items()):
            p, pe = nvt_run(job, preset_name, config, args.ps, 1000 + rep, f"{k}_{rep}", start)
            rows.setdefault(name, []).append((p, pe))
            print(f"{name}, draw {rep}: P {p.mean():7.1f} atm, PE {pe.mean():9.2f} kcal/mol", flush=True)
    # the error over independent draws: within one draw the pressure's slow parts (conformations, a 48-molecule
    # box's own packing) outlast 10 ps blocks, whose error came out 2-3 times smaller than the draws' scatter
    print(f"\n{preset_name} reference, NVT {args.ps:g} ps × {args.repeats} draws from {start} "
          "(mean ± standard error over the draws)")
    stats = {name: [(np.mean(m), np.std(m, ddof=1) / np.sqrt(len(m))) for m in zip(*[(p.mean(), e.mean()) for p, e in runs])]
             for name, runs in rows.items()}
    (p0, p0_err), (e0, e0_err) = stats[next(iter(stats))]  # (with --skip-today: the first row chosen)
    for name, ((p, p_err), (e, e_err)) in stats.items():
        print(f"  {name:34s} P {p:7.1f} ± {p_err:5.1f} atm  (Δ {p - p0:+6.1f} ± {np.hypot(p_err, p0_err):5.1f})   "
              f"PE {e:9.2f} ± {e_err:5.2f} kcal/mol  (Δ {e - e0:+6.2f} ± {np.hypot(e_err, e0_err):5.2f})")


def rerun(args) -> None:
    """The presets' NVT frames read back with today's Verlet input: does LAMMPS measure the same pressure?"""
    job, preset_name, start = nvt_start(args, "mobcg-aa-rerun-")
    script, ctx = nvt_input(job, preset_name, NVT_CONFIGS["the presets (r-RESPA 2 × 1 fs)"], args.ps, 1000, "rr_respa", start)
    every = lammps.steps(0.1, ctx["timestep"])
    text = re.sub(r"^run .*$", f"thermo          {every}\ndump            d all custom {every} rr.dump id x y z vx vy vz ix iy iz\n"
                  f"dump_modify     d sort id format float %.12g\nrun             {lammps.steps(args.ps, ctx['timestep'])}",
                  script.read_text(), flags=re.M)
    script.write_text(text)
    verlet, _ = nvt_input(job, preset_name, NVT_CONFIGS["today (Verlet 1 fs)"], args.ps, 1000, "rr_verlet", start)
    # the same force field and output, no dynamics: every dumped frame's pressure, energy and temperature
    text = re.sub(r"^(velocity|fix|restart) .*$", "", verlet.read_text(), flags=re.M)
    text = re.sub(r"^thermo .*$", f"thermo          {every}", text, flags=re.M)
    verlet.write_text(re.sub(r"^run .*$", "rerun           rr.dump dump x y z vx vy vz ix iy iz box no", text, flags=re.M))
    a, b = (lammps.parse_log(lammps.run(path, cwd=job.path, np=2, job="bench"))[-1] for path in (script, verlet))
    common, ia, ib = np.intersect1d(a["Step"], b["Step"], return_indices=True)
    print(f"{len(common)} frames of {args.ps:g} ps of r-RESPA NVT, rerun with today's Verlet input:")
    for col, unit in (("Press", "atm"), ("PotEng", "kcal/mol"), ("Temp", "K")):
        d = a[col][ia] - b[col][ib]
        print(f"  {col:7s} r-RESPA {a[col][ia].mean():10.3f}, rerun {b[col][ib].mean():10.3f}, largest difference "
              f"{np.abs(d).max():.2e} {unit}")


def check(args) -> None:
    """Density and D_AA at `--check-preset`, today's settings against the preset's (see the docstring)."""
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="mobcg-aa-check-"))
    print(f"projects under {root} (rerun with --root {root} to resume)", flush=True)
    # (the preset's boxes are also the independent productions of benchmarks/reference_protocol.py)
    base = args.check_preset
    own = {k: presets.PRESETS[base]["aa"].get(k, False) for k in ("respa", "skin", "hmr")}
    arms = {"presets": PRESET if args.presets_respa else own, "today": TODAY, "hmr": HMR}
    settings = {label: arms[label] for label in args.arms.split(",")}
    projects, counts, rows = {}, {}, {}
    for label, aa_settings in settings.items():
        name = f"{base}-{label}"
        presets.PRESETS[name] = copy.deepcopy(presets.PRESETS[base])
        presets.PRESETS[name]["aa"].update(aa_settings)
        if args.production_ps:
            presets.PRESETS[name]["aa"]["production_ps"] = args.production_ps
        if args.production_max_ps:
            presets.PRESETS[name]["aa"]["production_max_ps"] = args.production_max_ps
        projects[label] = (signac.init_project(root / label), name)
        counts[label] = args.replicas_today or args.replicas if label == "today" else args.replicas
        rows[label] = []
    # replica by replica across the arms, so that a check cut short still compares like with like
    for k in range(max(counts.values())):
        for label, (project, name) in projects.items():
            if k >= counts[label]:
                continue
            job = project.open_job(statepoint(OPLS_AA, name, replica=k)).init()
            t0 = time.monotonic()
            if "D_AA" not in job.doc:  # (resumed with --root: the stages resume where they stopped)
                job.isfile(aa.DATA) or aa.build(job)
                job.isfile(aa.EQUILIBRATED) or aa.equilibrate(job, np=args.np, progress=None)
                job.isfile(aa.TRAJECTORY) or aa.sample(job, np=args.np, progress=None)
                aa.analyze(job)
            rows[label].append((job.doc["density"], job.doc["D_AA"], job.doc["density_err"], job.doc["D_AA_err"]))
            print(f"{label} replica {k}: density {job.doc['density']:.4f} g/cm³, D_AA {job.doc['D_AA']:.3f} ± "
                  f"{job.doc['D_AA_err']:.3f} ({job.doc['production_ps']:.0f} ps production, "
                  f"{(time.monotonic() - t0) / 60:.1f} min)", flush=True)
    print(f"\n{base} preset, OPLS-AA reference, independent boxes ({', '.join(f'{k}: {len(r)}' for k, r in rows.items())}; "
          "mean ± standard error over boxes, or one box's own block and fit errors):")
    means = {}
    for label, r in rows.items():
        a = np.array(r)
        means[label] = [(a[:, i].mean(), a[:, i].std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else a[0, i + 2])
                        for i in (0, 1)]
        print(f"  {label:8s} density {means[label][0][0]:.4f} ± {means[label][0][1]:.4f}   "
              f"D_AA {means[label][1][0]:.3f} ± {means[label][1][1]:.3f}")
    for label in (label for label in means if label != "today" and "today" in means):
        for i, what in ((0, "density"), (1, "D_AA")):
            diff = means[label][i][0] - means["today"][i][0]
            err = np.hypot(means[label][i][1], means["today"][i][1])
            print(f"  {what}: {label} − today = {diff:+.4f} ± {err:.4f} ({abs(diff) / err:.1f} standard errors)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="demo,campaign,small")
    parser.add_argument("--check-preset", default="small", help="--check: the preset whose reference is run")
    parser.add_argument("--ps", type=float, default=2.0, help="simulated ps per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", default=None, help="comma-separated parts of configuration names to time "
                        "(today's always runs: the baseline); default all")
    parser.add_argument("--check", action="store_true", help="the physics check instead of the timing")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--np", type=int, default=2)
    parser.add_argument("--production-ps", type=float, default=None, help="--check: the production's first length")
    parser.add_argument("--root", default=None, help="--check: the folder of its two projects (default: a new temporary one)")
    parser.add_argument("--replicas-today", type=int, default=None, help="--check: replicas with today's settings "
                        "(default: --replicas)")
    parser.add_argument("--presets-respa", action="store_true", help="--check: the presets arm runs r-RESPA (a "
                        "project made before the presets moved to HMR) instead of the preset's own settings")
    parser.add_argument("--arms", default="presets,today", help="--check: the settings compared, of presets, today, "
                        "hmr (a project folder each under --root)")
    parser.add_argument("--pressure", action="store_true", help="NVT pressure of today's settings, the presets' "
                        "and Verlet 0.5 fs from one liquid state (the first of --presets)")
    parser.add_argument("--first-draw", type=int, default=0, help="--pressure: the first velocity draw (seed 1000 + "
                        "draw): a later run adds draws to an earlier one's")
    parser.add_argument("--skip-today", action="store_true", help="--pressure: no draws of today's settings (an "
                        "earlier run with the same --first-draw has them: the same seeds give the same run)")
    parser.add_argument("--start", default=None, help="--pressure, --rerun: a LAMMPS restart to start from")
    parser.add_argument("--rerun", action="store_true", help="the presets' NVT frames (--ps) read back with today's "
                        "Verlet input (LAMMPS rerun): the same pressure, frame by frame?")
    parser.add_argument("--nve", action="store_true", help="NVE total-energy drift per configuration (--configs, "
                        "--repeats draws of --ps) from one liquid state")
    parser.add_argument("--production-max-ps", type=float, default=None, help="--check: the production's cap")
    args = parser.parse_args()
    check(args) if args.check else pressure(args) if args.pressure else rerun(args) if args.rerun else \
        nve(args) if args.nve else throughput(args)


if __name__ == "__main__":
    main()
