"""Headless live monitoring: capture, analyse every window, print one JSON line per result, optionally record.

    python main.py monitor --source camera --model DIR [--record DIR] [--duration S]

Results go to stdout as they are produced (one JSON object per line, the same fields as the session log);
progress, device events and warnings go to stderr. Stops after --duration seconds, when a media file ends
(after its last window is analysed), or on Ctrl-C / SIGTERM, shutting down in order.

A media file plays in real time like a camera, so a model slower than the hop skips windows (newest wins).
``--every-window`` analyses every window of a file instead, as fast as the model allows (the session clock
follows the model, not the wall): a complete emotion timeline of a recording, with --record a session bundle
that replays and exports like a live one.

A source that cannot be used is refused before the model loads (a missing, empty, damaged or audio-only file, a
folder, a FIFO, an FFmpeg protocol string, a URL of another scheme; exit status 2). A source that fails while
running (a refused or dropped stream, a file damaged half-way) is reported once on stderr and the command ends
with exit status 1, as it does when the run ends without a single window analysed. A stream's password is never
printed.

``--attribution on`` (default ``gpu``: only when the model runs on a GPU) also re-runs windows video-only when the
device has spare time and prints what the voice changed, one ``{"type": "attribution", ...}`` line per window
(``core.attribution``); with ``--every-window`` every window is attributed before the next one is cut.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time

from core.attribution import ATTRIBUTION_EVENT, AUTO_GPU, AUTO_MODES
from core.backend import LoadRequest
from core.capture.base import ERROR
from core.cli_types import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    hop_seconds,
    microphone,
    new_tokens,
    run_seconds,
    window_seconds,
)
from core.clock import SteppedClock
from core.engine import AnalysisParams, InferenceWorker, ModelListener, resolve_instruction
from core.pipeline import LiveSession, SessionListener
from core.redaction import redact
from core.scheduler import DEFAULT_HOP_S, DEFAULT_WINDOW_S
from core.serve.client import RemoteBackend, add_remote_arguments, is_remote_model, target_from_args
from core.sources import DEMO_CLIP, SOURCE_DEMO, SOURCE_FILE, SourceSpec, describe, parse_source, sources_for

IDLE_AFTER_END_S = 1.0  # a finished file: wait this long for the scheduler to cut its last window
DEFAULT_MAX_NEW_TOKENS = 256


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("--source", default="camera", help="camera[:N] | demo | synthetic | FILE | URL")
    parser.add_argument("--mic", type=microphone(), default=None,
                        help="microphone index or name substring; 'none' for video only")
    parser.add_argument("--model", required=True, help="R1-Omni model folder (see `main.py download`), or a model "
                        "server https://HOST:PORT (`main.py serve`; --token-file, --server-ca)")
    parser.add_argument("--record", default=None, metavar="DIR", help="record the session bundle into DIR")
    parser.add_argument("--analysis-only", action="store_true", help="record the log only, no audio/video")
    parser.add_argument("--duration", type=run_seconds(), default=None, metavar="SECONDS",
                        help="stop after this many seconds")
    parser.add_argument("--window", type=window_seconds(), default=DEFAULT_WINDOW_S, metavar="SECONDS",
                        help=f"window length (default {DEFAULT_WINDOW_S:g}; 0.5 to 30: the model hears 30 s at most)")
    parser.add_argument("--hop", type=hop_seconds(), default=DEFAULT_HOP_S, metavar="SECONDS",
                        help=f"time between windows (default {DEFAULT_HOP_S:g})")
    parser.add_argument("--labels", default="dfew", help="dfew | mafw | ravdess | free")
    parser.add_argument("--preset", default="official", choices=["official", "evaluation", "custom"])
    parser.add_argument("--instruct", default="", help="custom instruction (implies --preset custom)")
    parser.add_argument("--max-new-tokens", type=new_tokens(), default=DEFAULT_MAX_NEW_TOKENS, metavar="N",
                        help=f"generation budget per window (default {DEFAULT_MAX_NEW_TOKENS})")
    parser.add_argument("--no-scores", action="store_true", help="skip the per-label preference scores")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--profile", default="exact", choices=["exact", "fast"],
                        help="fast: approximate, quicker on a CPU; every result carries \"profile\"")
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--attribution", default=AUTO_GPU, choices=AUTO_MODES,
                        help="re-run windows video-only to show what the voice changed: off | gpu (default: only "
                        "when the model runs on a GPU) | on")
    parser.add_argument("--every-window", action="store_true",
                        help="a media file: analyse every window, as fast as the model allows (not in real time)")
    parser.add_argument("--accept-usage-policy", action="store_true",
                        help="record that the R1-Omni usage policy was shown and accepted (stored in the session)")
    add_remote_arguments(parser)


class _Printer(SessionListener, ModelListener):
    def __init__(self) -> None:
        self.loaded = threading.Event()
        self.failed = threading.Event()
        self.results = 0
        self.busy_since: float | None = None
        self.lock = threading.Lock()

    def model_loading(self, message: str) -> None:
        _err(message)

    def model_loaded(self, info: dict) -> None:
        _err("model ready: " + ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, dict)))
        self.loaded.set()

    def window_started(self, window) -> None:
        self.busy_since = time.monotonic()

    def result_ready(self, result, window) -> None:
        with self.lock:
            self.results += 1
            self.busy_since = None
            print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)

    def attribution_ready(self, window_id: int, attribution) -> None:
        with self.lock:
            print(json.dumps({"type": ATTRIBUTION_EVENT, **attribution.to_dict()}, ensure_ascii=False), flush=True)

    def attribution_failed(self, window_id: int, message: str) -> None:
        _err(f"warning: {message}")

    def error(self, message: str) -> None:
        self.busy_since = None
        _err(f"error: {message}")
        if not self.loaded.is_set():
            self.failed.set()

    def warning(self, message: str) -> None:
        _err(f"warning: {message}")

    def source_event(self, event) -> None:
        _err(f"{event.source}: {event.kind}: {event.message}")

    def recording_started(self, directory: str) -> None:
        _err(f"recording into {directory}")

    def recording_stopped(self, directory: str, error: str | None) -> None:
        _err(f"recording stopped ({directory})" + (f": {error}" if error else ""))


def _err(text: str) -> None:
    print(redact(text), file=sys.stderr, flush=True)  # a stream's password never reaches the terminal


def _checked_source(args: argparse.Namespace) -> SourceSpec:
    """The ``--source`` to monitor, checked as far as it can be without starting it: a file must be media with a
    video track (probed: header only). Raises ``ValueError`` or ``SourceError`` naming the problem."""
    from core.capture.media_file import probe

    spec = parse_source(args.source)
    if args.every_window:
        if spec.kind == SOURCE_DEMO:
            spec = SourceSpec(SOURCE_FILE, str(DEMO_CLIP))  # played once, not looped
        if spec.kind != SOURCE_FILE:
            raise ValueError("--every-window needs a media file as --source (a camera or microphone runs in real "
                             "time)")
    if spec.kind == SOURCE_FILE:
        info = probe(str(spec.ref))
        if not info.has_video:
            raise ValueError(f"--source {describe(spec)!r} has no video track: the model needs frames (an audio-only "
                             "file cannot be analysed)")
    return spec


def run(args: argparse.Namespace) -> int:
    from core.capture.base import SourceError

    preset = "custom" if args.instruct else args.preset
    try:
        params = AnalysisParams(
            instruction=resolve_instruction(preset, args.instruct), label_set=args.labels,
            max_new_tokens=args.max_new_tokens, scores=not args.no_scores,
        )
        spec = _checked_source(args)
        backend = RemoteBackend(target_from_args(args)) if is_remote_model(args.model) else None
    except (ValueError, SourceError) as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    opened = sources_for(spec.kind, spec.ref, args.mic)
    for note in opened.notes:
        _err(f"note: {note}")
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # the printer reports every source event on stderr; the capture log's copy of it would say it twice
        logging.getLogger("core.capture").setLevel(logging.ERROR)
    printer = _Printer()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # The command's one model owner. The model loads before capture starts: a file then loses no windows to the
    # load, and the session manifest can name the model and fingerprint its weights.
    worker = InferenceWorker(printer, params)
    worker.set_auto_attribution(args.attribution)
    worker.start()
    worker.load(backend or LoadRequest(args.model, args.device, args.dtype, warm_up=not args.no_warmup,
                                       profile=args.profile))
    worker.wait_for_model(stop)
    if not worker.has_model or stop.is_set():
        worker.stop()
        for src in dict.fromkeys(s for s in (opened.video, opened.audio) if s is not None):
            src.stop()  # made, never started
        return EXIT_FAILED if printer.failed.is_set() else EXIT_OK
    clock = SteppedClock(wall_t0=time.time()) if args.every_window else None
    session = LiveSession(opened.video, opened.audio, printer, args.window, args.hop, clock=clock, worker=worker)
    if not args.every_window:
        session.start()
    if args.record:
        from core.session.manifest import USAGE_NOTICE
        from core.session.writer import RecordOptions

        if not args.accept_usage_policy:
            _err(f"note: {USAGE_NOTICE} (pass --accept-usage-policy to record that you accept it)")
        options = RecordOptions.analysis_only() if args.analysis_only else RecordOptions()
        session.start_recording(args.record, options=options, usage_notice_accepted=args.accept_usage_policy)
    if args.every_window:
        return _every_window(session, worker, printer, stop, args.duration)
    return _live(session, worker, printer, stop, args.duration)


def _shut_down(session: LiveSession, worker: InferenceWorker) -> bool:
    """Capture → scheduler → the model worker → the recording."""
    ok = session.stop_capture()
    ok = worker.stop() and ok
    return session.stop_recording() and ok


def _failed_for_good(source) -> bool:
    """The source stopped on an error and is not retrying (a refused stream, an unreadable or damaged file)."""
    status = source.status() if source is not None else None
    return status is not None and status.state == ERROR and not status.active


def _live(session: LiveSession, worker: InferenceWorker, printer: _Printer, stop: threading.Event,
          duration: float | None) -> int:
    """Monitor in real time until ``duration``, the end of a file, a source that fails for good, or ``stop``."""
    video = session.video
    started = time.monotonic()
    ended_at: float | None = None
    code = EXIT_OK
    by_user = False
    try:
        while not stop.wait(0.1):
            if _failed_for_good(video):  # its error event said why; nothing more can be analysed
                code = EXIT_FAILED
                break
            if duration is not None and time.monotonic() - started >= duration:
                by_user = True
                break
            status = video.status() if video is not None else None
            if status is not None and status.state == "ended":
                ended_at = ended_at or time.monotonic()
                stats = session.stats()
                accounted = stats.worker.completed + stats.scheduler.superseded
                if stats.scheduler.windows_cut == accounted and time.monotonic() - ended_at > IDLE_AFTER_END_S:
                    break
        else:
            by_user = True
    finally:
        ok = _shut_down(session, worker)
    _err(f"{printer.results} windows analysed")
    if code == EXIT_OK and printer.results == 0:
        code = _nothing_analysed(session, by_user, duration)
    return code if ok else EXIT_FAILED


def _nothing_analysed(session: LiveSession, by_user: bool, duration: float | None) -> int:
    """The exit status of a run that produced no result, with a line saying why (the source was healthy)."""
    short = session.file_shorter_than_a_window()
    if short is not None:
        _err(f"error: the file lasts {short:.1f} s, less than one {session.window_s:g} s window: pass a shorter "
             "--window")
        return EXIT_FAILED
    if session.stats().worker.failed:
        return EXIT_FAILED  # each failure was reported as it happened
    if by_user:  # stopped on request (Ctrl-C, --duration) before the first result: not a failure
        if duration is not None:
            _err(f"warning: no window was analysed within --duration {duration:g} s (a window needs "
                 f"{session.window_s:g} s of capture plus the model's time)")
        return EXIT_OK
    _err("error: the source ended before a window could be analysed")
    return EXIT_FAILED


def _every_window(session: LiveSession, worker: InferenceWorker, printer: _Printer, stop: threading.Event,
                  duration: float | None) -> int:
    """Every window of the file, one after the other; ``duration`` bounds the wall time."""
    timer = threading.Timer(duration, stop.set) if duration is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    started = time.monotonic()
    code = EXIT_OK
    try:
        cut = session.analyze_every_window(stop)
    except RuntimeError as exc:  # core.pipeline.EveryWindowError is one
        _err(f"error: {exc}")
        cut, code = 0, EXIT_FAILED
    finally:
        if timer is not None:
            timer.cancel()
        source_failed = _failed_for_good(session.video)  # before stop(): a stopped source reads "stopped"
        ok = _shut_down(session, worker)
    failed = session.stats().worker.failed
    _err(f"{printer.results} of {cut} windows analysed in {time.monotonic() - started:.1f} s"
         + (f" ({failed} failed)" if failed else ""))
    if code == EXIT_OK and (failed or source_failed):
        code = EXIT_FAILED  # a window the model could not analyse, or a file damaged half-way: said as it happened
    elif code == EXIT_OK and printer.results == 0:
        code = _nothing_analysed(session, stop.is_set(), duration)
    return code if ok else EXIT_FAILED
