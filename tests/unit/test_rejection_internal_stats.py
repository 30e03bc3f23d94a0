"""Internal against expressed frustration, and arm effects, on synthetic tables with known answers."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from agent_affect.rejection.stats import (
    arm_effects,
    divergence,
    internal_cells,
    internal_expressed,
    spearman_interval,
)
from agent_affect.rejection.summary import summarise


def _table(
    internal=lambda condition, turn, q: float(turn), score=lambda condition, turn, q: turn
) -> pl.DataFrame:
    rows = []
    for arm, conditions in (("baseline", ("neutral", "ok")), ("calm+0.1", ("neutral",))):
        for condition in conditions:
            for q in range(4):
                dialogue = f"{condition}:q{q}:0" if arm == "baseline" else f"{arm}/{condition}:q{q}:0"
                for turn in (1, 2, 3):
                    rows.append(
                        {
                            "id": f"{dialogue}:{turn}",
                            "arm": arm,
                            "condition": condition,
                            "question_id": f"q{q}",
                            "sample": 0,
                            "dialogue_id": dialogue,
                            "turn": turn,
                            "frustration_score": score(condition, turn, q) - (arm != "baseline"),
                            "internal_frustrated": internal(condition, turn, q) - 2.0 * (arm != "baseline"),
                        }
                    )
    return pl.DataFrame(rows)


def test_spearman_is_exact_on_monotone_data_and_counts_pairs_and_dialogues():
    x = np.arange(12.0)
    clusters = np.repeat(np.arange(4), 3)
    up = spearman_interval(x, x**3, clusters, n_boot=200)
    assert up["rho"] == 1.0 and up["low"] == 1.0 and up["high"] == 1.0
    assert up["n"] == 12 and up["n_dialogues"] == 4
    down = spearman_interval(x, -x, clusters, n_boot=200)
    assert down["rho"] == -1.0 and down["high"] == -1.0
    flat = spearman_interval(x, np.ones(12), clusters, n_boot=200)
    assert np.isnan(flat["rho"])


def test_internal_cells_by_turn_have_exact_means_and_n():
    cells = internal_cells(_table(), ["internal_frustrated"], n_boot=200)
    row = cells.filter((pl.col("arm") == "baseline") & (pl.col("condition") == "ok") & (pl.col("turn") == 2))
    row = row.row(0, named=True)
    assert row["mean"] == 2.0 and row["n"] == 4 and row["low"] == row["high"] == 2.0
    calm = cells.filter(pl.col("arm") == "calm+0.1").sort("turn")["mean"].to_list()
    assert calm == [-1.0, 0.0, 1.0]


def test_internal_expressed_overall_and_per_condition():
    # Internal rises with the turn, the judge's score with the question: within a condition they are
    # unrelated by construction (rho 0), overall too.
    table = _table(score=lambda condition, turn, q: [0, 2, 1, 3][q] if turn != 2 else [3, 1, 2, 0][q])
    rows = internal_expressed(table, ["internal_frustrated"], n_boot=200)
    assert rows["arm"].to_list()[0] == "all" and rows["n"].to_list()[0] == table.height
    tied = _table()
    same = internal_expressed(tied, ["internal_frustrated"], n_boot=200)
    assert same.filter(pl.col("arm") == "baseline")["rho"].to_list() == pytest.approx([1.0, 1.0])
    assert same["n_dialogues"].to_list() == [12, 4, 4, 4]


def test_divergence_is_zero_when_internal_tracks_expressed_and_signed_otherwise():
    # Baseline answers only: there internal equals expressed exactly (the arm shifts them unequally).
    same = divergence(_table().filter(pl.col("arm") == "baseline"), "internal_frustrated", n_boot=200)
    assert np.allclose(same["z_divergence"].to_numpy(), 0.0, atol=1e-12)
    # ok: inside as frustrated as neutral, but it says nothing: internal above expressed there.
    table = _table(score=lambda condition, turn, q: turn if condition == "neutral" else 0)
    gap = divergence(table, "internal_frustrated", n_boot=200)
    ok = gap.filter(pl.col("condition") == "ok").sort("turn")
    neutral = gap.filter((pl.col("condition") == "neutral") & (pl.col("arm") == "baseline"))
    assert (ok["z_divergence"] > 0).all() and ok["z_divergence"].to_list() == sorted(ok["z_divergence"])
    assert (ok["z_divergence_low"] <= ok["z_divergence"]).all() and (ok["n"] == 4).all()
    # z-scores: every answer's internal z is (x - mean) / sd over the whole table.
    internal = table["internal_frustrated"]
    expected = (1.0 - internal.mean()) / internal.std()
    assert neutral.filter(pl.col("turn") == 1)["z_internal"][0] == pytest.approx(expected)


def test_arm_effects_are_paired_differences_with_n():
    effects = arm_effects(_table(), ["frustration_score", "internal_frustrated"], n_boot=200)
    assert effects["arm"].to_list() == ["calm+0.1", "calm+0.1"]
    assert effects["condition"].to_list() == ["neutral", "neutral"]
    assert effects["diff"].to_list() == pytest.approx([-1.0, -2.0])
    assert effects["n_pairs"].to_list() == [4, 4]
    assert effects["low"].to_list() == pytest.approx([-1.0, -2.0])


def test_summary_writes_the_internal_tables_and_claims(tmp_path):
    table = _table(score=lambda condition, turn, q: (turn + q) % 4)
    dialogues = table.drop("internal_frustrated").with_columns(pl.lit("puzzle").alias("question_kind"))
    dialogues.write_parquet(tmp_path / "scored.parquet")
    table.select("id", "internal_frustrated").with_columns(
        pl.lit(5, dtype=pl.Int64).alias("answer_tokens")
    ).write_parquet(tmp_path / "internal.parquet")
    (tmp_path / "calibration.json").write_text(json.dumps({"passed": True, "judge_model": "j", "n": 10}))
    stats = {"n_boot": 100}
    summary = summarise(
        tmp_path / "scored.parquet",
        [],
        tmp_path / "calibration.json",
        tmp_path / "out",
        stats,
        internal_path=tmp_path / "internal.parquet",
    )
    assert (
        summary["arms"] == ["baseline", "calm+0.1"] and summary["internal_primary"] == "internal_frustrated"
    )
    claims = pl.read_csv(tmp_path / "out" / "claims.csv")["claim"].to_list()
    assert any(c.startswith("Spearman rho, internal frustrated") for c in claims)
    assert any(c.startswith("internal minus expressed z") for c in claims)
    assert any(c.startswith("internal frustrated projection, calm+0.1 minus baseline") for c in claims)
    for name in ("internal_by_turn", "internal_expressed", "divergence", "arm_effects", "internal_answers"):
        assert pl.read_csv(tmp_path / "out" / f"{name}.csv").height > 0
    with pytest.raises(ValueError, match="missing"):
        table.head(3).select("id", "internal_frustrated").with_columns(
            pl.lit(5).alias("answer_tokens")
        ).write_parquet(tmp_path / "short.parquet")
        summarise(
            tmp_path / "scored.parquet",
            [],
            tmp_path / "calibration.json",
            tmp_path / "out2",
            stats,
            internal_path=tmp_path / "short.parquet",
        )
