"""Play the rejection dialogues turn by turn, and continue prefilled turns; one parquet row per answer.

`run_dialogues` advances every dialogue (each condition x question x sample) by one answer per turn:
all of a turn's prompts go through `generate_rows` together, batched so that the conditions of one
question share a batch, each row sampling with a seed shared by its question, sample and turn across
conditions. `run_prefill` takes the history of chosen dialogues after some rejections, opens the next
assistant turn with a neutral or a frustrated start, and lets a model (the same, or a base or instruct
sibling) continue it.

Tables (columns in `DIALOGUE_COLUMNS`, `PREFILL_COLUMNS`) keep ``messages``: the JSON list of every
message up to and including the answer, as the model saw them, so a later stage can read each answer
in context (`probe_inputs` writes them in the ``agent-affect probe`` input format).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from agent_affect.rejection.config import prefill_config, run_config
from agent_affect.rejection.dialogues import (
    PLAIN_STOP,
    Condition,
    build_conditions,
    dialogue_id,
    render,
    row_seed,
    turn_messages,
)
from agent_affect.rejection.generation import Vectors, generate_rows
from agent_affect.rejection.resources import (
    FollowUps,
    Question,
    load_follow_ups,
    load_prefills,
    load_questions,
    select_questions,
)

log = logging.getLogger(__name__)

DIALOGUE_SCHEMA = {
    "id": pl.String,  # dialogue_id:turn, the key a later stage joins on
    "arm": pl.String,  # baseline, or the name of an intervention such as calm steering
    "dialogue_id": pl.String,
    "condition": pl.String,
    "condition_kind": pl.String,
    "tone": pl.String,
    "question_id": pl.String,
    "question_kind": pl.String,
    "sample": pl.Int64,
    "turn": pl.Int64,
    "seed": pl.Int64,
    "messages": pl.String,
    "response": pl.String,
    "response_tokens": pl.Int64,
    "finished": pl.Boolean,
    "model": pl.String,
}
DIALOGUE_COLUMNS = tuple(DIALOGUE_SCHEMA)

PREFILL_SCHEMA = {
    "id": pl.String,
    "model": pl.String,
    "dialogue_id": pl.String,
    "condition": pl.String,
    "question_id": pl.String,
    "question_kind": pl.String,
    "sample": pl.Int64,
    "after_rejections": pl.Int64,
    "start_kind": pl.String,
    "start_index": pl.Int64,
    "start": pl.String,
    "continuation": pl.String,
    "continuation_tokens": pl.Int64,
    "finished": pl.Boolean,
    "chat": pl.Boolean,
    "seed": pl.Int64,
    "messages": pl.String,
}
PREFILL_COLUMNS = tuple(PREFILL_SCHEMA)


@dataclass(frozen=True)
class Arm:
    """An intervention on the dialogues: its name, its steering vector per layer (None: none), and the
    conditions it plays (None: all). The baseline arm is unsteered and plays every condition."""

    name: str
    vectors: Vectors = None
    conditions: tuple[str, ...] | None = None

    def plays(self, condition: Condition) -> bool:
        return self.conditions is None or condition.name in self.conditions


BASELINE = Arm("baseline")


def run_dialogues(
    model: Any,
    tokenizer: Any,
    questions: Sequence[Question],
    conditions: Sequence[Condition],
    follow_ups: FollowUps,
    *,
    turns: int = 8,
    samples: int = 1,
    max_new_tokens: int = 64,
    temperature: float = 0.7,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    system_prompt: str | None = None,
    chat: bool | None = None,
    arms: Sequence[Arm] = (BASELINE,),
    positions: str = "all",
    model_name: str = "",
    progress: bool = True,
) -> pl.DataFrame:
    """Every dialogue of every arm played for `turns` answers; one row per answer (see `DIALOGUE_SCHEMA`).

    Each arm plays its conditions with its own steering vectors (added at `positions`: all, or only
    the generated tokens), in the same batches and with the same seeds as the baseline; the dialogues
    of an arm other than the baseline are named ``<arm>/<condition>:<question>:<sample>``.
    """
    if turns < 1 or samples < 1:
        raise ValueError(f"need turns >= 1 and samples >= 1, got {turns}, {samples}")
    if len({arm.name for arm in arms}) != len(arms):
        raise ValueError(f"arm names must be unique, got {[arm.name for arm in arms]}")
    # The arms and conditions of one (question, sample) are adjacent, and a batch holds whole groups.
    slots = [
        (index, question, sample, condition, arm)
        for index, question in enumerate(questions)
        for sample in range(samples)
        for arm in arms
        for condition in conditions
        if arm.plays(condition)
    ]
    group = max(sum(arm.plays(condition) for arm in arms for condition in conditions), 1)
    rows_per_batch = max(batch_size // group, 1) * group
    if batch_size < group:
        log.warning(
            "batch_size %d < %d dialogues per question: batches of %d keep each question's together",
            batch_size,
            group,
            rows_per_batch,
        )
    answers: list[list[str]] = [[] for _ in slots]
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    for turn in range(1, turns + 1):
        histories = [
            turn_messages(condition, question, index, answers[i], follow_ups, system_prompt)
            for i, (index, question, _, condition, _) in enumerate(slots)
        ]
        seeds = [row_seed(seed, question.id, sample, turn) for _, question, sample, _, _ in slots]
        completions = generate_rows(
            model,
            tokenizer,
            [render(tokenizer, history, chat=chat) for history in histories],
            seeds,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            batch_size=rows_per_batch,
            stop_strings=_stops(tokenizer, chat),
            vectors=[arm.vectors for *_, arm in slots],
            positions=positions,
        )
        for i, ((_, question, sample, condition, arm), history, completion) in enumerate(
            zip(slots, histories, completions, strict=True)
        ):
            answers[i].append(completion.text)
            dialogue = dialogue_id(condition, question, sample)
            if arm.name != BASELINE.name:
                dialogue = f"{arm.name}/{dialogue}"
            rows.append(
                {
                    "id": f"{dialogue}:{turn}",
                    "arm": arm.name,
                    "dialogue_id": dialogue,
                    "condition": condition.name,
                    "condition_kind": condition.kind,
                    "tone": condition.tone,
                    "question_id": question.id,
                    "question_kind": question.kind,
                    "sample": sample,
                    "turn": turn,
                    "seed": seeds[i],
                    "messages": _messages_json([*history, {"role": "assistant", "content": completion.text}]),
                    "response": completion.text,
                    "response_tokens": completion.tokens,
                    "finished": completion.finished,
                    "model": model_name,
                }
            )
        if progress:
            log.info(
                "turn %d/%d: %d answers, %.0f s so far", turn, turns, len(slots), time.monotonic() - started
            )
    return pl.DataFrame(rows, schema=DIALOGUE_SCHEMA)


def run_prefill(
    model: Any,
    tokenizer: Any,
    dialogues: pl.DataFrame,
    starts: Mapping[str, Sequence[str]],
    *,
    conditions: Sequence[str] = ("neutral",),
    after_rejections: int = 3,
    max_new_tokens: int = 48,
    temperature: float = 0.7,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    chat: bool | None = None,
    model_name: str = "",
) -> pl.DataFrame:
    """Continuations of prefilled turns; one row per (dialogue, start) (see `PREFILL_SCHEMA`).

    The history is what the dialogue model saw before its answer after `after_rejections` follow-ups
    (the row at turn ``after_rejections + 1``, its answer dropped), in the given `conditions`. Each
    start opens the assistant turn and the model writes on; ``continuation`` is only what it wrote.
    The seed depends on the question, sample and start, so every model continues with the same draws.
    """
    turn = after_rejections + 1
    chosen = dialogues.filter(
        (pl.col("turn") == turn) & pl.col("condition").is_in(list(conditions)) & (pl.col("arm") == "baseline")
    ).sort("dialogue_id")
    if chosen.is_empty():
        raise ValueError(
            f"no baseline dialogue of condition(s) {list(conditions)} reaches turn {turn}: after_rejections "
            f"{after_rejections} needs dialogues of at least {turn} turns (conditions present: "
            f"{sorted(dialogues['condition'].unique().to_list())}, turns up to {dialogues['turn'].max()})"
        )
    chat = tokenizer.chat_template is not None if chat is None else chat
    items = []
    for row in chosen.iter_rows(named=True):
        history = json.loads(row["messages"])[:-1]
        for kind, texts in starts.items():
            for index, start in enumerate(texts):
                items.append((row, history, kind, index, start))
    prompts = [render(tokenizer, history, start, chat=chat) for _, history, _, _, start in items]
    seeds = [
        row_seed(seed, f"{row['question_id']}/prefill/{kind}/{index}", row["sample"], turn)
        for row, _, kind, index, _ in items
    ]
    completions = generate_rows(
        model,
        tokenizer,
        prompts,
        seeds,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        batch_size=batch_size,
        stop_strings=() if chat else (PLAIN_STOP,),
    )
    rows = []
    for (row, history, kind, index, start), seed_, completion in zip(items, seeds, completions, strict=True):
        reply = f"{start} {completion.text}".strip() if completion.text else start
        rows.append(
            {
                "id": f"{model_name}:{row['dialogue_id']}:{kind}{index}",
                "model": model_name,
                "dialogue_id": row["dialogue_id"],
                "condition": row["condition"],
                "question_id": row["question_id"],
                "question_kind": row["question_kind"],
                "sample": row["sample"],
                "after_rejections": after_rejections,
                "start_kind": kind,
                "start_index": index,
                "start": start,
                "continuation": completion.text,
                "continuation_tokens": completion.tokens,
                "finished": completion.finished,
                "chat": chat,
                "seed": seed_,
                "messages": _messages_json([*history, {"role": "assistant", "content": reply}]),
            }
        )
    return pl.DataFrame(rows, schema=PREFILL_SCHEMA)


def probe_inputs(table: pl.DataFrame) -> Iterator[dict[str, Any]]:
    """``{"id", "messages"}`` per row: the input lines of ``agent-affect probe``, one per answer."""
    for row_id, messages in table.select("id", "messages").iter_rows():
        yield {"id": row_id, "messages": json.loads(messages)}


def write_probe_inputs(table: pl.DataFrame, out_path: Path | str) -> int:
    """Write `probe_inputs` as JSON lines (atomically); returns the number of lines."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for line in probe_inputs(table):
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out_path)
    return count


def _messages_json(messages: Sequence[Mapping[str, str]]) -> str:
    return json.dumps([dict(message) for message in messages], ensure_ascii=False)


def _stops(tokenizer: Any, chat: bool | None) -> tuple[str, ...]:
    uses_chat = tokenizer.chat_template is not None if chat is None else chat
    return () if uses_chat else (PLAIN_STOP,)


def _model_name(model_dir: Path | str) -> str:
    from agent_affect.models import ModelSourceError, read_provenance

    try:
        return str(read_provenance(model_dir)["name"])
    except (ModelSourceError, KeyError, ValueError):
        return Path(model_dir).resolve().name


def calm_arms(calm: Mapping[str, Any], directions_dir: Path | str | None, seed: int) -> list[Arm]:
    """The baseline and, per strength of ``rejection.run.calm_steering``, the arm steered along the
    emotion's direction at the directions' chosen layer and (with ``random_control``) the arm steered
    along a seeded random direction of the same norm (`directions.steer.Steering`, as the agent stage's)."""
    if not calm["strengths"]:
        return [BASELINE]
    if directions_dir is None:
        raise ValueError("rejection.run.calm_steering has strengths: pass the model's directions folder")
    from agent_affect.directions.steer import Condition as SteerCondition
    from agent_affect.directions.steer import Steering
    from agent_affect.directions.store import DirectionSet

    directions = DirectionSet.load(Path(directions_dir) / f"{calm['method']}.safetensors")
    steering = Steering(directions, None, None, seed)
    only = tuple(calm["conditions"])
    arms = [BASELINE]
    for strength in calm["strengths"]:
        emotion = calm["emotion"]
        name = f"{emotion}{strength:+g}"
        arms.append(Arm(name, steering.vectors(SteerCondition(name, "direction", emotion, strength)), only))
        if calm["random_control"]:
            name = f"random[{emotion}]{strength:+g}"
            arms.append(Arm(name, steering.vectors(SteerCondition(name, "random", emotion, strength)), only))
    return arms


def run_rejection(
    config: Mapping[str, Any] | None,
    model_dir: Path | str,
    out_path: Path | str,
    directions_dir: Path | str | None = None,
) -> dict[str, Any]:
    """Load the model and the resources the ``rejection.run`` config names, play the dialogues (and the
    calm-steering arms, with the directions in `directions_dir`), write them."""
    from agent_affect.models import load_model
    from agent_affect.traces.tables import write_parquet

    config = run_config(config)
    questions = select_questions(load_questions(config["questions"]), config["questions_per_kind"])
    follow_ups = load_follow_ups(config["follow_ups"])
    conditions = build_conditions(config["tones"], config["controls"], config["placeholder_tone"])
    unknown = set(config["calm_steering"]["conditions"]) - {c.name for c in conditions}
    if unknown:
        raise ValueError(
            f"rejection.run.calm_steering.conditions names {sorted(unknown)}, not among the conditions "
            f"{[c.name for c in conditions]}"
        )
    arms = calm_arms(config["calm_steering"], directions_dir, config["seed"])
    model, tokenizer = load_model(model_dir, device=config["device"], dtype=config["dtype"])
    started = time.monotonic()
    table = run_dialogues(
        model,
        tokenizer,
        questions,
        conditions,
        follow_ups,
        turns=config["turns"],
        samples=config["samples"],
        max_new_tokens=config["max_new_tokens"],
        temperature=float(config["temperature"]),
        top_p=float(config["top_p"]),
        seed=config["seed"],
        batch_size=config["batch_size"],
        system_prompt=config["system_prompt"],
        arms=arms,
        positions=config["calm_steering"]["positions"],
        model_name=_model_name(model_dir),
    )
    seconds = time.monotonic() - started
    write_parquet(table, Path(out_path))
    tokens = int(table["response_tokens"].sum())
    return {
        "rows": table.height,
        "dialogues": table["dialogue_id"].n_unique(),
        "conditions": [condition.name for condition in conditions],
        "arms": [arm.name for arm in arms],
        "questions": [question.id for question in questions],
        "turns": config["turns"],
        "generated_tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 else None,
        "out": str(out_path),
    }


def run_prefill_stage(
    config: Mapping[str, Any] | None, dialogues_path: Path | str, model_dir: Path | str, out_path: Path | str
) -> dict[str, Any]:
    """Continue the prefilled turns the ``rejection.prefill`` config describes with one model; write them."""
    from agent_affect.models import load_model
    from agent_affect.traces.tables import write_parquet

    config = prefill_config(config)
    starts = load_prefills(config["starts"])
    model, tokenizer = load_model(model_dir, device=config["device"], dtype=config["dtype"])
    chat = {"auto": None, "chat": True, "plain": False}[config["format"]]
    if chat and tokenizer.chat_template is None:
        raise ValueError(
            f"rejection.prefill.format is chat but the tokenizer in {model_dir} has no chat template"
        )
    started = time.monotonic()
    table = run_prefill(
        model,
        tokenizer,
        pl.read_parquet(dialogues_path),
        starts,
        conditions=config["conditions"],
        after_rejections=config["after_rejections"],
        max_new_tokens=config["max_new_tokens"],
        temperature=float(config["temperature"]),
        top_p=float(config["top_p"]),
        seed=config["seed"],
        batch_size=config["batch_size"],
        chat=chat,
        model_name=_model_name(model_dir),
    )
    write_parquet(table, Path(out_path))
    return {
        "rows": table.height,
        "model": _model_name(model_dir),
        "chat": bool(table["chat"][0]),
        "seconds": round(time.monotonic() - started, 2),
        "out": str(out_path),
    }
