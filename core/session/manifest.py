"""The session manifest: what produced a session, written once at start as ``manifest.json``.

Also the fingerprint of a model folder's weights, so that a session names the exact weights that
analysed it without hashing gigabytes at record time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import core
from core import labels as _labels
from core.safe_files import Opener, atomic_write
from core.session import layout, strict_json
from core.session.errors import SessionFormatError
from core.session.events import _clean

FORMAT_VERSION = 1
SAMPLE_BYTES = 1 << 20  # per content sample in the weights fingerprint
WEIGHTS_HASH_METHOD = (
    "sha256 over every *.safetensors file (sorted relative path): path, size, JSON header, "
    "and three 1 MiB samples of the tensor data (start, middle, end)"
)
USAGE_NOTICE = (
    "R1-Omni's usage policy restricts emotion inference in workplace and education settings "
    "unless local law permits it."
)

# plausible ranges of what a manifest may say (a hostile one may say anything)
MAX_WALL_S = 1e11  # unix seconds: year 5138
MAX_SPAN_S = 86_400.0  # window and hop lengths, seconds
MAX_TEXT_CHARS = 65_536  # instruction, usage notice
MAX_NAME_CHARS = 4_096  # paths, ids, versions, hashes


def weights_fingerprint(model_dir: str | os.PathLike[str]) -> str | None:
    """Fast identity of a model folder's weights (see ``WEIGHTS_HASH_METHOD``); None if it has none.

    Reads headers plus 3 MiB per file, so it costs milliseconds even for multi-GB checkpoints.
    It detects any change of layout, dtype or size and, with high probability, retrained weights.
    """
    root = Path(model_dir)
    files = sorted(root.rglob("*.safetensors")) if root.is_dir() else []
    if not files:
        return None
    h = hashlib.sha256()
    for path in files:
        size = path.stat().st_size
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + str(size).encode() + b"\0")
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                h.update(head)
                continue
            (n,) = struct.unpack("<Q", head)
            h.update(f.read(min(n, size)))
            start = 8 + n
            data_len = max(0, size - start)
            for off in sorted({0, max(0, data_len // 2 - SAMPLE_BYTES // 2), max(0, data_len - SAMPLE_BYTES)}):
                f.seek(start + off)
                h.update(f.read(SAMPLE_BYTES))
    return h.hexdigest()


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class SessionManifest:
    """Everything needed to interpret and reproduce a session. Times: unix seconds / seconds."""

    clock_origin_wall: float  # unix seconds at session t = 0 (all ``t`` in the log are relative to it)
    window_s: float  # analysis window length
    hop_s: float  # time between window starts
    instruction: str = ""
    label_set: str = "dfew"  # dfew | mafw | ravdess | free
    model_dir: str | None = None
    weights_hash: str | None = None
    weights_hash_method: str | None = None
    generation: Mapping[str, Any] = field(default_factory=dict)  # max_new_tokens, do_sample, dtype, device...
    devices: Mapping[str, Any] = field(default_factory=dict)  # camera / microphone / source descriptions
    usage_notice_accepted: bool = False
    usage_notice: str = USAGE_NOTICE
    recording: Mapping[str, Any] = field(default_factory=dict)  # RecordOptions as written (set by the writer)
    source_session: str | None = None  # for a re-analysis: the original session folder
    source_session_id: str | None = None
    created_wall: float = field(default_factory=time.time)
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    app_version: str = core.__version__
    format_version: int = FORMAT_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)  # a model server: backend, server, model_id, versions

    def __post_init__(self) -> None:
        for name in ("generation", "devices", "recording", "extra", "model"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        _labels.label_set(self.label_set)  # raises a clear error for an unknown set

    @property
    def labels(self) -> tuple[str, ...] | None:
        return _labels.label_set(self.label_set)

    @classmethod
    def for_model(cls, model_dir: str | os.PathLike[str] | None, **kwargs: Any) -> SessionManifest:
        """A manifest that names ``model_dir`` and fingerprints its weights."""
        if model_dir is None:
            return cls(**kwargs)
        return cls(
            model_dir=str(Path(model_dir).resolve()),
            weights_hash=weights_fingerprint(model_dir),
            weights_hash_method=WEIGHTS_HASH_METHOD,
            **kwargs,
        )

    @classmethod
    def for_backend(cls, info: Mapping[str, Any], **kwargs: Any) -> SessionManifest:
        """A manifest for the model a worker has loaded (its ``info()``): a local folder is fingerprinted here; a
        model server's fingerprint (the same method, computed by the server) and identity are taken as sent."""
        if info.get("backend") != "remote":
            return cls.for_model(info.get("model_dir"), **kwargs)
        keys = ("backend", "server", "model_id", "versions", "device", "dtype", "frame_encoding")
        return cls(weights_hash=info.get("weights_hash"), weights_hash_method=info.get("weights_hash_method"),
                   model={k: info[k] for k in keys if info.get(k) is not None}, **kwargs)

    def with_(self, **changes: Any) -> SessionManifest:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = _clean({f.name: getattr(self, f.name) for f in fields(self)})
        d["labels"] = list(self.labels) if self.labels else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SessionManifest:
        """The manifest described by the JSON object ``d``, every field checked for type and range.

        Raises :class:`SessionFormatError` naming the first field that does not fit."""
        known = {f.name for f in fields(cls)}
        unknown = {k: v for k, v in d.items() if k not in known and k != "labels"}
        kwargs = {name: check(d[name], name) for name, check in _FIELD_CHECKS.items() if name in d}
        if unknown:
            kwargs["extra"] = {**dict(kwargs.get("extra") or {}), **unknown}
        for required in ("clock_origin_wall", "window_s", "hop_s"):
            if required not in kwargs:
                raise SessionFormatError(f"manifest lacks {required!r}: the session folder is damaged or not a session")
        return cls(**kwargs)


# ---------------------------------------------------------------- checks of a manifest read from disk
def _bad(name: str, value: Any, expected: str) -> SessionFormatError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return SessionFormatError(f"manifest field {name!r} is {shown}, expected {expected}; the manifest is damaged")


def _number(lo: float, hi: float, *, open_low: bool = False) -> Any:
    def check(value: Any, name: str) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not (lo < value <= hi if open_low else lo <= value <= hi):
            raise _bad(name, value, f"a number in {'(' if open_low else '['}{lo:g}, {hi:g}]")
        return float(value)

    return check


def _text(limit: int, optional: bool = False) -> Any:
    def check(value: Any, name: str) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > limit:
            raise _bad(name, value, f"text of at most {limit} characters" + (" or null" if optional else ""))
        return value

    return check


def _label_set(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > 32:
        raise _bad(name, value, "a label set name")
    try:
        _labels.label_set(value)
    except ValueError as e:
        raise SessionFormatError(f"manifest field {name!r}: {e}") from None
    return value


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(name, value, "a JSON object")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, value, "true or false")
    return value


def _version(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad(name, value, "a whole number >= 1")
    if value > FORMAT_VERSION:
        raise SessionFormatError(
            f"the manifest has format version {value}, newer than this app reads ({FORMAT_VERSION}); "
            "update R1-Omni Live"
        )
    return value


def _session_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise _bad(name, value, "a non-empty id of at most 128 characters")
    return value


_FIELD_CHECKS: dict[str, Any] = {
    "clock_origin_wall": _number(0.0, MAX_WALL_S),
    "window_s": _number(0.0, MAX_SPAN_S, open_low=True),
    "hop_s": _number(0.0, MAX_SPAN_S, open_low=True),
    "instruction": _text(MAX_TEXT_CHARS),
    "label_set": _label_set,
    "model_dir": _text(MAX_NAME_CHARS, optional=True),
    "weights_hash": _text(MAX_NAME_CHARS, optional=True),
    "weights_hash_method": _text(MAX_TEXT_CHARS, optional=True),
    "generation": _mapping,
    "devices": _mapping,
    "usage_notice_accepted": _flag,
    "usage_notice": _text(MAX_TEXT_CHARS),
    "recording": _mapping,
    "source_session": _text(MAX_NAME_CHARS, optional=True),
    "source_session_id": _text(128, optional=True),
    "created_wall": _number(0.0, MAX_WALL_S),
    "session_id": _session_id,
    "app_version": _text(64),
    "format_version": _version,
    "extra": _mapping,
    "model": _mapping,  # a model server's identity: backend, server, model_id, versions, device, dtype
}


def write_manifest(directory: Path, manifest: SessionManifest, opener: Opener | None = None) -> None:
    """Write ``manifest.json`` atomically (exclusive temporary file, fsync, rename; see ``core.safe_files``).

    ``opener(path, mode)`` opens the temporary file (tests inject failing files)."""
    data = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2).encode()
    atomic_write(Path(directory) / layout.MANIFEST, data, opener=opener)


def read_manifest(directory: str | os.PathLike[str]) -> SessionManifest:
    """The checked manifest of the bundle ``directory``; :class:`SessionFormatError` saying why not."""
    from core.session.bundle_files import MAX_MANIFEST_BYTES, BundleFiles

    path = Path(directory) / layout.MANIFEST
    try:
        raw = BundleFiles(directory).read(layout.MANIFEST, MAX_MANIFEST_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        raise SessionFormatError(
            f"{directory} is not a session: it has no {layout.MANIFEST}. Pick the folder that a recording created."
        ) from None
    except SessionFormatError as e:
        raise SessionFormatError(f"{e}; the session manifest cannot be read") from None
    except OSError as e:
        raise SessionFormatError(f"{path} cannot be read ({e.strerror or e}); check the folder") from None
    try:
        data = strict_json.loads(raw)
    except ValueError as e:
        raise SessionFormatError(f"{path} is not valid JSON ({e}); the session manifest is damaged") from None
    if not isinstance(data, dict):
        raise SessionFormatError(f"{path} does not hold a JSON object; the session manifest is damaged")
    try:
        return SessionManifest.from_dict(data)
    except SessionFormatError as e:
        raise SessionFormatError(f"{path}: {e}") from None
