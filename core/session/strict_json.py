"""Strict JSON for untrusted bundle files: UTF-8 only, no NaN/Infinity literals, bounded nesting, no lone surrogates.

Python's ``json`` accepts ``NaN`` and ``Infinity``, guesses UTF-16/32 from bytes and keeps escaped lone surrogates
(``"\\ud800"``) that later fail to encode. :func:`loads` refuses the first two and replaces lone surrogates with
U+FFFD. A number beyond float range (``1e400``) still parses, as ``inf``: the field checks
(``core.session.records``) refuse non-finite numbers wherever the app uses one, and the JSON export writes them
as ``null``; so no per-number hook slows down the reading of a long log.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # the app's own lines nest 4 deep
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # only text with one needs the walk below


class JSONRejected(ValueError):
    """The bytes are not strict JSON; the message says why."""


def _no_constant(name: str) -> Any:
    raise JSONRejected(f"{name} is not a JSON number")


def _text(s: str) -> str:
    return _SURROGATE.sub(REPLACEMENT, s) if _SURROGATE.search(s) else s


def _checked(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise JSONRejected(f"nested more than {MAX_DEPTH} levels deep")
        return {_text(k): _checked(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise JSONRejected(f"nested more than {MAX_DEPTH} levels deep")
        return [_checked(v, depth + 1) for v in value]
    return value


def loads(data: bytes | str) -> Any:
    """The JSON value in ``data``; raises :class:`JSONRejected` (a ``ValueError``) with a short reason."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as e:
        raise JSONRejected(f"not UTF-8 text (byte {e.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except JSONRejected:
        raise
    except RecursionError:
        raise JSONRejected(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as e:  # JSONDecodeError, and integers longer than Python converts
        raise JSONRejected(f"not valid JSON ({str(e).split(':')[0]})") from None
    deep = text.count("[") + text.count("{") > MAX_DEPTH  # fewer openers cannot nest deeper
    if deep or _SURROGATE_ESCAPE.search(text):
        return _checked(value, 0)
    return value
