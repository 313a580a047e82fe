"""``analyze_batch`` against ``analyze`` on the parity checkpoint (float32, CPU): the same greedy tokens per clip,
with the repetition penalty on, when sequences stop at different steps, and for both modals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")
MAX_NEW_TOKENS = 24


@pytest.fixture(scope="module")
def three_clips(clip_a) -> list[tuple[np.ndarray, np.ndarray]]:
    """clip_a, a mirrored copy with reversed audio and a time-reversed copy with quieter audio: three clips whose
    generated tokens differ."""
    f, a = clip_a["frames"], clip_a["audio"]
    return [
        (f, a),
        (np.ascontiguousarray(f[:, :, ::-1]), np.ascontiguousarray(a[::-1])),
        (np.ascontiguousarray(f[::-1]), a * np.float32(0.3)),
    ]


def _one_by_one(model, clips, modal, n=MAX_NEW_TOKENS):
    return [model.analyze(frames, audio if modal == "video_audio" else None, max_new_tokens=n, modal=modal).token_ids
            for frames, audio in clips]


@pytest.mark.parametrize("modal", ["video_audio", "video"])
def test_batch_gives_the_tokens_of_single_clips(parity_model, three_clips, modal):
    assert parity_model.generation.repetition_penalty == pytest.approx(1.1)  # the penalty is on
    want = _one_by_one(parity_model, three_clips, modal)
    assert len(set(want)) == 3  # the clips really differ
    results = parity_model.analyze_batch(three_clips, max_new_tokens=MAX_NEW_TOKENS, modal=modal)
    assert [r.token_ids for r in results] == want
    assert all(r.modal == modal and r.scores is None for r in results)
    assert all(r.timings["batch_size"] == 3 and r.timings["decode"] > 0 for r in results)
    for r, (_frames, _audio) in zip(results, three_clips):
        assert r.text == parity_model.tokenizer.decode(list(r.token_ids), skip_special_tokens=True).strip()


def test_sequences_stop_on_their_own(parity_model, three_clips):
    """Make a token that the first and third clips emit early (at different steps) a stop id: those two stop
    there while the second runs to ``max_new_tokens``, exactly as separately."""
    free = _one_by_one(parity_model, three_clips, "video_audio")
    stop = next(t for t in free[0][1:-4] if t in free[2][1:-4] and t not in free[1]
                and free[0].index(t) != free[2].index(t))
    saved = parity_model.generation
    parity_model.generation = dataclasses.replace(saved, stop_ids=saved.stop_ids | {stop})
    try:
        want = _one_by_one(parity_model, three_clips, "video_audio")
        results = parity_model.analyze_batch(three_clips, max_new_tokens=MAX_NEW_TOKENS)
    finally:
        parity_model.generation = saved
    lengths = [len(w) for w in want]
    assert lengths[0] < MAX_NEW_TOKENS and lengths[2] < MAX_NEW_TOKENS and lengths[0] != lengths[2]
    assert lengths[1] == MAX_NEW_TOKENS
    assert want[0][-1] == want[2][-1] == stop
    assert [r.token_ids for r in results] == want


def test_batch_without_penalty_and_of_one(parity_model, three_clips):
    saved = parity_model.generation
    parity_model.generation = dataclasses.replace(saved, repetition_penalty=1.0)
    try:
        want = _one_by_one(parity_model, three_clips[:2], "video_audio")
        got = [r.token_ids for r in parity_model.analyze_batch(three_clips[:2], max_new_tokens=MAX_NEW_TOKENS)]
    finally:
        parity_model.generation = saved
    assert got == want
    single = parity_model.analyze_batch(three_clips[:1], max_new_tokens=MAX_NEW_TOKENS)
    assert [r.token_ids for r in single] == _one_by_one(parity_model, three_clips[:1], "video_audio")


def test_bad_batches_are_refused(parity_model, three_clips):
    (f, a), _, _ = three_clips
    assert parity_model.analyze_batch([], max_new_tokens=4) == []
    with pytest.raises(ValueError, match="some clips of the batch have audio"):
        parity_model.analyze_batch([(f, a), (f, None)], max_new_tokens=4)
    with pytest.raises(ValueError, match="needs audio"):
        parity_model.analyze_batch([(f, a), (f, None)], max_new_tokens=4, modal="video_audio")
    with pytest.raises(ValueError, match="max_new_tokens"):
        parity_model.analyze_batch([(f, a)], max_new_tokens=0)
    mixed = parity_model.analyze_batch([(f, a), (f, None)], max_new_tokens=4, modal="video")
    assert mixed[0].token_ids == mixed[1].token_ids  # audio is ignored in the video modal
