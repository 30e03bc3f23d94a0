"""The stimulus corpus of resources/stimuli/: emotion stories, controls, dialogues, trajectory turns.

Every file is JSON lines; `load_*` functions validate each record and name the file and line of a bad
one. The forbidden-word check keeps emotion names out of the stories: a story that says "frustrated"
teaches a direction the word, not the state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

STIMULI = Path(__file__).resolve().parents[3] / "resources" / "stimuli"


class StimulusError(ValueError):
    """A stimulus record is malformed: the message names the file and line."""


def forbidden_patterns(path: Path | None = None) -> dict[str, re.Pattern[str]]:
    """emotion -> one compiled pattern matching any of its forbidden words (see forbidden_words.yaml)."""
    words = yaml.safe_load(Path(path or STIMULI / "forbidden_words.yaml").read_text())
    patterns = {}
    for emotion, entries in words.items():
        alternatives = [re.escape(entry).replace(r"\*", r"\w*").replace(r"\ ", r"\s+") for entry in entries]
        patterns[emotion] = re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)
    return patterns


def forbidden_hits(text: str, patterns: dict[str, re.Pattern[str]]) -> list[tuple[str, str]]:
    """(emotion, word) for every forbidden word in `text`."""
    return [
        (emotion, match.group(0)) for emotion, pattern in patterns.items() for match in pattern.finditer(text)
    ]


@dataclass(frozen=True)
class Record:
    """One JSON line with where it came from, for error messages."""

    data: dict
    source: str

    def __getitem__(self, key: str):
        return self.data[key]

    def get(self, key: str, default=None):
        return self.data.get(key, default)


def read_jsonl(paths: Iterable[Path], required: tuple[str, ...]) -> list[Record]:
    """Every record of the files, each checked for the required keys; ids unique across files."""
    records: list[Record] = []
    seen: dict[str, str] = {}
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise StimulusError(f"{where}: not JSON ({error.msg}); fix or delete the line") from error
            if not isinstance(data, dict):
                raise StimulusError(f"{where}: a record must be a JSON object")
            missing = [key for key in required if key not in data]
            if missing:
                raise StimulusError(f"{where}: missing {', '.join(missing)} (record id {data.get('id')!r})")
            if data["id"] in seen:
                raise StimulusError(f"{where}: id {data['id']!r} already used at {seen[data['id']]}")
            seen[data["id"]] = where
            records.append(Record(data, where))
    return records


EMOTION_FIELDS = ("id", "emotion", "topic", "domain", "person", "text")
CONTROL_FIELDS = ("id", "kind", "emotion", "topic", "text")
CONTROL_KINDS = ("neutral_coding", "neutral_failure", "emotional_general", "lexical")
DIALOGUE_FIELDS = ("id", "messages")
TRAJECTORY_FIELDS = ("id", "stage", "stage_name", "kind", "pair", "task", "messages")


def load_corpus(stimuli: Path | str) -> list[dict]:
    """Every text the directions are made from and checked on, one dict per text.

    Keys: id, set (emotion | control | dialogue), kind (story, a control kind, or dialogue), emotion
    (None for neutral texts), topic, domain, person, text (None for dialogues), messages (dialogues).
    """
    stimuli = Path(stimuli)
    story_files = sorted((stimuli / "emotions").glob("*.jsonl"))
    if not story_files:
        raise StimulusError(f"no emotion stories in {stimuli / 'emotions'} (expected <emotion>.jsonl files)")
    rows: list[dict] = []
    for record in read_jsonl(story_files, EMOTION_FIELDS):
        if Path(record.source.rsplit(":", 1)[0]).stem != record["emotion"]:
            raise StimulusError(f"{record.source}: emotion {record['emotion']!r} in another emotion's file")
        rows.append(_row(record, "emotion", "story", record["emotion"], record.get("text")))
    for record in read_jsonl([stimuli / "controls.jsonl"], CONTROL_FIELDS):
        if record["kind"] not in CONTROL_KINDS:
            raise StimulusError(f"{record.source}: kind {record['kind']!r} is not one of {CONTROL_KINDS}")
        rows.append(_row(record, "control", record["kind"], record["emotion"], record["text"]))
    for record in read_jsonl([stimuli / "neutral_dialogues.jsonl"], DIALOGUE_FIELDS):
        _check_messages(record)
        rows.append(_row(record, "dialogue", "dialogue", None, None, messages=record["messages"]))
    return rows


def load_trajectory(path: Path | str) -> list[dict]:
    """The failure-trajectory chats: stage 1..5, failure or length-matched control."""
    rows = []
    for record in read_jsonl([Path(path)], TRAJECTORY_FIELDS):
        _check_messages(record)
        if record["kind"] not in ("failure", "control"):
            raise StimulusError(f"{record.source}: kind must be failure or control, got {record['kind']!r}")
        rows.append(dict(record.data))
    return rows


def _row(record: Record, set_: str, kind: str, emotion: str | None, text: str | None, messages=None) -> dict:
    return {
        "id": record["id"],
        "set": set_,
        "kind": kind,
        "emotion": emotion,
        "topic": record.get("topic"),
        "domain": record.get("domain"),
        "person": record.get("person"),
        "text": text,
        "messages": messages,
    }


def _check_messages(record: Record) -> None:
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        raise StimulusError(f"{record.source}: messages must be a non-empty list")
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
            raise StimulusError(
                f"{record.source}: message {position} needs a role of system, user or assistant"
            )
        if not isinstance(message.get("content"), str):
            raise StimulusError(f"{record.source}: message {position} has no text content")
