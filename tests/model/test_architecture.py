"""The module tree carries exactly the published checkpoint's keys and shapes; RegStage/projector shapes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PARITY_DIR

torch = pytest.importorskip("torch")


def test_full_size_model_on_meta_matches_published_keys():
    from core.model.architecture import build_model
    from core.model.config import full_size_config

    ref = json.loads((PARITY_DIR / "full_size_keys.json").read_text())
    model = build_model(full_size_config(), "meta")
    sd = model.state_dict()
    assert set(sd) == set(ref["keys"]), (sorted(set(ref["keys"]) - set(sd))[:5], sorted(set(sd) - set(ref["keys"]))[:5])
    wrong = {k: (list(v.shape), ref["keys"][k]) for k, v in sd.items() if list(v.shape) != ref["keys"][k]}
    assert not wrong
    assert sum(v.numel() for v in sd.values()) == ref["param_count_total"]
    assert "lm_head.weight" not in sd
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_full_size_config_values():
    from core.model.config import full_size_config

    cfg = full_size_config()
    assert cfg.vision_layers_used == 11  # layer -2 of 12
    assert cfg.llm.rope_parameters["rope_theta"] == 1e6
    assert cfg.llm.tie_word_embeddings is True
    assert cfg.audio.num_mel_bins == 128 and cfg.audio.max_source_positions == 1500


def test_regstage_and_projector_shapes():
    from core.model.projector import AllInOneSmall

    proj = AllInOneSmall(vision_width=12, hidden=16)
    assert proj.s1_video.b1.downsample is not None and proj.s1_video.b2.downsample is None
    assert proj.s1_video.b1.se.fc1.out_channels == 3 and proj.s1_video.b2.se.fc1.out_channels == 4
    feats = torch.randn(1, 8, 196, 12)
    assert proj.branch("video", feats).shape == (1, 392, 16)
    face = proj.face_mlp(feats)
    assert face.shape == (8, 196, 16)
    pooled = proj.face_pool(face, 1)
    assert pooled.shape == (8, 49, 16)
    # bilinear 14 -> 7 equals a 2x2 mean
    grid = face.reshape(8, 14, 14, 16)
    mean = grid.reshape(8, 7, 2, 7, 2, 16).mean((2, 4)).reshape(8, 49, 16)
    torch.testing.assert_close(pooled, mean, rtol=1e-5, atol=1e-6)


def test_loaded_lm_head_shares_storage(parity_model):
    m = parity_model.module
    assert m.lm_head.weight.data_ptr() == m.model.embed_tokens.weight.data_ptr()
    assert parity_model.memory_bytes() > 0
    info = parity_model.info()
    assert info["params"] == sum(p.numel() for p in m.parameters()) and info["dtype"] == "float32"
    assert info["weights_hash"] and len(info["weights_hash"]) == 64
