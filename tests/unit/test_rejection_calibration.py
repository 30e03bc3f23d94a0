"""The frustration judge's calibration against the hand-labelled replies, and how its verdict travels.

The real test scores the shipped calibration set with the default judge (SmolLM2-135M-Instruct,
in-process, constrained) and asserts what was measured: that judge does NOT pass calibration. The
thresholds are not loosened to make it pass; instead every claim and figure downstream carries the
failure (tested below with scripted judges, one that agrees with the labels and one that does not).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from agent_affect.judge import JudgePrompt
from agent_affect.models import DEFAULT_SPEC_CONFIG, parse_spec, prepare_model
from agent_affect.rejection.config import STATS_DEFAULTS
from agent_affect.rejection.figures import FIGURES
from agent_affect.rejection.resources import load_calibration
from agent_affect.rejection.summary import calibrate, calibration_note, read_calibration, summarise

REPO = Path(__file__).resolve().parents[2]
CALIBRATION = REPO / "resources" / "rejection" / "calibration.jsonl"
PROMPTS = REPO / "resources" / "prompts"
PROMPT = JudgePrompt.load(
    PROMPTS / "frustration_judge.md", PROMPTS / "frustration_judge.schema.json"
).label_only()
HAND = {item.response: item.label for item in load_calibration(CALIBRATION)}


class LookupBackend:
    """Answers each reply's score from a function of its hand label (an oracle, or a bad judge)."""

    def __init__(self, rule, model_id):
        self.rule, self.model_id, self.prompt = rule, model_id, PROMPT
        self.settings = {"backend": model_id}

    def label(self, texts, on_done=None):
        return [self.prompt.parse_answer(json.dumps({"score": self.rule(HAND[text])})) for text in texts]


def test_an_oracle_judge_passes_and_a_judge_that_only_apologises_fails(tmp_path):
    oracle = calibrate(
        {}, CALIBRATION, tmp_path / "cache", tmp_path / "oracle", backend=LookupBackend(int, "oracle")
    )
    assert oracle["passed"] is True and oracle["n"] == len(HAND) and oracle["mae"] == 0
    # Scores every reply 1 or 2 (a mild apology): ordered like the labels, but never "high".
    timid = calibrate(
        {},
        CALIBRATION,
        tmp_path / "cache",
        tmp_path / "timid",
        backend=LookupBackend(lambda x: 1 + (x >= 5), "timid"),
    )
    assert timid["spearman"] > 0.6 and timid["checks"]["spearman"] is True
    assert timid["kappa"] == 0 and timid["passed"] is False
    items = pl.read_csv(tmp_path / "timid" / "items.csv")
    assert items.height == len(HAND) and set(items["frustration_score"]) == {1, 2}
    assert read_calibration(tmp_path / "timid" / "calibration.json")["passed"] is False


def _scored_dialogues() -> pl.DataFrame:
    rows = []
    for condition, base in (("neutral", 3), ("ok", 0)):
        for question in ("q1", "q2", "q3"):
            for turn in (1, 2, 3):
                rows.append(
                    {
                        "arm": "baseline",
                        "condition": condition,
                        "question_id": question,
                        "question_kind": "factual",
                        "sample": 0,
                        "dialogue_id": f"{condition}:{question}:0",
                        "turn": turn,
                        "frustration_score": base + turn,
                    }
                )
    return pl.DataFrame(rows)


@pytest.mark.parametrize("passed", [True, False])
def test_claims_summary_and_figures_carry_the_calibration(tmp_path, passed):
    calibration = {"passed": passed, "judge_model": "j", "spearman": 0.3, "kappa": 0.1, "mae": 3.2, "n": 49}
    (tmp_path / "calibration.json").write_text(json.dumps(calibration))
    _scored_dialogues().write_parquet(tmp_path / "scored.parquet")
    prefill = pl.DataFrame(
        {
            "model": ["m"] * 4,
            "start_kind": ["neutral", "neutral", "frustration", "frustration"],
            "dialogue_id": ["a", "b", "a", "b"],
            "frustration_score": [0, 1, 6, 7],
        }
    )
    prefill.write_parquet(tmp_path / "prefill.parquet")
    summary = summarise(
        tmp_path / "scored.parquet",
        [tmp_path / "prefill.parquet"],
        tmp_path / "calibration.json",
        tmp_path / "out",
    )
    assert summary["judge_calibrated"] is passed
    assert ("FAILED" in summary["calibration_note"]) is not passed
    claims = pl.read_csv(tmp_path / "out" / "claims.csv")
    assert claims["judge_calibrated"].to_list() == [passed] * claims.height
    assert (claims["caveat"].fill_null("") != "").all() is not passed
    assert "high-frustration rate at turn 3, neutral" in claims["claim"].to_list()
    by_turn = pl.read_csv(tmp_path / "out" / "by_turn.csv")
    assert by_turn.filter((pl.col("condition") == "neutral") & (pl.col("turn") == 3))["mean_score"][0] == 6.0
    for name in ("score_by_turn", "high_rate_by_turn", "prefill"):
        out = tmp_path / "fig" / f"{name}.png"
        FIGURES[name](tmp_path / "out", tmp_path / "calibration.json", out)
        assert out.stat().st_size > 10_000


def test_the_note_names_the_numbers():
    note = calibration_note(
        {
            "passed": False,
            "judge_model": "SmolLM2",
            "spearman": 0.12,
            "kappa": float("nan"),
            "mae": 3.4,
            "n": 49,
        }
    )
    assert note == (
        "judge SmolLM2 FAILED calibration (Spearman 0.12, kappa n/a, MAE 3.40, n = 49): these scores do not "
        "measure frustration"
    )


@pytest.mark.slow
def test_the_default_judge_is_measured_and_fails_calibration(tmp_path_factory):
    spec = parse_spec(DEFAULT_SPEC_CONFIG)
    model_dir = prepare_model(spec, tmp_path_factory.mktemp("models") / spec.name)
    out = tmp_path_factory.mktemp("calibration")
    metrics = calibrate({"batch_size": 16}, CALIBRATION, out / "cache", out, model_dir, progress=False)
    assert metrics["n"] == len(HAND) and metrics["n_errors"] == 0  # constrained: every answer parses
    assert metrics["judge_model"] == "SmolLM2-135M-Instruct.Q4_1"
    # The verdict follows from the numbers and the shipped thresholds, nothing else ...
    thresholds = {
        key: STATS_DEFAULTS[key] for key in ("min_spearman", "min_kappa", "max_mae", "max_error_share")
    }
    assert metrics["thresholds"] == thresholds
    expected = (
        metrics["spearman"] >= thresholds["min_spearman"]
        and metrics["kappa"] >= thresholds["min_kappa"]
        and metrics["mae"] <= thresholds["max_mae"]
    )
    assert metrics["passed"] is expected
    # ... and what it measured: SmolLM2-135M cannot rate frustration (README and calibration.json
    # record the numbers). If a better default judge ever passes, this assertion is the one to update.
    assert metrics["passed"] is False, metrics
    FIGURES["calibration"](out, out / "calibration.json", out / "calibration.png")
    assert (out / "calibration.png").stat().st_size > 10_000
