"""Every case of the parity fixture through the public API: intermediates within the manifest tolerances and
identical greedy tokens with and without the repetition penalty (float32, CPU)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.conftest import PARITY_DIR

torch = pytest.importorskip("torch")
CASES = ("va_raw", "v_raw", "va_mp4")


def _inputs(case: dict, ref, clip: dict):
    """Clip frames/audio for raw cases; for the mp4 case the recorded decoder output placed at the recorded
    frame indices of a 45-frame clip, so that sampling and everything after it is checked exactly."""
    frames = clip["frames"]
    if case["source"] == "mp4":
        frames = np.zeros_like(frames)
        frames[ref["frame_indices"]] = ref["frames_fed"]
        audio = ref["audio_waveform"]
    else:
        audio = clip["audio"]
    return frames, (audio if case["modal"] == "video_audio" else None)


def _compare(trace: dict, ref, tensors: dict, suffix: str) -> list[str]:
    failures = []
    for name, info in tensors.items():
        if name.endswith("_norep") != bool(suffix):
            continue
        key = name.removesuffix(suffix) if suffix else name
        assert key in trace, f"{key} not traced"
        mine, want = trace[key].numpy(), ref[name]
        tol = info["tolerance"]
        if mine.shape != want.shape:
            failures.append(f"{name}: shape {mine.shape} != {want.shape}")
        elif tol["compare"] in ("exact", "decoder-dependent") or want.dtype.kind in "iu":
            if not np.array_equal(mine.astype(want.dtype), want):
                failures.append(f"{name}: not identical (max diff {np.abs(mine - want.astype(mine.dtype)).max()})")
        elif not np.allclose(mine, want, rtol=tol["rtol"], atol=tol["atol"]):
            failures.append(f"{name}: max abs diff {np.abs(mine - want).max():.3g} > atol {tol['atol']}")
    return failures


@pytest.mark.parametrize("name", CASES)
def test_case_through_public_api(parity_model, manifest, clip_a, name):
    case = manifest["cases"][name]
    with np.load(PARITY_DIR / case["npz"]) as z:
        ref = {k: z[k] for k in z.files}
    frames, audio = _inputs(case, ref, clip_a)
    n = len(ref["gen_ids"])

    with parity_model.trace() as trace:
        result = parity_model.analyze(frames, audio, case["instruct"], max_new_tokens=n, modal=case["modal"])
    assert _compare(trace, ref, case["tensors"], "") == []
    assert list(result.token_ids) == ref["gen_ids"].tolist()
    assert case["sequence_length"] == trace["inputs_embeds"].shape[0]

    plain = dataclasses.replace(parity_model.generation, repetition_penalty=1.0)
    saved, parity_model.generation = parity_model.generation, plain
    try:
        with parity_model.trace() as trace:
            result_norep = parity_model.analyze(frames, audio, case["instruct"], max_new_tokens=n, modal=case["modal"])
    finally:
        parity_model.generation = saved
    assert _compare(trace, ref, case["tensors"], "_norep") == []
    assert list(result_norep.token_ids) == ref["gen_ids_norep"].tolist()
    assert result.token_ids != result_norep.token_ids  # the penalty is really applied


def test_prompt_string_and_ids(parity_model, manifest):
    from core.model import preprocess as pp

    for name in CASES:
        case = manifest["cases"][name]
        assert pp.prompt_text(case["instruct"], case["modal"]) == case["prompt"]
        with np.load(PARITY_DIR / case["npz"]) as z:
            want = z["input_ids"].tolist()
        assert pp.tokenize_prompt(parity_model.tokenizer, case["instruct"], case["modal"]).input_ids == want
    assert pp.DEFAULT_INSTRUCTION == manifest["cases"]["va_raw"]["instruct"]


def test_cached_gate_and_prompt_give_the_same_tokens(parity_model, clip_a, manifest):
    """Second call uses the per-instruction caches; the tokens must not change."""
    case = manifest["cases"]["va_raw"]
    with np.load(PARITY_DIR / case["npz"]) as z:
        want = z["gen_ids"].tolist()
    for _ in range(2):
        r = parity_model.analyze(clip_a["frames"], clip_a["audio"], case["instruct"], max_new_tokens=len(want))
        assert list(r.token_ids) == want
        assert set(r.timings) >= {"preprocess", "vision", "projector", "gate", "audio", "prefill", "decode", "total"}
