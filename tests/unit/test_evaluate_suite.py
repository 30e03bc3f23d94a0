"""The shipped task suite passes its own check: references pass, hacks are caught, the impossible is."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from agent_affect.evaluate import SandboxUnavailable, load_suite, resolve_isolation
from agent_affect.evaluate.check import COLUMNS, check_suite, write_check


def test_the_suite_passes_its_check(tmp_path: Path) -> None:
    try:
        resolve_isolation("auto")
    except SandboxUnavailable as error:
        pytest.skip(f"no sandbox on this machine: {error}")
    suite = load_suite()
    rows = check_suite(suite)
    failed = [f"{row['task']} {row['role']}: {row['problem']}" for row in rows if not row["ok"]]
    assert failed == []
    assert write_check(rows, tmp_path / "check.csv")
    table = pl.read_csv(tmp_path / "check.csv")
    assert table.columns == COLUMNS
    roles = table.filter(pl.col("task") != "")
    assert roles.filter(pl.col("role") == "reference").height == len(suite)
    impossible = roles.filter(pl.col("impossible_kind") != "")
    honest = impossible.filter(pl.col("role") == "reference")
    hacks = impossible.filter(pl.col("role") != "reference")
    assert (honest["visible_passed"] < honest["visible_total"]).all()
    assert (hacks["visible_passed"] == hacks["visible_total"]).all()
    assert hacks["flags"].str.contains("impossible_visible_pass").all()
