"""A full-size R1-Omni model folder with random weights, written in the published layout (no download).

``write_model_folder(DIR)`` writes what ``core.model.load_model`` reads from a real download:

    DIR/config.json, generation_config.json, model.safetensors (bfloat16, as published), tokenizer files
    DIR/towers/siglip-base-patch16-224/   config.json, model.safetensors (float32, as published)
    DIR/towers/whisper-large-v3/          config.json, preprocessor_config.json, model.safetensors (float16)
    DIR/bert/                             config.json, vocab.txt

so a benchmark measures the real loader (file reads, dtype conversion, checks) as well as the model. The
checkpoint leaves out its copies of the towers (the loader ignores them, as the official loader does).
``tiny=True`` writes the same layout with toy sizes (seconds, a few MB), for smoke tests of the code path. Weights
are seeded normal(0, 0.02) values (norm weights 1): numbers from this model say nothing about answers, only
about time, memory and numerical agreement between code paths.

The tokenizers are tiny: a byte-level BPE trained at run time on a few sentences (with the Qwen2 special tokens
and pre-tokenisation) and a word-level BERT vocabulary. With them the README instruction's prompt is about as
long as with the real Qwen2 tokenizer (the prompt length is printed by the benchmark). The tensors are written
one at a time (a streaming safetensors writer), so writing needs no more memory than the largest tensor.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SEED = 0
WEIGHT_STD = 0.02
SAFETENSORS_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
ALIGN_BYTES = 8  # the safetensors header is padded to a multiple of this
VISION_DIR = "towers/siglip-base-patch16-224"
AUDIO_DIR = "towers/whisper-large-v3"
BERT_DIR = "bert"
COMPLETE_MARK = "random-weights.json"  # written last: the folder is complete (and how it was made)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
BPE_VOCAB = 1024  # byte alphabet (256) + merges + special tokens
# text the tokenizers are built from: the prompt's own words and some ordinary English around them
CORPUS = (
    "You are a helpful assistant. As an emotional recognition expert; throughout the video, which emotion "
    "conveyed by the characters is the most obvious to you? Output the thinking process in <think> </think> "
    "and final emotion in <answer> </answer> tags. The speaker looks at the camera and talks about the day. "
    "Her voice is calm, then it rises; she smiles, frowns and laughs. He sounds angry, sad, happy, surprised, "
    "afraid or disgusted, or neutral. <vi_start><vi_end> <au_start><au_end> system user assistant\n"
)
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# toy sizes with every structural feature of the full model (GQA, select layer -2, 30 s Whisper input)
TINY_CHECKPOINT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "vocab_size": BPE_VOCAB, "mm_hidden_size": 48}
TINY_VISION = {"hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 2}
TINY_AUDIO = {"d_model": 80, "encoder_layers": 2, "encoder_attention_heads": 2, "encoder_ffn_dim": 160,
              "decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 160, "classifier_proj_size": 32}
TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def is_norm_weight(name: str) -> bool:
    """Weights of normalisation layers (set to 1, as a trained model has them near 1)."""
    parts = name.rsplit(".", 2)
    return name.endswith(".weight") and len(parts) > 1 and any(s in parts[-2].lower() for s in ("norm", "bn"))


def random_tensor(name: str, shape: tuple[int, ...], generator: Any) -> Any:
    """float32 tensor of ``shape``: ones for norm weights, normal(0, 0.02) otherwise."""
    import torch

    if is_norm_weight(name):
        return torch.ones(shape)
    return torch.empty(shape).normal_(0.0, WEIGHT_STD, generator=generator)


def write_safetensors(path: Path, entries: Iterable[tuple[str, tuple[int, ...], str]],
                      make: Callable[[str, tuple[int, ...]], Any]) -> int:
    """Write a safetensors file tensor by tensor: ``entries`` (name, shape, dtype name), ``make(name, shape)``
    -> float tensor (converted to the dtype here). Returns the bytes written."""
    import torch

    entries = list(entries)
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, dtype in entries:
        size = getattr(torch, dtype).itemsize
        n = size
        for d in shape:
            n *= d
        header[name] = {"dtype": SAFETENSORS_DTYPES[dtype], "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % ALIGN_BYTES)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape, dtype in entries:
            t = make(name, shape).to(getattr(torch, dtype)).contiguous()
            f.write(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return 8 + len(raw) + offset


def _tokenizer_files(folder: Path) -> None:
    """Train the tiny byte-level BPE and write tokenizer.json + tokenizer_config.json (Qwen2 layout)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    split = Regex(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(split, behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                                                     use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB - len(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS] * 4, trainer)
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    tok.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "Qwen2Tokenizer", "bos_token": None, "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "unk_token": None, "add_prefix_space": False,
              "clean_up_tokenization_spaces": False, "model_max_length": 32768, "errors": "replace",
              "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1))


def _bert_vocab() -> list[str]:
    import re

    words = sorted({w for w in re.findall(r"[a-z]+|[^\sa-z]", CORPUS.lower())})
    return [*BERT_SPECIALS, *words]


def folder_configs(tiny: bool = False) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """config.json contents (checkpoint, SigLIP, Whisper, BERT) of the full-size or the tiny model."""
    from core.model.config import FULL_SIZE_AUDIO, FULL_SIZE_BERT, FULL_SIZE_CHECKPOINT, FULL_SIZE_VISION

    ckpt = dict(FULL_SIZE_CHECKPOINT, mm_vision_tower=VISION_DIR, mm_audio_tower=AUDIO_DIR)
    vision = dict(FULL_SIZE_VISION, model_type="siglip_vision_model")
    audio = dict(FULL_SIZE_AUDIO, model_type="whisper")
    bert = dict(FULL_SIZE_BERT, model_type="bert")
    if tiny:
        ckpt.update(TINY_CHECKPOINT)
        vision.update(TINY_VISION)
        audio.update(TINY_AUDIO)
        bert.update(TINY_BERT, vocab_size=len(_bert_vocab()))
    return ckpt, vision, audio, bert


def write_model_folder(folder: Path, seed: int = SEED, tiny: bool = False,
                       log: Callable[[str], None] | None = None) -> Path:
    """Write the random model folder (see module docstring) into ``folder``; returns it. Full size: tens of
    seconds and ~2.9 GB of disk; tiny: a second and a few MB."""
    import torch

    from core.model.architecture import build_model
    from core.model.config import R1OmniConfig
    from core.model.loading import AUDIO_PREFIX, VISION_PREFIX

    folder = Path(folder)
    for d in (folder, folder / VISION_DIR, folder / AUDIO_DIR, folder / BERT_DIR):
        d.mkdir(parents=True, exist_ok=True)
    _tokenizer_files(folder)
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    im_end, endoftext = (tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>"))
    ckpt_cfg, vision_cfg, audio_cfg, bert_cfg = folder_configs(tiny)
    ckpt_cfg.update(bos_token_id=endoftext, eos_token_id=im_end)
    config = R1OmniConfig.from_dicts(ckpt_cfg, vision_cfg, audio_cfg, bert_cfg)
    shapes = {k: tuple(v.shape) for k, v in build_model(config, "meta").state_dict().items()}
    gen = torch.Generator().manual_seed(seed)

    def make(name: str, shape: tuple[int, ...]) -> Any:
        return random_tensor(name, shape, gen)

    vision_root = VISION_PREFIX.removesuffix("vision_model.")
    checkpoint = [(k, s, "bfloat16") for k, s in shapes.items() if not k.startswith((VISION_PREFIX, AUDIO_PREFIX))]
    vision = [(k.removeprefix(vision_root), s, "float32") for k, s in shapes.items() if k.startswith(VISION_PREFIX)]
    audio = [(k.removeprefix(AUDIO_PREFIX), s, "float16") for k, s in shapes.items()
             if k.startswith(AUDIO_PREFIX + "encoder.")]
    for sub, entries in (("", checkpoint), (VISION_DIR, vision), (AUDIO_DIR, audio)):
        n = write_safetensors(folder / sub / "model.safetensors", entries, make)
        if log:
            log(f"wrote {folder / sub / 'model.safetensors'} ({n / 1e9:.2f} GB)")
    (folder / "config.json").write_text(json.dumps(ckpt_cfg, indent=1))
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [im_end, endoftext],
                                                               "repetition_penalty": 1.1}))
    (folder / VISION_DIR / "config.json").write_text(json.dumps(vision_cfg))
    (folder / AUDIO_DIR / "config.json").write_text(json.dumps(audio_cfg))
    (folder / AUDIO_DIR / "preprocessor_config.json").write_text(json.dumps(
        {"feature_size": int(audio_cfg["num_mel_bins"]), "sampling_rate": 16000, "hop_length": 160,
         "chunk_length": 30, "n_fft": 400, "padding_value": 0.0}))
    (folder / BERT_DIR / "config.json").write_text(json.dumps(bert_cfg))
    (folder / BERT_DIR / "vocab.txt").write_text("\n".join(_bert_vocab()) + "\n")
    (folder / COMPLETE_MARK).write_text(json.dumps({"seed": seed, "tiny": tiny}))
    return folder


def folder_is_complete(folder: Path, seed: int = SEED, tiny: bool = False) -> bool:
    """True when ``folder`` holds a folder written by :func:`write_model_folder` with these arguments."""
    try:
        return json.loads((Path(folder) / COMPLETE_MARK).read_text()) == {"seed": seed, "tiny": tiny}
    except (OSError, ValueError):
        return False
