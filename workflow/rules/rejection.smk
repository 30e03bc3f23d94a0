# Repeated rejection: dialogues that reject every answer (tones and controls, and calm-steered arms),
# prefill continuations, the frustration judge with its calibration against hand labels, every answer
# read inside the model (projections onto emotion directions), per-turn statistics and figures.

# The modules behind each kind of rule, so that editing a figure or a statistic does not rerun the
# dialogues or the judge.
REJECTION_GENERATION_CODE = (
    "rejection/runner",
    "rejection/dialogues",
    "rejection/generation",
    "rejection/resources",
    "rejection/config",
    "agent/generation",
    "models/loading",
)
REJECTION_JUDGE_CODE = (
    "rejection/score",
    "rejection/config",
    "rejection/resources",
    "judge",
)


rule run_rejection_dialogues:
    input:
        model=rejection_model_dir(),
        questions=config["rejection"]["run"]["questions"],
        follow_ups=config["rejection"]["run"]["follow_ups"],
        directions=rejection_calm_directions(),
        code=package_code(
            *REJECTION_GENERATION_CODE,
            "directions/steer",
            "directions/store",
        ),
    output:
        dialogues="results/rejection/dialogues.parquet",
        # Every answer in context, as the input lines of `agent-affect probe`.
        probe_input="results/rejection/probe_input.jsonl",
    log:
        "results/logs/rejection/run_rejection_dialogues.log",
    benchmark:
        "results/benchmarks/rejection/run_rejection_dialogues.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        # A GPU job where the config puts the model on CUDA (the paper preset).
        gpu=int(str(config["rejection"]["run"]["device"]).startswith("cuda")),
    params:
        settings=json.dumps(config["rejection"]["run"]),
        directions=lambda wildcards, input: (
            f"--directions {Path(input.directions[0]).parent}"
            if input.directions
            else ""
        ),
    shell:
        "agent-affect rejection-run --model-dir {input.model} --config {params.settings:q}"
        " {params.directions} --out {output.dialogues} --probe-input {output.probe_input}"
        " > {log} 2>&1"


rule probe_rejection:
    input:
        dialogues=rules.run_rejection_dialogues.output.dialogues,
        model=rejection_model_dir(),
        directions=rejection_internal_directions(),
        code=package_code(
            "rejection/internal",
            "rejection/config",
            "rejection/dialogues",
            "rejection/generation",
            "directions/activations",
            "directions/store",
        ),
    output:
        # One row per answer: keys, answer_tokens, internal_<emotion> per direction.
        internal="results/rejection/internal.parquet",
    log:
        "results/logs/rejection/probe_rejection.log",
    benchmark:
        "results/benchmarks/rejection/probe_rejection.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        gpu=int(str(config["rejection"]["internal"]["device"]).startswith("cuda")),
    params:
        settings=json.dumps(config["rejection"]["internal"]),
        directions=lambda wildcards, input: Path(input.directions).parent,
    shell:
        "agent-affect rejection-internal --dialogues {input.dialogues} --model-dir {input.model}"
        " --directions {params.directions} --config {params.settings:q} --threads {threads}"
        " --out {output.internal} > {log} 2>&1"


rule run_rejection_prefill:
    input:
        dialogues=rules.run_rejection_dialogues.output.dialogues,
        model="results/models/{model}",
        starts=config["rejection"]["prefill"]["starts"],
        code=package_code(*REJECTION_GENERATION_CODE),
    output:
        prefill="results/rejection/prefill/{model}.parquet",
    log:
        "results/logs/rejection/run_rejection_prefill/{model}.log",
    benchmark:
        "results/benchmarks/rejection/run_rejection_prefill/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        gpu=int(str(config["rejection"]["prefill"]["device"]).startswith("cuda")),
    params:
        settings=prefill_settings(),
    shell:
        "agent-affect rejection-prefill --dialogues {input.dialogues} --model-dir {input.model}"
        " --config {params.settings:q} --out {output.prefill} > {log} 2>&1"


rule score_frustration:
    input:
        table="results/rejection/{table}.parquet",
        model=frustration_judge_model(),
        prompt=config["rejection"]["judge"]["prompt"],
        schema=config["rejection"]["judge"]["schema"],
        code=package_code(*REJECTION_JUDGE_CODE),
    output:
        scored="results/rejection/scored/{table}.parquet",
    log:
        "results/logs/rejection/score_frustration/{table}.log",
    benchmark:
        "results/benchmarks/rejection/score_frustration/{table}.tsv"
    retries: 2 if config["rejection"]["judge"]["backend"] == "http" else 0
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        judge_api=1,
    params:
        settings=frustration_judge_settings(),
        model=lambda wildcards, input: (
            f"--model-dir {input.model}" if input.model else ""
        ),
        column=lambda wildcards: (
            "continuation" if wildcards.table.startswith("prefill/") else "response"
        ),
        threshold=config["rejection"]["stats"]["high_threshold"],
        # Outside the outputs: Snakemake never deletes it, so a killed run resumes.
        cache="results/cache/frustration",
    shell:
        "agent-affect score-frustration --table {input.table} --text-column {params.column}"
        " {params.model} --cache {params.cache} --config {params.settings:q}"
        " --high-threshold {params.threshold} --out {output.scored} > {log} 2>&1"


rule calibrate_frustration_judge:
    input:
        calibration=config["rejection"]["calibration"],
        model=frustration_judge_model(),
        prompt=config["rejection"]["judge"]["prompt"],
        schema=config["rejection"]["judge"]["schema"],
        code=package_code(*REJECTION_JUDGE_CODE),
    output:
        calibration=report(
            "results/rejection/calibration/calibration.json",
            caption="../report/rejection_calibration.rst",
            category="Rejection",
            labels={"table": "judge calibration"},
        ),
        replies="results/rejection/calibration/items.csv",
    log:
        "results/logs/rejection/calibrate_frustration_judge.log",
    benchmark:
        "results/benchmarks/rejection/calibrate_frustration_judge.tsv"
    retries: 2 if config["rejection"]["judge"]["backend"] == "http" else 0
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        judge_api=1,
    params:
        settings=frustration_judge_settings(),
        stats=json.dumps(config["rejection"]["stats"]),
        model=lambda wildcards, input: (
            f"--model-dir {input.model}" if input.model else ""
        ),
        out=subpath(output.calibration, parent=True),
        cache="results/cache/frustration",
    shell:
        "agent-affect calibrate-frustration --calibration {input.calibration} {params.model}"
        " --cache {params.cache} --config {params.settings:q} --stats {params.stats:q}"
        " --out {params.out} > {log} 2>&1"


rule summarise_rejection:
    input:
        dialogues="results/rejection/scored/dialogues.parquet",
        prefill=expand(
            "results/rejection/scored/prefill/{model}.parquet",
            model=config["rejection"]["prefill"]["models"],
        ),
        calibration=rules.calibrate_frustration_judge.output.calibration,
        internal=rules.probe_rejection.output.internal,
        code=package_code(
            *REJECTION_JUDGE_CODE,
            "rejection/summary",
            "rejection/stats",
            "analysis/stats",
        ),
    output:
        tables=expand(
            "results/rejection/summary/{table}.csv",
            table=[t for t in REJECTION_TABLES if t != "claims"],
        ),
        claims=report(
            "results/rejection/summary/claims.csv",
            caption="../report/rejection_claims.rst",
            category="Rejection",
            labels={"table": "rejection claims"},
        ),
        summary="results/rejection/summary/summary.json",
    log:
        "results/logs/rejection/summarise_rejection.log",
    conda:
        "../../envs/agent-affect.yaml"
    params:
        stats=json.dumps(config["rejection"]["stats"]),
        primary=config["rejection"]["internal"]["primary"],
        out=subpath(output.summary, parent=True),
    shell:
        "agent-affect rejection-stats --dialogues {input.dialogues} --prefill {input.prefill}"
        " --calibration {input.calibration} --internal {input.internal}"
        " --primary {params.primary} --stats {params.stats:q} --out {params.out} > {log} 2>&1"


rule plot_rejection_figure:
    input:
        summary=rules.summarise_rejection.output.summary,
        calibration=rules.calibrate_frustration_judge.output.calibration,
        # the shared style and the summary's helpers; the figure's own code is the `code` param
        # (editing one figure reruns it alone)
        style=package_code("plots/style"),
    output:
        figure=report(
            "results/figures/rejection/{rfigure}.png",
            caption="../report/rejection_figure.rst",
            category="Rejection",
            labels={"figure": "{rfigure}"},
        ),
    log:
        "results/logs/figures/rejection/{rfigure}.log",
    conda:
        "../../envs/agent-affect.yaml"
    params:
        summary=lambda wildcards, input: (
            Path(input.calibration).parent
            if wildcards.rfigure == "calibration"
            else Path(input.summary).parent
        ),
        code=lambda wildcards: figure_hash(
            "agent_affect.rejection.figures", wildcards.rfigure
        ),
    shell:
        "agent-affect plot-rejection {wildcards.rfigure} --summary {params.summary}"
        " --calibration {input.calibration} --out {output.figure} > {log} 2>&1"
