"""Reading files inside a session bundle that came from someone else: confined, regular files only, capped.

A bundle is untrusted input (a colleague's recording, a download). Every file a reader opens in it goes
through :class:`BundleFiles`, which guarantees:

- **confined**: a path named by the bundle (kept frames, media segments, sidecars) is relative, made of
  plain names (no ``..``, no absolute path, no drive, no backslash, no control character) and is opened
  one folder at a time with ``O_NOFOLLOW`` from the bundle's own folder, so no symlink is ever followed,
  neither at the end nor in the middle of the path;
- **regular files only**: a FIFO, a device (``/dev/zero``), a socket or a folder is refused. Files are
  opened with ``O_NONBLOCK`` so that opening a FIFO cannot hang, and checked with ``fstat`` before a
  single byte is read;
- **capped**: each kind of file has a size limit (see the ``MAX_*`` constants), checked before reading.

A refused or unusable file raises :class:`BundleFileError` (a ``SessionFormatError``) naming the file and
the problem; readers that can go on without it skip it and record it with :meth:`BundleFiles.note`, so that
commands and exports can say what was left out.

Platforms without ``dir_fd`` support (Windows) check each component with ``lstat`` before opening instead.
The folder of the bundle itself is the user's choice and may be reached through a symlink.
Thread-safety: one instance may be shared by threads; it holds no open descriptor between calls.
"""

from __future__ import annotations

import builtins
import os
import re
import stat
import threading
from pathlib import Path
from typing import BinaryIO

from core.session.errors import BundleFileError

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
MAX_MANIFEST_BYTES = 1 * MiB
MAX_LOG_BYTES = 256 * MiB  # about 100 hours of windows at one per second
MAX_FRAME_BYTES = 32 * MiB  # one kept frame (a 4K PNG is ~25 MiB)
MAX_SIDECAR_BYTES = 64 * KiB  # an audio segment's JSON description
MAX_AUDIO_SEGMENT_BYTES = 1 * GiB  # raw 16 kHz PCM: 9 hours
MAX_VIDEO_SEGMENT_BYTES = 4 * GiB
MAX_PATH_CHARS = 1024
MAX_NOTES = 1000  # unusable files remembered per bundle (more are counted, not listed)

_FLAGS_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_FLAGS_FILE = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FD = os.open in os.supports_dir_fd and bool(_NOFOLLOW)
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')  # also refused on Windows, where a bundle may be opened


def bundle_parts(rel: object) -> tuple[str, ...]:
    """The names of a bundle-relative POSIX path (``"windows/w000001_0.jpg"`` → two names).

    Raises :class:`BundleFileError` for anything that could leave the bundle or is not a plain path.
    """
    if not isinstance(rel, str):
        raise BundleFileError(f"a file path in the bundle is a {type(rel).__name__}, not text")
    if not rel or len(rel) > MAX_PATH_CHARS:
        raise BundleFileError("a file path in the bundle is empty or too long")
    if rel.startswith("/") or _BAD_NAME.search(rel):
        raise BundleFileError(f"{rel!r} is not a plain relative path inside the bundle")
    parts = tuple(rel.split("/"))
    if any(p in ("", ".", "..") for p in parts):
        raise BundleFileError(f"{rel!r} leaves the bundle or is not a plain path (no '..', '.', '//')")
    return parts


def _describe(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a file" if stat.S_ISREG(mode) else "not a regular file"


class BundleFiles:
    """Confined, no-follow, size-capped access to the files of the bundle folder ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._notes: dict[str, str] = {}
        self._more_notes = 0

    # ------------------------------------------------------------------ what was left out
    def note(self, rel: str, reason: str) -> None:
        """Remember that ``rel`` was skipped because of ``reason`` (first reason per file wins)."""
        with self._lock:
            if rel in self._notes:
                return
            if len(self._notes) >= MAX_NOTES:
                self._more_notes += 1
                return
            self._notes[rel] = reason

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per skipped file, ``"windows/x.jpg: a symbolic link"``, in the order found."""
        with self._lock:
            lines = [f"{rel}: {why}" for rel, why in self._notes.items()]
            if self._more_notes:
                lines.append(f"... and {self._more_notes} more files")
            return tuple(lines)

    # ------------------------------------------------------------------ opening
    def open(self, rel: str, max_bytes: int) -> BinaryIO:
        """The regular file ``rel`` opened for binary reading; the caller closes it.

        Raises ``FileNotFoundError`` when it does not exist, :class:`BundleFileError` when it is refused
        (symlink anywhere on the path, not a regular file, larger than ``max_bytes``, bad path).
        """
        parts = bundle_parts(rel)
        fd = self._open_fd(parts, rel)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise BundleFileError(f"{rel} in {self.root} is {_describe(st.st_mode)}, not a regular file")
            if st.st_size > max_bytes:
                raise BundleFileError(
                    f"{rel} in {self.root} is {st.st_size} bytes, more than the {max_bytes} allowed for it"
                )
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def read(self, rel: str, max_bytes: int) -> bytes:
        """All of ``rel`` (at most ``max_bytes``; a file that grew past it while read is refused)."""
        with self.open(rel, max_bytes) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise BundleFileError(f"{rel} in {self.root} is larger than the {max_bytes} bytes allowed for it")
        return data

    def read_range(self, rel: str, offset: int, count: int, max_bytes: int) -> bytes:
        """``count`` bytes of ``rel`` from ``offset`` (fewer at its end)."""
        with self.open(rel, max_bytes) as f:
            f.seek(offset)
            return f.read(max(0, count))

    def size(self, rel: str) -> int:
        """Size in bytes of the regular file ``rel`` (same refusals as :meth:`open`)."""
        parts = bundle_parts(rel)
        fd = self._open_fd(parts, rel)
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BundleFileError(f"{rel} in {self.root} is {_describe(st.st_mode)}, not a regular file")
        return st.st_size

    def is_file(self, rel: str) -> bool:
        """True when ``rel`` is a regular file reachable without a symlink; never raises."""
        try:
            self.size(rel)
        except (OSError, BundleFileError):
            return False
        return True

    def list(self, folder: str, pattern: re.Pattern[str]) -> list[str]:
        """Sorted bundle paths of the regular files in ``folder`` whose names match ``pattern``.

        A missing folder gives ``[]``; a folder that is a symlink, and entries that match but are not
        regular files, are skipped and noted.
        """
        parts = bundle_parts(folder)
        try:
            names = self._list(parts)
        except FileNotFoundError:
            return []
        except BundleFileError as e:
            self.note(folder, str(e))
            return []
        except OSError as e:
            self.note(folder, e.strerror or str(e))
            return []
        out = []
        for name, mode in sorted(names):
            if not pattern.fullmatch(name):
                continue
            rel = f"{folder}/{name}"
            if mode is None or not stat.S_ISREG(mode):
                self.note(rel, _describe(mode) if mode is not None else "unreadable")
                continue
            out.append(rel)
        return out

    # ------------------------------------------------------------------ internals
    def _open_fd(self, parts: tuple[str, ...], rel: str) -> int:
        if not _DIR_FD:
            self._check_components(parts, rel)
            return os.open(self.root.joinpath(*parts), _FLAGS_FILE)
        dir_fd = os.open(self.root, _FLAGS_DIR)
        try:
            for name in parts[:-1]:
                try:
                    next_fd = os.open(name, _FLAGS_DIR | _NOFOLLOW, dir_fd=dir_fd)
                except OSError as e:
                    raise self._refusal(e, dir_fd, name, rel) from None
                os.close(dir_fd)
                dir_fd = next_fd
            try:
                return os.open(parts[-1], _FLAGS_FILE | _NOFOLLOW, dir_fd=dir_fd)
            except OSError as e:
                raise self._refusal(e, dir_fd, parts[-1], rel) from None
        finally:
            os.close(dir_fd)

    def _refusal(self, e: OSError, dir_fd: int, name: str, rel: str) -> OSError | BundleFileError:
        """Turn ELOOP/ENOTDIR from a no-follow open into a clear refusal; keep ENOENT as it is."""
        if isinstance(e, FileNotFoundError):
            return FileNotFoundError(e.errno, f"{rel} is not in {self.root}")
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError:
            return e
        return BundleFileError(f"{rel} in {self.root} is refused: {name!r} is {_describe(mode)}")

    def _check_components(self, parts: tuple[str, ...], rel: str) -> None:
        path = self.root
        for i, name in enumerate(parts):
            path = path / name
            mode = os.lstat(path).st_mode
            last = i == len(parts) - 1
            if stat.S_ISLNK(mode) or (not last and not stat.S_ISDIR(mode)):
                raise BundleFileError(f"{rel} in {self.root} is refused: {name!r} is {_describe(mode)}")

    def _list(self, parts: tuple[str, ...]) -> builtins.list[tuple[str, int | None]]:  # list: the method above
        if not _DIR_FD:
            self._check_components(parts, "/".join(parts))
            folder = self.root.joinpath(*parts)
            return [(e.name, _lmode(e)) for e in os.scandir(folder)]
        dir_fd = os.open(self.root, _FLAGS_DIR)
        try:
            for name in parts:
                try:
                    next_fd = os.open(name, _FLAGS_DIR | _NOFOLLOW, dir_fd=dir_fd)
                except OSError as e:
                    raise self._refusal(e, dir_fd, name, "/".join(parts)) from None
                os.close(dir_fd)
                dir_fd = next_fd
            out: list[tuple[str, int | None]] = []
            for name in os.listdir(dir_fd):
                try:
                    out.append((name, os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode))
                except OSError:
                    out.append((name, None))
            return out
        finally:
            os.close(dir_fd)


def _lmode(entry: os.DirEntry[str]) -> int | None:
    try:
        return entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return None
