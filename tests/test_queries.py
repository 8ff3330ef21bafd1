"""Every query of README.md's queries block, run with the signac CLI on a real project.

The queries are parsed from README.md, so the documentation and this test cannot drift:
a query added to or changed in the README without an expected result here fails.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import signac

from mobcg import forcefield

REPO = Path(__file__).resolve().parents[1]
SIGNAC = str(Path(sys.executable).parent / "signac")  # the CLI beside this Python

#: README query (its shlex-split words after ``signac``) -> which jobs it must find.
EXPECTED = {
    ("find", '{"forcefield.bonds.CC.k": {"$gt": 500}}'): lambda sp, doc: sp["forcefield"]["bonds"]["CC"]["k"] > 500,
    ("find", '{"forcefield.bonds.CC.r0": {"$gt": 2.0}}'): lambda sp, doc: sp["forcefield"]["bonds"]["CC"]["r0"] > 2.0,
    ("find", "doc.failed", "true"): lambda sp, doc: doc.get("failed") is True,
    ("find", '{"doc.alpha": {"$lt": 3}}'): lambda sp, doc: "alpha" in doc and doc["alpha"] < 3,
    ("schema",): None,  # checked separately
}


def readme_queries():
    text = (REPO / "README.md").read_text()
    start = text.index("Queries (")
    block = text[text.index("```bash", start) + len("```bash"):]
    block = block[:block.index("```")]
    queries = []
    for line in block.strip().splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "signac", line
        queries.append(tuple(words[1:]))
    return queries


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """init.py --n 10 --preset tiny + one own stiff, long-bond set; hand-set documents."""
    root = tmp_path_factory.mktemp("queries")
    shutil.copy(REPO / "init.py", root / "init.py")
    own = forcefield.flatten(forcefield.OPLS_AA) | {"K_CC": 800.0, "r0_CC": 2.2}
    (root / "own.json").write_text(json.dumps(own))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "init.py", "--n", "10", "--seed", "3", "--preset", "tiny",
                           "--params", "own.json"], cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    project = signac.get_project(root)
    jobs = sorted(project, key=lambda j: j.id)
    assert len(jobs) == 12
    for i, job in enumerate(jobs):  # alphas 0.5 .. 6 (some < 3), two failures, two unrun
        if i < 2:
            job.doc.update({"failed": True, "failure_reason": "lost atoms"})
        elif i < 10:
            job.doc.update({"D_AA": 1.0, "D_CG": 0.75 * (i - 1), "alpha": 0.75 * (i - 1)})
        else:
            job.doc["failed"] = False  # explicitly not failed: must not match `doc.failed true`
    return project


def test_readme_queries_are_the_tested_ones():
    assert set(readme_queries()) == set(EXPECTED)


@pytest.mark.parametrize("query", [q for q in EXPECTED if q[0] == "find"], ids=" ".join)
def test_readme_find_query(project, query):
    expected = {job.id for job in project if EXPECTED[query](job.sp(), job.doc())}
    assert 0 < len(expected) < len(project), "query does not discriminate on this project"
    proc = subprocess.run([SIGNAC, *query], cwd=project.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.split()) == sorted(expected)


def test_readme_schema(project):
    proc = subprocess.run([SIGNAC, "schema"], cwd=project.path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for key in ("forcefield.bonds.CC.k", "forcefield.dihedrals.HCCH.k3", "preset", "temperature"):
        assert f"'{key}'" in proc.stdout, key
