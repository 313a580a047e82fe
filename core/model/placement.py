"""Where a part of the model runtime computes: the device and dtype of the model module it holds.

:class:`~core.model.runtime.R1OmniModel`, its :class:`~core.model.encoding.Encoder` and its
:class:`~core.model.decoding.Decoder` all hold the same module and ask it the same two questions; the answer lives
here once. The embedding table is the reference: every precision and device change moves it with the rest.
"""

from __future__ import annotations

from typing import Any

import torch


class OnModule:
    """Mixin for a class with a ``module`` attribute (the loaded R1-Omni module)."""

    module: Any

    @property
    def device(self) -> torch.device:
        return self.module.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.module.model.embed_tokens.weight.dtype

    def _sync(self) -> None:
        """Wait for the queued GPU work, so that a stage's time is the stage's (a no-op on a CPU)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
