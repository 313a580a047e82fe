"""The model server on a real Ray Serve instance, bound to a loopback alias as a server facing a network would be
(bearer token + TLS with a certificate made here), against the tiny parity model."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time

import numpy as np
import pytest

from core.backend import BackendError
from core.model.errors import AnalysisCancelled
from core.serve.client import RemoteModel, RemoteTarget
from core.serve.security import new_token, token_digest
from core.serve.wire import ANALYZE_PATH, HEALTH_PATH, INFO_PATH, WINDOW_CONTENT_TYPE, WindowRequest, encode_request
from tests.serve.helpers import CHECKPOINT, INSTRUCTION, NOT_LOOPBACK_ALIAS, deployed, self_signed, window
from tests.support.streams import free_port

pytestmark = pytest.mark.slow
MAX_NEW_TOKENS = 24


@pytest.fixture(scope="module")
def server(ray_instance, tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    token = new_token()
    port = free_port(NOT_LOOPBACK_ALIAS)
    http_options = {"host": NOT_LOOPBACK_ALIAS, "port": port, "ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    with deployed(http_options, token_sha256=token_digest(token), max_batch_size=4, batch_wait_s=0.2):
        yield RemoteTarget.parse(f"https://{NOT_LOOPBACK_ALIAS}:{port}", token, str(cert))


@pytest.fixture(scope="module")
def local_model():
    from core.model import load_model

    model = load_model(str(CHECKPOINT), device="cpu", dtype="float32")
    yield model
    model.close()


def https(target: RemoteTarget, ca: bool = True) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=target.ca_file if ca else None)
    return http.client.HTTPSConnection(target.host, target.port, context=ctx, timeout=30)


def test_remote_and_local_analysis_give_the_same_tokens_and_text(server, local_model):
    frames, audio = window(1)
    remote = RemoteModel(server)
    streamed: list[str] = []
    got = remote.analyze(frames, audio, INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS, on_token=streamed.append,
                         label_set="dfew", scores=True, should_stop=lambda: False)
    want = local_model.analyze(frames, audio, INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS, label_set="dfew",
                               scores=True)
    assert got.token_ids == want.token_ids and len(got.token_ids) > 0
    assert got.text == want.text and "".join(streamed).strip() == want.text
    assert (got.label, got.parse_status, got.modal) == (want.label, want.parse_status, want.modal)
    # the replica runs torch with its own thread count: sums may round differently in the last bits
    assert got.scores.keys() == want.scores.keys()
    assert np.allclose([got.scores[k] for k in want.scores], list(want.scores.values()), rtol=1e-4, atol=1e-7)
    t = got.timings
    assert t["server_total"] >= t["total"] > 0 and t["round_trip"] >= t["server_total"]
    assert t["network"] == pytest.approx(t["round_trip"] - t["server_total"])
    info = remote.fetch_info()
    from core.session.manifest import weights_fingerprint

    assert info["weights_hash"] == weights_fingerprint(CHECKPOINT)  # what a local session's manifest records
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["versions"]["ray"]
    assert "model_dir" not in info  # the server's file system stays its own
    remote.close()


def test_tokens_stream_before_the_final_record(server):
    frames, audio = window(2)
    body = encode_request(WindowRequest(frames, audio, INSTRUCTION, max_new_tokens=128, stream=True))
    conn = https(server)
    conn.request("POST", ANALYZE_PATH, body, {"Authorization": f"Bearer {server.token}",
                                              "Content-Type": WINDOW_CONTENT_TYPE})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("application/x-ndjson")
    arrivals: list[tuple[float, dict]] = []
    while True:
        line = resp.readline()
        if not line:
            break
        arrivals.append((time.perf_counter(), json.loads(line)))
    conn.close()
    kinds = [e["event"] for _, e in arrivals]
    assert kinds[-1] == "result" and kinds.count("result") == 1
    tokens = [(t, e) for t, e in arrivals if e["event"] == "token"]
    assert tokens and kinds.index("token") < kinds.index("result")
    first_token_at, result_at = tokens[0][0], arrivals[-1][0]
    decode_s = arrivals[-1][1]["result"]["timings"]["decode"]
    # streamed, not buffered: the first token was here while the server was still decoding the rest
    assert result_at - first_token_at >= 0.5 * decode_s > 0
    assert "".join(e["text"] for _, e in tokens).strip() == arrivals[-1][1]["result"]["text"]


def test_two_clients_at_once_get_their_own_correct_results(server, local_model):
    windows = [window(10), window(11)]
    got: dict[int, object] = {}

    def client(i: int) -> None:
        model = RemoteModel(server)  # its own connection, as two desktops would have
        frames, audio = windows[i]
        got[i] = model.analyze(frames, audio, INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS, on_token=lambda _: None)
        model.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(got) == {0, 1}
    for i, (frames, audio) in enumerate(windows):
        want = local_model.analyze(frames, audio, INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS)
        assert got[i].token_ids == want.token_ids and got[i].text == want.text
    assert got[0].token_ids != got[1].token_ids  # two different windows, two different answers


def test_a_request_without_or_with_a_wrong_token_is_refused(server):
    conn = https(server)
    conn.request("GET", HEALTH_PATH)  # says nothing about the model: open, for load balancers
    assert conn.getresponse().read() == b'{"status":"ok"}'
    for headers in ({}, {"Authorization": "Bearer " + "x" * 43}, {"Authorization": f"Basic {server.token}"}):
        conn.request("GET", INFO_PATH, headers=headers)
        resp = conn.getresponse()
        assert resp.status == 401 and "token" in resp.read().decode()
        body = encode_request(WindowRequest(*window(3), INSTRUCTION, max_new_tokens=4))
        conn.request("POST", ANALYZE_PATH, body, {**headers, "Content-Type": WINDOW_CONTENT_TYPE})
        resp = conn.getresponse()
        assert resp.status == 401
        resp.read()
    conn.request("GET", INFO_PATH, headers={"Authorization": f"Bearer {server.token}"})
    assert conn.getresponse().status == 200
    conn.close()

    wrong = RemoteModel(RemoteTarget.parse(server.url, "y" * 43, server.ca_file))
    with pytest.raises(BackendError, match="refused the token") as refused:
        wrong.fetch_info()
    assert not refused.value.retryable
    untrusted = RemoteModel(RemoteTarget.parse(server.url, server.token))  # the system's CAs only
    with pytest.raises(BackendError, match="not trusted.*--server-ca"):
        untrusted.fetch_info()
    plain = http.client.HTTPConnection(server.host, server.port, timeout=10)  # no TLS: no answer at all
    with pytest.raises((http.client.HTTPException, OSError)):
        plain.request("GET", INFO_PATH, headers={"Authorization": f"Bearer {server.token}"})
        plain.getresponse().read()
    plain.close()


def test_malformed_and_oversized_requests_are_refused_with_the_reason(server):
    conn = https(server)
    auth = {"Authorization": f"Bearer {server.token}", "Content-Type": WINDOW_CONTENT_TYPE}
    cases = [
        (b"GIF89a" + b"\0" * 64, 400, "magic"),
        (encode_request(WindowRequest(*window(4), INSTRUCTION, max_new_tokens=100_000)), 413, "max_new_tokens"),
        (encode_request(WindowRequest(*window(4), INSTRUCTION))[:-10], 400, "declares"),
        (encode_request(WindowRequest(*window(4), INSTRUCTION, label_set="nope")), 400, "label"),
    ]
    for body, status, words in cases:
        conn.request("POST", ANALYZE_PATH, body, auth)
        resp = conn.getresponse()
        assert resp.status == status and words in resp.read().decode()
    conn.request("POST", ANALYZE_PATH, b"", {**auth, "Content-Length": str(1 << 40)})
    resp = conn.getresponse()
    assert resp.status == 413  # refused on the declared length, before reading a byte of it
    conn.close()


def test_a_cancelled_window_stops_the_server_generating(server):
    model = RemoteModel(server)
    frames, audio = window(5)
    seen: list[str] = []
    with pytest.raises(AnalysisCancelled):
        model.analyze(frames, audio, INSTRUCTION, max_new_tokens=2048, on_token=seen.append,
                      should_stop=lambda: len(seen) >= 2)
    short = model.analyze(frames, audio, INSTRUCTION, max_new_tokens=16, on_token=lambda _: None)
    per_token_s = short.timings["decode"] / max(1, len(short.token_ids))
    # had the first window run on, the second would have waited for up to 2048 tokens of it
    assert short.timings["server_queue"] < 0.25 * 2000 * per_token_s
    model.close()


def test_non_streaming_windows_share_a_batch_and_give_the_tokens_of_one_by_one(server, local_model):
    clips = [window(20 + i) for i in range(3)]
    remote = RemoteModel(server)
    got = remote.analyze_batch(clips, INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS)
    for (frames, audio), result in zip(clips, got, strict=True):
        want = local_model.analyze(frames, audio, INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS)
        assert result.token_ids == want.token_ids
    assert max(r.timings.get("batch_size", 1) for r in got) >= 2  # they did share one model call
    remote.close()


def test_the_analyze_command_on_the_server_gives_the_local_answer_for_a_clip(server, local_model, tmp_path, capsys):
    import main
    from core.clip_decode import read_clip
    from core.model.preprocess import DEFAULT_INSTRUCTION
    from core.serve.security import write_token_file
    from tests.conftest import PARITY_DIR

    video = PARITY_DIR / "clips" / "clip_a.mp4"
    token_file = tmp_path / "token"
    write_token_file(token_file, server.token)
    code = main.main(["analyze", str(video), "--model", server.url, "--token-file", str(token_file),
                      "--server-ca", server.ca_file, "--max-new-tokens", str(MAX_NEW_TOKENS), "--json"])
    assert code == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    clip = read_clip(video, frames="sampled")
    want = local_model.analyze(clip.frames, clip.audio, DEFAULT_INSTRUCTION, max_new_tokens=MAX_NEW_TOKENS)
    assert got["token_ids"] == list(want.token_ids) and got["text"] == want.text
    assert got["model_dir"] == server.url and got["device"] == "cpu"
