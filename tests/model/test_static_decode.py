"""The decode step's variants against each other on the parity checkpoint (float32):

- the CPU single-query attention (two matrix products) against the fused SDPA kernel;
- the static form that a CUDA graph records (fixed KV capacity, position tensor, masked attention) against the
  step-by-step decoder, token for token, one clip and a batch;
- a graph capture that fails (on a CPU it must) falls back to step-by-step decoding with the same tokens;
- on a CUDA machine: the replayed graph against step-by-step decoding.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from core.model import graphed_decode
from tests.model.conftest import CHECKPOINT

MAX_NEW_TOKENS = 24


@contextlib.contextmanager
def decode_mode(model, mode: str):
    saved = model.decoder.mode
    model.decoder.mode = mode
    model.decoder.decoders.clear()
    try:
        yield
    finally:
        model.decoder.mode = saved
        model.decoder.decoders.clear()


@pytest.mark.parametrize(("batch", "heads", "kv_heads", "length"), [(1, 14, 2, 37), (3, 4, 4, 5), (2, 8, 1, 300)])
def test_single_query_attention_equals_the_fused_kernel(parity_model, batch, heads, kv_heads, length):
    step = parity_model.decoder.step
    saved = step.n_kv
    step.n_kv = kv_heads
    try:
        gen = torch.Generator().manual_seed(batch * 100 + length)
        q = torch.randn(batch, heads, 1, 64, generator=gen)
        storage = torch.randn(batch, kv_heads, length + 9, 64, generator=gen)  # a cache slice is not contiguous
        keys, values = storage[:, :, :length], storage[:, :, 9:] * 0.5
        want = F.scaled_dot_product_attention(q, keys, values, scale=step.scale, enable_gqa=True)
        got = step._attend_one(q, keys, values)
    finally:
        step.n_kv = saved
    assert got.shape == (batch, 1, heads * 64)
    torch.testing.assert_close(got, want.transpose(1, 2).reshape(batch, 1, -1), atol=2e-6, rtol=1e-5)


def test_static_form_gives_the_tokens_of_step_by_step_decoding(parity_model, clip_a):
    frames, audio = clip_a["frames"], clip_a["audio"]
    with decode_mode(parity_model, "eager"):
        want = parity_model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS, scores=True)
        want_video = parity_model.analyze(frames, None, max_new_tokens=MAX_NEW_TOKENS)
    with decode_mode(parity_model, "static"):
        got = parity_model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS, scores=True)
        (decoder,) = parity_model.decoder.decoders.values()
        video_only = parity_model.analyze(frames, None, max_new_tokens=MAX_NEW_TOKENS)  # a shorter prompt
        again = parity_model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS)  # reuses the first storage
        assert len(parity_model.decoder.decoders) == 2 and decoder in parity_model.decoder.decoders.values()
        assert not any(d.graphed for d in parity_model.decoder.decoders.values())
        assert all(d.capacity % graphed_decode.CAPACITY_STEP == 0 for d in parity_model.decoder.decoders.values())
    assert got.token_ids == want.token_ids == again.token_ids and len(want.token_ids) == MAX_NEW_TOKENS
    assert got.scores == pytest.approx(want.scores, abs=1e-6)  # label scoring reads the static KV storage
    assert video_only.token_ids == want_video.token_ids


def test_static_form_batch(parity_model, clip_a):
    f, a = clip_a["frames"], clip_a["audio"]
    clips = [(f, a), (np.ascontiguousarray(f[::-1]), a * np.float32(0.3))]
    with decode_mode(parity_model, "eager"):
        want = [r.token_ids for r in parity_model.analyze_batch(clips, max_new_tokens=MAX_NEW_TOKENS)]
    assert want[0] != want[1]
    with decode_mode(parity_model, "static"):
        got = [r.token_ids for r in parity_model.analyze_batch(clips, max_new_tokens=MAX_NEW_TOKENS)]
    assert got == want


def test_failed_capture_falls_back_to_step_by_step(parity_model, clip_a, caplog):
    if parity_model.device.type == "cuda":
        pytest.skip("capturing works on a GPU")
    frames, audio = clip_a["frames"], clip_a["audio"]
    want = parity_model.analyze(frames, audio, max_new_tokens=8).token_ids
    with decode_mode(parity_model, "graph"):  # there is no CUDA here: capturing raises
        with caplog.at_level("WARNING", logger=graphed_decode.__name__):
            got = parity_model.analyze(frames, audio, max_new_tokens=8).token_ids
        assert parity_model.decoder.mode == "eager"  # not tried again for every window
        assert not parity_model.decoder.decoders
    assert got == want
    assert "CUDA graph capture failed" in caplog.text and graphed_decode.GRAPHS_ENV in caplog.text


def test_capacity_rounds_up_to_whole_steps():
    step = graphed_decode.CAPACITY_STEP
    assert [graphed_decode.capacity_for(n) for n in (1, step, step + 1, 3 * step - 1)] == [step, step, 2 * step,
                                                                                          3 * step]


def test_graphs_follow_the_device_and_the_switch(monkeypatch):
    monkeypatch.delenv(graphed_decode.GRAPHS_ENV, raising=False)
    assert not graphed_decode.graphs_enabled(torch.device("cpu"))
    assert graphed_decode.graphs_enabled(torch.device("cuda"))
    monkeypatch.setenv(graphed_decode.GRAPHS_ENV, "0")
    assert not graphed_decode.graphs_enabled(torch.device("cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graph_gives_the_tokens_of_step_by_step_decoding(clip_a):
    from core.model import load_model

    model = load_model(CHECKPOINT, device="cuda", dtype="float32")
    try:
        assert model.decoder.mode == "graph"
        frames, audio = clip_a["frames"], clip_a["audio"]
        got = model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS)
        (decoder,) = model.decoder.decoders.values()
        assert decoder.graphed
        second = model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS)  # replays the kept graph
        with decode_mode(model, "eager"):
            want = model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS)
        assert got.token_ids == want.token_ids == second.token_ids
    finally:
        model.close()


def test_warm_up_prepares_the_decoder_of_the_windows_to_come(parity_model, clip_a):
    frames, audio = clip_a["frames"], clip_a["audio"]
    with decode_mode(parity_model, "static"):
        parity_model.warm_up(frames[:3], audio[:16_000], max_new_tokens=MAX_NEW_TOKENS)  # other frames and audio
        (decoder,) = parity_model.decoder.decoders.values()
        result = parity_model.analyze(frames, audio, max_new_tokens=MAX_NEW_TOKENS)
        assert list(parity_model.decoder.decoders.values()) == [decoder]  # the window used the prepared one
    assert len(result.token_ids) == MAX_NEW_TOKENS


def test_masked_single_query_attention_ignores_the_slots_after_the_position(parity_model):
    """The static form attends over the whole fixed-size storage with a mask: the same as attending over the
    written slots only, whatever the unwritten ones hold."""
    step = parity_model.decoder.step
    gen = torch.Generator().manual_seed(7)
    heads, kv, written, capacity = 2 * step.n_kv, step.n_kv, 40, 64
    q = torch.randn(2, heads, 1, 64, generator=gen)
    keys = torch.randn(2, kv, capacity, 64, generator=gen)
    values = torch.randn(2, kv, capacity, 64, generator=gen)
    keys[:, :, written:] = 1e4  # garbage that would dominate if it were read
    mask = (torch.arange(capacity) < written).view(1, 1, 1, -1)
    saved = step.n_kv
    try:
        got = step._attend_one(q, keys, values, mask)
        want = step._attend_one(q, keys[:, :, :written], values[:, :, :written])
    finally:
        step.n_kv = saved
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
