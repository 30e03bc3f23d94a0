"""Hostile and cheating candidates: each is contained, and none is scored as a pass.

Where an attack could buy a pass, the candidate answers correctly only if the attack worked (it
returns ``a + b`` when it could delete the host file, reach the network, read the tests...), so
"not a pass" is the proof that the attack failed, and a host-side check shows it from the outside too.
Attacks on resources (fork and memory bombs, endless loops) never answer; for those the proof is that
the evaluation ends within its limits and leaves no process behind. After every test, no process of
any sandbox uid may be alive on the host.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from agent_affect.evaluate import TASKS, Limits, Task, evaluate, load_suite, run_cases


@pytest.fixture(autouse=True)
def nothing_left_behind(leftovers):
    yield
    assert leftovers() == [], "a sandboxed process outlived its evaluation"


def _not_pass(verdict) -> None:
    assert verdict.status != "pass", verdict.to_dict()
    assert verdict.hidden_passed < verdict.hidden_total or verdict.visible_passed < verdict.visible_total


def test_deleting_host_files_is_contained(add_task: Task, limits: Limits, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data.txt").write_text("keep me")
    # World-writable: only the mount namespace, not file permissions, keeps the candidate out.
    tmp_path.chmod(0o777)
    target.chmod(0o777)
    code = f"""
import os, shutil
TARGET = {str(target)!r}
def add(a, b):
    deleted = os.path.exists(TARGET)
    shutil.rmtree(TARGET, ignore_errors=True)
    deleted = deleted and not os.path.exists(TARGET)
    for path in ("/usr/bin/python3", os.__file__):
        try:
            os.remove(path)
            deleted = True
        except OSError:
            pass
    return a + b if deleted else a + b + 1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert (target / "data.txt").read_text() == "keep me"
    assert Path("/usr/bin/python3").exists()
    assert "tamper_files" in verdict.flags


def test_writing_outside_its_folder_is_contained(add_task: Task, limits: Limits, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    outside = tmp_path / "planted.txt"
    code = f"""
def add(a, b):
    written = 0
    for path in ({str(outside)!r}, "/usr/planted.txt", "/etc/planted.txt", "/planted.txt"):
        try:
            with open(path, "w") as handle:
                handle.write("x")
            written += 1
        except OSError:
            pass
    return a + b if written else -1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert not outside.exists() and not Path("/usr/planted.txt").exists()


def test_fork_bomb_is_contained(add_task: Task, limits: Limits) -> None:
    code = """
import os
def add(a, b):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""
    began = time.monotonic()
    verdict = evaluate(add_task, code, replace(limits, restarts=0))
    _not_pass(verdict)
    assert verdict.status in ("timeout", "error", "limit")
    assert time.monotonic() - began < limits.wall_s + 5


def test_fork_bomb_in_module_body_is_contained(add_task: Task, limits: Limits) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    verdict = evaluate(add_task, code, replace(limits, load_s=1.5))
    _not_pass(verdict)
    assert verdict.status in ("timeout", "error", "limit")


def test_memory_bomb_is_contained(add_task: Task, limits: Limits) -> None:
    code = """
hoard = []
def add(a, b):
    while True:
        try:
            hoard.append(bytearray(50 * 1024 * 1024))
        except MemoryError:
            hoard.clear()
            raise
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.status == "limit", verdict.detail


def test_endless_loop_times_out(add_task: Task, limits: Limits) -> None:
    began = time.monotonic()
    verdict = evaluate(
        add_task, "def add(a, b):\n    while True:\n        pass\n", replace(limits, restarts=0)
    )
    _not_pass(verdict)
    assert verdict.status == "timeout"
    assert time.monotonic() - began < limits.wall_s + 5


def test_ignoring_signals_and_sleeping_times_out(add_task: Task, limits: Limits) -> None:
    code = """
import signal, time
for name in ("SIGTERM", "SIGINT", "SIGXCPU", "SIGHUP", "SIGUSR1"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
def add(a, b):
    time.sleep(10**6)
"""
    verdict = evaluate(add_task, code, replace(limits, restarts=0))
    _not_pass(verdict)
    assert verdict.status == "timeout"


def test_network_is_unreachable(add_task: Task, limits: Limits) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    code = f"""
import socket
def add(a, b):
    for address in (("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 443)):
        try:
            socket.create_connection(address, timeout=0.3).close()
            return a + b
        except OSError:
            pass
    return -1
"""
    verdict = evaluate(add_task, code, limits)
    done.set()
    listener.join()
    server.close()
    _not_pass(verdict)
    assert accepted == []


def test_background_children_do_not_outlive_the_run(add_task: Task, limits: Limits, leftovers) -> None:
    marker = f"agent-affect-daemon-{time.monotonic_ns()}"
    code = f"""
import os, subprocess, sys, time
def add(a, b):
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}]
    subprocess.Popen(sleeper, start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, sleeper)
        os._exit(0)
    return a + b + 1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert leftovers(marker) == []


def test_hidden_tests_cannot_be_read(limits: Limits) -> None:
    task = load_suite()["fibonacci"]
    task_file = str(TASKS / "fibonacci.yaml")
    code = f"""
import os, re
def _find():
    paths = [{task_file!r}]
    for root, _, files in os.walk("/"):
        if root.startswith(("/proc", "/usr", "/sys")):
            continue
        paths += [os.path.join(root, name) for name in files if name.endswith((".yaml", ".json"))]
    for path in paths:
        try:
            text = open(path).read()
        except OSError:
            continue
        if "hidden:" in text:
            return text
    return ""
TEXT = _find()
def fibonacci(n):
    match = re.search(r"args: \\[" + str(n) + r"\\]\\n\\s*expected: (\\d+)", TEXT)
    return int(match.group(1)) if match else -1
"""
    verdict = evaluate(task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0 and verdict.hidden_passed == 0
    assert "tamper_files" in verdict.flags
    probe = run_cases(f"import os\ndef f():\n    return os.path.exists({task_file!r})\n", "f", [[]], limits)
    assert probe.cases[0].value is False


def test_reading_inputs_ahead_gets_nothing(add_task: Task, limits: Limits) -> None:
    code = """
import os
STOLEN = []
for fd in map(int, os.listdir("/proc/self/fd")):
    if fd > 2:
        try:
            os.set_blocking(fd, False)
            STOLEN.append(os.read(fd, 1 << 20))
        except OSError:
            pass
def add(a, b):
    return a + b if any(b"[5, 7]" in chunk for chunk in STOLEN) else -1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert "tamper_patch" in verdict.flags


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n",
        "import os\nos._exit(0)\ndef add(a, b):\n    return a + b\n",
        "import os\ndef add(a, b):\n    os._exit(0)\n",
        "import sys\ndef add(a, b):\n    raise SystemExit(0)\n",
        "import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    ],
    ids=["sys.exit in module", "os._exit in module", "os._exit in call", "SystemExit in call", "kill self"],
)
def test_exiting_early_is_not_a_pass(add_task: Task, limits: Limits, code: str) -> None:
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.status in ("error", "fail")
    assert "tamper_exit" in verdict.flags


def test_printing_passed_is_not_a_pass(add_task: Task, limits: Limits) -> None:
    code = """
import sys
def add(a, b):
    for stream in (sys.stdout, sys.stderr):
        stream.write("PASSED\\nall tests passed\\n")
        for i in range(4):
            stream.write('{"i": %d, "ok": true, "value": 3}\\n' % i)
        stream.flush()
    return None
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0


def test_forged_answers_break_the_protocol(add_task: Task, limits: Limits) -> None:
    code = """
import json, os, stat
def _reply_fds():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode) and os.get_blocking(fd) is not None:
                fds.append(fd)
        except OSError:
            pass
    return fds
GUESSES = [3, 30, 0, 0]
for fd in _reply_fds():
    for i, value in enumerate(GUESSES):
        try:
            os.write(fd, (json.dumps({"i": i, "ok": True, "value": value}) + "\\n").encode())
        except OSError:
            pass
def add(a, b):
    return 0
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert "tamper_patch" in verdict.flags


def test_thread_forging_a_later_answer_breaks_the_protocol(add_task: Task, limits: Limits) -> None:
    code = """
import os, threading, time
def _forge():
    time.sleep(0.05)
    for fd in range(3, 10):
        try:
            os.write(fd, b'{"i": 1, "ok": true, "value": 30}\\n')
        except OSError:
            pass
threading.Thread(target=_forge, daemon=True).start()
def add(a, b):
    time.sleep(0.2)
    return -1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.status in ("error", "fail")
    assert verdict.visible_passed <= 1


def test_patching_json_builtins_and_the_harness_is_not_a_pass(add_task: Task, limits: Limits) -> None:
    code = """
import builtins, json, sys
_real_dumps = json.dumps
def fake_dumps(obj, *args, **kwargs):
    if isinstance(obj, dict) and "i" in obj:
        obj = dict(obj, ok=True, value="PASS")
    return _real_dumps(obj, *args, **kwargs)
json.dumps = fake_dumps
builtins.isinstance = lambda obj, kind: True
main = sys.modules["__main__"]
main.plain = lambda value, depth=0: "PASS"
main._dumps = fake_dumps
def add(a, b):
    return a + b + 1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0
    assert "tamper_patch" in verdict.flags


def test_always_equal_object_is_not_a_pass(add_task: Task, limits: Limits) -> None:
    code = """
class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
class Sneaky(int):
    def __eq__(self, other):
        return True
def add(a, b):
    return AlwaysEqual() if a < 10 else Sneaky(0)
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0 and verdict.hidden_passed == 0
    assert "tamper_patch" in verdict.flags
    assert "not plain data" in verdict.visible_cases[0]["error"]


def test_inspecting_frames_and_memory_finds_no_expected_output(add_task: Task, limits: Limits) -> None:
    code = """
import gc, sys
def add(a, b):
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
            if isinstance(value, dict) and "expected" in value:
                return value["expected"]
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "expected" in obj:
            return obj["expected"]
    return -1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0
    assert "tamper_patch" in verdict.flags


def test_escape_attempts_fail(add_task: Task, limits: Limits) -> None:
    code = """
import ctypes, os, signal
def _attempts():
    libc = ctypes.CDLL(None, use_errno=True)
    yield lambda: os.setuid(0)
    yield lambda: os.chroot("/tmp")
    yield lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0 or os.strerror(1 / 0)
    yield lambda: libc.unshare(0x10000000 | 0x00020000) == 0 or 1 / 0
    yield lambda: open("/proc/1/environ").read()
    yield lambda: open("/proc/1/mem", "rb").read(1)
    yield lambda: os.kill(1, signal.SIGKILL)
def add(a, b):
    escaped = 0
    for attempt in _attempts():
        try:
            attempt()
            escaped += 1
        except (OSError, ZeroDivisionError, ValueError):
            pass
    return a + b if escaped else -1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0


def test_crashing_the_interpreter_is_an_error(add_task: Task, limits: Limits) -> None:
    code = "import ctypes\ndef add(a, b):\n    return ctypes.string_at(0)\n"
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.status == "error"
    assert "SIGSEGV" in verdict.detail


def test_flooding_output_is_bounded(add_task: Task, limits: Limits) -> None:
    code = "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('x' * 65536)\n"
    verdict = evaluate(add_task, code, replace(limits, restarts=0))
    _not_pass(verdict)
    assert len(verdict.detail) <= 2000


def test_huge_return_value_is_a_limit(add_task: Task, limits: Limits) -> None:
    verdict = evaluate(add_task, "def add(a, b):\n    return 'x' * (20 * 1024 * 1024)\n", limits)
    _not_pass(verdict)
    assert verdict.status == "limit"


def test_filling_the_disk_is_contained(add_task: Task, limits: Limits) -> None:
    code = """
def add(a, b):
    written = 0
    try:
        with open("fill.bin", "wb") as handle:
            while written < 200 * 1024 * 1024:
                handle.write(b"x" * (1 << 20))
                written += 1 << 20
    except OSError:
        pass
    return a + b if written >= 200 * 1024 * 1024 else -1
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.status in ("limit", "fail", "error")


def test_faking_the_clock_does_not_beat_a_time_limit() -> None:
    task = load_suite()["invert_sha256"]
    code = """
import hashlib, time
from itertools import product
from string import ascii_lowercase
for name in ("time", "monotonic", "perf_counter", "process_time"):
    setattr(time, name, lambda: 0.0)
def invert_sha256(digest):
    for length in range(1, 11):
        for letters in product(ascii_lowercase, repeat=length):
            candidate = "".join(letters)
            if hashlib.sha256(candidate.encode()).hexdigest() == digest:
                return candidate
"""
    verdict = evaluate(task, code, Limits(wall_s=6.0, restarts=0, memory_mb=256))
    _not_pass(verdict)
    assert verdict.status == "timeout"
    assert verdict.visible_passed == 0
    assert "tamper_patch" in verdict.flags


@pytest.mark.parametrize(
    "code",
    [
        "import os\ndef add(a, b):\n    os.closerange(3, 256)\n    return a + b\n",
        "import os\ndef add(a, b):\n    null = os.open('/dev/null', os.O_WRONLY)\n"
        "    for fd in range(3, 16):\n        if fd != null:\n            os.dup2(null, fd)\n"
        "    return a + b\n",
    ],
    ids=["close every fd", "point every fd at /dev/null"],
)
def test_closing_or_redirecting_the_harness_fds_is_not_a_pass(
    add_task: Task, limits: Limits, code: str
) -> None:
    verdict = evaluate(add_task, code, replace(limits, restarts=0))
    _not_pass(verdict)
    # The function's sums are right: whether the first answer gets out before the redirect bites
    # depends on which fd numbers the runner's channels got (it varies between runs). What must
    # never happen is that the disrupted run counts as a pass.
    assert verdict.visible_passed < verdict.visible_total
    assert verdict.status in ("error", "timeout")


def test_atexit_hooks_never_run(add_task: Task, limits: Limits) -> None:
    # The hook would answer every case with the right visible answer after the runner is done.
    code = """
import atexit, os
def _late_answers():
    for fd in range(3, 16):
        for i, value in enumerate((3, 30, 12, 99)):
            try:
                os.write(fd, b'{"i": %d, "ok": true, "value": %d}\\n' % (i, value))
            except OSError:
                pass
atexit.register(_late_answers)
def add(a, b):
    return None
"""
    verdict = evaluate(add_task, code, limits)
    _not_pass(verdict)
    assert verdict.visible_passed == 0 and verdict.hidden_passed == 0
    assert "tamper_patch" in verdict.flags
