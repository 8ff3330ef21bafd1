"""Per-job figures (PNG, matplotlib Agg) written into the job folder.

    rdf.png        AA centre-of-mass RDF (the IBI target) and the CG RDF
    potential.png  the CG potential across IBI iterations (light → dark) and the final one
    msd.png        AA and CG mean-squared displacement, fit windows shaded
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import ibi, jobs  # noqa: E402

DPI = 100


def _save(fig, path) -> Path:
    from . import files
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    plt.close(fig)
    return Path(path)


def rdf(job) -> Path | None:
    if not job.isfile("rdf_aa.txt"):
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5))
    aa = jobs.load_columns(job.fn("rdf_aa.txt"))
    ax.plot(aa[:, 0], aa[:, 1], "k-", lw=2, label="AA (COM)")
    if job.isfile("rdf_cg.txt"):
        cg = jobs.load_columns(job.fn("rdf_cg.txt"))
        dev = job.doc.get("cg_rdf_deviation")
        ax.plot(cg[:, 0], cg[:, 1], "C3--", lw=1.5,
                label="CG" + (f" (deviation {100 * dev:.1f} %)" if dev is not None else ""))
    ax.axhline(1, color="0.7", lw=0.8)
    ax.set_xlabel("r / Å")
    ax.set_ylabel("g(r)")
    ax.set_title(f"job {job.id[:8]}: centre-of-mass RDF", fontsize=9)
    ax.legend(frameon=False)
    fig.tight_layout()
    return _save(fig, job.fn("rdf.png"))


def potential(job) -> Path | None:
    history = ibi.load_history(job.fn("ibi"))
    if not history:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5))
    cmap = plt.get_cmap("viridis")
    n = len(history)
    lo = []
    for it in history:
        ax.plot(it.r, it.U, color=cmap(it.index / max(n - 1, 1)), lw=0.8,
                label=f"iteration {it.index}" if it.index in (0, n - 1) else None)
        well = it.r > it.r[np.argmax(it.U < 2.0)]
        lo.append(np.min(it.U[well]) if well.any() else 0)
    final = job.doc.get("ibi_final_iteration")
    if final is not None and final < n:
        ax.plot(history[final].r, history[final].U, "k-", lw=2, label=f"final (iteration {final})")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_ylim(min(lo) - 0.3, 2.0)
    ax.set_xlim(history[0].r[np.argmax(history[0].U < 3.0)] - 0.5, history[0].r[-1])
    ax.set_xlabel("r / Å")
    ax.set_ylabel("U(r) / kcal mol⁻¹")
    ax.set_title(f"job {job.id[:8]}: IBI potential, {n} iterations", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _save(fig, job.fn("potential.png"))


def msd(job) -> Path | None:
    curves = [(name, job.fn(f), key) for name, f, key in
              (("AA", "msd_aa.txt", "D_AA"), ("CG", "msd_cg.txt", "D_CG")) if job.isfile(f)]
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for color, (name, path, key) in zip(("k", "C3"), curves):
        data = jobs.load_columns(path)
        t_ps, total = data[:, 0] / 1000, data[:, 1:4].sum(axis=1)
        keep = t_ps > 0
        label = name
        if key in job.doc:
            label += f": D = {job.doc[key]:.3g} ± {job.doc.get(key + '_err', float('nan')):.2g} ×10⁻⁹ m²/s"
        ax.loglog(t_ps[keep], total[keep], color=color, lw=1.5, label=label)
        window = job.doc.get(f"{key}_fit_window_ps")
        if window:
            ax.axvspan(*window, color=color, alpha=0.12)
    ax.set_xlabel("t / ps")
    ax.set_ylabel("MSD / Å²")
    ax.set_title(f"job {job.id[:8]}: centre-of-mass MSD (shaded: fit windows)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _save(fig, job.fn("msd.png"))


def job_figures(job) -> list[Path]:
    """Write rdf.png, potential.png and msd.png (those whose data exist); return their paths."""
    return [p for p in (rdf(job), potential(job), msd(job)) if p is not None]
