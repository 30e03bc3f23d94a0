"""Two runs of the whole workflow give byte-identical tables, and an edit reruns only what it touches.

A tiny config of every stage (random-init models, a few traces, tasks, questions and turns) runs end to
end in two scratch copies of the workflow. Every table of the two runs (csv, parquet, json, jsonl, md;
not the provenance record, timings, logs or caches: see RUN_DEPENDENT) must be the same bytes. Parquet
files too: polars writes no time stamp into them. The second copy then takes the targeted-rebuild
checks: every figure is a target of its own, editing a caption plans nothing, and editing one plotting
function plans that figure alone.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# What a run needs of the repository: the workflow (with the package, so the scratch copy's code is the
# code that runs and is hashed), its curated inputs, the profile and the conda environments.
COPIED = ("Snakefile", "workflow", "resources", "profiles", "envs")
# Three sessions of each format (61 developer messages): every agent for the judge and the analysis.
TRACES = [
    str(path.relative_to(REPO))
    for agent in ("claude", "codex", "pi")
    for path in sorted((REPO / "resources" / "demo_traces" / agent).rglob("*.jsonl"))[:3]
]
TINY_MODEL = {"tiny": "llama", "layers": 2, "hidden_size": 64, "seed": 0}
# Folders of results/ whose files are meant to differ between runs: the provenance record (its time
# stamp), timings (Snakemake's benchmarks, and the *.timing.json sidecars beside outputs), logs, and the
# judges' caches. A cache holds verdicts by text hash, in shards numbered in the order jobs wrote them,
# and the jobs sharing one cache (the frustration judge's scoring and calibration) may run in either
# order; the tables made from the verdicts are compared.
RUN_DEPENDENT = ("provenance", "benchmarks", "logs", "cache")
TABLE_SUFFIXES = (".csv", ".parquet", ".json", ".md", ".jsonl")
# Generous: one run took 1.5 minutes on 2 cores, and 2.5 to 3 with other jobs on them.
RUN_TIMEOUT_S = 1500


def tiny_config() -> dict:
    """The default config with every stage on and every number small: minutes on 2 cores."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["traces"]["local"] = list(TRACES)
    config["models"] = {"prepare": ["tiny"], "specs": {"tiny": TINY_MODEL}}
    # A random-init judge under constrained decoding still answers valid JSON; label-only keeps it short.
    config["judge"].update({"model": "tiny", "label_only": True, "batch_size": 32, "chunk_size": 64})
    config["analysis"]["settings"].update({"min_messages_per_turn": 2, "min_messages_per_model": 2})
    directions = config["directions"]
    directions.update({"models": ["tiny"], "batch_size": 32})
    directions["sae"].update(
        {
            "corpus": ["stimuli"],
            "train_tokens": 4000,
            "max_tokens_per_text": 64,
            "expansion": 2,
            "k": 4,
            "epochs": 1,
            "batch_size": 256,
        }
    )
    rejection = config["rejection"]
    rejection["model"] = "tiny"
    rejection["run"].update(
        {"questions_per_kind": 1, "tones": ["neutral", "harsh"], "turns": 3, "max_new_tokens": 8}
    )
    rejection["prefill"].update({"models": ["tiny"], "after_rejections": 2, "max_new_tokens": 8})
    rejection["judge"].update({"model": "tiny", "max_chars": 200})
    rejection["stats"]["n_boot"] = 200
    agent = config["agent"]
    agent["models"] = ["tiny"]
    agent["run"].update(
        {
            "tasks": ["gcd", "is_palindrome"],
            "samples": 1,
            "attempts": 2,
            "max_new_tokens": 12,
            "strengths": [0.1],
        }
    )
    agent["stats"].update({"n_boot": 200, "min_clusters": 2})
    return config


def _scratch(root: Path) -> Path:
    root.mkdir(parents=True)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, root / name)
    (root / "config").mkdir()
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    return root


def _snakemake(workdir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # The scratch copy's package comes first on the path (of Snakemake, which hashes the figures' code,
    # and of every rule's agent-affect), so that an edit there is an edit to the code that runs.
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "HOME": str(workdir),
        "PYTHONPATH": str(workdir / "workflow"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    # One thread a job, two jobs at a time: tiny models gain nothing from a second thread, and the
    # stages' branches (judge, directions, rejection, tasks) then run side by side.
    command = [str(BIN / "snakemake"), "-s", str(workdir / "Snakefile"), "-d", str(workdir)]
    command += ["--cores", "2", "--max-threads", "1"]
    return subprocess.run(
        [*command, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=timeout
    )


def _tables(results: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(results)): path
        for path in sorted(results.rglob("*"))
        if path.is_file()
        and path.suffix in TABLE_SUFFIXES
        and path.relative_to(results).parts[0] not in RUN_DEPENDENT
        and not path.name.endswith(".timing.json")
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("reproducible")
    # Both copies first: the second run must not see an edit made to the checkout during the first.
    first = _scratch(root / "first")
    second = root / "second"
    shutil.copytree(first, second)
    for name, workdir in (("first", first), ("second", second)):
        run = _snakemake(workdir, timeout=RUN_TIMEOUT_S)
        assert run.returncode == 0, f"the {name} run failed:\n{run.stderr[-5000:]}"
    return first, second


@pytest.mark.slow
def test_two_runs_give_byte_identical_tables(two_runs: tuple[Path, Path]) -> None:
    for run in two_runs:  # the one file meant to differ: when, and from what, each run was made
        assert (run / "results" / "provenance" / "latest.json").is_file()
    first, second = (_tables(run / "results") for run in two_runs)
    assert sorted(first) == sorted(second), "the two runs wrote different sets of tables"
    stages = {name.split("/")[0] for name in first}
    assert {"traces", "labels", "analysis", "tasks", "directions", "rejection", "agent"} <= stages, stages
    differing = [name for name in first if first[name].read_bytes() != second[name].read_bytes()]
    assert not differing, "tables that differ between two runs of the same config:\n" + "\n".join(differing)


def _planned(run: subprocess.CompletedProcess) -> tuple[dict[str, int], set[str]]:
    """A dry run's jobs per rule (the `Job stats` table) and the outputs of its jobs."""
    assert run.returncode == 0, run.stderr[-3000:]
    if "Nothing to be done" in run.stdout + run.stderr:
        return {}, set()
    stats = run.stdout[run.stdout.index("Job stats:") :]
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M) if rule != "total"}
    outputs = {
        path for line in re.findall(r"^\s+output: (.+)$", run.stdout, re.M) for path in line.split(", ")
    }
    return jobs, outputs


def _edit_function(module: Path, name: str) -> None:
    """Add a statement at the end of function `name`: new code, the same behaviour."""
    lines = module.read_text().splitlines(keepends=True)
    tree = ast.parse("".join(lines))
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    lines.insert(function.end_lineno, " " * function.body[0].col_offset + "pass\n")
    module.write_text("".join(lines))


@pytest.mark.slow
def test_an_edit_reruns_only_what_it_touches(two_runs: tuple[Path, Path]) -> None:
    workdir = two_runs[1]
    figures = sorted(str(p.relative_to(workdir)) for p in (workdir / "results" / "figures").rglob("*.png"))
    assert len(figures) >= 20, figures

    # Every figure is a target of its own, drawn by one job of a plotting rule (forced, in a dry run).
    jobs, outputs = _planned(_snakemake(workdir, "-n", "--forcerun", *figures, "--", *figures))
    assert set(figures) <= outputs
    assert sum(jobs.values()) == len(figures), jobs
    assert all(rule.startswith("plot_") or rule == "measure_agreement" for rule in jobs), jobs

    # Captions are read by the report only: editing them plans nothing. Editing one plotting function
    # plans its figure alone (each figure's rule carries the hash of its own code).
    for caption in ("directions_figure.rst", "agent_figure.rst"):
        path = workdir / "workflow" / "report" / caption
        path.write_text(path.read_text() + "\nOne more sentence of caption.\n")
    plots = workdir / "workflow" / "agent_affect" / "plots"
    _edit_function(plots / "directions.py", "plot_trajectory")
    _edit_function(plots / "agent.py", "plot_dose_response")
    jobs, outputs = _planned(_snakemake(workdir, "-n"))
    assert outputs == {
        "results/figures/directions/tiny/trajectory.png",
        "results/figures/agent/tiny/dose_response.png",
    }, outputs
    assert jobs.keys() - {"all"} == {"plot_directions_figure", "plot_agent_figure"}, jobs
