"""Checks on what a user points the app at — a local media file or a stream URL — before anything opens it.

A path may name a folder, a FIFO (opening it blocks until a writer comes, so it is checked with ``stat``, never
opened), a device (``/dev/zero`` streams forever) or an empty file; a string handed to FFmpeg may be one of its
protocols (``concat:a|b``, ``file:``, ``subfile,,start,..:``, ``pipe:``) that reads other files or descriptors.
These checks are shared by ``analyze``/``evaluate`` (``core.clip_decode``), the live sources
(``core.capture.media_file``, ``core.capture.camera``) and the ``--source`` parser (``core.sources``), so each says
the same thing. Local files are handed to FFmpeg as absolute paths (``ffmpeg_path``), which it never reads as a
protocol.

Pure functions (``stat`` only); thread-safe.
"""

from __future__ import annotations

import os
import re
import stat
from urllib.parse import urlsplit

# What the app reads as a network stream (OpenCV's FFmpeg back end). Anything else with "://" is refused.
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp", "udp", "srt", "rtp")
MAX_URL_CHARS = 4096
MAX_VIDEO_PIXELS = 100_000_000  # ~10000x10000: one decoded picture is 150 MB in YUV; a hostile header may claim more
# "concat:", "file:", "pipe:", "subfile,,start,0,end,1,,:..." — FFmpeg's protocol syntax (a one-letter prefix is a
# Windows drive, not a protocol)
_FFMPEG_PROTOCOL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]+:|subfile,)")


def file_problem(path: str | os.PathLike[str], what: str = "a media file") -> str | None:
    """Why ``path`` cannot be read as ``what``, as a phrase that follows the path ("is a folder, not a media file"),
    or None when it is a non-empty regular file we may read. Never opens the path."""
    try:
        info = os.stat(path)  # follows symlinks: what counts is what would be opened
    except FileNotFoundError:
        return "does not exist; check the path"
    except (OSError, ValueError) as exc:  # a loop of symlinks, a name too long, a NUL byte
        return f"cannot be looked up ({exc}); check the path"
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return f"is a folder, not {what}"
    if stat.S_ISFIFO(mode):
        return f"is a named pipe (FIFO), not {what}: reading it would wait for a writer, possibly forever"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return f"is a device, not {what}"
    if stat.S_ISSOCK(mode):
        return f"is a socket, not {what}"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if info.st_size == 0:
        return "is empty (0 bytes); record or copy it again"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def looks_like_ffmpeg_protocol(text: str) -> bool:
    """``concat:``, ``file:``, ``subfile,``, ``pipe:`` ... (not ``C:\\`` and not ``scheme://``)."""
    return "://" not in text and bool(_FFMPEG_PROTOCOL.match(text))


def is_url(text: str) -> bool:
    return "://" in text


def stream_url_problem(url: str) -> str | None:
    """Why ``url`` is not a stream the app reads (a phrase, see ``file_problem``), or None. Never connects."""
    if len(url) > MAX_URL_CHARS:
        return f"is longer than {MAX_URL_CHARS} characters"
    if any(ord(c) < 32 or c == "\x7f" for c in url) or " " in url:
        return "holds blanks or control characters; percent-encode them"
    scheme = url.split("://", 1)[0].lower()
    if scheme not in STREAM_SCHEMES:
        return f"is not a stream this app reads ({scheme}://); use {', '.join(s + '://' for s in STREAM_SCHEMES)}"
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port checks the port: a number in 0-65535
    except ValueError as exc:  # a malformed port or IPv6 literal
        return f"is not a valid URL ({exc})"
    if not host:
        return "names no host"
    return None


def ffmpeg_path(path: str | os.PathLike[str]) -> str:
    """``path`` as FFmpeg must get it: absolute, so that a file named ``concat:x`` or ``pipe:0`` is read as that
    file, never as a protocol."""
    return os.path.abspath(os.fspath(path))


def av_reason(exc: BaseException) -> str:
    """FFmpeg's reason from a PyAV error ("Invalid data found when processing input"), without the errno and the
    path that ``str(exc)`` repeats."""
    return getattr(exc, "strerror", None) or str(exc)


def picture_size_problem(width: int, height: int, limit: int = MAX_VIDEO_PIXELS) -> str | None:
    """Why video pictures of this size are not decoded (a phrase, see ``file_problem``), or None. Checked on the
    header, before any picture is decoded."""
    if width * height > limit:
        return (f"has {width}x{height} pictures, more than the {limit // 10**6} million pixels this app decodes; "
                "scale it down first (e.g. ffmpeg -i in -vf scale=1920:-2 out.mp4)")
    return None
