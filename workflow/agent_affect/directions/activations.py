"""Residual-stream activations, read with hooks that are removed in `finally`.

The forward pass stops after the last layer asked for (an exception raised from that layer's hook), so
reading layer 10 of a 30-layer model costs a third of a forward pass. Batches are left-padded with
mask-derived position ids, so a text's activations do not depend on what shares its batch.
Position 0 is never read: its residual norm is about 100x the others (an attention sink) and would
dominate every mean.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from agent_affect.models.loading import chat_prompts, device_of

log = logging.getLogger(__name__)


class _StopForward(Exception):
    """Raised by the last wanted layer's hook: nothing after it needs computing."""


def decoder_layers(model: Any) -> torch.nn.ModuleList:
    """The model's list of decoder blocks (``model.model.layers`` for Llama, Qwen, Mistral, Gemma)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if isinstance(layers, torch.nn.ModuleList):
        return layers
    count = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__}")


def n_layers(model: Any) -> int:
    return len(decoder_layers(model))


@contextmanager
def capture_residuals(
    model: Any, layers: Sequence[int], stop: bool = True
) -> Iterator[dict[int, torch.Tensor]]:
    """Record the residual stream after each layer in `layers` into the yielded dict (layer -> [B, T, D]).

    With `stop`, the last of them raises `_StopForward`; run the forward pass through `forward_until`.
    """
    blocks = decoder_layers(model)
    wanted = sorted(set(layers))
    if not wanted or wanted[0] < 0 or wanted[-1] >= len(blocks):
        raise ValueError(f"layers must lie in 0..{len(blocks) - 1}, got {list(layers)}")
    captured: dict[int, torch.Tensor] = {}
    handles = []

    def hook_for(index: int):
        def hook(_module, _inputs, output):
            captured[index] = output[0] if isinstance(output, tuple) else output
            if stop and index == wanted[-1]:
                raise _StopForward

        return hook

    try:
        for index in wanted:
            handles.append(blocks[index].register_forward_hook(hook_for(index)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def forward_until(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
    """One forward pass, left-padding aware, that may end early at a capturing hook."""
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    try:
        with torch.inference_mode():
            model(
                input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
            )
    except _StopForward:
        pass


def encode(tokenizer: Any, item: str | Sequence[dict], chat_template: bool = False) -> tuple[list[int], int]:
    """Token ids of a text or a chat, and how many trailing tokens are the assistant's turn header.

    A chat (a list of messages) is rendered with the generation prompt, and read at the assistant's
    turn: the header tokens the template adds for it. A text is read as it is, or as one user message
    when `chat_template` is set.
    """
    if isinstance(item, str) and not chat_template:
        return list(tokenizer(item)["input_ids"]), 0
    messages = [{"role": "user", "content": item}] if isinstance(item, str) else list(item)
    with_header = chat_prompts(tokenizer, [messages], add_generation_prompt=True)[0]
    without = chat_prompts(tokenizer, [messages], add_generation_prompt=False)[0]
    ids = tokenizer(with_header, add_special_tokens=False)["input_ids"]
    header = len(ids) - len(tokenizer(without, add_special_tokens=False)["input_ids"])
    if isinstance(item, str):
        return list(ids), 0
    return list(ids), max(header, 1)


@dataclass
class Reads:
    """Per text: the mean residual over its read positions at each layer, and its mean token norm."""

    means: torch.Tensor  # [n_texts, n_layers, d_model], float32
    norms: torch.Tensor  # [n_texts, n_layers]: mean L2 norm over positions 1.. (the steering unit's input)
    n_read: torch.Tensor  # [n_texts]: positions averaged
    n_tokens: torch.Tensor  # [n_texts]
    layers: list[int]


def read_means(
    model: Any,
    tokenizer: Any,
    encoded: Sequence[tuple[list[int], int]],
    layers: Sequence[int],
    skip_tokens: int = 0,
    batch_size: int = 16,
    progress: bool = True,
) -> Reads:
    """Mean residual per text and layer: over the assistant header for chats (`encode`'s count > 0),
    else over positions from max(1, skip_tokens) on (texts too short for that fall back to 1..)."""
    layers = list(layers)
    count = len(encoded)
    device = device_of(model)
    d_model = model.config.hidden_size
    means = torch.zeros(count, len(layers), d_model)
    norms = torch.zeros(count, len(layers))
    n_read = torch.zeros(count, dtype=torch.long)
    order = sorted(range(count), key=lambda i: -len(encoded[i][0]))
    short = 0
    batches = [order[start : start + batch_size] for start in range(0, count, batch_size)]
    for batch in tqdm(batches, desc="reading activations", unit="batch", disable=not progress):
        ids = [encoded[i][0] for i in batch]
        padded = tokenizer.pad({"input_ids": ids}, padding=True, padding_side="left", return_tensors="pt")
        input_ids, mask = padded["input_ids"].to(device), padded["attention_mask"].to(device)
        width = input_ids.shape[1]
        read = torch.zeros(len(batch), width, dtype=torch.bool)
        every = torch.zeros(len(batch), width, dtype=torch.bool)
        for row, index in enumerate(batch):
            length, header = len(encoded[index][0]), encoded[index][1]
            start = width - length  # left padding
            every[row, start + 1 :] = True
            if header:
                read[row, width - header :] = True
            else:
                first = max(1, skip_tokens)
                if length <= first:
                    first, short = 1, short + 1
                read[row, start + first :] = True
            read[row, start] = False  # position 0, always
        with capture_residuals(model, layers) as captured:
            forward_until(model, input_ids, mask)
        for column, layer in enumerate(layers):
            hidden = captured[layer].float().cpu()
            weights = read.unsqueeze(-1).float()
            means[batch, column] = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
            token_norms = hidden.norm(dim=-1)
            norms[batch, column] = (token_norms * every).sum(1) / every.sum(1).clamp(min=1)
        n_read[batch] = read.sum(1)
    if short:
        log.warning(
            "%d texts were shorter than skip_tokens=%d and were read from position 1", short, skip_tokens
        )
    n_tokens = torch.tensor([len(ids) for ids, _ in encoded], dtype=torch.long)
    return Reads(means, norms, n_read, n_tokens, layers)


def read_tokens(
    model: Any,
    tokenizer: Any,
    encoded: Sequence[list[int]],
    layer: int,
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every token's residual at one layer, position 0 excluded: ``(activations [N, D], text index [N])``,
    for SAE training and feature reads. Texts keep their order; tokens their position order."""
    device = device_of(model)
    chunks: list[torch.Tensor | None] = [None] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc=f"reading layer {layer}", unit="batch", disable=not progress):
        padded = tokenizer.pad(
            {"input_ids": [encoded[i] for i in batch]}, padding=True, padding_side="left", return_tensors="pt"
        )
        with capture_residuals(model, [layer]) as captured:
            forward_until(model, padded["input_ids"].to(device), padded["attention_mask"].to(device))
        hidden = captured[layer].float().cpu()
        width = hidden.shape[1]
        for row, index in enumerate(batch):
            chunks[index] = hidden[row, width - len(encoded[index]) + 1 :].clone()
    owner = torch.cat([torch.full((len(chunk),), i, dtype=torch.long) for i, chunk in enumerate(chunks)])
    return torch.cat(chunks), owner


def read_means_naive(
    model: Any,
    tokenizer: Any,
    encoded: Sequence[tuple[list[int], int]],
    layers: Sequence[int],
    skip_tokens: int = 0,
) -> torch.Tensor:
    """The slow reference path: one text at a time, a full forward with ``output_hidden_states``.
    Kept for the benchmark and for the test that the fast path reads the same numbers."""
    device = device_of(model)
    means = torch.zeros(len(encoded), len(layers), model.config.hidden_size)
    for index, (ids, header) in enumerate(encoded):
        with torch.inference_mode():
            output = model(torch.tensor([ids], device=device), output_hidden_states=True, use_cache=False)
        first = len(ids) - header if header else max(1, skip_tokens)
        if first >= len(ids):
            first = 1
        for column, layer in enumerate(layers):
            # hidden_states[0] is the embedding output; layer i's output is hidden_states[i + 1]
            means[index, column] = output.hidden_states[layer + 1][0, first:].float().mean(0).cpu()
    return means


# A context manager around one batch's forward pass: given the batch's row indices (into the caller's
# sequences) and its [batch, width] mask of answer positions, it may add hooks (steering) for that pass.
BatchHooks = Callable[[Sequence[int], torch.Tensor], AbstractContextManager[Any]]


def read_answer_means(
    model: Any,
    tokenizer: Any,
    sequences: Sequence[Sequence[int]],
    answer_lengths: Sequence[int],
    layer: int,
    batch_size: int = 16,
    hooks: BatchHooks | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean residual after `layer` over each sequence's last `answer_lengths[i]` tokens: the answer the
    model wrote, read in its context (the prompt and earlier turns), not at the header of a new turn.

    One forward pass per batch of `batch_size` sequences, in input order, left-padded with mask-derived
    positions, so a read does not depend on its batch. Returns ``(means [N, d] float32, n_read [N])``;
    a sequence with no answer tokens gets NaNs. Position 0 is never read.
    """
    if len(sequences) != len(answer_lengths):
        raise ValueError(f"{len(sequences)} sequences but {len(answer_lengths)} answer lengths")
    device = device_of(model)
    means = torch.full((len(sequences), model.config.hidden_size), float("nan"))
    n_read = torch.zeros(len(sequences), dtype=torch.long)
    batches = [
        list(range(s, min(s + batch_size, len(sequences)))) for s in range(0, len(sequences), batch_size)
    ]
    for chunk in tqdm(batches, desc="reading answers", unit="batch", disable=not progress):
        width = max(len(sequences[i]) for i in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        read = torch.zeros((len(chunk), width), dtype=torch.bool)
        for j, i in enumerate(chunk):
            length, answer = len(sequences[i]), min(answer_lengths[i], len(sequences[i]) - 1)
            if length == 0:
                raise ValueError(f"sequence {i} is empty")
            ids[j, width - length :] = torch.tensor(list(sequences[i]))
            mask[j, width - length :] = 1
            if answer > 0:
                read[j, width - answer :] = True
        with (
            hooks(chunk, read) if hooks is not None else nullcontext(),
            capture_residuals(model, [layer]) as captured,
        ):
            forward_until(model, ids.to(device), mask.to(device))
        hidden = captured[layer].float().cpu()
        weights = read.unsqueeze(-1).float()
        counts = read.sum(1)
        chunk_means = (hidden * weights).sum(1) / counts.clamp(min=1)[:, None]
        chunk_means[counts == 0] = float("nan")
        means[chunk] = chunk_means
        n_read[chunk] = counts
    return means, n_read


def project_means(means: torch.Tensor, directions: Any, layer: int | None = None) -> torch.Tensor:
    """Projections [N, n_emotions] of mean residuals onto a DirectionSet's unit directions at `layer`
    (its chosen layer when None), after subtracting the set's center; NaN rows stay NaN."""
    layer = directions.layer(layer)
    return (means - directions.centers[layer]) @ directions.vectors[layer].T
