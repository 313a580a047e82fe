"""Answer extraction for scoring: tags first, a bare label only when it is the whole response."""

from __future__ import annotations

import pytest

from core import labels
from core.evaluation.scoring import BARE_LABEL, PARSED_STATUSES, predict
from core.results import NO_ANSWER, OK, OUT_OF_SET, UNCLOSED_ANSWER


@pytest.mark.parametrize("text, label, status", [
    ("<think>frowns</think>\n<answer>angry</answer>", "angry", OK),
    ("<think>x</think><answer>Surprised</answer>", "surprise", OK),
    ("Angry.", "angry", BARE_LABEL),  # HumanOmni-style bare answer
    ("  fearful\n", "fear", BARE_LABEL),
    ("I think the person is angry", None, NO_ANSWER),  # a sentence is not guessed at
    ("angry sad", None, NO_ANSWER),
    ("<think>x</think><answer>angry", None, UNCLOSED_ANSWER),  # cut off by max_new_tokens
    ("<answer>calm</answer>", None, OUT_OF_SET),  # RAVDESS label, DFEW set
    ("calm", None, NO_ANSWER),
])
def test_predict_dfew(text, label, status):
    p = predict(text, labels.DFEW)
    assert (p.label, p.status) == (label, status)
    assert (p.status in PARSED_STATUSES) == (label is not None)

