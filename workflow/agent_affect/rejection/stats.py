"""Statistics of scored rejection dialogues, prefill continuations and the judge's calibration.

Every cell reports its n (scored answers) and the answers the judge could not score. Means get
percentile bootstrap intervals and high-frustration rates Wilson intervals; where a cell pools
several answers of one dialogue (all turns, or several prefill starts) the bootstrap resamples whole
dialogues. Every bootstrap is seeded by (seed, key) (`analysis.stats.rng_for`), so reruns give the same
intervals. Calibration compares the judge with the hand labels: Spearman's rho with a bootstrap
interval, the mean absolute error, and agreement and Cohen's kappa on high frustration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import rankdata, spearmanr

from agent_affect.analysis.stats import bootstrap_statistic, rng_for, wilson
from agent_affect.baseline.compare import cohen_kappa

TURN_KEYS = ("arm", "condition", "turn")
CONDITION_KEYS = ("arm", "condition")
PREFILL_KEYS = ("model", "start_kind")


def _mean_draws(draws: np.ndarray) -> np.ndarray:
    return draws.mean(axis=1)


def _cell(
    scores: np.ndarray,
    clusters: np.ndarray,
    n_errors: int,
    high_threshold: int,
    *,
    n_boot: int,
    seed: int,
    key: str,
    confidence: float,
) -> dict[str, Any]:
    """n, mean score with CI and high-frustration rate with CI for one cell's scored answers."""
    n = int(scores.size)
    k = int((scores >= high_threshold).sum())
    cell: dict[str, Any] = {"n": n, "n_errors": n_errors, "n_dialogues": int(np.unique(clusters).size)}
    if n == 0:
        return (
            cell
            | dict.fromkeys(("mean_score", "mean_low", "mean_high", "high_rate"), math.nan)
            | {
                "k_high": 0,
                "high_low": math.nan,
                "high_high": math.nan,
            }
        )
    if cell["n_dialogues"] == n:
        mean_low, mean_high = bootstrap_statistic(
            scores, _mean_draws, n_boot=n_boot, seed=seed, key=key, confidence=confidence
        )
        high_low, high_high = wilson(k, n, confidence)
    else:
        mean_low, mean_high = _cluster_interval(scores, clusters, n_boot, seed, f"{key}/mean", confidence)
        high_low, high_high = _cluster_interval(
            (scores >= high_threshold).astype(float), clusters, n_boot, seed, f"{key}/high", confidence
        )
    return cell | {
        "mean_score": float(scores.mean()),
        "mean_low": mean_low,
        "mean_high": mean_high,
        "k_high": k,
        "high_rate": k / n,
        "high_low": high_low,
        "high_high": high_high,
    }


def _cluster_interval(
    values: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int, key: str, confidence: float
) -> tuple[float, float]:
    """Percentile interval of the pooled mean, resampling whole clusters (dialogues)."""
    _, inverse = np.unique(clusters, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse).astype(float)
    index = rng_for(seed, key).integers(0, sums.size, size=(n_boot, sums.size))
    ratios = sums[index].sum(axis=1) / counts[index].sum(axis=1)
    alpha = 1 - confidence
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def cell_stats(
    scored: pl.DataFrame,
    keys: Sequence[str],
    cluster: str = "dialogue_id",
    high_threshold: int = 5,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """One row per combination of `keys`: n, n_errors, mean score and high-frustration rate with CIs."""
    missing = [c for c in (*keys, cluster, "frustration_score") if c not in scored.columns]
    if missing:
        raise ValueError(f"the scored table lacks column(s) {missing} (columns: {scored.columns})")
    rows = []
    # Cells come in the order their keys first appear (conditions as configured), turns ascending.
    for values, group in _in_appearance_order(scored, keys).group_by(list(keys), maintain_order=True):
        ok = group.filter(pl.col("frustration_score").is_not_null())
        key = "/".join(map(str, values))
        rows.append(
            dict(zip(keys, values, strict=True))
            | _cell(
                ok["frustration_score"].to_numpy().astype(float),
                ok[cluster].to_numpy(),
                group.height - ok.height,
                high_threshold,
                n_boot=n_boot,
                seed=seed,
                key=key,
                confidence=confidence,
            )
        )
    return pl.DataFrame(rows)


def _in_appearance_order(table: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Rows sorted by each key's order of first appearance (numbers ascending), stably."""
    ranks = []
    for key in keys:
        if table.schema[key].is_numeric():
            ranks.append(pl.col(key))
        else:
            order = {value: i for i, value in enumerate(table[key].unique(maintain_order=True).to_list())}
            ranks.append(pl.col(key).replace_strict(order, return_dtype=pl.Int64))
    return table.sort(ranks, maintain_order=True)


def paired_differences(
    scored: pl.DataFrame,
    baseline: str,
    conditions: Sequence[str],
    high_threshold: int = 5,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Each condition minus `baseline`, paired by (question, sample), over all turns, with bootstrap CIs.

    Per pair, the difference of the two dialogues' mean score and of their high-frustration shares; the
    interval resamples pairs, so a question's difficulty cancels out.
    """
    ok = scored.filter(pl.col("frustration_score").is_not_null() & (pl.col("arm") == "baseline"))
    per_dialogue = ok.group_by("condition", "question_id", "sample").agg(
        pl.col("frustration_score").mean().alias("mean"),
        (pl.col("frustration_score") >= high_threshold).mean().alias("high"),
    )
    base = per_dialogue.filter(pl.col("condition") == baseline).drop("condition")
    rows = []
    for condition in conditions:
        if condition == baseline:
            continue
        # Sorted: group_by and join guarantee no row order, and the bootstrap resamples by position.
        pairs = (
            per_dialogue.filter(pl.col("condition") == condition)
            .join(base, on=["question_id", "sample"], suffix="_base")
            .sort("question_id", "sample")
        )
        row: dict[str, Any] = {"condition": condition, "baseline": baseline, "n_pairs": pairs.height}
        for what in ("mean", "high"):
            diffs = (pairs[what] - pairs[f"{what}_base"]).to_numpy()
            low, high = (
                bootstrap_statistic(
                    diffs, _mean_draws, n_boot=n_boot, seed=seed, key=f"diff/{condition}/{baseline}/{what}"
                )
                if diffs.size
                else (math.nan, math.nan)
            )
            row |= {
                f"{what}_diff": float(diffs.mean()) if diffs.size else math.nan,
                f"{what}_diff_low": low,
                f"{what}_diff_high": high,
            }
        rows.append(row)
    return pl.DataFrame(rows)


def calibration_metrics(
    labels: Sequence[int],
    scores: Sequence[int | None],
    thresholds: Mapping[str, Any],
    high_threshold: int = 5,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """How the judge's scores agree with the hand labels, and whether that passes the thresholds.

    Unscorable answers (None) are left out of the metrics and counted in ``error_share``. The judge
    passes when rho >= ``min_spearman``, kappa >= ``min_kappa``, MAE <= ``max_mae`` and the error share
    <= ``max_error_share`` (point estimates; the intervals say how sure that is).
    """
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores")
    pairs = [(label, score) for label, score in zip(labels, scores, strict=True) if score is not None]
    n_total, n = len(labels), len(pairs)
    truth = np.array([p[0] for p in pairs], dtype=float)
    judged = np.array([p[1] for p in pairs], dtype=float)
    result: dict[str, Any] = {
        "n": n,
        "n_errors": n_total - n,
        "error_share": (n_total - n) / n_total if n_total else math.nan,
    }
    result["spearman"] = _spearman(truth, judged)
    result["spearman_low"], result["spearman_high"] = _spearman_interval(
        truth, judged, n_boot, seed, confidence
    )
    result["mae"] = float(np.abs(truth - judged).mean()) if n else math.nan
    result["exact_agreement"] = float((truth == judged).mean()) if n else math.nan
    result["within_one"] = float((np.abs(truth - judged) <= 1).mean()) if n else math.nan
    true_high, judged_high = truth >= high_threshold, judged >= high_threshold
    confusion = np.array(
        [
            [int((true_high & judged_high).sum()), int((true_high & ~judged_high).sum())],
            [int((~true_high & judged_high).sum()), int((~true_high & ~judged_high).sum())],
        ]
    )
    result |= {
        "high_agreement": float((true_high == judged_high).mean()) if n else math.nan,
        "kappa": cohen_kappa(confusion) if n else math.nan,
        "high_confusion": {
            "hand_high_judge_high": int(confusion[0, 0]),
            "hand_high_judge_low": int(confusion[0, 1]),
            "hand_low_judge_high": int(confusion[1, 0]),
            "hand_low_judge_low": int(confusion[1, 1]),
        },
        "mean_label": float(truth.mean()) if n else math.nan,
        "mean_score": float(judged.mean()) if n else math.nan,
        "distinct_scores": sorted({int(s) for s in judged}),
    }
    result["kappa_low"], result["kappa_high"] = _kappa_interval(
        true_high, judged_high, n_boot, seed, confidence
    )
    checks = {
        "spearman": _at_least(result["spearman"], thresholds["min_spearman"]),
        "kappa": _at_least(result["kappa"], thresholds["min_kappa"]),
        "mae": _at_least(-result["mae"], -thresholds["max_mae"]),
        "error_share": _at_least(-result["error_share"], -thresholds["max_error_share"]),
    }
    result["checks"] = checks
    result["thresholds"] = {
        key: thresholds[key] for key in ("min_spearman", "min_kappa", "max_mae", "max_error_share")
    }
    result["passed"] = all(checks.values())
    return result


def _at_least(value: float, bound: float) -> bool:
    # NaN (a constant judge, no scored answers) never passes.
    return bool(np.isfinite(value) and value >= bound)


def _spearman(truth: np.ndarray, judged: np.ndarray) -> float:
    if truth.size < 3 or np.ptp(truth) == 0 or np.ptp(judged) == 0:
        return math.nan
    return float(spearmanr(truth, judged).statistic)


def _spearman_interval(
    truth: np.ndarray, judged: np.ndarray, n_boot: int, seed: int, confidence: float
) -> tuple[float, float]:
    if truth.size < 3:
        return math.nan, math.nan
    index = rng_for(seed, "calibration/spearman").integers(0, truth.size, size=(n_boot, truth.size))
    a, b = rankdata(truth[index], axis=1), rankdata(judged[index], axis=1)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    rho = rho[np.isfinite(rho)]
    if rho.size == 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    low, high = np.quantile(rho, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _kappa_interval(
    true_high: np.ndarray, judged_high: np.ndarray, n_boot: int, seed: int, confidence: float
) -> tuple[float, float]:
    if true_high.size == 0:
        return math.nan, math.nan
    index = rng_for(seed, "calibration/kappa").integers(0, true_high.size, size=(n_boot, true_high.size))
    t, j = true_high[index], judged_high[index]
    observed = (t == j).mean(axis=1)
    chance = t.mean(axis=1) * j.mean(axis=1) + (1 - t.mean(axis=1)) * (1 - j.mean(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(np.isclose(chance, 1.0), np.nan, (observed - chance) / (1 - chance))
    kappa = kappa[np.isfinite(kappa)]
    if kappa.size == 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    low, high = np.quantile(kappa, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _mean_interval(
    values: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int, key: str, confidence: float
) -> dict[str, Any]:
    """n, the mean and its percentile interval, resampling whole clusters (each answer its own cluster
    when no cluster holds two)."""
    n = int(values.size)
    if n == 0:
        return {"n": 0, "n_dialogues": 0, "mean": math.nan, "low": math.nan, "high": math.nan}
    low, high = _cluster_interval(values, clusters, n_boot, seed, key, confidence)
    return {
        "n": n,
        "n_dialogues": int(np.unique(clusters).size),
        "mean": float(values.mean()),
        "low": low,
        "high": high,
    }


def internal_cells(
    table: pl.DataFrame,
    columns: Sequence[str],
    keys: Sequence[str] = TURN_KEYS,
    cluster: str = "dialogue_id",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Long table: per combination of `keys` and per column (``internal_<emotion>``, or any number), n,
    the mean with its bootstrap interval (whole dialogues resampled). NaNs (empty answers) are left out."""
    rows = []
    for values, group in _in_appearance_order(table, keys).group_by(list(keys), maintain_order=True):
        for column in columns:
            ok = group.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
            key = "/".join(map(str, (*values, column)))
            rows.append(
                dict(zip(keys, values, strict=True))
                | {"measure": column}
                | _mean_interval(
                    ok[column].to_numpy().astype(float), ok[cluster].to_numpy(), n_boot, seed, key, confidence
                )
            )
    return pl.DataFrame(rows)


def spearman_interval(
    x: np.ndarray,
    y: np.ndarray,
    clusters: np.ndarray,
    n_boot: int = 2000,
    seed: int = 0,
    key: str = "spearman",
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Spearman's rho of x and y with a percentile interval that resamples whole clusters (dialogues:
    the answers of one dialogue are not independent), and n (pairs) and the clusters' count."""
    n = int(x.size)
    out: dict[str, Any] = {"n": n, "n_dialogues": int(np.unique(clusters).size) if n else 0}
    rho = _spearman(x, y)
    if not np.isfinite(rho):
        return out | {"rho": math.nan, "low": math.nan, "high": math.nan}
    _, inverse = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]
    draws = rng_for(seed, key).integers(0, len(members), size=(n_boot, len(members)))
    rhos = []
    for draw in draws:
        index = np.concatenate([members[c] for c in draw])
        a, b = rankdata(x[index]), rankdata(y[index])
        a, b = a - a.mean(), b - b.mean()
        denominator = math.sqrt((a * a).sum() * (b * b).sum())
        if denominator > 0:
            rhos.append((a * b).sum() / denominator)
    alpha = 1 - confidence
    low, high = np.quantile(rhos, [alpha / 2, 1 - alpha / 2]) if rhos else (math.nan, math.nan)
    return out | {"rho": rho, "low": float(low), "high": float(high)}


def _both_present(table: pl.DataFrame, internal: str, expressed: str) -> pl.DataFrame:
    """The answers that have an internal read (not null, not NaN: an empty answer reads NaN) and a score."""
    return table.filter(
        pl.col(internal).is_not_null() & pl.col(internal).is_not_nan() & pl.col(expressed).is_not_null()
    )


def internal_expressed(
    table: pl.DataFrame,
    columns: Sequence[str],
    expressed: str = "frustration_score",
    keys: Sequence[str] = CONDITION_KEYS,
    cluster: str = "dialogue_id",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Spearman's rho between each internal column and the expressed score over answers: all answers
    (`keys` = ``all``), then per combination of `keys`; answers lacking either value are left out."""
    rows = []
    groups = [(("all",) * len(keys), table)]
    groups += list(_in_appearance_order(table, keys).group_by(list(keys), maintain_order=True))
    for values, group in groups:
        for column in columns:
            ok = _both_present(group, column, expressed)
            key = "/".join(map(str, ("spearman", *values, column)))
            rows.append(
                dict(zip(keys, values, strict=True))
                | {"measure": column}
                | spearman_interval(
                    ok[column].to_numpy().astype(float),
                    ok[expressed].to_numpy().astype(float),
                    ok[cluster].to_numpy(),
                    n_boot,
                    seed,
                    key,
                    confidence,
                )
            )
    return pl.DataFrame(rows)


def divergence(
    table: pl.DataFrame,
    column: str,
    expressed: str = "frustration_score",
    keys: Sequence[str] = TURN_KEYS,
    cluster: str = "dialogue_id",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Internal against expressed on one scale: both z-scored over every answer that has both, then per
    cell of `keys` the mean internal z, the mean expressed z, and their difference (internal minus
    expressed) with a bootstrap interval. Positive: the model is more frustrated inside than it says."""
    ok = _both_present(table, column, expressed)

    def z(name: str) -> pl.Expr:
        spread = ok[name].cast(pl.Float64).std()
        if not spread:  # constant or a single answer: no scale to put the other on
            return pl.lit(math.nan)
        return (pl.col(name).cast(pl.Float64) - ok[name].cast(pl.Float64).mean()) / spread

    scaled = ok.with_columns(z(column).alias("z_internal"), z(expressed).alias("z_expressed")).with_columns(
        (pl.col("z_internal") - pl.col("z_expressed")).alias("z_divergence")
    )
    rows = []
    for values, group in _in_appearance_order(scaled, keys).group_by(list(keys), maintain_order=True):
        clusters = group[cluster].to_numpy()
        row = dict(zip(keys, values, strict=True)) | {"measure": column}
        for name in ("z_internal", "z_expressed", "z_divergence"):
            key = "/".join(map(str, ("divergence", *values, column, name)))
            cell = _mean_interval(
                group[name].to_numpy().astype(float), clusters, n_boot, seed, key, confidence
            )
            row |= {
                "n": cell["n"],
                name: cell["mean"],
                f"{name}_low": cell["low"],
                f"{name}_high": cell["high"],
            }
        rows.append(row)
    return pl.DataFrame(rows)


def arm_effects(
    table: pl.DataFrame,
    columns: Sequence[str],
    baseline: str = "baseline",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Each arm minus the baseline arm on the same dialogue (condition, question, sample: the same seeds),
    per column: the mean over pairs of the two dialogues' mean over turns, with a bootstrap interval
    over pairs, and n_pairs."""
    keys = ["condition", "question_id", "sample"]
    per_dialogue = table.group_by("arm", *keys).agg(
        [pl.col(c).cast(pl.Float64).fill_nan(None).mean() for c in columns]
    )
    base = per_dialogue.filter(pl.col("arm") == baseline).drop("arm")
    rows = []
    for arm in table["arm"].unique(maintain_order=True).to_list():
        if arm == baseline:
            continue
        # Sorted: group_by and join guarantee no row order, and the bootstrap resamples by position.
        pairs = per_dialogue.filter(pl.col("arm") == arm).join(base, on=keys, suffix="_base").sort(keys)
        for condition in pairs["condition"].unique(maintain_order=True).to_list():
            in_condition = pairs.filter(pl.col("condition") == condition)
            for column in columns:
                ok = in_condition.filter(
                    pl.col(column).is_not_null() & pl.col(f"{column}_base").is_not_null()
                )
                diffs = (ok[column] - ok[f"{column}_base"]).to_numpy().astype(float)
                low, high = (
                    bootstrap_statistic(
                        diffs,
                        _mean_draws,
                        n_boot=n_boot,
                        seed=seed,
                        key=f"arm/{arm}/{condition}/{column}",
                        confidence=confidence,
                    )
                    if diffs.size
                    else (math.nan, math.nan)
                )
                rows.append(
                    {
                        "arm": arm,
                        "baseline": baseline,
                        "condition": condition,
                        "measure": column,
                        "n_pairs": int(diffs.size),
                        "diff": float(diffs.mean()) if diffs.size else math.nan,
                        "low": low,
                        "high": high,
                    }
                )
    schema = {
        "arm": pl.String,
        "baseline": pl.String,
        "condition": pl.String,
        "measure": pl.String,
        "n_pairs": pl.Int64,
        "diff": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)
