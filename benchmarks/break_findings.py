#!/usr/bin/env python
"""Issue 14 ("Tests that bite"): each described break, made in a copy of the checkout, must turn the
default test suite red. This script makes each break and runs the tests that should catch it.

    python benchmarks/break_findings.py                 # every break, one after the other
    python benchmarks/break_findings.py --list          # names, what each break does, its tests
    python benchmarks/break_findings.py --only locks-predict --only mass-x4-bead
    python benchmarks/break_findings.py --baseline      # the same tests on the unbroken copy (all green)

A break is one or more exact source replacements (old -> new string; the old string must occur exactly
once in its file, so the script fails loudly when the code drifts). For each break: the tracked files
(`git ls-files`, as they are in the working tree) are copied into a temporary folder, the replacements
are made there, and `python -m pytest -q -x -p no:cacheprovider <tests>` runs in the copy with
PYTHONPATH pointing at the copy (the original checkout is never touched). The selected tests are
tests of the default suite (pyproject's `-m 'not slow'` stays in force: a selected test marked slow is
reported as an error, not silently skipped). Prints `break | test(s) run | result | caught by` as a
Markdown table; exits 1 when any break stays green (or its run errs), 0 when every break is caught.

The aggregate breaks run a tiny 4-job pipeline (real LAMMPS) or train the model ensembles, the barostat
break an AA equilibration; the whole run took 2.5-5 min on the shared 2-core machine (benchmarks/README.md).
`--jobs 2` runs two breaks at a time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Break:
    name: str
    issue: str  # the issue's item: "1a", "7c", ...
    what: str
    edits: tuple[tuple[str, str, str], ...]  # (file relative to the repository, old, new)
    tests: tuple[str, ...]  # pytest node ids that should catch it


AGG = "tests/test_aggregate.py::"
DASH = "tests/test_dashboard.py::"
README = "tests/test_readme_features.py::"
CONC = "tests/test_concurrency.py::"
NPT_LINE = ("fix             ensemble all npt temp {{ temperature }} {{ temperature }} {{ 100 * timestep }} "
            "iso {{ pressure }} {{ pressure }} {{ 1000 * timestep }}")
NVT_LINE = "fix             ensemble all nvt temp {{ temperature }} {{ temperature }} {{ 100 * timestep }}"

BREAKS: tuple[Break, ...] = (
    # 1. aggregates
    Break("datasets-wrong-potentials", "1a",
          "datasets.npz: row i's potential U is job i+1's (parameter sets paired with the wrong jobs' potentials)",
          (("mobcg/aggregate.py", "    ids = [j.id for j in job_list]\n    # molecule descriptors",
            "    U = U[1:] + U[:1]  # BREAK\n    ids = [j.id for j in job_list]\n    # molecule descriptors"),),
          (AGG + "test_datasets_pair_each_parameter_set_with_its_own_potential_and_rdfs",)),
    Break("mobility-pairs-reversed", "1a",
          "mobility model trained on the pairs reversed: CG model j's parameters -> AA system i's potential "
          "(instead of AA system i's parameters -> the potential of the CG model j that preserves its mobility)",
          (("mobcg/aggregate.py", "Xp, Up = X_all[pairs[:, 0]], data[\"U\"][pairs[:, 1]]",
            "Xp, Up = X_all[pairs[:, 1]], data[\"U\"][pairs[:, 0]]  # BREAK"),),
          (AGG + "test_mobility_model_trains_on_pairs_and_predicts_a_table",)),
    Break("datasets-rdfs-swapped", "1b",
          "datasets.npz: the AA and CG RDFs swapped (rdf_aa holds the CG run's, rdf_cg the AA target)",
          (("mobcg/aggregate.py",
            "aa_rdf, cg_rdf = jobs.load_columns(j.fn(\"rdf_aa.txt\")), jobs.load_columns(j.fn(cg.RDF))",
            "cg_rdf, aa_rdf = jobs.load_columns(j.fn(\"rdf_aa.txt\")), jobs.load_columns(j.fn(cg.RDF))"),),
          (AGG + "test_datasets_pair_each_parameter_set_with_its_own_potential_and_rdfs",)),
    Break("validate-writes-constants", "1c",
          "validate (validate_prediction) never simulates: it records fixed, plausible numbers",
          (("mobcg/aggregate.py",
            "    results = {}\n    for kind in (\"structure\", \"mobility\"):",
            "    results = {\"rdf_r2_structure\": 0.95, \"alpha_pred_structure\": 6.0,  # BREAK\n"
            "               \"D_CG_pred_structure\": 6.0 * float(job.doc[\"D_AA\"])}\n"
            "    for kind in ():"),),
          (AGG + "test_validation_simulates_and_scores_the_exact_potential_high_and_a_wrong_one_low",)),
    Break("predict-other-model", "1d",
          "predict reports another model's output (alpha from the D_CG model, D_CG from D_AA's, D_AA from alpha's)",
          (("mobcg/aggregate.py",
            "model, _ = _models().load(directory / \"models\" / f\"{target}.joblib\")",
            "model, _ = _models().load(directory / \"models\" / "
            "f\"{dict(alpha='D_CG', D_CG='D_AA', D_AA='alpha')[target]}.joblib\")  # BREAK"),),
          (AGG + "test_predict_on_a_training_point_returns_its_values_within_the_stated_error",)),
    # 2. AA stage
    Break("aa-no-barostat", "2",
          "AA equilibration and production at constant volume: Nose-Hoover NVT instead of NPT everywhere",
          (("mobcg/lammps/templates/aa_equilibrate.in", NPT_LINE, NVT_LINE),
           ("mobcg/lammps/templates/aa_production.in", NPT_LINE, NVT_LINE)),
          ("tests/test_equilibrium.py::test_short_equilibration_is_extended_until_the_density_settles",)),
    # 3. CG stage
    Break("mass-x4-bead", "3",
          "CG beads four times too heavy: cg.bead_mass returns 4 x the molar mass",
          (("mobcg/cg.py", "    return molar_mass(jobs.molecule(job))",
            "    return 4 * molar_mass(jobs.molecule(job))  # BREAK"),),
          ("tests/test_cg_dynamics.py::test_a_bead_weighs_one_molecule",)),
    Break("mass-x4-datafile", "3",
          "CG beads four times too heavy: the CG data file's Masses line is 4 x the mass given",
          (("mobcg/lammps/data.py", "\"Masses\", \"\", f\"1 {mass:.4f}\"",
            "\"Masses\", \"\", f\"1 {4 * mass:.4f}\""),),
          ("tests/test_cg_dynamics.py::test_a_bead_weighs_one_molecule",
           "tests/test_cg_dynamics.py::test_lennard_jones_diffusion_matches_meier_2004")),
    # 4. MPI
    Break("mpi-command-raises", "4a",
          "lammps.command raises for more than one rank",
          (("mobcg/lammps/__init__.py", "    argv = lmp_command()\n    if np_ > 1:\n",
            "    argv = lmp_command()\n    if np_ > 1:\n"
            "        raise LammpsNotFound(f\"{np_} ranks: not supported\")  # BREAK\n"),),
          ("tests/test_mpi.py::test_two_ranks_through_the_wheels_mpirun",)),
    Break("mpi-mpirun-ignored", "4b",
          "MOBCG_MPIRUN ignored: always the wheel's mpirun",
          (("mobcg/lammps/__init__.py",
            "mpirun = os.environ.get(\"MOBCG_MPIRUN\") or _beside_python(\"mpirun\")",
            "mpirun = _beside_python(\"mpirun\")  # BREAK"),),
          ("tests/test_mpi.py::test_mobcg_mpirun_is_honoured",)),
    Break("mpi-np-ignored", "4",
          "lammps.run ignores its rank count: every run on one rank (not in the issue's list)",
          (("mobcg/lammps/__init__.py", "    argv = command(np)\n", "    argv = command(1)  # BREAK\n"),),
          ("tests/test_mpi.py::test_two_ranks_through_the_wheels_mpirun",)),
    # 5. dashboard
    Break("dashboard-results-two", "5a",
          "job page: the Results card cut to its first two quantities",
          (("mobcg/dashboard_modules.py", "    for label, key, err_key, unit in JOB_QUANTITIES:",
            "    for label, key, err_key, unit in JOB_QUANTITIES[:2]:  # BREAK"),),
          (DASH + "test_job_page_shows_each_value_formatted_with_its_unit_and_error",)),
    Break("dashboard-counts-zero", "5b",
          "project page: every operation count (completed, eligible, not eligible) zero",
          (("mobcg/dashboard_modules.py",
            "return [(name, c[\"completed\"], c[\"eligible\"], c[\"not eligible\"], scope)",
            "return [(name, 0, 0, 0, scope)  # BREAK"),),
          (DASH + "test_project_page_counts_operations_of_a_project_in_a_known_state",)),
    Break("dashboard-report-empty", "5c",
          "project page: the report card shows nothing of analysis/report.md",
          (("mobcg/dashboard_modules.py",
            "return WIDE_CARD + markdown_html(md, image_url or (lambda name: \"analysis/\" + name))",
            "return WIDE_CARD  # BREAK"),),
          (DASH + "test_project_page_shows_the_reports_text",)),
    # 6. packing
    Break("pack-overlapping", "6",
          "molecule.pack places the molecules' centres 0.026 Å apart (overlapping) in a box of the right size",
          (("mobcg/molecule.py", "(xyz @ _random_rotation(rng).T) + (site + 0.5) * spacing for site in sites",
            "(xyz @ _random_rotation(rng).T) + (site + 0.5) * 0.026 for site in sites"),),
          ("tests/test_molecule_forcefield.py::test_pack_keeps_molecules_2_5_angstrom_apart",)),
    # 7. locks, each removed on its own
    Break("locks-train-models", "7a",
          "train_models without analysis/.lock",
          (("mobcg/aggregate.py",
            "    with files.locked(directory):\n        files.sweep_temporaries(directory)\n"
            "        return _train_models(directory)",
            "    if True:  # BREAK\n        files.sweep_temporaries(directory)\n"
            "        return _train_models(directory)"),),
          (CONC + "test_train_models_and_write_report_wait_for_any_holder_of_the_lock",)),
    Break("locks-write-report", "7b",
          "write_report (report.write) without analysis/.lock",
          (("mobcg/report.py", "    with files.locked(directory):\n        return _write(job_list, directory)",
            "    if True:  # BREAK\n        return _write(job_list, directory)"),),
          (CONC + "test_train_models_and_write_report_wait_for_any_holder_of_the_lock",)),
    Break("locks-predict", "7c",
          "predict without the shared lock",
          (("mobcg/aggregate.py",
            "    with files.locked(directory, shared=True):  # models of one generation, not half old, half new",
            "    if True:  # BREAK"),),
          (CONC + "test_predict_and_validation_wait_for_a_writer",)),
    Break("locks-validate", "7d",
          "validate_prediction (aggregate.validate) loads the models without the shared lock",
          (("mobcg/aggregate.py",
            "        with files.locked(directory, shared=True):\n            model, meta = _models().load(path)",
            "        if True:  # BREAK\n            model, meta = _models().load(path)"),),
          (CONC + "test_predict_and_validation_wait_for_a_writer",)),
    Break("locks-build-datasets", "7",
          "build_datasets without analysis/.lock (not in the issue's list; its lock was the first one)",
          (("mobcg/aggregate.py", "    with files.locked(directory):\n        files.sweep_temporaries(directory)  # what",
            "    if True:  # BREAK\n        files.sweep_temporaries(directory)  # what"),),
          (CONC + "test_build_datasets_waits_for_any_holder_of_the_lock",)),
    # 8. README features that had no test
    Break("readme-run-parallel", "8a",
          "`project.py run --parallel` does nothing (and exits 0)",
          (("project.py", "    try:\n        Project().main()",
            "    if \"--parallel\" in sys.argv:  # BREAK\n        return\n    try:\n        Project().main()"),),
          (README + "test_run_parallel_runs_what_is_eligible",)),
    Break("readme-dashboard-options", "8b",
          "`dashboard.py run --host H --port P`: the options ignored (signac-dashboard's defaults)",
          (("dashboard.py", "if __name__ == \"__main__\":\n    make_dashboard().main()",
            "if __name__ == \"__main__\":\n    sys.argv[2:] = []  # BREAK\n    make_dashboard().main()"),),
          (README + "test_dashboard_run_with_host_and_port",)),
    Break("readme-init-holdout", "8c",
          "`init.py --holdout F`: no random set held out",
          (("mobcg/init.py", "    n_holdout = int(round(args.holdout * n))\n    todo = [",
            "    n_holdout = 0  # BREAK\n    todo = ["),),
          (README + "test_init_holdout_and_box",)),
    Break("readme-init-box", "8d",
          "`init.py --box FILE`: read and checked, but the sets drawn from the published box",
          (("mobcg/init.py", "    drawn = sample(n, args.seed, box)",
            "    drawn = sample(n, args.seed, dict(SAMPLING_BOX))  # BREAK"),),
          (README + "test_init_holdout_and_box",)),
    Break("readme-ibi-label", "8e",
          "`project.py status`: no IBI progress label while IBI runs",
          (("mobcg/summary.py", "    if \"ibi_iteration\" in doc:\n        return f\"ibi {doc['ibi_iteration']}",
            "    if False:  # BREAK\n        return f\"ibi {doc['ibi_iteration']}"),),
          (README + "test_status_shows_the_ibi_progress_label",)),
    Break("readme-demo-not-default", "8f",
          "`init.py` without --preset: the tiny preset instead of demo",
          (("mobcg/init.py", "parser.add_argument(\"--preset\", default=\"demo\"",
            "parser.add_argument(\"--preset\", default=\"tiny\""),),
          (README + "test_demo_preset_is_the_default_and_as_the_readme_says",)),
    Break("readme-demo-ns-runs", "8f",
          "demo preset: CG production of 200 ns instead of 200 ps (no longer minutes)",
          (("mobcg/presets.py",
            "\"cg\": {\"equilibrate_ps\": 20.0, \"production_ps\": 200.0, \"production_max_ps\": 800.0",
            "\"cg\": {\"equilibrate_ps\": 20.0, \"production_ps\": 200000.0, \"production_max_ps\": 800.0"),),
          (README + "test_demo_preset_is_the_default_and_as_the_readme_says",)),
)


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def copy_checkout(dest: Path) -> None:
    """The tracked files as they are in the working tree (a file deleted there is left out)."""
    for rel in tracked_files():
        src = REPO / rel
        if not src.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)


def apply(root: Path, brk: Break) -> None:
    for rel, old, new in brk.edits:
        path = root / rel
        text = path.read_text()
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"break {brk.name}: {rel}: the string to replace occurs {count} times, not once "
                             f"(the code moved on; update this break):\n{old}")
        path.write_text(text.replace(old, new))


FIRST_FAILURE = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)


def run_tests(root: Path, tests, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("MOBCG_MPIRUN", None), env.pop("MOBCG_LMP", None)
    started = time.monotonic()
    # the copy's mobcg, not an installed or PYTHONPATH one
    where = subprocess.run([sys.executable, "-c", "import mobcg.aggregate; print(mobcg.aggregate.__file__)"], cwd=root, env=env,
                           capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(root)):
        return {"result": "error", "caught_by": f"imports mobcg from {where}, not the copy", "seconds": 0.0,
                "output": ""}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-n", "0", *tests]
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        output, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return {"result": "error", "caught_by": f"timed out after {timeout:.0f} s", "output": output,
                "seconds": time.monotonic() - started}
    seconds = time.monotonic() - started
    tail = output.strip().splitlines()[-1] if output.strip() else ""
    if "deselected" in tail:  # a selected test is not in the default suite (marked slow)
        return {"result": "error", "caught_by": f"not in the default suite: {tail}", "output": output,
                "seconds": seconds}
    if rc == 0:
        return {"result": "green", "caught_by": "-", "output": output, "seconds": seconds}
    if rc == 1:
        found = FIRST_FAILURE.search(output)
        if not found:
            return {"result": "red", "caught_by": "?", "why": "", "output": output, "seconds": seconds}
        # FAILED: an assertion of the test; ERROR: its fixture (set-up) failed. Why: pytest's first "E" line
        first_e = re.search(r"^E\s+(\S.*)$", output, re.M)
        why = ("" if found.group(1) == "FAILED" else "set-up error: ") + \
            (first_e.group(1) if first_e else (found.group(3) or "")).strip()
        why = why if len(why) <= 100 else why[:99] + "…"
        return {"result": "red", "caught_by": found.group(2), "why": why, "output": output, "seconds": seconds}
    return {"result": "error", "caught_by": f"pytest exit status {rc}: {tail}", "output": output, "seconds": seconds}


def run_break(brk: Break | None, tests, timeout: float, keep: bool) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"break_{brk.name if brk else 'baseline'}_"))
    try:
        copy_checkout(root)
        if brk is not None:
            apply(root, brk)
        out = run_tests(root, tests, timeout)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    out["copy"] = str(root)
    return out


def short(node: str) -> str:
    return node.removeprefix("tests/")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run this break only (repeatable; a prefix such as 'locks-' selects a group)")
    parser.add_argument("--list", action="store_true", help="list the breaks and their tests, run nothing")
    parser.add_argument("--check", action="store_true", help="check that every edit applies, run nothing")
    parser.add_argument("--baseline", action="store_true",
                        help="run every selected break's tests on the unbroken copy instead (expect all green)")
    parser.add_argument("--jobs", type=int, default=1, help="breaks run at a time (default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per break's pytest (default 3600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies (paths printed)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each red run's pytest output tail")
    args = parser.parse_args(argv)

    chosen = [b for b in BREAKS if not args.only or any(b.name == o or (o.endswith("-") and b.name.startswith(o))
                                                          for o in args.only)]
    unknown = [o for o in args.only if not any(b.name == o or (o.endswith("-") and b.name.startswith(o))
                                               for b in BREAKS)]
    if unknown:
        parser.error(f"unknown break(s) {', '.join(unknown)}; --list names them")
    if args.list:
        for b in chosen:
            print(f"{b.name} (issue 14, {b.issue}): {b.what}")
            for rel, _, _ in b.edits:
                print(f"    edits {rel}")
            for t in b.tests:
                print(f"    test  {t}")
        return 0
    # every edit must apply before anything runs
    for b in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            for rel, _, _ in b.edits:
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, Path(tmp) / rel)
            apply(Path(tmp), b)
    if args.check:
        print(f"all edits of {len(chosen)} break(s) apply")
        return 0

    started = time.monotonic()
    if args.baseline:
        tests = list(dict.fromkeys(t for b in chosen for t in b.tests))
        out = run_break(None, tests, args.timeout * 4, args.keep)
        print(out["output"][-3000:])
        print(f"baseline ({len(tests)} test ids, unbroken copy): {out['result']} in {out['seconds']:.0f} s")
        return 0 if out["result"] == "green" else 1

    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_break, b, b.tests, args.timeout, args.keep): b for b in chosen}
        for future in concurrent.futures.as_completed(futures):
            b = futures[future]
            results[b.name] = out = future.result()
            print(f"# {b.name}: {out['result']} ({out['caught_by']} {out.get('why', '')}) in {out['seconds']:.0f} s"
                  + (f"; copy {out['copy']}" if args.keep else ""), flush=True)
            if out["result"] != "red" or args.verbose:
                print("\n".join("#   " + line for line in out["output"].strip().splitlines()[-25:]), flush=True)

    print()
    print("| break | issue | test(s) run | result | caught by | first failure | s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for b in chosen:
        out = results[b.name]
        print(f"| {b.name} | {b.issue} | {'<br>'.join(short(t) for t in b.tests)} | {out['result']} | "
              f"{short(out['caught_by'])} | {out.get('why', '').replace('|', '/')} | {out['seconds']:.0f} |")
    missed = [b.name for b in chosen if results[b.name]["result"] != "red"]
    print(f"\n{len(chosen) - len(missed)}/{len(chosen)} breaks caught in {time.monotonic() - started:.0f} s"
          + (f"; NOT caught: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
