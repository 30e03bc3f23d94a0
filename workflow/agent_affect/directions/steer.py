"""Steering: add a vector to the residual stream after chosen layers, a different one on each batch row.

Hooks are registered with ``prepend=True`` (so transformers' own hidden-state recorders see the steered
stream) and removed in ``finally``. A strength is a fraction of the layer's steering unit (its mean
residual norm over neutral text), so +0.05 means 5% of a typical residual at that layer.

Where the vector is added (`positions`):
- ``all``: every position, prompt and generated tokens;
- ``generated``: only tokens the model generates (decoding steps, one new position per forward);
- ``prompt_mask``: only prompt positions where a per-row mask is True (e.g. the feedback turn), never
  the generated tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch

from agent_affect.directions.activations import decoder_layers
from agent_affect.directions.store import DirectionSet

Positions = Literal["all", "generated", "prompt_mask"]


def steering_vector(
    directions: DirectionSet, emotion: str, strength: float, layer: int | None = None
) -> torch.Tensor:
    """strength x the layer's steering unit x the unit direction (float32, CPU)."""
    layer = directions.layer(layer)
    return directions.direction(emotion, layer) * strength * directions.steering_unit[layer]


def random_direction(d_model: int, seed: int) -> torch.Tensor:
    """A random unit vector, seeded: the control direction, scaled like any other."""
    generator = torch.Generator().manual_seed(seed)
    vector = torch.randn(d_model, generator=generator)
    return vector / vector.norm()


@contextmanager
def steer(
    model: Any,
    vectors: Mapping[int, torch.Tensor],
    positions: Positions = "all",
    prompt_mask: torch.Tensor | None = None,
) -> Iterator[None]:
    """Add `vectors[layer]` ([d] for every row, or [batch, d], one per row; zero rows are unsteered) to
    the output of each layer while the context is open."""
    if positions == "prompt_mask" and prompt_mask is None:
        raise ValueError("positions='prompt_mask' needs a prompt_mask [batch, prompt_length]")
    blocks = decoder_layers(model)
    handles = []

    def hook_for(vector: torch.Tensor):
        cache: dict[tuple, torch.Tensor] = {}

        def hook(_module, _inputs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            key = (hidden.device, hidden.dtype)
            if key not in cache:  # cast once per device and dtype, inside the hook
                cache[key] = vector.to(device=hidden.device, dtype=hidden.dtype)
            add = cache[key]
            add = add.view(1, 1, -1) if add.dim() == 1 else add[:, None, :]
            decoding = hidden.shape[1] == 1 and positions != "all"
            if positions == "all" or (positions == "generated" and decoding):
                hidden = hidden + add
            elif positions == "prompt_mask" and not decoding:
                mask = prompt_mask.to(device=hidden.device)[:, -hidden.shape[1] :, None]
                hidden = hidden + add * mask.to(hidden.dtype)
            else:
                return None
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        return hook

    try:
        for layer, vector in vectors.items():
            if not 0 <= layer < len(blocks):
                raise ValueError(f"steering layer {layer} is outside 0..{len(blocks) - 1}")
            handles.append(blocks[layer].register_forward_hook(hook_for(vector.float()), prepend=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class Condition:
    """What is done to the model: nothing, a direction at a strength, a random direction, a prompt."""

    name: str
    kind: str  # baseline | direction | random | prompt | sae
    emotion: str | None = None
    strength: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.name, "kind": self.kind, "emotion": self.emotion, "strength": self.strength}


class Steering:
    """Steering vectors per condition, from the direction sets, with equal-norm random controls."""

    def __init__(
        self, directions: DirectionSet, sae: DirectionSet | None, layers: Sequence[int] | None, seed: int
    ):
        self.directions, self.sae = directions, sae
        self.layers = list(layers) if layers else [directions.layer()]
        self.seed = seed
        self.d_model = directions.vectors[directions.layer()].shape[1]

    def vectors(self, condition: Condition) -> dict[int, torch.Tensor] | None:
        if condition.kind in ("baseline", "prompt"):
            return None
        out = {}
        for layer in self.layers:
            if condition.kind == "direction":
                out[layer] = steering_vector(self.directions, condition.emotion, condition.strength, layer)
            elif condition.kind == "random":
                # one random direction per emotion and layer, at every strength: a dose-response control
                unit = random_direction(self.d_model, self.seed + 7919 * layer + _stable(condition.emotion))
                out[layer] = unit * condition.strength * self.directions.steering_unit[layer]
            elif condition.kind == "sae":
                if self.sae is None:
                    raise ValueError("an SAE condition needs the SAE directions (sae.safetensors)")
                sae_layer = self.sae.layer()
                out[sae_layer] = steering_vector(self.sae, condition.emotion, condition.strength, sae_layer)
        return out


def _stable(text: str | None) -> int:
    return int(hashlib.sha256((text or "").encode()).hexdigest()[:8], 16)
