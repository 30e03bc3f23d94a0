"""Run untrusted code in an isolated process and collect what its function returns for given inputs.

One run is one launcher process (``_launcher.py``): new PID, mount, network, IPC and UTS namespaces, a
chroot holding read-only system folders, the interpreter and a fresh tmpfs as the working folder, an
unprivileged uid of its own, and limits on CPU time, address space, file size, open files and
processes; wall time is kept here. The runner inside (``harness.py``) gets the inputs one test case at
a time and answers with plain JSON data on a pipe; expected outputs never leave this process.

Isolation modes: ``root`` (the default when running as root), ``userns`` (a user namespace, for a user
who is not root), ``none`` (limits and a temporary folder only). ``auto`` picks the first of root and
userns that works here and raises `SandboxUnavailable` when neither does: running untrusted code without
isolation happens only when asked for by name, and every verdict then carries the flag ``unsandboxed``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "_launcher.py"
HARNESS = HERE / "harness.py"
ISOLATION_MODES = ("auto", "root", "userns", "none")
# The runner's uid is drawn per run from a range no real account uses, so that RLIMIT_NPROC (which
# counts every process of a uid on the machine) counts this run alone, and runs cannot signal each other.
UID_RANGE = (1_000_000, 1_900_000)
_TERMINATE_GRACE_S = 2.0
_REPORT_GRACE_S = 1.0
_PROBE_CODE = "import json\ndef probe(x):\n    return json.loads(json.dumps(x))\n"


class SandboxUnavailable(RuntimeError):
    """No isolation mode works on this machine, and running without isolation was not asked for."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one evaluation. Times in seconds, sizes in MB unless named otherwise."""

    cpu_s: int = 10
    wall_s: float = 30.0
    case_s: float = 5.0
    load_s: float = 5.0
    memory_mb: int = 1024
    file_mb: int = 16
    processes: int = 32
    open_files: int = 64
    output_kb: int = 16
    reply_kb: int = 4096
    restarts: int = 8
    isolation: str = "auto"

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATION_MODES:
            raise ValueError(
                f"Limits.isolation is {self.isolation!r}; use one of {', '.join(ISOLATION_MODES)}"
            )
        for name in (
            "cpu_s",
            "wall_s",
            "case_s",
            "load_s",
            "memory_mb",
            "file_mb",
            "processes",
            "open_files",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, not {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Limits:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown sandbox limits {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**values)


@dataclass
class CaseResult:
    """What the candidate did with one input: a plain value, an exception, or no answer at all."""

    index: int
    answered: bool = False
    ok: bool = False
    value: Any = None
    error: str | None = None
    kind: str | None = None
    seconds: float = 0.0


@dataclass
class RunResult:
    """Everything one candidate's run produced, before any comparison with expected outputs."""

    load: str = "ok"
    load_error: str = ""
    isolation: str = "root"
    cases: list[CaseResult] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    tamper: set[str] = field(default_factory=set)
    output: str = ""
    output_bytes: int = 0
    cpu_s: float = 0.0
    max_rss_kb: int = 0
    processes_started: int = 0

    def note(self, event: str) -> None:
        self.events.append(event)
        log.debug("sandbox: %s", event)


_resolved: dict[str, str] = {}
_resolved_lock = threading.Lock()


def resolve_isolation(requested: str = "auto") -> str:
    """The isolation mode a run asked for as `requested` gets here, probed once per process."""
    if requested == "none":
        return "none"
    with _resolved_lock:
        if requested in _resolved:
            return _resolved[requested]
        candidates = ["root", "userns"] if requested == "auto" else [requested]
        if requested == "auto" and os.geteuid() != 0:
            candidates = ["userns"]
        errors = []
        for mode in candidates:
            error = _probe(mode)
            if error is None:
                _resolved[requested] = mode
                return mode
            errors.append(f"{mode}: {error}")
        raise SandboxUnavailable(
            "no sandbox can be built on this machine ("
            + "; ".join(errors)
            + "). Run as root, or enable unprivileged user namespaces"
            " (sysctl kernel.unprivileged_userns_clone=1"
            " or user.max_user_namespaces > 0); or, knowing that the candidate code then runs with your"
            " rights, pass --unsafe-no-isolation (Limits(isolation='none')), which marks every verdict"
            " 'unsandboxed'."
        )


def _probe(mode: str) -> str | None:
    """None when a trivial candidate runs and answers in `mode`; else why not."""
    result = run_cases(_PROBE_CODE, "probe", [[[1, "a"]]], Limits(isolation=mode), _mode=mode)
    case = result.cases[0] if result.cases else None
    if result.load == "ok" and case is not None and case.ok and case.value == [1, "a"]:
        return None
    reasons = [result.load_error, *result.events, result.output.strip()]
    return "; ".join(reason for reason in reasons if reason)[:500] or "no answer"


def _interpreter() -> tuple[str, list[str], dict[str, str]]:
    """The interpreter the runner execs, the host paths bound into its root, and symlinks to recreate."""
    python = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    binds = ["/usr"]
    if not prefix.startswith("/usr/"):
        binds.append(prefix)
    if not python.startswith(("/usr/", prefix + "/")):
        binds.append(os.path.dirname(python))
    links = {}
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            links[path] = os.readlink(path)
        elif os.path.isdir(path):
            binds.append(path)
    binds += [p for p in ("/etc/ld.so.cache", "/etc/localtime") if os.path.exists(p)]
    return python, binds, links


_mountpoint: str | None = None


def _root_mountpoint() -> str:
    """An empty folder the launcher mounts the run's private root on, inside its own mount namespace.

    One per user, reused by every run (the mount is private to each run); a folder of that name that
    is a symlink or someone else's is not used, a fresh one is made instead.
    """
    global _mountpoint
    if _mountpoint is None:
        path = Path(tempfile.gettempdir()) / f"agent-affect-sandbox-{os.geteuid()}"
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o755)
        info = path.lstat()
        if path.is_symlink() or not path.is_dir() or info.st_uid != os.geteuid():
            path = Path(tempfile.mkdtemp(prefix="agent-affect-sandbox-"))
        _mountpoint = str(path)
    return _mountpoint


class _Session:
    """One launcher process and its pipes: send a request, read the next answer before a deadline."""

    def __init__(self, mode: str, limits: Limits, result: RunResult) -> None:
        self.result = result
        self.limits = limits
        self.buffer = b""
        self.report: dict[str, Any] | None = None
        self.workdir: str | None = None
        self.finished = False
        uid = secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]
        python, binds, links = _interpreter()
        requests_r, self.requests = os.pipe()
        self.replies, replies_w = os.pipe()
        self.control, control_w = os.pipe()
        self.output, output_w = os.pipe()
        processes = limits.processes
        if mode == "userns" or (mode == "none" and os.geteuid() != 0):
            # Without a uid of its own, RLIMIT_NPROC counts every process this user already runs.
            processes += _count_processes(os.geteuid())
        config = {
            "mode": mode,
            "uid": uid,
            # Mode none is the explicit opt-out: the candidate runs with the caller's rights.
            "drop_uid": os.geteuid() == 0 and mode == "root",
            "python": python,
            "harness": str(HARNESS),
            "root": _root_mountpoint(),
            "binds": binds,
            "links": links,
            "tmp_bytes": int(limits.file_mb * 1024 * 1024),
            "env": {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": "/tmp",
                "TMPDIR": "/tmp",
                "LANG": "C.UTF-8",
            },
            "fds": {"requests": requests_r, "replies": replies_w, "control": control_w},
            "limits": {
                "cpu_s": math.ceil(limits.cpu_s),
                "memory_bytes": int(limits.memory_mb * 1024 * 1024),
                "file_bytes": int(limits.file_mb * 1024 * 1024),
                "open_files": int(limits.open_files),
                "processes": int(processes),
            },
        }
        if mode == "none":
            self.workdir = tempfile.mkdtemp(prefix="agent-affect-candidate-")
            config["workdir"] = self.workdir
            config["env"] = dict(config["env"], HOME=self.workdir, TMPDIR=self.workdir)
        try:
            self.process = subprocess.Popen(
                [python, "-I", "-S", str(LAUNCHER), json.dumps(config)],
                stdin=subprocess.DEVNULL,
                stdout=output_w,
                stderr=output_w,
                pass_fds=(requests_r, replies_w, control_w),
                env={"PATH": "/usr/bin:/bin"},
                start_new_session=True,
            )
        finally:
            for fd in (requests_r, replies_w, control_w, output_w):
                os.close(fd)
        result.processes_started += 1
        for fd in (self.requests, self.replies, self.control, self.output):
            os.set_blocking(fd, False)
        self.selector = selectors.DefaultSelector()
        for fd in (self.replies, self.control, self.output):
            self.selector.register(fd, selectors.EVENT_READ)
        self.open = {self.replies, self.control, self.output}

    def send(self, message: dict[str, Any], deadline: float) -> bool:
        """Write one request line before `deadline`; False when the runner is gone or does not read."""
        data = (json.dumps(message) + "\n").encode()
        while data:
            try:
                data = data[os.write(self.requests, data) :]
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with selectors.DefaultSelector() as writable:
                    writable.register(self.requests, selectors.EVENT_WRITE)
                    writable.select(min(remaining, 0.1))
            except OSError:
                return False
        return True

    def receive(self, deadline: float) -> dict[str, Any] | str:
        """The next answer, or "timeout", "eof" (the runner ended), "too_large" or "garbled"."""
        limit = self.limits.reply_kb * 1024
        while True:
            if b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError):
                    return "garbled"
                return message if isinstance(message, dict) else "garbled"
            if len(self.buffer) > limit:
                return "too_large"
            if self.replies not in self.open:
                return "eof"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            for key, _ in self.selector.select(remaining):
                self._read(key.fd)

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            self.selector.unregister(fd)
            self.open.discard(fd)
            return
        if fd == self.replies:
            self.buffer += chunk
        elif fd == self.output:
            keep = self.limits.output_kb * 1024 - len(self.result.output.encode())
            if keep > 0:
                self.result.output += chunk[:keep].decode("utf-8", "replace")
            self.result.output_bytes += len(chunk)
        elif fd == self.control:
            for line in chunk.splitlines():
                with contextlib.suppress(ValueError):
                    self.report = json.loads(line)

    def finish(self, kill: bool) -> dict[str, Any] | None:
        """End the run and return init's report (None when there was none); safe to call twice.

        Without `kill` the runner is told to stop by the end of its input and given a moment to do
        so; with it, or when that moment passes, the launcher gets SIGTERM, kills init and waits
        until the namespace, and everything the candidate started in it, is gone.
        """
        if self.finished:
            return self.report
        self.finished = True
        with contextlib.suppress(OSError):
            os.close(self.requests)
        if not kill:
            self._collect(time.monotonic() + _REPORT_GRACE_S)
            kill = self.process.poll() is None
        if kill:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            self._collect(time.monotonic() + _TERMINATE_GRACE_S)
            if self.process.poll() is None:
                # Only PR_SET_PDEATHSIG is left: killing the launcher kills init, and init the rest.
                self.process.kill()
                self.process.wait()
                self.result.note("the launcher did not stop on SIGTERM and was killed")
        self.selector.close()
        for fd in (self.replies, self.control, self.output):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.report is not None:
            self.result.cpu_s += float(self.report.get("cpu_all_s", 0.0))
            self.result.max_rss_kb = max(self.result.max_rss_kb, int(self.report.get("max_rss_kb", 0)))
        return self.report

    def _collect(self, deadline: float) -> None:
        """Drain output and the control pipe until both close, then wait for the launcher, by `deadline`.

        Both pipes close only when every process that could write to them is gone: the launcher,
        init, and (through the PID namespace) everything the candidate started.
        """
        while self.control in self.open or self.output in self.open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for key, _ in self.selector.select(remaining):
                self._read(key.fd)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(max(0.0, deadline - time.monotonic()))


def _count_processes(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def describe_exit(report: dict[str, Any] | None, limits: Limits) -> tuple[str, str]:
    """(kind, text) for how a runner ended: kind is "timeout", "limit" or "error"."""
    if report is None:
        return "error", "the sandbox ended without a report (its setup failed or it was killed)"
    code = int(report["exit"])
    cpu = float(report.get("cpu_s", 0.0))
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and cpu >= limits.cpu_s):
        return "timeout", f"CPU time limit of {limits.cpu_s} s reached"
    if code == -signal.SIGXFSZ:
        return "limit", f"file size limit of {limits.file_mb} MB reached"
    if code == -signal.SIGKILL:
        return "error", "the runner was killed"
    if code < 0:
        return "error", f"the runner died from signal {signal.Signals(-code).name}"
    if code == 125:
        return "error", "the sandbox could not start the runner"
    return "error", f"the candidate exited the process (exit code {code}) before answering"


def run_cases(
    code: str,
    function: str,
    inputs: Sequence[list[Any]],
    limits: Limits | None = None,
    case_seconds: Sequence[float | None] | None = None,
    *,
    _mode: str | None = None,
) -> RunResult:
    """Run `function` of `code` on every argument list in `inputs`, each in turn, in the sandbox.

    A case that runs past its time (``case_seconds[i]``, else ``limits.case_s``) or ends its process
    is recorded, and the remaining cases go on in a fresh process while ``limits.wall_s`` and
    ``limits.restarts`` last; cases never reached stay unanswered.
    """
    limits = limits or Limits()
    mode = _mode or resolve_isolation(limits.isolation)
    result = RunResult(isolation=mode, cases=[CaseResult(index=i) for i in range(len(inputs))])
    wall_deadline = time.monotonic() + limits.wall_s
    pending = 0
    restarts = 0
    while True:
        session = _Session(mode, limits, result)
        killed = True
        try:
            pending, killed = _drive(
                session, code, function, inputs, pending, limits, case_seconds, wall_deadline
            )
        finally:
            session.finish(kill=killed)
        if result.load != "ok" or pending >= len(inputs):
            break
        if time.monotonic() >= wall_deadline:
            result.note(
                f"wall-clock limit of {limits.wall_s:g} s reached; {len(inputs) - pending} cases not run"
            )
            break
        if restarts >= limits.restarts:
            result.note(f"{restarts} fresh processes used up; {len(inputs) - pending} cases not run")
            break
        restarts += 1
    return result


def _drive(
    session: _Session,
    code: str,
    function: str,
    inputs: Sequence[list[Any]],
    first: int,
    limits: Limits,
    case_seconds: Sequence[float | None] | None,
    wall_deadline: float,
) -> tuple[int, bool]:
    """Load the candidate and run cases from `first` on; (next case to run, whether to kill)."""
    result = session.result
    deadline = min(time.monotonic() + limits.load_s, wall_deadline)
    if not session.send({"code": code, "function": function}, deadline):
        _record_load_failure(session, "eof", limits)
        return first, True
    answer = session.receive(deadline)
    if isinstance(answer, str) or answer.get("load") != "ok":
        _record_load_failure(session, answer, limits)
        return first, True
    result.tamper.update(answer.get("tamper") or [])
    for index in range(first, len(inputs)):
        case = result.cases[index]
        budget = (case_seconds[index] if case_seconds and case_seconds[index] else None) or limits.case_s
        began = time.monotonic()
        deadline = min(began + budget, wall_deadline)
        answer = (
            session.receive(deadline)
            if session.send({"i": index, "args": inputs[index]}, deadline)
            else "eof"
        )
        case.seconds = time.monotonic() - began
        if isinstance(answer, str):
            _record_no_answer(session, case, answer, budget, limits)
            return index + 1, True
        if answer.get("i") != index or ("ok" not in answer):
            result.tamper.add("protocol")
            case.error = f"the answer to case {index} came back out of order or malformed"
            result.note(case.error)
            return len(inputs), True
        case.answered = True
        case.ok = bool(answer["ok"])
        case.value = answer.get("value")
        case.error = answer.get("error")
        case.kind = answer.get("kind")
        result.tamper.update(answer.get("tamper") or [])
    return len(inputs), False


def _record_load_failure(session: _Session, answer: dict[str, Any] | str, limits: Limits) -> None:
    result = session.result
    if isinstance(answer, dict):
        if "load" not in answer:
            result.tamper.add("protocol")
            result.note("an answer arrived before the module was loaded")
        result.load = {"no_function": "no_function"}.get(str(answer.get("load")), "error")
        result.load_error = str(answer.get("error", "the module could not be loaded"))
        if "MemoryError" in result.load_error:
            result.load = "limit"
        return
    if answer == "timeout":
        result.load, result.load_error = "timeout", f"loading the module took longer than {limits.load_s} s"
        return
    kind, text = describe_exit(session.finish(kill=answer != "eof"), limits)
    result.load = kind
    result.load_error = f"while loading the module: {text}"


def _record_no_answer(
    session: _Session, case: CaseResult, answer: str, budget: float, limits: Limits
) -> None:
    result = session.result
    if answer == "timeout":
        case.kind = "timeout"
        case.error = f"no answer within {budget:g} s"
    elif answer == "too_large":
        case.kind = "limit"
        case.error = f"the return value is larger than {limits.reply_kb} KB"
    elif answer == "garbled":
        result.tamper.add("protocol")
        case.kind = "error"
        case.error = "the answer was not valid JSON"
    else:
        case.kind, case.error = describe_exit(session.finish(kill=False), limits)
    result.note(f"case {case.index}: {case.error}")


__all__ = [
    "ISOLATION_MODES",
    "CaseResult",
    "Limits",
    "RunResult",
    "SandboxUnavailable",
    "describe_exit",
    "resolve_isolation",
    "run_cases",
]
