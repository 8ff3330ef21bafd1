"""What the project found, in ten seconds: one row per job, then the model scores and where to look next.

    python -m mobcg summary            # the table (the last screen of `make demo`)
    python -m mobcg summary --csv      # the same rows as CSV on stdout (--csv FILE: into FILE)

Reads job documents and analysis/models.json only; never runs or changes anything. Flags that a stage
does not record (yet) show as '-'.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from . import jobs

# Below this many training jobs k-fold scores (R², RMSE) only show that the pipeline runs.
MIN_MEANINGFUL_TRAINING = 20

# D_*_inf: moved to an infinite box with the model's own viscosity eta_* (the convention of alpha); D_AA, D_CG:
# as measured in boxes of box_AA, box_CG Å
CSV_COLUMNS = ["job", "set", "preset", "density", "density_err", "density_converged", "density_steady",
               "D_AA_inf", "D_AA_inf_err", "eta_AA", "eta_AA_err", "D_AA", "D_AA_err", "box_AA", "D_AA_diffusive",
               "ibi_deviation_percent", "ibi_iterations", "ibi_converged",
               "D_CG_inf", "D_CG_inf_err", "eta_CG", "eta_CG_err", "D_CG", "D_CG_err", "box_CG", "D_CG_diffusive",
               "viscosity_resolved", "alpha", "alpha_err", "alpha_raw", "dpd_gamma", "alpha_matched",
               "failed_stage", "failure_reason"]
_DOC_COLUMNS = [c for c in CSV_COLUMNS if c not in ("job", "set", "preset", "ibi_deviation_percent", "failed_stage",
                                                   "failure_reason")]


def role(doc: dict) -> str:
    return "reference" if doc.get("reference") else "held-out" if doc.get("holdout") else "training"


def reason(doc: dict, job_id: str = "") -> str:
    """The failure reason without the leading "job <id>: " every stage puts there."""
    text = str(doc.get("failure_reason", "failed"))
    for prefix in (f"job {job_id}: ", f"job {job_id[:8]}: "):
        if job_id and text.startswith(prefix):
            text = text[len(prefix):]
    return text


def label(doc: dict, job_id: str = "") -> str | None:
    """Where a job stands, for `project.py status`: "failed: …", "alpha 6.1", "ibi 5: 2.3 %",
    "aa 0.72 g/cm³"; None before the AA stage has a density."""
    if doc.get("failed"):
        text = reason(doc, job_id)
        if "ERROR:" in text:  # LAMMPS' own words say most: "failed: equilibrate_aa: Lost atoms ..."
            text = f"{doc.get('failed_stage', '?')}: {text.split('ERROR:', 1)[1].strip()}"
        return "failed: " + (text if len(text) <= 60 else text[:59] + "…")
    if "alpha" in doc:
        return f"alpha {doc['alpha']:.1f}"
    if "ibi_converged" in doc:
        return f"ibi {doc.get('ibi_iterations', '?')}: {100 * doc.get('ibi_deviation', math.nan):.1f} %"
    if "ibi_iteration" in doc:
        return f"ibi {doc['ibi_iteration']}: {100 * doc.get('ibi_deviation_current', math.nan):.1f} %"
    if "density" in doc:
        return f"aa {doc['density']:.2f} g/cm³"
    return None


def rows(project) -> list[dict]:
    """One dict per job (CSV_COLUMNS), reference first, then training, held-out, failed."""
    out = []
    for job in project:
        d = jobs.document(job)
        out.append({"job": job.id, "set": role(d), "preset": job.sp.get("preset", ""),
                    **{k: d.get(k) for k in _DOC_COLUMNS},
                    "ibi_deviation_percent": None if "ibi_deviation" not in d else 100 * d["ibi_deviation"],
                    "failed_stage": d.get("failed_stage") if d.get("failed") else None,
                    "failure_reason": reason(d, job.id) if d.get("failed") else None})
    order = {"reference": 0, "training": 1, "held-out": 2}
    return sorted(out, key=lambda r: (r["failure_reason"] is not None, order[r["set"]], r["job"]))


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _pm(value, err, fmt: str) -> str:
    return "-" if value is None else f"{value:{fmt}} ± {_num(err, fmt)}"


def _flag(value) -> str:
    return "-" if value is None else "yes" if value else "NO"


def table(rows_: list[dict]) -> str:
    """Aligned text table; D in 1e-9 m²/s moved to an infinite box (∞) with each model's own viscosity η
    (mPa·s); the raw D are in the CSV."""
    header = ["job", "set", "ρ g/cm³", "ρ conv.", "ρ steady", "D_AA ∞", "η_AA", "AA diff.", "IBI dev.", "IBI it.",
              "IBI conv.", "D_CG ∞", "η_CG", "CG diff.", "alpha", "failure"]
    body = []
    for r in rows_:
        failure = "" if r["failure_reason"] is None else \
            (f"{r['failed_stage']}: " if r["failed_stage"] else "") + r["failure_reason"]
        body.append([r["job"][:8], r["set"], _pm(r["density"], r["density_err"], ".3f"), _flag(r["density_converged"]),
                     _flag(r["density_steady"]),
                     _pm(r["D_AA_inf"], r["D_AA_inf_err"], ".2f"), _pm(r["eta_AA"], r["eta_AA_err"], ".2f"),
                     _flag(r["D_AA_diffusive"]),
                     _num(r["ibi_deviation_percent"], ".1f") + (" %" if r["ibi_deviation_percent"] is not None else ""),
                     _num(r["ibi_iterations"], "d"), _flag(r["ibi_converged"]),
                     _pm(r["D_CG_inf"], r["D_CG_inf_err"], ".2f"), _pm(r["eta_CG"], r["eta_CG_err"], ".2f"),
                     _flag(r["D_CG_diffusive"]), _pm(r["alpha"], r["alpha_err"], ".2f"), failure])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header) - 1)]
    lines = []
    for line in [header, *body]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[-1])
    lines.insert(1, "-" * max(len(x) for x in lines[:1]))
    return "\n".join(s.rstrip() for s in lines)


def to_csv(rows_: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows_:
        writer.writerow({k: "" if r[k] is None else r[k] for k in CSV_COLUMNS})
    return buffer.getvalue()


def score_text(info: dict) -> str:
    """One model's cross-validated score as the report words it."""
    if "r2" in info:
        return f"R² {info['r2']:.2f}" + (f", MAE {info['mae']:.3g}" if "mae" in info else "")
    if "rmse" in info:
        return f"RMSE {info['rmse']:.3f} kcal/mol" + (f" (predicting the mean: {info['rmse_mean_baseline']:.3f})"
                                                      if "rmse_mean_baseline" in info else "")
    return str(info.get("note", ""))


def warnings(models_json: dict) -> list[str]:
    """Why the scores must not be read as the models' quality (too few jobs, worse than the mean)."""
    out = []
    n = models_json.get("n_train", 0)
    if n < MIN_MEANINGFUL_TRAINING:
        out.append(f"only {n} training job(s): these scores only show that the pipeline runs; they say nothing "
                   f"about the models (need ≥ {MIN_MEANINGFUL_TRAINING}; the paper used 234)")
    worse = [name for name, info in models_json.get("models", {}).items()
             if ("r2" in info and info["r2"] < 0)
             or ("rmse" in info and info["rmse"] > info.get("rmse_mean_baseline", math.inf))]
    if worse:
        out.append(f"{', '.join(worse)}: cross-validated predictions worse than predicting the mean")
    return out


def models_json(analysis) -> dict | None:
    try:
        return json.loads((Path(analysis) / "models.json").read_text())
    except (OSError, ValueError):
        return None


def scores(analysis) -> list[str]:
    models = models_json(analysis)
    if models is None:
        return [f"Models: none trained yet ({Path(analysis) / 'models.json'} missing)."]
    lines = [f"Models (k-fold cross-validation on {models.get('n_train', '?')} training jobs):"]
    for name, info in models.get("models", {}).items():
        lines.append(f"  {name:<10} {score_text(info)}")
    lines += [f"  WARNING: {w}" for w in warnings(models)]
    return lines


def where(analysis) -> list[str]:
    report = (Path(analysis) / "report.md").resolve()
    return [f"Report:    {report}" if report.exists() else
            f"Report:    not written yet ({report}; `python project.py run` writes it)",
            "Dashboard: python dashboard.py run   (then open http://localhost:8888)",
            "Table:     python -m mobcg summary [--csv [FILE]]"]


def text(project, analysis) -> str:
    rows_ = rows(project)
    n_failed = sum(r["failure_reason"] is not None for r in rows_)
    n_done = sum(r["alpha"] is not None and r["failure_reason"] is None for r in rows_)
    head = (f"{len(rows_)} jobs: {n_done} finished (alpha known), {n_failed} failed, "
            f"{len(rows_) - n_done - n_failed} not finished.  D in 1e-9 m²/s in an infinite box (Yeh–Hummer with "
            f"each model's own Green–Kubo viscosity η, mPa·s); alpha = D_CG ∞ / D_AA ∞; the measured D: --csv.")
    return "\n".join([head, "", table(rows_), "", *scores(analysis), "", *where(analysis)]) + "\n"
