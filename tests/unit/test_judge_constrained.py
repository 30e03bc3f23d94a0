"""Constrained decoding on a tiny random-init Llama with the SmolLM2 tokenizer: answers always parse.

A random model has no idea what JSON is, so every valid answer here is the grammar's doing. With a
``maxLength`` on the reason, xgrammar admits no escapes, so an answer has at most
``len('{"label": "NEGATIVE", "reason": ""}')`` + 4 x maxLength bytes, each token at least one byte:
given that many new tokens plus the stop token (the default budget) a row must finish, whatever the
model does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import polars as pl
import pytest
import torch

from agent_affect.judge import (
    ERROR,
    JudgePrompt,
    TransformersBackend,
    build_backend,
    label_messages,
    run_label,
)
from agent_affect.judge.constrained import (
    GrammarLogitsProcessor,
    PrefixCache,
    SchemaGrammar,
    constrained_generate,
)
from agent_affect.models import load_model

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "resources" / "prompts"
MESSAGES = [
    "kill that shit",
    "go ahead",
    "perfect, thanks! that fixed the flaky test",
    "you broke the login page AGAIN. revert it",
    "run the migrations and tell me what fails",
    "ok",
    "why is this still failing?? read the error",
    "Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'user'",
    "wow, 3x faster",
    "rename the helper to parse_header",
    "ç'est bon 👍",
    "",
]
SHORT_REASON = 40
SHORT_BOUND = len('{"label": "NEGATIVE", "reason": ""}') + 4 * SHORT_REASON + 1


@pytest.fixture(scope="module")
def tiny_dir(tiny_model) -> Path:
    return tiny_model(layers=2, seed=0)


@pytest.fixture(scope="module")
def tiny_fp32(tiny_dir):
    return load_model(tiny_dir, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def prompt() -> JudgePrompt:
    return JudgePrompt.load(PROMPTS / "sentiment_judge.md", PROMPTS / "sentiment_judge.schema.json")


@pytest.fixture(scope="module")
def short_prompt(prompt) -> JudgePrompt:
    schema = json.loads(json.dumps(prompt.schema))
    schema["properties"]["reason"]["maxLength"] = SHORT_REASON
    return JudgePrompt(prompt.system, schema)


def _backend(model_and_tokenizer, prompt, **kwargs) -> TransformersBackend:
    model, tokenizer = model_and_tokenizer
    return TransformersBackend(model, tokenizer, prompt, model_id="tiny", **kwargs)


@pytest.mark.parametrize(("temperature", "seed"), [(0.0, 0), (1.0, 0), (1.0, 1), (1.5, 2)])
def test_a_random_model_always_answers_valid_json_of_the_schema(tiny_fp32, short_prompt, temperature, seed):
    backend = _backend(
        tiny_fp32,
        short_prompt,
        temperature=temperature,
        seed=seed,
        batch_size=5,
    )
    assert backend.max_new_tokens == SHORT_BOUND
    results = backend.label(MESSAGES)
    assert [r.label for r in results if r.label == ERROR] == []
    for result in results:
        answer = json.loads(result.raw)
        jsonschema.validate(answer, short_prompt.schema)
        assert result.label == answer["label"] in short_prompt.labels and result.reason == answer["reason"]
    assert len({r.raw for r in results}) > len(results) // 2  # the model is random, not stuck


def test_the_shipped_schema_holds_for_a_random_model_too(tiny_fp32, prompt):
    backend = _backend(tiny_fp32, prompt, batch_size=6)
    assert backend.max_new_tokens == len('{"label": "NEGATIVE", "reason": ""}') + 4 * 200 + 1
    results = backend.label(MESSAGES)
    for result in results:
        assert result.label != ERROR, result
        jsonschema.validate(json.loads(result.raw), prompt.schema)


def test_batched_greedy_equals_one_at_a_time_in_float32(tiny_fp32, short_prompt):
    model, tokenizer = tiny_fp32
    grammar = SchemaGrammar(model, tokenizer, short_prompt.schema)
    prefix = PrefixCache.shared_by(model, tokenizer, [short_prompt.messages("a"), short_prompt.messages("b")])
    conversations = [short_prompt.messages(text) for text in MESSAGES]
    bound = SHORT_BOUND
    single = [
        constrained_generate(model, tokenizer, [c], grammar, max_new_tokens=bound)[0] for c in conversations
    ]
    batched = constrained_generate(
        model, tokenizer, conversations, grammar, max_new_tokens=bound, batch_size=8
    )
    cached = constrained_generate(
        model, tokenizer, conversations, grammar, max_new_tokens=bound, batch_size=5, prefix=prefix
    )
    assert batched == single
    assert cached == single  # the shared-prefix cache changes the work, not the answers
    assert len(prefix.ids) > 100 and prefix.usable_length([[*prefix.ids, 7]]) == len(prefix.ids)


def test_label_only_gives_the_labels_of_full_answers_under_greedy(tiny_fp32, short_prompt):
    full = _backend(tiny_fp32, short_prompt).label(MESSAGES)
    label_only = _backend(tiny_fp32, short_prompt.label_only())
    assert label_only.max_new_tokens == len('{"label": "NEGATIVE"}') + 1
    only = label_only.label(MESSAGES)
    assert [r.label for r in only] == [r.label for r in full]
    assert all(r.reason is None and json.loads(r.raw).keys() == {"label"} for r in only)


def test_sampling_is_seeded_and_leaves_the_global_rng_alone(tiny_fp32, short_prompt):
    def sample(seed):
        backend = _backend(tiny_fp32, short_prompt, max_new_tokens=60, temperature=1.0, seed=seed)
        return [r.raw for r in backend.label(MESSAGES[:6])]

    torch.manual_seed(99)
    state = torch.get_rng_state()
    assert sample(3) == sample(3)
    assert sample(3) != sample(4)
    assert torch.equal(torch.get_rng_state(), state)


def test_running_out_of_tokens_is_an_error_verdict_with_the_partial_answer(tiny_fp32, prompt):
    results = _backend(tiny_fp32, prompt, max_new_tokens=4).label(MESSAGES[:3])
    for result in results:
        assert result.label == ERROR and result.raw.startswith("{")
        assert "max_new_tokens=4" in result.error


def test_the_processor_masks_exactly_the_tokens_the_grammar_forbids(tiny_fp32, short_prompt):
    model, tokenizer = tiny_fp32
    grammar = SchemaGrammar(model, tokenizer, short_prompt.schema)
    processor = GrammarLogitsProcessor(grammar, batch_size=2)
    scores = torch.randn(2, grammar.vocab_size)
    masked = processor(torch.zeros(2, 3, dtype=torch.long), scores.clone())
    allowed = torch.isfinite(masked)
    assert torch.equal(masked[allowed], scores[allowed])
    assert torch.all(masked[~allowed] == float("-inf"))
    opening = {tokenizer.decode([t]) for t in allowed[0].nonzero().flatten().tolist()}
    assert opening and all(text.startswith("{") for text in opening)


def test_run_label_on_the_tiny_model_resumes_after_a_kill(tiny_dir, short_prompt, tmp_path, monkeypatch):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(short_prompt.schema))
    config = {
        "schema": str(schema),
        "prompt": str(PROMPTS / "sentiment_judge.md"),
        "dtype": "float32",
        "device": "cpu",
        "batch_size": 4,
        "chunk_size": 4,
    }
    messages = pl.DataFrame({"id": [f"m{i}" for i in range(len(MESSAGES))], "content_text": MESSAGES})
    backend = build_backend(config, tiny_dir)
    seen: list[str] = []
    original = backend.label

    def killed_on_the_third_chunk(texts, on_done=None):
        if len(seen) == 8:
            raise KeyboardInterrupt
        seen.extend(texts)
        return original(texts, on_done)

    monkeypatch.setattr(backend, "label", killed_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        label_messages(
            messages, backend, tmp_path / "cache", tmp_path / "out.parquet", chunk_size=4, progress=False
        )
    monkeypatch.undo()

    path = tmp_path / "messages.parquet"
    messages.write_parquet(path)
    counted = TransformersBackend.label

    def count(self, texts, on_done=None):
        seen.extend(texts)
        return counted(self, texts, on_done)

    monkeypatch.setattr(TransformersBackend, "label", count)
    summary = run_label(
        config, path, tmp_path / "out.parquet", tmp_path / "cache", model_dir=tiny_dir, progress=False
    )
    assert sorted(seen) == sorted(MESSAGES)  # each message judged once over both runs
    assert summary["cached"] == 8 and summary["labelled"] == 4 and summary["errors"] == 0
    out = pl.read_parquet(tmp_path / "out.parquet")
    assert out["id"].to_list() == messages["id"].to_list()
    assert set(out["sentiment_label"]) <= set(short_prompt.labels)
    assert set(out["judge_model"]) == {"tiny-llama-L2-H64-s0"}
    assert out["judge_raw"].null_count() == len(out)


def test_a_plain_model_folder_is_named_after_itself(tiny_dir, prompt, tmp_path):
    plain = tmp_path / "my-judge"
    shutil.copytree(tiny_dir, plain, ignore=shutil.ignore_patterns("agent_affect_model.json"))
    backend = TransformersBackend.load(plain, prompt, device="cpu", dtype="float32", max_new_tokens=8)
    assert backend.model_id == "my-judge"
    assert backend.settings == {
        "backend": "transformers",
        "max_new_tokens": 8,
        "temperature": 0.0,
        "dtype": "float32",
    }
