"""The architecture, as the README states it: which package may import which, and no import circle.

Every module of ``crawler`` and ``policies`` is parsed (not imported), and
every import statement in it counts: at module level, inside functions, and
under ``if TYPE_CHECKING:``, since a reader follows them all.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawler", "policies")
FRAMEWORKS = ("scrapy", "twisted", "click")

# What each part may import of ours (besides itself), as in README.md, "Architecture".
MAY_IMPORT: dict[str, set[str]] = {
    "policies": set(),
    "crawler": set(),  # the package itself: the version
    "crawler.errors": set(),
    "crawler.judging": {"policies", "crawler", "crawler.errors", "crawler.identity"},
    "crawler.storage": {"policies", "crawler", "crawler.errors", "crawler.judging"},
    # The frontier: queues, leases, the seen set; no Scrapy (the scheduler adapts it).
    "crawler.frontier": {"policies", "crawler", "crawler.errors"},
    # Who the crawler is: its signing keys; no Scrapy (the command line and, later, the crawl use it).
    "crawler.identity": {"crawler", "crawler.errors"},
    "crawler.workflows": {"policies", "crawler", "crawler.errors", "crawler.judging", "crawler.storage"},
    "crawler.adapters": {
        *("policies", "crawler", "crawler.errors", "crawler.judging", "crawler.storage"),
        *("crawler.frontier", "crawler.identity"),
    },
    "crawler.localweb": {"crawler.errors", "crawler.storage"},
    "crawler.cli": {
        *("policies", "crawler", "crawler.errors", "crawler.judging", "crawler.storage"),
        *("crawler.workflows", "crawler.adapters", "crawler.localweb", "crawler.frontier"),
        "crawler.identity",
    },
    "crawler.__main__": {"crawler.cli"},
}
# Which of Scrapy, Twisted and click each part may import: only the adapters Scrapy and Twisted,
# only the command line click.
MAY_USE = {part: set() for part in MAY_IMPORT} | {
    "crawler.adapters": {"scrapy", "twisted"},
    "crawler.cli": {"click"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    }


def part_of(module: str) -> str:
    """The part of the architecture a module of ours belongs to (a key of MAY_IMPORT)."""
    head = module.split(".")
    if head[0] == "policies":
        return "policies"
    return ".".join(head[:2])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """The ids of the import statements under ``if TYPE_CHECKING:`` (they never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            found.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return found


@cache
def imports(module: str) -> tuple[tuple[str, bool], ...]:
    """Every module ``module`` imports, with whether the import runs (False: under TYPE_CHECKING only).

    ``from package import name`` imports ``package.name`` when that is a module, else ``package``.
    """
    path = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    typing_only = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        runs = id(node) not in typing_only
        if isinstance(node, ast.Import):
            found.extend((alias.name, runs) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.append((name if name in modules() else base, runs))
    return tuple(found)


def ours(name: str) -> str | None:
    """The module of ours ``name`` is, or is in; None for a module of another project."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def graph(*, typing_too: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module in modules():
        targets = {ours(name) for name, runs in imports(module) if runs or typing_too}
        edges[module] = {t for t in targets if t is not None and t != module}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Each group of modules that import one another (Tarjan), shown as one shortest circle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    shown = []
    for component in components:
        circle = _circle(edges, set(component))
        others = sorted(set(component) - set(circle))
        shown.append(" -> ".join(circle) + (f" (in a circle with {', '.join(others)} too)" if others else ""))
    return shown


def _circle(edges: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, within the component."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(edges[node] & component):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    return sorted(component)


def test_every_module_belongs_to_a_part_of_the_architecture() -> None:
    assert {part_of(module) for module in modules()} <= set(MAY_IMPORT)
    assert "crawler.cli.main" in modules() and "policies.engine" in modules()  # the walk finds them


def test_no_import_circle_among_the_imports_that_run() -> None:
    found = cycles(graph(typing_too=False))
    assert not found, "import circles:\n" + "\n".join(found)


def test_no_import_circle_even_through_type_annotations() -> None:
    found = cycles(graph(typing_too=True))
    assert not found, "import circles:\n" + "\n".join(found)


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_follow_the_layers(module: str) -> None:
    part = part_of(module)
    wrong = []
    for name, _ in imports(module):
        top = name.split(".")[0]
        target = ours(name)
        if target is not None:
            if part_of(target) not in {part} | MAY_IMPORT[part]:
                wrong.append(f"{name} ({part_of(target)})")
        elif top in FRAMEWORKS and top not in MAY_USE[part]:
            wrong.append(name)
    assert not wrong, f"{module} ({part}) may not import: {', '.join(sorted(set(wrong)))}"


def test_the_walk_sees_function_local_and_type_only_imports() -> None:
    # crawler.cli.dataset imports the recheck spider inside a function, the pages command its queries too.
    assert ("crawler.adapters.spiders.recheck", True) in imports("crawler.cli.dataset")
    assert ("policies.evidence", False) in imports("crawler.adapters.spiders.seeds")  # a type only


def test_a_circle_is_found_and_shown() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(edges) == ["a -> b -> c -> a"]
    edges = {"a": {"b", "c"}, "b": {"a"}, "c": {"b"}}
    assert cycles(edges) == ["a -> b -> a (in a circle with c too)"]
    assert cycles({"a": {"b"}, "b": set()}) == []
