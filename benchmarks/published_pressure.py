#!/usr/bin/env python
"""Were the paper's IBI potentials made with a pressure correction? (issue 20: which IBI protocol is the paper's)

The published mobility pairs give, for 9 CG models j, the IBI potential U_j, the CG RDF g_j of the
authors' own run of it and its D_CG(j); their density is not published. A potential corrected to 1 atm
at the AA density gives, at 1 atm, the liquid whose RDF it was fitted to. One fitted to structure alone
(IBI without the correction leaves +350 to +600 atm at the reference's AA density, benchmarks/README.md)
expands at 1 atm by about κ_T ΔP, and its RDF there is that of a thinner liquid.

For each pair: NPT at 1 atm with U_j (`--beads`, Nosé–Hoover) gives ρ_1atm; NVT at ρ_1atm × s for each
`--scales` s gives g(r), the pressure and D. Printed per pair and scale: Σ(g − g_j)² over `--r-min` to
`--r-max` Å of the published grid, the pressure and D against the published D_CG(j); then the scale
where g matches g_j best (a parabola through the lowest sum and its neighbours), the pressure interpolated there, and the scale
where D would equal the published D_CG(j) (log D linear in s). A pressure-corrected potential gives a
best scale near 1 and about 1 atm there.

    python benchmarks/published_pressure.py                     # all nine pairs
    python benchmarks/published_pressure.py --pairs P1,P2 --scales 0.97,1,1.03,1.06,1.09

Units: Å, fs, atm, g/cm³; D in 1e-9 m²/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mobcg import cg, datasets, tables  # noqa: E402
from mobcg.molecule import box_length, density as mass_density  # noqa: E402
from reference_cg import lattice, settle_at_1atm  # noqa: E402  (this folder: as the T-systems' runs)

START_DENSITY = 0.70  # g/cm³, where the NPT run starts


def density(n: int, length: float) -> float:
    """g/cm³ of n beads of the molecule's mass in a cubic box of edge `length` Å."""
    return mass_density(n, cg.TMP_MASS, length ** 3)


def best_scale(scales, values) -> float:
    """The minimum of the parabola through the lowest sampled value and its two neighbours (the end
    point when the lowest is at an end or the parabola opens downwards)."""
    scales, values = np.asarray(scales, float), np.asarray(values, float)
    k = int(np.argmin(values))
    if k == 0 or k == len(values) - 1:
        return float(scales[k])
    a, b, _ = np.polyfit(scales[k - 1:k + 2], values[k - 1:k + 2], 2)
    return float(-b / (2 * a)) if a > 0 else float(scales[k])


def one_pair(name, table, g_pub, r_pub, d_pub, args, work: Path):
    section = dict(timestep_fs=args.timestep_fs, equilibrate_ps=args.equilibrate_ps,
                   production_ps=args.production_ps, frame_ps=args.frame_ps)
    length = box_length(args.beads, cg.TMP_MASS, START_DENSITY)
    r_cut = float(table.r[-1])
    l1, start = settle_at_1atm(table, work / f"{name}_npt", lattice(args.beads, length), length, section,
                               args.npt_ps, r_cut, args.np, f"pp-{name}-npt", gsd_name=None)
    window = (r_pub >= args.r_min) & (r_pub <= args.r_max)
    rows = []
    for s in args.scales:
        ls = l1 / s ** (1 / 3)
        run = cg.simulate(table, work / f"{name}_{s:g}", start * ls, [ls] * 3, 298.15, section, r_cut=r_cut,
                          np=args.np, job_id=f"pp-{name}-{s:g}", gsd_name=None, keep_raw=False,
                          rdf=(args.r_max + 0.5, int(round((args.r_max + 0.5) / 0.05))))
        r, g = run.rdf[0], run.rdf[1]
        ssd = float(np.sum((np.interp(r_pub[window], r, g) - g_pub[window]) ** 2))
        d = cg.diffusion_of(run.times, run.positions)[1]
        rows.append((s, density(args.beads, ls), ssd, run.pressure, run.pressure_err, d.D, d.err))
        print(f"{name} s {s:5.3f}: {rows[-1][1]:.4f} g/cm³  Σ(g − g_pub)² {ssd:.4f}  P {run.pressure:+6.0f} ± "
              f"{run.pressure_err:3.0f} atm  D_CG {d.D:5.2f} ± {d.err:.2f} (published {d_pub:.2f})", flush=True)
    a = np.array(rows)
    s_g = best_scale(a[:, 0], a[:, 2])
    p_g = float(np.interp(s_g, a[:, 0], a[:, 3], left=np.nan, right=np.nan))
    slope, icpt = np.polyfit(a[:, 0], np.log(a[:, 5]), 1)
    s_d = float((np.log(d_pub) - icpt) / slope)
    print(f"{name}: ρ_1atm {density(args.beads, l1):.4f} g/cm³; the published RDF fits best at s = {s_g:.3f} "
          f"(P there {p_g:+.0f} atm); the published D_CG at s = {s_d:.3f}", flush=True)
    return s_g, p_g, s_d


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default=None, help="comma-separated pair ids (default: all nine)")
    p.add_argument("--scales", default="0.95,1,1.05,1.1,1.15", help="densities as multiples of ρ_1atm")
    p.add_argument("--beads", type=int, default=1000)
    p.add_argument("--npt-ps", type=float, default=100.0)
    p.add_argument("--timestep-fs", type=float, default=5.0)
    p.add_argument("--equilibrate-ps", type=float, default=20.0)
    p.add_argument("--production-ps", type=float, default=150.0)
    p.add_argument("--frame-ps", type=float, default=1.0)
    p.add_argument("--r-min", type=float, default=3.0)
    p.add_argument("--r-max", type=float, default=15.0)
    p.add_argument("--np", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args(argv)
    args.scales = [float(x) for x in args.scales.split(",")]
    ref = datasets.reference_dir()
    pots = tables.read_reference_potentials(ref / datasets.PAIRS_POTENTIALS_FILE)
    rdfs, pairs = datasets.load_reference_rdfs(), datasets.load_reference_pairs()
    names = args.pairs.split(",") if args.pairs else list(rdfs.ids)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mobcg-published-pressure-"))
    results = []
    for name in names:
        k = rdfs.ids.index(name)
        results.append(one_pair(name, pots[name], rdfs.g_cg[k], rdfs.r, float(pairs.D_CG_j[pairs.ids.index(name)]),
                                args, work))
    a = np.array(results)
    print(f"\n{len(a)} published potentials: best-fitting scale {np.median(a[:, 0]):.3f} (median; range "
          f"{a[:, 0].min():.3f}-{a[:, 0].max():.3f}), pressure there {np.nanmedian(a[:, 1]):+.0f} atm (median); "
          f"scale of the published D_CG {np.median(a[:, 2]):.3f} (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
