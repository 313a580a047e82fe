"""The live widgets fed with constructed data: what they show is what they were given."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from desktop import formatting
from desktop.audio_view import AudioView, dbfs, min_max_envelope
from desktop.banner import ERROR, WARNING, Banner
from desktop.evidence_view import EvidenceView
from desktop.reasoning_panel import ReasoningPanel
from desktop.status_bar import StatusBar, StatusSnapshot
from desktop.timeline import EmotionTimeline, Marker, assign_lanes
from desktop.video_view import VideoView
from tests.desktop.conftest import make_result, make_window


def test_clock_format_reads_minutes_seconds_tenths():
    assert formatting.clock(41.24) == "00:41.2"
    assert formatting.clock(3599.96) == "1:00:00.0"
    assert formatting.span(37.2, 41.2) == "00:37.2–00:41.2"
    assert formatting.seconds(0.35) == "350 ms"
    assert formatting.seconds(1.83) == "1.8 s"
    assert formatting.nbytes(3.1 * 2**30) == "3.1 GiB"


def test_level_and_envelope_keep_peaks():
    x = np.zeros(16000, np.float32)
    x[1234] = 0.5
    idx, y = min_max_envelope(x, 100)
    assert y.max() == np.float32(0.5) and idx.shape == y.shape == (200,)
    rms, peak = dbfs(np.full(800, 0.5, np.float32))
    assert abs(peak - (-6.02)) < 0.01 and abs(rms - (-6.02)) < 0.01
    assert dbfs(np.zeros(10, np.float32)) == (-60.0, -60.0)


def test_lanes_stack_overlapping_windows():
    # window 4 s, hop 2 s: neighbours overlap by half, so they alternate between two rows
    assert assign_lanes([(0, 4), (2, 6), (4, 8), (6, 10)]) == [0, 1, 0, 1]
    assert assign_lanes([(0, 2), (2, 4)]) == [0, 0]


def test_video_view_shows_frames_and_overlay(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:, :80] = 255
    view.set_frame(frame)
    assert view.frames_shown == 1
    assert view._image.image.shape == (120, 160, 3)  # row-major: no transpose
    view.set_emotion("angry", 1.83)
    assert view.overlay_text == "ANGRY  ·  1.8 s ago"
    view.set_emotion(None, None)
    assert view.overlay_text == ""


def test_audio_view_draws_last_seconds_and_says_when_no_microphone(qtbot):
    view = AudioView()
    qtbot.addWidget(view)
    samples = (0.5 * np.sin(np.arange(16000 * 6) / 10)).astype(np.float32)
    view.set_audio(samples, 16000, t_end_s=12.0)
    x, y = view._curve.getData()
    assert x[0] >= 7.0 - 1e-6 and x[-1] <= 12.0 and y.max() > 0.49
    assert view.meter.peak_db > -7
    view.set_unavailable("No microphone — video-only analysis")
    assert "video-only" in view.unavailable_text


def test_timeline_draws_spans_scores_markers_and_selects_on_click(qtbot):
    tl = EmotionTimeline()
    qtbot.addWidget(tl)
    tl.resize(900, 260)
    tl.show()
    qtbot.waitExposed(tl)
    tl.add_result(make_result(0, 0.0, 4.0, "happy"))
    tl.add_result(make_result(1, 2.0, 6.0, "angry"))
    tl.add_result(make_result(2, 4.0, 8.0, "sad", scores=False))
    tl.add_marker(Marker("event", 5.0))
    tl.set_now(9.0)
    tl.refresh()
    assert tl.span_count() == 3
    x, y = tl._score_curves["angry"].getData()
    assert list(x) == [2.0, 4.0] and abs(y[1] - 0.6) < 1e-9  # only windows with scores, at window centres
    assert [m.t for m in tl.markers] == [5.0]
    assert tl.following
    # clicking inside the "angry" span selects window 1
    _r, a, b = next(g for g in tl._span_geometry if g[0].window_id == 1)
    pos = tl.graphics.mapFromScene(tl.scene_pos_of(3.0, (a + b) / 2))
    with qtbot.waitSignal(tl.window_selected, timeout=1000) as sig:
        qtbot.mouseClick(tl.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert sig.args == [1]


def test_timeline_manual_zoom_pauses_follow(qtbot):
    tl = EmotionTimeline()
    qtbot.addWidget(tl)
    tl.set_now(100.0)
    (_xa, xb), _ = tl.lane_plot.getViewBox().viewRange()
    assert xb >= 100.0
    tl.lane_plot.getViewBox().sigRangeChangedManually.emit([True, False])
    assert not tl.following
    tl.set_now(200.0)
    (_xa2, xb2), _ = tl.lane_plot.getViewBox().viewRange()
    assert xb2 < 200.0  # stays where the user put it
    tl.set_follow(True)
    (_, xb3), _ = tl.lane_plot.getViewBox().viewRange()
    assert xb3 >= 200.0


def test_reasoning_panel_streams_tokens_and_keeps_history_newest_first(qtbot):
    panel = ReasoningPanel()
    qtbot.addWidget(panel)
    selected = []
    panel.window_selected.connect(selected.append)
    panel.window_started(3, 6.0, 10.0)
    for tok in ["<think>", "The ", "man ", "frowns"]:
        panel.token_streamed(3, tok)
    panel.token_streamed(2, "stale")  # a superseded window's token is ignored
    panel.refresh()
    assert panel.live_text == "<think>The man frowns"
    panel.result_ready(make_result(3, 6.0, 10.0, "angry"))
    panel.result_ready(make_result(4, 8.0, 12.0, "sad"))
    assert panel.history_ids() == [4, 3]
    assert "angry" in panel.answer.text() or "sad" in panel.answer.text()
    item = panel.history.item(1)
    panel.history.itemClicked.emit(item)
    assert selected == [3]


def test_evidence_shows_the_eight_frames_audio_and_reasoning(qtbot):
    ev = EvidenceView()
    qtbot.addWidget(ev)
    window = make_window(5, 10.0, 14.0, fps=10.0)
    ev.show_window(make_result(5, 10.0, 14.0, "fear", think="Wide eyes, a trembling voice."), window)
    assert ev.window_id == 5
    assert all(not t.pixmap().isNull() for t in ev.thumbs)
    assert "Wide eyes" in ev.details.toPlainText()
    assert "fear" in ev.header.text()
    assert "00:10.0" in ev._thumb_times[0].text() or "00:10." in ev._thumb_times[0].text()
    x, _ = ev._audio_curve.getData()
    assert abs(x[0] - 10.0) < 1e-6
    ev.show_window(make_result(6, 14.0, 18.0, "sad"), None)  # frames no longer kept: said, not faked
    assert "no longer" in ev._frames_title.text()


def test_status_bar_and_banner(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_snapshot(
        StatusSnapshot(
            capture_fps=29.97,
            audio_rate_hz=48000,
            audio_overflows=2,
            last_latency_s=3.2,
            result_age_s=1.8,
            superseded=4,
            model="R1-Omni · cpu float32",
            model_memory_bytes=3 * 2**30,
        )
    )
    text = bar.text()
    for part in (
        "30.0 fps",
        "48 kHz · 2 overflows",
        "latency 3.2 s",
        "result age 1.8 s",
        "superseded 4",
        "3.0 GiB",
    ):
        assert part in text
    banner = Banner()
    qtbot.addWidget(banner)
    banner.show_message(WARNING, "Camera unplugged")
    banner.show_message(WARNING, "Camera unplugged")
    assert not banner.isHidden() and "×2" in banner._text.text()
    banner.show_message(ERROR, "Out of memory")
    assert banner.level == ERROR
    banner.dismiss()
    assert banner.isHidden()


def test_timeline_appends_in_chunks_and_rebuilds_when_order_breaks(qtbot, monkeypatch):
    from desktop import timeline as tl_mod

    monkeypatch.setattr(tl_mod, "SPAN_CHUNK", 4)
    tl = EmotionTimeline()
    qtbot.addWidget(tl)
    for i in range(10):  # window 4 s, hop 2 s: two rows
        tl.add_result(make_result(i, 2.0 * i, 2.0 * i + 4, "happy" if i % 2 else "sad"))
        tl.refresh()
    assert tl.span_count() == 10 and len(tl._span_items) == 3
    first_chunk = tl._span_items[0]
    tl.add_result(make_result(10, 20.0, 24.0, "angry"))
    tl.refresh()
    assert tl._span_items[0] is first_chunk  # old chunks untouched by an appended result
    assert [round(g[1], 3) for g in tl._span_geometry[:2]] != [round(g[1], 3) for g in tl._span_geometry[1:3]]
    tl.add_result(make_result(11, 1.0, 5.0, "fear"))  # out of order: everything is redrawn, nothing lost
    tl.refresh()
    assert tl.span_count() == 12
    assert [g[0].t0 for g in tl._span_geometry] == sorted(g[0].t0 for g in tl._span_geometry)
    tl.clear()
    tl.refresh()
    assert tl.span_count() == 0


def test_who_is_in_view_is_shown_beside_the_answer(qtbot):
    from dataclasses import replace

    several = replace(make_result(7, 20.0, 24.0, "happy"), faces=(1, 1, 2, 2, 2, 2, 1, 1))
    nobody = replace(make_result(8, 22.0, 26.0, "sad"), faces=(0,) * 8)
    one = replace(make_result(9, 24.0, 28.0, "sad"), faces=(1,) * 8)
    unchecked = make_result(10, 26.0, 30.0, "sad")

    assert "may describe any of them" in ReasoningPanel.answer_html(several)
    assert "no frontal face" in ReasoningPanel.answer_html(nobody)
    assert "⚠" not in ReasoningPanel.answer_html(one) + ReasoningPanel.answer_html(unchecked)

    view = VideoView()
    qtbot.addWidget(view)
    view.set_emotion("happy", 1.2, several.face_check.short_warning())
    assert view.overlay_text.endswith("⚠ 2 faces in view")
    view.set_emotion("sad", 1.2, one.face_check.short_warning())
    assert "⚠" not in view.overlay_text

    ev = EvidenceView()
    qtbot.addWidget(ev)
    ev.show_window(several, make_window(7, 20.0, 24.0, fps=10.0))
    assert "2 faces in view" in ev.header.text()
    assert [t.text().split("\n")[1] for t in ev._thumb_times] == ["1 face"] * 2 + ["2 faces"] * 4 + ["1 face"] * 2
    assert "1 1 2 2 2 2 1 1" in ev.details.toPlainText() and "frontal-face detector" in ev.details.toPlainText()
    ev.show_window(unchecked, make_window(10, 26.0, 30.0, fps=10.0))
    assert "\n" not in ev._thumb_times[0].text() and "Faces in view" not in ev.details.toPlainText()


def test_durations_read_in_ms_below_a_second_either_side_of_zero():
    assert formatting.seconds(-0.04) == "-40 ms"  # a window cut a frame before its nominal end
    assert formatting.seconds(-0.0002) == "0 ms"
    assert formatting.seconds(-1.5) == "-1.5 s"


def test_a_long_model_name_is_cut_to_fit_and_kept_whole_in_the_tooltip(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.resize(1360, 24)  # the window's first width
    bar.show()
    name = "R1-Omni-0.5B @ gpu-server.lab.example.org:8443 · cuda float16 <b>x</b>"
    bar.show_snapshot(StatusSnapshot(model=name))
    field = bar.fields["model"]
    qtbot.waitUntil(lambda: field.width() > 0)
    shown = field.text()
    assert name in bar.text() and name in field.toolTip()  # whole where it is read out
    assert shown != name and shown.endswith("…") and shown.startswith("model R1-Omni-0.5B @ gpu-")  # cut to fit
    assert field.fontMetrics().horizontalAdvance(shown) <= field.width()
    assert field.textFormat() == Qt.TextFormat.PlainText  # "<b>" from a folder name is shown, not rendered
