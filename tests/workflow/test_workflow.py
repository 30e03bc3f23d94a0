"""The workflow itself: lint, format, config validation, dry runs of both presets, locked versions."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_lint_is_clean() -> None:
    result = _run(str(BIN / "snakemake"), "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_snakefmt_is_clean() -> None:
    result = _run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = _run(str(BIN / "ruff"), "check", "workflow", "tests", "benchmarks", "scripts", "resources")
    assert result.returncode == 0, result.stdout + result.stderr


def _dry_run(*extra: str) -> str:
    # An empty HOME: the DAG must not depend on the user's files (matplotlib may cache fonts there).
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": tempfile.mkdtemp(prefix="no-home-")}
    result = _run(str(BIN / "snakemake"), "-n", "--cores", "2", *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_default_dag() -> None:
    out = _dry_run("--forceall")
    for rule in ("parse_traces", "prepare_model", "plot_corpus_overview"):
        assert re.search(rf"^{rule}\s+1$", out, re.M), out


def test_paper_dag_builds_offline() -> None:
    out = _dry_run("--forceall", "--configfile", "config/paper.yaml")
    assert re.search(r"^download_traces\s+1$", out, re.M), out
    assert "parse_traces" in out


def _keys_without_comment(path: Path) -> list[str]:
    """Mapping keys of a YAML file not preceded by a comment line.

    Keys of list items (`- repo: ...` and the keys below it) are data, documented once for the list.
    """
    lines = path.read_text().splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z_][\w-]*):", line)
        if not match:
            continue
        indent = len(match.group(1))
        parent = next((p for p in reversed(lines[:i]) if p.strip() and len(p) - len(p.lstrip()) < indent), "")
        if parent.strip().startswith("- "):
            continue
        previous = next((p for p in reversed(lines[:i]) if p.strip()), "")
        if not previous.strip().startswith("#"):
            missing.append(f"{path.name}:{i + 1}: {match.group(2)}")
    return missing


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_every_config_key_has_a_comment(name: str) -> None:
    assert _keys_without_comment(REPO / "config" / name) == []


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_configs_validate_against_the_schema(name: str) -> None:
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / name).read_text())
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))


def test_schema_rejects_a_typo() -> None:
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["traces"]["incude_user_sessions"] = True
    with pytest.raises(WorkflowError):
        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))


def test_rules_name_every_analysis_table_and_figure() -> None:
    """common.smk lists the analysis outputs by hand (importing the analysis would slow every start)."""
    from agent_affect.analysis import FIGURE_TABLES, OTHER_TABLES
    from agent_affect.plots.sentiment import FIGURES

    out = _dry_run("--forceall")
    for table in (*FIGURE_TABLES, *OTHER_TABLES):
        assert f"results/analysis/judge/{table}.csv" in out, table
    for figure in FIGURES:
        assert f"results/figures/judge/{figure}.png" in out, figure
    assert re.search(rf"^plot_sentiment_figure\s+{len(FIGURES)}$", out, re.M), out
