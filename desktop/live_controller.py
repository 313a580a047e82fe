"""The desktop's owner of ``core.pipeline.LiveSession``: sources, monitoring runs, model, recording.

One ``LiveSession`` is always running. While the user is not monitoring it has no sources (its worker still
serves model load/unload, so a model can be loaded before monitoring starts); "start monitoring" swaps it for
a session with the chosen camera/microphone/file. A swap keeps the loaded model: the worker is handed a
``KeptModel`` that ignores ``close()`` while a session is being retired, and the next session's loader gets
the same object back at once. Only one worker uses the model at a time, because the old session is stopped
(its worker joined) before the new one starts.

Stopping a session joins capture, scheduler and worker threads, which can take seconds (a model step is not
interruptible), so it runs on a short-lived "session-retire" thread; the UI thread never waits on it.
Listing devices can also take a while (PortAudio probes every device when it re-initialises), so
``scan_devices`` does it on a "device-scan" thread and answers with ``devices_found``.
Thread of every public method: the UI thread.
"""

from __future__ import annotations

import datetime as _dt
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core import engine as core_engine
from core.capture import base as cap
from core.capture.media_file import MediaFileSource
from core.clock import FakeClock
from core.engine import AnalysisParams, LoadRequest
from core.pipeline import LiveSession
from core.ring_buffer import LatestFrame
from core.settings import Settings
from core.sources import DEMO_CLIP, sources_for
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
from desktop.engine_bridge import SessionBridge
from desktop.status_bar import StatusSnapshot

log = logging.getLogger(__name__)

SYNTHETIC_CHOICE = SourceChoice(SOURCE_SYNTHETIC, SOURCE_SYNTHETIC, "Synthetic test pattern + chirp")
RETIRE_JOIN_S = 120.0  # longest wait for a retiring session's worker (a full-size model load on a CPU)
RETIRE_POLL_S = 1.0


class KeptModel:
    """Wraps a loaded model so that it survives the end of one session and serves the next.

    ``close()`` frees the weights unless ``keep`` is set (a session swap). Attribute access is forwarded,
    so the worker sees the model's own ``analyze``/``info``/``memory_bytes``. Used by one worker thread at a
    time; ``keep`` is set by the UI thread only while no worker runs the model.
    """

    def __init__(self, model: Any, request: LoadRequest, on_closed: Callable[[KeptModel], None]) -> None:
        self.model = model
        self.request = request
        self.keep = False
        self.memory = model.memory_bytes() if hasattr(model, "memory_bytes") else None
        self._on_closed = on_closed

    def matches(self, request: LoadRequest) -> bool:
        r = self.request
        return (r.model_dir, r.device, r.dtype, r.profile) == (request.model_dir, request.device, request.dtype,
                                                               request.profile)

    def close(self) -> None:
        if self.keep or self.model is None:
            return
        model, self.model = self.model, None
        try:
            if hasattr(model, "close"):
                model.close()
        finally:
            self._on_closed(self)

    def __getattr__(self, name: str) -> Any:
        model = self.__dict__.get("model")
        if model is None:
            raise AttributeError(f"the model was unloaded ({name})")
        return getattr(model, name)


def _default_loader(request: LoadRequest) -> Any:
    from core.model import load_model  # heavy (torch, transformers): runs on the worker thread

    return load_model(request.model_dir, device=request.device, dtype=request.dtype, profile=request.profile)


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


def list_devices() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """([(camera index, name)], [(microphone index, name)]). Blocking (PortAudio is asked to look again unless a
    microphone stream is open): call it off the UI thread, as ``LiveController.scan_devices`` does."""
    from core.capture.devices import list_cameras, list_microphones, rescan_audio_devices

    rescan_audio_devices()
    cams = [(c.index, f"{c.name} ({c.path})" if c.path else c.name) for c in list_cameras()]
    mics = [(m.index, m.name + (" (default)" if m.is_default else "")) for m in list_microphones()]
    return cams, mics


class LiveController(QObject):
    """Monitoring runs, model and recording for the main window (UI thread)."""

    monitoring_changed = Signal(bool)
    session_started = Signal(bool)  # a new LiveSession (its clock at 0); True when it monitors
    recording_changed = Signal(bool)
    message_posted = Signal(str, str)  # level, text
    devices_found = Signal(list, list)  # [(camera index, name)], [(microphone index, name)]
    _retired = Signal(object)  # continuation to run on the UI thread once a session has stopped

    def __init__(
        self,
        settings: Any,
        loader: Callable[[LoadRequest], Any] = _default_loader,
        source_factory: Callable[[SourceChoice, Any], tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.bridge = SessionBridge()
        self._loader_impl = loader
        self._source_factory = source_factory or self.make_sources
        self._kept: KeptModel | None = None
        self._load_request: LoadRequest | None = None  # what the user last asked to load (None: unloaded)
        self._model_info: dict[str, Any] | None = None
        self._monitoring = False
        self._record_wanted = False
        self._recording_dir: str | None = None
        self._retiring: list[threading.Thread] = []
        self._closed = False
        self._swapping = False  # a session is being retired and the next one not started yet
        self._scan_thread: threading.Thread | None = None
        self._every_window: threading.Event | None = None  # stops the running file-timeline thread
        self._scan_again = False  # a scan was asked for while one ran
        self.source_choice: SourceChoice | None = self._initial_source()
        self._retired.connect(lambda then: then())
        self.bridge.model_loaded.connect(self._on_model_loaded)
        self.bridge.model_unloaded.connect(self._on_model_unloaded)
        self.bridge.recording_started.connect(self._on_recording_started)
        self.bridge.recording_stopped.connect(self._on_recording_stopped)
        self.session = self._new_session(video=None, audio=None)
        self.session.start()

    # ---- sources -----------------------------------------------------------------------------------------
    def _initial_source(self) -> SourceChoice | None:
        cam = self.settings.camera
        if cam is None:
            return None
        if cam == SOURCE_SYNTHETIC:
            return SYNTHETIC_CHOICE
        if isinstance(cam, str) and Path(cam).resolve() == DEMO_CLIP:
            return SourceChoice(SOURCE_DEMO, str(DEMO_CLIP), "Demo clip")
        if isinstance(cam, str) and not cam.strip().isdigit():
            return SourceChoice(SOURCE_FILE, cam, Path(cam).name or cam)
        return SourceChoice(SOURCE_CAMERA, int(cam), f"camera {cam}")

    def scan_devices(self) -> None:
        """Look for cameras and microphones on a worker thread; ``devices_found`` brings the lists. A request
        while a scan runs makes it run once more afterwards (a device plugged in meanwhile is not missed)."""
        if self._closed:
            return
        if self._scan_thread is not None and self._scan_thread.is_alive():
            self._scan_again = True
            return
        self._scan_again = False

        def scan() -> None:
            try:
                cams, mics = list_devices()
            except Exception as exc:  # listing never raises by contract; a broken driver must not kill the thread
                log.warning("device scan failed: %s", exc)
                cams, mics = [], []
            if not self._closed:
                self.devices_found.emit(cams, mics)
                self._retired.emit(self._scan_finished)

        self._scan_thread = threading.Thread(target=scan, name="device-scan", daemon=True)
        self._scan_thread.start()

    def _scan_finished(self) -> None:
        if self._scan_again:
            self.scan_devices()

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
            self._swap_session(monitoring=True)

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
            self._swap_session(monitoring=True)

    # ---- monitoring --------------------------------------------------------------------------------------
    @property
    def monitoring(self) -> bool:
        return self._monitoring

    def start_monitoring(self) -> None:
        if self._monitoring or self._closed:
            return
        self._swap_session(monitoring=True)

    def stop_monitoring(self) -> None:
        if not self._monitoring:
            return
        self._swap_session(monitoring=False)

    def set_window_hop(self, window_s: float, hop_s: float) -> None:
        from core.scheduler import check_window_hop

        check_window_hop(window_s, hop_s)
        self.settings.window_s, self.settings.hop_s = window_s, hop_s
        if self._monitoring:  # an every-window run starts the file over with the new windows
            self._swap_session(monitoring=True, every_window=self._every_window is not None)

    def _new_session(self, video: Any, audio: Any, every_window: bool = False) -> LiveSession:
        return LiveSession(
            video,
            audio,
            self.bridge.listener(),
            window_s=self.settings.window_s,
            hop_s=self.settings.hop_s,
            params=self.params(),
            clock=FakeClock(wall_t0=time.time()) if every_window else None,
            loader=self._load,
        )

    # ---- every window of a file --------------------------------------------------------------------------
    @property
    def analysing_file(self) -> bool:
        """A file is being analysed window by window (``analyse_file``)."""
        return self._every_window is not None

    def analyse_file(self, path: str) -> None:
        """Analyse every window of a media file, as fast as the model allows (not in real time: the session
        clock follows the model), shown and recorded like monitoring; monitoring stops at the end of the file.
        Needs a model (loaded or loading)."""
        if self._closed:
            return
        if self._load_request is None:
            self.message_posted.emit(
                levels.ERROR, "Load a model first (Ctrl+L): every window of the file waits for its analysis."
            )
            return
        self.source_choice = SourceChoice(SOURCE_FILE, path, Path(path).name)
        self.settings.camera = path
        self._swap_session(monitoring=True, every_window=True)

    def _run_every_window(self, session: LiveSession, stop: threading.Event) -> None:
        name = self.source_choice.label if self.source_choice is not None else "the file"
        start_recording = self._recording_starter(session) if self._record_wanted else None

        def run() -> None:
            if start_recording is not None:  # before the first frame, so that the recording has all of the file
                start_recording()
            while not stop.is_set() and not session.worker.has_model and self._load_request is not None:
                stop.wait(0.05)  # a kept model is back at once; a load takes its time
            error, cut = "", 0
            if not stop.is_set():
                try:
                    cut = session.analyse_every_window(stop) if session.worker.has_model else 0
                except (RuntimeError, ValueError) as exc:
                    error = str(exc)
            if not self._closed:
                self._retired.emit(lambda: self._every_window_done(session, stop, name, cut, error))

        threading.Thread(target=run, name="file-timeline", daemon=True).start()

    def _every_window_done(self, session: LiveSession, stop: threading.Event, name: str, cut: int,
                           error: str) -> None:
        if stop.is_set() or session is not self.session:
            return  # stopped, or replaced by another run: nothing to announce
        self._every_window = None
        stats = session.worker.stats
        short = session.file_shorter_than_a_window()
        if error:
            self.message_posted.emit(levels.ERROR, f"Every-window analysis of {name} stopped: {error}")
        elif cut == 0 and short is not None:
            self.message_posted.emit(
                levels.WARNING,
                f"{name} lasts {short:.1f} s, less than one {session.window_s:g} s window: shorten the window "
                "(Window box) and analyse it again.",
            )
        else:
            failed = f", {stats.failed} failed" if stats.failed else ""
            self.message_posted.emit(
                levels.INFO, f"Analysed every window of {name}: {stats.analysed} of {cut} windows{failed}."
            )
        self.stop_monitoring()

    def _swap_session(self, monitoring: bool, every_window: bool = False) -> None:
        """Retire the current session (off the UI thread) and start the next one when it has stopped."""
        old = self.session
        if self._every_window is not None:  # a file analysed window by window ends with its session
            self._every_window.set()
            self._every_window = None
        try:
            if every_window:
                assert self.source_choice is not None
                src = MediaFileSource(str(self.source_choice.ref), realtime=True, loop=False)
                video, audio = src, src
            else:
                video, audio = (
                    self._source_factory(self.source_choice, self.settings.microphone)
                    if monitoring
                    else (None, None)
                )
        except (OSError, ValueError, RuntimeError) as exc:
            self.message_posted.emit(levels.ERROR, f"Cannot open the source: {exc}")
            video, audio, monitoring = None, None, False
        timeline_stop = self._every_window = threading.Event() if every_window and monitoring else None
        self._monitoring = monitoring
        self.monitoring_changed.emit(monitoring)
        if self._recording_dir is not None:
            self.recording_changed.emit(False)

        self._swapping = True

        def start_next() -> None:
            self._swapping = False
            if self._closed:
                return
            self.session = self._new_session(video, audio, every_window=every_window and monitoring)
            self.session_started.emit(monitoring)  # a new session clock starts at 0
            if every_window and monitoring:
                self.session.worker.start()  # the clock, sources and scheduler are driven by the file-timeline
            else:
                self.session.start()
            if self._load_request is not None:
                # the kept model comes back at once; a load interrupted by the swap starts again
                kept = self._kept is not None and self._kept.model is not None
                self.session.load_model(replace(self._load_request, warm_up=not kept))
            if monitoring and video is None:
                self.message_posted.emit(
                    levels.WARNING,
                    "No video source: pick a camera, the demo clip or a media file in the Source list.",
                )
            if monitoring and audio is None and video is not None:
                self.message_posted.emit(
                    levels.INFO, "No microphone: analysis is video-only (the model hears nothing)."
                )
            if every_window and monitoring:
                self.message_posted.emit(
                    levels.INFO,
                    f"Analysing every window of {self.source_choice.label if self.source_choice else 'the file'}"
                    " as fast as the model allows (not in real time). Stop (Space) ends it.",
                )
                assert timeline_stop is not None
                if timeline_stop.is_set():  # stopped while the previous session was retired
                    return
                self._run_every_window(self.session, timeline_stop)
            elif monitoring and self._record_wanted:
                self._start_recording()

        self._retire(old, then=start_next)

    def _retire(self, session: LiveSession, then: Callable[[], None] | None) -> None:
        kept = self._kept
        if kept is not None:
            kept.keep = True

        def stop() -> None:
            try:
                stop_fully(session)
            finally:
                if kept is not None:
                    kept.keep = False
                if then is not None:
                    self._retired.emit(then)

        thread = threading.Thread(target=stop, name="session-retire", daemon=True)
        self._retiring = [t for t in self._retiring if t.is_alive()] + [thread]
        thread.start()

    # ---- model -------------------------------------------------------------------------------------------
    def params(self) -> AnalysisParams:
        s = self.settings
        instruction = core_engine.resolve_instruction(s.instruction_preset, s.custom_instruction)
        return AnalysisParams(
            instruction=instruction, label_set=s.label_set.lower(), max_new_tokens=int(s.max_new_tokens)
        )

    def set_analysis(self, preset: str, custom: str, label_set: str) -> None:
        """New instruction / label set for the next windows (raises ValueError with the fix)."""
        self.settings.instruction_preset, self.settings.custom_instruction = preset, custom
        self.settings.label_set = label_set
        self.session.set_params(self.params())

    def _load(self, request: LoadRequest) -> Any:
        """Loader given to every session's worker (worker thread): reuses the kept model when it matches."""
        kept = self._kept
        if kept is not None and kept.model is not None and kept.matches(request):
            return kept
        if kept is not None:
            kept.keep = False
            kept.close()
        # Loading builds millions of long-lived objects; each full garbage collection during it walks them all
        # with the GIL held (measured 60-200 ms UI hitches). Collect nothing while loading, then freeze what
        # was built so later collections skip it.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            model = self._loader_impl(request)
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()
        self._kept = KeptModel(model, request, self._forget_model)
        return self._kept

    def _forget_model(self, kept: KeptModel) -> None:
        if self._kept is kept:
            self._kept = None

    def load_model(self, model_dir: str, device: str, dtype: str, profile: str = "exact") -> None:
        """Load into the running session's worker; during a session swap the next session loads it."""
        self._load_request = LoadRequest(str(model_dir), device, dtype, profile=profile)
        if not self._swapping:
            self.session.load_model(self._load_request)

    def unload_model(self) -> None:
        self._load_request = None
        self.session.unload_model()

    @property
    def has_model(self) -> bool:
        return self._model_info is not None

    def default_model_dir(self) -> Path:
        return core_engine.default_model_dir()

    def _on_model_loaded(self, info: dict) -> None:
        self._model_info = info
        self.settings.model_dir = info.get("model_dir", self.settings.model_dir)

    def _on_model_unloaded(self) -> None:
        if self._kept is None or self._kept.model is None:
            self._model_info = None

    def model_description(self) -> str:
        info = self._model_info
        if not info:
            return "none"
        name = Path(str(info.get("model_dir", ""))).name or "R1-Omni"
        return f"{name} · {info.get('device', '?')} {info.get('dtype', '')}".strip()

    def model_memory_bytes(self) -> int | None:
        kept = self._kept
        if kept is None or self._model_info is None:
            return None
        if str(self._model_info.get("device", "")).startswith("cuda"):
            import torch  # already imported by the loaded model

            return int(torch.cuda.memory_allocated())
        return kept.memory

    # ---- recording and markers -----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._recording_dir is not None

    def set_recording(self, on: bool, root: str | None = None) -> None:
        if root:
            self.settings.record_dir = root
        self._record_wanted = on
        if on and self._monitoring and self._swapping:
            return  # the session being started records from its first frame
        if on and self._monitoring and self._recording_dir is None:
            self._start_recording()
        elif not on and self._recording_dir is not None:
            session = self.session
            threading.Thread(target=session.stop_recording, name="recording-stop", daemon=True).start()
        elif on and not self._monitoring:
            self.message_posted.emit(levels.INFO, "Recording starts with monitoring (Space).")

    def _start_recording(self) -> None:
        threading.Thread(target=self._recording_starter(self.session), name="recording-start", daemon=True).start()

    def _recording_starter(self, session: LiveSession) -> Callable[[], None]:
        """Starts a recording of ``session`` with the current choices (read now, on the UI thread) when called.
        Call it off the UI thread: folder, manifest and weights fingerprint are disk work."""
        root = self.settings.record_dir
        accepted = bool(self.settings.policy_acknowledged)
        info = dict(self._model_info) if self._model_info else None
        options = record_options(self.settings)

        def start() -> None:
            session.start_recording(str(new_session_dir(root)), options=options, usage_notice_accepted=accepted,
                                    model_info=info)
            if not self._record_wanted:  # switched off while it was starting
                session.stop_recording()

        return start

    def _on_recording_started(self, directory: str) -> None:
        self._recording_dir = directory
        self.recording_changed.emit(True)
        self.message_posted.emit(levels.INFO, f"Recording to {directory}")

    def _on_recording_stopped(self, directory: str, error: Any) -> None:
        self._recording_dir = None
        self.recording_changed.emit(False)
        if error:
            self._record_wanted = False
            self.message_posted.emit(levels.ERROR, f"Recording stopped: {error}")

    def add_marker(self, kind: str, text: str = "") -> float | None:
        """Put a marker at the current session time (logged when recording); None when not monitoring."""
        if not self._monitoring:
            self.message_posted.emit(levels.INFO, "Markers are placed while monitoring (Space starts it).")
            return None
        t = self.session.clock.now()
        self.session.add_marker(kind, text)
        return t

    # ---- what the display timers pull ----------------------------------------------------------------------
    def now(self) -> float:
        return self.session.clock.now()

    def latest_frame(self) -> LatestFrame | None:
        return self.session.buffer.latest_frame() if self._monitoring else None

    def recent_audio(self, seconds: float):
        """(float32 [S] samples, rate Hz, session time of the last sample) or None without audio."""
        audio = self.session.audio
        if audio is None or not audio.status().has_audio:
            return None
        _, horizon = self.session.buffer.horizons()
        if horizon is None:
            return None
        return self.session.buffer.recent_audio(seconds), MODEL_SAMPLE_RATE_HZ, horizon

    def audio_state(self) -> str:
        """A plain sentence when there is no usable audio while monitoring, else ""."""
        if not self._monitoring:
            return ""
        audio = self.session.audio
        if audio is None:
            return "No microphone — analysis is video-only (the model hears nothing)."
        status = audio.status()
        if status.state == cap.ERROR:
            return f"Audio lost: {status.message} — windows are analysed video-only until it is back."
        if status.state in (cap.RUNNING, cap.ENDED) and not status.has_audio:
            return "This source has no audio track — analysis is video-only."
        return ""

    def audio_caption(self) -> str:
        audio = self.session.audio
        if audio is None:
            return "Microphone — none"
        return f"Audio — {audio.name}: level and the last 5 s"

    def snapshot(self, preview_fps: float | None = None) -> StatusSnapshot:
        st = self.session.stats()
        video, audio = st.video, st.audio
        return StatusSnapshot(
            capture_fps=video.fps if video is not None and video.has_video else None,
            preview_fps=preview_fps,
            audio_rate_hz=audio.audio_rate_hz or MODEL_SAMPLE_RATE_HZ
            if audio is not None and audio.has_audio
            else None,
            audio_overflows=audio.audio_overflows if audio is not None else 0,
            last_latency_s=st.worker.last_latency_s,
            last_compute_s=st.worker.last_compute_s,
            superseded=st.scheduler.superseded,
            model=f"model {self.model_description()}" if self.has_model else "no model",
            model_memory_bytes=self.model_memory_bytes(),
        )

    # ---- shutdown ------------------------------------------------------------------------------------------
    def shutdown(self) -> bool:
        """Ordered stop of everything (capture → scheduler → worker → writer), after any session still being
        retired; then the kept model is freed. True when every thread ended. Blocks: call it on close."""
        if self._closed:
            return True
        self._closed = True
        if self._every_window is not None:
            self._every_window.set()
        self._monitoring = False
        ok = True
        for thread in self._retiring:
            thread.join(RETIRE_JOIN_S)
            ok = ok and not thread.is_alive()
        kept = self._kept
        if kept is not None:
            kept.keep = False
        ok = stop_fully(self.session) and ok
        if kept is not None:
            kept.close()  # no worker runs any more; a no-op when the worker already closed it
        return ok


def stop_fully(session: LiveSession) -> bool:
    """``session.stop()``, then keep waiting (up to ``RETIRE_JOIN_S``) for a worker that is finishing a model
    load or step, so that two workers never hold the model at once. True when every thread ended."""
    ok = session.stop()
    waited = 0.0
    while not ok and waited < RETIRE_JOIN_S:
        ok = session.worker.stop(RETIRE_POLL_S)
        waited += RETIRE_POLL_S
    if not ok:
        log.warning("a session's worker did not stop within %.0f s", RETIRE_JOIN_S)
    return ok
