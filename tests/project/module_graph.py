"""The import graph of `pipelines/`, read from the source (every import, top level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

from pipelines.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "pipelines"


def module_name(path: Path) -> str:
    """pipelines/a/b.py -> pipelines.a.b; a package's __init__.py is the package."""
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node: ast.AST, known: dict[str, Path]) -> set[str]:
    """The project modules one import statement names (a name imported from a package may be a module)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("pipelines"):
        found = {node.module} if node.module in known else set()
        return found | {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return set()


def imports(strings: bool = True) -> dict[str, set[str]]:
    """Module -> the project modules it imports (and, with `strings`, the module paths it names as text:
    the stage registry's lazy imports)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            found |= _targets(node, known)
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
            if strings and text in known:
                found.add(text)
        graph[name] = found - {name}
    return graph


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    """`start` and every module it reaches."""
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
