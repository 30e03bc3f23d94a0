"""How far a generic sentiment classifier agrees with the judge: raw agreement, Cohen's kappa with a
bootstrap CI, the 3x3 confusion matrix, and the disagreement modes with example messages.

The bootstrap draws `n_boot` resamples with a fixed seed (the same inputs give the same interval) and
reports percentile intervals. Given session ids it resamples whole sessions, since messages of one session
are not independent; otherwise it resamples messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from agent_affect.labels import ERROR, LABELS

log = logging.getLogger(__name__)

# (judge label, baseline label). The first four decide whether the baseline could stand in for the judge
# (it over- or under-reads emotion in a neutral message); the last two are outright polarity flips.
MODES: tuple[tuple[str, str], ...] = (
    ("NEUTRAL", "NEGATIVE"),
    ("NEUTRAL", "POSITIVE"),
    ("NEGATIVE", "NEUTRAL"),
    ("POSITIVE", "NEUTRAL"),
    ("NEGATIVE", "POSITIVE"),
    ("POSITIVE", "NEGATIVE"),
)
EXAMPLE_CHARS = 300
AGREEMENT_JSON = "agreement.json"
CONFUSION_CSV = "confusion.csv"
DISAGREEMENTS_CSV = "disagreements.csv"


def mode_name(judge: str, baseline: str) -> str:
    return f"baseline {baseline}, judge {judge}"


def raw_agreement(confusion: Any) -> float:
    """Share of messages on the diagonal."""
    matrix = np.asarray(confusion, dtype=float)
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else math.nan


def cohen_kappa(confusion: Any) -> float:
    """Cohen's kappa of a square confusion matrix; NaN where chance agreement is 1 (one class only)."""
    return float(_kappas(np.asarray(confusion, dtype=float)[None])[0])


def confusion_matrix(judge_labels: Sequence[str], baseline_labels: Sequence[str]) -> np.ndarray:
    """Counts, rows judge NEGATIVE, NEUTRAL, POSITIVE; columns baseline in the same order."""
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = np.zeros((3, 3), dtype=np.int64)
    for judge, baseline in zip(judge_labels, baseline_labels, strict=True):
        matrix[index[judge], index[baseline]] += 1
    return matrix


def agreement_from_confusion(
    confusion: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """Agreement, kappa and their bootstrap CIs (resampling messages) from a published 3x3 matrix."""
    matrix = np.asarray(confusion, dtype=np.int64)
    if matrix.shape != (3, 3) or (matrix < 0).any():
        raise ValueError(f"a confusion matrix is 3x3 non-negative counts, got {matrix.tolist()}")
    _check_bootstrap(n_boot, level)
    return _summary(
        matrix, _message_draws(matrix, n_boot, seed), "message", int(matrix.sum()), n_boot, seed, level
    )


def agreement(
    judge_labels: Sequence[str | None] | pl.Series,
    baseline_labels: Sequence[str] | pl.Series,
    *,
    texts: Sequence[str | None] | pl.Series | None = None,
    ids: Sequence[str] | pl.Series | None = None,
    session_ids: Sequence[str | None] | pl.Series | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    n_examples: int = 5,
) -> dict[str, Any]:
    """Compare per-message labels; every value in the result is JSON-serialisable.

    Judge labels ERROR (and missing ones) are left out and counted in ``excluded``. With `session_ids`
    the kappa CI resamples sessions, otherwise messages. Each disagreement mode lists up to `n_examples`
    messages, distinct texts chosen by a hash of the text, so the choice is fixed and not alphabetical.
    """
    _check_bootstrap(n_boot, level)
    n = len(judge_labels)
    columns: dict[str, Any] = {"judge": list(judge_labels), "baseline": list(baseline_labels)}
    for name, values in (("text", texts), ("id", ids), ("session", session_ids)):
        columns[name] = list(values) if values is not None else [None] * n
        if len(columns[name]) != n:
            raise ValueError(f"{name} has {len(columns[name])} values for {n} judge labels")
    if len(columns["baseline"]) != n:
        raise ValueError(f"{len(columns['baseline'])} baseline labels for {n} judge labels")
    table = pl.DataFrame(columns, schema={k: pl.String for k in columns})
    excluded = {
        ERROR: table.filter(pl.col("judge") == ERROR).height,
        "missing": table.filter(pl.col("judge").is_null()).height,
    }
    table = table.filter(pl.col("judge").is_not_null() & (pl.col("judge") != ERROR))
    _check_labels(table["judge"], "judge")
    _check_labels(table["baseline"], "baseline")
    if sum(excluded.values()):
        log.warning(
            "left out %d judge ERROR and %d missing judge labels", excluded[ERROR], excluded["missing"]
        )
    matrix = confusion_matrix(table["judge"].to_list(), table["baseline"].to_list())
    if session_ids is not None:
        unit = "session"
        cells = _cells_by_unit(table, "session")
        draws = _cluster_draws(cells, n_boot, seed)
        n_units = cells.shape[0]
    else:
        unit, n_units = "message", table.height
        draws = _message_draws(matrix, n_boot, seed)
    result = _summary(matrix, draws, unit, n_units, n_boot, seed, level)
    result["excluded"] = excluded
    for mode in result["modes"]:
        mode["examples"] = _examples(table, mode["judge"], mode["baseline"], n_examples)
    return result


def confusion_table(result: dict[str, Any]) -> pl.DataFrame:
    """The matrix as a table: one row per judge label, one column per baseline label, and row totals."""
    matrix = np.asarray(result["confusion"], dtype=np.int64)
    return pl.DataFrame(
        {
            "judge_label": list(LABELS),
            **{f"baseline_{label}": matrix[:, j].tolist() for j, label in enumerate(LABELS)},
            "total": matrix.sum(axis=1).tolist(),
        }
    )


def disagreement_table(result: dict[str, Any], n_examples: int = 5) -> pl.DataFrame:
    """One row per disagreement mode: counts, shares and example texts (ids where there is no text)."""
    rows = []
    for mode in result["modes"]:
        row = {key: mode[key] for key in ("mode", "judge", "baseline", "n")}
        row |= {
            key: mode[key] for key in ("share_of_messages", "share_of_disagreements", "share_of_judge_label")
        }
        examples = mode.get("examples", [])
        for k in range(n_examples):
            example = examples[k] if k < len(examples) else None
            row[f"example_{k + 1}"] = None if example is None else example["text"] or example["id"]
        rows.append(row)
    table = pl.DataFrame(rows, schema_overrides={f"example_{k + 1}": pl.String for k in range(n_examples)})
    return table.rename({"judge": "judge_label", "baseline": "baseline_label"})


def run_agreement(
    labelled_path: Path,
    baseline_path: Path,
    out_dir: Path,
    *,
    judge_column: str = "sentiment_label",
    judge_name: str = "LLM judge",
    resample: str = "session",
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Join judge and baseline labels on id and write agreement.json, confusion.csv and disagreements.csv.

    `labelled_path`: parquet (or CSV) with id and `judge_column`; session_id and content_text are used
    when present. `baseline_path`: `label_baseline`'s output. ``resample="session"`` bootstraps sessions
    when the labelled table has session_id (else messages, with a note in the log); ``"message"`` always
    resamples messages. Returns what agreement.json holds.
    """
    if resample not in ("session", "message"):
        raise ValueError(f"resample must be 'session' or 'message', got {resample!r}")
    labelled = _read_table(Path(labelled_path), ("id", judge_column))
    baseline = _read_table(Path(baseline_path), ("id", "baseline_label"))
    joined = labelled.join(baseline, on="id", how="inner", suffix="_baseline", maintain_order="left")
    unmatched = {
        "labelled_without_baseline": labelled.height - joined.height,
        "baseline_without_label": baseline.height - joined.height,
    }
    if any(unmatched.values()):
        log.warning("ids present in only one table (left out): %s", unmatched)
    by_session = resample == "session" and "session_id" in joined.columns
    if resample == "session" and not by_session:
        log.warning("%s has no session_id column: the bootstrap resamples messages", labelled_path)
    result = agreement(
        joined[judge_column],
        joined["baseline_label"],
        texts=joined["content_text"] if "content_text" in joined.columns else None,
        ids=joined["id"],
        session_ids=joined["session_id"] if by_session else None,
        n_boot=n_boot,
        seed=seed,
        level=level,
    )
    methods = (
        baseline["baseline_method"].unique().sort().to_list() if "baseline_method" in baseline.columns else []
    )
    result = {
        "judge": judge_name,
        "baseline": ", ".join(str(m) for m in methods) or "baseline",
        "inputs": {"labelled": str(labelled_path), "baseline": str(baseline_path), **unmatched},
        **result,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / AGREEMENT_JSON).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    confusion_table(result).write_csv(out_dir / CONFUSION_CSV)
    disagreement_table(result).write_csv(out_dir / DISAGREEMENTS_CSV)
    low, high = (math.nan if value is None else value for value in result["kappa_ci"])
    log.info(
        "n=%d: agreement %.1f%%, kappa %.3f (%.0f%% CI %.3f-%.3f, bootstrap over %ss) -> %s",
        result["n"],
        100 * (result["agreement"] if result["agreement"] is not None else math.nan),
        result["kappa"] if result["kappa"] is not None else math.nan,
        100 * level,
        low,
        high,
        result["bootstrap"]["unit"],
        out_dir,
    )
    return result


def _read_table(path: Path, required: Sequence[str]) -> pl.DataFrame:
    table = pl.read_csv(path) if path.suffix == ".csv" else pl.read_parquet(path)
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; it has {table.columns}")
    duplicated = table.filter(pl.col("id").is_duplicated())["id"].unique().sort()
    if len(duplicated):
        raise ValueError(
            f"{path} has {len(duplicated)} duplicated id(s), e.g. {duplicated.head(3).to_list()}; "
            "each message must appear once"
        )
    return table


def _check_bootstrap(n_boot: int, level: float) -> None:
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"n_boot must be >= 1 and level in (0, 1), got {n_boot}, {level}")


def _check_labels(labels: pl.Series, who: str) -> None:
    unknown = labels.filter(~labels.is_in(LABELS) | labels.is_null()).unique().to_list()
    if unknown:
        raise ValueError(f"{who} labels must be one of {LABELS}; found {unknown}")


def _kappas(matrices: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each matrix in a (k, 3, 3) stack."""
    totals = matrices.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.trace(matrices, axis1=1, axis2=2) / totals
        chance = np.einsum("ki,ki->k", matrices.sum(axis=2), matrices.sum(axis=1)) / totals**2
        kappa = (observed - chance) / (1 - chance)
    return np.where(np.isclose(chance, 1.0) | (totals == 0), np.nan, kappa)


def _message_draws(matrix: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    # Resampling n messages with replacement gives multinomial cell counts: drawn directly, it is exact.
    total = int(matrix.sum())
    if total == 0:
        return np.zeros((n_boot, 3, 3), dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.multinomial(total, matrix.ravel() / total, size=n_boot).reshape(n_boot, 3, 3)


def _cells_by_unit(table: pl.DataFrame, unit: str) -> np.ndarray:
    """(units, 9) counts per confusion cell; a message without a session id is its own unit."""
    index = {label: i for i, label in enumerate(LABELS)}
    keyed = table.with_columns(
        pl.coalesce(pl.col(unit), pl.lit("\x00message ") + pl.int_range(pl.len()).cast(pl.String)).alias(
            "unit"
        ),
        (
            pl.col("judge").replace_strict(index, return_dtype=pl.Int64) * 3
            + pl.col("baseline").replace_strict(index, return_dtype=pl.Int64)
        ).alias("cell"),
    )
    position = (keyed["unit"].rank("dense").cast(pl.Int64) - 1).to_numpy()
    cells = np.zeros((int(position.max()) + 1 if len(position) else 0, 9), dtype=np.int64)
    np.add.at(cells, (position, keyed["cell"].to_numpy()), 1)
    return cells


def _cluster_draws(cells: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n_units = cells.shape[0]
    if n_units == 0:
        return np.zeros((n_boot, 3, 3), dtype=np.int64)
    multiplicity = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=n_boot)
    return (multiplicity @ cells).reshape(n_boot, 3, 3)


def _interval(values: np.ndarray, level: float) -> list[float | None]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [None, None]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]


def _summary(
    matrix: np.ndarray, draws: np.ndarray, unit: str, n_units: int, n_boot: int, seed: int, level: float
) -> dict[str, Any]:
    n = int(matrix.sum())
    disagreements = n - int(np.trace(matrix))
    row_totals = matrix.sum(axis=1)
    draw_totals = draws.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        draw_agreement = np.trace(draws, axis1=1, axis2=2) / draw_totals
    index = {label: i for i, label in enumerate(LABELS)}
    modes = []
    for judge, baseline in MODES:
        count = int(matrix[index[judge], index[baseline]])
        modes.append(
            {
                "mode": mode_name(judge, baseline),
                "judge": judge,
                "baseline": baseline,
                "n": count,
                "share_of_messages": _ratio(count, n),
                "share_of_disagreements": _ratio(count, disagreements),
                "share_of_judge_label": _ratio(count, int(row_totals[index[judge]])),
            }
        )
    return {
        "n": n,
        "agreement": _finite(raw_agreement(matrix)),
        "agreement_ci": _interval(draw_agreement, level),
        "kappa": _finite(cohen_kappa(matrix)),
        "kappa_ci": _interval(_kappas(draws.astype(float)), level),
        "ci_level": level,
        "bootstrap": {
            "unit": unit,
            "units": n_units,
            "replicates": n_boot,
            "seed": seed,
            "interval": "percentile",
        },
        "labels": list(LABELS),
        "confusion": matrix.tolist(),
        "judge_shares": {label: _ratio(int(row_totals[i]), n) for i, label in enumerate(LABELS)},
        "baseline_shares": {label: _ratio(int(matrix[:, i].sum()), n) for i, label in enumerate(LABELS)},
        "modes": modes,
    }


def _examples(table: pl.DataFrame, judge: str, baseline: str, n_examples: int) -> list[dict[str, str | None]]:
    cell = table.filter((pl.col("judge") == judge) & (pl.col("baseline") == baseline))
    key = pl.coalesce("text", "id", pl.lit(""))
    # blake2b, not polars' own hash, which may change between polars versions and so change the examples.
    picked = (
        cell.with_columns(
            key.map_elements(_stable_hash, return_dtype=pl.String).alias("order"), key.alias("key")
        )
        .sort("order", "id", nulls_last=True)
        .unique("key", keep="first", maintain_order=True)
        .head(n_examples)
    )
    return [{"id": row["id"], "text": _snippet(row["text"])} for row in picked.iter_rows(named=True)]


def _stable_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _snippet(text: str | None) -> str | None:
    if text is None:
        return None
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= EXAMPLE_CHARS else flat[: EXAMPLE_CHARS - 1] + "…"


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
