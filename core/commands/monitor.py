"""Headless live monitoring: capture, analyse every window, print one JSON line per result, optionally record.

    python main.py monitor --source camera --model DIR [--record DIR] [--duration S]

Results go to stdout as they are produced (one JSON object per line, the same fields as the session log);
progress, device events and warnings go to stderr. Stops after --duration seconds, when a media file ends
(after its last window is analysed), or on Ctrl-C / SIGTERM, shutting down in order.

A media file plays in real time like a camera, so a model slower than the hop skips windows (newest wins).
``--every-window`` analyses every window of a file instead, as fast as the model allows (the session clock
follows the model, not the wall): a complete emotion timeline of a recording, with --record a session bundle
that replays and exports like a live one.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from core.clock import FakeClock
from core.engine import AnalysisParams, LoadRequest, resolve_instruction
from core.pipeline import LiveSession, SessionListener
from core.scheduler import DEFAULT_HOP_S, DEFAULT_WINDOW_S
from core.sources import open_sources

IDLE_AFTER_END_S = 1.0  # a finished file: wait this long for the scheduler to cut its last window


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="camera", help="camera[:N] | demo | synthetic | FILE | URL")
    parser.add_argument("--mic", default=None, help="microphone index or name substring; 'none' for video only")
    parser.add_argument("--model", required=True, help="R1-Omni model folder (see `main.py download`)")
    parser.add_argument("--record", default=None, metavar="DIR", help="record the session bundle into DIR")
    parser.add_argument("--analysis-only", action="store_true", help="record the log only, no audio/video")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW_S, help="window length, seconds")
    parser.add_argument("--hop", type=float, default=DEFAULT_HOP_S, help="time between windows, seconds")
    parser.add_argument("--labels", default="dfew", help="dfew | mafw | ravdess | free")
    parser.add_argument("--preset", default="official", choices=["official", "evaluation", "custom"])
    parser.add_argument("--instruct", default="", help="custom instruction (implies --preset custom)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--no-scores", action="store_true", help="skip the per-label preference scores")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--profile", default="exact", choices=["exact", "fast"],
                        help="fast: approximate, quicker on a CPU; every result carries \"profile\"")
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--every-window", action="store_true",
                        help="a media file: analyse every window, as fast as the model allows (not in real time)")
    parser.add_argument("--accept-usage-policy", action="store_true",
                        help="record that the R1-Omni usage policy was shown and accepted (stored in the session)")


class _Printer(SessionListener):
    def __init__(self) -> None:
        self.loaded = threading.Event()
        self.failed = threading.Event()
        self.results = 0
        self.busy_since: float | None = None
        self.lock = threading.Lock()

    def _err(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def model_loading(self, message: str) -> None:
        self._err(message)

    def model_loaded(self, info: dict) -> None:
        self._err("model ready: " + ", ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, dict)))
        self.loaded.set()

    def window_started(self, window) -> None:
        self.busy_since = time.monotonic()

    def result_ready(self, result, window) -> None:
        with self.lock:
            self.results += 1
            self.busy_since = None
            print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)

    def error(self, message: str) -> None:
        self.busy_since = None
        self._err(f"error: {message}")
        if not self.loaded.is_set():
            self.failed.set()

    def warning(self, message: str) -> None:
        self._err(f"warning: {message}")

    def source_event(self, event) -> None:
        self._err(f"{event.source}: {event.kind}: {event.message}")

    def recording_started(self, directory: str) -> None:
        self._err(f"recording into {directory}")

    def recording_stopped(self, directory: str, error: str | None) -> None:
        self._err(f"recording stopped ({directory})" + (f": {error}" if error else ""))


def run(args: argparse.Namespace) -> int:
    preset = "custom" if args.instruct else args.preset
    try:
        params = AnalysisParams(
            instruction=resolve_instruction(preset, args.instruct), label_set=args.labels,
            max_new_tokens=args.max_new_tokens, scores=not args.no_scores,
        )
        choice = open_sources(args.source, args.mic)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in choice.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.every_window and (choice.video is None or getattr(choice.video, "kind", "") != "media"):
        print("error: --every-window needs a media file as --source (a camera or microphone runs in real time)",
              file=sys.stderr)
        return 2
    printer = _Printer()
    clock = FakeClock(wall_t0=time.time()) if args.every_window else None
    session = LiveSession(choice.video, choice.audio, printer, args.window, args.hop, params, clock=clock)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # Load the model before capture starts: a file then loses no windows to the load, and the session
    # manifest can name the model and fingerprint its weights.
    session.worker.start()
    session.load_model(LoadRequest(args.model, args.device, args.dtype, warm_up=not args.no_warmup,
                                   profile=args.profile))
    while not (printer.loaded.wait(0.1) or printer.failed.is_set() or stop.is_set()):
        pass
    if printer.failed.is_set() or stop.is_set():
        session.stop()
        return 1 if printer.failed.is_set() else 0
    if not args.every_window:
        session.start()
    if args.record:
        from core.session.manifest import USAGE_NOTICE
        from core.session.writer import RecordOptions

        if not args.accept_usage_policy:
            print(f"note: {USAGE_NOTICE} (pass --accept-usage-policy to record that you accept it)",
                  file=sys.stderr)
        options = RecordOptions.analysis_only() if args.analysis_only else RecordOptions()
        session.start_recording(args.record, options=options, usage_notice_accepted=args.accept_usage_policy)
    if args.every_window:
        return _every_window(session, printer, stop, args.duration)
    started = time.monotonic()
    ended_at: float | None = None
    code = 0
    try:
        while not stop.wait(0.1):
            if printer.failed.is_set():
                code = 1
                break
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            video = choice.video.status() if choice.video is not None else None
            if video is not None and video.state == "ended":
                ended_at = ended_at or time.monotonic()
                sched = session.scheduler.stats()
                accounted = printer.results + sched.superseded + session.worker.stats.failed
                if sched.windows_cut == accounted and time.monotonic() - ended_at > IDLE_AFTER_END_S:
                    break
    finally:
        ok = session.stop()
    print(f"{printer.results} windows analysed", file=sys.stderr)
    return code if ok else 1


def _every_window(session: LiveSession, printer: _Printer, stop: threading.Event, duration: float | None) -> int:
    """Every window of the file, one after the other; ``duration`` bounds the wall time."""
    timer = threading.Timer(duration, stop.set) if duration is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    started = time.monotonic()
    code = 0
    try:
        cut = session.analyse_every_window(stop)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        cut, code = 0, 1
    finally:
        if timer is not None:
            timer.cancel()
        ok = session.stop()
    failed = session.worker.stats.failed
    short = session.file_shorter_than_a_window()
    if cut == 0 and code == 0 and short is not None:
        print(f"warning: the file lasts {short:.1f} s, less than one {session.window_s:g} s window: pass a "
              "shorter --window", file=sys.stderr)
    print(f"{printer.results} of {cut} windows analysed in {time.monotonic() - started:.1f} s"
          + (f" ({failed} failed)" if failed else ""), file=sys.stderr)
    return code if ok else 1
