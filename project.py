#!/usr/bin/env python
"""Mobility-preserving coarse-grained models of alkanes (2,3,4-trimethylpentane by default) as a signac-flow workflow.

    python project.py status       # where every job stands
    python project.py run          # run what is eligible, here
    python project.py submit       # the same on a cluster (SLURM), one job per operation
    python project.py submit -o aa # or one cluster job per AA stage (group "aa"; likewise "cg")
"""
import os
import sys
from pathlib import Path

from flow import FlowProject, aggregator

from mobcg import aa, aggregate, cg, files, jobs, summary
from mobcg.environments import SchedulerFaults  # (importing it registers the Lichtenberg environment)

ANALYSIS = Path(__file__).resolve().parent / "analysis"


class Project(SchedulerFaults, FlowProject):
    def _execute_operation(self, *args, **kwargs):
        # flow wraps an operation's exception in UserOperationError; with --parallel only that wrapper
        # (without its cause) comes back from the worker. Re-raise a machine fault itself, so main()
        # can print its one line either way.
        try:
            return super()._execute_operation(*args, **kwargs)
        except Exception as exc:
            fault = files.machine_fault(exc)
            if fault is None:
                raise
            raise fault from None

    def _fetch_status(self, *args, **kwargs):
        # One status evaluation reads each job's document and folder once (jobs.snapshot): 3 s at 10k jobs.
        with jobs.snapshot():
            return super()._fetch_status(*args, **kwargs)


# Groups run their operations in order in one go: `submit -o aa` is one cluster job per AA box.
aa_stage = Project.make_group(name="aa")
cg_stage = Project.make_group(name="cg")


def ranks(stage):
    """MPI ranks for a stage: the preset's (or MOBCG_NP), never more than this machine has when run here."""
    return lambda job: min(int(os.environ.get("MOBCG_NP") or jobs.preset(job)[stage]["np"]), os.cpu_count() or 1)


def walltime(job):
    return jobs.preset(job)["walltime_h"]


# Conditions read like sentences; they read job documents and files through jobs.document and
# jobs.has_file (re-read only when changed; once per job inside `status`), which keeps `status` fast
# at 10 000 jobs.
def not_failed(job):
    return not jobs.is_failed(job)


def aa_built(job):
    return jobs.has_file(job, aa.DATA)


def aa_equilibrated(job):
    return jobs.has_file(job, aa.EQUILIBRATED)


def aa_sampled(job):
    return jobs.has_file(job, aa.TRAJECTORY)


def aa_analyzed(job):
    return "D_AA" in jobs.document(job)


def ibi_done(job):
    return cg.ibi_done(job)


def cg_sampled(job):
    return jobs.has_file(job, cg.TRAJECTORY)


def cg_analyzed(job):
    return "alpha" in jobs.document(job)


def failed(job):
    return jobs.is_failed(job)


def released(job):
    """Imported from a data release (init.py --import): its results are there, its trajectories never were."""
    return "released" in jobs.document(job)


# A failed job counts as done for every stage, so nothing retries it; so does a released one, whose
# per-job stages ran where the release was made.
def done(condition):
    def check(job):
        return failed(job) or released(job) or condition(job)
    check.__name__ = f"{condition.__name__}_or_failed"
    return check


@Project.pre(not_failed)
@Project.post(done(aa_built))
@aa_stage
@Project.operation(directives={"np": 1, "walltime": 0.1})
def build_aa(job):
    with jobs.failures(job, "build_aa"):
        jobs.check_statepoint(job)
        aa.build(job)


@Project.pre.after(build_aa)
@Project.pre(not_failed)
@Project.post(done(aa_equilibrated))
@aa_stage
@Project.operation(directives={"np": ranks("aa"), "walltime": walltime})
def equilibrate_aa(job):
    with jobs.failures(job, "equilibrate_aa"):
        jobs.check_statepoint(job)
        aa.equilibrate(job, np=ranks("aa")(job))


@Project.pre.after(equilibrate_aa)
@Project.pre(not_failed)
@Project.post(done(aa_sampled))
@aa_stage
@Project.operation(directives={"np": ranks("aa"), "walltime": walltime})
def sample_aa(job):
    with jobs.failures(job, "sample_aa"):
        jobs.check_statepoint(job)
        aa.sample(job, np=ranks("aa")(job))


@Project.pre.after(sample_aa)
@Project.pre(not_failed)
@Project.post(done(aa_analyzed))
@aa_stage
@Project.operation(directives={"np": 1, "walltime": 0.2})
def analyze_aa(job):
    with jobs.failures(job, "analyze_aa"):
        jobs.check_statepoint(job)
        aa.analyze(job)


@Project.pre.after(analyze_aa)
@Project.pre(not_failed)
@Project.post(done(ibi_done))
@cg_stage
@Project.operation(directives={"np": ranks("ibi"), "walltime": walltime})
def run_ibi(job):
    with jobs.failures(job, "run_ibi"):
        jobs.check_statepoint(job)
        # from the PMF plus the correction finished jobs' IBI made to theirs, once trained; else the PMF
        start = aggregate.warm_start(ANALYSIS, jobs.molecule(job), print)
        cg.run_ibi(job, np=ranks("ibi")(job), start=start)


@Project.pre.after(run_ibi)
@Project.pre(not_failed)
@Project.post(done(cg_sampled))
@cg_stage
@Project.operation(directives={"np": ranks("cg"), "walltime": walltime})
def sample_cg(job):
    with jobs.failures(job, "sample_cg"):
        jobs.check_statepoint(job)
        cg.sample(job, np=ranks("cg")(job))


@Project.pre.after(sample_cg)
@Project.pre(not_failed)
@Project.post(done(cg_analyzed))
@cg_stage
@Project.operation(directives={"np": 1, "walltime": 0.2})
def analyze_cg(job):
    with jobs.failures(job, "analyze_cg"):
        jobs.check_statepoint(job)
        from mobcg import plots  # matplotlib only where figures are drawn: keeps `status` quick
        cg.analyze(job, before_done=plots.job_figures)


def trusted(job):
    """Finished with numbers the datasets take (aggregate.finished: every trust flag)."""
    return aggregate.finished(job)


def mobility_matched(job):
    return cg.mobility_done(job)


# Not released-or-done: the release may predate this stage, and it needs only what a release ships.
@Project.pre.after(analyze_cg)
@Project.pre(trusted)
@Project.post(lambda job: failed(job) or mobility_matched(job))
@cg_stage
@Project.operation(directives={"np": ranks("cg"), "walltime": walltime})
def match_mobility(job):
    with jobs.failures(job, "match_mobility", only="mobility_failed"):  # the job's other results stand
        jobs.check_statepoint(job)
        cg.match_mobility(job, np=ranks("cg")(job))


# Aggregate stages: over all jobs once every job's pipeline has ended (failed, or analysed and, if
# trusted, its friction matched).
def pipelines_ended(*jobs_):
    return all(failed(j) or (cg_analyzed(j) and (mobility_matched(j) or not trusted(j))) for j in jobs_)


def finished_ids(jobs_):
    return [j.id for j in jobs_ if aggregate.finished(j)]


def datasets_current(*jobs_):
    return aggregate.datasets_up_to_date(ANALYSIS, finished_ids(jobs_))


def models_current(*jobs_):
    return datasets_current(*jobs_) and aggregate.models_up_to_date(ANALYSIS, finished_ids(jobs_))


def enough_training_jobs(*jobs_):
    return sum(aggregate.finished(j) and not jobs.document(j).get("holdout") for j in jobs_) >= 2


@Project.pre(pipelines_ended)
@Project.pre(enough_training_jobs)
@Project.post(datasets_current)
@Project.operation(aggregator=aggregator(), directives={"np": 1, "walltime": 0.5})
def build_datasets(*jobs_):
    s = aggregate.build_datasets(jobs_, ANALYSIS)
    print(f"build_datasets: {s['n_jobs']} trusted job(s), {s['n_train']} to train on, {s['n_holdout']} held out, "
          f"{s['n_pairs']} mobility-preserving pair(s)")


@Project.pre(datasets_current)
@Project.post(models_current)
@Project.operation(aggregator=aggregator(), directives={"np": 1, "walltime": 1.0})
def train_models(*jobs_):
    out = aggregate.train_models(ANALYSIS)
    print(f"train_models: {', '.join(k for k, m in out['models'].items() if 'file' in m)} on {out['n_train']} job(s)")


def held_out(job):
    return bool(jobs.document(job).get("holdout")) and aggregate.finished(job)


def trained(job):
    return aggregate.models_fingerprint(ANALYSIS) is not None


def validated(job):
    return jobs.document(job).get("validated_with") == aggregate.models_fingerprint(ANALYSIS)


@Project.pre(held_out)
@Project.pre(trained)
@Project.post(validated)
@Project.operation(directives={"np": ranks("cg"), "walltime": walltime})
def validate_prediction(job):
    res = aggregate.validate(job, ANALYSIS, np_=ranks("cg")(job))
    print(f"validate_prediction: job {job.id}: " + (", ".join(
        f"{k} {v:.3g}" for k, v in res.items() if k.startswith(("alpha_pred", "rdf_r2"))) or "no model ran"))


def all_validated(*jobs_):
    return all(validated(j) for j in jobs_ if held_out(j))


def report_current(*jobs_):
    return aggregate.report_fingerprint(ANALYSIS) == aggregate.models_fingerprint(ANALYSIS)


@Project.pre(models_current)
@Project.pre(all_validated)
@Project.post(report_current)
@Project.operation(aggregator=aggregator(), directives={"np": 1, "walltime": 0.2})
def write_report(*jobs_):
    from mobcg import report  # matplotlib only where figures are drawn
    print(f"write_report: {report.write(jobs_, ANALYSIS)}")


@Project.label
def untrusted(job):
    """e.g. "untrusted: D_AA_diffusive" for a finished job whose numbers stay out of the datasets."""
    doc = jobs.document(job)
    if "alpha" not in doc or jobs.is_failed(job):
        return None
    missing = aggregate.untrusted_because(job)
    return f"untrusted: {', '.join(missing)}" if missing else None


@Project.label
def stage(job):
    """Where a job stands: "aa 0.72 g/cm³", "ibi 5: 2.3 %", "alpha 6.1" or "failed: <reason>"."""
    return summary.label(jobs.document(job), job.id)


def main():
    """Project().main(), but a fault of the machine (LAMMPS/MPI missing, a LAMMPS without a needed
    package, a full disk) ends the run with one line on stderr instead of flow's wrapped traceback;
    `status` ends with the model scores and where the results are."""
    try:
        Project().main()
    except Exception as exc:
        fault = files.machine_fault(exc)
        if fault is None:
            raise
        print(f"project.py: error: {fault}", file=sys.stderr)
        sys.exit(1)
    if sys.argv[1:2] == ["status"] and not any(a == "--json" or a.startswith("--output-format")
                                                for a in sys.argv):  # keep machine-readable output clean
        print("\n".join(["", *summary.scores(ANALYSIS), *summary.where(ANALYSIS)]))


if __name__ == "__main__":
    main()
