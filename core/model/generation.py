"""Greedy decoding with a preallocated KV cache, as the official greedy call behaves.

- the prompt is given as embeddings, so ``input_ids`` of the official call is empty and the repetition penalty
  only ever sees generated tokens (never the prompt);
- stopping: any id of ``stop_ids`` (the eos list of ``generation_config.json`` plus ``<|im_end|>``) ends the
  generation after it is emitted, as does ``max_new_tokens``;
- the prefill sends only the last position through the output layer; each decode step runs the 24 Qwen2 layers
  directly on one position (no per-step mask building, no logits processors);
- B prompts of equal length can decode together (``R1OmniModel.generate_batch``): the cache holds [B, ...] rows and
  the stop and the penalty apply per sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class GenerationSettings:
    stop_ids: frozenset[int]
    repetition_penalty: float = 1.0

    @classmethod
    def from_configs(cls, generation_config: dict[str, Any] | None, model_config: dict[str, Any],
                     im_end_id: int | None) -> GenerationSettings:
        """``generation_config.json`` (may be None) + ``config.json`` + the tokenizer's ``<|im_end|>`` id."""
        gc = generation_config or {}
        eos = gc.get("eos_token_id", model_config.get("eos_token_id"))
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if im_end_id is not None:
            ids.add(int(im_end_id))
        return cls(frozenset(int(i) for i in ids), float(gc.get("repetition_penalty") or 1.0))


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor | None, penalty: float) -> torch.Tensor:
    """logits [V] (or [B, V]) float32 with the usual penalty (negative x penalty, positive / penalty) where ``seen``
    [V] (or [B, V]) bool marks the ids each sequence generated so far. Returns a new tensor; stays on the logits'
    device."""
    if penalty == 1.0 or seen is None:
        return logits
    return torch.where(seen, torch.where(logits < 0, logits * penalty, logits / penalty), logits)


class KVCache:
    """Preallocated per-layer key/value storage ``[B, kv_heads, max_len, head_dim]`` (``B = batch`` sequences of
    equal length, written together).

    Implements the ``update(k, v, layer_idx)`` call of transformers' attention layers. ``length`` is the number of
    positions written; callers ``advance`` it after each forward.
    """

    def __init__(self, n_layers: int, kv_heads: int, head_dim: int, max_len: int, dtype: torch.dtype,
                 device: torch.device, batch: int = 1, zeroed: bool = False) -> None:
        shape = (batch, kv_heads, max_len, head_dim)
        new = torch.zeros if zeroed else torch.empty  # zeroed: slots never written stay finite (masked reads)
        self.keys = [new(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.values = [new(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.length = 0
        self.max_len = max_len
        self.batch = batch

    def update(self, k: torch.Tensor, v: torch.Tensor, layer_idx: int, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise RuntimeError(f"KV cache full ({self.max_len} positions)")
        self.keys[layer_idx][:, :, self.length:end] = k
        self.values[layer_idx][:, :, self.length:end] = v
        return self.keys[layer_idx][:, :, :end], self.values[layer_idx][:, :, :end]

    def advance(self, n: int) -> None:
        self.length += n

    def reset(self) -> None:
        """Empty again (the storage is kept and overwritten by the next prefill)."""
        self.length = 0

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.length


class BranchCache:
    """Read-only view of the first ``past_len`` positions of a :class:`KVCache`, broadcast to a batch of
    continuations (label scoring). The shared prefix is never modified."""

    def __init__(self, base: KVCache, past_len: int, batch: int) -> None:
        self.base, self.past_len, self.batch = base, past_len, batch

    def update(self, k: torch.Tensor, v: torch.Tensor, layer_idx: int, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
        pk = self.base.keys[layer_idx][:, :, :self.past_len].expand(self.batch, -1, -1, -1)
        pv = self.base.values[layer_idx][:, :, :self.past_len].expand(self.batch, -1, -1, -1)
        return torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.past_len
