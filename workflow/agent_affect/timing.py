"""Wall-clock timings, kept beside the output they time and out of it.

Two runs of the same config must write byte-identical tables (tests/workflow/test_reproducible.py), so
no table carries a time. A stage that measures its own speed writes it to a sidecar next to its output,
``<stem>.timing.json`` (``check.csv`` -> ``check.timing.json``), alongside Snakemake's own benchmark
files in results/benchmarks/; the report shows neither.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUFFIX = ".timing.json"


def timing_path(output: Path | str) -> Path:
    """The sidecar of `output`: the same folder and stem, suffix ``.timing.json``."""
    return Path(output).with_suffix(SUFFIX)


def write_timing(output: Path | str, record: dict[str, Any]) -> Path:
    path = timing_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def read_timing(output: Path | str) -> dict[str, Any] | None:
    """The sidecar of `output`; None when its stage wrote none (an older run, a table from elsewhere)."""
    path = timing_path(output)
    return json.loads(path.read_text()) if path.is_file() else None
