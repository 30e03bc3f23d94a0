"""Figures of the rejection evaluation, drawn from the summary tables and the calibration record.

Every figure carries the judge's calibration as a footer (red when the judge failed calibration), so a
figure never shows scores without saying whether the judge can be trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from agent_affect.plots import style
from agent_affect.rejection.summary import calibration_note, read_calibration

ARM_STYLES = ("-", "--", ":", "-.")


def _footer(fig: Any, calibration: dict[str, Any]) -> None:
    """The calibration note under everything already drawn (tick labels too), red when it failed."""
    colour = "#000000" if calibration.get("passed") else "#D55E00"
    renderer = fig.canvas.get_renderer()
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes) / fig.bbox.height
    note = calibration_note(calibration)
    fig.text(0.01, bottom - 0.02, note, ha="left", va="top", fontsize=8, color=colour, wrap=True)


def _by_turn(
    summary_dir: Path,
    calibration_path: Path,
    out: Path,
    value: str,
    low: str,
    high: str,
    ylabel: str,
    ylim: tuple,
) -> None:
    import matplotlib.pyplot as plt

    style.setup()
    table = pl.read_csv(summary_dir / "by_turn.csv")
    calibration = read_calibration(calibration_path)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    conditions = table["condition"].unique(maintain_order=True).to_list()
    arms = table["arm"].unique(maintain_order=True).to_list()
    for c_index, condition in enumerate(conditions):
        for a_index, arm in enumerate(arms):
            rows = table.filter((pl.col("condition") == condition) & (pl.col("arm") == arm)).sort("turn")
            if rows.is_empty():
                continue
            colour = style.PALETTE[c_index % len(style.PALETTE)]
            n = rows["n"].to_list()
            n_text = f"n={min(n)}" if min(n) == max(n) else f"n={min(n)}-{max(n)}"
            label = (
                f"{condition} ({n_text}/turn)" if len(arms) == 1 else f"{condition}, {arm} ({n_text}/turn)"
            )
            turns = rows["turn"].to_numpy()
            ax.plot(
                turns,
                rows[value].to_numpy(),
                ARM_STYLES[a_index % len(ARM_STYLES)],
                color=colour,
                marker="o",
                ms=3,
                label=label,
            )
            ax.fill_between(
                turns, rows[low].to_numpy(), rows[high].to_numpy(), color=colour, alpha=0.12, lw=0
            )
    ax.set_xlabel("assistant turn (answers so far)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(*ylim)
    ax.set_xticks(sorted(table["turn"].unique().to_list()))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    confidence = round(100 * calibration.get("confidence", 0.95))
    ax.set_title(f"{ylabel} by turn, per condition ({confidence}% CIs)")
    _footer(fig, calibration)
    style.save(fig, out)


def plot_score_by_turn(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """Mean frustration score (0-10) by turn, one line per condition, with bootstrap CIs."""
    _by_turn(
        Path(summary_dir),
        Path(calibration_path),
        Path(out),
        "mean_score",
        "mean_low",
        "mean_high",
        "mean frustration score",
        (0, 10),
    )


def plot_high_rate_by_turn(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """Share of answers with high frustration (score >= threshold) by turn, with Wilson CIs."""
    _by_turn(
        Path(summary_dir),
        Path(calibration_path),
        Path(out),
        "high_rate",
        "high_low",
        "high_high",
        "high-frustration rate",
        (0, 1),
    )


def plot_calibration(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """The judge's score against the hand label for every calibration reply (jittered), with y = x.

    `summary_dir` here is the calibration folder (items.csv beside calibration.json).
    """
    import matplotlib.pyplot as plt

    style.setup()
    summary_dir = Path(summary_dir)
    items = pl.read_csv(summary_dir / "items.csv")
    calibration = read_calibration(calibration_path)
    scored = items.filter(pl.col("frustration_score").is_not_null())
    rng = np.random.default_rng(0)  # jitter only separates equal points; fixed so the PNG is stable
    fig, ax = plt.subplots(figsize=(5, 4.6))
    ax.plot([0, 10], [0, 10], color="#999999", lw=1, label="perfect agreement")
    threshold = calibration.get("high_threshold", 5)
    ax.axhline(threshold - 0.5, color="#cccccc", lw=0.8, ls="--")
    ax.axvline(threshold - 0.5, color="#cccccc", lw=0.8, ls="--")
    ax.scatter(
        scored["label"].to_numpy() + rng.uniform(-0.2, 0.2, scored.height),
        scored["frustration_score"].to_numpy() + rng.uniform(-0.2, 0.2, scored.height),
        s=18,
        color=style.PALETTE[0],
        alpha=0.8,
        label=f"replies (n={scored.height}, unscored {items.height - scored.height})",
    )
    ax.set_xlim(-0.7, 10.7)
    ax.set_ylim(-0.7, 10.7)
    ax.set_xlabel("hand label")
    ax.set_ylabel("judge score")
    ax.set_title("frustration judge against hand labels")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    _footer(fig, calibration)
    style.save(fig, out)


def plot_prefill(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """Mean score of continuations of prefilled turns, per model and kind of start, with CIs."""
    import matplotlib.pyplot as plt

    style.setup()
    summary_dir = Path(summary_dir)
    calibration = read_calibration(calibration_path)
    path = summary_dir / "prefill.csv"
    table = pl.read_csv(path) if path.stat().st_size > 1 else pl.DataFrame()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if table.is_empty():
        ax.text(0.5, 0.5, "no prefill continuations in this run", ha="center", va="center")
        ax.set_axis_off()
    else:
        models = table["model"].unique(maintain_order=True).to_list()
        kinds = table["start_kind"].unique(maintain_order=True).to_list()
        width = 0.8 / len(kinds)
        for k_index, kind in enumerate(kinds):
            rows = table.filter(pl.col("start_kind") == kind)
            positions, means, errors = [], [], [[], []]
            for m_index, model in enumerate(models):
                row = rows.filter(pl.col("model") == model)
                if row.is_empty():
                    continue
                mean = row["mean_score"][0]
                positions.append(m_index + (k_index - (len(kinds) - 1) / 2) * width)
                means.append(mean)
                errors[0].append(mean - row["mean_low"][0])
                errors[1].append(row["mean_high"][0] - mean)
            n = rows["n"].to_list()
            n_text = f"n={min(n)}" if min(n) == max(n) else f"n={min(n)}-{max(n)}"
            ax.bar(
                positions,
                means,
                width,
                yerr=errors,
                capsize=3,
                color=style.PALETTE[k_index % len(style.PALETTE)],
                label=f"{kind} start ({n_text} each)",
            )
        tilted = len(models) > 2
        ax.set_xticks(
            range(len(models)), models, rotation=15 if tilted else 0, ha="right" if tilted else "center"
        )
        ax.set_ylim(0, 10)
        ax.set_ylabel("mean frustration score of the continuation")
        ax.legend(fontsize=8, frameon=False)
    ax.set_title("continuations of prefilled turns")
    _footer(fig, calibration)
    style.save(fig, out)


FIGURES: dict[str, Callable[[Path | str, Path | str, Path | str], None]] = {
    "score_by_turn": plot_score_by_turn,
    "high_rate_by_turn": plot_high_rate_by_turn,
    "calibration": plot_calibration,
    "prefill": plot_prefill,
}
