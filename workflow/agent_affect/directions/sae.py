"""A sparse autoencoder on the residual stream (sae-lens), and the features that fire on each emotion.

Training reads a local corpus (the stimuli plus docstrings of the Python standard library, which
every machine has) at one layer, position 0 excluded: its norm is about 100x the others, and an L1
SAE trained with it never became sparse here; a TopK SAE fixes the sparsity by construction.
Features are ranked on the training topics by how selectively they fire on an emotion's stories
(Cohen's d against every other text: the other emotions and the neutral controls) and their effect
sizes are reported with bootstrap CIs on the held-out topics. The top feature's decoder row per
emotion becomes a steering candidate, stored like any other direction (method "sae").
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
import sysconfig
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from agent_affect.analysis.stats import rng_for
from agent_affect.directions.activations import encode, read_tokens
from agent_affect.directions.stimuli import load_corpus
from agent_affect.directions.store import DirectionSet
from agent_affect.timing import write_timing

log = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "layer": None,  # None: the chosen layer of `layer_from`'s directions
    "layer_from": "anthropic",
    "corpus": ["stimuli", "python_docs"],  # local text sources
    "extra_files": [],  # more .txt (one text per blank-line block) or .jsonl ({"text"}) files
    "train_tokens": 150_000,  # tokens read for training (held-out text comes on top)
    "max_tokens_per_text": 256,
    "heldout_fraction": 0.1,  # share of texts kept out of training for FVU and L0
    "expansion": 8,  # d_sae = expansion x d_model
    "k": 32,  # TopK: features active per token
    "epochs": 2,
    "batch_size": 1024,
    "lr": 4e-4,
    "seed": 0,
    "top_features": 5,  # per emotion, in the features table
    "pretrained": None,  # {release, sae_id}: load a sae-lens release instead of training (needs the Hub)
}


def sae_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_CONFIG)
    for key, value in (config or {}).items():
        if key not in DEFAULT_CONFIG:
            raise ValueError(f"unknown sae setting {key!r}; known: {sorted(DEFAULT_CONFIG)}")
        merged[key] = value
    return merged


def python_docs(min_chars: int = 200) -> Iterator[str]:
    """Docstrings of the standard library's modules, classes and functions, read with `ast` (importing
    every module would run code: `antigravity` opens a browser). Sorted by path, so deterministic."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/[!_]*.py")):
        if "test" in path.parts[-2:][0] or path.name.startswith("test"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= min_chars:
                    yield doc


def corpus_texts(cfg: Mapping[str, Any], stimuli: Path | str) -> list[str]:
    texts: list[str] = []
    for source in cfg["corpus"]:
        if source == "stimuli":
            for row in load_corpus(stimuli):
                texts.append(row["text"] or "\n".join(m["content"] for m in row["messages"]))
        elif source == "python_docs":
            texts.extend(python_docs())
        else:
            raise ValueError(f"unknown sae corpus source {source!r}: stimuli or python_docs (or extra_files)")
    for file in cfg["extra_files"]:
        path = Path(file)
        if path.suffix == ".jsonl":
            texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
        else:
            texts += [block for block in path.read_text().split("\n\n") if block.strip()]
    return texts


def _heldout(text: str, fraction: float) -> bool:
    """Held out by a hash of the text: stable whatever else the corpus holds."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def choose_layer(cfg: Mapping[str, Any], directions_dir: Path | str) -> int:
    if cfg["layer"] is not None:
        return int(cfg["layer"])
    return DirectionSet.load(Path(directions_dir) / f"{cfg['layer_from']}.safetensors").layer()


def train(
    model_dir: Path | str,
    directions_dir: Path | str,
    out_dir: Path | str,
    config: Mapping[str, Any] | None = None,
    stimuli: Path | str = "resources/stimuli",
) -> dict[str, Any]:
    """Train a TopK SAE at the layer and write it in sae-lens's format to out_dir/sae, metrics to
    out_dir/metrics.json (fraction of variance unexplained and L0 on held-out text)."""
    from sae_lens import SAETrainer, TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.config import LoggingConfig, SAETrainerConfig

    from agent_affect.models.loading import load_model

    cfg = sae_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pretrained = load_pretrained(cfg["pretrained"]) if cfg["pretrained"] else None
    layer = pretrained_layer(pretrained) if pretrained is not None else choose_layer(cfg, directions_dir)
    model, tokenizer = load_model(model_dir)
    texts = corpus_texts(cfg, stimuli)
    heldout_budget = int(cfg["train_tokens"] * cfg["heldout_fraction"] / (1 - cfg["heldout_fraction"]))
    train_ids, heldout_ids, counts = [], [], {"train": 0, "heldout": 0}
    for text in texts:
        ids = tokenizer(text)["input_ids"][: cfg["max_tokens_per_text"]]
        part = "heldout" if _heldout(text, cfg["heldout_fraction"]) else "train"
        budget = heldout_budget if part == "heldout" else cfg["train_tokens"]
        if counts[part] >= budget or len(ids) < 2:
            continue
        (heldout_ids if part == "heldout" else train_ids).append(ids)
        counts[part] += len(ids) - 1
        if counts["train"] >= cfg["train_tokens"] and counts["heldout"] >= heldout_budget:
            break
    started = time.perf_counter()
    heldout_acts, _ = read_tokens(model, tokenizer, heldout_ids, layer)
    if pretrained is not None:
        # A released SAE is only checked on our held-out text, then kept in sae-lens's own format.
        pretrained.save_model(out_dir / "sae")
        _sort_config(out_dir / "sae")
        metrics = reconstruction(load_sae(out_dir / "sae"), heldout_acts) | {
            "layer": layer,
            "pretrained": cfg["pretrained"],
            "d_sae": pretrained.cfg.d_sae,
            "k": getattr(pretrained.cfg, "k", None),
            "heldout_tokens": len(heldout_acts),
            "train_tokens": 0,
        }
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return metrics
    train_acts, _ = read_tokens(model, tokenizer, train_ids, layer)
    read_s = time.perf_counter() - started
    del model
    d_in = train_acts.shape[1]
    torch.manual_seed(cfg["seed"])
    sae_cfg = TopKTrainingSAEConfig(
        d_in=d_in,
        d_sae=cfg["expansion"] * d_in,
        k=cfg["k"],
        dtype="float32",
        device="cpu",
        normalize_activations="expected_average_only_in",
    )
    sae_cfg.metadata.model_name = str(model_dir)
    sae_cfg.metadata.hook_name = f"model.layers.{layer}"
    sae = TopKTrainingSAE(sae_cfg)
    total = cfg["epochs"] * len(train_acts)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=total,
        train_batch_size_samples=cfg["batch_size"],
        lr=cfg["lr"],
        lr_end=cfg["lr"],  # a constant schedule after the warm-up
        device="cpu",
        lr_warm_up_steps=max(1, total // cfg["batch_size"] // 20),
        logger=LoggingConfig(log_to_wandb=False),
        n_batches_for_norm_estimate=min(100, max(1, len(train_acts) // cfg["batch_size"])),
    )
    started = time.perf_counter()
    trainer = SAETrainer(
        cfg=trainer_cfg, sae=sae, data_provider=_batches(train_acts, cfg["batch_size"], cfg["seed"])
    )
    trained = trainer.fit()
    train_s = time.perf_counter() - started
    inference = trained.save_inference_model(out_dir / "sae")
    _sort_config(out_dir / "sae")
    metrics = reconstruction(load_sae(out_dir / "sae"), heldout_acts)
    metrics |= {
        "layer": layer,
        "d_in": d_in,
        "d_sae": sae_cfg.d_sae,
        "k": cfg["k"],
        "train_tokens": len(train_acts),
        "heldout_tokens": len(heldout_acts),
        "epochs": cfg["epochs"],
        "files": [str(p) for p in inference],
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    # Seconds beside the metrics, not in them: two runs write the same metrics.json.
    timing = {"read_seconds": round(read_s, 1), "train_seconds": round(train_s, 1)}
    write_timing(out_dir / "metrics.json", timing)
    return metrics | timing


def _sort_config(folder: Path) -> None:
    """Sort the keys of the cfg.json sae-lens wrote: it takes them from a set of field names, so their
    order changes with Python's string hashing from run to run. sae-lens reads the file by key."""
    path = folder / "cfg.json"
    path.write_text(json.dumps(json.loads(path.read_text()), sort_keys=True))


def load_pretrained(spec: Mapping[str, str]) -> Any:
    """A sae-lens release, {release, sae_id}, e.g. gemma-scope-2b-pt-res-canonical and layer_12/width_16k."""
    from sae_lens import SAE

    return SAE.from_pretrained(release=spec["release"], sae_id=spec["sae_id"], device="cpu")


def pretrained_layer(sae: Any) -> int:
    """The decoder layer a residual-stream SAE reads: TransformerLens's blocks.<L>.hook_resid_post is the
    output of layer L (our index); hook_resid_pre is the input of L, the output of L - 1."""
    hook = sae.cfg.metadata.hook_name or ""
    match = re.fullmatch(r"blocks\.(\d+)\.hook_resid_(post|pre)", hook)
    if match is None:
        raise ValueError(
            f"the SAE reads {hook!r}; only residual-stream SAEs (blocks.<L>.hook_resid_post/pre) fit"
        )
    return int(match.group(1)) - (match.group(2) == "pre")


def _batches(acts: torch.Tensor, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Shuffled batches for ever, reshuffled each epoch, seeded."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(acts), generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield acts[order[start : start + batch_size]]


def load_sae(path: Path | str) -> Any:
    from sae_lens import SAE

    return SAE.load_from_disk(str(path), device="cpu")


@torch.no_grad()
def reconstruction(sae: Any, acts: torch.Tensor) -> dict[str, float]:
    """Fraction of variance unexplained, mean L0 and the share of features that never fired."""
    features = sae.encode(acts)
    rebuilt = sae.decode(features)
    fvu = float(((acts - rebuilt) ** 2).sum() / ((acts - acts.mean(0)) ** 2).sum())
    l0 = float((features > 0).sum(-1).float().mean())
    dead = float(((features > 0).sum(0) == 0).float().mean())
    return {"fvu": fvu, "l0": l0, "dead_fraction_heldout": dead}


def cohens_d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise Cohen's d of a against b (pooled SD); 0 where both are constant."""
    pooled = np.sqrt(
        ((len(a) - 1) * a.var(0, ddof=1) + (len(b) - 1) * b.var(0, ddof=1)) / (len(a) + len(b) - 2)
    )
    return np.where(pooled > 0, (a.mean(0) - b.mean(0)) / np.where(pooled > 0, pooled, 1), 0.0)


def rank_features(
    model_dir: Path | str,
    sae_dir: Path | str,
    directions_dir: Path | str,
    out_dir: Path | str,
    config: Mapping[str, Any] | None = None,
    stimuli: Path | str = "resources/stimuli",
    skip_tokens: int = 8,
    n_boot: int = 1000,
) -> pl.DataFrame:
    """Rank features per emotion; write features.csv, sae.safetensors (+ .json: the top feature's
    decoder row per emotion) and sae_vs_contrastive.csv (their cosines with the other methods)."""
    from agent_affect.models.loading import load_model

    cfg = sae_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sae = load_sae(sae_dir)
    reference = DirectionSet.load(Path(directions_dir) / f"{cfg['layer_from']}.safetensors")
    layer = choose_layer(cfg, directions_dir)
    split = reference.details["split"]
    rows = [r for r in load_corpus(stimuli) if r["set"] != "dialogue"]
    model, tokenizer = load_model(model_dir)
    encoded = [encode(tokenizer, r["text"])[0] for r in rows]
    acts, owner = read_tokens(model, tokenizer, encoded, layer)
    with torch.no_grad():
        features = sae.encode(acts)
    # Per text: the mean feature activation from skip_tokens on, as the directions read stories.
    position = torch.cat([torch.arange(1, len(ids)) for ids in encoded])
    keep = position >= max(1, skip_tokens)
    per_text = torch.zeros(len(rows), features.shape[1])
    per_text.index_add_(0, owner[keep], features[keep])
    per_text /= torch.bincount(owner[keep], minlength=len(rows)).clamp(min=1).unsqueeze(1)
    per_text = per_text.numpy()
    emotion = np.array([r["emotion"] if r["kind"] == "story" else None for r in rows], dtype=object)
    neutral = np.array([r["kind"] in ("neutral_coding", "neutral_failure") for r in rows])
    part = np.array(
        [
            "train"
            if r["topic"] in split["train"]
            else "val"
            if r["topic"] in split["val"]
            else "test"
            if r["topic"] in split["test"]
            else None
            for r in rows
        ],
        dtype=object,
    )
    table, top = [], {}
    for name in reference.emotions:
        mine = emotion == name
        rest = (emotion != None) | neutral  # noqa: E711 (numpy elementwise)
        d_train = cohens_d(per_text[mine & (part == "train")], per_text[rest & ~mine & (part == "train")])
        ranked = np.argsort(-d_train)[: cfg["top_features"]]
        top[name] = int(ranked[0])
        held = part != "train"
        for rank, feature in enumerate(ranked, start=1):
            a = per_text[mine & held, feature]
            b = per_text[rest & ~mine & held, feature]
            d_test = float(cohens_d(a[:, None], b[:, None])[0])
            low, high = _bootstrap_d(a, b, n_boot, cfg["seed"], f"{name}/{feature}")
            vs_neutral = float(cohens_d(a[:, None], per_text[neutral & held, feature][:, None])[0])
            table.append(
                {
                    "emotion": name,
                    "rank": rank,
                    "feature": int(feature),
                    "d_train": float(d_train[feature]),
                    "d_heldout": d_test,
                    "ci_low": low,
                    "ci_high": high,
                    "d_heldout_vs_neutral": vs_neutral,
                    "n_emotion": len(a),
                    "n_rest": len(b),
                    "fires_on_emotion": float((a > 0).mean()),
                    "fires_on_rest": float((b > 0).mean()),
                }
            )
    decoder = sae.W_dec.detach().float()
    vectors = torch.nn.functional.normalize(
        torch.stack([decoder[top[e]] for e in reference.emotions]), dim=-1
    )
    directions = DirectionSet(
        method="sae",
        emotions=reference.emotions,
        vectors={layer: vectors},
        centers={layer: reference.centers[layer].clone()},
        steering_unit={layer: reference.steering_unit[layer]},
        chosen_layer=layer,
        model=reference.model,
        normalisation="none",
        details={
            "features": top,
            "sae": str(sae_dir),
            "ranked_on": "train topics, Cohen's d vs all other texts",
            "settings": reference.details.get("settings", {}),
            "split": split,
        },
    )
    directions.save(out_dir / "sae.safetensors")
    comparisons = []
    for path in sorted(Path(directions_dir).glob("*.safetensors")):
        other = DirectionSet.load(path)
        if other.method == "sae" or layer not in other.vectors:
            continue
        for i, name in enumerate(reference.emotions):
            cos = float(vectors[i] @ other.vectors[layer][other.emotions.index(name)])
            comparisons.append(
                {"emotion": name, "feature": top[name], "method": other.method, "layer": layer, "cosine": cos}
            )
    pl.DataFrame(comparisons).write_csv(out_dir / "sae_vs_contrastive.csv")
    features_table = pl.DataFrame(table)
    features_table.write_csv(out_dir / "features.csv")
    return features_table


def _bootstrap_d(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int, key: str) -> tuple[float, float]:
    """Percentile CI of Cohen's d, resampling texts within each group."""
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    rng = rng_for(seed, key)
    draws = np.array(
        [
            cohens_d(
                a[rng.integers(0, len(a), len(a))][:, None], b[rng.integers(0, len(b), len(b))][:, None]
            )[0]
            for _ in range(n_boot)
        ]
    )
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(low), float(high)
