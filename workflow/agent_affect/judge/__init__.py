"""The structured-output sentiment judge: every developer message gets {label, reason} that parses.

    summary = run_label(config["judge"], "results/traces/user_messages.parquet",
                        "results/judge/labelled.parquet", "results/judge/cache",
                        model_dir="results/models/SmolLM2-135M-Instruct")

Modules: `prompts` (system prompt, schema, hashes, answer parsing), `constrained` (xgrammar over
transformers), `backends` (in-process and OpenAI-compatible HTTP), `server` (start/stop a server),
`cache` (parquet shards), `label` (the labelling run and its config). Names resolve lazily, so
importing the package (for config validation) imports neither torch nor xgrammar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_affect._lazy import lazy_exports
from agent_affect.labels import ERROR, cut

_MODULES = {
    "prompts": ("JudgePrompt", "JudgePromptError", "JudgeResult"),
    "backends": ("HttpBackend", "JudgeBackend", "JudgeServerError", "TransformersBackend"),
    "server": ("JudgeServerStartError", "managed_server"),
    "cache": ("JudgeCache",),
    "label": (
        "DEFAULT_CONFIG",
        "build_backend",
        "judge_config",
        "judge_server",
        "judge_texts",
        "label_messages",
        "run_label",
    ),
}

__all__ = [
    "DEFAULT_CONFIG",
    "ERROR",
    "HttpBackend",
    "JudgeBackend",
    "JudgeCache",
    "JudgePrompt",
    "JudgePromptError",
    "JudgeResult",
    "JudgeServerError",
    "JudgeServerStartError",
    "TransformersBackend",
    "build_backend",
    "cut",
    "judge_config",
    "judge_server",
    "judge_texts",
    "label_messages",
    "managed_server",
    "run_label",
]

if TYPE_CHECKING:
    from agent_affect.judge.backends import HttpBackend, JudgeBackend, JudgeServerError, TransformersBackend
    from agent_affect.judge.cache import JudgeCache
    from agent_affect.judge.label import (
        DEFAULT_CONFIG,
        build_backend,
        judge_config,
        judge_server,
        judge_texts,
        label_messages,
        run_label,
    )
    from agent_affect.judge.prompts import JudgePrompt, JudgePromptError, JudgeResult
    from agent_affect.judge.server import JudgeServerStartError, managed_server

__getattr__ = lazy_exports(__name__, _MODULES)
