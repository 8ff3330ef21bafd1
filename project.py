#!/usr/bin/env python
"""Mobility-preserving coarse-grained models of 2,3,4-trimethylpentane as a signac-flow workflow.

    python project.py status       # where every job stands
    python project.py run          # run what is eligible, here
    python project.py submit       # the same on a cluster (SLURM), one job per operation
    python project.py submit -o aa # or one cluster job per AA stage (group "aa"; likewise "cg")
"""
import os

from flow import FlowProject

import mobcg.environments  # noqa: F401  (registers the Lichtenberg cluster environment)
from mobcg import aa, cg, jobs, plots


class Project(FlowProject):
    pass


# Groups run their operations in order in one go: `submit -o aa` is one cluster job per AA box.
aa_stage = Project.make_group(name="aa")
cg_stage = Project.make_group(name="cg")


def ranks(stage):
    """MPI ranks for a stage: the preset's, never more than this machine has when run here."""
    return lambda job: min(jobs.preset(job)[stage]["np"], os.cpu_count() or 1)


def walltime(job):
    return jobs.preset(job)["walltime_h"]


# Conditions read like sentences.
def not_failed(job):
    return not jobs.is_failed(job)


def aa_built(job):
    return job.isfile(aa.DATA)


def aa_equilibrated(job):
    return job.isfile(aa.EQUILIBRATED)


def aa_sampled(job):
    return job.isfile(aa.TRAJECTORY)


def aa_analyzed(job):
    return "D_AA" in job.doc


def ibi_done(job):
    return cg.ibi_done(job)


def cg_sampled(job):
    return job.isfile(cg.TRAJECTORY)


def cg_analyzed(job):
    return "alpha" in job.doc


def failed(job):
    return jobs.is_failed(job)


# A failed job counts as done for every stage, so nothing retries it.
def done(condition):
    def check(job):
        return failed(job) or condition(job)
    check.__name__ = f"{condition.__name__}_or_failed"
    return check


@Project.pre(not_failed)
@Project.post(done(aa_built))
@aa_stage
@Project.operation(directives={"np": 1, "walltime": 0.1})
def build_aa(job):
    with jobs.failures(job, "build_aa"):
        aa.build(job)


@Project.pre.after(build_aa)
@Project.pre(not_failed)
@Project.post(done(aa_equilibrated))
@aa_stage
@Project.operation(directives={"np": ranks("aa"), "walltime": walltime})
def equilibrate_aa(job):
    with jobs.failures(job, "equilibrate_aa"):
        aa.equilibrate(job, np=ranks("aa")(job))


@Project.pre.after(equilibrate_aa)
@Project.pre(not_failed)
@Project.post(done(aa_sampled))
@aa_stage
@Project.operation(directives={"np": ranks("aa"), "walltime": walltime})
def sample_aa(job):
    with jobs.failures(job, "sample_aa"):
        aa.sample(job, np=ranks("aa")(job))


@Project.pre.after(sample_aa)
@Project.pre(not_failed)
@Project.post(done(aa_analyzed))
@aa_stage
@Project.operation(directives={"np": 1, "walltime": 0.2})
def analyze_aa(job):
    with jobs.failures(job, "analyze_aa"):
        aa.analyze(job)


@Project.pre.after(analyze_aa)
@Project.pre(not_failed)
@Project.post(done(ibi_done))
@cg_stage
@Project.operation(directives={"np": ranks("ibi"), "walltime": walltime})
def run_ibi(job):
    with jobs.failures(job, "run_ibi"):
        cg.run_ibi(job, np=ranks("ibi")(job))


@Project.pre.after(run_ibi)
@Project.pre(not_failed)
@Project.post(done(cg_sampled))
@cg_stage
@Project.operation(directives={"np": ranks("cg"), "walltime": walltime})
def sample_cg(job):
    with jobs.failures(job, "sample_cg"):
        cg.sample(job, np=ranks("cg")(job))


@Project.pre.after(sample_cg)
@Project.pre(not_failed)
@Project.post(done(cg_analyzed))
@cg_stage
@Project.operation(directives={"np": 1, "walltime": 0.2})
def analyze_cg(job):
    with jobs.failures(job, "analyze_cg"):
        cg.analyze(job)
        plots.job_figures(job)


@Project.label
def ibi_progress(job):
    """e.g. "ibi 5: 2.3%" (iteration, RDF deviation) while IBI runs."""
    return cg.ibi_label(job)


if __name__ == "__main__":
    Project().main()
