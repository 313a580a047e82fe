"""What did the voice add? A window analysed again video-only, compared with its audio-visual answer.

The official code runs the same model with ``--modal video`` (no audio tokens, the prompt without ``<audio>``).
Running a window that way on exactly the frames its audio-visual analysis saw, with the same question, and comparing
the two answers shows what the audio contributed: the label ("the voice changed fear → angry", or "the voice
changed nothing"), the answer and reasoning text, and the shift of the model's per-label scores. It is an ablation
of one window, not an explanation of the model's internals: the model was never asked to answer without audio in
training, so a video-only answer is itself a model output to read with care.

Values here cross threads: ``AttributionInputs`` (what is kept per window so that it can be attributed later) and
``Attribution`` (the comparison). ``KeptInputs`` is the bounded store of the newest windows' inputs; the inference
worker (``core.engine``) fills it and serves attribution requests when no live window waits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.results import AnalysisResult

if TYPE_CHECKING:
    from core.engine import AnalysisParams

# Inputs kept for on-demand attribution of live windows: the model frames as the model got them (at most 448 px
# on the long side, core.ring_buffer), ≈ 3.6 MB per window at 4:3, so ≈ 58 MB for 16 windows.
ATTRIBUTION_KEPT_WINDOWS = 16
VIDEO_ONLY = "video"
ATTRIBUTION_EVENT = "attribution"  # its type in the session log: ``Attribution.to_dict()`` beside its window

# When every window is attributed automatically (a setting): never, only when the model runs on a GPU (the
# default: on a CPU a video-only run costs as much as the window itself), or always.
AUTO_OFF, AUTO_GPU, AUTO_ON = "off", "gpu", "on"
AUTO_MODES = (AUTO_OFF, AUTO_GPU, AUTO_ON)


def auto_enabled(mode: str, device: str | None) -> bool:
    """Whether windows are attributed automatically under ``mode`` on the model's ``device`` ("cuda:0", "cpu")."""
    if mode not in AUTO_MODES:
        raise ValueError(f"automatic attribution {mode!r}: use one of {', '.join(AUTO_MODES)}")
    return mode == AUTO_ON or (mode == AUTO_GPU and str(device or "").startswith("cuda"))


def _readonly(frames: np.ndarray) -> np.ndarray:
    out = np.array(frames, dtype=np.uint8, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class AttributionInputs:
    """What a video-only run of a window needs, and the audio-visual answer it is compared with.

    frames: uint8 [K, H, W, 3] RGB, exactly the K frames the model saw (so the model's own sampling of K frames from
    K keeps them all) — a private read-only copy. ``params``: the question the window was asked.
    """

    window_id: int
    t0: float  # session seconds
    t1: float
    wall_t0: float  # unix seconds of t0: tells windows of different sessions apart (ids restart)
    frames: np.ndarray
    params: AnalysisParams
    audio_visual: AnalysisResult

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or len(self.frames) == 0:
            raise ValueError(f"frames must be uint8 [K,H,W,3] with K >= 1, got {self.frames.shape}")
        object.__setattr__(self, "frames", _readonly(self.frames))

    @property
    def key(self) -> tuple[int, float]:
        return (self.window_id, self.wall_t0)


@dataclass(frozen=True)
class Attribution:
    """The comparison of one window's audio-visual answer with its video-only answer."""

    window_id: int
    t0: float
    t1: float
    wall_t0: float
    audio_visual_label: str | None
    audio_visual_answer: str | None
    audio_visual_text: str
    audio_visual_scores: Mapping[str, float] | None
    video_only: AnalysisResult
    seconds: float  # wall time of the video-only run (what an attribution costs on this device)

    @property
    def video_only_label(self) -> str | None:
        return self.video_only.label

    @property
    def label_changed(self) -> bool:
        return self.audio_visual_label != self.video_only.label

    @property
    def text_changed(self) -> bool:
        return self.audio_visual_text != self.video_only.text

    @property
    def score_shift(self) -> dict[str, float] | None:
        """Audio-visual minus video-only score per label (both scored), or None when either has no scores."""
        a, v = self.audio_visual_scores, self.video_only.scores
        if not a or not v:
            return None
        return {k: float(a[k]) - float(v[k]) for k in a if k in v}

    def largest_shift(self) -> tuple[str, float] | None:
        shift = self.score_shift
        if not shift:
            return None
        return max(shift.items(), key=lambda kv: abs(kv[1]))

    def summary(self) -> str:
        """"the voice changed fear → angry", "the voice kept angry; the reasoning changed" or "the voice changed
        nothing" (the same text word for word); the score shift is told apart (``largest_shift``)."""
        if self.label_changed:
            return f"the voice changed {_name(self.video_only)} → {self.audio_visual_label or '(no label)'}"
        if self.text_changed:
            return f"the voice kept {_name(self.video_only)}; the reasoning changed"
        return "the voice changed nothing"

    def matches(self, window_id: int, t0: float, wall_t0: float) -> bool:
        """Is this the attribution of that window (of that session)?"""
        return (self.window_id, round(self.t0, 6), round(self.wall_t0, 3)) == (
            window_id, round(t0, 6), round(wall_t0, 3))

    def to_dict(self) -> dict[str, Any]:
        """The logged form (an ``attribution`` event of the session log, beside its window)."""
        shift = self.score_shift
        return {
            "window_id": self.window_id,
            "t0": self.t0,
            "t1": self.t1,
            "wall_t0": self.wall_t0,
            "summary": self.summary(),
            "label_changed": self.label_changed,
            "text_changed": self.text_changed,
            "audio_visual": {"label": self.audio_visual_label, "answer": self.audio_visual_answer,
                             "text": self.audio_visual_text,
                             "scores": dict(self.audio_visual_scores) if self.audio_visual_scores else None},
            "video_only": self.video_only.to_dict(),
            "score_shift": shift,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Attribution:
        """An attribution back from its logged form (a log may come from anywhere: every field is checked, text
        is bounded); raises ``ValueError`` naming what is wrong."""
        try:
            av, vo = d["audio_visual"], d["video_only"]
            if not isinstance(av, Mapping) or not isinstance(vo, Mapping):
                raise TypeError("'audio_visual' and 'video_only' must be objects")
            ids = vo.get("token_ids") or []
            if not isinstance(ids, list) or len(ids) > MAX_TOKENS or not all(type(t) is int for t in ids):
                raise TypeError("'token_ids' is not a list of token ids")
            video_only = AnalysisResult(
                token_ids=tuple(ids), text=_text(vo, "text") or "", think=_text(vo, "think"),
                answer=_text(vo, "answer"), label=_text(vo, "label", MAX_SHORT_CHARS),
                parse_status=_text(vo, "parse_status", MAX_SHORT_CHARS) or "empty",
                label_set=_text(vo, "label_set", MAX_SHORT_CHARS) or "free",
                modal=_text(vo, "modal", MAX_SHORT_CHARS) or VIDEO_ONLY, scores=_numbers(vo, "scores"),
                timings=_numbers(vo, "timings") or {})
            return cls(_whole(d, "window_id"), _finite(d, "t0"), _finite(d, "t1"), _finite(d, "wall_t0", 0.0),
                       _text(av, "label", MAX_SHORT_CHARS), _text(av, "answer"), _text(av, "text") or "",
                       _numbers(av, "scores"), video_only, _finite(d, "seconds", 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an attribution record ({type(exc).__name__}: {exc})") from None


MAX_TEXT_CHARS = 1 << 20  # a logged text field (reasoning, answer)
MAX_SHORT_CHARS = 256  # labels, statuses
MAX_TOKENS = 1 << 16
MAX_ENTRIES = 256  # scores and timings
MAX_ABS = 1e11  # seconds (session or unix) and scores


def _text(d: Mapping[str, Any], key: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise TypeError(f"{key!r} is not text of at most {limit} characters")
    return value


def _finite(d: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = d.get(key)
    if value is None and default is not None:
        return default
    if (type(value) is int or type(value) is float) and -MAX_ABS <= value <= MAX_ABS:  # NaN fails the comparison
        return float(value)
    raise TypeError(f"{key!r} is not a finite number")


def _whole(d: Mapping[str, Any], key: str) -> int:
    value = d.get(key)
    if type(value) is not int or value < 0:
        raise TypeError(f"{key!r} is not a whole number")
    return value


def _numbers(d: Mapping[str, Any], key: str) -> dict[str, float] | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or len(value) > MAX_ENTRIES:
        raise TypeError(f"{key!r} is not an object of at most {MAX_ENTRIES} numbers")
    return {str(k)[:MAX_SHORT_CHARS]: _finite(value, k) for k in value}


def _name(result: AnalysisResult) -> str:
    return result.label or (f"“{result.answer}”" if result.answer else "(no label)")


def compare(inputs: AttributionInputs, video_only: AnalysisResult, seconds: float) -> Attribution:
    """The attribution of ``inputs``' window from its video-only answer."""
    return attribution_of(inputs.window_id, inputs.t0, inputs.t1, inputs.wall_t0, inputs.audio_visual, video_only,
                          seconds)


def attribution_of(window_id: int, t0: float, t1: float, wall_t0: float, audio_visual: AnalysisResult,
                   video_only: AnalysisResult, seconds: float) -> Attribution:
    """The attribution of a window from its two answers (with the voice, and video-only)."""
    av = audio_visual
    return Attribution(window_id, t0, t1, wall_t0, av.label, av.answer, av.text, av.scores, video_only, seconds)


def logged_attributions(events: Iterable[Mapping[str, Any]],
                        windows: Iterable[Mapping[str, Any]]) -> tuple[dict[int, Attribution], int]:
    """The newest attribution logged for each logged window, by window id, and how many ``attribution`` lines were
    left out (malformed, or naming no logged window of that id and span). ``events``: log lines in file order."""
    spans = {(w.get("window_id"), round(w["t0"], 6)) for w in windows
             if type(w.get("window_id")) is int and type(w.get("t0")) in (int, float)}
    found: dict[int, Attribution] = {}
    skipped = 0
    for line in events:
        if line.get("type") != ATTRIBUTION_EVENT:
            continue
        try:
            a = Attribution.from_dict(line)
        except ValueError:
            skipped += 1
            continue
        if (a.window_id, round(a.t0, 6)) not in spans:
            skipped += 1
            continue
        found[a.window_id] = a
    return found, skipped


def summary_counts(attributions: Iterable[Attribution]) -> dict[str, Any]:
    """How many windows were attributed, how many the voice changed, and each change ("fear → angry": n)."""
    items = list(attributions)
    changes: dict[str, int] = {}
    for a in items:
        if a.label_changed:
            key = f"{_name(a.video_only)} → {a.audio_visual_label or '(no label)'}"
            changes[key] = changes.get(key, 0) + 1
    return {"attributed": len(items), "label_changed": sum(a.label_changed for a in items),
            "text_changed": sum(a.text_changed for a in items),
            "changes": dict(sorted(changes.items(), key=lambda kv: -kv[1])),
            "mean_seconds": sum(a.seconds for a in items) / len(items) if items else None}


class KeptInputs:
    """The newest ``capacity`` windows' ``AttributionInputs`` by window id (oldest dropped). Thread-safe: the worker
    adds, any thread looks up."""

    def __init__(self, capacity: int = ATTRIBUTION_KEPT_WINDOWS) -> None:
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        self.capacity = capacity
        self._items: OrderedDict[int, AttributionInputs] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, inputs: AttributionInputs) -> None:
        with self._lock:
            self._items[inputs.window_id] = inputs
            self._items.move_to_end(inputs.window_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, window_id: int) -> AttributionInputs | None:
        with self._lock:
            return self._items.get(window_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
