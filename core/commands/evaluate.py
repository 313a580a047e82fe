"""UAR / WAR of the model on labelled clips, resumable, with report files; or a comparison of runs.

    python main.py evaluate DATASET --model DIR [--labels dfew|mafw|ravdess|FILE] [--out DIR] [--batch-size N]
    python main.py evaluate --compare RUN_A RUN_B ...

DATASET: a manifest (.csv 'path,label' / .jsonl), a folder with one sub-folder per label, or a
RAVDESS, DFEW or MAFW folder (or one DFEW split .csv / MAFW split .txt). Rerun the same command to
resume an interrupted run: clips already in OUT/results.jsonl are skipped.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_OUT_ROOT = Path("out")
DEFAULT_MAX_NEW_TOKENS = 512  # the GRPO completion budget: reasoning + answer fit; fewer cut answers off
EXIT_BAD_INPUT = 2
EXIT_MODEL = 3  # as the analyze command
EXIT_INTERRUPTED = 130


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("dataset", nargs="?", help="manifest file or dataset folder (see above)")
    parser.add_argument("--model", help="model folder (the R1-Omni checkpoint)")
    parser.add_argument("--labels", help="label set: dfew | mafw | ravdess | FILE (one label per line); "
                        "default: the dataset's own (inferred for manifests and folders)")
    parser.add_argument("--instruct", help="question for the model, or a preset: 'evaluation' (default, "
                        "the prompt of the official evaluation scripts) or 'official' (the README prompt)")
    parser.add_argument("--out", type=Path, help="run folder (default: out/eval-<dataset name>); "
                        "an existing run there is resumed")
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS,
                        help=f"generation budget per clip (default {DEFAULT_MAX_NEW_TOKENS})")
    parser.add_argument("--limit", type=int, help="evaluate only the first N clips")
    parser.add_argument("--modal", choices=("video_audio", "video"), default="video_audio")
    parser.add_argument("--device", default="auto", help="auto | cuda | cuda:N | cpu")
    parser.add_argument("--dtype", default="auto", help="auto | float32 | float16 | bfloat16")
    parser.add_argument("--profile", default="exact", choices=("exact", "fast"),
                        help="exact (default) or fast (approximate); a run resumes only with its own profile, and "
                        "--compare shows it: measure what fast costs on your clips by comparing two runs")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="DFEW/MAFW split (default test)")
    parser.add_argument("--fold", type=int, default=1, help="DFEW/MAFW fold set_N (default 1)")
    parser.add_argument("--scores", action="store_true",
                        help="also record the model's per-label preference scores (slower; batch size 1 only)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="clips analysed together (default 1). More raises the throughput where one clip "
                        "leaves the device idle (GPU) and needs more memory; the answers are the same")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="print a comparison of finished runs")


def run(args: argparse.Namespace) -> int:
    from core.evaluation.report import compare_table, load_run

    if args.compare:
        try:
            runs = [load_run(r) for r in args.compare]
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(compare_table(runs))
        return 0
    if not args.dataset or not args.model:
        print("error: give DATASET and --model DIR (or --compare RUN ...); see --help", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from core.evaluation.dataset import DatasetError, load_dataset
    from core.evaluation.log import LogMismatch, ResultLog, check_resumable, read_log
    from core.evaluation.report import RESULTS_FILE, build_summary, write_report
    from core.evaluation.runner import (
        Job, RunOptions, load_analyzer, model_label_set, resolve_instruction, run_jobs,
    )

    try:
        ds = load_dataset(args.dataset, args.labels, split=args.split, fold=args.fold)
        instruction = resolve_instruction(args.instruct, "evaluation")
        opts = RunOptions(instruction=instruction, label_set=model_label_set(ds.label_set), labels=ds.labels,
                          modal=args.modal, max_new_tokens=args.max_new_tokens, scores=args.scores,
                          batch_size=args.batch_size)
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be >= 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    clips = ds.clips[: args.limit] if args.limit else ds.clips
    out = args.out or DEFAULT_OUT_ROOT / f"eval-{Path(args.dataset).resolve().stem or 'dataset'}"
    print(f"dataset: {ds.describe()}", file=sys.stderr)
    for note in ds.notes:
        print(f"note: {note}", file=sys.stderr)
    settings = {
        "model": str(Path(args.model).resolve()),
        "instruction": instruction,
        "labels": list(ds.labels),
        "label_set": ds.label_set,
        "max_new_tokens": args.max_new_tokens,
        "modal": args.modal,
        "dataset": str(Path(args.dataset).resolve()),
        "layout": ds.layout,
        "device": args.device,
        "dtype": args.dtype,
        "profile": args.profile,
    }
    dataset_info = {"path": settings["dataset"], "layout": ds.layout, "label_set": ds.label_set,
                    "clips": len(ds.clips), "evaluated": len(clips), "notes": list(ds.notes)}
    result_log = ResultLog(out / RESULTS_FILE)
    try:
        check_resumable(result_log.path, settings)  # before the slow model load
    except (LogMismatch, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        model = load_analyzer(args.model, args.device, args.dtype, args.profile)
    except Exception as exc:  # noqa: BLE001 — ModelLoadError and friends already say what to fix
        print(f"error: cannot load the model from {args.model}: {exc}", file=sys.stderr)
        return EXIT_MODEL
    jobs = [Job(c.key, c.path, c.label) for c in clips]
    summary = None
    code = 0
    try:
        summary = run_jobs(jobs, model, opts, result_log, settings, title="evaluate")
    except LogMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"\ninterrupted: results so far are in {out / RESULTS_FILE}; rerun the same command to resume",
              file=sys.stderr)
        code = EXIT_INTERRUPTED
    except RuntimeError as exc:  # the model fails on every clip: stop rather than log the same error N times
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_MODEL
    _, records, _ = read_log(out / RESULTS_FILE)
    records = {k: r for k, r in records.items() if k in {j.key for j in jobs}}
    report = build_summary(records, ds.labels, settings, total=len(jobs),
                           clips_per_s=summary.clips_per_s if summary else None, dataset=dataset_info)
    write_report(out, report, ds.labels, records)
    print((out / "per_class.md").read_text(encoding="utf-8"))
    if summary is not None:
        rate = summary.clips_per_s
        print(f"{summary.analysed + summary.decode_errors} clips in {summary.elapsed_s:.1f} s"
              f"{f' ({rate:.3f} clips/s)' if rate else ''}, {summary.resumed} resumed; "
              f"report in {out}", file=sys.stderr)
    return code
