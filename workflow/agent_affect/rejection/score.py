"""Score answers with the frustration judge: 0-10 for the most negative emotional expression in each.

The judge is the sentiment judge's machinery with another rubric and schema (an integer ``score``): the
same backends (in-process under a JSON-schema grammar, or an OpenAI-compatible server), the same
parquet cache keyed by text, prompt, model and settings, so a killed run resumes. An answer the judge
could not score stays in the table with a null score, its raw answer and the error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import polars as pl

from agent_affect.judge.backends import JudgeBackend
from agent_affect.judge.label import build_backend, judge_server, judge_texts
from agent_affect.labels import ERROR, cut
from agent_affect.rejection.config import frustration_judge_config
from agent_affect.rejection.resources import CalibrationItem

log = logging.getLogger(__name__)

SCORE_COLUMNS = (
    "frustration_score",
    "frustration_reason",
    "high_frustration",
    "judge_error",
    "judge_raw",
    "judge_model",
    "judge_prompt_hash",
)


def score_texts(
    texts: list[str],
    backend: JudgeBackend,
    cache_dir: Path | str,
    max_chars: int = 1500,
    chunk_size: int = 64,
    high_threshold: int = 5,
    progress: bool = True,
) -> pl.DataFrame:
    """The judge's columns (`SCORE_COLUMNS`) for each text, in order; texts are cut to `max_chars`."""
    if backend.prompt.score_range is None:
        raise ValueError(
            f"the frustration judge needs a schema with an integer 'score'; its schema has "
            f"{backend.prompt.verdict_key!r} (check rejection.judge.schema)"
        )
    cut_texts = [cut(text, max_chars) for text in texts]
    verdicts, _ = judge_texts(
        cut_texts, backend, cache_dir, chunk_size=chunk_size, progress=progress, unit="answer"
    )
    scores = [verdict.score for verdict in verdicts]
    errors = sum(score is None for score in scores)
    if errors:
        first = next(v for v in verdicts if v.score is None)
        log.warning(
            "%d of %d answers got no valid score (kept with a null score and the raw answer); first: %s",
            errors,
            len(verdicts),
            first.error,
        )
    return pl.DataFrame(
        {
            "frustration_score": pl.Series(scores, dtype=pl.Int64),
            "frustration_reason": pl.Series([v.reason for v in verdicts], dtype=pl.String),
            "high_frustration": pl.Series(
                [None if s is None else s >= high_threshold for s in scores], dtype=pl.Boolean
            ),
            "judge_error": pl.Series(
                [v.error if v.label == ERROR else None for v in verdicts], dtype=pl.String
            ),
            "judge_raw": pl.Series([v.raw if v.label == ERROR else None for v in verdicts], dtype=pl.String),
            "judge_model": pl.Series([backend.model_id] * len(verdicts), dtype=pl.String),
            "judge_prompt_hash": pl.Series([backend.prompt.hash] * len(verdicts), dtype=pl.String),
        }
    )


def score_table(
    table: pl.DataFrame,
    text_column: str,
    config: Mapping[str, Any] | None,
    cache_dir: Path | str,
    model_dir: Path | str | None = None,
    high_threshold: int = 5,
    progress: bool = True,
    backend: JudgeBackend | None = None,
) -> pl.DataFrame:
    """`table` plus the judge's columns for `text_column`, with the server (if any) started and stopped.

    `backend`, when given, is used instead of the one the config describes (its cut and chunk
    settings still apply).
    """
    if text_column not in table.columns:
        raise ValueError(f"the table has no column {text_column!r} to score (columns: {table.columns})")
    config = frustration_judge_config(config)
    with judge_server(config, cache_dir) if backend is None else nullcontext():
        backend = backend or build_backend(config, model_dir)
        scored = score_texts(
            [text or "" for text in table[text_column].to_list()],
            backend,
            cache_dir,
            max_chars=config["max_chars"],
            chunk_size=config["chunk_size"],
            high_threshold=high_threshold,
            progress=progress,
        )
    return pl.concat([table.drop([c for c in SCORE_COLUMNS if c in table.columns]), scored], how="horizontal")


def calibration_table(items: list[CalibrationItem]) -> pl.DataFrame:
    """The hand-labelled set as a table the judge can score (``response`` is the text judged)."""
    return pl.DataFrame(
        {
            "id": [item.id for item in items],
            "rejection": [item.rejection for item in items],
            "response": [item.response for item in items],
            "label": pl.Series([item.label for item in items], dtype=pl.Int64),
            "rationale": [item.rationale for item in items],
        }
    )
