"""Label every developer message POSITIVE / NEUTRAL / NEGATIVE (or ERROR) and keep the verdicts.

`label_messages` does the work for any backend; `run_label` builds the backend from the config's
``judge:`` section (starting and stopping a server when one is configured) and calls it. Other judges
(the frustration judge of `agent_affect.rejection`) reuse `judge_config` with their own defaults,
`judge_server`, `build_backend` and `judge_texts`.
"""

from __future__ import annotations

import copy
import logging
import os
import shlex
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import polars as pl
from tqdm.auto import tqdm

from agent_affect.judge.backends import RESPONSE_FORMATS, HttpBackend, JudgeBackend, TransformersBackend
from agent_affect.judge.cache import JudgeCache
from agent_affect.judge.prompts import JudgePrompt, JudgeResult, settings_hash, text_sha256
from agent_affect.labels import ERROR, cut

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("sentiment_label", "sentiment_reason", "judge_raw", "judge_model", "judge_prompt_hash")

# The `judge:` section of the config, with its defaults.
DEFAULT_CONFIG: dict[str, Any] = {
    "backend": "transformers",  # transformers (in-process, xgrammar) | http (OpenAI-compatible server)
    "model_dir": None,  # transformers: the prepared model folder (run_label's model_dir wins)
    "prompt": "resources/prompts/sentiment_judge.md",
    "schema": "resources/prompts/sentiment_judge.schema.json",
    "label_only": False,  # constrain answers to {"label"} alone: faster, no reasons
    "max_chars": 512,  # messages are cut to this many characters, as in the published run
    "max_new_tokens": None,  # None: the longest answer the schema allows, so no answer is ever cut
    "temperature": 0.0,  # 0 is greedy; above 0 samples, seeded
    "seed": 0,
    "batch_size": 16,  # transformers: messages per forward batch
    "chunk_size": 64,  # messages per cache shard: the most a killed run can lose
    "device": None,  # transformers: cpu, cuda, cuda:1; None picks CUDA when available
    "dtype": None,  # transformers: bfloat16 (None) or float32
    "http": {
        "base_url": "http://127.0.0.1:8000",
        "model": None,  # the served model name; None asks the server (GET /v1/models)
        "server_command": None,  # a list (or string) to start the server; None uses a running one
        "response_format": "auto",  # json_schema (vLLM, SGLang) | json_object (llama.cpp) | auto
        "concurrency": 8,
        "timeout_s": 120,
        "retries": 5,
        "backoff_s": 1.0,
        "health_timeout_s": 600,
        "api_key_env": None,  # the environment variable holding the server's API key, if it wants one
    },
}


def judge_config(
    config: Mapping[str, Any] | None, defaults: Mapping[str, Any] | None = None, where: str = "judge"
) -> dict[str, Any]:
    """The ``judge:`` section with defaults filled in; unknown keys and bad values are refused.

    `defaults` (same keys as `DEFAULT_CONFIG`) and `where` (the section's name in error messages) let
    another judge share the format with its own prompt and schema.
    """
    merged = copy.deepcopy(dict(defaults or DEFAULT_CONFIG))
    config = dict(config or {})
    http = dict(config.pop("http", None) or {})
    for section, given, known in ((where, config, merged), (f"{where}.http", http, merged["http"])):
        unknown = set(given) - set(known)
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)} in {section}; known: {sorted(known)}")
        known.update(given)
    if merged["backend"] not in ("transformers", "http"):
        raise ValueError(f"{where}.backend must be 'transformers' or 'http', got {merged['backend']!r}")
    if merged["http"]["response_format"] not in RESPONSE_FORMATS:
        raise ValueError(
            f"{where}.http.response_format must be one of {RESPONSE_FORMATS}, got "
            f"{merged['http']['response_format']!r}"
        )
    for key in ("max_chars", "max_new_tokens", "batch_size", "chunk_size"):
        if key == "max_new_tokens" and merged[key] is None:
            continue
        if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < 1:
            raise ValueError(f"{where}.{key} must be an integer >= 1, got {merged[key]!r}")
    if not isinstance(merged["temperature"], int | float) or merged["temperature"] < 0:
        raise ValueError(f"{where}.temperature must be a number >= 0, got {merged['temperature']!r}")
    return merged


def build_prompt(config: Mapping[str, Any]) -> JudgePrompt:
    """The prompt a (filled-in) judge config names, reduced to the label alone when ``label_only``."""
    prompt = JudgePrompt.load(config["prompt"], config["schema"])
    return prompt.label_only() if config["label_only"] else prompt


def build_backend(config: Mapping[str, Any], model_dir: Path | str | None = None) -> JudgeBackend:
    """The backend a judge config names. An http backend expects its server up (see `run_label`)."""
    config = judge_config(config)
    prompt = build_prompt(config)
    decoding = {
        "max_new_tokens": config["max_new_tokens"],
        "temperature": float(config["temperature"]),
        "seed": config["seed"],
    }
    if config["backend"] == "http":
        http = config["http"]
        return HttpBackend(
            http["base_url"],
            prompt,
            model=http["model"],
            response_format=http["response_format"],
            concurrency=http["concurrency"],
            timeout_s=http["timeout_s"],
            retries=http["retries"],
            backoff_s=http["backoff_s"],
            api_key=_api_key(http["api_key_env"]),
            **decoding,
        )
    folder = model_dir or config["model_dir"]
    if folder is None:
        raise ValueError(
            "the transformers judge needs a model folder: set judge.model_dir or pass model_dir "
            "(prepare one with `agent-affect prepare-model`)"
        )
    return TransformersBackend.load(
        folder,
        prompt,
        device=config["device"],
        dtype=config["dtype"],
        batch_size=config["batch_size"],
        **decoding,
    )


def _api_key(variable: str | None) -> str | None:
    if variable is None:
        return None
    if not os.environ.get(variable):
        raise ValueError(f"judge.http.api_key_env names {variable!r}, which is not set in the environment")
    return os.environ[variable]


def run_label(
    config: Mapping[str, Any] | None,
    messages_path: Path | str,
    out_path: Path | str,
    cache_dir: Path | str,
    model_dir: Path | str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Label `messages_path` (a user_messages parquet) into `out_path`, as the config's judge says.

    `config` is the ``judge:`` section. With ``backend: http`` and a ``server_command`` the server is
    started first and stopped after (its log is ``cache_dir/server.log``). Returns `label_messages`'s
    summary.
    """
    config = judge_config(config)
    messages = pl.read_parquet(messages_path)
    with judge_server(config, cache_dir):
        backend = build_backend(config, model_dir)
        return label_messages(
            messages,
            backend,
            cache_dir,
            out_path,
            max_chars=config["max_chars"],
            chunk_size=config["chunk_size"],
            progress=progress,
        )


def judge_server(config: Mapping[str, Any], cache_dir: Path | str) -> AbstractContextManager[Any]:
    """Start and stop the configured server around a run (log ``cache_dir/server.log``); else nothing.

    `config` is a filled-in judge section (see `judge_config`).
    """
    from agent_affect.judge.server import managed_server

    if config["backend"] != "http":
        return nullcontext()
    http = config["http"]
    command = http["server_command"]
    if isinstance(command, str):
        command = shlex.split(command)
    return managed_server(
        command,
        http["base_url"],
        health_timeout_s=http["health_timeout_s"],
        log_path=Path(cache_dir) / "server.log" if command else None,
    )


def judge_texts(
    texts: list[str],
    backend: JudgeBackend,
    cache_dir: Path | str,
    chunk_size: int = 64,
    progress: bool = True,
    unit: str = "msg",
) -> tuple[list[JudgeResult], dict[str, Any]]:
    """The verdict for each (already cut) text, in order, through the cache; and counts and timing.

    Identical texts are judged once. Verdicts already in `cache_dir` for this prompt, model and
    settings are reused; new ones are cached `chunk_size` texts at a time, so a killed run loses at
    most one chunk.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    shas = [text_sha256(text) for text in texts]
    model_id = backend.model_id
    cache = JudgeCache(cache_dir, backend.prompt.hash, model_id, settings_hash(backend.settings))
    todo = list({sha: text for sha, text in zip(shas, texts, strict=True) if sha not in cache}.items())
    unique = len(set(shas))
    log.info(
        "judging %d texts (%d distinct, %d cached) with %s", len(texts), unique, unique - len(todo), model_id
    )
    started = time.monotonic()
    with tqdm(total=len(todo), unit=unit, desc=f"judge {model_id}", disable=not progress) as bar:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            results = backend.label([text for _, text in chunk], on_done=bar.update)
            if len(results) != len(chunk):
                raise RuntimeError(
                    f"the judge backend returned {len(results)} verdicts for {len(chunk)} texts"
                )
            cache.add({sha: result for (sha, _), result in zip(chunk, results, strict=True)})
    seconds = time.monotonic() - started
    verdicts = [cache.get(sha) for sha in shas]
    stats = {
        "distinct_texts": unique,
        "cached": unique - len(todo),
        "labelled": len(todo),
        "labelling_seconds": round(seconds, 3),
        "texts_per_second": round(len(todo) / seconds, 3) if todo and seconds > 0 else None,
    }
    return [verdict for verdict in verdicts if verdict is not None], stats


def label_messages(
    messages: pl.DataFrame,
    backend: JudgeBackend,
    cache_dir: Path | str,
    out_path: Path | str,
    max_chars: int = 512,
    chunk_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Write `messages` plus the judge's columns to `out_path`, in input order; return a summary.

    The judge sees ``content_text`` cut to `max_chars` characters. Identical (cut) texts are judged
    once. Verdicts already in `cache_dir` for this prompt, model and settings are reused; new ones are
    cached `chunk_size` messages at a time, so a killed run loses at most one chunk. Added columns:
    ``sentiment_label`` (a schema label or ERROR), ``sentiment_reason`` (null for ERROR and label-only),
    ``judge_raw`` (the raw answer, for ERROR rows only; null otherwise), ``judge_model`` and
    ``judge_prompt_hash``.
    """
    if "content_text" not in messages.columns:
        raise ValueError(f"the messages table has no content_text column (columns: {messages.columns})")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    started = time.monotonic()
    texts = [cut(text, max_chars) for text in messages["content_text"].to_list()]
    model_id, prompt_hash = backend.model_id, backend.prompt.hash
    verdicts, stats = judge_texts(texts, backend, cache_dir, chunk_size=chunk_size, progress=progress)
    table = messages.with_columns(
        pl.Series("sentiment_label", [v.label for v in verdicts], dtype=pl.String),
        pl.Series("sentiment_reason", [v.reason for v in verdicts], dtype=pl.String),
        pl.Series("judge_raw", [v.raw if v.label == ERROR else None for v in verdicts], dtype=pl.String),
        pl.lit(model_id, dtype=pl.String).alias("judge_model"),
        pl.lit(prompt_hash, dtype=pl.String).alias("judge_prompt_hash"),
    )
    _write_atomically(table, Path(out_path))
    _report_errors(messages, verdicts)
    counts = Counter(v.label for v in verdicts)
    return {
        "messages": len(texts),
        "distinct_texts": stats["distinct_texts"],
        "cached": stats["cached"],
        "labelled": stats["labelled"],
        "errors": counts.get(ERROR, 0),
        "labels": dict(sorted(counts.items())),
        "judge_model": model_id,
        "judge_prompt_hash": prompt_hash,
        "settings": backend.settings,
        "labelling_seconds": stats["labelling_seconds"],
        "messages_per_second": stats["texts_per_second"],
        "seconds": round(time.monotonic() - started, 3),
        "out": str(out_path),
    }


def _write_atomically(table: pl.DataFrame, out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        table.write_parquet(tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def _report_errors(messages: pl.DataFrame, verdicts: list[JudgeResult]) -> None:
    rows = [i for i, v in enumerate(verdicts) if v.label == ERROR]
    if not rows:
        return
    ids = messages["id"].to_list() if "id" in messages.columns else list(range(len(messages)))
    examples = "; ".join(f"row {i} (id {ids[i]}): {verdicts[i].error}" for i in rows[:5])
    log.warning(
        "%d of %d messages got no valid verdict and are labelled %s (raw answers in judge_raw). First: %s",
        len(rows),
        len(verdicts),
        ERROR,
        examples,
    )
