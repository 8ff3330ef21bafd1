"""The data space and the AA stage through the user's commands: init.py, project.py, signac find."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import signac

from mobcg import forcefield

REPO = Path(__file__).resolve().parents[1]
SIGNAC = str(Path(sys.executable).parent / "signac")  # the CLI beside this Python
# Accepted by init.py (r0_CC at one box width above the box), yet the liquid falls apart.
ABSURD = forcefield.flatten(forcefield.OPLS_AA) | {"K_CC": 0.01, "r0_CC": 4.0}


def sh(cwd, *args, check=True):
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def project_dir(tmp_path):
    for name in ("project.py", "init.py"):
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["--n", "-1"], "--n -1"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--box", "BOX"], "lower 900.0 > upper 100.0"),
    (["--box", "NEGK"], "K_CC = -5.0"),
    (["--box", "THETA"], "theta0_CCC = 185.0"),
    (["--params", "R0"], "r0_CH = 0.0"),
    (["--params", "TEXT"], "K_CC = 'stiff' is not a number"),
])
def test_init_rejects_bad_input_and_creates_nothing(project_dir, args, message):
    files = {"BOX": {"K_CC": [900, 100]}, "NEGK": {"K_CC": [-5, 10]}, "THETA": {"theta0_CCC": [100, 185]},
             "R0": forcefield.flatten(forcefield.OPLS_AA) | {"r0_CH": 0.0},
             "TEXT": forcefield.flatten(forcefield.OPLS_AA) | {"K_CC": "stiff"}}
    for name, content in files.items():
        (project_dir / name).write_text(json.dumps(content))
    before = sorted(p.name for p in project_dir.iterdir())
    proc = sh(project_dir, "init.py", *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in project_dir.iterdir()) == before  # nothing created


def test_init_is_idempotent_and_signac_find_queries_parameters(project_dir):
    sh(project_dir, "init.py", "--n", "12", "--seed", "5", "--preset", "tiny")
    sh(project_dir, "init.py", "--n", "12", "--seed", "5", "--preset", "tiny")
    project = signac.get_project(project_dir)
    assert len(project) == 13  # 12 drawn + the OPLS-AA reference, no duplicates
    assert (project_dir / ".signac" / "config").read_text().strip() == "schema_version = 2"
    stiff = {job.id for job in project if job.sp.forcefield.bonds.CC.k > 500}
    assert 0 < len(stiff) < 13
    proc = subprocess.run([SIGNAC, "find", '{"forcefield.bonds.CC.k": {"$gt": 500}}'], cwd=project_dir,
                          capture_output=True, text=True, check=True)
    assert set(proc.stdout.split()) == stiff
    for job in project:  # statepoints: rounded native floats inside the published box
        flat = forcefield.flatten(job.sp.forcefield())
        if not job.doc.get("reference"):
            assert all(forcefield.SAMPLING_BOX[k][0] <= v <= forcefield.SAMPLING_BOX[k][1]
                       for k, v in flat.items())
            assert all(round(v, 2) == v for v in flat.values())


def test_aa_stage_runs_and_absurd_parameters_fail_readably(project_dir):
    (project_dir / "absurd.json").write_text(json.dumps(ABSURD))
    sh(project_dir, "init.py", "--n", "0", "--preset", "tiny", "--params", "absurd.json")
    ops = ["build_aa", "equilibrate_aa", "sample_aa", "analyze_aa"]
    sh(project_dir, "project.py", "run", "-o", *ops)
    project = signac.get_project(project_dir)
    reference = next(iter(project.find_jobs({"forcefield.bonds.CC.r0": 1.529})))
    absurd = next(iter(project.find_jobs({"forcefield.bonds.CC.k": 0.01})))
    assert not reference.doc.get("failed") and reference.doc["D_AA"] > 0 and reference.doc["D_AA_err"] >= 0
    assert 0.4 < reference.doc["density"] < 1.0  # g/cm³ after a 0.5 ps equilibration of 27 molecules
    assert reference.doc["density_converged"] is True and "D_AA_diffusive" in reference.doc
    assert reference.isfile("aa_com.gsd") and reference.isfile("rdf_aa.txt")
    assert (Path(reference.path) / "equilibrate_aa.0.in").read_text().startswith("# All-atom equilibration")
    assert absurd.doc["failed"] is True
    reason = absurd.doc["failure_reason"]
    # K_CC = 0.01 cannot hold the molecule: its C–C "bonds" drift apart during equilibration
    assert absurd.id in reason and "not a liquid of molecules: a bond stretched to" in reason, reason
    # A second run finds nothing left to do for AA and does not retry the failed job.
    proc = sh(project_dir, "project.py", "run", "-o", *ops)
    assert "failed" not in proc.stdout
    status = sh(project_dir, "project.py", "status", "--detailed", "--all-operations").stdout
    for op in ops:
        assert op in status
    found = subprocess.run([SIGNAC, "find", "doc.failed", "true"], cwd=project_dir,
                           capture_output=True, text=True, check=True).stdout.split()
    assert found == [absurd.id]


def test_init_published_sets_carry_the_papers_numbers(project_dir):
    """`init.py --preset demo`: the OPLS-AA reference and three published sets, each with its published
    D_AA, D_CG, alpha; parameters exactly those of the published table row."""
    from mobcg.aa import timestep
    from mobcg.datasets import load_reference_systems
    sh(project_dir, "init.py", "--preset", "demo")
    ref = load_reference_systems()
    project = signac.get_project(project_dir)
    published = [job for job in project if "published" in job.doc]
    assert len(project) == 4 and len(published) == 3
    assert sum(bool(job.doc.get("reference")) for job in project) == 1
    for job in published:
        row = ref.ids.index(job.doc["published"]["id"])
        flat = forcefield.flatten(job.sp.forcefield())
        assert [flat[p] for p in forcefield.PARAMETER_NAMES] == pytest.approx(list(ref.X[row]))
        assert job.doc["published"]["D_AA"] == pytest.approx(ref.D_AA[row]) and ref.D_AA[row] >= 2.0
        assert job.doc["published"]["alpha"] == pytest.approx(ref.alpha[row])
        assert timestep(job.sp.forcefield()) == 1.0
        for bond in ("CC", "CH"):  # the demo's bond-length filter (published_max_bond_change 0.3 Å)
            assert abs(flat[f"r0_{bond}"] - forcefield.OPLS_AA["bonds"][bond]["r0"]) <= 0.3
    # another seed, other sets; asking for more than the pool holds is one clear error
    proc = sh(project_dir, "init.py", "--preset", "demo", "--published", "500", check=False)
    assert proc.returncode == 2 and "--published 500: only" in proc.stderr
