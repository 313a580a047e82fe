"""Greedy generation for one loaded model: KV caches, the cached prompt prefix, prefill and the decode loop.

``Decoder.generate_batch`` runs the prompt embeddings ``[B, L, H]`` into a KV cache (reusing the keys and values of
the prompt's constant first text run, cached per prompt) and then decodes one token per step for all B sequences,
with three interchangeable step implementations that compute the same tokens:

- ``eager``: :class:`~core.model.decode_step.FastDecodeStep` called step by step with a growing cache;
- ``static``: the same step in the fixed-shape form of :mod:`core.model.graphed_decode`, without a graph (what a
  graph records; the CPU tests run it);
- ``graph``: that form recorded once as a CUDA graph and replayed per token (GPU only).

Stopping, the repetition penalty and streaming are per sequence (see :mod:`core.model.generation`). Used by the
thread that owns the model only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from core.model.caches import LRU
from core.model.decode_step import FastDecodeStep
from core.model.generation import GenerationSettings, KVCache, apply_repetition_penalty
from core.model.graphed_decode import StaticDecoder, capacity_for, graphs_enabled, make_decoder
from core.model.placement import OnModule
from core.model.streaming import IncrementalDecoder
from core.model.tracing import Tracer

DECODERS_KEPT = 2  # static decoders (CUDA graphs with their KV storage) kept per model, by (batch, capacity)


class Decoder(OnModule):
    """Prefill and greedy decoding of one model (see module docstring). ``step`` is the model's decode step
    (dense, or with int8 weights in the fast profile); ``mode`` is ``graph`` on a GPU unless turned off, else
    ``eager``; tests set ``static``."""

    def __init__(self, module: Any, tokenizer: Any, tracer: Tracer, step: FastDecodeStep) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.tracer = tracer
        self._step: FastDecodeStep | None = step
        self.prefix_cache = LRU()
        self.mode = "graph" if graphs_enabled(self.device) else "eager"
        self.decoders: OrderedDict[tuple[int, int], StaticDecoder] = OrderedDict()

    @property
    def step(self) -> FastDecodeStep:
        """The decode step (see the class docstring); gone once the model is closed."""
        if self._step is None:
            raise RuntimeError("the model is closed: load it again to analyze")
        return self._step

    def drop_step(self) -> None:
        """Let the step's weights (the fast profile's int8 copies) be freed; the decoder is unusable afterwards."""
        self._step = None

    def clear(self) -> None:
        self.prefix_cache.clear()
        self.decoders.clear()

    # --- the decoder layers and their caches ---------------------------------------------------------------
    def layers(self, x: torch.Tensor, start: int, cache: Any, mask: torch.Tensor | None = None) -> torch.Tensor:
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
        if self.mode == "eager" or self.tracer.active:
            return None
        key = (batch, capacity_for(length))
        decoder = self.decoders.get(key)
        if decoder is None:
            decoder = make_decoder(self.module, self.step, self.new_cache(key[1], batch, zeroed=True),
                                   use_graph=self.mode == "graph")
            if decoder is None:
                self.mode = "eager"  # capture failed: do not try again for every window
                return None
            self.decoders[key] = decoder
            while len(self.decoders) > DECODERS_KEPT:
                self.decoders.popitem(last=False)
        self.decoders.move_to_end(key)
        decoder.cache.reset()
        return decoder

    def _prefix_state(self, ids: tuple[int, ...]) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Keys, values ([1, kv, P, d] per layer) and final hidden [P, H] of a constant prompt prefix; cached."""
        def compute():
            cache = self.new_cache(len(ids))
            hidden = self.layers(self.module.embed(torch.tensor(ids, device=self.device))[None], 0, cache)
            return cache.keys, cache.values, hidden[0]

        return self.prefix_cache.get_or(("kv", ids, self.device, self.dtype), compute)

    def prefill(self, embeds: torch.Tensor, cache: KVCache, prefix: tuple[int, ...] = ()) -> torch.Tensor:
        """Run the prompt [B, L, H] into an empty cache -> final hidden [B, L, H] (rows of a cached constant
        ``prefix`` — the prompt's first ``len(prefix)`` token ids, the same for every sequence — are reused, not
        recomputed)."""
        n = len(prefix)
        if n == 0 or n >= embeds.shape[1]:
            hidden = self.layers(embeds, 0, cache)
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
        hidden = self.layers(embeds[:, n:], n, cache, mask[None, None])
        cache.advance(q)
        return torch.cat([prefix_hidden[None].to(hidden.dtype).expand(hidden.shape[0], -1, -1), hidden], dim=1)

    # --- greedy decoding -----------------------------------------------------------------------------------
    def generate_batch(self, embeds: torch.Tensor, max_new_tokens: int, settings: GenerationSettings,
                       on_token: Callable[[str], None] | None = None, should_stop: Callable[[], bool] | None = None,
                       timings: dict[str, float] | None = None, prefix: tuple[int, ...] = (),
                       started: float | None = None,
                       forced: list[int] | None = None) -> tuple[list[list[int]], KVCache, bool]:
        """Greedy decoding of B sequences of equal length at once from inputs_embeds [B, L, H] with a [B, ...] KV
        cache. Each sequence stops on its own at a stop id of ``settings`` (it emits nothing more; its row keeps
        being computed, its output is dropped) and sees the repetition penalty on its own generated tokens only;
        the batch ends when all sequences stopped or after ``max_new_tokens``. ``on_token`` streams the first
        sequence (use it with B = 1).

        ``timings`` gets ``prefill`` and ``decode`` seconds, and ``first_token``: seconds from ``started`` (a
        ``time.perf_counter()`` value, the start of the analysis) to the first token. ``forced`` (B = 1, for
        numerical comparisons) feeds these ids instead of the chosen ones, so that the step logits of two models
        can be compared on one sequence. Returns (new ids per sequence, cache, cancelled)."""
        timings = {} if timings is None else timings
        started = time.perf_counter() if started is None else started
        penalty, stop_ids = settings.repetition_penalty, settings.stop_ids
        b, L = embeds.shape[0], embeds.shape[1]
        decoder = self._static_decoder(b, L + max(max_new_tokens, 1) + 1)
        cache = decoder.cache if decoder is not None else self.new_cache(L + max(max_new_tokens, 1) + 1, batch=b)
        ids: list[list[int]] = [[] for _ in range(b)]
        if should_stop is not None and should_stop():  # cancelled while the towers ran: skip the prefill
            return ids, cache, True
        t0 = time.perf_counter()
        hidden = self.prefill(embeds, cache, prefix)
        logits = self.step.logits(hidden[:, -1])  # [B, V] float32
        self._sync()
        timings["prefill"] = time.perf_counter() - t0
        self.tracer.put("prefill_final_hidden", hidden[0])
        self.tracer.put("prefill_logits_last", logits[0])
        t1 = time.perf_counter()
        step_logits: list[torch.Tensor] = []
        stream = IncrementalDecoder(self.tokenizer, on_token)
        cancelled = False
        done = [False] * b
        seen = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
        rows = torch.arange(b, device=logits.device)
        for step in range(max_new_tokens):
            if self.tracer.active:
                step_logits.append(logits[0].detach().cpu())
            toks = torch.argmax(apply_repetition_penalty(logits, seen if step else None, penalty), dim=-1)  # [B]
            if forced is not None:
                toks = torch.tensor([forced[step]], device=logits.device)
            seen[rows, toks] = True
            streamed = len(ids[0])
            for i, tok in enumerate(toks.tolist()):
                if not done[i]:
                    ids[i].append(tok)
                    done[i] = tok in stop_ids
            if step == 0:
                timings["first_token"] = time.perf_counter() - started
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
                hidden = self.step(self.module.embed(toks[:, None]), cache.length, cache)
                logits = self.step.logits(hidden[:, -1])
            cache.advance(1)
        stream.flush()
        self._sync()
        timings["decode"] = time.perf_counter() - t1
        if step_logits:
            self.tracer.put("gen_step_logits", torch.stack(step_logits))
        self.tracer.put("gen_ids", torch.tensor(ids[0], dtype=torch.int64))
        return ids, cache, cancelled
