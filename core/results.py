"""Parsing of R1-Omni answers and the result values that cross threads.

The model is trained to answer ``<think>reasoning</think><answer>emotion</answer>``. Real outputs
miss tags, leave ``<answer>`` unclosed, or name a label outside the set; each case gets its own
``parse_status`` so that the UI, logs and metrics can show it rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from core import labels as _labels
from core.consistency import Consistency, labels_of
from core.consistency import check as check_consistency
from core.faces import FaceCheck

# parse_status values, most severe first
OK = "ok"
EMPTY = "empty"  # no text at all
NO_ANSWER = "no_answer"  # no <answer> tag
UNCLOSED_ANSWER = "unclosed_answer"  # <answer> without </answer> (e.g. max_new_tokens hit)
OUT_OF_SET = "out_of_set"  # an answer, but not a label of the chosen set
NO_THINK = "no_think"  # answer fine, but the reasoning block is missing or unclosed
PARSE_STATUSES = (OK, EMPTY, NO_ANSWER, UNCLOSED_ANSWER, OUT_OF_SET, NO_THINK)

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_THINK_OPEN = re.compile(r"<think>(.*)$", re.S)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_ANSWER_OPEN = re.compile(r"<answer>(.*)$", re.S)


@dataclass(frozen=True)
class ParsedAnswer:
    think: str | None  # reasoning text (also a partial one from an unclosed <think>)
    answer: str | None  # raw text inside <answer>, stripped
    label: str | None  # normalised label, None unless the answer is usable
    status: str  # one of PARSE_STATUSES


def parse_response(text: str, label_set: tuple[str, ...] | None) -> ParsedAnswer:
    """Split a generated text into reasoning and answer and normalise the answer.

    ``label_set=None`` means free labels. Only the first ``<answer>`` counts, as in the
    reference reward function.
    """
    text = text or ""
    m = _THINK.search(text)
    think: str | None
    if m:
        think, think_closed = m.group(1).strip(), True
    else:
        mo = _THINK_OPEN.search(text)
        think, think_closed = (mo.group(1).split("<answer>")[0].strip() if mo else None), False
    if not text.strip():
        return ParsedAnswer(None, None, None, EMPTY)
    ma = _ANSWER.search(text)
    if not ma:
        mo = _ANSWER_OPEN.search(text)
        if mo:
            return ParsedAnswer(think, mo.group(1).strip(), None, UNCLOSED_ANSWER)
        return ParsedAnswer(think, None, None, NO_ANSWER)
    answer = ma.group(1).strip()
    norm = _labels.normalise(answer, label_set)
    if not norm.in_set:
        return ParsedAnswer(think, answer, None, OUT_OF_SET)
    return ParsedAnswer(think, answer, norm.label, OK if think_closed else NO_THINK)


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class AnalysisResult:
    """What the model returns for one clip (``R1OmniModel.analyze``)."""

    token_ids: tuple[int, ...]
    text: str  # decoded generation, special tokens skipped, stripped
    think: str | None
    answer: str | None
    label: str | None
    parse_status: str
    label_set: str  # "dfew" | "mafw" | "ravdess" | "free"
    modal: str  # "video_audio" | "video"
    scores: Mapping[str, float] | None = None  # model preference over the label set (not calibrated)
    timings: Mapping[str, float] = field(default_factory=dict)  # stage name -> seconds (+ first_token, total)
    profile: str = "exact"  # "exact" (the official computation) | "fast" (approximate: label it so)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings", _frozen(self.timings))
        if self.scores is not None:
            object.__setattr__(self, "scores", _frozen(self.scores))

    @classmethod
    def from_dict(cls, d: object) -> AnalysisResult:
        """The inverse of ``to_dict``, for a result that crossed a process or a network: ``d`` is whatever was
        decoded; it and every field are checked for their type (a ``ValueError`` names the first wrong one),
        unknown keys are ignored."""
        if not isinstance(d, Mapping):
            raise ValueError("a result must be a JSON object")

        def text(name: str, optional: bool = True) -> str | None:
            value = d.get(name)
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise ValueError(f"result field {name!r} must be text")
            return value

        def numbers(name: str) -> dict[str, float] | None:
            value = d.get(name)
            if value is None:
                return None
            if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                    for k, v in value.items()):
                raise ValueError(f"result field {name!r} must map names to numbers")
            return {k: float(v) for k, v in value.items()}

        ids = d.get("token_ids")
        if not isinstance(ids, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ValueError("result field 'token_ids' must be a list of integers")
        status = text("parse_status", optional=False)
        if status not in PARSE_STATUSES:
            raise ValueError(f"result field 'parse_status' is {status!r}, not one of {', '.join(PARSE_STATUSES)}")
        return cls(
            token_ids=tuple(ids), text=text("text", optional=False) or "", think=text("think"),
            answer=text("answer"), label=text("label"), parse_status=status,
            label_set=text("label_set", optional=False) or "", modal=text("modal", optional=False) or "",
            scores=numbers("scores"), timings=numbers("timings") or {},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_ids": list(self.token_ids),
            "text": self.text,
            "think": self.think,
            "answer": self.answer,
            "label": self.label,
            "parse_status": self.parse_status,
            "label_set": self.label_set,
            "modal": self.modal,
            "scores": dict(self.scores) if self.scores is not None else None,
            "timings": dict(self.timings),
            "profile": self.profile,
        }


@dataclass(frozen=True)
class WindowResult:
    """An analysis placed on the session clock: drawn at ``[t0, t1]``, never at arrival time."""

    window_id: int
    t0: float  # session seconds
    t1: float
    wall_t0: float  # unix seconds of t0
    analysis: AnalysisResult
    audio_status: str  # see core.window.AUDIO_STATUSES
    finished_at: float  # session seconds when the result became available
    faces: tuple[int, ...] | None = None  # frontal faces per frame the model saw (core.faces); None: not checked
    frame_indices: tuple[int, ...] | None = None  # which of the window's frames the model saw (core.window rule)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_id": self.window_id,
            "t0": self.t0,
            "t1": self.t1,
            "wall_t0": self.wall_t0,
            "audio_status": self.audio_status,
            "finished_at": self.finished_at,
            "faces": list(self.faces) if self.faces is not None else None,
            **self.analysis.to_dict(),
            "consistency": self.consistency.to_dict(),
        }

    @property
    def face_check(self) -> FaceCheck | None:
        return FaceCheck(self.faces) if self.faces is not None else None

    @property
    def consistency(self) -> Consistency:
        """Does the answer agree with its reasoning, the audio and the faces in view (``core.consistency``)."""
        a = self.analysis
        return check_consistency(a.think, a.label, labels_of(a.label_set), self.audio_status, self.faces)
