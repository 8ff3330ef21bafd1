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
    ("AA density", "density", "density_err", "g/cm³"),
    ("density settled (NPT block averages)", "density_converged", None, ""),
    ("density steady through the production", "density_steady", None, ""),
    ("NPT equilibration", "equilibration_ps", None, "ps"),
    ("D_AA in an infinite box (Yeh–Hummer, own viscosity)", "D_AA_inf", "D_AA_inf_err", "1e-9 m²/s"),
    ("D_AA as measured", "D_AA", "D_AA_err", "1e-9 m²/s"),
    ("AA box edge", "box_AA", None, "Å"),
    ("AA shear viscosity (Green–Kubo)", "eta_AA", "eta_AA_err", "mPa·s"),
    ("D_AA fit window diffusive", "D_AA_diffusive", None, ""),
    ("D_AA MSD exponent", "D_AA_msd_exponent", None, ""),
    ("IBI iterations", "ibi_iterations", None, ""),
    ("IBI RDF deviation", "ibi_deviation", None, "fraction"),
    ("IBI converged", "ibi_converged", None, ""),
    ("D_CG in an infinite box (Yeh–Hummer, own viscosity)", "D_CG_inf", "D_CG_inf_err", "1e-9 m²/s"),
    ("D_CG as measured", "D_CG", "D_CG_err", "1e-9 m²/s"),
    ("CG box edge", "box_CG", None, "Å"),
    ("CG shear viscosity (Green–Kubo)", "eta_CG", "eta_CG_err", "mPa·s"),
    ("D_CG fit window diffusive", "D_CG_diffusive", None, ""),
    ("alpha = D_CG / D_AA (infinite box)", "alpha", "alpha_err", ""),
    ("alpha of the measured D", "alpha_raw", None, ""),
    ("DPD friction matched to D_AA", "dpd_gamma", None, "kcal fs/(mol Å²)"),
    ("alpha with the matched friction", "alpha_matched", "alpha_matched_err", ""),
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
    n_converged = n_ran = 0
    for job in project:
        doc = job.document()  # plain dict copy: one read per job
        stage = job_stage(doc)
        counts[stage] += 1
        if stage == FAILED:
            reasons[str(doc.get("failure_reason", "unknown"))] += 1
        if doc.get("ibi_converged") is True:
            n_converged += 1
        if "ibi_converged" in doc:
            n_ran += 1
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
        "ibi_ran": n_ran,
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


#: the dashboard's cards break words anywhere; tables read better breaking at spaces only
_NOWRAP = "word-break: normal; overflow-wrap: normal"


#: A card holding a wide table spans the whole row (CSS :has, Chromium ≥ 105, Firefox ≥ 121); every
#: table scrolls inside its card (Bulma's .table-container) rather than spilling out of it.
WIDE_CARD = ("<style>.column:has(> .card .mobcg-wide) { flex: none; width: 100%; }</style>"
             "<span class='mobcg-wide'></span>")


def _table(rows, header=None) -> str:
    html = [f'<div class="table-container"><table class="table is-narrow is-striped" style="{_NOWRAP}">']
    if header:
        html.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header)
                    + "</tr></thead>")
    html.append("<tbody>")
    for row in rows:
        html.append("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>")
    html.append("</tbody></table></div>")
    return "".join(html)


def model_rows(models):
    """(model, column → value) rows of ``analysis/models.json``.

    The file is ``{"fingerprint", "dataset", "models": {name: {"n", "r2", "rmse", "note",
    "file", "learning_curve", ...}}, "n_train", "versions"}`` (mobcg.aggregate); a bare
    ``{name: {...}}`` mapping or a list of ``{"name": ...}`` entries is read too.
    """
    if isinstance(models, dict) and isinstance(models.get("models"), dict):
        models = models["models"]
    if isinstance(models, dict):
        items = list(models.items())
    elif isinstance(models, list):
        items = [(m.get("name", i) if isinstance(m, dict) else i, m)
                 for i, m in enumerate(models)]
    else:
        return []
    return [(str(name), m if isinstance(m, dict) else {"value": m}) for name, m in items]


def _models_html(models) -> str:
    """Model scores of analysis/models.json as a table (model, samples, cross-validated score in
    words, as in the report), warnings when the scores mean nothing, and a provenance line."""
    from .summary import score_text, warnings
    rows = model_rows(models)
    if not rows:
        return f"<pre>{escape(json.dumps(models, indent=1))}</pre>"
    html = [_table([(name, m.get("n_samples", m.get("n", "")),
                     score_text(m) or ", ".join(f"{k} {_fmt(v)}" for k, v in m.items() if _is_number(v)))
                    for name, m in rows], header=("model", "samples", "cross-validated score"))]
    if isinstance(models, dict) and "models" in models:
        html += [f"<p class='notification is-warning is-light mobcg-warning'>{escape(w)}</p>"
                 for w in warnings(models)]
        meta = [f"{k}: {models[k]}" for k in ("n_train", "fingerprint", "dataset") if k in models]
        versions = models.get("versions")
        if isinstance(versions, dict):
            meta.append(", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        if meta:
            html.append(f"<p class='is-size-7'>{escape(' · '.join(meta))}</p>")
    return "".join(html)


def project_summary_html(project) -> str:
    s = project_summary(project)
    parts = [WIDE_CARD, f"<p><strong>{s['n_jobs']}</strong> jobs, IBI reached its tolerance in "
             f"<strong>{s['ibi_converged']}</strong> of {s['ibi_ran']}</p>"]
    if s["ibi_ran"] > s["ibi_converged"]:
        parts.append(f"<p class='notification is-warning is-light mobcg-warning'>IBI stopped short of its tolerance "
                     f"(at its iteration limit, or stalled: no longer improving) in {s['ibi_ran'] - s['ibi_converged']} "
                     "job(s) and kept the potential with the smallest RDF deviation (see each job's IBI deviation); "
                     "with the demo preset's small boxes RDF noise keeps the deviation above the 1 % tolerance, so "
                     "this is expected there.</p>")
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
    from .aggregate import TRUST_FLAGS
    untrusted = [k for k in TRUST_FLAGS if doc.get(k) is False]
    if untrusted:
        html.append(f"<p class='has-text-warning-dark'>not used in the datasets: {escape(', '.join(untrusted))} "
                    "is false</p>")
    html.append(_table(rows, header=("quantity", "value", "unit")) if rows
                else "<p>no results yet</p>")
    return "".join(html)


# -- flow status: operations, including aggregate ones -----------------------------------


def _state(status) -> str:
    if status.get("completed"):
        return "completed"
    return "eligible" if status.get("eligible") else "not eligible"


def _aggregates(project):
    """[(aggregate, [op names])] of the project's aggregate (multi-job) operations.

    flow 0.29 has no public API for this; it keeps each aggregator's store in
    ``FlowProject._group_to_aggregate_store``.  Empty for a plain signac project.
    """
    stores = getattr(getattr(project, "_group_to_aggregate_store", None), "inverse", {})
    found = []
    for store, groups in stores.items():
        if type(store).__name__ == "_DefaultAggregateStore":  # one job per aggregate
            continue
        for _, aggregate in store.items():
            found.append((aggregate, [g.name for g in groups]))
    return found


def job_operations(project, job) -> list[tuple[str, str, str]]:
    """(operation, completed/eligible/not eligible, scope) of ``job``: its own operations
    and the aggregate operations over all jobs that include it.  [] without flow."""
    if not hasattr(project, "_get_aggregate_group_status"):
        return []
    order = list(getattr(project, "operations", {}))
    rows = sorted(((name, _state(st), "this job")
                   for name, st in project._get_aggregate_group_status((job,), {})),
                  key=lambda row: order.index(row[0]) if row[0] in order else len(order))
    for aggregate, _ in _aggregates(project):
        if any(j.id == job.id for j in aggregate):
            rows += [(name, _state(st), f"all {len(aggregate)} jobs")
                     for name, st in project._get_aggregate_group_status(aggregate, {})]
    return list(dict.fromkeys(rows))


def project_operations(project) -> list[tuple[str, int, int, int, str]]:
    """(operation, completed, eligible, not eligible, scope) over the whole project."""
    if not hasattr(project, "_get_aggregate_group_status"):
        return []
    counts = {}
    for job in project:
        for name, st in project._get_aggregate_group_status((job,), {}):
            counts.setdefault((name, "per job"), Counter())[_state(st)] += 1
    seen = set()
    for aggregate, _ in _aggregates(project):
        for name, st in project._get_aggregate_group_status(aggregate, {}):
            if name not in seen:
                seen.add(name)
                counts.setdefault((name, f"all {len(aggregate)} jobs"),
                                  Counter())[_state(st)] += 1
    order = list(getattr(project, "operations", {}))
    return [(name, c["completed"], c["eligible"], c["not eligible"], scope)
            for (name, scope), c in sorted(
                counts.items(),
                key=lambda kv: order.index(kv[0][0]) if kv[0][0] in order else len(order))]


def job_status_html(project, job) -> str:
    if not hasattr(project, "_get_aggregate_group_status"):
        return "<p>no flow project (project.py not importable): operations unknown</p>"
    html = [_table(job_operations(project, job), header=("operation", "status", "scope"))]
    try:
        labels = list(project.labels(job))
    except Exception as error:  # noqa: BLE001 - a broken label must not break the page
        labels = [f"label error: {error}"]
    if labels:
        html.append("<p>labels: " + " ".join(f"<span class='tag'>{escape(x)}</span>"
                                             for x in labels) + "</p>")
    return "".join(html)


def project_status_html(project) -> str:
    rows = project_operations(project)
    if not rows:
        return "<p>no flow project (project.py not importable): operations unknown</p>"
    return _table(rows, header=("operation", "completed", "eligible", "not eligible", "scope"))


# -- analysis/report.md --------------------------------------------------------------------


def _inline_md(text, image_url) -> str:
    """Escape, then the inline Markdown the report uses: `code`, **bold**, ![alt](file)."""
    import re

    out = str(escape(text))
    out = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)",
                 lambda m: f'<img alt="{m[1]}" src="{escape(image_url(m[2]))}"/>', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def markdown_html(md: str, image_url=lambda name: name) -> str:
    """A small Markdown subset to HTML (headings, lists, pipe tables, paragraphs, images).

    Enough for ``analysis/report.md`` (mobcg.report) without a Markdown dependency;
    ``image_url`` maps a relative image path to its URL."""
    html, table, items, para = [], [], [], []

    def flush():
        if table:
            rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in table
                    if not set(r.replace("|", "").strip()) <= set("-: ")]
            head, body = rows[0], rows[1:]
            html.append(f'<div class="table-container"><table class="table is-narrow is-striped" '
                        f'style="{_NOWRAP}"><thead><tr>'
                        + "".join(f"<th>{_inline_md(c, image_url)}</th>" for c in head)
                        + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{_inline_md(c, image_url)}</td>"
                                                   for c in r) + "</tr>" for r in body)
                        + "</tbody></table></div>")
        if items:
            html.append("<ul style='list-style: disc; margin-left: 1.5em'>" + "".join(f"<li>{_inline_md(i, image_url)}</li>" for i in items)
                        + "</ul>")
        if para:
            html.append(f"<p>{_inline_md(' '.join(para), image_url)}</p>")
        table.clear(), items.clear(), para.clear()

    for line in md.splitlines():
        stripped = line.strip()
        if stripped.startswith("<!--") or not stripped:
            flush()
        elif stripped.startswith("#"):
            flush()
            level = min(6, len(stripped) - len(stripped.lstrip("#")) + 3)
            html.append(f"<h{level} class='title is-6'>"
                        f"{_inline_md(stripped.lstrip('#').strip(), image_url)}</h{level}>")
        elif stripped.startswith("|"):
            if not table:
                flush()
            table.append(stripped)
        elif stripped.startswith(("- ", "* ")):
            if not items:
                flush()
            items.append(stripped[2:])
        else:
            para.append(stripped)
    flush()
    return "".join(html)


def report_html(project, image_url=None) -> str | None:
    """``analysis/report.md`` of the project as HTML, or None when there is none."""
    fn = os.path.join(str(project.path), "analysis", "report.md")
    try:
        with open(fn, encoding="utf-8") as fh:
            md = fh.read()
    except OSError:
        return None
    return WIDE_CARD + markdown_html(md, image_url or (lambda name: "analysis/" + name))


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


class WorkflowStatus(Module):
    """Flow status from the FlowProject's operations (not only its labels).

    signac-dashboard's ``FlowStatus`` shows labels only, and this project has one
    label (``stage``: "aa 0.72 g/cm³", "ibi 5: 2.3 %", "alpha 6.1", "failed: …").  Job pages: every operation of the
    job, the aggregate operations (datasets, models, report) it takes part in, and
    its labels.  Project page: completed/eligible/not eligible counts per operation.
    """

    _supported_contexts = {"JobContext", "ProjectContext"}

    def __init__(self, name="Flow Status", context="JobContext",
                 template="cards/text_display.html", **kwargs):
        super().__init__(name=name, context=context, template=template, **kwargs)

    def register(self, dashboard):
        self.project = dashboard.project

    def get_cards(self, job_or_project):
        if self.context == "ProjectContext":
            html = project_status_html(self.project)
        else:
            html = job_status_html(self.project, job_or_project)
        return [{"name": self.name,
                 "content": render_template(self.template, msg=Markup(html))}]


class ProjectReport(Module):
    """Project card: ``analysis/report.md`` (written by the write_report operation)."""

    _supported_contexts = {"ProjectContext"}

    def __init__(self, name="Report (analysis/report.md)", context="ProjectContext",
                 template="cards/text_display.html", **kwargs):
        super().__init__(name=name, context=context, template=template, **kwargs)

    def get_cards(self, project):
        from flask import url_for

        html = report_html(project, lambda name: url_for(
            "get_file", filename="analysis/" + name))
        if html is None:
            return []
        return [{"name": self.name,
                 "content": render_template(self.template, msg=Markup(html))}]


__all__ = ["ProjectSummary", "JobResults", "ReadableSchema", "WorkflowStatus", "ProjectReport",
           "job_operations", "project_operations", "markdown_html", "report_html", "model_rows", "schema_rows", "job_stage", "project_summary",
           "alpha_histogram_png", "read_models"]
