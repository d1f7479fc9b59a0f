"""The domain core has no import cycles: feature packages depend on each other in one direction only.

Built from the packages found under scheduler/, so a new feature package is covered without touching
this file. Only module-level imports count (what runs when a module is imported); an import inside a
function to dodge a cycle is exactly what this test exists to make unnecessary, and a few left in the
application factory (create_app) are how Flask apps register blueprints.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scheduler"


def _feature_packages() -> list[str]:
    return sorted(p.name for p in PACKAGE.iterdir()
                  if p.is_dir() and (p / "__init__.py").exists() and p.name not in ("translations", "static"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_level_imports(path: Path) -> set[str]:
    """Absolute names of the scheduler modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("scheduler"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("scheduler"):
                    continue
                found.add(target)
                for alias in node.names:  # `from . import models` names a module
                    found.add(f"{target}.{alias.name}")
            elif isinstance(node, ast.ClassDef):
                visit(node.body)
            else:
                visit([child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)])

    visit(tree.body)
    return found


def _feature_of(module: str, features: list[str]) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in features else None


def _package_graph() -> dict[str, dict[str, set[str]]]:
    """feature package -> {imported feature package -> the importing modules}."""
    features = _feature_packages()
    graph: dict[str, dict[str, set[str]]] = {name: {} for name in features}
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        source = _feature_of(module, features)
        if source is None:
            continue
        for imported in _module_level_imports(path):
            target = _feature_of(imported, features)
            if target is not None and target != source:
                graph[source].setdefault(target, set()).add(module)
    return graph


def test_feature_packages_are_found():
    assert {"events", "registration", "invitations", "notifications", "calendar"} <= set(_feature_packages())


def _cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return None


def test_no_two_feature_packages_import_each_other_at_module_level():
    graph = _package_graph()
    cycle = _cycle(graph)
    if cycle:
        steps = [f"{a} -> {b} (in {', '.join(sorted(graph[a][b]))})" for a, b in zip(cycle, cycle[1:])]
        pytest.fail("feature packages import each other in a circle:\n  " + "\n  ".join(steps))


def test_seats_sit_at_the_bottom_and_import_no_feature_code_but_models():
    features = _feature_packages()
    imported = _module_level_imports(PACKAGE / "seats.py")
    feature_modules = {name for name in imported if _feature_of(name, features)}
    # A feature package's models (the tables seats count) are allowed; its services, views or signals are not.
    assert {name.split(".")[2] if len(name.split(".")) > 2 else "(the package)" for name in feature_modules} \
        <= {"models"}, sorted(feature_modules)


def test_links_import_no_feature_package():
    features = _feature_packages()
    imported = _module_level_imports(PACKAGE / "links.py")
    assert not {name for name in imported if _feature_of(name, features)}
