"""The loaded model as the app uses it: ``R1OmniModel.analyze(frames, audio, instruction) -> AnalysisResult``
(and ``analyze_batch`` for offline runs: several clips through the towers and decoding at once, no streaming).

One worker thread owns an instance (it is not thread-safe); ``analyze`` blocks that thread, streams text through
``on_token`` and can be cancelled between tokens with ``should_stop``. The work is split by job:

- :mod:`core.model.encoding`  clip + instruction -> input embeddings (sampling, towers, projector, gate, splice);
- :mod:`core.model.decoding`  prefill and greedy decoding (KV caches, the cached prompt prefix, CUDA graphs);
- :mod:`core.model.scoring`   the model's preference over the label set after its reasoning;
- :mod:`core.model.tracing`   the debug hook: ``with model.trace() as t: model.analyze(...)`` records every
  intermediate as a float32 CPU tensor (names as in the parity fixture), bypassing the caches;
- :mod:`core.model.profiles`  ``exact`` (the official computation) or ``fast`` (approximate, labelled).

This module only orchestrates them and shapes the result.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import labels as _labels
from core.model import preprocess as pp
from core.model.decode_step import FastDecodeStep
from core.model.decoding import Decoder
from core.model.encoding import Encoder, PreparedInputs
from core.model.errors import AnalysisCancelled
from core.model.generation import GenerationSettings
from core.model.placement import OnModule
from core.model.profiles import DEFAULT_PROFILE, Profile, profile_named
from core.model.scoring import score_labels
from core.model.tracing import Trace, Tracer
from core.results import AnalysisResult, parse_response

DEFAULT_MAX_NEW_TOKENS = 512
HASH_LIMIT_BYTES = 256 * 1024 * 1024  # weights above this size are not hashed by info() unless asked
STAGES = ("preprocess", "vision", "projector", "gate", "audio", "prefill", "decode", "scores")

__all__ = ["DEFAULT_MAX_NEW_TOKENS", "STAGES", "PreparedInputs", "R1OmniModel"]


class R1OmniModel(OnModule):
    """A loaded R1-Omni. Create it with :func:`core.model.load_model`.

    ``profile``: ``exact`` or ``fast`` (see :mod:`core.model.profiles`); ``precision``: why the dtype was chosen
    (shown by :meth:`info`); ``int8_problem``: set when the fast profile cannot use int8 weights on this device
    (then decoding stays in the model's precision and :meth:`info` says why)."""

    def __init__(self, module: Any, tokenizer: Any, bert_tokenizer: Any, audio_features: pp.AudioFeatures,
                 generation: GenerationSettings, model_dir: Path, weight_files: list[Path],
                 sources: dict[str, str] | None = None, profile: str | Profile = DEFAULT_PROFILE,
                 precision: str | None = None, int8_problem: str | None = None) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.bert_tokenizer = bert_tokenizer
        self.audio_features = audio_features
        self.generation = generation
        self.model_dir = Path(model_dir)
        self.weight_files = list(weight_files)
        self.sources = dict(sources or {})
        self.profile = profile_named(profile)
        self.precision = precision
        self.int8_problem = int8_problem if self.profile.int8_decode else None
        self._weights_hash: str | None = None
        self._assert_tied()
        self._tracer = Tracer()
        self.encoder = Encoder(module, tokenizer, bert_tokenizer, audio_features, self._tracer,
                               self.profile.audio_seconds)
        int8 = self.profile.int8_decode and self.int8_problem is None
        self.decoder = Decoder(module, tokenizer, self._tracer,
                               FastDecodeStep(module.model, module.lm_head.weight, int8=int8))

    # --- properties ----------------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """Frames the model sees per clip (``num_frames`` of the checkpoint's config.json; 8 for R1-Omni)."""
        return int(self.module.config.mm.num_frames)

    @property
    def image_size(self) -> int:
        """Side of the vision tower's square input in px (224 for SigLIP-base-patch16-224)."""
        return int(self.module.config.vision.image_size)

    def _assert_tied(self) -> None:
        if not self.module.config.llm.tie_word_embeddings:
            return  # a separate output layer (a 7B language model)
        head, emb = self.module.lm_head.weight, self.module.model.embed_tokens.weight
        if head.data_ptr() != emb.data_ptr():
            raise RuntimeError("lm_head is not tied to embed_tokens")

    def trace(self) -> AbstractContextManager[Trace]:
        """Record intermediates of the calls made inside the block (see :mod:`core.model.tracing`)."""
        return self._tracer.trace()

    def _check_open(self, max_new_tokens: int) -> None:
        if self.module is None:
            raise RuntimeError("this model was closed; load it again")
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")

    # --- public API ----------------------------------------------------------------------------------------
    def warm_up(self, frames: np.ndarray, audio: np.ndarray | None, instruction: str = pp.DEFAULT_INSTRUCTION,
                max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> None:
        """Run one window through every stage and two decode steps, so that the first real window pays no
        one-time cost: kernels, the per-instruction caches, and the decoder for windows of this prompt and
        ``max_new_tokens`` (on a GPU its CUDA graph is captured here; the KV capacity depends on both)."""
        polls = iter((False, False))  # before the prefill, after the first token; then stop
        try:
            self.analyze(frames, audio, instruction, max_new_tokens=max_new_tokens, label_set="free",
                         should_stop=lambda: next(polls, True))
        except AnalysisCancelled:
            pass

    def analyze(self, frames: np.ndarray, audio: np.ndarray | None, instruction: str = pp.DEFAULT_INSTRUCTION,
                max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, on_token: Callable[[str], None] | None = None,
                label_set: str = "dfew", modal: str | None = None, scores: bool = False,
                should_stop: Callable[[], bool] | None = None) -> AnalysisResult:
        """Analyse one clip.

        frames: uint8 [N, H, W, 3] RGB, any N >= 1 (``num_frames`` are sampled uniformly); audio: float32 [S]
        mono 16 kHz, or None for the video-only modal (``modal`` defaults to ``video_audio`` when audio is given,
        else ``video``). ``on_token(text_delta)`` receives decoded text as it is generated (complete characters
        only); ``should_stop()`` is polled between tokens and raises :class:`AnalysisCancelled` (with the
        partial result). ``scores=True`` adds the model's preference over the label set (not calibrated; None
        for ``free``). ``timings`` holds seconds per stage, ``first_token`` (from the start of this call to the
        first generated token) and ``total``; the result's ``profile`` names the profile. Runs on the calling
        thread.
        """
        self._check_open(max_new_tokens)
        labels = _labels.label_set(label_set)
        modal = modal or ("video_audio" if audio is not None else "video")
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        with torch.inference_mode():
            prepared = self.encoder.prepare(frames, audio, instruction, modal, self.num_frames)
            timings["preprocess"] = time.perf_counter() - t_start
            embeds = self.encoder.encode_batch([prepared], timings)
            ids, cache, cancelled = self.decoder.generate_batch(
                embeds, max_new_tokens, self.generation, on_token, should_stop, timings=timings,
                prefix=_constant_prefix(prepared), started=t_start)
            label_scores = None
            if scores and labels is not None and not cancelled:
                t0 = time.perf_counter()
                label_scores = score_labels(self.module, self.tokenizer, self.decoder.layers, embeds, ids[0], cache,
                                            labels, self.generation.stop_ids)
                self._sync()
                timings["scores"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        result = self._result(ids[0], labels, label_set, modal, label_scores, timings)
        if cancelled:
            raise AnalysisCancelled(result)
        return result

    def analyze_batch(self, clips: list[tuple[np.ndarray, np.ndarray | None]],
                      instruction: str = pp.DEFAULT_INSTRUCTION, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                      label_set: str = "dfew", modal: str | None = None) -> list[AnalysisResult]:
        """Analyse B clips at once; the same token ids as :meth:`analyze` on each clip, in clip order (checked in
        float32 on CPU; in half precision on a GPU the kernels chosen for a batch may round differently, which
        can rarely change a near-tied token).

        clips: (frames uint8 [N, H, W, 3] RGB, audio float32 [S] 16 kHz mono or None) per clip. All clips share
        ``instruction`` and ``modal`` (default ``video_audio`` when every clip has audio, ``video`` when none
        has; a mix needs ``modal="video"`` or separate batches), so their prompts have one length and need no
        padding (in the fast profile Whisper hears the longest clip's seconds for every clip of the batch). The
        towers, the prefill and greedy decoding run batched; this pays off where one clip leaves the device idle
        (GPU), much less on CPU.

        No label scores, no streaming and no cancellation in this path: use :meth:`analyze` for those. Each
        result's ``timings`` hold the batch's seconds per stage divided by B, plus ``batch_size`` (B). Memory
        grows with B (activations and a [B, ...] KV cache); an out-of-memory error is raised as is. Runs on the
        calling thread.
        """
        self._check_open(max_new_tokens)
        if not clips:
            return []
        labels = _labels.label_set(label_set)
        if modal is None:
            with_audio = sum(audio is not None for _, audio in clips)
            if 0 < with_audio < len(clips):
                raise ValueError("some clips of the batch have audio and some do not: pass modal='video' or "
                                 "analyse them in separate batches")
            modal = "video_audio" if with_audio else "video"
        b = len(clips)
        audio_s = None
        if modal == "video_audio":
            audio_s = max(self.encoder.audio_seconds(len(a)) for _, a in clips if a is not None)
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        with torch.inference_mode():
            prepared = [self.encoder.prepare(frames, audio, instruction, modal, self.num_frames, audio_s)
                        for frames, audio in clips]
            timings["preprocess"] = time.perf_counter() - t_start
            embeds = self.encoder.encode_batch(prepared, timings)
            ids, _, _ = self.decoder.generate_batch(embeds, max_new_tokens, self.generation, timings=timings,
                                                    prefix=_constant_prefix(prepared[0]), started=t_start)
        timings["total"] = time.perf_counter() - t_start
        share = {k: v / b for k, v in timings.items()}
        share["first_token"] = timings["first_token"]  # a moment, not a share of work
        share["batch_size"] = b
        return [self._result(seq, labels, label_set, modal, None, dict(share)) for seq in ids]

    def _result(self, ids: list[int], labels: tuple[str, ...] | None, label_set: str, modal: str,
                scores: dict[str, float] | None, timings: dict[str, float]) -> AnalysisResult:
        text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        parsed = parse_response(text, labels)
        return AnalysisResult(
            token_ids=tuple(ids), text=text, think=parsed.think, answer=parsed.answer, label=parsed.label,
            parse_status=parsed.status, label_set=label_set.strip().lower(), modal=modal, scores=scores,
            timings=timings, profile=self.profile.name)

    def info(self, hash_weights: bool | None = None) -> dict[str, Any]:
        """Model folder, device, dtype and why (``precision``), ``profile`` (``exact`` | ``fast``) with what it
        changes (``profile_detail``), parameter count and the SHA-256 of the weight files (None when they are
        larger than 256 MB and ``hash_weights`` is not True; computed once)."""
        if self._weights_hash is None and all(f.is_file() for f in self.weight_files):  # (a deleted folder: None)
            size = sum(f.stat().st_size for f in self.weight_files)
            if hash_weights or (hash_weights is None and size <= HASH_LIMIT_BYTES):
                h = hashlib.sha256()
                for f in sorted(self.weight_files):
                    with open(f, "rb") as fh:
                        for block in iter(lambda: fh.read(1 << 20), b""):
                            h.update(block)
                self._weights_hash = h.hexdigest()
        return {
            "model_dir": str(self.model_dir),
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "precision": self.precision or str(self.dtype).removeprefix("torch."),
            "profile": self.profile.name,
            "profile_detail": self.profile_detail(),
            "num_frames": self.num_frames,
            "params": sum(p.numel() for p in self.module.parameters()),
            "weights_hash": self._weights_hash,
            **self.sources,
        }

    def profile_detail(self) -> str:
        """One line saying what the profile computes (for the UI, logs and the manifest)."""
        if not self.profile.approximate:
            return "exact: the official computation (Whisper over 30 s, every weight in the loaded precision)"
        parts = []
        if self.profile.short_audio:
            parts.append("Whisper over the window's own audio (whole seconds) instead of 30 s")
        if self.profile.int8_decode:
            parts.append(f"decoding with int8 weights ({self.int8_problem}: not used)" if self.int8_problem
                         else "decoding with int8 weights")
        return f"{self.profile.name} (approximate): " + "; ".join(parts)

    def memory_bytes(self) -> int:
        """Bytes held by parameters, buffers and the fast profile's int8 copies (not counting transient
        activations)."""
        tensors = list(self.module.parameters()) + list(self.module.buffers())
        return sum(t.numel() * t.element_size() for t in tensors) + self.decoder.step.extra_bytes()

    def close(self) -> None:
        """Free the weights (the object is unusable afterwards)."""
        on_cuda = self.module is not None and self.device.type == "cuda"
        self.module = None
        self.encoder.clear()
        self.decoder.clear()
        self.encoder.module = self.decoder.module = None
        self.decoder.drop_step()
        gc.collect()
        if on_cuda:
            torch.cuda.empty_cache()


def _constant_prefix(prepared: PreparedInputs) -> tuple[int, ...]:
    """The prompt's first text run (the same for every window of an instruction), whose keys/values are cached."""
    first = prepared.prompt.pieces[0]
    return first if isinstance(first, tuple) else ()
