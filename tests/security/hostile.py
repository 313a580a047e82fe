"""Hostile session bundles for the security tests: a sandbox with decoys, an audit of file access, media blobs.

``Sandbox`` lays out ``ROOT/bundle`` (the bundle under test), ``ROOT/out`` (where outputs may go),
``ROOT/decoy.txt`` and ``ROOT/outside/`` (files a bundle must never reach: a secret, a folder and a session
that looks like an original). ``snapshot()`` fingerprints everything outside ``bundle`` and ``out`` so a test
can prove nothing there was created or changed.

``FileAudit`` records every ``open`` (and rename, remove, mkdir) the process makes through
``sys.addaudithook`` while it is active, and ``violations()`` lists the accesses that break the bundle rules:

- no absolute path in the sandbox outside ``bundle`` and ``out`` is opened (the sibling rule of
  ``core.session.reader.source_session`` may open a sibling folder and its manifest, through the same
  no-follow reader: ``allow_siblings``);
- every open inside the bundle, and every open of a relative name (the one-folder-at-a-time walk of
  ``BundleFiles``), refuses symlinks (``O_NOFOLLOW``) or creates a new file exclusively
  (``O_CREAT | O_EXCL``); only the bundle folder itself may be opened by path (the user chose it);
- nothing in the sandbox outside ``bundle`` and ``out`` is renamed, removed or created.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

DECOY_TEXT = b"decoy: a bundle must never read or change this file\n"
SECRET_TEXT = b"secret: outside every bundle\n"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: the names the one-folder-at-a-time walk of BundleFiles may open (core.session.layout and kept-frame files)
BUNDLE_NAME = re.compile(
    r"manifest\.json|events\.jsonl|recording\.mp4|windows|video|audio|seg_\d{6}\.(?:ts|pcm|json)|[A-Za-z0-9_.-]+\.(?:jpg|jpeg|png)"
)
_AUDIT_LOCK = threading.Lock()
_ACTIVE: list[FileAudit] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ACTIVE or event not in ("open", "os.rename", "os.remove", "os.mkdir", "shutil.rmtree", "os.rmdir"):
        return
    with _AUDIT_LOCK:
        for audit in _ACTIVE:
            audit.events.append((event, args))


sys.addaudithook(_hook)  # hooks cannot be removed; inactive, it returns at once


@dataclass
class FileAudit:
    """Every file access while active (``with audit:``), with the rules of the module docstring."""

    sandbox: Sandbox
    allow_siblings: bool = False
    events: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def __enter__(self) -> FileAudit:  # noqa: PYI034 — not subclassed
        with _AUDIT_LOCK:
            _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _AUDIT_LOCK:
            _ACTIVE.remove(self)

    def violations(self) -> list[str]:
        sb = self.sandbox
        bad = []
        for event, args in list(self.events):
            path = args[0]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if not isinstance(path, str):
                continue  # an open of a descriptor (os.fdopen)
            p = Path(path)
            if event == "open":
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                if not p.is_absolute():
                    if not flags & _NOFOLLOW and not (flags & os.O_CREAT and flags & os.O_EXCL):
                        bad.append(f"relative open of {path!r} may follow a symlink (flags {flags:#o})")
                    elif not BUNDLE_NAME.fullmatch(path):
                        bad.append(f"relative open of {path!r}: not a name a bundle is made of")
                    continue
                where = sb.where(p)
                if where == "outside":
                    continue  # Python's own modules, /proc, ...
                if where == "bundle":
                    exclusive = flags & os.O_CREAT and flags & os.O_EXCL
                    if p != sb.bundle and not flags & _NOFOLLOW and not exclusive:
                        bad.append(f"open of {path!r} in the bundle may follow a symlink (flags {flags:#o})")
                    continue
                if where == "out":
                    continue
                if self.allow_siblings and p.parent == sb.root and not flags & _WRITE:
                    continue  # source_session's rule: a sibling folder, opened as a folder
                bad.append(f"open of {path!r} outside the bundle and the output")
            elif sb.where(p) not in ("bundle", "out", "outside"):
                bad.append(f"{event} of {path!r} outside the bundle and the output")
        return bad


class Sandbox:
    """``root/{bundle, out, decoy.txt, outside/}``; see the module docstring."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.bundle = self.root / "bundle"
        self.out = self.root / "out"
        self.decoy = self.root / "decoy.txt"
        self.outside = self.root / "outside"
        self.secret = self.outside / "secret.txt"
        self.bundle.mkdir()
        self.out.mkdir()
        self.outside.mkdir()
        self.decoy.write_bytes(DECOY_TEXT)
        self.secret.write_bytes(SECRET_TEXT)
        os.mkfifo(self.outside / "fifo")
        (self.outside / "session").mkdir()

    def where(self, p: Path) -> str:
        """``bundle`` / ``out`` / ``sandbox`` (elsewhere in the sandbox) / ``outside`` (not in the sandbox)."""
        p = Path(os.path.normpath(p))
        for name, base in (("bundle", self.bundle), ("out", self.out), ("sandbox", self.root)):
            if p == base or base in p.parents:
                return name
        return "outside"

    def snapshot(self) -> dict[str, tuple[Any, ...]]:
        """Everything under the sandbox except ``bundle`` and ``out``: kind, size, mtime, content hash, link."""
        out: dict[str, tuple[Any, ...]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if d not in ("bundle", "out")]
            for name in [*dirnames, *filenames]:
                p = here / name
                st = os.lstat(p)
                digest = None
                if stat.S_ISREG(st.st_mode):
                    digest = hashlib.sha256(p.read_bytes()).hexdigest()
                link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
                out[str(p.relative_to(self.root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest, link)
        return out


# ---------------------------------------------------------------- media blobs (made once)
def _jpeg(width: int = 16, height: int = 12) -> bytes:
    import cv2

    rgb = np.full((height, width, 3), 120, np.uint8)
    ok, buf = cv2.imencode(".jpg", rgb)
    assert ok
    return buf.tobytes()


def _png_bomb_header() -> bytes:
    """A PNG whose header claims 100000 x 100000 pixels (data is a few bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _ts_segment() -> bytes:
    """A real 0.3 s H.264 MPEG-TS segment, as the session writer records it."""
    from core.session.media_writers import VideoSegmentWriter

    class Sink(io.BytesIO):
        def close(self) -> None:  # keep the bytes readable after the writer closes the segment
            self.flush()

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        sink = Sink()
        writer = VideoSegmentWriter(Path(d), lambda path, mode: sink, max_height=None)  # type: ignore[arg-type,return-value]
        for k in range(9):
            writer.write(np.full((32, 48, 3), 20 * k, np.uint8), k / 30)
        writer.close()
        return sink.getvalue()


class Blobs:
    """Media bytes, made on first use."""

    _cache: ClassVar[dict[str, bytes]] = {}

    @classmethod
    def get(cls, name: str) -> bytes:
        if name not in cls._cache:
            jpeg = cls.get("jpeg") if name != "jpeg" else b""
            ts = cls.get("ts") if name not in ("jpeg", "ts") else b""
            make = {
                "jpeg": _jpeg,
                "jpeg_big": lambda: _jpeg(24, 18),
                "jpeg_truncated": lambda: jpeg[: len(jpeg) // 2],
                "png_bomb": _png_bomb_header,
                "ts": _ts_segment,
                "ts_truncated": lambda: ts[: len(ts) // 3],
                "garbage": lambda: bytes(range(256)) * 4,
                "empty": lambda: b"",
                "pcm": lambda: (np.sin(np.arange(1600) / 5) * 8000).astype("<i2").tobytes(),
            }[name]
            cls._cache[name] = make()
        return cls._cache[name]


MEDIA_KINDS = ("jpeg", "jpeg_big", "jpeg_truncated", "png_bomb", "ts", "ts_truncated", "garbage", "empty", "pcm")
#: what a path in a bundle may be, besides a regular file with one of the blobs above
SPECIAL_KINDS = (
    "missing",
    "symlink_decoy",
    "symlink_secret",
    "symlink_outside_dir",
    "symlink_dev_zero",
    "fifo",
    "folder",
)


def plant(sandbox: Sandbox, rel: str, kind: str) -> None:
    """Put ``kind`` (a blob name or a special kind) at ``bundle/rel``, creating folders as needed."""
    p = sandbox.bundle / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(p):
        if p.is_dir() and not p.is_symlink():
            return
        p.unlink()
    if kind == "missing":
        return
    if kind == "symlink_decoy":
        p.symlink_to(sandbox.decoy)
    elif kind == "symlink_secret":
        p.symlink_to(sandbox.secret)
    elif kind == "symlink_outside_dir":
        p.symlink_to(sandbox.outside, target_is_directory=True)
    elif kind == "symlink_dev_zero":
        p.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "folder":
        p.mkdir()
    else:
        p.write_bytes(Blobs.get(kind))


def json_line(value: Any) -> bytes:
    """``value`` as one log line; NaN and infinities are written as Python's json writes them (invalid JSON)."""
    return json.dumps(value, allow_nan=True, default=str).encode() + b"\n"  # lone surrogates as \\ud800 escapes
