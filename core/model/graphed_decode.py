"""Decode steps in a static form, replayed as one CUDA graph on a GPU.

On a GPU one decode step of the 0.5 B decoder is a few hundred small kernels (24 layers of norms, projections,
rotary embedding and attention, then the output layer). Launched one by one from Python they take longer to
launch than the GPU takes to run them, so decoding is bound by the launch rate. A CUDA graph records the whole
step once (token embedding, the layers, final norm, output layer and the float32 cast of the logits) and replays
it with a single launch.

A graph replays fixed memory addresses and shapes, so the step is written in a static form:

- the KV cache has a fixed capacity (``R1OmniModel.new_cache(..., zeroed=True)``; slots never written hold
  zeros, not garbage, so a masked read of them cannot produce NaN);
- the new token and its position are tensors the caller fills before each replay;
- each layer writes its key/value at ``position`` with ``index_copy_`` and attends over the whole storage with
  a mask of the slots ``<= position``.

That is the same function as the step-by-step decoder (masked slots get exactly zero weight). The static form
also runs without a graph (``use_graph=False``): the CPU tests check it against the step-by-step decoder token
for token, and a CUDA test checks the replayed graph against both.

Prefill stays in eager mode and writes into the same storage (``cache``), so there is no copy between the two.
One ``StaticDecoder`` is kept per (batch, capacity); the capacity is rounded up to ``CAPACITY_STEP`` positions
so that windows of slightly different prompt lengths share one graph.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch

from core.model.generation import KVCache

log = logging.getLogger(__name__)

CAPACITY_STEP = 256  # KV capacity granularity (positions) of a captured graph
WARMUP_RUNS = 2  # eager runs on a side stream before capture (lazy inits, cuBLAS workspaces)
GRAPHS_ENV = "R1OMNI_CUDA_GRAPHS"  # "0" turns the graphs off (step-by-step decoding on the GPU)


def graphs_enabled(device: torch.device) -> bool:
    """CUDA graphs are used on CUDA devices unless ``R1OMNI_CUDA_GRAPHS=0``."""
    return device.type == "cuda" and os.environ.get(GRAPHS_ENV, "1").strip() not in ("0", "false", "no", "off")


def capacity_for(length: int) -> int:
    """KV capacity (a multiple of ``CAPACITY_STEP``) that holds ``length`` positions."""
    return max(CAPACITY_STEP, -(-length // CAPACITY_STEP) * CAPACITY_STEP)


class StaticDecoder:
    """``decoder(tokens [B], position) -> logits [B, V] float32`` for one decode step, in static form.

    ``cache`` (a zeroed ``KVCache``: batch and capacity come from it) is the KV storage the prefill writes into
    (call ``cache.reset()`` first). The returned logits tensor is owned by the decoder and overwritten by the next
    call: read it (argmax) before calling again.
    """

    def __init__(self, module: Any, step: Any, cache: KVCache, use_graph: bool) -> None:
        device = module.model.embed_tokens.weight.device
        self.module, self.step, self.cache = module, step, cache
        self.token = torch.zeros((cache.batch, 1), dtype=torch.long, device=device)
        self.position = torch.zeros((1,), dtype=torch.long, device=device)
        self._slots = torch.arange(cache.max_len, device=device)
        self._graph: Any = None
        self._logits: torch.Tensor | None = None
        if use_graph:
            self._capture()

    @property
    def capacity(self) -> int:
        return self.cache.max_len

    @property
    def graphed(self) -> bool:
        return self._graph is not None

    # the cache protocol of FastDecodeStep: write at ``position``, read the whole storage (masked)
    def update(self, k: torch.Tensor, v: torch.Tensor, layer_idx: int, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.cache.keys[layer_idx], self.cache.values[layer_idx]
        keys.index_copy_(2, self.position, k)
        values.index_copy_(2, self.position, v)
        return keys, values

    def _forward(self) -> torch.Tensor:
        mask = (self._slots <= self.position).view(1, 1, 1, -1)
        hidden = self.step(self.module.embed(self.token), self.position, self, mask)
        return self.step.logits(hidden[:, -1])

    def _capture(self) -> None:
        # Runs before any prefill: the warm-up and capture runs write slot 0, which the prefill overwrites.
        side = torch.cuda.Stream(device=self.token.device)
        side.wait_stream(torch.cuda.current_stream(self.token.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                self._forward()
        torch.cuda.current_stream(self.token.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: only this (the worker's) thread is checked for calls a capture forbids
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self._logits = self._forward()
        torch.cuda.synchronize(self.token.device)
        self._graph = graph

    def __call__(self, tokens: torch.Tensor, position: int) -> torch.Tensor:
        if position >= self.capacity:
            raise RuntimeError(f"KV cache full ({self.capacity} positions)")
        self.token.copy_(tokens.view(self.cache.batch, 1))
        self.position.fill_(position)
        if self._graph is None:
            return self._forward()
        self._graph.replay()
        assert self._logits is not None
        return self._logits


def make_decoder(module: Any, step: Any, cache: KVCache, use_graph: bool) -> StaticDecoder | None:
    """A decoder with a captured graph, or None (logged once per failure) when capturing fails: the caller then
    decodes step by step, which computes the same tokens."""
    try:
        return StaticDecoder(module, step, cache, use_graph)
    except Exception as exc:  # noqa: BLE001 — a driver without graph support, or out of memory while capturing
        log.warning("CUDA graph capture failed (%s: %s); decoding step by step. Set %s=0 to skip the attempt",
                    type(exc).__name__, exc, GRAPHS_ENV)
        return None
