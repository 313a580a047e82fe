"""Analyse one video file (or every video in a folder) with R1-Omni.

    python main.py analyze VIDEO --model DIR [--modal video_audio|video] [--instruct TEXT]
                           [--labels dfew|mafw|ravdess|free] [--max-new-tokens N] [--scores]
                           [--device auto|cpu|cuda] [--dtype auto|float32|float16|bfloat16] [--json]
    python main.py analyze FOLDER --model DIR [--out results.jsonl] [--batch-size N] [--ray [ADDRESS]] ...
    python main.py analyze VIDEO --model https://HOST:PORT [--token-file F] [--server-ca PEM] ...

Any common video file is decoded with PyAV (audio resampled to 16 kHz mono). A file without an audio track is
analysed video-only, and audio beyond 30 s is not heard by the model: both are reported as warnings on stderr.
The reasoning streams to stdout as it is generated; with --json, stdout gets one JSON object on its last line
(every result field including token_ids, plus the clip's warnings). A folder is analysed clip by clip into a
resumable JSONL file (see core.evaluation.batch).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli_types import EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_MODEL, batch_size, new_tokens
from core.cli_types import EXIT_USAGE as EXIT_BAD_INPUT

DEFAULT_MAX_NEW_TOKENS = 512  # the official script allows 2048; reasoning + answer fit in 512


def configure(parser: argparse.ArgumentParser) -> None:
    from core.model.preprocess import DEFAULT_INSTRUCTION

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("video", help="video file, or a folder of videos")
    parser.add_argument("--model", required=True, help="model folder (see `python main.py download`), or a model "
                        "server https://HOST:PORT (`python main.py serve`)")
    parser.add_argument("--modal", choices=("video_audio", "video"), default="video_audio")
    parser.add_argument("--instruct", default=None, help="question for the model (default: the official README "
                        f"instruction: {DEFAULT_INSTRUCTION!r})")
    parser.add_argument("--labels", default="dfew", help="label set the answer is normalised to: dfew | mafw | "
                        "ravdess | free (default dfew)")
    parser.add_argument("--max-new-tokens", type=new_tokens(), default=DEFAULT_MAX_NEW_TOKENS, metavar="N",
                        help=f"generation budget (default {DEFAULT_MAX_NEW_TOKENS}; at most 4096)")
    parser.add_argument("--scores", action="store_true", help="also report the model's preference over the labels")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--dtype", default="auto", help="auto (float16 on CUDA, float32 on CPU) | float32 | "
                        "float16 | bfloat16")
    parser.add_argument("--profile", default="exact", choices=("exact", "fast"),
                        help="exact: the official computation (default); fast: approximate and quicker on a CPU "
                        "(int8 decoding, Whisper over the clip's own seconds); results say which")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object (last line)")
    parser.add_argument("--out", type=Path, default=None, help="folder mode: results file (default "
                        "FOLDER/results.jsonl); rerun to resume")
    parser.add_argument("--batch-size", type=batch_size(), default=1, metavar="N", help="folder mode: clips "
                        "analysed together (default 1, at most 64); more raises the throughput on a GPU, the "
                        "answers are the same")
    from core.evaluation.distributed import add_ray_arguments
    from core.serve.client import add_remote_arguments

    add_remote_arguments(parser)
    add_ray_arguments(parser)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if Path(args.video).is_dir():
        from core.evaluation.batch import (
            analyze_folder_cli,  # folder mode lives with the evaluation machinery
        )

        return analyze_folder_cli(args)
    return analyze_file(args)


def analyze_file(args: argparse.Namespace) -> int:
    if getattr(args, "ray", None) is not None:  # before the clip is decoded
        _err("error: --ray spreads a folder of clips over a cluster; give a folder, or drop --ray")
        return EXIT_BAD_INPUT
    from core import labels as _labels
    from core.clip_decode import MediaError, read_clip
    from core.model.family_checks import configured_input
    from core.model.preprocess import DEFAULT_INSTRUCTION

    try:
        _labels.label_set(args.labels)
        # only the frames the model samples (its config's num_frames), reduced for its input size as they are
        # decoded: the same result, bounded memory
        frames_n, side_px = configured_input(args.model)
        clip = read_clip(args.video, frames="sampled", model_px=side_px, count=frames_n)
    except (MediaError, ValueError) as exc:
        _err(f"error: {exc}")
        return EXIT_BAD_INPUT
    for w in clip.warnings:
        _err(f"warning: {args.video}: {w}")
    audio = clip.audio if args.modal == "video_audio" else None
    modal = "video_audio" if audio is not None else "video"
    instruction = args.instruct if args.instruct is not None else DEFAULT_INSTRUCTION

    from core.backend import BackendError
    from core.evaluation.runner import load_analyzer, load_remote_analyzer
    from core.model import ModelLoadError
    from core.serve.client import is_remote_model, target_from_args

    try:
        remote = target_from_args(args) if is_remote_model(args.model) else None
        model = (load_remote_analyzer(remote) if remote
                 else load_analyzer(args.model, args.device, args.dtype, args.profile))
    except (ModelLoadError, BackendError, ValueError) as exc:
        _err(f"error: {exc}")
        return EXIT_MODEL
    stream = None if args.json else (lambda text: print(text, end="", flush=True))
    try:
        result = model.analyze(clip.frames, audio, instruction, max_new_tokens=args.max_new_tokens,
                               on_token=stream, label_set=args.labels, modal=modal, scores=args.scores)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BackendError as exc:
        _err(f"error: {exc}")
        return EXIT_MODEL
    info = model.info(hash_weights=False)
    model.close()
    if args.json:
        record = {**result.to_dict(), "video": str(args.video), "instruction": instruction,
                  "frame_indices": clip.frame_indices.tolist(), "n_frames": clip.n_frames, "fps": clip.fps,
                  "duration_s": clip.duration_s, "audio_s": clip.audio_s, "warnings": list(clip.warnings),
                  "model_dir": info["model_dir"], "device": info["device"], "dtype": info["dtype"],
                  "precision": info.get("precision")}
        print(json.dumps(record, ensure_ascii=False))
        return 0
    print()
    print(f"label: {result.label or '-'} ({result.parse_status}; answer {result.answer!r})")
    if result.scores:
        ranked = sorted(result.scores.items(), key=lambda kv: -kv[1])
        print("scores (model preference, not calibrated): " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
    t = result.timings
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in t.items() if k != "total")
    print(f"{len(result.token_ids)} tokens in {t.get('total', 0):.2f} s on {info['device']} {info['dtype']} ({stages})")
    if result.profile != "exact":
        print(f"profile: {info['profile_detail']}")
    return 0
