"""The directions stage end to end: read the stimuli once, extract, choose the layer on validation data.

`capture` is the only step that runs the model over the stimuli; it writes every text's mean residual
at every layer, so extraction, validation and figures never touch the model again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from safetensors.torch import load_file, save_file

from agent_affect.analysis.stats import wilson
from agent_affect.directions import extract
from agent_affect.directions.activations import encode, n_layers, read_means
from agent_affect.directions.stimuli import load_corpus
from agent_affect.directions.store import DirectionSet
from agent_affect.models.loading import load_model

log = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "stimuli": "resources/stimuli",
    "skip_tokens": 8,  # read stories from this token on (position 0 always excluded)
    "chat_template": False,  # read stories as raw text (False) or as one user message (True)
    "batch_size": 16,
    "methods": list(extract.METHODS),
    "normalisation": "none",  # none | standardize
    "pca_variance": 0.5,  # anthropic: neutral-dialogue PCs projected out up to this share of variance
    "probe_c": 0.1,  # probe: inverse L2 strength of the logistic regression
    "val_topics": 2,  # per domain (coding, general): topics held out to choose the layer
    "test_topics": 3,  # per domain: topics held out to report accuracy
    "seed": 0,
    "dtype": None,  # bfloat16 (None) or float32
    "device": None,
}


def directions_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_CONFIG)
    for key, value in (config or {}).items():
        if key not in DEFAULT_CONFIG:
            raise ValueError(f"unknown directions setting {key!r}; known: {sorted(DEFAULT_CONFIG)}")
        merged[key] = value
    unknown = set(merged["methods"]) - set(extract.METHODS)
    if unknown:
        raise ValueError(f"unknown direction methods {sorted(unknown)}; known: {list(extract.METHODS)}")
    if merged["normalisation"] not in ("none", "standardize"):
        raise ValueError(f"normalisation must be none or standardize, got {merged['normalisation']!r}")
    return merged


def capture(model_dir: Path | str, out_dir: Path | str, config: Mapping[str, Any] | None = None) -> dict:
    """Read every stimulus at every layer: out_dir/activations.safetensors and out_dir/index.parquet."""
    cfg = directions_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(cfg["stimuli"])
    model, tokenizer = load_model(model_dir, device=cfg["device"], dtype=cfg["dtype"])
    encoded = [
        encode(tokenizer, row["messages"], True)
        if row["messages"] is not None
        else encode(tokenizer, row["text"], cfg["chat_template"])
        for row in corpus
    ]
    # Dialogues are read over all their tokens (not at an assistant turn): they stand for neutral text.
    encoded = [(ids, 0) for ids, _ in encoded]
    layers = list(range(n_layers(model)))
    reads = read_means(model, tokenizer, encoded, layers, cfg["skip_tokens"], cfg["batch_size"])
    tmp = out_dir / "activations.safetensors.tmp"
    save_file({"means": reads.means.contiguous(), "norms": reads.norms.contiguous()}, str(tmp))
    index = pl.DataFrame(
        [{k: v for k, v in row.items() if k not in ("text", "messages")} for row in corpus],
        schema_overrides={"emotion": pl.String, "topic": pl.String, "domain": pl.String, "person": pl.String},
    ).with_columns(n_tokens=pl.Series(reads.n_tokens.tolist()), n_read=pl.Series(reads.n_read.tolist()))
    index.write_parquet(out_dir / "index.parquet")
    tmp.replace(out_dir / "activations.safetensors")
    meta = {"model_dir": str(model_dir), "layers": layers, "config": cfg, "n_texts": len(corpus)}
    (out_dir / "capture.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return meta


def load_reads(activations_dir: Path | str) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    tensors = load_file(str(Path(activations_dir) / "activations.safetensors"))
    index = pl.read_parquet(Path(activations_dir) / "index.parquet")
    return tensors["means"].numpy(), tensors["norms"].numpy(), index


def model_info(model_dir: Path | str) -> dict[str, Any]:
    """Model id and revision from the prepared folder's provenance, for the directions' sidecar."""
    from agent_affect.models.prepare import read_provenance
    from agent_affect.models.spec import ModelSourceError

    try:
        provenance = read_provenance(model_dir)
    except ModelSourceError:
        provenance = {}
    spec = provenance.get("spec", {})
    return {
        "path": str(model_dir),
        "name": provenance.get("name", Path(model_dir).name),
        "spec": spec,
        # a Hub commit, or for a file the sha256 of the bytes it was converted from
        "revision": spec.get("revision") or provenance.get("source", {}).get("sha256"),
    }


def extract_all(
    activations_dir: Path | str,
    out_dir: Path | str,
    config: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Directions of every method at every layer, the layer chosen per method on the validation topics.

    Writes out_dir/<method>.safetensors (+ .json), out_dir/split.json, out_dir/layer_accuracy.csv
    (accuracy of the nearest direction on val and test topics per method and layer) and
    out_dir/energy.csv (each direction's share of squared norm in its top 1 and 5 dimensions).
    """
    cfg = directions_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    means, norms, index = load_reads(activations_dir)
    stories = index.filter(pl.col("set") == "emotion")
    emotions = tuple(sorted(stories["emotion"].unique().to_list()))
    topics = stories.group_by("domain").agg(pl.col("topic").unique()).sort("domain")
    split = extract.split_topics(
        dict(zip(topics["domain"], topics["topic"], strict=True)),
        cfg["val_topics"],
        cfg["test_topics"],
        cfg["seed"],
    )
    (out_dir / "split.json").write_text(json.dumps(split.to_dict(), indent=2) + "\n")
    part = np.array([split.of(t) for t in index["topic"].to_list()], dtype=object)
    is_story = (index["set"] == "emotion").to_numpy()
    labels = np.array(index["emotion"].to_list(), dtype=object)
    neutral_rows = ((index["kind"] == "neutral_coding").to_numpy()) & (part == "train")
    dialogue_rows = (index["kind"] == "dialogue").to_numpy()
    reference_rows = dialogue_rows | (index["kind"] == "neutral_coding").to_numpy()
    train = is_story & (part == "train")
    if neutral_rows.sum() == 0 or dialogue_rows.sum() == 0:
        raise ValueError("the stimuli need neutral_coding controls in training topics and neutral dialogues")

    # The steering unit: mean residual norm over the neutral reference texts, weighted by tokens.
    weights = index["n_tokens"].to_numpy()[reference_rows].astype(float)
    unit_by_layer = (norms[reference_rows] * weights[:, None]).sum(0) / weights.sum()

    accuracy_rows, energy_rows, summary = [], [], {}
    for method in cfg["methods"]:
        vectors, centers, infos = {}, {}, {}
        for layer in range(means.shape[1]):
            x = means[:, layer]
            v, info = extract.directions_at_layer(
                method,
                x[train],
                labels[train],
                emotions,
                x[neutral_rows],
                x[dialogue_rows],
                standardize=cfg["normalisation"] == "standardize",
                pca_variance=cfg["pca_variance"],
                probe_c=cfg["probe_c"],
                seed=cfg["seed"],
            )
            center = x[train].mean(0)
            vectors[layer], centers[layer], infos[layer] = v, center, info
            for name in ("val", "test"):
                rows = is_story & (part == name)
                predicted = np.array(emotions)[extract.nearest(x[rows], center, v).argmax(1)]
                correct = int((predicted == labels[rows]).sum())
                low, high = wilson(correct, int(rows.sum()))
                accuracy_rows.append(
                    {
                        "method": method,
                        "layer": layer,
                        "split": name,
                        "n": int(rows.sum()),
                        "correct": correct,
                        "accuracy": correct / max(int(rows.sum()), 1),
                        "ci_low": low,
                        "ci_high": high,
                    }
                )
            for k in (1, 5):
                for emotion, share in zip(emotions, extract.top_energy(v, k), strict=True):
                    energy_rows.append(
                        {
                            "method": method,
                            "layer": layer,
                            "emotion": emotion,
                            "top_k": k,
                            "share": float(share),
                        }
                    )
        table = pl.DataFrame(accuracy_rows).filter((pl.col("method") == method) & (pl.col("split") == "val"))
        # Ties go to the shallower layer: the cheaper forward pass for the same validation accuracy.
        chosen = int(table.sort(["accuracy", "layer"], descending=[True, False])["layer"][0])
        outliers = extract.outlier_dims(means[reference_rows, chosen])
        directions = DirectionSet(
            method=method,
            emotions=emotions,
            vectors={k: torch.from_numpy(np.ascontiguousarray(v)).float() for k, v in vectors.items()},
            centers={k: torch.from_numpy(np.ascontiguousarray(c)).float() for k, c in centers.items()},
            steering_unit={k: float(u) for k, u in enumerate(unit_by_layer)},
            chosen_layer=chosen,
            model=dict(model or {}),
            normalisation=cfg["normalisation"],
            details={
                "split": split.to_dict(),
                "layer_chosen_on": "val accuracy of the nearest direction",
                "n_train_per_emotion": {e: int((labels[train] == e).sum()) for e in emotions},
                "outlier_dims_at_chosen_layer": outliers,
                "neutral_pcs": infos[chosen].get("neutral_pcs"),
                "settings": {
                    k: cfg[k] for k in ("skip_tokens", "chat_template", "pca_variance", "probe_c", "seed")
                },
            },
        )
        directions.save(out_dir / f"{method}.safetensors")
        summary[method] = {"chosen_layer": chosen, "outlier_dims": outliers}
        log.info("%s: layer %d chosen on validation topics", method, chosen)
    pl.DataFrame(accuracy_rows).write_csv(out_dir / "layer_accuracy.csv")
    pl.DataFrame(energy_rows).write_csv(out_dir / "energy.csv")
    return summary
