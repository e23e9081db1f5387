"""The layout rules of webapp/ (README, "Architecture"), read from the source: no app, no database.

- models are the bottom layer: any package may import any package's models module;
- apart from models and the blueprint-only package __init__ files, packages import each other
  without cycles, and no import hides inside a function to dodge one;
- route modules (*_routes.py) are imported by webapp/blueprints.py only;
- the commission engine is pure: it imports the standard library only;
- application code stays small: files of at most 400 lines, functions of at most 60.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# The access policy answers every "may this user" question; the only other modules that compare a
# person's role are about the roles themselves (changing a user's role in the admin's user service).
ROLE_COMPARERS = {"webapp/auth/access.py", "webapp/auth/services.py"}


def _module_name(path: Path) -> str:
    """webapp/sales/services.py -> webapp.sales.services; a package's __init__.py -> the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of webapp/ by dotted name."""
    return {_module_name(path): path for path in sorted(WEBAPP.rglob("*.py"))}


@cache
def _tree(path: Path) -> ast.Module:
    """The parsed file."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The webapp modules an import statement loads (`from pkg import mod` loads pkg.mod)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "webapp"]
    if node.level or not node.module or node.module.split(".")[0] != "webapp":
        return []
    found = []
    for alias in node.names:
        submodule = f"{node.module}.{alias.name}"
        found.append(submodule if submodule in _modules() else node.module)
    return found


def _function_imports(tree: ast.Module) -> set[int]:
    """Ids of the import statements that sit inside a function (or lambda) of this tree."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(sub) for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom)))
    return inside


@cache
def _module_imports() -> dict[str, set[str]]:
    """Module -> the webapp modules it imports at module level."""
    graph = {}
    for name, path in _modules().items():
        tree = _tree(path)
        hidden = _function_imports(tree)
        graph[name] = {target for node in ast.walk(tree)
                       if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in hidden
                       for target in _targets(node)}
    return graph


def _package(module: str) -> str:
    """The package a module belongs to: webapp.sales for webapp.sales.*; a top-level module is its own."""
    return ".".join(module.split(".")[:2])


def _is_package_init(module: str) -> bool:
    """True for a package's __init__ (webapp itself, the factory, excepted)."""
    return module != "webapp" and _modules()[module].name == "__init__.py"


def _is_models(module: str) -> bool:
    """True for a models module (the bottom layer), or the module that imports them all."""
    return module.rsplit(".", 1)[-1] == "models"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_package_cycle_apart_from_models():
    """Packages import each other in one direction; only models (and bare blueprints) are shared."""
    packages: dict[str, set[str]] = {}
    for module, targets in _module_imports().items():
        edges = packages.setdefault(_package(module), set())
        edges.update(_package(t) for t in targets
                     if not _is_models(t) and not _is_package_init(t) and _package(t) != _package(module))
    assert _cycles(packages) == []


def test_no_module_cycle():
    """No module imports itself back through others, models and package files included."""
    assert _cycles(_module_imports()) == []


def test_models_are_the_bottom_layer():
    """A models module imports no other webapp module than the extensions."""
    wrong = {module: sorted(targets - {"webapp.extensions"}) for module, targets in _module_imports().items()
             if _is_models(module) and module != "webapp.models" and targets - {"webapp.extensions"}}
    assert wrong == {}


# engine.py and the modules split from it (engine_types, engine_numbers, engine_credit, ...).
ENGINE = {name for name in _modules() if name.startswith("webapp.commissions.engine")}


def test_the_engine_is_pure():
    """The commission engine imports the standard library and itself only: no Flask, no database."""
    assert {"webapp.commissions.engine", "webapp.commissions.engine_types"} <= ENGINE
    found = {}
    for module in sorted(ENGINE):
        tree = _tree(_modules()[module])
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        other = sorted(name for name in names
                       if name not in ENGINE and name.split(".")[0] not in sys.stdlib_module_names)
        if other:
            found[module] = other
    assert found == {}


def test_no_import_inside_a_function():
    """Imports sit at the top of the module, never inside a function to dodge a cycle."""
    found = []
    for name, path in _modules().items():
        tree = _tree(path)
        hidden = _function_imports(tree)
        found += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree) if id(node) in hidden]
    assert found == []


def test_route_modules_are_imported_by_the_blueprint_list_only():
    """Only webapp/blueprints.py imports route modules; it imports every one of them."""
    routes = {name for name in _modules() if name.endswith("_routes")}
    importers = {}
    for module, targets in _module_imports().items():
        for target in targets & routes:
            importers.setdefault(target, set()).add(module)
    jobs = {f"{path.relative_to(ROOT)}": _targets_of_file(path) & routes
            for path in (ROOT / "jobs").rglob("*.py")}
    assert {route: sorted(who) for route, who in importers.items() if who != {"webapp.blueprints"}} == {}
    assert sorted(routes - set(importers)) == []
    assert {path: sorted(found) for path, found in jobs.items() if found} == {}


def _targets_of_file(path: Path) -> set[str]:
    """Every webapp module a file outside webapp/ imports, wherever the import is."""
    return {target for node in ast.walk(_tree(path)) if isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _targets(node)}


def _is_blueprint_only(statement: ast.stmt) -> bool:
    """A docstring, `from __future__ import ...`, `from flask import Blueprint` or `x = Blueprint(...)`."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return isinstance(statement.value.value, str)
    if isinstance(statement, ast.ImportFrom):
        return statement.module == "__future__" or (
            statement.module == "flask" and [a.name for a in statement.names] == ["Blueprint"])
    if isinstance(statement, ast.Assign):
        value = statement.value
        return isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Blueprint"
    return False


def test_package_files_only_create_their_blueprint():
    """A package's __init__.py creates its blueprint (or holds only a docstring): nothing else."""
    wrong = {}
    for name, path in _modules().items():
        if _is_package_init(name):
            extra = [statement.lineno for statement in _tree(path).body if not _is_blueprint_only(statement)]
            if extra:
                wrong[f"{path.relative_to(ROOT)}"] = extra
    assert wrong == {}


def _application_files() -> list[Path]:
    """Application code: webapp/ and jobs/."""
    return sorted([*WEBAPP.rglob("*.py"), *(ROOT / "jobs").rglob("*.py")])


def _long_files() -> set[str]:
    """Every file of application code longer than MAX_FILE_LINES."""
    return {f"{path.relative_to(ROOT)}" for path in _application_files()
            if len(path.read_text(encoding="utf-8").splitlines()) > MAX_FILE_LINES}


def test_no_file_over_400_lines():
    """Files of application code are at most MAX_FILE_LINES long."""
    assert _long_files() == set()


def _long_functions() -> set[str]:
    """'path: name' of every function of application code longer than MAX_FUNCTION_LINES."""
    return {f"{path.relative_to(ROOT)}: {node.name}" for path in _application_files()
            for node in ast.walk(_tree(path)) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES}


def test_no_function_over_60_lines():
    """Functions of application code are at most MAX_FUNCTION_LINES long."""
    assert _long_functions() == set()


def _role_comparisons(path: Path) -> list[int]:
    """Lines comparing some object's `.role` (a person's role), not the `User.role` column in a query."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if (isinstance(side, ast.Attribute) and side.attr == "role"
                        and not (isinstance(side.value, ast.Name) and side.value.id == "User")):
                    found.append(node.lineno)
    return found


def test_only_the_access_policy_compares_roles():
    """Routes, services, the API and templates ask webapp.auth.access instead of comparing roles."""
    wrong = {f"{path.relative_to(ROOT)}": lines for path in _application_files()
             if f"{path.relative_to(ROOT)}" not in ROLE_COMPARERS and (lines := _role_comparisons(path))}
    assert wrong == {}
    templates = {f"{path.relative_to(ROOT)}" for path in (ROOT / "templates").rglob("*.html")
                 if re.search(r"\.role\s*(==|!=|in\b|not in\b)", path.read_text(encoding="utf-8"))}
    assert templates == set()
