"""Re-analysis of a recorded session with another model, instruction or label set, and comparison of two runs.

``reanalyze`` replays every analysed window of a session through ``model.analyze`` as fast as the model
allows (no real-time pacing) and records the results as a new, analysis-only session whose manifest
names the original. Inputs per window, in order of preference (``inputs="auto"``):

- ``frames``: the frames the original analysis used (kept in the bundle; JPEG unless recorded as PNG),
  which is exactly what the model saw, up to compression;
- ``media``: the frames of the recorded video in the window's span (the model samples 8 of them).

Audio comes from the recorded audio for the window's span; windows that were analysed video-only stay
video-only, and a recording without audio gives video-only windows (said in the log).
With ``attribution=True`` every window that has audio is also analysed video-only on the same frames, and what
the voice added (``core.attribution``) is logged beside it, as the live app does.
Runs on the calling thread (a worker thread in the app); ``should_stop`` ends it early, cleanly.

The original is read through the checked bundle reader: a kept frame that is missing, refused or cannot be
decoded makes ``auto`` fall back to the recorded video, else the window is skipped with the reason in the
new log. The new session is written into a hidden folder beside ``out_dir`` and renamed into place when it
is complete, so a failed run leaves no half-written session behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core import labels as _labels
from core.attribution import ATTRIBUTION_EVENT, Attribution, attribution_of, summary_counts
from core.faces import FaceChecks
from core.results import AnalysisResult, WindowResult
from core.session import events as ev
from core.session.errors import SessionFormatError
from core.session.export.common import listed
from core.session.export.escaping import one_line, terminal_safe
from core.session.manifest import SessionManifest
from core.session.reader import SessionReader
from core.session.records import LoggedWindow
from core.session.writer import RecordOptions, SessionWriter
from core.window import AUDIO_MISSING, AUDIO_OK, AUDIO_PARTIAL, DEFAULT_MODEL_FRAMES

FULL_AUDIO_COVERAGE = 0.99  # below this the window's audio counts as partial
INPUTS = ("auto", "frames", "media")
DEFAULT_MAX_NEW_TOKENS = 256
MAX_NEW_TOKENS = 8192  # a manifest asking for more is not believed; the default is used
PARTIAL_PREFIX = "."  # the hidden folder a run writes into before it is renamed into place


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
    left_out: tuple[str, ...] = ()  # parts of the original that could not be used (damaged lines, refused files)
    attributions: tuple[Attribution, ...] = ()  # with ``attribution=True``: what the voice added, per window

    @property
    def windows_per_s(self) -> float:
        return self.windows / self.seconds if self.seconds > 0 else 0.0


def _window_inputs(reader: SessionReader, w: LoggedWindow, inputs: str) -> tuple[np.ndarray | None, str, str | None]:
    """(uint8 [N,H,W,3] frames or None, where they came from, why the kept frames were not usable)."""
    problem = None
    if inputs in ("auto", "frames"):
        try:
            got = reader.load_window_frames(w)
        except (OSError, SessionFormatError) as e:  # missing, refused or undecodable kept frames
            got, problem = None, str(e)
        if got is not None:
            return got[1], "frames", None
        if inputs == "frames":
            return None, "frames", problem
    if reader.has_video:
        _, frames = reader.video.frames_between(w.t0, w.t1)
        if len(frames):
            return frames, "media", problem
    return None, "media", problem


def _window_audio(reader: SessionReader, w: LoggedWindow, has_audio: bool) -> tuple[np.ndarray | None, str]:
    if w.analysis.modal == "video" or not has_audio:
        return None, AUDIO_MISSING
    pcm, covered = reader.audio(w.t0, w.t1)
    if covered <= 0:
        return None, AUDIO_MISSING
    return pcm, AUDIO_OK if covered >= FULL_AUDIO_COVERAGE else AUDIO_PARTIAL


def max_new_tokens_for(manifest: SessionManifest, asked: int | None = None) -> int:
    """``asked``, else the original's setting when it is a plausible count, else the default."""
    if asked:
        return int(asked)
    recorded = manifest.generation.get("max_new_tokens")
    if type(recorded) is int and 1 <= recorded <= MAX_NEW_TOKENS:
        return recorded
    return DEFAULT_MAX_NEW_TOKENS


def _partial_folder(out_dir: Path) -> Path:
    """A new hidden folder beside ``out_dir`` (same filesystem: the final rename is atomic), made with the
    usual permissions. ``out_dir`` itself must not exist yet, or be an empty folder (not a symlink)."""
    if out_dir.is_symlink() or (out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir()))):
        raise ReanalysisError(f"{out_dir} already exists and is not an empty folder; choose a new --out folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(16):
        partial = out_dir.with_name(f"{PARTIAL_PREFIX}{out_dir.name}.{secrets.token_hex(6)}.partial")
        try:
            partial.mkdir()  # fails if anything, a symlink too, is already there
        except FileExistsError:
            continue
        return partial
    raise FileExistsError(f"no free temporary name beside {out_dir}")


def _move_into_place(partial: Path, out_dir: Path) -> None:
    if out_dir.is_dir() and not out_dir.is_symlink():
        out_dir.rmdir()  # empty (checked before the run); fails loudly if something appeared meanwhile
    os.rename(partial, out_dir)


def reanalyze(
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
    attribution: bool = False,
) -> ReanalysisReport:
    """Analyse the windows of ``session_dir`` again into ``out_dir`` (default: a sibling folder).

    ``instruction`` / ``label_set`` / ``max_new_tokens`` default to the original session's.
    ``on_progress(done, total, result)`` is called after each window on this thread. ``attribution``: also re-run
    each window that has audio video-only and log what the voice added.
    """
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
    src = SessionReader(session_dir)
    orig = src.manifest
    windows = src.logged_windows
    if not windows:
        raise ReanalysisError(f"{session_dir} has no analysed windows to re-analyse")
    has_frames = any(w.frames for w in windows)
    if not has_frames and not src.has_video:
        raise ReanalysisError(
            f"{session_dir} was recorded without video or window frames (analysis only), so there is nothing "
            "to show the model again. Record with video or with window frames to re-analyse later."
        )
    instruction = orig.instruction if instruction is None else instruction
    label_set = orig.label_set if label_set is None else label_set
    max_new_tokens = max_new_tokens_for(orig, max_new_tokens)
    src_path = Path(session_dir).resolve()
    if out_dir is None:
        out_dir = src_path.parent / f"{src_path.name}-reanalysis-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir = Path(out_dir)
    try:
        _labels.label_set(label_set)
    except ValueError as e:
        raise ReanalysisError(str(e)) from None
    try:
        partial = _partial_folder(out_dir)
    except OSError as e:
        raise ReanalysisError(f"cannot create the new session beside {out_dir}: {e}; choose another --out") from None
    try:
        job = _Job(model, instruction, label_set, max_new_tokens, scores, inputs, on_progress, should_stop,
                   attribution)
        done, failed, skipped, seconds, stopped, attributed = _run(src, job, partial)
        _move_into_place(partial, out_dir)
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise ReanalysisError(f"cannot put the new session at {out_dir}: {e}; choose another --out") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ReanalysisReport(out_dir, done, failed, skipped, seconds, stopped, left_out=src.problems(),
                            attributions=attributed)


@dataclass(frozen=True)
class _Job:
    """What one re-analysis asks for (the arguments of :func:`reanalyze`, resolved)."""

    model: Analyzer
    instruction: str
    label_set: str
    max_new_tokens: int
    scores: bool
    inputs: str
    on_progress: Callable[[int, int, WindowResult | None], None] | None
    should_stop: Callable[[], bool] | None
    attribution: bool = False  # also re-run each window with audio video-only (core.attribution)


def _model_generation(model: Any) -> dict[str, Any]:
    """Device, precision and profile (exact, or fast: approximate) of the model a re-analysis ran, as recorded."""
    try:
        info = model.info() if hasattr(model, "info") else {}
    except Exception:  # noqa: BLE001 — a stand-in model may describe nothing; the manifest then says nothing
        info = {}
    keys = ("device", "dtype", "precision", "profile", "profile_detail")
    return {k: info[k] for k in keys if isinstance(info.get(k), str)}


def _new_manifest(src: SessionReader, job: _Job) -> SessionManifest:
    orig = src.manifest
    return SessionManifest.for_model(
        getattr(job.model, "model_dir", None),
        clock_origin_wall=orig.clock_origin_wall,
        window_s=orig.window_s,
        hop_s=orig.hop_s,
        instruction=job.instruction,
        label_set=job.label_set,
        generation={"max_new_tokens": job.max_new_tokens, "do_sample": False, "scores": job.scores,
                    **_model_generation(job.model)},
        devices=dict(orig.devices),
        usage_notice_accepted=orig.usage_notice_accepted,
        usage_notice=orig.usage_notice,
        source_session=str(src.path.resolve()),
        source_session_id=orig.session_id,
        extra={"reanalysis_inputs": job.inputs, "attribution": job.attribution},
    )


def _write_preamble(src: SessionReader, writer: SessionWriter, job: _Job, has_audio: bool) -> None:
    """The log lines that say what this run is: its source, a missing-audio note, the original's markers."""
    windows = src.logged_windows
    writer.write_event(
        "reanalysis",
        source_session=str(src.path.resolve()),
        source_session_id=src.manifest.session_id,
        windows=len(windows),
        inputs=job.inputs,
    )
    if not has_audio and any(w.analysis.modal != "video" for w in windows):
        writer.write_event(ev.ERROR, message="the original recording has no audio: windows are re-analysed video-only")
    for m in src.logged_markers:
        if m.kind in ev.MARKER_KINDS:
            writer.add_marker(m.kind, m.text, t=m.t)
        else:  # a kind this app does not write: kept as a custom marker that names it
            writer.add_marker("custom", f"{m.kind}: {m.text}" if m.text else m.kind, t=m.t)


def _analyze_window(
    src: SessionReader, w: LoggedWindow, job: _Job, writer: SessionWriter, face_checks: FaceChecks,
    attributed: list[Attribution], has_audio: bool,
) -> WindowResult | str:
    """The new result of one window, or why there is none (``"skipped"`` / ``"failed"``, logged); with
    ``job.attribution``, what the voice added goes to the log and to ``attributed``. ``has_audio``: whether
    the original has audio segments (found once per run: it lists audio/ and reads every sidecar)."""
    frames, origin, problem = _window_inputs(src, w, job.inputs)
    if problem is not None:
        writer.write_event(ev.ERROR, window_id=w.window_id, message=f"kept frames not used: {problem}")
    if frames is None:
        writer.write_event(
            ev.DROPPED,
            window_id=w.window_id,
            t0=w.t0,
            t1=w.t1,
            reason=f"no usable {origin} recorded for this window" + (f" ({problem})" if problem else ""),
        )
        return "skipped"
    audio, audio_status = _window_audio(src, w, has_audio)
    faces = face_checks.submit(frames, getattr(job.model, "num_frames", DEFAULT_MODEL_FRAMES))
    try:
        analysis = job.model.analyze(
            frames,
            audio,
            job.instruction,
            max_new_tokens=job.max_new_tokens,
            label_set=job.label_set,
            scores=job.scores,
        )
    except Exception as e:  # noqa: BLE001 — one bad window must not end the run; it is logged
        writer.write_event(ev.ERROR, window_id=w.window_id, message=f"analysis failed: {e}")
        return "failed"
    result = WindowResult(
        window_id=w.window_id,
        t0=w.t0,
        t1=w.t1,
        wall_t0=w.result.wall_t0,
        analysis=analysis,
        audio_status=audio_status,
        finished_at=w.t1,
        faces=face_checks.result(faces),
    )
    writer.write_result(result)
    if job.attribution and audio is not None:
        a = _attribute(job, writer, result, frames)
        if a is not None:
            attributed.append(a)
    return result


def _attribute(job: _Job, writer: SessionWriter, result: WindowResult, frames: np.ndarray) -> Attribution | None:
    """Re-run a window video-only on the same frames and log what the voice added; None (an error logged) when
    the video-only run fails."""
    started = time.perf_counter()
    try:
        video_only = job.model.analyze(frames, None, job.instruction, max_new_tokens=job.max_new_tokens,
                                       label_set=job.label_set, scores=job.scores)
    except Exception as e:  # noqa: BLE001 — a failed re-run is logged; the window's own result stands
        writer.write_event(ev.ERROR, window_id=result.window_id, message=f"video-only re-run failed: {e}")
        return None
    a = attribution_of(result.window_id, result.t0, result.t1, result.wall_t0, result.analysis, video_only,
                       time.perf_counter() - started)
    writer.write_event(ATTRIBUTION_EVENT, **a.to_dict())
    return a


def _run(
    src: SessionReader, job: _Job, out_dir: Path
) -> tuple[int, tuple[int, ...], tuple[int, ...], float, bool, tuple[Attribution, ...]]:
    """Analyse ``src``'s windows into the new bundle ``out_dir``; (done, failed, skipped, seconds, stopped,
    attributions).

    The writer and the face checks are stopped whatever happens, so nothing keeps writing after an error."""
    windows = src.logged_windows
    errors: list[str] = []
    now = [windows[0].t0]
    writer = SessionWriter(
        out_dir, _new_manifest(src, job), RecordOptions.analysis_only(), errors.append, clock=lambda: now[0]
    )
    if not writer.start():
        raise ReanalysisError(errors[0] if errors else f"cannot create {out_dir}")
    outcomes: dict[str, list[int]] = {"failed": [], "skipped": []}
    attributed: list[Attribution] = []
    done, stopped = 0, False
    t_start = time.perf_counter()
    face_checks = FaceChecks()
    try:
        has_audio = src.has_audio
        _write_preamble(src, writer, job, has_audio)
        for i, w in enumerate(windows):
            if job.should_stop is not None and job.should_stop():
                stopped = True
                break
            now[0] = w.t1
            got = _analyze_window(src, w, job, writer, face_checks, attributed, has_audio)
            if isinstance(got, str):
                outcomes[got].append(w.window_id)
            else:
                done += 1
            if job.on_progress:
                job.on_progress(i + 1, len(windows), None if isinstance(got, str) else got)
        seconds = time.perf_counter() - t_start
    finally:
        face_checks.close()
        writer.stop()
    if errors:
        raise ReanalysisError(errors[0])
    return done, tuple(outcomes["failed"]), tuple(outcomes["skipped"]), seconds, stopped, tuple(attributed)


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


def compare(a: str | os.PathLike[str] | SessionReader, b: str | os.PathLike[str] | SessionReader) -> Comparison:
    """Windows of two sessions (typically an original and its re-analysis) whose labels differ.

    Windows are matched by id and span; a window without a label (unparsed answer) on either side
    disagrees unless both lack one. ``confusion`` counts (label in a, label in b) pairs, ``-`` for none.
    """
    ra = a if isinstance(a, SessionReader) else SessionReader(a)
    rb = b if isinstance(b, SessionReader) else SessionReader(b)

    def key(w: LoggedWindow) -> tuple[int, float, float]:
        return w.window_id, round(w.t0, 6), round(w.t1, 6)

    wa = {key(w): w for w in ra.logged_windows}
    wb = {key(w): w for w in rb.logged_windows}
    common = sorted(set(wa) & set(wb), key=lambda k: (k[1], k[0]))
    out: list[Disagreement] = []
    confusion: dict[tuple[str, str], int] = {}
    for k in common:
        x, y = wa[k].analysis, wb[k].analysis
        pair = (x.label or "-", y.label or "-")
        confusion[pair] = confusion.get(pair, 0) + 1
        if x.label != y.label:
            out.append(
                Disagreement(
                    k[0], wa[k].t0, wa[k].t1, x.label, y.label, x.parse_status, y.parse_status, x.think, y.think
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
    parser.add_argument("--labels", default=None, help="dfew | mafw | ravdess | free (default: the session's)")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--inputs", default="auto", choices=INPUTS, help="kept frames, recorded video, or auto")
    parser.add_argument("--out", default=None, help="new session folder (default: next to the original)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--profile", default="exact", choices=("exact", "fast"),
                        help="fast: approximate (each window says so); compare with --compare OTHER")
    parser.add_argument(
        "--compare", default=None, metavar="OTHER", help="only compare SESSION with OTHER (no model needed)"
    )
    parser.add_argument(
        "--attribution", action="store_true",
        help="also re-run each window with audio video-only and log what the voice added (twice the time)",
    )


def print_comparison(cmp: Comparison, out: Any) -> None:
    """The comparison as text; labels come from bundles, so control characters are replaced."""
    print(
        f"{cmp.common} windows in both, {cmp.agree} agree ({100 * cmp.agreement:.0f}%), "
        f"{len(cmp.disagreements)} disagree; only in the first: {len(cmp.only_in_a)}, "
        f"only in the second: {len(cmp.only_in_b)}",
        file=out,
    )
    for d in cmp.disagreements:
        a, b = one_line(d.label_a or f"({d.status_a})"), one_line(d.label_b or f"({d.status_b})")
        print(
            f"  window {d.window_id:5d}  {d.t0:8.1f}-{d.t1:<8.1f} s  {a:>14}  ->  {b}",
            file=out,
        )


def run(args: Any) -> int:
    import sys

    try:
        if args.compare:
            print_comparison(compare(args.session, args.compare), sys.stdout)
            return 0
        if not args.model:
            print("reanalyze: --model DIR is required (or --compare OTHER)", file=sys.stderr)
            return 2
        from core.model import ModelLoadError, load_model

        try:
            model = load_model(args.model, device=args.device, dtype=args.dtype,
                               profile=getattr(args, "profile", "exact"))
        except ModelLoadError as e:
            print(f"reanalyze: {e}", file=sys.stderr)
            return 2

        def progress(done: int, total: int, result: WindowResult | None) -> None:
            label = (
                "(failed or skipped)"
                if result is None
                else result.analysis.label or f"({result.analysis.parse_status})"
            )
            print(f"[{done}/{total}] {one_line(label)}", file=sys.stderr, flush=True)

        rep = reanalyze(
            args.session,
            model,
            instruction=args.instruct,
            label_set=args.labels,
            out_dir=args.out,
            max_new_tokens=args.max_new_tokens,
            inputs=args.inputs,
            on_progress=progress,
            attribution=args.attribution,
        )
    except (SessionFormatError, ReanalysisError) as e:
        print(terminal_safe(f"reanalyze: {e}"), file=sys.stderr)
        return 2
    for line in listed(rep.left_out):
        print(terminal_safe(f"reanalyze: left out of {args.session}: {line}"), file=sys.stderr)
    print(
        f"{rep.out_dir}: {rep.windows} windows in {rep.seconds:.1f} s ({rep.windows_per_s:.2f} windows/s); "
        f"failed {len(rep.failed)}, skipped {len(rep.skipped)}",
        file=sys.stderr,
    )
    print_comparison(compare(args.session, rep.out_dir), sys.stdout)
    if args.attribution:
        print_attributions(rep.attributions, rep.windows, sys.stdout)
    return 1 if rep.failed else 0


def print_attributions(attributions: tuple[Attribution, ...], windows: int, out: Any) -> None:
    """What the voice added, over the re-analysed windows (labels come from the model: made one line each)."""
    s = summary_counts(attributions)
    print(f"what the voice added: {s['attributed']} of {windows} windows re-run video-only; the voice changed the "
          f"label in {s['label_changed']}, the reasoning in {s['text_changed']}", file=out)
    for change, n in s["changes"].items():
        print(f"  {one_line(change)}: {n}", file=out)


if __name__ == "__main__":
    import argparse
    import sys

    _parser = argparse.ArgumentParser(prog="python -m core.session.reanalysis", description=__doc__)
    configure(_parser)
    sys.exit(run(_parser.parse_args()))
