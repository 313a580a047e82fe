"""Making bundle and model text safe for each export format and for a terminal.

The text in a bundle (labels, answers, reasoning, marker notes, ids, score names) is untrusted: it may hold
control characters, formula prefixes, markup or WebVTT syntax. Each format gets the escaping it needs:

- every format: C0 control characters other than tab and newline, DEL and C1 controls (ESC sequences,
  the 8-bit CSI) become U+FFFD; CR and CRLF become a newline;
- CSV: the OWASP rule against formula injection — a text cell starting with ``= + - @``, tab or CR gets a
  leading ``'``; numbers stay numbers;
- WebVTT: markup escaped, no ``-->`` and no blank line inside a cue, ids and header text on one line;
- HTML and ELAN XML: escaped by their writers (``html.escape``, ElementTree) after the cleaning above.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 except \t and \n, DEL, C1
_NEWLINES = re.compile("\r\n?")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
VTT_ARROW = "-->"
VTT_ARROW_SAFE = "--\u203a"  # "--›": reads the same, cannot end a cue timing


def clean_text(text: str) -> str:
    """``text`` without control characters (tab and newline kept; CR/CRLF become a newline)."""
    text = _NEWLINES.sub("\n", text)
    return _CONTROL.sub(REPLACEMENT, text)


def one_line(text: str) -> str:
    """``clean_text`` on one line: newlines and tabs become spaces."""
    return clean_text(text).replace("\n", " ").replace("\t", " ")


def terminal_safe(text: str) -> str:
    """What may be printed to a terminal: no escape sequences, no carriage returns (tab and newline kept)."""
    return clean_text(text)


def csv_cell(value: Any) -> Any:
    """A CSV cell: ``None`` → empty, floats exact (``repr``), ints as they are, text cleaned and neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return value
    text = clean_text(str(value))
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def vtt_cue_text(text: str) -> str:
    """A WebVTT cue payload: markup escaped, no ``-->``, no blank or white-space line (``(empty)`` if nothing
    is left), so the payload can neither end its cue nor start another."""
    escaped = html.escape(clean_text(text), quote=False)  # ">" becomes "&gt;": no "-->" survives
    return "\n".join(line for line in escaped.split("\n") if line.strip()) or "(empty)"


def vtt_line(text: str) -> str:
    """Text for a WebVTT header, NOTE or cue id: one line without ``-->``."""
    return one_line(text).replace(VTT_ARROW, VTT_ARROW_SAFE)


def clean_json(value: Any) -> Any:
    """A JSON value with every string (keys too) through :func:`clean_text` and non-finite numbers as None."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def markdown_cell(text: str) -> str:
    """A Markdown table cell: one line, ``|`` escaped."""
    return one_line(text).replace("|", "\\|")
