"""The stages stay in order: no module imports a stage above its own, and no imports go in circles.

Every `import` and `from … import` of rulerouter's own modules counts — at module level, inside
functions and under `if TYPE_CHECKING:` alike — because each is a dependency a reader has to
follow. The stages, bottom to top, are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rulerouter"

#: Stage of each top-level part of the package. A module may import its own part and any part
#: of a lower stage; parts of the same stage do not import each other.
STAGES: dict[str, int] = {
    "errors": 0,
    "_version": 0,
    "_lazy": 0,  # exports loaded on first use (PEP 562), for every package
    "testing": 0,  # the loopback upstream stands alone: it shares no code with what it tests
    "policy": 1,
    "boundary": 1,  # what comes in: the rule file (policy) and every request value (boundary)
    "decide": 2,
    "execute": 3,
    "observe": 4,
    "state": 4,
    "router": 5,
    "quality": 6,
    "gateway": 6,
    "cli": 7,
    "__init__": 8,
    "__main__": 8,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(path: Path) -> set[str]:
    """rulerouter modules imported by the file at `path` (a `from pkg import name` that names a
    submodule counts as importing that submodule)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "rulerouter")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "rulerouter":
                target = node.module
            else:
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return found - {name}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imported_modules(path) for name, path in MODULES.items()}


def test_every_part_has_a_stage() -> None:
    assert {part_of(m) for m in MODULES} <= set(STAGES), "add the new package to STAGES and docs/architecture.md"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_stage_above_its_own(module: str) -> None:
    own = part_of(module)
    wrong = []
    for target in sorted(GRAPH[module]):
        part = part_of(target)
        if part != own and STAGES[part] >= STAGES[own]:
            wrong.append(f"{target} (stage {STAGES[part]} '{part}')")
    assert not wrong, f"{module} (stage {STAGES[own]} '{own}') imports {', '.join(wrong)}"


def test_testing_shares_no_code_with_the_library() -> None:
    for module, targets in GRAPH.items():
        if part_of(module) == "testing":
            assert {part_of(t) for t in targets} <= {"testing"}, module


def test_no_import_circles() -> None:
    known = {m: {t for t in targets if t in GRAPH} for m, targets in GRAPH.items()}
    # A package's __init__ re-exports its modules; an import of the package is an import of
    # what it re-exports, so circles are looked for between modules, not through __init__ files.
    circles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(known[node]):
            if MODULES[nxt].name == "__init__.py" and part_of(nxt) == part_of(node):
                continue
            if state.get(nxt) == 1:
                circles.append(" → ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(known):
        if module not in state:
            visit(module)
    assert circles == []
