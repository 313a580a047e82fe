"""The model server's wire format: one window in, a stream of JSON events out. JSON and raw bytes only.

Request (``POST /v1/analyze``, ``Content-Type: application/x-r1omni-window``)::

    b"R1OW" | format version (u8) | header length (u32 LE) | header (UTF-8 JSON) | frame bytes | audio bytes

The header says what follows: ``frames`` ``{"encoding": "raw" | "jpeg", "count", "height", "width",
"sizes": [bytes per JPEG]}``, ``audio`` ``{"samples": S}`` or null (float32 little-endian, 16 kHz mono), and the
question: ``instruction``, ``label_set``, ``max_new_tokens``, ``scores``, ``modal`` (null: from the audio),
``stream``. Raw frames are uint8 RGB ``[count, height, width, 3]`` in C order; they give the very tokens a local
model gives. JPEG frames are 8x smaller and change the pixels slightly (so, rarely, the answer).

Response: with ``stream`` true, newline-delimited JSON (``application/x-ndjson``), one event per line:
``{"event": "token", "text": ...}`` as text is generated, ``{"event": "heartbeat"}`` while nothing else is
sent (so a client can cancel and notice a dead server), then exactly one ``{"event": "result", "result":
{...}, "server": {...}}`` or ``{"event": "error", "message": ..., "retryable": ...}``. Without ``stream``, the
result event alone as one JSON object.

Every request is decoded against ``Limits`` before anything is allocated from its numbers: a hostile header
cannot make the server allocate more than the limits allow, and nothing is ever unpickled.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import labels as _labels
from core.window import MODEL_SAMPLE_RATE_HZ

API_VERSION = 1
ANALYZE_PATH = f"/v{API_VERSION}/analyze"
INFO_PATH = f"/v{API_VERSION}/info"
HEALTH_PATH = f"/v{API_VERSION}/health"
WINDOW_CONTENT_TYPE = "application/x-r1omni-window"
STREAM_CONTENT_TYPE = "application/x-ndjson"

MAGIC = b"R1OW"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<4sBI")  # magic, format version, header length

RAW = "raw"
JPEG = "jpeg"
FRAME_ENCODINGS = (RAW, JPEG)
DEFAULT_JPEG_QUALITY = 90
MODALS = ("video_audio", "video")

EVENT_TOKEN = "token"
EVENT_HEARTBEAT = "heartbeat"
EVENT_RESULT = "result"
EVENT_ERROR = "error"
EVENTS = (EVENT_TOKEN, EVENT_HEARTBEAT, EVENT_RESULT, EVENT_ERROR)

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one request may carry. The defaults fit a window of 8 camera frames up to 4K, raw, with a minute
    of audio, with room to spare; ``main.py serve`` can lower them."""

    max_body_bytes: int = 256 * MIB  # 8 raw 4K frames are 190 MiB
    max_header_bytes: int = 64 * 1024
    max_frames: int = 64
    max_frame_side_px: int = 4096
    max_frame_bytes: int = 256 * MIB  # decoded frames, whatever their encoding on the wire
    max_audio_s: float = 60.0  # the model hears 30 s at most
    max_instruction_chars: int = 4000
    max_new_tokens: int = 2048

    @property
    def max_audio_samples(self) -> int:
        return int(self.max_audio_s * MODEL_SAMPLE_RATE_HZ)


class WireError(ValueError):
    """A request or response that breaks the format or the limits. ``status``: the HTTP status to answer
    (400 malformed, 413 too large, 422 a valid frame of a request the model cannot take)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, eq=False)
class WindowRequest:
    """One window to analyse. frames: uint8 [N, H, W, 3] RGB; audio: float32 [S] 16 kHz mono or None."""

    frames: np.ndarray
    audio: np.ndarray | None
    instruction: str
    label_set: str = "dfew"
    max_new_tokens: int = 256
    scores: bool = False
    modal: str | None = None  # None: video_audio with audio, video without
    stream: bool = True

    def group_key(self) -> tuple[Any, ...]:
        """Requests with equal keys can share one batched model call (same prompt length, same settings)."""
        modal = self.modal or ("video_audio" if self.audio is not None else "video")
        return (self.instruction, self.label_set, self.max_new_tokens, modal)


# ---- requests -------------------------------------------------------------------------------------------------
def encode_request(req: WindowRequest, frame_encoding: str = RAW, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """The request body for ``req`` (see the module docstring)."""
    frames = np.ascontiguousarray(req.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < 1:
        raise ValueError(f"frames must be uint8 [N>=1, H, W, 3] RGB, got {frames.dtype} {frames.shape}")
    if frame_encoding not in FRAME_ENCODINGS:
        raise ValueError(f"frame encoding {frame_encoding!r}: use {' or '.join(FRAME_ENCODINGS)}")
    n, h, w, _ = frames.shape
    frame_info: dict[str, Any] = {"encoding": frame_encoding, "count": n, "height": h, "width": w}
    if frame_encoding == JPEG:
        blobs = [_jpeg(f, jpeg_quality) for f in frames]
        frame_info["sizes"] = [len(b) for b in blobs]
        frame_bytes = b"".join(blobs)
    else:
        frame_bytes = frames.tobytes()
    audio_bytes = b""
    audio_info = None
    if req.audio is not None:
        audio = np.ascontiguousarray(req.audio, dtype="<f4")
        if audio.ndim != 1:
            raise ValueError(f"audio must be float32 [S] mono, got shape {audio.shape}")
        audio_info = {"samples": int(audio.shape[0])}
        audio_bytes = audio.tobytes()
    header = {
        "frames": frame_info, "audio": audio_info, "instruction": req.instruction, "label_set": req.label_set,
        "max_new_tokens": int(req.max_new_tokens), "scores": bool(req.scores), "modal": req.modal,
        "stream": bool(req.stream),
    }
    head = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(head)) + head + frame_bytes + audio_bytes


def decode_request(body: bytes | bytearray | memoryview, limits: Limits | None = None) -> WindowRequest:
    """Parse and check a request body; raises ``WireError`` naming the problem. Runs on any thread."""
    limits = limits or Limits()
    body = memoryview(body)
    if len(body) > limits.max_body_bytes:
        raise WireError(f"request of {len(body)} bytes is over the limit of {limits.max_body_bytes}", 413)
    if len(body) < _PREAMBLE.size:
        raise WireError("request too short: expected the R1OW window format")
    magic, version, head_len = _PREAMBLE.unpack_from(body)
    if magic != MAGIC:
        raise WireError("not a window request (bad magic): send the R1OW window format")
    if version != FORMAT_VERSION:
        raise WireError(f"window format version {version} is not supported (this server speaks {FORMAT_VERSION})")
    if head_len > limits.max_header_bytes or _PREAMBLE.size + head_len > len(body):
        raise WireError("the request header is too long or cut off")
    try:
        header = json.loads(bytes(body[_PREAMBLE.size:_PREAMBLE.size + head_len]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WireError("the request header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise WireError("the request header must be a JSON object")
    payload = body[_PREAMBLE.size + head_len:]
    frames, used = _decode_frames(_field(header, "frames", dict), payload, limits)
    audio, used_audio = _decode_audio(header.get("audio"), payload[used:], limits)
    if used + used_audio != len(payload):
        raise WireError(f"the request carries {len(payload) - used - used_audio} bytes more than its header declares")
    return WindowRequest(frames=frames, audio=audio, **_question(header, limits))


def _question(header: dict[str, Any], limits: Limits) -> dict[str, Any]:
    instruction = _field(header, "instruction", str)
    if not instruction.strip():
        raise WireError("the instruction is empty")
    if len(instruction) > limits.max_instruction_chars:
        raise WireError(f"the instruction has {len(instruction)} characters; the limit is "
                        f"{limits.max_instruction_chars}", 413)
    label_set = _field(header, "label_set", str)
    try:
        _labels.label_set(label_set)
    except ValueError as exc:
        raise WireError(str(exc)) from None
    max_new = _field(header, "max_new_tokens", int)
    if not 1 <= max_new <= limits.max_new_tokens:
        raise WireError(f"max_new_tokens {max_new}: this server allows 1 to {limits.max_new_tokens}", 413)
    modal = header.get("modal")
    if modal is not None and modal not in MODALS:
        raise WireError(f"modal {modal!r}: use {' or '.join(MODALS)} or null")
    if modal == "video_audio" and header.get("audio") is None:
        raise WireError("modal 'video_audio' needs audio", 422)
    return {"instruction": instruction, "label_set": label_set, "max_new_tokens": max_new,
            "scores": _field(header, "scores", bool), "modal": modal, "stream": _field(header, "stream", bool)}


def _decode_frames(info: dict[str, Any], payload: memoryview, limits: Limits) -> tuple[np.ndarray, int]:
    encoding = _field(info, "encoding", str)
    n, h, w = (_field(info, k, int) for k in ("count", "height", "width"))
    if not 1 <= n <= limits.max_frames:
        raise WireError(f"{n} frames: this server takes 1 to {limits.max_frames}", 413)
    if not (1 <= h <= limits.max_frame_side_px and 1 <= w <= limits.max_frame_side_px):
        raise WireError(f"frames of {w}x{h} px: this server takes sides up to {limits.max_frame_side_px} px", 413)
    size = n * h * w * 3
    if size > limits.max_frame_bytes:
        raise WireError(f"{n} frames of {w}x{h} are {size} bytes decoded; the limit is {limits.max_frame_bytes}", 413)
    if encoding == RAW:
        if len(payload) < size:
            raise WireError(f"the request declares {size} bytes of raw frames but carries {len(payload)}")
        frames = np.frombuffer(payload[:size], dtype=np.uint8).reshape(n, h, w, 3).copy()
        return frames, size
    if encoding != JPEG:
        raise WireError(f"frame encoding {encoding!r}: use {' or '.join(FRAME_ENCODINGS)}")
    sizes = _field(info, "sizes", list)
    if len(sizes) != n or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise WireError("'sizes' must list one positive byte count per JPEG frame")
    total = sum(sizes)
    if total > len(payload):
        raise WireError(f"the request declares {total} bytes of JPEG frames but carries {len(payload)}")
    frames = np.empty((n, h, w, 3), np.uint8)
    offset = 0
    for i, s in enumerate(sizes):
        frames[i] = _unjpeg(payload[offset:offset + s], h, w, i)
        offset += s
    return frames, total


def _decode_audio(info: Any, payload: memoryview, limits: Limits) -> tuple[np.ndarray | None, int]:
    if info is None:
        return None, 0
    if not isinstance(info, dict):
        raise WireError("'audio' must be an object or null")
    samples = _field(info, "samples", int)
    if not 1 <= samples <= limits.max_audio_samples:
        raise WireError(f"{samples} audio samples: this server takes 1 to {limits.max_audio_samples} "
                        f"({limits.max_audio_s:g} s at {MODEL_SAMPLE_RATE_HZ} Hz)", 413)
    size = samples * 4
    if len(payload) < size:
        raise WireError(f"the request declares {size} bytes of audio but carries {len(payload)}")
    audio = np.frombuffer(payload[:size], dtype="<f4").astype(np.float32, copy=True)
    return audio, size


def _field(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name)
    # bool is an int in Python: a count given as true/false is as wrong as one given as text
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"'{name}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def _jpeg(frame: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame, "RGB").save(buf, format="JPEG", quality=int(quality), subsampling=0)
    return buf.getvalue()


def _unjpeg(data: memoryview, h: int, w: int, index: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data)), formats=["JPEG"]) as img:
            if img.size != (w, h):  # checked on the header, before any pixel is decoded
                raise WireError(f"JPEG frame {index} is {img.size[0]}x{img.size[1]}, the header says {w}x{h}")
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise WireError(f"JPEG frame {index} cannot be decoded: {exc}") from None


# ---- responses ------------------------------------------------------------------------------------------------
def event_line(event: str, **fields: Any) -> bytes:
    """One NDJSON event line."""
    return json.dumps({"event": event, **fields}, ensure_ascii=False).encode("utf-8") + b"\n"


def parse_event(line: bytes, max_bytes: int = 16 * MIB) -> dict[str, Any]:
    """One event line from a server, checked to be an object with a known ``event``. Raises ``WireError``."""
    if len(line) > max_bytes:
        raise WireError("the server sent an event line over the size limit")
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WireError("the server sent a line that is not UTF-8 JSON") from None
    if not isinstance(obj, dict) or obj.get("event") not in EVENTS:
        raise WireError(f"the server sent an unknown event: {str(obj)[:80]}")
    return obj
