"""Figures of the directions stage; each reads results/directions/<model>/ and writes one PNG."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from agent_affect.directions.store import DirectionSet
from agent_affect.plots.style import PALETTE, save, setup

METHOD_ORDER = ("mean_diff", "anthropic", "probe", "sae")
METHOD_TITLES = {
    "mean_diff": "mean difference (published)",
    "anthropic": "Anthropic (centred, neutral PCs out)",
    "probe": "linear probe",
    "sae": "SAE features (top feature per emotion)",
}


def _sets(results: Path) -> list[DirectionSet]:
    paths = [results / f"{m}.safetensors" for m in METHOD_ORDER[:3]] + [results / "sae" / "sae.safetensors"]
    sets = [DirectionSet.load(p) for p in paths if p.is_file()]
    if not sets:
        raise FileNotFoundError(f"no directions in {results}: run extract-directions first")
    return sets


def _model_name(sets: list[DirectionSet]) -> str:
    return str(sets[0].model.get("name") or sets[0].model.get("path") or "model")


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the directions stage first")
    return pl.read_csv(path, infer_schema_length=None)


def plot_cosines(results: Path, out: Path) -> None:
    import matplotlib.pyplot as plt

    setup()
    sets = _sets(Path(results))
    fig, axes = plt.subplots(1, len(sets), figsize=(5.4 * len(sets), 4.8), squeeze=False)
    fig.subplots_adjust(wspace=0.45)
    for axis, directions in zip(axes[0], sets, strict=True):
        vectors = directions.vectors[directions.layer()].numpy()
        cosine = vectors @ vectors.T
        off = cosine[~np.eye(len(cosine), dtype=bool)]
        image = axis.imshow(cosine, vmin=-1, vmax=1, cmap="RdBu_r")
        axis.set_xticks(range(len(directions.emotions)), directions.emotions, rotation=60, ha="right")
        axis.set_yticks(range(len(directions.emotions)), directions.emotions)
        for (i, j), value in np.ndenumerate(cosine):
            axis.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if abs(value) > 0.6 else "black",
            )
        axis.set_title(
            f"{METHOD_TITLES.get(directions.method, directions.method)}\nlayer {directions.layer()}: "
            f"off-diagonal mean {off.mean():.2f}, max {off.max():.2f}",
            fontsize=9,
        )
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="cosine similarity")
    fig.suptitle(
        f"Pairwise cosine of the emotion directions ({_model_name(sets)}); "
        "the published set was 0.75-0.94 throughout",
        fontsize=11,
    )
    save(fig, out)


def plot_accuracy_by_layer(results: Path, out: Path) -> None:
    import matplotlib.pyplot as plt

    setup()
    results = Path(results)
    table = _read(results / "layer_accuracy.csv")
    test = _read(results / "validation" / "test_accuracy.csv")
    summary = json.loads((results / "validation" / "summary.json").read_text())
    methods = [m for m in METHOD_ORDER if m in set(table["method"])]
    fig, axes = plt.subplots(1, len(methods), figsize=(4.8 * len(methods), 3.8), sharey=True, squeeze=False)
    bow = test.filter(pl.col("method") == "bag_of_words").row(0, named=True)
    for axis, method in zip(axes[0], methods, strict=True):
        for colour, split in ((PALETTE[0], "val"), (PALETTE[5], "test")):
            rows = table.filter((pl.col("method") == method) & (pl.col("split") == split)).sort("layer")
            axis.plot(
                rows["layer"], rows["accuracy"], color=colour, label=f"{split} topics (n={rows['n'][0]})"
            )
            axis.fill_between(rows["layer"], rows["ci_low"], rows["ci_high"], color=colour, alpha=0.2)
        chosen = summary["methods"][method]["layer"]
        axis.axvline(chosen, color="black", linestyle=":", label=f"chosen on val: layer {chosen}")
        axis.axhline(
            summary["chance"], color="grey", linestyle="--", label=f"chance ({summary['chance']:.2f})"
        )
        axis.axhspan(
            bow["ci_low"],
            bow["ci_high"],
            color=PALETTE[2],
            alpha=0.2,
            label=f"bag of words, test ({bow['rate']:.2f})",
        )
        axis.set_title(METHOD_TITLES[method], fontsize=10)
        axis.set_xlabel("layer (residual stream after the block)")
        axis.set_ylim(0, 1)
    axes[0][0].set_ylabel("nearest-direction accuracy (95% Wilson CI)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "Held-out accuracy of the emotion directions by layer (topics split: the test topics never seen)",
        fontsize=11,
    )
    save(fig, out)


def plot_trajectory(results: Path, out: Path) -> None:
    import matplotlib.pyplot as plt

    setup()
    summary = _read(Path(results) / "trajectory" / "trajectory_summary.csv")
    diffs = summary.filter(pl.col("what") == "failure - control")
    methods = [m for m in METHOD_ORDER if m in set(diffs["method"])]
    emotions = sorted(set(diffs["emotion"]))
    colours = dict(zip(emotions, [plt.get_cmap("tab10")(i) for i in range(10)], strict=False))
    fig, axes = plt.subplots(1, len(methods), figsize=(4.8 * len(methods), 4.2), squeeze=False)
    for axis, method in zip(axes[0], methods, strict=True):
        for offset, emotion in enumerate(emotions):
            rows = diffs.filter((pl.col("method") == method) & (pl.col("emotion") == emotion)).sort("stage")
            x = rows["stage"].to_numpy() + (offset - len(emotions) / 2) * 0.03
            axis.errorbar(
                x,
                rows["mean"],
                yerr=[rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]],
                color=colours[emotion],
                marker="o",
                markersize=3,
                capsize=2,
                linewidth=1,
                label=emotion,
            )
        axis.axhline(0, color="grey", linewidth=0.8)
        n = diffs.filter(pl.col("method") == method)["n"].min()
        axis.set_title(f"{METHOD_TITLES[method]} (n={n} pairs per stage)", fontsize=9)
        axis.set_xticks(
            [1, 2, 3, 4, 5],
            [
                "clear,\nuntested",
                "visible\nfail",
                "same fail\nagain",
                "hidden may\ndiffer",
                "last try,\nno hardcoding",
            ],
            fontsize=7,
        )
        axis.set_xlabel("failure stage")
    axes[0][0].set_ylabel("projection: failure minus matched control\n(residual units, 95% bootstrap CI)")
    axes[0][-1].legend(fontsize=7, ncol=2, loc="best")
    fig.suptitle(
        "Emotion projections along the coding-failure trajectory, read at the assistant's turn", fontsize=11
    )
    save(fig, out)


def plot_sae_selectivity(results: Path, out: Path) -> None:
    import matplotlib.pyplot as plt

    setup()
    results = Path(results)
    features = _read(results / "sae" / "features.csv").filter(pl.col("rank") == 1).sort("emotion")
    metrics = json.loads((results / "sae" / "metrics.json").read_text())
    fig, axis = plt.subplots(figsize=(7, 0.45 * features.height + 1.8))
    y = np.arange(features.height)
    axis.barh(
        y,
        features["d_heldout"],
        xerr=[features["d_heldout"] - features["ci_low"], features["ci_high"] - features["d_heldout"]],
        color=PALETTE[0],
        capsize=3,
        label="vs all other texts (held-out topics)",
    )
    axis.scatter(
        features["d_heldout_vs_neutral"], y, color=PALETTE[5], zorder=3, label="vs neutral controls only"
    )
    axis.set_yticks(
        y,
        [f"{e} (#{f}; n={n})" for e, f, n in features.select("emotion", "feature", "n_emotion").iter_rows()],
    )
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.set_xlabel("Cohen's d of the feature's mean activation (95% bootstrap CI)")
    axis.legend(fontsize=7, loc="lower right")
    axis.set_title(
        f"Most selective SAE feature per emotion (ranked on training topics)\nTopK SAE at layer "
        f"{metrics['layer']}, {metrics['d_sae']} features, k={metrics['k']}: held-out FVU "
        f"{metrics['fvu']:.3f}, L0 {metrics['l0']:.1f}, {metrics['train_tokens']:,} training tokens",
        fontsize=9,
    )
    save(fig, out)


def plot_pca(results: Path, out: Path) -> None:
    import matplotlib.pyplot as plt

    from agent_affect.directions.validate import directions_pca

    setup()
    sets = _sets(Path(results))
    table = directions_pca({d.method: d for d in sets})
    fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets), 4.2), squeeze=False)
    fig.subplots_adjust(wspace=0.35)
    for axis, directions in zip(axes[0], sets, strict=True):
        rows = table.filter(pl.col("method") == directions.method)
        axis.scatter(rows["pc1"], rows["pc2"], color=PALETTE[0])
        for emotion, x, y in rows.select("emotion", "pc1", "pc2").iter_rows():
            axis.annotate(emotion, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.axvline(0, color="grey", linewidth=0.5)
        axis.set_xlabel(f"PC1 ({100 * rows['explained1'][0]:.0f}% of variance)")
        axis.set_ylabel(f"PC2 ({100 * rows['explained2'][0]:.0f}%)")
        axis.set_title(
            f"{METHOD_TITLES.get(directions.method, directions.method)}, layer {directions.layer()}",
            fontsize=9,
        )
    fig.suptitle(
        f"The {len(sets[0].emotions)} emotion directions in their first two principal components "
        f"({_model_name(sets)})",
        fontsize=11,
    )
    save(fig, out)


FIGURES: dict[str, Callable[[Path, Path], None]] = {
    "cosines": plot_cosines,
    "accuracy_by_layer": plot_accuracy_by_layer,
    "trajectory": plot_trajectory,
    "sae_selectivity": plot_sae_selectivity,
    "pca": plot_pca,
}
