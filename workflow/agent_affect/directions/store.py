"""Emotion directions on disk: safetensors plus a JSON sidecar (DESIGN.md's contract).

One file holds one method's directions for every emotion at every extracted layer:
``layer.<i>`` is a float32 [n_emotions, d_model] tensor of unit vectors, ``center.<i>`` the mean the
probe subtracts before projecting. The sidecar names the model and its revision, the method, the
emotions (row order), the normalisation, the chosen layer and the steering unit per layer (the mean
residual norm over a reference corpus, position 0 excluded), so that a strength of 0.05 means 5% of a
typical residual at that layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

FORMAT_VERSION = 1


@dataclass(frozen=True)
class DirectionSet:
    """One method's unit directions: layer -> [n_emotions, d_model], float32 on CPU."""

    method: str
    emotions: tuple[str, ...]
    vectors: dict[int, torch.Tensor]
    centers: dict[int, torch.Tensor]
    steering_unit: dict[int, float]
    chosen_layer: int | None = None
    model: dict[str, Any] = field(default_factory=dict)  # id, revision, path
    normalisation: str = "none"
    details: dict[str, Any] = field(default_factory=dict)  # how it was made: stimuli, split, settings

    def __post_init__(self) -> None:
        for layer, matrix in self.vectors.items():
            if matrix.shape[0] != len(self.emotions):
                raise ValueError(
                    f"layer {layer}: {matrix.shape[0]} direction rows for {len(self.emotions)} emotions"
                )

    @property
    def layers(self) -> list[int]:
        return sorted(self.vectors)

    def layer(self, layer: int | None = None) -> int:
        """`layer`, or the chosen layer when None."""
        chosen = self.chosen_layer if layer is None else layer
        if chosen is None or chosen not in self.vectors:
            raise KeyError(f"{self.method} directions have no layer {chosen!r} (layers {self.layers})")
        return chosen

    def direction(self, emotion: str, layer: int | None = None) -> torch.Tensor:
        """One unit direction (float32, CPU)."""
        if emotion not in self.emotions:
            raise KeyError(f"no direction for {emotion!r}; these directions hold {list(self.emotions)}")
        return self.vectors[self.layer(layer)][self.emotions.index(emotion)]

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> DirectionSet:
        """A copy on `device` (and in `dtype`); the original is untouched."""

        def move(tensors: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
            return {k: v.to(device=device, dtype=dtype or v.dtype, copy=True) for k, v in tensors.items()}

        return replace(self, vectors=move(self.vectors), centers=move(self.centers))

    def save(self, path: Path | str) -> Path:
        """Write ``path`` (.safetensors) and its sidecar ``path`` with suffix .json."""
        path = Path(path).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"layer.{k}": v.float().contiguous().cpu() for k, v in self.vectors.items()}
        tensors |= {f"center.{k}": v.float().contiguous().cpu() for k, v in self.centers.items()}
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"method": self.method})
        sidecar = {
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "emotions": list(self.emotions),
            "layers": self.layers,
            "chosen_layer": self.chosen_layer,
            "steering_unit": {str(k): v for k, v in sorted(self.steering_unit.items())},
            "normalisation": self.normalisation,
            "model": self.model,
            "details": self.details,
        }
        path.with_suffix(".json").write_text(
            json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n"
        )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> DirectionSet:
        path = Path(path).with_suffix(".safetensors")
        sidecar_path = path.with_suffix(".json")
        if not path.is_file() or not sidecar_path.is_file():
            raise FileNotFoundError(f"directions need both {path} and {sidecar_path}")
        sidecar = json.loads(sidecar_path.read_text())
        if sidecar.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{sidecar_path}: format_version {sidecar.get('format_version')}, expected 1")
        tensors = load_file(str(path))
        vectors = {int(k.split(".")[1]): v for k, v in tensors.items() if k.startswith("layer.")}
        centers = {int(k.split(".")[1]): v for k, v in tensors.items() if k.startswith("center.")}
        return cls(
            method=sidecar["method"],
            emotions=tuple(sidecar["emotions"]),
            vectors=vectors,
            centers=centers,
            steering_unit={int(k): float(v) for k, v in sidecar["steering_unit"].items()},
            chosen_layer=sidecar["chosen_layer"],
            model=sidecar.get("model", {}),
            normalisation=sidecar.get("normalisation", "none"),
            details=sidecar.get("details", {}),
        )
