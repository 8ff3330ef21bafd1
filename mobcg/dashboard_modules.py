"""signac-dashboard modules for this project (used by ``dashboard.py``).

Reads only the stable names of DESIGN.md ("Names other tools rely on"): job.doc
keys ``density``, ``D_AA``/``D_AA_err``, ``ibi_*``, ``D_CG``/``D_CG_err``,
``alpha``, ``failed``/``failure_reason``, and the project file
``analysis/models.json``.  Never imports ``project.py`` (the library must not);
the plain data functions (:func:`job_stage`, :func:`project_summary`) work without
Flask and are what the tests and other tools can reuse.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import statistics
from collections import Counter

from markupsafe import Markup, escape

try:  # signac-dashboard is an optional dependency of the library
    from flask import render_template
    from signac_dashboard import Module
    from signac_dashboard.modules import Schema
except ImportError:  # pragma: no cover - only without the dashboard extra
    Module = Schema = object
    render_template = None

#: Stages in pipeline order, with the job.doc key whose presence marks them done.
STAGES = (
    ("new", None),
    ("AA analysed", "D_AA"),
    ("IBI done", "ibi_iterations"),
    ("CG analysed", "alpha"),
)
FAILED = "failed"

#: Job-level quantities shown by :class:`JobResults`: (label, key, error key, unit).
JOB_QUANTITIES = (
    ("AA density", "density", None, "g/cm³"),
    ("D_AA", "D_AA", "D_AA_err", "1e-9 m²/s"),
    ("IBI iterations", "ibi_iterations", None, ""),
    ("IBI RDF deviation", "ibi_deviation", None, "fraction"),
    ("IBI converged", "ibi_converged", None, ""),
    ("D_CG", "D_CG", "D_CG_err", "1e-9 m²/s"),
    ("alpha = D_CG / D_AA", "alpha", None, ""),
)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def job_stage(doc) -> str:
    """The furthest finished stage of a job from its document (or ``"failed"``)."""
    if doc.get("failed"):
        return FAILED
    stage = STAGES[0][0]
    for name, key in STAGES[1:]:
        if key in doc:
            stage = name
    return stage


def read_models(project_path) -> dict | list | None:
    """``analysis/models.json`` of the project, or None when absent/unreadable."""
    fn = os.path.join(str(project_path), "analysis", "models.json")
    try:
        with open(fn) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def project_summary(project) -> dict:
    """Counts by stage, alpha statistics, failures and model scores of a project."""
    counts = Counter({name: 0 for name, _ in STAGES})
    counts[FAILED] = 0
    alphas, reasons = [], Counter()
    n_converged = 0
    for job in project:
        doc = job.document()  # plain dict copy: one read per job
        stage = job_stage(doc)
        counts[stage] += 1
        if stage == FAILED:
            reasons[str(doc.get("failure_reason", "unknown"))] += 1
        if doc.get("ibi_converged") is True:
            n_converged += 1
        if _is_number(doc.get("alpha")):
            alphas.append(float(doc["alpha"]))
    alpha_stats = None
    if alphas:
        alpha_stats = {"n": len(alphas), "min": min(alphas), "median": statistics.median(alphas),
                       "mean": statistics.fmean(alphas), "max": max(alphas)}
    return {
        "n_jobs": sum(counts.values()),
        "stages": dict(counts),
        "ibi_converged": n_converged,
        "failure_reasons": dict(reasons),
        "alphas": alphas,
        "alpha": alpha_stats,
        "models": read_models(project.path),
    }


def alpha_histogram_png(alphas, bins=None) -> bytes | None:
    """A small PNG histogram of alpha values (None without matplotlib or data)."""
    if not alphas:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover
        return None
    fig = Figure(figsize=(4.0, 2.6), dpi=80)
    ax = fig.add_subplot()
    ax.hist(alphas, bins=bins or max(5, min(30, len(alphas) // 2)), color="#3273dc",
            edgecolor="white")
    ax.set_xlabel("alpha = D_CG / D_AA")
    ax.set_ylabel("jobs")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _fmt(x) -> str:
    if _is_number(x):
        return f"{x:.4g}"
    return str(x)


def _table(rows, header=None) -> str:
    html = ['<table class="table is-narrow is-striped">']
    if header:
        html.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header)
                    + "</tr></thead>")
    html.append("<tbody>")
    for row in rows:
        html.append("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>")
    html.append("</tbody></table>")
    return "".join(html)


def _models_html(models) -> str:
    """Render analysis/models.json whatever its exact layout (dict of dicts, list, …)."""
    if isinstance(models, dict):
        items = list(models.items())
    elif isinstance(models, list):
        items = [(m.get("name", i) if isinstance(m, dict) else i, m)
                 for i, m in enumerate(models)]
    else:
        return f"<pre>{escape(json.dumps(models, indent=1))}</pre>"
    scalar_cols = []
    for _, m in items:
        if isinstance(m, dict):
            for k, v in m.items():
                if (_is_number(v) or isinstance(v, str)) and k not in scalar_cols and k != "name":
                    scalar_cols.append(k)
    if not scalar_cols:
        return _table([(k, json.dumps(v)[:80]) for k, v in items], header=("model", "value"))
    rows = [(k, *[m.get(c, "") if isinstance(m, dict) else "" for c in scalar_cols])
            for k, m in items]
    return _table(rows, header=("model", *scalar_cols))


def project_summary_html(project) -> str:
    s = project_summary(project)
    parts = [f"<p><strong>{s['n_jobs']}</strong> jobs, IBI converged in "
             f"<strong>{s['ibi_converged']}</strong></p>"]
    parts.append("<h4 class='title is-6'>Jobs by furthest finished stage</h4>")
    parts.append(_table(list(s["stages"].items()), header=("stage", "jobs")))
    parts.append("<h4 class='title is-6'>alpha = D_CG / D_AA</h4>")
    if s["alpha"]:
        a = s["alpha"]
        parts.append(_table([(a["n"], a["min"], a["median"], a["mean"], a["max"])],
                            header=("n", "min", "median", "mean", "max")))
        png = alpha_histogram_png(s["alphas"])
        if png:
            b64 = base64.b64encode(png).decode("ascii")
            parts.append(f'<img class="alpha-histogram" alt="alpha histogram" '
                         f'src="data:image/png;base64,{b64}"/>')
    else:
        parts.append("<p>no job has alpha yet</p>")
    parts.append("<h4 class='title is-6'>Models (analysis/models.json)</h4>")
    if s["models"] is None:
        parts.append("<p>no models trained yet</p>")
    else:
        parts.append(_models_html(s["models"]))
    if s["failure_reasons"]:
        parts.append("<h4 class='title is-6'>Failures</h4>")
        parts.append(_table(list(s["failure_reasons"].items()), header=("reason", "jobs")))
    return "".join(parts)


def schema_rows(project, max_values=8):
    """(key, "type: v1, v2, …") rows of the statepoint schema, readable and short."""
    rows = []
    for key, by_type in sorted(project.detect_schema().items()):
        texts = []
        for typ, values in by_type.items():
            values = sorted(values, key=repr)
            shown = ", ".join(str(v) for v in values[:max_values])  # exact, not _fmt
            if len(values) > max_values:
                shown += f", … ({len(values)} values)"
            texts.append(f"{getattr(typ, '__name__', typ)}: {shown}")
        rows.append((key, "; ".join(texts)))
    return rows


def job_results_html(job) -> str:
    doc = job.document()
    rows = []
    for label, key, err_key, unit in JOB_QUANTITIES:
        if key in doc:
            value = _fmt(doc[key])
            if err_key and _is_number(doc.get(err_key)):
                value += f" ± {_fmt(doc[err_key])}"
            rows.append((label, value, unit))
    html = [f"<p>stage: <strong>{escape(job_stage(doc))}</strong></p>"]
    if doc.get("failed"):
        html.append(f"<p class='has-text-danger'>failed: "
                    f"{escape(str(doc.get('failure_reason', 'unknown')))}</p>")
    html.append(_table(rows, header=("quantity", "value", "unit")) if rows
                else "<p>no results yet</p>")
    return "".join(html)


class ProjectSummary(Module):
    """Project card: jobs by stage, failures, alpha distribution, model scores."""

    _supported_contexts = {"ProjectContext"}

    def __init__(self, name="Project summary", context="ProjectContext",
                 template="cards/text_display.html", **kwargs):
        super().__init__(name=name, context=context, template=template, **kwargs)

    def get_cards(self, project):
        html = Markup(project_summary_html(project))
        return [{"name": self.name, "content": render_template(self.template, msg=html)}]


class ReadableSchema(Schema):
    """The statepoint schema as a table.

    signac-dashboard 0.7.0's ``Schema`` prints ``defaultdict(<class 'float'>, …)``
    and, with ``max_chars``, leaves short values unescaped so the browser swallows
    ``<class …>`` as a tag.  Same card, readable values, everything escaped.
    """

    def get_cards(self, project):
        html = Markup(_table(schema_rows(project), header=("parameter", "values")))
        return [{"name": self.name,
                 "content": render_template("cards/text_display.html", msg=html)}]


class JobResults(Module):
    """Job card: the job's scalar results with units and error bars."""

    _supported_contexts = {"JobContext"}

    def __init__(self, name="Results", context="JobContext",
                 template="cards/text_display.html", **kwargs):
        super().__init__(name=name, context=context, template=template, **kwargs)

    def get_cards(self, job):
        html = Markup(job_results_html(job))
        return [{"name": self.name, "content": render_template(self.template, msg=html)}]


__all__ = ["ProjectSummary", "JobResults", "ReadableSchema", "schema_rows", "job_stage", "project_summary",
           "alpha_histogram_png", "read_models"]
