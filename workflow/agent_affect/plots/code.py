"""The code behind one figure, hashed, so that editing one figure's function reruns that figure alone.

Rules declare a figure's hash as a param (Snakemake reruns a job whose params changed) instead of the
whole plotting module as an input (any edit to the file would rerun every figure drawn from it). The
hash covers the figure's function, every function of the same module it calls (transitively), and the
module-level constants those read; the shared style module stays a file input of every figure.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from types import CodeType, FunctionType, ModuleType


def _names(code: CodeType) -> set[str]:
    """Global names a function's code (and its nested functions, lambdas, comprehensions) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


def figure_source(module: ModuleType, function: FunctionType) -> str:
    parts: dict[str, str] = {}
    stack = [function]
    while stack:
        current = stack.pop()
        if current.__name__ in parts:
            continue
        parts[current.__name__] = inspect.getsource(current)
        for name in sorted(_names(current.__code__)):
            value = module.__dict__.get(name)
            if isinstance(value, FunctionType) and value.__module__ == module.__name__:
                stack.append(value)
            elif isinstance(value, str | int | float | tuple | dict | frozenset) and not name.startswith(
                "__"
            ):
                parts.setdefault(f"const {name}", f"{name} = {value!r}")
    return "\n".join(parts[key] for key in sorted(parts))


def figure_hash(module_name: str, figure: str, registry: str = "FIGURES") -> str:
    """sha256 of the code that draws `figure` (a key of the module's FIGURES)."""
    module = importlib.import_module(module_name)
    function = getattr(module, registry)[figure]
    return hashlib.sha256(figure_source(module, function).encode()).hexdigest()
