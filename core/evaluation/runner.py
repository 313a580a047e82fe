"""The decode → analyse → log loop shared by ``evaluate`` and folder ``analyze``.

One background thread decodes the next clips (``PREFETCH_CLIPS`` ahead, bounded queue) while the
calling thread runs the model, so decoding is hidden behind generation on any device. Every clip
ends as one JSONL record, flushed at once (``core.evaluation.log``); a rerun with the same log
skips the clips already there and retries only those the model failed on. A clip that cannot be
decoded is recorded with ``status = "decode_error"`` and skipped, never fatal. Systematic model
failures (``MAX_CONSECUTIVE_MODEL_ERRORS`` in a row, none succeeded) stop the run with the error.

With ``RunOptions.batch_size`` N > 1, groups of N decoded clips (fewer at the end) go through the model's
``analyze_batch`` at once (clips with and without sound in separate sub-batches, as each needs its own
modal); the records, the log and resume are the same as one by one. If a batch fails (out of memory, say),
its clips are analysed one by one instead and a warning says so once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from core import labels as _labels
from core.consistency import check as check_consistency
from core.evaluation.log import RecordLog
from core.evaluation.progress import Progress
from core.evaluation.scoring import predict
from core.model.preprocess import IMAGE_SIZE_PX
from core.window import AUDIO_MISSING, AUDIO_OK, DEFAULT_MODEL_FRAMES

if TYPE_CHECKING:
    import numpy as np

    from core.results import AnalysisResult

log = logging.getLogger(__name__)

PREFETCH_CLIPS = 2  # decoded clips waiting for the model (each holds all frames of one clip)
MAX_CONSECUTIVE_MODEL_ERRORS = 5

STATUS_OK = "ok"
STATUS_DECODE_ERROR = "decode_error"
STATUS_MODEL_ERROR = "model_error"
FINAL_STATUSES = frozenset({STATUS_OK, STATUS_DECODE_ERROR})  # not retried on resume

MODALS = ("video_audio", "video")


class Analyzer(Protocol):
    """What a run needs from a model: ``core.model``'s ``R1OmniModel`` or a server's ``RemoteModel``
    (``analyze``; ``analyze_batch`` when ``batch_size`` > 1; ``info`` and ``close`` for the one-clip command).
    frames uint8 [T, H, W, 3] RGB, audio float32 [S] at 16 kHz or None."""

    def analyze(self, frames: np.ndarray, audio: np.ndarray | None, instruction: str, *,
                max_new_tokens: int = ..., on_token: Callable[[str], None] | None = ..., label_set: str = ...,
                modal: str | None = ..., scores: bool = ...) -> AnalysisResult: ...

    def analyze_batch(self, clips: list[tuple[np.ndarray, np.ndarray | None]], instruction: str, *,
                      max_new_tokens: int = ..., label_set: str = ...,
                      modal: str | None = ...) -> list[AnalysisResult]: ...

    def info(self, hash_weights: bool | None = ...) -> dict[str, Any]: ...

    def close(self) -> None: ...


ClipReader = Callable[[Path], Any]  # core.clip_decode.read_clip: path -> Clip(frames, fps, audio, warnings)


@dataclass(frozen=True)
class Job:
    key: str  # unique within the run; the resume key
    path: Path
    truth: str | None = None  # ground-truth label (evaluation) or None (batch analysis)


@dataclass(frozen=True)
class RunOptions:
    instruction: str
    label_set: str  # name passed to the model: dfew | mafw | ravdess | free (custom sets ask "free")
    labels: tuple[str, ...] | None  # the set predictions are parsed against (None = free)
    modal: str = "video_audio"
    max_new_tokens: int = 256
    scores: bool = False  # per-label preference scores (one extra batched forward per clip)
    batch_size: int = 1  # clips analysed together (analyze_batch); 1 = one by one with analyze

    def __post_init__(self) -> None:
        if self.modal not in MODALS:
            raise ValueError(f"modal {self.modal!r}: use one of {', '.join(MODALS)}")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.batch_size < 1:
            raise ValueError(f"batch size {self.batch_size}: use 1 (one clip at a time) or more")
        if self.scores and self.batch_size > 1:
            raise ValueError("label scores are computed one clip at a time: drop --scores or use --batch-size 1")


@dataclass
class RunSummary:
    total: int
    resumed: int = 0  # finished by an earlier run of the same log
    analysed: int = 0  # analysed in this run (ok or model error)
    decode_errors: int = 0
    model_errors: int = 0
    elapsed_s: float = 0.0
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # every record, by key
    interrupted: bool = False

    @property
    def clips_per_s(self) -> float | None:
        """Clips (analysed or failed) finished per second of wall time in this run."""
        n = self.analysed + self.decode_errors
        return n / self.elapsed_s if n and self.elapsed_s > 0 else None


def _default_reader(count: int, side_px: int) -> ClipReader:
    from core.clip_decode import read_clip  # PyAV; imported only when a run starts

    # keep only the ``count`` frames the model samples, reduced for its ``side_px`` input: the same answer, and a
    # queued clip stays small
    return lambda path: read_clip(path, frames="sampled", model_px=side_px, count=count)


def _decode_ahead(
    jobs: Sequence[Job], reader: ClipReader, out: queue.Queue[tuple | None], stop: threading.Event
) -> None:
    """Decoder thread: puts (job, clip | None, error | None, decode_s) per job, then None."""

    def put(item: tuple | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    for job in jobs:
        if stop.is_set():
            return
        t0 = time.perf_counter()
        item: tuple[Job, Any, str | None, float]  # (job, the reader's clip or None, error or None, decode s)
        try:
            item = (job, reader(job.path), None, time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 — any decoder failure is one bad file, not a dead run
            item = (job, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        if not put(item):
            return
    put(None)


def _clip_record(job: Job, clip: Any, result: Any, opts: RunOptions, decode_s: float, total_s: float) -> dict:
    parsed = predict(result.text, opts.labels)
    timings = {"decode_s": round(decode_s, 4), "total_s": round(total_s, 4)}
    timings.update({k: round(float(v), 4) for k, v in dict(result.timings).items()})
    heard = clip.audio is not None and opts.modal == "video_audio"
    # faces are not checked on clips (None): the person check needs them and is left out here
    checks = check_consistency(parsed.think, parsed.label, opts.labels, AUDIO_OK if heard else AUDIO_MISSING, None)
    return {
        "key": job.key,
        "path": str(job.path),
        "truth": job.truth,
        "status": STATUS_OK,
        "prediction": parsed.label,
        "parse_status": parsed.status,
        "answer": parsed.answer,
        "think": parsed.think,
        "text": result.text,
        "scores": dict(result.scores) if getattr(result, "scores", None) is not None else None,
        "n_frames": int(getattr(clip, "n_frames", len(clip.frames))),  # frames in the file
        "fps": float(clip.fps) if clip.fps else None,
        "has_audio": heard,
        "modal": getattr(result, "modal", opts.modal),  # video when the file has no sound
        "profile": getattr(result, "profile", "exact"),
        "warnings": list(getattr(clip, "warnings", ()) or ()),
        "timings": timings,
        "consistency": checks.to_dict(),
        "error": None,
        "finished_at": time.time(),
    }


def _error_record(job: Job, status: str, error: str, decode_s: float) -> dict:
    return {
        "key": job.key, "path": str(job.path), "truth": job.truth, "status": status,
        "prediction": None, "parse_status": None, "answer": None, "think": None, "text": None,
        "error": error, "timings": {"decode_s": round(decode_s, 4)}, "finished_at": time.time(),
    }


def _note(record: dict) -> str:
    name = Path(record["path"]).name
    if record["status"] != STATUS_OK:
        return f"{name}: {record['status']}"
    return f"{name} → {record['prediction'] or record['parse_status']}"


def run_jobs(
    jobs: Iterable[Job],
    model: Analyzer,
    opts: RunOptions,
    result_log: RecordLog,
    settings: dict[str, Any],
    *,
    reader: ClipReader | None = None,
    progress_stream: TextIO | None = None,
    title: str = "",
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Analyse every job not already final in ``result_log``; return what the log now holds.

    Runs on the calling thread (plus one decoder thread). ``settings`` is the run record written
    on a new log and compared on resume (``LogMismatch`` if the experiment differs).
    ``should_stop`` is polled between clips; a stop (or Ctrl-C) leaves a consistent, resumable log.
    """
    jobs = list(jobs)
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("two clips share a key; each clip may appear once per run")
    records = result_log.open(settings)
    todo = [j for j in jobs if records.get(j.key, {}).get("status") not in FINAL_STATUSES]
    summary = RunSummary(total=len(jobs), resumed=len(jobs) - len(todo), records=records)
    if summary.resumed:
        log.info("resuming: %d of %d clips already done in %s", summary.resumed, len(jobs), result_log.path)
    progress = Progress(len(jobs), done=summary.resumed, title=title, stream=progress_stream)
    reader = reader or _default_reader(int(getattr(model, "num_frames", DEFAULT_MODEL_FRAMES)),
                                       int(getattr(model, "image_size", IMAGE_SIZE_PX)))
    decoded: queue.Queue = queue.Queue(maxsize=max(PREFETCH_CLIPS, opts.batch_size))
    stop = threading.Event()
    decoder = threading.Thread(target=_decode_ahead, args=(todo, reader, decoded, stop),
                               name="clip-decoder", daemon=True)
    started = time.perf_counter()
    state = {"consecutive_errors": 0, "any_ok": False, "fallback_said": False}

    def finish(record: dict) -> None:
        records[record["key"]] = result_log.append(record)
        progress.update(failed=record["status"] != STATUS_OK, note=_note(record))

    def model_error(job: Job, exc: Exception, decode_s: float) -> None:
        state["consecutive_errors"] += 1
        summary.model_errors += 1
        summary.analysed += 1
        log.warning("analysis of %s failed: %s", job.path, exc)
        finish(_error_record(job, STATUS_MODEL_ERROR, f"{type(exc).__name__}: {exc}", decode_s))
        if not state["any_ok"] and state["consecutive_errors"] >= MAX_CONSECUTIVE_MODEL_ERRORS:
            raise RuntimeError(
                f"the model failed on the first {state['consecutive_errors']} clips; last error: {exc}"
            ) from exc

    def ok(job: Job, clip: Any, result: Any, decode_s: float, model_s: float) -> None:
        state["consecutive_errors"], state["any_ok"] = 0, True
        summary.analysed += 1
        finish(_clip_record(job, clip, result, opts, decode_s, decode_s + model_s))

    def one(job: Job, clip: Any, decode_s: float) -> None:
        t0 = time.perf_counter()
        audio = clip.audio if opts.modal == "video_audio" else None
        kwargs: dict[str, Any] = {"max_new_tokens": opts.max_new_tokens, "label_set": opts.label_set}
        if opts.scores:
            kwargs["scores"] = True
        try:
            result = model.analyze(clip.frames, audio, opts.instruction, **kwargs)
        except Exception as exc:  # noqa: BLE001 — recorded; retried when the run is resumed
            model_error(job, exc, decode_s)
            return
        ok(job, clip, result, decode_s, time.perf_counter() - t0)

    def batch(group: list[tuple[Job, Any, float]]) -> None:
        audio = [clip.audio if opts.modal == "video_audio" else None for _, clip, _ in group]
        t0 = time.perf_counter()
        try:
            results = model.analyze_batch([(clip.frames, a) for (_, clip, _), a in zip(group, audio)],
                                          opts.instruction, max_new_tokens=opts.max_new_tokens,
                                          label_set=opts.label_set)
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} clips")
        except Exception as exc:  # noqa: BLE001 — e.g. out of memory: the clips still get analysed
            if not state["fallback_said"]:
                state["fallback_said"] = True
                msg = (f"batched analysis failed ({type(exc).__name__}: {exc}); analysing such groups one clip "
                       "at a time (a smaller --batch-size may avoid this)")
                log.warning("%s", msg)
                print(f"warning: {msg}", file=progress.stream, flush=True)
            for job, clip, decode_s in group:
                one(job, clip, decode_s)
            return
        model_s = (time.perf_counter() - t0) / len(group)
        for (job, clip, decode_s), result in zip(group, results):
            ok(job, clip, result, decode_s, model_s)

    def analyze(group: list[tuple[Job, Any, float]]) -> None:
        if opts.batch_size == 1:
            for job, clip, decode_s in group:
                one(job, clip, decode_s)
            return
        # clips without sound are analysed video-only: they cannot share a batch with clips that have it
        for has_audio in (True, False):
            part = [g for g in group if (opts.modal == "video_audio" and g[1].audio is not None) == has_audio]
            if part:
                batch(part)

    decoder.start()
    try:
        ended = False
        while not ended:
            if should_stop is not None and should_stop():
                summary.interrupted = True
                break
            group: list[tuple[Job, Any, float]] = []
            while len(group) < opts.batch_size:
                item = decoded.get()
                if item is None:
                    ended = True
                    break
                job, clip, error, decode_s = item
                if clip is None:
                    summary.decode_errors += 1
                    log.warning("skipped %s: cannot decode (%s)", job.path, error)
                    finish(_error_record(job, STATUS_DECODE_ERROR, error, decode_s))
                else:
                    group.append((job, clip, decode_s))
            analyze(group)
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        stop.set()
        summary.elapsed_s = time.perf_counter() - started
        result_log.close()
        progress.finish()
        decoder.join(timeout=5)
    return summary


def model_label_set(set_name: str) -> str:
    """Label-set name to ask the model with: a custom set (``--labels FILE``) is parsed here, so the
    model runs in free mode for it (and gives no per-label scores)."""
    return set_name if set_name in _labels.LABEL_SETS else _labels.FREE


def resolve_instruction(text: str | None, default: str) -> str:
    """``--instruct`` value → instruction text: a preset name (``evaluation``, ``official``) or the text."""
    from core.engine import INSTRUCTION_PRESETS

    if text is None:
        return INSTRUCTION_PRESETS[default]
    preset = INSTRUCTION_PRESETS.get(text.strip().lower())
    if preset is not None:
        return preset
    if not text.strip():
        raise ValueError("--instruct is empty: give a question for the model or a preset "
                         f"({', '.join(INSTRUCTION_PRESETS)})")
    return text.replace("\\n", "\n")


def load_analyzer(model_dir: str | Path, device: str = "auto", dtype: str = "auto",
                  profile: str = "exact") -> Analyzer:
    """Load the model folder for a run (heavy imports happen here, not at module import). A model server
    (``--model https://HOST:PORT``) is loaded with ``load_remote_analyzer``, which takes its token and trust: every
    caller checks for one first, and a ``--ray`` run refuses one."""
    from core.model import load_model

    return load_model(str(model_dir), device=device, dtype=dtype, profile=profile)


def load_remote_analyzer(target: Any) -> Analyzer:
    """The model of a server (``core.serve.client.RemoteTarget``: address, token, trust); device and precision
    are the server's. Asks the server for its model now, so a wrong address or token fails before the run."""
    from core.serve.client import RemoteModel

    model = RemoteModel(target)
    model.fetch_info()
    return model


def model_identity(model: str | Path) -> str:
    """How a run's settings name its model: a server's address as given, a folder as its absolute path."""
    from core.serve.client import is_remote_model

    return str(model) if is_remote_model(str(model)) else str(Path(model).resolve())
