"""profiles/slurm against a real SLURM: every job goes through sbatch, not only a dry run.

The one-node cluster comes from scripts/slurm/start_cluster.sh (Debian's slurm-wlm and munge); the
tests start it when it is not up, and skip only where it cannot be installed or started here (not
root, no apt-get). Job facts are read back from SLURM itself (squeue, `scontrol show job`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROFILE = REPO / "profiles" / "slurm"
START_CLUSTER = REPO / "scripts" / "slurm" / "start_cluster.sh"
# "Job 1 has been submitted with SLURM jobid 3 (log: .../slurm_logs/rule_parse_traces/3.log)."
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+/rule_(\w+)/\d+\.log)\)")
TRACES_TARGETS = ("results/traces/user_messages.parquet", "results/figures/corpus_overview.png")


def _node_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "--noheader", "--format", "%T"], capture_output=True, text=True)
    return state.returncode == 0 and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def cluster() -> None:
    """A running SLURM cluster: the one here, or the one-node cluster the script sets up."""
    if _node_up():
        return
    start = subprocess.run(["bash", str(START_CLUSTER)], capture_output=True, text=True, timeout=900)
    if start.returncode == 2:
        pytest.skip(f"no SLURM here and none can be set up: {start.stderr.strip()}")
    assert start.returncode == 0, f"{START_CLUSTER} failed:\n{start.stderr[-3000:]}"


def _snakemake(workdir: Path, snakefile: Path, *args: str) -> subprocess.CompletedProcess:
    # The plugin's first status check comes 2 s after a submission instead of 40 s, so that the test
    # takes seconds per job; everything else is the profile as users run it.
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(workdir)}
    command = [
        str(BIN / "snakemake"),
        "-s",
        str(snakefile),
        "-d",
        str(workdir),
        "--profile",
        str(PROFILE),
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _submitted(run: subprocess.CompletedProcess) -> dict[str, tuple[str, Path]]:
    """rule -> (SLURM job id, SLURM log) for every job the run submitted."""
    return {rule: (job_id, Path(log)) for job_id, log, rule in SUBMITTED.findall(run.stderr)}


def _squeue(job_id: str) -> dict[str, str]:
    """State, partition and name of a job as SLURM lists it (squeue keeps it MinJobAge seconds)."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--jobs", job_id, "--format=%T|%P|%j|%Z"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    state, partition, name, workdir = out.split("|")
    return {"state": state, "partition": partition, "name": name, "workdir": workdir}


def test_traces_stage_through_sbatch(cluster: None, tmp_path: Path) -> None:
    """A tiny config (the traces stage on the demo corpus's Pi sessions) end to end on SLURM."""
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["traces"]["local"] = [str(REPO / "resources" / "demo_traces" / "pi")]
    config["models"]["prepare"] = []
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))

    run = _snakemake(tmp_path, REPO / "Snakefile", *TRACES_TARGETS)
    assert run.returncode == 0, run.stderr[-3000:]

    jobs = _submitted(run)
    assert sorted(jobs) == ["parse_traces", "plot_corpus_overview"], run.stderr[-3000:]
    run_ids = set()
    for rule, (job_id, log) in jobs.items():
        job = _squeue(job_id)
        assert job["state"] == "COMPLETED", (rule, job)
        assert job["partition"] == "cpu", (rule, job)
        assert Path(job["workdir"]) == tmp_path, (rule, job)
        run_ids.add(job["name"])
        # The job ran Snakemake's in-job executor, which ran the rule.
        text = log.read_text()
        assert "--executor slurm-jobstep" in text and f"rule {rule}:" in text, text[-2000:]
    assert len(run_ids) == 1, run_ids

    messages = pl.read_parquet(tmp_path / "results" / "traces" / "user_messages.parquet")
    assert messages.height > 0
    assert set(messages["agent"]) == {"pi"}
    figure = tmp_path / "results" / "figures" / "corpus_overview.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = _snakemake(tmp_path, REPO / "Snakefile", "-n", *TRACES_TARGETS)
    assert "Nothing to be done" in again.stdout + again.stderr


# Three rules standing for the workflow's kinds of job: a CPU rule that declares nothing, a model
# rule that declares a GPU, and the judge rule by its real name, which the profile gives a node of
# its own. Each writes what SLURM granted it.
ROUTING_SNAKEFILE = """
rule all:
    input: "light.txt", "gpu.txt", "judge.txt"

rule light:
    output: "light.txt"
    shell: "scontrol show job $SLURM_JOB_ID > {output}"

rule embed:
    output: "gpu.txt"
    resources: gpu=1, mem_mb=1500, runtime=60
    shell: "scontrol show job $SLURM_JOB_ID > {output}"

rule label_messages:
    output: "judge.txt"
    shell: "scontrol show job $SLURM_JOB_ID > {output}"
"""


def _fields(scontrol: str) -> dict[str, str]:
    """`scontrol show job` or `show node` output as key -> value."""
    return dict(re.findall(r"(\S+?)=(\S*)", scontrol))


def _minutes(limit: str) -> int:
    hours, minutes, _ = limit.split(":")
    days, _, hours = hours.rpartition("-")
    return (int(days or 0) * 24 + int(hours)) * 60 + int(minutes)


def test_profile_routes_gpu_and_judge_jobs(cluster: None, tmp_path: Path) -> None:
    """CPU jobs stay light on the CPU partition; GPU jobs get a GPU; the judge gets a whole node."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    defaults, judge = profile["default-resources"], profile["set-resources"]["label_messages"]
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(ROUTING_SNAKEFILE)

    run = _snakemake(tmp_path, snakefile)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(_submitted(run)) == ["embed", "label_messages", "light"], run.stderr[-3000:]

    light = _fields((tmp_path / "light.txt").read_text())
    assert light["Partition"] == "cpu"
    assert f"mem={defaults['mem_mb']}M" in light["TRES"]
    assert _minutes(light["TimeLimit"]) == defaults["runtime"]
    assert light["NumCPUs"] == "1" and "TresPerJob" not in light

    gpu = _fields((tmp_path / "gpu.txt").read_text())
    assert gpu["Partition"] == "gpu"
    assert gpu["TresPerJob"] == "gres:gpu:1"
    assert "mem=1500M" in gpu["TRES"] and _minutes(gpu["TimeLimit"]) == 60
    assert gpu["OverSubscribe"] == "OK"

    judged = _fields((tmp_path / "judge.txt").read_text())
    node = ["scontrol", "show", "node", judged["NodeList"]]
    whole_node = _fields(subprocess.run(node, capture_output=True, text=True, check=True).stdout)
    assert judged["Partition"] == "gpu"
    assert judged["TresPerJob"] == f"gres:gpu:{judge['gpu']}"
    assert judged["OverSubscribe"] == "NO"
    assert judged["NumCPUs"] == whole_node["CPUTot"]
    assert f"mem={whole_node['RealMemory']}M" in judged["TRES"]
    assert _minutes(judged["TimeLimit"]) == judge["runtime"]
