"""Editing one figure's code changes that figure's hash alone (the param its rule reruns on)."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from agent_affect.plots.code import figure_hash

MODULE = """
TITLE = "{title}"


def _shared(x):
    return x + {shared}


def _only_a(x):
    return x * {only_a}


def plot_a(results, out):
    return _only_a(_shared(1)), [TITLE for _ in range(1)]


def plot_b(results, out):
    return _shared(2)


def unrelated():
    return {unrelated}


FIGURES = {{"a": plot_a, "b": plot_b}}
"""


@pytest.fixture
def write_module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(**values):
        defaults = {"title": "t", "shared": 1, "only_a": 2, "unrelated": 3} | values
        (tmp_path / "figs_under_test.py").write_text(textwrap.dedent(MODULE.format(**defaults)))
        sys.modules.pop("figs_under_test", None)
        importlib.invalidate_caches()
        return {name: figure_hash("figs_under_test", name) for name in ("a", "b")}

    yield write
    sys.modules.pop("figs_under_test", None)


def test_only_the_edited_figure_changes(write_module):
    base = write_module()
    only_a = write_module(only_a=5)
    assert only_a["a"] != base["a"] and only_a["b"] == base["b"]
    shared = write_module(shared=7)
    assert shared["a"] != base["a"] and shared["b"] != base["b"]
    assert write_module(unrelated=9) == base
    constant = write_module(title="new title")
    assert constant["a"] != base["a"] and constant["b"] == base["b"]


def test_every_workflow_figure_has_a_hash():
    from agent_affect.plots import directions, sentiment

    for module in (sentiment, directions):
        hashes = {name: figure_hash(module.__name__, name) for name in module.FIGURES}
        assert len(set(hashes.values())) == len(hashes)
