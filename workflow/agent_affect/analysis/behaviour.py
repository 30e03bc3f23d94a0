"""What the agents did: tool calls per developer message, and per-dataset behaviour from the events.

Tool names differ across agents, so calls are mapped to classes before they are compared:

| class    | Claude Code                          | Codex                                   | Pi            |
|----------|--------------------------------------|-----------------------------------------|---------------|
| read     | Read, NotebookRead                   | exec_command/shell running cat, head,   | read          |
|          |                                      | tail, less, more, bat, nl or `sed -n`   |               |
| edit     | Edit, MultiEdit, Write, NotebookEdit | apply_patch; a shell running apply_patch,| edit, write   |
|          |                                      | `sed -i`, `perl -i` or `cat > FILE`     |               |
| search   | Grep, Glob, LS                       | a shell running rg, grep, find, ls, fd  | grep, find, ls|
| shell    | Bash                                 | exec_command, shell, local_shell        | bash          |
| plan     | TodoWrite                            | update_plan                             |               |
| delegate | Task                                 |                                         |               |
| web      | WebFetch, WebSearch                  | web_search                              |               |

A shell call is classified by its command, read from the event's `text`; where the parser did not
record the command, the call stays `shell` and `shell_calls_without_command` counts it. Polling
calls (Codex `write_stdin` on a running process; events.is_polling) are counted apart: they wait on
a command the agent already chose, so they are not a tool choice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from agent_affect.analysis.claims import Measure, NotComputable
from agent_affect.analysis.corpus import WILSON, require
from agent_affect.analysis.stats import (
    bootstrap_statistic,
    cluster_bootstrap_ratio,
    shannon_entropy_bits,
    wilson,
)

TOOL_CLASSES = {
    "read": ("read", "notebookread", "read_file", "view"),
    "edit": ("edit", "multiedit", "write", "notebookedit", "apply_patch", "write_file", "str_replace_editor"),
    "search": ("grep", "glob", "ls", "find", "list_files", "search"),
    "shell": ("bash", "exec_command", "shell", "local_shell", "container.exec", "shell_command"),
    "plan": ("todowrite", "todoread", "update_plan"),
    "delegate": ("task",),
    "web": ("webfetch", "websearch", "web_search"),
}
SHELL_TOOLS = TOOL_CLASSES["shell"]
# A command starts at the beginning, after a quote (`bash -lc 'cat x'`, JSON arguments) or after a
# separator (`cd src && cat x`).
_START = r"""(?:^|["'\[;&|(]\s*|&&\s*)"""
EDIT_COMMAND = r"\bapply_patch\b|\bsed\s+-i|\bperl\s+-\w*i|\bcat\s*>[^>&]"
READ_COMMAND = _START + r"(?:cat|head|tail|less|more|bat|nl)\b|" + _START + r"sed\s+-n\b"
SEARCH_COMMAND = _START + r"(?:rg|grep|find|ls|fd|tree)\b"

COUNTING_RECORDED = "n_tool_calls column"
COUNTING_NO_POLLING = "events, polling excluded"
COUNTING_WITH_POLLING = "events, polling included"
ALL_AGENTS = "all agents"


def tool_class() -> pl.Expr:
    """The class of a tool_call event, from tool_name and (for shell tools) the command in `text`."""
    name = pl.col("tool_name").str.to_lowercase()
    command = pl.col("text").fill_null("")
    by_name = pl.lit("other")
    for cls, names in reversed(TOOL_CLASSES.items()):
        by_name = pl.when(name.is_in(names)).then(pl.lit(cls)).otherwise(by_name)
    return (
        pl.when(name.is_in(SHELL_TOOLS) & command.str.contains(EDIT_COMMAND))
        .then(pl.lit("edit"))
        .when(name.is_in(SHELL_TOOLS) & command.str.contains(READ_COMMAND))
        .then(pl.lit("read"))
        .when(name.is_in(SHELL_TOOLS) & command.str.contains(SEARCH_COMMAND))
        .then(pl.lit("search"))
        .otherwise(by_name)
    )


def read_traces(traces_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    paths = [traces_dir / "sessions.parquet", traces_dir / "events.parquet"]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise NotComputable(f"missing {', '.join(missing)} (run `agent-affect traces` first)")
    return pl.read_parquet(paths[0]), pl.read_parquet(paths[1])


def main_tool_calls(events: pl.DataFrame) -> pl.DataFrame:
    """Tool calls of the main agent (subagent calls are not the session's own), in log order."""
    return events.filter((pl.col("kind") == "tool_call") & ~pl.col("is_sidechain").fill_null(False)).sort(
        "session_id", "seq"
    )


def session_tool_counts(messages: pl.DataFrame, events: pl.DataFrame | None) -> pl.DataFrame:
    """One row per session of the labelled table: agent, nTurns and its tool calls counted each way."""
    require(messages, ["session_id", "nTurns"], "tool calls per user message")
    columns = [pl.col("nTurns").first()]
    columns += [pl.col(c).first() for c in ("agent", "source_dataset") if c in messages.columns]
    if "n_tool_calls" in messages.columns:
        columns.append(pl.col("n_tool_calls").first().alias(COUNTING_RECORDED))
    sessions = messages.group_by("session_id").agg(columns).sort("session_id")
    if "agent" not in sessions.columns:
        sessions = sessions.with_columns(pl.lit(None, dtype=pl.String).alias("agent"))
    if events is not None:
        calls = (
            main_tool_calls(events)
            .group_by("session_id")
            .agg(
                (~pl.col("is_polling").fill_null(False)).sum().alias(COUNTING_NO_POLLING),
                pl.len().alias(COUNTING_WITH_POLLING),
            )
        )
        sessions = sessions.join(calls, on="session_id", how="left", maintain_order="left").with_columns(
            pl.col(COUNTING_NO_POLLING, COUNTING_WITH_POLLING).fill_null(0)
        )
    return sessions


def countings(sessions: pl.DataFrame) -> list[str]:
    return [
        c for c in (COUNTING_RECORDED, COUNTING_NO_POLLING, COUNTING_WITH_POLLING) if c in sessions.columns
    ]


def _median_rows(values: np.ndarray) -> np.ndarray:
    return np.median(values, axis=1)


def autonomy_measures(
    sessions: pl.DataFrame, counting: str, *, n_boot: int, seed: int, confidence: float, key: str
) -> tuple[Measure, Measure]:
    """Median over sessions of tool calls / nTurns, and the corpus ratio sum(tool calls) / sum(nTurns).

    Both intervals resample sessions: a session's calls and messages go together.
    """
    frame = sessions.filter((pl.col("nTurns") > 0) & pl.col(counting).is_not_null())
    calls = frame[counting].cast(pl.Float64).to_numpy()
    turns = frame["nTurns"].cast(pl.Float64).to_numpy()
    if frame.height == 0:
        nan = float("nan")
        return Measure(nan, 0, nan, nan, "no sessions"), Measure(nan, 0, nan, nan, "no sessions")
    per_session = calls / turns
    method = f"bootstrap over {frame.height} sessions ({n_boot} draws)"
    low, high = bootstrap_statistic(
        per_session, _median_rows, n_boot=n_boot, seed=seed, key=f"{key}/median", confidence=confidence
    )
    median = Measure(float(np.median(per_session)), frame.height, low, high, method)
    low, high = cluster_bootstrap_ratio(
        calls, turns, n_boot=n_boot, seed=seed, key=f"{key}/corpus", confidence=confidence
    )
    corpus = Measure(float(calls.sum() / turns.sum()), int(turns.sum()), low, high, method)
    return median, corpus


def autonomy_by_agent(sessions: pl.DataFrame, *, n_boot: int, seed: int, confidence: float) -> pl.DataFrame:
    """Autonomy for all agents together and for each agent, under every available way of counting."""
    available = countings(sessions)
    if not available:
        raise NotComputable("autonomy needs n_tool_calls in the labelled table, or traces_dir with events")
    agents = [ALL_AGENTS, *sorted(a for a in sessions["agent"].unique().to_list() if a is not None)]
    rows = []
    for agent in agents:
        frame = sessions if agent == ALL_AGENTS else sessions.filter(pl.col("agent") == agent)
        for counting in available:
            median, corpus = autonomy_measures(
                frame,
                counting,
                n_boot=n_boot,
                seed=seed,
                confidence=confidence,
                key=f"autonomy/{agent}/{counting}",
            )
            rows.append(
                {
                    "agent": agent,
                    "counting": counting,
                    "sessions": median.n,
                    "user_messages": corpus.n,
                    "tool_calls": int(frame[counting].sum()),
                    "median_per_session": median.value,
                    "median_ci_low": median.ci_low,
                    "median_ci_high": median.ci_high,
                    "corpus_ratio": corpus.value,
                    "corpus_ci_low": corpus.ci_low,
                    "corpus_ci_high": corpus.ci_high,
                    "ci_method": median.ci_method,
                }
            )
    return pl.DataFrame(rows)


def dataset_behaviour(
    messages: pl.DataFrame,
    sessions: pl.DataFrame,
    events: pl.DataFrame,
    *,
    n_boot: int,
    seed: int,
    confidence: float,
) -> pl.DataFrame:
    """Per source dataset and agent: errors, tool mix, read-before-edit, events per session.

    Only sessions of the labelled table are used. tool_error_rate is failed tool results over tool
    results (resampling sessions; results of polling calls included). read_before_edit_rate is, among
    sessions with an edit, the share that made a read-class call before their first edit; a session
    with no read but a shell call of unrecorded command before it is unknown, counted in
    read_before_edit_unknown and left out of the rate. Entropies are in bits, over tool classes and
    over tool names (lower-cased), polling calls left out.
    """
    require(messages, ["session_id"], "per-dataset behaviour")
    chosen = sessions.filter(pl.col("session_id").is_in(messages["session_id"].unique().implode()))
    if chosen.height == 0:
        raise NotComputable("no session of the labelled table is in traces_dir/sessions.parquet")
    chosen = chosen.unique("session_id", keep="first", maintain_order=True).select(
        "session_id",
        pl.col("source_dataset").fill_null("(unknown)"),
        pl.col("agent").fill_null("(unknown)"),
        "n_events",
    )
    main = events.filter(~pl.col("is_sidechain").fill_null(False)).join(
        chosen.select("session_id"), on="session_id"
    )
    calls = main_tool_calls(main).with_columns(tool_class().alias("tool_class"))
    choices = calls.filter(~pl.col("is_polling").fill_null(False))
    results = main.filter(pl.col("kind") == "tool_result")
    first_edit = (
        choices.filter(pl.col("tool_class") == "edit")
        .group_by("session_id")
        .agg(pl.col("seq").min().alias("edit_seq"))
    )
    # Before the first edit: a read settles it; otherwise a shell call whose command was not recorded
    # might have been one (`cat`), so the session's answer is unknown rather than no.
    unknown_shell = pl.col("tool_name").str.to_lowercase().is_in(SHELL_TOOLS) & pl.col("text").is_null()
    before = (
        first_edit.join(choices, on="session_id")
        .filter(pl.col("seq") < pl.col("edit_seq"))
        .group_by("session_id")
        .agg((pl.col("tool_class") == "read").any().alias("read"), unknown_shell.any().alias("unknown"))
    )
    read_first = (
        first_edit.join(before, on="session_id", how="left")
        .with_columns(pl.col("read", "unknown").fill_null(False))
        .select(
            "session_id",
            pl.lit(True).alias("edits"),
            pl.when(pl.col("read"))
            .then(True)
            .when(pl.col("unknown"))
            .then(None)
            .otherwise(False)
            .alias("read_before_edit"),
        )
    )
    per_session = (
        chosen.join(
            results.group_by("session_id").agg(
                pl.len().alias("tool_results"), pl.col("is_error").fill_null(False).sum().alias("tool_errors")
            ),
            on="session_id",
            how="left",
        )
        .join(
            main.filter(pl.col("kind") == "error").group_by("session_id").agg(pl.len().alias("error_events")),
            on="session_id",
            how="left",
        )
        .join(read_first, on="session_id", how="left")
        .with_columns(pl.col("tool_results", "tool_errors", "error_events").fill_null(0))
        .sort("session_id")
    )
    rows = []
    for (dataset, agent), group in per_session.group_by("source_dataset", "agent", maintain_order=True):
        ids = group["session_id"].implode()
        mine = choices.filter(pl.col("session_id").is_in(ids))
        polls = calls.filter(pl.col("session_id").is_in(ids) & pl.col("is_polling").fill_null(False)).height
        results_n, errors = int(group["tool_results"].sum()), int(group["tool_errors"].sum())
        err_low, err_high = cluster_bootstrap_ratio(
            group["tool_errors"].to_numpy(),
            group["tool_results"].to_numpy(),
            n_boot=n_boot,
            seed=seed,
            key=f"dataset_behaviour/{dataset}/{agent}/errors",
            confidence=confidence,
        )
        editing = group.filter(pl.col("edits").fill_null(False))
        known = editing.filter(pl.col("read_before_edit").is_not_null())
        read_k = int(known["read_before_edit"].sum())
        rbe_low, rbe_high = wilson(read_k, known.height, confidence)
        shell_unknown = mine.filter(
            pl.col("tool_name").str.to_lowercase().is_in(SHELL_TOOLS) & pl.col("text").is_null()
        ).height
        rows.append(
            {
                "source_dataset": dataset,
                "agent": agent,
                "sessions": group.height,
                "median_events_per_session": float(group["n_events"].median()),
                "tool_calls": mine.height,
                "polling_calls": polls,
                "tool_results": results_n,
                "tool_errors": errors,
                "tool_error_rate": errors / results_n if results_n else None,
                "tool_error_ci_low": err_low,
                "tool_error_ci_high": err_high,
                "error_events": int(group["error_events"].sum()),
                "tool_class_entropy_bits": shannon_entropy_bits(
                    mine["tool_class"].value_counts()["count"].to_list()
                ),
                "tool_name_entropy_bits": shannon_entropy_bits(
                    mine["tool_name"].str.to_lowercase().value_counts()["count"].to_list()
                ),
                **{
                    f"{cls}_calls": int((mine["tool_class"] == cls).sum())
                    for cls in ("read", "edit", "search", "shell", "plan", "delegate", "web", "other")
                },
                "shell_calls_without_command": shell_unknown,
                "sessions_with_edits": editing.height,
                "read_before_edit_unknown": editing.height - known.height,
                "read_before_edit": read_k,
                "read_before_edit_rate": read_k / known.height if known.height else None,
                "read_before_edit_ci_low": rbe_low,
                "read_before_edit_ci_high": rbe_high,
                "ci_method": f"tool errors: bootstrap over sessions ({n_boot} draws); "
                f"read before edit: {WILSON}",
            }
        )
    return pl.DataFrame(rows).sort("source_dataset", "agent")
