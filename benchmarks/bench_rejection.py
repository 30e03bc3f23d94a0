"""Rejection dialogues: every dialogue of a turn in one batched call vs one dialogue at a time, in one run.

    PYTHONPATH=workflow python benchmarks/bench_rejection.py [--model results/models/NAME]

Plays the same dialogues (the default conditions: four tones and two controls, the first
`--questions-per-kind` questions of each kind) both ways, `--repeats` times interleaved so that drifting
machine load hits both alike, and reports the median wall time and generated tokens per second. Each
answer samples from its own seeded stream, so both ways write the same dialogues: exactly so in
float32, and the script says how many answers differ (bf16 padding can flip a near-tie).
Without --model the embedded SmolLM2 spec is prepared into a temporary folder first (about 20 s).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from agent_affect.models import DEFAULT_SPEC_CONFIG, load_model, parse_spec, prepare_model
from agent_affect.rejection import (
    build_conditions,
    load_follow_ups,
    load_questions,
    run_dialogues,
    select_questions,
)

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "rejection"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="a prepared model folder (default: prepare SmolLM2)")
    parser.add_argument("--questions-per-kind", type=int, default=1)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--dtype", default="bfloat16", help="bfloat16 or float32")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.model
        if folder is None:
            spec = parse_spec(DEFAULT_SPEC_CONFIG)
            folder = prepare_model(spec, Path(scratch) / spec.name)
        run(folder, args)


def _play(model, tokenizer, questions, conditions, texts, args, batched: bool) -> pl.DataFrame:
    common = dict(
        turns=args.turns, max_new_tokens=args.max_new_tokens, temperature=0.7, seed=0, progress=False
    )
    if batched:
        return run_dialogues(model, tokenizer, questions, conditions, texts, batch_size=1024, **common)
    tables = [
        run_dialogues(model, tokenizer, [question], [condition], texts, batch_size=1, **common)
        for question in questions
        for condition in conditions
    ]
    return pl.concat(tables)


def run(folder: Path, args: argparse.Namespace) -> None:
    model, tokenizer = load_model(folder, device="cpu", dtype=args.dtype)
    questions = select_questions(load_questions(RESOURCES / "questions.jsonl"), args.questions_per_kind)
    conditions = build_conditions(["neutral", "harsh", "disappointed", "sarcastic"], ["ok", "placeholder"])
    texts = load_follow_ups(RESOURCES / "rejections.yaml")
    n_dialogues = len(questions) * len(conditions)
    print(
        f"{n_dialogues} dialogues x {args.turns} turns, max {args.max_new_tokens} new tokens, {args.dtype}, "
        f"{torch.get_num_threads()} threads"
    )
    times: dict[str, list[float]] = {"batched": [], "one at a time": []}
    tables: dict[str, pl.DataFrame] = {}
    for _ in range(args.repeats):
        for mode in times:
            start = time.perf_counter()
            tables[mode] = _play(model, tokenizer, questions, conditions, texts, args, mode == "batched")
            times[mode].append(time.perf_counter() - start)
    print(f"{'mode':<14} {'seconds':>8} {'tokens':>7} {'tokens/s':>9}")
    for mode, seconds in times.items():
        tokens = int(tables[mode]["response_tokens"].sum())
        median = statistics.median(seconds)
        print(f"{mode:<14} {median:>8.1f} {tokens:>7d} {tokens / median:>9.1f}")
    speedup = statistics.median(times["one at a time"]) / statistics.median(times["batched"])
    joined = tables["batched"].join(tables["one at a time"], on="id", suffix="_alone")
    differ = int((joined["response"] != joined["response_alone"]).sum())
    print(
        f"batched is {speedup:.2f}x faster; {differ} of {joined.height} answers differ between the two ways"
    )


if __name__ == "__main__":
    main()
