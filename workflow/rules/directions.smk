# Emotion directions in a model's residual stream: read every stimulus once, extract by three methods,
# choose the layer on validation topics, check the directions on held-out topics and controls, probe the
# coding-failure trajectory, and train a sparse autoencoder whose features become a fourth method.

DIRECTIONS_ON_GPU = str(config["directions"].get("device")).startswith("cuda")


rule capture_activations:
    input:
        model="results/models/{model}",
        stimuli=stimuli_files(),
        code=package_code(
            "directions/activations", "directions/stimuli", "directions/run"
        ),
    output:
        activations="results/directions/{model}/activations/activations.safetensors",
        index="results/directions/{model}/activations/index.parquet",
    log:
        "results/logs/directions/capture_activations/{model}.log",
    benchmark:
        "results/benchmarks/directions/capture_activations/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        # On a GPU (the paper preset) the weights pass through host memory as they load.
        mem_mb=64000 if DIRECTIONS_ON_GPU else 6000,
        runtime=240 if DIRECTIONS_ON_GPU else 30,
        gpu=int(DIRECTIONS_ON_GPU),
    params:
        out=subpath(output.index, parent=True),
        settings=directions_settings(),
    shell:
        "agent-affect capture-activations --model {input.model} --out {params.out}"
        " --config {params.settings:q} > {log} 2>&1"


rule extract_directions:
    input:
        model="results/models/{model}",
        activations=rules.capture_activations.output.activations,
        index=rules.capture_activations.output.index,
        code=package_code("directions/extract", "directions/run", "directions/store"),
    output:
        directions=expand(
            "results/directions/{{model}}/{method}.safetensors",
            method=config["directions"]["methods"],
        ),
        layer_accuracy="results/directions/{model}/layer_accuracy.csv",
        energy="results/directions/{model}/energy.csv",
        split="results/directions/{model}/split.json",
    log:
        "results/logs/directions/extract_directions/{model}.log",
    benchmark:
        "results/benchmarks/directions/extract_directions/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        activations=subpath(input.index, parent=True),
        out=subpath(output.split, parent=True),
        settings=directions_settings(),
    shell:
        "agent-affect extract-directions --activations {params.activations}"
        " --model {input.model} --out {params.out} --config {params.settings:q} > {log} 2>&1"


rule validate_directions:
    input:
        model="results/models/{model}",
        directions=rules.extract_directions.output.directions,
        index=rules.capture_activations.output.index,
        code=package_code("directions/validate"),
    output:
        summary="results/directions/{model}/validation/summary.json",
        accuracy=report(
            "results/directions/{model}/validation/test_accuracy.csv",
            caption="../report/directions_tables.rst",
            category="Directions",
            subcategory="{model}",
            labels={"model": "{model}", "table": "held-out accuracy"},
        ),
        lexical=report(
            "results/directions/{model}/validation/lexical.csv",
            caption="../report/directions_tables.rst",
            category="Directions",
            subcategory="{model}",
            labels={"model": "{model}", "table": "lexical and overt-emotion controls"},
        ),
        confound=report(
            "results/directions/{model}/validation/confound.csv",
            caption="../report/directions_tables.rst",
            category="Directions",
            subcategory="{model}",
            labels={"model": "{model}", "table": "failure-report confound"},
        ),
        tables=expand(
            "results/directions/{{model}}/validation/{table}.csv",
            table=("cosines", "logit_lens"),
        ),
    log:
        "results/logs/directions/validate_directions/{model}.log",
    benchmark:
        "results/benchmarks/directions/validate_directions/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        # On a GPU (the paper preset) the weights pass through host memory as they load.
        mem_mb=64000 if DIRECTIONS_ON_GPU else 6000,
        runtime=240 if DIRECTIONS_ON_GPU else 20,
        gpu=int(DIRECTIONS_ON_GPU),
    params:
        activations=subpath(input.index, parent=True),
        out=subpath(output.summary, parent=True),
        settings=directions_settings(),
    shell:
        "agent-affect validate-directions --activations {params.activations}"
        " --directions results/directions/{wildcards.model} --model {input.model}"
        " --out {params.out} --config {params.settings:q} > {log} 2>&1"


rule train_sae:
    input:
        model="results/models/{model}",
        directions=rules.extract_directions.output.directions,
        stimuli=stimuli_files(),
        code=package_code("directions/sae", "directions/activations"),
    output:
        config="results/directions/{model}/sae/sae/cfg.json",
        weights="results/directions/{model}/sae/sae/sae_weights.safetensors",
        metrics="results/directions/{model}/sae/metrics.json",
    log:
        "results/logs/directions/train_sae/{model}.log",
    benchmark:
        "results/benchmarks/directions/train_sae/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        # On a GPU (the paper preset) the weights pass through host memory as they load.
        mem_mb=64000 if DIRECTIONS_ON_GPU else 8000,
        runtime=240 if DIRECTIONS_ON_GPU else 30,
        gpu=int(DIRECTIONS_ON_GPU),
    params:
        out=subpath(output.metrics, parent=True),
        settings=json.dumps(config["directions"]["sae"]),
        stimuli=stimuli_root,
    shell:
        "agent-affect train-sae --model {input.model} --directions results/directions/{wildcards.model}"
        " --stimuli {params.stimuli} --out {params.out} --config {params.settings:q} > {log} 2>&1"


rule rank_sae_features:
    input:
        model="results/models/{model}",
        sae=rules.train_sae.output.weights,
        directions=rules.extract_directions.output.directions,
        stimuli=stimuli_files(),
        code=package_code("directions/sae"),
    output:
        features="results/directions/{model}/sae/features.csv",
        directions="results/directions/{model}/sae/sae.safetensors",
        comparison="results/directions/{model}/sae/sae_vs_contrastive.csv",
    log:
        "results/logs/directions/rank_sae_features/{model}.log",
    benchmark:
        "results/benchmarks/directions/rank_sae_features/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        # On a GPU (the paper preset) the weights pass through host memory as they load.
        mem_mb=64000 if DIRECTIONS_ON_GPU else 6000,
        runtime=240 if DIRECTIONS_ON_GPU else 20,
        gpu=int(DIRECTIONS_ON_GPU),
    params:
        sae=subpath(input.sae, parent=True),
        out=subpath(output.features, parent=True),
        settings=json.dumps(config["directions"]["sae"]),
        stimuli=stimuli_root,
        skip=config["directions"]["skip_tokens"],
    shell:
        "agent-affect rank-sae-features --model {input.model} --sae {params.sae}"
        " --directions results/directions/{wildcards.model} --stimuli {params.stimuli}"
        " --skip-tokens {params.skip} --out {params.out} --config {params.settings:q} > {log} 2>&1"


rule probe_trajectory:
    input:
        model="results/models/{model}",
        directions=rules.extract_directions.output.directions,
        sae=rules.rank_sae_features.output.directions,
        trajectory=f"{config['directions']['stimuli']}/trajectory.jsonl",
        code=package_code("directions/probe", "directions/activations"),
    output:
        summary="results/directions/{model}/trajectory/trajectory_summary.csv",
        table="results/directions/{model}/trajectory/trajectory.parquet",
    log:
        "results/logs/directions/probe_trajectory/{model}.log",
    benchmark:
        "results/benchmarks/directions/probe_trajectory/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        # On a GPU (the paper preset) the weights pass through host memory as they load.
        mem_mb=64000 if DIRECTIONS_ON_GPU else 4000,
        runtime=240 if DIRECTIONS_ON_GPU else 20,
        gpu=int(DIRECTIONS_ON_GPU),
    params:
        out=subpath(output.summary, parent=True),
        seed=config["directions"]["seed"],
    shell:
        "agent-affect probe-trajectory --directions {input.directions} {input.sae}"
        " --model {input.model} --trajectory {input.trajectory} --out {params.out}"
        " --seed {params.seed} > {log} 2>&1"


rule plot_directions_figure:
    input:
        unpack(direction_figure_inputs),
        # the shared style; the figure's own code is the `code` param (one figure reruns alone)
        style=package_code("plots/style"),
    output:
        figure=report(
            "results/figures/directions/{model}/{dfigure}.png",
            caption="../report/directions_figure.rst",
            category="Directions",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "{dfigure}"},
        ),
    log:
        "results/logs/figures/directions/{model}/{dfigure}.log",
    conda:
        "../../envs/agent-affect.yaml"
    params:
        code=lambda wildcards: figure_hash(
            "agent_affect.plots.directions", wildcards.dfigure
        ),
    shell:
        "agent-affect plot-directions {wildcards.dfigure} --results results/directions/{wildcards.model}"
        " --out {output.figure} > {log} 2>&1"
