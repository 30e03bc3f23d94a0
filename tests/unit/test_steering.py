"""Steering hooks and per-row seeded, per-row steered batched generation, on a tiny float32 model."""

from __future__ import annotations

import pytest
import torch

from agent_affect.agent.generation import Row, generate_rows
from agent_affect.directions.activations import capture_residuals, decoder_layers, encode, forward_until
from agent_affect.directions.steer import random_direction, steer, steering_vector
from agent_affect.directions.store import DirectionSet
from agent_affect.models import load_model


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return load_model(tiny_model(layers=3, seed=1), device="cpu", dtype="float32")


def residuals(model, tokenizer, text, layers=(0, 1, 2), **steering):
    ids = tokenizer([text], return_tensors="pt")
    with capture_residuals(model, layers, stop=False) as captured:
        if steering:
            with steer(model, **steering):
                forward_until(model, ids["input_ids"], ids["attention_mask"])
        else:
            forward_until(model, ids["input_ids"], ids["attention_mask"])
    return {k: v.clone() for k, v in captured.items()}


def test_patched_layer_is_original_plus_vector_and_earlier_layers_are_untouched(tiny):
    model, tokenizer = tiny
    vector = torch.randn(64)
    plain = residuals(model, tokenizer, "the tests failed again")
    steered = residuals(model, tokenizer, "the tests failed again", vectors={1: vector})
    assert torch.equal(steered[0], plain[0])
    torch.testing.assert_close(steered[1], plain[1] + vector, rtol=0, atol=1e-6)
    assert not torch.allclose(steered[2], plain[2])  # the change propagates


def test_hooks_are_removed_even_on_error(tiny):
    model, _ = tiny
    before = [len(layer._forward_hooks) for layer in decoder_layers(model)]
    with pytest.raises(RuntimeError), steer(model, {0: torch.ones(64)}):
        raise RuntimeError("boom")
    assert [len(layer._forward_hooks) for layer in decoder_layers(model)] == before


def test_steering_vector_scales_by_the_layer_unit(tmp_path):
    direction = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    ds = DirectionSet("anthropic", ("calm", "desperate"), {4: direction}, {4: torch.zeros(8)}, {4: 20.0}, 4)
    vector = steering_vector(ds, "desperate", 0.05)
    torch.testing.assert_close(vector.norm(), torch.tensor(1.0))
    torch.testing.assert_close(vector, direction[1] * 0.05 * 20.0)
    control = random_direction(8, seed=3)
    assert torch.equal(control, random_direction(8, seed=3)) and abs(float(control.norm()) - 1) < 1e-6


def prompts(tokenizer):
    chats = [
        [{"role": "user", "content": "Write a function that adds two numbers."}],
        [{"role": "user", "content": "hi"}],
        [{"role": "user", "content": "The visible test failed: assert merge([[1, 3], [2, 4]]) == [[1, 4]]."}],
    ]
    return [encode(tokenizer, chat)[0] for chat in chats]


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_a_row_generates_the_same_alone_or_in_a_mixed_batch(tiny, temperature):
    model, tokenizer = tiny
    ids = prompts(tokenizer)
    vector = torch.randn(64) * 3
    rows = [
        Row(ids[0], seed=11),
        Row(ids[1], seed=12, vectors={1: vector}),
        Row(ids[2], seed=13, vectors={1: -vector, 2: vector}),
        Row(ids[0], seed=11, vectors={1: vector}),
    ]
    batched = generate_rows(model, tokenizer, rows, max_new_tokens=12, temperature=temperature)
    alone = [
        generate_rows(model, tokenizer, [row], max_new_tokens=12, temperature=temperature)[0] for row in rows
    ]
    assert batched == alone
    assert batched[0] != batched[3]  # steering changes the text of a matched-seed row


def test_matched_seeds_give_matched_samples_and_other_seeds_differ(tiny):
    model, tokenizer = tiny
    ids = prompts(tokenizer)[0]
    out = generate_rows(
        model, tokenizer, [Row(ids, 5), Row(ids, 5), Row(ids, 6)], max_new_tokens=16, temperature=1.0
    )
    assert out[0] == out[1] and out[0] != out[2]


def test_generated_only_steering_leaves_the_first_token_alone(tiny):
    model, tokenizer = tiny
    ids = prompts(tokenizer)[2]
    huge = {0: torch.randn(64) * 50, 1: torch.randn(64) * 50}
    plain = generate_rows(model, tokenizer, [Row(ids, 0)], max_new_tokens=8)[0]
    generated = generate_rows(model, tokenizer, [Row(ids, 0, huge)], max_new_tokens=8, positions="generated")[
        0
    ]
    everywhere = generate_rows(model, tokenizer, [Row(ids, 0, huge)], max_new_tokens=8, positions="all")[0]
    assert generated[0] == plain[0]  # the first token comes from the unsteered prompt
    assert generated != plain and everywhere[0] != plain[0]


def test_prompt_mask_steers_only_the_masked_prompt_tokens(tiny):
    model, tokenizer = tiny
    ids = prompts(tokenizer)[2]
    huge = {0: torch.randn(64) * 50}
    plain = generate_rows(model, tokenizer, [Row(ids, 0)], max_new_tokens=6)[0]
    nothing = Row(ids, 0, huge, prompt_mask=[False] * len(ids))
    assert generate_rows(model, tokenizer, [nothing], max_new_tokens=6, positions="prompt_mask")[0] == plain
    tail = Row(ids, 0, huge, prompt_mask=[False] * (len(ids) - 5) + [True] * 5)
    assert generate_rows(model, tokenizer, [tail], max_new_tokens=6, positions="prompt_mask")[0] != plain
