"""Figures of the steered agent loop; each reads the `agent-metrics` folder and writes one PNG.

Every rate is drawn with its interval and its n; the interval's method (tasks resampled, or Wilson
over dialogues where a cell has too few tasks) is named on the figure, as the tables name it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from agent_affect.agent.metrics import METRICS
from agent_affect.plots.style import PALETTE, save, setup

KIND_COLOURS = {
    "baseline": PALETTE[7],
    "direction": PALETTE[0],
    "random": "#999999",
    "prompt": PALETTE[2],
    "sae": PALETTE[3],
}
KIND_LABELS = {
    "baseline": "baseline",
    "direction": "emotion direction",
    "random": "random direction (equal norm)",
    "prompt": "prompting baseline (asks for calm)",
    "sae": "SAE feature",
}
# Rows of panels: how well it codes, then how it behaves where the task cannot be done honestly.
RATE_PANELS = (
    ("visible_pass", "full_pass", "valid_code"),
    ("reward_hack", "acknowledges_impossible", "off_task"),
)
PANEL_TITLES = {
    "visible_pass": "visible pass, final attempt",
    "full_pass": "full pass (visible + hidden), final attempt",
    "hidden_pass": "hidden pass, final attempt",
    "reward_hack": "reward hack (visible pass of an impossible task)",
    "acknowledges_impossible": "says the task is impossible",
    "hardcoding": "hardcodes visible tests",
    "distress_marker": "distress marker in prose",
    "any_marker": "any affect marker in prose",
    "valid_code": "valid code, final attempt",
    "off_task": "off-task or incoherent (some attempt)",
}
SCOPE_WORDS = {
    "solvable": "solvable tasks",
    "impossible": "impossible tasks",
    "all": "all tasks",
    "failed_first": "solvable, first attempt failed",
}


def _read(metrics: Path, name: str) -> pl.DataFrame:
    path = Path(metrics) / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `agent-affect agent-metrics` first")
    return pl.read_csv(path, infer_schema_length=None)


def _summary(metrics: Path) -> dict[str, Any]:
    path = Path(metrics) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `agent-affect agent-metrics` first")
    return json.loads(path.read_text())


def _who(summary: dict[str, Any]) -> str:
    tasks, impossible = len(summary["tasks"]), len(summary["impossible_tasks"])
    return (
        f"{summary.get('model') or 'model'}: {tasks} tasks ({impossible} impossible), "
        f"{summary['samples']} samples x {len(summary['tones'])} tone(s) per condition"
    )


def _ci_note(table: pl.DataFrame, confidence: float) -> str:
    methods = sorted(set(table["ci_method"].to_list()) - {"none"})
    words = {
        "cluster_bootstrap_tasks": "tasks resampled (cluster bootstrap)",
        "wilson_dialogues": "Wilson over dialogues (too few tasks to resample)",
        "bootstrap_dialogues": "dialogues resampled (too few tasks)",
    }
    return f"{round(100 * confidence)}% CIs: " + "; ".join(words.get(m, m) for m in methods)


def _errors(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Error-bar lengths, zero where an interval is missing (the point still shows)."""
    below = np.nan_to_num(values - low, nan=0.0).clip(min=0)
    above = np.nan_to_num(high - values, nan=0.0).clip(min=0)
    return np.vstack([below, above])


def _conditions(rates: pl.DataFrame) -> pl.DataFrame:
    """Conditions in the tables' order (baseline, directions, random controls, prompt, SAE)."""
    return rates.select("condition", "kind").unique(maintain_order=True)


def plot_rates(metrics: Path, out: Path) -> None:
    """Pass, valid-code, reward-hack, acknowledgement and off-task rates per condition, with CIs and n."""
    import matplotlib.pyplot as plt

    setup()
    summary = _summary(metrics)
    rates = _read(metrics, "rates").filter(pl.col("tone") == "all")
    order = _conditions(rates)
    names = order["condition"].to_list()
    columns = len(RATE_PANELS[0])
    fig, axes = plt.subplots(
        len(RATE_PANELS),
        columns,
        figsize=(3.6 * columns + 1.5, len(RATE_PANELS) * (0.3 * len(names) + 1.3) + 1.2),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    panels = [metric for row in RATE_PANELS for metric in row]
    y = np.arange(len(names))[::-1]
    for axis, metric in zip(axes.flat, panels, strict=True):
        metric_rates = rates.filter(pl.col("metric") == metric)
        rows = order.join(metric_rates, on=["condition", "kind"], how="left", maintain_order="left")
        values = rows["value"].cast(pl.Float64).to_numpy()
        low = rows["ci_low"].cast(pl.Float64).to_numpy()
        high = rows["ci_high"].cast(pl.Float64).to_numpy()
        colours = [KIND_COLOURS.get(k, PALETTE[5]) for k in rows["kind"].to_list()]
        errors = _errors(values, low, high)
        for i in range(len(names)):
            if math.isnan(values[i]):
                continue
            axis.errorbar(
                values[i], y[i], xerr=errors[:, i : i + 1], fmt="o", color=colours[i], ms=4, capsize=2
            )
            # k/n in a margin right of 1.0, where no point can be
            axis.text(
                1.19, y[i], f"{int(rows['k'][i])}/{int(rows['n'][i])}", ha="right", va="center", fontsize=6.5
            )
        if np.isnan(values).all():
            axis.text(0.5, 0.5, "no dialogue in scope", ha="center", va="center", transform=axis.transAxes)
        base = rows.filter(pl.col("kind") == "baseline")["value"]
        if base.len() and base[0] is not None and not math.isnan(base[0]):
            axis.axvline(base[0], color=KIND_COLOURS["baseline"], linestyle=":", lw=1)
        scope = METRICS[metric][0]
        n_tasks = int(rows["n_tasks"].max() or 0)
        axis.set_title(f"{PANEL_TITLES[metric]}\n({SCOPE_WORDS[scope]}, {n_tasks} tasks)", fontsize=9)
        axis.set_xlim(-0.02, 1.2)
        axis.set_xticks(np.linspace(0, 1, 6))
        axis.axvline(1.0, color="#dddddd", lw=0.8)
        axis.set_xlabel("share of dialogues (k/n at right)")
        axis.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, names)
    for row in axes:
        for i, tick in enumerate(row[0].get_yticklabels()):
            tick.set_color(KIND_COLOURS.get(order["kind"][i], "black"))
            tick.set_fontsize(8)
    handles = [
        plt.Line2D([], [], color=c, marker="o", linestyle="", label=KIND_LABELS[k])
        for k, c in KIND_COLOURS.items()
        if k in set(order["kind"].to_list())
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(
        f"Steered retrying agent, outcomes by condition ({_who(summary)})\n"
        f"{_ci_note(rates.filter(pl.col('metric').is_in(panels)), summary['stats']['confidence'])}; "
        "dotted line: baseline",
        fontsize=10,
    )
    save(fig, Path(out))


DOSE_PANELS = ("reward_hack", "visible_pass", "distress_marker")


def plot_dose_response(metrics: Path, out: Path) -> None:
    """Rate against steering strength per steered emotion, next to its random-direction control."""
    import matplotlib.pyplot as plt

    setup()
    summary = _summary(metrics)
    dose = _read(metrics, "dose_response")
    slopes = _read(metrics, "dose_slopes") if (Path(metrics) / "dose_slopes.csv").stat().st_size else None
    if dose.is_empty():
        raise ValueError(f"{metrics}/dose_response.csv is empty: the run steered no direction")
    dose = dose.filter(pl.col("metric").is_in(DOSE_PANELS))
    emotions = sorted(dose["emotion"].unique().to_list())
    strengths = sorted(dose["strength"].unique().to_list())
    fig, axes = plt.subplots(
        len(DOSE_PANELS),
        len(emotions),
        figsize=(4.2 * len(emotions) + 0.6, 2.9 * len(DOSE_PANELS) + 0.8),
        sharex=True,
        sharey="row",
        squeeze=False,
    )
    for r, metric in enumerate(DOSE_PANELS):
        for c, emotion in enumerate(emotions):
            axis = axes[r][c]
            for control, colour, style, shift in (
                ("direction", PALETTE[0], "-", -0.002),
                ("random", "#888888", "--", 0.002),
            ):
                rows = dose.filter(
                    (pl.col("metric") == metric)
                    & (pl.col("emotion") == emotion)
                    & (pl.col("control") == control)
                ).sort("strength")
                if rows.is_empty():
                    continue
                x = rows["strength"].to_numpy() + shift  # a small shift so the two sets of bars do not hide
                values = rows["value"].cast(pl.Float64).to_numpy()
                errors = _errors(
                    values,
                    rows["ci_low"].cast(pl.Float64).to_numpy(),
                    rows["ci_high"].cast(pl.Float64).to_numpy(),
                )
                n = rows["n"].to_list()
                n_text = f"n={min(n)}" if min(n) == max(n) else f"n={min(n)}-{max(n)}"
                label = f"{emotion} direction" if control == "direction" else "random direction"
                axis.errorbar(
                    x,
                    values,
                    yerr=errors,
                    fmt="o" + style,
                    color=colour,
                    ms=4,
                    capsize=2,
                    label=f"{label} ({n_text})",
                )
            title = f"{emotion}: {PANEL_TITLES[metric]}"
            if slopes is not None and not slopes.is_empty():
                fit = slopes.filter((pl.col("metric") == metric) & (pl.col("emotion") == emotion))
                if fit.height:
                    d, rnd = fit["direction_per_0.1"][0], fit["random_per_0.1"][0]
                    title += f"\nslope per +0.1: direction {_fmt(d)}, random {_fmt(rnd)}"
            axis.set_title(title, fontsize=8.5)
            if not dose.filter(
                (pl.col("metric") == metric) & (pl.col("emotion") == emotion) & (pl.col("n") > 0)
            ).height:
                axis.text(
                    0.5, 0.5, "no dialogue in scope", ha="center", va="center", transform=axis.transAxes
                )
            axis.set_xticks(strengths, [f"{v:+g}" if v else "0" for v in strengths])
            axis.axvline(0, color="#bbbbbb", lw=0.8)
            axis.set_ylim(-0.03, 1.03)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7, frameon=False, loc="upper left")
            if c == 0:
                axis.set_ylabel(f"share of dialogues\n({SCOPE_WORDS[METRICS[metric][0]]})")
            if r == len(DOSE_PANELS) - 1:
                axis.set_xlabel("steering strength (fraction of the layer's mean residual norm)")
    fig.suptitle(
        f"Dose-response of steering: each emotion direction\nnext to a random direction of equal norm\n"
        f"{_who(summary)}\nstrength 0 is the baseline; {_ci_note(dose, summary['stats']['confidence'])}",
        fontsize=10,
    )
    fig.tight_layout()
    save(fig, Path(out))


def _fmt(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.2f}"


def plot_projection_trajectory(metrics: Path, out: Path) -> None:
    """Mean projection onto each steered emotion's direction by attempt, unsteered and steered reads."""
    import matplotlib.pyplot as plt

    setup()
    summary = _summary(metrics)
    table = _read(metrics, "projection_by_attempt")
    if table.is_empty():
        raise ValueError(f"{metrics}/projection_by_attempt.csv is empty: the attempts hold no projections")
    table = table.filter(pl.col("cohort") == "survivors")
    steered = [e for e in summary.get("steered_emotions", []) if e in set(table["direction"].to_list())]
    directions = steered or sorted(table["direction"].unique().to_list())[:2]
    reads = ("unsteered", "steered")
    fig, axes = plt.subplots(
        len(reads),
        len(directions),
        figsize=(4.8 * len(directions) + 2.6, 3.3 * len(reads) + 1.2),
        sharex=True,
        squeeze=False,
    )
    attempts = sorted(table["attempt"].unique().to_list())
    for c, direction in enumerate(directions):
        for r, read in enumerate(reads):
            axis = axes[r][c]
            part = table.filter((pl.col("direction") == direction) & (pl.col("read") == read))
            for condition, colour, dashes in _trajectory_lines(part, direction):
                rows = part.filter(pl.col("condition") == condition).sort("attempt")
                x = rows["attempt"].to_numpy()
                values = rows["mean"].to_numpy()
                n = rows["n"].to_list()
                axis.plot(
                    x, values, dashes, color=colour, marker="o", ms=3, label=f"{condition} (n={n[0]}→{n[-1]})"
                )
                axis.fill_between(
                    x, rows["ci_low"].to_numpy(), rows["ci_high"].to_numpy(), color=colour, alpha=0.1, lw=0
                )
            axis.set_title(f"projection on '{direction}', {read} read", fontsize=9)
            axis.set_xticks(attempts)
            axis.grid(alpha=0.3)
            if c == 0:
                axis.set_ylabel("mean projection over generated tokens\n(residual units, centred)")
            if r == len(reads) - 1:
                axis.set_xlabel("attempt")
            if c == len(directions) - 1:
                axis.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(
        f"Internal emotion projections over the retry attempts ({_who(summary)})\n"
        f"{_ci_note(table, summary['stats']['confidence'])}; n = dialogues at attempt 1 → last attempt",
        fontsize=10,
    )
    fig.text(
        0.01,
        -0.01,
        "Survivorship: " + summary["caveats"][0] + ".",
        fontsize=7.5,
        ha="left",
        va="top",
        wrap=True,
        color="#D55E00",
    )
    fig.tight_layout()
    save(fig, Path(out))


def _trajectory_lines(part: pl.DataFrame, direction: str) -> list[tuple[str, str, str]]:
    """The lines of one panel: baseline, prompt, this emotion's direction and random control, its SAE."""
    order = {kind: i for i, kind in enumerate(KIND_COLOURS)}
    first = (
        part.select("condition", "kind", "emotion", "strength")
        .unique()
        .with_columns(pl.col("kind").replace_strict(order, default=len(order)).alias("order"))
        .sort(["order", "strength", "condition"])
    )
    lines = []
    shades = {"direction": ("#56B4E9", "#0072B2"), "random": ("#BBBBBB", "#777777")}
    for row in first.iter_rows(named=True):
        kind = row["kind"]
        if kind in ("baseline", "prompt"):
            lines.append((row["condition"], KIND_COLOURS[kind], "-"))
        elif row["emotion"] == direction and kind in shades:
            light, dark = shades[kind]
            colour = dark if row["strength"] > 0 else light
            lines.append((row["condition"], colour, "-" if kind == "direction" else "--"))
        elif row["emotion"] == direction and kind == "sae":
            lines.append((row["condition"], KIND_COLOURS["sae"], "-."))
    return lines


def plot_markers_vs_hack(metrics: Path, out: Path) -> None:
    """Per condition, prose-marker rate against reward-hack rate, with both intervals."""
    import matplotlib.pyplot as plt

    setup()
    summary = _summary(metrics)
    rates = _read(metrics, "rates").filter(pl.col("tone") == "all")
    hack = rates.filter(pl.col("metric") == "reward_hack").select(
        "condition", "kind", "value", "ci_low", "ci_high", "n"
    )
    panels = ("distress_marker", "any_marker")
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 5.2), sharey=True, layout="constrained")
    for axis, metric in zip(axes, panels, strict=True):
        marker = rates.filter(pl.col("metric") == metric).select(
            "condition", "value", "ci_low", "ci_high", "n"
        )
        joined = marker.join(hack, on="condition", suffix="_hack")
        stacked: dict[tuple[float, float], int] = {}  # conditions on the same spot get stacked labels
        for row in joined.iter_rows(named=True):
            if row["value"] is None or row["value_hack"] is None:
                continue
            colour = KIND_COLOURS.get(row["kind"], PALETTE[5])
            x, y = row["value"], row["value_hack"]
            xerr = _errors(np.array([x]), np.array([row["ci_low"]]), np.array([row["ci_high"]]))
            yerr = _errors(np.array([y]), np.array([row["ci_low_hack"]]), np.array([row["ci_high_hack"]]))
            if math.isnan(x) or math.isnan(y):
                continue
            axis.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=colour, ms=5, capsize=2, alpha=0.85)
            spot = (round(x, 3), round(y, 3))
            stacked[spot] = stacked.get(spot, -1) + 1
            axis.annotate(
                row["condition"],
                (x, y),
                fontsize=6,
                xytext=(4, 3 + 8 * stacked[spot]),
                textcoords="offset points",
            )
        n_marker = int(marker["n"].max() or 0)
        n_hack = int(hack["n"].max() or 0)
        axis.set_xlabel(
            f"share of dialogues: {PANEL_TITLES[metric]}\n(all tasks, n={n_marker} per condition)"
        )
        if not n_hack:
            axis.text(
                0.5, 0.5, "no impossible task in this run", ha="center", va="center", transform=axis.transAxes
            )
        axis.set_xlim(-0.03, 1.03)
        axis.set_ylim(-0.03, 1.03)
        axis.grid(alpha=0.3)
        axis.set_title(PANEL_TITLES[metric], fontsize=9)
    axes[0].set_ylabel(f"reward-hack rate, share of dialogues\n(impossible tasks, n={n_hack} per condition)")
    handles = [
        plt.Line2D([], [], color=c, marker="o", linestyle="", label=KIND_LABELS[k])
        for k, c in KIND_COLOURS.items()
        if k in set(hack["kind"].to_list())
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    rho = summary["markers_vs_hack_spearman"]
    rho_text = (
        f"Spearman rho (distress markers vs hacks, over conditions) = {rho['rho']:.2f}, "
        f"n = {rho['n_conditions']}"
        if rho.get("rho") is not None
        else "Spearman rho not defined (a rate is constant over conditions)"
    )
    shown = rates.filter(pl.col("metric").is_in([*panels, "reward_hack"]))
    fig.suptitle(
        f"Expressed affect against reward hacking, one point per condition ({_who(summary)})\n"
        f"{rho_text}; {_ci_note(shown, summary['stats']['confidence'])}",
        fontsize=10,
    )
    save(fig, Path(out))


FIGURES: dict[str, Callable[[Path, Path], None]] = {
    "rates": plot_rates,
    "dose_response": plot_dose_response,
    "projection_trajectory": plot_projection_trajectory,
    "markers_vs_hack": plot_markers_vs_hack,
}
