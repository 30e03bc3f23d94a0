"""Batched generation where every row has its own seed and its own steering vector.

`transformers.generate` samples a whole batch from one random stream, so a row's text depends on
which other rows share its batch; an experiment that puts every condition of an attempt in one batch
then cannot match seeds across conditions. This loop (a prefill, then one token per step with a KV
cache) draws each row's token from that row's own generator, and left padding with mask-derived
positions keeps each row's numbers independent of the others (exactly, in float32). Steering is a
[batch, d] vector per layer, zero rows unsteered, so all conditions run in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from agent_affect.directions.steer import Positions, steer
from agent_affect.models.loading import _cut_at_eos, _eos_ids, device_of


@dataclass(frozen=True)
class Row:
    """One generation: prompt token ids, its seed, and per layer its steering vector ([d]; None = none)."""

    prompt: list[int]
    seed: int
    vectors: Mapping[int, torch.Tensor] | None = None
    prompt_mask: list[bool] | None = None  # for positions="prompt_mask": which prompt tokens to steer


@torch.inference_mode()
def generate_rows(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    top_p: float = 1.0,
    positions: Positions = "all",
) -> list[list[int]]:
    """New token ids per row (cut after the first EOS, which is kept), in row order."""
    if not rows:
        return []
    device = device_of(model)
    width = max(len(row.prompt) for row in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    prompt_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row.prompt) :] = torch.tensor(row.prompt)
        mask[i, width - len(row.prompt) :] = 1
        if row.prompt_mask is not None:
            prompt_mask[i, width - len(row.prompt) :] = torch.tensor(row.prompt_mask)
    input_ids, mask = input_ids.to(device), mask.to(device)
    layers = sorted({layer for row in rows for layer in (row.vectors or {})})
    d_model = model.config.hidden_size
    vectors = {layer: torch.stack([_row_vector(row, layer, d_model) for row in rows]) for layer in layers}
    generators = [torch.Generator(device=device).manual_seed(row.seed) for row in rows]
    eos = _eos_ids(model, tokenizer)
    stops = torch.tensor(sorted(eos), dtype=torch.long, device=device)
    finished = torch.zeros(len(rows), dtype=torch.bool, device=device)
    out = torch.full((len(rows), max_new_tokens), pad, dtype=torch.long, device=device)
    positions_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    from transformers import DynamicCache

    cache = DynamicCache()
    with steer(
        model, vectors, positions=positions, prompt_mask=prompt_mask if positions == "prompt_mask" else None
    ):
        logits = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions_ids,
            past_key_values=cache,
            use_cache=True,
            # Only the last position's logits: the vocabulary projection of every prompt token was
            # most of a prefill's cost with SmolLM2's 49k vocabulary.
            logits_to_keep=1,
        ).logits[:, -1]
        steps = 0
        for step in range(max_new_tokens):
            token = _pick(logits, generators, temperature, top_p)
            token = torch.where(finished, torch.full_like(token, pad), token)
            out[:, step] = token
            steps = step + 1
            finished |= torch.isin(token, stops)
            if bool(finished.all()) or step == max_new_tokens - 1:
                break
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype, device=device)], dim=1)
            positions_ids = positions_ids[:, -1:] + 1
            logits = model(
                input_ids=token[:, None],
                attention_mask=mask,
                position_ids=positions_ids,
                past_key_values=cache,
                use_cache=True,
            ).logits[:, -1]
    return [_cut_at_eos(tokens, eos) for tokens in out[:, :steps].tolist()]


def _row_vector(row: Row, layer: int, d_model: int) -> torch.Tensor:
    vector = (row.vectors or {}).get(layer)
    return torch.zeros(d_model) if vector is None else vector.float().cpu()


def _pick(
    logits: torch.Tensor, generators: Sequence[torch.Generator], temperature: float, top_p: float
) -> torch.Tensor:
    """Greedy, or a sample from each row's own generator (temperature, nucleus)."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < top_p
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs * keep)
    # Inverse-CDF sampling, one uniform per row and step from the row's own generator: torch.multinomial
    # cost 18-33 ms a row on SmolLM2's 49k vocabulary here, more than the model's decoding step.
    cumulative = probs.double().cumsum(dim=-1)
    uniforms = torch.stack(
        [torch.rand(1, generator=gen, dtype=torch.float64, device=gen.device) for gen in generators]
    )
    chosen = torch.searchsorted(cumulative, uniforms * cumulative[:, -1:], right=True).squeeze(1)
    return chosen.clamp(max=probs.shape[-1] - 1)
