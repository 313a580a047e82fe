"""Loading from folders as users have them, and a clear error (problem + fix) for each broken one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file

from core.model import ModelLoadError, load_model


def _edit_config(folder: Path, **changes) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))


def _load_error(folder: Path, **kw) -> ModelLoadError:
    with pytest.raises(ModelLoadError) as info:
        load_model(folder, device="cpu", **kw)
    err = info.value
    assert err.problem and err.fix and "Fix:" in str(err)
    return err


def _same_weights(a, b) -> None:
    sa, sb = a.module.state_dict(), b.module.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_missing_folder(tmp_path):
    err = _load_error(tmp_path / "nope")
    assert "does not exist" in err.problem and "download" in err.fix


def test_missing_config(checkpoint_copy):
    (checkpoint_copy / "config.json").unlink()
    assert "config.json is missing" in _load_error(checkpoint_copy).problem


def test_git_lfs_pointer_instead_of_weights(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 2750000000\n")
    err = _load_error(checkpoint_copy)
    assert "Git LFS pointer" in err.problem and "git lfs pull" in err.fix


def test_bin_only_checkpoint(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").unlink()
    (checkpoint_copy / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not loaded")
    err = _load_error(checkpoint_copy)
    assert ".bin" in err.problem and "pickle" in err.problem and "safetensors" in err.fix


def test_corrupt_safetensors_header_too_large(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{garbage" * 200)
    err = _load_error(checkpoint_copy)
    assert "HeaderTooLarge" in err.problem and "download" in err.fix


def test_tokenizer_missing(checkpoint_copy):
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        (checkpoint_copy / f).unlink()
    err = _load_error(checkpoint_copy)
    assert "no tokenizer" in err.problem and "tokenizer" in err.fix


def test_whisper_tower_of_the_wrong_size(checkpoint_copy):
    """The classic `[896,1280] vs [896,768]`: a narrower Whisper than the checkpoint was trained with."""
    from transformers import WhisperConfig, WhisperForAudioClassification

    cfg = json.loads((checkpoint_copy / "whisper" / "config.json").read_text())
    cfg.update(d_model=48)
    small = checkpoint_copy / "whisper-small"
    WhisperForAudioClassification(WhisperConfig(**{k: v for k, v in cfg.items() if k != "architectures"})) \
        .save_pretrained(small)
    _edit_config(checkpoint_copy, mm_audio_tower="whisper-small")
    err = _load_error(checkpoint_copy)
    assert "Whisper" in err.problem and "[64, 80] vs [64, 48]" in err.problem
    assert "whisper-large-v3" in err.fix


def test_missing_tower_folder_names_the_config_key(checkpoint_copy):
    shutil.rmtree(checkpoint_copy / "siglip")
    err = _load_error(checkpoint_copy)
    assert "mm_vision_tower" in err.problem and "mm_vision_tower" in err.fix


def test_missing_bert_config(checkpoint_copy):
    shutil.rmtree(checkpoint_copy / "bert")
    err = _load_error(checkpoint_copy, cache_dir=str(checkpoint_copy / "empty-cache"))
    assert "BERT" in err.problem and "vocab.txt" in err.fix


def test_towers_by_absolute_path_and_bert_beside_the_checkpoint(parity_model, checkpoint_copy, tmp_path):
    shutil.move(str(checkpoint_copy / "bert"), str(tmp_path / "bert-base-uncased"))
    _edit_config(checkpoint_copy, mm_vision_tower=str(checkpoint_copy / "siglip"),
                 mm_audio_tower=str(checkpoint_copy / "whisper"))
    m = load_model(checkpoint_copy, device="cpu", dtype="float32")
    assert m.info()["bert_dir"] == str((tmp_path / "bert-base-uncased").resolve())
    _same_weights(m, parity_model)
    m.close()


def _hub_snapshot(cache: Path, repo: str, files: dict[str, bytes | Path]) -> None:
    base = cache / ("models--" + repo.replace("/", "--"))
    snap = base / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("a" * 40)
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copy(content, snap / name)
        else:
            (snap / name).write_bytes(content)


def test_full_format_towers_from_the_hub_cache(parity_model, checkpoint_copy, tmp_path):
    """SigLIP image+text checkpoint and Whisper encoder-decoder checkpoint, found by hub id in the cache;
    BERT config/vocab from the cached bert-base-uncased; the checkpoint's tower copies are not needed."""
    ck = checkpoint_copy
    cache = tmp_path / "hub"
    vis_cfg = json.loads((ck / "siglip" / "config.json").read_text())
    vision = {k: v for k, v in load_file(ck / "siglip" / "model.safetensors").items()}
    vision["text_model.embeddings.token_embedding.weight"] = torch.zeros(4, 8)
    vision["logit_scale"] = torch.zeros(1)
    save_file(vision, tmp_path / "siglip.safetensors")
    full_cfg = {"model_type": "siglip", "vision_config": vis_cfg, "text_config": {"hidden_size": 8}}
    _hub_snapshot(cache, "google/siglip-base-patch16-224", {
        "config.json": json.dumps(full_cfg).encode(), "model.safetensors": tmp_path / "siglip.safetensors"})
    audio = {("model." + k): v for k, v in load_file(ck / "whisper" / "model.safetensors").items()
             if k.startswith("encoder.")}
    audio["model.decoder.embed_tokens.weight"] = torch.zeros(4, 80)
    audio["proj_out.weight"] = torch.zeros(4, 80)
    save_file(audio, tmp_path / "whisper.safetensors")
    _hub_snapshot(cache, "openai/whisper-large-v3", {
        "config.json": (ck / "whisper" / "config.json").read_bytes(),
        "preprocessor_config.json": (ck / "whisper" / "preprocessor_config.json").read_bytes(),
        "model.safetensors": tmp_path / "whisper.safetensors"})
    _hub_snapshot(cache, "google-bert/bert-base-uncased", {
        "config.json": (ck / "bert" / "config.json").read_bytes(),
        "vocab.txt": (ck / "bert" / "vocab.txt").read_bytes(),
        "tokenizer_config.json": (ck / "bert" / "tokenizer_config.json").read_bytes()})
    for d in ("siglip", "whisper", "bert"):
        shutil.rmtree(ck / d)
    # the published config.json names the audio tower by a path on its authors' machine
    _edit_config(ck, mm_vision_tower="google/siglip-base-patch16-224",
                 mm_audio_tower="/mnt/data/someone/models/whisper-large-v3")
    m = load_model(ck, device="cpu", dtype="float32", cache_dir=str(cache))
    assert "models--openai--whisper-large-v3" in m.info()["audio_tower"]
    _same_weights(m, parity_model)  # classification head fell back to the checkpoint's copy
    m.close()


def test_bert_weights_come_from_the_checkpoint(parity_model):
    ck = load_file(Path(parity_model.model_dir) / "model.safetensors")
    folder = load_file(Path(parity_model.info()["bert_dir"]) / "model.safetensors")
    mine = parity_model.module.model.bert_model.state_dict()
    k = "embeddings.word_embeddings.weight"
    assert torch.equal(mine[k], ck["model.bert_model." + k])
    assert not torch.equal(mine[k], folder[k])


def test_generation_config_is_honoured(parity_model, checkpoint_copy):
    assert parity_model.generation.repetition_penalty == pytest.approx(1.1)
    assert parity_model.generation.stop_ids == {669, 671}
    (checkpoint_copy / "generation_config.json").unlink()
    m = load_model(checkpoint_copy, device="cpu")
    assert m.generation.repetition_penalty == 1.0 and m.generation.stop_ids == {671}
    m.close()


def test_bfloat16_load_runs(checkpoint_copy, clip_a):
    m = load_model(checkpoint_copy, device="cpu", dtype="bfloat16")
    assert m.dtype == torch.bfloat16
    assert m.module.model.rotary_emb.inv_freq.dtype == torch.float32  # rotary frequencies stay exact
    r = m.analyze(clip_a["frames"][:3], None, "which emotion?", max_new_tokens=3)
    assert r.modal == "video" and 1 <= len(r.token_ids) <= 3
    assert np.isfinite(list(r.timings.values())).all()
    assert m.memory_bytes() < 0.6 * sum(p.numel() * 4 for p in m.module.parameters())  # half the float32 size
    m.close()
    with pytest.raises(RuntimeError, match="closed"):
        m.analyze(clip_a["frames"], None, "x", max_new_tokens=1)
