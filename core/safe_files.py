"""Writing whole files so that a planted symlink, a crash or a full disk cannot hurt.

Every file the app writes in one piece (session exports, the consolidated ``recording.mp4``, session
manifests, evaluation reports, the settings file) goes through :func:`atomic_output`:

- the temporary file is created in the target's folder under a random name with
  ``O_CREAT | O_EXCL | O_NOFOLLOW``: it is always a new file, never an existing file nor a symlink
  that a bundle planted at a predictable name (``.x.csv.part``, ``recording.mp4.tmp.mp4``);
- it is written, flushed and fsynced, then renamed over the target with ``os.replace``: readers see
  the old file or the new one, never half of one, and a symlink at the target is replaced, not
  followed;
- on any failure the temporary file is removed and the target is left as it was.

Any thread may call these functions; each call works on its own temporary file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, overload

TEMP_SUFFIX = ".part"
NAME_TRIES = 16  # random names tried before giving up (a clash needs 2^64 bad luck or a hostile folder)
PUBLIC_MODE = 0o666  # minus the umask, as for any file the user saves
PRIVATE_MODE = 0o600  # settings: readable by the user only



class WritableFile(Protocol):
    """What an ``Opener``'s file must do: a binary file opened for writing does; so does the session writer's
    wrapper that counts the bytes written. ``write`` may write less than it is given (an unbuffered file)."""

    def write(self, data: bytes | memoryview, /) -> int | None: ...

    def flush(self) -> None: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> WritableFile: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


#: ``opener(path, mode) -> binary file``; tests inject files that fail like a full disk. It is called with
#: mode ``"xb"`` (exclusive create), which never follows a symlink at ``path``.
Opener = Callable[[Path, str], WritableFile]

_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def temp_name(target: Path) -> Path:
    """A fresh, unpredictable name for ``target``'s temporary file, in the same folder (same filesystem)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")


def create_exclusive(path: Path, private: bool = False) -> BinaryIO:
    """Open a new file at ``path`` for writing; ``FileExistsError`` if anything (a symlink too) is there."""
    fd = os.open(path, _CREATE_FLAGS, PRIVATE_MODE if private else PUBLIC_MODE)
    return os.fdopen(fd, "wb")


def _open_temp(target: Path, opener: Opener | None, private: bool) -> tuple[Path, WritableFile]:
    for _ in range(NAME_TRIES):
        tmp = temp_name(target)
        try:
            return tmp, (opener(tmp, "xb") if opener is not None else create_exclusive(tmp, private))
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {target}: every name tried exists")


def fsync_file(f: WritableFile) -> None:
    """``os.fsync`` the file's data, best effort (also for the session writer's logs and media)."""
    try:
        os.fsync(f.fileno())
    except (AttributeError, ValueError, OSError):
        pass  # injected files without a descriptor, or filesystems that refuse fsync


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@overload
def atomic_output(
    target: str | os.PathLike[str], *, opener: None = None, private: bool = False
) -> AbstractContextManager[BinaryIO]: ...


@overload
def atomic_output(
    target: str | os.PathLike[str], *, opener: Opener, private: bool = False
) -> AbstractContextManager[WritableFile]: ...


def atomic_output(
    target: str | os.PathLike[str], *, opener: Opener | None = None, private: bool = False
) -> AbstractContextManager[WritableFile]:
    """Yield a binary file (the ``opener``'s file, if one is given); when the block ends without an exception it
    becomes ``target`` atomically.

    The folder of ``target`` must exist. ``private`` creates the file readable by the user only.
    Raises ``OSError`` (the temporary file is gone and ``target`` unchanged) when anything fails.
    """
    return _atomic_output(Path(target), opener, private)


@contextmanager
def _atomic_output(target: Path, opener: Opener | None, private: bool) -> Iterator[WritableFile]:
    """See :func:`atomic_output`; without an opener the file is ``create_exclusive``'s, a real binary file."""
    tmp, f = _open_temp(target, opener, private)
    try:
        yield f
        f.flush()
        fsync_file(f)
        f.close()
        os.replace(tmp, target)
    except BaseException:
        try:
            f.close()
        except OSError:
            pass
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(target.parent)


def atomic_write(
    target: str | os.PathLike[str],
    data: bytes | str,
    *,
    opener: Opener | None = None,
    private: bool = False,
) -> Path:
    """Write ``data`` (``str`` is encoded as UTF-8) as ``target`` atomically; returns ``target``."""
    target = Path(target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_output(target, opener=opener, private=private) as f:
        view = memoryview(payload)
        while view:
            n = f.write(view)
            if not n:
                raise OSError(f"short write to {target}")
            view = view[n:]
    return target


def open_no_follow(path: str | os.PathLike[str], mode: str) -> WritableFile:
    """``open(path, mode)`` unbuffered, refusing a symlink at ``path`` (``OSError``, ELOOP on POSIX).

    For files the session writer creates or appends to inside a recording folder.
    """

    def opener(p: str, flags: int) -> int:
        return os.open(p, flags | getattr(os, "O_NOFOLLOW", 0), PUBLIC_MODE)

    return open(path, mode, buffering=0, opener=opener)
