"""The ``rejection:`` section of the config: its defaults and its checks.

The Snakemake rules pass sub-sections of it to the command line as JSON; every command fills in the
defaults here, so a command run by hand needs only the keys it changes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from agent_affect.judge.label import DEFAULT_CONFIG as SENTIMENT_JUDGE_DEFAULTS
from agent_affect.judge.label import judge_config

# How the dialogues are played (rejection-run).
RUN_DEFAULTS: dict[str, Any] = {
    "questions": "resources/rejection/questions.jsonl",
    "follow_ups": "resources/rejection/rejections.yaml",
    "questions_per_kind": None,  # the first N of each kind; None: all
    "tones": ["neutral", "harsh", "disappointed", "sarcastic"],
    "controls": ["ok", "placeholder"],
    "placeholder_tone": "neutral",
    "turns": 8,
    "samples": 1,  # dialogues per (condition, question), each with its own seed
    "max_new_tokens": 64,
    "temperature": 0.7,
    "top_p": 1.0,
    "seed": 0,
    "batch_size": 64,  # dialogues per forward batch (rounded to whole questions)
    "system_prompt": None,
    "device": None,
    "dtype": None,
    # The mitigation arm: the same dialogues steered along the calm direction (and an equal-norm
    # random direction); no strengths, no arm.
    "calm_steering": {
        "method": "anthropic",
        "emotion": "calm",
        "strengths": [],  # fractions of the layer's steering unit
        "positions": "all",  # all | generated
        "conditions": ["neutral"],
        "random_control": True,
    },
}

# How the answers are read inside the model (rejection-internal): projections of the residual stream
# at the directions' chosen layer, averaged over each answer's tokens in context.
INTERNAL_DEFAULTS: dict[str, Any] = {
    "method": "anthropic",  # anthropic | mean_diff | probe
    # Directions read; None: the negative ones the set holds (NEGATIVE_EMOTIONS) and calm.
    "emotions": None,
    "primary": "frustrated",  # the direction set against the judge's score in the figures and claims
    "batch_size": 16,
    "device": None,
    "dtype": None,
}
NEGATIVE_EMOTIONS = ("frustrated", "desperate", "stressed", "angry")

# How prefilled turns are continued (rejection-prefill).
PREFILL_DEFAULTS: dict[str, Any] = {
    "starts": "resources/rejection/prefill.yaml",
    "conditions": ["neutral"],  # dialogues whose history is reused
    "after_rejections": 3,  # the prefilled turn follows this many rejections
    "max_new_tokens": 48,
    "temperature": 0.7,
    "top_p": 1.0,
    "seed": 0,
    "batch_size": 64,
    "format": "auto",  # auto (chat template when the tokenizer has one) | chat | plain
    "device": None,
    "dtype": None,
}

# The frustration judge: the sentiment judge's settings with its own rubric, and a score alone by
# default (one integer is ten times faster to decode than a score with a sentence).
JUDGE_DEFAULTS: dict[str, Any] = {
    **copy.deepcopy(SENTIMENT_JUDGE_DEFAULTS),
    "prompt": "resources/prompts/frustration_judge.md",
    "schema": "resources/prompts/frustration_judge.schema.json",
    "label_only": True,
    "max_chars": 1500,
}

# What the statistics and the calibration need (rejection-stats, calibrate-frustration).
STATS_DEFAULTS: dict[str, Any] = {
    "high_threshold": 5,  # "high frustration" is a score of at least this
    "n_boot": 2000,
    "seed": 0,
    "confidence": 0.95,
    # The judge passes calibration when all four hold on the hand-labelled set.
    "min_spearman": 0.6,
    "min_kappa": 0.4,
    "max_mae": 2.0,
    "max_error_share": 0.05,
}


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    merged = copy.deepcopy(dict(defaults))
    given = dict(given or {})
    unknown = set(given) - set(merged)
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in {where}; known: {sorted(merged)}")
    merged.update(given)
    return merged


def _positive_ints(config: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}.{key} must be an integer >= 1, got {value!r}")


def _sampling(config: Mapping[str, Any], where: str) -> None:
    if not isinstance(config["temperature"], int | float) or config["temperature"] < 0:
        raise ValueError(f"{where}.temperature must be a number >= 0, got {config['temperature']!r}")
    if not isinstance(config["top_p"], int | float) or not 0 < config["top_p"] <= 1:
        raise ValueError(f"{where}.top_p must be in (0, 1], got {config['top_p']!r}")


def run_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The dialogue settings with defaults filled in; bad values are refused with the key's name."""
    merged = _merge(RUN_DEFAULTS, config, "rejection.run")
    calm = _merge(RUN_DEFAULTS["calm_steering"], merged["calm_steering"], "rejection.run.calm_steering")
    if calm["positions"] not in ("all", "generated"):
        raise ValueError(
            f"rejection.run.calm_steering.positions must be all or generated, got {calm['positions']!r}"
        )
    if not all(isinstance(s, int | float) and not isinstance(s, bool) for s in calm["strengths"]):
        raise ValueError(f"rejection.run.calm_steering.strengths must be numbers, got {calm['strengths']!r}")
    merged["calm_steering"] = calm
    _positive_ints(merged, ("turns", "samples", "max_new_tokens", "batch_size"), "rejection.run")
    _sampling(merged, "rejection.run")
    if merged["samples"] > 1 and merged["temperature"] == 0:
        raise ValueError(
            "rejection.run.samples > 1 with temperature 0 repeats one greedy dialogue; raise the temperature"
        )
    per_kind = merged["questions_per_kind"]
    if per_kind is not None and (not isinstance(per_kind, int) or isinstance(per_kind, bool) or per_kind < 1):
        raise ValueError(
            f"rejection.run.questions_per_kind must be null or an integer >= 1, got {per_kind!r}"
        )
    return merged


def internal_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The internal-read settings with defaults filled in."""
    merged = _merge(INTERNAL_DEFAULTS, config, "rejection.internal")
    _positive_ints(merged, ("batch_size",), "rejection.internal")
    if merged["method"] not in ("anthropic", "mean_diff", "probe"):
        raise ValueError(
            f"rejection.internal.method must be anthropic, mean_diff or probe, got {merged['method']!r}"
        )
    return merged


def internal_emotions(config: Mapping[str, Any], available: tuple[str, ...]) -> list[str]:
    """The directions to read: the configured ones (each must exist), or the negative ones present and
    calm; the primary one is always among them."""
    wanted = config["emotions"] or [e for e in (*NEGATIVE_EMOTIONS, "calm") if e in available]
    missing = [e for e in [*wanted, config["primary"]] if e not in available]
    if missing:
        raise ValueError(
            f"rejection.internal names direction(s) {missing} the {config['method']} set lacks; it holds "
            f"{list(available)}"
        )
    return list(dict.fromkeys([*wanted, config["primary"]]))


def prefill_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The prefill settings with defaults filled in."""
    merged = _merge(PREFILL_DEFAULTS, config, "rejection.prefill")
    _positive_ints(merged, ("after_rejections", "max_new_tokens", "batch_size"), "rejection.prefill")
    _sampling(merged, "rejection.prefill")
    if merged["format"] not in ("auto", "chat", "plain"):
        raise ValueError(f"rejection.prefill.format must be auto, chat or plain, got {merged['format']!r}")
    if not merged["conditions"]:
        raise ValueError("rejection.prefill.conditions names no condition")
    return merged


def frustration_judge_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The frustration judge's settings (the ``judge:`` format) with its own defaults."""
    return judge_config(config, defaults=JUDGE_DEFAULTS, where="rejection.judge")


def stats_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The statistics and calibration settings with defaults filled in."""
    merged = _merge(STATS_DEFAULTS, config, "rejection.stats")
    _positive_ints(merged, ("n_boot",), "rejection.stats")
    if not 0 < merged["confidence"] < 1:
        raise ValueError(f"rejection.stats.confidence must be in (0, 1), got {merged['confidence']!r}")
    return merged
