"""The fast profile on the parity model: what it changes, that each result says so, and that its pieces compute
what they claim (shorter Whisper input, int8 decode weights close to the dense ones)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from core.model import (
    load_model,
    profiles,
)
from core.model.int8 import INT8_MAX_ROWS, DenseLinear, Int8Linear, kernel_problem, quantize
from tests.model.conftest import CHECKPOINT

TOKENS = 12


@pytest.fixture(scope="module")
def fast_model():
    torch.set_num_threads(2)
    m = load_model(CHECKPOINT, device="cpu", dtype="float32", profile="fast")
    yield m
    m.close()


def test_profile_names():
    assert profiles.profile_named("FAST").name == "fast" and profiles.profile_named(" exact").approximate is False
    with pytest.raises(ValueError, match="exact or fast"):
        profiles.profile_named("turbo")


@pytest.mark.parametrize(("samples", "seconds"), [(0, 1), (1, 1), (16_000, 1), (16_001, 2), (64_000, 4),
                                                  (16_000 * 45, 30)])
def test_fast_whisper_hears_the_window_rounded_up_to_whole_seconds(samples, seconds):
    assert profiles.profile_named("fast").audio_seconds(samples) == seconds
    assert profiles.profile_named("exact").audio_seconds(samples) == 30


def test_fast_results_say_so(fast_model, parity_model, clip_a):
    r = fast_model.analyze(clip_a["frames"], clip_a["audio"], "which emotion?", max_new_tokens=TOKENS, scores=True)
    assert r.profile == "fast" and r.to_dict()["profile"] == "fast"
    info = fast_model.info()
    assert info["profile"] == "fast" and "approximate" in info["profile_detail"]
    assert "int8" in info["profile_detail"] and "own audio" in info["profile_detail"]
    exact = parity_model.analyze(clip_a["frames"], clip_a["audio"], "which emotion?", max_new_tokens=TOKENS)
    assert exact.profile == "exact" and parity_model.info()["profile"] == "exact"
    for result in (r, exact):
        t = result.timings
        assert 0 < t["first_token"] <= t["total"]
        assert t["first_token"] >= t["preprocess"] + t["vision"] + t["audio"] + t["prefill"] - 1e-3
    batch = fast_model.analyze_batch([(clip_a["frames"], clip_a["audio"])], "which emotion?", max_new_tokens=3)
    assert batch[0].profile == "fast"


def test_fast_audio_tokens_follow_the_audio_length(fast_model, parity_model, clip_a):
    frames, audio = clip_a["frames"], clip_a["audio"]  # 3.0 s
    with parity_model.trace() as exact:
        parity_model.analyze(frames, audio, "x", max_new_tokens=1)
    with fast_model.trace() as fast:
        fast_model.analyze(frames, audio, "x", max_new_tokens=1)
    assert exact["input_features"].shape[-1] == 3000 and exact["audio_features"].shape[0] == 500
    assert fast["input_features"].shape[-1] == 300  # 3 s x 100 frames
    assert fast["whisper_out"].shape[0] == 150 and fast["audio_features"].shape[0] == 50  # floor(150 / 3)
    assert exact["inputs_embeds"].shape[0] - fast["inputs_embeds"].shape[0] == 450


def test_whisper_on_any_length_is_the_encoder_at_full_length(parity_model, clip_a):
    tower = parity_model.module.model.audio_tower
    feats = torch.from_numpy(parity_model.audio_features(clip_a["audio"]))
    with torch.inference_mode():
        want = tower.audio_tower.encoder(feats).last_hidden_state
        got = tower.encode_any_length(feats)
        assert torch.equal(got, want)
        short = tower(feats[..., :400])
        assert short.shape == (1, 200, want.shape[-1])
        with pytest.raises(ValueError, match="even number of mel frames"):
            tower.encode_any_length(feats[..., :401])


def test_audio_features_over_whole_seconds(parity_model, clip_a):
    fe = parity_model.audio_features
    full, four = fe(clip_a["audio"]), fe(clip_a["audio"], 4)
    assert four.shape == (1, full.shape[1], 400)
    # the same log-mel frames where the window's audio is (the last frames see the different padding)
    np.testing.assert_allclose(four[..., :290], full[..., :290], atol=1e-5)
    with pytest.raises(ValueError):
        fe(clip_a["audio"], 0)
    with pytest.raises(ValueError):
        fe(clip_a["audio"], 31)


def test_fast_batch_of_different_audio_lengths(fast_model, clip_a):
    f, a = clip_a["frames"], clip_a["audio"]
    results = fast_model.analyze_batch([(f, a), (f, a[:16_000])], "x", max_new_tokens=4)
    assert [r.timings["batch_size"] for r in results] == [2, 2]
    with fast_model.trace() as tr:
        fast_model.analyze(f, a[:16_000], "x", max_new_tokens=1)
    assert tr["input_features"].shape[-1] == 100  # alone, the short clip hears 1 s


def test_int8_decode_is_close_to_the_dense_weights(clip_a):
    """int8 decoding alone (30 s audio as exact): the step logits move by a small fraction of their range."""
    int8_only = profiles.Profile("fast", short_audio=False, int8_decode=True)
    exact = load_model(CHECKPOINT, device="cpu", dtype="float32")
    fast = load_model(CHECKPOINT, device="cpu", dtype="float32", profile=int8_only)
    try:
        assert fast.decoder.step.int8 and isinstance(fast.decoder.step.head, Int8Linear)
        assert fast.memory_bytes() > exact.memory_bytes()  # the int8 copies
        with exact.trace() as te:
            want = exact.analyze(clip_a["frames"], clip_a["audio"], "x", max_new_tokens=TOKENS)
        with fast.trace() as tf:
            fast.analyze(clip_a["frames"], clip_a["audio"], "x", max_new_tokens=TOKENS)
        assert torch.equal(te["inputs_embeds"], tf["inputs_embeds"])  # towers and splice untouched
        first_e, first_f = te["gen_step_logits"][0], tf["gen_step_logits"][0]
        scale = float(first_e.abs().max())
        assert 0 < float((first_e - first_f).abs().max()) < 0.05 * scale
        assert int(first_e.argmax()) == int(first_f.argmax())
        assert len(want.token_ids) == TOKENS
    finally:
        exact.close()
        fast.close()


def test_quantize_error_is_half_a_step_per_channel():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(300, 64, generator=gen) * torch.logspace(-3, 1, 300)[:, None]  # channels of very different size
    original = w.clone()
    q, s = quantize(w)
    assert torch.equal(w, original)  # the dense weights stay as they are (the prefill uses them)
    assert q.dtype == torch.int8 and int(q.abs().max()) <= 127
    err = (q.float() * s.float()[:, None] - w).abs().amax(dim=1)
    assert bool((err <= 0.5 * s.float() * 1.01 + 1e-12).all())


def test_int8_linear_rows_and_dense_fallback():
    assert kernel_problem(torch.device("cpu")) is None
    gen = torch.Generator().manual_seed(1)
    w, b = torch.randn(96, 64, generator=gen), torch.randn(96, generator=gen)
    lin = Int8Linear(DenseLinear(w, b))
    x = torch.randn(1, 1, 64, generator=gen)
    y = lin(x)
    assert y.shape == (1, 1, 96) and y.dtype == torch.float32
    torch.testing.assert_close(y, F.linear(x, w, b), atol=0.1, rtol=0.02)
    many = torch.randn(INT8_MAX_ROWS + 1, 64, generator=gen)
    assert torch.equal(lin(many), F.linear(many, w, b))  # above the row limit: the dense weights, exactly


@pytest.mark.parametrize("bias", [False, True])
def test_one_bfloat16_row_takes_the_vector_kernel_with_the_same_numbers(bias):
    """The exact profile's decode step in bfloat16: torch.mv/addmv must give F.linear's numbers, element for
    element (both accumulate in float32 and round once), so the speed-up changes no token."""
    gen = torch.Generator().manual_seed(2)
    for n, k in ((1152, 896), (896, 4864), (4096, 896)):
        w = (torch.randn(n, k, generator=gen) * 0.02).bfloat16()
        b = (torch.randn(n, generator=gen) * 0.02).bfloat16() if bias else None
        x = torch.randn(1, 1, k, generator=gen).bfloat16()
        lin = DenseLinear(w, b)
        assert lin._vector
        assert torch.equal(lin(x), F.linear(x, w, b))
        two = torch.randn(2, 1, k, generator=gen).bfloat16()
        assert torch.equal(lin(two), F.linear(two, w, b))  # more rows: the matrix kernel itself


def test_exact_bfloat16_tokens_do_not_depend_on_the_vector_kernel(clip_a):
    m = load_model(CHECKPOINT, device="cpu", dtype="bfloat16")
    try:
        step = m.decoder.step
        linears = [step.head] + [lin for ly in step.layers for lin in (ly.qkv, ly.o, ly.gate_up, ly.down)]
        assert all(lin._vector for lin in linears)
        with m.trace() as vec:
            a = m.analyze(clip_a["frames"], clip_a["audio"], "x", max_new_tokens=TOKENS)
        for lin in linears:
            lin._vector = False
        with m.trace() as mat:
            b = m.analyze(clip_a["frames"], clip_a["audio"], "x", max_new_tokens=TOKENS)
        assert a.token_ids == b.token_ids and torch.equal(vec["gen_step_logits"], mat["gen_step_logits"])
    finally:
        m.close()
