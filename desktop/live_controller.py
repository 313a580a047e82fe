"""The desktop's monitoring runs: sources, ``core.pipeline.LiveSession``s, recording, markers, file runs.

The model is not here: one ``desktop.model_controller.ModelController`` owns the app's ``InferenceWorker`` for
the window's lifetime. A monitoring run is a ``LiveSession`` attached to that worker; starting, stopping or
swapping a run (another source, microphone or window length), recording and analysing every window of a file
attach and detach sessions, which never reloads the model and never waits for it (detaching cancels the window
in flight at its next token).

Blocking work — listing devices, stopping a session's capture and recording, starting a recording (folder,
manifest, weights fingerprint), a file run — goes through ``desktop.tasks.BackgroundTasks``; continuations come
back on the UI thread. While a session's capture is being stopped the next one waits for it (a camera must be
released before it is opened again), never for the model. Thread of every public method: the UI thread.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject, Signal

from core.backend import default_loader
from core.capture import base as cap
from core.capture.media_file import MediaFileSource
from core.clock import SteppedClock
from core.pipeline import LiveSession
from core.ring_buffer import LatestFrame
from core.settings import Settings
from core.sources import DEMO_CLIP, SourceSpecError, sources_for
from core.window import MODEL_SAMPLE_RATE_HZ
from desktop import banner as levels
from desktop.controls import (
    DEFAULT_MIC,
    NO_MIC,
    SOURCE_CAMERA,
    SOURCE_DEMO,
    SOURCE_FILE,
    SOURCE_SYNTHETIC,
    SourceChoice,
)
from desktop.engine_bridge import SessionRelay
from desktop.model_controller import ModelController
from desktop.status_bar import StatusSnapshot
from desktop.tasks import BackgroundTasks

log = logging.getLogger(__name__)

SYNTHETIC_LABEL = QT_TRANSLATE_NOOP("LiveController", "Synthetic test pattern + chirp")  # translated where shown
DEMO_LABEL = QT_TRANSLATE_NOOP("LiveController", "Demo clip")
SYNTHETIC_CHOICE = SourceChoice(SOURCE_SYNTHETIC, SOURCE_SYNTHETIC, SYNTHETIC_LABEL)
SHUTDOWN_WAIT_S = 15.0  # longest wait at close for stops and recordings in progress (disk flushes)
__all__ = ["DEMO_CLIP", "SYNTHETIC_CHOICE", "LiveController", "list_devices", "new_session_dir", "record_options"]


def new_session_dir(root: str | Path) -> Path:
    """``root/session-YYYYmmdd-HHMMSS`` (a suffix when that exists); not created here."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root).expanduser() / f"session-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def record_options(settings: Settings) -> Any:
    """What a recording keeps (``core.session.writer.RecordOptions``), from the privacy choices in the
    Recording menu."""
    from core.session.writer import RecordOptions

    if not settings.record_media:
        return RecordOptions.analysis_only()
    return RecordOptions(record_audio=settings.record_audio, blur_faces=settings.blur_faces)


def list_devices() -> tuple[list[tuple[int, str]], list[tuple[int | str, str, bool]]]:
    """([(camera index, name)], [(microphone key, name, is default)]); a key is a PortAudio index or
    ``pulse:<source>`` (a sound-server microphone). Blocking (PortAudio is asked to look again unless a
    microphone stream is open): call it off the UI thread, as ``LiveController.scan_devices`` does."""
    from core.capture.devices import list_cameras, list_microphones, rescan_audio_devices

    rescan_audio_devices()
    cams = [(c.index, f"{c.name} ({c.path})" if c.path else c.name) for c in list_cameras()]
    mics = [(m.key, m.name, m.is_default) for m in list_microphones()]
    return cams, mics


def _initial_source(camera: Any) -> SourceChoice | None:
    """The remembered source (``settings.camera``) as the picker's choice, through the one source parser (a
    stream's password stays out of its label); None when it cannot be used any more (a file that is gone)."""
    from desktop.startup import source_choice

    if camera is None:
        return None
    if isinstance(camera, str) and camera and Path(camera).resolve() == DEMO_CLIP:
        return SourceChoice(SOURCE_DEMO, str(DEMO_CLIP), DEMO_LABEL)
    try:
        return source_choice(str(camera))
    except SourceSpecError as exc:
        log.info("the remembered source is not used: %s", exc)
        return None


class LiveController(QObject):
    """Monitoring runs and recording for the main window, attached to the model owner's worker (UI thread)."""

    monitoring_changed = Signal(bool)
    session_started = Signal(bool)  # a new LiveSession (its clock at 0); True when it monitors
    recording_changed = Signal(bool)
    message_posted = Signal(str, str)  # level, text
    devices_found = Signal(list, list)  # [(camera index, name)], [(microphone key, name, is default)]

    def __init__(
        self,
        settings: Any,
        source_factory: Callable[[SourceChoice | None, Any], tuple[Any, Any]] | None = None,
        loader: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.model = ModelController(settings, loader or default_loader)
        self.bridge = SessionRelay()  # the views connect here once, whatever the session
        self.tasks = BackgroundTasks()
        self._source_factory = source_factory or self.make_sources
        self.session: LiveSession | None = None  # the running session (None while not monitoring)
        self.shown_session: LiveSession | None = None  # the newest session: its windows are on show
        self._stopping: list[LiveSession] = []  # sessions whose capture is being stopped
        self._waiting_start: Callable[[], None] | None = None  # the next session, once the stops are done
        self._monitoring = False
        self._record_wanted = False
        self._recording_dir: str | None = None
        self._closed = False
        self._scanning = self._scan_again = False
        self._file_run: threading.Event | None = None  # set to stop the running file run
        self.source_choice: SourceChoice | None = _initial_source(self.settings.camera)
        self.bridge.recording_started.connect(self._on_recording_started)
        self.bridge.recording_stopped.connect(self._on_recording_stopped)

    # ---- devices -----------------------------------------------------------------------------------------
    def scan_devices(self) -> None:
        """Look for cameras and microphones off the UI thread; ``devices_found`` brings the lists. A request
        while a scan runs makes it run once more afterwards (a device plugged in meanwhile is not missed)."""
        if self._closed:
            return
        if self._scanning:
            self._scan_again = True
            return
        self._scanning, self._scan_again = True, False
        self.tasks.run(_scan, then=self._scan_done)

    def _scan_done(self, lists: tuple[list, list]) -> None:
        self._scanning = False
        self.devices_found.emit(*lists)
        if self._scan_again:
            self.scan_devices()

    # ---- sources -----------------------------------------------------------------------------------------
    def make_sources(self, choice: SourceChoice | None, microphone: Any) -> tuple[Any, Any]:
        """(video source, audio source) for a choice; either may be None. A media file is both."""
        if choice is None:
            return None, None
        use_mic = self.settings_use_microphone() and microphone != NO_MIC
        mic = (None if microphone in (None, DEFAULT_MIC) else microphone) if use_mic else NO_MIC
        sources = sources_for(choice.kind, choice.ref, mic)  # the picker's kinds are core.sources' kinds
        return sources.video, sources.audio

    def settings_use_microphone(self) -> bool:
        return bool(getattr(self.settings, "use_microphone", True))

    def set_source(self, choice: SourceChoice) -> None:
        self.source_choice = choice
        self.settings.camera = choice.ref if choice.kind != SOURCE_DEMO else str(DEMO_CLIP)
        if self._monitoring:
            self._restart(file_run=False)

    def microphone_choice(self) -> Any:
        """What the picker shows: ``NO_MIC``, ``DEFAULT_MIC`` or a device index/name."""
        if not self.settings_use_microphone():
            return NO_MIC
        return DEFAULT_MIC if self.settings.microphone is None else self.settings.microphone

    def set_microphone(self, choice: Any) -> None:
        """``NO_MIC`` (video-only analysis), ``DEFAULT_MIC`` or a device index / name substring."""
        self.settings.use_microphone = choice != NO_MIC
        if choice != NO_MIC:
            self.settings.microphone = None if choice == DEFAULT_MIC else choice
        if self._monitoring and self.source_choice is not None and self.source_choice.kind == SOURCE_CAMERA:
            self._restart(file_run=False)

    # ---- monitoring --------------------------------------------------------------------------------------
    @property
    def monitoring(self) -> bool:
        return self._monitoring

    def start_monitoring(self) -> None:
        if self._monitoring or self._closed:
            return
        self._restart(file_run=False)

    def stop_monitoring(self) -> None:
        if not self._monitoring:
            return
        self._end_file_run()
        self._set_monitoring(False)
        self._retire_session()

    def set_window_hop(self, window_s: float, hop_s: float) -> None:
        from core.scheduler import check_window_hop

        check_window_hop(window_s, hop_s)
        self.settings.window_s, self.settings.hop_s = window_s, hop_s
        if self._monitoring:  # a file run starts the file over with the new windows
            self._restart(file_run=self._file_run is not None)

    def _restart(self, file_run: bool) -> None:
        """Stop the running session (if any) and start a new one with the current choices; the new one starts
        once the old one's capture has stopped."""
        self._end_file_run()
        try:
            video, audio = self._open_sources(file_run)
        except (OSError, ValueError, RuntimeError) as exc:
            self.message_posted.emit(levels.ERROR, self.tr("Cannot open the source: {error}").format(error=exc))
            self._set_monitoring(False)
            self._retire_session()
            return
        self._set_monitoring(True)
        if self._recording_dir is not None:
            self.recording_changed.emit(False)
        stop = self._file_run = threading.Event() if file_run else None
        self._retire_session(then=lambda: self._start_session(video, audio, stop))

    def _open_sources(self, file_run: bool) -> tuple[Any, Any]:
        if file_run:
            assert self.source_choice is not None
            src = MediaFileSource(str(self.source_choice.ref), realtime=True, loop=False)
            return src, src
        return self._source_factory(self.source_choice, self.settings.microphone)

    def _set_monitoring(self, on: bool) -> None:
        self._monitoring = on
        self.monitoring_changed.emit(on)

    def _start_session(self, video: Any, audio: Any, file_run: threading.Event | None) -> None:
        if self._closed or not self._monitoring:
            for src in dict.fromkeys(s for s in (video, audio) if s is not None):
                src.stop()  # opened for a run that was stopped meanwhile
            return
        clock = SteppedClock(wall_t0=time.time()) if file_run is not None else None
        if self.shown_session is not None:
            self.shown_session.cancel_attributions()  # its windows leave the views now
        listener = self.bridge.bridge_for_new_session().listener()
        session = LiveSession(video, audio, listener, window_s=self.settings.window_s,
                              hop_s=self.settings.hop_s, clock=clock, worker=self.model.worker)
        self.session = self.shown_session = session
        self.session_started.emit(True)  # a new session clock starts at 0
        if video is None:
            self.message_posted.emit(
                levels.WARNING,
                self.tr("No video source: pick a camera, the demo clip or a media file in the Source list."))
        elif audio is None:
            self.message_posted.emit(levels.INFO,
                                     self.tr("No microphone: analysis is video-only (the model hears nothing)."))
        if file_run is not None:
            self._start_file_run(session, file_run)
            return
        session.start()
        if self._record_wanted:
            self._start_recording(session)

    def _retire_session(self, then: Callable[[], None] | None = None) -> None:
        """Stop the running session off the UI thread (capture, scheduler, detach, recording); ``then`` runs on
        the UI thread once every session being stopped has released its devices."""
        session, self.session = self.session, None
        self.bridge.retire_current()
        if session is not None:
            self._stopping.append(session)
            self.tasks.run(session.stop, then=lambda _ok, s=session: self._session_stopped(s))
        self._waiting_start = then
        self._maybe_start_next()

    def _session_stopped(self, session: LiveSession) -> None:
        if session in self._stopping:
            self._stopping.remove(session)
        self._maybe_start_next()

    def _maybe_start_next(self) -> None:
        if self._stopping or self._waiting_start is None:
            return
        start, self._waiting_start = self._waiting_start, None
        start()

    # ---- every window of a file --------------------------------------------------------------------------
    def request_attribution(self, window_id: int) -> str | None:
        """Ask for a video-only re-run of one of the shown session's windows; None when asked, else why not."""
        session = self.shown_session
        if not self.model.has_model:
            return self.tr("load a model to re-run this window video-only")
        if session is None or not session.request_attribution(window_id):
            return self.tr("this window's frames are no longer kept (only the newest {n} windows are): record the "
                           "session and compare it without the voice in replay").format(
                               n=self.model.worker.keep_windows)
        return None

    @property
    def analyzing_file(self) -> bool:
        """A file is being analysed window by window (``analyze_file``)."""
        return self._file_run is not None

    def analyze_file(self, path: str) -> None:
        """Analyse every window of a media file, as fast as the model allows (not in real time: the session
        clock follows the model), shown and recorded like monitoring; monitoring stops at the end of the file.
        Needs a model (loaded, or a load asked for: the run waits for it)."""
        if self._closed:
            return
        worker = self.model.worker
        if not (worker.has_model or worker.load_pending):
            self.message_posted.emit(
                levels.ERROR, self.tr("Load a model first (Ctrl+L): every window of the file waits for its analysis."))
            return
        self.source_choice = SourceChoice(SOURCE_FILE, path, Path(path).name)
        self.settings.camera = path
        self._restart(file_run=True)

    def _end_file_run(self) -> None:
        if self._file_run is not None:
            self._file_run.set()
            self._file_run = None

    def _start_file_run(self, session: LiveSession, stop: threading.Event) -> None:
        name = self.source_choice.label if self.source_choice is not None else self.tr("the file")
        self.message_posted.emit(levels.INFO, self.tr(
            "Analysing every window of {name} as fast as the model allows (not in real time). Stop (Space) ends it."
        ).format(name=name))
        worker = self.model.worker
        recording = self._recording_job(session) if self._record_wanted else None

        def run() -> tuple[int, str]:
            if not worker.wait_for_model(stop):  # a load asked for just before the run
                return 0, "" if stop.is_set() else "the model could not be loaded (see the message above)"
            if recording is not None:  # before the first frame, so that the recording has all of the file
                recording()
            try:
                return session.analyze_every_window(stop), ""
            except (ValueError, RuntimeError) as exc:  # an EveryWindowError is a RuntimeError
                return 0, str(exc)

        self.tasks.run(run, then=lambda outcome: self._file_run_done(session, stop, name, *outcome))

    def _file_run_done(self, session: LiveSession, stop: threading.Event, name: str, cut: int, error: str) -> None:
        if stop.is_set() or session is not self.session:
            return  # stopped, or replaced by another run: nothing to announce
        self._file_run = None
        stats = session.stats().worker
        short = session.file_shorter_than_a_window()
        if error:
            self.message_posted.emit(levels.ERROR, self.tr("Every-window analysis of {name} stopped: {error}").format(
                name=name, error=error))
        elif cut == 0 and short is not None:
            self.message_posted.emit(
                levels.WARNING,
                self.tr("{name} lasts {length} s, less than one {window} s window: shorten the window (Window box) "
                        "and analyse it again.").format(name=name, length=f"{short:.1f}",
                                                        window=f"{session.window_s:g}"),
            )
        else:
            failed = self.tr(", {n} failed").format(n=stats.failed) if stats.failed else ""
            self.message_posted.emit(levels.INFO, self.tr("Analysed every window of {name}: {done} of {cut} "
                                                          "windows{failed}.").format(name=name, done=stats.analysed,
                                                                                     cut=cut, failed=failed))
        self.stop_monitoring()

    # ---- recording and markers -----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._recording_dir is not None

    def set_recording(self, on: bool, root: str | None = None) -> None:
        if root:
            self.settings.record_dir = root
        self._record_wanted = on
        session = self.session
        if on and session is not None and self._recording_dir is None and not self.analyzing_file:
            self._start_recording(session)
        elif not on and session is not None and session.recording:
            self.tasks.run(session.stop_recording)
        elif on and not self._monitoring:
            self.message_posted.emit(levels.INFO, self.tr("Recording starts with monitoring (Space)."))

    def _start_recording(self, session: LiveSession) -> None:
        self.tasks.run(self._recording_job(session))

    def _recording_job(self, session: LiveSession) -> Callable[[], None]:
        """Starts a recording of ``session`` with the current choices (read now, on the UI thread) when called.
        Call it off the UI thread: folder, manifest and weights fingerprint are disk work."""
        root = self.settings.record_dir
        accepted = bool(self.settings.policy_acknowledged)
        options = record_options(self.settings)

        def start() -> None:
            session.start_recording(str(new_session_dir(root)), options=options, usage_notice_accepted=accepted)
            if not self._record_wanted:  # switched off while it was starting
                session.stop_recording()

        return start

    def _on_recording_started(self, directory: str) -> None:
        self._recording_dir = directory
        self.recording_changed.emit(True)
        self.message_posted.emit(levels.INFO, self.tr("Recording to {folder}").format(folder=directory))

    def _on_recording_stopped(self, directory: str, error: Any) -> None:
        if directory != self._recording_dir and self._recording_dir is not None:
            return  # an older session's recording ended after the new one started
        self._recording_dir = None
        self.recording_changed.emit(False)
        if error:
            self._record_wanted = False
            self.message_posted.emit(levels.ERROR, self.tr("Recording stopped: {error}").format(error=error))

    def add_marker(self, kind: str, text: str = "") -> float | None:
        """Put a marker at the current session time (logged when recording); None when not monitoring."""
        session = self.session
        if not self._monitoring or session is None:
            self.message_posted.emit(levels.INFO, self.tr("Markers are placed while monitoring (Space starts it)."))
            return None
        t = session.now()
        session.add_marker(kind, text)
        return t

    # ---- what the display timers pull ----------------------------------------------------------------------
    def now(self) -> float:
        return self.session.now() if self.session is not None else 0.0

    def latest_frame(self) -> LatestFrame | None:
        return self.session.latest_frame() if self.session is not None and self._monitoring else None

    def recent_audio(self, seconds: float) -> tuple[Any, int, float] | None:
        """(float32 [S] samples, rate Hz, session time of the last sample) or None without audio."""
        return self.session.recent_audio(seconds) if self.session is not None else None

    def audio_state(self) -> str:
        """A plain sentence when there is no usable audio while monitoring, else ""."""
        session = self.session
        if not self._monitoring or session is None:
            return ""
        status = session.audio_status()
        if status is None:
            return self.tr("No microphone — analysis is video-only (the model hears nothing).")
        if status.state == cap.ERROR:
            return self.tr("Audio lost: {error} — windows are analysed video-only until it is back.").format(
                error=status.message)
        if status.state in (cap.RUNNING, cap.ENDED) and not status.has_audio:
            return self.tr("This source has no audio track — analysis is video-only.")
        return ""

    def audio_caption(self) -> str:
        name = self.session.audio_name if self.session is not None else None
        if name is None:
            return self.tr("Microphone — none")
        return self.tr("Audio — {name}: level and the last 5 s").format(name=name)

    def snapshot(self, preview_fps: float | None = None) -> StatusSnapshot:
        model = self.model
        model_text = model.description() if model.has_model else ""
        session = self.session
        if session is None:
            worker = model.worker.stats()
            return StatusSnapshot(capture_fps=None, preview_fps=preview_fps, audio_rate_hz=None, audio_overflows=0,
                                  last_latency_s=None, last_compute_s=worker.last_compute_s, superseded=0,
                                  model=model_text, model_memory_bytes=model.memory_bytes(),
                                  first_token_s=worker.last_first_token_s)
        st = session.stats()
        video, audio = st.video, st.audio
        return StatusSnapshot(
            capture_fps=video.fps if video is not None and video.has_video else None,
            preview_fps=preview_fps,
            audio_rate_hz=(audio.audio_rate_hz or MODEL_SAMPLE_RATE_HZ) if audio is not None and audio.has_audio
            else None,
            audio_overflows=audio.audio_overflows if audio is not None else 0,
            last_latency_s=st.worker.last_latency_s,
            last_compute_s=st.worker.last_compute_s,
            superseded=st.scheduler.superseded,
            model=model_text,
            model_memory_bytes=model.memory_bytes(),
            first_token_s=st.worker.last_first_token_s,
            network_s=st.worker.last_network_s,
        )

    # ---- shutdown ------------------------------------------------------------------------------------------
    def shutdown(self) -> bool:
        """Ordered stop of everything: capture → scheduler → the model worker → recording, after any session
        still being stopped. True when every thread ended. Blocks (bounded): call it on close."""
        if self._closed:
            return True
        self._closed = True
        self._end_file_run()
        self._monitoring = False
        session, self.session = self.session, None
        ok = True
        if session is not None:
            ok = session.stop_capture()
        ok = self.model.shutdown() and ok
        if session is not None:
            ok = session.stop_recording() and ok
        return self.tasks.shutdown(SHUTDOWN_WAIT_S) and ok


def _scan() -> tuple[list, list]:
    try:
        return list_devices()
    except Exception as exc:  # noqa: BLE001 — listing never raises by contract; a broken driver must not matter
        log.warning("device scan failed: %s", exc)
        return [], []
