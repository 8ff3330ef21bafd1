"""The house stays one-way: mobcg's modules stand in layers, and no module imports one above it, not even
inside a function (parsed from the source, so a lazy import counts too).

    helpers (0)  files, presets, forcefield, molecule, tables, analysis, ibi, target, friction, lammps, jobs, ...
    aa (1) → cg (2) → aggregate (3)        the stages, in pipeline order
    views and tools (4)                      summary, plots, report, dashboard, release, campaign, init, suggest
    __main__ (5)

project.py (the workflow) sits above them all and passes later results down (e.g. the structure
model's potential into cg.run_ibi): the library never imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mobcg"

LAYERS = {
    # helpers, below every stage: they never see a stage (jobs' subject is the job itself)
    "files": 0, "presets": 0, "forcefield": 0, "molecule": 0, "descriptors": 0, "tables": 0, "analysis": 0,
    "ibi": 0, "target": 0, "friction": 0, "lammps": 0, "lammps.data": 0, "lammps.trajectory": 0,
    "datasets": 0, "models": 0, "published": 0, "jobs": 0, "environments": 0,
    # the stages, in pipeline order: each may use the ones before it, never one after it
    "aa": 1, "cg": 2, "aggregate": 3,
    # what shows, ships or drives the results
    "plots": 4, "summary": 4, "report": 4, "dashboard_modules": 4, "release": 4, "campaign": 4, "suggest": 4,
    "init": 4, "campaign_models": 4,
    "__main__": 5,
}


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _imports(path: Path, name: str):
    """(line, imported mobcg module) for every import in the file, at any depth."""
    package = name.rsplit(".", 1)[0] if "." in name or path.name == "__init__.py" else ""
    if path.name == "__init__.py":
        package = name
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from .x import y / from .. import files
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.split(".")[0] == "mobcg":
                target = node.module[len("mobcg"):].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            for n in names:  # `from . import cg` names modules; `from .cg import x` names the module itself
                full = f"{target}.{n}" if target else n
                yield node.lineno, full if full in LAYERS else target
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "mobcg":
                    yield node.lineno, a.name[len("mobcg"):].lstrip(".")


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module(path)
        for line, target in _imports(path, name):
            if target and target != name:
                yield name, line, target


def test_every_module_has_a_layer():
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    assert modules == set(LAYERS), f"layer unknown for {sorted(modules - set(LAYERS))}; gone: {sorted(set(LAYERS) - modules)}"


def test_no_module_imports_one_above_it():
    upward = [f"mobcg/{src.replace('.', '/')}.py:{line} imports {dst} (layer {LAYERS[dst]} > {LAYERS[src]})"
              for src, line, dst in _edges() if LAYERS.get(dst, -1) > LAYERS[src]]
    assert not upward, "\n".join(upward)


def test_the_stages_do_not_import_each_other_backwards_and_helpers_no_stage():
    """The same rule, spelled out for the circle issue 24 found (aa → cg, cg → aggregate, jobs → aa)."""
    edges = {(src, dst) for src, _, dst in _edges()}
    for forbidden in [("aa", "cg"), ("aa", "aggregate"), ("cg", "aggregate"), ("jobs", "aa"), ("jobs", "cg")]:
        assert forbidden not in edges, forbidden
    assert not {(s, d) for s, d in edges if LAYERS[s] == 0 and d in ("aa", "cg", "aggregate")}


@pytest.mark.parametrize("source, expected", [
    ("from . import cg\n", "cg"), ("from .cg import x\n", "cg"), ("from mobcg import aggregate\n", "aggregate"),
    ("def f():\n    from .aggregate import predict\n", "aggregate"), ("import mobcg.cg\n", "cg")])
def test_the_parser_sees_every_form_of_import(tmp_path, source, expected):
    path = PACKAGE / "aa.py"
    fake = tmp_path / "aa.py"
    fake.write_text(source)
    assert [t for _, t in _imports(fake, "aa")] == [expected], path


def test_no_function_in_the_package_is_longer_than_about_sixty_lines():
    """Short, named steps: every function's body (its docstring aside: the long ones document their
    options) stays within 60 lines."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                if body and body[-1].end_lineno - body[0].lineno + 1 > 60:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, f"functions over 60 lines: {long}"
