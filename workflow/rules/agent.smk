# The steered retrying coding agent: every task as a multi-turn chat with visible-test feedback in
# three tones, under every condition (emotion directions at a sweep of strengths, equal-norm random
# controls, a prompting baseline, SAE features) with matched seeds; then rates with CIs, paired tests
# against the baseline, dose-response, projection trajectories, and figures.

AGENT_ON_GPU = str(config["agent"]["run"]["device"]).startswith("cuda")


rule run_agent_loop:
    input:
        model="results/models/{model}",
        directions=agent_direction_files,
        # The suite's own check first: a broken task would measure the suite, not the agent.
        tasks=rules.check_tasks.output.table,
        feedback=config["agent"]["run"]["feedback"],
        code=package_code(
            "agent/loop",
            "agent/generation",
            "directions/steer",
            "directions/activations",
            "directions/store",
            "evaluate",
        ),
    output:
        attempts="results/agent/{model}/attempts.parquet",
    log:
        "results/logs/agent/run_agent_loop/{model}.log",
    benchmark:
        "results/benchmarks/agent/run_agent_loop/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        # On a GPU the weights pass through host memory as they load (a 30B model is 61 GB in bf16).
        mem_mb=64000 if AGENT_ON_GPU else 6000,
        # Minutes; a job killed at its limit resumes from its finished tasks when started again.
        runtime=1440 if AGENT_ON_GPU else 60,
        # A GPU job where the config puts the model on CUDA (the paper preset).
        gpu=int(AGENT_ON_GPU),
    params:
        settings=json.dumps(config["agent"]["run"]),
        directions=lambda wildcards: f"results/directions/{wildcards.model}",
        # Not an output: Snakemake never deletes it, so a killed run resumes from finished tasks.
        shards=lambda wildcards: f"results/agent/{wildcards.model}/shards",
    shell:
        "agent-affect run-agent --model-dir {input.model} --directions {params.directions}"
        " --shards {params.shards} --config {params.settings:q} --threads {threads}"
        " --out {output.attempts} > {log} 2>&1"


rule summarise_agent:
    input:
        attempts=rules.run_agent_loop.output.attempts,
        code=package_code("agent/metrics", "analysis/stats"),
    output:
        rates=report(
            "results/agent/{model}/metrics/rates.csv",
            caption="../report/agent_rates.rst",
            category="Agent",
            subcategory="{model}",
            labels={"model": "{model}", "table": "rates by condition"},
        ),
        tables=expand(
            "results/agent/{{model}}/metrics/{table}.csv",
            table=[t for t in AGENT_TABLES if t != "rates"],
        ),
        summary="results/agent/{model}/metrics/summary.json",
    log:
        "results/logs/agent/summarise_agent/{model}.log",
    conda:
        "../../envs/agent-affect.yaml"
    params:
        stats=json.dumps(config["agent"]["stats"]),
        out=subpath(output.summary, parent=True),
    shell:
        "agent-affect agent-metrics --attempts {input.attempts} --model {wildcards.model}"
        " --stats {params.stats:q} --out {params.out} > {log} 2>&1"


rule plot_agent_figure:
    input:
        summary=rules.summarise_agent.output.summary,
        tables=rules.summarise_agent.output.tables,
        rates=rules.summarise_agent.output.rates,
        # the shared style; the figure's own code is the `code` param (one figure reruns alone)
        style=package_code("plots/style"),
    output:
        figure=report(
            "results/figures/agent/{model}/{afigure}.png",
            caption="../report/agent_figure.rst",
            category="Agent",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "{afigure}"},
        ),
    log:
        "results/logs/figures/agent/{model}/{afigure}.log",
    conda:
        "../../envs/agent-affect.yaml"
    params:
        metrics=lambda wildcards, input: Path(input.summary).parent,
        code=lambda wildcards: figure_hash(
            "agent_affect.plots.agent", wildcards.afigure
        ),
    shell:
        "agent-affect plot-agent {wildcards.afigure} --metrics {params.metrics}"
        " --out {output.figure} > {log} 2>&1"
