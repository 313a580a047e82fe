"""UAR / WAR of the model on labelled clips, resumable, with report files; or a comparison of runs.

    python main.py evaluate DATASET --model DIR [--labels dfew|mafw|ravdess|FILE] [--out DIR] [--batch-size N]
                                [--modal video_audio|video | --ablation]
    python main.py evaluate DATASET --model DIR --ray [ADDRESS] [--workers N]   spread over a Ray cluster
    python main.py evaluate DATASET --model https://HOST:PORT [--token-file F]  on a model server
    python main.py evaluate --compare RUN_A RUN_B ...

DATASET: a manifest (.csv 'path,label' / .jsonl), a folder with one sub-folder per label, or a
RAVDESS, DFEW or MAFW folder (or one DFEW split .csv / MAFW split .txt). Rerun the same command to
resume an interrupted run: clips already in OUT/results.jsonl are skipped.

--ablation runs the dataset video-only and audio-visual (OUT/video, OUT/video_audio: two ordinary runs, each
resumable) and writes the modality ablation table OUT/ablation.md (core.evaluation.ablation). Reports carry
bootstrap intervals; --compare adds McNemar's test of each run against the first on the clips both scored.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.cli_types import (
    CLIPS,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_MODEL,
    FOLD,
    batch_size,
    new_tokens,
)
from core.cli_types import EXIT_USAGE as EXIT_BAD_INPUT
from core.evaluation.distributed import add_ray_arguments
from core.serve.client import add_remote_arguments

log = logging.getLogger(__name__)

DEFAULT_OUT_ROOT = Path("out")
DEFAULT_MAX_NEW_TOKENS = 512  # the GRPO completion budget: reasoning + answer fit; fewer cut answers off


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("dataset", nargs="?", help="manifest file or dataset folder (see above)")
    parser.add_argument("--model", help="model folder (the R1-Omni checkpoint), or a model server https://HOST:PORT")
    parser.add_argument("--labels", help="label set: dfew | mafw | ravdess | FILE (one label per line); "
                        "default: the dataset's own (inferred for manifests and folders)")
    parser.add_argument("--instruct", help="question for the model, or a preset: 'evaluation' (default, "
                        "the prompt of the official evaluation scripts) or 'official' (the README prompt)")
    parser.add_argument("--out", type=Path, help="run folder (default: out/eval-<dataset name>); "
                        "an existing run there is resumed")
    parser.add_argument("--max-new-tokens", type=new_tokens(), default=DEFAULT_MAX_NEW_TOKENS, metavar="N",
                        help=f"generation budget per clip (default {DEFAULT_MAX_NEW_TOKENS}; at most 4096)")
    parser.add_argument("--limit", type=CLIPS.argtype("limit"), metavar="N",
                        help="evaluate only the first N clips")
    parser.add_argument("--modal", choices=("video_audio", "video"), default="video_audio",
                        help="video_audio (default) or video: the official video-only path (no audio tokens)")
    parser.add_argument("--ablation", action="store_true",
                        help="run both modes (OUT/video_audio, OUT/video; --modal is then ignored) and write "
                        "OUT/ablation.md")
    parser.add_argument("--device", default="auto", help="auto | cuda | cuda:N | cpu")
    parser.add_argument("--dtype", default="auto", help="auto | float32 | float16 | bfloat16")
    parser.add_argument("--profile", default="exact", choices=("exact", "fast"),
                        help="exact (default) or fast (approximate); a run resumes only with its own profile, and "
                        "--compare shows it: measure what fast costs on your clips by comparing two runs")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="DFEW/MAFW split (default test)")
    parser.add_argument("--fold", type=FOLD.argtype("fold"), default=1, metavar="N",
                        help="DFEW/MAFW fold set_N, 1 to 5 (default 1)")
    parser.add_argument("--scores", action="store_true",
                        help="also record the model's per-label preference scores (slower; batch size 1 only)")
    parser.add_argument("--batch-size", type=batch_size(), default=1, metavar="N",
                        help="clips analysed together (default 1, at most 64). More raises the throughput where one "
                        "clip leaves the device idle (GPU) and needs more memory; the answers are the same")
    parser.add_argument("--compare", nargs="+", metavar="RUN", help="print a comparison of finished runs")
    add_remote_arguments(parser)
    add_ray_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from core.evaluation.report import compare_table, load_runs

    if args.compare:
        try:
            runs = load_runs(args.compare)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(compare_table(runs))
        return 0
    if not args.dataset or not args.model:
        print("error: give DATASET and --model DIR (or --compare RUN ...); see --help", file=sys.stderr)
        return EXIT_BAD_INPUT
    problem = _dataset_path_problem(args.dataset)
    if problem is not None:
        print(f"error: DATASET {args.dataset} {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _evaluate(args)


def _dataset_path_problem(dataset: str) -> str | None:
    """A dataset is a folder or a manifest file: anything else (a FIFO would block, a device read forever) is
    refused before it is opened."""
    from core.input_checks import file_problem

    return None if Path(dataset).is_dir() else file_problem(dataset, "a dataset folder or manifest")


def _evaluate(args: argparse.Namespace) -> int:
    from core.evaluation.ablation import MODES, ablation_summary, mode_dir, render_ablation, write_ablation
    from core.evaluation.dataset import DatasetError, load_dataset
    from core.evaluation.distributed import cluster_options_from_args
    from core.evaluation.log import LogMismatch, check_resumable
    from core.evaluation.report import RESULTS_FILE
    from core.evaluation.runner import (
        Job,
        RunOptions,
        load_analyzer,
        load_remote_analyzer,
        model_identity,
        model_label_set,
        resolve_instruction,
    )
    from core.serve.client import is_remote_model, target_from_args

    try:
        ds = load_dataset(args.dataset, args.labels, split=args.split, fold=args.fold)
        instruction = resolve_instruction(args.instruct, "evaluation")
        opts = RunOptions(instruction=instruction, label_set=model_label_set(ds.label_set), labels=ds.labels,
                          modal=args.modal, max_new_tokens=args.max_new_tokens, scores=args.scores,
                          batch_size=args.batch_size)
        cluster = cluster_options_from_args(args)
        remote = target_from_args(args) if is_remote_model(args.model) else None
    except (DatasetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    clips = ds.clips[: args.limit] if args.limit else ds.clips
    out = args.out or DEFAULT_OUT_ROOT / f"eval-{Path(args.dataset).resolve().stem or 'dataset'}"
    print(f"dataset: {ds.describe()}", file=sys.stderr)
    for note in ds.notes:
        print(f"note: {note}", file=sys.stderr)
    settings = {
        "model": model_identity(args.model),
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
    # one run per mode: an --ablation folder holds a video-only and an audio-visual run, each resumable
    modes = list(MODES) if args.ablation else [args.modal]
    runs = [(mode_dir(out, m) if args.ablation else out, replace(opts, modal=m), {**settings, "modal": m})
            for m in modes]
    try:
        for run_out, _, run_settings in runs:
            check_resumable(run_out / RESULTS_FILE, run_settings)  # before the slow model load
    except (LogMismatch, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    jobs = [Job(c.key, c.path, c.label) for c in clips]
    model = None
    if cluster is None:
        try:
            model = (load_remote_analyzer(remote) if remote
                     else load_analyzer(args.model, args.device, args.dtype, args.profile))
        except Exception as exc:  # noqa: BLE001 — ModelLoadError and friends already say what to fix
            print(f"error: cannot load the model from {args.model}: {exc}", file=sys.stderr)
            return EXIT_MODEL
    records_by_mode = {}
    for run_out, run_opts, run_settings in runs:
        if args.ablation:
            print(f"mode {run_opts.modal}: {run_out}", file=sys.stderr)
        code, records = _run_one(args, jobs, model, cluster, run_opts, run_settings, run_out, ds.labels,
                                 dataset_info)
        if code:
            return code
        records_by_mode[run_opts.modal] = records
    if args.ablation:
        table = ablation_summary(records_by_mode, ds.labels)
        write_ablation(out, table)
        print(render_ablation(table))
    return 0


def _run_one(args: argparse.Namespace, jobs: list, model: Any, cluster: Any, opts: Any, settings: dict[str, Any],
             out: Path, labels: tuple[str, ...], dataset_info: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One resumable run into ``out`` (here, or over a Ray ``cluster``), its report written and printed:
    (exit code, its clip records by key)."""
    from core.evaluation.distributed import run_jobs_on_ray
    from core.evaluation.log import LogMismatch, ResultLog, read_log
    from core.evaluation.report import RESULTS_FILE, build_summary, write_report
    from core.evaluation.runner import run_jobs

    result_log = ResultLog(out / RESULTS_FILE)
    title = f"evaluate {opts.modal}" if args.ablation else "evaluate"
    summary = None
    code = 0
    try:
        if cluster is None:
            summary = run_jobs(jobs, model, opts, result_log, settings, title=title)
        else:
            summary = run_jobs_on_ray(jobs, str(Path(args.model).resolve()), args.device, args.dtype, opts,
                                      result_log, settings, cluster, title=title)
    except LogMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT, {}
    except KeyboardInterrupt:
        print(f"\ninterrupted: results so far are in {out / RESULTS_FILE}; rerun the same command to resume",
              file=sys.stderr)
        code = EXIT_INTERRUPTED
    except RuntimeError as exc:  # the model fails on every clip (or no Ray worker can load it): stop
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_MODEL
    _, records, _ = read_log(out / RESULTS_FILE)
    records = {k: r for k, r in records.items() if k in {j.key for j in jobs}}
    report = build_summary(records, labels, settings, total=len(jobs),
                           clips_per_s=summary.clips_per_s if summary else None, dataset=dataset_info)
    write_report(out, report, labels, records)
    print((out / "per_class.md").read_text(encoding="utf-8"))
    if summary is not None:
        rate = summary.clips_per_s
        print(f"{summary.analysed + summary.decode_errors} clips in {summary.elapsed_s:.1f} s"
              f"{f' ({rate:.3f} clips/s)' if rate else ''}, {summary.resumed} resumed; "
              f"report in {out}", file=sys.stderr)
    return code, records
