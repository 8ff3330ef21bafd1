#!/usr/bin/env python
"""The default test suite under load (issue 24.4): `--suites` copies of it side by side, `--rounds` rounds
in a row; every run must pass. Each suite keeps its own pytest temporary folder (--basetemp), so none
cleans up another's. Prints each run's result and wall time, the load average seen, and exits 1 on any
failure. Three suites of two xdist workers each keep six test processes (and their LAMMPS runs) on the
machine: a load above 4 on 2 cores.

    python benchmarks/suite_under_load.py                  # 3 suites side by side, 3 rounds
    python benchmarks/suite_under_load.py --suites 3 --rounds 1 -- -k friction
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="suite_load_") as tmp:
        for round_ in range(args.rounds):
            started, procs, peak = time.monotonic(), [], 0.0
            for k in range(args.suites):
                log = open(Path(tmp) / f"round{round_}_suite{k}.log", "w")
                procs.append((subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                                "--basetemp", str(Path(tmp) / f"r{round_}s{k}"), *args.pytest_args],
                                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT), log, started))
            done = {}
            while len(done) < len(procs):
                peak = max(peak, os.getloadavg()[0])
                for k, (proc, log, t0) in enumerate(procs):
                    if k not in done and proc.poll() is not None:
                        done[k] = (proc.returncode, time.monotonic() - t0)
                        log.close()
                time.sleep(2)
            for k, (rc, wall) in sorted(done.items()):
                tail = (Path(tmp) / f"round{round_}_suite{k}.log").read_text().strip().splitlines()[-1]
                print(f"round {round_ + 1} suite {k + 1}: {'green' if rc == 0 else 'RED'} in {wall / 60:.1f} min "
                      f"({tail})", flush=True)
                if rc != 0:
                    failed += 1
                    print((Path(tmp) / f"round{round_}_suite{k}.log").read_text()[-5000:])
            print(f"round {round_ + 1}: 1-minute load average up to {peak:.1f} on {os.cpu_count()} cores", flush=True)
    print(f"{args.rounds * args.suites - failed} of {args.rounds * args.suites} suite runs green")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
