"""Preprocessing details and the public analyze() contract: streaming, cancel, scores, modal, timings."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.model import AnalysisCancelled
from core.model import preprocess as pp


def test_frame_indices_uniform_half_even():
    assert pp.frame_indices(100).tolist() == [6, 19, 31, 43, 56, 68, 80, 93]
    assert pp.frame_indices(45).tolist() == [3, 8, 14, 19, 25, 30, 36, 41]
    assert pp.frame_indices(1).tolist() == [0] * 8
    assert pp.frame_indices(3).tolist() == [0, 0, 1, 1, 1, 1, 2, 2]  # short clips repeat frames
    with pytest.raises(ValueError):
        pp.frame_indices(0)


def test_pixel_values_range_and_layout():
    frames = np.zeros((2, 10, 20, 3), np.uint8)
    frames[1] = 255
    px = pp.pixel_values(frames)
    assert px.shape == (2, 3, 224, 224) and px.dtype == np.float32
    assert np.all(px[0] == -1.0) and np.all(px[1] == 1.0)


def test_audio_features_are_always_30_s(parity_model):
    fe = parity_model.audio_features
    short = fe(np.zeros(16000, np.float32))
    long = fe(np.random.default_rng(0).standard_normal(16000 * 40).astype(np.float32))
    assert short.shape == long.shape == (1, 128, 3000)
    head = fe(np.random.default_rng(0).standard_normal(16000 * 40).astype(np.float32)[: 16000 * 30])
    np.testing.assert_allclose(long, head, atol=1e-6)  # audio beyond 30 s is cut


def test_streaming_concatenates_to_text_and_handles_split_characters(parity_model, clip_a):
    tok = parity_model.tokenizer
    from core.model.streaming import IncrementalDecoder

    ids = tok("héllo wörld 😀 ok", add_special_tokens=False)["input_ids"]
    pieces: list[str] = []
    dec = IncrementalDecoder(tok, pieces.append)
    for i in ids:
        dec.push(i)
    dec.flush()
    assert "".join(pieces) == tok.decode(ids, skip_special_tokens=True)
    assert all("\ufffd" not in p for p in pieces)

    streamed: list[str] = []
    r = parity_model.analyze(clip_a["frames"], clip_a["audio"], "describe the emotion", max_new_tokens=12,
                             on_token=streamed.append)
    assert "".join(streamed).strip() == r.text


def test_should_stop_cancels_between_tokens(parity_model, clip_a):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(AnalysisCancelled) as info:
        parity_model.analyze(clip_a["frames"], None, "x", max_new_tokens=20, should_stop=stop)
    assert len(info.value.partial.token_ids) == 2  # polled once before the prefill, then after each token
    with pytest.raises(AnalysisCancelled) as info:
        parity_model.analyze(clip_a["frames"], None, "x", max_new_tokens=20, should_stop=lambda: True)
    assert info.value.partial.token_ids == () and "prefill" not in info.value.partial.timings


def test_video_only_modal_and_errors(parity_model, clip_a):
    r = parity_model.analyze(clip_a["frames"][:1], None, "which emotion?", max_new_tokens=2)
    assert r.modal == "video" and r.label_set == "dfew"
    with pytest.raises(ValueError, match="needs audio"):
        parity_model.analyze(clip_a["frames"], None, "x", max_new_tokens=2, modal="video_audio")
    with pytest.raises(ValueError, match="uint8"):
        parity_model.analyze(clip_a["frames"].astype(np.float32), None, "x", max_new_tokens=2)
    with pytest.raises(ValueError, match="label set"):
        parity_model.analyze(clip_a["frames"], None, "x", max_new_tokens=2, label_set="nope")


def test_label_scores_match_separate_forward_passes(parity_model, clip_a):
    """The batched, cache-reusing scores equal scoring each continuation with a full forward pass."""
    from core.labels import DFEW
    from core.model.scoring import answer_cut

    m = parity_model
    r = m.analyze(clip_a["frames"], clip_a["audio"], "which emotion?", max_new_tokens=6, scores=True)
    assert set(r.scores) == set(DFEW) and abs(sum(r.scores.values()) - 1) < 1e-5
    assert "scores" in r.timings
    with torch.inference_mode():
        prep = m.encoder.prepare(clip_a["frames"], clip_a["audio"], "which emotion?", "video_audio", m.num_frames)
        embeds = m.encoder.encode_batch([prep], {})
        gen = list(r.token_ids)
        cut, lead = answer_cut(m.tokenizer, gen, m.generation.stop_ids)
        totals = []
        for lab in DFEW:
            cont = m.tokenizer(f"{lead}<answer>{lab}</answer>", add_special_tokens=False)["input_ids"]
            seq = torch.cat([embeds[0], m.module.embed(torch.tensor(gen[:cut] + cont))]).unsqueeze(0)
            h = m.decoder.layers(seq, 0, m.decoder.new_cache(seq.shape[1]))
            logp = torch.log_softmax(m.module.lm_head(h[0]).float(), -1)
            start = embeds.shape[1] + cut
            totals.append(sum(float(logp[start - 1 + i, t]) for i, t in enumerate(cont)))
        want = torch.softmax(torch.tensor(totals), 0).tolist()
    np.testing.assert_allclose([r.scores[k] for k in DFEW], want, rtol=1e-4, atol=1e-6)


def test_free_label_set_has_no_scores(parity_model, clip_a):
    r = parity_model.analyze(clip_a["frames"], None, "x", max_new_tokens=2, label_set="free", scores=True)
    assert r.scores is None and r.label_set == "free"
