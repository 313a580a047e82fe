"""Batch analysis of a folder of videos without labels: ``python main.py analyze DIR --out results.jsonl``.

Shares the evaluation machinery (``core.evaluation.runner``): one JSONL record per clip, flushed as
it finishes, resume by rerunning the same command, undecodable files recorded and skipped, a
progress line with rate and ETA, and clips/s at the end. Called lazily by the ``analyze`` command
when its VIDEO argument is a directory.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from core.evaluation import runner
from core.evaluation.dataset import VIDEO_EXTENSIONS, DatasetError, resolve_labels
from core.evaluation.distributed import cluster_options_from_args, run_jobs_on_ray
from core.evaluation.log import LogMismatch, ResultLog, check_resumable
from core.evaluation.runner import (
    STATUS_OK,
    Job,
    RunOptions,
    model_label_set,
    resolve_instruction,
    run_jobs,
)
from core.serve.client import is_remote_model, target_from_args

DEFAULT_OUT_NAME = "results.jsonl"
EXIT_BAD_INPUT = 2
EXIT_MODEL = 3  # as the single-file analyze command
EXIT_INTERRUPTED = 130


def folder_jobs(folder: Path) -> list[Job]:
    """Every video file under ``folder`` (recursive, sorted), keyed by its relative path."""
    paths = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith("."))
    return [Job(p.relative_to(folder).as_posix(), p) for p in paths]


def _label_choice(spec: str | None) -> tuple[str, tuple[str, ...] | None]:
    """``--labels`` for unlabelled analysis: dfew (default) | mafw | ravdess | free (any answer) | FILE."""
    spec = spec or "dfew"
    if spec.strip().lower() == "free":
        return "free", None
    return resolve_labels(spec)


def analyze_folder_cli(args: argparse.Namespace, folder: str | Path | None = None) -> int:
    """Run the model over every video in ``folder`` (default ``args.video``) into ``args.out``.

    ``args``: model, out, instruct, labels, modal, max_new_tokens, device, dtype, batch_size (the
    ``analyze`` command's options). Returns the process exit code.
    """
    folder = Path(folder if folder is not None else args.video)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    jobs = folder_jobs(folder)
    if not jobs:
        kinds = ", ".join(sorted(VIDEO_EXTENSIONS))
        print(f"error: no video files ({kinds}) under {folder}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out) if getattr(args, "out", None) else folder / DEFAULT_OUT_NAME
    if out.is_dir():
        out = out / DEFAULT_OUT_NAME
    try:
        name, labels = _label_choice(getattr(args, "labels", None))
        instruction = resolve_instruction(getattr(args, "instruct", None), "official")
        opts = RunOptions(instruction=instruction, label_set=model_label_set(name), labels=labels,
                          modal=getattr(args, "modal", None) or "video_audio",
                          max_new_tokens=args.max_new_tokens, scores=bool(getattr(args, "scores", False)),
                          batch_size=getattr(args, "batch_size", 1))
        settings: dict[str, Any] = {"model": runner.model_identity(args.model), "instruction": instruction,
                    "labels": list(labels) if labels else "free", "max_new_tokens": opts.max_new_tokens,
                    "modal": opts.modal, "folder": str(folder.resolve()),
                    "device": getattr(args, "device", "auto"), "dtype": getattr(args, "dtype", "auto"),
                    "profile": getattr(args, "profile", "exact")}
        check_resumable(out, settings)
        cluster = cluster_options_from_args(args)
        remote = target_from_args(args) if is_remote_model(args.model) else None
    except (DatasetError, LogMismatch, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{len(jobs)} video(s) under {folder} → {out}", file=sys.stderr)
    if cluster is None:
        try:
            model = (runner.load_remote_analyzer(remote) if remote else
                     runner.load_analyzer(args.model, settings["device"], settings["dtype"], settings["profile"]))
        except Exception as exc:  # noqa: BLE001 — the loader's message says what to fix
            print(f"error: cannot load the model from {args.model}: {exc}", file=sys.stderr)
            return EXIT_MODEL
    try:
        if cluster is None:
            summary = run_jobs(jobs, model, opts, ResultLog(out), settings, title="analyze")
        else:
            summary = run_jobs_on_ray(jobs, str(Path(args.model).resolve()), settings["device"], settings["dtype"],
                                      opts, ResultLog(out), settings, cluster, title="analyze")
    except KeyboardInterrupt:
        print(f"\ninterrupted: results so far are in {out}; rerun the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as exc:  # the model fails on every clip (or no Ray worker can load it)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    recs = [summary.records[j.key] for j in jobs if j.key in summary.records]
    ok = [r for r in recs if r.get("status") == STATUS_OK]
    counts = Counter(r.get("prediction") or "(unparsed)" for r in ok)
    rate = summary.clips_per_s
    print(f"{len(ok)} analysed, {len(recs) - len(ok)} failed, {summary.resumed} resumed; "
          f"{summary.analysed + summary.decode_errors} clips in {summary.elapsed_s:.1f} s"
          f"{f' = {rate:.3f} clips/s' if rate else ''}", file=sys.stderr)
    print("labels: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()), file=sys.stderr)
    print(f"results: {out}", file=sys.stderr)
    return 0
