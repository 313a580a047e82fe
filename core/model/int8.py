"""Int8 weight-only linear layers for decoding (the fast profile, see :mod:`core.model.profiles`).

Decoding one token reads every weight of the language model once, so on a CPU it is bound by memory traffic;
int8 weights halve that traffic against bfloat16. Each weight matrix [N, K] is quantised per output channel,
symmetrically: ``scale[n] = max|w[n, :]| / 127`` (rounded to the activation dtype the kernel takes), ``q = round(w /
scale)`` in [-127, 127]; the product uses torch's own ``aten._weight_int8pack_mm`` (activations in bfloat16,
int8 weights, one scale per output channel). Measured for the 24 layers of one decode step on the 2-core Xeon
(AMX) this project is built on, in one interleaved run (shared machine, medians): float32 ``F.linear`` 66 ms,
bfloat16 ``F.linear`` 67 ms, bfloat16 ``torch.mv`` 47 ms (what the exact path uses for one row, see
:class:`DenseLinear`), this int8 kernel 38 ms. torchao 0.18's int8 weight-only tensors took 77-84 ms in eager mode
where bfloat16 ``F.linear`` took 50 ms in the same session — so no extra dependency. The int8 kernel is slow for
many rows (a 900-position prefill: 8.4 s against 0.36 s in bfloat16; 8 rows: 69 against 47 ms), so an
:class:`Int8Linear` keeps its dense weight and uses it above ``INT8_MAX_ROWS`` rows: the prefill and label
scoring stay in the model's own precision. That costs memory (the int8 copy, 0.46 GiB for R1-Omni-0.5B
including the output layer), and keeps the first token as early as in the exact path.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

INT8_MAX_ROWS = 4  # rows up to which the int8 kernel beats bfloat16 F.linear (measured: 4 rows 36 vs 50 ms)
QUANT_CHUNK_ROWS = 8192  # output channels quantised at a time (bounds the float32 transient: 8192 x K)
QMAX = 127
KERNEL_DTYPE = torch.bfloat16  # activation (and scale) dtype the CPU kernel is fast with


def quantize(weight: torch.Tensor, dtype: torch.dtype = KERNEL_DTYPE,
             out: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """weight [N, K] (any float dtype) -> (q int8 [N, K], scales ``dtype`` [N]) with q * scales ~ weight, written
    into ``out`` when given. The weight itself is not changed.

    The scale is rounded to ``dtype`` first and the weights divided by the rounded scale, so that the rounding of
    the scale does not add to the error of every weight."""
    n = weight.shape[0]
    if out is None:
        out = (torch.empty(weight.shape, dtype=torch.int8, device=weight.device),
               torch.empty(n, dtype=dtype, device=weight.device))
    q, scales = out
    for start in range(0, n, QUANT_CHUNK_ROWS):
        rows = slice(start, start + QUANT_CHUNK_ROWS)
        w = weight[rows]
        s = (w.abs().amax(dim=1).float() / QMAX).clamp_min(torch.finfo(torch.float32).tiny).to(dtype)
        q[rows] = w.to(torch.float32, copy=True).div_(s.float()[:, None]).round_().clamp_(-QMAX, QMAX)
        scales[rows] = s
    return q, scales


def kernel_problem(device: torch.device) -> str | None:
    """None when ``_weight_int8pack_mm`` runs on ``device`` with this torch, else why not (probed once on a
    tiny product)."""
    try:
        x = torch.ones((1, 32), dtype=KERNEL_DTYPE, device=device)
        q = torch.ones((8, 32), dtype=torch.int8, device=device)
        out = torch.ops.aten._weight_int8pack_mm(x, q, torch.ones(8, dtype=KERNEL_DTYPE, device=device))
        if out.shape != (1, 8) or float(out[0, 0]) != 32.0:
            return f"torch's int8 kernel gives wrong results on {device.type}"
    except (RuntimeError, NotImplementedError, AttributeError) as exc:
        return f"torch {torch.__version__} has no int8 weight kernel on {device.type} ({type(exc).__name__})"
    return None


class DenseLinear:
    """``x [..., K] -> x @ weight.T + bias`` with the model's own weight (a view, nothing copied).

    One bfloat16 row on a CPU (a decode step of one window) goes through ``torch.mv`` / ``torch.addmv``: the same
    numbers as ``F.linear`` (float32 accumulation, one rounding; equal element for element, tested) at ~1.4x the
    speed (24 layers of one step: 47 ms against 67 ms; the output layer 13 against 19 ms), because the matrix-
    matrix kernel ``F.linear`` picks is not tuned for a single row. Other shapes and dtypes use ``F.linear``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight, self.bias = weight, bias
        self._vector = weight.dtype == torch.bfloat16 and weight.device.type == "cpu"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._vector and x.numel() == x.shape[-1] and x.dtype == torch.bfloat16:
            v = x.reshape(-1)
            y = torch.mv(self.weight, v) if self.bias is None else torch.addmv(self.bias, self.weight, v)
            return y.view(*x.shape[:-1], -1)
        return F.linear(x, self.weight, self.bias)

    def nbytes(self) -> int:
        return 0  # shares the model's parameters


class Int8Linear:
    """The same product with int8 weights for up to ``INT8_MAX_ROWS`` rows, the dense one above (see module
    docstring). Output in the input's dtype. ``storage``: (q, scales) to quantise into (see :func:`int8_linears`)."""

    def __init__(self, dense: DenseLinear, storage: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.dense = dense
        self.q, self.scales = quantize(dense.weight, out=storage)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        k = x.shape[-1]
        rows = x.numel() // k
        if rows > INT8_MAX_ROWS:
            return self.dense(x)
        y = torch.ops.aten._weight_int8pack_mm(x.reshape(rows, k).to(KERNEL_DTYPE), self.q, self.scales)
        y = y.to(x.dtype).reshape(*x.shape[:-1], -1)
        return y if self.dense.bias is None else y + self.dense.bias

    def nbytes(self) -> int:
        return self.q.numel() * self.q.element_size() + self.scales.numel() * self.scales.element_size()


Linear = Any  # DenseLinear | Int8Linear: callables x -> y


def int8_linears(denses: list[DenseLinear]) -> list[Int8Linear]:
    """Int8 versions of ``denses``, their weights and scales in one int8 and one scale tensor for all: one large
    allocation instead of hundreds of medium ones, which left the process ~0.4 GB larger than its tensors (freed
    quantisation temporaries between them)."""
    device = denses[0].weight.device
    sizes = [d.weight.numel() for d in denses]
    rows = [d.weight.shape[0] for d in denses]
    q_all = torch.empty(sum(sizes), dtype=torch.int8, device=device)
    s_all = torch.empty(sum(rows), dtype=KERNEL_DTYPE, device=device)
    out, qi, si = [], 0, 0
    for d, n, r in zip(denses, sizes, rows):
        storage = (q_all[qi:qi + n].view(d.weight.shape), s_all[si:si + r])
        out.append(Int8Linear(d, storage))
        qi, si = qi + n, si + r
    return out
