# The corpus analysis: label shares, NEGATIVE share by turn, recovery, models, autonomy, and the
# published claims table, for our judge's labels and (paper preset) for the published labels.


rule fetch_published_labels:
    output:
        labelled="results/published/labelled.parquet",
        manifest="results/published/manifest.json",
    log:
        "results/logs/analysis/fetch_published_labels.log",
    retries: 2
    conda:
        "../../envs/agent-affect.yaml"
    resources:
        hub_api=1,
    params:
        repo=config["analysis"]["published"]["repo"],
        revision=(
            f"--revision {config['analysis']['published']['revision']}"
            if config["analysis"]["published"]["revision"]
            else ""
        ),
        cache="results/hub/cache",
    shell:
        "agent-affect fetch-table --repo {params.repo} {params.revision} --cache {params.cache}"
        " --out {output.labelled} --manifest {output.manifest} > {log} 2>&1"


rule analyse_corpus:
    input:
        labelled=labelled_input,
        sessions=rules.parse_traces.output.sessions,
        events=rules.parse_traces.output.events,
        code=package_code("analysis"),
    output:
        claims=report(
            "results/analysis/{source}/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
            labels={"source": "{source}", "table": "claims"},
        ),
        tables=expand("results/analysis/{{source}}/{table}.csv", table=ANALYSIS_TABLES),
        summary="results/analysis/{source}/summary.json",
    log:
        "results/logs/analysis/analyse_corpus/{source}.log",
    benchmark:
        "results/benchmarks/analysis/analyse_corpus/{source}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    params:
        out=subpath(output.summary, parent=True),
        # Our own traces describe our corpus only; published labels carry their own counters.
        traces=lambda wildcards, input: (
            f"--traces {Path(input.sessions).parent}"
            if wildcards.source == "judge"
            else ""
        ),
        settings=json.dumps(config["analysis"]["settings"]),
    shell:
        "agent-affect analyse {input.labelled} {params.traces} --out {params.out}"
        " --config {params.settings:q} > {log} 2>&1"


rule plot_sentiment_figure:
    input:
        summary="results/analysis/{source}/summary.json",
        tables=expand("results/analysis/{{source}}/{table}.csv", table=ANALYSIS_TABLES),
        # the shared style; the figure's own code is the `code` param (one figure reruns alone)
        style=package_code("plots/style"),
    output:
        figure=report(
            "results/figures/{source}/{figure}.png",
            caption="../report/sentiment_figure.rst",
            category="Sentiment",
            subcategory="{source}",
            labels={"source": "{source}", "figure": "{figure}"},
        ),
    log:
        "results/logs/figures/{source}/{figure}.log",
    conda:
        "../../envs/agent-affect.yaml"
    params:
        analysis=subpath(input.summary, parent=True),
        code=lambda wildcards: figure_hash(
            "agent_affect.plots.sentiment", wildcards.figure
        ),
    shell:
        "agent-affect plot-sentiment {wildcards.figure} --analysis {params.analysis}"
        " --out {output.figure} > {log} 2>&1"
