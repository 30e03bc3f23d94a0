"""Steered generation: every condition in one batch (a steering vector per row) against one condition at
a time, and the decoding step time against the memory-bandwidth floor, in one run.

    PYTHONPATH=workflow python benchmarks/bench_steering.py --model results/models/SmolLM2-135M-Instruct
    PYTHONPATH=workflow python benchmarks/bench_steering.py --random qwen2.5-7b   # on a GPU

`--random NAME` builds a random-init model of a real architecture size on the GPU (weights cannot be
downloaded there), so timings are real and texts are noise. The workload is the agent loop's: C
conditions x S samples of one prompt, each condition its own steering vector at one layer.

Rows of the report:
- batched: all C x S rows in one `generate_rows` call (per-row seeds and vectors);
- sequential: C calls of S rows, one condition at a time (what the published harness did);
- step time at batch 1: `generate_rows` (dynamic KV cache, eager), transformers `generate` eager, and
  transformers `generate` with a static cache and `torch.compile(mode="reduce-overhead")` (CUDA graphs),
  against the floor of reading every weight once per step (bytes / bandwidth).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from types import SimpleNamespace

import torch

from agent_affect.agent.generation import Row, generate_rows
from agent_affect.directions.steer import steer

ARCHITECTURES = {
    # Qwen/Qwen2.5-Coder-7B-Instruct's config.json
    "qwen2.5-7b": dict(
        model_type="qwen2",
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
    ),
    "smollm2-135m": dict(
        model_type="llama",
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        max_position_embeddings=8192,
        rope_theta=100000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
    ),
}


def build_random(name: str, device: torch.device, dtype: torch.dtype):
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(ARCHITECTURES[name])
    config = AutoConfig.for_model(spec.pop("model_type"), **spec)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    # No EOS: every row decodes exactly max_new_tokens, so both paths do the same work.
    model.generation_config.eos_token_id = None
    tokenizer = SimpleNamespace(pad_token_id=0, eos_token_id=None)
    return model, tokenizer


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a prepared model folder")
    source.add_argument(
        "--random", choices=sorted(ARCHITECTURES), help="a random-init model of this architecture"
    )
    parser.add_argument("--conditions", type=int, default=16)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--bandwidth-tbs", type=float, default=3.0, help="memory bandwidth for the floor (H100: 3.0)"
    )
    parser.add_argument("--no-compile", action="store_true", help="skip the static-cache + CUDA-graph path")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16
    if args.random:
        model, tokenizer = build_random(args.random, device, dtype)
    else:
        from agent_affect.models import load_model

        model, tokenizer = load_model(args.model, device=device, dtype=dtype)
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    floor_ms = weight_bytes / (args.bandwidth_tbs * 1e12) * 1e3
    d_model, n_layers = model.config.hidden_size, model.config.num_hidden_layers
    layer = round(2 * n_layers / 3)
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(1, model.config.vocab_size, (args.prompt_tokens,), generator=generator).tolist()
    vectors = [
        torch.randn(d_model, generator=generator) * (0 if c == 0 else 0.1) for c in range(args.conditions)
    ]
    rows = [
        Row(prompt, seed=1000 + s, vectors={layer: vectors[c]})
        for c in range(args.conditions)
        for s in range(args.samples)
    ]
    tokens = len(rows) * args.new_tokens
    results: dict[str, object] = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "model": args.random or args.model,
        "parameters": params,
        "weight_GB": weight_bytes / 1e9,
        "floor_ms_per_step": floor_ms,
        "rows": len(rows),
        "new_tokens": args.new_tokens,
        "prompt_tokens": args.prompt_tokens,
    }

    def batched():
        return generate_rows(model, tokenizer, rows, max_new_tokens=args.new_tokens)

    def sequential():
        out = []
        for c in range(args.conditions):
            out += generate_rows(
                model,
                tokenizer,
                rows[c * args.samples : (c + 1) * args.samples],
                max_new_tokens=args.new_tokens,
            )
        return out

    first, second = batched(), sequential()  # also the warm-up
    same = sum(a == b for a, b in zip(first, second, strict=True)) / len(first)
    times = {"batched": [], "sequential": []}
    for _ in range(args.repeats):
        times["batched"].append(timed(batched, device))
        times["sequential"].append(timed(sequential, device))
    for name, values in times.items():
        median = statistics.median(values)
        results[f"{name}_s"] = median
        results[f"{name}_tokens_per_s"] = tokens / median
    results["batched_over_sequential"] = results["batched_tokens_per_s"] / results["sequential_tokens_per_s"]
    # Exact in float32 (tests/unit/test_steering.py); in bf16 other batch shapes round differently.
    results["share_of_rows_identical_batched_vs_sequential"] = same

    one = [Row(prompt, seed=1, vectors={layer: vectors[1]})]
    steps = args.new_tokens
    generate_rows(model, tokenizer, one, max_new_tokens=steps)
    mine = statistics.median(
        timed(lambda: generate_rows(model, tokenizer, one, max_new_tokens=steps), device)
        for _ in range(args.repeats)
    )
    ids = torch.tensor([prompt], device=device)
    mask = torch.ones_like(ids)

    def hf(**extra):
        with steer(model, {layer: vectors[1]}):
            model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=steps,
                min_new_tokens=steps,
                do_sample=False,
                pad_token_id=0,
                **extra,
            )

    hf()
    eager = statistics.median(timed(hf, device) for _ in range(args.repeats))
    results["step_ms_generate_rows_eager"] = mine / steps * 1e3
    results["step_ms_hf_generate_eager"] = eager / steps * 1e3
    if device.type == "cuda" and not args.no_compile:
        try:
            # transformers compiles the forward itself for a static cache (CUDA graphs, fullgraph).
            for _ in range(3):
                hf(cache_implementation="static")
            compiled = statistics.median(
                timed(lambda: hf(cache_implementation="static"), device) for _ in range(args.repeats)
            )
            results["step_ms_hf_static_cuda_graphs"] = compiled / steps * 1e3
        except Exception as error:
            results["step_ms_hf_static_cuda_graphs"] = f"failed: {type(error).__name__}: {error}"[:300]
    for key in [k for k in results if k.startswith("step_ms") and isinstance(results[k], float)]:
        results[key.replace("step_ms", "floor_ratio")] = results[key] / floor_ms
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
