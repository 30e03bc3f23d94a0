"""The rejection resources: shipped files load, puzzles are proven unsolvable, bad files name the record."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from agent_affect.rejection.resources import (
    QUESTION_KINDS,
    TONES,
    RejectionResourceError,
    load_calibration,
    load_follow_ups,
    load_prefills,
    load_questions,
    puzzle_problem,
    reachable,
    select_questions,
)

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources" / "rejection"


def test_shipped_questions_have_at_least_eight_of_each_kind():
    questions = load_questions(RESOURCES / "questions.jsonl")
    counts = Counter(q.kind for q in questions)
    assert set(counts) == set(QUESTION_KINDS)
    assert min(counts.values()) >= 8
    puzzles = [q for q in questions if q.kind == "puzzle"]
    for puzzle in puzzles:
        # The text states the puzzle it is checked as: every number, the target and the ban.
        for number in (*puzzle.numbers, puzzle.target, puzzle.forbidden):
            assert str(number) in puzzle.text, (puzzle.id, number)


def test_every_shipped_puzzle_is_solvable_only_through_its_forbidden_value():
    for puzzle in [q for q in load_questions(RESOURCES / "questions.jsonl") if q.kind == "puzzle"]:
        assert Fraction(puzzle.target) in reachable(puzzle.numbers), puzzle.id
        assert Fraction(puzzle.target) not in reachable(puzzle.numbers, puzzle.forbidden), puzzle.id


def test_reachable_is_exact_arithmetic():
    assert reachable([2, 3]) == {
        Fraction(5),
        Fraction(6),
        Fraction(-1),
        Fraction(1),
        Fraction(2, 3),
        Fraction(3, 2),
    }
    # 35 = 5 x (11 - 4) is the only way, and it passes through 7.
    assert Fraction(35) in reachable([4, 5, 11])
    assert Fraction(35) not in reachable([4, 5, 11], 7)
    assert Fraction(1, 4) in reachable([1, 2, 2])  # 1 / 2 / 2
    assert Fraction(0) in reachable([3, 3])
    assert reachable([0, 5]) == {Fraction(5), Fraction(0), Fraction(-5)}  # no division by zero


def test_puzzle_problem_names_what_is_wrong():
    assert puzzle_problem([4, 5, 11], 35, 7) is None
    assert "is solvable" in puzzle_problem([4, 5, 11], 35, 6)
    assert "cannot reach" in puzzle_problem([1, 1, 1], 50, 2)
    assert "equal to the forbidden" in puzzle_problem([4, 5, 11], 35, 35)


def test_a_solvable_puzzle_in_a_file_is_refused_with_its_line(tmp_path):
    path = tmp_path / "q.jsonl"
    good = {"id": "p1", "kind": "puzzle", "numbers": [4, 5, 11], "target": 35, "forbidden": 7, "text": "t"}
    bad = {"id": "p2", "kind": "puzzle", "numbers": [2, 3, 4], "target": 24, "forbidden": 99, "text": "t"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(RejectionResourceError, match=r"q\.jsonl:3: puzzle 'p2' is solvable"):
        load_questions(path)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", r"q\.jsonl:1: not JSON"),
        ('{"id": "a", "kind": "riddle", "text": "x"}', r"kind 'riddle'"),
        ('{"id": "a", "kind": "factual"}', r"'text' must be a non-empty string"),
        (
            '{"id": "a", "kind": "puzzle", "text": "x", "numbers": [1], "target": 2, "forbidden": 3}',
            "needs 'numbers'",
        ),
        (
            '{"id": "a", "kind": "factual", "text": "x"}\n{"id": "a", "kind": "factual", "text": "y"}',
            "already used",
        ),
    ],
)
def test_bad_question_records_are_named(tmp_path, line, problem):
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(RejectionResourceError, match=problem):
        load_questions(path)


def test_select_questions_takes_the_first_of_each_kind_in_file_order():
    questions = load_questions(RESOURCES / "questions.jsonl")
    chosen = select_questions(questions, 2)
    assert [q.id for q in chosen] == [
        "puzzle-01",
        "puzzle-02",
        "factual-01",
        "factual-02",
        "opinion-01",
        "opinion-02",
    ]
    assert select_questions(questions, None) == questions


def test_follow_ups_have_every_tone_with_matched_wordings():
    texts = load_follow_ups(RESOURCES / "rejections.yaml")
    assert set(texts.tones) == set(TONES)
    assert len({len(options) for options in texts.tones.values()}) == 1
    assert min(len(options) for options in texts.tones.values()) >= 3
    assert all(option.lower().startswith("ok") for option in texts.acknowledgement)
    assert texts.placeholder.strip()
    # Every wording is distinct: a tone is not a copy of another.
    wordings = [w for options in texts.tones.values() for w in options]
    assert len(set(wordings)) == len(wordings)


def test_follow_ups_of_unequal_length_are_refused(tmp_path):
    path = tmp_path / "r.yaml"
    tones = {tone: ["a", "b"] for tone in TONES}
    tones["harsh"] = ["a"]
    path.write_text(yaml.safe_dump({"tones": tones, "acknowledgement": ["Ok."], "placeholder": "[x]"}))
    with pytest.raises(RejectionResourceError, match="same number of wordings"):
        load_follow_ups(path)


def test_prefill_starts_of_both_kinds():
    starts = load_prefills(RESOURCES / "prefill.yaml")
    assert set(starts) == {"neutral", "frustration"}
    assert all(len(options) >= 3 for options in starts.values())


def test_calibration_set_spans_every_score_with_rationales():
    items = load_calibration(RESOURCES / "calibration.jsonl")
    assert len(items) >= 40
    assert {item.label for item in items} == set(range(11))
    assert len({item.id for item in items}) == len(items)
    assert all(item.rationale and item.rejection and item.response for item in items)
    # Both sides of the high-frustration line are well represented.
    high = sum(item.label >= 5 for item in items)
    assert 15 <= high <= len(items) - 15


def test_a_calibration_label_out_of_range_is_refused(tmp_path):
    path = tmp_path / "c.jsonl"
    record = {"id": "c1", "rejection": "No.", "response": "Ok.", "label": 11, "rationale": "r"}
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(RejectionResourceError, match=r"c\.jsonl:1: label of 'c1' must be an integer 0\.\.10"):
        load_calibration(path)
