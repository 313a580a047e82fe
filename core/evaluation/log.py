"""The append-only JSONL result log that makes evaluation and batch runs resumable.

Line 1 is the run record (``{"record": "run", ...settings}``); every further line is one clip
(``{"record": "clip", "key": ..., ...}``), written and flushed to disk as soon as the clip is done.
A run killed mid-write leaves at most one torn last line: it is cut off when the log is reopened.
When a key appears twice (a retried clip), the later line wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

RUN_RECORD = "run"
CLIP_RECORD = "clip"
# settings that must be equal for a resumed run to continue the same experiment
RESUME_KEYS = ("instruction", "labels", "max_new_tokens", "modal", "model", "profile")
RESUME_DEFAULTS = {"profile": "exact"}  # what a log written before a key existed ran with


class LogMismatch(ValueError):
    """The existing log was written with other settings; resuming would mix two experiments."""


def read_log(path: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]], int]:
    """Parse a log → (run settings or None, clip records by key, byte length of the intact part).

    Only the last line may be torn (no newline or not JSON); a bad line elsewhere is an error.
    """
    data = path.read_bytes() if path.exists() else b""
    settings: dict[str, Any] | None = None
    records: dict[str, dict[str, Any]] = {}
    *complete, _tail = data.split(b"\n")  # _tail: bytes after the last newline = a torn write, dropped
    good = 0
    for i, raw in enumerate(complete):
        try:
            obj = json.loads(raw) if raw.strip() else None
            if obj is not None and not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            if i == len(complete) - 1:
                break  # torn last line
            raise ValueError(f"{path}:{i + 1}: not a JSON record; the log is damaged") from None
        good += len(raw) + 1
        if obj is None:
            continue
        if obj.get("record") == RUN_RECORD and settings is None:
            settings = obj
        elif obj.get("record") == CLIP_RECORD and "key" in obj:
            records[str(obj["key"])] = obj
    return settings, records, good


def check_resumable(path: Path, settings: Mapping[str, Any]) -> None:
    """Raise ``LogMismatch`` when ``path`` holds another experiment (a missing log is fine).

    Cheap enough to call before loading a model, so a mismatch fails fast.
    """
    _compare(path, read_log(path)[0] if path.exists() else None, settings)


def _compare(path: Path, old: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> None:
    if old is None:
        return
    def get(d: Mapping[str, Any], k: str) -> Any:
        return d.get(k, RESUME_DEFAULTS.get(k))

    diff = [k for k in RESUME_KEYS if get(old, k) != get(settings, k)]
    if diff:
        raise LogMismatch(
            f"{path} holds a run with a different {', '.join(diff)} "
            f"({'; '.join(f'{k}: {get(old, k)!r} there, {get(settings, k)!r} now' for k in diff)}). "
            "Write this run elsewhere (--out) or move the old results away; nothing was changed."
        )


class RecordLog(Protocol):
    """Where a run writes its records: a ``ResultLog`` file, or a Ray worker's list sent back to the driver."""

    path: Path

    def open(self, settings: dict[str, Any]) -> dict[str, dict[str, Any]]: ...

    def append(self, record: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ResultLog:
    """Writer side of the log. One instance per run, used by one thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f: IO[str] | None = None

    def open(self, settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Start or resume the log; returns the clip records already in it (by key).

        Raises ``LogMismatch`` when the log holds a run with different ``RESUME_KEYS``.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old, records, good = read_log(self.path)
        _compare(self.path, old, settings)
        if old is None and good:  # lines without a run line: not one of ours
            raise LogMismatch(f"{self.path} has no run record; it is not a result log of this program")
        if self.path.exists() and self.path.stat().st_size != good:
            with self.path.open("r+b") as f:
                f.truncate(good)
        self._f = self.path.open("a", encoding="utf-8")
        if old is None:
            self._write({"record": RUN_RECORD, **settings})
        return records

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Write one clip record and flush it to disk; returns the record as written."""
        line = {"record": CLIP_RECORD, **record}
        self._write(line)
        return line

    def _write(self, obj: Mapping[str, Any]) -> None:
        assert self._f is not None, "open() first"
        self._f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
