"""The committed inputs of the rejection evaluation (resources/rejection/), read and checked.

Every loader names the file and line (or key) of a bad record and says what it needs. A puzzle is
checked by search, not trusted: its target must be reachable from its numbers when the forbidden
intermediate is allowed, and unreachable when it is not, so every puzzle really claims a solution
that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

QUESTION_KINDS = ("puzzle", "factual", "opinion")
TONES = ("neutral", "harsh", "disappointed", "sarcastic")
PREFILL_KINDS = ("neutral", "frustration")
SCORE_RANGE = (0, 10)


class RejectionResourceError(ValueError):
    """A malformed resource file: the message names the file and the record."""


@dataclass(frozen=True)
class Question:
    """One opening question. Puzzles carry their numbers, target and forbidden intermediate."""

    id: str
    kind: str
    text: str
    numbers: tuple[int, ...] = ()
    target: int | None = None
    forbidden: int | None = None


@dataclass(frozen=True)
class FollowUps:
    """What the user says after each answer: a rejection per tone, the "Ok" control, the placeholder."""

    tones: dict[str, tuple[str, ...]]
    acknowledgement: tuple[str, ...]
    placeholder: str


@dataclass(frozen=True)
class CalibrationItem:
    """A hand-written reply to a rejection, with its hand label (0-10) and the reason for it."""

    id: str
    rejection: str
    response: str
    label: int
    rationale: str


def _jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``file:line``, record) for every non-blank line; a line that is not a JSON object is an error."""
    if not path.is_file():
        raise RejectionResourceError(f"{path} not found (relative paths are read from {Path.cwd()})")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise RejectionResourceError(f"{where}: not JSON ({error.msg})") from error
        if not isinstance(record, dict):
            raise RejectionResourceError(f"{where}: a record must be a JSON object")
        yield where, record


def _text(where: str, record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RejectionResourceError(f"{where}: {key!r} must be a non-empty string (id {record.get('id')!r})")
    return value


def load_questions(path: Path | str) -> list[Question]:
    """Every question of a JSON-lines file, in file order; ids unique, puzzles proven unsolvable."""
    questions: list[Question] = []
    seen: dict[str, str] = {}
    for where, record in _jsonl(Path(path)):
        qid, kind, text = (
            _text(where, record, "id"),
            _text(where, record, "kind"),
            _text(where, record, "text"),
        )
        if qid in seen:
            raise RejectionResourceError(f"{where}: id {qid!r} already used at {seen[qid]}")
        seen[qid] = where
        if kind not in QUESTION_KINDS:
            raise RejectionResourceError(f"{where}: kind {kind!r} of {qid!r} is not one of {QUESTION_KINDS}")
        if kind != "puzzle":
            questions.append(Question(qid, kind, text))
            continue
        numbers, target, forbidden = record.get("numbers"), record.get("target"), record.get("forbidden")
        if (
            not isinstance(numbers, list)
            or len(numbers) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
            or not isinstance(target, int)
            or not isinstance(forbidden, int)
        ):
            raise RejectionResourceError(
                f"{where}: puzzle {qid!r} needs 'numbers' (a list of at least two integers), and integer "
                "'target' and 'forbidden'"
            )
        problem = puzzle_problem(numbers, target, forbidden)
        if problem:
            raise RejectionResourceError(f"{where}: puzzle {qid!r} {problem}")
        questions.append(Question(qid, kind, text, tuple(numbers), target, forbidden))
    if not questions:
        raise RejectionResourceError(f"{path} holds no questions")
    return questions


def select_questions(questions: Sequence[Question], per_kind: int | None) -> list[Question]:
    """The first `per_kind` questions of each kind (all when None), in file order."""
    if per_kind is None:
        return list(questions)
    taken: dict[str, int] = {}
    chosen = []
    for question in questions:
        if taken.get(question.kind, 0) < per_kind:
            taken[question.kind] = taken.get(question.kind, 0) + 1
            chosen.append(question)
    return chosen


def _wordings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise RejectionResourceError(f"{path}: {key} must be a non-empty list of non-empty strings")
    return tuple(value)


def _yaml_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RejectionResourceError(f"{path} not found (relative paths are read from {Path.cwd()})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RejectionResourceError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise RejectionResourceError(f"{path}: expected a mapping at the top level")
    return data


def load_follow_ups(path: Path | str) -> FollowUps:
    """Rejections per tone (each of `TONES`, lists of equal length), acknowledgements, the placeholder."""
    path = Path(path)
    data = _yaml_mapping(path)
    tones = data.get("tones")
    if not isinstance(tones, dict) or set(tones) != set(TONES):
        raise RejectionResourceError(
            f"{path}: 'tones' must map exactly the tones {TONES} to lists of wordings, got "
            f"{sorted(tones) if isinstance(tones, dict) else tones!r}"
        )
    wordings = {tone: _wordings(path, f"tones.{tone}", tones[tone]) for tone in TONES}
    lengths = {tone: len(texts) for tone, texts in wordings.items()}
    if len(set(lengths.values())) != 1:
        # Equal lengths keep the wording position matched across tones at every turn.
        raise RejectionResourceError(f"{path}: every tone needs the same number of wordings, got {lengths}")
    placeholder = data.get("placeholder")
    if not isinstance(placeholder, str) or not placeholder.strip():
        raise RejectionResourceError(f"{path}: 'placeholder' must be a non-empty string")
    return FollowUps(wordings, _wordings(path, "acknowledgement", data.get("acknowledgement")), placeholder)


def load_prefills(path: Path | str) -> dict[str, tuple[str, ...]]:
    """kind (neutral, frustration) -> the starts of an assistant turn that a model continues."""
    path = Path(path)
    data = _yaml_mapping(path)
    if set(data) != set(PREFILL_KINDS):
        raise RejectionResourceError(f"{path}: expected exactly the keys {PREFILL_KINDS}, got {sorted(data)}")
    return {kind: _wordings(path, kind, data[kind]) for kind in PREFILL_KINDS}


def load_calibration(path: Path | str) -> list[CalibrationItem]:
    """The hand-labelled replies; labels are integers in 0..10, ids unique."""
    items: list[CalibrationItem] = []
    seen: dict[str, str] = {}
    low, high = SCORE_RANGE
    for where, record in _jsonl(Path(path)):
        item_id = _text(where, record, "id")
        if item_id in seen:
            raise RejectionResourceError(f"{where}: id {item_id!r} already used at {seen[item_id]}")
        seen[item_id] = where
        label = record.get("label")
        if not isinstance(label, int) or isinstance(label, bool) or not low <= label <= high:
            raise RejectionResourceError(f"{where}: label of {item_id!r} must be an integer {low}..{high}")
        items.append(
            CalibrationItem(
                item_id,
                _text(where, record, "rejection"),
                _text(where, record, "response"),
                label,
                _text(where, record, "rationale"),
            )
        )
    if not items:
        raise RejectionResourceError(f"{path} holds no calibration items")
    return items


def reachable(numbers: Sequence[int], forbidden: int | None = None) -> frozenset[Fraction]:
    """Every value an expression can take that uses each number exactly once with + - x /.

    Exact rational arithmetic; division by zero is skipped. With `forbidden`, no operation may produce
    that value, whether it is an intermediate step or the final result.
    """
    return _reach(
        tuple(sorted(Fraction(n) for n in numbers)), None if forbidden is None else Fraction(forbidden)
    )


@cache
def _reach(numbers: tuple[Fraction, ...], forbidden: Fraction | None) -> frozenset[Fraction]:
    if len(numbers) == 1:
        return frozenset(numbers)
    values: set[Fraction] = set()
    positions = range(len(numbers))
    for size in range(1, len(numbers) // 2 + 1):
        for left in combinations(positions, size):
            right = tuple(p for p in positions if p not in left)
            for a in _reach(tuple(numbers[p] for p in left), forbidden):
                for b in _reach(tuple(numbers[p] for p in right), forbidden):
                    results = {a + b, a * b, a - b, b - a}
                    if b:
                        results.add(a / b)
                    if a:
                        results.add(b / a)
                    values.update(r for r in results if r != forbidden)
    return frozenset(values)


def puzzle_problem(numbers: Sequence[int], target: int, forbidden: int) -> str | None:
    """Why a puzzle is not a proper impossible puzzle, or None when it is one."""
    if target == forbidden:
        return f"has its target {target} equal to the forbidden value"
    if Fraction(target) not in reachable(numbers):
        return (
            f"cannot reach {target} from {list(numbers)} even with {forbidden} allowed; the ban must be "
            "what blocks it"
        )
    if Fraction(target) in reachable(numbers, forbidden):
        return f"is solvable: {target} can be reached from {list(numbers)} without ever forming {forbidden}"
    return None
