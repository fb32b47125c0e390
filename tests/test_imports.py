"""Architecture guard: imports point one way, with no circle among the project's modules.

Every module of ``policies`` and ``crawler`` is parsed (not imported) and every
import statement in it counts: at the top, inside functions, and under
``TYPE_CHECKING`` (a circle of type-only imports is still two modules that
each need the other to be read). An import names the deepest project module
it loads (``from policies.engine import decide`` is ``policies.engine``;
``from crawler.spiders import seeds`` is ``crawler.spiders.seeds``); the
packages a dotted name passes through are not counted, as every module of a
package would otherwise import its ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("policies", "crawler")


def module_name(path: Path) -> str:
    """``policies/engine.py`` is ``policies.engine``; ``crawler/spiders/__init__.py`` ``crawler.spiders``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, by name."""
    return {
        module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    }


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest project module that importing ``name`` loads, or None for one outside the project."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module ``name`` (at ``path``) imports, wherever the import is written."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            # ``from package import module`` loads the module; ``from module import name`` the module.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != name:
                found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module name -> the project modules it imports."""
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each sorted): the modules on a circle.

    Tarjan's algorithm, recursive: the project's graph is a few hundred modules deep at most.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def shortest_cycle(graph: dict[str, set[str]], members: set[str], start: str) -> list[str]:
    """The shortest circle from ``start`` back to it within ``members``, as a path ``start, ..., start``."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & members):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if succ not in came_from:
                    came_from[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"{start} is in a component without a circle")  # Tarjan says otherwise


def circles(graph: dict[str, set[str]], package: str) -> list[str]:
    """Each circle through a module of ``package``: one path, then every module caught in it."""
    return [
        f"{' -> '.join(shortest_cycle(graph, set(component), component[0]))} (modules on a circle: "
        f"{', '.join(component)})"
        for component in components(graph)
        if any(m.split(".")[0] == package for m in component)
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle(package: str) -> None:
    found = circles(import_graph(), package)
    assert not found, "import circles:\n" + "\n".join(found)


def test_the_core_imports_nothing_of_the_crawler() -> None:
    graph = import_graph()
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name.split(".")[0] == "policies"
        for target in targets
        if target.split(".")[0] != "policies"
    )
    assert not wrong


def test_the_walker_finds_circles() -> None:
    # The check itself can fail: a function-local import closing a circle is found and printed.
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x", "a.w", "a.y"}, "a.w": set(), "b": {"a.w"}}
    assert circles(graph, "a") == ["a.x -> a.y -> a.z -> a.x (modules on a circle: a.x, a.y, a.z)"]
    assert circles(graph, "b") == []


def test_function_local_relative_and_type_checking_imports_count(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from policies.decision import Basis\n"
        "def f():\n    from policies import engine\n    import policies.purpose.x\n"
        "from . import readings\n"
    )
    path = tmp_path / "example.py"
    path.write_text(source, encoding="utf-8")
    found = imports_of("policies.example", path, project_modules())
    assert found == {"policies.decision", "policies.engine", "policies.purpose", "policies.readings"}
