"""Repeated rejection: dialogues that reject every answer, the frustration judge, and their statistics.

    table = run_dialogues(model, tokenizer, questions, conditions, follow_ups, turns=8)
    scored = score_table(table, "response", config["rejection"]["judge"], "results/cache/frustration")

Modules: `resources` (questions, follow-ups, prefill starts, calibration set; puzzles proven
unsolvable), `dialogues` (conditions and the messages of each turn), `generation` (batched generation
with a seed per row and the `steer` hook), `runner` (the turn loop, prefill continuations, the
`agent-affect probe` input), `score` (the frustration judge), `stats` (per-turn cells with CIs, paired
control effects, calibration metrics), `summary` (calibration and summary tables, claims), `figures`.
Names resolve lazily, so importing the package imports neither torch nor the judge.
"""

from __future__ import annotations

from agent_affect._lazy import lazy_exports

_MODULES = {
    "config": ("frustration_judge_config", "prefill_config", "run_config", "stats_config"),
    "resources": (
        "CalibrationItem",
        "FollowUps",
        "Question",
        "RejectionResourceError",
        "load_calibration",
        "load_follow_ups",
        "load_prefills",
        "load_questions",
        "puzzle_problem",
        "reachable",
        "select_questions",
    ),
    "dialogues": ("Condition", "build_conditions", "follow_up", "render", "row_seed", "turn_messages"),
    "generation": ("Completion", "RowSampler", "SteerFactory", "generate_rows"),
    "runner": (
        "probe_inputs",
        "run_dialogues",
        "run_prefill",
        "run_prefill_stage",
        "run_rejection",
        "write_probe_inputs",
    ),
    "score": ("score_table", "score_texts"),
    "stats": ("calibration_metrics", "cell_stats", "paired_differences"),
    "summary": ("calibrate", "calibration_note", "read_calibration", "summarise"),
    "figures": ("FIGURES",),
}

__all__ = [
    "FIGURES",
    "CalibrationItem",
    "Completion",
    "Condition",
    "FollowUps",
    "Question",
    "RejectionResourceError",
    "RowSampler",
    "SteerFactory",
    "build_conditions",
    "calibrate",
    "calibration_metrics",
    "calibration_note",
    "cell_stats",
    "follow_up",
    "frustration_judge_config",
    "generate_rows",
    "load_calibration",
    "load_follow_ups",
    "load_prefills",
    "load_questions",
    "paired_differences",
    "prefill_config",
    "probe_inputs",
    "puzzle_problem",
    "reachable",
    "read_calibration",
    "render",
    "row_seed",
    "run_config",
    "run_dialogues",
    "run_prefill",
    "run_prefill_stage",
    "run_rejection",
    "score_table",
    "score_texts",
    "select_questions",
    "stats_config",
    "summarise",
    "turn_messages",
    "write_probe_inputs",
]

__getattr__ = lazy_exports(__name__, _MODULES)
