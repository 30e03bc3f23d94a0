"""The agent loop end to end on a tiny random-init model (float32) with tiny directions: matched seeds
across conditions, the unsteered and steered reads, and resuming from per-task shards."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch

from agent_affect.agent import loop
from agent_affect.directions.store import DirectionSet

LAYER, UNIT = 1, 10.0
CONFIG = {
    "tasks": ["gcd", "fibonacci"],
    "samples": 2,
    "attempts": 2,
    "tones": ["neutral", "harsh"],
    "max_new_tokens": 6,
    "temperature": 1.0,
    "top_p": 1.0,
    "emotions": ["desperate"],
    # A zero-strength direction adds a zero vector: it must reproduce the baseline exactly.
    "strengths": [0.0, 0.5],
    "sae_emotions": ["desperate"],
    "sae_strengths": [0.5],
    "device": "cpu",
    "dtype": "float32",
    "batch_size": 16,  # smaller than a step's rows, so that steps are split into several batches
}


@pytest.fixture(scope="module")
def tiny_dir(tiny_model) -> Path:
    return tiny_model(layers=3, seed=0)


@pytest.fixture(scope="module")
def directions_dir(tmp_path_factory) -> Path:
    """Unit directions for two emotions at layer 1 (steering unit 10), and an SAE set of the same shape."""
    root = tmp_path_factory.mktemp("directions")
    generator = torch.Generator().manual_seed(0)
    for method, path in (("anthropic", root / "anthropic"), ("sae", root / "sae" / "sae")):
        vectors = torch.nn.functional.normalize(torch.randn(2, 64, generator=generator), dim=-1)
        DirectionSet(
            method, ("calm", "desperate"), {LAYER: vectors}, {LAYER: torch.zeros(64)}, {LAYER: UNIT}, LAYER
        ).save(path)
    return root


@pytest.fixture(scope="module")
def first_run(tiny_dir, directions_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("agent")
    summary = loop.run_agent(tiny_dir, directions_dir, out / "attempts.parquet", out / "shards", CONFIG)
    return out, summary, pl.read_parquet(out / "attempts.parquet")


def test_every_condition_and_control_runs_every_attempt(first_run) -> None:
    _, summary, table = first_run
    names = [c.name for c in loop.conditions(loop.agent_config(CONFIG))]
    assert names == [
        "baseline",
        "desperate+0",
        "random[desperate]+0",
        "desperate+0.5",
        "random[desperate]+0.5",
        "prompt:calm",
        "sae:desperate+0.5",
    ]
    assert summary["conditions"] == len(names)
    # Noise never passes a visible test, so every dialogue uses every attempt.
    assert table.height == 2 * 2 * 2 * len(names) * 2
    assert set(table["condition"]) == set(names)
    assert table.filter(pl.col("task") == "gcd")["impossible"].all()


def test_seeds_are_matched_across_conditions_and_differ_across_samples(first_run) -> None:
    _, _, table = first_run
    per_cell = table.group_by("task", "sample", "tone", "attempt").agg(pl.col("seed").n_unique().alias("k"))
    assert per_cell["k"].max() == 1
    cells = table.select("task", "sample", "tone", "attempt", "seed").unique()
    assert cells["seed"].n_unique() == cells.height
    # The zero-strength direction (and the zero random control) write the baseline's text word for word,
    # at every attempt: nothing but the condition differs between matched rows.
    keys = ["task", "sample", "tone", "attempt"]
    base = table.filter(pl.col("condition") == "baseline").select(*keys, "response")
    for zero in ("desperate+0", "random[desperate]+0"):
        pairs = table.filter(pl.col("condition") == zero).select(*keys, "response").join(base, on=keys)
        assert pairs.height == 16 and (pairs["response"] == pairs["response_right"]).all(), zero
    # A real push changes some text of a matched row.
    pushed = (
        table.filter(pl.col("condition") == "desperate+0.5").select(*keys, "response").join(base, on=keys)
    )
    assert (pushed["response"] != pushed["response_right"]).any()


def test_steered_read_is_the_unsteered_read_plus_the_push(first_run) -> None:
    _, _, table = first_run
    first = table.filter(pl.col("attempt") == 1)
    baseline = first.filter(pl.col("condition") == "baseline")
    assert (baseline["steered_desperate"] - baseline["unsteered_desperate"]).abs().max() == 0.0
    # Read at the steering layer, the push along a unit direction adds strength x unit to its projection.
    pushed = first.filter(pl.col("condition") == "desperate+0.5")
    delta = (pushed["steered_desperate"] - pushed["unsteered_desperate"]).to_numpy()
    assert delta == pytest.approx(0.5 * UNIT, abs=1e-3)
    # The equal-norm random control moves the desperate read by its cosine only, not by the whole push.
    control = first.filter(pl.col("condition") == "random[desperate]+0.5")
    moved = (control["steered_desperate"] - control["unsteered_desperate"]).abs().max()
    assert moved < 0.5 * UNIT * 0.5


def test_a_finished_run_resumes_from_its_shards(first_run, tiny_dir, directions_dir, monkeypatch) -> None:
    out, summary, table = first_run
    shards = sorted((out / "shards").glob("*.parquet"))
    assert [s.name.split(".")[0] for s in shards] == ["fibonacci", "gcd"]
    calls = []
    real = loop.run_task

    def counting(model, tokenizer, task, *args, **kwargs):
        calls.append(task.id)
        return real(model, tokenizer, task, *args, **kwargs)

    monkeypatch.setattr(loop, "run_task", counting)
    again = out / "again.parquet"
    loop.run_agent(tiny_dir, directions_dir, again, out / "shards", CONFIG)
    assert calls == []  # every task came from its shard
    assert pl.read_parquet(again).equals(table)
    # A run killed after one task: the other task alone runs again, and the table is the same.
    next(s for s in shards if s.name.startswith("gcd")).unlink()
    loop.run_agent(tiny_dir, directions_dir, again, out / "shards", CONFIG)
    assert calls == ["gcd"]
    # The same bytes, not only the same values: no time is kept in a shard or the table.
    assert again.read_bytes() == (out / "attempts.parquet").read_bytes()
    timing = json.loads(again.with_suffix(".timing.json").read_text())
    assert [step["task"] for step in timing["steps"]] == ["gcd", "gcd", "fibonacci", "fibonacci"]
    assert timing["generation_seconds"] == pytest.approx(sum(step["seconds"] for step in timing["steps"]))
    # Other settings are another fingerprint: no shard of this run is reused for them.
    changed = dict(CONFIG, seed=1, tasks=["fibonacci"])
    loop.run_agent(tiny_dir, directions_dir, out / "other.parquet", out / "shards", changed)
    assert calls == ["gcd", "fibonacci"]
    assert (
        summary["fingerprint"]
        != loop.run_agent(tiny_dir, directions_dir, out / "other.parquet", out / "shards", changed)[
            "fingerprint"
        ]
    )


def test_feedback_positions_steer_only_while_the_feedback_is_read(tiny_dir, directions_dir, tmp_path) -> None:
    config = dict(
        CONFIG,
        tasks=["gcd"],
        tones=["harsh"],
        samples=2,
        strengths=[2.0],
        random_control=False,
        prompt_baseline=False,
        sae_emotions=[],
        positions="feedback",
    )
    loop.run_agent(tiny_dir, directions_dir, tmp_path / "a.parquet", tmp_path / "shards", config)
    table = pl.read_parquet(tmp_path / "a.parquet")
    keys = ["sample", "attempt"]
    pairs = (
        table.filter(pl.col("condition") == "desperate+2")
        .select(*keys, "response", "steered_desperate")
        .join(table.filter(pl.col("condition") == "baseline").select(*keys, "response"), on=keys)
        .sort(keys)
    )
    first = pairs.filter(pl.col("attempt") == 1)
    # No feedback turn yet at the first attempt: nothing is steered, the text is the baseline's.
    assert (first["response"] == first["response_right"]).all()
    # From the second attempt the model reads a steered feedback turn, and writes something else.
    second = pairs.filter(pl.col("attempt") == 2)
    assert (second["response"] != second["response_right"]).any()
    # Generated tokens are never steered in this mode; read at the steering layer itself, where only
    # the feedback positions were pushed, the generated tokens' residuals are untouched.
    reads = table.filter(pl.col("condition") == "desperate+2")
    assert (reads["steered_desperate"] - reads["unsteered_desperate"]).abs().max() == 0.0


def test_one_condition_at_a_time_writes_what_the_batched_run_writes(
    first_run, tiny_dir, directions_dir, tmp_path
) -> None:
    """The published harness's order (one condition after another) and ours (every condition of an
    attempt step in one batch, each row its own vector and seed) give the same text for the same seeds,
    attempt by attempt, and the same verdicts and reads (float32)."""
    _, _, batched = first_run
    loop.run_agent(
        tiny_dir,
        directions_dir,
        tmp_path / "seq.parquet",
        tmp_path / "shards",
        dict(CONFIG, batching="condition"),
    )
    sequential = pl.read_parquet(tmp_path / "seq.parquet")
    keys = ["task", "tone", "sample", "condition", "attempt"]
    assert sequential.select(keys).equals(batched.select(keys))
    assert (sequential["response"] == batched["response"]).all()
    assert (sequential["status"] == batched["status"]).all()
    reads = [c for c in batched.columns if c.startswith(("unsteered_", "steered_"))]
    for column in reads:
        assert sequential[column].to_numpy() == pytest.approx(batched[column].to_numpy(), abs=1e-4), column


def test_unknown_settings_and_limits_fail_before_the_run() -> None:
    with pytest.raises(ValueError, match="batching"):
        loop.agent_config({"batching": "row"})
    with pytest.raises(ValueError, match="unknown sandbox limits"):
        loop.agent_config({"limits": {"wall_seconds": 5}})
    assert loop.agent_config({"limits": {"wall_s": 5}})["limits"] == {"wall_s": 5}
