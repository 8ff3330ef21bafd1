"""The project-level report: Markdown + PNG figures in analysis/, numbers from this project's files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import aggregate, files, jobs
from .plots import _save, plt


def _parity(models_json: dict, directory: Path) -> list[str]:
    lines = []
    for target in ("alpha", "D_CG", "D_AA"):
        info = models_json["models"].get(target, {})
        if "pred" not in info:
            continue
        fig, ax = plt.subplots(figsize=(4, 4))
        y, p = np.array(info["y"]), np.array(info["pred"])
        ax.scatter(y, p, s=12)
        lim = [min(y.min(), p.min()), max(y.max(), p.max())]
        ax.plot(lim, lim, "k--", lw=1)
        ax.set(xlabel=f"{target} (simulated)", ylabel=f"{target} (cross-validated prediction)",
               title=f"{target}: R² {info['r2']:.2f}")
        fig.tight_layout()
        _save(fig, directory / f"parity_{target}.png")
        lines.append(f"![parity {target}](parity_{target}.png)")
    return lines


def _potentials(directory: Path) -> str | None:
    data = aggregate.load_datasets(directory)
    fig, ax = plt.subplots(figsize=(6, 4))
    for U, hold in zip(data["U"], data["holdout"]):
        ax.plot(data["r"], U, lw=1, ls="--" if hold else "-")
    ax.set(xlabel="r (Å)", ylabel="U (kcal/mol)", title="IBI potentials (dashed: held out)",
           ylim=(min(-1.0, data["U"].min() * 1.1), 2.0))
    fig.tight_layout()
    _save(fig, directory / "potentials.png")
    return "![IBI potentials](potentials.png)"


def _predicted_band(directory: Path) -> str | None:
    """Predicted structure-preserving potential with its band (± 2 std, as the model states it: the MLP
    members' spread or the mobility model's residual spread) against the IBI potential, for up to four
    held-out jobs (training jobs if none is held out)."""
    path = directory / "models" / "structure.joblib"
    if not path.exists():
        return None
    from . import models
    model, _ = models.load(path)
    data = aggregate.load_datasets(directory)
    rows = list(np.flatnonzero(data["holdout"])[:4]) or list(range(min(4, len(data["ids"]))))
    mean, std = model.predict(data["X"][rows])
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, i in enumerate(rows):
        line, = ax.plot(data["r"], data["U"][i], lw=1, label=f"IBI {str(data['ids'][i])[:8]}")
        ax.plot(data["r"], mean[k], lw=1, ls="--", color=line.get_color())
        ax.fill_between(data["r"], mean[k] - 2 * std[k], mean[k] + 2 * std[k], color=line.get_color(), alpha=0.2)
    kind = "held out" if data["holdout"].any() else "training"
    ax.set(xlabel="r (Å)", ylabel="U (kcal/mol)", ylim=(min(-1.0, float(np.min(mean - 2 * std)) * 1.1), 2.0),
           title=f"predicted (dashed, band ± 2 std) vs IBI, {kind} jobs")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, directory / "predicted_potentials.png")
    return "![predicted potentials with their band](predicted_potentials.png)"


def unvalidated(job_list) -> list[str]:
    """A line for each held-out job the closed-loop validation left out, saying why (not finished, failed,
    or the trust flags it lacks), so an empty validation table is explained."""
    out = []
    for j in sorted(job_list, key=lambda j: j.id):
        d = jobs.document(j)
        if not d.get("holdout") or "validated_with" in d:
            continue
        why = ("failed" if jobs.is_failed(j) else "not finished" if "alpha" not in d
               else "untrusted: " + ", ".join(aggregate.untrusted_because(j)) if not aggregate.finished(j)
               else "not validated yet")
        out.append(f"- `{j.id[:8]}` (held out) is not in the table: {why}")
    return [""] + out if out else []


def write(job_list, directory) -> Path:
    """report.md and its figures, under analysis/.lock (files.locked) like the datasets and models."""
    directory = Path(directory)
    with files.locked(directory):
        return _write(job_list, directory)


def _write(job_list, directory: Path) -> Path:
    summary = json.loads((directory / aggregate.DATASETS_JSON).read_text())
    models_json = json.loads((directory / aggregate.MODELS_JSON).read_text())
    job_list = list(job_list)
    lines = [*_data_space(job_list, summary), *_jobs_table(job_list), *_models_section(models_json, directory),
             *_closed_loop(job_list), *_campaign(directory / CAMPAIGN_DIR), "",
             f"<!-- models {models_json['fingerprint']} -->"]
    return files.write_text(directory / aggregate.REPORT, "\n".join(lines) + "\n")


def _data_space(job_list, summary: dict) -> list[str]:
    failed = [j for j in job_list if jobs.is_failed(j)]
    presets = sorted({j.sp.get("preset", "?") for j in job_list})
    n_demo = "/".join(sorted({str(jobs.preset(j)["n_molecules"]) for j in job_list if j.sp.get("preset") == "demo"}))
    lines = ["# mobcg project report", "",
             f"Preset(s): {', '.join(presets)}" + (f" — **demo-grade numbers**: {n_demo} molecules and runs of tens "
                                                   "of ps (flagged where not equilibrated or not diffusive, with wide "
                                                   "error bars and finite-size effects)." if "demo" in presets else ""),
             "", "## Data space", "",
             f"- jobs: {len(job_list)}; finished (alpha known): {summary['n_jobs']}; failed: {len(failed)}",
             f"- training jobs: {summary['n_train']}; held out: {summary['n_holdout']}; "
             f"mobility-preserving pairs: {summary['n_pairs']} (tol {summary['pairing']['tol']}, "
             f"r² ≥ {summary['pairing']['r2_min']})",
             f"- potential grid: {summary['grid'][0]}–{summary['grid'][1]} Å every {summary['grid'][2]} Å", ""]
    if failed:
        lines += ["Failed parameter sets:", ""] + [f"- `{j.id[:8]}` {j.doc.get('failed_stage', '')}: "
                                                  f"{j.doc.get('failure_reason', '')}" for j in failed] + [""]
    return lines


def _jobs_table(job_list) -> list[str]:
    lines = ["Trust: a job's numbers enter the datasets only when its NPT density settled (`density_converged`), "
              "its production kept that density (`density_steady`), both MSD fit windows are diffusive "
              "(`D_AA_diffusive`, `D_CG_diffusive`) and both viscosities are positive (`viscosity_resolved`); jobs "
              "that lack a flag are listed with it and left out.", "",
              "D (1e-9 m²/s) is moved to an infinite box with each model's own Green–Kubo viscosity η (mPa·s; "
              "Yeh–Hummer): the convention of alpha, the datasets and the pairs. The measured D (raw, in the box of "
              "`box_AA`, `box_CG` Å) follow in brackets.", "",
              "| job | reference | holdout | density g/cm³ | settled | steady | D_AA ∞ (raw) | η_AA | diffusive | "
              "D_CG ∞ (raw) | η_CG | diffusive | alpha | IBI dev. | DPD γ, alpha matched | "
              "published D_AA / D_CG / alpha | used |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def flag(value):
        return "yes" if value is True else ("**no**" if value is False else "–")

    for j in sorted(job_list, key=lambda j: j.id):
        d = j.doc
        if "alpha" in d and not jobs.is_failed(j):
            pub = d.get("published")
            published = f"{pub['D_AA']:.2f} / {pub['D_CG']:.2f} / {pub['alpha']:.2f}" if pub else ""
            lines.append(f"| `{j.id[:8]}` | {'yes' if d.get('reference') else ''} | {'yes' if d.get('holdout') else ''} | "
                         f"{d['density']:.3f} | {flag(d.get('density_converged'))} | {flag(d.get('density_steady'))} | "
                         f"{_d(d, 'AA')} | {_eta(d, 'AA')} | {flag(d.get('D_AA_diffusive'))} | {_d(d, 'CG')} | "
                         f"{_eta(d, 'CG')} | {flag(d.get('D_CG_diffusive'))} | {d['alpha']:.2f} ± {d.get('alpha_err', 0):.2f} | "
                         f"{100 * d['ibi_deviation']:.1f} % | {_friction(d)} | "
                         f"{published} | {'yes' if aggregate.finished(j) else '**no**'} |")
    return lines


def _models_section(models_json: dict, directory: Path) -> list[str]:
    lines = ["", "## Models (k-fold cross-validation on the training jobs)", "",
              "| model | samples | score |", "| --- | --- | --- |"]
    for name, info in models_json["models"].items():
        if "note" in info and "r2" not in info and "rmse" not in info:
            score = info["note"]
        elif "rmse" in info:
            score = f"RMSE {info['rmse']:.3f} kcal/mol (predict-the-mean: {info['rmse_mean_baseline']:.3f})"
        elif "r2" in info:
            score = f"R² {info['r2']:.2f}, MAE {info['mae']:.3g}"
        elif "loo_rmse" in info:  # ibi_start: the correction to the PMF that new jobs' IBI starts from
            score = (f"IBI's start: leave-one-out RMSE {info['loo_rmse']:.3f} kcal/mol from the converged tables "
                     f"(the PMF alone: {info['pmf_rmse']:.3f})")
        else:
            score = info.get("note", "")
        lines.append(f"| {name} | {info.get('n_samples', info.get('n', ''))} | {score} |")
    from .summary import warnings
    lines += [""] + [f"**Warning:** {w}." for w in warnings(models_json)]
    if models_json.get("n_train", 0) < aggregate.MIN_TRUSTED_JOBS:
        lines += ["", f"**{models_json.get('n_train')} training jobs, fewer than {aggregate.MIN_TRUSTED_JOBS}: the "
                      "scalar models are untrustworthy and `predict` gives them no interval.**"]
    band = _predicted_band(directory)
    lines += ["", _potentials(directory), ""] + ([band, ""] if band else []) + _parity(models_json, directory)
    return lines


def _closed_loop(job_list) -> list[str]:
    lines = ["", "## Closed-loop validation (held-out jobs, predicted potentials simulated with LAMMPS)", "",
              "| job | alpha_pred structure | RDF r² structure | alpha_pred mobility | RDF r² mobility | "
              "alpha_pred structure + friction | RDF r² structure + friction |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for j in job_list:
        d = j.doc
        if "validated_with" in d:
            def f(key):
                return f"{d[key]:.2f}" if key in d else "–"
            lines.append(f"| `{j.id[:8]}` | {f('alpha_pred_structure')} | {f('rdf_r2_structure')} | "
                         f"{f('alpha_pred_mobility')} | {f('rdf_r2_mobility')} | {f('alpha_pred_dpd')} | {f('rdf_r2_dpd')} |")
    lines += unvalidated(job_list)
    lines += ["", "Goal: the mobility-preserving potential gives alpha_pred within 1 ± 0.3; the structure-preserving "
              "one an RDF as close to the AA target as IBI's; the structure-preserving table with the predicted "
              "DPD friction alpha_pred within 1 ± 0.15 (median; 68 % within 1 ± 0.3) and RDF r² ≥ 0.98."]
    return lines


def _d(doc, model: str) -> str:
    """D_<model>_inf ± err (raw D in brackets), or the raw one alone where there is no viscosity."""
    raw = f"{doc[f'D_{model}']:.2f}"
    if f"D_{model}_inf" not in doc:
        return f"– ({raw} ± {doc.get(f'D_{model}_err', 0):.2f})"
    return f"{doc[f'D_{model}_inf']:.2f} ± {doc[f'D_{model}_inf_err']:.2f} ({raw})"


def _eta(doc, model: str) -> str:
    return f"{doc[f'eta_{model}']:.2f} ± {doc[f'eta_{model}_err']:.2f}" if f"eta_{model}" in doc else "–"


def _friction(doc) -> str:
    if "dpd_gamma" in doc:
        return f"{doc['dpd_gamma']:.3g}, {doc['alpha_matched']:.2f}"
    return "not reachable" if "mobility_failed" in doc else "–"


CAMPAIGN_DIR = "campaign"  # analysis/campaign/: a data release's measures (release.import_release copies them)


def _campaign(folder: Path) -> list[str]:
    """The measures of the data release this project was imported from (benchmarks/campaign_measures.py
    wrote them into the release's measures/ folder): issue 22's a–g, in lines, with their figures."""
    path = folder / "campaign_measures.json"
    if not path.is_file():
        return []
    m = json.loads(path.read_text())
    a, b, c = m["a"], m["b"], m["c"]
    lines = ["", f"## The campaign release `{m.get('release', '?')}`, measured (benchmarks/campaign_measures.py)", ""]
    for draw, x in ((k, v) for k, v in a.items() if isinstance(v, dict) and "drawn" in v):
        lines.append(f"- {draw} draws: {x['drawn']} drawn, {x['liquids']} liquids ({100 * x['share']:.0f} %), "
                     f"{x['trusted']} trusted"
                     + (f"; the chance of a liquid (mobcg.suggest) expected {100 * x['expected_share']:.0f} %"
                        if "expected_share" in x else "")
                     + (f", ranking them with ROC AUC {x['liquid_probability_auc']:.2f}"
                        if x.get("liquid_probability_auc") is not None else ""))
    if (u := a.get("untrusted_liquids")) and u["n"]:
        lines.append(f"- liquids not trusted: {u['n']} ("
                     + ", ".join(f"{flag} {n}" for flag, n in sorted(u["by_flag"].items())) + " failed); their median "
                     f"D_AA {u['D_AA_median']:.2f}"
                     + (f", the trusted ones' {u['trusted_D_AA_median']:.2f}" if u["trusted_D_AA_median"] is not None
                        else ", none trusted") + " (1e-9 m²/s, raw)")
    low = sorted((p, name) for name, p in a["ks"].items() if p is not None)[:3]
    lines.append("- the random survivors' parameters against the published 234 (KS p, lowest three): "
                 + ", ".join(f"{name} {p:.2g}" for p, name in low))
    for key in ("D_AA", "D_CG", "alpha"):
        o, p_ = b[key]["ours_5_50_95"], b[key]["published_5_50_95"]
        lines.append(f"- {key} at the paper's box, median (5–95 %): ours {o[1]:.2f} ({o[0]:.2f}–{o[2]:.2f}), "
                     f"published {p_[1]:.2f} ({p_[0]:.2f}–{p_[2]:.2f}); published-data models on ours: R²(log) "
                     f"{b[key]['published_models_r2_log']:.2f}, coverage {100 * b[key]['coverage_68']:.0f} % (68 %), "
                     f"{100 * b[key]['coverage_95']:.0f} % (95 %)")
    if "raw" in b:  # the D as measured (48 molecules, 1296 beads): the published alpha's own convention
        r = b["raw"]
        lines.append("- raw D (as measured, the convention the published alpha follows): published-data models on ours: "
                     + "; ".join(f"{key} R²(log) {r[key]['published_models_r2_log']:.2f}, coverage "
                                 f"{100 * r[key]['coverage_68']:.0f} % / {100 * r[key]['coverage_95']:.0f} %"
                                 for key in ("D_AA", "D_CG", "alpha")))
    among = (f"the {c['training']} training jobs ({c['trusted']} trusted, the held-out ones aside)" if "training" in c
             else f"{c['trusted']} trusted jobs")  # (pairs are drawn among the training jobs only)
    lines.append(f"- pairing dataset: {c['pairs']} real pairs among {among} (tol {c['tolerance']['tol']})")
    loop = m.get("closed_loop", {})
    for kind, what in (("structure", "structure-preserving potential"), ("mobility", "mobility-preserving potential"),
                       ("dpd", "structure potential + predicted DPD friction")):
        if kind in loop:
            x = loop[kind]
            lines.append(f"- closed loop, {what} ({x['n']} held-out jobs): alpha_pred median {x['alpha_median']:.2f}, "
                         f"{100 * x['within_0.3']:.0f} % within 1 ± 0.3, {100 * x['within_0.5']:.0f} % within 1 ± 0.5; "
                         f"RDF r² median {x['rdf_r2_median']:.3f} (min {x['rdf_r2_min']:.3f})")
    if "warm_start" in loop:
        w = loop["warm_start"]
        lines.append(f"- warm start ({w['n']} jobs), IBI simulations to convergence: from the PMF "
                     f"{w['pmf_mean']:.1f}, from the structure model's table {w['model_mean']:.1f}"
                     + (f", from the PMF plus the density correction (the pipeline's) {w['correction_mean']:.1f} "
                        f"(ratio {w['correction_ratio']:.2f}), from the job's own converged table "
                        f"{w['oracle_mean']:.1f} (the floor, ratio {w['oracle_ratio']:.2f})" if "correction_mean" in w
                        else f" (ratio {w['ratio']:.2f})"))
    lines.append("")
    lines += [f"![{png.stem}]({CAMPAIGN_DIR}/{png.name})" for png in sorted(folder.glob("campaign_*.png"))]
    return lines

