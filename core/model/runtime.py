"""The loaded model as the app uses it: ``R1OmniModel.analyze(frames, audio, instruction) -> AnalysisResult``
(and ``analyze_batch`` for offline runs: several clips through the towers and decoding at once, no streaming).

One worker thread owns an instance (it is not thread-safe); ``analyze`` blocks that thread, streams text through
``on_token`` and can be cancelled between tokens with ``should_stop``. What does not change between windows is
computed once and cached: the BERT gate per instruction and the token embeddings of the constant prompt text.

Debug hook: ``with model.trace() as t: model.analyze(...)`` records every intermediate as a float32 CPU tensor
(names as in the parity fixture: ``pixel_values``, ``siglip_selected``, ``proj_video`` .. ``gen_step_logits``);
caches are bypassed while tracing so that every stage really runs.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import labels as _labels
from core.model import preprocess as pp
from core.model.errors import AnalysisCancelled
from core.model.generation import BranchCache, GenerationSettings, KVCache, apply_repetition_penalty
from core.model.graphed_decode import StaticDecoder, capacity_for, graphs_enabled, make_decoder
from core.model.projector import fuse
from core.model.streaming import IncrementalDecoder
from core.results import AnalysisResult, parse_response

DEFAULT_MAX_NEW_TOKENS = 512
CACHE_ENTRIES = 16  # instructions / prompts remembered
DECODERS_KEPT = 2  # static decoders (CUDA graphs with their KV storage) kept per model, by (batch, capacity)
HASH_LIMIT_BYTES = 256 * 1024 * 1024  # weights above this size are not hashed by info() unless asked
STAGES = ("preprocess", "vision", "projector", "gate", "audio", "prefill", "decode", "scores")


@dataclass(frozen=True)
class PreparedInputs:
    """CPU-side model inputs of one clip (output of :meth:`R1OmniModel.prepare`)."""

    modal: str
    frame_indices: np.ndarray  # int64 [8]
    pixel_values: np.ndarray  # float32 [num_frames, 3, S, S], S = the vision tower's image_size
    input_features: np.ndarray | None  # float32 [1, n_mels, 3000]; None for modal "video"
    instruction: str
    prompt: pp.PromptChunks


class _Trace(dict):
    def put(self, name: str, value: torch.Tensor | np.ndarray) -> None:
        t = torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value.detach().to("cpu")
        self[name] = t.float() if t.is_floating_point() else t


class _LRU(OrderedDict):
    def get_or(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > CACHE_ENTRIES:
            self.popitem(last=False)
        return value


class R1OmniModel:
    """A loaded R1-Omni. Create it with :func:`core.model.load_model`."""

    def __init__(self, module: Any, tokenizer: Any, bert_tokenizer: Any, audio_features: pp.AudioFeatures,
                 generation: GenerationSettings, model_dir: Path, weight_files: list[Path],
                 sources: dict[str, str] | None = None) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.bert_tokenizer = bert_tokenizer
        self.audio_features = audio_features
        self.generation = generation
        self.model_dir = Path(model_dir)
        self.weight_files = list(weight_files)
        self.sources = dict(sources or {})
        self._gate_cache = _LRU()
        self._prompt_cache = _LRU()
        self._trace: _Trace | None = None
        self._weights_hash: str | None = None
        self._assert_tied()
        from core.model.decode_step import FastDecodeStep

        self._step = FastDecodeStep(module.model)
        # "graph": decode steps replayed as CUDA graphs (core.model.graphed_decode); "static": the same static
        # form without a graph (what the graph records; tests run it on the CPU); "eager": step by step
        self.decode_mode = "graph" if graphs_enabled(self.device) else "eager"
        self._decoders: OrderedDict[tuple[int, int], StaticDecoder] = OrderedDict()

    # --- properties ----------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.module.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.module.model.embed_tokens.weight.dtype

    @property
    def num_frames(self) -> int:
        return int(self.module.config.mm.num_frames)

    @property
    def image_size(self) -> int:
        """Side of the vision tower's square input in px (224 for SigLIP-base-patch16-224)."""
        return int(self.module.config.vision.image_size)

    def _assert_tied(self) -> None:
        if not self.module.config.llm.tie_word_embeddings:
            return  # a separate output layer (7B)
        head, emb = self.module.lm_head.weight, self.module.model.embed_tokens.weight
        if head.data_ptr() != emb.data_ptr():
            raise RuntimeError("lm_head is not tied to embed_tokens")

    # --- debug hook ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def trace(self) -> Iterator[dict[str, torch.Tensor]]:
        """Record intermediates of the calls made inside the block (see module docstring)."""
        self._trace = _Trace()
        try:
            yield self._trace
        finally:
            self._trace = None

    def _put(self, name: str, value: Any) -> None:
        if self._trace is not None:
            self._trace.put(name, value)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # --- stages --------------------------------------------------------------------------------------------
    def prepare(self, frames: np.ndarray, audio: np.ndarray | None, instruction: str, modal: str) -> PreparedInputs:
        """Sample num_frames frames, build pixel values and Whisper features, tokenise the prompt (cached)."""
        frames = pp.validate_frames(frames)
        idx = pp.frame_indices(len(frames), self.num_frames)
        pixels = pp.pixel_values(frames[idx], self.image_size)
        feats = None
        if modal == "video_audio":
            if audio is None:
                raise ValueError("modal 'video_audio' needs audio: pass 16 kHz mono float32 samples or modal='video'")
            feats = self.audio_features(pp.validate_audio(audio))
        elif modal != "video":
            raise ValueError(f"unknown modal {modal!r}: use one of {', '.join(pp.MODALS)}")
        prompt = self._prompt_cache.get_or(("ids", instruction, modal),
                                           lambda: pp.tokenize_prompt(self.tokenizer, instruction, modal))
        self._put("frame_indices", idx)
        self._put("frames_fed", frames[idx])
        self._put("pixel_values", pixels)
        if feats is not None:
            self._put("audio_waveform", pp.validate_audio(audio))
            self._put("input_features", feats)
        self._put("input_ids", torch.tensor(prompt.input_ids))
        return PreparedInputs(modal, idx, pixels, feats, instruction, prompt)

    def gate(self, instruction: str) -> torch.Tensor:
        """Branch weights [1, 3] for an instruction (BERT CLS -> gate -> softmax); cached per instruction."""
        def compute() -> torch.Tensor:
            enc = pp.tokenize_instruction_for_bert(self.bert_tokenizer, instruction)
            t = {k: torch.from_numpy(v).to(self.device) for k, v in enc.items()}
            out = self.module.encode_instruction(t["input_ids"], t["attention_mask"], t["token_type_ids"])
            for k, v in enc.items():
                self._put(f"bert_{k}", v[0])
            self._put("bert_cls", out["cls"][0])
            self._put("gate_logits", out["logits"])
            self._put("branch_probs", out["probs"])
            return out["probs"]

        if self._trace is not None:
            return compute()
        return self._gate_cache.get_or(instruction, compute)

    def _text_embeddings(self, prompt: pp.PromptChunks) -> list[torch.Tensor | int]:
        def compute() -> list[torch.Tensor | int]:
            out: list[torch.Tensor | int] = []
            for p in prompt.pieces:
                if isinstance(p, tuple):
                    out.append(self.module.embed(torch.tensor(p, device=self.device)))
                else:
                    out.append(p)
            return out

        return self._prompt_cache.get_or(("emb", prompt.pieces, self.device, self.dtype), compute)

    def encode(self, prepared: PreparedInputs, timings: dict[str, float] | None = None) -> torch.Tensor:
        """Towers, projector, gate and splicing -> inputs_embeds [1, L, H] on the model device."""
        return self.encode_batch([prepared], timings)

    def encode_batch(self, prepared: list[PreparedInputs], timings: dict[str, float] | None = None) -> torch.Tensor:
        """Towers, projector, gate and splicing of B clips that share one instruction and modal (so one prompt
        and one length L) -> inputs_embeds [B, L, H] on the model device. SigLIP runs over all B x 8 frames at
        once, Whisper over all B feature blocks; ``timings`` gets the seconds of the whole batch per stage.
        Traced intermediates are those of the first clip."""
        timings = {} if timings is None else timings
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
        self._put("siglip_selected", feats[: len(first.pixel_values)])
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
        self._put("proj_video", branches["video"][0])
        self._put("proj_body", branches["body"][0])
        self._put("proj_face_mlp", branches["face_mlp"][:n_face])
        self._put("face_pooled", branches["face"][0].reshape(n_face, -1, fused.shape[-1]))
        self._put("fused_visual", fused[0])
        audio_rows = None
        if first.input_features is not None:
            feats_in = (np.concatenate([p.input_features for p in prepared]) if b > 1 else first.input_features)
            a = self.module.encode_audio(torch.from_numpy(feats_in).to(self.device, self.dtype))
            audio_rows = a["features"]  # [B, 500, H]
            self._put("whisper_out", a["whisper"][0])
            self._put("audio_pooled", a["pooled"][0])
            self._put("audio_features", audio_rows[0])
        self._sync()
        t4 = clock()
        timings["audio"] = t4 - t3
        rows: list[torch.Tensor] = []
        for piece in self._text_embeddings(first.prompt):
            if isinstance(piece, torch.Tensor):
                rows.append(piece.expand(b, -1, -1))
            elif piece == pp.VIDEO_TOKEN_INDEX:
                rows.append(fused.to(self.dtype))
            elif piece == pp.AUDIO_TOKEN_INDEX and audio_rows is not None:
                rows.append(audio_rows.to(self.dtype))
            else:
                raise ValueError(f"the prompt has placeholder {piece} but no features for it")
        embeds = torch.cat(rows, dim=1)
        self._put("inputs_embeds", embeds[0])
        self._put("attention_mask", torch.ones(embeds.shape[1], dtype=torch.int64))
        return embeds

    def _layers(self, x: torch.Tensor, start: int, cache: Any, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Run the decoder layers on x [B, q, H] at positions start.. -> final-norm hidden [B, q, H]."""
        m = self.module.model
        pos = torch.arange(start, start + x.shape[1], device=x.device).unsqueeze(0).expand(x.shape[0], -1)
        pe = m.rotary_emb(x, pos)
        for layer in m.layers:
            x = layer(x, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True, position_embeddings=pe)
        return m.norm(x)

    def new_cache(self, max_len: int, batch: int = 1, zeroed: bool = False) -> KVCache:
        c = self.module.config.llm
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        return KVCache(c.num_hidden_layers, c.num_key_value_heads, head_dim, max_len, self.dtype, self.device, batch,
                       zeroed=zeroed)

    def _static_decoder(self, batch: int, length: int) -> StaticDecoder | None:
        """The kept static decoder for ``batch`` sequences of up to ``length`` positions (made and, in "graph"
        mode, captured on first use), or None when decoding goes step by step."""
        if self.decode_mode == "eager" or self._trace is not None:
            return None
        key = (batch, capacity_for(length))
        decoder = self._decoders.get(key)
        if decoder is None:
            decoder = make_decoder(self.module, self._step, self.new_cache(key[1], batch, zeroed=True),
                                   use_graph=self.decode_mode == "graph")
            if decoder is None:
                self.decode_mode = "eager"  # capture failed: do not try again for every window
                return None
            self._decoders[key] = decoder
            while len(self._decoders) > DECODERS_KEPT:
                self._decoders.popitem(last=False)
        self._decoders.move_to_end(key)
        decoder.cache.reset()
        return decoder

    def _prefix_state(self, ids: tuple[int, ...]) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Keys, values ([1, kv, P, d] per layer) and final hidden [P, H] of a constant prompt prefix; cached."""
        def compute():
            cache = self.new_cache(len(ids))
            hidden = self._layers(self.module.embed(torch.tensor(ids, device=self.device))[None], 0, cache)
            return cache.keys, cache.values, hidden[0]

        return self._prompt_cache.get_or(("kv", ids, self.device, self.dtype), compute)

    def prefill(self, embeds: torch.Tensor, cache: KVCache, prefix: tuple[int, ...] = ()) -> torch.Tensor:
        """Run the prompt [B, L, H] into an empty cache -> final hidden [B, L, H] (rows of a cached constant
        ``prefix`` — the prompt's first ``len(prefix)`` token ids, the same for every sequence — are reused, not
        recomputed)."""
        n = len(prefix)
        if n == 0 or n >= embeds.shape[1]:
            hidden = self._layers(embeds, 0, cache)
            cache.advance(embeds.shape[1])
            return hidden
        keys, values, prefix_hidden = self._prefix_state(prefix)
        for i in range(len(keys)):
            cache.keys[i][:, :, :n] = keys[i]
            cache.values[i][:, :, :n] = values[i]
        cache.advance(n)
        q = embeds.shape[1] - n
        mask = torch.ones((q, n + q), dtype=torch.bool, device=self.device)
        mask[:, n:] = torch.ones((q, q), dtype=torch.bool, device=self.device).tril()
        hidden = self._layers(embeds[:, n:], n, cache, mask[None, None])
        cache.advance(q)
        return torch.cat([prefix_hidden[None].to(hidden.dtype).expand(hidden.shape[0], -1, -1), hidden], dim=1)

    def generate(self, embeds: torch.Tensor, max_new_tokens: int, on_token: Callable[[str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, repetition_penalty: float | None = None,
                 timings: dict[str, float] | None = None, prefix: tuple[int, ...] = ()) -> tuple[list[int], KVCache, bool]:
        """Greedy decoding from inputs_embeds [1, L, H] whose first rows embed the ids ``prefix`` (a constant
        prompt start whose keys/values are cached). Returns (new ids, cache, cancelled)."""
        ids, cache, cancelled = self.generate_batch(embeds, max_new_tokens, on_token, should_stop, repetition_penalty,
                                                    timings, prefix)
        return ids[0], cache, cancelled

    def generate_batch(self, embeds: torch.Tensor, max_new_tokens: int,
                       on_token: Callable[[str], None] | None = None, should_stop: Callable[[], bool] | None = None,
                       repetition_penalty: float | None = None, timings: dict[str, float] | None = None,
                       prefix: tuple[int, ...] = ()) -> tuple[list[list[int]], KVCache, bool]:
        """Greedy decoding of B sequences of equal length at once from inputs_embeds [B, L, H] with a [B, ...] KV
        cache. Each sequence stops on its own at a stop id (it emits nothing more; its row keeps being computed,
        its output is dropped) and sees the repetition penalty on its own generated tokens only; the batch ends
        when all sequences stopped or after ``max_new_tokens``. ``on_token`` streams the first sequence (use it
        with B = 1). Returns (new ids per sequence, cache, cancelled)."""
        timings = {} if timings is None else timings
        penalty = self.generation.repetition_penalty if repetition_penalty is None else repetition_penalty
        stop_ids = self.generation.stop_ids
        b, L = embeds.shape[0], embeds.shape[1]
        decoder = self._static_decoder(b, L + max(max_new_tokens, 1) + 1)
        cache = decoder.cache if decoder is not None else self.new_cache(L + max(max_new_tokens, 1) + 1, batch=b)
        ids: list[list[int]] = [[] for _ in range(b)]
        if should_stop is not None and should_stop():  # cancelled while the towers ran: skip the prefill
            return ids, cache, True
        t0 = time.perf_counter()
        hidden = self.prefill(embeds, cache, prefix)
        logits = self.module.lm_head(hidden[:, -1]).float()  # [B, V]
        self._sync()
        timings["prefill"] = time.perf_counter() - t0
        self._put("prefill_final_hidden", hidden[0])
        self._put("prefill_logits_last", logits[0])
        t1 = time.perf_counter()
        step_logits: list[torch.Tensor] = []
        stream = IncrementalDecoder(self.tokenizer, on_token)
        cancelled = False
        done = [False] * b
        seen = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
        rows = torch.arange(b, device=logits.device)
        for step in range(max_new_tokens):
            if self._trace is not None:
                step_logits.append(logits[0].detach().cpu())
            toks = torch.argmax(apply_repetition_penalty(logits, seen if step else None, penalty), dim=-1)  # [B]
            seen[rows, toks] = True
            streamed = len(ids[0])
            for i, tok in enumerate(toks.tolist()):
                if not done[i]:
                    ids[i].append(tok)
                    done[i] = tok in stop_ids
            if len(ids[0]) > streamed:
                stream.push(ids[0][-1])
            if all(done) or step == max_new_tokens - 1:
                break
            if should_stop is not None and should_stop():
                cancelled = True
                break
            if decoder is not None:
                logits = decoder(toks, cache.length)
            else:
                hidden = self._step(self.module.embed(toks[:, None]), cache.length, cache)
                logits = self.module.lm_head(hidden[:, -1]).float()
            cache.advance(1)
        stream.flush()
        self._sync()
        timings["decode"] = time.perf_counter() - t1
        if step_logits:
            self._put("gen_step_logits", torch.stack(step_logits))
        self._put("gen_ids", torch.tensor(ids[0], dtype=torch.int64))
        return ids, cache, cancelled

    # --- label scores --------------------------------------------------------------------------------------
    def score_labels(self, embeds: torch.Tensor, ids: list[int], cache: KVCache, labels: tuple[str, ...]) -> dict[str, float]:
        """Normalised probability of each ``<answer>LABEL</answer>`` continuation after the reasoning.

        The continuation starts where the generated text first opens ``<answer>`` (or after all generated text).
        One batched forward over the labels reuses the cached prefix. These are the model's relative preferences
        over the set, not calibrated probabilities.
        """
        cut, lead = self._answer_cut(ids)
        past_len = embeds.shape[1] + cut - 1
        first = embeds[0, -1] if cut == 0 else self.module.embed(torch.tensor(ids[cut - 1], device=self.device))
        conts = [self.tokenizer(f"{lead}<answer>{lab}</answer>", add_special_tokens=False)["input_ids"] for lab in labels]
        q = 1 + max(len(c) for c in conts)
        tok = torch.zeros((len(labels), q - 1), dtype=torch.long, device=self.device)
        for i, c in enumerate(conts):
            tok[i, : len(c)] = torch.tensor(c, device=self.device)
        x = torch.cat([first.expand(len(labels), 1, -1), self.module.embed(tok)], dim=1)
        mask = torch.ones((q, past_len + q), dtype=torch.bool, device=self.device)
        mask[:, past_len:] = torch.ones((q, q), dtype=torch.bool, device=self.device).tril()
        hidden = self._layers(x, past_len, BranchCache(cache, past_len, len(labels)), mask[None, None])
        logp = torch.log_softmax(self.module.lm_head(hidden[:, :-1]).float(), dim=-1)  # [B, q-1, V]
        totals = []
        for i, c in enumerate(conts):
            n = len(c)
            totals.append(logp[i, torch.arange(n, device=self.device), tok[i, :n]].sum())
        probs = torch.softmax(torch.stack(totals), dim=0).tolist()
        return {lab: float(p) for lab, p in zip(labels, probs)}

    def _answer_cut(self, ids: list[int]) -> tuple[int, str]:
        """(number of generated ids kept as prefix, text of the cut token before ``<answer>``)."""
        text = ""
        for i in range(len(ids)):
            prev = text
            text = self.tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
            at = text.find("<answer>")
            if at >= 0:
                return i, text[len(prev):at] if at >= len(prev) else ""
        kept = len(ids)
        if ids and ids[-1] in self.generation.stop_ids:
            kept -= 1
        return kept, ""

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

        frames: uint8 [N, H, W, 3] RGB, any N >= 1 (8 are sampled uniformly); audio: float32 [S] mono 16 kHz, or
        None for the video-only modal (``modal`` defaults to ``video_audio`` when audio is given, else ``video``).
        ``on_token(text_delta)`` receives decoded text as it is generated (complete characters only);
        ``should_stop()`` is polled between tokens and raises :class:`AnalysisCancelled` (with the partial
        result). ``scores=True`` adds the model's preference over the label set (not calibrated; None for
        ``free``). ``timings`` holds seconds per stage plus ``total``. Runs on the calling thread.
        """
        if self.module is None:
            raise RuntimeError("this model was closed; load it again")
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        labels = _labels.label_set(label_set)
        modal = modal or ("video_audio" if audio is not None else "video")
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        with torch.inference_mode():
            prepared = self.prepare(frames, audio, instruction, modal)
            timings["preprocess"] = time.perf_counter() - t_start
            embeds = self.encode(prepared, timings)
            first = prepared.prompt.pieces[0]
            prefix = first if isinstance(first, tuple) else ()
            ids, cache, cancelled = self.generate(embeds, max_new_tokens, on_token, should_stop, timings=timings,
                                                  prefix=prefix)
            label_scores = None
            if scores and labels is not None and not cancelled:
                t0 = time.perf_counter()
                label_scores = self.score_labels(embeds, ids, cache, labels)
                self._sync()
                timings["scores"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        result = self._result(ids, labels, label_set, modal, label_scores, timings)
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
        padding. The towers, the prefill and greedy decoding run batched (see :meth:`generate_batch`); this
        pays off where one clip leaves the device idle (GPU), much less on CPU.

        No label scores, no streaming and no cancellation in this path: use :meth:`analyze` for those. Each
        result's ``timings`` hold the batch's seconds per stage divided by B, plus ``batch_size`` (B). Memory
        grows with B (activations and a [B, ...] KV cache); an out-of-memory error is raised as is. Runs on the
        calling thread.
        """
        if self.module is None:
            raise RuntimeError("this model was closed; load it again")
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
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
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        with torch.inference_mode():
            prepared = [self.prepare(frames, audio, instruction, modal) for frames, audio in clips]
            timings["preprocess"] = time.perf_counter() - t_start
            embeds = self.encode_batch(prepared, timings)
            first = prepared[0].prompt.pieces[0]
            prefix = first if isinstance(first, tuple) else ()
            ids, _, _ = self.generate_batch(embeds, max_new_tokens, timings=timings, prefix=prefix)
        timings["total"] = time.perf_counter() - t_start
        share = {k: v / b for k, v in timings.items()}
        share["batch_size"] = b
        return [self._result(seq, labels, label_set, modal, None, dict(share)) for seq in ids]

    def _result(self, ids: list[int], labels: tuple[str, ...] | None, label_set: str, modal: str,
                scores: dict[str, float] | None, timings: dict[str, float]) -> AnalysisResult:
        text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        parsed = parse_response(text, labels)
        return AnalysisResult(
            token_ids=tuple(ids), text=text, think=parsed.think, answer=parsed.answer, label=parsed.label,
            parse_status=parsed.status, label_set=label_set.strip().lower(), modal=modal, scores=scores,
            timings=timings)

    def info(self, hash_weights: bool | None = None) -> dict[str, Any]:
        """Model folder, device, dtype, parameter count and the SHA-256 of the weight files (None when they are
        larger than 256 MB and ``hash_weights`` is not True; computed once)."""
        size = sum(f.stat().st_size for f in self.weight_files if f.exists())
        if self._weights_hash is None and (hash_weights or (hash_weights is None and size <= HASH_LIMIT_BYTES)):
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
            "params": sum(p.numel() for p in self.module.parameters()),
            "weights_hash": self._weights_hash,
            **self.sources,
        }

    def memory_bytes(self) -> int:
        """Bytes held by parameters and buffers (not counting transient activations)."""
        tensors = list(self.module.parameters()) + list(self.module.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)

    def close(self) -> None:
        """Free the weights (the object is unusable afterwards)."""
        on_cuda = self.module is not None and self.device.type == "cuda"
        self.module = None
        self._gate_cache.clear()
        self._prompt_cache.clear()
        self._decoders.clear()
        gc.collect()
        if on_cuda:
            torch.cuda.empty_cache()
