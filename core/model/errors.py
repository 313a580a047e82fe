"""Errors raised while loading or running the model. Each names the problem and how to fix it."""

from __future__ import annotations


class ModelLoadError(Exception):
    """A model folder cannot be used. ``problem`` says what is wrong, ``fix`` what to do about it."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}\nFix: {fix}")
        self.problem = problem
        self.fix = fix


class AnalysisCancelled(Exception):
    """``should_stop()`` returned true between two tokens. ``partial`` is the result up to that point."""

    def __init__(self, partial: object) -> None:
        super().__init__("analysis cancelled")
        self.partial = partial
