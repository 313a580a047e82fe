"""From a clip and an instruction to the LLM's input embeddings: sampling, towers, projector, gate, splice.

``Encoder.prepare`` turns frames, audio and the instruction into CPU arrays (8 sampled frames as pixel values,
Whisper features, the tokenised prompt); ``Encoder.encode_batch`` runs SigLIP, the BERT gate, the projector and
Whisper on the model device and splices the features into the prompt's token embeddings at the placeholders
-> ``inputs_embeds [B, L, H]``. What does not change between windows is cached: the gate per instruction and the
prompt's token ids and embeddings per (instruction, modal). Used by the thread that owns the model only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.model import preprocess as pp
from core.model.caches import LRU
from core.model.placement import OnModule
from core.model.projector import fuse
from core.model.tracing import Tracer


@dataclass(frozen=True)
class PreparedInputs:
    """CPU-side model inputs of one clip (output of :meth:`Encoder.prepare`)."""

    modal: str
    frame_indices: np.ndarray  # int64 [num_frames]
    pixel_values: np.ndarray  # float32 [num_frames, 3, 224, 224]
    input_features: np.ndarray | None  # float32 [1, n_mels, 100 per second heard]; None for modal "video"
    instruction: str
    prompt: pp.PromptChunks


class Encoder(OnModule):
    """The encoding stages of one loaded model (see module docstring).

    ``audio_seconds(samples) -> seconds`` says how much audio Whisper hears: the exact profile always 30 s (the
    official padding), the fast profile the window's own length rounded up (see :mod:`core.model.profiles`).
    """

    def __init__(self, module: Any, tokenizer: Any, bert_tokenizer: Any, audio_features: pp.AudioFeatures,
                 tracer: Tracer, audio_seconds: Any) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.bert_tokenizer = bert_tokenizer
        self.audio_features = audio_features
        self.audio_seconds = audio_seconds
        self.tracer = tracer
        self.gate_cache = LRU()
        self.prompt_cache = LRU()

    def clear(self) -> None:
        self.gate_cache.clear()
        self.prompt_cache.clear()

    # --- CPU side ------------------------------------------------------------------------------------------
    def prepare(self, frames: np.ndarray, audio: np.ndarray | None, instruction: str, modal: str,
                num_frames: int, audio_s: int | None = None) -> PreparedInputs:
        """Sample ``num_frames`` frames, build pixel values and Whisper features over ``audio_s`` seconds
        (default: what ``audio_seconds`` says for this clip), tokenise the prompt (cached)."""
        put = self.tracer.put
        frames = pp.validate_frames(frames)
        idx = pp.frame_indices(len(frames), num_frames)
        pixels = pp.pixel_values(frames[idx], int(self.module.config.vision.image_size))
        feats = None
        if modal == "video_audio":
            if audio is None:
                raise ValueError("modal 'video_audio' needs audio: pass 16 kHz mono float32 samples or modal='video'")
            audio = pp.validate_audio(audio)
            feats = self.audio_features(audio, audio_s or self.audio_seconds(len(audio)))
            put("audio_waveform", audio)
            put("input_features", feats)
        elif modal != "video":
            raise ValueError(f"unknown modal {modal!r}: use one of {', '.join(pp.MODALS)}")
        prompt = self.prompt_cache.get_or(("ids", instruction, modal),
                                          lambda: pp.tokenize_prompt(self.tokenizer, instruction, modal))
        put("frame_indices", idx)
        put("frames_fed", frames[idx])
        put("pixel_values", pixels)
        put("input_ids", torch.tensor(prompt.input_ids))
        return PreparedInputs(modal, idx, pixels, feats, instruction, prompt)

    # --- model side ----------------------------------------------------------------------------------------
    def gate(self, instruction: str) -> torch.Tensor:
        """Branch weights [1, 3] for an instruction (BERT CLS -> gate -> softmax); cached per instruction."""
        put = self.tracer.put

        def compute() -> torch.Tensor:
            enc = pp.tokenize_instruction_for_bert(self.bert_tokenizer, instruction)
            t = {k: torch.from_numpy(v).to(self.device) for k, v in enc.items()}
            out = self.module.encode_instruction(t["input_ids"], t["attention_mask"], t["token_type_ids"])
            for k, v in enc.items():
                put(f"bert_{k}", v[0])
            put("bert_cls", out["cls"][0])
            put("gate_logits", out["logits"])
            put("branch_probs", out["probs"])
            return out["probs"]

        if self.tracer.active:
            return compute()
        return self.gate_cache.get_or(instruction, compute)

    def text_embeddings(self, prompt: pp.PromptChunks) -> list[torch.Tensor | int]:
        """The prompt's pieces with each text run embedded ([n, H]) and placeholders kept as negative ids."""
        def compute() -> list[torch.Tensor | int]:
            out: list[torch.Tensor | int] = []
            for p in prompt.pieces:
                out.append(self.module.embed(torch.tensor(p, device=self.device)) if isinstance(p, tuple) else p)
            return out

        return self.prompt_cache.get_or(("emb", prompt.pieces, self.device, self.dtype), compute)

    def encode_batch(self, prepared: list[PreparedInputs], timings: dict[str, float]) -> torch.Tensor:
        """Towers, projector, gate and splicing of B clips that share one instruction, modal and audio length
        (so one prompt and one length L) -> inputs_embeds [B, L, H] on the model device. SigLIP runs over all
        B x T frames at once, Whisper over all B feature blocks; ``timings`` gets the seconds of the whole batch
        per stage (vision, gate, projector, audio). Traced intermediates are those of the first clip."""
        put = self.tracer.put
        first = prepared[0]
        if any(p.instruction != first.instruction or p.modal != first.modal for p in prepared):
            raise ValueError("the clips of one batch must share the instruction and the modal")
        b = len(prepared)
        clock = time.perf_counter
        t0 = clock()
        pixels = np.concatenate([p.pixel_values for p in prepared]) if b > 1 else first.pixel_values
        feats = self.module.encode_vision(torch.from_numpy(pixels).to(self.device, self.dtype))  # [B*T, 196, Dv]
        self._sync()
        t1 = clock()
        timings["vision"] = t1 - t0
        put("siglip_selected", feats[: len(first.pixel_values)])
        probs = self.gate(first.instruction)  # [1, 3], broadcast over the batch
        self._sync()
        t2 = clock()
        timings["gate"] = t2 - t1
        branches = self.module.project_vision(feats.reshape(b, -1, *feats.shape[1:]))
        fused = fuse(probs, branches["video"], branches["body"], branches["face"])  # [B, V, H]
        self._sync()
        t3 = clock()
        timings["projector"] = t3 - t2
        n_face = len(first.pixel_values)
        put("proj_video", branches["video"][0])
        put("proj_body", branches["body"][0])
        put("proj_face_mlp", branches["face_mlp"][:n_face])
        put("face_pooled", branches["face"][0].reshape(n_face, -1, fused.shape[-1]))
        put("fused_visual", fused[0])
        audio_rows = None
        if first.input_features is not None:
            feats_in = np.concatenate([p.input_features for p in prepared]) if b > 1 else first.input_features
            a = self.module.encode_audio(torch.from_numpy(feats_in).to(self.device, self.dtype))
            audio_rows = a["features"]  # [B, A, H]
            put("whisper_out", a["whisper"][0])
            put("audio_pooled", a["pooled"][0])
            put("audio_features", audio_rows[0])
        self._sync()
        timings["audio"] = clock() - t3
        embeds = self.splice(first.prompt, fused, audio_rows, b)
        put("inputs_embeds", embeds[0])
        put("attention_mask", torch.ones(embeds.shape[1], dtype=torch.int64))
        return embeds

    def splice(self, prompt: pp.PromptChunks, visual: torch.Tensor, audio: torch.Tensor | None,
               batch: int) -> torch.Tensor:
        """Token embeddings of the prompt's text with ``visual`` [B, V, H] at ``<video>`` and ``audio``
        [B, A, H] at ``<audio>`` -> [B, L, H]."""
        rows: list[torch.Tensor] = []
        for piece in self.text_embeddings(prompt):
            if isinstance(piece, torch.Tensor):
                rows.append(piece.expand(batch, -1, -1))
            elif piece == pp.VIDEO_TOKEN_INDEX:
                rows.append(visual.to(self.dtype))
            elif piece == pp.AUDIO_TOKEN_INDEX and audio is not None:
                rows.append(audio.to(self.dtype))
            else:
                raise ValueError(f"the prompt has placeholder {piece} but no features for it")
        return torch.cat(rows, dim=1)
