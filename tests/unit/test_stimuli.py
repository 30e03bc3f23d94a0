"""The committed stimulus corpus: enough stories, balanced topics, no emotion named, honest controls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from agent_affect.directions.stimuli import (
    StimulusError,
    forbidden_hits,
    forbidden_patterns,
    load_corpus,
    load_trajectory,
    read_jsonl,
)

STIMULI = Path(__file__).resolve().parents[2] / "resources" / "stimuli"
REQUIRED = {
    "calm",
    "patient",
    "confident",
    "frustrated",
    "desperate",
    "stuck",
    "stressed",
    "afraid",
    "angry",
    "hopeful",
}


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return load_corpus(STIMULI)


@pytest.fixture(scope="module")
def patterns():
    return forbidden_patterns(STIMULI / "forbidden_words.yaml")


def test_every_required_emotion_has_40_stories_over_20_topics_both_domains_and_persons(corpus):
    stories = [r for r in corpus if r["kind"] == "story"]
    by_emotion = Counter(r["emotion"] for r in stories)
    assert set(by_emotion) >= REQUIRED
    assert min(by_emotion.values()) >= 40, by_emotion
    topics = {r["topic"] for r in stories}
    assert len(topics) >= 20
    for emotion in by_emotion:
        mine = [r for r in stories if r["emotion"] == emotion]
        assert {r["domain"] for r in mine} == {"coding", "general"}
        assert {r["person"] for r in mine} == {"first", "third"}
        # the same topics for every emotion, so a topic split cannot separate emotions by subject
        assert {r["topic"] for r in mine} == topics


def test_no_story_names_any_emotion(corpus, patterns):
    offenders = [
        (r["id"], hits)
        for r in corpus
        if r["kind"] == "story" and (hits := forbidden_hits(r["text"], patterns))
    ]
    assert offenders == []


def test_neutral_controls_name_no_emotion_and_lexical_controls_do(corpus, patterns):
    neutral = [r for r in corpus if r["kind"] in ("neutral_coding", "neutral_failure", "dialogue")]
    assert Counter(r["kind"] for r in neutral)["neutral_failure"] >= 40
    for row in neutral:
        text = row["text"] or " ".join(m["content"] for m in row["messages"])
        assert forbidden_hits(text, patterns) == [], row["id"]
    lexical = [r for r in corpus if r["kind"] == "lexical"]
    assert Counter(r["emotion"] for r in lexical).keys() >= REQUIRED
    for row in lexical:
        assert row["emotion"] in {e for e, _ in forbidden_hits(row["text"], patterns)}, row["id"]


def test_trajectory_has_five_stages_with_matched_length_controls():
    chats = load_trajectory(STIMULI / "trajectory.jsonl")
    failures = {c["id"]: c for c in chats if c["kind"] == "failure"}
    assert min(Counter(c["stage"] for c in failures.values()).values()) >= 10
    assert sorted({c["stage"] for c in failures.values()}) == [1, 2, 3, 4, 5]
    for control in (c for c in chats if c["kind"] == "control"):
        failure = failures[control["pair"]]
        assert control["stage"] == failure["stage"] and len(control["messages"]) == len(failure["messages"])
        length = sum(len(m["content"]) for m in control["messages"])
        target = sum(len(m["content"]) for m in failure["messages"])
        assert abs(length - target) <= 0.15 * target, control["id"]
    for chat in chats:
        assert chat["messages"][-1]["role"] == "user"  # read at the assistant's turn that follows


def test_forbidden_words_match_whole_words_stems_and_phrases(patterns):
    hits = forbidden_hits(
        "Calmly, she was under  pressure; the Hopeless fix. A patio, a scarf, hopefully.", patterns
    )
    assert ("calm", "Calmly") in hits and ("stressed", "under  pressure") in hits
    assert ("desperate", "Hopeless") in hits and ("hopeful", "hopefully") in hits
    assert not [h for h in hits if h[1].lower() in ("patio", "scarf")]


def test_bad_records_name_the_file_and_line(tmp_path):
    bad = tmp_path / "calm.jsonl"
    bad.write_text(
        json.dumps(
            {"id": "a", "emotion": "calm", "topic": "t", "domain": "coding", "person": "first", "text": "x"}
        )
        + "\n{not json\n"
    )
    with pytest.raises(StimulusError, match=r"calm.jsonl:2: not JSON"):
        read_jsonl([bad], ("id",))
    bad.write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "a"}) + "\n")
    with pytest.raises(StimulusError, match=r"calm.jsonl:2: id 'a' already used at .*calm.jsonl:1"):
        read_jsonl([bad], ("id",))
