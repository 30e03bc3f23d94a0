"""What a run was made from: package versions, model and dataset revisions, the config hash, the commit.

The Snakefile's `onsuccess` handler writes one file per successful run (results/provenance/run-<UTC>.json)
and results/provenance/latest.json, so any table can be traced to the exact inputs and code behind it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def config_sha256(config: Mapping[str, Any]) -> str:
    """Hash of the resolved config (defaults filled in), independent of key order and file layout."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def package_versions() -> dict[str, str]:
    return {
        dist.metadata["Name"].lower(): dist.version
        for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"].lower())
        if dist.metadata["Name"]
    }


def git_state(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=20, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def model_revisions(results: Path) -> dict[str, Any]:
    """Every prepared model's spec and source revision (a Hub commit or the converted file's sha256)."""
    models = {}
    for record in sorted((results / "models").glob("*/agent_affect_model.json")):
        data = json.loads(record.read_text())
        models[record.parent.name] = {
            "spec": data.get("spec"),
            "source": {
                k: v for k, v in (data.get("source") or {}).items() if k in ("sha256", "revision", "repo")
            },
        }
    return models


def dataset_revisions(results: Path) -> dict[str, Any]:
    """The Hub manifests of the run: each dataset's repo and resolved commit."""
    datasets = {}
    for manifest in (results / "hub" / "manifest.json", results / "published" / "manifest.json"):
        if manifest.is_file():
            data = json.loads(manifest.read_text())
            rows = data if isinstance(data, list) else data.get("datasets", [data])
            datasets[str(manifest.relative_to(results))] = [
                {
                    k: row.get(k)
                    for k in ("repo", "revision", "resolved_revision", "commit", "included")
                    if k in row
                }
                for row in rows
                if isinstance(row, dict)
            ]
    return datasets


def collect(
    config: Mapping[str, Any], repo: Path | str = ".", results: Path | str = "results"
) -> dict[str, Any]:
    repo, results = Path(repo), Path(results)
    return {
        "written": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config_sha256": config_sha256(config),
        "config": config,
        "git": git_state(repo),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "models": model_revisions(results),
        "datasets": dataset_revisions(results),
    }


def write(config: Mapping[str, Any], repo: Path | str = ".", results: Path | str = "results") -> Path:
    """Write results/provenance/run-<UTC>.json and latest.json; return the run file."""
    record = collect(config, repo, results)
    folder = Path(results) / "provenance"
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"
    run = folder / f"run-{record['written'].replace(':', '')}.json"
    run.write_text(text)
    (folder / "latest.json").write_text(text)
    return run
