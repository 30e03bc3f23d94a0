# Models: every model spec (a GGUF file, a local folder, or a Hub id at a pinned revision) becomes an
# ordinary transformers folder under results/models/<name>/ that every model stage loads.


rule prepare_model:
    input:
        code=package_code("models/spec", "models/prepare"),
        # A spec's own chat template file (path and hub specs), so that editing it re-prepares.
        chat_template=lambda wildcards: model_spec(wildcards.model).get(
            "chat_template", []
        ),
    output:
        folder=directory("results/models/{model}"),
    log:
        "results/logs/models/prepare_model/{model}.log",
    benchmark:
        "results/benchmarks/models/prepare_model/{model}.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        spec=lambda wildcards: json.dumps(model_spec(wildcards.model)),
    shell:
        "agent-affect prepare-model --spec {params.spec:q} --out {output.folder} > {log} 2>&1"
