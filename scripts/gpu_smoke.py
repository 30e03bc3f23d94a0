"""GPU smoke run of the model stages on a random-init model: every stage runs on CUDA, timed.

    PYTHONPATH=workflow python scripts/gpu_smoke.py --tokenizer TOKENIZER_FOLDER --out OUT_DIR

A GPU machine here cannot download weights, so the model is random-init (a Llama of `--hidden` and
`--layers`) with the SmolLM2 tokenizer; what is checked is that each stage places its work on the GPU
and how long it takes, not what the directions mean. Stages: prepare the model, capture activations
of every stimulus at every layer, extract and validate the directions, probe the failure trajectory,
and one task of the steered agent loop (generation, projections, sandboxed evaluation).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokenizer", type=Path, required=True, help="a tokenizer folder (SmolLM2's)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_smoke: no CUDA device")

    import yaml

    from agent_affect.agent.loop import Steering, agent_config, run_task
    from agent_affect.directions.probe import trajectory
    from agent_affect.directions.run import capture, extract_all
    from agent_affect.directions.store import DirectionSet
    from agent_affect.directions.validate import validate
    from agent_affect.evaluate import load_suite
    from agent_affect.models import load_model, parse_spec, prepare_model

    timings: dict[str, float] = {}

    def stage(name, fn):
        torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        torch.cuda.synchronize()
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"{name}: {timings[name]} s", flush=True)
        return result

    spec = parse_spec(
        {
            "tiny": "llama",
            "layers": args.layers,
            "hidden_size": args.hidden,
            "seed": 0,
            "tokenizer": str(args.tokenizer),
        }
    )
    model_dir = stage("prepare_model", lambda: prepare_model(spec, args.out / "model"))
    config = {"stimuli": "resources/stimuli", "device": "cuda"}
    stage("capture_activations", lambda: capture(model_dir, args.out / "acts", config))
    stage(
        "extract_directions",
        lambda: extract_all(args.out / "acts", args.out / "dirs", config, {"name": "tiny"}),
    )
    stage(
        "validate_directions",
        lambda: validate(args.out / "acts", args.out / "dirs", args.out / "val", config),
    )
    stage(
        "probe_trajectory",
        lambda: trajectory(
            [args.out / "dirs" / "anthropic.safetensors"],
            model_dir,
            "resources/stimuli/trajectory.jsonl",
            args.out / "traj",
        ),
    )
    model, tokenizer = load_model(model_dir)
    placed = str(next(model.parameters()).device)
    directions = DirectionSet.load(args.out / "dirs" / "anthropic.safetensors")
    cfg = agent_config(
        {
            "samples": 2,
            "attempts": 2,
            "tones": ["neutral"],
            "max_new_tokens": 64,
            "emotions": ["desperate", "calm"],
            "strengths": [-0.1, 0.1],
            "sae_emotions": [],
        }
    )
    feedback = yaml.safe_load(Path(cfg["feedback"]).read_text())
    task = load_suite()["parse_duration"]
    records = stage(
        "agent_loop_one_task",
        lambda: run_task(
            model, tokenizer, task, cfg, Steering(directions, None, None, 0), feedback, directions
        ),
    )
    summary = {
        "device": torch.cuda.get_device_name(),
        "model_on": placed,
        "model": spec.name,
        "seconds": timings,
        "agent_records": len(records),
        "agent_rows_per_attempt": len(records) and sum(r["attempt"] == 1 for r in records),
        "peak_gpu_memory_GB": round(torch.cuda.max_memory_allocated() / 1e9, 3),
    }
    print(json.dumps(summary, indent=2))
    (args.out / "gpu_smoke.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
