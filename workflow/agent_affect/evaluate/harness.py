"""The trusted runner inside the sandbox: load the candidate, call its function, send back plain data.

This file is executed, not imported, by the sandboxed interpreter (``python -I -S -c <this source>
IN_FD OUT_FD``) as an unprivileged user, so it uses the standard library only. It never sees an
expected output: the parent sends one request line at a time on IN_FD and compares the answers it
reads from OUT_FD itself. Everything here runs in the same process as the candidate, which can read
and change it at will; that is why nothing here decides a pass. The worst a candidate that rewrites
this runner can do is send some JSON for the current input, which is what returning it would do.

Protocol (one JSON object per line):
  parent -> {"code": SOURCE, "function": NAME}
  child  -> {"load": "ok"} | {"load": "no_function" | "error", "error": TEXT}
  parent -> {"i": N, "args": [...]}          (only after the answer to N-1 has arrived)
  child  -> {"i": N, "ok": true, "value": V, "tamper": [...]} | {"i": N, "ok": false, "error": TEXT, ...}
End of input: the runner exits at once with os._exit, so atexit hooks and threads of the candidate
never run after the last answer.
"""

import builtins
import contextlib
import json
import os
import sys
import types

_PLAIN_SCALARS = (type(None), bool, int, float, str)
_MAX_DEPTH = 100
_write = os.write
_exit = os._exit
_dumps = json.dumps
_loads = json.loads
_type = type


class NotPlainData(TypeError):
    """A return value that is not JSON-like data: it never leaves this process."""


def plain(value: object, depth: int = 0) -> object:
    """A copy of value made only of None, bool, int, float, str, list and str-keyed dict.

    Exact types: a subclass of str or int (which could carry its own __eq__) is refused, as is any
    other object; tuples become lists, the one conversion a prompt's "list" may reasonably get.
    """
    if depth > _MAX_DEPTH:
        raise NotPlainData(f"return value nested deeper than {_MAX_DEPTH} levels")
    kind = _type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind is list or kind is tuple:
        return [plain(item, depth + 1) for item in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if _type(key) is not str:
                raise NotPlainData(f"dict key {key!r} of type {_type(key).__name__} is not a str")
            out[key] = plain(item, depth + 1)
        return out
    raise NotPlainData(
        f"return value of type {kind.__name__} is not plain data (None, bool, int, "
        "float, str, list, tuple or dict with str keys)"
    )


class _Lines:
    """Newline-framed reads from a raw fd (no io buffering a candidate could drain or replace)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def read(self) -> object:
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return _loads(line)


def _send(fd: int, message: dict) -> None:
    data = (_dumps(message, allow_nan=True) + "\n").encode()
    while data:
        data = data[_write(fd, data) :]


def _describe(error: BaseException) -> str:
    return f"{_type(error).__name__}: {error}"[:2000]


def _snapshot() -> dict:
    """Identity of the objects a pass could hinge on, to notice a candidate that swaps them."""
    return {
        "builtins": {name: id(value) for name, value in vars(builtins).items()},
        "json": {name: id(getattr(json, name)) for name in ("dumps", "loads", "JSONEncoder")},
        "os": {name: id(getattr(os, name)) for name in ("write", "_exit", "read")},
    }


def _tampered(before: dict) -> list:
    after = _snapshot()
    changed = []
    for group, names in before.items():
        now = after[group]
        changed += [f"{group}.{name}" for name, ident in names.items() if now.get(name) != ident]
        changed += [f"{group}.{name} (added)" for name in now.keys() - names.keys()]
    return sorted(changed)


def _quit() -> None:
    """Exit now, skipping the candidate's atexit hooks and threads; its printed output still goes out."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    _exit(0)


def main(in_fd: int, out_fd: int) -> None:
    requests = _Lines(in_fd)
    setup = requests.read()
    if setup is None:
        _quit()
    path = os.path.join(os.getcwd(), "candidate.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(setup["code"])
    module = types.ModuleType("candidate")
    module.__file__ = path
    sys.modules["candidate"] = module
    sys.setrecursionlimit(10_000)
    before = _snapshot()
    try:
        exec(compile(setup["code"], path, "exec"), module.__dict__)
    except BaseException as error:
        # SystemExit and KeyboardInterrupt too: a module body that exits has not defined a function.
        import traceback  # only here: it is the slowest import of the runner's start

        _send(out_fd, {"load": "error", "error": _describe(error), "trace": traceback.format_exc()[-4000:]})
        _quit()
    function = module.__dict__.get(setup["function"])
    if not callable(function):
        _send(out_fd, {"load": "no_function", "error": f"no function named {setup['function']!r}"})
        _quit()
    _send(out_fd, {"load": "ok", "tamper": _tampered(before)})
    while True:
        request = requests.read()
        if request is None:
            _quit()
        answer = {"i": request["i"]}
        try:
            answer["value"] = plain(function(*request["args"]))
            answer["ok"] = True
        except BaseException as error:
            answer["ok"] = False
            answer["error"] = _describe(error)
            answer["kind"] = _type(error).__name__
        answer["tamper"] = _tampered(before)
        try:
            _send(out_fd, answer)
        except (TypeError, ValueError) as error:
            _send(out_fd, {"i": request["i"], "ok": False, "error": _describe(error), "kind": "encode"})


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
