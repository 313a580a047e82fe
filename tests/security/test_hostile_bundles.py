"""Property tests: hostile session bundles against every bundle entry point.

Hypothesis builds bundles with random field types, NaN/inf/huge numbers, control characters, formula
prefixes, WebVTT syntax, ``../`` and absolute paths, symlinks to files and folders outside, FIFOs,
``/dev/zero``, empty, truncated and oversized media, and symlinks planted at the names exports write to.
Each bundle goes through the reader, every export format (to a chosen file, to the default file inside the
bundle, and through the command line), replay's loading and frame thread, and re-analysis with a fake
model. Each must succeed or raise the app's own error with a message; nothing outside the bundle and the
output folder may be created, changed or opened (``tests.security.hostile``).

The example budget is fixed and the search derandomized (profile ``bundles``), so CI runs the same examples
in well under a minute.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import main
from core.results import AnalysisResult
from core.session import SessionFormatError, SessionReader
from core.session import export as ex
from core.session.playback import FramePump, load_replay
from core.session.reanalysis import ReanalysisError, reanalyze
from tests.security.hostile import MEDIA_KINDS, SPECIAL_KINDS, FileAudit, Sandbox, json_line, plant

settings.register_profile(
    "bundles",
    max_examples=80,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BUNDLE_SETTINGS = settings.get_profile("bundles")
FRAME_WAIT_S = 5.0  # the frame thread answers a request within this (a hang would exceed it)

# ---------------------------------------------------------------- values
NASTY_TEXT = st.sampled_from(
    [
        '=HYPERLINK("http://127.0.0.1","x")',
        "+1+1",
        "-2-3",
        "@SUM(A1:A2)",
        "\tindent",
        "\rreturn",
        "one\n\ntwo",
        "a --> b",
        "00:00:01.000 --> 00:00:02.000",
        "<img src='file:///etc/passwd'>",
        "\x1b[31mred\x1b[0m",
        "nul\x00byte",
        "\x9bcsi",
        "lone \ud800 surrogate",
        "../../decoy.txt",
        "",
        "   ",
    ]
)
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=30))
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1e20, -1e20, 1e7, 601.0, True]),
)
ANY = st.one_of(
    st.none(),
    st.booleans(),
    NUMBER,
    TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(TEXT, NUMBER, max_size=2),
)
FRAME_NAME = st.sampled_from(
    [
        *["windows/w000000_0.jpg", "windows/w000000_1.jpg", "windows/w000001_0.png"] * 6,
        "/etc/passwd",
        "{DECOY}",
        "../decoy.txt",
        "windows/../../decoy.txt",
        "windows//x.jpg",
        "windows\\x.jpg",
        "video/seg_000000.ts",
        "outside/secret.txt",
    ]
)
FILE_KIND = st.sampled_from(("jpeg",) * 6 + MEDIA_KINDS + SPECIAL_KINDS)  # readable frames half the time
DELETE = object()
WINDOW_KEYS = [
    *("window_id", "t0", "t1", "wall_t0", "audio_status", "finished_at", "faces", "token_ids", "text", "think"),
    *("answer", "label", "parse_status", "label_set", "modal", "scores", "timings", "wall_t1", "frames"),
    *("n_frames", "t", "seq"),
]
RAW_LINES = st.sampled_from(
    [
        b"\xff\xfe not utf-8 \xc3\x28\n",
        b'{"type":"window","t":NaN,"window_id":1,"t0":0,"t1":1}\n',
        b'{"type":"window","t":1e400,"window_id":1,"t0":0,"t1":1}\n',
        b"[" * 3000 + b"\n",
        b'{"type":"marker","t":1,"kind":"event","text":"\\ud800"}\n',
        '{"type":"marker","t":1,"kind":"event"}\n'.encode("utf-16"),
        b'"just a string"\n',
        b'{"type": 7, "t": 1}\n',
        b'{"type":"window","t":1,"window_id":' + b"9" * 5000 + b"}\n",
        b"\n",
    ]
)


@st.composite
def window_line(draw: Any, wid: int) -> dict[str, Any]:
    t0 = draw(st.floats(0.0, 6.0))
    t1 = t0 + draw(st.sampled_from([0.0, 0.5, 2.0]))
    frames = [{"file": draw(FRAME_NAME), "t": t0 + k * 0.1, "index": k} for k in range(draw(st.integers(0, 3)))]
    line = {
        "seq": wid,
        "type": "window",
        "t": t1 + 0.2,
        "wall": 1.7e9,
        "window_id": wid,
        "t0": t0,
        "t1": t1,
        "wall_t0": 1.7e9 + t0,
        "audio_status": "ok",
        "finished_at": t1 + 0.2,
        "faces": [1] * len(frames),
        "token_ids": [1, 2],
        "text": draw(TEXT),
        "think": draw(TEXT),
        "answer": draw(TEXT),
        "label": draw(st.one_of(st.sampled_from(["happy", "sad", None]), TEXT)),
        "parse_status": draw(st.sampled_from(["ok", "out_of_set"])),
        "label_set": draw(st.sampled_from(["dfew", "free"])),
        "modal": draw(st.sampled_from(["video_audio", "video"])),
        "scores": {draw(TEXT): draw(st.floats(0, 1)), "happy": 0.5},
        "timings": {"generate_s": 0.1},
        "wall_t1": 1.7e9 + t1,
        "frames": frames,
        "n_frames": 30,
    }
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):  # corrupt a field or two
        key = draw(st.sampled_from(WINDOW_KEYS))
        value = draw(st.one_of(st.just(DELETE), ANY))
        if value is DELETE:
            line.pop(key, None)
        else:
            line[key] = value
    return line


@st.composite
def log_lines(draw: Any) -> list[bytes | dict[str, Any]]:
    lines: list[bytes | dict[str, Any]] = [{"seq": 0, "type": "session_start", "t": 0.0, "wall": 1.7e9}]
    for wid in range(draw(st.integers(1, 4))):
        lines.append(draw(window_line(wid)))
    for _ in range(draw(st.integers(0, 2))):
        lines.append(
            {
                "type": "marker",
                "t": draw(st.one_of(st.floats(0, 8), NUMBER)),
                "kind": draw(st.one_of(st.sampled_from(["event", "exclude", "custom"]), ANY)),
                "text": draw(TEXT),
            }
        )
    lines += draw(st.lists(RAW_LINES, max_size=2))
    if draw(st.booleans()):
        lines.append({"type": "session_end", "t": 9.0, "stats": {"state": "stopped"}})
    return lines


@st.composite
def bundles(draw: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "clock_origin_wall": 1.7e9,
        "window_s": 2.0,
        "hop_s": 1.0,
        "instruction": draw(TEXT),
        "label_set": "dfew",
        "session_id": draw(st.sampled_from(["0123abcd"] * 4 + ["a\n\nb --> c", "=cmd", "\x1b[2J", "<b>x</b>"])),
        "usage_notice_accepted": True,
        "source_session": draw(
            st.sampled_from([None, "../outside/session", "/etc", "{OUTSIDE}", "outside", "..", "bundle"])
        ),
        "source_session_id": draw(st.sampled_from([None, "decoy-session", "0123abcd"])),
        "format_version": 1,
    }
    if draw(st.integers(0, 7)) == 0:  # now and then a manifest field that does not fit
        manifest[
            draw(
                st.sampled_from(
                    [
                        "window_s",
                        "hop_s",
                        "label_set",
                        "format_version",
                        "clock_origin_wall",
                        "created_wall",
                        "session_id",
                        "generation",
                    ]
                )
            )
        ] = draw(ANY)
    files = {
        "manifest.json": draw(st.sampled_from(["good"] * 16 + ["symlink_decoy", "fifo", "folder", "garbage"])),
        "events.jsonl": draw(st.sampled_from(["good"] * 16 + ["symlink_decoy", "fifo", "folder", "symlink_dev_zero"])),
        "video/seg_000000.ts": draw(
            st.sampled_from(
                ["ts"] * 6
                + ["missing", "ts_truncated", "symlink_decoy", "fifo", "symlink_dev_zero", "garbage", "empty", "folder"]
            )
        ),
        "video/seg_000001.ts": draw(st.sampled_from(["missing", "ts", "symlink_secret"])),
        "audio/seg_000000.pcm": draw(st.sampled_from(["pcm", "missing", "fifo", "symlink_dev_zero", "empty"])),
        "audio/seg_000000.json": draw(st.sampled_from(["good", "good", "missing", "bad", "symlink_decoy", "fifo"])),
        "windows/w000000_0.jpg": draw(FILE_KIND),
        "windows/w000000_1.jpg": draw(FILE_KIND),
        "windows/w000001_0.png": draw(FILE_KIND),
        # symlinks planted where writers used to write at predictable names, and at the outputs themselves
        ".bundle.csv.part": "symlink_decoy",
        "recording.mp4.tmp.mp4": "symlink_decoy",
        "bundle.vtt": draw(st.sampled_from(["missing", "symlink_decoy"])),
        "recording.mp4": draw(st.sampled_from(["missing", "missing", "symlink_decoy", "fifo"])),
    }
    if draw(st.integers(0, 5)) == 0:
        files["windows"] = "symlink_outside_dir"  # the whole folder of kept frames points outside
    sidecar = {
        "t0": draw(st.one_of(st.just(0.0), NUMBER)),
        "sample_rate": draw(st.one_of(st.just(16000), ANY)),
        "channels": 1,
        "format": "s16le",
    }
    return {"manifest": manifest, "lines": draw(log_lines()), "files": files, "sidecar": sidecar}


def build(sb: Sandbox, spec: dict[str, Any]) -> None:
    subst = {"{DECOY}": str(sb.decoy), "{OUTSIDE}": str(sb.outside / "session")}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return subst.get(value, value)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    for rel, kind in spec["files"].items():
        if kind == "good":
            continue
        if kind == "bad":
            kind = "garbage"
        if rel == "windows" and kind.startswith("symlink"):
            shutil.rmtree(sb.bundle / "windows", ignore_errors=True)
        plant(sb, rel, kind)
    if spec["files"]["manifest.json"] == "good":
        (sb.bundle / "manifest.json").write_bytes(json_line(fill(spec["manifest"])))
    if spec["files"]["events.jsonl"] == "good":
        (sb.bundle / "events.jsonl").write_bytes(
            b"".join(line if isinstance(line, bytes) else json_line(fill(line)) for line in spec["lines"])
        )
    if spec["files"]["audio/seg_000000.json"] == "good":
        (sb.bundle / "audio" / "seg_000000.json").write_bytes(json_line(spec["sidecar"]))
    # a session outside the bundle that looks like an original: it must never be played
    (sb.outside / "session" / "manifest.json").write_text(
        json.dumps({"clock_origin_wall": 1.7e9, "window_s": 2.0, "hop_s": 1.0, "session_id": "decoy-session"})
    )


class FakeModel:
    """Checks what re-analysis hands it (uint8 RGB frames, float32 mono audio) and answers at once."""

    model_dir = None
    num_frames = 8

    def __init__(self) -> None:
        self.problems: list[str] = []

    def analyze(self, frames: Any, audio: Any, instruction: str, **kw: Any) -> AnalysisResult:
        if not (
            isinstance(frames, np.ndarray)
            and frames.dtype == np.uint8
            and frames.ndim == 4
            and frames.shape[-1] == 3
            and len(frames)
        ):
            self.problems.append(f"frames {getattr(frames, 'shape', frames)!r}")
        if audio is not None and not (audio.dtype == np.float32 and audio.ndim == 1 and np.isfinite(audio).all()):
            self.problems.append("audio")
        return AnalysisResult(
            (1,),
            "<think>x</think><answer>happy</answer>",
            "x",
            "happy",
            "happy",
            "ok",
            kw.get("label_set", "dfew"),
            "video",
            None,
            {},
        )


APP_ERRORS = (SessionFormatError, ReanalysisError)


def _app_error(e: BaseException) -> None:
    assert isinstance(e, APP_ERRORS), f"{type(e).__name__}: {e}"
    assert str(e).strip(), "an error without a message"


def _drive(sb: Sandbox) -> dict[str, Any]:
    """Every bundle entry point; returns what was learnt (for the assertions)."""
    seen: dict[str, Any] = {}
    try:
        reader = SessionReader(sb.bundle)
    except Exception as e:  # noqa: BLE001 — the property: only the app's own errors
        _app_error(e)
        reader = None
    if reader is not None:
        seen["windows"] = len(reader.logged_windows)
        for w in reader.logged_windows:
            reader.window_frames(w)
            reader.audio(w.t0, w.t1)
        reader.span  # noqa: B018 — reads every media file's timing
        reader.frame_at(1.0)
        for fmt in ex.FORMATS:
            out = ex.export_session(reader, fmt, sb.out / f"x.{fmt}")
            assert out.is_file() and not out.is_symlink()
        vtt = ex.export_session(reader, "vtt")  # the default name, where a symlink to the decoy may wait
        assert vtt.is_file() and not vtt.is_symlink()
        seen["vtt"] = (sb.out / "x.vtt").read_text(encoding="utf-8")
        seen["csv"] = (sb.out / "x.csv").read_text(encoding="utf-8")
        seen["problems"] = reader.problems()
    for fmt in ("json", "csv"):  # the command line: documented exit statuses only
        code = main.main(["export", str(sb.bundle), "--format", fmt, "--out", str(sb.out / f"cli.{fmt}")])
        assert code in (0, 2), code
    data = load_replay(sb.bundle, audio_output=lambda: False)
    assert (data.reader is None) == (data.error is not None) and (data.error is None or data.error.strip())
    if data.media is not None:
        pump = FramePump(data.media.path)
        try:
            pump.request(1.0)
            if reader is not None and reader.logged_windows:
                pump.request_evidence(reader.logged_windows[0])
            deadline = time.monotonic() + FRAME_WAIT_S
            while pump.latest() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert pump.latest() is not None, "the frame thread did not answer"
            assert pump.alive, "the frame thread died"
        finally:
            pump.stop()
    model = FakeModel()
    try:
        rep = reanalyze(sb.bundle, model, out_dir=sb.out / "re")
        seen["reanalysed"] = rep.windows
        assert SessionReader(rep.out_dir).complete
    except Exception as e:  # noqa: BLE001
        _app_error(e)
        assert not (sb.out / "re").exists(), "a failed re-analysis left its folder"
    assert model.problems == []
    assert not [p for p in sb.out.iterdir() if p.name.startswith(".")], "a temporary file or folder was left"
    return seen


@pytest.mark.slow
@pytest.mark.timeout(180)
@BUNDLE_SETTINGS
@given(spec=bundles())
def test_every_entry_point_survives_a_hostile_bundle(spec: dict[str, Any]) -> None:
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        sb = Sandbox(root)
        build(sb, spec)
        before = sb.snapshot()
        with FileAudit(sb, allow_siblings=True) as audit:
            seen = _drive(sb)
        assert audit.violations() == []
        assert sb.snapshot() == before, "something outside the bundle and the output changed"
        event(f"reader: {'read' if 'windows' in seen else 'refused'}")
        event(f"windows that checked out: {'some' if seen.get('windows') else 'none'}")
        event(f"windows re-analysed: {'some' if seen.get('reanalysed') else 'none'}")
        if "vtt" in seen:  # escaping holds whatever the text: one cue per window, no control characters
            assert seen["vtt"].count(" --> ") == seen["windows"]
            assert not any(c in seen["vtt"] + seen["csv"] for c in "\x00\x1b\x9b\r")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- the reader alone, many more lines
@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    lines=st.lists(st.one_of(RAW_LINES, st.binary(max_size=60), window_line(3).map(json_line)), max_size=6),
    tail=st.binary(max_size=20),
)
def test_the_log_check_never_raises_and_keeps_only_checked_values(lines: list[bytes], tail: bytes) -> None:
    from core.session.records import MAX_SESSION_S, MAX_WINDOW_SPAN_S, check_log

    data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines) + tail
    log = check_log(data)
    assert len(log.events) + len(log.skipped) <= data.count(b"\n")  # each complete line: kept or counted
    assert log.torn_tail == (not data.endswith(b"\n") and bool(data))
    for w in log.windows:
        assert all(math.isfinite(v) and abs(v) <= MAX_SESSION_S for v in (w.t0, w.t1, w.result.finished_at))
        assert 0 <= w.t1 - w.t0 <= MAX_WINDOW_SPAN_S and isinstance(w.window_id, int)
        assert all(f.file.startswith("windows/") and ".." not in f.file for f in w.frames)
        assert all(isinstance(v, float) and math.isfinite(v) for v in (w.analysis.scores or {}).values())
    for s in log.skipped:
        assert s.line >= 1 and s.reason.strip()
