"""Result files written atomically: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomic(path: Path, data: dict) -> None:
    """Write `data` as indented JSON to a temporary file beside `path`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")
    os.replace(tmp, path)
