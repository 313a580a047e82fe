"""What every model hub hands the download: a list of files with sizes, and errors of a few known kinds.

A hub's listing is untrusted input: a path that could leave the target folder, a negative or absurd size, or a
file the app did not ask for is refused here, before anything is written.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.model.errors import ModelLoadError

MAX_FILE_BYTES = 1 << 40  # 1 TiB: larger is a broken listing, not a model file
PART_SUFFIX = ".part"  # a file being fetched; the next run resumes from its length
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

# DownloadError kinds: each has one message shape and one fix (the window translates them by kind)
UNREACHABLE = "unreachable"
AUTH = "auth"
NOT_FOUND = "not_found"
DISK_FULL = "disk_full"
INTERRUPTED = "interrupted"
SIZE = "size"
SERVER = "server"
MISSING_PACKAGE = "missing_package"
BAD_INPUT = "bad_input"


class DownloadError(ModelLoadError):
    """A download failed; ``kind`` is one of the constants above, ``problem``/``fix`` say it in words."""

    def __init__(self, kind: str, problem: str, fix: str) -> None:
        super().__init__(problem, fix)
        self.kind = kind


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repository. ``path``: '/'-separated, relative, checked; ``size`` in bytes; ``sha256`` of the
    content when the hub gives it (large files), else None."""

    path: str
    size: int
    sha256: str | None = None


def checked_path(path: object, repo_id: str) -> str:
    """A listed path, or DownloadError when it could leave the folder (``..``, absolute, odd characters)."""
    if not isinstance(path, str) or not path or len(path) > 255:
        raise DownloadError(BAD_INPUT, f"{repo_id}: the hub listed a file with an unusable name {path!r}",
                            "use another endpoint: this one does not answer like a model hub")
    parts = path.split("/")
    if not all(_SAFE_COMPONENT.match(p) for p in parts):
        raise DownloadError(BAD_INPUT, f"{repo_id}: the hub listed a file {path!r} whose name could leave the "
                            "model folder; nothing was written",
                            "use another endpoint: this one does not answer like a model hub")
    return path


def checked_size(size: object, repo_id: str, path: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_BYTES:
        raise DownloadError(BAD_INPUT, f"{repo_id}: the hub listed {path} with an unusable size {size!r}",
                            "use another endpoint: this one does not answer like a model hub")
    return size


def selected(files: Iterable[RemoteFile], patterns: Iterable[str]) -> list[RemoteFile]:
    """The files whose top-level name matches one of ``patterns`` (files in sub-folders are never needed)."""
    pats = tuple(patterns)
    return [f for f in files if "/" not in f.path and any(fnmatch.fnmatchcase(f.path, p) for p in pats)]


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as the hubs show sizes)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"
