"""Incremental detokenisation for ``on_token``: emit only complete text.

Byte-level BPE pieces can split a multi-byte UTF-8 character; decoding such a prefix yields U+FFFD. The decoder
re-decodes a short window of recent ids and holds text back while it ends in an incomplete character, so the
concatenation of all deltas plus :meth:`flush` equals ``tokenizer.decode(all_ids, skip_special_tokens=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

REPLACEMENT_CHAR = "\ufffd"


class IncrementalDecoder:
    def __init__(self, tokenizer: Any, on_text: Callable[[str], None] | None) -> None:
        self._tok = tokenizer
        self._on_text = on_text
        self._ids: list[int] = []
        self._prefix = 0  # start of the decode window
        self._read = 0  # ids up to here have been emitted

    def _decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=True)

    def push(self, token_id: int) -> str:
        """Add one id; return (and send to ``on_text``) the newly completed text, possibly ''."""
        self._ids.append(int(token_id))
        prefix_text = self._decode(self._ids[self._prefix:self._read])
        new_text = self._decode(self._ids[self._prefix:])
        if len(new_text) > len(prefix_text) and not new_text.endswith(REPLACEMENT_CHAR):
            delta = new_text[len(prefix_text):]
            self._prefix, self._read = self._read, len(self._ids)
            self._emit(delta)
            return delta
        return ""

    def flush(self) -> str:
        """Emit whatever is held back (a genuinely invalid byte sequence decodes to U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix:self._read])
        new_text = self._decode(self._ids[self._prefix:])
        delta = new_text[len(prefix_text):]
        self._prefix = self._read = len(self._ids)
        if delta:
            self._emit(delta)
        return delta

    def _emit(self, text: str) -> None:
        if self._on_text is not None and text:
            self._on_text(text)
