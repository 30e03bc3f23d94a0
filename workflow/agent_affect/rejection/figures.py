"""Figures of the rejection evaluation, drawn from the summary tables and the calibration record.

Every figure that shows the judge's scores carries its calibration as a footer (red when the judge
failed calibration), so a figure never shows scores without saying whether the judge can be trusted.
The internal figures read `summary.json`'s ``internal_primary`` (the direction set against the score).
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


def _read_internal(summary_dir: Path, name: str) -> tuple[pl.DataFrame, str]:
    """An internal table of the summary, and the primary direction's column (``internal_<emotion>``)."""
    import json

    primary = json.loads((summary_dir / "summary.json").read_text()).get("internal_primary")
    path = summary_dir / f"{name}.csv"
    table = pl.read_csv(path) if path.stat().st_size > 1 else pl.DataFrame()
    return table, primary or ""


def _no_data(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this run (rejection-stats without --internal)", ha="center", va="center")
    ax.set_axis_off()


def _series_label(condition: str, arm: str, n: list[int]) -> str:
    n_text = f"n={min(n)}" if min(n) == max(n) else f"n={min(n)}-{max(n)}"
    where = condition if arm == "baseline" else f"{condition}, {arm}"
    return f"{where} ({n_text}/turn)"


def _series(table: pl.DataFrame) -> list[tuple[str, str, int, int]]:
    """(condition, arm, colour index, line-style index) for every line a by-turn figure draws."""
    conditions = table["condition"].unique(maintain_order=True).to_list()
    arms = table["arm"].unique(maintain_order=True).to_list()
    return [(c, a, ci, ai) for ci, c in enumerate(conditions) for ai, a in enumerate(arms)]


def plot_internal_by_turn(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """Mean projection of the answers onto each emotion direction by turn, per condition and arm, with
    bootstrap CIs as error bars."""
    import matplotlib.pyplot as plt

    style.setup()
    summary_dir = Path(summary_dir)
    table, _ = _read_internal(summary_dir, "internal_by_turn")
    calibration = read_calibration(calibration_path)
    measures = table["measure"].unique(maintain_order=True).to_list() if not table.is_empty() else [""]
    columns = min(len(measures), 3)
    rows_ = -(-len(measures) // columns)
    fig, axes = plt.subplots(
        rows_, columns, figsize=(4.2 * columns + 2.6, 3.4 * rows_), squeeze=False, layout="constrained"
    )
    handles: dict[str, Any] = {}
    for ax, measure in zip(axes.flat, measures, strict=False):
        if table.is_empty():
            _no_data(ax, "internal reads")
            continue
        cells = table.filter(pl.col("measure") == measure)
        for condition, arm, c_index, a_index in _series(cells):
            rows = cells.filter((pl.col("condition") == condition) & (pl.col("arm") == arm)).sort("turn")
            if rows.is_empty():
                continue
            mean = rows["mean"].to_numpy()
            line = ax.errorbar(
                rows["turn"].to_numpy() + 0.06 * (c_index - 2),
                mean,
                yerr=[mean - rows["low"].to_numpy(), rows["high"].to_numpy() - mean],
                fmt=ARM_STYLES[a_index % len(ARM_STYLES)],
                marker="o",
                ms=3,
                lw=1.2,
                capsize=2,
                color=style.PALETTE[c_index % len(style.PALETTE)],
            )
            handles.setdefault(_series_label(condition, arm, rows["n"].to_list()), line)
        ax.set_title(measure.removeprefix("internal_"))
        ax.set_xlabel("assistant turn")
        ax.set_ylabel("projection (residual units)")
        ax.set_xticks(sorted(cells["turn"].unique().to_list()))
    for ax in axes.flat[len(measures) :]:
        ax.set_axis_off()
    if handles:
        fig.legend(
            list(handles.values()), list(handles), fontsize=8, frameon=False, loc="outside right upper"
        )
    confidence = round(100 * calibration.get("confidence", 0.95))
    fig.suptitle(f"internal emotion projection of each answer, by turn (mean, {confidence}% CI)")
    style.save(fig, out)


def plot_internal_vs_expressed(
    summary_dir: Path | str, calibration_path: Path | str, out: Path | str
) -> None:
    """Internal (projection) and expressed (judge score) by turn on one scale (z-scores over all
    answers), per condition, and their difference with CIs."""
    import matplotlib.pyplot as plt

    style.setup()
    summary_dir = Path(summary_dir)
    table, primary = _read_internal(summary_dir, "divergence")
    calibration = read_calibration(calibration_path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.2), sharex=True)
    if table.is_empty():
        _no_data(left, "internal reads")
        right.set_axis_off()
    else:
        emotion = primary.removeprefix("internal_")
        for condition, arm, c_index, a_index in _series(table):
            rows = table.filter((pl.col("condition") == condition) & (pl.col("arm") == arm)).sort("turn")
            if rows.is_empty():
                continue
            colour = style.PALETTE[c_index % len(style.PALETTE)]
            turns = rows["turn"].to_numpy()
            label = _series_label(condition, arm, rows["n"].to_list())
            left.plot(turns, rows["z_internal"].to_numpy(), "-", color=colour, marker="o", ms=3, label=label)
            left.plot(turns, rows["z_expressed"].to_numpy(), ":", color=colour, marker="s", ms=3)
            gap = rows["z_divergence"].to_numpy()
            right.errorbar(
                turns + 0.06 * (c_index - 2),
                gap,
                yerr=[gap - rows["z_divergence_low"].to_numpy(), rows["z_divergence_high"].to_numpy() - gap],
                fmt=ARM_STYLES[a_index % len(ARM_STYLES)],
                marker="o",
                ms=3,
                capsize=2,
                color=colour,
                label=label,
            )
        left.plot([], [], "-", color="#555555", marker="o", ms=3, label=f"internal ({emotion} projection)")
        left.plot([], [], ":", color="#555555", marker="s", ms=3, label="expressed (judge score)")
        right.axhline(0, color="#999999", lw=0.8)
        left.set_ylabel("z-score over all answers (SD units)")
        right.set_ylabel("internal minus expressed (SD units)")
        left.set_title(f"internal {emotion} (solid) and expressed (dotted)")
        right.set_title("divergence, mean with CI")
        for ax in (left, right):
            ax.set_xlabel("assistant turn")
            ax.set_xticks(sorted(table["turn"].unique().to_list()))
        right.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        left.legend(
            left.get_legend_handles_labels()[0][-2:],
            left.get_legend_handles_labels()[1][-2:],
            fontsize=8,
            frameon=False,
            loc="best",
        )
    fig.suptitle("internal against expressed frustration, by turn")
    _footer(fig, calibration)
    style.save(fig, out)


def plot_internal_scatter(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """Every answer's judge score (jittered) against its projection onto the primary direction, coloured
    by condition, with Spearman's rho, its cluster-bootstrap CI and n in the title."""
    import matplotlib.pyplot as plt

    style.setup()
    summary_dir = Path(summary_dir)
    answers, primary = _read_internal(summary_dir, "internal_answers")
    correlation, _ = _read_internal(summary_dir, "internal_expressed")
    calibration = read_calibration(calibration_path)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    if answers.is_empty():
        _no_data(ax, "internal reads")
    else:
        emotion = primary.removeprefix("internal_")
        ok = answers.filter(pl.col("frustration_score").is_not_null() & pl.col(primary).is_not_nan())
        rng = np.random.default_rng(0)  # jitter only separates equal scores; fixed so the PNG is stable
        groups = ok.select("condition", "arm").unique(maintain_order=True).iter_rows()
        for index, (condition, arm) in enumerate(groups):
            rows = ok.filter((pl.col("condition") == condition) & (pl.col("arm") == arm))
            where = condition if arm == "baseline" else f"{condition}, {arm}"
            ax.scatter(
                rows[primary].to_numpy(),
                rows["frustration_score"].to_numpy() + rng.uniform(-0.25, 0.25, rows.height),
                s=10,
                alpha=0.6,
                color=style.PALETTE[index % len(style.PALETTE)],
                marker="os^vD<>"[index // len(style.PALETTE) % 7],
                label=f"{where} (n={rows.height})",
            )
        overall = correlation.filter((pl.col("arm") == "all") & (pl.col("measure") == primary)).row(
            0, named=True
        )
        confidence = round(100 * calibration.get("confidence", 0.95))
        ax.set_title(
            f"expressed against internal {emotion}: Spearman rho = {overall['rho']:.2f} "
            f"[{overall['low']:.2f}, {overall['high']:.2f}] ({confidence}% CI), n = {overall['n']} answers "
            f"in {overall['n_dialogues']} dialogues",
            fontsize=9,
        )
        ax.set_xlabel(f"internal {emotion} projection, mean over the answer's tokens (residual units)")
        ax.set_ylabel("judge frustration score (0-10, jittered)")
        ax.set_ylim(-0.7, 10.7)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _footer(fig, calibration)
    style.save(fig, out)


def plot_calm_arm(summary_dir: Path | str, calibration_path: Path | str, out: Path | str) -> None:
    """Each steered arm minus the baseline on the same dialogues (paired, all turns): the judge's score
    and the primary projection, with bootstrap CIs and the number of pairs."""
    import matplotlib.pyplot as plt

    style.setup()
    summary_dir = Path(summary_dir)
    path = summary_dir / "arm_effects.csv"
    effects = pl.read_csv(path) if path.stat().st_size > 1 else pl.DataFrame()
    _, primary = _read_internal(summary_dir, "internal_by_turn")
    calibration = read_calibration(calibration_path)
    measures = [m for m in ("frustration_score", primary) if m]
    fig, axes = plt.subplots(1, len(measures), figsize=(5.2 * len(measures), 4), squeeze=False)
    if effects.is_empty():
        _no_data(axes[0, 0], "steered arms")
    for ax, measure in zip(axes[0], measures, strict=True):
        rows = effects.filter(pl.col("measure") == measure) if not effects.is_empty() else effects
        if rows.is_empty():
            ax.set_axis_off()
            continue
        labels = [
            f"{a}\n{c}\n(n={n} pairs)" for a, c, n in rows.select("arm", "condition", "n_pairs").iter_rows()
        ]
        diff = rows["diff"].to_numpy()
        ax.bar(
            range(rows.height),
            diff,
            yerr=[diff - rows["low"].to_numpy(), rows["high"].to_numpy() - diff],
            capsize=4,
            color=[style.PALETTE[0] if not a.startswith("random") else "#999999" for a in rows["arm"]],
        )
        ax.axhline(0, color="#555555", lw=0.8)
        ax.set_xticks(range(rows.height), labels, fontsize=8)
        if measure == "frustration_score":
            ax.set_ylabel("judge score difference (0-10 scale)")
            ax.set_title("expressed frustration")
        else:
            ax.set_ylabel("projection difference (residual units)")
            ax.set_title(f"internal {measure.removeprefix('internal_')}")
    confidence = round(100 * calibration.get("confidence", 0.95))
    fig.suptitle(f"steered arm minus baseline, same dialogues and seeds (mean over turns, {confidence}% CI)")
    _footer(fig, calibration)
    style.save(fig, out)


FIGURES: dict[str, Callable[[Path | str, Path | str, Path | str], None]] = {
    "score_by_turn": plot_score_by_turn,
    "high_rate_by_turn": plot_high_rate_by_turn,
    "calibration": plot_calibration,
    "prefill": plot_prefill,
    "internal_by_turn": plot_internal_by_turn,
    "internal_vs_expressed": plot_internal_vs_expressed,
    "internal_scatter": plot_internal_scatter,
    "calm_arm": plot_calm_arm,
}
