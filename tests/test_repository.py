"""The project runs from its own clone: no path outside the repository, published data inside it."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Built from pieces so this file does not match itself.
OUTSIDE = re.compile("|".join([r"/work" + "/", r"\.\./" + "shared", r"/shared" + "/reference", "/home" + "/"]))


def tracked_files() -> list[Path]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / p for p in out.decode().split("\0") if p]


def test_no_file_names_a_path_outside_the_repository():
    offenders = []
    for path in tracked_files():
        if not path.is_file() or path.suffix in {".png", ".gsd", ".npz"}:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}")
    assert not offenders, "\n".join(offenders)


def test_published_data_loads_from_a_clone_with_nothing_beside_it(tmp_path):
    clone = tmp_path / "alone" / "mobcg-clone"
    for path in tracked_files():
        if path.is_file():
            target = clone / path.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    assert sorted(p.name for p in (tmp_path / "alone").iterdir()) == ["mobcg-clone"]  # nothing beside it
    env = {k: v for k, v in os.environ.items() if k not in {"MOBCG_REFERENCE", "PYTHONPATH"}}
    code = ("from mobcg import datasets as d; s = d.load_reference_systems(); p = d.load_reference_pairs(); "
            "r = d.load_reference_rdfs(); u = d.load_reference_potentials(); "
            "print(s.path, len(s), round(float(s.D_AA[s.ids.index('1')] if '1' in s.ids else s.D_AA[0]), 4), "
            "len(p), r.g_aa.shape[1], u.U.shape[1])")
    out = subprocess.run([sys.executable, "-c", code], cwd=clone, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    path, n, _, n_pairs, rdf_points, pot_points = out.stdout.split()
    assert Path(path).resolve().is_relative_to(clone.resolve())
    # the published layout (mobcg/reference/README.md): 234 sets, 9 pairs, 481 RDF and 1550 potential points
    assert (int(n), int(n_pairs), int(rdf_points), int(pot_points)) == (234, 9, 481, 1550)
    # MOBCG_REFERENCE still overrides: an empty folder gives one error naming the missing file
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run([sys.executable, "-c", "from mobcg import datasets as d; d.load_reference_systems()"],
                         cwd=clone, env=dict(env, MOBCG_REFERENCE=str(empty)), capture_output=True, text=True)
    assert out.returncode != 0 and "bag2022_234tmp_systems.tsv" in out.stderr
