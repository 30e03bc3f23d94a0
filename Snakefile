# agent-affect: emotion-like signals around coding agents, from session logs and from inside open models.
# Every table and figure is a target of this workflow; `snakemake --cores all` builds them all.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# common.smk puts this Snakemake's own bin folder first on PATH, so rules find agent-affect.
envvars:
    "PATH",


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/traces.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/rejection.smk"
include: "workflow/rules/directions.smk"
include: "workflow/rules/agent.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# Every successful run records what it was made from (versions, revisions, config hash, commit).
onsuccess:
    from agent_affect.provenance import write as write_provenance

    print(f"provenance: {write_provenance(config, workflow.basedir)}")
