"""Every rule's time and memory in a finished run, from the files Snakemake's `benchmark:` directive
wrote under results/benchmarks/, as one Markdown table per stage and a total.

    python benchmarks/rule_times.py [--results results] [--out rule_times.md]

The rows are what the run measured on its machine (wall seconds, CPU seconds, peak resident memory),
so compare them only with rows of the same machine. A rule without a `benchmark:` line (plots,
summaries: seconds each) is not listed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl


def collect(results: Path) -> pl.DataFrame:
    """One row per benchmark file: stage, rule, wildcards (the rest of the path), s, cpu_time, max_rss."""
    root = results / "benchmarks"
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        parts = path.relative_to(root).with_suffix("").parts
        table = pl.read_csv(path, separator="\t", null_values=["NA", "-"])
        # A rule with `repeat` writes several lines; the first is the run itself.
        first = table.row(0, named=True)
        rows.append(
            {
                "stage": parts[0],
                "rule": parts[1] if len(parts) > 1 else parts[0],
                "wildcards": "/".join(parts[2:]),
                "seconds": float(first["s"]),
                "cpu_seconds": float(first["cpu_time"]) if first.get("cpu_time") is not None else None,
                "max_rss_mb": float(first["max_rss"]) if first.get("max_rss") is not None else None,
            }
        )
    if not rows:
        raise SystemExit(f"no benchmark files under {root}: run the workflow first")
    return pl.DataFrame(rows)


def markdown(table: pl.DataFrame) -> str:
    lines = ["| stage | rule | wildcards | wall s | CPU s | peak RSS MB |", "|---|---|---|---:|---:|---:|"]
    for row in table.sort(["stage", "seconds"], descending=[False, True]).iter_rows(named=True):
        cpu = "" if row["cpu_seconds"] is None else f"{row['cpu_seconds']:.0f}"
        rss = "" if row["max_rss_mb"] is None else f"{row['max_rss_mb']:.0f}"
        lines.append(
            f"| {row['stage']} | {row['rule']} | {row['wildcards']} | {row['seconds']:.0f} | {cpu} | {rss} |"
        )
    per_stage = table.group_by("stage", maintain_order=True).agg(pl.col("seconds").sum()).sort("stage")
    lines.append("")
    lines.append(
        "Per stage (wall s, summed over its rules): "
        + ", ".join(f"{r['stage']} {r['seconds']:.0f}" for r in per_stage.iter_rows(named=True))
        + f"; all {table['seconds'].sum():.0f} s over {table.height} benchmarked jobs."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args()
    text = markdown(collect(args.results))
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
