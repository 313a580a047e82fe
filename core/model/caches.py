"""Small caches of what does not change between windows (per instruction, per prompt)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

CACHE_ENTRIES = 16  # instructions / prompts remembered per cache


class LRU(OrderedDict):
    """A least-recently-used map of at most ``limit`` entries. Used by one thread (the model's owner)."""

    def __init__(self, limit: int = CACHE_ENTRIES) -> None:
        super().__init__()
        self.limit = limit

    def get_or(self, key: Any, make: Callable[[], Any]) -> Any:
        """The value for ``key``, made by ``make()`` and remembered on a miss."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.limit:
            self.popitem(last=False)
        return value
