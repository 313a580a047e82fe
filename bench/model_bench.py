"""Model benchmark (a script, not a test): the FULL-SIZE R1-Omni architecture with random weights, no download.

For each device/dtype it times one analysis window (8 of 60 frames of 640x480, 30 s of audio, the README
instruction; ~990 LLM positions) through

- the fast path: ``R1OmniModel.analyze`` (SigLIP run to layer -2 only, BERT gate and prompt embeddings cached per
  instruction, only the last prompt position through the output layer, preallocated KV cache, tight decode loop);
- a naive composition of the same weights, called the way the official code calls them: SiglipImageProcessor +
  ``SiglipVisionModel(output_hidden_states=True).hidden_states[-2]``, BERT + gate on every window, Whisper encoder,
  projectors, splicing, then ``Qwen2ForCausalLM.generate(inputs_embeds=...)`` with the default cache;

and prints per-stage times, tokens/s, the whole window for each generation length and the naive/fast ratio. In
float32 it checks that both paths compute the same function (prefill and decode-step logits within 1e-4, same
tokens). Stopping on eos is disabled so that every run generates exactly N tokens.

It also times what an attribution costs (``core.attribution``: the window's 8 model frames re-run video-only, no
Whisper and no audio tokens) for the same number of new tokens, and its share of the window's time.

Usage: python main.py bench [--quick] [--device cpu|cuda|auto] [--dtypes float32,bfloat16] [--tokens 64,128]
       python bench/model_bench.py ...   (same options)
Timings on a shared machine are noisy: run it twice and compare. ``--tiny`` runs the code path on a tiny config
(for the smoke test only; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np

FIXTURE = ROOT / "tests" / "fixtures" / "parity" / "checkpoint"  # tokenizers only (byte-level BPE, uncased BERT)
WINDOW_FRAMES = 60  # a 4 s window at 15 fps
FRAME_HW = (480, 640)
AUDIO_S = 30.0
SAMPLE_RATE_HZ = 16_000
REPETITION_PENALTY = 1.1
LOGIT_ATOL = 1e-4
WEIGHT_STD = 0.02
SEED = 0


# ---------------------------------------------------------------------------------------------------------------
# model with random weights
# ---------------------------------------------------------------------------------------------------------------
def _is_norm_weight(name: str) -> bool:
    leaf = name.rsplit(".", 2)
    return name.endswith(".weight") and any(s in leaf[-2].lower() for s in ("norm", "bn"))


def random_model(cfg: Any, device: Any, dtype: Any):
    """Full module tree with seeded random weights (normal 0.02; norms 1; biases 0.02-normal), no init cost."""
    import torch

    from core.model.architecture import build_model

    module = build_model(cfg, "empty")
    gen = torch.Generator().manual_seed(SEED)
    state = {}
    for name, p in module.state_dict().items():
        if _is_norm_weight(name):
            t = torch.ones(p.shape)
        else:
            t = torch.empty(p.shape).normal_(0.0, WEIGHT_STD, generator=gen)
        state[name] = t.to(dtype=dtype, device=device)
    module.load_state_dict(state, strict=True, assign=True)
    module.to(device).eval().requires_grad_(False)
    return module


def runtime_for(module: Any):
    """An R1OmniModel around a module, with the fixture tokenizers and stopping disabled."""
    from transformers import BertTokenizer, Qwen2Tokenizer

    from core.model.generation import GenerationSettings
    from core.model.preprocess import AudioFeatures
    from core.model.runtime import R1OmniModel

    tok = Qwen2Tokenizer.from_pretrained(str(FIXTURE))
    bert_tok = BertTokenizer.from_pretrained(str(FIXTURE / "bert"))
    feats = AudioFeatures(int(module.config.audio.num_mel_bins))
    gen = GenerationSettings(frozenset(), REPETITION_PENALTY)
    return R1OmniModel(module, tok, bert_tok, feats, gen, Path("random-weights"), [])


def window_inputs(n_frames: int = WINDOW_FRAMES, audio_s: float = AUDIO_S,
                  hw: tuple[int, int] = FRAME_HW) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    frames = rng.integers(0, 256, (n_frames, *hw, 3), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(int(audio_s * SAMPLE_RATE_HZ))).astype(np.float32)
    return frames, audio


# ---------------------------------------------------------------------------------------------------------------
# naive composition (same weights, plain transformers modules, official call pattern)
# ---------------------------------------------------------------------------------------------------------------
class NaivePipeline:
    def __init__(self, rt: Any) -> None:
        import torch
        from transformers import WhisperFeatureExtractor

        self.rt, self.m = rt, rt.module
        cfg = self.m.config
        with torch.device("meta"):
            lm = _official_style_lm_class()(cfg.llm)
        lm.model = self.m.model  # the same Qwen2 decoder (its extra multimodal children are not called)
        lm.lm_head = torch.nn.Linear(cfg.llm.hidden_size, cfg.llm.vocab_size, bias=False)
        lm.lm_head.weight = self.m.model.embed_tokens.weight
        self.lm = lm.eval()
        self.image_processor = _image_processor()
        self.fe = WhisperFeatureExtractor(feature_size=int(cfg.audio.num_mel_bins))

    def run(self, frames: np.ndarray, audio: np.ndarray, instruction: str, n_tokens: int) -> dict[str, Any]:
        import torch
        from PIL import Image

        from core.model import preprocess as pp
        from core.model.projector import fuse

        m, rt, dev, dt = self.m, self.rt, self.rt.device, self.rt.dtype
        timings: dict[str, float] = {}

        def mark(name: str, t0: float) -> float:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            timings[name] = now - t0
            return now

        t = time.perf_counter()
        start, cpu = t, time.process_time()
        with torch.inference_mode():
            idx = pp.frame_indices(len(frames), m.config.mm.num_frames)
            images = [Image.fromarray(f) for f in frames[idx]]
            pixels = self.image_processor(images)
            feats = self.fe(audio, sampling_rate=SAMPLE_RATE_HZ, return_tensors="pt")["input_features"]
            ids = pp.tokenize_prompt(rt.tokenizer, instruction, "video_audio")
            bert = rt.bert_tokenizer([instruction], return_tensors="pt", padding=True, truncation=True)
            t = mark("preprocess", t)
            out = m.model.vision_tower.siglip(pixels.to(dev, dt), output_hidden_states=True)
            vis = out.hidden_states[-2]
            t = mark("vision", t)
            gate = m.encode_instruction(**{k: v.to(dev) for k, v in bert.items()})["probs"]
            t = mark("gate", t)
            br = m.project_vision(vis.unsqueeze(0))
            fused = fuse(gate, br["video"], br["body"], br["face"])[0]
            t = mark("projector", t)
            aud = m.encode_audio(feats.to(dev, dt))["features"][0]
            t = mark("audio", t)
            rows = []
            for p in ids.pieces:
                if isinstance(p, tuple):
                    rows.append(m.model.embed_tokens(torch.tensor(p, device=dev)))
                else:
                    rows.append(fused if p == pp.VIDEO_TOKEN_INDEX else aud)
            embeds = torch.cat(rows).unsqueeze(0).to(dt)
            mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=dev)
            warnings.filterwarnings("ignore", message="Passing `repetition_penalty` with `inputs_embeds`")
            gen = self.lm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=n_tokens,
                                   min_new_tokens=n_tokens, do_sample=False, repetition_penalty=REPETITION_PENALTY,
                                   eos_token_id=None, pad_token_id=0, output_logits=True,
                                   return_dict_in_generate=True)
            t = mark("llm", t)
        timings["total"] = time.perf_counter() - start
        return {"ids": gen.sequences[0].tolist(), "logits": [x[0].float().cpu() for x in gen.logits],
                "embeds": embeds[0].float().cpu(), "timings": timings, "cpu_s": time.process_time() - cpu}


def _official_style_lm_class():
    """Qwen2ForCausalLM whose forward, like the official model class's, has no ``logits_to_keep`` argument: then
    ``generate`` computes output-layer logits for every prompt position, as the official inference does."""
    from transformers import Qwen2ForCausalLM

    class OfficialStyleQwen2(Qwen2ForCausalLM):
        def forward(self, input_ids=None, attention_mask=None, position_ids=None, inputs_embeds=None, **kwargs):
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                   inputs_embeds=inputs_embeds, **kwargs)

    return OfficialStyleQwen2


def _image_processor():
    """The official path's SigLIP preprocessing (pillow backend; identical to PIL bicubic + /255 + normalise)."""
    import torch

    try:
        from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

        proc = SiglipImageProcessorPil(size={"height": 224, "width": 224}, resample=3, image_mean=[0.5] * 3,
                                       image_std=[0.5] * 3)
        return lambda images: proc(images, return_tensors="pt")["pixel_values"]
    except ImportError:  # older/newer transformers: fall back to the same arithmetic
        from core.model.preprocess import pixel_values

        return lambda images: torch.from_numpy(pixel_values(np.stack([np.asarray(i) for i in images])))


# ---------------------------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------------------------
def fast_window(rt: Any, frames: np.ndarray, audio: np.ndarray, instruction: str, n_tokens: int) -> dict[str, Any]:
    cpu = time.process_time()
    r = rt.analyze(frames, audio, instruction, max_new_tokens=n_tokens, label_set="free")
    return {"ids": list(r.token_ids), "timings": dict(r.timings), "cpu_s": time.process_time() - cpu}


def check_same_function(rt: Any, naive: NaivePipeline, frames: np.ndarray, audio: np.ndarray, instruction: str,
                        n_tokens: int) -> dict[str, Any]:
    """fp32: fast and naive paths give the same logits (prefill and every decode step) and tokens."""
    import torch

    with rt.trace() as tr:
        fast = rt.analyze(frames, audio, instruction, max_new_tokens=n_tokens, label_set="free")
    ref = naive.run(frames, audio, instruction, n_tokens)
    fast_logits = tr["gen_step_logits"]
    naive_logits = torch.stack(ref["logits"])
    diff = float((fast_logits - naive_logits).abs().max())
    emb = float((tr["inputs_embeds"] - ref["embeds"]).abs().max())
    return {"max_abs_logit_diff": diff, "max_abs_embed_diff": emb, "same_tokens": list(fast.token_ids) == ref["ids"],
            "logit_scale": float(naive_logits.abs().max()), "pass": diff <= LOGIT_ATOL and list(fast.token_ids) == ref["ids"]}


def _load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def bench_one(cfg: Any, device: str, dtype_name: str, tokens: list[int], check_tokens: int, log,
              inputs: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    import torch

    from core.model.loading import resolve_device, resolve_dtype
    from core.model.preprocess import DEFAULT_INSTRUCTION
    from core.window import model_frame_indices

    dev = resolve_device(device)
    dt = resolve_dtype(dtype_name, dev)
    if dev.type == "cuda":  # float32 means float32 (the same-function check); half precision is unaffected
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = dt != torch.float32
    t0 = time.perf_counter()
    module = random_model(cfg, dev, dt)
    rt = runtime_for(module)
    naive = NaivePipeline(rt)
    frames, audio = inputs
    out: dict[str, Any] = {"device": str(dev), "dtype": dtype_name, "build_s": time.perf_counter() - t0,
                           "params": sum(p.numel() for p in module.parameters()), "runs": []}
    log(f"[{dev} {dtype_name}] built {out['params'] / 1e9:.3f} B params in {out['build_s']:.1f} s")

    # warm-up: kernels, allocator, and the per-instruction caches (first-window cost reported separately)
    first = rt.analyze(frames, audio, DEFAULT_INSTRUCTION, max_new_tokens=2, label_set="free")
    out["first_window_gate_s"] = first.timings["gate"]
    picked = frames[model_frame_indices(len(frames), rt.num_frames)]  # what an attribution re-runs
    if rt.decode_mode != "eager":  # as the app does after a load: the CUDA graph for each window size
        for n in tokens:
            rt.warm_up(frames, audio, DEFAULT_INSTRUCTION, n)
            rt.warm_up(picked, None, DEFAULT_INSTRUCTION, n)  # the video-only prompt is shorter: its own graph
    naive.run(frames, audio, DEFAULT_INSTRUCTION, 2)
    if dt == torch.float32 and check_tokens:
        out["check"] = check_same_function(rt, naive, frames, audio, DEFAULT_INSTRUCTION, check_tokens)
        c = out["check"]
        log(f"[{dev} {dtype_name}] fast vs naive: max |logit diff| {c['max_abs_logit_diff']:.2e} over "
            f"{check_tokens} steps (|logits| up to {c['logit_scale']:.2f}), same tokens: {c['same_tokens']} -> "
            f"{'PASS' if c['pass'] else 'FAIL'}")
    for n in tokens:
        f = fast_window(rt, frames, audio, DEFAULT_INSTRUCTION, n)
        nv = naive.run(frames, audio, DEFAULT_INSTRUCTION, n)
        ft, nt = f["timings"], nv["timings"]
        attributed = fast_window(rt, picked, None, DEFAULT_INSTRUCTION, n)
        at = attributed["timings"]
        run = {"new_tokens": n, "fast": ft, "naive": nt, "ratio": nt["total"] / ft["total"],
               "fast_cpu_s": f["cpu_s"], "naive_cpu_s": nv["cpu_s"], "cpu_ratio": nv["cpu_s"] / f["cpu_s"],
               "decode_tok_s": (n - 1) / ft["decode"] if n > 1 else None,
               "same_tokens": f["ids"] == nv["ids"],
               "attribution": at, "attribution_share": at["total"] / ft["total"],
               "attribution_cpu_s": attributed["cpu_s"], "attribution_cpu_share": attributed["cpu_s"] / f["cpu_s"]}
        out["runs"].append(run)
        log(f"[{dev} {dtype_name}] {n} tokens: fast {ft['total']:.2f} s, naive {nt['total']:.2f} s, "
            f"naive/fast {run['ratio']:.2f}x (CPU time {f['cpu_s']:.1f} s vs {nv['cpu_s']:.1f} s: "
            f"{run['cpu_ratio']:.2f}x; load average {_load():.1f}); attribution {at['total']:.2f} s = "
            f"{run['attribution_share']:.2f} of the window (CPU time {run['attribution_cpu_share']:.2f})")
    out["peak_rss_gib"] = _rss_gib()
    if dev.type == "cuda":
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated(dev) / 1024**3
    rt.close()
    del module, naive, rt
    return out


def format_report(results: list[dict[str, Any]]) -> str:
    lines = []
    stages = ("preprocess", "vision", "projector", "gate", "audio", "prefill", "decode", "total")
    for r in results:
        cuda = f", CUDA {r['peak_cuda_gib']:.1f} GiB" if "peak_cuda_gib" in r else ""
        lines.append(f"\n== {r['device']} {r['dtype']} ({r['params'] / 1e9:.3f} B params, peak RSS "
                     f"{r['peak_rss_gib']:.1f} GiB{cuda})")
        lines.append(f"   first window: BERT gate {r['first_window_gate_s'] * 1000:.0f} ms (then cached per instruction)")
        for run in r["runs"]:
            f, nv = run["fast"], run["naive"]
            lines.append(f"   {run['new_tokens']} new tokens   fast: " + "  ".join(f"{s} {f[s]:.3f}" for s in stages if s in f))
            lines.append(f"   {'':>14}  naive: " + "  ".join(f"{s} {nv[s]:.3f}" for s in stages[:5] + ("llm", "total")))
            tok_s = f"{run['decode_tok_s']:.1f} tok/s" if run["decode_tok_s"] else "-"
            lines.append(f"   {'':>14}  whole window fast {f['total']:.2f} s vs naive {nv['total']:.2f} s -> "
                         f"{run['ratio']:.2f}x; decode {tok_s}; same tokens {run['same_tokens']}")
            lines.append(f"   {'':>14}  process CPU time fast {run['fast_cpu_s']:.1f} s vs naive {run['naive_cpu_s']:.1f} s"
                         f" -> {run['cpu_ratio']:.2f}x (less sensitive to other load on a shared machine)")
            at = run["attribution"]
            lines.append(f"   {'':>14}  attribution (the 8 frames re-run video-only): " + "  ".join(
                f"{s} {at[s]:.3f}" for s in stages if s in at) + f" -> {run['attribution_share']:.2f} of the "
                f"window's time ({run['attribution_cpu_share']:.2f} of its process CPU time)")
        if "check" in r:
            c = r["check"]
            lines.append(f"   same function (fp32): max |logit diff| {c['max_abs_logit_diff']:.2e} (limit {LOGIT_ATOL}), "
                         f"embeddings {c['max_abs_embed_diff']:.1e}, same tokens {c['same_tokens']} -> "
                         f"{'PASS' if c['pass'] else 'FAIL'}")
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--dtypes", default=None, help="comma list (default: float32,bfloat16 on CPU; "
                        "float16,bfloat16 on CUDA)")
    parser.add_argument("--tokens", default="64,128", help="new tokens per window, comma list (default 64,128)")
    parser.add_argument("--check-tokens", type=int, default=8, help="decode steps compared in the fp32 check")
    parser.add_argument("--quick", action="store_true", help="16 new tokens, bfloat16 only on CPU")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import torch

    from core.model.config import full_size_config

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    is_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    default_dtypes = "float16,bfloat16" if is_cuda else ("bfloat16" if args.quick else "float32,bfloat16")
    dtypes = [d.strip() for d in (args.dtypes or default_dtypes).split(",") if d.strip()]
    tokens = [16] if args.quick and args.tokens == "64,128" else [int(x) for x in args.tokens.split(",")]
    cfg = tiny_config() if args.tiny else full_size_config()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; full-size random weights; "
        "timings on a shared machine are noisy")
    inputs = window_inputs(8, 2.0, (32, 32)) if args.tiny else window_inputs()
    results = [bench_one(cfg, device, d, tokens, args.check_tokens, log, inputs) for d in dtypes]
    print(format_report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    failed = [r for r in results if "check" in r and not r["check"]["pass"]]
    return 1 if failed else 0


def tiny_config():
    """Parity-fixture-sized config (for the smoke test of this script)."""
    from core.model.config import R1OmniConfig

    ck = json.loads((FIXTURE / "config.json").read_text())
    parts = [json.loads((FIXTURE / d / "config.json").read_text()) for d in ("siglip", "whisper", "bert")]
    return R1OmniConfig.from_dicts(ck, *parts)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(p)
    sys.exit(run(p.parse_args()))
