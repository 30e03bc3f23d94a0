"""Shared pieces of the hostile-candidate suite: a small task, tight limits, and a host-side process scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_affect.evaluate import Case, Limits, SandboxUnavailable, Task, resolve_isolation
from agent_affect.evaluate.sandbox import UID_RANGE


@pytest.fixture(scope="session", autouse=True)
def isolation() -> str:
    """The suite proves containment: without a sandbox on this machine there is nothing to prove."""
    try:
        return resolve_isolation("auto")
    except SandboxUnavailable as error:
        pytest.skip(f"no sandbox on this machine: {error}")


@pytest.fixture
def limits() -> Limits:
    """Tight enough that a hostile candidate costs about a second, loose enough for a loaded machine."""
    return Limits(
        cpu_s=2, wall_s=6.0, case_s=1.5, load_s=3.0, memory_mb=256, file_mb=4, processes=16, restarts=2
    )


@pytest.fixture
def add_task() -> Task:
    """add(a, b): two visible and two hidden tests, so a pass needs real answers to unseen inputs."""
    return Task(
        id="add",
        function="add",
        signature="def add(a: int, b: int) -> int:",
        prompt="Return a + b.",
        visible=(Case((1, 2), 3), Case((10, 20), 30)),
        hidden=(Case((5, 7), 12), Case((100, -1), 99)),
        tags=("test",),
        reference="def add(a, b):\n    return a + b\n",
    )


@pytest.fixture
def leftovers():
    """A function listing host processes of a sandbox uid that this test session is answerable for, or
    with a marker in their command line.

    Other evaluations may run on the same host at the same time (another test session, a workflow):
    their sandboxes hang below their own evaluator, so a sandbox process counts here only if this
    process is among its ancestors or it was orphaned (its chain reaches init through sandbox
    processes alone), and it was not already running when the test began.
    """
    before = {pid for pid, _, _ in sandbox_processes()}

    def find(marker: str | None = None) -> list[tuple[int, str]]:
        if marker is None:
            return [(pid, cmd) for pid, _, cmd in sandbox_processes() if pid not in before and _ours(pid)]
        return [(pid, "") for pid in processes_with(marker)]

    return find


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _ours(pid: int) -> bool:
    """This process is an ancestor of pid, or pid's ancestry reaches init through sandbox uids alone."""
    sandbox = {p for p, _, _ in sandbox_processes()}
    current = _parent(pid)
    while current is not None and current > 1:
        if current == os.getpid():
            return True
        if current not in sandbox:
            return False
        current = _parent(current)
    return True


def sandbox_processes() -> list[tuple[int, int, str]]:
    """(pid, uid, command line) of every process on the host owned by a sandbox uid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
            if UID_RANGE[0] <= uid < UID_RANGE[1]:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), uid, cmdline))
        except OSError:
            continue
    return found


def processes_with(marker: str) -> list[int]:
    """Pids of host processes whose command line contains marker (this test process excluded)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
