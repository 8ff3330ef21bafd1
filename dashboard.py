#!/usr/bin/env python
"""signac-dashboard for this project.

    python dashboard.py run                      # http://localhost:8888, prints a login URL
    python dashboard.py run --host 0.0.0.0 --port 8890

On a cluster, run it on the login node and tunnel the port
(``ssh -L 8888:localhost:8888 user@login``).  Cards: a project summary (jobs by
stage, failures, alpha histogram, model scores from ``analysis/models.json``),
project figures (``analysis/*.png``), the schema; per job: its results, flow
labels, statepoint, document and figures (``rdf.png``, ``potential.png``,
``msd.png``, any ``*.png``).

From Python (tests, notebooks)::

    from dashboard import make_dashboard
    dash = make_dashboard(project, config={"ACCESS_TOKEN": None})  # no login
    client = dash.app.test_client()
"""

from __future__ import annotations

import logging
import os
import sys

import signac
from signac_dashboard import Dashboard
from signac_dashboard.modules import DocumentList, ImageViewer, StatepointList

from mobcg.dashboard_modules import (
    JobResults,
    ProjectReport,
    ProjectSummary,
    ReadableSchema,
    WorkflowStatus,
    job_stage,
)

logger = logging.getLogger(__name__)
HERE = os.path.dirname(os.path.abspath(__file__))


class MobcgDashboard(Dashboard):
    """Short job titles: the 19 force-field parameters make the default unreadable."""

    def job_title(self, job):
        sp, doc = job.cached_statepoint, job.document()
        parts = [str(sp.get("molecule", "job"))]
        if "replica" in sp:
            parts.append(f"replica {sp['replica']}")
        if doc.get("reference"):
            parts.append("OPLS-AA reference")
        if doc.get("holdout"):
            parts.append("held out")
        parts.append(job_stage(doc))
        if isinstance(doc.get("alpha"), (int, float)):
            parts.append(f"α={doc['alpha']:.3g}")
        return " · ".join(parts)


def make_modules():
    """The dashboard's cards, in display order."""
    return [
        # project page
        ProjectSummary(),
        WorkflowStatus(name="Workflow status", context="ProjectContext"),  # incl. aggregates
        ProjectReport(),  # analysis/report.md
        ImageViewer(name="Project figure", context="ProjectContext",
                    img_globs=("analysis/*.png",)),
        ReadableSchema(),  # signac-dashboard's Schema, readable (see its docstring)
        # job pages
        JobResults(),
        WorkflowStatus(),  # operations + labels; needs a FlowProject, see load_project
        StatepointList(),
        DocumentList(max_chars=200),
        ImageViewer(name="Figure", img_globs=("*.png",)),
    ]


def load_project(path=None):
    """The project as a FlowProject (``Project`` of project.py) when importable.

    The Flow Status cards (operations, aggregates, labels) need the FlowProject; without project.py
    (or if it fails to import) the plain signac project is used and that card
    says so.
    """
    path = path or HERE
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        from project import Project  # project.py next to this file
    except Exception as error:  # noqa: BLE001 - keep the dashboard usable
        logger.warning("project.py not importable (%s); flow status disabled", error)
        return signac.get_project(path)
    return Project.get_project(path)


def make_dashboard(project=None, config=None):
    """Build the dashboard for ``project`` (default: this directory's project).

    ``config`` goes to signac-dashboard (HOST, PORT, ACCESS_TOKEN, PER_PAGE, ...);
    ``{"ACCESS_TOKEN": None}`` turns the login off (tests, single-user machines).
    """
    if project is None:
        project = load_project()
    config = dict(config or {})
    config.setdefault("CARDS_PER_ROW", 2)  # the summary tables need the width
    return MobcgDashboard(config=config, project=project, modules=make_modules())


if __name__ == "__main__":
    make_dashboard().main()
