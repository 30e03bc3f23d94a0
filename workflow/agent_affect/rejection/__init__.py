"""Repeated rejection: dialogues that reject every answer, the frustration judge, and their statistics.

    table = run_dialogues(model, tokenizer, questions, conditions, follow_ups, turns=8)
    scored = score_table(table, "response", config["rejection"]["judge"], "results/cache/frustration")

Modules: `resources` (questions, follow-ups, prefill starts, calibration set; puzzles proven
unsolvable), `dialogues` (conditions and the messages of each turn), `generation` (prompt texts through
the agent stage's generator: a seed and a steering vector per row), `runner` (the turn loop with its
calm-steering arms, prefill continuations, the `agent-affect probe` input), `internal` (every answer's
projections onto emotion directions, read over its tokens in context), `score` (the frustration
judge), `stats` (per-turn cells with CIs, paired control and arm effects, internal against expressed,
calibration metrics), `summary` (calibration and summary tables, claims), `figures`.
Names resolve lazily, so importing the package imports neither torch nor the judge.
"""

from __future__ import annotations

from agent_affect._lazy import lazy_exports

_MODULES = {
    "config": (
        "frustration_judge_config",
        "internal_config",
        "prefill_config",
        "run_config",
        "stats_config",
    ),
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
    "generation": ("Completion", "encode_prompt", "generate_rows"),
    "internal": ("answer_sequences", "read_internal", "run_internal"),
    "runner": (
        "Arm",
        "calm_arms",
        "probe_inputs",
        "run_dialogues",
        "run_prefill",
        "run_prefill_stage",
        "run_rejection",
        "write_probe_inputs",
    ),
    "score": ("score_table", "score_texts"),
    "stats": (
        "arm_effects",
        "calibration_metrics",
        "cell_stats",
        "divergence",
        "internal_cells",
        "internal_expressed",
        "paired_differences",
        "spearman_interval",
    ),
    "summary": ("calibrate", "calibration_note", "read_calibration", "summarise"),
    "figures": ("FIGURES",),
}

__all__ = [
    "FIGURES",
    "Arm",
    "CalibrationItem",
    "Completion",
    "Condition",
    "FollowUps",
    "Question",
    "RejectionResourceError",
    "answer_sequences",
    "arm_effects",
    "build_conditions",
    "calibrate",
    "calibration_metrics",
    "calibration_note",
    "calm_arms",
    "cell_stats",
    "divergence",
    "encode_prompt",
    "follow_up",
    "frustration_judge_config",
    "generate_rows",
    "internal_cells",
    "internal_config",
    "internal_expressed",
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
    "read_internal",
    "render",
    "row_seed",
    "run_config",
    "run_dialogues",
    "run_internal",
    "run_prefill",
    "run_prefill_stage",
    "run_rejection",
    "score_table",
    "score_texts",
    "select_questions",
    "spearman_interval",
    "stats_config",
    "summarise",
    "turn_messages",
    "write_probe_inputs",
]

__getattr__ = lazy_exports(__name__, _MODULES)
