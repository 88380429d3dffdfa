"""The scripts of benchmarks/ loaded as modules, so tests call their functions and `main` in this
process."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.conftest import ROOT


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (run_name is not __main__, so nothing runs on import)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_benchmark(name: str, *args: str) -> int:
    """`main(args)` of benchmarks/<name>.py, in this process: its exit status (a user error exits 2)."""
    try:
        return load_benchmark(name).main(list(args))
    except SystemExit as stop:
        return stop.code
