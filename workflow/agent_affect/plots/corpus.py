"""The corpus at a glance: sessions and developer messages by agent, by turn, and by session length."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from agent_affect.plots.style import PALETTE, save, setup

MAX_TURN_SHOWN = 40  # later turns are pooled into one bar, labelled "40+"
# Session-length bins (number of developer messages), as [low, high] inclusive.
LENGTH_BINS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 40), (41, None))


def _length_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else str(low) if low == high else f"{low}-{high}"


def corpus_tables(traces_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """By agent; by agent and turn; by agent and session length. Subagent sessions are left out."""
    sessions = pl.read_parquet(traces_dir / "sessions.parquet").filter(pl.col("parent_session_id").is_null())
    messages = pl.read_parquet(traces_dir / "user_messages.parquet")
    by_agent = (
        sessions.group_by("agent")
        .agg(pl.len().alias("sessions"))
        .join(
            messages.group_by("agent").agg(pl.len().alias("user_messages")),
            on="agent",
            how="full",
            coalesce=True,
        )
        .fill_null(0)
        .sort("agent")
    )
    by_turn = (
        messages.with_columns(pl.col("turn").clip(upper_bound=MAX_TURN_SHOWN).alias("turn_bin"))
        .group_by("agent", "turn_bin")
        .agg(pl.len().alias("user_messages"))
        .sort("agent", "turn_bin")
    )
    length = pl.lit(None, dtype=pl.String)
    for low, high in reversed(LENGTH_BINS):
        inside = pl.col("nTurns") >= low if high is None else pl.col("nTurns").is_between(low, high)
        length = pl.when(inside).then(pl.lit(_length_label(low, high))).otherwise(length)
    by_length = (
        sessions.filter(pl.col("nTurns") > 0)
        .with_columns(length.alias("session_length"))
        .group_by("agent", "session_length")
        .agg(pl.len().alias("sessions"))
        .sort("agent", "session_length")
    )
    return by_agent, by_turn, by_length


def plot_corpus_overview(traces_dir: Path, out: Path, table: Path | None = None) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    setup()
    by_agent, by_turn, by_length = corpus_tables(traces_dir)
    agents = by_agent["agent"].to_list()
    colours = {agent: PALETTE[i % len(PALETTE)] for i, agent in enumerate(agents)}
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1, 1.9, 1.1]}
    )
    n_sessions, n_messages = by_agent["sessions"].sum(), by_agent["user_messages"].sum()

    width = 0.38
    for offset, column, hatch in ((-width / 2, "sessions", ""), (width / 2, "user_messages", "//")):
        values = by_agent[column].to_list()
        bars = left.bar(
            [i + offset for i in range(len(agents))],
            values,
            width,
            color=[colours[a] for a in agents],
            hatch=hatch,
            edgecolor="white",
            label=column.replace("_", " "),
        )
        left.bar_label(bars, labels=[str(v) for v in values], fontsize=8, padding=2)
    left.set_xticks(range(len(agents)), agents)
    left.set_ylabel("count (sessions or messages)")
    left.set_title("(a) By agent")
    left.legend(frameon=False, fontsize=8, loc="upper right")
    left.margins(y=0.18)

    turns = list(range(1, MAX_TURN_SHOWN + 1))
    bottom = [0] * len(turns)
    for agent in agents:
        counts = dict(
            by_turn.filter(pl.col("agent") == agent).select("turn_bin", "user_messages").iter_rows()
        )
        heights = [counts.get(t, 0) for t in turns]
        bars = middle.bar(turns, heights, bottom=bottom, color=colours[agent], label=agent, width=0.85)
        bars[-1].set_hatch("xx")  # the pooled 40+ bar
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ticks = [1, 5, 10, 15, 20, 25, 30, 35, MAX_TURN_SHOWN]
    middle.set_xticks(ticks, [*map(str, ticks[:-1]), f"{MAX_TURN_SHOWN}+"])
    middle.set_xlabel("turn k (the k-th developer message of its session; last bar pools 40 and later)")
    middle.set_ylabel("developer messages at turn k (count)")
    middle.set_title("(b) Developer messages by turn")
    middle.legend(frameon=False, fontsize=8, title="agent", loc="upper center")

    labels = [_length_label(low, high) for low, high in LENGTH_BINS]
    bottom = [0] * len(labels)
    for agent in agents:
        counts = dict(
            by_length.filter(pl.col("agent") == agent).select("session_length", "sessions").iter_rows()
        )
        heights = [counts.get(label, 0) for label in labels]
        right.bar(range(len(labels)), heights, bottom=bottom, color=colours[agent], width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    right.set_xticks(range(len(labels)), labels)
    right.set_xlabel("session length (developer messages)")
    right.set_ylabel("sessions (count)")
    right.set_title("(c) Sessions by length")
    for axis in (left, middle, right):
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))

    fig.suptitle(
        f"Agent-session corpus: n = {n_sessions} sessions, {n_messages} developer messages "
        "(tool results, interrupts, slash commands and injected text excluded)",
        fontsize=12,
    )
    fig.tight_layout()
    save(fig, out)
    if table is not None:
        table.parent.mkdir(parents=True, exist_ok=True)
        by_turn.join(by_agent, on="agent", how="left", maintain_order="left").rename(
            {"user_messages": "user_messages_at_turn", "user_messages_right": "user_messages_total"}
        ).write_csv(table)
        by_length.write_csv(table.with_name(table.stem + "_lengths.csv"))
