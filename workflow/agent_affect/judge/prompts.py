"""What the judge is asked and what counts as an answer: the system prompt, the JSON schema, their hash.

The prompt and the schema are files (``resources/prompts/``) so a user can swap them. A schema must
describe an object with a verdict property: a string ``label`` whose ``enum`` lists the labels (the
sentiment judge), or an integer ``score`` with a ``minimum`` and a ``maximum`` (the frustration judge);
any other properties (both defaults have ``reason``) are free. Every backend asks for the same chat,
``[system prompt, developer message cut at max_chars]``, and every answer goes through `parse_answer`:
valid JSON that validates against the schema, or an ``ERROR`` result that keeps the raw text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from agent_affect.labels import ERROR

HASH_CHARS = 16


class JudgePromptError(ValueError):
    """A prompt or schema file the judge cannot use: which file, what is wrong, what it needs."""


@dataclass(frozen=True)
class JudgeResult:
    """One message's verdict. ``label`` is one of the schema's labels, or ``ERROR`` with ``error`` set.

    For a ``score`` schema ``label`` is the integer in decimal, so verdicts of every kind share one
    cache layout; `score` reads it back.
    """

    label: str
    reason: str | None
    raw: str
    error: str | None = None

    @property
    def score(self) -> int | None:
        """The verdict as an integer, for a ``score`` schema; None for a label or an ``ERROR``."""
        try:
            return int(self.label)
        except ValueError:
            return None


@dataclass(frozen=True)
class JudgePrompt:
    """A system prompt and the JSON schema its answers must satisfy."""

    system: str
    schema: Mapping[str, Any]
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_schema(self.schema, "the judge schema")
        object.__setattr__(self, "_validator", Draft202012Validator(self.schema))

    @classmethod
    def load(cls, prompt_path: Path | str, schema_path: Path | str) -> JudgePrompt:
        """Read the system prompt (text, surrounding whitespace dropped) and the schema (JSON)."""
        prompt_path, schema_path = Path(prompt_path), Path(schema_path)
        for what, path in (("system prompt", prompt_path), ("schema", schema_path)):
            if not path.is_file():
                raise JudgePromptError(
                    f"judge {what} file {path} not found (relative paths are read from {Path.cwd()}); "
                    f"set judge.{'prompt' if what == 'system prompt' else 'schema'} in the config"
                )
        system = prompt_path.read_text(encoding="utf-8").strip()
        if not system:
            raise JudgePromptError(f"judge system prompt {prompt_path} is empty")
        try:
            schema = json.loads(schema_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise JudgePromptError(
                f"judge schema {schema_path} is not valid JSON: line {error.lineno}, column {error.colno}: "
                f"{error.msg}"
            ) from error
        try:
            return cls(system, schema)
        except JudgePromptError as error:
            raise JudgePromptError(f"{schema_path}: {error}") from error

    @property
    def verdict_key(self) -> str:
        """The property that holds the verdict: ``label`` or ``score``."""
        return "label" if "label" in self.schema["properties"] else "score"

    @property
    def score_range(self) -> tuple[int, int] | None:
        """(minimum, maximum) of a ``score`` schema; None for a label schema."""
        if self.verdict_key != "score":
            return None
        return _integer_bounds(self.schema["properties"]["score"])

    @property
    def labels(self) -> tuple[str, ...]:
        """The possible verdicts as `JudgeResult.label` writes them (a score schema's integers in decimal)."""
        if self.score_range is not None:
            low, high = self.score_range
            return tuple(str(value) for value in range(low, high + 1))
        return tuple(self.schema["properties"]["label"]["enum"])

    @property
    def name(self) -> str:
        """The schema's name for servers that want one (its ``title``, else ``judgement``)."""
        return str(self.schema.get("title") or "judgement")

    @property
    def hash(self) -> str:
        """A short sha256 of the system prompt and the canonical schema: part of every cache key."""
        canonical = json.dumps(self.schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(f"{self.system}\0{canonical}".encode())
        return digest.hexdigest()[:HASH_CHARS]

    def label_only(self) -> JudgePrompt:
        """The same prompt with its schema reduced to the verdict (label or score): the cheapest answer."""
        key = self.verdict_key
        schema = {
            "title": self.name,
            "type": "object",
            "properties": {key: dict(self.schema["properties"][key])},
            "required": [key],
            "additionalProperties": False,
        }
        return JudgePrompt(self.system, schema)

    def messages(self, text: str) -> list[dict[str, str]]:
        """The chat for one (already truncated) developer message."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": text}]

    def parse_answer(self, raw: str) -> JudgeResult:
        """A verdict from the model's raw text; never raises, an invalid answer is an ``ERROR`` result."""
        try:
            answer = json.loads(raw)
        except (json.JSONDecodeError, TypeError) as error:
            return JudgeResult(ERROR, None, raw, f"not JSON: {error}")
        problems = sorted(self._validator.iter_errors(answer), key=lambda e: list(e.absolute_path))
        if problems:
            where = "/".join(map(str, problems[0].absolute_path)) or "(root)"
            return JudgeResult(ERROR, None, raw, f"fails the schema at {where}: {problems[0].message}")
        reason = answer.get("reason")
        verdict = answer[self.verdict_key]
        # JSON schema counts 5.0 as an integer; the verdict is written as 5 all the same.
        label = verdict if self.verdict_key == "label" else str(int(verdict))
        return JudgeResult(label, reason if isinstance(reason, str) else None, raw)


def answer_token_bound(schema: Mapping[str, Any], bytes_per_char: int) -> int | None:
    """The most tokens an answer can take, for a flat object of enums and ``maxLength`` strings.

    With fixed whitespace (``{"a": x, "b": y}``) an answer is at most this many bytes, and every token
    of a byte-level vocabulary is at least one byte; plus one stop token. `bytes_per_char` is 4 where
    strings admit no escapes (xgrammar with ``maxLength``), 6 where ``\\uXXXX`` escapes may appear.
    None when some property is unbounded (a number, a string without ``maxLength``, a nested object)
    or extra properties are allowed.
    """
    properties = schema.get("properties", {})
    if schema.get("additionalProperties") is not False or not properties:
        return None
    total = len("{}") + len(", ") * (len(properties) - 1) + 1
    for name, spec in properties.items():
        total += len(json.dumps(name, ensure_ascii=False).encode()) + len(": ")
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            total += max(len(json.dumps(v, ensure_ascii=False).encode()) for v in spec["enum"])
        elif spec.get("type") == "string" and isinstance(spec.get("maxLength"), int):
            total += len('""') + bytes_per_char * spec["maxLength"]
        elif (bounds := _integer_bounds(spec)) is not None:
            total += max(len(str(bound)) for bound in bounds)
        else:
            return None
    return total


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short hash of the decoding settings that can change an answer (part of every cache key)."""
    canonical = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_CHARS]


def _check_schema(schema: Any, what: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise JudgePromptError(f"{what} is not a valid JSON schema: {error.message}") from error
    properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    label, score = properties.get("label"), properties.get("score")
    enum = label.get("enum") if isinstance(label, Mapping) else None
    is_object = isinstance(schema, Mapping) and schema.get("type") == "object"
    required = schema.get("required", []) if is_object else []
    labelled = (
        isinstance(enum, list)
        and bool(enum)
        and all(isinstance(v, str) and v and v != ERROR for v in enum)
        and "label" in required
    )
    scored = (
        label is None
        and isinstance(score, Mapping)
        and score.get("type") == "integer"
        and _integer_bounds(score) is not None
        and "score" in required
    )
    if not is_object or not (labelled or scored):
        raise JudgePromptError(
            f"{what} must describe an object with a required string property 'label' whose 'enum' lists "
            f'the labels (not {ERROR!r}), e.g. {{"type": "object", "properties": {{"label": {{"type": '
            '"string", "enum": ["POSITIVE", "NEUTRAL", "NEGATIVE"]}}, "required": ["label"]}}, or a '
            'required integer property \'score\' with a minimum and a maximum, e.g. {"score": {"type": '
            '"integer", "minimum": 0, "maximum": 10}}'
        )


def _integer_bounds(spec: Mapping[str, Any]) -> tuple[int, int] | None:
    """(minimum, maximum) of an integer property that has both, as integers; else None."""
    if spec.get("type") != "integer":
        return None
    low, high = spec.get("minimum"), spec.get("maximum")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low > high:
        return None
    return low, high
