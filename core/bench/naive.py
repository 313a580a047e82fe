"""A naive composition of the same weights, called the way the official code calls them (for ``bench --naive``).

SiglipImageProcessor + ``SiglipVisionModel(output_hidden_states=True).hidden_states[-2]``, BERT + gate on every
window, the Whisper encoder, projectors, splicing, then ``Qwen2ForCausalLM.generate(inputs_embeds=...)`` with
transformers' default cache and logits for every prompt position. In float32 the benchmark checks that the app's
path computes the same function (prefill and decode-step logits within ``LOGIT_ATOL``, the same tokens).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

LOGIT_ATOL = 1e-4
SAMPLE_RATE_HZ = 16_000


class NaivePipeline:
    def __init__(self, model: Any, repetition_penalty: float) -> None:
        import torch
        from transformers import WhisperFeatureExtractor

        self.rt, self.m = model, model.module
        self.penalty = repetition_penalty
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
        """One window -> ids, per-step logits (float32 CPU), embeddings, timings per stage, process CPU time."""
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
            pixels = self.image_processor([Image.fromarray(f) for f in frames[idx]])
            feats = self.fe(audio, sampling_rate=SAMPLE_RATE_HZ, return_tensors="pt")["input_features"]
            ids = pp.tokenize_prompt(rt.tokenizer, instruction, "video_audio")
            bert = rt.bert_tokenizer([instruction], return_tensors="pt", padding=True, truncation=True)
            t = mark("preprocess", t)
            vis = m.model.vision_tower.siglip(pixels.to(dev, dt), output_hidden_states=True).hidden_states[-2]
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
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Passing `repetition_penalty` with `inputs_embeds`")
                gen = self.lm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=n_tokens,
                                       min_new_tokens=n_tokens, do_sample=False, repetition_penalty=self.penalty,
                                       eos_token_id=None, pad_token_id=0, output_logits=True,
                                       return_dict_in_generate=True)
            mark("llm", t)
        timings["total"] = time.perf_counter() - start
        return {"ids": gen.sequences[0].tolist(), "logits": [x[0].float().cpu() for x in gen.logits],
                "embeds": embeds[0].float().cpu(), "timings": timings, "cpu_s": time.process_time() - cpu}


def check_same_function(model: Any, naive: NaivePipeline, frames: np.ndarray, audio: np.ndarray, instruction: str,
                        n_tokens: int) -> dict[str, Any]:
    """float32: the app's path and the naive one give the same logits (prefill and every decode step) and tokens."""
    import torch

    with model.trace() as tr:
        fast = model.analyze(frames, audio, instruction, max_new_tokens=n_tokens, label_set="free")
    ref = naive.run(frames, audio, instruction, n_tokens)
    fast_logits = tr["gen_step_logits"]
    naive_logits = torch.stack(ref["logits"])
    diff = float((fast_logits - naive_logits).abs().max())
    emb = float((tr["inputs_embeds"] - ref["embeds"]).abs().max())
    same = list(fast.token_ids) == ref["ids"]
    return {"max_abs_logit_diff": diff, "max_abs_embed_diff": emb, "same_tokens": same,
            "logit_scale": float(naive_logits.abs().max()), "pass": diff <= LOGIT_ATOL and same}


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
