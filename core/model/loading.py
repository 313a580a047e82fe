"""Loading a user's R1-Omni folder: key mapping, checks, and the strict load straight into the target dtype.

A model folder ("checkpoint") holds ``config.json``, ``model.safetensors`` (or an index + shards), the Qwen2
tokenizer files and usually ``generation_config.json``; its parts are found by :mod:`core.model.locate`. Tower
folders may be in the published full format (SigLIP image+text, Whisper encoder-decoder) or tower-only
(``SiglipVisionModel`` / ``WhisperForAudioClassification``).

Which weights come from where (as the official inference does):
- LLM, ``mm_projector``, ``audio_projector``, ``bert_model``, ``bert_gate``: the checkpoint;
- SigLIP and the Whisper encoder: their tower folders (the checkpoint's copies are ignored, like the official
  loader ignores them); the unused Whisper classification head falls back to the checkpoint copy, or zeros;
- BERT: only ``config.json`` and the vocabulary come from a BERT folder; its weights are ``model.bert_model.*``;
- ``lm_head`` is tied to ``model.embed_tokens`` (not stored), unless the config says ``tie_word_embeddings: false``
  (a 7B language model), when it is the checkpoint's ``lm_head.weight``.

Only safetensors are read (no pickle, no remote code), tensor by tensor straight into the target dtype
(:mod:`core.model.safetensors_io`). Model folders come from the internet: before anything is allocated the files
and config values are checked (:mod:`core.model.checks`), and every tensor read is checked to be floating point
and finite. :func:`map_tower_key` is the one place where keys of other formats are renamed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.model import checks
from core.model.errors import ModelLoadError
from core.model.family_checks import check_memory, check_tower_kinds
from core.model.locate import (
    CONFIG,
    DOWNLOAD_HINT,
    find_bert_folder,
    load_bert_tokenizer,
    load_tokenizer,
    read_json,
    resolve_folder,
    weight_files,
)
from core.model.safetensors_io import TensorSource

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
AUDIO_PREFIX = "model.audio_tower.audio_tower."
BERT_PREFIX = "model.bert_model."
UNUSED_AUDIO_HEAD = ("projector.", "classifier.")  # WhisperForAudioClassification head, never run
IGNORED_CHECKPOINT_PREFIXES = ("model.feature_compressor.",)  # unused module of a sibling code base

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
def resolve_device(device: str) -> torch.device:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device cuda was requested but no CUDA GPU is available", "use --device cpu or auto")
    return d


def resolve_dtype(dtype: Any, device: torch.device) -> torch.dtype:
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
    try:
        module, files = _build_and_fill(parts, dt, dev)
    finally:
        parts.close()  # the weight files, also when a check refuses the folder half-way
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

    def close(self) -> None:
        """Close the weight files (safe to call twice)."""
        for src in (self.ckpt, self.vision, self.audio):
            src.close()


def _read_folder(root: Path, cache_dir: str | None) -> _Folder:
    """Locate and check everything in a model folder; nothing large is allocated here. The weight files it opens
    stay open for the caller (``_Folder.close``) unless a check refuses the folder, when they are closed at once."""
    cfg_path = root / CONFIG
    cfg = read_json(cfg_path, "model config")
    for key in ("mm_vision_tower", "mm_audio_tower", "hidden_size", "vocab_size"):
        if key not in cfg:
            raise ModelLoadError(f"{cfg_path} has no {key!r}: it is not an R1-Omni (HumanOmni_qwen2) config",
                                 f"point to the R1-Omni checkpoint folder ({DOWNLOAD_HINT})")
    checks.check_checkpoint_config(cfg, cfg_path)
    with ExitStack() as opened:  # weight files opened here are closed again if a later check refuses the folder
        ckpt = opened.enter_context(closing(TensorSource(weight_files(root, "checkpoint"), "checkpoint")))
        folder = _read_rest(root, cfg, ckpt, cache_dir, opened)
        opened.pop_all()  # kept open for the caller, who closes them (_Folder.close)
        return folder


def _read_rest(root: Path, cfg: dict[str, Any], ckpt: TensorSource, cache_dir: str | None,
               opened: ExitStack) -> _Folder:
    from core.model.config import R1OmniConfig, audio_config_from_dict, bert_config_from_dict, vision_config_from_dict

    tokenizer = load_tokenizer(root, "checkpoint")
    vision_dir = resolve_folder(str(cfg["mm_vision_tower"]), root, "vision tower", cache_dir, "mm_vision_tower")
    audio_dir = resolve_folder(str(cfg["mm_audio_tower"]), root, "audio tower", cache_dir, "mm_audio_tower")
    bert_dir = find_bert_folder(root, cfg, cache_dir)
    vision_json = read_json(vision_dir / CONFIG, "vision tower config")
    audio_json = read_json(audio_dir / CONFIG, "audio tower config")
    check_tower_kinds(vision_json, audio_json, vision_dir, audio_dir)
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
    vision = opened.enter_context(closing(TensorSource(weight_files(vision_dir, "vision tower"), "vision tower")))
    audio = opened.enter_context(closing(TensorSource(weight_files(audio_dir, "audio tower"), "audio tower")))
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
    import torch

    check_memory(expected, torch.empty((), dtype=dt).element_size(), dev,
                 parts.cfg.get("_name_or_path") or Path(next(iter(parts.ckpt.files))).parent.name,
                 str(dt).removeprefix("torch."))
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
    parts.close()
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
