"""Score any text or chat against stored directions, and the five-stage failure trajectory.

A text is read like the stories (mean from `skip_tokens` on); a chat at the assistant's turn (the
header tokens the chat template adds for the reply), which is where the model is about to answer.
Projection = (h - center) . v with v a unit direction; cosine = cos(h - center, v).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from agent_affect.analysis.stats import bootstrap_statistic
from agent_affect.directions.activations import encode, read_means
from agent_affect.directions.stimuli import StimulusError, load_trajectory, read_jsonl
from agent_affect.directions.store import DirectionSet

log = logging.getLogger(__name__)


def read_items(path: Path | str) -> list[dict[str, Any]]:
    """Lines of ``{"id", "text"}`` or ``{"id", "messages"}``."""
    items = []
    for record in read_jsonl([Path(path)], ("id",)):
        if ("text" in record.data) == ("messages" in record.data):
            raise StimulusError(
                f"{record.source}: give exactly one of text or messages (id {record['id']!r})"
            )
        if "text" in record.data and not isinstance(record["text"], str):
            raise StimulusError(f"{record.source}: text must be a string (id {record['id']!r})")
        items.append(dict(record.data))
    return items


def project(
    directions: Sequence[DirectionSet],
    model: Any,
    tokenizer: Any,
    items: Sequence[Mapping[str, Any]],
    skip_tokens: int = 8,
    chat_template: bool = False,
    batch_size: int = 16,
) -> pl.DataFrame:
    """One row per item, direction set and emotion: layer, projection, cosine, and the predicted emotion
    (highest cosine within that set). Every set is read at its chosen layer, all in one pass."""
    encoded = [
        encode(tokenizer, item["messages"], True)
        if "messages" in item
        else encode(tokenizer, item["text"], chat_template)
        for item in items
    ]
    layers = sorted({d.layer() for d in directions})
    reads = read_means(model, tokenizer, encoded, layers, skip_tokens, batch_size, progress=len(items) > 64)
    rows = []
    for directions_ in directions:
        layer = directions_.layer()
        h = reads.means[:, layers.index(layer)].numpy()
        vectors = directions_.vectors[layer].numpy()
        centered = h - directions_.centers[layer].numpy()
        projections = centered @ vectors.T
        cosines = projections / np.maximum(np.linalg.norm(centered, axis=1, keepdims=True), 1e-12)
        predicted = np.array(directions_.emotions)[cosines.argmax(1)]
        for i, item in enumerate(items):
            for j, emotion in enumerate(directions_.emotions):
                rows.append(
                    {
                        "id": item["id"],
                        "method": directions_.method,
                        "layer": layer,
                        "emotion": emotion,
                        "projection": float(projections[i, j]),
                        "cosine": float(cosines[i, j]),
                        "predicted": str(predicted[i]),
                    }
                )
    return pl.DataFrame(rows)


def probe_file(
    directions_paths: Sequence[Path | str],
    model_dir: Path | str,
    texts: Path | str,
    out: Path | str,
    skip_tokens: int | None = None,
    batch_size: int = 16,
) -> pl.DataFrame:
    """`agent-affect probe`: score a JSONL file, write a CSV (or parquet by suffix)."""
    from agent_affect.models.loading import load_model

    sets = [DirectionSet.load(p) for p in directions_paths]
    settings = sets[0].details.get("settings", {})
    model, tokenizer = load_model(model_dir)
    table = project(
        sets,
        model,
        tokenizer,
        read_items(texts),
        skip_tokens=settings.get("skip_tokens", 8) if skip_tokens is None else skip_tokens,
        chat_template=settings.get("chat_template", False),
        batch_size=batch_size,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out) if out.suffix == ".parquet" else table.write_csv(out)
    return table


def trajectory(
    directions_paths: Sequence[Path | str],
    model_dir: Path | str,
    trajectory_file: Path | str,
    out_dir: Path | str,
    seed: int = 0,
    n_boot: int = 2000,
) -> pl.DataFrame:
    """Project the failure-trajectory chats (read at the assistant's turn) onto every direction.

    Writes out_dir/trajectory.parquet (one row per chat, method and emotion) and
    out_dir/trajectory_summary.csv: mean projection per method, emotion, stage and kind with a bootstrap
    CI, and the failure-minus-control difference over matched pairs with its CI.
    """
    from agent_affect.models.loading import load_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chats = load_trajectory(trajectory_file)
    sets = [DirectionSet.load(p) for p in directions_paths]
    model, tokenizer = load_model(model_dir)
    table = project(sets, model, tokenizer, [{"id": c["id"], "messages": c["messages"]} for c in chats])
    meta = pl.DataFrame(
        [
            {
                "id": c["id"],
                "stage": int(c["stage"]),
                "stage_name": c["stage_name"],
                "kind": c["kind"],
                "pair": c.get("pair"),
                "task": c.get("task"),
            }
            for c in chats
        ],
        schema_overrides={"pair": pl.String, "task": pl.String},
    )
    table = table.join(meta, on="id", how="left", maintain_order="left")
    table.write_parquet(out_dir / "trajectory.parquet")
    summary = summarise_trajectory(table, seed, n_boot)
    summary.write_csv(out_dir / "trajectory_summary.csv")
    (out_dir / "trajectory.json").write_text(
        json.dumps({"n_chats": len(chats), "methods": [s.method for s in sets]}, indent=2) + "\n"
    )
    return summary


def summarise_trajectory(table: pl.DataFrame, seed: int = 0, n_boot: int = 2000) -> pl.DataFrame:
    rows = []

    def mean_ci(values: np.ndarray, key: str) -> tuple[float, float, float]:
        low, high = bootstrap_statistic(values, lambda d: d.mean(1), n_boot=n_boot, seed=seed, key=key)
        return float(values.mean()) if values.size else float("nan"), low, high

    for (method, emotion, stage), group in table.group_by(
        ["method", "emotion", "stage"], maintain_order=True
    ):
        stage_name = group["stage_name"][0]
        for kind in ("failure", "control"):
            values = group.filter(pl.col("kind") == kind)["projection"].to_numpy()
            mean, low, high = mean_ci(values, f"{method}/{emotion}/{stage}/{kind}")
            rows.append(
                {
                    "method": method,
                    "emotion": emotion,
                    "stage": stage,
                    "stage_name": stage_name,
                    "what": kind,
                    "n": int(values.size),
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
        failures = group.filter(pl.col("kind") == "failure").select("id", "projection")
        controls = group.filter(pl.col("kind") == "control").select(
            pl.col("pair").alias("id"), pl.col("projection").alias("control")
        )
        paired = failures.join(controls, on="id", how="inner", maintain_order="left")
        diffs = (paired["projection"] - paired["control"]).to_numpy()
        mean, low, high = mean_ci(diffs, f"{method}/{emotion}/{stage}/diff")
        rows.append(
            {
                "method": method,
                "emotion": emotion,
                "stage": stage,
                "stage_name": stage_name,
                "what": "failure - control",
                "n": int(diffs.size),
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pl.DataFrame(rows).sort(["method", "emotion", "stage", "what"])
