"""Loading a user's R1-Omni folder: path resolution, file checks, key mapping, strict load.

A model folder ("checkpoint") holds ``config.json``, ``model.safetensors`` (or an index + shards), the Qwen2
tokenizer files and usually ``generation_config.json``. ``config.json`` names the towers in ``mm_vision_tower`` /
``mm_audio_tower`` as an absolute path, a path relative to the checkpoint folder, or a hub id found in the local
Hugging Face cache (never downloaded here). Tower folders may be in the published full format (SigLIP image+text,
Whisper encoder-decoder) or tower-only (``SiglipVisionModel`` / ``WhisperForAudioClassification``).

Which weights come from where (as the official inference does):
- LLM, ``mm_projector``, ``audio_projector``, ``bert_model``, ``bert_gate``: the checkpoint;
- SigLIP and the Whisper encoder: their tower folders (the checkpoint's copies are ignored, like the official
  loader ignores them); the unused Whisper classification head falls back to the checkpoint copy, or zeros;
- BERT: only ``config.json`` and the vocabulary come from a BERT folder; its weights are ``model.bert_model.*``;
- ``lm_head`` is tied to ``model.embed_tokens`` (not stored), unless the config says ``tie_word_embeddings: false``
  (a 7B language model), when it is the checkpoint's ``lm_head.weight``.

Only safetensors are read (no pickle, no remote code). :func:`map_tower_key` is the one place where keys of other
formats are renamed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.model.errors import ModelLoadError
from core.model.family import TOWERS
from core.model.family_checks import check_memory, check_tower_kinds

log = logging.getLogger(__name__)

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin")
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec"
LFS_POINTER_MAX_BYTES = 1024
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
BERT_HUB_IDS = ("google-bert/bert-base-uncased", "bert-base-uncased")
BERT_FOLDER_NAMES = ("bert", "bert-base-uncased")

VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
AUDIO_PREFIX = "model.audio_tower.audio_tower."
BERT_PREFIX = "model.bert_model."
UNUSED_AUDIO_HEAD = ("projector.", "classifier.")  # WhisperForAudioClassification head, never run
IGNORED_CHECKPOINT_PREFIXES = ("model.feature_compressor.",)  # unused module of a sibling code base
DOWNLOAD_HINT = "python main.py download --dir DIR"
KNOWN_TOWER_REPOS = {name: tower.hf_repo for name, tower in TOWERS.items()}  # folder name -> hub id


# ---------------------------------------------------------------------------------------------------------------
# files and folders
# ---------------------------------------------------------------------------------------------------------------
def read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise ModelLoadError(f"{what}: {path} is missing",
                             f"point to a complete folder (it must contain {path.name}); {DOWNLOAD_HINT} writes one")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{what}: {path} is not valid JSON ({e})", "re-download the file") from None


def _is_lfs_pointer(path: Path) -> bool:
    if path.stat().st_size > LFS_POINTER_MAX_BYTES:
        return False
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX


def weight_files(folder: Path, what: str) -> list[Path]:
    """The safetensors files of a folder, checked for the usual ways a download goes wrong."""
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        shards = sorted(set(read_json(index, what).get("weight_map", {}).values()))
        files = [folder / s for s in shards]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ModelLoadError(f"{what}: shards listed in {index.name} are missing: {', '.join(missing)}",
                                 "finish the download (it resumes where it stopped)")
    elif (folder / WEIGHTS).is_file():
        files = [folder / WEIGHTS]
    else:
        singles = sorted(folder.glob("*.safetensors"))
        if len(singles) == 1:
            files = singles
        elif any((folder / p).exists() for p in PICKLE_WEIGHTS):
            raise ModelLoadError(
                f"{what}: {folder} holds only PyTorch .bin weights; they are pickle files, which this app never "
                "loads (they can run arbitrary code)",
                "get the safetensors version of the weights (the published repositories have model.safetensors), "
                "or convert the .bin file in an environment you trust")
        else:
            raise ModelLoadError(f"{what}: no {WEIGHTS} in {folder}", f"download the weights ({DOWNLOAD_HINT})")
    for f in files:
        if _is_lfs_pointer(f):
            raise ModelLoadError(
                f"{what}: {f} is a Git LFS pointer file ({f.stat().st_size} bytes), not the weights",
                f"run `git lfs pull` inside {folder}, or download with {DOWNLOAD_HINT}")
    return files


class TensorSource:
    """Lazy access to the tensors of one or more safetensors files (nothing is read before ``get``)."""

    def __init__(self, files: Iterable[Path], what: str) -> None:
        from safetensors import SafetensorError, safe_open

        self.what = what
        self._handles: dict[str, Any] = {}
        self.key_file: dict[str, str] = {}
        for f in files:
            try:
                h = safe_open(str(f), framework="pt", device="cpu")
                keys = list(h.keys())
            except (SafetensorError, OSError, ValueError) as e:
                msg = str(e)
                kind = "HeaderTooLarge: " if "header too large" in msg.lower().replace("headertoolarge", "header too large") else ""
                raise ModelLoadError(
                    f"{what}: {f} is not a readable safetensors file ({kind}{msg}); it is corrupt, truncated or not "
                    "a weights file",
                    f"delete it and download it again ({DOWNLOAD_HINT})") from None
            self._handles[str(f)] = h
            for k in keys:
                self.key_file[k] = str(f)

    def keys(self) -> list[str]:
        return list(self.key_file)

    def __iter__(self):
        return iter(self.key_file)

    def __contains__(self, key: str) -> bool:
        return key in self.key_file

    def get(self, key: str):
        return self._handles[self.key_file[key]].get_tensor(key)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self._handles[self.key_file[key]].get_slice(key).get_shape())


# ---------------------------------------------------------------------------------------------------------------
# locating towers, BERT, tokenizers
# ---------------------------------------------------------------------------------------------------------------
def _hub_snapshot(repo_id: str, cache_dir: str | None) -> Path | None:
    if repo_id.count("/") != 1 or repo_id.startswith(("/", ".")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
    except Exception:  # noqa: BLE001 — not in the cache (LocalEntryNotFoundError) or an invalid id
        return None


def resolve_folder(name: str, checkpoint_dir: Path, what: str, cache_dir: str | None, key: str) -> Path:
    """Absolute path, path relative to the checkpoint folder, or hub id in the local cache -> existing folder.

    The published config.json names the towers by paths of its authors' machine (``/mnt/.../whisper-large-v3``);
    when such a path does not exist, the folder name is looked up beside the checkpoint (``towers/NAME``,
    ``NAME``, ``../NAME``) and as the known hub repository of that name in the local cache.
    """
    p = Path(os.path.expanduser(name))
    candidates = [p] if p.is_absolute() else [checkpoint_dir / p]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    snap = _hub_snapshot(name, cache_dir)
    if snap is not None and snap.is_dir():
        return snap
    base = p.name
    if base and base != name:
        for c in (checkpoint_dir / "towers" / base, checkpoint_dir / base, checkpoint_dir.parent / base):
            if c.is_dir():
                log.warning("%s: %s (config.json %s) does not exist; using %s", what, name, key, c)
                return c.resolve()
    repo = KNOWN_TOWER_REPOS.get(base)
    snap = _hub_snapshot(repo, cache_dir) if repo else None
    if snap is not None and snap.is_dir():
        log.warning("%s: %s (config.json %s) does not exist; using the cached hub snapshot of %s", what, name,
                    key, repo)
        return snap
    tried = ", ".join(str(c) for c in candidates)
    raise ModelLoadError(
        f"{what} {name!r} (config.json key {key}) was not found: no folder at {tried} and no hub snapshot of that "
        "name in the local Hugging Face cache",
        f"set {key} in {checkpoint_dir / CONFIG} to the folder holding the tower (absolute or relative to the "
        f"checkpoint), or fetch it with {DOWNLOAD_HINT}")


def find_bert_folder(checkpoint_dir: Path, cfg: dict[str, Any], cache_dir: str | None) -> Path:
    """BERT config + vocabulary: ``bert_tower`` in config.json, ``bert``/``bert-base-uncased`` inside or beside the
    checkpoint, or bert-base-uncased in the hub cache. (Only config and vocabulary are read from it.)"""
    def usable(d: Path) -> bool:
        return (d / CONFIG).is_file() and ((d / "vocab.txt").is_file() or (d / "tokenizer.json").is_file())

    if cfg.get("bert_tower"):
        d = resolve_folder(str(cfg["bert_tower"]), checkpoint_dir, "BERT folder", cache_dir, "bert_tower")
        if usable(d):
            return d
        raise ModelLoadError(f"BERT folder {d} lacks config.json or vocab.txt", "point bert_tower at bert-base-uncased")
    candidates = [checkpoint_dir / n for n in BERT_FOLDER_NAMES] + [checkpoint_dir.parent / n for n in BERT_FOLDER_NAMES]
    for d in candidates:
        if usable(d):
            return d.resolve()
    for repo in BERT_HUB_IDS:
        snap = _hub_snapshot(repo, cache_dir)
        if snap is not None and usable(snap):
            return snap
    raise ModelLoadError(
        "BERT configuration and vocabulary (bert-base-uncased) not found: looked in "
        + ", ".join(str(c) for c in candidates) + " and the Hugging Face cache",
        f"put bert-base-uncased's config.json and vocab.txt into {checkpoint_dir / 'bert'}, set \"bert_tower\" in "
        f"config.json, or run {DOWNLOAD_HINT}")


def load_tokenizer(folder: Path, what: str):
    if not any(all((folder / f).is_file() for f in group) for group in TOKENIZER_FILES):
        raise ModelLoadError(
            f"{what}: no tokenizer in {folder} (needs tokenizer.json, or vocab.json + merges.txt)",
            f"copy the tokenizer files of the published checkpoint into {folder} ({DOWNLOAD_HINT} fetches them)")
    from transformers import Qwen2Tokenizer

    try:
        return Qwen2Tokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # noqa: BLE001 — a damaged tokenizer.json etc.: reported with the fix
        raise ModelLoadError(f"{what}: the tokenizer in {folder} cannot be read ({e})", "re-download the tokenizer files") from None


def load_bert_tokenizer(folder: Path):
    from transformers import AutoTokenizer, BertTokenizerFast

    try:
        if (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file():
            return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        return BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    except Exception as e:  # noqa: BLE001 — a damaged vocabulary: reported with the fix
        raise ModelLoadError(f"the BERT vocabulary in {folder} cannot be read ({e})", "re-download bert-base-uncased") from None


# ---------------------------------------------------------------------------------------------------------------
# key mapping: the one place where tower-folder keys are renamed to the checkpoint's module paths
# ---------------------------------------------------------------------------------------------------------------
def map_tower_key(kind: str, key: str) -> str | None:
    """Map a key of a tower folder to the model key, or ``None`` when the tensor is not part of the model.

    vision: ``vision_model.X`` (SigLIP full or 4.x vision-only) or ``X`` (5.x vision-only) -> ``VISION_PREFIX + X``;
            ``text_model.*`` and the contrastive ``logit_*`` scalars are dropped.
    audio:  ``[model.]encoder.X`` -> ``AUDIO_PREFIX + encoder.X``; ``projector.*``/``classifier.*`` kept;
            the decoder and ``proj_out`` of an encoder-decoder checkpoint are dropped.
    """
    if kind == "vision":
        if key.startswith(("text_model.", "logit_scale", "logit_bias")):
            return None
        return VISION_PREFIX + key.removeprefix("vision_model.")
    if kind == "audio":
        key = key.removeprefix("model.")
        if key.startswith("encoder.") or key.startswith(UNUSED_AUDIO_HEAD):
            return AUDIO_PREFIX + key
        return None
    raise ValueError(kind)


@dataclass
class WeightPlan:
    """Where each model key comes from: ``(source, source_key)``; ``None`` = zeros (unused head only)."""

    entries: dict[str, tuple[TensorSource, str] | None]

    def shape(self, key: str) -> tuple[int, ...] | None:
        e = self.entries[key]
        return None if e is None else e[0].shape(e[1])


def plan_weights(model_keys: Iterable[str], checkpoint: TensorSource, vision: TensorSource,
                 audio: TensorSource) -> WeightPlan:
    entries: dict[str, tuple[TensorSource, str] | None] = {}
    for src, kind in ((vision, "vision"), (audio, "audio")):
        for k in src:
            mk = map_tower_key(kind, k)
            if mk is not None:
                entries[mk] = (src, k)
    wanted = list(model_keys)
    wanted_keys = set(wanted)  # lm_head.weight is a key of untied (7B) models only
    for k in checkpoint:
        if k.startswith((VISION_PREFIX, AUDIO_PREFIX)) and k in entries:
            continue  # towers come from their own folders
        if (k == "lm_head.weight" and k not in wanted_keys) or k.startswith(IGNORED_CHECKPOINT_PREFIXES):
            continue
        entries[k] = (checkpoint, k)
    for k in wanted:
        if k not in entries and k.startswith(AUDIO_PREFIX) and k[len(AUDIO_PREFIX):].startswith(UNUSED_AUDIO_HEAD):
            entries[k] = None
    missing = [k for k in wanted if k not in entries]
    if missing:
        towers = {VISION_PREFIX: "SigLIP tower folder", AUDIO_PREFIX: "Whisper tower folder"}
        where = next((v for p, v in towers.items() if missing[0].startswith(p)), "checkpoint")
        raise ModelLoadError(
            f"{len(missing)} weights are missing (first: {missing[0]}, expected in the {where})",
            "the folder does not hold an R1-Omni checkpoint / matching towers; re-download it")
    unexpected = sorted(set(entries) - set(wanted))
    if unexpected:
        raise ModelLoadError(f"{len(unexpected)} weights do not belong to the model (first: {unexpected[0]})",
                             "check that the folder holds R1-Omni (HumanOmni_qwen2) weights")
    return WeightPlan(entries)


def check_shapes(plan: WeightPlan, expected: dict[str, tuple[int, ...]], describe: Callable[[str], str]) -> None:
    for k, shape in expected.items():
        got = plan.shape(k)
        if got is not None and tuple(got) != tuple(shape):
            raise ModelLoadError(f"size mismatch for {k}: the file has {list(got)}, the model needs {list(shape)}. "
                                 + describe(k), "use the towers and checkpoint the model was published with")


# ---------------------------------------------------------------------------------------------------------------
# load_model
# ---------------------------------------------------------------------------------------------------------------
def resolve_device(device: str) -> torch.device:  # noqa: F821
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device cuda was requested but no CUDA GPU is available", "use --device cpu or auto")
    return d


def resolve_dtype(dtype: Any, device: torch.device) -> torch.dtype:  # noqa: F821
    """``auto`` -> float16 on CUDA (as the official code) and float32 on CPU (parity)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}: use auto, float32, float16 or bfloat16")
    return names[dtype]


def _width_checks(ckpt: TensorSource, vision_cfg: Any, audio_cfg: Any, bert_cfg: Any,
                  vision_dir: Path, audio_dir: Path, bert_dir: Path) -> None:
    """Catch towers of the wrong size before building anything (e.g. whisper-small instead of large-v3)."""
    checks = (
        ("model.audio_projector.0.weight", 1, int(audio_cfg.d_model), "Whisper", audio_dir, "mm_audio_tower",
         "openai/whisper-large-v3 (d_model 1280)"),
        ("model.mm_projector.mlp_2xgelu_face.0.weight", 1, int(vision_cfg.hidden_size), "SigLIP", vision_dir,
         "mm_vision_tower", "google/siglip-base-patch16-224 (hidden 768)"),
        ("model.bert_gate.0.weight", 1, int(bert_cfg.hidden_size), "BERT", bert_dir, "bert_tower",
         "bert-base-uncased (hidden 768)"),
    )
    for key, dim, tower_width, name, folder, cfg_key, right in checks:
        if key not in ckpt:
            continue
        shape = list(ckpt.shape(key))
        if shape[dim] != tower_width:
            theirs = list(shape)
            theirs[dim] = tower_width
            raise ModelLoadError(
                f"the {name} tower at {folder} has width {tower_width}, but the checkpoint's projector expects "
                f"{shape[dim]} (size mismatch {shape} vs {theirs})",
                f"point {cfg_key} at {right}")


def load_model(path: str | os.PathLike, device: str = "auto", dtype: Any = "auto",
               cache_dir: str | None = None):
    """Load an R1-Omni folder -> :class:`core.model.runtime.R1OmniModel`.

    device: ``auto`` | ``cpu`` | ``cuda[:i]``; dtype: ``auto`` | ``float32`` | ``float16`` | ``bfloat16``;
    cache_dir: Hugging Face cache to look up hub ids in (default: the usual one). Never downloads.
    Raises :class:`ModelLoadError` naming the problem and the fix. Blocks for seconds (full size: ~10 s).
    """
    import torch

    from core.model.architecture import build_model
    from core.model.config import (
        R1OmniConfig,
        audio_config_from_dict,
        bert_config_from_dict,
        vision_config_from_dict,
    )
    from core.model.generation import GenerationSettings
    from core.model.preprocess import AudioFeatures
    from core.model.runtime import R1OmniModel

    root = Path(os.path.expanduser(str(path)))
    if not root.is_dir():
        raise ModelLoadError(f"model folder {root} does not exist" if not root.exists() else f"{root} is not a folder",
                             f"pass the folder that holds the R1-Omni config.json and model.safetensors ({DOWNLOAD_HINT} "
                             "creates one)")
    root = root.resolve()
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    cfg = read_json(root / CONFIG, "model config")
    for key in ("mm_vision_tower", "mm_audio_tower", "hidden_size", "vocab_size"):
        if key not in cfg:
            raise ModelLoadError(f"{root / CONFIG} has no {key!r}: it is not an R1-Omni (HumanOmni_qwen2) config",
                                 f"point to the R1-Omni checkpoint folder ({DOWNLOAD_HINT})")
    ckpt = TensorSource(weight_files(root, "checkpoint"), "checkpoint")
    tokenizer = load_tokenizer(root, "checkpoint")

    vision_dir = resolve_folder(str(cfg["mm_vision_tower"]), root, "vision tower", cache_dir, "mm_vision_tower")
    audio_dir = resolve_folder(str(cfg["mm_audio_tower"]), root, "audio tower", cache_dir, "mm_audio_tower")
    bert_dir = find_bert_folder(root, cfg, cache_dir)
    vision_json = read_json(vision_dir / CONFIG, "vision tower config")
    audio_json = read_json(audio_dir / CONFIG, "audio tower config")
    check_tower_kinds(vision_json, audio_json, vision_dir, audio_dir)
    bert_json = read_json(bert_dir / CONFIG, "BERT config")
    _width_checks(ckpt, vision_config_from_dict(vision_json), audio_config_from_dict(audio_json),
                  bert_config_from_dict(bert_json), vision_dir, audio_dir, bert_dir)
    vision = TensorSource(weight_files(vision_dir, "vision tower"), "vision tower")
    audio = TensorSource(weight_files(audio_dir, "audio tower"), "audio tower")
    bert_tokenizer = load_bert_tokenizer(bert_dir)

    config = R1OmniConfig.from_dicts(cfg, vision_json, audio_json, bert_json)
    module = build_model(config, "empty")
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    check_memory(expected, torch.empty((), dtype=dt).element_size(), dev, cfg.get("_name_or_path") or root.name,
                 str(dt).removeprefix("torch."))
    plan = plan_weights(expected, ckpt, vision, audio)

    def describe(key: str) -> str:
        if key.startswith(AUDIO_PREFIX):
            return f"The Whisper tower at {audio_dir} is not openai/whisper-large-v3."
        if key.startswith(VISION_PREFIX):
            return f"The SigLIP tower at {vision_dir} is not google/siglip-base-patch16-224."
        return "The checkpoint does not match its config.json."

    check_shapes(plan, expected, describe)
    state = {}
    for key, shape in expected.items():
        entry = plan.entries[key]
        t = torch.zeros(shape, dtype=dt) if entry is None else entry[0].get(entry[1]).to(dt)
        state[key] = t.to(dev)
    module.load_state_dict(state, strict=True, assign=True)
    del state
    module.to(dev)
    module.eval().requires_grad_(False)

    gen_path = root / "generation_config.json"
    gen_cfg = read_json(gen_path, "generation config") if gen_path.is_file() else None
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    im_end = im_end if isinstance(im_end, int) and im_end != tokenizer.unk_token_id else tokenizer.eos_token_id
    generation = GenerationSettings.from_configs(gen_cfg, cfg, im_end)
    pre_path = audio_dir / "preprocessor_config.json"
    audio_pre = read_json(pre_path, "audio preprocessor config") if pre_path.is_file() else None
    features = AudioFeatures(int(config.audio.num_mel_bins), audio_pre)
    files = list(ckpt.key_file.values())
    sources = {"vision_tower": str(vision_dir), "audio_tower": str(audio_dir), "bert_dir": str(bert_dir)}
    return R1OmniModel(module, tokenizer, bert_tokenizer, features, generation, root,
                       sorted({Path(f) for f in files}), sources)
