"""Evaluation throughput benchmark (a script, not a test): clips/s of ``evaluate`` with the FULL-SIZE
R1-Omni architecture and random weights, no download.

The model is the random-weight folder ``main.py bench`` writes (:mod:`core.bench.synthetic`: seeded random
weights in the published layout, its own small tokenizers), loaded by the app's loader, with stopping disabled
so that every clip generates exactly ``--tokens`` tokens. The clips are
copies of ``resources/demo.mp4`` (12 s, 320x240 at 30 fps, speech) listed in a manifest, and the run goes
through the real evaluation path: dataset loading, the decode-ahead thread with ``core.clip_decode.read_clip``,
``analyze``, the JSONL log and the report. Printed: clips/s over the run (model build excluded, first
clip included), per-clip decode time (hidden behind the model by the decoder thread) and the mean
per-stage times of ``analyze``. With ``--batch-size N`` (> 1) the same clips are then run again through
``analyze_batch`` in groups of N on the same model, and both clips/s are printed side by side (the batch
run's stage times are per clip: the batch's time divided by N).

Usage: python bench/eval_bench.py [--clips 4] [--tokens 64] [--batch-size N] [--device cpu|cuda|auto] [--dtype ...]
                                 [--profile exact|fast]
Timings on a shared machine are noisy: run it twice and compare. ``--tiny`` runs the same path on toy sizes
(smoke test only; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEMO_CLIP = ROOT / "resources" / "demo.mp4"
STAGES = ("preprocess", "vision", "gate", "projector", "audio", "prefill", "decode", "total")


def build_dataset(folder: Path, n: int) -> Path:
    """A manifest of ``n`` distinct paths to the demo clip (symlinks: real decoding cost, no disk use)."""
    lines = ["path,label"]
    for i in range(n):
        link = folder / f"clip{i:03d}.mp4"
        link.symlink_to(DEMO_CLIP)
        lines.append(f"{link.name},{['happy', 'sad', 'angry', 'neutral'][i % 4]}")
    manifest = folder / "set.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def bench(args: argparse.Namespace) -> dict:
    import torch

    from core.bench.model_bench import REPETITION_PENALTY
    from core.bench.synthetic import write_model_folder
    from core.model import load_model
    from core.model.generation import GenerationSettings

    with tempfile.TemporaryDirectory(prefix="r1omni-eval-bench-") as tmp:
        folder = write_model_folder(Path(tmp) / "model", tiny=args.tiny)
        t0 = time.perf_counter()
        model = load_model(folder, device=args.device, dtype=args.dtype, profile=args.profile)
        build_s = time.perf_counter() - t0
        model.generation = GenerationSettings(frozenset(), REPETITION_PENALTY)  # exactly --tokens per clip
        info = model.info()
        params = info["params"]
        print(f"[{info['device']} {info['dtype']} {info['profile']}] loaded {params / 1e9:.3f} B params in "
              f"{build_s:.1f} s; torch {torch.__version__}, {torch.get_num_threads()} CPU threads", file=sys.stderr,
              flush=True)
        runs = [_run(model, args, 1)]
        if args.batch_size > 1:
            runs.append(_run(model, args, args.batch_size))
        out = {"device": info["device"], "dtype": info["dtype"], "profile": info["profile"], "params": params,
               "build_s": build_s, **runs[0], "runs": runs}
        if model.device.type == "cuda":
            out["peak_cuda_gib"] = torch.cuda.max_memory_allocated(model.device) / 1024**3
        model.close()
    return out


def _run(model, args: argparse.Namespace, batch_size: int) -> dict:
    """One evaluation of ``args.clips`` fresh clips with ``batch_size`` clips per model call."""
    from core.engine import EVALUATION_INSTRUCTION
    from core.evaluation.dataset import load_dataset
    from core.evaluation.log import ResultLog
    from core.evaluation.report import build_summary, write_report
    from core.evaluation.runner import Job, RunOptions, run_jobs

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ds = load_dataset(build_dataset(tmp_path, args.clips))
        opts = RunOptions(instruction=EVALUATION_INSTRUCTION, label_set="dfew", labels=ds.labels,
                          max_new_tokens=args.tokens, batch_size=batch_size)
        settings = {"model": "random-weights", "instruction": opts.instruction, "labels": list(ds.labels),
                    "max_new_tokens": args.tokens, "modal": opts.modal}
        jobs = [Job(c.key, c.path, c.label) for c in ds.clips]
        summary = run_jobs(jobs, model, opts, ResultLog(tmp_path / "run" / "results.jsonl"), settings,
                           progress_stream=sys.stderr if args.progress else io.StringIO(), title="eval-bench")
        report = build_summary(summary.records, ds.labels, settings, total=len(jobs),
                               clips_per_s=summary.clips_per_s)
        write_report(tmp_path / "run", report, ds.labels, summary.records)
        recs = [r for r in summary.records.values() if r["status"] == "ok"]
    if len(recs) != len(jobs):
        raise RuntimeError(f"only {len(recs)} of {len(jobs)} clips were analysed: {summary.records}")
    if batch_size > 1 and any(r["timings"].get("batch_size") is None for r in recs):
        raise RuntimeError("the batched run fell back to one clip at a time (see the warning above)")
    mean = {s: sum(r["timings"].get(s, 0.0) for r in recs) / len(recs) for s in STAGES}
    return {
        "batch_size": batch_size, "clips": len(recs), "new_tokens": args.tokens, "wall_s": summary.elapsed_s,
        "clips_per_s": summary.clips_per_s,
        "mean_decode_clip_s": sum(r["timings"]["decode_s"] for r in recs) / len(recs),
        "first_clip_total_s": recs[0]["timings"]["total"],
        "mean_stage_s": mean,
        "decode_tok_s": ((args.tokens - 1) / mean["decode"]
                         if mean["decode"] > 0 and args.tokens > 1 else None),
    }


def format_report(r: dict) -> str:
    stages = "  ".join(f"{s} {r['mean_stage_s'][s]:.2f}" for s in STAGES)
    tok = f"{r['decode_tok_s']:.1f} tok/s" if r["decode_tok_s"] else "-"
    return "\n".join([
        f"== evaluate, {r['device']} {r['dtype']} {r['profile']} ({r['params'] / 1e9:.3f} B params, random weights)",
        (f"   {r['clips']} clips x {r['new_tokens']} new tokens in {r['wall_s']:.1f} s -> "
        f"{r['clips_per_s']:.4f} clips/s ({1 / r['clips_per_s']:.1f} s/clip)"),
        (f"   per clip: decode {r['mean_decode_clip_s']:.2f} s (overlapped with the model), "
        f"analyze stages (s): {stages}"),
        f"   first clip {r['first_clip_total_s']:.2f} s (includes per-instruction caches); decode {tok}"
        + (f"; peak CUDA {r['peak_cuda_gib']:.1f} GiB" if "peak_cuda_gib" in r else ""),
        *(_batch_line(b, r) for b in r["runs"][1:]),
    ])


def _batch_line(b: dict, one: dict) -> str:
    """The batched run next to the one-by-one run of the same model and clips."""
    stages = "  ".join(f"{s} {b['mean_stage_s'][s]:.2f}" for s in STAGES)
    return (f"   batch {b['batch_size']}: {b['clips_per_s']:.4f} clips/s vs batch 1: {one['clips_per_s']:.4f} clips/s "
            f"(x{b['clips_per_s'] / one['clips_per_s']:.2f}); per clip (s): {stages}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=4, help="clips in the run (default 4)")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per clip (default 64)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--dtype", default="auto",
                        help="auto (float16 on CUDA; bfloat16 on a CPU with AMX or AVX512-BF16, else float32) | "
                        "float32 | float16 | bfloat16")
    parser.add_argument("--profile", default="exact", choices=("exact", "fast"), help="model profile")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="also run the clips in batches of N through analyze_batch and print clips/s "
                        "of batch 1 vs N (default 1: one-by-one only)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--progress", action="store_true", help="show the progress line")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clips < 1 or args.tokens < 1 or args.batch_size < 1:
        parser.error("--clips, --tokens and --batch-size must be >= 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print("timings on a shared machine are noisy: run twice and compare", file=sys.stderr)
    result = bench(args)
    print(format_report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
