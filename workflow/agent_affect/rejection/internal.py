"""Internal frustration: each dialogue answer read inside the model, turn by turn.

Every answer (every condition, arm and turn) is put back in its context, the prompt the model answered
plus the answer's tokens, and the residual stream at the directions' chosen layer is averaged over the
answer's tokens alone (`directions.activations.read_answer_means`, the agent stage's read) and projected
onto the chosen emotion directions. So the number is the model's state while it wrote the answer, not
at the header of the next turn. Answers are read without steering: for a calm-steered arm the read
says what the model's state is on its own answer, not what the steering vector adds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from agent_affect.rejection.config import internal_config, internal_emotions
from agent_affect.rejection.dialogues import render
from agent_affect.rejection.generation import encode_prompt

log = logging.getLogger(__name__)

KEY_COLUMNS = (
    "id",
    "arm",
    "dialogue_id",
    "condition",
    "condition_kind",
    "tone",
    "question_id",
    "question_kind",
    "sample",
    "turn",
)
PREFIX = "internal_"


def answer_sequences(
    tokenizer: Any, messages: Sequence[str], chat: bool | None = None
) -> tuple[list[list[int]], list[int]]:
    """Per row (its messages as JSON, ending with the answer): the token ids of the prompt the model
    answered followed by the answer, and the answer's token count."""
    sequences, lengths = [], []
    for text in messages:
        history = json.loads(text)
        if not history or history[-1]["role"] != "assistant":
            raise ValueError(f"messages do not end with the assistant's answer: {text[:120]!r}")
        prompt = encode_prompt(tokenizer, render(tokenizer, history[:-1], chat=chat))
        answer = tokenizer(history[-1]["content"], add_special_tokens=False)["input_ids"]
        sequences.append(prompt + list(answer))
        lengths.append(len(answer))
    return sequences, lengths


def read_internal(
    model: Any,
    tokenizer: Any,
    dialogues: pl.DataFrame,
    directions: Any,
    emotions: Sequence[str],
    batch_size: int = 16,
    chat: bool | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """One row per answer: its keys, ``answer_tokens``, and ``internal_<emotion>`` per direction."""
    from agent_affect.directions.activations import project_means, read_answer_means

    sequences, lengths = answer_sequences(tokenizer, dialogues["messages"].to_list(), chat)
    # Longest first, so that a batch pads little; the read does not depend on the batch.
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    layer = directions.layer()
    means, n_read = read_answer_means(
        model,
        tokenizer,
        [sequences[i] for i in order],
        [lengths[i] for i in order],
        layer,
        batch_size,
        progress=progress,
    )
    projections = project_means(means, directions, layer)
    columns = [directions.emotions.index(e) for e in emotions]
    values = projections[:, columns]
    restored = values.clone()
    restored[order] = values
    counts = n_read.clone()
    counts[order] = n_read
    keys = [c for c in KEY_COLUMNS if c in dialogues.columns]
    return dialogues.select(keys).with_columns(
        pl.Series("answer_tokens", counts.tolist(), dtype=pl.Int64),
        pl.lit(directions.method).alias("method"),
        pl.lit(layer).alias("layer"),
        *[
            pl.Series(f"{PREFIX}{emotion}", restored[:, j].tolist(), dtype=pl.Float64)
            for j, emotion in enumerate(emotions)
        ],
    )


def run_internal(
    config: Mapping[str, Any] | None,
    dialogues_path: Path | str,
    model_dir: Path | str,
    directions_dir: Path | str,
    out_path: Path | str,
) -> dict[str, Any]:
    """Load the model and the ``rejection.internal`` directions, read every answer, write the parquet."""
    from agent_affect.directions.store import DirectionSet
    from agent_affect.models import load_model
    from agent_affect.traces.tables import write_parquet

    config = internal_config(config)
    directions = DirectionSet.load(Path(directions_dir) / f"{config['method']}.safetensors")
    emotions = internal_emotions(config, directions.emotions)
    dialogues = pl.read_parquet(dialogues_path)
    model, tokenizer = load_model(model_dir, device=config["device"], dtype=config["dtype"])
    started = time.monotonic()
    table = read_internal(model, tokenizer, dialogues, directions, emotions, config["batch_size"])
    seconds = time.monotonic() - started
    write_parquet(table, Path(out_path))
    empty = int((table["answer_tokens"] == 0).sum())
    if empty:
        log.warning("%d answers have no tokens: their projections are NaN", empty)
    return {
        "rows": table.height,
        "method": directions.method,
        "layer": directions.layer(),
        "emotions": emotions,
        "empty_answers": empty,
        "seconds": round(seconds, 2),
        "out": str(out_path),
    }
