"""A fake decoder and model for runner tests: clip i decodes to frames filled with i, the model
answers from a script keyed by that value."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from core.results import AnalysisResult


class FakeReader:
    def __init__(self, ids: dict[str, int], bad: tuple[str, ...] = (), silent: tuple[str, ...] = ()) -> None:
        self.ids, self.bad, self.silent, self.calls = ids, bad, silent, []

    def __call__(self, path: Path):
        self.calls.append(Path(path).name)
        if Path(path).name in self.bad:
            raise ValueError(f"cannot decode {path}")
        v = self.ids[Path(path).name]
        return SimpleNamespace(frames=np.full((3, 4, 4, 3), v, np.uint8), fps=10.0,
                               audio=None if Path(path).name in self.silent else np.zeros(1600, np.float32),
                               warnings=())


class FakeModel:
    def __init__(self, answers: dict[int, str], fail: tuple[int, ...] = (), interrupt_at: int | None = None,
                 batch_fails: bool = False, video_only_answers: dict[int, str] | None = None):
        self.answers, self.fail, self.interrupt_at, self.batch_fails = answers, fail, interrupt_at, batch_fails
        self.video_only_answers = video_only_answers  # what it says without audio (default: the same)
        self.seen: list[int] = []
        self.kwargs: list[dict] = []
        self.batches: list[list[tuple[int, bool]]] = []  # (clip value, has audio) per analyze_batch call

    def analyze_batch(self, clips, instruction, **kwargs):
        self.batches.append([(int(f[0, 0, 0, 0]), a is not None) for f, a in clips])
        if self.batch_fails:
            raise RuntimeError("CUDA out of memory")
        if len({a is not None for _, a in clips}) > 1:
            raise ValueError("some clips of the batch have audio and some do not")
        return [self.analyze(f, a, instruction, **kwargs) for f, a in clips]

    def analyze(self, frames, audio, instruction, **kwargs):
        v = int(frames[0, 0, 0, 0])
        if self.interrupt_at is not None and len(self.seen) == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        self.seen.append(v)
        self.kwargs.append(dict(kwargs, audio=audio is not None, instruction=instruction))
        if v in self.fail:
            raise RuntimeError(f"boom {v}")
        text = self.answers[v] if audio is not None or self.video_only_answers is None else self.video_only_answers[v]
        return AnalysisResult(token_ids=(1, 2), text=text, think=None, answer=None, label=None,
                              parse_status="ok", label_set=kwargs.get("label_set", "dfew"),
                              modal="video_audio",
                              timings={"generate_s": 0.01})
