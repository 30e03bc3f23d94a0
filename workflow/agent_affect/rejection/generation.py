"""Batched generation with one random stream per row, and a hook for steering.

`models.generate` seeds a whole batch, so a row's sample depends on what else shares its batch. Here
every row draws from its own `torch.Generator`, seeded by the caller: the same question, sample and
turn get the same seed in every condition, so conditions are compared on common random numbers and a
row's text does not depend on the batch it ran in (exactly so in float32; bf16 padding can round a
near-tie differently). Sampling happens in a logits processor that leaves only the drawn token
finite, and `generate` then decodes greedily.

`steer`, when given, is called once per batch and its context manager is held around the model's
`generate` call: the place where a steering hook (the calm arm) is registered and removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessor, LogitsProcessorList

from agent_affect.models import device_of
from agent_affect.models.loading import _eos_ids

SteerFactory = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Completion:
    """A row's new text (cut at a stop string), its token count, and whether it ended on its own."""

    text: str
    tokens: int
    finished: bool


class RowSampler(LogitsProcessor):
    """Draws each row's next token from softmax(logits / temperature) with that row's own generator."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float = 1.0) -> None:
        if temperature <= 0 or not 0 < top_p <= 1:
            raise ValueError(f"need temperature > 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.temperature, self.top_p = temperature, top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.generators):
            raise RuntimeError(f"batch of {scores.shape[0]} rows for {len(self.generators)} seeds")
        probs = torch.softmax(scores.float() / self.temperature, dim=-1).cpu()
        if self.top_p < 1:
            probs = _nucleus(probs, self.top_p)
        # Inverse-CDF sampling: one uniform per row and step (torch.multinomial costs ~10 ms a row on a
        # 49k vocabulary here), and rows of two conditions that share a seed draw the same uniforms.
        cumulative = probs.double().cumsum(dim=-1)
        uniforms = torch.stack([torch.rand(1, generator=gen, dtype=torch.float64) for gen in self.generators])
        chosen = torch.searchsorted(cumulative, uniforms * cumulative[:, -1:], right=True).squeeze(1)
        chosen = chosen.clamp(max=probs.shape[-1] - 1)
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(scores.shape[0], device=scores.device), chosen.to(scores.device)] = 0.0
        return out


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    ordered, index = probs.sort(dim=-1, descending=True)
    # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
    drop = ordered.cumsum(dim=-1) - ordered >= top_p
    ordered[drop] = 0.0
    return torch.zeros_like(probs).scatter(-1, index, ordered)


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
    steer: SteerFactory | None = None,
    progress: bool = False,
) -> list[Completion]:
    """One completion per prompt text, in input order, batched in input order (left-padded).

    Greedy at ``temperature == 0`` (seeds unused); otherwise row ``i`` samples with ``seeds[i]``. Each
    text is cut before the first of `stop_strings` it contains.
    """
    if len(seeds) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    if batch_size < 1 or max_new_tokens < 1 or temperature < 0:
        raise ValueError(
            f"need batch_size >= 1, max_new_tokens >= 1, temperature >= 0; got {batch_size}, "
            f"{max_new_tokens}, {temperature}"
        )
    device = device_of(model)
    eos = _eos_ids(model, tokenizer)
    encoded = [encode_prompt(tokenizer, text) for text in prompts]
    completions: list[Completion] = []
    starts = range(0, len(encoded), batch_size)
    for start in tqdm(starts, desc="generating", unit="batch", disable=not progress):
        rows = encoded[start : start + batch_size]
        inputs = tokenizer.pad(
            {"input_ids": rows}, padding=True, padding_side="left", return_tensors="pt"
        ).to(device)
        processors = LogitsProcessorList()
        if temperature > 0:
            processors.append(RowSampler(seeds[start : start + batch_size], temperature, top_p))
        with steer() if steer is not None else nullcontext(), torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=sorted(eos),
                logits_processor=processors,
            )
        for tokens in output[:, inputs["input_ids"].shape[1] :].tolist():
            completions.append(_completion(tokenizer, tokens, eos, stop_strings))
    return completions


def _completion(tokenizer: Any, tokens: list[int], eos: set[int], stop_strings: Sequence[str]) -> Completion:
    end = next((i for i, token in enumerate(tokens) if token in eos), None)
    kept = tokens if end is None else tokens[:end]
    text = tokenizer.decode(kept, skip_special_tokens=True)
    finished = end is not None
    for stop in stop_strings:
        if stop in text:
            text, finished = text[: text.index(stop)], True
    return Completion(text.strip(), len(kept), finished)
