"""The retrying coding agent, steered, with every condition of an attempt in one batched generation.

A dialogue is a task, a sample, a feedback tone and a condition. The agent gets the task as a chat;
after a failed attempt the visible failure message (in the tone's words) is added as a user turn after
its answer, and it tries again, up to `attempts` times, stopping at a visible pass. Hidden tests are
scored for analysis only.

Matched design: a row's seed depends on the task, the sample, the tone and the attempt, never on the
condition, so every condition of a cell samples from the same random stream (the published harness
hashed the condition into the seed). Work is done one task at a time and each finished task is
written as a shard: a killed run resumes from the shards it finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import torch
import yaml
from tqdm.auto import tqdm

from agent_affect.agent.generation import Row, generate_rows
from agent_affect.directions.activations import encode, project_means, read_answer_means
from agent_affect.directions.steer import Condition, Steering, steer
from agent_affect.directions.store import DirectionSet

log = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "tasks": None,  # task ids; None = every task of the suite
    "samples": 3,  # per task, tone and condition
    "attempts": 3,
    "tones": ["neutral", "harsh", "encouraging"],
    "feedback": "resources/prompts/agent_feedback.yaml",
    "max_new_tokens": 192,
    "temperature": 0.7,
    "top_p": 0.95,
    "seed": 0,
    "batch_size": 48,  # rows per batched generation
    # all: every condition of an attempt step in one batch (each row its own vector and seed);
    # condition: one condition at a time, the published harness's order, kept to check that both
    # write the same text for the same seeds and to benchmark one against the other.
    "batching": "all",
    # Sandbox limits of every evaluation (keys of agent_affect.evaluate.Limits); {} keeps its defaults.
    "limits": {},
    "method": "anthropic",  # whose directions steer and are read
    "emotions": ["desperate", "calm"],  # steered directions
    "strengths": [-0.1, -0.05, 0.05, 0.1],  # fractions of the layer's mean residual norm
    "random_control": True,  # a random direction at the same strengths (equal norm)
    "prompt_baseline": True,  # the feedback's calm-asking system prompt, unsteered
    "sae_emotions": ["desperate", "calm"],  # SAE-feature steering (method "sae"); [] for none
    "sae_strengths": [0.1],
    "positions": "all",  # all | generated | feedback (only while reading the feedback turns)
    "layers": None,  # steering layers; None = the directions' chosen layer
    "device": None,
    "dtype": None,
}


def conditions(cfg: Mapping[str, Any]) -> list[Condition]:
    out = [Condition("baseline", "baseline")]
    for emotion in cfg["emotions"]:
        for strength in cfg["strengths"]:
            out.append(Condition(f"{emotion}{strength:+g}", "direction", emotion, strength))
            if cfg["random_control"]:
                out.append(Condition(f"random[{emotion}]{strength:+g}", "random", emotion, strength))
    if cfg["prompt_baseline"]:
        out.append(Condition("prompt:calm", "prompt"))
    for emotion in cfg["sae_emotions"]:
        for strength in cfg["sae_strengths"]:
            out.append(Condition(f"sae:{emotion}{strength:+g}", "sae", emotion, strength))
    return out


def agent_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_CONFIG)
    for key, value in (config or {}).items():
        if key not in DEFAULT_CONFIG:
            raise ValueError(f"unknown agent setting {key!r}; known: {sorted(DEFAULT_CONFIG)}")
        merged[key] = value
    if merged["positions"] not in ("all", "generated", "feedback"):
        raise ValueError(f"agent positions must be all, generated or feedback, got {merged['positions']!r}")
    if merged["batching"] not in ("all", "condition"):
        raise ValueError(f"agent batching must be all or condition, got {merged['batching']!r}")
    from agent_affect.evaluate import Limits

    Limits.from_dict(dict(merged["limits"] or {}))  # unknown or invalid limits fail here, not mid-run
    return merged


def row_seed(seed: int, task: str, sample: int, tone: str, attempt: int) -> int:
    """The cell's seed: the same for every condition (the condition is deliberately not in it)."""
    digest = hashlib.sha256(f"{seed}/{task}/{sample}/{tone}/{attempt}".encode()).hexdigest()
    return int(digest[:15], 16)


@dataclass
class Dialogue:
    task: Any
    sample: int
    tone: str
    condition: Condition
    messages: list[dict[str, str]]
    feedback_turns: list[int] = field(default_factory=list)  # indices of feedback messages
    done: bool = False


def _feedback_text(feedback: Mapping[str, Any], tone: str, failure: str) -> str:
    return feedback["tones"][tone].format(failure=failure.strip())


def run_task(
    model: Any,
    tokenizer: Any,
    task: Any,
    cfg: Mapping[str, Any],
    steering: Steering,
    feedback: Mapping[str, Any],
    read: DirectionSet,
) -> list[dict[str, Any]]:
    """Every dialogue of one task through all its attempts; one record per attempt."""
    from agent_affect.evaluate import Limits, evaluate_response

    limits = Limits.from_dict(dict(cfg["limits"] or {}))
    dialogues = []
    for tone in cfg["tones"]:
        for sample in range(cfg["samples"]):
            for condition in conditions(cfg):
                system = (
                    feedback["system_prompt_calm"]
                    if condition.kind == "prompt"
                    else feedback["system_prompt"]
                )
                messages = [
                    {"role": "system", "content": system},
                    {"role": "user", "content": task.agent_prompt()},
                ]
                dialogues.append(Dialogue(task, sample, tone, condition, messages))
    records = []
    positions = "prompt_mask" if cfg["positions"] == "feedback" else cfg["positions"]
    for attempt in range(1, cfg["attempts"] + 1):
        active = [d for d in dialogues if not d.done]
        if not active:
            break
        rows = []
        for dialogue in active:
            prompt, _ = encode(tokenizer, dialogue.messages)
            rows.append(
                Row(
                    prompt,
                    row_seed(cfg["seed"], task.id, dialogue.sample, dialogue.tone, attempt),
                    steering.vectors(dialogue.condition),
                    prompt_mask=_feedback_mask(tokenizer, dialogue) if positions == "prompt_mask" else None,
                )
            )
        started = time.perf_counter()
        if cfg["batching"] == "all":
            groups = [list(range(len(rows)))]
        else:
            names = list(dict.fromkeys(d.condition.name for d in active))
            groups = [[i for i, d in enumerate(active) if d.condition.name == n] for n in names]
        generated: list[list[int]] = [[] for _ in rows]
        for group in groups:
            for start in range(0, len(group), cfg["batch_size"]):
                chunk = group[start : start + cfg["batch_size"]]
                outputs = generate_rows(
                    model,
                    tokenizer,
                    [rows[i] for i in chunk],
                    max_new_tokens=cfg["max_new_tokens"],
                    temperature=cfg["temperature"],
                    top_p=cfg["top_p"],
                    positions=positions,
                )
                for i, tokens in zip(chunk, outputs, strict=True):
                    generated[i] = tokens
        seconds = time.perf_counter() - started
        responses = [tokenizer.decode(tokens, skip_special_tokens=True) for tokens in generated]
        # The sandboxed evaluations mostly wait on their processes (a looping candidate holds its
        # thread up to the wall limit), so they run while the projections are read.
        with ThreadPoolExecutor() as pool:
            pending = pool.map(lambda r: evaluate_response(task, r, limits), responses)
            projections = read_projections(
                model, tokenizer, rows, generated, read, positions, cfg["batch_size"]
            )
            outcomes = list(pending)
        for dialogue, row, tokens, response, outcome, projection in zip(
            active, rows, generated, responses, outcomes, projections, strict=True
        ):
            verdict = outcome["verdict"]
            records.append(
                {
                    "task": task.id,
                    "impossible": task.impossible,
                    "sample": dialogue.sample,
                    "tone": dialogue.tone,
                    **dialogue.condition.to_dict(),
                    "attempt": attempt,
                    "seed": row.seed,
                    "prompt_tokens": len(row.prompt),
                    "new_tokens": len(tokens),
                    "response": response,
                    "code_found": outcome["code_found"],
                    "status": verdict["status"],
                    "visible_passed": verdict["visible_passed"],
                    "visible_total": verdict["visible_total"],
                    "hidden_passed": verdict["hidden_passed"],
                    "hidden_total": verdict["hidden_total"],
                    "flags": json.dumps(verdict["flags"]),
                    "prose_flags": json.dumps(outcome["prose_flags"], sort_keys=True),
                    "markers": json.dumps(outcome["affect_markers"], sort_keys=True),
                    "batch_seconds": seconds,
                    **projection,
                }
            )
            visible_pass = (
                verdict["visible_total"] > 0 and verdict["visible_passed"] == verdict["visible_total"]
            )
            dialogue.messages.append({"role": "assistant", "content": response})
            if visible_pass or attempt == cfg["attempts"]:
                dialogue.done = True
            else:
                failure = task.failure_message(_verdict(verdict))
                dialogue.feedback_turns.append(len(dialogue.messages))
                dialogue.messages.append(
                    {"role": "user", "content": _feedback_text(feedback, dialogue.tone, failure)}
                )
    return records


def _verdict(data: Mapping[str, Any]) -> Any:
    from agent_affect.evaluate import Verdict

    return Verdict(**data)


def _feedback_mask(tokenizer: Any, dialogue: Dialogue) -> list[bool]:
    """True on the tokens of the feedback turns: the chat rendered up to before and after each turn."""
    prompt, _ = encode(tokenizer, dialogue.messages)
    mask = [False] * len(prompt)
    for index in dialogue.feedback_turns:
        before = len(
            tokenizer(_render(tokenizer, dialogue.messages[:index]), add_special_tokens=False)["input_ids"]
        )
        after = len(
            tokenizer(_render(tokenizer, dialogue.messages[: index + 1]), add_special_tokens=False)[
                "input_ids"
            ]
        )
        for position in range(before, min(after, len(mask))):
            mask[position] = True
    return mask


def _render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=False)


def read_projections(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    generated: Sequence[list[int]],
    directions: DirectionSet,
    positions: str,
    batch_size: int,
) -> list[dict[str, float]]:
    """Per row: the projection onto every direction of the residual at the directions' layer, averaged
    over the generated tokens, read without steering (`unsteered_<emotion>`) and with the row's
    steering on (`steered_<emotion>`), kept apart."""
    layer = directions.layer()
    d_model = directions.vectors[layer].shape[1]
    sequences = [row.prompt + tokens for row, tokens in zip(rows, generated, strict=True)]
    lengths = [len(tokens) for tokens in generated]

    @contextmanager
    def steered(chunk: Sequence[int], read: torch.Tensor) -> Iterator[None]:
        layers = sorted({k for i in chunk for k in (rows[i].vectors or {})})
        vectors = {
            k: torch.stack([(rows[i].vectors or {}).get(k, torch.zeros(d_model)).float() for i in chunk])
            for k in layers
        }
        # Reading a whole sequence at once, "generated" steering means the generated positions.
        mode = "prompt_mask" if positions in ("prompt_mask", "generated") else "all"
        steer_mask = read
        if positions == "prompt_mask":
            steer_mask = torch.zeros_like(read)
            width = read.shape[1]
            for j, i in enumerate(chunk):
                if rows[i].prompt_mask is not None:
                    end = width - lengths[i]
                    steer_mask[j, end - len(rows[i].prompt) : end] = torch.tensor(rows[i].prompt_mask)
        with steer(model, vectors, positions=mode, prompt_mask=steer_mask if mode == "prompt_mask" else None):
            yield

    out: list[dict[str, float]] = [{} for _ in rows]
    for label, hooks in (("unsteered", None), ("steered", steered)):
        means, _ = read_answer_means(model, tokenizer, sequences, lengths, layer, batch_size, hooks)
        projections = project_means(means, directions, layer)
        for i in range(len(rows)):
            for e, emotion in enumerate(directions.emotions):
                out[i][f"{label}_{emotion}"] = float(projections[i, e])
    return out


def run_agent(
    model_dir: Path | str,
    directions_dir: Path | str,
    out: Path | str,
    shards: Path | str,
    config: Mapping[str, Any] | None = None,
    tasks_dir: Path | str | None = None,
) -> dict[str, Any]:
    """The whole loop: every task's shard (resuming finished ones), then one attempts table at `out`."""
    from agent_affect.evaluate import load_suite
    from agent_affect.models.loading import load_model
    from agent_affect.models.prepare import PROVENANCE_FILE
    from agent_affect.timing import read_timing, write_timing

    cfg = agent_config(config)
    shards = Path(shards)
    shards.mkdir(parents=True, exist_ok=True)
    suite = load_suite(tasks_dir) if tasks_dir else load_suite()
    ids = cfg["tasks"] or sorted(suite)
    missing = [i for i in ids if i not in suite]
    if missing:
        raise ValueError(f"agent.tasks names tasks the suite does not have: {missing}")
    directions = DirectionSet.load(Path(directions_dir) / f"{cfg['method']}.safetensors")
    sae_path = Path(directions_dir) / "sae" / "sae.safetensors"
    sae = (
        DirectionSet.load(sae_path)
        if cfg["sae_emotions"] and sae_path.with_suffix(".json").is_file()
        else None
    )
    steering = Steering(directions, sae, cfg["layers"], cfg["seed"])
    feedback = yaml.safe_load(Path(cfg["feedback"]).read_text())
    unknown = set(cfg["tones"]) - set(feedback["tones"])
    if unknown:
        raise ValueError(f"{cfg['feedback']}: no wording for tones {sorted(unknown)}")
    # Shards are reused only for the same settings and the same inputs: new directions, feedback
    # wording, task files or model weights (their provenance) make every task run again.
    inputs = [Path(directions_dir) / f"{cfg['method']}.safetensors", Path(cfg["feedback"])]
    inputs += [sae_path] if sae is not None else []
    inputs += [suite[i].path for i in ids if suite[i].path is not None]
    inputs += [Path(model_dir) / PROVENANCE_FILE]
    digest = hashlib.sha256(json.dumps([cfg, str(model_dir)], sort_keys=True, default=str).encode())
    for path in inputs:
        for part in (path, path.with_suffix(".json")) if path.suffix == ".safetensors" else (path,):
            digest.update(part.read_bytes() if part.is_file() else str(part).encode())
    fingerprint = digest.hexdigest()[:16]
    model = tokenizer = None
    for task_id in tqdm(ids, desc="agent tasks", unit="task"):
        shard = shards / f"{task_id}.{fingerprint}.parquet"
        if shard.is_file():
            continue
        if model is None:
            model, tokenizer = load_model(model_dir, device=cfg["device"], dtype=cfg["dtype"])
        records = pl.DataFrame(
            run_task(model, tokenizer, suite[task_id], cfg, steering, feedback, directions)
        )
        # A generation's seconds are a timing, not a result: they go to the shard's timing sidecar, so
        # that the shard and the attempts table are the same bytes from run to run.
        steps = records.group_by("task", "attempt", maintain_order=True).agg(
            rows=pl.len(), new_tokens=pl.col("new_tokens").sum(), seconds=pl.col("batch_seconds").first()
        )
        write_timing(shard, {"steps": steps.to_dicts()})
        tmp = shard.with_suffix(".tmp")
        records.drop("batch_seconds").write_parquet(tmp)
        tmp.replace(shard)
    paths = [shards / f"{t}.{fingerprint}.parquet" for t in ids]
    table = pl.concat([pl.read_parquet(path) for path in paths], how="diagonal_relaxed")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.sort(["task", "tone", "sample", "condition", "attempt"]).write_parquet(out)
    steps = [step for path in paths for step in (read_timing(path) or {"steps": []})["steps"]]
    write_timing(out, {"generation_seconds": sum(step["seconds"] for step in steps), "steps": steps})
    return {
        "rows": table.height,
        "tasks": len(ids),
        "conditions": len(conditions(cfg)),
        "fingerprint": fingerprint,
    }
