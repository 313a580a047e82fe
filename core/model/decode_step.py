"""One-token decode step of the Qwen2 decoder with little per-layer overhead.

Computes exactly what transformers' ``Qwen2DecoderLayer`` stack computes for a single new position with a KV
cache (same RMSNorm upcast, rotary embedding, SDPA call with grouped-query heads), but as a flat sequence of
tensor ops with q/k/v and gate/up projections fused into one matrix product each (and, on the CPU, attention
of the one query as two small matrix products instead of the fused kernel, see ``_attend_one``). The fused
matrices are the storage of the module's own parameters (the ``q_proj``/``k_proj``/``v_proj`` and
``gate_proj``/``up_proj`` weights become views into them), so no weight is duplicated and the transformers
modules stay usable (prefill, label scoring and any naive composition use them). Prefill stays on the
transformers layers: it is compute-bound, the per-layer overhead does not matter there.

The step also owns the output layer for generation (:meth:`FastDecodeStep.logits`). With ``int8=True`` (the fast
profile) every product of the step and the output layer reads int8 copies of the weights
(:class:`core.model.int8.Int8Linear`); the model's own weights stay for the prefill and label scoring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.model.int8 import DenseLinear, Linear, int8_linears


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm as transformers computes it (statistics in float32, scale in the input dtype)."""
    dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


FUSED_ATTENTION = ("q_proj", "k_proj", "v_proj")  # under model.layers.{i}.self_attn, weights and biases
FUSED_MLP = ("gate_proj", "up_proj")  # under model.layers.{i}.mlp, weights


LLM_LAYER = re.compile(r"model\.layers\.\d+")  # the Qwen2 decoder layers in the checkpoint's key space


def fusion_groups(keys: list[str]) -> list[tuple[str, ...]]:
    """The state-dict keys the decode step fuses, in groups (each concatenated along the output axis): a loader
    that stores each group in one tensor (:func:`core.model.loading.load_model` does) spares the copy here."""
    groups = []
    for key in keys:
        layer = LLM_LAYER.match(key)
        if layer is None:
            continue
        head = layer.group(0)
        if key in (f"{head}.self_attn.q_proj.weight", f"{head}.self_attn.q_proj.bias"):
            tail = key.rsplit(".", 1)[1]
            groups.append(tuple(f"{head}.self_attn.{n}.{tail}" for n in FUSED_ATTENTION))
        elif key == f"{head}.mlp.gate_proj.weight":
            groups.append(tuple(f"{head}.mlp.{n}.weight" for n in FUSED_MLP))
    return groups


def _adjacent(parts: list[torch.Tensor]) -> torch.Tensor | None:
    """The concatenation of ``parts`` along dim 0 as a view, when they already lie back to back in one storage
    (as the loader stores them); None otherwise."""
    first = parts[0]
    if not all(p.is_contiguous() and p.dtype == first.dtype and p.shape[1:] == first.shape[1:]
               and p.untyped_storage().data_ptr() == first.untyped_storage().data_ptr() for p in parts):
        return None
    offset = first.storage_offset()
    for p in parts:
        if p.storage_offset() != offset:
            return None
        offset += p.numel()
    rows = sum(p.shape[0] for p in parts)
    return first.as_strided((rows, *first.shape[1:]), first.stride())


def _fuse(linears: list[nn.Linear], bias: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weights (and biases) of ``linears`` concatenated along the output axis, with each module's parameters
    views into the result: a view when they already lie back to back, else one copy."""
    weights = [m.weight.detach() for m in linears]
    w = _adjacent(weights)
    b = _adjacent([m.bias.detach() for m in linears]) if bias else None
    if w is not None and (b is not None or not bias):
        return w, b
    w = torch.cat(weights, dim=0)
    b = torch.cat([m.bias.detach() for m in linears], dim=0) if bias else None
    start = 0
    for m in linears:
        n = m.out_features
        m.weight = nn.Parameter(w[start:start + n], requires_grad=False)
        if b is not None:  # exactly when bias
            m.bias = nn.Parameter(b[start:start + n], requires_grad=False)
        start += n
    return w, b


@dataclass
class _Layer:
    ln1: torch.Tensor
    ln2: torch.Tensor
    qkv: Linear  # fused q/k/v projection (with bias)
    o: Linear
    gate_up: Linear  # fused gate/up projection
    down: Linear


class FastDecodeStep:
    """Callable ``(x [B, 1, H], position, cache) -> final-norm hidden [B, 1, H]`` (B sequences at the same
    position); ``cache`` implements ``update(k, v, layer_idx)`` (see :class:`core.model.generation.KVCache`).
    ``int8``: read int8 copies of the weights (fast profile, approximate)."""

    def __init__(self, backbone: Any, output_weight: Any, int8: bool = False) -> None:
        """``output_weight``: the output layer's [V, H] weight (``lm_head.weight``: the tied ``embed_tokens``'
        weight, or a 7B language model's own)."""
        cfg = backbone.config
        if cfg.hidden_act != "silu":
            raise ValueError("the fused decode step supports the SiLU MLP of Qwen2 only")
        self.rotary = backbone.rotary_emb
        self.norm_w = backbone.norm.weight
        self.eps = float(backbone.norm.variance_epsilon)
        attn0 = backbone.layers[0].self_attn
        self.head_dim = attn0.head_dim
        self.scale = attn0.scaling
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.split = (self.n_heads * self.head_dim, self.n_kv * self.head_dim, self.n_kv * self.head_dim)
        self.inter = cfg.intermediate_size
        self.int8 = int8
        dense: list[DenseLinear] = []
        for layer in backbone.layers:
            a, mlp = layer.self_attn, layer.mlp
            qkv_w, qkv_b = _fuse([a.q_proj, a.k_proj, a.v_proj], bias=True)
            gu_w, _ = _fuse([mlp.gate_proj, mlp.up_proj], bias=False)
            dense += [DenseLinear(qkv_w, qkv_b), DenseLinear(a.o_proj.weight), DenseLinear(gu_w),
                      DenseLinear(mlp.down_proj.weight)]
        dense.append(DenseLinear(output_weight))
        linears: list[Linear] = int8_linears(dense) if int8 else list(dense)
        self.head: Linear = linears.pop()
        self.layers: list[_Layer] = [
            _Layer(layer.input_layernorm.weight, layer.post_attention_layernorm.weight, *linears[4 * i:4 * i + 4])
            for i, layer in enumerate(backbone.layers)]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Output layer for generation: final hidden [B, H] -> logits [B, V] float32."""
        return self.head(hidden).float()

    def extra_bytes(self) -> int:
        """Bytes held beyond the model's parameters (the int8 copies)."""
        return sum(lin.nbytes() for ly in self.layers for lin in (ly.qkv, ly.o, ly.gate_up, ly.down)) + \
            self.head.nbytes()

    def _attend_one(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                    mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention of one query position over the cache, q [B, heads, 1, d] -> [B, 1, heads * d]; ``mask``
        [1, 1, 1, T] bool marks the slots to attend to (the static form), None: all of them.

        The CPU's fused SDPA kernel is tiled for long queries: for a single one it spends ~0.8 ms per layer over a
        1000-position cache (20 ms a token in bfloat16, a quarter of the step). Two small matrix products do the
        same: the query heads are grouped by the key/value head they share (head i uses kv head i // group, as in
        ``repeat_kv``), scores and softmax in float32 (what the fused kernel accumulates in), same result. The
        static form (a CUDA graph) uses it on every device, so the CPU tests run the code a graph records."""
        b, n_heads, _, d = q.shape
        group = n_heads // self.n_kv
        qg = q.reshape(b, self.n_kv, group, d).float()
        scores = torch.matmul(qg, keys.float().transpose(-1, -2)).mul_(self.scale)  # [B, kv, group, T]
        if mask is not None:
            scores.masked_fill_(~mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        o = torch.matmul(probs, values.float())  # [B, kv, group, d]
        return o.to(q.dtype).reshape(b, 1, n_heads * d)

    def __call__(self, x: torch.Tensor, position: int | torch.Tensor, cache: Any,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """``position`` is an int, or a [1] tensor on the device (the static form a CUDA graph replays, see
        :mod:`core.model.graphed_decode`; ``cache`` then returns its whole storage and ``mask`` [1, 1, 1, T] bool
        says which slots hold positions <= ``position``)."""
        b = x.shape[0]
        pos = position.view(1, 1) if isinstance(position, torch.Tensor) else torch.tensor([[position]], device=x.device)
        cos, sin = self.rotary(x, pos)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # [1, 1, 1, d], broadcast over the batch
        hd, eps = self.head_dim, self.eps
        on_cpu = x.device.type == "cpu"
        for i, ly in enumerate(self.layers):
            h = _rms(x, ly.ln1, eps)
            q, k, v = ly.qkv(h).split(self.split, dim=-1)
            q = q.view(b, 1, self.n_heads, hd).transpose(1, 2)
            k = k.view(b, 1, self.n_kv, hd).transpose(1, 2)
            v = v.view(b, 1, self.n_kv, hd).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            keys, values = cache.update(k, v, i)
            if on_cpu or mask is not None:
                o = self._attend_one(q, keys, values, mask)
            else:
                o = F.scaled_dot_product_attention(q, keys, values, scale=self.scale, enable_gqa=True)
                o = o.transpose(1, 2).reshape(b, 1, -1)
            x = x + ly.o(o)
            h = _rms(x, ly.ln2, eps)
            g, u = ly.gate_up(h).split((self.inter, self.inter), dim=-1)
            x = x + ly.down(F.silu(g) * u)
        return _rms(x, self.norm_w, eps)
