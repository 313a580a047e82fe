"""A model hub on 127.0.0.1 that answers like the Hugging Face hub's file API, for download tests.

    GET /api/models/{org}/{name}/revision/main?blobs=true   -> {"sha", "siblings": [{"rfilename", "size", "lfs"}]}
    GET /{org}/{name}/resolve/{commit}/{path}              -> the bytes (Range honoured: 206), or a 302 to
                                                              /cdn/{org}/{name}/{path} for *.safetensors

Behaviour per test: ``fail[repo_id] = (status, x_error_code)`` answers every request of that repo with an error;
``cut[(repo_id, path)] = [n_bytes, ...]`` makes the next transfers of that file stop after n bytes (the server
closes the connection mid-body); ``requests`` records (path, Range header, Authorization header) of each request.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_CDN = re.compile(r"^/cdn/([^/]+/[^/]+)/(.+)$")
_LISTING = re.compile(r"^/api/models/([^/]+/[^/]+)/revision/([^/?]+)")


class FakeHub:
    """``repos[repo_id] = {path: bytes}``. ``start()`` returns self; ``endpoint`` is its base URL."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.fail: dict[str, tuple[int, str]] = {}
        self.cut: dict[tuple[str, str], list[int]] = {}
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.cdn: str = ""  # base URL large files are redirected to ("" = this server)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_folder(self, repo_id: str, folder: Path, replace: dict[str, bytes] | None = None) -> None:
        files = {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}
        files.update(replace or {})
        self.repos[repo_id] = files

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:  # the name http.server calls
                hub.requests.append((self.path, self.headers.get("Range"), self.headers.get("Authorization")))
                hub._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- answers ------------------------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        m = _LISTING.match(path)
        if m:
            return self._listing(h, m.group(1))
        m = _RESOLVE.match(path)
        if m:
            repo, _rev, name = m.groups()
            if self._failed(h, repo) or self._missing(h, repo, name):
                return None
            if name.endswith(".safetensors"):  # large files live on a file server, as on the hub
                return self._send(h, 302, b"", {"Location": f"{self.cdn}/cdn/{repo}/{name}"})
            return self._file(h, repo, name)
        m = _CDN.match(path)
        if m and not self._missing(h, *m.groups()):
            return self._file(h, *m.groups())
        if not m:
            self._send(h, 404, b"not found", {"X-Error-Code": "EntryNotFound"})
        return None

    def _failed(self, h, repo: str) -> bool:
        if repo in self.fail:
            status, code = self.fail[repo]
            self._send(h, status, json.dumps({"error": code}).encode(), {"X-Error-Code": code} if code else {})
            return True
        return False

    def _missing(self, h, repo: str, name: str) -> bool:
        if repo not in self.repos:
            self._send(h, 401, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            return True
        if name not in self.repos[repo]:
            self._send(h, 404, b'{"error":"Entry not found"}', {"X-Error-Code": "EntryNotFound"})
            return True
        return False

    def _listing(self, h, repo: str) -> None:
        if self._failed(h, repo):
            return
        if repo not in self.repos:
            self._send(h, 401, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            return
        siblings = []
        for name, data in sorted(self.repos[repo].items()):
            entry = {"rfilename": name, "size": len(data)}
            if name.endswith(".safetensors"):
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            siblings.append(entry)
        self._send(h, 200, json.dumps({"id": repo, "sha": COMMIT, "siblings": siblings}).encode(),
                   {"Content-Type": "application/json"})

    def _file(self, h, repo: str, name: str) -> None:
        data = self.repos[repo][name]
        start = 0
        rng = h.headers.get("Range")
        status, headers = 200, {}
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                return self._send(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        cuts = self.cut.get((repo, name))
        if cuts:
            stop_after = cuts.pop(0)
            h.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body[:stop_after])
            h.wfile.flush()
            h.close_connection = True
            return None
        return self._send(h, status, body, headers)

    @staticmethod
    def _send(h, status: int, body: bytes, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
