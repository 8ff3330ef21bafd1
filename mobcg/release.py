"""Data releases: a campaign's results shipped inside the repository, in signac's own terms.

A release is a folder (e.g. ``data/campaign-2026-12``) holding ``release.json`` (what it is, how it was
made, counts), ``jobs/<job id>/`` for every job whose pipeline ended (finished or failed): its
``signac_statepoint.json`` and ``signac_job_document.json`` and the small result files below; no
trajectories, no restarts, no LAMMPS logs; and, while the campaign runs, ``plan.json``: the statepoint and
draw record (INIT_KEYS) of every job not yet ended, so that the campaign resumes whole on a machine that
has only the repository (its suggested draws depend on what had ended when they were drawn, and could not
be drawn again). ``python init.py --import data/<release>`` brings it into a
workspace: each folder becomes the job its statepoint names (same id), the potential tables are written
again from IBI's final iteration (bit for bit what run_ibi exported), and ``job.doc.released`` names the
release, so every per-job stage counts as done and ``python project.py run`` goes straight to the
aggregate operations (datasets, models, validation, report). ``signac import data/<release>/jobs``
reads the same folders, but leaves the tables unwritten.

Units as everywhere: Å, fs, kcal/mol; D in 1e-9 m²/s; viscosities in mPa·s.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import aa, cg, files, ibi, jobs, tables

# What a released job keeps (those it has): the AA COM RDF, MSD and Green–Kubo curve, IBI's input
# (target, noise, CG start, bead mass) and its per-iteration summary with the final iteration, the
# CG RDF, MSD and Green–Kubo curve.
JOB_FILES = ("signac_statepoint.json", "signac_job_document.json", aa.RDF, aa.MSD, aa.VISCOSITY, cg.IBI_INPUT,
             f"{cg.IBI_DIR}/{ibi.SUMMARY_NAME}", cg.RDF, cg.MSD, cg.VISCOSITY)
JOBS = "jobs"
RELEASE_JSON = "release.json"
PLAN = "plan.json"
# what init.py gives a job's document (the draw's record): what a planned job starts with, and all that a
# job sent back to the queue keeps (campaign.redo_other_integrator)
INIT_KEYS = ("holdout", "reference", "published", "draw", "draw_seed", "suggested_by", "suggest_seed", "acquisition",
             "liquid_probability")
MEASURES = "measures"  # benchmarks/campaign_measures.py's figures and numbers, copied to analysis/campaign/ on import


class ReleaseError(RuntimeError):
    pass


def ended(doc: dict) -> bool:
    """A job whose pipeline has ended: failed, or finished (alpha) and, if its numbers are trusted, its
    friction matched (match_mobility: dpd_gamma, or mobility_failed)."""
    from .aggregate import missing_flags
    if doc.get("failed"):
        return True
    if "alpha" not in doc:
        return False
    return bool(missing_flags(doc)) or "dpd_gamma" in doc or "mobility_failed" in doc


def liquid(doc: dict) -> bool:
    """An ended job's parameter set gave a liquid: it finished, or it failed after the AA NPT (a set that
    gives no liquid fails in build_aa or equilibrate_aa)."""
    return not doc.get("failed") or doc.get("failed_stage") not in ("build_aa", "equilibrate_aa")


def _final_iteration(job) -> str | None:
    final = job.doc.get("ibi_final_iteration")
    return None if final is None else f"{cg.IBI_DIR}/iteration_{int(final):03d}.npz"


def export_job(job, target) -> Path:
    """Copy one ended job's release files into target/jobs/<id>/ (replacing an earlier copy whole: the
    folder is written beside and renamed into place, so a kill leaves the old copy or the new one)."""
    dest = Path(target) / JOBS / job.id
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{job.id}.", suffix=".tmp", dir=dest.parent))
    try:
        for name in (*JOB_FILES, _final_iteration(job)):
            if name and os.path.isfile(job.fn(name)):
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(job.fn(name), tmp / name)
        _local_paths(tmp / "signac_job_document.json", job.path)
        os.chmod(tmp, 0o755)
        old = dest.with_name(f".{job.id}.old")
        shutil.rmtree(old, ignore_errors=True)  # a kill between the two renames left it
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _local_paths(document: Path, job_path: str) -> None:
    """The job's own folder named relative to itself in its document (failure reasons name LAMMPS logs by
    their absolute path, which means nothing in a clone of the release and leaks the machine's layout)."""
    document.write_text(_released_document(document.read_text(), job_path))


def _released_document(text: str, job_path: str) -> str:
    """The document as released: no machine paths, and not the mark of an import (`released`), so that a
    job imported from a release and exported back is the same file."""
    folder = os.path.realpath(job_path)
    for prefix in {f"{job_path}/", f"{folder}/"}:
        text = text.replace(prefix, "")
    doc = json.loads(text)
    return json.dumps({k: v for k, v in doc.items() if k != "released"}) if "released" in doc else text


def export(job_list, target, name: str | None = None, description: str = "") -> dict:
    """Export every ended job of `job_list` that is new or changed since the last export into the
    release folder `target`; write release.json (provenance, counts). Returns release.json's content."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for job in job_list:
        if not ended(job.document()):
            continue
        stored = target / JOBS / job.id / "signac_job_document.json"
        if stored.is_file() and json.loads(stored.read_text()) == json.loads(_released_document(
                Path(job.fn("signac_job_document.json")).read_text(), job.path)):
            continue  # unchanged since the last export (every later stage writes the document)
        export_job(job, target)
    return write_summary(target, name or target.name, description)


def write_summary(target, name: str, description: str = "") -> dict:
    """release.json from the released jobs' documents: counts (drawn, liquids, trusted, failed by stage),
    the provenance the jobs recorded (commits, LAMMPS versions, machines, presets) and the wall time."""
    from .aggregate import missing_flags
    target = Path(target)
    def read(name):  # not the dot-folders an export in progress, or a killed one, leaves
        return {p.parent.name: json.loads(p.read_text()) for p in sorted((target / JOBS).glob(f"*/{name}"))
                if not p.parent.name.startswith(".")}
    docs, sps = read("signac_job_document.json"), read("signac_statepoint.json")
    prov = [d.get("provenance", {}) for d in docs.values()]
    failed = [d for d in docs.values() if d.get("failed")]
    finished = [d for d in docs.values() if "alpha" in d and not d.get("failed")]
    trusted = [d for d in finished if not missing_flags(d)]
    summary = {
        "name": name, "description": description,
        "jobs": len(docs),
        "drawn": sum(1 for d in docs.values() if d.get("draw") in ("random", "suggested")),
        "by_draw": {k: sum(1 for d in docs.values() if d.get("draw", "other") == k)
                    for k in sorted({d.get("draw", "other") for d in docs.values()})},
        "liquids": len(finished) + sum(1 for d in failed if liquid(d)),
        "finished": len(finished), "trusted": len(trusted),
        "failed_by_stage": {s: sum(1 for d in failed if d.get("failed_stage") == s)
                            for s in sorted({d.get("failed_stage", "?") for d in failed})},
        "presets": sorted({sp.get("preset", "demo") for sp in sps.values()}),
        # jobs per AA integrator (aa.integrator): one protocol, or the release says which jobs differ
        "aa_integrators": dict(sorted(collections.Counter(d.get("aa_integrator", "unrecorded")
                                                          for d in docs.values()).items())),
        "commits": sorted({p["commit"] for p in prov if "commit" in p}),
        "lammps": sorted({p["lammps"] for p in prov if "lammps" in p}),
        "machines": sorted({p["machine"] for p in prov if "machine" in p}),
        "wall_hours": round(sum(sum(d.get("wall_s", {}).values()) for d in docs.values()) / 3600, 2),
        "files_per_job": list(JOB_FILES) + [f"{cg.IBI_DIR}/iteration_<final>.npz"],
        "units": "Å, fs, kcal/mol, atm, K; D in 1e-9 m²/s; viscosity in mPa·s; density in g/cm³",
    }
    files.write_json(target / RELEASE_JSON, summary)
    return summary


def write_plan(job_list, target) -> int:
    """plan.json in the release folder `target`: id, statepoint and draw record (INIT_KEYS) of every job of
    `job_list` whose pipeline has not ended, in id order; none left: no plan.json. Returns how many."""
    plan = []
    for job in sorted(job_list, key=lambda j: j.id):
        if not ended(doc := job.document()):
            plan.append({"id": job.id, "statepoint": job.statepoint(),
                         "document": {k: doc[k] for k in INIT_KEYS if k in doc}})
    path = Path(target) / PLAN
    if plan:
        files.write_json(path, {"pending": plan})
    else:
        path.unlink(missing_ok=True)
    return len(plan)


def import_plan(project, source) -> list[str]:
    """The jobs that the release folder `source`'s plan.json names and `project` lacks, created with their
    draw record (a campaign resumed on a new machine); ReleaseError when an id does not match its
    statepoint. Returns the ids created."""
    path = Path(source) / PLAN
    if not path.is_file():
        return []
    try:
        plan = json.loads(path.read_text())["pending"]
    except (OSError, ValueError, KeyError) as exc:
        raise ReleaseError(f"{path}: unreadable plan ({exc})") from None
    created = []
    for entry in plan:
        job = project.open_job(entry["statepoint"])
        if job.id != entry["id"]:
            raise ReleaseError(f"{path}: the statepoint of job {entry['id']} is job {job.id} (edited by hand?)")
        if job not in project:
            job.init()
            job.doc.update({k: v for k, v in entry["document"].items() if k in INIT_KEYS})
            created.append(job.id)
    return created


def import_release(project, source, progress=print) -> list[str]:
    """Bring the release folder `source` into `project`: each jobs/<id>/ becomes the job its statepoint
    names (ReleaseError when the id does not match: the folder was edited), its files copied, the
    potential tables written from IBI's final iteration, job.doc.released = the release's name.
    Jobs already in the project are left alone. Returns the ids imported. (The plan's jobs not yet
    ended are not created: import_plan does that, for the campaign.)"""
    source = Path(source)
    if not (source / JOBS).is_dir():
        raise ReleaseError(f"{source}: not a data release (no {JOBS}/ folder; see mobcg.release)")
    name = json.loads((source / RELEASE_JSON).read_text()).get("name", source.name) \
        if (source / RELEASE_JSON).is_file() else source.name
    imported = []
    for folder in sorted(p for p in (source / JOBS).iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            sp = json.loads((folder / "signac_statepoint.json").read_text())
        except (OSError, ValueError) as exc:
            raise ReleaseError(f"{folder}: unreadable statepoint ({exc})") from None
        job = project.open_job(sp)
        if job.id != folder.name:
            raise ReleaseError(f"{folder}: its statepoint is job {job.id}, not {folder.name} (edited by hand?)")
        if job in project:
            continue
        Path(job.path).parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{job.id}.", suffix=".tmp", dir=Path(job.path).parent))
        try:
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            _write_tables(staging)
            doc = json.loads((staging / "signac_job_document.json").read_text())  # its order kept, as signac's
            files.write_text(staging / "signac_job_document.json", json.dumps(doc | {"released": name}))
            os.replace(staging, job.path)  # the job appears whole, or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        imported.append(job.id)
    if (source / MEASURES).is_dir():  # the report's campaign section (report.CAMPAIGN_DIR)
        shutil.copytree(source / MEASURES, Path(project.path) / "analysis" / "campaign", dirs_exist_ok=True)
    if progress:
        progress(f"{source}: imported {len(imported)} job(s) into {project.path}")
    return imported


def _write_tables(folder: Path) -> None:
    """cg_potential.{table,xvg,csv} from IBI's final iteration, as cg.run_ibi exported them."""
    doc = json.loads((folder / "signac_job_document.json").read_text())
    final = doc.get("ibi_final_iteration")
    if final is None or "ibi_r_cut" not in doc:
        return  # the job ended before IBI
    path = folder / cg.IBI_DIR / f"iteration_{int(final):03d}.npz"
    try:
        it = ibi.read_iteration(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ReleaseError(f"{path}: IBI's final iteration is missing or unreadable ({exc})") from None
    table = cg.potential_table(it.r, it.U, float(doc["ibi_r_cut"]), grid=tables.PAPER_GRID, whole=True)
    tables.export_all(table, folder, cg.POTENTIAL)
