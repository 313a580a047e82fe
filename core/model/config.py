"""Typed configuration of the R1-Omni model, read from the checkpoint's ``config.json``.

The checkpoint's ``config.json`` (model_type ``HumanOmni_qwen2``) is a Qwen2 config plus ``mm_*`` keys. The
towers (SigLIP, Whisper) and BERT carry their own configs in their folders; :class:`R1OmniConfig` holds all
four as transformers config objects plus one frozen :class:`MultimodalConfig` for the fusion keys.

Traps of transformers 5.x handled here (each fails silently otherwise):
- a Qwen2 config without ``rope_parameters`` gets theta 1e4 instead of the checkpoint's 1e6;
- ``tie_word_embeddings`` must be set: the 0.5B models tie ``lm_head`` to ``embed_tokens`` (also when the key is
  missing); a checkpoint that says false (a 7B language model) has its own ``lm_head.weight``;
- a full SigLIP config (``model_type: siglip``) nests the vision part under ``vision_config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NUM_FRAMES = 8  # frames the model sees per clip (config key num_frames)
GATE_HIDDEN = 3584  # width of the BERT gate's hidden layer (fixed in the published architecture)
GATE_BRANCHES = 3  # video, body, face
AUDIO_POOL = 3  # Whisper positions averaged into one audio token (1500 -> 500)
ATTN_IMPLEMENTATION = "sdpa"
NOT_CONFIG_KEYS = ("model_type", "architectures", "transformers_version", "torch_dtype", "dtype")  # file metadata


@dataclass(frozen=True)
class MultimodalConfig:
    """The ``mm_*`` keys the inference path reads (all others are training-only)."""

    mm_hidden_size: int = 768  # SigLIP width
    mm_projector_type: str = "all_in_one_small"
    mm_audio_projector_type: str = "mlp2x_gelu"
    mm_vision_select_layer: int = -2  # hidden_states index: -2 = output of the second-to-last encoder layer
    mm_vision_select_feature: str = "patch"
    mm_use_x_start_end: bool = True  # wrap placeholders in <vi_start>/<vi_end>, <au_start>/<au_end>
    num_frames: int = NUM_FRAMES
    mm_vision_tower: str = "google/siglip-base-patch16-224"
    mm_audio_tower: str = "openai/whisper-large-v3"
    model_type: str = "HumanOmni_qwen2"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MultimodalConfig:
        kwargs = {k: d[k] for k in cls.__dataclass_fields__ if k in d and d[k] is not None}
        return cls(**kwargs)


def _qwen2_config(d: Mapping[str, Any]):
    from transformers import Qwen2Config

    theta = d.get("rope_theta")
    rope = d.get("rope_parameters") or {"rope_type": "default", "rope_theta": float(theta or 1e6)}
    if d.get("rope_scaling"):
        raise ValueError(f"rope_scaling {d['rope_scaling']!r} is not supported by this model "
                         "(the published one has none)")
    cfg = Qwen2Config(
        vocab_size=d["vocab_size"],
        hidden_size=d["hidden_size"],
        intermediate_size=d["intermediate_size"],
        num_hidden_layers=d["num_hidden_layers"],
        num_attention_heads=d["num_attention_heads"],
        num_key_value_heads=d.get("num_key_value_heads", d["num_attention_heads"]),
        hidden_act=d.get("hidden_act", "silu"),
        max_position_embeddings=d.get("max_position_embeddings", 32768),
        rms_norm_eps=d.get("rms_norm_eps", 1e-6),
        rope_parameters=rope,
        tie_word_embeddings=bool(d.get("tie_word_embeddings", True)),  # 0.5B: tied; Qwen2.5-7B: its own head
        use_sliding_window=bool(d.get("use_sliding_window", False)),
        sliding_window=d.get("sliding_window"),
        max_window_layers=d.get("max_window_layers", d["num_hidden_layers"]),
        attention_dropout=d.get("attention_dropout", 0.0),
        bos_token_id=d.get("bos_token_id"),
        eos_token_id=d.get("eos_token_id"),
        use_cache=True,
    )
    cfg._attn_implementation = ATTN_IMPLEMENTATION
    return cfg


def vision_config_from_dict(d: Mapping[str, Any]):
    """SigLIP vision config from a tower folder's config.json (full SigLIP or vision-only)."""
    from transformers import SiglipVisionConfig

    if d.get("model_type") == "siglip" or "vision_config" in d:
        d = d.get("vision_config") or {}
    d = {k: v for k, v in d.items() if k not in NOT_CONFIG_KEYS}
    cfg = SiglipVisionConfig(**d)
    cfg._attn_implementation = ATTN_IMPLEMENTATION
    return cfg


def audio_config_from_dict(d: Mapping[str, Any]):
    """Whisper config from a tower folder's config.json (encoder-decoder or classification checkpoint)."""
    from transformers import WhisperConfig

    d = {k: v for k, v in d.items() if k not in NOT_CONFIG_KEYS}
    cfg = WhisperConfig(**d)
    cfg._attn_implementation = ATTN_IMPLEMENTATION
    return cfg


def bert_config_from_dict(d: Mapping[str, Any]):
    from transformers import BertConfig

    d = {k: v for k, v in d.items() if k not in NOT_CONFIG_KEYS}
    cfg = BertConfig(**d)
    cfg._attn_implementation = ATTN_IMPLEMENTATION
    return cfg


@dataclass(frozen=True)
class R1OmniConfig:
    """Everything needed to build the model; ``llm``/``vision``/``audio``/``bert`` are transformers configs."""

    llm: Any  # transformers.Qwen2Config
    vision: Any  # transformers.SiglipVisionConfig
    audio: Any  # transformers.WhisperConfig
    bert: Any  # transformers.BertConfig
    mm: MultimodalConfig

    @classmethod
    def from_dicts(
        cls,
        checkpoint: Mapping[str, Any],
        vision: Mapping[str, Any],
        audio: Mapping[str, Any],
        bert: Mapping[str, Any],
    ) -> R1OmniConfig:
        mm = MultimodalConfig.from_dict(checkpoint)
        if mm.mm_projector_type != "all_in_one_small":
            raise ValueError(f"mm_projector_type {mm.mm_projector_type!r} is not supported (only all_in_one_small)")
        if mm.mm_audio_projector_type != "mlp2x_gelu":
            raise ValueError(f"mm_audio_projector_type {mm.mm_audio_projector_type!r} is not supported "
                             "(only mlp2x_gelu)")
        if mm.mm_vision_select_feature != "patch":
            raise ValueError(f"mm_vision_select_feature {mm.mm_vision_select_feature!r} is not supported (only patch)")
        return cls(
            llm=_qwen2_config(checkpoint),
            vision=vision_config_from_dict(vision),
            audio=audio_config_from_dict(audio),
            bert=bert_config_from_dict(bert),
            mm=mm,
        )

    @property
    def hidden_size(self) -> int:
        return int(self.llm.hidden_size)

    @property
    def vision_layers_used(self) -> int:
        """Number of SigLIP encoder layers whose output is the selected feature (11 of 12 for layer -2)."""
        n = int(self.vision.num_hidden_layers)
        sel = self.mm.mm_vision_select_layer
        used = n + 1 + sel if sel < 0 else sel  # hidden_states has n + 1 entries (embeddings first)
        if not 0 <= used <= n:
            raise ValueError(f"mm_vision_select_layer {sel} out of range for {n} SigLIP layers")
        return used


# The published R1-Omni-0.5B (+ google/siglip-base-patch16-224, openai/whisper-large-v3, bert-base-uncased),
# used to build the full-size architecture without any download (shape tests, benchmarks).
FULL_SIZE_CHECKPOINT: dict[str, Any] = {
    "model_type": "HumanOmni_qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0, "max_position_embeddings": 32768, "max_window_layers": 21, "hidden_act": "silu",
    "tie_word_embeddings": True, "bos_token_id": 151643, "eos_token_id": 151645, "mm_hidden_size": 768,
    "mm_projector_type": "all_in_one_small", "mm_audio_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
    "mm_vision_select_feature": "patch", "mm_use_x_start_end": True, "num_frames": 8,
    "mm_vision_tower": "google/siglip-base-patch16-224", "mm_audio_tower": "openai/whisper-large-v3",
}
FULL_SIZE_VISION: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "image_size": 224, "patch_size": 16, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
}
FULL_SIZE_AUDIO: dict[str, Any] = {
    "d_model": 1280, "encoder_layers": 32, "encoder_attention_heads": 20, "encoder_ffn_dim": 5120,
    "decoder_layers": 32, "decoder_attention_heads": 20, "decoder_ffn_dim": 5120, "num_mel_bins": 128,
    "max_source_positions": 1500, "vocab_size": 51866, "classifier_proj_size": 256,
}
FULL_SIZE_BERT: dict[str, Any] = {
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
}


def full_size_config() -> R1OmniConfig:
    """The configuration of the published R1-Omni-0.5B, without reading any file."""
    return R1OmniConfig.from_dicts(FULL_SIZE_CHECKPOINT, FULL_SIZE_VISION, FULL_SIZE_AUDIO, FULL_SIZE_BERT)
