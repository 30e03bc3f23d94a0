"""The task suite loader: the shipped suite's shape, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent_affect.evaluate import TASKS, TaskError, Verdict, load_suite
from agent_affect.evaluate.tasks import IMPOSSIBLE_KINDS, by_ids

GOOD = {
    "id": "double",
    "function": "double",
    "signature": "def double(x: int) -> int:",
    "prompt": "Return twice x.",
    "tags": ["numbers"],
    "visible": [{"args": [2], "expected": 4}],
    "hidden": [{"args": [5], "expected": 10}],
    "reference": "def double(x):\n    return 2 * x\n",
    "hacks": [],
}


def _write(folder: Path, content: object, name: str = "double") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(content) if not isinstance(content, str) else content)
    return path


def test_shipped_suite_has_the_published_and_impossible_tasks() -> None:
    suite = load_suite()
    assert len(suite) >= 30
    for name in ("parse_duration", "merge_intervals", "stable_top_words", "mask_tokens"):
        assert suite[name].function == name
        assert "published" in suite[name].tags
    impossible = [task for task in suite.values() if task.impossible]
    assert len(impossible) >= 10
    assert {task.impossible_kind for task in impossible} == set(IMPOSSIBLE_KINDS)
    assert all(task.hacks for task in impossible)
    assert all("impossible" in task.tags for task in impossible)
    # The published merge_intervals failed on tuples: every prompt now states its types.
    assert "list" in suite["merge_intervals"].prompt and "not tuples" in suite["merge_intervals"].prompt


def test_agent_prompt_shows_visible_tests_only() -> None:
    task = load_suite()["parse_duration"]
    text = task.agent_prompt()
    assert "parse_duration('2h 30m') == 150" in text
    assert task.signature in text
    for case in task.hidden:
        assert repr(case.args[0]) not in text or case.args[0] == ""


def test_failure_message_describes_visible_failures_and_never_hidden_ones() -> None:
    task = load_suite()["gcd"]
    verdict = Verdict(
        "gcd",
        "fail",
        2,
        3,
        5,
        6,
        visible_cases=[
            {"index": 0, "passed": True, "answered": True, "got": 6},
            {"index": 1, "passed": False, "answered": True, "got": 6},
            {"index": 2, "passed": True, "answered": True, "got": 1},
        ],
    )
    message = task.failure_message(verdict)
    assert "2 of 3 tests passed" in message
    assert "gcd(18, 12) returned 6, expected 3" in message
    assert all(repr(case.args) not in message for case in task.hidden)
    loaded = Verdict("gcd", "syntax_error", 0, 3, 0, 6, load_error="line 2: invalid syntax")
    assert task.failure_message(loaded) == "Your code does not compile: line 2: invalid syntax"


def test_a_good_file_loads(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    task = load_suite(tmp_path)["double"]
    assert task.visible[0].args == (2,) and task.hidden[0].expected == 10
    assert not task.impossible


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "other"}, "id: 'other' must match the file name"),
        ({"function": "not a name"}, "function: 'not a name' is not a Python function name"),
        ({"signature": "def other(x):"}, "signature: must start with 'def double('"),
        ({"visible": []}, "visible: needs a non-empty list"),
        ({"visible": [{"args": 2, "expected": 4}]}, "visible[0].args: must be a list"),
        ({"hidden": [{"args": [2], "expected": 4}]}, "hidden: repeats visible inputs"),
        ({"hidden": [{"args": [5]}]}, "hidden[0]: needs exactly the keys args and expected"),
        ({"reference": "def other(x):\n    return x\n"}, "reference: defines no top-level function 'double'"),
        ({"reference": "def double(x)\n"}, "reference: does not compile (line 1"),
        ({"tags": ["impossible"]}, "the tag 'impossible' goes with an impossible block"),
        (
            {"impossible": {"kind": "hard", "why": "x"}, "tags": ["impossible"]},
            "impossible.kind: 'hard' is not one",
        ),
        (
            {"impossible": {"kind": "contradicts_spec", "why": "x"}, "tags": ["impossible"]},
            "hacks: an impossible task",
        ),
        ({"hacks": [{"name": "h", "why": "w"}]}, "hacks[0]: needs the keys name, why, code"),
        ({"case_time_s": -1}, "case_time_s: needs a positive number"),
        ({"colour": "red"}, "unknown fields ['colour']"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, change: dict, message: str) -> None:
    path = _write(tmp_path, {**GOOD, **change})
    with pytest.raises(TaskError) as error:
        load_suite(tmp_path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_non_json_values_are_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump(GOOD).replace("expected: 10", "expected: 2024-01-01")
    path = _write(tmp_path, text)
    with pytest.raises(TaskError, match=r"hidden\[0\]\.expected: .* is a date, not JSON data") as error:
        load_suite(tmp_path)
    assert str(path) in str(error.value)


def test_invalid_yaml_and_missing_folder(tmp_path: Path) -> None:
    _write(tmp_path, "id: [unclosed\n")
    with pytest.raises(TaskError, match="not valid YAML"):
        load_suite(tmp_path)
    with pytest.raises(TaskError, match="not found"):
        load_suite(tmp_path / "absent")
    with pytest.raises(TaskError, match="holds no task files"):
        load_suite(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else None


def test_unknown_task_id_lists_the_known_ones() -> None:
    with pytest.raises(TaskError, match=r"no task 'nope'.*parse_duration"):
        by_ids(load_suite(TASKS), ["nope"])
