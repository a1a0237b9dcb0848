"""The KMS package's shape (issue 12): no import circle, no reach into another module's private names,
small modules (or a reason in the docstring), state apart from operations, and one operation table."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from kmslab.kms import LocalKms
from kmslab.kms.ops import OPERATIONS, READ_ONLY
from kmslab.trail.record import READ_ONLY_OPERATIONS
from tests.layout import find_circle, private_reaches

PACKAGE = Path(__file__).resolve().parents[2] / "kmslab" / "kms"
ROOT = "kmslab.kms"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for name, path in MODULES.items():
        yield name, ast.parse(path.read_text(), str(path))


def _package_imports(tree: ast.Module) -> set[str]:
    """Modules of the package a module imports, at any level (top, TYPE_CHECKING blocks, inside functions)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module + ".").startswith(ROOT + "."):
            base = node.module.removeprefix(ROOT).lstrip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                found.add(submodule if submodule in MODULES else (base or "__init__"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(ROOT + "."):
                    found.add(alias.name.removeprefix(ROOT + "."))
    return found


def _graph() -> dict[str, set[str]]:
    return {name: _package_imports(tree) - {name} for name, tree in _trees()}


def test_the_circle_check_finds_afind_circle() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_package() -> None:
    graph = _graph()
    # The package's __init__ re-exports the engine; a module inside importing it back counts as a circle.
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_state_is_apart_from_operations() -> None:
    graph = _graph()
    for name, imports in graph.items():
        if name == "ops" or name.startswith("ops."):
            assert "engine" not in imports and "__init__" not in imports, name
    assert graph["_registry"] <= {"_records"}  # the registry holds records; it knows no operation


def test_no_module_reaches_into_another_modules_private_names() -> None:
    def is_module(module: str, name: str) -> bool:
        return f"{module.removeprefix(ROOT).lstrip('.')}.{name}".lstrip(".") in MODULES

    assert private_reaches(_trees(), is_module) == []


def test_modules_are_small_or_say_why() -> None:
    for name, path in MODULES.items():
        text = path.read_text()
        if text.count("\n") > 420:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            assert "over 400 lines because" in docstring.lower(), f"{name} has {text.count(chr(10))} lines, no reason"


def test_one_operation_table_with_its_read_only_flag() -> None:
    assert frozenset(OPERATIONS) == LocalKms.OPERATIONS
    assert READ_ONLY_OPERATIONS is READ_ONLY is LocalKms.READ_ONLY
    assert {name for name, op in OPERATIONS.items() if op.read_only} == READ_ONLY
    assert {"CreateKey", "ScheduleKeyDeletion", "PutKeyPolicy", "CreateGrant"}.isdisjoint(READ_ONLY)


def test_operations_say_what_they_do() -> None:
    for name, op in OPERATIONS.items():
        summary = (op.handler.__doc__ or "").strip().splitlines()[0]
        assert summary.startswith(name) and len(summary) > len(name) + 12, (name, summary)
