"""The AA barostat: NPT started from a box 13 % too dense or 13 % too dilute returns to the liquid's
density, and the mean pressure is the target within its error (slow: two 20 ps runs of 702 atoms).

Through the project's own seam: `init.py` + `project.py run -o build_aa equilibrate_aa` (tiny preset)
render and run the project's equilibration input; this test takes that rendered input's set-up (force
field, time step) and its own NPT fix line, reads the equilibrated restart, rescales the box and runs
that NPT. No preset internals: only the job folder's files. A barostat removed or broken in the
project's template leaves the box at the rescaled density.

Outside numbers: 2,3,4-trimethylpentane at 298 K, 1 atm: 0.719 g/cm³ (experiment, CRC Handbook);
OPLS-AA 0.728 (README, 64 and 125 molecules, measured) and 0.735 (published).
Tolerances: density within 5 % of 0.728 over the last 8 ps (a 27-molecule box fluctuates by 1-2 %), both
starts within 4 % of each other; mean pressure within 3 block errors + 50 atm of the fix's target.
Measured (2026-11-26, 8 Å cut-off of the tiny preset): from 0.823 -> 0.706 g/cm³, P = -31 ± 51 atm;
from 0.633 -> 0.716 g/cm³, P = 12 ± 45 atm (43 min on a 2-core machine loaded ×8; minutes when idle).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import signac

from mobcg import lammps

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.728  # g/cm³, OPLS-AA reference (README); experiment 0.719
AVOGADRO = 6.02214076e23
M_TMP = 114.232


def _npt_input(job_dir: Path, work: Path, density: float) -> tuple[Path, float]:
    text = (job_dir / "equilibrate_aa.0.in").read_text()
    setup = []
    for line in text.splitlines():
        if line.startswith("minimize"):
            break
        if line.startswith("read_data"):
            line = f"read_restart    {job_dir / 'aa_equilibrated.restart'}"
        setup.append(line)
    npt = [l for l in text.splitlines() if re.match(r"^fix\s+\S+\s+all\s+npt\s", l)]
    assert npt, "the project's equilibration has no NPT fix"
    target_p = float(npt[-1].split(" iso ")[1].split()[0])
    n_molecules = json.loads((job_dir / "signac_job_document.json").read_text()).get("n_molecules", 27)
    length = (n_molecules * M_TMP / AVOGADRO / density * 1e24) ** (1 / 3)
    work.mkdir()
    path = work / "in.npt"
    path.write_text("\n".join(setup + [
        f"change_box all x final 0 {length:.6f} y final 0 {length:.6f} z final 0 {length:.6f} remap",
        npt[-1], "thermo_style custom step temp press density", "thermo 10", "run 20000", ""]))
    return path, target_p


@pytest.mark.slow
def test_npt_returns_to_the_liquid_density_from_a_compressed_and_an_expanded_box(tmp_path):
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, tmp_path / name)
    env = dict(os.environ, PYTHONPATH=str(REPO), SIGNAC_FLOW_ENVIRONMENT="StandardEnvironment")
    for args in (["init.py", "--n", "0", "--preset", "tiny"], ["project.py", "run", "-o", "build_aa", "equilibrate_aa"]):
        proc = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    (job,) = signac.get_project(tmp_path)
    results = {}
    for name, factor in (("compressed", 1.13), ("expanded", 0.87)):
        script, target_p = _npt_input(Path(job.path), tmp_path / name, TARGET * factor)
        block = lammps.parse_log(lammps.run(script))[-1]
        density, pressure = block["Density"], block["Press"]
        assert density[0] == pytest.approx(TARGET * factor, rel=0.01)  # it did start off
        late = len(density) * 3 // 5  # the last 8 of 20 ps
        blocks = np.array([b.mean() for b in np.array_split(pressure[late:], 8)])
        results[name] = (density[late:].mean(), pressure[late:].mean(), blocks.std(ddof=1) / math.sqrt(8))
        print(name, results[name])
    for name, (rho, p, p_err) in results.items():
        assert rho == pytest.approx(TARGET, rel=0.05), name  # back within 5 % (from 13 % off)
        assert abs(p - target_p) < 3 * p_err + 50.0, name  # atm
    assert results["compressed"][0] == pytest.approx(results["expanded"][0], rel=0.04)
