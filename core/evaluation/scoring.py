"""From a raw model answer to a prediction over the evaluation label set.

The official DFEW/MAFW/RAVDESS scripts compare the raw response with the label, so every
``<think>…</think><answer>…</answer>`` output scores as wrong there. Here the answer is extracted
first (``core.results.parse_response``: the first ``<answer>`` block, normalised). Models of the
HumanOmni family that answer with a bare word (``"angry"``) are accepted too when the whole
response is one label of the set: status ``BARE_LABEL``.
"""

from __future__ import annotations

from core import labels as _labels
from core.results import NO_ANSWER, NO_THINK, OK, ParsedAnswer, parse_response

BARE_LABEL = "bare_label"  # no tags, but the whole response is a label of the set
PARSED_STATUSES = frozenset({OK, NO_THINK, BARE_LABEL})  # statuses that yield a prediction


def predict(text: str, labels: tuple[str, ...] | None) -> ParsedAnswer:
    """Parse ``text`` against ``labels`` (``None`` = free labels). ``label`` is the prediction or ``None``."""
    parsed = parse_response(text, labels)
    if parsed.status != NO_ANSWER:
        return parsed
    bare = _labels.normalise(text, labels)
    if bare.in_set:  # the whole response, trimmed of punctuation, is one label: not a sentence about one
        return ParsedAnswer(parsed.think, text.strip(), bare.label, BARE_LABEL)
    return parsed
