"""Replay of a recorded session: recorded video and audio with the emotion timeline and reasoning in sync.

``ReplayWindow(session_dir, parent=None)`` is a top-level window. Playback is pulled by a display timer:
the position follows a monotonic clock while playing; frames are decoded and evidence is loaded on a
``FramePump`` thread (the UI thread never reads the disk), audio plays through ``AudioFeeder`` when an
output device exists (otherwise video only, with a note). Scrub with the slider, click a span on the
timeline, or jump between markers (``[`` / ``]``); Space plays and pauses.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.session import SessionFormatError, SessionReader
from core.session.export import export_session
from core.session.layout import is_session
from core.session.playback import AudioFeeder, FramePump, output_device_available
from core.session.reader import window_result
from core.session.reanalysis import compare
from core.window import AUDIO_MISSING, AUDIO_OK, AUDIO_PARTIAL, Window
from desktop import formatting, i18n, theme
from desktop.controls import NO_MENU_ARROW
from desktop.evidence_store import FRAMES_IN_WINDOW_KEY
from desktop.evidence_view import EvidenceView
from desktop.timeline import EmotionTimeline, Marker, marker_text
from desktop.video_view import VideoView

DISPLAY_PERIOD_MS = 33  # ~30 Hz: position, frame and cursor
SLIDER_STEPS_PER_S = 10  # slider resolution: 0.1 s
SEEK_STEP_S = 5.0  # Left / Right keys
EXPORT_CHOICES = {  # core.session.export.FORMATS, as the menu names them (translated where shown)
    "csv": QT_TRANSLATE_NOOP("ReplayWindow", "CSV table"),
    "json": QT_TRANSLATE_NOOP("ReplayWindow", "JSON document"),
    "eaf": QT_TRANSLATE_NOOP("ReplayWindow", "ELAN annotation"),
    "vtt": QT_TRANSLATE_NOOP("ReplayWindow", "WebVTT subtitles"),
    "html": QT_TRANSLATE_NOOP("ReplayWindow", "HTML report"),
}


@dataclass
class ReplayData:
    """Everything a replay window reads from the disk and the audio system before it can be built."""

    session_dir: Path
    reader: SessionReader | None = None
    media: SessionReader | None = None  # whose video/audio play: the session's, or a re-analysis's original
    source_windows: dict[int, dict] = field(default_factory=dict)  # the original's windows (kept frames)
    comparison: str | None = None  # a re-analysis against its original
    audio_output: bool = False
    error: str | None = None


def load_replay(session_dir: str | Path) -> ReplayData:
    """Read a session for replay (any thread: it reads the log, and the original's for a re-analysis, and asks
    PortAudio for an output device). A session that cannot be read gives ``error``, never an exception."""
    data = ReplayData(Path(session_dir))
    try:
        r = data.reader = data.media = SessionReader(data.session_dir)
    except (SessionFormatError, OSError) as e:
        data.error = str(e)
        return data
    # a re-analysis keeps no media: play the original's, and show its kept frames as evidence
    source = Path(r.manifest.source_session or "")
    if not (r.has_video or r.has_audio) and r.manifest.source_session and is_session(source):
        try:
            data.media = SessionReader(source)
            data.source_windows = {w["window_id"]: w for w in data.media.windows}
        except (SessionFormatError, OSError):
            data.media = r
    if r.manifest.source_session:  # the original, when it was read above, is not read again
        data.comparison = _comparison_note(r, data.media if data.media is not r else None)
    data.audio_output = data.media.has_audio and output_device_available()
    return data


def _comparison_note(r: SessionReader, original: SessionReader | None) -> str:
    """How a re-analysis ``r`` differs from its original (read here unless given)."""
    source = Path(r.manifest.source_session or "")
    try:
        cmp = compare(original or source, r)
    except (SessionFormatError, OSError):
        return QCoreApplication.translate(
            "ReplayWindow", "re-analysis of {name} (the original is not available to compare)").format(name=source.name)
    return QCoreApplication.translate(
        "ReplayWindow", "re-analysis of {name}: {n} of {common} windows disagree with the original").format(
        name=source.name, n=len(cmp.disagreements), common=cmp.common)


class ReplayWindow(QWidget):
    """A recorded session, replayable. UI thread only. ``position`` is session seconds.

    ``data`` comes from :func:`load_replay` (the main window runs it on a thread); without it the window reads
    the session itself (tests, scripts)."""

    export_finished = Signal(str, str)  # path written ("" on failure), error ("" on success)

    def __init__(self, session_dir: str | Path, parent: QWidget | None = None, data: ReplayData | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.session_dir = Path(session_dir)
        self.setWindowTitle(self.tr("Replay — {name}").format(name=self.session_dir.name))
        self.resize(1200, 800)
        self.reader: SessionReader | None = None
        self.error: str | None = None
        self._pump: FramePump | None = None
        self._exporting: threading.Thread | None = None
        data = data if data is not None else load_replay(self.session_dir)
        self._audio = AudioFeeder(self.session_dir)
        if data.reader is None:
            self.error = data.error or self.tr("unreadable session")
            self._build_error(self.error)
            return
        self.reader = r = data.reader
        self.media: SessionReader = data.media or r
        self._source_windows: dict[int, dict] = data.source_windows
        self._comparison = data.comparison
        self._audio_output = data.audio_output
        self._audio = AudioFeeder(self.media.path)
        self.start_s, self.end_s = r.span
        self._windows = r.windows
        self._markers = r.markers
        self._position = self.start_s
        self._playing = False
        self._play_origin = (0.0, 0.0)  # (position, monotonic) when play started
        self._current_window: int | None = None
        self._shown_evidence: int | None = None
        self._last_request: float | None = None
        self._build()
        has_frames = any(w.get("frames") for w in [*self._windows, *self._source_windows.values()])
        self._pump = FramePump(self.media.path) if self.media.has_video or has_frames else None
        if not self.media.has_video:
            self.video_view.clear(self.tr("This session was recorded without video."))
        self.seek(self.start_s)
        self._timer = QTimer(self)
        self._timer.setInterval(DISPLAY_PERIOD_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # ---- building ------------------------------------------------------------------------------------
    def _build_error(self, message: str) -> None:
        title = self.tr("Cannot open this session.")
        label = QLabel(f"<b>{html.escape(title)}</b><br>{html.escape(message)}")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setObjectName("replayError")
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        self.error_label = label

    def _build(self) -> None:
        r = self.reader
        assert r is not None
        t = theme.current()
        self.video_view = VideoView()
        self.evidence = EvidenceView()
        self.timeline = EmotionTimeline()
        self.timeline.set_label_set(r.labels)
        for w in self._windows:
            self.timeline.add_result(window_result(w))
        for m in self._markers:
            self.timeline.add_marker(Marker(m["kind"], m["t"], m.get("text", "")))
        self.timeline.window_selected.connect(self._on_window_selected)
        self.timeline.refresh()

        self.play_button = QPushButton(self.tr("▶ Play"))
        self.play_button.clicked.connect(self.toggle_play)
        self.prev_marker_button = QPushButton(self.tr("◀ marker"))
        self.prev_marker_button.clicked.connect(self.previous_marker)
        self.next_marker_button = QPushButton(self.tr("marker ▶"))
        self.next_marker_button.clicked.connect(self.next_marker)
        self.marker_box = QComboBox()
        self.marker_box.addItem(self.tr("{n} markers").format(n=len(self._markers)) if self._markers
                                else self.tr("no markers"))
        for m in self._markers:
            kind = marker_text(Marker(m["kind"], m["t"]))
            self.marker_box.addItem(f"{formatting.clock(m['t'])}  {kind}  {m.get('text', '')}".rstrip())
        self.marker_box.activated.connect(lambda i: i > 0 and self.seek(self._markers[i - 1]["t"]))
        for widget in (self.prev_marker_button, self.next_marker_button, self.marker_box):
            widget.setEnabled(bool(self._markers))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(self.start_s * SLIDER_STEPS_PER_S), round(self.end_s * SLIDER_STEPS_PER_S))
        self.slider.valueChanged.connect(lambda v: self.seek(v / SLIDER_STEPS_PER_S, from_slider=True))
        self.time_label = QLabel()
        self.time_label.setStyleSheet("font-family: monospace;")
        notes = []
        if not self.media.has_audio:
            notes.append(self.tr("no audio was recorded"))
        elif not self._audio_output:
            notes.append(self.tr("no audio output device: playing video only"))
        if not r.complete:
            notes.append(self.tr("the recording did not end cleanly: shown up to its last complete log line"))
        if self._comparison:
            notes.append(self._comparison)
        self.note = QLabel(" · ".join(notes))
        self.note.setStyleSheet(f"color: {t.muted};")
        self.note.setWordWrap(True)

        self.export_button = QToolButton()
        self.export_button.setText(self.tr("Export") + " ▾")
        self.export_button.setStyleSheet(NO_MENU_ARROW)  # Fusion's arrow overlaps the text
        self.export_button.setToolTip(self.tr("Write this session as CSV, JSON, ELAN, WebVTT or an HTML report"))
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        export_menu = QMenu(self.export_button)
        for fmt, text in EXPORT_CHOICES.items():
            export_menu.addAction(self.tr(text)).triggered.connect(lambda _=False, f=fmt: self.export(f))
        self.export_button.setMenu(export_menu)
        self.export_finished.connect(self._on_exported)

        controls = QHBoxLayout()
        for widget in (self.play_button, self.prev_marker_button, self.next_marker_button, self.marker_box):
            controls.addWidget(widget)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        controls.addWidget(self.export_button)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.video_view)
        top.addWidget(self.evidence)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.timeline)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        model = Path(r.manifest.model_dir).name if r.manifest.model_dir else "—"
        facts = self.tr("{windows} windows · {markers} markers · {span} · labels {labels} · model {model}").format(
            windows=len(self._windows), markers=len(self._markers), span=formatting.span(self.start_s, self.end_s),
            labels=r.manifest.label_set, model=model)
        header = QLabel(f"<b>{html.escape(self.session_dir.name)}</b> &nbsp; {html.escape(facts)}")
        header.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(body, 1)
        layout.addLayout(controls)
        layout.addWidget(self.note)
        for key, slot in (
            (Qt.Key.Key_Space, self.toggle_play),
            (Qt.Key.Key_BracketRight, self.next_marker),
            (Qt.Key.Key_BracketLeft, self.previous_marker),
            (Qt.Key.Key_Right, lambda: self.seek(self._position + SEEK_STEP_S)),
            (Qt.Key.Key_Left, lambda: self.seek(self._position - SEEK_STEP_S)),
        ):
            QShortcut(QKeySequence(key), self, activated=slot)

    # ---- export ---------------------------------------------------------------------------------------
    def export(self, fmt: str, path: str | Path | None = None) -> bool:
        """Write the session as ``fmt`` (``core.session.export.FORMATS``) on a thread; without ``path`` the
        user picks one (the session folder is offered). ``export_finished`` tells how it went. False when
        nothing was started (cancelled, or an export is still running)."""
        if self.reader is None or (self._exporting is not None and self._exporting.is_alive()):
            return False
        if path is None:
            default = self.session_dir / f"{self.session_dir.resolve().name}.{fmt}"
            chosen, _ = QFileDialog.getSaveFileName(self, self.tr("Export session"), str(default),
                                                    f"{self.tr(EXPORT_CHOICES[fmt])} (*.{fmt})")
            if not chosen:
                return False
            path = chosen
        reader, target, language = self.reader, Path(path), i18n.current()  # the report names labels in it
        self.note.setText(self.tr("Exporting {what}…").format(what=self.tr(EXPORT_CHOICES[fmt])))

        def run() -> None:
            try:
                written, error = str(export_session(reader, fmt, target, language=language)), ""
            except (OSError, ValueError) as e:
                written, error = "", QCoreApplication.translate(
                    "ReplayWindow", "{error}. Choose another folder or free some disk space.").format(error=e)
            try:
                self.export_finished.emit(written, error)
            except RuntimeError:  # the window was closed meanwhile: the file is written all the same
                pass

        self._exporting = threading.Thread(target=run, name="session-export", daemon=True)
        self._exporting.start()
        return True

    def _on_exported(self, path: str, error: str) -> None:
        if error:
            self.note.setText(self.tr("Export failed: {error}").format(error=error))
        else:
            self.note.setText(self.tr("Exported to {path}").format(path=path))

    # ---- control -------------------------------------------------------------------------------------
    @property
    def position(self) -> float:
        return self._position

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def current_window_id(self) -> int | None:
        return self._current_window

    def seek(self, t: float, from_slider: bool = False) -> None:
        """Jump to session time ``t`` (clamped to the session); playback continues from there if playing."""
        self._position = min(max(float(t), self.start_s), self.end_s)
        if self._playing:
            self._play_origin = (self._position, time.monotonic())
            if self.media.has_audio:
                self._audio.start(self._position)
        if not from_slider:
            self.slider.blockSignals(True)
            self.slider.setValue(round(self._position * SLIDER_STEPS_PER_S))
            self.slider.blockSignals(False)
        self._show_position()

    def play(self) -> None:
        if self._playing or self.reader is None:
            return
        if self._position >= self.end_s - 1e-3:
            self._position = self.start_s
        self._playing = True
        self._play_origin = (self._position, time.monotonic())
        self.play_button.setText(self.tr("❚❚ Pause"))
        self.timeline.set_follow(True)
        if self._audio_output and not self._audio.start(self._position):
            self.note.setText(self._audio.error or self.tr("no audio output: playing video only"))

    def pause(self) -> None:
        if not self._playing:
            return
        self._playing = False
        self.play_button.setText(self.tr("▶ Play"))
        self._audio.stop()

    def toggle_play(self) -> None:
        self.pause() if self._playing else self.play()

    def next_marker(self) -> None:
        later = [m["t"] for m in self._markers if m["t"] > self._position + 1e-3]
        if later:
            self.seek(later[0])

    def previous_marker(self) -> None:
        earlier = [
            m["t"] for m in self._markers if m["t"] < self._position - 0.5
        ]  # 0.5 s: not the one just hit
        if earlier:
            self.seek(earlier[-1])

    def shown_frame_time(self) -> float | None:
        """Session time of the frame on screen (tests, status)."""
        return self._shown_frame_t

    # ---- display timer -----------------------------------------------------------------------------------
    _shown_frame_t: float | None = None

    def _tick(self) -> None:
        if self._playing:
            origin_pos, origin_wall = self._play_origin
            pos = origin_pos + (time.monotonic() - origin_wall)
            if pos >= self.end_s:
                pos = self.end_s
                self.pause()
            self._position = pos
            self.slider.blockSignals(True)
            self.slider.setValue(round(pos * SLIDER_STEPS_PER_S))
            self.slider.blockSignals(False)
            self._show_position()
        if self._pump is not None:
            got = self._pump.latest()
            if got is not None and got[1] != self._shown_frame_t:
                self._shown_frame_t = got[1]
                self.video_view.set_frame(got[2])
            ev = self._pump.latest_evidence()
            if ev is not None and ev.window["window_id"] != self._shown_evidence:
                self._shown_evidence = ev.window["window_id"]
                self._show_evidence(ev)
        self.timeline.refresh()

    def _show_position(self) -> None:
        pos = self._position
        self.time_label.setText(f"{formatting.clock(pos)} / {formatting.clock(self.end_s)}")
        self.timeline.set_now(pos)
        if (
            self._pump is not None
            and self.reader is not None
            and self.media.has_video
            and pos != self._last_request
        ):
            self._pump.request(pos)
            self._last_request = pos
        hits = [w for w in self._windows if w["t0"] <= pos < w["t1"]]
        wid = hits[-1]["window_id"] if hits else None
        if wid != self._current_window:
            self._current_window = wid
            self.timeline.select(wid)
            if hits:
                if self._pump is not None:
                    self._pump.request_evidence(self._with_source_frames(hits[-1]))
                else:  # nothing kept on disk for this window: show the log entry alone
                    self.evidence.show_window(window_result(hits[-1]), None)
                    self._shown_evidence = wid

    def _with_source_frames(self, w: dict) -> dict:
        """For a re-analysis: the window as logged, with the frames the original kept for it."""
        original = self._source_windows.get(w["window_id"])
        if original is None or w.get("frames"):
            return w
        return {**w, "frames": original.get("frames"), "n_frames": original.get("n_frames")}

    def _show_evidence(self, ev) -> None:
        w = ev.window
        window = None
        if len(ev.frames):
            status = (
                AUDIO_MISSING if ev.audio is None else AUDIO_OK if ev.audio_covered >= 0.99 else AUDIO_PARTIAL
            )
            window = Window(
                id=w["window_id"],
                t0=w["t0"],
                t1=w["t1"],
                frames=ev.frames,
                frame_times=ev.frame_times,
                audio=None if ev.audio is None else np.asarray(ev.audio, np.float32),
                audio_status=status,
                source={FRAMES_IN_WINDOW_KEY: int(w.get("n_frames") or len(ev.frames))},
            )
        self.evidence.show_window(window_result(w), window)

    def _on_window_selected(self, window_id: int) -> None:
        hits = [w for w in self._windows if w["window_id"] == window_id]
        if hits:
            self.seek(hits[-1]["t0"])

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the timer and the decoder/audio threads (idempotent)."""
        if getattr(self, "_timer", None) is not None:
            self._timer.stop()
        self._audio.stop()
        if self._pump is not None:
            self._pump.stop()
            self._pump = None
