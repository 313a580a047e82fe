"""The client against a scripted stand-in server (no Ray): reconnection with backoff, refusals, a stream cut off,
a malformed answer; server addresses; where the desktop keeps tokens; what a session manifest records."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.backend import BackendError
from core.engine import AnalysisParams
from core.serve.client import Backoff, RemoteBackend, RemoteModel, RemoteTarget
from core.serve.credentials import TokenStore
from core.session.manifest import SessionManifest
from core.settings import Settings
from tests.serve.helpers import INSTRUCTION, window

RESULT = {"token_ids": [1, 2], "text": "<think>x</think><answer>happy</answer>", "think": "x", "answer": "happy",
          "label": "happy", "parse_status": "ok", "label_set": "dfew", "modal": "video_audio", "scores": None,
          "timings": {"total": 0.5, "server_total": 0.6}}
INFO = {"api": 1, "model_id": "R1-Omni-0.5B", "weights_hash": "ab" * 32, "weights_hash_method": "m",
        "device": "cuda:0", "dtype": "float16", "num_frames": 8, "versions": {"torch": "2.13"}}


class Script:
    """What the stand-in server answers to /v1/analyze next: (status, headers, body lines)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict, list[bytes]]] = []
        self.requests = 0


class _StandInServer(ThreadingHTTPServer):
    """Closes every connection it accepted when it is closed, so no socket outlives the test that made it."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.accepted: list = []

    def process_request(self, request, client_address) -> None:
        self.accepted.append(request)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        pass  # a connection closed under a handler at teardown

    def server_close(self) -> None:
        super().server_close()
        for request in self.accepted:
            request.close()


def serve(script: Script) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps(INFO).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            script.requests += 1
            status, headers, lines = script.answers.pop(0)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Connection", "close")
            self.end_headers()
            for line in lines:
                self.wfile.write(line)
                self.wfile.flush()

    server = _StandInServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def event(kind: str, **fields) -> bytes:
    return json.dumps({"event": kind, **fields}).encode() + b"\n"


@pytest.fixture
def stand_in():
    script = Script()
    server = serve(script)
    yield script, RemoteTarget.parse(f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def test_a_lost_server_fails_fast_while_backing_off_and_is_used_again_when_back(stand_in):
    script, target = stand_in
    now = [0.0]
    model = RemoteModel(target)
    model.backoff = Backoff(clock=lambda: now[0])
    model.fetch_info()
    frames, audio = window(1)
    script.answers.append((200, {}, [event("token", text="<think>"), b'{"event": "tok']))  # cut mid-line
    with pytest.raises(BackendError, match="lost the server.*trying again in 0.5 s") as lost:
        model.analyze(frames, audio, INSTRUCTION, on_token=lambda _: None)
    assert lost.value.retryable
    sent = script.requests
    with pytest.raises(BackendError, match="unreachable; trying again in 0.5 s"):
        model.analyze(frames, audio, INSTRUCTION, on_token=lambda _: None)
    assert script.requests == sent  # no connection while backing off
    now[0] += 0.6
    script.answers.append((200, {}, [event("heartbeat"), event("token", text="hi"), event("result", result=RESULT,
                                                                                            server={})]))
    tokens: list[str] = []
    got = model.analyze(frames, audio, INSTRUCTION, on_token=tokens.append)
    assert got.label == "happy" and tokens == ["hi"] and got.timings["round_trip"] >= 0
    assert got.timings["network"] == max(0.0, got.timings["round_trip"] - 0.6)
    model.close()


def test_refusals_say_what_to_do(stand_in):
    script, target = stand_in
    model = RemoteModel(target)
    model.fetch_info()
    frames, audio = window(2)
    script.answers.append((429, {"Retry-After": "3"}, [b'{"error": "too many requests"}']))
    with pytest.raises(BackendError, match="busy.*trying again in 3.0 s") as busy:
        model.analyze(frames, audio, INSTRUCTION)
    assert busy.value.retryable
    model.backoff.succeeded()
    script.answers.append((401, {}, [b'{"error": "a valid bearer token is required"}']))
    with pytest.raises(BackendError, match="refused the token.*--token-file") as refused:
        model.analyze(frames, audio, INSTRUCTION)
    assert not refused.value.retryable
    # a window answered without streaming that the server's model failed on: its message and its retry rule
    script.answers.append((500, {}, [event("error", message="the server ran out of GPU memory on this window",
                                           retryable=True)]))
    with pytest.raises(BackendError, match="ran out of GPU memory on this window") as failed:
        model.analyze(frames, audio, INSTRUCTION)
    assert failed.value.retryable
    script.answers.append((500, {}, [event("error", message="the server's model refused the window: odd",
                                           retryable=False)]))
    with pytest.raises(BackendError, match="refused the window: odd") as refused_window:
        model.analyze(frames, audio, INSTRUCTION)
    assert not refused_window.value.retryable
    script.answers.append((200, {}, [event("error", message="the server's model refused the window: bad",
                                           retryable=False)]))
    with pytest.raises(BackendError, match="refused the window: bad"):
        model.analyze(frames, audio, INSTRUCTION, on_token=lambda _: None)
    bad = dict(RESULT, token_ids=["DROP TABLE"])
    script.answers.append((200, {}, [event("result", result=bad, server={})]))
    with pytest.raises(BackendError, match="malformed result.*token_ids"):
        model.analyze(frames, audio, INSTRUCTION, on_token=lambda _: None)
    changed = {"weights_hash": "cd" * 32}
    script.answers.append((200, {}, [event("result", result=RESULT, server=changed)]))
    with pytest.raises(BackendError, match="model on .* changed"):
        model.analyze(frames, audio, INSTRUCTION, on_token=lambda _: None)
    model.close()


def test_the_backend_describes_the_server_and_the_manifest_records_it(stand_in):
    _, target = stand_in
    backend = RemoteBackend(target)
    info = backend.load(lambda _: None)
    assert info["backend"] == "remote" and info["server"] == target.url and info["weights_hash"] == "ab" * 32
    assert backend.num_frames == 8 and backend.memory_bytes() is None and not backend.warm_up_wanted
    manifest = SessionManifest.for_backend(info, clock_origin_wall=0.0, window_s=4.0, hop_s=2.0)
    d = manifest.to_dict()
    assert d["weights_hash"] == "ab" * 32 and d["weights_hash_method"] == "m" and d["model_dir"] is None
    assert d["model"]["server"] == target.url and d["model"]["versions"] == {"torch": "2.13"}
    assert SessionManifest.from_dict(d).model["model_id"] == "R1-Omni-0.5B"
    with pytest.raises(RuntimeError):
        RemoteBackend(target).analyze(*window(3), AnalysisParams(), None, lambda: False)
    backend.unload()


@pytest.mark.parametrize("url, words", [
    ("http://192.0.2.7:8000", "refusing plain http"),
    ("ftp://127.0.0.1:1", "https://HOST:PORT"),
    ("https://user:secret@host:1", "token file"),
    ("https://host:1/v1/analyze", "without a path"),
    ("https://host:99999", "port"),
    ("https://:8000", "no host"),
])
def test_server_addresses_are_checked(url, words):
    with pytest.raises(ValueError, match=words):
        RemoteTarget.parse(url)


def test_a_target_never_shows_its_token():
    target = RemoteTarget.parse("https://gpu.example:8443", "s" * 40)
    assert "s" * 40 not in repr(target) and target.url == "https://gpu.example:8443" and target.tls


class FakeKeyring:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def set_password(self, service, user, token):
        self.items[service, user] = token

    def get_password(self, service, user):
        return self.items.get((service, user))

    def delete_password(self, service, user):
        self.items.pop((service, user), None)


def test_tokens_stay_out_of_the_settings_file(tmp_path):
    url, token = "https://gpu.example:8443", "t" * 43
    keyring = FakeKeyring()
    store = TokenStore(tmp_path, keyring)
    store.save(url, token)
    assert store.load(url) == token and list(keyring.items.values()) == [token] and not store.path.exists()

    file_store = TokenStore(tmp_path, False)  # no keyring on this system
    file_store.save(url, token)
    assert file_store.path.stat().st_mode & 0o777 == 0o600 and file_store.load(url) == token
    file_store.path.chmod(0o644)  # made readable by others: not trusted any more
    assert file_store.load(url) is None
    file_store.path.chmod(0o600)
    file_store.forget(url)
    assert file_store.load(url) is None

    settings = Settings.load(tmp_path / "settings.json")
    settings.remote_url, settings.use_remote = url, True
    saved = settings.save()
    assert token not in saved.read_text() and Settings.load(saved).remote_url == url


def test_batches_reuse_their_senders_and_close_ends_them(stand_in):
    """analyze_batch sends a batch's windows from kept threads: their connections are reused from one batch to the
    next instead of one more per clip (an evaluation of thousands of clips would run out of sockets), and close()
    ends the threads and their connections."""
    script, target = stand_in
    model = RemoteModel(target)
    model.fetch_info()
    clips = [window(i) for i in range(3)]
    for _ in range(5):
        script.answers.extend((200, {}, [event("result", result=RESULT, server={})]) for _ in clips)
        got = model.analyze_batch(clips, INSTRUCTION)
        assert [r.label for r in got] == ["happy"] * 3
    assert script.requests == 15
    assert len(model._open) <= len(clips) + 1  # the batch's senders (+ this thread's, from fetch_info)
    model.close()
    assert not model._open
    assert not [t for t in threading.enumerate() if t.name.startswith("remote-batch")]
