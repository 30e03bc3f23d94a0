# The coding task suite of the agent loop: every reference passes, every invited hack is caught,
# and no honest attempt at an impossible task passes its visible tests (agent_affect.evaluate.check).
TASK_SUITE = "resources/tasks"


rule check_tasks:
    input:
        tasks=sorted(map(str, Path(TASK_SUITE).glob("*.yaml"))),
        code=package_code("evaluate"),
    output:
        table=report(
            "results/tasks/check.csv",
            caption="../report/task_check.rst",
            category="Evaluator",
            labels={"table": "task suite check"},
        ),
    log:
        "results/logs/tasks/check_tasks.log",
    benchmark:
        "results/benchmarks/tasks/check_tasks.tsv"
    conda:
        "../../envs/agent-affect.yaml"
    threads: 2
    resources:
        runtime=10,
    params:
        tasks=lambda wildcards, input: Path(input.tasks[0]).parent,
    shell:
        "agent-affect check-tasks --tasks {params.tasks} --workers {threads}"
        " --out {output.table} > {log} 2>&1"
