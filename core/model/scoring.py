"""The model's preference over a label set after its reasoning (``analyze(..., scores=True)``).

For each label the log-probability of the continuation ``<answer>LABEL</answer>`` is summed over its tokens, in
one batched forward over all labels that reuses the generation's KV cache as a shared prefix; a softmax over the
labels normalises the totals. These are relative preferences over the set, not calibrated probabilities.
"""

from __future__ import annotations

from typing import Any

import torch

from core.model.generation import BranchCache, KVCache


def answer_cut(tokenizer: Any, ids: list[int], stop_ids: frozenset[int]) -> tuple[int, str]:
    """(number of generated ids kept as prefix, text of the cut token before ``<answer>``): the continuation
    starts where the generated text first opens ``<answer>``, or after all generated text (less a final stop
    id)."""
    text = ""
    for i in range(len(ids)):
        prev = text
        text = tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
        at = text.find("<answer>")
        if at >= 0:
            return i, text[len(prev):at] if at >= len(prev) else ""
    kept = len(ids)
    if ids and ids[-1] in stop_ids:
        kept -= 1
    return kept, ""


def score_labels(module: Any, tokenizer: Any, layers: Any, embeds: torch.Tensor, ids: list[int], cache: KVCache,
                 labels: tuple[str, ...], stop_ids: frozenset[int]) -> dict[str, float]:
    """Normalised probability of each ``<answer>LABEL</answer>`` continuation of the sequence ``embeds`` [1, L, H]
    + generated ``ids`` whose keys/values are in ``cache``. ``layers(x, start, cache, mask)`` runs the decoder
    layers (:meth:`core.model.decoding.Decoder.layers`)."""
    device = embeds.device
    cut, lead = answer_cut(tokenizer, ids, stop_ids)
    past_len = embeds.shape[1] + cut - 1
    first = embeds[0, -1] if cut == 0 else module.embed(torch.tensor(ids[cut - 1], device=device))
    conts = [tokenizer(f"{lead}<answer>{lab}</answer>", add_special_tokens=False)["input_ids"] for lab in labels]
    q = 1 + max(len(c) for c in conts)
    tok = torch.zeros((len(labels), q - 1), dtype=torch.long, device=device)
    for i, c in enumerate(conts):
        tok[i, : len(c)] = torch.tensor(c, device=device)
    x = torch.cat([first.expand(len(labels), 1, -1), module.embed(tok)], dim=1)
    mask = torch.ones((q, past_len + q), dtype=torch.bool, device=device)
    mask[:, past_len:] = torch.ones((q, q), dtype=torch.bool, device=device).tril()
    hidden = layers(x, past_len, BranchCache(cache, past_len, len(labels)), mask[None, None])
    logp = torch.log_softmax(module.lm_head(hidden[:, :-1]).float(), dim=-1)  # [labels, q-1, V]
    totals = []
    for i, c in enumerate(conts):
        n = len(c)
        totals.append(logp[i, torch.arange(n, device=device), tok[i, :n]].sum())
    probs = torch.softmax(torch.stack(totals), dim=0).tolist()
    return {lab: float(p) for lab, p in zip(labels, probs)}
