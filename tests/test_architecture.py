"""The shape of the package: no import cycles among stmtprod's modules (issue 12).

Every import counts, function-level ones too: a cycle hidden inside a function still ties the modules
together. Checked by reading the source (ast), not by importing it.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stmtprod"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The stmtprod modules `name` imports (a name imported from a package is its submodule if it is one)."""
    def known(dotted: str) -> str:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {known(a.name) for a in node.names if a.name.startswith("stmtprod")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.startswith("stmtprod"):
                out |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else known(base) for a in node.names}
    return out - {name, ""}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


def test_the_scan_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_stmtprod_has_no_import_cycles():
    modules = _modules()
    graph = {name: {m for m in _imports(name, path, modules) if m in modules} for name, path in modules.items()}
    assert sum(map(len, graph.values())) > 300  # the scan really read the package's imports
    assert cycles(graph) == []


def test_the_engine_knows_no_product_and_no_drill():
    """The engine runs any product and reaches faults only through its named points."""
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("stmtprod.engine"):
            imported = _imports(name, path, modules)
            assert not {m for m in imported if m.startswith(("stmtprod.statements", "stmtprod.cards", "stmtprod.lines",
                                                            "stmtprod.drills", "stmtprod.cli"))}, name
