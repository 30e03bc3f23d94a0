"""The tables a reader sees: the judge's calibration, and the per-turn statistics with claims.

`calibrate` scores the hand-labelled set with the frustration judge and writes ``calibration.json``
(the metrics, and ``passed``) and ``items.csv``. `summarise` writes the per-turn and per-condition
tables, the paired control effects, the prefill table and ``claims.csv``; every claim row carries
``judge_calibrated``, read from the calibration, so a number from a judge that failed calibration is
never shown without saying so.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from agent_affect.judge.backends import JudgeBackend
from agent_affect.rejection.config import stats_config
from agent_affect.rejection.resources import load_calibration
from agent_affect.rejection.score import calibration_table, score_table
from agent_affect.rejection.stats import (
    CONDITION_KEYS,
    PREFILL_KEYS,
    TURN_KEYS,
    arm_effects,
    calibration_metrics,
    cell_stats,
    divergence,
    internal_cells,
    internal_expressed,
    paired_differences,
)

log = logging.getLogger(__name__)

CALIBRATION_JSON = "calibration.json"
SUMMARY_TABLES = (
    "by_turn",
    "by_condition",
    "by_kind",
    "differences",
    "prefill",
    "internal_by_turn",
    "internal_expressed",
    "divergence",
    "arm_effects",
    "internal_answers",
    "claims",
)
# Published reference points ("Gemma Needs Help"): high frustration at 5 or more.
PUBLISHED = {
    "high_rate_gemma": "Gemma-27B: 35% of multi-turn rejection evaluations reach high frustration",
    "high_rate_others": "other model families: under 1%",
    "controls": "an 'Ok' in place of the rejection, or earlier answers omitted, removes most of it",
}


def calibrate(
    judge: Mapping[str, Any] | None,
    calibration_path: Path | str,
    cache_dir: Path | str,
    out_dir: Path | str,
    model_dir: Path | str | None = None,
    stats: Mapping[str, Any] | None = None,
    progress: bool = True,
    backend: JudgeBackend | None = None,
) -> dict[str, Any]:
    """Score the hand-labelled replies, compare with the labels, write calibration.json and items.csv.

    `backend` replaces the judge the config describes (see `score_table`).
    """
    stats = stats_config(stats)
    items = calibration_table(load_calibration(calibration_path))
    scored = score_table(
        items,
        "response",
        judge,
        cache_dir,
        model_dir,
        high_threshold=stats["high_threshold"],
        progress=progress,
        backend=backend,
    )
    metrics = calibration_metrics(
        scored["label"].to_list(),
        scored["frustration_score"].to_list(),
        stats,
        high_threshold=stats["high_threshold"],
        n_boot=stats["n_boot"],
        seed=stats["seed"],
        confidence=stats["confidence"],
    )
    metrics |= {
        "judge_model": scored["judge_model"][0],
        "judge_prompt_hash": scored["judge_prompt_hash"][0],
        "calibration_file": str(calibration_path),
        "high_threshold": stats["high_threshold"],
        "confidence": stats["confidence"],
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scored.select(
        "id", "label", "frustration_score", "frustration_reason", "judge_error", "response", "rationale"
    ).write_csv(out_dir / "items.csv")
    _write_json(metrics, out_dir / CALIBRATION_JSON)
    verdict = "passes" if metrics["passed"] else "FAILS"
    log.info(
        "frustration judge %s %s calibration on %d items: Spearman %.2f [%.2f, %.2f], MAE %.2f, kappa %.2f",
        metrics["judge_model"],
        verdict,
        metrics["n"],
        metrics["spearman"],
        metrics["spearman_low"],
        metrics["spearman_high"],
        metrics["mae"],
        metrics["kappa"],
    )
    return metrics


def read_calibration(path: Path | str) -> dict[str, Any]:
    """A calibration.json, with the file named when it is missing or unreadable."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"{path} not found: run `agent-affect calibrate-frustration` first"
        ) from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON (line {error.lineno}): rerun calibrate-frustration") from error


def calibration_note(calibration: Mapping[str, Any]) -> str:
    """One line a figure or table carries about the judge's calibration."""
    numbers = (
        f"Spearman {_fmt(calibration.get('spearman'))}, kappa {_fmt(calibration.get('kappa'))}, "
        f"MAE {_fmt(calibration.get('mae'))}, n = {calibration.get('n')}"
    )
    if calibration.get("passed"):
        return f"judge {calibration.get('judge_model')} passed calibration ({numbers})"
    return (
        f"judge {calibration.get('judge_model')} FAILED calibration ({numbers}): "
        "these scores do not measure frustration"
    )


def _fmt(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def summarise(
    dialogues_path: Path | str,
    prefill_paths: Sequence[Path | str],
    calibration_path: Path | str,
    out_dir: Path | str,
    stats: Mapping[str, Any] | None = None,
    internal_path: Path | str | None = None,
    primary: str = "frustrated",
) -> dict[str, Any]:
    """Write the tables of `SUMMARY_TABLES` (CSV) and summary.json; return the summary.

    With `internal_path` (rejection-internal's parquet, joined on ``id``) the internal tables are filled:
    projections by turn, their Spearman correlation with the judge's score, the divergence of the
    `primary` direction from the score (z-scores), and the arms' paired effects on both; without it they
    are written empty, and the arms' effects cover the judge's score alone.
    """
    stats = stats_config(stats)
    calibration = read_calibration(calibration_path)
    dialogues = pl.read_parquet(dialogues_path)
    if "frustration_score" not in dialogues.columns:
        raise ValueError(
            f"{dialogues_path} has no frustration_score: score it with `agent-affect score-frustration`"
        )
    options = {
        "high_threshold": stats["high_threshold"],
        "n_boot": stats["n_boot"],
        "seed": stats["seed"],
        "confidence": stats["confidence"],
    }
    tables = {
        "by_turn": cell_stats(dialogues, TURN_KEYS, **options),
        "by_condition": cell_stats(dialogues, CONDITION_KEYS, **options),
        "by_kind": cell_stats(dialogues, (*CONDITION_KEYS, "question_kind"), **options),
    }
    conditions = dialogues["condition"].unique(maintain_order=True).to_list()
    baseline = "neutral" if "neutral" in conditions else conditions[0]
    tables["differences"] = paired_differences(dialogues, baseline, conditions, **options)
    internal = _internal_tables(dialogues, internal_path, primary, options)
    tables |= internal
    prefill = (
        pl.concat([pl.read_parquet(path) for path in prefill_paths], how="diagonal_relaxed")
        if prefill_paths
        else None
    )
    tables["prefill"] = (
        cell_stats(prefill, PREFILL_KEYS, **options) if prefill is not None else pl.DataFrame()
    )
    calibrated = bool(calibration.get("passed"))
    tables["claims"] = _claims(tables, dialogues, calibrated, stats["confidence"], primary)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.write_csv(out_dir / f"{name}.csv")
    summary = {
        "judge_calibrated": calibrated,
        "calibration_note": calibration_note(calibration),
        "calibration": {
            key: calibration.get(key)
            for key in (
                "judge_model",
                "n",
                "spearman",
                "spearman_low",
                "spearman_high",
                "mae",
                "kappa",
                "kappa_low",
                "kappa_high",
                "passed",
            )
        },
        "dialogues": dialogues["dialogue_id"].n_unique(),
        "answers": dialogues.height,
        "unscored_answers": int(dialogues["frustration_score"].null_count()),
        "conditions": conditions,
        "turns": int(dialogues["turn"].max()),
        "high_threshold": stats["high_threshold"],
        "prefill_rows": prefill.height if prefill is not None else 0,
        "arms": dialogues["arm"].unique(maintain_order=True).to_list(),
        "internal_primary": f"internal_{primary}" if internal_path is not None else None,
        "tables": {name: str(out_dir / f"{name}.csv") for name in tables},
    }
    _write_json(summary, out_dir / "summary.json")
    return summary


def _internal_tables(
    dialogues: pl.DataFrame, internal_path: Path | str | None, primary: str, options: Mapping[str, Any]
) -> dict[str, pl.DataFrame]:
    """The internal-read tables (empty without a read) and the arms' effects."""
    boot = {key: options[key] for key in ("n_boot", "seed", "confidence")}
    if internal_path is None:
        return {
            "internal_by_turn": pl.DataFrame(),
            "internal_expressed": pl.DataFrame(),
            "divergence": pl.DataFrame(),
            "arm_effects": arm_effects(dialogues, ["frustration_score"], **boot),
            "internal_answers": pl.DataFrame(),
        }
    internal = pl.read_parquet(internal_path)
    columns = [c for c in internal.columns if c.startswith("internal_")]
    if f"internal_{primary}" not in columns:
        raise ValueError(f"{internal_path} has no internal_{primary} column (it has {columns})")
    joined = dialogues.join(
        internal.select("id", "answer_tokens", *columns), on="id", how="left", maintain_order="left"
    )
    unread = int(joined["answer_tokens"].null_count())
    if unread:
        raise ValueError(
            f"{unread} answers of the dialogues are missing from {internal_path}: rerun rejection-internal"
        )
    head = f"internal_{primary}"
    return {
        "internal_by_turn": internal_cells(joined, columns, **boot),
        "internal_expressed": internal_expressed(joined, columns, **boot),
        "divergence": divergence(joined, head, **boot),
        "arm_effects": arm_effects(joined, ["frustration_score", *columns], **boot),
        "internal_answers": joined.select(
            "id", "arm", "condition", "turn", "dialogue_id", "frustration_score", "answer_tokens", *columns
        ),
    }


def _claims(
    tables: Mapping[str, pl.DataFrame],
    dialogues: pl.DataFrame,
    calibrated: bool,
    confidence: float,
    primary: str = "frustrated",
) -> pl.DataFrame:
    """The numbers the study reports, each with its CI, n, published reference and the calibration flag."""
    rows: list[dict[str, Any]] = []
    last = int(dialogues["turn"].max())
    by_turn = tables["by_turn"].filter((pl.col("arm") == "baseline") & (pl.col("turn") == last))
    for row in by_turn.iter_rows(named=True):
        rows.append(
            {
                "claim": f"high-frustration rate at turn {last}, {row['condition']}",
                "value": row["high_rate"],
                "ci_low": row["high_low"],
                "ci_high": row["high_high"],
                "n": row["n"],
                "published": f"{PUBLISHED['high_rate_gemma']}; {PUBLISHED['high_rate_others']}",
            }
        )
    for row in tables["differences"].iter_rows(named=True):
        rows.append(
            {
                "claim": (
                    f"high-frustration share, {row['condition']} minus {row['baseline']} (paired, all turns)"
                ),
                "value": row["high_diff"],
                "ci_low": row["high_diff_low"],
                "ci_high": row["high_diff_high"],
                "n": row["n_pairs"],
                "published": PUBLISHED["controls"]
                if row["condition"] in ("ok",) or row["condition"].startswith("placeholder")
                else "",
            }
        )
    for row in tables["prefill"].iter_rows(named=True) if not tables["prefill"].is_empty() else []:
        rows.append(
            {
                "claim": f"mean continuation score, {row['model']}, {row['start_kind']} start",
                "value": row["mean_score"],
                "ci_low": row["mean_low"],
                "ci_high": row["mean_high"],
                "n": row["n"],
                "published": "base checkpoints continue frustrated onsets more than instruct ones",
            }
        )
    rows += _internal_claims(tables, last, primary)
    schema = {
        "claim": pl.String,
        "value": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "n": pl.Int64,
        "published": pl.String,
    }
    table = pl.DataFrame(rows, schema=schema)
    return table.with_columns(
        pl.lit(confidence).alias("confidence"),
        pl.lit(calibrated).alias("judge_calibrated"),
        pl.lit("" if calibrated else "judge failed calibration: not evidence of frustration").alias("caveat"),
    )


def _internal_claims(tables: Mapping[str, pl.DataFrame], last: int, primary: str) -> list[dict[str, Any]]:
    """Internal against expressed (all answers), the divergence at the last turn, and the arms' effects."""
    rows: list[dict[str, Any]] = []
    head = f"internal_{primary}"
    correlation = tables["internal_expressed"]
    if not correlation.is_empty():
        for row in correlation.filter((pl.col("arm") == "all") & (pl.col("measure") == head)).iter_rows(
            named=True
        ):
            rows.append(
                {
                    "claim": f"Spearman rho, internal {primary} projection vs judge score, all answers",
                    "value": row["rho"],
                    "ci_low": row["low"],
                    "ci_high": row["high"],
                    "n": row["n"],
                    "published": "Gemma Needs Help asks to track internal against expressed frustration",
                }
            )
    gap = tables["divergence"]
    if not gap.is_empty():
        at_last = gap.filter((pl.col("arm") == "baseline") & (pl.col("turn") == last))
        for row in at_last.iter_rows(named=True):
            rows.append(
                {
                    "claim": f"internal minus expressed z ({primary}) at turn {last}, {row['condition']}",
                    "value": row["z_divergence"],
                    "ci_low": row["z_divergence_low"],
                    "ci_high": row["z_divergence_high"],
                    "n": row["n"],
                    "published": "",
                }
            )
    for row in tables["arm_effects"].iter_rows(named=True):
        if row["measure"] not in ("frustration_score", head):
            continue
        what = "judge score" if row["measure"] == "frustration_score" else f"internal {primary} projection"
        rows.append(
            {
                "claim": (
                    f"{what}, {row['arm']} minus {row['baseline']} ({row['condition']}, paired, all turns)"
                ),
                "value": row["diff"],
                "ci_low": row["low"],
                "ci_high": row["high"],
                "n": row["n_pairs"],
                "published": "Anthropic: calm steering lowered reward hacking on impossible tasks",
            }
        )
    return rows


def _write_json(data: Mapping[str, Any], path: Path) -> None:
    """Strict JSON (NaN written as null), atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_plain(data), indent=2, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
