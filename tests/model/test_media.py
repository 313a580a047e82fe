"""core.clip_decode.read_clip: decoding like the official reader, warnings, clear errors; va_mp4 end to end."""

from __future__ import annotations

import numpy as np
import pytest

from core.clip_decode import MediaError, read_clip
from tests.conftest import PARITY_DIR
from tests.support.media import index_of_frame, make_corrupt, make_video, tone

MP4 = PARITY_DIR / "clips" / "clip_a.mp4"


@pytest.fixture(scope="module")
def va_mp4_ref():
    with np.load(PARITY_DIR / "cases" / "va_mp4.npz") as z:
        return {k: z[k] for k in z.files}


def test_parity_mp4_decodes_like_the_official_reader(va_mp4_ref):
    clip = read_clip(MP4)
    assert clip.frames.shape == (45, 120, 160, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 15.0 and clip.n_frames == 45 and clip.warnings == ()
    assert abs(clip.duration_s - 3.0) < 1e-6
    # same frame pixels at the same indices as decord
    assert np.array_equal(clip.frames[va_mp4_ref["frame_indices"]], va_mp4_ref["frames_fed"])
    # same audio: 48128 samples (AAC pads to whole 1024-sample frames, both decoders keep the padding)
    assert clip.audio.shape == va_mp4_ref["audio_waveform"].shape
    np.testing.assert_allclose(clip.audio, va_mp4_ref["audio_waveform"], atol=1e-5)
    assert not clip.frames.flags.writeable


def test_sampled_mode_keeps_the_models_frames(va_mp4_ref):
    clip = read_clip(MP4, frames="sampled")
    assert clip.frames.shape == (8, 120, 160, 3) and clip.n_frames == 45
    assert clip.frame_indices.tolist() == va_mp4_ref["frame_indices"].tolist()
    assert np.array_equal(clip.frames, va_mp4_ref["frames_fed"])


def test_va_mp4_end_to_end_through_analyze(parity_model, manifest, va_mp4_ref):
    """The mp4 decoded by core.clip_decode gives the official tokens (decoded audio equals decord's within 1.5e-7)."""
    case = manifest["cases"]["va_mp4"]
    clip = read_clip(MP4)
    n = len(va_mp4_ref["gen_ids"])
    with parity_model.trace() as t:
        r = parity_model.analyze(clip.frames, clip.audio, case["instruct"], max_new_tokens=n)
    assert np.array_equal(t["frame_indices"].numpy(), va_mp4_ref["frame_indices"])
    np.testing.assert_allclose(t["input_features"].numpy(), va_mp4_ref["input_features"], atol=1e-4)
    assert list(r.token_ids) == va_mp4_ref["gen_ids"].tolist()


def test_no_audio_track_and_short_video_warn(tmp_path):
    path = make_video(tmp_path / "silent.mp4", seconds=0.4, fps=10, audio=None)
    clip = read_clip(path)
    assert clip.audio is None and clip.n_frames == 4
    assert any("no audio track" in w for w in clip.warnings)
    assert any("frames repeat" in w for w in clip.warnings)
    assert [index_of_frame(f) for f in clip.frames] == [0, 1, 2, 3]
    assert clip.frames[0, 0, 0, 0] > 200 and clip.frames[0, 0, 0, 2] < 60  # RGB order: red corner


def test_audio_longer_than_30_s_warns(tmp_path):
    path = make_video(tmp_path / "long.mp4", seconds=31, fps=1, size=(32, 32), audio=tone(31, rate_hz=16000),
                      audio_rate_hz=16000, audio_channels=1)
    clip = read_clip(path)
    assert clip.audio_s > 30.9
    assert any("first 30 s" in w for w in clip.warnings)


def test_stereo_44k_is_resampled_to_16k_mono(tmp_path):
    path = make_video(tmp_path / "st.mp4", seconds=1.0, audio=True, audio_rate_hz=44100, audio_channels=2)
    clip = read_clip(path)
    assert clip.audio.dtype == np.float32 and abs(clip.audio_s - 1.0) < 0.1
    spectrum = np.abs(np.fft.rfft(clip.audio[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 5  # the 440 Hz tone survives


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "folder"])
def test_bad_files_raise_clear_errors(tmp_path, kind):
    path = tmp_path / "x.mp4"
    if kind in ("empty", "garbage"):
        make_corrupt(path, kind)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(MediaError) as info:
        read_clip(path)
    msg = str(info.value)
    assert str(path) in msg
    assert {"missing": "does not exist", "empty": "empty", "garbage": "re-encode", "folder": "folder"}[kind] in msg


# ---- decoding at the size the model needs ---------------------------------------------------------------------

def _sharp_clip(path, size, frames=6, fps=10):
    """An mp4 of random 8x8-pixel blocks (hard edges everywhere: the worst case for any pre-scaling)."""
    import av

    width, height = size
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt, stream.options = width, height, "yuv420p", {"qscale": "2"}
        for _ in range(frames):
            blocks = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
            image = np.ascontiguousarray(np.repeat(np.repeat(blocks, 8, 0), 8, 1)[:height, :width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_model_sized_decoding_leaves_the_parity_clip_bit_for_bit_and_its_tokens(parity_model, manifest, va_mp4_ref):
    from core.clip_decode import MODEL_INPUT_PX

    clip = read_clip(MP4, frames="sampled", model_px=MODEL_INPUT_PX)  # what analyze and evaluate decode
    assert np.array_equal(clip.frames, va_mp4_ref["frames_fed"])
    case = manifest["cases"]["va_mp4"]
    n = len(va_mp4_ref["gen_ids"])
    result = parity_model.analyze(clip.frames, read_clip(MP4).audio, case["instruct"], max_new_tokens=n)
    assert list(result.token_ids) == va_mp4_ref["gen_ids"].tolist()


def test_large_frames_are_reduced_as_decoded_and_the_model_input_barely_moves(tmp_path):
    from core.clip_decode import MODEL_INPUT_PX, MODEL_REDUCE_GAP
    from core.model.preprocess import pixel_values

    path = _sharp_clip(tmp_path / "sharp.mp4", (1920, 1088))
    full = read_clip(path, frames="sampled")
    small = read_clip(path, frames="sampled", model_px=MODEL_INPUT_PX)
    assert full.frames.shape == (8, 1088, 1920, 3)
    assert small.frames.shape == (8, 544, 960, 3)  # integer factor 2: 960 >= 4 x 224
    long_side = max(small.frames.shape[1:3])
    assert MODEL_REDUCE_GAP * MODEL_INPUT_PX <= long_side < 2 * MODEL_REDUCE_GAP * MODEL_INPUT_PX
    # in 8-bit levels: the rounding of the reduced image to whole levels is all that is left on this worst case
    levels = np.abs(pixel_values(small.frames) - pixel_values(full.frames)) * 127.5
    assert levels.mean() < 1.0 and levels.max() <= 8, (levels.mean(), levels.max())
    assert small.frame_indices.tolist() == full.frame_indices.tolist() and small.warnings == full.warnings


def test_frames_below_the_bound_are_not_touched(tmp_path):
    from core.clip_decode import MODEL_INPUT_PX

    path = _sharp_clip(tmp_path / "mid.mp4", (1600, 912))  # < 2 x 4 x 224: no integer reduction keeps the gap
    assert np.array_equal(read_clip(path, frames="sampled", model_px=MODEL_INPUT_PX).frames,
                          read_clip(path, frames="sampled").frames)


def test_pictures_beyond_the_pixel_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    import core.clip_decode as clip_decode

    path = make_video(tmp_path / "v.mp4", seconds=0.5, size=(320, 240))
    monkeypatch.setattr(clip_decode, "MAX_VIDEO_PIXELS", 320 * 240 - 1)
    with pytest.raises(MediaError, match="320x240 pictures, more than"):
        read_clip(path, frames="sampled")


def test_a_file_cut_short_is_an_error_not_a_shorter_clip(tmp_path):
    from tests.security_inputs.hostile_media import damaged_half_way

    path = damaged_half_way(tmp_path / "cut.mp4", tmp_path)
    for frames in ("sampled", "all"):
        with pytest.raises(MediaError, match=r"cut short: only \d+ of the 60 video frames"):
            read_clip(path, frames=frames)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p"])
@pytest.mark.parametrize("factor", [2, 3, 5])
def test_reducing_strip_by_strip_gives_the_pixels_of_the_whole_frame(pix_fmt, factor):
    import av

    from core.clip_decode import _reduce_in_strips, box_reduce

    width, height = 1000, 606  # neither a multiple of the factors nor of the strip height
    planar = np.random.default_rng(factor).integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(planar, format=pix_fmt)
    whole = box_reduce(frame.to_ndarray(format="rgb24"), factor)
    assert whole.shape == (height // factor, width // factor, 3)
    assert np.array_equal(_reduce_in_strips(frame, factor), whole)
