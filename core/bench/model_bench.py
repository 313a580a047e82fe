"""``python main.py bench``: the model's speed and memory, exact and fast, in one run (a benchmark, not a test).

It writes a FULL-SIZE R1-Omni folder with random weights in the published layout (:mod:`core.bench.synthetic`; no
download), then loads it through the app's own loader once per configuration — by default on a CPU ``exact
float32``, ``exact bfloat16`` and ``fast`` (bfloat16 where the CPU computes it) — each in a fresh process, so that
each one's peak memory is its own. Per configuration it prints the load time and peak memory, the seconds of each
stage of one window (8 of 60 frames of 640x480, the window's 4 s of audio, the README instruction, N new tokens,
greedy, stopping disabled so every run generates exactly N), the time to the first token, decode tokens/s and the
peak memory; then the ratios between configurations, and how far the fast profile's numbers move from exact
bfloat16 on this random model: the step logits of the fast model fed exact bfloat16's tokens (teacher forcing),
as the largest logit difference and the share of steps with the same top token. That is a numerical figure for
this random model, not an accuracy figure: random weights say nothing about answers.

``--naive`` also runs a naive composition of the same weights, called as the official code calls them
(:mod:`core.bench.naive`), and in float32 checks that the app's path computes the same function.

Timings on a shared machine are noisy: each configuration runs ``--repeats`` windows and the fastest is shown,
with the process CPU time and the load average beside it. ``--tiny`` runs the code path on toy sizes (for the
smoke test; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

WINDOW_FRAMES = 60  # a 4 s window at 15 fps
FRAME_HW = (480, 640)
AUDIO_S = 4.0  # the app's default window
SAMPLE_RATE_HZ = 16_000
REPETITION_PENALTY = 1.1
SEED = 0
DEFAULT_TOKENS = 64
DEFAULT_REPEATS = 2
TARGET_BF16_OVER_FP32 = 2.0  # issue 13: exact bfloat16 at least twice as fast as exact float32 per window
TARGET_FAST_OVER_BF16 = 1.6  # issue 13: the fast profile at least 1.6x exact bfloat16 per window
STAGES = ("preprocess", "vision", "gate", "projector", "audio", "prefill", "decode")
CPU_CONFIGS = "exact:float32,exact:bfloat16,fast:auto"
CUDA_CONFIGS = "exact:float16,exact:bfloat16,fast:float16"
CHILD_FLAG = "--child"


@dataclass(frozen=True)
class Config:
    profile: str  # exact | fast
    dtype: str  # float32 | float16 | bfloat16 | auto

    @classmethod
    def parse(cls, text: str) -> Config:
        profile, _, dtype = text.strip().partition(":")
        if profile not in ("exact", "fast") or dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(f"configuration {text!r}: use PROFILE:DTYPE with PROFILE exact|fast and DTYPE "
                             "auto|float32|float16|bfloat16")
        return cls(profile, dtype)


@dataclass
class Job:
    """What one child process measures (written as JSON for it)."""

    folder: str
    device: str
    config: Config
    tokens: int
    repeats: int
    threads: int
    tiny: bool
    naive: bool
    check_tokens: int
    reference_out: str | None = None  # an exact configuration: save its tokens and step logits here
    reference_in: str | None = None  # fast: compare with those of exact in the same dtype
    result: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------
# inputs and small measurements
# ---------------------------------------------------------------------------------------------------------------
def window_inputs(n_frames: int = WINDOW_FRAMES, audio_s: float = AUDIO_S,
                  hw: tuple[int, int] = FRAME_HW) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    frames = rng.integers(0, 256, (n_frames, *hw, 3), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(int(audio_s * SAMPLE_RATE_HZ))).astype(np.float32)
    return frames, audio


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (Linux: KiB; macOS: bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def cpu_description() -> str:
    from core.model.precision import native_bf16

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    native = native_bf16()
    return f"{name}, {os.cpu_count()} CPUs, native bfloat16: {native or 'no'}"


def prompt_positions(model: Any, audio: np.ndarray, instruction: str) -> int:
    """Positions of the LLM sequence for this window (text + visual + audio tokens)."""
    from core.model import preprocess as pp

    ids = pp.tokenize_prompt(model.tokenizer, instruction, "video_audio").input_ids
    text = sum(1 for i in ids if i >= 0)
    seconds = model.profile.audio_seconds(len(audio))
    visual = model.num_frames * 49  # 7 x 7 per frame after the projector's pooling
    return text + visual + (100 * seconds // 2) // 3


# ---------------------------------------------------------------------------------------------------------------
# the child: one configuration in a fresh process
# ---------------------------------------------------------------------------------------------------------------
def run_child(job: Job) -> dict[str, Any]:
    import torch

    from core.model import load_model
    from core.model.generation import GenerationSettings
    from core.model.preprocess import DEFAULT_INSTRUCTION

    if job.threads:
        torch.set_num_threads(job.threads)
    c = job.config
    t0 = time.perf_counter()
    model = load_model(job.folder, device=job.device, dtype=c.dtype, profile=c.profile)
    out: dict[str, Any] = {"profile": c.profile, "dtype": model.info()["dtype"], "device": str(model.device),
                           "precision": model.info()["precision"], "detail": model.profile_detail(),
                           "load_s": time.perf_counter() - t0, "load_peak_rss_gib": peak_rss_gib(),
                           "weights_gib": model.memory_bytes() / 1024**3, "threads": torch.get_num_threads()}
    model.generation = GenerationSettings(frozenset(), REPETITION_PENALTY)  # exactly N tokens every run
    frames, audio = window_inputs(8, 2.0, (32, 32)) if job.tiny else window_inputs()
    instruction = DEFAULT_INSTRUCTION
    out["positions"] = prompt_positions(model, audio, instruction)
    model.warm_up(frames, audio, instruction, job.tokens)
    runs: list[dict[str, Any]] = []  # JSON records: timings, cpu_s, load, ids
    for _ in range(job.repeats):
        cpu, load = time.process_time(), load_average()
        r = model.analyze(frames, audio, instruction, max_new_tokens=job.tokens, label_set="free")
        runs.append({"timings": dict(r.timings), "cpu_s": time.process_time() - cpu, "load": load,
                     "ids": list(r.token_ids)})
    best = min(runs, key=lambda x: x["timings"]["total"])
    out["attribution"] = _attribution(model, frames, instruction, job.tokens)
    out["attribution_share"] = out["attribution"]["total"] / best["timings"]["total"]
    out["runs"] = [{k: v for k, v in x.items() if k != "ids"} for x in runs]
    out["best"] = {k: v for k, v in best.items() if k != "ids"}
    out["decode_tok_s"] = (job.tokens - 1) / best["timings"]["decode"] if job.tokens > 1 else None
    if job.reference_out:
        _save_reference(model, frames, audio, instruction, job.tokens, Path(job.reference_out))
    if job.reference_in and Path(job.reference_in).exists():
        out["distance"] = _distance(model, frames, audio, instruction, Path(job.reference_in))
    if job.naive and c.profile == "exact":
        out["naive"] = _naive(model, frames, audio, instruction, job)
    out["peak_rss_gib"] = peak_rss_gib()
    if model.device.type == "cuda":
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated(model.device) / 1024**3
    model.close()
    return out


def _attribution(model: Any, frames: np.ndarray, instruction: str, tokens: int) -> dict[str, float]:
    """What an attribution costs (``core.attribution``): the window's model frames re-run video-only (no Whisper,
    no audio tokens) for the same number of new tokens -> its stage timings."""
    from core.window import model_frame_indices

    picked = frames[model_frame_indices(len(frames), model.num_frames)]
    r = model.analyze(picked, None, instruction, max_new_tokens=tokens, label_set="free", modal="video")
    return dict(r.timings)


def _save_reference(model: Any, frames: np.ndarray, audio: np.ndarray, instruction: str, tokens: int,
                    path: Path) -> None:
    with model.trace() as tr:
        r = model.analyze(frames, audio, instruction, max_new_tokens=tokens, label_set="free")
    np.savez(path, ids=np.asarray(r.token_ids, np.int64), logits=tr["gen_step_logits"].numpy())


def forced_step_logits(model: Any, frames: np.ndarray, audio: np.ndarray, instruction: str,
                       ids: list[int]) -> np.ndarray:
    """The model's step logits float32 [len(ids), V] when fed ``ids`` instead of its own choices."""
    import torch

    with model.trace() as tr, torch.inference_mode():
        prepared = model.encoder.prepare(frames, audio, instruction, "video_audio", model.num_frames)
        embeds = model.encoder.encode_batch([prepared], {})
        model.decoder.generate_batch(embeds, len(ids), model.generation, forced=list(ids))
    return tr["gen_step_logits"].numpy()


def _distance(model: Any, frames: np.ndarray, audio: np.ndarray, instruction: str, ref_path: Path) -> dict[str, Any]:
    """How far this (fast) model's step logits are from the reference's on the reference's tokens: the whole
    profile, and int8 decoding alone (Whisper over 30 s as the exact path)."""
    from core.model.profiles import profile_named

    with np.load(ref_path) as z:
        ids, ref = z["ids"].tolist(), z["logits"]
    out: dict[str, Any] = {"steps": len(ids), "reference_logit_scale": float(np.abs(ref).max())}
    variants = {"profile": None, "int8_only": profile_named("exact").audio_seconds}
    saved = model.encoder.audio_seconds
    try:
        for name, seconds in variants.items():
            if seconds is not None:
                model.encoder.audio_seconds = seconds
            got = forced_step_logits(model, frames, audio, instruction, ids)
            model.encoder.audio_seconds = saved
            out[name] = {"max_abs_logit_diff": float(np.abs(got - ref).max()),
                         "top1_agree": int((got.argmax(-1) == ref.argmax(-1)).sum())}
    finally:
        model.encoder.audio_seconds = saved
    return out


def _naive(model: Any, frames: np.ndarray, audio: np.ndarray, instruction: str, job: Job) -> dict[str, Any]:
    import torch

    from core.bench.naive import NaivePipeline, check_same_function

    naive = NaivePipeline(model, REPETITION_PENALTY)
    naive.run(frames, audio, instruction, 2)  # warm-up
    out: dict[str, Any] = {}
    if model.dtype == torch.float32 and job.check_tokens:
        out["check"] = check_same_function(model, naive, frames, audio, instruction, job.check_tokens)
    run = naive.run(frames, audio, instruction, job.tokens)
    out["timings"], out["cpu_s"] = run["timings"], run["cpu_s"]
    return out


# ---------------------------------------------------------------------------------------------------------------
# the parent: write the folder, run the children, report
# ---------------------------------------------------------------------------------------------------------------
def _spawn(job: Job, workdir: Path, log) -> dict[str, Any]:
    import core

    spec = workdir / f"job-{job.config.profile}-{job.config.dtype}.json"
    job.result = str(spec.with_suffix(".result.json"))
    spec.write_text(json.dumps(asdict(job)))
    env = dict(os.environ)
    root = str(Path(core.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log(f"[{job.config.profile} {job.config.dtype}] measuring in a fresh process ...")
    proc = subprocess.run([sys.executable, "-m", "core.bench.model_bench", CHILD_FLAG, str(spec)], env=env,
                          check=False)
    if proc.returncode != 0 or not Path(job.result).exists():
        return {"profile": job.config.profile, "dtype": job.config.dtype, "error": f"exit status {proc.returncode}"}
    return json.loads(Path(job.result).read_text())


def _label(r: dict[str, Any]) -> str:
    return f"{r['profile']} {r['dtype']}"


def format_report(header: list[str], results: list[dict[str, Any]], tokens: int) -> str:
    ok = [r for r in results if "error" not in r]
    lines = list(header)
    for r in results:
        if "error" in r:
            lines.append(f"!! {r['profile']} {r['dtype']}: failed ({r['error']}); see the messages above")
    if not ok:
        return "\n".join(lines)
    cols = [_label(r) for r in ok]
    width = max(12, *(len(c) for c in cols))
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, values: list[Any], fmt: str = "{:.2f}") -> None:
        rows.append((name, ["-" if v is None else fmt.format(v) for v in values]))

    row("load s", [r["load_s"] for r in ok], "{:.1f}")
    row("peak RSS at load GiB", [r["load_peak_rss_gib"] for r in ok])
    row("weights GiB", [r["weights_gib"] for r in ok])
    row("LLM positions", [r["positions"] for r in ok], "{:d}")
    for s in STAGES:
        row(f"  {s} s", [r["best"]["timings"].get(s) for r in ok], "{:.3f}")
    row("first token s", [r["best"]["timings"].get("first_token") for r in ok], "{:.3f}")
    row(f"window ({tokens} tokens) s", [r["best"]["timings"]["total"] for r in ok])
    row("decode tok/s", [r["decode_tok_s"] for r in ok], "{:.1f}")
    row("process CPU s", [r["best"]["cpu_s"] for r in ok], "{:.1f}")
    row("load average", [r["best"]["load"] for r in ok], "{:.1f}")
    row("peak RSS GiB", [r["peak_rss_gib"] for r in ok])
    if any("peak_cuda_gib" in r for r in ok):
        row("peak CUDA GiB", [r.get("peak_cuda_gib") for r in ok])
    if any("naive" in r for r in ok):
        row("naive window s", [r.get("naive", {}).get("timings", {}).get("total") for r in ok])
    row("attribution s", [r.get("attribution", {}).get("total") for r in ok])
    row("  share of window", [r.get("attribution_share") for r in ok])
    name_w = max(len(n) for n, _ in rows)
    lines.append("")
    lines.append(" " * name_w + "  " + "  ".join(c.rjust(width) for c in cols))
    for name, values in rows:
        lines.append(name.ljust(name_w) + "  " + "  ".join(v.rjust(width) for v in values))
    lines.append("")
    lines += _ratio_lines(ok)
    for r in ok:
        lines += _distance_lines(r) + _naive_lines(r)
    details = sorted({f"{_label(r)}: {r['precision']}; {r['detail']}" for r in ok})
    lines.append("")
    lines += [f"   {d}" for d in details]
    return "\n".join(lines)


def _find(results: list[dict[str, Any]], profile: str, dtype: str | None = None) -> dict[str, Any] | None:
    return next((r for r in results if r["profile"] == profile and (dtype is None or r["dtype"] == dtype)), None)


def _ratio_lines(ok: list[dict[str, Any]]) -> list[str]:
    lines = ["ratios per window (one run of this command, same machine, same inputs):"]
    fp32, bf16, fast = _find(ok, "exact", "float32"), _find(ok, "exact", "bfloat16"), _find(ok, "fast")
    base = _find(ok, "exact", fast["dtype"]) if fast else None

    def total(r: dict[str, Any]) -> float:
        return r["best"]["timings"]["total"]

    def first(r: dict[str, Any]) -> float:
        return r["best"]["timings"]["first_token"]

    def cpu(r: dict[str, Any]) -> float:
        return r["best"]["cpu_s"]

    if fp32 and bf16:
        x = total(fp32) / total(bf16)
        met = "met" if x >= TARGET_BF16_OVER_FP32 else "NOT met"
        lines.append(f"   exact bfloat16 vs exact float32: {x:.2f}x faster (target >= {TARGET_BF16_OVER_FP32:g}x: "
                     f"{met}); first token {first(fp32) / first(bf16):.2f}x; process CPU time "
                     f"{cpu(fp32) / cpu(bf16):.2f}x")
    if fast and base:
        x = total(base) / total(fast)
        target = f" (target >= {TARGET_FAST_OVER_BF16:g}x: {'met' if x >= TARGET_FAST_OVER_BF16 else 'NOT met'})" \
            if base["dtype"] == "bfloat16" else ""
        decode = fast["decode_tok_s"] / base["decode_tok_s"] if fast["decode_tok_s"] and base["decode_tok_s"] else 0
        lines.append(f"   fast vs exact {base['dtype']}: {x:.2f}x faster{target}; first token "
                     f"{first(base) / first(fast):.2f}x; decode {decode:.2f}x; process CPU time "
                     f"{cpu(base) / cpu(fast):.2f}x")
    if len(lines) > 1:
        lines.append("   (process CPU time moves less than wall time when other programs share the CPU)")
    if len(lines) == 1:
        lines.append("   (needs two of the configurations above)")
    return lines


def _distance_lines(r: dict[str, Any]) -> list[str]:
    d = r.get("distance")
    if not d:
        return []
    n = d["steps"]
    lines = [(f"numerical distance of {_label(r)} from exact bfloat16 on this random model (teacher-forced on exact "
             f"bfloat16's {n} tokens; logits up to {d['reference_logit_scale']:.2f}). Not an accuracy figure:")]
    for key, what in (("profile", "the whole profile"), ("int8_only", "int8 decoding alone (30 s of audio)")):
        v = d[key]
        lines.append(f"   {what}: max |logit difference| {v['max_abs_logit_diff']:.3f}, same top token at "
                     f"{v['top1_agree']} of {n} steps")
    return lines


def _naive_lines(r: dict[str, Any]) -> list[str]:
    nv = r.get("naive")
    if not nv:
        return []
    ratio = nv["timings"]["total"] / r["best"]["timings"]["total"]
    lines = [(f"{_label(r)}: naive composition {nv['timings']['total']:.2f} s per window, the app's path "
             f"{ratio:.2f}x faster")]
    if "check" in nv:
        c = nv["check"]
        lines.append(f"   same function (float32): max |logit diff| {c['max_abs_logit_diff']:.2e} (limit 1e-4), "
                     f"embeddings {c['max_abs_embed_diff']:.1e}, same tokens {c['same_tokens']} -> "
                     f"{'PASS' if c['pass'] else 'FAIL'}")
    return lines


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--configs", default=None, help=f"comma list of PROFILE:DTYPE (default on a CPU: "
                        f"{CPU_CONFIGS}; on CUDA: {CUDA_CONFIGS})")
    parser.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, help="new tokens per window (default 64)")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="windows per configuration; the "
                        "fastest is shown (default 2)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--model-dir", type=Path, default=None, help="where to write (or reuse) the random model "
                        "folder (~2.9 GB; default: a temporary folder, deleted afterwards)")
    parser.add_argument("--naive", action="store_true", help="also time a naive composition of the same weights "
                        "and check in float32 that the app's path computes the same function")
    parser.add_argument("--check-tokens", type=int, default=8, help="decode steps compared in the float32 check")
    parser.add_argument("--quick", action="store_true", help="16 tokens, one window, exact bfloat16 and fast only")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: checks the code path (numbers mean nothing)")


def run(args: argparse.Namespace) -> int:
    import torch

    from core.bench.synthetic import folder_is_complete, write_model_folder
    from core.model.precision import choose

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    device = args.device
    is_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    spec = args.configs or (CUDA_CONFIGS if is_cuda else ("exact:bfloat16,fast:auto" if args.quick else CPU_CONFIGS))
    try:
        configs = [Config.parse(c) for c in spec.split(",") if c.strip()]
        if args.tokens < 1 or args.repeats < 1:
            raise ValueError("--tokens and --repeats must be at least 1")
    except ValueError as exc:
        log(f"error: {exc}")
        return 2
    tokens = 16 if args.quick and args.tokens == DEFAULT_TOKENS else args.tokens
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="r1omni-bench-") as tmp:
        workdir = Path(tmp)
        folder = args.model_dir or workdir / "model"
        if not folder_is_complete(folder, tiny=args.tiny):
            log(f"writing a {'tiny' if args.tiny else 'full-size'} random-weight model folder to {folder} ...")
            t0 = time.perf_counter()
            write_model_folder(folder, tiny=args.tiny, log=log)
            log(f"written in {time.perf_counter() - t0:.0f} s")
        dev_type = "cuda" if is_cuda else "cpu"

        def reference(c: Config) -> str:  # the exact run a fast one is compared with: the same dtype
            return str(workdir / f"reference-{choose(c.dtype, dev_type)[0]}.npz")

        fast_refs = {reference(c) for c in configs if c.profile == "fast"}
        size = "TINY toy sizes (numbers mean nothing)" if args.tiny else "full-size architecture"
        header = [(f"R1-Omni bench: {size}, random weights, {device}; torch {torch.__version__}; "
                   f"{cpu_description()}"),
                  (f"window: {WINDOW_FRAMES} frames {FRAME_HW[1]}x{FRAME_HW[0]} (8 sampled), {AUDIO_S:g} s of audio, "
                  f"the README instruction, {tokens} new tokens, greedy, no stop; best of {repeats}; "
                  f"load average {load_average():.1f} at the start")]
        results: list[dict[str, Any]] = [{} for _ in configs]
        # exact runs first: a fast one is compared with the tokens of the exact run in its dtype
        for i in sorted(range(len(configs)), key=lambda i: configs[i].profile != "exact"):
            c = configs[i]
            ref = reference(c)
            job = Job(str(folder), device, c, tokens, repeats, args.threads, args.tiny, args.naive, args.check_tokens,
                      reference_out=ref if c.profile == "exact" and ref in fast_refs else None,
                      reference_in=ref if c.profile == "fast" else None)
            results[i] = _spawn(job, workdir, log)
    print(format_report(header, results, tokens))
    if args.json:
        args.json.write_text(json.dumps({"header": header, "results": results}, indent=2, default=str))
    failed = [r for r in results if "error" in r or not r.get("naive", {}).get("check", {"pass": True})["pass"]]
    return 1 if failed else 0


def _child_main(spec_path: str) -> int:
    data = json.loads(Path(spec_path).read_text())
    data["config"] = Config(**data["config"])
    job = Job(**data)
    result = run_child(job)
    Path(job.result).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == CHILD_FLAG:
        sys.exit(_child_main(sys.argv[2]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(p)
    sys.exit(run(p.parse_args()))
