#!/usr/bin/env bash
# Mutation score per module (issue 14): how many of mutmut's mutants of each fast module the tests kill.
# On demand, not in CI:  pip install -e '.[mutation]'  then  bash benchmarks/mutation_score.sh [module ...]
# (default: ibi analysis tables forcefield datasets models files jobs). Works in a temporary copy of the
# checkout; prints "module killed/total percent survived" and the survivors' names (judge which are
# equivalent mutants with `mutmut show NAME` in the copy, whose path is printed). Goal: >= 80 % killed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
modules=${*:-ibi analysis tables forcefield datasets models files jobs}
jobs_=${MUTMUT_CHILDREN:-2}

# The tests that reach each module in-process (mutmut maps tests to functions while they run; code reached
# through project.py/init.py subprocesses counts as "no tests", and under mutmut such a subprocess fails:
# tests/test_bad_input.py's init.py runs abort the stats run, "failed to collect stats"). No LAMMPS runs:
# tests/test_*_checks.py and the named synthetic tests take seconds.
declare -A tests=(
  [ibi]="tests/test_ibi.py tests/test_ibi_newton.py tests/test_ibi_checks.py tests/test_ibi_stall.py"
  [analysis]="tests/test_analysis.py tests/test_analysis_checks.py tests/test_ibi_newton.py::test_imc_jacobian_of_an_ideal_gas_is_minus_beta_on_the_diagonal tests/test_ibi_newton.py::test_target_noise_normalises_each_half_by_its_own_volumes tests/test_equilibrium.py::test_density_settled_passes_stationary_noise_and_names_a_relaxation tests/test_equilibrium.py::test_diffusion_window_starts_where_the_msd_is_diffusive tests/test_equilibrium.py::test_short_or_ballistic_msd_is_flagged_not_diffusive"
  [tables]="tests/test_tables.py tests/test_tables_checks.py"
  [forcefield]="tests/test_molecule_forcefield.py tests/test_forcefield_checks.py"
  [datasets]="tests/test_datasets_models.py tests/test_datasets_checks.py"
  [models]="tests/test_datasets_models.py tests/test_models_checks.py"
  [files]="tests/test_files.py tests/test_jobs.py"
  [jobs]="tests/test_jobs.py tests/test_status_cache.py"
)

printf '%-11s %9s %7s %6s  %s\n' module killed/all percent time survivors
for module in $modules; do
  work=$(mktemp -d "/tmp/mutation_${module}_XXXX")
  (cd "$here" && git ls-files -z | xargs -0 tar -cf - --) | tar -xf - -C "$work"
  selection=$(printf '"%s", ' ${tests[$module]:-tests})
  cat >> "$work/pyproject.toml" <<TOML

[tool.mutmut]
source_paths = ["mobcg/"]
only_mutate = ["mobcg/${module}.py"]
also_copy = ["project.py", "init.py", "dashboard.py", "templates/", "mobcg/lammps/templates/", "mobcg/reference/"]
pytest_add_cli_args_test_selection = [${selection%, }]
pytest_add_cli_args = ["-q", "-x", "-p", "no:cacheprovider", "-n", "0"]
TOML
  start=$SECONDS
  (cd "$work" && "$python" -m mutmut run --max-children "$jobs_" >"$work/mutmut.log" 2>&1) || true
  (cd "$work" && "$python" -m mutmut results --all true >"$work/results.txt" 2>&1) || true
  "$python" - "$module" "$work" "$((SECONDS - start))" <<'PY'
import re, sys
from collections import Counter
module, work, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
status = dict(re.findall(r"^\s*(\S+__mutmut_\d+): (.+?)\s*$", open(f"{work}/results.txt").read(), re.M))
count = Counter(status.values())
total = len(status)
killed = count.get("killed", 0) + count.get("timeout", 0)
survivors = sorted(k for k, v in status.items() if v not in ("killed", "timeout"))
pct = 100 * killed / total if total else float("nan")
print(f"{module:<11} {killed:>4}/{total:<4} {pct:6.1f} % {seconds:>4} s  {len(survivors)} not killed "
      f"({', '.join(f'{k}: {v}' for k, v in count.items() if k not in ('killed', 'timeout')) or '-'}); copy: {work}")
for name in survivors:
    print(f"    {name}: {status[name]}")
PY
done
