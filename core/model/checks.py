"""Checks of a model folder before anything is allocated: model folders come from the internet.

- files: every file read is a regular file (a FIFO, device or socket named ``config.json`` or
  ``model.safetensors`` is refused instead of hanging); JSON and text files are capped in size; symlinks are
  followed (Hugging Face cache snapshots are symlinks into its blob store) and the file they end at must be a
  regular file too;
- configs: every size the model is built from is a whole number in a plausible range (layers, widths, heads,
  vocabulary, image and patch size, frames, mel bins ...), with the file and key named in the error, so that a
  ``num_hidden_layers`` of 1e7 does not hang, an image size of 1e7 does not allocate and a patch size of 0
  does not divide by zero;
- ``generation_config.json``: an object whose stop ids are token ids and whose repetition penalty is a positive
  number.

Tensor checks (floating-point dtypes only, no NaN or infinity) run while the weights are read, see
:mod:`core.model.safetensors_io` and :mod:`core.model.loading`. Every failure is a
:class:`~core.model.errors.ModelLoadError` naming the file, the key and the fix.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.model.errors import ModelLoadError

TEXT_LIMIT_BYTES = 64 * 1024 * 1024  # config, tokenizer and vocabulary files (the real tokenizer.json: 11 MB)
REDOWNLOAD = "the file is damaged or not part of an R1-Omni model folder: download the folder again " \
             "(python main.py download --dir DIR)"

# (low, high) inclusive; None: the key may be absent or null
LLM_INTS = {"hidden_size": (1, 1 << 16), "intermediate_size": (1, 1 << 18), "num_hidden_layers": (1, 512),
            "num_attention_heads": (1, 1024), "num_key_value_heads": (1, 1024), "vocab_size": (1, 1 << 22),
            "max_position_embeddings": (1, 1 << 22), "num_frames": (1, 256), "mm_hidden_size": (1, 1 << 16),
            "mm_vision_select_layer": (-512, 512), "max_window_layers": (0, 512)}
LLM_FLOATS = {"rms_norm_eps": (0.0, 1.0), "rope_theta": (1.0, 1e12), "attention_dropout": (0.0, 1.0)}
VISION_INTS = {"hidden_size": (1, 1 << 16), "intermediate_size": (1, 1 << 18), "num_hidden_layers": (1, 512),
               "num_attention_heads": (1, 1024), "image_size": (1, 4096), "patch_size": (1, 4096),
               "num_channels": (1, 16)}
VISION_FLOATS = {"layer_norm_eps": (0.0, 1.0)}
AUDIO_INTS = {"d_model": (1, 1 << 16), "encoder_layers": (1, 512), "encoder_attention_heads": (1, 1024),
              "encoder_ffn_dim": (1, 1 << 18), "num_mel_bins": (1, 1024), "max_source_positions": (1, 1 << 16),
              "classifier_proj_size": (1, 1 << 16), "num_labels": (1, 1024)}
BERT_INTS = {"vocab_size": (1, 1 << 22), "hidden_size": (1, 1 << 16), "num_hidden_layers": (1, 512),
             "num_attention_heads": (1, 1024), "intermediate_size": (1, 1 << 18),
             "max_position_embeddings": (1, 1 << 16), "type_vocab_size": (1, 1024)}
BERT_FLOATS = {"layer_norm_eps": (0.0, 1.0)}
MAX_PATCHES = 1 << 16  # (image_size / patch_size)^2: 196 for SigLIP-B/16 at 224
MAX_REPETITION_PENALTY = 100.0


# ---------------------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------------------
def require_regular(path: Path, what: str) -> os.stat_result:
    """The stat of ``path`` (symlinks followed), which must be a regular file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ModelLoadError(f"{what}: {path} cannot be read ({exc.strerror})", REDOWNLOAD) from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelLoadError(f"{what}: {path} is not a regular file (a {_kind(st.st_mode)})",
                             "a model folder holds plain files only: replace it with the real file or download "
                             "the folder again")
    return st


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def open_regular(path: Path, what: str) -> io.FileIO:
    """``path`` opened for reading (binary, unbuffered), checked to be a regular file on the open descriptor.
    Opened without blocking, so a FIFO (also one swapped in after an earlier check) cannot make it hang."""
    require_regular(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ModelLoadError(f"{what}: {path} cannot be opened ({exc.strerror})", REDOWNLOAD) from None
    f = os.fdopen(fd, "rb", buffering=0)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        f.close()
        raise ModelLoadError(f"{what}: {path} is not a regular file (a {_kind(st.st_mode)})", REDOWNLOAD)
    return f


def read_bytes_capped(path: Path, what: str, limit: int = TEXT_LIMIT_BYTES) -> bytes:
    """Bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, what) as f:
        st = os.fstat(f.fileno())
        if st.st_size > limit:
            raise ModelLoadError(f"{what}: {path} is {st.st_size} bytes, more than the {limit} a file of this kind "
                                 "may have", REDOWNLOAD)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ModelLoadError(f"{what}: {path} is larger than {limit} bytes", REDOWNLOAD)
    return data


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a regular, size-capped file; ModelLoadError naming the file otherwise."""
    data = read_bytes_capped(path, what)
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(f"{what}: {path} is not valid JSON ({exc})", "re-download the file") from None
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{what}: {path} holds a JSON {type(obj).__name__}, not an object", "re-download the file")
    return obj


def plain_file_name(name: Any, index: Path) -> str:
    """A shard name from a safetensors index: a file name in the same folder (no path, no ``..``)."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ModelLoadError(f"{index} names the shard {name!r}, which is not a file name in that folder",
                             "shards must sit beside the index; download the folder again")
    return name


# ---------------------------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------------------------
def _bad(path: Path, key: str, value: Any, want: str) -> ModelLoadError:
    return ModelLoadError(f"{path}: {key} = {value!r} is not plausible ({want})",
                          f"the config is damaged or not the one of this model: fix {key} or download the folder "
                          "again")


def check_int(cfg: Mapping[str, Any], key: str, low: int, high: int, path: Path) -> None:
    if key not in cfg or cfg[key] is None:
        return
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise _bad(path, key, v, "a whole number")
    if not low <= v <= high:
        raise _bad(path, key, v, f"a whole number from {low} to {high}")
    if isinstance(v, float):
        raise _bad(path, key, v, "a whole number written without a decimal point or exponent")


def check_float(cfg: Mapping[str, Any], key: str, low: float, high: float, path: Path) -> None:
    if key not in cfg or cfg[key] is None:
        return
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
        raise _bad(path, key, v, f"a number from {low:g} to {high:g}")


def _check_ranges(cfg: Mapping[str, Any], ints: Mapping[str, tuple[int, int]],
                  floats: Mapping[str, tuple[float, float]], path: Path) -> None:
    for key, (low, high) in ints.items():
        check_int(cfg, key, low, high, path)
    for key, span in floats.items():
        check_float(cfg, key, *span, path)


def _divides(cfg: Mapping[str, Any], width: str, heads: str, path: Path, default_heads: int | None = None) -> None:
    w, h = cfg.get(width), cfg.get(heads, default_heads)
    if isinstance(w, int) and isinstance(h, int) and h and w % h:
        raise _bad(path, width, w, f"a multiple of {heads} = {h}")


def check_checkpoint_config(cfg: Mapping[str, Any], path: Path) -> None:
    """The R1-Omni config.json (Qwen2 keys + mm_* keys)."""
    _check_ranges(cfg, LLM_INTS, LLM_FLOATS, path)
    _divides(cfg, "hidden_size", "num_attention_heads", path)
    _divides(cfg, "num_attention_heads", "num_key_value_heads", path)
    vocab = cfg.get("vocab_size")
    for key in ("bos_token_id", "eos_token_id"):
        check_token_ids(cfg.get(key), key, path, vocab)
    rope = cfg.get("rope_parameters")
    if rope is not None:
        if not isinstance(rope, dict) or rope.get("rope_type", "default") != "default":
            raise _bad(path, "rope_parameters", rope, "absent, or {\"rope_type\": \"default\", \"rope_theta\": ...}")
        check_float(rope, "rope_theta", *LLM_FLOATS["rope_theta"], path)
    if cfg.get("hidden_act", "silu") != "silu":
        raise _bad(path, "hidden_act", cfg.get("hidden_act"), "silu, the activation of Qwen2")


def check_vision_config(cfg: Mapping[str, Any], path: Path) -> None:
    """A SigLIP vision config (the nested ``vision_config`` of a full SigLIP config)."""
    _check_ranges(cfg, VISION_INTS, VISION_FLOATS, path)
    _divides(cfg, "hidden_size", "num_attention_heads", path)
    image, patch = cfg.get("image_size", 224), cfg.get("patch_size", 16)
    if isinstance(image, int) and isinstance(patch, int):
        if patch > image:
            raise _bad(path, "patch_size", patch, f"at most image_size = {image}")
        if (image // patch) ** 2 > MAX_PATCHES:
            raise _bad(path, "image_size", image, f"at most {MAX_PATCHES} patches of patch_size {patch}")


def check_audio_config(cfg: Mapping[str, Any], path: Path) -> None:
    """A Whisper config (only the encoder and the unused classification head are built)."""
    _check_ranges(cfg, AUDIO_INTS, {}, path)
    _divides(cfg, "d_model", "encoder_attention_heads", path)
    labels = cfg.get("id2label")
    if labels is not None and (not isinstance(labels, dict) or len(labels) > AUDIO_INTS["num_labels"][1]):
        size = len(labels) if hasattr(labels, "__len__") else "?"
        raise _bad(path, "id2label", f"<{type(labels).__name__} of {size}>",
                   f"an object of at most {AUDIO_INTS['num_labels'][1]} labels")


def check_bert_config(cfg: Mapping[str, Any], path: Path) -> None:
    _check_ranges(cfg, BERT_INTS, BERT_FLOATS, path)
    _divides(cfg, "hidden_size", "num_attention_heads", path)


def check_token_ids(value: Any, key: str, path: Path, vocab: Any) -> None:
    """None, a token id or a list of token ids, each in [0, vocab)."""
    if value is None:
        return
    ids = value if isinstance(value, list) else [value]
    limit = vocab if isinstance(vocab, int) and not isinstance(vocab, bool) else 1 << 22
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < limit:
            raise _bad(path, key, value, f"a token id or a list of token ids from 0 to {limit - 1}")


def check_generation_config(cfg: Mapping[str, Any], path: Path, vocab: Any) -> None:
    """``generation_config.json``: what the generation reads from it (stop ids, repetition penalty)."""
    check_token_ids(cfg.get("eos_token_id"), "eos_token_id", path, vocab)
    penalty = cfg.get("repetition_penalty")
    if penalty is not None:
        check_float(cfg, "repetition_penalty", 1e-3, MAX_REPETITION_PENALTY, path)
