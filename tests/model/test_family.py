"""Every member of the family loads from a tiny random checkpoint of its shape and analyses a clip through the
analyze command; frames, image size, towers and output layer come from the checkpoint's config. Unknown towers and
a model larger than the free memory are refused with what to do."""

from __future__ import annotations

import json

import numpy as np
import pytest

import main
from core.model import family_checks
from core.model.errors import ModelLoadError
from core.model.family import MEMBERS, find_member
from core.model.preprocess import DEFAULT_INSTRUCTION
from core.window import model_frame_indices
from tests.conftest import PARITY_DIR
from tests.model.family_checkpoints import SHAPES, build

CLIP = PARITY_DIR / "clips" / "clip_a.mp4"  # 45 frames, 3 s of audio
CLIP_FRAMES = 45


def test_the_catalogue_is_the_published_family():
    assert [m.name for m in MEMBERS] == list(SHAPES)
    assert MEMBERS[0].name == "R1-Omni-0.5B" and find_member("humanomni-7b").hf_repo == "StarJiaxing/HumanOmni-7B"
    with pytest.raises(ValueError, match="choose one of R1-Omni-0.5B, HumanOmni-0.5B"):
        find_member("R1-Omni-7B")


@pytest.mark.slow
@pytest.mark.parametrize("member", list(SHAPES))
def test_member_loads_and_analyses_a_clip(member, tmp_path, capsys):
    folder = build(tmp_path, member)
    shape = SHAPES[member]
    rc = main.main(["analyze", str(CLIP), "--model", str(folder), "--max-new-tokens", "3", "--json",
                    "--device", "cpu", "--dtype", "float32"])
    out = capsys.readouterr()
    assert rc == 0, out.err[-2000:]
    record = json.loads(out.out.strip().splitlines()[-1])
    assert record["frame_indices"] == model_frame_indices(CLIP_FRAMES, shape.num_frames).tolist()
    assert len(record["token_ids"]) >= 1 and record["modal"] == "video_audio"


def test_image_size_and_output_layer_follow_the_config(tmp_path):
    import torch

    from core.model import load_model

    folder = build(tmp_path, "HumanOmni-7B")
    model = load_model(folder, device="cpu", dtype="float32")
    try:
        assert model.num_frames == 16
        prepared = model.encoder.prepare(np.zeros((20, 48, 64, 3), np.uint8), None, DEFAULT_INSTRUCTION, "video",
                                         model.num_frames)
        assert prepared.pixel_values.shape == (16, 3, 384, 384)
        vision = model.module.config.vision
        assert (vision.image_size, vision.patch_size) == (384, 14)
        feats = model.module.encode_vision(torch.zeros(1, 3, 384, 384))
        assert feats.shape[1] == (384 // 14) ** 2  # a 27x27 grid, not SigLIP-base's 14x14
        assert isinstance(model.module.lm_head, torch.nn.Linear)  # its own output layer, loaded from the file
    finally:
        model.close()


def test_a_tower_of_another_kind_is_refused(tmp_path):
    from core.model import load_model

    folder = build(tmp_path, "R1-Omni-0.5B")
    cfg_path = folder / "towers" / "siglip-base-patch16-224" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_type"] = "clip_vision_model"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError) as info:
        load_model(folder, device="cpu")
    assert "is a 'clip_vision_model' model; this app runs vision towers of type siglip" in info.value.problem
    assert "mm_vision_tower" in info.value.fix


def test_a_model_larger_than_the_free_memory_is_refused(tmp_path, monkeypatch):
    from core.model import load_model

    folder = build(tmp_path, "HumanOmni-7B")
    monkeypatch.setattr(family_checks, "available_bytes", lambda device: 100 << 20)  # 100 MiB free
    with pytest.raises(ModelLoadError) as info:
        load_model(folder, device="cpu", dtype="float32")
    err = info.value
    assert "HumanOmni-7B needs about 0.5 GiB of memory in float32 on cpu, but only 0.1 GiB is free" in err.problem
    assert "bfloat16" in err.fix and "R1-Omni-0.5B" in err.fix
    monkeypatch.setenv(family_checks.MEMORY_CHECK_ENV, "0")
    load_model(folder, device="cpu", dtype="float32").close()


def test_the_full_size_7b_estimate_is_what_a_big_gpu_needs():
    """Qwen2.5-7B (assumed dimensions, README) + the towers: about 18 GiB in 16-bit, twice that in float32."""
    llm = {"model.embed_tokens.weight": (152064, 3584), "lm_head.weight": (152064, 3584),
           "layers": (28 * (3584 * 3584 * 2 + 3584 * 512 * 2 + 3 * 3584 * 18944),)}
    towers = {"siglip": (428_000_000,), "whisper": (635_000_000,), "bert+projectors": (150_000_000,)}
    need16 = family_checks.needed_bytes({**llm, **towers}, 2) / family_checks.GIB
    assert 16.5 < need16 < 20.5
    assert find_member("HumanOmni-7B").memory_gb == pytest.approx(need16, rel=0.12)


def test_clips_are_decoded_for_the_model_at_hand(tmp_path):
    """analyze reads the frame count and input size before the weights load (no torch needed for it)."""
    assert family_checks.configured_input(build(tmp_path, "HumanOmni-7B")) == (16, 384)
    assert family_checks.configured_input(PARITY_DIR / "checkpoint") == (8, 224)
    assert family_checks.configured_input("https://gpu-server:8000") == (8, 224)  # a model server decides itself


def test_a_named_pipe_for_a_config_is_not_waited_on(tmp_path):
    """configured_input reads configs as the loader does: a FIFO at config.json (or the tower's) is refused at once
    and the defaults are used (the loader then names the problem), instead of blocking analyze for a writer."""
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    folder = build(tmp_path, "HumanOmni-7B")
    tower_cfg = next(p for p in folder.rglob("config.json") if p.parent != folder and "siglip" in str(p).lower())
    tower_cfg.unlink()
    os.mkfifo(tower_cfg)
    assert family_checks.configured_input(folder) == (16, 224)  # its frames; the default size
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")
    assert family_checks.configured_input(folder) == (8, 224)
