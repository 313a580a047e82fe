"""Turning a clip and an instruction into model inputs, exactly as the official inference path does.

- frames: 8 indices sampled uniformly (``round((N-1)/8*(i+0.5) + 1e-6)``, numpy round-half-even; indices repeat
  for clips shorter than 8 frames), each frame squashed to 224x224 with PIL bicubic (no square padding),
  ``x/255`` then ``(x-0.5)/0.5``, NCHW float32.
- audio: 16 kHz mono float32, NaN -> -1.5, Whisper log-mel features with ``feature_size`` mel bins, padded or
  truncated to 30 s -> ``[1, n_mels, 3000]`` (the fast profile asks for fewer whole seconds, see
  :mod:`core.model.profiles`).
- prompt: the Qwen2-VL chat layout with the default system message, ``<video>``/``<audio>`` placeholders wrapped in
  ``<vi_start>..<vi_end>`` / ``<au_start>..<au_end>``; each text chunk between placeholders is tokenised on its own
  (no BPE merge across a placeholder) and the placeholders become the ids -201 / -202.
- BERT: the raw instruction only, ``[CLS] .. [SEP]``, truncated to 512.

Pure functions; safe to call from any thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.window import DEFAULT_MODEL_FRAMES, MODEL_SAMPLE_RATE_HZ, model_frame_indices

IMAGE_SIZE_PX = 224  # SigLIP-base-patch16-224; the loaded model passes its tower's image_size
AUDIO_WINDOW_S = 30  # what Whisper hears in the official path (and at most in any profile)
AUDIO_NAN_FILL = -1.5  # what the official reader puts in place of NaN samples
VIDEO_TOKEN_INDEX = -201
AUDIO_TOKEN_INDEX = -202
IMAGE_TOKEN_INDEX = -200
PLACEHOLDER_IDS = {"<video>": VIDEO_TOKEN_INDEX, "<audio>": AUDIO_TOKEN_INDEX, "<image>": IMAGE_TOKEN_INDEX}
_PLACEHOLDER_RE = re.compile("(" + "|".join(map(re.escape, PLACEHOLDER_IDS)) + ")")

SYSTEM_MESSAGE = "You are a helpful assistant."
MODALS = ("video_audio", "video")
MODAL_TOKENS = {"video_audio": "<video>\n<audio>", "video": "<video>"}
_WRAPPERS = {"<video>": "<vi_start><video><vi_end>", "<audio>": "<au_start><audio><au_end>",
             "<image>": "<im_start><image><im_end>"}

# The instruction of the official README (two spaces before "Output").
DEFAULT_INSTRUCTION = (
    "As an emotional recognition expert; throughout the video, which emotion conveyed by the characters is the most "
    "obvious to you?  Output the thinking process in <think> </think> and final emotion in <answer> </answer> tags."
)


def frame_indices(n_frames: int, num: int = DEFAULT_MODEL_FRAMES) -> np.ndarray:
    """Uniform sampling of ``num`` indices into ``n_frames`` decoded frames -> int64 [num]
    (``core.window.model_frame_indices``, the one definition of the rule)."""
    return model_frame_indices(n_frames, num)


def pixel_values(frames: np.ndarray, size_px: int = IMAGE_SIZE_PX) -> np.ndarray:
    """uint8 [T, H, W, 3] RGB -> float32 [T, 3, size_px, size_px] in [-1, 1] (PIL bicubic, no padding); size_px is
    the vision tower's image_size (224 for SigLIP-base-patch16-224)."""
    from PIL import Image

    out = np.empty((len(frames), 3, size_px, size_px), dtype=np.float32)
    for i, frame in enumerate(frames):
        img = Image.fromarray(np.ascontiguousarray(frame), "RGB").resize((size_px, size_px), Image.Resampling.BICUBIC)
        x = np.asarray(img, dtype=np.float32) / np.float32(255.0)
        out[i] = ((x - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1)
    return out


def validate_frames(frames: Any) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < 1:
        raise ValueError(f"frames must be uint8 [N>=1, H, W, 3] RGB, got {frames.dtype} {frames.shape}")
    return frames


def validate_audio(audio: Any) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.dtype != np.float32:
        raise ValueError(f"audio must be float32 [S] mono at {MODEL_SAMPLE_RATE_HZ} Hz, "
                         f"got {audio.dtype} {audio.shape}")
    if np.isnan(audio).any():
        audio = np.where(np.isnan(audio), np.float32(AUDIO_NAN_FILL), audio)
    return audio


class AudioFeatures:
    """Whisper log-mel extractor (16 kHz in, ``[1, n_mels, 3000]`` float32 out). Thread-safe after creation."""

    def __init__(self, n_mels: int, preprocessor: dict[str, Any] | None = None) -> None:
        from transformers import WhisperFeatureExtractor

        kw = {k: v for k, v in (preprocessor or {}).items()
              if k in ("hop_length", "chunk_length", "n_fft", "padding_value", "sampling_rate")}
        kw["feature_size"] = n_mels  # n_mels= is ignored by the extractor (silently 80 bins): use feature_size
        self._fe = WhisperFeatureExtractor(**kw)
        if self._fe.sampling_rate != MODEL_SAMPLE_RATE_HZ or self._fe.chunk_length != AUDIO_WINDOW_S:
            raise ValueError("the Whisper feature extractor must take 16 kHz audio in 30 s windows")

    def __call__(self, audio: np.ndarray, seconds: int = AUDIO_WINDOW_S) -> np.ndarray:
        """audio float32 [S] -> features [1, n_mels, 100 * seconds] over the first ``seconds`` of it, padded with
        silence (30 s, the official input, unless a shorter whole number of seconds is asked for)."""
        if not 1 <= seconds <= AUDIO_WINDOW_S or int(seconds) != seconds:
            raise ValueError(f"Whisper hears 1 to {AUDIO_WINDOW_S} whole seconds, not {seconds}")
        limit = None if seconds == AUDIO_WINDOW_S else int(seconds) * MODEL_SAMPLE_RATE_HZ  # None: the extractor's 30 s
        feats = self._fe(audio, sampling_rate=MODEL_SAMPLE_RATE_HZ, return_tensors="np",
                         max_length=limit)["input_features"]
        feats = np.asarray(feats, dtype=np.float32)
        if np.isnan(feats).any():
            feats = np.where(np.isnan(feats), np.float32(AUDIO_NAN_FILL), feats)
        return feats


def prompt_text(instruction: str, modal: str) -> str:
    """The full prompt string (chat layout, wrappers inserted) that is split at the placeholders."""
    if modal not in MODAL_TOKENS:
        raise ValueError(f"unknown modal {modal!r}: use one of {', '.join(MODALS)}")
    user = MODAL_TOKENS[modal] + "\n" + instruction
    text = (f"<|im_start|>system\n{SYSTEM_MESSAGE}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n")
    for tag, wrapped in _WRAPPERS.items():
        text = text.replace(tag, wrapped)
    return text


@dataclass(frozen=True)
class PromptChunks:
    """The prompt as alternating pieces: token-id tuples for text and negative ids for placeholders."""

    pieces: tuple[tuple[int, ...] | int, ...]

    @property
    def input_ids(self) -> list[int]:
        ids: list[int] = []
        for p in self.pieces:
            ids.extend(p if isinstance(p, tuple) else (p,))
        return ids


def tokenize_prompt(tokenizer: Any, instruction: str, modal: str) -> PromptChunks:
    """Chunk-wise tokenisation of :func:`prompt_text` (no special-token insertion, no merge across placeholders)."""
    pieces: list[tuple[int, ...] | int] = []
    for part in _PLACEHOLDER_RE.split(prompt_text(instruction, modal)):
        if part in PLACEHOLDER_IDS:
            pieces.append(PLACEHOLDER_IDS[part])
        elif part:
            pieces.append(tuple(tokenizer(part, add_special_tokens=False)["input_ids"]))
    return PromptChunks(tuple(pieces))


def tokenize_instruction_for_bert(bert_tokenizer: Any, instruction: str) -> dict[str, np.ndarray]:
    """``[CLS] instruction [SEP]`` -> input_ids / attention_mask / token_type_ids, int64 [1, Tb]."""
    enc = bert_tokenizer([instruction], return_tensors="np", padding=True, truncation=True, add_special_tokens=True)
    return {k: np.asarray(enc[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
