"""Checks of a package's shape shared by the layout tests (issue 12): import circles and private reaches."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping


def find_circle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Return one import circle of a module graph (first module repeated at the end), or None.

    Args:
        graph: module -> the modules it imports.

    Returns:
        The circle, or None when there is none.
    """
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def private_reaches(trees: Iterable[tuple[str, ast.Module]], is_module: Callable[[str, str], bool]) -> list[str]:
    """Return every place a module uses another module's underscore name.

    Imports of private *modules* (``from pkg import _wire``) are allowed; private names imported from
    a module, and ``obj._name`` on anything but ``self``/``cls``, are not.

    Args:
        trees: (module name, parsed module).
        is_module: tells whether ``from <module> import <name>`` names a module of the package.

    Returns:
        One line per place.
    """
    found = []
    for name, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kmslab"):
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and not is_module(node.module, alias.name):
                        found.append(f"{name}: from {node.module} import {alias.name}")
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    found.append(f"{name}:{node.lineno}: .{node.attr}")
    return found
