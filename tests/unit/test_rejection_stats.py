"""Per-turn cells, paired control effects and calibration metrics, on tables small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from agent_affect.analysis.stats import wilson
from agent_affect.rejection.stats import calibration_metrics, cell_stats, paired_differences

THRESHOLDS = {"min_spearman": 0.6, "min_kappa": 0.4, "max_mae": 2.0, "max_error_share": 0.05}


def _table() -> pl.DataFrame:
    rows = []
    # neutral: scores rise with the turn; ok: flat and low. Two questions, two turns each.
    scores = {
        ("neutral", "q1"): [2, 6],
        ("neutral", "q2"): [4, 8],
        ("ok", "q1"): [0, 0],
        ("ok", "q2"): [1, None],
    }
    for (condition, question), per_turn in scores.items():
        for turn, score in enumerate(per_turn, start=1):
            rows.append(
                {
                    "arm": "baseline",
                    "condition": condition,
                    "question_id": question,
                    "sample": 0,
                    "dialogue_id": f"{condition}:{question}:0",
                    "turn": turn,
                    "frustration_score": score,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"frustration_score": pl.Int64})


def test_cells_by_turn_are_exact():
    cells = cell_stats(_table(), ("arm", "condition", "turn"), n_boot=200)
    row = cells.filter((pl.col("condition") == "neutral") & (pl.col("turn") == 2)).row(0, named=True)
    assert row["n"] == 2 and row["n_errors"] == 0 and row["n_dialogues"] == 2
    assert row["mean_score"] == 7.0 and row["k_high"] == 2 and row["high_rate"] == 1.0
    assert (row["high_low"], row["high_high"]) == pytest.approx(wilson(2, 2))
    assert 6.0 <= row["mean_low"] <= 7.0 <= row["mean_high"] <= 8.0
    missing = cells.filter((pl.col("condition") == "ok") & (pl.col("turn") == 2)).row(0, named=True)
    assert missing["n"] == 1 and missing["n_errors"] == 1 and missing["mean_score"] == 0.0
    assert cells.height == 4


def test_pooled_cells_resample_whole_dialogues():
    cells = cell_stats(_table(), ("arm", "condition"), n_boot=500)
    neutral = cells.filter(pl.col("condition") == "neutral").row(0, named=True)
    assert neutral["n"] == 4 and neutral["n_dialogues"] == 2
    assert neutral["mean_score"] == 5.0 and neutral["k_high"] == 2
    # Two dialogues with means 4 and 6: a dialogue bootstrap can only give 4, 5 or 6.
    assert neutral["mean_low"] == 4.0 and neutral["mean_high"] == 6.0
    assert {neutral["high_low"], neutral["high_high"]} <= {0.5}


def test_cells_are_reproducible_and_seeded():
    a = cell_stats(_table(), ("arm", "condition", "turn"), n_boot=300, seed=1)
    b = cell_stats(_table(), ("arm", "condition", "turn"), n_boot=300, seed=1)
    assert a.equals(b)


def test_paired_differences_against_the_baseline_condition():
    diffs = paired_differences(_table(), "neutral", ["neutral", "ok"], n_boot=400)
    assert diffs.height == 1
    row = diffs.row(0, named=True)
    # Per question: ok mean - neutral mean = (0 - 4) and (1 - 6); high share 0 - 0.5 and 0 - 0.5.
    assert row["n_pairs"] == 2 and row["mean_diff"] == pytest.approx(-4.5)
    assert row["high_diff"] == pytest.approx(-0.5)
    assert row["mean_diff_low"] == pytest.approx(-5.0) and row["mean_diff_high"] == pytest.approx(-4.0)


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="frustration_score"):
        cell_stats(_table().drop("frustration_score"), ("arm",))


LABELS = [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_a_perfect_judge_passes_calibration():
    metrics = calibration_metrics(LABELS, LABELS, THRESHOLDS, n_boot=300)
    assert metrics["spearman"] == pytest.approx(1.0) and metrics["mae"] == 0.0
    assert metrics["kappa"] == pytest.approx(1.0) and metrics["exact_agreement"] == 1.0
    assert metrics["spearman_low"] == pytest.approx(1.0)
    assert metrics["passed"] is True and all(metrics["checks"].values())
    assert metrics["high_confusion"] == {
        "hand_high_judge_high": 6,
        "hand_high_judge_low": 0,
        "hand_low_judge_high": 0,
        "hand_low_judge_low": 6,
    }


def test_a_constant_judge_fails_calibration():
    metrics = calibration_metrics(LABELS, [5] * len(LABELS), THRESHOLDS, n_boot=300)
    assert math.isnan(metrics["spearman"]) and metrics["kappa"] == 0.0  # all "high": no better than chance
    assert metrics["passed"] is False
    assert metrics["checks"] == {"spearman": False, "kappa": False, "mae": False, "error_share": True}


def test_metrics_on_a_known_example():
    labels = [0, 2, 4, 6, 8, 10]
    scores = [1, 2, 6, 5, None, 9]
    metrics = calibration_metrics(labels, scores, THRESHOLDS, n_boot=300)
    assert metrics["n"] == 5 and metrics["n_errors"] == 1 and metrics["error_share"] == pytest.approx(1 / 6)
    assert metrics["mae"] == pytest.approx((1 + 0 + 2 + 1 + 1) / 5)
    assert metrics["spearman"] == pytest.approx(0.9)
    # High (>= 5): hand [F, F, F, T, T], judge [F, F, T, T, T] -> po 0.8, pe 0.4*0.6 + 0.6*0.4 = 0.48.
    assert metrics["kappa"] == pytest.approx((0.8 - 0.48) / (1 - 0.48))
    assert metrics["within_one"] == pytest.approx(0.8)
    # Good numbers, but one answer in six unscored is more than the 5% allowed.
    assert metrics["checks"]["error_share"] is False and metrics["passed"] is False


def test_a_shuffled_judge_fails_and_the_interval_covers_zero():
    rng = np.random.default_rng(0)
    labels = list(rng.integers(0, 11, 60))
    shuffled = list(rng.permutation(labels))
    metrics = calibration_metrics(labels, shuffled, THRESHOLDS, n_boot=500)
    assert metrics["passed"] is False
    assert metrics["spearman_low"] < 0 < metrics["spearman_high"]
