#!/usr/bin/env python
"""`python project.py status` time at 1 000 and 10 000 jobs (fresh jobs from init.py, nothing run).

Prints both times and the scaling ratio t(10k) / (10 × t(1k)) (1.0 = linear; target: a few seconds
at 10k). Baseline in the same run: `signac find` over the same project (pure data-space cost).

    python benchmarks/status_scaling.py [--sizes 1000 10000]
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


CPU = {}  # command -> CPU seconds (user + sys) of its last run: on a shared machine wall time also
           # measures the other users' load, CPU time only this program


def timed(cmd, cwd):
    env = dict(os.environ, SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment", PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[cmd[-1]] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    results = {}
    for n in args.sizes:
        root = Path(tempfile.mkdtemp(prefix=f"mobcg-status-{n}-"))
        for name in ("project.py", "init.py"):
            shutil.copy(REPO / name, root)
        t_init = timed([sys.executable, "init.py", "--n", str(n), "--preset", "demo"], root)
        t_status = timed([sys.executable, "project.py", "status"], root)
        t_status2 = timed([sys.executable, "project.py", "status"], root)  # warm caches
        cpu = CPU["status"]
        t_find = timed([str(Path(sys.executable).parent / "signac"), "find", '{"preset": "demo"}'], root)
        results[n] = min(t_status, t_status2)
        print(f"{n:6d} jobs: init {t_init:.1f} s, status {t_status:.2f} s (again {t_status2:.2f} s, "
              f"CPU {cpu:.2f} s), signac find {t_find:.2f} s, status/find = {results[n] / t_find:.2f}, "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        shutil.rmtree(root)
    if len(results) == 2:
        (a, ta), (b, tb) = sorted(results.items())
        print(f"scaling t({b}) / ({b // a} x t({a})) = {tb / (b / a * ta):.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
