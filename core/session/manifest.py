"""The session manifest: what produced a session, written once at start as ``manifest.json``.

Also the fingerprint of a model folder's weights, so that a session names the exact weights that
analysed it without hashing gigabytes at record time.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import core
from core import labels as _labels
from core.session import layout
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


class SessionFormatError(ValueError):
    """A folder is not a readable session bundle; the message says what is wrong and what to do."""


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
            for off in sorted(
                {0, max(0, data_len // 2 - SAMPLE_BYTES // 2), max(0, data_len - SAMPLE_BYTES)}
            ):
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
    def for_model(cls, model_dir: str | os.PathLike[str] | None, **kwargs: Any) -> "SessionManifest":
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
    def for_backend(cls, info: Mapping[str, Any], **kwargs: Any) -> "SessionManifest":
        """A manifest for the model a worker has loaded (its ``info()``): a local folder is fingerprinted here; a
        model server's fingerprint (the same method, computed by the server) and identity are taken as sent."""
        if info.get("backend") != "remote":
            return cls.for_model(info.get("model_dir"), **kwargs)
        keys = ("backend", "server", "model_id", "versions", "device", "dtype", "frame_encoding")
        return cls(weights_hash=info.get("weights_hash"), weights_hash_method=info.get("weights_hash_method"),
                   model={k: info[k] for k in keys if info.get(k) is not None}, **kwargs)

    def with_(self, **changes: Any) -> "SessionManifest":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = _clean({f.name: getattr(self, f.name) for f in fields(self)})
        d["labels"] = list(self.labels) if self.labels else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SessionManifest":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        unknown = {k: v for k, v in d.items() if k not in known and k != "labels"}
        if unknown:
            kwargs["extra"] = {**dict(kwargs.get("extra") or {}), **unknown}
        for required in ("clock_origin_wall", "window_s", "hop_s"):
            if required not in kwargs:
                raise SessionFormatError(
                    f"manifest lacks {required!r}: the session folder is damaged or not a session"
                )
        return cls(**kwargs)


def write_manifest(directory: Path, manifest: SessionManifest, opener: Any = open) -> None:
    """Write ``manifest.json`` atomically (temp file, fsync, rename)."""
    path = Path(directory) / layout.MANIFEST
    tmp = path.with_suffix(".json.tmp")
    data = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2).encode()
    with opener(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if hasattr(f, "fileno"):
            os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(directory: str | os.PathLike[str]) -> SessionManifest:
    path = Path(directory) / layout.MANIFEST
    if not path.is_file():
        raise SessionFormatError(
            f"{directory} is not a session: it has no {layout.MANIFEST}. "
            "Pick the folder that a recording created."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise SessionFormatError(f"{path} is not valid JSON ({e}); the session manifest is damaged") from None
    if not isinstance(data, dict):
        raise SessionFormatError(f"{path} does not hold a JSON object; the session manifest is damaged")
    if int(data.get("format_version", 1)) > FORMAT_VERSION:
        raise SessionFormatError(
            f"{path} has format version {data['format_version']}, newer than this app reads "
            f"({FORMAT_VERSION}); update R1-Omni Live"
        )
    return SessionManifest.from_dict(data)
