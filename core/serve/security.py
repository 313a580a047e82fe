"""The model server's security rules: where it may listen, who may ask, and how often.

A window holds a face and a voice. The server listens on 127.0.0.1 unless told otherwise; any other address
needs a bearer token (``--token-file`` or ``R1OMNI_SERVE_TOKEN``) and TLS (a certificate and key), or the
explicit ``--insecure-http``, which still needs the token and prints a warning. Tokens are kept as their
SHA-256 and compared in constant time; token files must be readable by their owner only, like an SSH key.
Every client address gets a token bucket of requests per replica.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "R1OMNI_SERVE_TOKEN"  # the token itself (server and clients), when no token file is given
MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 4096
DEFAULT_RATE_PER_S = 20.0  # requests per second and client address, per replica (a desktop sends one per hop)
DEFAULT_BURST = 40
MAX_TRACKED_CLIENTS = 10_000  # oldest buckets are forgotten beyond this: memory stays bounded

INSECURE_HTTP_WARNING = (
    "WARNING: --insecure-http: windows (faces and voices) and the token cross the network unencrypted. "
    "Anyone on the path can watch them and reuse the token. Use --ssl-certfile/--ssl-keyfile instead."
)


class SecurityConfigError(ValueError):
    """The server must not start as configured; the message says why and what to do."""


@dataclass(frozen=True)
class BindPolicy:
    """A checked server configuration. ``token_sha256``: the digest requests are compared against (None: no
    token, allowed on loopback only). ``tls``: certificate and key given."""

    host: str
    token_sha256: str | None
    certfile: str | None
    keyfile: str | None
    insecure_http: bool = False

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ::1. Other names count as not loopback: a name
    may resolve anywhere."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, certfile: str | None, keyfile: str | None,
               insecure_http: bool = False) -> tuple[BindPolicy, list[str]]:
    """The server's policy for these options, and warnings to print; raises ``SecurityConfigError``."""
    if (certfile is None) != (keyfile is None):
        raise SecurityConfigError("TLS needs both --ssl-certfile and --ssl-keyfile")
    if certfile is not None and insecure_http:
        raise SecurityConfigError("--insecure-http contradicts --ssl-certfile/--ssl-keyfile: choose one")
    for label, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if path is not None and not Path(path).is_file():
            raise SecurityConfigError(f"{label} {path!r} is not a readable file")
    warnings: list[str] = []
    if not is_loopback(host):
        if token is None:
            raise SecurityConfigError(
                f"refusing to listen on {host}: beyond loopback the server needs a bearer token. Fix: give "
                f"--token-file FILE (one line, at least {MIN_TOKEN_CHARS} characters, chmod 600) or set "
                f"{TOKEN_ENV}; `python main.py serve --new-token FILE` writes one.")
        if certfile is None and not insecure_http:
            raise SecurityConfigError(
                f"refusing to listen on {host} without TLS: faces and voices would cross the network in clear "
                "text. Fix: give --ssl-certfile and --ssl-keyfile (a certificate your clients trust), or "
                "--insecure-http if an encrypted tunnel already carries the traffic.")
        if insecure_http:
            warnings.append(INSECURE_HTTP_WARNING)
    elif insecure_http:
        warnings.append("note: --insecure-http has no effect on a loopback address")
    if keyfile is not None:
        mode = Path(keyfile).stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(f"WARNING: {keyfile} (the TLS private key) can be read by other users; chmod 600 it")
    digest = token_digest(token) if token is not None else None
    return BindPolicy(host, digest, certfile, keyfile, insecure_http and certfile is None), warnings


# ---- tokens ---------------------------------------------------------------------------------------------------
def check_token(token: str, origin: str) -> str:
    """``token`` stripped of surrounding whitespace, checked to be usable as a bearer token."""
    token = token.strip()
    if not MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS:
        raise SecurityConfigError(f"the token from {origin} has {len(token)} characters; use "
                                  f"{MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} (e.g. `main.py serve --new-token FILE`)")
    if not all(33 <= ord(c) < 127 for c in token):
        raise SecurityConfigError(f"the token from {origin} must be printable ASCII without spaces")
    return token


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in ``path`` (first line). The file must be a regular file readable by its owner only."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise SecurityConfigError(f"cannot read the token file {p}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise SecurityConfigError(f"the token file {p} is not a regular file")
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecurityConfigError(f"the token file {p} can be read by other users. Fix: chmod 600 {p}")
    if st.st_size > MAX_TOKEN_CHARS + 2:
        raise SecurityConfigError(f"the token file {p} is too long to hold a token")
    lines = p.read_text(encoding="ascii", errors="replace").splitlines()
    return check_token(lines[0] if lines else "", str(p))


def resolve_token(token_file: str | os.PathLike[str] | None) -> str | None:
    """The token from ``--token-file``, else from ``R1OMNI_SERVE_TOKEN``, else None."""
    if token_file is not None:
        return read_token_file(token_file)
    value = os.environ.get(TOKEN_ENV)
    return check_token(value, TOKEN_ENV) if value else None


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def write_token_file(path: str | os.PathLike[str], token: str) -> None:
    """Write ``token`` to a new file readable by its owner only (an existing file is not overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(check_token(token, "the new token") + "\n")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(presented: str | None, digest: str) -> bool:
    """Constant-time comparison of a presented token with the expected digest (hashing first makes the
    comparison independent of the token's length, too)."""
    if presented is None:
        return False
    return hmac.compare_digest(token_digest(presented), digest)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


# ---- rate limit -----------------------------------------------------------------------------------------------
class RateLimiter:
    """A token bucket per client key: ``rate_per_s`` requests per second on average, bursts up to ``burst``.
    Thread-safe; remembers at most ``MAX_TRACKED_CLIENTS`` clients."""

    def __init__(self, rate_per_s: float = DEFAULT_RATE_PER_S, burst: int = DEFAULT_BURST,
                 clock=time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("the rate limit needs a positive rate and a burst of at least 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be allowed)."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > MAX_TRACKED_CLIENTS:
                self._buckets.popitem(last=False)
        return allowed, 0.0 if allowed else (1.0 - tokens) / self.rate_per_s
