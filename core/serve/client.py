"""The client of ``main.py serve``: the model's API over HTTP(S), and a backend for the inference worker.

- ``RemoteTarget``: a checked server address (``https://host:port``; plain ``http://`` only on loopback), the
  bearer token, the certificate authority to trust (for a self-signed server certificate) and the frame encoding;
- ``RemoteModel``: ``analyze`` / ``analyze_batch`` / ``info`` / ``close`` like ``R1OmniModel``, so the file and
  evaluation commands take a server wherever they take a model folder;
- ``RemoteBackend``: the ``core.backend.ModelBackend`` the desktop and the monitor load with a server's address.

Standard library only (``http.client`` + ``ssl``), so the desktop needs no extra package for it. One window is
one POST; the answer streams as JSON lines (tokens, heartbeats, the result). ``should_stop`` is polled at every
line, at least every ``HEARTBEAT_S`` of the server: a cancelled window closes its connection, which makes the
server stop generating at its next token. A server that cannot be reached fails the window with a retryable
``BackendError`` at once and, while it stays down, later windows are tried again after a growing pause (0.5 s
doubling to 8 s) instead of waiting on a dead connection each time; the first answer resets the pause.
Timings: the server's stages, ``server_queue`` and ``server_total`` (request in to result out on the server),
plus ``round_trip`` (request out to result in, here) and ``network`` (the difference).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from core.backend import REMOTE, BackendError
from core.cli_types import MAX_BATCH_SIZE
from core.model.errors import AnalysisCancelled
from core.results import AnalysisResult
from core.serve.security import check_token, is_loopback, resolve_token
from core.serve.wire import (
    ANALYZE_PATH,
    API_VERSION,
    EVENT_ERROR,
    EVENT_RESULT,
    EVENT_TOKEN,
    FRAME_ENCODINGS,
    INFO_PATH,
    MIB,
    RAW,
    WINDOW_CONTENT_TYPE,
    WindowRequest,
    WireError,
    encode_request,
    parse_event,
)
from core.window import DEFAULT_MODEL_FRAMES, model_frame_indices

if TYPE_CHECKING:
    from core.engine import AnalysisParams

CONNECT_TIMEOUT_S = 5.0
STREAM_READ_TIMEOUT_S = 30.0  # silence on a streaming answer (the server sends heartbeats) = a lost server
RESULT_READ_TIMEOUT_S = 600.0  # a non-streaming answer comes only when the model is done
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
MAX_LINE_BYTES = 16 * MIB
MAX_ERROR_BODY_BYTES = 64 * 1024
USER_AGENT = "r1omni-live"


def is_remote_model(model: str | None) -> bool:
    """``--model`` names a server (``http://`` / ``https://``) rather than a folder."""
    return bool(model) and str(model).lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class RemoteTarget:
    """A model server to use. Build it with ``RemoteTarget.parse``."""

    url: str  # scheme://host:port, nothing else
    host: str
    port: int
    tls: bool
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # a CA bundle (or the server's self-signed certificate) to trust; None: the system's
    frame_encoding: str = RAW

    @classmethod
    def parse(cls, url: str, token: str | None = None, ca_file: str | None = None,
              frame_encoding: str = RAW) -> RemoteTarget:
        """Check ``url`` (raises ValueError naming the problem and the fix)."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"server address {url!r}: write https://HOST:PORT")
        if parts.username or parts.password:
            raise ValueError("put the token in a token file (--token-file) or the model menu, not in the address")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"server address {url!r}: give only https://HOST:PORT, without a path")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"server address {url!r}: the port must be a number from 1 to 65535") from None
        host = parts.hostname or ""
        if not host:
            raise ValueError(f"server address {url!r} names no host")
        if scheme == "http" and not is_loopback(host):
            raise ValueError(f"refusing plain http to {host}: faces and voices would cross the network "
                             f"unencrypted. Use https://{host}:{port or 443} (the server needs --ssl-certfile)")
        if frame_encoding not in FRAME_ENCODINGS:
            raise ValueError(f"frame encoding {frame_encoding!r}: use {' or '.join(FRAME_ENCODINGS)}")
        if token is not None:
            token = check_token(token, "the server token")
        port = port or (443 if scheme == "https" else 80)
        shown = f"[{host}]" if ":" in host else host
        return cls(f"{scheme}://{shown}:{port}", host, port, scheme == "https", token, ca_file, frame_encoding)


class Backoff:
    """When to try a lost server again: ``BACKOFF_FIRST_S`` after the first failure, doubling to
    ``BACKOFF_MAX_S``; reset by a success. Thread-safe."""

    def __init__(self, first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.first_s, self.max_s, self._clock = first_s, max_s, clock
        self._delay = 0.0
        self._next_at = 0.0
        self._lock = threading.Lock()

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._next_at - self._clock())

    def failed(self, at_least_s: float = 0.0) -> float:
        with self._lock:
            self._delay = min(self.max_s, self._delay * 2 if self._delay else self.first_s)
            wait = max(self._delay, at_least_s)
            self._next_at = self._clock() + wait
            return wait

    def succeeded(self) -> None:
        with self._lock:
            self._delay = 0.0
            self._next_at = 0.0


class RemoteModel:
    """A model on a server, with ``R1OmniModel``'s analysis API. Thread-safe: each thread keeps its own
    connection (kept alive between windows)."""

    def __init__(self, target: RemoteTarget, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 stream_timeout_s: float = STREAM_READ_TIMEOUT_S,
                 result_timeout_s: float = RESULT_READ_TIMEOUT_S) -> None:
        self.target = target
        self.connect_timeout_s = connect_timeout_s
        self.stream_timeout_s = stream_timeout_s
        self.result_timeout_s = result_timeout_s
        self.backoff = Backoff()
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()  # every thread's connection, so close() ends them all
        self._open_lock = threading.Lock()
        self._batch_pool: ThreadPoolExecutor | None = None  # analyze_batch's senders, kept with their connections
        self._ssl = _ssl_context(target.ca_file) if target.tls else None
        self._info: dict[str, Any] | None = None

    # ---- model API --------------------------------------------------------------------------------------
    def fetch_info(self) -> dict[str, Any]:
        """The server's ``/v1/info`` (raises ``BackendError``): model id, fingerprint, device, versions."""
        body = self._call("GET", INFO_PATH, None, self.stream_timeout_s)
        try:
            info = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BackendError(f"{self.target.url} did not answer with JSON: is it an R1-Omni server?", False) from None
        if not isinstance(info, dict) or info.get("api") != API_VERSION:
            raise BackendError(f"{self.target.url} speaks API {info.get('api') if isinstance(info, dict) else '?'}; "
                               f"this app needs {API_VERSION}: update the server or the app", False)
        self._info = info
        return dict(info)

    @property
    def num_frames(self) -> int:
        n = (self._info or {}).get("num_frames")
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else DEFAULT_MODEL_FRAMES

    def info(self, hash_weights: bool | None = None) -> dict[str, Any]:
        """What ``R1OmniModel.info`` gives, for the server's model (fetched once)."""
        info = self._info if self._info is not None else self.fetch_info()
        return {"model_dir": self.target.url, "device": info.get("device"), "dtype": info.get("dtype"),
                "weights_hash": info.get("weights_hash"), "params": info.get("params")}

    def analyze(self, frames: np.ndarray, audio: np.ndarray | None, instruction: str,
                max_new_tokens: int = 256, on_token: Callable[[str], None] | None = None, label_set: str = "dfew",
                modal: str | None = None, scores: bool = False,
                should_stop: Callable[[], bool] | None = None) -> AnalysisResult:
        """One window on the server: frames uint8 [N, H, W, 3] RGB (only the ``num_frames`` the model samples are
        sent), audio float32 [S] 16 kHz or None. Streams text through ``on_token``; ``should_stop`` cancels
        (``AnalysisCancelled``); a lost server or a refusal raises ``BackendError``. Calling thread."""
        if self._info is None:
            self.fetch_info()
        frames = np.asarray(frames)
        if frames.ndim == 4 and len(frames) != self.num_frames:
            frames = frames[model_frame_indices(len(frames), self.num_frames)]
        stream = on_token is not None or should_stop is not None
        req = WindowRequest(frames=frames, audio=audio, instruction=instruction, label_set=label_set,
                            max_new_tokens=max_new_tokens, scores=scores, modal=modal, stream=stream)
        try:
            body = encode_request(req, self.target.frame_encoding)
        except ValueError as exc:
            raise BackendError(f"cannot send this window: {exc}", False) from None
        if not stream:
            started = time.perf_counter()
            answer = self._call("POST", ANALYZE_PATH, body, self.result_timeout_s)
            try:
                event = parse_event(answer.rstrip(b"\n") + b"\n", MAX_LINE_BYTES)
            except WireError as exc:
                raise BackendError(f"{self.target.url} sent a malformed answer: {exc}", False) from None
            return self._finish(event, started)
        return self._stream(body, on_token, should_stop or (lambda: False))

    def analyze_batch(self, clips: list[tuple[np.ndarray, np.ndarray | None]], instruction: str,
                      max_new_tokens: int = 256, label_set: str = "dfew",
                      modal: str | None = None) -> list[AnalysisResult]:
        """Several windows at once: one request each, sent together so the server can batch them on one
        replica (or spread them over several). Results in clip order; the first failure is raised."""
        if not clips:
            return []
        with self._open_lock:
            if self._batch_pool is None:  # kept: its threads keep their connections from one batch to the next
                self._batch_pool = ThreadPoolExecutor(max_workers=MAX_BATCH_SIZE, thread_name_prefix="remote-batch")
            pool = self._batch_pool
        futures = [pool.submit(self.analyze, f, a, instruction, max_new_tokens=max_new_tokens,
                               label_set=label_set, modal=modal) for f, a in clips]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Close the connections of every thread that used this model and end analyze_batch's threads (it
        reconnects if used again)."""
        self._drop()
        with self._open_lock:
            pool, self._batch_pool = self._batch_pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()

    # ---- streaming --------------------------------------------------------------------------------------
    def _stream(self, body: bytes, on_token: Callable[[str], None] | None,
                should_stop: Callable[[], bool]) -> AnalysisResult:
        started = time.perf_counter()
        resp = self._send("POST", ANALYZE_PATH, body, self.stream_timeout_s)
        texts: list[str] = []
        kept = False  # the connection stays open for the next window only after a whole answer
        try:
            while True:
                line = resp.readline(MAX_LINE_BYTES + 1)
                if should_stop():
                    self._drop()  # closing the connection is what stops the server's generation
                    raise AnalysisCancelled(None)
                if not line.endswith(b"\n"):
                    raise ConnectionError("the server closed the answer before its result")
                event = parse_event(line, MAX_LINE_BYTES)
                kind = event["event"]
                if kind == EVENT_TOKEN:
                    text = event.get("text")
                    if isinstance(text, str) and text:
                        texts.append(text)
                        if on_token is not None:
                            on_token(text)
                elif kind == EVENT_RESULT:
                    resp.read()  # the end of the chunked body, so the connection can be kept
                    kept = True
                    self.backoff.succeeded()
                    return self._finish(event, started)
                elif kind == EVENT_ERROR:
                    self._drop()
                    raise self._event_error(event)
                # EVENT_HEARTBEAT: nothing to do but look at should_stop again
        except (OSError, http.client.HTTPException, WireError) as exc:
            self._drop()
            raise self._lost(exc) from None
        finally:
            if not kept:
                resp.close()  # the response holds the socket too: the connection ends only when both are closed

    def _finish(self, event: dict[str, Any], started: float) -> AnalysisResult:
        if event.get("event") == EVENT_ERROR:
            raise self._event_error(event)
        round_trip = time.perf_counter() - started
        try:
            result = AnalysisResult.from_dict(event.get("result"))
        except ValueError as exc:
            raise BackendError(f"{self.target.url} sent a malformed result: {exc}", False) from None
        server = raw if isinstance(raw := event.get("server"), dict) else {}
        expected = (self._info or {}).get("weights_hash")
        if expected and server.get("weights_hash") not in (None, expected):
            raise BackendError(f"the model on {self.target.url} changed (weights {str(expected)[:12]}… → "
                               f"{str(server.get('weights_hash'))[:12]}…): load the remote model again", False)
        timings = dict(result.timings)
        timings["round_trip"] = round_trip
        if "server_total" in timings:
            timings["network"] = max(0.0, round_trip - timings["server_total"])
        return AnalysisResult(**{**_fields(result), "timings": timings})

    # ---- HTTP -------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: bytes | None, timeout_s: float) -> bytes:
        resp = self._send(method, path, body, timeout_s)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise self._lost(exc) from None
        self.backoff.succeeded()
        return data

    def _send(self, method: str, path: str, body: bytes | None, timeout_s: float) -> http.client.HTTPResponse:
        """Send a request on this thread's connection; returns a 200 response, raises ``BackendError``."""
        wait = self.backoff.remaining()
        if wait > 0:
            raise BackendError(f"the server at {self.target.url} is unreachable; trying again in {wait:.1f} s")
        headers = {"User-Agent": USER_AGENT, "Accept": "application/x-ndjson, application/json"}
        if self.target.token:
            headers["Authorization"] = f"Bearer {self.target.token}"
        if body is not None:
            headers["Content-Type"] = WINDOW_CONTENT_TYPE
        for attempt in (0, 1):  # a kept-alive connection the server closed meanwhile gets one fresh retry
            fresh = getattr(self._local, "conn", None) is None
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                if conn.sock is not None:
                    conn.sock.settimeout(timeout_s)
                resp = conn.getresponse()
                break
            except ssl.SSLCertVerificationError as exc:
                self._drop()
                raise BackendError(f"the certificate of {self.target.url} is not trusted ({exc.verify_message}). "
                                   "Fix: pass the server's certificate or its CA with --server-ca (or in the "
                                   "Remote server dialog)", False) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if attempt == 0 and not fresh and isinstance(exc, (http.client.RemoteDisconnected,
                                                                   ConnectionResetError, BrokenPipeError)):
                    continue
                raise self._lost(exc) from None
        if resp.status != 200:
            raise self._refusal(resp)
        return resp

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            t = self.target
            if t.tls:
                conn = http.client.HTTPSConnection(t.host, t.port, timeout=self.connect_timeout_s, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(t.host, t.port, timeout=self.connect_timeout_s)
            self._local.conn = conn
            with self._open_lock:
                self._open.add(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def _lost(self, exc: BaseException) -> BackendError:
        wait = self.backoff.failed()
        what = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else (str(exc) or type(exc).__name__)
        return BackendError(f"lost the server at {self.target.url} ({what}); trying again in {wait:.1f} s")

    def _event_error(self, event: dict[str, Any]) -> BackendError:
        """The server's own error record for a window (streamed, or the body of a non-streamed answer)."""
        return BackendError(f"{self.target.url}: {str(event.get('message', 'error'))[:300]}",
                            bool(event.get("retryable", True)))

    def _refusal(self, resp: http.client.HTTPResponse) -> BackendError:
        body = resp.read(MAX_ERROR_BODY_BYTES)
        resp.close()
        self._drop()
        try:
            answer = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if isinstance(answer, dict) and answer.get("event") == EVENT_ERROR:
            return self._event_error(answer)  # a window the server's model failed on: its message, its retry rule
        message = str(answer.get("error", ""))[:300] if isinstance(answer, dict) else ""
        status = resp.status
        if status == 401:
            return BackendError(f"{self.target.url} refused the token ({message or 'unauthorised'}). Fix: give the "
                                "server's token (--token-file, R1OMNI_SERVE_TOKEN or the Remote server dialog)", False)
        if status in (429, 503):
            retry = resp.getheader("Retry-After")
            wait = self.backoff.failed(float(retry) if retry and retry.isdigit() else 0.0)
            return BackendError(f"{self.target.url} is busy ({message or status}); trying again in {wait:.1f} s")
        if status >= 500:
            return BackendError(f"{self.target.url} failed: HTTP {status} {message}".strip())
        return BackendError(f"{self.target.url} refused the window: HTTP {status} {message}".strip(), False)


def _fields(result: AnalysisResult) -> dict[str, Any]:
    return {name: getattr(result, name) for name in AnalysisResult.__dataclass_fields__}


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot use {ca_file!r} as the server's certificate authority: {exc}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class RemoteBackend:
    """The inference worker's backend for a model server (``core.backend.ModelBackend``). Worker thread only."""

    warm_up_wanted = False  # the server's replicas warm up before they take windows

    def __init__(self, target: RemoteTarget) -> None:
        self.target = target
        self._model: RemoteModel | None = None
        self._info: dict[str, Any] | None = None

    def load(self, progress: Callable[[str], None]) -> dict[str, Any]:
        progress(f"Connecting to the model server {self.target.url}…")
        model = RemoteModel(self.target)
        try:
            info = model.fetch_info()
        except BackendError:
            model.close()
            raise
        self._model = model
        self._info = {
            "backend": REMOTE, "server": self.target.url, "model_id": info.get("model_id"),
            "weights_hash": info.get("weights_hash"), "weights_hash_method": info.get("weights_hash_method"),
            "device": info.get("device"), "dtype": info.get("dtype"), "params": info.get("params"),
            "versions": info.get("versions") if isinstance(info.get("versions"), dict) else {},
            "num_frames": model.num_frames, "frame_encoding": self.target.frame_encoding,
        }
        return self.info()

    def warm_up(self, params: AnalysisParams) -> None:
        """Nothing to do: the server warmed its replicas up before serving."""

    def analyze(self, frames: np.ndarray, audio: np.ndarray | None, params: AnalysisParams,
                on_token: Callable[[str], None] | None, should_stop: Callable[[], bool]) -> AnalysisResult:
        return self._require().analyze(frames, audio, params.instruction, max_new_tokens=params.max_new_tokens,
                                       on_token=on_token, label_set=params.label_set, scores=params.scores,
                                       should_stop=should_stop)

    def unload(self) -> None:
        model, self._model = self._model, None
        self._info = None
        if model is not None:
            model.close()

    def info(self) -> dict[str, Any]:
        if self._info is None:
            raise RuntimeError("no server is connected")
        return dict(self._info)

    @property
    def num_frames(self) -> int:
        return self._model.num_frames if self._model is not None else DEFAULT_MODEL_FRAMES

    def memory_bytes(self) -> int | None:
        return None  # the weights live on the server

    def _require(self) -> RemoteModel:
        if self._model is None:
            raise RuntimeError("no server is connected")
        return self._model


# ---- command line ---------------------------------------------------------------------------------------------
def add_remote_arguments(parser: Any) -> None:
    """``--token-file``, ``--server-ca`` and ``--remote-frames`` for commands whose ``--model`` may be a server."""
    parser.add_argument("--token-file", default=None, help="with --model https://HOST:PORT: a file holding the "
                        "server's bearer token (chmod 600); default: the R1OMNI_SERVE_TOKEN environment variable")
    parser.add_argument("--server-ca", default=None, metavar="PEM", help="with --model https://...: the "
                        "certificate (or CA) to trust for the server, e.g. its self-signed certificate")
    parser.add_argument("--remote-frames", choices=FRAME_ENCODINGS, default=RAW, help="how frames travel to the "
                        "server: raw (exactly the local result; default) or jpeg (about 8x less traffic)")


def target_from_args(args: Any) -> RemoteTarget:
    """The server named by ``args.model`` with the token and trust options (raises ValueError with the fix)."""
    token = resolve_token(getattr(args, "token_file", None))
    return RemoteTarget.parse(args.model, token, getattr(args, "server_ca", None),
                              getattr(args, "remote_frames", RAW))
