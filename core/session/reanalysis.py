"""Re-analysis of a recorded session with another model, instruction or label set, and comparison of two runs.

``reanalyse`` replays every analysed window of a session through ``model.analyze`` as fast as the model
allows (no real-time pacing) and records the results as a new, analysis-only session whose manifest
names the original. Inputs per window, in order of preference (``inputs="auto"``):

- ``frames``: the frames the original analysis used (kept in the bundle; JPEG unless recorded as PNG),
  which is exactly what the model saw, up to compression;
- ``media``: the frames of the recorded video in the window's span (the model samples 8 of them).

Audio comes from the recorded audio for the window's span; windows that were analysed video-only stay
video-only, and a recording without audio gives video-only windows (said in the log).
Runs on the calling thread (a worker thread in the app); ``should_stop`` ends it early, cleanly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from core.faces import DEFAULT_NUM_FRAMES, FaceChecks
from core.results import AnalysisResult, WindowResult
from core.session import events as ev
from core.session.manifest import SessionManifest
from core.session.reader import SessionReader
from core.session.writer import RecordOptions, SessionWriter
from core.window import AUDIO_MISSING, AUDIO_OK, AUDIO_PARTIAL

FULL_AUDIO_COVERAGE = 0.99  # below this the window's audio counts as partial
INPUTS = ("auto", "frames", "media")


class Analyzer(Protocol):
    def analyze(
        self,
        frames: np.ndarray,
        audio: np.ndarray | None,
        instruction: str,
        *,
        max_new_tokens: int = ...,
        label_set: str = ...,
        scores: bool = ...,
    ) -> AnalysisResult: ...


class ReanalysisError(ValueError):
    """The session cannot be re-analysed as asked; the message names the problem and the fix."""


@dataclass(frozen=True)
class ReanalysisReport:
    out_dir: Path
    windows: int  # analysed
    failed: tuple[int, ...]  # window ids whose analysis raised (logged as errors)
    skipped: tuple[int, ...]  # window ids without usable inputs
    seconds: float
    stopped_early: bool

    @property
    def windows_per_s(self) -> float:
        return self.windows / self.seconds if self.seconds > 0 else 0.0


def _window_inputs(reader: SessionReader, w: dict[str, Any], inputs: str) -> tuple[np.ndarray | None, str]:
    """(uint8 [N,H,W,3] frames or None, where they came from)."""
    if inputs in ("auto", "frames"):
        got = reader.window_frames(w)
        if got is not None:
            return got[1], "frames"
        if inputs == "frames":
            return None, "frames"
    if reader.has_video:
        _, frames = reader.video.frames_between(w["t0"], w["t1"])
        if len(frames):
            return frames, "media"
    return None, "media"


def _window_audio(reader: SessionReader, w: dict[str, Any], has_audio: bool) -> tuple[np.ndarray | None, str]:
    if w.get("modal") == "video" or not has_audio:
        return None, AUDIO_MISSING
    pcm, covered = reader.audio(w["t0"], w["t1"])
    if covered <= 0:
        return None, AUDIO_MISSING
    return pcm, AUDIO_OK if covered >= FULL_AUDIO_COVERAGE else AUDIO_PARTIAL


def reanalyse(
    session_dir: str | os.PathLike[str],
    model: Analyzer,
    instruction: str | None = None,
    label_set: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    max_new_tokens: int | None = None,
    scores: bool = True,
    inputs: str = "auto",
    on_progress: Callable[[int, int, WindowResult | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReanalysisReport:
    """Analyse the windows of ``session_dir`` again into ``out_dir`` (default: a sibling folder).

    ``instruction`` / ``label_set`` / ``max_new_tokens`` default to the original session's.
    ``on_progress(done, total, result)`` is called after each window on this thread.
    """
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
    src = SessionReader(session_dir)
    orig = src.manifest
    windows = src.windows
    if not windows:
        raise ReanalysisError(f"{session_dir} has no analysed windows to re-analyse")
    has_frames = any(w.get("frames") for w in windows)
    if not has_frames and not src.has_video:
        raise ReanalysisError(
            f"{session_dir} was recorded without video or window frames (analysis only), so there is nothing "
            "to show the model again. Record with video or with window frames to re-analyse later."
        )
    instruction = orig.instruction if instruction is None else instruction
    label_set = orig.label_set if label_set is None else label_set
    max_new_tokens = int(max_new_tokens or orig.generation.get("max_new_tokens") or 256)
    src_path = Path(session_dir).resolve()
    if out_dir is None:
        out_dir = src_path.parent / f"{src_path.name}-reanalysis-{time.strftime('%Y%m%d-%H%M%S')}"
    model_dir = getattr(model, "model_dir", None)
    manifest = SessionManifest.for_model(
        model_dir,
        clock_origin_wall=orig.clock_origin_wall,
        window_s=orig.window_s,
        hop_s=orig.hop_s,
        instruction=instruction,
        label_set=label_set,
        generation={"max_new_tokens": max_new_tokens, "do_sample": False, "scores": scores},
        devices=dict(orig.devices),
        usage_notice_accepted=orig.usage_notice_accepted,
        usage_notice=orig.usage_notice,
        source_session=str(src_path),
        source_session_id=orig.session_id,
        extra={"reanalysis_inputs": inputs},
    )
    errors: list[str] = []
    now = [windows[0]["t0"]]
    writer = SessionWriter(
        out_dir, manifest, RecordOptions.analysis_only(), errors.append, clock=lambda: now[0]
    )
    if not writer.start():
        raise ReanalysisError(errors[0] if errors else f"cannot create {out_dir}")
    writer.write_event(
        "reanalysis",
        source_session=str(src_path),
        source_session_id=orig.session_id,
        windows=len(windows),
        inputs=inputs,
    )
    if not src.has_audio and any(w.get("modal") != "video" for w in windows):
        writer.write_event(
            ev.ERROR, message="the original recording has no audio: windows are re-analysed video-only"
        )
    for m in src.markers:
        writer.add_marker(m["kind"], m.get("text", ""), t=m["t"])
    failed, skipped = [], []
    done = 0
    stopped = False
    t_start = time.perf_counter()
    has_audio = src.has_audio
    face_checks = FaceChecks()
    for i, w in enumerate(windows):
        if should_stop is not None and should_stop():
            stopped = True
            break
        now[0] = w["t1"]
        frames, origin = _window_inputs(src, w, inputs)
        if frames is None:
            skipped.append(w["window_id"])
            writer.write_event(
                ev.DROPPED,
                window_id=w["window_id"],
                t0=w["t0"],
                t1=w["t1"],
                reason=f"no {origin} recorded for this window",
            )
            if on_progress:
                on_progress(i + 1, len(windows), None)
            continue
        audio, audio_status = _window_audio(src, w, has_audio)
        faces = face_checks.submit(frames, getattr(model, "num_frames", DEFAULT_NUM_FRAMES))
        try:
            analysis = model.analyze(
                frames, audio, instruction, max_new_tokens=max_new_tokens, label_set=label_set, scores=scores
            )
        except Exception as e:  # noqa: BLE001 — one bad window must not end the run; it is logged
            failed.append(w["window_id"])
            writer.write_event(ev.ERROR, window_id=w["window_id"], message=f"analysis failed: {e}")
            if on_progress:
                on_progress(i + 1, len(windows), None)
            continue
        result = WindowResult(
            window_id=w["window_id"],
            t0=w["t0"],
            t1=w["t1"],
            wall_t0=w["wall_t0"],
            analysis=analysis,
            audio_status=audio_status,
            finished_at=w["t1"],
            faces=face_checks.result(faces),
        )
        writer.write_result(result)
        done += 1
        if on_progress:
            on_progress(i + 1, len(windows), result)
    seconds = time.perf_counter() - t_start
    face_checks.close()
    writer.stop()
    if errors:
        raise ReanalysisError(errors[0])
    return ReanalysisReport(Path(out_dir), done, tuple(failed), tuple(skipped), seconds, stopped)


# ---------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Disagreement:
    window_id: int
    t0: float
    t1: float
    label_a: str | None
    label_b: str | None
    status_a: str
    status_b: str
    think_a: str | None
    think_b: str | None


@dataclass(frozen=True)
class Comparison:
    common: int  # windows present in both (same id and span)
    agree: int
    disagreements: tuple[Disagreement, ...]
    only_in_a: tuple[int, ...]
    only_in_b: tuple[int, ...]
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)  # (label_a, label_b) -> count

    @property
    def agreement(self) -> float:
        return self.agree / self.common if self.common else 0.0


def compare(
    a: str | os.PathLike[str] | SessionReader, b: str | os.PathLike[str] | SessionReader
) -> Comparison:
    """Windows of two sessions (typically an original and its re-analysis) whose labels differ.

    Windows are matched by id and span; a window without a label (unparsed answer) on either side
    disagrees unless both lack one. ``confusion`` counts (label in a, label in b) pairs, ``-`` for none.
    """
    ra = a if isinstance(a, SessionReader) else SessionReader(a)
    rb = b if isinstance(b, SessionReader) else SessionReader(b)
    key = lambda w: (w["window_id"], round(w["t0"], 6), round(w["t1"], 6))  # noqa: E731
    wa = {key(w): w for w in ra.windows}
    wb = {key(w): w for w in rb.windows}
    common = sorted(set(wa) & set(wb), key=lambda k: (k[1], k[0]))
    out: list[Disagreement] = []
    confusion: dict[tuple[str, str], int] = {}
    for k in common:
        x, y = wa[k], wb[k]
        pair = (x.get("label") or "-", y.get("label") or "-")
        confusion[pair] = confusion.get(pair, 0) + 1
        if x.get("label") != y.get("label"):
            out.append(
                Disagreement(
                    k[0],
                    x["t0"],
                    x["t1"],
                    x.get("label"),
                    y.get("label"),
                    x.get("parse_status", ""),
                    y.get("parse_status", ""),
                    x.get("think"),
                    y.get("think"),
                )
            )
    return Comparison(
        len(common),
        len(common) - len(out),
        tuple(out),
        tuple(sorted(k[0] for k in set(wa) - set(wb))),
        tuple(sorted(k[0] for k in set(wb) - set(wa))),
        confusion,
    )


# ---------------------------------------------------------------- command line
def configure(parser: Any) -> None:
    """``python -m core.session.reanalysis SESSION --model DIR [...]`` (also usable as a main.py command)."""
    parser.add_argument("session", help="the recorded session folder")
    parser.add_argument("--model", help="model folder to analyse with (see `main.py download`)")
    parser.add_argument("--instruct", default=None, help="instruction (default: the session's)")
    parser.add_argument(
        "--labels", default=None, help="dfew | mafw | ravdess | free (default: the session's)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument(
        "--inputs", default="auto", choices=INPUTS, help="kept frames, recorded video, or auto"
    )
    parser.add_argument("--out", default=None, help="new session folder (default: next to the original)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--profile", default="exact", choices=("exact", "fast"),
                        help="fast: approximate (each window says so); compare with --compare OTHER")
    parser.add_argument(
        "--compare", default=None, metavar="OTHER", help="only compare SESSION with OTHER (no model needed)"
    )


def print_comparison(cmp: Comparison, out: Any) -> None:
    print(
        f"{cmp.common} windows in both, {cmp.agree} agree ({100 * cmp.agreement:.0f}%), "
        f"{len(cmp.disagreements)} disagree; only in the first: {len(cmp.only_in_a)}, "
        f"only in the second: {len(cmp.only_in_b)}",
        file=out,
    )
    for d in cmp.disagreements:
        a, b = d.label_a or f"({d.status_a})", d.label_b or f"({d.status_b})"
        print(
            f"  window {d.window_id:5d}  {d.t0:8.1f}-{d.t1:<8.1f} s  {a:>14}  ->  {b}",
            file=out,
        )


def run(args: Any) -> int:
    import sys

    from core.session.manifest import SessionFormatError

    try:
        if args.compare:
            print_comparison(compare(args.session, args.compare), sys.stdout)
            return 0
        if not args.model:
            print("reanalyse: --model DIR is required (or --compare OTHER)", file=sys.stderr)
            return 2
        from core.model import ModelLoadError, load_model

        try:
            model = load_model(args.model, device=args.device, dtype=args.dtype,
                               profile=getattr(args, "profile", "exact"))
        except ModelLoadError as e:
            print(f"reanalyse: {e}", file=sys.stderr)
            return 2

        def progress(done: int, total: int, result: WindowResult | None) -> None:
            label = (
                "(failed or skipped)"
                if result is None
                else result.analysis.label or f"({result.analysis.parse_status})"
            )
            print(f"[{done}/{total}] {label}", file=sys.stderr, flush=True)

        rep = reanalyse(
            args.session,
            model,
            instruction=args.instruct,
            label_set=args.labels,
            out_dir=args.out,
            max_new_tokens=args.max_new_tokens,
            inputs=args.inputs,
            on_progress=progress,
        )
    except (SessionFormatError, ReanalysisError) as e:
        print(f"reanalyse: {e}", file=sys.stderr)
        return 2
    print(
        f"{rep.out_dir}: {rep.windows} windows in {rep.seconds:.1f} s ({rep.windows_per_s:.2f} windows/s); "
        f"failed {len(rep.failed)}, skipped {len(rep.skipped)}",
        file=sys.stderr,
    )
    print_comparison(compare(args.session, rep.out_dir), sys.stdout)
    return 1 if rep.failed else 0


if __name__ == "__main__":
    import argparse
    import sys

    _parser = argparse.ArgumentParser(prog="python -m core.session.reanalysis", description=__doc__)
    configure(_parser)
    sys.exit(run(_parser.parse_args()))
