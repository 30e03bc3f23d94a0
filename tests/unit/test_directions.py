"""Directions: activation reads, the three extraction methods, storage, validation and probing.

Exact checks on a tiny random-init model (float32) and on planted directions in synthetic data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from agent_affect.directions import extract
from agent_affect.directions.activations import (
    capture_residuals,
    decoder_layers,
    encode,
    forward_until,
    read_means,
    read_means_naive,
    read_tokens,
)
from agent_affect.directions.probe import probe_file, read_items, summarise_trajectory
from agent_affect.directions.run import capture, extract_all
from agent_affect.directions.stimuli import StimulusError
from agent_affect.directions.store import DirectionSet
from agent_affect.directions.validate import validate
from agent_affect.models import load_model

EMOTIONS = ("calm", "desperate", "frustrated")
TOPICS = {"coding": ("ci", "review", "migration"), "general": ("cooking", "hiking", "moving")}


@pytest.fixture(scope="module")
def tiny_dir(tiny_model) -> Path:
    return tiny_model(layers=3, seed=0)


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_model(tiny_dir, device="cpu", dtype="float32")


def write_stimuli(root: Path) -> Path:
    """A small corpus in the real layout: every emotion on every topic, controls, dialogues, trajectory."""
    (root / "emotions").mkdir(parents=True)
    words = {
        "calm": "slowly breathed and sorted",
        "desperate": "tried anything before midnight",
        "frustrated": "failed again for the fifth time",
    }
    for emotion in EMOTIONS:
        with (root / "emotions" / f"{emotion}.jsonl").open("w") as f:
            for domain, topics in TOPICS.items():
                for topic in topics:
                    for person in ("first", "third"):
                        text = f"In the {topic} work the {person} person {words[emotion]} as {topic} went on."
                        f.write(
                            json.dumps(
                                {
                                    "id": f"{emotion}-{topic}-{person}",
                                    "emotion": emotion,
                                    "topic": topic,
                                    "domain": domain,
                                    "person": person,
                                    "text": text,
                                }
                            )
                            + "\n"
                        )
    with (root / "controls.jsonl").open("w") as f:
        for i, topic in enumerate(TOPICS["coding"] * 2):
            f.write(
                json.dumps(
                    {
                        "id": f"nc{i}",
                        "kind": "neutral_coding",
                        "emotion": None,
                        "topic": topic,
                        "text": f"The {topic} module parses configuration files into records.",
                    }
                )
                + "\n"
            )
            f.write(
                json.dumps(
                    {
                        "id": f"nf{i}",
                        "kind": "neutral_failure",
                        "emotion": None,
                        "topic": topic,
                        "text": f"Step 4 of the {topic} job exited with code 1; two retries remain.",
                    }
                )
                + "\n"
            )
        for emotion in EMOTIONS:
            f.write(
                json.dumps(
                    {
                        "id": f"lex-{emotion}",
                        "kind": "lexical",
                        "emotion": emotion,
                        "topic": None,
                        "text": f"The column {emotion}_id stores an integer.",
                    }
                )
                + "\n"
            )
            f.write(
                json.dumps(
                    {
                        "id": f"eg-{emotion}",
                        "kind": "emotional_general",
                        "emotion": emotion,
                        "topic": None,
                        "text": f"Today I felt so {emotion} about the garden.",
                    }
                )
                + "\n"
            )
    with (root / "neutral_dialogues.jsonl").open("w") as f:
        for i in range(4):
            f.write(
                json.dumps(
                    {
                        "id": f"d{i}",
                        "messages": [
                            {"role": "user", "content": f"How many grams are in {i + 2} kilograms?"},
                            {"role": "assistant", "content": f"There are {(i + 2) * 1000} grams."},
                        ],
                    }
                )
                + "\n"
            )
    with (root / "trajectory.jsonl").open("w") as f:
        for stage in (1, 2):
            for kind in ("failure", "control"):
                f.write(
                    json.dumps(
                        {
                            "id": f"s{stage}-{kind}",
                            "stage": stage,
                            "stage_name": f"stage{stage}",
                            "kind": kind,
                            "pair": f"s{stage}-failure" if kind == "control" else None,
                            "task": "add",
                            "messages": [
                                {"role": "user", "content": "Write add(a, b)."},
                                {"role": "assistant", "content": "def add(a, b): return a + b"},
                                {
                                    "role": "user",
                                    "content": "test_add failed" if kind == "failure" else "Add a docstring.",
                                },
                            ],
                        }
                    )
                    + "\n"
                )
    return root


# --- reading activations ------------------------------------------------------------------------------


def test_batched_left_padded_reads_equal_one_at_a_time_full_forward(tiny):
    model, tokenizer = tiny
    texts = [
        "a short one",
        "a much longer text that needs many more tokens than the first",
        "mid length text here",
    ]
    encoded = [encode(tokenizer, t) for t in texts] + [encode(tokenizer, [{"role": "user", "content": "hi"}])]
    # Layer 2 is the last: transformers' hidden_states[-1] is after the final norm, so compare 0 and 1.
    fast = read_means(model, tokenizer, encoded, [0, 1], skip_tokens=2, batch_size=4, progress=False)
    slow = read_means_naive(model, tokenizer, encoded, [0, 1], skip_tokens=2)
    torch.testing.assert_close(fast.means, slow, rtol=1e-5, atol=1e-5)
    assert fast.n_read[-1] == encoded[-1][1] > 0  # a chat is read at its assistant header


def test_forward_stops_after_the_last_wanted_layer_and_hooks_are_removed(tiny):
    model, tokenizer = tiny
    before = [len(layer._forward_hooks) for layer in decoder_layers(model)]  # transformers keeps its own
    calls = []
    last = decoder_layers(model)[2].register_forward_hook(lambda *_: calls.append(1))
    try:
        ids = tokenizer(["hello there"], return_tensors="pt")
        with capture_residuals(model, [0, 1]) as captured:
            forward_until(model, ids["input_ids"], ids["attention_mask"])
        assert sorted(captured) == [0, 1] and calls == []
    finally:
        last.remove()
    assert [len(layer._forward_hooks) for layer in decoder_layers(model)] == before


def test_hooks_are_removed_when_the_forward_pass_fails(tiny):
    model, _ = tiny
    before = [len(layer._forward_hooks) for layer in decoder_layers(model)]
    with pytest.raises(RuntimeError), capture_residuals(model, [1]):
        raise RuntimeError("boom")
    assert [len(layer._forward_hooks) for layer in decoder_layers(model)] == before


def test_read_tokens_skips_position_zero_and_keeps_text_order(tiny):
    model, tokenizer = tiny
    encoded = [tokenizer("one two three")["input_ids"], tokenizer("four five six seven eight")["input_ids"]]
    acts, owner = read_tokens(model, tokenizer, encoded, 1, batch_size=2, progress=False)
    assert acts.shape == (len(encoded[0]) + len(encoded[1]) - 2, 64)
    assert owner.tolist() == [0] * (len(encoded[0]) - 1) + [1] * (len(encoded[1]) - 1)


# --- extraction on planted directions -----------------------------------------------------------------


def planted(seed: int = 0, d: int = 32, per: int = 40):
    rng = np.random.default_rng(seed)
    truth = extract.unit(rng.normal(size=(3, d)))
    nuisance = extract.unit(rng.normal(size=d))
    labels = np.repeat(np.array(EMOTIONS, dtype=object), per)
    x = rng.normal(size=(3 * per, d)) * 0.3 + np.repeat(truth, per, axis=0) * 2.0
    x += rng.normal(size=(3 * per, 1)) * 3.0 * nuisance  # a big shared nuisance axis
    neutral = rng.normal(size=(per, d)) * 0.3
    dialogues = rng.normal(size=(per, d)) * 0.3 + rng.normal(size=(per, 1)) * 5.0 * nuisance
    return x, labels, neutral, dialogues, truth, nuisance


@pytest.mark.parametrize("method", extract.METHODS)
@pytest.mark.parametrize("standardize", [False, True])
def test_each_method_recovers_planted_directions(method, standardize):
    x, labels, neutral, dialogues, truth, _ = planted()
    v, _ = extract.directions_at_layer(
        method,
        x,
        labels,
        EMOTIONS,
        neutral,
        dialogues,
        standardize=standardize,
        pca_variance=0.5,
        probe_c=1.0,
        seed=0,
    )
    centered_truth = extract.unit(truth - truth.mean(0)) if method != "mean_diff" else truth
    assert np.allclose(np.linalg.norm(v, axis=1), 1)
    agreement = np.diag(v @ extract.unit(centered_truth).T)
    assert agreement.min() > 0.6, agreement
    # signed so that an emotion's own texts project higher than the others' do
    for row, emotion in enumerate(EMOTIONS):
        assert (x[labels == emotion] @ v[row]).mean() > (x[labels != emotion] @ v[row]).mean()


def test_anthropic_projects_out_the_neutral_dialogue_component():
    x, labels, neutral, dialogues, _, nuisance = planted()
    v, info = extract.directions_at_layer(
        "anthropic",
        x,
        labels,
        EMOTIONS,
        neutral,
        dialogues,
        standardize=False,
        pca_variance=0.5,
        probe_c=1.0,
        seed=0,
    )
    assert info["neutral_pcs"] == 1
    pcs = extract.neutral_pcs(dialogues, 0.5)
    assert np.abs(v @ pcs.T).max() < 1e-8
    assert abs(float(pcs[0] @ nuisance)) > 0.95


def test_fix_signs_flips_a_reversed_direction():
    x, labels, *_, truth, _ = planted()
    flipped = truth.copy()
    flipped[1] *= -1
    fixed = extract.fix_signs(flipped, x, labels, EMOTIONS)
    assert np.allclose(fixed, truth)


def test_topic_split_is_seeded_disjoint_and_spans_domains():
    topics = {"coding": [f"c{i}" for i in range(11)], "general": [f"g{i}" for i in range(11)]}
    split = extract.split_topics(topics, 2, 3, seed=0)
    assert split == extract.split_topics(topics, 2, 3, seed=0)
    assert split != extract.split_topics(topics, 2, 3, seed=1)
    assert (
        not set(split.train) & set(split.val)
        | set(split.train) & set(split.test)
        | set(split.val) & set(split.test)
    )
    assert len(split.test) == 6 and len(split.val) == 4 and len(split.train) == 12
    assert {t[0] for t in split.test} == {"c", "g"}
    with pytest.raises(ValueError, match="domain 'coding' has 3 topics"):
        extract.split_topics({"coding": ["a", "b", "c"]}, 2, 3, seed=0)


def test_top_energy_and_outlier_dims():
    v = np.array([[3.0, 4.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    assert np.allclose(extract.top_energy(v, 1), [16 / 25, 0.25])
    reference = np.ones((5, 8))
    reference[:, 3] = 100.0
    assert extract.outlier_dims(reference) == [3]


# --- storage ----------------------------------------------------------------------------------------------


def test_direction_set_round_trips_and_to_copies(tmp_path):
    vectors = {3: torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)}
    ds = DirectionSet(
        "anthropic",
        ("calm", "desperate"),
        vectors,
        {3: torch.randn(8)},
        {3: 12.5},
        chosen_layer=3,
        model={"name": "m", "revision": "abc"},
        details={"split": {"train": ["a"]}},
    )
    path = ds.save(tmp_path / "anthropic.safetensors")
    loaded = DirectionSet.load(path)
    assert torch.equal(loaded.vectors[3], ds.vectors[3]) and torch.equal(loaded.centers[3], ds.centers[3])
    assert loaded.steering_unit == {3: 12.5} and loaded.model["revision"] == "abc"
    assert torch.equal(loaded.direction("desperate"), vectors[3][1])
    copy = loaded.to("cpu", torch.bfloat16)
    assert copy.vectors[3].dtype == torch.bfloat16 and loaded.vectors[3].dtype == torch.float32
    with pytest.raises(KeyError, match="no direction for 'angry'"):
        loaded.direction("angry")


# --- the stage end to end on the tiny model ---------------------------------------------------------------


def test_capture_extract_validate_probe_end_to_end(tiny_dir, tmp_path):
    stimuli = write_stimuli(tmp_path / "stimuli")
    config = {
        "stimuli": str(stimuli),
        "val_topics": 1,
        "test_topics": 1,
        "skip_tokens": 2,
        "dtype": "float32",
    }
    meta = capture(tiny_dir, tmp_path / "acts", config)
    assert meta["n_texts"] == 3 * 12 + 6 * 2 + 6 + 4
    summary = extract_all(tmp_path / "acts", tmp_path / "dirs", config, model={"name": "tiny"})
    for method in extract.METHODS:
        ds = DirectionSet.load(tmp_path / "dirs" / f"{method}.safetensors")
        assert ds.chosen_layer == summary[method]["chosen_layer"] in (0, 1, 2)
        assert ds.emotions == EMOTIONS and set(ds.layers) == {0, 1, 2}
        assert all(u > 0 for u in ds.steering_unit.values())
    accuracy = pl.read_csv(tmp_path / "dirs" / "layer_accuracy.csv")
    assert (
        set(accuracy["split"]) == {"val", "test"} and (accuracy["n"] == 12).all()
    )  # 2 topics x 2 persons x 3
    report = validate(tmp_path / "acts", tmp_path / "dirs", tmp_path / "val", config, model_dir=tiny_dir)
    assert report["bag_of_words"]["test_accuracy"] == 1.0  # the fixture's emotions differ by their words
    lens = pl.read_csv(tmp_path / "val" / "logit_lens.csv")
    assert lens.height == 3 * 3 * 2 * 10

    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"id": "a", "text": "I tried anything before midnight"})
        + "\n"
        + json.dumps({"id": "b", "messages": [{"role": "user", "content": "test failed"}]})
        + "\n"
    )
    table = probe_file([tmp_path / "dirs" / "anthropic.safetensors"], tiny_dir, items, tmp_path / "probe.csv")
    assert table.height == 2 * 3 and set(table.columns) >= {
        "id",
        "emotion",
        "cosine",
        "projection",
        "predicted",
    }
    assert (table["cosine"].abs() <= 1 + 1e-6).all()


def test_sae_trains_in_sae_lens_format_and_ranks_features(tiny_dir, tmp_path):
    from types import SimpleNamespace

    from agent_affect.directions.sae import load_sae, pretrained_layer, rank_features, train

    stimuli = write_stimuli(tmp_path / "stimuli")
    config = {
        "stimuli": str(stimuli),
        "val_topics": 1,
        "test_topics": 1,
        "skip_tokens": 2,
        "dtype": "float32",
    }
    capture(tiny_dir, tmp_path / "acts", config)
    extract_all(tmp_path / "acts", tmp_path / "dirs", config)
    sae_cfg = {
        "corpus": ["stimuli"],
        "train_tokens": 1500,
        "expansion": 2,
        "k": 4,
        "epochs": 1,
        "batch_size": 128,
    }
    metrics = train(tiny_dir, tmp_path / "dirs", tmp_path / "dirs" / "sae", sae_cfg, stimuli)
    layer = DirectionSet.load(tmp_path / "dirs" / "anthropic.safetensors").layer()
    assert metrics["layer"] == layer and metrics["d_sae"] == 128 and metrics["l0"] <= 4
    assert 0 < metrics["fvu"] < 2 and metrics["heldout_tokens"] > 0
    sae = load_sae(tmp_path / "dirs" / "sae" / "sae")  # sae-lens's own on-disk format
    assert sae.cfg.d_in == 64
    features = rank_features(
        tiny_dir,
        tmp_path / "dirs" / "sae" / "sae",
        tmp_path / "dirs",
        tmp_path / "dirs" / "sae",
        {**sae_cfg, "top_features": 3},
        stimuli,
        skip_tokens=2,
        n_boot=50,
    )
    assert features.height == 3 * 3 and set(features["emotion"]) == set(EMOTIONS)
    candidates = DirectionSet.load(tmp_path / "dirs" / "sae" / "sae.safetensors")
    assert candidates.method == "sae" and candidates.layers == [layer]
    top = features.filter(pl.col("rank") == 1).sort("emotion")["feature"].to_list()
    expected = torch.nn.functional.normalize(sae.W_dec.detach()[top].float(), dim=-1)
    torch.testing.assert_close(candidates.vectors[layer], expected)
    hooked = SimpleNamespace(
        cfg=SimpleNamespace(metadata=SimpleNamespace(hook_name="blocks.12.hook_resid_post"))
    )
    assert pretrained_layer(hooked) == 12
    hooked.cfg.metadata.hook_name = "blocks.12.hook_resid_pre"
    assert pretrained_layer(hooked) == 11
    hooked.cfg.metadata.hook_name = "blocks.3.attn.hook_z"
    with pytest.raises(ValueError, match="only residual-stream SAEs"):
        pretrained_layer(hooked)


def test_probe_input_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "ok"}\n{"id": 2}\n')
    with pytest.raises(StimulusError, match=r"bad.jsonl:2: give exactly one of text or messages"):
        read_items(bad)


def test_trajectory_summary_pairs_failures_with_their_controls():
    rows = []
    for stage in (1, 2):
        for i in range(4):
            for kind, value in (("failure", 1.0 + stage + i), ("control", 0.5 + i)):
                rows.append(
                    {
                        "id": f"{kind}{stage}{i}",
                        "method": "m",
                        "emotion": "e",
                        "stage": stage,
                        "stage_name": f"s{stage}",
                        "kind": kind,
                        "projection": value,
                        "pair": f"failure{stage}{i}" if kind == "control" else None,
                    }
                )
    summary = summarise_trajectory(pl.DataFrame(rows), n_boot=200)
    diff = summary.filter(pl.col("what") == "failure - control").sort("stage")
    assert diff["mean"].to_list() == [1.5, 2.5] and diff["n"].to_list() == [4, 4]
