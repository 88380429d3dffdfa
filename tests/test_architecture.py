"""The import rules of docs/architecture.md hold: `lint-imports` checks the contracts in
pyproject.toml, so a forbidden import (a model importing metrics, a metric importing the
DataModule, a cycle across layers) fails the test suite and CI, not only `make lint`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def test_import_contracts_are_kept():
    # import-linter comes with the dev extra, like pytest itself. It runs through this interpreter,
    # not the `lint-imports` script: a virtualenv reused from another checkout (CI's cache) keeps
    # scripts whose first line names the interpreter path of the checkout that installed them.
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": str(Path(sys.executable).parent)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected groups of more than one module in the direct-import graph."""
    modules = graph.modules
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        order[module] = low[module] = len(order)
        stack.append(module)
        for other in edges[module]:
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(modules):
        if module not in order:
            visit(module)
    return cycles


def test_no_import_cycles_even_through_function_level_imports():
    # Layers forbid upward imports between rooms; a cycle inside one room (two commands, two data
    # modules importing each other lazily) would pass them, so it is checked on its own.
    import grimp

    sys.path.insert(0, str(ROOT / "src"))
    graph = grimp.build_graph("genstyle", cache_dir=None)
    assert import_cycles(graph) == []
    # The check itself finds a cycle where there is one.
    graph.add_import(importer="genstyle.pixels", imported="genstyle.errors")
    graph.add_import(importer="genstyle.errors", imported="genstyle.pixels")
    assert ["genstyle.errors", "genstyle.pixels"] in import_cycles(graph)
