"""Model folders are untrusted input: each hostile or broken folder gets a ModelLoadError naming the file (and
the key or tensor) before anything large is allocated, and nothing hangs."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file

from core.model import ModelLoadError, load_model
from tests.model.conftest import CHECKPOINT

QUICK_S = 20.0  # a refused folder is refused at once; generous for a loaded shared machine


def _edit_json(path: Path, **changes) -> None:
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


def _refused(folder: Path, *fragments: str) -> ModelLoadError:
    t0 = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        load_model(folder, device="cpu", dtype="float32")
    assert time.monotonic() - t0 < QUICK_S
    err = info.value
    assert err.problem and err.fix
    for fragment in fragments:
        assert fragment in err.problem, err.problem
    return err


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("num_hidden_layers", 10_000_000, "num_hidden_layers = 10000000"),
    ("num_hidden_layers", 1e7, "num_hidden_layers = 10000000.0"),
    ("num_hidden_layers", 0, "from 1 to 512"),
    ("num_hidden_layers", "24", "a whole number"),
    ("num_hidden_layers", True, "a whole number"),
    ("hidden_size", 63, "a multiple of num_attention_heads"),
    ("vocab_size", 1 << 40, "vocab_size"),
    ("num_frames", 0, "num_frames"),
    ("num_frames", 100_000, "num_frames"),
    ("rms_norm_eps", -1.0, "rms_norm_eps"),
    ("eos_token_id", [671, -3], "eos_token_id"),
    ("hidden_act", "relu", "hidden_act"),
])
@pytest.mark.timeout(120)
def test_implausible_checkpoint_config_values(checkpoint_copy, key, value, fragment):
    _edit_json(checkpoint_copy / "config.json", **{key: value})
    err = _refused(checkpoint_copy, fragment, str(checkpoint_copy / "config.json"))
    assert key in err.fix


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"image_size": 10_000_000}, "image_size = 10000000"),  # would allocate ~4e11 position ids
    ({"patch_size": 0}, "patch_size = 0"),  # would divide by zero
    ({"image_size": 4096, "patch_size": 1}, "image_size = 4096"),  # 16.7 M patches
    ({"patch_size": 448}, "patch_size = 448"),  # larger than the image
    ({"num_hidden_layers": 10_000_000}, "num_hidden_layers"),
])
@pytest.mark.timeout(120)
def test_implausible_vision_config_values(checkpoint_copy, changes, fragment):
    _edit_json(checkpoint_copy / "siglip" / "config.json", **changes)
    _refused(checkpoint_copy, fragment, str(checkpoint_copy / "siglip" / "config.json"))


@pytest.mark.parametrize(("file", "key", "value"), [
    ("whisper/config.json", "num_mel_bins", 0),
    ("whisper/config.json", "encoder_layers", 10**9),
    ("whisper/config.json", "num_labels", 10**7),
    ("bert/config.json", "max_position_embeddings", 10**9),
    ("bert/config.json", "num_attention_heads", 0),
])
@pytest.mark.timeout(120)
def test_implausible_tower_and_bert_config_values(checkpoint_copy, file, key, value):
    _edit_json(checkpoint_copy / file, **{key: value})
    _refused(checkpoint_copy, key, str(checkpoint_copy / file))


@pytest.mark.parametrize("content", ["[1, 2]", "{\"eos_token_id\": \"end\"}", "{\"repetition_penalty\": -2}",
                                     "{\"repetition_penalty\": \"high\"}", "{\"eos_token_id\": [1.5]}",
                                     "not json", "\"\""])
def test_garbage_generation_config_names_the_file(checkpoint_copy, content):
    (checkpoint_copy / "generation_config.json").write_text(content)
    _refused(checkpoint_copy, str(checkpoint_copy / "generation_config.json"))


def test_config_that_is_not_an_object(checkpoint_copy):
    (checkpoint_copy / "config.json").write_text("[]")
    _refused(checkpoint_copy, "not an object", "config.json")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.json", "generation_config.json",
                                  "whisper/model.safetensors", "bert/vocab.txt"])
def test_a_fifo_is_refused_not_read(checkpoint_copy, name):
    """A named pipe would block the reader forever; it is refused (and never opened for blocking reads)."""
    target = checkpoint_copy / name
    target.unlink()
    os.mkfifo(target)
    _refused(checkpoint_copy, "not a regular file", "named pipe", str(target))


def test_a_folder_where_a_file_belongs(checkpoint_copy):
    (checkpoint_copy / "generation_config.json").unlink()
    (checkpoint_copy / "generation_config.json").mkdir()
    _refused(checkpoint_copy, "not a regular file", "folder")


def test_symlinks_to_regular_files_load_like_a_hub_cache_snapshot(checkpoint_copy, tmp_path, parity_model):
    """Hugging Face cache snapshots are symlinks into a blob store: they must keep working."""
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for f in sorted(checkpoint_copy.rglob("*")):
        if f.is_file():
            blob = blobs / f"{len(list(blobs.iterdir())):04d}"
            f.rename(blob)
            f.symlink_to(blob)
    m = load_model(checkpoint_copy, device="cpu", dtype="float32")
    try:
        sa, sb = m.module.state_dict(), parity_model.module.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sb)
    finally:
        m.close()


def test_a_symlink_to_a_device_is_refused(checkpoint_copy):
    (checkpoint_copy / "config.json").unlink()
    (checkpoint_copy / "config.json").symlink_to("/dev/zero")
    _refused(checkpoint_copy, "not a regular file", "character device")


def _rewrite_tensor(folder: Path, key: str, make) -> None:
    path = folder / "model.safetensors"
    tensors = load_file(path)
    tensors[key] = make(tensors[key])
    save_file(tensors, path)


@pytest.mark.parametrize(("dtype", "name"), [(torch.int8, "int8"), (torch.bool, "bool"), (torch.int64, "int64")])
def test_non_float_tensors_are_refused_by_name(checkpoint_copy, dtype, name):
    key = "model.layers.0.mlp.down_proj.weight"
    _rewrite_tensor(checkpoint_copy, key, lambda t: (t * 100).to(dtype))
    _refused(checkpoint_copy, key, name, "floating-point")


@pytest.mark.parametrize(("value", "what"), [(float("nan"), "1 NaN and 0 infinite"),
                                             (float("inf"), "0 NaN and 1 infinite")])
def test_nan_and_infinity_are_found_and_named(checkpoint_copy, value, what):
    key = "model.mm_projector.readout_video.0.weight"

    def poison(t):
        t = t.clone()
        t.view(-1)[7] = value
        return t

    _rewrite_tensor(checkpoint_copy, key, poison)
    _refused(checkpoint_copy, key, what, str(checkpoint_copy / "model.safetensors"))


def test_a_tensor_in_a_tower_folder_is_scanned_too(checkpoint_copy):
    path = checkpoint_copy / "whisper" / "model.safetensors"
    tensors = load_file(path)
    key = next(k for k in tensors if k.endswith("fc1.weight"))
    tensors[key] = tensors[key].clone().fill_(float("nan"))
    save_file(tensors, path)
    _refused(checkpoint_copy, key, "NaN", "audio tower")


def _write_raw_safetensors(path: Path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize(("header", "data", "fragment"), [
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, "does not fit"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "overlap"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
    ({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype"),
    ({"a": [1, 2]}, b"", "not an object"),
])
def test_damaged_safetensors_headers(checkpoint_copy, header, data, fragment):
    _write_raw_safetensors(checkpoint_copy / "model.safetensors", header, data)
    _refused(checkpoint_copy, fragment, "safetensors")


def test_index_shards_must_sit_beside_the_index(checkpoint_copy):
    outside = checkpoint_copy.parent / "elsewhere.safetensors"
    (checkpoint_copy / "model.safetensors").rename(outside)
    index = {"weight_map": {"model.norm.weight": "../elsewhere.safetensors"}}
    (checkpoint_copy / "model.safetensors.index.json").write_text(json.dumps(index))
    _refused(checkpoint_copy, "not a file name in that folder")


def test_the_parity_checkpoint_itself_passes_every_check():
    m = load_model(CHECKPOINT, device="cpu", dtype="float32")
    m.close()
