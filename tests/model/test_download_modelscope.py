"""--hub modelscope: the same ready folder through the modelscope package, replaced here at its API boundary
(``HubApi.get_model_files``, ``snapshot_download`` with progress callbacks) by a fake package serving local
folders; and a clear message when the package is missing."""

from __future__ import annotations

import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest

import main
from core.model import hub_files as hf
from tests.conftest import PARITY_DIR

CHECKPOINT = PARITY_DIR / "checkpoint"


def fake_modelscope(monkeypatch, repos: dict[str, Path], calls: list) -> None:
    """Install a ``modelscope`` package whose hub API serves ``repos`` (model id -> folder)."""

    class NotExistError(Exception):
        pass

    class HubApi:
        def get_model_files(self, model_id, revision=None, recursive=True):
            calls.append(("list", model_id))
            calls.append(("endpoint", os.environ.get("MODELSCOPE_ENDPOINT")))
            if model_id not in repos:
                raise NotExistError(f"model {model_id} not found")
            return [{"Path": f.name, "Size": f.stat().st_size, "Type": "blob"} for f in repos[model_id].iterdir()
                    if f.is_file()] + [{"Path": "sub", "Size": 0, "Type": "tree"}]

    class ProgressCallback:
        def __init__(self, filename, file_size):
            self.filename, self.file_size = filename, file_size

        def update(self, size):
            pass

        def end(self):
            pass

    def snapshot_download(model_id=None, local_dir=None, allow_patterns=None, progress_callbacks=None, **_):
        calls.append(("fetch", model_id, sorted(allow_patterns)))
        calls.append(("endpoint", os.environ.get("MODELSCOPE_ENDPOINT")))
        for name in allow_patterns:
            src = repos[model_id] / name
            cbs = [cls(name, src.stat().st_size) for cls in progress_callbacks or []]
            Path(local_dir).mkdir(parents=True, exist_ok=True)
            shutil.copy(src, Path(local_dir) / name)
            for cb in cbs:
                cb.update(src.stat().st_size)
                cb.end()
        return local_dir

    package = types.ModuleType("modelscope")
    hub = types.ModuleType("modelscope.hub")
    api = types.ModuleType("modelscope.hub.api")
    api.HubApi = HubApi
    snap = types.ModuleType("modelscope.hub.snapshot_download")
    snap.snapshot_download = snapshot_download
    callback = types.ModuleType("modelscope.hub.callback")
    callback.ProgressCallback = ProgressCallback
    package.hub = hub
    for name, module in {"modelscope": package, "modelscope.hub": hub, "modelscope.hub.api": api,
                         "modelscope.hub.snapshot_download": snap, "modelscope.hub.callback": callback}.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_modelscope_writes_the_same_ready_folder(tmp_path, monkeypatch, capsys):
    ckpt = tmp_path / "ms" / "ckpt"
    shutil.copytree(CHECKPOINT, ckpt, ignore=shutil.ignore_patterns("siglip", "whisper", "bert"))
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg.update(mm_vision_tower="/mnt/siglip-base-patch16-224", mm_audio_tower="/mnt/whisper-large-v3")
    (ckpt / "config.json").write_text(json.dumps(cfg))
    repos = {"iic/R1-Omni-0.5B": ckpt, "AI-ModelScope/whisper-large-v3": CHECKPOINT / "whisper",
             "AI-ModelScope/siglip-base-patch16-224": CHECKPOINT / "siglip",
             "AI-ModelScope/bert-base-uncased": CHECKPOINT / "bert"}
    calls: list = []
    fake_modelscope(monkeypatch, repos, calls)
    monkeypatch.delenv("MODELSCOPE_ENDPOINT", raising=False)
    dest = tmp_path / "model"
    rc = main.main(["download", "--dir", str(dest), "--hub", "modelscope", "--endpoint", "http://127.0.0.1:1",
                    "--progress", "json"])
    err = capsys.readouterr().err
    assert rc == 0, err
    # the package saw the endpoint on every call (it reads the variable), and the process environment is as before
    assert {c[1] for c in calls if c[0] == "endpoint"} == {"http://127.0.0.1:1"}
    assert "MODELSCOPE_ENDPOINT" not in os.environ
    fetched = [c[1] for c in calls if c[0] == "fetch"]
    assert fetched == ["iic/R1-Omni-0.5B", "iic/R1-Omni-0.5B", "AI-ModelScope/whisper-large-v3",
                       "AI-ModelScope/siglip-base-patch16-224", "AI-ModelScope/bert-base-uncased"]
    assert ("fetch", "AI-ModelScope/bert-base-uncased", ["config.json", "tokenizer_config.json", "vocab.txt"]) in calls
    progress = [json.loads(x) for x in err.splitlines() if '"progress"' in x]
    assert progress[-1]["done"] == progress[-1]["total"] > 3_000_000
    written = json.loads((dest / "config.json").read_text())
    assert written["mm_audio_tower"] == "towers/whisper-large-v3"
    assert (dest / "model.safetensors").read_bytes() == (CHECKPOINT / "model.safetensors").read_bytes()
    assert (dest / "towers" / "siglip-base-patch16-224" / "model.safetensors").is_file()


def test_a_wrong_modelscope_id_is_named(tmp_path, monkeypatch):
    from core.model.download import download_model, make_hub

    fake_modelscope(monkeypatch, {}, [])
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", "EMER-SFT-0.5B", make_hub("modelscope"), log=lambda s: None)
    assert info.value.kind == hf.NOT_FOUND and "iic/EMER-SFT-0.5B does not exist on" in info.value.problem


def test_a_missing_modelscope_package_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "modelscope", None)  # import modelscope -> ImportError
    rc = main.main(["download", "--dir", str(tmp_path / "m"), "--hub", "modelscope"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "--hub modelscope needs the modelscope package" in err and "r1omni-live[modelscope]" in err
    assert not (tmp_path / "m").exists()
