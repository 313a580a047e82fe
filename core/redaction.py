"""Masking the credentials that stream URLs carry, wherever a URL may be shown or written.

``rtsp://admin:hunter2@cam.local/live`` is how IP cameras are addressed, so a source string holds a password. The
app needs the URL to connect, but nothing it prints, logs, records or shows may hold the secret: every message,
status line, session manifest and log record that can contain a source string goes through ``redact``, and the
logging set-up (``install_log_redaction``) applies it to every formatted log line as a last guard (it covers
messages from libraries too).

Pure functions; thread-safe.
"""

from __future__ import annotations

import logging
import re

MASK = "***"
# scheme://[userinfo@]host/path?query: the userinfo ends at the *last* '@' before the query, as FFmpeg splits it, so
# an unencoded '@' or even '/' in a password stays secret (over-masking a path that holds '@' is the safe side).
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>]*)")
# query or fragment parameters that carry secrets: ?password=..&token=..
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;#](?:[A-Za-z0-9_.\-]*?)(?:pass(?:word|wd)?|pwd|token|secret|api[_-]?key|apikey|auth|sig(?:nature)?"
    r"|credential|key)[A-Za-z0-9_.\-]*=)(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, rest = match.group("scheme"), match.group("rest")
    query_at = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    userinfo, at, host = rest[:query_at].rpartition("@")
    if not at:
        return match.group(0)
    user, colon, _password = userinfo.partition(":")
    # user:password -> keep the user (it helps to tell cameras apart); a lone userinfo is often a token: mask it all
    masked = f"{user}:{MASK}" if colon and "/" not in user else MASK
    return f"{scheme}{masked}@{host}{rest[query_at:]}"


def redact(text: str) -> str:
    """``text`` with the password of every URL in it (``scheme://user:PASSWORD@host``), a lone userinfo
    (``scheme://TOKEN@host``) and secret-looking query parameters (``?password=``, ``token=``, ``key=``...)
    replaced by ``***``. Text without URLs is returned unchanged."""
    if "://" not in text:
        return text
    text = _URL.sub(_mask_userinfo, text)
    return _SECRET_PARAM.sub(lambda m: m.group("key") + MASK, text)


class RedactingFormatter(logging.Formatter):
    """Formats a record with ``inner`` (message, arguments, traceback), then ``redact``s the line."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Make every handler of ``logger`` (default: the root logger) redact its lines. Call after
    ``logging.basicConfig``; handlers added later are not covered."""
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
