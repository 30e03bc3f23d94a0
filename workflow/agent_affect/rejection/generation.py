"""Generation for the rejection stage: prompt texts in, cut texts out, through the agent's generator.

`agent.generation.generate_rows` (one stream per row, one steering vector per row and layer) does the
sampling, so both stages draw their tokens the same way: the same question, sample and turn get the
same seed in every condition and arm, so conditions are compared on common random numbers, and a row's
text does not depend on the batch it ran in (exactly so in float32; bf16 padding can round a near-tie
differently). Here prompts are encoded, each row's tokens are cut at the first EOS and at stop strings,
and decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from agent_affect.agent.generation import Row
from agent_affect.agent.generation import generate_rows as generate_tokens
from agent_affect.directions.steer import Positions
from agent_affect.models.loading import _eos_ids

# Per layer, the vector added to a row's residual stream (None: the row is not steered).
Vectors = Mapping[int, torch.Tensor] | None


@dataclass(frozen=True)
class Completion:
    """A row's new text (cut at a stop string), its token count, and whether it ended on its own."""

    text: str
    tokens: int
    finished: bool


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Token ids of prompt text; special tokens are added only when the text lacks the BOS already."""
    bos = tokenizer.bos_token
    ids = tokenizer(text, add_special_tokens=not (bos and text.startswith(bos)))["input_ids"]
    if not ids:
        raise ValueError(f"prompt {text[:80]!r} encodes to no tokens")
    return list(ids)


def generate_rows(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    seeds: Sequence[int],
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 64,
    stop_strings: Sequence[str] = (),
    vectors: Sequence[Vectors] | None = None,
    positions: Positions = "all",
    progress: bool = False,
) -> list[Completion]:
    """One completion per prompt text, in input order, batched in input order (left-padded).

    Greedy at ``temperature == 0`` (seeds unused); otherwise row ``i`` samples with ``seeds[i]``. Row
    ``i`` is steered by ``vectors[i]`` (at `positions`) when given. Each text is cut before the first of
    `stop_strings` it contains.
    """
    vectors = list(vectors) if vectors is not None else [None] * len(prompts)
    if not len(seeds) == len(vectors) == len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds and {len(vectors)} vectors")
    if batch_size < 1 or max_new_tokens < 1 or temperature < 0:
        raise ValueError(
            f"need batch_size >= 1, max_new_tokens >= 1, temperature >= 0; got {batch_size}, "
            f"{max_new_tokens}, {temperature}"
        )
    eos = _eos_ids(model, tokenizer)
    rows = [
        Row(encode_prompt(tokenizer, text), int(seed), vector)
        for text, seed, vector in zip(prompts, seeds, vectors, strict=True)
    ]
    completions: list[Completion] = []
    starts = range(0, len(rows), batch_size)
    for start in tqdm(starts, desc="generating", unit="batch", disable=not progress):
        generated = generate_tokens(
            model,
            tokenizer,
            rows[start : start + batch_size],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            positions=positions,
        )
        completions += [_completion(tokenizer, tokens, eos, stop_strings) for tokens in generated]
    return completions


def _completion(tokenizer: Any, tokens: list[int], eos: set[int], stop_strings: Sequence[str]) -> Completion:
    # The generator keeps the EOS it stopped at; it is not part of the answer.
    finished = bool(tokens) and tokens[-1] in eos
    kept = tokens[:-1] if finished else tokens
    text = tokenizer.decode(kept, skip_special_tokens=True)
    for stop in stop_strings:
        if stop in text:
            text, finished = text[: text.index(stop)], True
    return Completion(text.strip(), len(kept), finished)
