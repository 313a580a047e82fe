from __future__ import annotations

import numpy as np
import pytest

from core import labels
from core.results import (
    EMPTY,
    NO_ANSWER,
    NO_THINK,
    OK,
    OUT_OF_SET,
    UNCLOSED_ANSWER,
    AnalysisResult,
    parse_response,
)
from core.window import Window


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>He frowns and shouts.</think>\n<answer>angry</answer>",
         ("He frowns and shouts.", "angry", "angry", OK)),
        ("<think>a</think><answer> Fearful. </answer>", ("a", "Fearful.", "fear", OK)),
        ("<think>a</think><answer>Surprised</answer>", ("a", "Surprised", "surprise", OK)),
        ("<answer>sad</answer>", (None, "sad", "sad", NO_THINK)),
        ("<think>open reasoning <answer>happy</answer>", ("open reasoning", "happy", "happy", NO_THINK)),
        ("<think>x</think><answer>happy", ("x", "happy", None, UNCLOSED_ANSWER)),
        ("<think>x</think> I think he is happy", ("x", None, None, NO_ANSWER)),
        ("<think>x</think><answer>bored</answer>", ("x", "bored", None, OUT_OF_SET)),
        ("   ", (None, None, None, EMPTY)),
        ("<think>x</think><answer>contemptuous</answer>", ("x", "contemptuous", None, OUT_OF_SET)),
    ],
)
def test_parse_response_dfew(text, expected):
    p = parse_response(text, labels.DFEW)
    assert (p.think, p.answer, p.label, p.status) == expected


def test_first_answer_counts_and_mafw_has_extra_labels():
    p = parse_response("<think>t</think><answer>contempt</answer><answer>happy</answer>", labels.MAFW)
    assert (p.label, p.status) == ("contemptuous", OK)


def test_free_label_set_keeps_any_answer():
    p = parse_response("<think>t</think><answer> Bored </answer>", None)
    assert (p.label, p.status) == ("bored", OK)


def test_normalisation_never_maps_one_emotion_to_another():
    for word in ("scared", "joy", "furious", "upset"):
        assert labels.normalise(word, labels.MAFW).label is None
    assert labels.normalise("HAPPINESS", labels.DFEW).label == "happy"


def test_label_set_names():
    assert labels.label_set("DFEW") == labels.DFEW and len(labels.DFEW) == 7
    assert len(labels.label_set("mafw")) == 11 and len(labels.label_set("ravdess")) == 8
    assert labels.label_set("free") is None
    with pytest.raises(ValueError, match="dfew"):
        labels.label_set("nope")


def test_every_label_has_a_distinct_colour():
    all_labels = set(labels.MAFW) | set(labels.RAVDESS)
    cols = [labels.colour(lab) for lab in all_labels]
    assert len(set(cols)) == len(cols) and labels.UNKNOWN_COLOUR not in cols


def test_analysis_result_is_immutable_and_serialisable():
    r = AnalysisResult((1, 2), "t", "th", "a", "angry", OK, "dfew", "video", {"angry": 0.9}, {"decode": 1.0})
    with pytest.raises(TypeError):
        r.timings["x"] = 1.0  # type: ignore[index]
    assert r.to_dict()["token_ids"] == [1, 2] and r.to_dict()["scores"] == {"angry": 0.9}


def test_window_copies_and_freezes_arrays():
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    audio = np.zeros(160, np.float32)
    w = Window(1, 0.0, 1.0, frames, [0.0, 0.5], audio)
    frames[:] = 7
    assert w.frames.max() == 0 and not w.frames.flags.writeable and not w.audio.flags.writeable
    with pytest.raises(ValueError, match="uint8"):
        Window(2, 0.0, 1.0, frames.astype(np.float32), [0.0, 0.5], None)
