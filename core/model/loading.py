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
- ``lm_head`` is tied to ``model.embed_tokens`` (not stored).

Only safetensors are read (no pickle, no remote code), tensor by tensor straight into the target dtype
(:mod:`core.model.safetensors_io`). Model folders come from the internet: before anything is allocated the files
and config values are checked (:mod:`core.model.checks`), and every tensor read is checked to be floating point
and finite. :func:`map_tower_key` is the one place where keys of other formats are renamed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.model import checks
from core.model.errors import ModelLoadError
from core.model.safetensors_io import TensorSource

log = logging.getLogger(__name__)

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin")
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec"
LFS_POINTER_MAX_BYTES = 1024
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
# every file a tokenizer may read from its folder: checked to be regular, size-capped files first
TOKENIZER_READS = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
                   "added_tokens.json", "chat_template.json", "chat_template.jinja", "vocab.txt")
BERT_HUB_IDS = ("google-bert/bert-base-uncased", "bert-base-uncased")
BERT_FOLDER_NAMES = ("bert", "bert-base-uncased")

VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
AUDIO_PREFIX = "model.audio_tower.audio_tower."
BERT_PREFIX = "model.bert_model."
UNUSED_AUDIO_HEAD = ("projector.", "classifier.")  # WhisperForAudioClassification head, never run
IGNORED_CHECKPOINT_PREFIXES = ("model.feature_compressor.",)  # unused module of a sibling code base
DOWNLOAD_HINT = "python main.py download --dir DIR"
KNOWN_TOWER_REPOS = {"whisper-large-v3": "openai/whisper-large-v3",
                     "siglip-base-patch16-224": "google/siglip-base-patch16-224"}


# ---------------------------------------------------------------------------------------------------------------
# files and folders
# ---------------------------------------------------------------------------------------------------------------
def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a model folder (a regular, size-capped file); ModelLoadError naming the file."""
    if not path.exists():
        raise ModelLoadError(f"{what}: {path} is missing",
                             f"point to a complete folder (it must contain {path.name}); {DOWNLOAD_HINT} writes one")
    return checks.read_json_object(path, what)


def _is_lfs_pointer(path: Path, what: str) -> bool:
    with checks.open_regular(path, what) as f:
        if os.fstat(f.fileno()).st_size > LFS_POINTER_MAX_BYTES:
            return False
        return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX


def weight_files(folder: Path, what: str) -> list[Path]:
    """The safetensors files of a folder, checked for the usual ways a download goes wrong (and for files that
    are not regular files, which are refused rather than opened)."""
    index = folder / WEIGHTS_INDEX
    if index.exists():
        weight_map = read_json(index, what).get("weight_map", {})
        if not isinstance(weight_map, dict):
            raise ModelLoadError(f"{what}: {index} has no weight_map object", "re-download the file")
        shards = sorted({checks.plain_file_name(v, index) for v in weight_map.values()})
        files = [folder / s for s in shards]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise ModelLoadError(f"{what}: shards listed in {index.name} are missing: {', '.join(missing)}",
                                 "finish the download (it resumes where it stopped)")
    elif (folder / WEIGHTS).exists():
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
        if _is_lfs_pointer(f, what):
            raise ModelLoadError(
                f"{what}: {f} is a Git LFS pointer file ({f.stat().st_size} bytes), not the weights",
                f"run `git lfs pull` inside {folder}, or download with {DOWNLOAD_HINT}")
    return files


def _check_text_files(folder: Path, what: str) -> None:
    """Tokenizer libraries open these files by name: each one present must be a regular, size-capped file."""
    for name in TOKENIZER_READS:
        path = folder / name
        if os.path.lexists(path):
            st = checks.require_regular(path, what)
            if st.st_size > checks.TEXT_LIMIT_BYTES:
                raise ModelLoadError(f"{what}: {path} is {st.st_size} bytes, more than a tokenizer file may have",
                                     checks.REDOWNLOAD)


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
    def usable(d: Path) -> bool:  # exists(), not is_file(): a special file there is refused later, by name
        return (d / CONFIG).exists() and ((d / "vocab.txt").exists() or (d / "tokenizer.json").exists())

    if cfg.get("bert_tower"):
        d = resolve_folder(str(cfg["bert_tower"]), checkpoint_dir, "BERT folder", cache_dir, "bert_tower")
        if usable(d):
            return d
        raise ModelLoadError(f"BERT folder {d} lacks config.json or vocab.txt", "point bert_tower at bert-base-uncased")
    candidates = [base / n for base in (checkpoint_dir, checkpoint_dir.parent) for n in BERT_FOLDER_NAMES]
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
    _check_text_files(folder, what)
    from transformers import Qwen2Tokenizer

    try:
        return Qwen2Tokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # noqa: BLE001 — a damaged tokenizer.json etc.: reported with the fix
        raise ModelLoadError(f"{what}: the tokenizer in {folder} cannot be read ({e})",
                             "re-download the tokenizer files") from None


def load_bert_tokenizer(folder: Path):
    _check_text_files(folder, "BERT vocabulary")
    from transformers import AutoTokenizer, BertTokenizerFast

    try:
        if (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file():
            return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        return BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    except Exception as e:  # noqa: BLE001 — a damaged vocabulary: reported with the fix
        raise ModelLoadError(f"the BERT vocabulary in {folder} cannot be read ({e})",
                             "re-download bert-base-uncased") from None


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
    for k in checkpoint:
        if k.startswith((VISION_PREFIX, AUDIO_PREFIX)) and k in entries:
            continue  # towers come from their own folders
        if k == "lm_head.weight" or k.startswith(IGNORED_CHECKPOINT_PREFIXES):
            continue
        entries[k] = (checkpoint, k)
    wanted = list(model_keys)
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
    """``auto`` -> float16 on CUDA, bfloat16 on a CPU that computes it natively, float32 on other CPUs (see
    :mod:`core.model.precision`); a name -> that dtype."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    from core.model.precision import choose

    return getattr(torch, choose(dtype, device.type)[0])


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
               cache_dir: str | None = None, profile: str = "exact"):
    """Load an R1-Omni folder -> :class:`core.model.runtime.R1OmniModel`.

    device: ``auto`` | ``cpu`` | ``cuda[:i]``; dtype: ``auto`` | ``float32`` | ``float16`` | ``bfloat16`` (``auto``:
    see :mod:`core.model.precision`); profile: ``exact`` | ``fast`` (see :mod:`core.model.profiles`);
    cache_dir: Hugging Face cache to look up hub ids in (default: the usual one). Never downloads.
    Raises :class:`ModelLoadError` naming the problem and the fix. Blocks for seconds (full size: ~10 s).
    Peak memory: the weights in the target dtype plus one tensor (the largest, 0.27 GB) in its stored dtype.
    """
    import torch

    from core.model.precision import choose
    from core.model.profiles import profile_named

    root = Path(os.path.expanduser(str(path)))
    if not root.is_dir():
        raise ModelLoadError(f"model folder {root} does not exist" if not root.exists() else f"{root} is not a folder",
                             "pass the folder that holds the R1-Omni config.json and model.safetensors "
                             f"({DOWNLOAD_HINT} creates one)")
    root = root.resolve()
    prof = profile_named(profile)
    dev = resolve_device(device)
    dtype_name, precision = choose(dtype, dev.type)
    dt = getattr(torch, dtype_name)
    parts = _read_folder(root, cache_dir)
    module, files = _build_and_fill(parts, dt, dev)
    gen_path = root / "generation_config.json"
    gen_cfg = None
    if gen_path.exists():
        gen_cfg = read_json(gen_path, "generation config")
        checks.check_generation_config(gen_cfg, gen_path, parts.cfg.get("vocab_size"))
    tokenizer = parts.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    im_end = im_end if isinstance(im_end, int) and im_end != tokenizer.unk_token_id else tokenizer.eos_token_id
    from core.model.generation import GenerationSettings
    from core.model.preprocess import AudioFeatures
    from core.model.runtime import R1OmniModel

    generation = GenerationSettings.from_configs(gen_cfg, parts.cfg, im_end)
    features = AudioFeatures(int(module.config.audio.num_mel_bins), parts.audio_pre)
    int8_problem = None
    if prof.int8_decode:
        from core.model.int8 import kernel_problem

        int8_problem = kernel_problem(dev)
        if int8_problem:
            log.warning("fast profile: %s; decoding keeps %s weights", int8_problem, dtype_name)
    sources = {"vision_tower": str(parts.vision_dir), "audio_tower": str(parts.audio_dir),
               "bert_dir": str(parts.bert_dir)}
    return R1OmniModel(module, tokenizer, parts.bert_tokenizer, features, generation, root, files, sources,
                       profile=prof, precision=precision, int8_problem=int8_problem)


@dataclass
class _Folder:
    """What :func:`_read_folder` found: checked configs, open weight files, tokenizers, tower folders."""

    cfg: dict[str, Any]
    config: Any  # R1OmniConfig
    ckpt: TensorSource
    vision: TensorSource
    audio: TensorSource
    tokenizer: Any
    bert_tokenizer: Any
    vision_dir: Path
    audio_dir: Path
    bert_dir: Path
    audio_pre: dict[str, Any] | None


def _read_folder(root: Path, cache_dir: str | None) -> _Folder:
    """Locate and check everything in a model folder; nothing large is allocated here."""
    from core.model.config import R1OmniConfig, audio_config_from_dict, bert_config_from_dict, vision_config_from_dict

    cfg_path = root / CONFIG
    cfg = read_json(cfg_path, "model config")
    for key in ("mm_vision_tower", "mm_audio_tower", "hidden_size", "vocab_size"):
        if key not in cfg:
            raise ModelLoadError(f"{cfg_path} has no {key!r}: it is not an R1-Omni (HumanOmni_qwen2) config",
                                 f"point to the R1-Omni checkpoint folder ({DOWNLOAD_HINT})")
    checks.check_checkpoint_config(cfg, cfg_path)
    ckpt = TensorSource(weight_files(root, "checkpoint"), "checkpoint")
    tokenizer = load_tokenizer(root, "checkpoint")
    vision_dir = resolve_folder(str(cfg["mm_vision_tower"]), root, "vision tower", cache_dir, "mm_vision_tower")
    audio_dir = resolve_folder(str(cfg["mm_audio_tower"]), root, "audio tower", cache_dir, "mm_audio_tower")
    bert_dir = find_bert_folder(root, cfg, cache_dir)
    vision_json = read_json(vision_dir / CONFIG, "vision tower config")
    audio_json = read_json(audio_dir / CONFIG, "audio tower config")
    bert_json = read_json(bert_dir / CONFIG, "BERT config")
    nested = vision_json.get("vision_config") if vision_json.get("model_type") == "siglip" or \
        "vision_config" in vision_json else vision_json
    checks.check_vision_config(nested if isinstance(nested, dict) else {}, vision_dir / CONFIG)
    checks.check_audio_config(audio_json, audio_dir / CONFIG)
    checks.check_bert_config(bert_json, bert_dir / CONFIG)
    try:
        config = R1OmniConfig.from_dicts(cfg, vision_json, audio_json, bert_json)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"the configs of {root} cannot describe a model: {exc}",
                             "check config.json and the tower configs, or download the folder again") from None
    _width_checks(ckpt, vision_config_from_dict(vision_json), audio_config_from_dict(audio_json),
                  bert_config_from_dict(bert_json), vision_dir, audio_dir, bert_dir)
    vision = TensorSource(weight_files(vision_dir, "vision tower"), "vision tower")
    audio = TensorSource(weight_files(audio_dir, "audio tower"), "audio tower")
    bert_tokenizer = load_bert_tokenizer(bert_dir)
    pre_path = audio_dir / "preprocessor_config.json"
    audio_pre = read_json(pre_path, "audio preprocessor config") if pre_path.exists() else None
    return _Folder(cfg, config, ckpt, vision, audio, tokenizer, bert_tokenizer, vision_dir, audio_dir, bert_dir,
                   audio_pre)


def _build_and_fill(parts: _Folder, dt: Any, dev: Any) -> tuple[Any, list[Path]]:
    """Build the module tree without weights and fill it tensor by tensor in the target dtype -> (module, the
    checkpoint's weight files). Each tensor is checked to be floating point and finite as it is read."""

    from core.model.architecture import build_model

    try:
        module = build_model(parts.config, "empty")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"the model its configs describe cannot be built: {exc}",
                             "check config.json and the tower configs, or download the folder again") from None
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    plan = plan_weights(expected, parts.ckpt, parts.vision, parts.audio)

    def describe(key: str) -> str:
        if key.startswith(AUDIO_PREFIX):
            return f"The Whisper tower at {parts.audio_dir} is not openai/whisper-large-v3."
        if key.startswith(VISION_PREFIX):
            return f"The SigLIP tower at {parts.vision_dir} is not google/siglip-base-patch16-224."
        return "The checkpoint does not match its config.json."

    check_shapes(plan, expected, describe)
    state = _fill(plan, expected, dt, dev)
    files = sorted(Path(f) for f in parts.ckpt.files)
    for src in (parts.ckpt, parts.vision, parts.audio):
        src.close()
    module.load_state_dict(state, strict=True, assign=True)
    del state
    module.to(dev)
    module.eval().requires_grad_(False)
    return module, files


def _fill(plan: WeightPlan, expected: dict[str, tuple[int, ...]], dt: Any, dev: Any) -> dict[str, Any]:
    """Every model tensor read from its file into the target dtype and device, checked finite.

    The groups the decode step fuses (q/k/v, gate/up: :func:`core.model.decode_step.fusion_groups`) are read
    into one tensor per group, so the step uses them without a copy. Stored bytes that need converting pass
    through one scratch buffer (the largest such tensor) reused for all: the peak is the weights plus that."""
    import torch

    from core.model.decode_step import fusion_groups

    fused: dict[str, Any] = {}
    for group in fusion_groups(list(expected)):
        shapes = [expected[k] for k in group]
        whole = torch.empty((sum(s[0] for s in shapes), *shapes[0][1:]), dtype=dt, device=dev)
        start = 0
        for k, shape in zip(group, shapes):
            fused[k] = whole[start:start + shape[0]]
            start += shape[0]
    stored_bytes = [src.nbytes(k) for src, k in filter(None, plan.entries.values())
                    if src.entries[k].dtype_name != dtype_name(dt) or dev.type != "cpu"]
    scratch = torch.empty(max(stored_bytes, default=0), dtype=torch.uint8)
    state: dict[str, Any] = {}
    for key, shape in expected.items():
        entry = plan.entries[key]
        if entry is None:
            state[key] = torch.zeros(shape, dtype=dt, device=dev)
            continue
        src, src_key = entry
        out = fused.get(key)
        if out is not None and dev.type == "cpu":
            src.read_into(src_key, out, scratch)
        elif out is not None:
            out.copy_(src.get(src_key, dt, scratch))
        else:
            out = src.get(src_key, dt, scratch)
            out = out if dev.type == "cpu" else out.to(dev)
        check_finite(out, src_key, src)
        state[key] = out
    return state


def dtype_name(dt: Any) -> str:
    return str(dt).removeprefix("torch.")


def check_finite(t: Any, key: str, source: TensorSource) -> None:
    """Refuse a tensor holding NaN or infinity, naming the tensor and its file.

    One summing pass in the tensor's own dtype (NaN and infinity propagate through a sum; on a CPU a bfloat16 or
    float32 sum accumulates in float32, ~0.1 s per GB; a float32 accumulation of the whole tensor is 5x slower).
    Only when the sum is not finite — a bad value, or a float16 sum that overflowed — is every element tested
    (and counted for the message)."""
    import torch

    if bool(torch.isfinite(t.sum())):
        return
    finite = torch.isfinite(t)
    if bool(finite.all()):
        return  # finite values whose sum overflowed
    nan = int(torch.isnan(t).sum())
    inf = int((~finite).sum()) - nan
    raise ModelLoadError(
        f"{source.what}: the tensor {key} in {source.entries[key].file} holds {nan} NaN and {inf} infinite values "
        f"(of {t.numel()}); a model with them computes garbage",
        "the weights are damaged (or were saved from a diverged training run): download them again")
