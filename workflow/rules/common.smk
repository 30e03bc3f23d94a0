# Helpers and config validation shared by every stage. Kept short: real logic lives in agent_affect.
import json
import os
import sys
from pathlib import Path

from snakemake.utils import validate

# The same notion of a session file as `agent-affect traces` itself.
from agent_affect.traces.ingest import Source, discover

# One figure's code as a param, so that editing it reruns that figure alone.
from agent_affect.plots.code import figure_hash

validate(config, schema="../schemas/config.schema.yaml")

# Rules run the `agent-affect` command installed beside this Snakemake, also when its environment
# is not activated (`.venv/bin/snakemake ...`); --sdm conda puts the rule's env first anyway.
os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
)


# Tables the analysis writes and figures drawn from them (agent_affect.analysis.FIGURE_TABLES).
SENTIMENT_FIGURES = (
    "label_distribution",
    "neg_by_turn",
    "neg_by_model",
    "autonomy_by_agent",
    "claims",
)
ANALYSIS_TABLES = SENTIMENT_FIGURES + (
    "session_label_mix",
    "top_duplicates",
    "turn_composition",
    "recovery",
    "after_negative",
    "dataset_behaviour",
)

# Tables and figures of the rejection stage (agent_affect.rejection.summary.SUMMARY_TABLES, and
# agent_affect.rejection.figures.FIGURES).
REJECTION_TABLES = (
    "by_turn",
    "by_condition",
    "by_kind",
    "differences",
    "prefill",
    "internal_by_turn",
    "internal_expressed",
    "divergence",
    "arm_effects",
    "internal_answers",
    "claims",
)
REJECTION_FIGURES = (
    "score_by_turn",
    "high_rate_by_turn",
    "calibration",
    "prefill",
    "internal_by_turn",
    "internal_vs_expressed",
    "internal_scatter",
    "calm_arm",
)

# Figures of the directions stage (agent_affect.plots.directions.FIGURES).
DIRECTION_FIGURES = (
    "cosines",
    "accuracy_by_layer",
    "trajectory",
    "sae_selectivity",
    "pca",
)

# Tables and figures of the agent stage (agent_affect.agent.metrics.TABLES and
# agent_affect.plots.agent.FIGURES).
AGENT_TABLES = (
    "rates",
    "paired",
    "dose_response",
    "dose_slopes",
    "projection_by_attempt",
)
AGENT_FIGURES = ("rates", "dose_response", "projection_trajectory", "markers_vs_hack")


wildcard_constraints:
    # A model name is one folder under results/models/, never a path into one.
    model=r"[^/]+",
    source="|".join(("judge", "published")),
    figure="|".join(SENTIMENT_FIGURES),
    rfigure="|".join(REJECTION_FIGURES),
    # A rejection table to score: the dialogues, or one model's prefill continuations.
    table=r"dialogues|prefill/[^/]+",
    dfigure="|".join(DIRECTION_FIGURES),
    afigure="|".join(AGENT_FIGURES),


# Where the user's own agents keep their sessions; read only when traces.include_user_sessions is on.
USER_SESSION_DIRS = ("~/.claude/projects", "~/.codex/sessions", "~/.pi/agent/sessions")


def package_code(*modules):
    """Source files of agent_affect modules (`traces` is a package, `plots/corpus` one file).

    Rules call the package through its command line, so Snakemake cannot see their code; declared
    as inputs, a change to a parser reruns parsing and a change to a plot reruns only that figure.
    """
    root = Path(workflow.basedir) / "workflow" / "agent_affect"
    files = []
    for module in modules:
        path = root / module
        files += (
            sorted(map(str, path.rglob("*.py"))) if path.is_dir() else [f"{path}.py"]
        )
    return files


def hub_manifest():
    """The Hub download manifest, when the config asks for any Hub dataset; else nothing."""
    hub = config["traces"]["hub"]
    return ["results/hub/manifest.json"] if hub["datasets"] or hub["discover"] else []


def trace_sources():
    """(dataset name, path) for every source of session files the config asks for."""
    sources = [("local", p) for p in config["traces"]["local"]]
    if config["traces"]["include_user_sessions"]:
        sources += [("user", os.path.expanduser(p)) for p in USER_SESSION_DIRS]
    return [(name, p) for name, p in sources if Path(p).exists()]


def trace_files(wildcards):
    """Every local session file, so that a changed or added file reruns parsing."""
    return [
        str(path)
        for _, root in trace_sources()
        for path, _ in discover(Source(Path(root)))
    ]


def trace_arguments(wildcards):
    return " ".join(f"'{name}={path}'" for name, path in trace_sources())


def check_config():
    """What the schema cannot say: cross-references between keys."""
    specs = config["models"]["specs"]
    named = [("models.prepare", name) for name in config["models"]["prepare"]]
    rejection = config["rejection"]
    named.append(("rejection.model", rejection["model"]))
    named += [
        ("rejection.prefill.models", name) for name in rejection["prefill"]["models"]
    ]
    if rejection["judge"]["backend"] == "transformers":
        named.append(("rejection.judge.model", rejection["judge"]["model"]))
    named += [("directions.models", name) for name in config["directions"]["models"]]
    named += [("agent.models", name) for name in config["agent"]["models"]]
    for key, method in (
        ("rejection.internal.method", rejection["internal"]["method"]),
        (
            "rejection.run.calm_steering.method",
            rejection["run"]["calm_steering"]["method"],
        ),
    ):
        if method not in config["directions"]["methods"]:
            raise ValueError(
                f"config: {key} is {method!r}, which directions.methods does not extract"
            )
    agent_method = config["agent"]["run"]["method"]
    if agent_method not in config["directions"]["methods"]:
        raise ValueError(
            f"config: agent.run.method is {agent_method!r}, which directions.methods does not extract"
        )
    if config["judge"]["backend"] == "transformers":
        named.append(("judge.model", config["judge"]["model"]))
    if config["baseline"]["method"] == "hf":
        if not config["baseline"]["model"]:
            raise ValueError(
                "config: baseline.method is hf but baseline.model names no model"
            )
        named.append(("baseline.model", config["baseline"]["model"]))
    for key, name in named:
        if name not in specs:
            raise ValueError(
                f"config: {key} names {name!r}, which models.specs does not define"
            )


check_config()


def judge_model():
    """The prepared judge model folder for the transformers backend; nothing for a server."""
    judge = config["judge"]
    return (
        [f"results/models/{judge['model']}"]
        if judge["backend"] == "transformers"
        else []
    )


def baseline_model():
    """The prepared classifier folder for baseline method hf; nothing for VADER."""
    baseline = config["baseline"]
    return [f"results/models/{baseline['model']}"] if baseline["method"] == "hf" else []


def labelled_input(wildcards):
    """The labelled messages an analysis reads: our judge's, or the published ones."""
    if wildcards.source == "published":
        return rules.fetch_published_labels.output.labelled
    return rules.label_messages.output.labelled


def model_spec(name):
    return config["models"]["specs"][name]


def stimuli_files():
    """Every stimulus file, so that an edited story reruns the directions stage."""
    root = Path(config["directions"]["stimuli"])
    return sorted(str(p) for p in root.rglob("*") if p.suffix in (".jsonl", ".yaml"))


def stimuli_root(wildcards, input):
    """The stimuli folder, inferred from the files the rule reads (no shared-filesystem path)."""
    return Path(next(f for f in input.stimuli if f.endswith("controls.jsonl"))).parent


def directions_settings():
    """The directions settings the package reads, as JSON (models and sae are the workflow's)."""
    settings = {
        k: v for k, v in config["directions"].items() if k not in ("models", "sae")
    }
    return json.dumps(settings)


def direction_figure_inputs(wildcards):
    """What each directions figure is drawn from, so that it reruns when that changes."""
    base = f"results/directions/{wildcards.model}"
    directions = [f"{base}/{m}.safetensors" for m in config["directions"]["methods"]]
    sae = [f"{base}/sae/sae.safetensors"]
    return {
        "cosines": {"directions": directions + sae},
        "pca": {"directions": directions + sae},
        "accuracy_by_layer": {
            "layers": f"{base}/layer_accuracy.csv",
            "summary": f"{base}/validation/summary.json",
        },
        "trajectory": {"summary": f"{base}/trajectory/trajectory_summary.csv"},
        "sae_selectivity": {
            "features": f"{base}/sae/features.csv",
            "metrics": f"{base}/sae/metrics.json",
        },
    }[wildcards.dfigure]


def rejection_model_dir():
    """The prepared folder of the model that plays the rejection dialogues."""
    return f"results/models/{config['rejection']['model']}"


def rejection_calm_directions():
    """The direction set the calm-steering arm steers with (none when it has no strengths)."""
    calm = config["rejection"]["run"]["calm_steering"]
    model = config["rejection"]["model"]
    return (
        [f"results/directions/{model}/{calm['method']}.safetensors"]
        if calm["strengths"]
        else []
    )


def rejection_internal_directions():
    """The direction set every dialogue answer is projected onto."""
    method = config["rejection"]["internal"]["method"]
    return f"results/directions/{config['rejection']['model']}/{method}.safetensors"


def frustration_judge_model():
    """The prepared frustration judge folder for the transformers backend; nothing for a server."""
    judge = config["rejection"]["judge"]
    return (
        [f"results/models/{judge['model']}"]
        if judge["backend"] == "transformers"
        else []
    )


def frustration_judge_settings():
    """The frustration judge's settings as the package reads them (model is the workflow's)."""
    judge = config["rejection"]["judge"]
    return json.dumps({k: v for k, v in judge.items() if k != "model"})


def prefill_settings():
    """The prefill settings as the package reads them (models are the workflow's)."""
    prefill = config["rejection"]["prefill"]
    return json.dumps({k: v for k, v in prefill.items() if k != "models"})


def agent_direction_files(wildcards):
    """The direction files the agent steers with and reads (the SAE's only when SAE conditions run)."""
    base = f"results/directions/{wildcards.model}"
    run = config["agent"]["run"]
    files = [f"{base}/{run['method']}.safetensors"]
    return files + ([f"{base}/sae/sae.safetensors"] if run["sae_emotions"] else [])


def all_targets():
    targets = [
        "results/traces/user_messages.parquet",
        "results/figures/corpus_overview.png",
        "results/figures/judge_vs_baseline.png",
    ]
    targets += expand(
        "results/figures/{source}/{figure}.png",
        source=config["analysis"]["sources"],
        figure=SENTIMENT_FIGURES,
    )
    targets += expand("results/models/{model}", model=config["models"]["prepare"])
    targets.append("results/tasks/check.csv")
    targets += expand(
        "results/figures/directions/{model}/{dfigure}.png",
        model=config["directions"]["models"],
        dfigure=DIRECTION_FIGURES,
    )
    targets += expand(
        "results/figures/rejection/{rfigure}.png", rfigure=REJECTION_FIGURES
    )
    targets.append("results/rejection/summary/claims.csv")
    targets += expand(
        "results/figures/agent/{model}/{afigure}.png",
        model=config["agent"]["models"],
        afigure=AGENT_FIGURES,
    )
    return targets
