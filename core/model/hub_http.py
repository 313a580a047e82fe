"""The Hugging Face hub's file API over plain HTTP: list a repository, fetch its files resumably.

The same two calls are served by the hub and by its mirrors (``--endpoint`` or ``HF_ENDPOINT``)::

    GET {endpoint}/api/models/{repo}/revision/main?blobs=true
        -> {"sha": COMMIT, "siblings": [{"rfilename": PATH, "size": N, "lfs": {"sha256": H, "size": N}}, ...]}
    GET {endpoint}/{repo}/resolve/{COMMIT}/{PATH}      with "Range: bytes=HAVE-" to resume
        -> 200 or 206 with the bytes, often after a redirect to a file server

Plain HTTP rather than ``huggingface_hub`` because the app needs what that library hides: byte progress, a resume
it can see, one error per cause (its errors come as many types) and a transfer that a test server can serve.
Every file is fetched into ``NAME.part`` and renamed only once its size (and SHA-256, where listed) match.

The token (``HF_TOKEN``, or the file ``hf auth login`` writes) goes only to the endpoint's own host, never to the
host a redirect leads to, and never over plain HTTP except to the loopback.
Threads: the calling one; blocking network I/O with a timeout on every read.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from core.model.hub_files import (
    AUTH,
    BAD_INPUT,
    DISK_FULL,
    INTERRUPTED,
    NOT_FOUND,
    PART_SUFFIX,
    SERVER,
    SIZE,
    UNREACHABLE,
    DownloadError,
    RemoteFile,
    checked_path,
    checked_size,
    human_bytes,
)

DEFAULT_ENDPOINT = "https://huggingface.co"
REVISION = "main"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30.0  # connect and each read
MAX_REDIRECTS = 5
MAX_LISTING_BYTES = 16 << 20
RETRIES = 3  # resumed attempts after a transfer breaks off, before giving up with INTERRUPTED
RETRY_PAUSE_S = 2.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")
USER_AGENT = "r1omni-live"

OnBytes = Callable[[int], None]


def parse_endpoint(url: str) -> str:
    """A hub endpoint URL, normalised (no trailing slash); DownloadError(BAD_INPUT) when it is not one."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise DownloadError(BAD_INPUT, f"the endpoint {url!r} is not an http(s) URL",
                            "give the mirror's address, e.g. --endpoint https://hf-mirror.com")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise DownloadError(BAD_INPUT, f"the endpoint {url!r} carries credentials, a query or a fragment",
                            "give only scheme, host and path; put a token in HF_TOKEN")
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))


def endpoint_from_env(explicit: str | None = None) -> str:
    """``--endpoint`` if given, else ``HF_ENDPOINT``, else the hub itself."""
    return parse_endpoint(explicit or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)


def read_token() -> str | None:
    """``HF_TOKEN``, else the token file ``hf auth login`` writes (``$HF_TOKEN_PATH`` or ``$HF_HOME/token``)."""
    token = os.environ.get("HF_TOKEN", "").strip()
    if token:
        return token
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    path = Path(os.environ.get("HF_TOKEN_PATH") or os.path.join(home, "token"))
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # redirects are followed by HfHttpHub._open, token-aware
        return None


class HfHttpHub:
    """The hub (or a mirror) at ``endpoint``. ``retries`` / ``retry_pause_s``: resumed attempts per file."""

    name = "huggingface"

    def __init__(self, endpoint: str | None = None, token: str | None = None, retries: int = RETRIES,
                 retry_pause_s: float = RETRY_PAUSE_S, timeout_s: float = TIMEOUT_S) -> None:
        self.endpoint = endpoint_from_env(endpoint)
        self._host = urllib.parse.urlsplit(self.endpoint).hostname
        self._token = token if token is not None else read_token()
        self.retries = retries
        self.retry_pause_s = retry_pause_s
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirect)

    # ---- listing ------------------------------------------------------------------------------------------
    def list_files(self, repo_id: str) -> tuple[str, list[RemoteFile]]:
        """(commit, files) of the repository's main branch. Raises DownloadError."""
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise DownloadError(UNREACHABLE, f"{self.endpoint} cannot be reached: HF_HUB_OFFLINE is set, which "
                                "turns downloads off", "unset HF_HUB_OFFLINE, or run the download on a machine with "
                                "internet access and copy the folder here")
        url = f"{self.endpoint}/api/models/{repo_id}/revision/{REVISION}?blobs=true"
        with self._open(url, repo_id, None) as resp:
            raw = resp.read(MAX_LISTING_BYTES + 1)
        try:
            info = json.loads(raw) if len(raw) <= MAX_LISTING_BYTES else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            info = None
        if not isinstance(info, dict) or not isinstance(info.get("siblings"), list):
            raise DownloadError(BAD_INPUT, f"{self.endpoint} did not answer the file listing of {repo_id} like a "
                                "model hub", "check the endpoint address (a mirror's root, e.g. https://hf-mirror.com)")
        commit = info.get("sha")
        commit = commit if isinstance(commit, str) and len(commit) == 40 and commit.isalnum() else REVISION
        files = []
        for s in info["siblings"]:
            if not isinstance(s, dict):
                continue
            path = checked_path(s.get("rfilename"), repo_id)
            lfs = raw_lfs if isinstance(raw_lfs := s.get("lfs"), dict) else {}
            sha = lfs.get("sha256") or lfs.get("oid")
            sha = sha if isinstance(sha, str) and len(sha) == 64 else None
            files.append(RemoteFile(path, checked_size(s.get("size", lfs.get("size")), repo_id, path), sha))
        return commit, files

    # ---- fetching -----------------------------------------------------------------------------------------
    def fetch(self, repo_id: str, commit: str, files: list[RemoteFile], dest: Path, on_bytes: OnBytes) -> None:
        """Fetch ``files`` into ``dest`` (created). Files already there with the listed size are kept."""
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            target = dest / f.path
            if target.is_file() and target.stat().st_size == f.size:
                on_bytes(f.size)
                continue
            self._fetch_file(repo_id, commit, f, target, on_bytes)

    def _fetch_file(self, repo_id: str, commit: str, f: RemoteFile, target: Path, on_bytes: OnBytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + PART_SUFFIX)
        url = f"{self.endpoint}/{repo_id}/resolve/{commit}/{urllib.parse.quote(f.path)}"
        counted = 0  # bytes of this file reported so far (a restart from zero reports a negative step)

        def at(done: int) -> None:
            nonlocal counted
            on_bytes(done - counted)
            counted = done

        for attempt in range(self.retries + 1):
            have = part.stat().st_size if part.is_file() else 0
            if have > f.size:
                part.unlink()
                have = 0
            try:
                self._transfer(url, repo_id, f, part, have, at)
                break
            except DownloadError as e:
                if e.kind != INTERRUPTED or attempt == self.retries:
                    raise
                time.sleep(self.retry_pause_s)
        got = part.stat().st_size
        if got != f.size:
            raise DownloadError(SIZE, f"{repo_id}/{f.path}: {got} bytes arrived, the hub lists {f.size}",
                                "run the same command again; if it repeats, try another endpoint")
        if f.sha256 and _sha256(part) != f.sha256:
            part.unlink()
            raise DownloadError(SIZE, f"{repo_id}/{f.path}: the content does not match the hub's SHA-256; the "
                                "damaged file was removed", "run the same command again")
        os.replace(part, target)

    def _transfer(self, url: str, repo_id: str, f: RemoteFile, part: Path, have: int, at: OnBytes) -> None:
        """Append the bytes from ``have`` on to ``part``, calling ``at(bytes in the file)``; INTERRUPTED when the
        stream ends early."""
        at(have)
        if have == f.size:
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._open(url, repo_id, f.path, headers) as resp:
            if have and resp.status != 206:
                have = 0  # the server ignored the range: start the file again
                at(0)
            elif have and not (resp.headers.get("Content-Range") or "").startswith(f"bytes {have}-"):
                raise DownloadError(SERVER, f"{self.endpoint} answered the resume of {repo_id}/{f.path} with the "
                                    f"wrong range ({resp.headers.get('Content-Range')!r})",
                                    f"delete {part} and run again, or use another endpoint")
            done = have
            try:
                with open(part, "r+b" if have else "wb") as out:
                    out.seek(have)
                    out.truncate()
                    while chunk := resp.read(CHUNK_BYTES):
                        out.write(chunk)
                        done += len(chunk)
                        at(done)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise disk_full(part.parent, f.size - done) from e
                if isinstance(e, (socket.timeout, ConnectionError)):
                    raise _interrupted(repo_id, f, done) from e
                raise
            except http.client.IncompleteRead as e:
                raise _interrupted(repo_id, f, done) from e
        if done < f.size:
            raise _interrupted(repo_id, f, done)

    def _open(self, url: str, repo_id: str, path: str | None, headers: dict[str, str] | None = None):
        """GET ``url`` following redirects; the token only to the endpoint's host. Raises DownloadError."""
        for _ in range(MAX_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            h = {"User-Agent": USER_AGENT, **(headers or {})}
            if self._token and parts.hostname == self._host and (parts.scheme == "https" or self._host in LOOPBACK):
                h["Authorization"] = f"Bearer {self._token}"
            try:
                return self._opener.open(urllib.request.Request(url, headers=h), timeout=self.timeout_s)
            except urllib.error.HTTPError as e:
                location = e.headers.get("Location") if e.code in (301, 302, 303, 307, 308) else None
                if location:
                    e.close()
                    url = urllib.parse.urljoin(url, location)
                    continue
                error = self._http_error(e, repo_id, path)
                e.close()  # the refused response's connection
                raise error from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise DownloadError(UNREACHABLE, f"{self.endpoint} cannot be reached ({reason})",
                                    "check the network, or use a mirror: --endpoint URL or HF_ENDPOINT (e.g. "
                                    "https://hf-mirror.com), or --hub modelscope") from e
        raise DownloadError(SERVER, f"{self.endpoint} redirected more than {MAX_REDIRECTS} times for {repo_id}",
                            "try again later or another endpoint")

    def _http_error(self, e: urllib.error.HTTPError, repo_id: str, path: str | None) -> DownloadError:
        code = e.headers.get("X-Error-Code", "")
        what = f"{repo_id}/{path}" if path else repo_id
        if code == "RepoNotFound" or (e.code == 404 and path is None):
            return DownloadError(NOT_FOUND, f"{repo_id} does not exist on {self.endpoint} (HTTP {e.code}), or it "
                                 "is private", "check the model name (--model) and the endpoint; a mirror may not "
                                 "have it yet; a private repository needs HF_TOKEN")
        if e.code == 404:
            return DownloadError(NOT_FOUND, f"{what} does not exist on {self.endpoint} (HTTP 404)",
                                 "check the model name and the endpoint; a mirror may hold an older copy")
        if e.code in (401, 403):
            gated = code == "GatedRepo" or "gated" in (e.headers.get("X-Error-Message") or "").lower()
            why = "its licence has not been accepted" if gated else (
                "this account may not read it" if self._token else "no token was sent")
            return DownloadError(AUTH, f"{self.endpoint} refused access to {what} (HTTP {e.code}: {why})",
                                 "log in (set HF_TOKEN or run `hf auth login`) and accept the model's licence on its "
                                 "page, then run again")
        return DownloadError(SERVER, f"{self.endpoint} answered HTTP {e.code} for {what}",
                             "try again later, or another endpoint (--endpoint / HF_ENDPOINT)")


def _interrupted(repo_id: str, f: RemoteFile, done: int) -> DownloadError:
    return DownloadError(INTERRUPTED, f"the transfer of {repo_id}/{f.path} was interrupted after "
                         f"{human_bytes(done)} of {human_bytes(f.size)}",
                         "run the same command again: it resumes where it stopped")


def disk_full(folder: Path, missing_bytes: int) -> DownloadError:
    return DownloadError(DISK_FULL, f"the disk holding {folder} is full ({human_bytes(max(missing_bytes, 0))} still "
                         "to fetch)", "free space there or choose another folder; the download resumes")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            h.update(block)
    return h.hexdigest()

