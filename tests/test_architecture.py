"""The import rules of docs/architecture.md hold: `lint-imports` checks the contracts in
pyproject.toml, so a forbidden import (a model importing metrics, a metric importing the
DataModule, a cycle across layers) fails the test suite and CI, not only `make lint`."""

from __future__ import annotations

import re
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


# --- docs/architecture.md's layout block names every module, and only modules that exist ---------

DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "src" / "genstyle"
NAME = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")  # a file or folder in the name column (`cli/`, `base.py`)
MENTION = re.compile(r"(?<![\w./<>-])\w[\w./-]*\.py\b")  # a module named in a description (`latent_views.py`)


def layout_block(text: str) -> list[str]:
    """The indented lines of the section that starts with '## Layout'."""
    section = text.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("    ") and line.strip()]


def documented_modules(lines: list[str], root: Path) -> list[tuple[str, list[Path]]]:
    """Every `.py` name of the layout block with the places it may mean, first the folder it is
    listed under. The block lists one folder or module per line, several modules on one line
    (`vae.py gan.py ...`), a description after two or more spaces, modules named in descriptions,
    and descriptions continued on lines of their own; the indentation gives the folder."""
    folders: list[tuple[int, Path]] = []  # the open folders, outermost first, with their indentation
    found = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        names, _, description = line.strip().partition("  ")
        tokens = names.split()
        if tokens and all(NAME.match(t) and (t.endswith(".py") or t.endswith("/")) for t in tokens):
            while folders and folders[-1][0] >= indent:
                folders.pop()
            here = folders[-1][1] if folders else root
            found += [(t, [here / t]) for t in tokens if t.endswith(".py")]
            opened = [t for t in tokens if t.endswith("/")]
            if opened:  # `benchmarks/ docs/`: descriptions below speak of the first
                folders.append((indent, here / opened[0].rstrip("/")))
                here = folders[-1][1]
        else:  # a description continued on its own line
            here, description = (folders[-1][1] if folders else root), line.strip()
        # A module named in a description sits in the folder being described, or is a path from
        # the package or the repository (`models/base.py`, `tests/conftest.py`, `compare.py`).
        found += [(t, [here / t, root / "src" / "genstyle" / t, root / t]) for t in MENTION.findall(description)]
    return found


def test_layout_parser_reads_the_block_format(tmp_path):
    lines = [
        "    run.py other.py   entry points: pkg.cli.<name>.main",
        "    src/genstyle/",
        "      cli/                 the commands; a.py and b.py (see tests/conftest.py)",
        "        x.py y.py   two on one line",
        "                             continued: c.py",
        "      models/              families",
        "        components/        networks: d.py, e.py (notes),",
        "                           f.py",
        "        g.py               after the folder",
    ]
    names = {token: [p.relative_to(tmp_path).as_posix() for p in places][0] for token, places in documented_modules(lines, tmp_path)}
    assert names == {
        "run.py": "run.py", "other.py": "other.py", "a.py": "src/genstyle/cli/a.py", "b.py": "src/genstyle/cli/b.py",
        "tests/conftest.py": "src/genstyle/cli/tests/conftest.py", "x.py": "src/genstyle/cli/x.py",
        "y.py": "src/genstyle/cli/y.py", "c.py": "src/genstyle/cli/c.py", "d.py": "src/genstyle/models/components/d.py",
        "e.py": "src/genstyle/models/components/e.py", "f.py": "src/genstyle/models/components/f.py",
        "g.py": "src/genstyle/models/g.py",
    }


def test_architecture_layout_lists_every_module_and_only_existing_ones():
    found = documented_modules(layout_block(DOC.read_text()), ROOT)
    missing = [f"{token} (looked for {places[0].relative_to(ROOT)})" for token, places in found if not any(p.is_file() for p in places)]
    assert not missing, "docs/architecture.md's layout names modules that do not exist:\n" + "\n".join(missing)
    named = {p.resolve() for _, places in found for p in places if p.is_file()}
    undocumented = sorted(
        str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and path.resolve() not in named
    )
    assert not undocumented, "modules missing from docs/architecture.md's layout:\n" + "\n".join(undocumented)
