"""The wire format and the security rules, without a server: hostile requests, limits, bind policy, tokens."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import main
from core.serve.security import (
    RateLimiter,
    SecurityConfigError,
    bearer_token,
    check_bind,
    is_loopback,
    new_token,
    read_token_file,
    token_digest,
    token_matches,
    write_token_file,
)
from core.serve.wire import JPEG, Limits, WindowRequest, WireError, decode_request, encode_request, parse_event
from tests.serve.helpers import CHECKPOINT, INSTRUCTION, window


def test_raw_frames_and_audio_cross_bit_exact_and_jpeg_close():
    frames, audio = window(1, size=(48, 64))
    req = WindowRequest(frames, audio, INSTRUCTION, label_set="mafw", max_new_tokens=7, scores=True, modal="video")
    back = decode_request(encode_request(req))
    assert np.array_equal(back.frames, frames) and back.frames.dtype == np.uint8
    assert np.array_equal(back.audio, audio) and back.audio.dtype == np.float32
    assert (back.instruction, back.label_set, back.max_new_tokens, back.scores, back.modal, back.stream) == (
        INSTRUCTION, "mafw", 7, True, "video", True)
    smooth = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, None, :, None], 48, axis=1)
    smooth = np.repeat(np.repeat(smooth, 3, axis=3), 2, axis=0)
    jpeg = decode_request(encode_request(WindowRequest(smooth, None, INSTRUCTION), JPEG))
    assert jpeg.frames.shape == smooth.shape and jpeg.audio is None
    assert np.abs(jpeg.frames.astype(int) - smooth).mean() < 2


def _with_header(body: bytes, change) -> bytes:
    (n,) = struct.unpack_from("<I", body, 5)
    header = json.loads(body[9:9 + n])
    change(header)
    head = json.dumps(header).encode()
    return body[:5] + struct.pack("<I", len(head)) + head + body[9 + n:]


@pytest.mark.parametrize("change, status, words", [
    (lambda h: h["frames"].update(count=10_000), 413, "frames"),
    (lambda h: h["frames"].update(height=100_000), 413, "px"),
    (lambda h: h["frames"].update(count=True), 400, "must be int"),
    (lambda h: h["audio"].update(samples=10**9), 413, "audio samples"),
    (lambda h: h.update(instruction="x" * 5000), 413, "characters"),
    (lambda h: h.update(instruction="  "), 400, "empty"),
    (lambda h: h.update(max_new_tokens=0), 413, "max_new_tokens"),
    (lambda h: h.update(label_set="../etc"), 400, "label"),
    (lambda h: h.update(modal="smell"), 400, "modal"),
    (lambda h: h["frames"].update(encoding="pickle"), 400, "encoding"),
    (lambda h: h["frames"].update(width=32), 400, "more than its header"),
])
def test_hostile_headers_are_refused_before_anything_is_allocated(change, status, words):
    body = encode_request(WindowRequest(*window(2, size=(48, 64)), INSTRUCTION))
    with pytest.raises(WireError, match=words) as refused:
        decode_request(_with_header(body, change))
    assert refused.value.status == status


def test_broken_bodies_are_refused_with_the_reason():
    body = encode_request(WindowRequest(*window(3, size=(16, 16)), INSTRUCTION))
    for bad, words in [(b"", "too short"), (b"PK\x03\x04" + body[4:], "magic"), (body[:4] + b"\x09" + body[5:],
                       "version"), (body[:9] + b"{not json" + body[9:], "JSON"), (body[:-4], "declares"),
                       (body + b"\0", "more than")]:
        with pytest.raises(WireError, match=words):
            decode_request(bad)
    with pytest.raises(WireError, match="over the limit") as too_big:
        decode_request(body, Limits(max_body_bytes=len(body) - 1))
    assert too_big.value.status == 413
    jpeg = encode_request(WindowRequest(*window(4, n_frames=2, size=(16, 16)), INSTRUCTION), JPEG)
    with pytest.raises(WireError, match="JPEG frame 0 is 16x16, the header says 16x8"):
        decode_request(_with_header(jpeg, lambda h: h["frames"].update(height=8)))
    for line in (b"[1]\n", b'{"event": "exec"}\n', b"\xff\n"):
        with pytest.raises(WireError):
            parse_event(line)


def test_only_loopback_addresses_count_as_loopback():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.0.2.7", "::", "example.org", "127.0.0.1.nip.io"))


def test_beyond_loopback_the_server_needs_a_token_and_tls_or_the_explicit_flag(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    key.chmod(0o600)
    token = new_token()
    policy, warnings = check_bind("127.0.0.1", None, None, None)  # loopback: nothing needed
    assert policy.token_sha256 is None and policy.scheme == "http" and not warnings
    with pytest.raises(SecurityConfigError, match="needs a bearer token"):
        check_bind("0.0.0.0", None, str(cert), str(key))
    with pytest.raises(SecurityConfigError, match="without TLS"):
        check_bind("0.0.0.0", token, None, None)
    with pytest.raises(SecurityConfigError, match="needs a bearer token"):
        check_bind("0.0.0.0", None, None, None, insecure_http=True)
    with pytest.raises(SecurityConfigError, match="both"):
        check_bind("0.0.0.0", token, str(cert), None)
    policy, warnings = check_bind("0.0.0.0", token, str(cert), str(key))
    assert policy.tls and policy.token_sha256 == token_digest(token) and not warnings
    policy, warnings = check_bind("0.0.0.0", token, None, None, insecure_http=True)
    assert policy.scheme == "http" and "unencrypted" in warnings[0]


def test_tokens_come_from_owner_only_files_and_compare_in_constant_time(tmp_path):
    path = tmp_path / "token"
    token = new_token()
    write_token_file(path, token)
    assert path.stat().st_mode & 0o777 == 0o600 and read_token_file(path) == token
    with pytest.raises(FileExistsError):
        write_token_file(path, new_token())  # never overwritten
    path.chmod(0o644)
    with pytest.raises(SecurityConfigError, match="chmod 600"):
        read_token_file(path)
    short = tmp_path / "short"
    short.write_text("abc\n")
    short.chmod(0o600)
    with pytest.raises(SecurityConfigError, match="characters"):
        read_token_file(short)
    digest = token_digest(token)
    assert token_matches(token, digest) and not token_matches(token[:-1], digest) and not token_matches(None, digest)
    assert bearer_token(f"Bearer {token}") == token and bearer_token(f"Basic {token}") is None
    assert bearer_token(None) is None and bearer_token("Bearer ") is None


def test_the_rate_limit_allows_a_burst_then_the_rate():
    now = [0.0]
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.allow("a")[0] for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")[0]  # each client address has its own bucket
    assert limiter.allow("a")[1] == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.allow("a")[0] and not limiter.allow("a")[0]


@pytest.mark.parametrize("args, words", [
    (["--host", "0.0.0.0"], "needs a bearer token"),
    (["--host", "0.0.0.0", "--insecure-http"], "needs a bearer token"),
    (["--host", "192.0.2.7", "--ssl-certfile", "/nonexistent", "--ssl-keyfile", "/nonexistent"], "not a readable"),
])
def test_the_serve_command_refuses_to_start_beyond_loopback_without_token_and_tls(args, words, capsys, monkeypatch):
    monkeypatch.delenv("R1OMNI_SERVE_TOKEN", raising=False)
    assert main.main(["serve", "--model", str(CHECKPOINT), *args]) == 2
    assert words in capsys.readouterr().err


def test_the_serve_command_refuses_plain_http_with_a_token_but_without_the_flag(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("R1OMNI_SERVE_TOKEN", new_token())
    assert main.main(["serve", "--model", str(CHECKPOINT), "--host", "0.0.0.0"]) == 2
    assert "without TLS" in capsys.readouterr().err
    assert main.main(["serve", "--new-token", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o600
