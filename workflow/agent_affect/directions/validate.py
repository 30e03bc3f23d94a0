"""Do the directions earn their use? Held-out checks on topics they never saw, at the chosen layer.

- accuracy of the nearest direction on the test topics, against chance and a bag-of-words classifier
  trained on the same training texts (if words alone do as well, the directions add nothing);
- pairwise cosines (the published set was 0.75-0.94 similar throughout);
- lexical controls (an emotion word in a neutral sense) must not read as that emotion, while overt
  emotional text outside coding should;
- the narrative-versus-specification confound: neutral, factual failure reports should not project
  onto the negative directions like the stories do;
- logit lens: the tokens each direction promotes and suppresses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from agent_affect.analysis.stats import bootstrap_statistic, wilson
from agent_affect.directions import extract
from agent_affect.directions.run import directions_config, load_reads
from agent_affect.directions.stimuli import load_corpus
from agent_affect.directions.store import DirectionSet

log = logging.getLogger(__name__)

N_BOOT = 2000


def _rate_row(**fields: Any) -> dict[str, Any]:
    hits, n = fields["hits"], fields["n"]
    low, high = wilson(hits, n)
    return fields | {"rate": hits / n if n else float("nan"), "ci_low": low, "ci_high": high}


def bag_of_words(
    texts: list[str], labels: list[str], train: np.ndarray, test: np.ndarray, seed: int
) -> np.ndarray:
    """Predictions of a word-count logistic regression trained on the training texts."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(lowercase=True, ngram_range=(1, 2), min_df=1)
    features = vectorizer.fit_transform([texts[i] for i in np.flatnonzero(train)])
    model = LogisticRegression(max_iter=3000, C=1.0, random_state=seed)
    model.fit(features, np.asarray(labels, dtype=object)[train])
    return model.predict(vectorizer.transform([texts[i] for i in np.flatnonzero(test)]))


def logit_lens(directions: DirectionSet, model: Any, tokenizer: Any, top: int = 10) -> list[dict[str, Any]]:
    """Top and bottom tokens of each direction read through the final norm's gain and the unembedding."""
    unembed = model.get_output_embeddings().weight.detach().float().cpu()
    norm = getattr(getattr(model, "model", None), "norm", None)
    gain = norm.weight.detach().float().cpu() if norm is not None and hasattr(norm, "weight") else 1.0
    rows = []
    for row, emotion in enumerate(directions.emotions):
        logits = unembed @ (directions.vectors[directions.layer()][row] * gain)
        for sign, order in (("+", logits.argsort(descending=True)), ("-", logits.argsort())):
            for rank, token in enumerate(order[:top].tolist(), start=1):
                rows.append(
                    {
                        "method": directions.method,
                        "emotion": emotion,
                        "sign": sign,
                        "rank": rank,
                        "token": tokenizer.decode([token]),
                        "logit": float(logits[token]),
                    }
                )
    return rows


def validate(
    activations_dir: Path | str,
    directions_dir: Path | str,
    out_dir: Path | str,
    config: Mapping[str, Any] | None = None,
    model_dir: Path | str | None = None,
) -> dict[str, Any]:
    """Every check above, for every method: CSV tables in out_dir and a summary.json."""
    cfg = directions_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    means, _, index = load_reads(activations_dir)
    texts = {row["id"]: row["text"] for row in load_corpus(cfg["stimuli"]) if row["text"] is not None}
    sets = {m: DirectionSet.load(Path(directions_dir) / f"{m}.safetensors") for m in cfg["methods"]}
    split = next(iter(sets.values())).details["split"]
    part = np.array(
        [
            "train"
            if t in split["train"]
            else "val"
            if t in split["val"]
            else "test"
            if t in split["test"]
            else None
            for t in index["topic"].to_list()
        ],
        dtype=object,
    )
    kind = index["kind"].to_numpy()
    labels = np.array(index["emotion"].to_list(), dtype=object)
    story = kind == "story"
    test = story & (part == "test")
    seed = cfg["seed"]

    bow_predicted = bag_of_words(
        [texts.get(i, "") for i in index["id"].to_list()],
        labels.tolist(),
        story & (part == "train"),
        test,
        seed,
    )
    emotions = next(iter(sets.values())).emotions
    accuracy = [
        _rate_row(
            method="bag_of_words",
            layer=None,
            what="test stories",
            n=int(test.sum()),
            hits=int((bow_predicted == labels[test]).sum()),
        )
    ]
    lexical, cosines, confound, lens = [], [], [], []
    model = tokenizer = None
    if model_dir is not None:
        from agent_affect.models.loading import load_model

        # The logit lens reads the unembedding in float32 on the CPU unless a device is configured
        # (a 7B-30B model of the paper preset does not fit in host memory at float32).
        on_device = cfg["device"] is not None and cfg["device"] != "cpu"
        model, tokenizer = load_model(
            model_dir,
            device=cfg["device"] if on_device else "cpu",
            dtype=cfg["dtype"] if on_device else "float32",
        )
    summary: dict[str, Any] = {"chance": 1 / len(emotions), "n_emotions": len(emotions), "methods": {}}
    for method, directions in sets.items():
        layer = directions.layer()
        x = means[:, layer]
        vectors = directions.vectors[layer].numpy()
        center = directions.centers[layer].numpy()
        predicted = np.array(emotions, dtype=object)[extract.nearest(x, center, vectors).argmax(1)]
        projections = (x - center) @ vectors.T
        accuracy.append(
            _rate_row(
                method=method,
                layer=layer,
                what="test stories",
                n=int(test.sum()),
                hits=int((predicted[test] == labels[test]).sum()),
            )
        )
        named = {}
        for what in ("lexical", "emotional_general"):
            rows = kind == what
            lexical.append(
                _rate_row(
                    method=method,
                    layer=layer,
                    what=what,
                    n=int(rows.sum()),
                    hits=int((predicted[rows] == labels[rows]).sum()),
                )
            )
            named[what] = lexical[-1]["rate"]
        lexical.append(
            _rate_row(
                method=method,
                layer=layer,
                what="test stories",
                n=int(test.sum()),
                hits=int((predicted[test] == labels[test]).sum()),
            )
        )
        cosine = vectors @ vectors.T
        for a, first in enumerate(emotions):
            for b, second in enumerate(emotions):
                cosines.append(
                    {"method": method, "layer": layer, "a": first, "b": second, "cosine": float(cosine[a, b])}
                )
        for column, emotion in enumerate(emotions):
            groups = {
                "neutral_coding": kind == "neutral_coding",
                "neutral_failure": kind == "neutral_failure",
                "stories: this emotion": story & (part != "train") & (labels == emotion),
                "stories: other emotions": story & (part != "train") & (labels != emotion),
            }
            for group, rows in groups.items():
                values = projections[rows, column]
                low, high = bootstrap_statistic(
                    values,
                    lambda draws: draws.mean(1),
                    n_boot=N_BOOT,
                    seed=seed,
                    key=f"{method}/{emotion}/{group}",
                )
                confound.append(
                    {
                        "method": method,
                        "layer": layer,
                        "direction": emotion,
                        "group": group,
                        "n": int(rows.sum()),
                        "mean": float(values.mean()) if values.size else float("nan"),
                        "ci_low": low,
                        "ci_high": high,
                    }
                )
        if model is not None:
            lens += logit_lens(directions, model, tokenizer)
        off = cosine[~np.eye(len(emotions), dtype=bool)]
        pair = (
            (emotions.index("calm"), emotions.index("desperate"))
            if {"calm", "desperate"} <= set(emotions)
            else None
        )
        summary["methods"][method] = {
            "layer": layer,
            "test_accuracy": accuracy[-1]["rate"],
            "test_ci": [accuracy[-1]["ci_low"], accuracy[-1]["ci_high"]],
            "n_test": int(test.sum()),
            "mean_offdiagonal_cosine": float(off.mean()),
            "max_offdiagonal_cosine": float(off.max()),
            "cosine_calm_desperate": float(cosine[pair]) if pair else None,
            "lexical_hit_rate": named["lexical"],
            "emotional_general_hit_rate": named["emotional_general"],
        }
    summary["bag_of_words"] = {
        "test_accuracy": accuracy[0]["rate"],
        "test_ci": [accuracy[0]["ci_low"], accuracy[0]["ci_high"]],
    }
    pl.DataFrame(accuracy).write_csv(out_dir / "test_accuracy.csv")
    pl.DataFrame(lexical).write_csv(out_dir / "lexical.csv")
    pl.DataFrame(cosines).write_csv(out_dir / "cosines.csv")
    pl.DataFrame(confound).write_csv(out_dir / "confound.csv")
    if lens:
        pl.DataFrame(lens).write_csv(out_dir / "logit_lens.csv")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def directions_pca(sets: Mapping[str, DirectionSet]) -> pl.DataFrame:
    """Each method's directions at its chosen layer in the first two principal components of that set."""
    rows = []
    for method, directions in sets.items():
        vectors = directions.vectors[directions.layer()].numpy()
        centered = vectors - vectors.mean(0, keepdims=True)
        _, s, vt = np.linalg.svd(centered, full_matrices=False)
        explained = s**2 / max(float((s**2).sum()), 1e-30)
        coords = centered @ vt[:2].T
        for emotion, (pc1, pc2) in zip(directions.emotions, coords, strict=True):
            rows.append(
                {
                    "method": method,
                    "emotion": emotion,
                    "pc1": float(pc1),
                    "pc2": float(pc2),
                    "explained1": float(explained[0]),
                    "explained2": float(explained[1]),
                }
            )
    return pl.DataFrame(rows)
