"""The provenance record every successful run writes."""

from __future__ import annotations

import json
import subprocess

from agent_affect.provenance import collect, config_sha256, write


def test_config_hash_ignores_key_order_and_sees_values():
    assert config_sha256({"a": 1, "b": {"c": 2}}) == config_sha256({"b": {"c": 2}, "a": 1})
    assert config_sha256({"a": 1}) != config_sha256({"a": 2})


def test_record_names_versions_models_datasets_and_the_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("x")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    results = tmp_path / "results"
    (results / "models" / "m").mkdir(parents=True)
    (results / "models" / "m" / "agent_affect_model.json").write_text(
        json.dumps({"spec": {"hub": "org/m", "revision": "abc"}, "source": {"revision": "abc", "bytes": 1}})
    )
    (results / "published").mkdir()
    (results / "published" / "manifest.json").write_text(json.dumps({"repo": "org/d", "revision": "def"}))
    record = collect({"k": 1}, repo, results)
    assert len(record["git"]["commit"]) == 40 and record["git"]["dirty"] is False
    assert record["models"] == {
        "m": {"spec": {"hub": "org/m", "revision": "abc"}, "source": {"revision": "abc"}}
    }
    assert record["datasets"] == {"published/manifest.json": [{"repo": "org/d", "revision": "def"}]}
    assert record["packages"]["torch"] and record["config_sha256"] == config_sha256({"k": 1})
    (repo / "f").write_text("changed")
    run = write({"k": 1}, repo, results)
    assert json.loads(run.read_text())["git"]["dirty"] is True
    assert (results / "provenance" / "latest.json").read_text() == run.read_text()
