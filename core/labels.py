"""Emotion label sets, normalisation and the one colour per label used everywhere.

The sets are the vocabularies R1-Omni was trained and evaluated on (DFEW 7, MAFW 11, RAVDESS 8).
Normalisation maps only spellings of the *same* emotion word onto the set's canonical label
(case, surrounding punctuation, ``fearful`` → ``fear``, ``happiness`` → ``happy``); it never maps
one emotion onto another, so an answer outside the set is reported as such, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DFEW = ("happy", "surprise", "neutral", "angry", "disgust", "sad", "fear")
MAFW = DFEW + ("contemptuous", "disappointed", "helpless", "anxious")
RAVDESS = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")

LABEL_SETS: dict[str, tuple[str, ...]] = {"dfew": DFEW, "mafw": MAFW, "ravdess": RAVDESS}
FREE = "free"  # no fixed set: the normalised answer text is the label

# Inflections of the same emotion word (noun/adjective/participle forms). Not synonyms.
_VARIANTS: dict[str, str] = {
    "fearful": "fear", "afraid": "fear",
    "surprised": "surprise",
    "happiness": "happy",
    "sadness": "sad",
    "anger": "angry",
    "disgusted": "disgust",
    "contempt": "contemptuous",
    "disappointment": "disappointed",
    "helplessness": "helpless",
    "anxiety": "anxious",
    "calmness": "calm",
    "neutrality": "neutral",
}

_STRIP = re.compile(r"^[\s\"'`.,;:!?()\[\]{}*_-]+|[\s\"'`.,;:!?()\[\]{}*_-]+$")

# Okabe–Ito (colour-blind safe) for the 7 DFEW labels, neutral grey; lighter tints for MAFW's extra 4
# and RAVDESS's "calm". Hex strings so core, exports and the UI share them without Qt.
LABEL_COLOURS: dict[str, str] = {
    "happy": "#E69F00",
    "surprise": "#56B4E9",
    "neutral": "#999999",
    "angry": "#D55E00",
    "disgust": "#009E73",
    "sad": "#0072B2",
    "fear": "#CC79A7",
    "contemptuous": "#F0E442",
    "disappointed": "#7FB8D8",
    "helpless": "#E6B8D3",
    "anxious": "#F3C173",
    "calm": "#8FD3B6",
}
UNKNOWN_COLOUR = "#5A5A5A"

# How the labels read in each UI language other than English (the window and the HTML report). The canonical
# English ids above stay in logs, CSV/JSON and evaluation files; these names are for people only.
DISPLAY_NAMES: dict[str, dict[str, str]] = {
    "zh_CN": {
        "happy": "高兴", "surprise": "惊讶", "neutral": "中性", "angry": "愤怒", "disgust": "厌恶", "sad": "悲伤",
        "fear": "恐惧", "contemptuous": "轻蔑", "disappointed": "失望", "helpless": "无助", "anxious": "焦虑",
        "calm": "平静",
    },
}


def display_name(label: str, language: str = "en") -> str:
    """The name a person reads for ``label`` in ``language`` ("en", "zh_CN"); an answer outside every set
    (free labels) is shown as the model wrote it."""
    return DISPLAY_NAMES.get(language, {}).get(label, label)


def label_set(name: str) -> tuple[str, ...] | None:
    """The labels of a named set (``dfew``/``mafw``/``ravdess``), ``None`` for ``free``."""
    key = name.strip().lower()
    if key == FREE:
        return None
    try:
        return LABEL_SETS[key]
    except KeyError:
        raise ValueError(
            f"unknown label set {name!r}: use one of {', '.join([*LABEL_SETS, FREE])}"
        ) from None


def canonical(text: str) -> str:
    """Lower-case, trim punctuation and map inflections to the canonical emotion word."""
    word = _STRIP.sub("", text.strip().lower())
    word = re.sub(r"\s+", " ", word)
    return _VARIANTS.get(word, word)


@dataclass(frozen=True)
class Normalised:
    label: str | None  # canonical label, or None when the answer is not in the set
    in_set: bool


def normalise(answer: str, labels: tuple[str, ...] | None) -> Normalised:
    """Map a model answer onto ``labels``; with ``labels=None`` (free) any non-empty answer is kept."""
    word = canonical(answer)
    if not word:
        return Normalised(None, False)
    if labels is None:
        return Normalised(word, True)
    return Normalised(word, True) if word in labels else Normalised(None, False)


def colour(label: str | None) -> str:
    return LABEL_COLOURS.get(label or "", UNKNOWN_COLOUR)
