"""Rejection dialogues: the conditions, and the messages a model sees at each turn of each one.

A dialogue opens with a question. After the model's answer at turn t the user writes a follow-up, and
the model answers again at turn t + 1, for up to `turns` answers. The condition decides the follow-up
and what the model sees of its own earlier answers:

- ``rejection`` in a tone (neutral, harsh, disappointed, sarcastic): a rejection in that tone;
- ``acknowledgement`` (condition ``ok``): an "Ok" that neither rejects nor asks again;
- ``placeholder`` (condition ``placeholder_<tone>``): rejections in the tone, but every earlier answer
  is shown as a placeholder text, so the model never rereads its own failures.

The wording of a follow-up depends on the question's position and the turn only, so every tone uses the
same position of its list at the same point of the same question's dialogue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent_affect.rejection.resources import TONES, FollowUps, Question

CONTROLS = ("ok", "placeholder")
Message = dict[str, str]


@dataclass(frozen=True)
class Condition:
    """How follow-ups and history are written; `kind` is rejection, acknowledgement or placeholder."""

    name: str
    kind: str
    tone: str | None

    @classmethod
    def rejection(cls, tone: str) -> Condition:
        return cls(tone, "rejection", tone)

    @classmethod
    def acknowledgement(cls) -> Condition:
        return cls("ok", "acknowledgement", None)

    @classmethod
    def placeholder(cls, tone: str) -> Condition:
        return cls(f"placeholder_{tone}", "placeholder", tone)


def build_conditions(
    tones: Sequence[str], controls: Sequence[str], placeholder_tone: str = "neutral"
) -> list[Condition]:
    """A rejection condition per tone, then the controls asked for (``ok``, ``placeholder``)."""
    unknown = [tone for tone in [*tones, placeholder_tone] if tone not in TONES]
    if unknown:
        raise ValueError(f"unknown tone(s) {unknown}; known: {TONES}")
    bad = [control for control in controls if control not in CONTROLS]
    if bad:
        raise ValueError(f"unknown control(s) {bad}; known: {CONTROLS}")
    if len(set(tones)) != len(tones) or len(set(controls)) != len(controls):
        raise ValueError(f"tones and controls must not repeat, got {list(tones)} and {list(controls)}")
    conditions = [Condition.rejection(tone) for tone in tones]
    if "ok" in controls:
        conditions.append(Condition.acknowledgement())
    if "placeholder" in controls:
        conditions.append(Condition.placeholder(placeholder_tone))
    if not conditions:
        raise ValueError("no conditions: give at least one tone or control")
    return conditions


def follow_up(condition: Condition, texts: FollowUps, question_index: int, turn: int) -> str:
    """What the user writes after the model's answer at `turn` (1-based)."""
    options = texts.acknowledgement if condition.kind == "acknowledgement" else texts.tones[condition.tone]
    return options[(question_index + turn - 1) % len(options)]


def turn_messages(
    condition: Condition,
    question: Question,
    question_index: int,
    answers: Sequence[str],
    texts: FollowUps,
    system_prompt: str | None = None,
) -> list[Message]:
    """The messages the model sees before its answer at turn ``len(answers) + 1``.

    `answers` are the model's own earlier answers in this dialogue; the placeholder condition shows
    the placeholder text in their place.
    """
    messages: list[Message] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": question.text})
    for turn, answer in enumerate(answers, start=1):
        shown = texts.placeholder if condition.kind == "placeholder" else answer
        messages.append({"role": "assistant", "content": shown})
        messages.append({"role": "user", "content": follow_up(condition, texts, question_index, turn)})
    return messages


def dialogue_id(condition: Condition, question: Question, sample: int) -> str:
    return f"{condition.name}:{question.id}:{sample}"


def row_seed(seed: int, question_id: str, sample: int, turn: int) -> int:
    """The sampling seed of one answer: the same in every condition (and arm) for a question, sample, turn.

    So conditions differ in what the model was told, not in the random numbers it drew.
    """
    digest = hashlib.sha256(f"{seed}\0{question_id}\0{sample}\0{turn}".encode()).hexdigest()
    return int(digest[:15], 16)


# What a plain transcript (a model without a chat template) calls each role.
PLAIN_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
# A base model continuing a plain transcript writes the next user turn itself; cut it there.
PLAIN_STOP = "\nUser:"


def render(tokenizer: Any, messages: Sequence[Message], start: str = "", chat: bool | None = None) -> str:
    """Prompt text for the assistant's next turn, already begun with `start` (empty for a fresh turn).

    With a chat template (or ``chat=True``) the template renders the messages and opens the assistant
    turn; without one (a base model, or ``chat=False``) a plain ``User: ... / Assistant: ...`` transcript
    is written, whose continuations are cut at the next ``User:`` line (see `PLAIN_STOP`).
    """
    from agent_affect.models import chat_prompts

    if chat is None:
        chat = tokenizer.chat_template is not None
    if chat:
        return chat_prompts(tokenizer, [list(messages)])[0] + start
    lines = [f"{PLAIN_ROLES[m['role']]}: {m['content']}" for m in messages]
    lines.append(f"{PLAIN_ROLES['assistant']}: {start}" if start else f"{PLAIN_ROLES['assistant']}:")
    return "\n\n".join(lines)
