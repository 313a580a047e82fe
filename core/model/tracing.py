"""The debug hook of :class:`core.model.runtime.R1OmniModel`: ``with model.trace() as t: model.analyze(...)``
records every intermediate of the calls made inside the block as a float32 (or integer) CPU tensor.

Names are those of the parity fixture (``pixel_values``, ``siglip_selected``, ``proj_video`` .. ``gen_step_logits``).
The stages ask :attr:`Tracer.active` to bypass their caches while tracing, so that every stage really runs.
Used by the thread that owns the model only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


class Trace(dict):
    """name -> CPU tensor (floating point values as float32)."""

    def put(self, name: str, value: torch.Tensor | np.ndarray) -> None:
        t = torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value.detach().to("cpu")
        self[name] = t.float() if t.is_floating_point() else t


class Tracer:
    """Holds the trace being recorded, if any; ``put`` is a no-op outside a ``trace()`` block."""

    def __init__(self) -> None:
        self._trace: Trace | None = None

    @property
    def active(self) -> bool:
        return self._trace is not None

    @contextlib.contextmanager
    def trace(self) -> Iterator[Trace]:
        self._trace = Trace()
        try:
            yield self._trace
        finally:
            self._trace = None

    def put(self, name: str, value: Any) -> None:
        if self._trace is not None:
            self._trace.put(name, value)
