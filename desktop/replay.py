"""Replay of a recorded session: recorded video and audio with the emotion timeline and reasoning in sync.

``ReplayWindow(session_dir, parent=None)`` is a top-level window. Playback is pulled by a display timer:
the position follows a monotonic clock while playing; frames are decoded and evidence is loaded on a
``FramePump`` thread (the UI thread never reads the disk), audio plays through ``AudioFeeder`` when an
output device exists (otherwise video only, with a note). Scrub with the slider, click a span on the
timeline, or jump between markers (``[`` / ``]``); Space plays and pauses.

What the voice added (``core.attribution``): attributions logged with the session are shown with their window;
any window whose frames the bundle kept can be re-run video-only on demand by the app's model worker (when the
model that recorded the session is loaded). Such an attribution is shown, not written into the bundle:
``reanalyze --attribution`` writes a new session with every window attributed.
"""

from __future__ import annotations

import html
import threading
import time
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

from core.attribution import Attribution, AttributionInputs
from core.engine import AnalysisParams, InferenceWorker
from core.session import SessionReader
from core.session.export import export_session
from core.session.playback import UNDECODABLE, AudioFeeder, Evidence, FramePump, ReplayData, load_replay
from core.session.reanalysis import max_new_tokens_for
from core.session.records import LoggedWindow
from core.window import AUDIO_MISSING, AUDIO_OK, AUDIO_PARTIAL, Window
from desktop import formatting, i18n, theme
from desktop.controls import NO_MENU_ARROW
from desktop.engine_bridge import AttributionBridge
from desktop.evidence_store import FRAMES_IN_WINDOW_KEY
from desktop.evidence_view import EvidenceView, plain_label
from desktop.timeline import EmotionTimeline, Marker, marker_text
from desktop.video_view import VideoView
from desktop.voice_panel import DONE, FAILED, QUEUED, RUNNING, UNAVAILABLE, AttributionStatus

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

__all__ = ["EXPORT_CHOICES", "ReplayData", "ReplayWindow", "load_replay"]


class ReplayWindow(QWidget):
    """A recorded session, replayable. UI thread only. ``position`` is session seconds.

    ``data`` comes from :func:`load_replay` (the main window runs it on a thread); without it the window reads
    the session itself (tests, scripts)."""

    export_finished = Signal(str, str)  # path written ("" on failure), error ("" on success)

    def __init__(self, session_dir: str | Path, parent: QWidget | None = None, data: ReplayData | None = None,
                 worker: InferenceWorker | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self._worker = worker  # the app's model owner: attributions on demand
        self._attribution = AttributionBridge(self)  # a child: it goes with the window
        self._attribution_listener = self._attribution.listener()
        self._attributions: dict[int, AttributionStatus] = {}
        self._kept_frames: dict[int, np.ndarray] = {}  # the frames the evidence view shows, by window
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
        self._source_windows = data.source_windows
        self._comparison = data.comparison
        self._left_out = data.left_out
        self._audio_output = data.audio_output
        self._has_video, self._has_audio = data.has_video, data.has_audio  # found off the UI thread
        self._audio = AudioFeeder(self.media.path)
        self.start_s, self.end_s = data.span
        self._windows = r.logged_windows
        self._markers = r.logged_markers
        self._attributions = {wid: AttributionStatus(DONE, a) for wid, a in r.attributions.items()}
        self._position = self.start_s
        self._playing = False
        self._play_origin = (0.0, 0.0)  # (position, monotonic) when play started
        self._current_window: int | None = None
        self._shown_evidence: int | None = None
        self._last_request: float | None = None
        self._build()
        has_frames = any(w.frames for w in [*self._windows, *self._source_windows.values()])
        self._pump = FramePump(self.media.path) if self._has_video or has_frames else None
        if not self._has_video:
            self.video_view.clear(self.tr("This session was recorded without video."))
        self.seek(self.start_s)
        self._timer = QTimer(self)
        self._timer.setInterval(DISPLAY_PERIOD_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # ---- building ------------------------------------------------------------------------------------
    def _build_error(self, message: str) -> None:
        title = self.tr("Cannot open this session.")
        label = QLabel(f"<b>{html.escape(title)}</b><br>{html.escape(message)}")  # escaped: rich text is safe
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
        self.evidence.attribution_requested.connect(self.request_attribution)
        # bound methods, not lambdas holding the window: the window stays collectable once closed
        b = self._attribution
        b.attribution_started.connect(self._on_attribution_started)
        b.attribution_yielded.connect(self._on_attribution_yielded)
        b.attribution_ready.connect(self._on_attribution_ready)
        b.attribution_failed.connect(self._on_attribution_failed)
        b.attribution_cancelled.connect(self._on_attribution_cancelled)
        self.timeline = EmotionTimeline()
        self.timeline.set_label_set(r.labels)
        for w in self._windows:
            self.timeline.add_result(w.result)
        for m in self._markers:
            self.timeline.add_marker(Marker(m.kind, m.t, m.text))
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
            kind = marker_text(Marker(m.kind, m.t))
            self.marker_box.addItem(" ".join(f"{formatting.clock(m.t)}  {kind}  {m.text}".split()))  # one line
        self.marker_box.activated.connect(lambda i: i > 0 and self.seek(self._markers[i - 1].t))
        for widget in (self.prev_marker_button, self.next_marker_button, self.marker_box):
            widget.setEnabled(bool(self._markers))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(self.start_s * SLIDER_STEPS_PER_S), round(self.end_s * SLIDER_STEPS_PER_S))
        self.slider.valueChanged.connect(lambda v: self.seek(v / SLIDER_STEPS_PER_S, from_slider=True))
        self.time_label = plain_label(QLabel())
        self.time_label.setStyleSheet("font-family: monospace;")
        notes = []
        if not self._has_audio:
            notes.append(self.tr("no audio was recorded"))
        elif not self._audio_output:
            notes.append(self.tr("no audio output device: playing video only"))
        if not r.complete:
            notes.append(self.tr("the recording did not end cleanly: shown up to its last complete log line"))
        if self._comparison:
            notes.append(self._comparison)
        if self._left_out:
            notes.append(self._left_out)
        self.note = plain_label(QLabel(" · ".join(notes)))
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
        header = QLabel(
            f"<b>{html.escape(self.session_dir.name)}</b> &nbsp; "
            + html.escape(self.tr("{windows} windows · {markers} markers · {span} · labels {labels} · model {model}")
                          .format(windows=len(self._windows), markers=len(self._markers),
                                  span=formatting.span(self.start_s, self.end_s), labels=r.manifest.label_set,
                                  model=Path(r.manifest.model_dir).name if r.manifest.model_dir else "—"))
        )
        header.setTextFormat(Qt.TextFormat.RichText)  # every piece of bundle text in it is escaped
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
            if self._has_audio:
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
        later = [m.t for m in self._markers if m.t > self._position + 1e-3]
        if later:
            self.seek(later[0])

    def previous_marker(self) -> None:
        earlier = [m.t for m in self._markers if m.t < self._position - 0.5]  # 0.5 s: not the one just hit
        if earlier:
            self.seek(earlier[-1])

    def shown_frame_time(self) -> float | None:
        """Session time of the frame on screen (tests, status)."""
        return self._shown_frame_t

    # ---- display timer -----------------------------------------------------------------------------------
    _shown_frame_t: float | None = None
    _placeholder = False  # the video view shows "cannot be decoded"

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
            if got is not None and got[2] is None and not self._placeholder:  # a frame that cannot be decoded
                self._placeholder = True
                self._shown_frame_t = None
                self.video_view.clear(UNDECODABLE.capitalize() + ".")
            elif got is not None and got[2] is not None and got[1] != self._shown_frame_t:
                self._placeholder = False
                self._shown_frame_t = got[1]
                self.video_view.set_frame(got[2])
            ev = self._pump.latest_evidence()
            if ev is not None and ev.window is not None and ev.window_id != self._shown_evidence:
                self._shown_evidence = ev.window_id
                self._show_evidence(ev)
        self.timeline.refresh()

    def _show_position(self) -> None:
        pos = self._position
        self.time_label.setText(f"{formatting.clock(pos)} / {formatting.clock(self.end_s)}")
        self.timeline.set_now(pos)
        if (
            self._pump is not None
            and self.reader is not None
            and self._has_video
            and pos != self._last_request
        ):
            self._pump.request(pos)
            self._last_request = pos
        hits = [w for w in self._windows if w.t0 <= pos < w.t1]
        wid = hits[-1].window_id if hits else None
        if wid != self._current_window:
            self._current_window = wid
            self.timeline.select(wid)
            if hits:
                if self._pump is not None:
                    self._pump.request_evidence(self._with_source_frames(hits[-1]))
                else:  # nothing kept on disk for this window: show the log entry alone
                    self.evidence.show_window(hits[-1].result, None, attribution=self.attribution_status(wid))
                    self._shown_evidence = wid

    def _with_source_frames(self, w: LoggedWindow) -> LoggedWindow:
        """For a re-analysis: the window as logged, with the frames the original kept for it."""
        original = self._source_windows.get(w.window_id)
        if original is None or w.frames:
            return w
        return w.with_frames(original.frames, original.n_frames)

    def _show_evidence(self, ev: Evidence) -> None:
        w = ev.window
        assert w is not None
        window = None
        if len(ev.frames):
            status = (
                AUDIO_MISSING if ev.audio is None else AUDIO_OK if ev.audio_covered >= 0.99 else AUDIO_PARTIAL
            )
            window = Window(
                id=w.window_id,
                t0=w.t0,
                t1=w.t1,
                frames=ev.frames,
                frame_times=ev.frame_times,
                audio=None if ev.audio is None else np.asarray(ev.audio, np.float32),
                audio_status=status,
                source={FRAMES_IN_WINDOW_KEY: int(w.n_frames or len(ev.frames))},
            )
        if window is not None:
            self._kept_frames = {w.window_id: window.frames}  # only the shown window's: bounded memory
        self.evidence.show_window(w.result, window, frames_note=ev.problem,
                                  attribution=self.attribution_status(w.window_id))

    # ---- what did the voice add? -----------------------------------------------------------------------
    def attribution_status(self, window_id: int) -> AttributionStatus:
        return self._attributions.get(window_id, AttributionStatus())

    def request_attribution(self, window_id: int) -> None:
        """Re-run a recorded window video-only on its kept frames (the evidence view's button)."""
        why_not = self._why_no_attribution(window_id)
        if why_not is not None:
            self._set_attribution(window_id, AttributionStatus(UNAVAILABLE, message=why_not))
            return
        assert self.reader is not None and self._worker is not None
        w = next(x for x in self._windows if x.window_id == window_id)
        m = self.reader.manifest
        a = w.analysis
        params = AnalysisParams(instruction=m.instruction, label_set=a.label_set,
                                max_new_tokens=max_new_tokens_for(m),
                                scores=a.scores is not None)
        inputs = AttributionInputs(window_id, w.t0, w.t1, w.result.wall_t0, self._kept_frames[window_id], params, a)
        self._set_attribution(window_id, AttributionStatus(QUEUED))
        self._worker.attribute(inputs, self._attribution_listener)

    def _why_no_attribution(self, window_id: int) -> str | None:
        """Why a recorded window cannot be re-run now, or None."""
        worker, r = self._worker, self.reader
        if worker is None or r is None or not worker.has_model:
            return self.tr("load the model in the main window to re-run this window video-only")
        if window_id not in self._kept_frames:
            return self.tr("the recording kept no frames of this window: it cannot be shown to the model again")
        if not any(x.window_id == window_id and x.analysis.modal != "video" for x in self._windows):
            return self.tr("this window was analysed without audio: there is no voice to take away")
        if not r.manifest.instruction.strip():
            return self.tr("the recording does not say which question the model was asked")
        loaded = (worker.model_info or {}).get("weights_hash")
        if r.manifest.weights_hash and loaded and loaded != r.manifest.weights_hash:
            return self.tr("the loaded model is not the one that recorded this session (another weights "
                           "fingerprint): load that model, or re-analyse the session ({command})").format(
                               command="reanalyze --attribution")
        return None

    def _on_attribution_started(self, window_id: int) -> None:
        self._set_attribution(window_id, AttributionStatus(RUNNING))

    def _on_attribution_yielded(self, window_id: int) -> None:
        waited = self.attribution_status(window_id).waited + 1
        self._set_attribution(window_id, AttributionStatus(QUEUED, waited=waited))

    def _on_attribution_ready(self, window_id: int, attribution: Attribution) -> None:
        self._set_attribution(window_id, AttributionStatus(DONE, attribution))

    def _on_attribution_failed(self, window_id: int, message: str) -> None:
        self._set_attribution(window_id, AttributionStatus(FAILED, message=message))

    def _on_attribution_cancelled(self, window_id: int) -> None:
        self._set_attribution(window_id, AttributionStatus())

    def _set_attribution(self, window_id: int, status: AttributionStatus) -> None:
        if status.state != DONE and self.attribution_status(window_id).state == DONE:
            return  # a logged or finished attribution stays shown
        self._attributions[window_id] = status
        if self.evidence.window_id == window_id:
            self.evidence.show_attribution(status)

    def _on_window_selected(self, window_id: int) -> None:
        hits = [w for w in self._windows if w.window_id == window_id]
        if hits:
            self.seek(hits[-1].t0)

    def closeEvent(self, event) -> None:  # Qt override
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the timer and the decoder/audio threads, drop this window's attribution requests (idempotent)."""
        if getattr(self, "_timer", None) is not None:
            self._timer.stop()
        if self._worker is not None:
            self._worker.cancel_attributions(self._attribution_listener)
        self._audio.stop()
        if self._pump is not None:
            self._pump.stop()
            self._pump = None

