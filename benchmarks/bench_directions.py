"""Activation capture: batched reads that stop after the last wanted layer, against one text at a time
with a full `output_hidden_states` forward, in one run, on the emotion stories.

    PYTHONPATH=workflow python benchmarks/bench_directions.py --model results/models/SmolLM2-135M-Instruct

Three configurations, each `--repeats` times, interleaved so that drifting load hits them alike (the
median is reported): the naive path at every layer; the fast path at every layer (batching only); the
fast path at the layer two thirds deep (batching plus the early stop, as the SAE and the probe read).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from agent_affect.directions.activations import encode, n_layers, read_means, read_means_naive
from agent_affect.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a prepared model folder")
    parser.add_argument("--stories", type=Path, default=Path("resources/stimuli/emotions/frustrated.jsonl"))
    parser.add_argument("--texts", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    model, tokenizer = load_model(args.model, device="cpu", dtype=args.dtype)
    texts = [json.loads(line)["text"] for line in args.stories.read_text().splitlines()][: args.texts]
    encoded = [encode(tokenizer, text) for text in texts]
    tokens = sum(len(ids) for ids, _ in encoded)
    every = list(range(n_layers(model)))
    deep = [round(2 * len(every) / 3)]
    runs = {
        "naive: one at a time, output_hidden_states, all layers": lambda: read_means_naive(
            model, tokenizer, encoded, every[:-1], skip_tokens=8
        ),
        f"batched (x{args.batch_size}), all layers": lambda: read_means(
            model, tokenizer, encoded, every, 8, args.batch_size, progress=False
        ),
        f"batched (x{args.batch_size}), layer {deep[0]} with early stop": lambda: read_means(
            model, tokenizer, encoded, deep, 8, args.batch_size, progress=False
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times[next(iter(runs))])
    print(
        f"{len(texts)} stories, {tokens} tokens, {args.dtype}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:60s} {tokens / median:9.0f} tokens/s  {base / median:5.2f}x the naive path")


if __name__ == "__main__":
    main()
