"""Checks that let the loader refuse a checkpoint of the family before it allocates anything.

- The towers a checkpoint names must be of the kinds the app builds (SigLIP vision, Whisper audio); any other
  tower (CLIP, a different audio encoder) is refused with its name, instead of failing later on key names.
- The model must fit: the bytes of its tensors at the load precision, plus room for one window's activations, are
  compared with what the device has free (CUDA: free GPU memory; CPU: the kernel's MemAvailable). A 7B model on
  a machine that cannot hold it is refused with the memory it needs.

Pure functions over configs and shapes; any thread.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.model import checks
from core.model.errors import ModelLoadError
from core.model.locate import read_json, resolve_folder

VISION_MODEL_TYPES = ("siglip", "siglip_vision_model")
AUDIO_MODEL_TYPES = ("whisper",)
ACTIVATION_FRACTION = 0.15  # a window's activations, KV cache and workspace, relative to the weights
ACTIVATION_MIN_BYTES = 512 << 20  # ... but at least this (vision + audio towers on one window)
MEMORY_CHECK_ENV = "R1OMNI_MEMORY_CHECK"  # "0" skips the check (the load may then fail or swap)
GIB = 1 << 30
MAX_CONFIG_FRAMES = checks.LLM_INTS["num_frames"][1]  # a num_frames beyond this is a broken config, not a model
MAX_CONFIG_IMAGE_PX = checks.VISION_INTS["image_size"][1]


def check_tower_kinds(vision: Mapping[str, Any], audio: Mapping[str, Any], vision_dir: Path, audio_dir: Path) -> None:
    """Refuse towers the app cannot build, naming what they are."""
    for cfg, allowed, folder, what, key in (
        (vision, VISION_MODEL_TYPES, vision_dir, "vision", "mm_vision_tower"),
        (audio, AUDIO_MODEL_TYPES, audio_dir, "audio", "mm_audio_tower"),
    ):
        kind = str(cfg.get("model_type", "")) or "(no model_type)"
        if kind not in allowed:
            raise ModelLoadError(
                f"the {what} tower at {folder} is a {kind!r} model; this app runs {what} towers of type "
                f"{' / '.join(allowed)} only",
                f"point {key} in config.json at the tower the checkpoint was trained with (the family uses SigLIP "
                "and Whisper-large-v3)")


def needed_bytes(shapes: Mapping[str, tuple[int, ...]], bytes_per_value: int) -> int:
    """Weights at ``bytes_per_value`` plus room for one window's work."""
    weights = sum(math.prod(s) for s in shapes.values()) * bytes_per_value
    return weights + max(ACTIVATION_MIN_BYTES, int(weights * ACTIVATION_FRACTION))


def available_bytes(device: Any) -> int | None:
    """Free memory of ``device`` (a torch.device) in bytes; None when it cannot be known."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(shapes: Mapping[str, tuple[int, ...]], bytes_per_value: int, device: Any, model: str,
                 precision: str) -> None:
    """ModelLoadError when ``device`` has less free memory than the model needs (skipped with
    R1OMNI_MEMORY_CHECK=0, or when the free memory cannot be read)."""
    if os.environ.get(MEMORY_CHECK_ENV, "1").strip() == "0":
        return
    need = needed_bytes(shapes, bytes_per_value)
    free = available_bytes(device)
    if free is None or need <= free:
        return
    smaller = " or bfloat16/float16 instead of float32," if bytes_per_value >= 4 else ""
    raise ModelLoadError(
        f"{model} needs about {need / GIB:.1f} GiB of memory in {precision} on {device}, but only "
        f"{free / GIB:.1f} GiB is free",
        f"use a device with more memory{smaller} or a 0.5B model of the family (python main.py download --model "
        f"R1-Omni-0.5B); {MEMORY_CHECK_ENV}=0 skips this check")


def configured_input(model_dir: str | os.PathLike) -> tuple[int, int]:
    """(num_frames, vision image_size in px) of a model folder, from its config.json and its vision tower's config
    (cheap: no weights are read), so that a clip can be decoded to just what the model samples, at its size, before
    the model loads. The R1-Omni defaults (8, 224) for anything that cannot be read (a model server's URL, a broken
    folder: the loader reports that with its fix). The configs are read as the loader reads them (regular,
    size-capped files: a named pipe in their place is refused, not waited on)."""
    from core.model.preprocess import IMAGE_SIZE_PX
    from core.window import DEFAULT_MODEL_FRAMES

    frames, side = DEFAULT_MODEL_FRAMES, IMAGE_SIZE_PX
    root = Path(model_dir).expanduser()
    try:
        cfg = read_json(root / "config.json", "model config")
        value = cfg.get("num_frames")
        frames = value if isinstance(value, int) and 1 <= value <= MAX_CONFIG_FRAMES else frames
        vision_dir = resolve_folder(str(cfg["mm_vision_tower"]), root.resolve(), "vision tower", None,
                                    "mm_vision_tower")
        vision = read_json(vision_dir / "config.json", "vision tower config")
        vision = vision.get("vision_config", vision)
        value = vision.get("image_size")
        side = value if isinstance(value, int) and 16 <= value <= MAX_CONFIG_IMAGE_PX else side
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ModelLoadError):
        pass
    return frames, side
