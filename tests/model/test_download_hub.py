"""Downloads against a hub on 127.0.0.1 that answers like the Hugging Face file API (tests.support.hub_server):
the endpoint option and HF_ENDPOINT, byte progress, resume, and one message per failure."""

from __future__ import annotations

import errno
import hashlib
import json

import pytest

import main
from core.model import download as dl
from core.model import hub_files as hf
from core.model import hub_http
from core.model.download import download_model
from core.model.hub_http import HfHttpHub
from tests.conftest import PARITY_DIR
from tests.support.hub_server import FakeHub

CHECKPOINT = PARITY_DIR / "checkpoint"
CKPT_REPO = "StarJiaxing/R1-Omni-0.5B"
WEIGHTS = "model.safetensors"


def published_config(**changes) -> bytes:
    """The fixture's config.json naming its towers the way the published one does (paths of another machine)."""
    cfg = json.loads((CHECKPOINT / "config.json").read_text())
    cfg.update({"mm_vision_tower": "/mnt/data/models/siglip-base-patch16-224",
                "mm_audio_tower": "/mnt/data/models/whisper-large-v3"}, **changes)
    return json.dumps(cfg).encode()


def fill(hub: FakeHub, ckpt_repo: str = CKPT_REPO, config: bytes | None = None) -> FakeHub:
    hub.add_folder(ckpt_repo, CHECKPOINT, {"config.json": config or published_config()})
    hub.add_folder("openai/whisper-large-v3", CHECKPOINT / "whisper")
    hub.add_folder("google/siglip-base-patch16-224", CHECKPOINT / "siglip")
    hub.add_folder("google-bert/bert-base-uncased", CHECKPOINT / "bert")
    return hub


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the suite sets it; these tests talk to 127.0.0.1 only


@pytest.fixture
def hub():
    server = fill(FakeHub()).start()
    yield server
    server.stop()


def quiet(_text: str) -> None:
    pass


def test_endpoint_option_writes_a_loadable_folder(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    dest = tmp_path / "model"
    rc = main.main(["download", "--dir", str(dest), "--endpoint", hub.endpoint, "--progress", "json"])
    err = capsys.readouterr().err
    assert rc == 0, err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "progress"]
    total = sum(len(d) for d in hub.repos[CKPT_REPO].values()) - len(hub.repos[CKPT_REPO]["config.json"]) + sum(
        len(d) for r in ("openai/whisper-large-v3", "google/siglip-base-patch16-224") for d in hub.repos[r].values())
    bert = hub.repos["google-bert/bert-base-uncased"]
    total += sum(len(bert[n]) for n in ("config.json", "vocab.txt", "tokenizer_config.json") if n in bert)
    assert progress[-1]["done"] == progress[-1]["total"] == total
    assert events[-1] == {"event": "done", "folder": str(dest)}
    assert all(path.startswith(("/api/models/", "/StarJiaxing/", "/openai/", "/google", "/cdn/"))
               for path, _, _ in hub.requests)
    assert any(p.startswith("/cdn/StarJiaxing/R1-Omni-0.5B/model.safetensors") for p, _, _ in hub.requests)
    cfg = json.loads((dest / "config.json").read_text())
    assert cfg["mm_vision_tower"] == "towers/siglip-base-patch16-224" and cfg["bert_tower"] == "bert"
    assert json.loads((dest / "config.hub.json").read_bytes()) == json.loads(published_config())
    assert not (dest / "bert" / WEIGHTS).exists() and not list(dest.rglob("*.part"))
    from core.model import load_model

    model = load_model(dest, device="cpu", dtype="float32")
    assert model.info()["vision_tower"].endswith("towers/siglip-base-patch16-224")
    model.close()


def test_hf_endpoint_variable_is_honoured(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint + "/")
    made = dl.make_hub("huggingface")
    assert made.endpoint == hub.endpoint
    download_model(tmp_path / "m", hub=made, log=quiet)
    assert (tmp_path / "m" / WEIGHTS).read_bytes() == (CHECKPOINT / WEIGHTS).read_bytes()


def test_an_interrupted_transfer_says_so_and_the_next_run_resumes(hub, tmp_path):
    hub.cut[(CKPT_REPO, WEIGHTS)] = [1_000_000]
    dest = tmp_path / "m"
    with pytest.raises(hf.DownloadError) as info:
        download_model(dest, hub=HfHttpHub(hub.endpoint, retries=0), log=quiet)
    err = info.value
    assert err.kind == hf.INTERRUPTED
    assert f"{CKPT_REPO}/{WEIGHTS} was interrupted after 1.0 MB of 3.5 MB" in err.problem
    assert "resumes" in err.fix
    assert (dest / (WEIGHTS + ".part")).stat().st_size == 1_000_000 and not (dest / WEIGHTS).exists()
    hub.requests.clear()
    seen = []
    download_model(dest, hub=HfHttpHub(hub.endpoint, retries=0), log=quiet, progress=seen.append)
    ranges = [r for p, r, _ in hub.requests if p.endswith(f"/{WEIGHTS}") and "R1-Omni" in p]
    assert "bytes=1000000-" in ranges
    data = (dest / WEIGHTS).read_bytes()
    assert hashlib.sha256(data).digest() == hashlib.sha256((CHECKPOINT / WEIGHTS).read_bytes()).digest()
    assert seen[-1].done_bytes == seen[-1].total_bytes


def test_a_broken_transfer_is_retried_from_where_it_stopped(hub, tmp_path):
    hub.cut[(CKPT_REPO, WEIGHTS)] = [700_000, 900_000]
    download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint, retries=2, retry_pause_s=0), log=quiet)
    ranges = [r for p, r, _ in hub.requests if p.startswith(f"/cdn/{CKPT_REPO}/{WEIGHTS}")]
    assert ranges == [None, "bytes=700000-", "bytes=1600000-"]
    assert (tmp_path / "m" / WEIGHTS).read_bytes() == (CHECKPOINT / WEIGHTS).read_bytes()


def test_a_wrong_model_id_is_a_404_message(hub, tmp_path):
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", "HumanOmni-0.5B", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.NOT_FOUND
    assert f"StarJiaxing/HumanOmni-0.5B does not exist on {hub.endpoint}" in info.value.problem
    assert "--model" in info.value.fix
    hub.fail[CKPT_REPO] = (404, "")
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.NOT_FOUND and "(HTTP 404)" in info.value.problem


def test_a_missing_file_is_a_404_message(hub, tmp_path):
    del hub.repos["openai/whisper-large-v3"]["model.safetensors"]
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.NOT_FOUND and "openai/whisper-large-v3" in info.value.problem
    assert "has no model.safetensors" in info.value.problem


def test_a_gated_repository_is_a_401_message(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    hub.fail[CKPT_REPO] = (401, "GatedRepo")
    rc = main.main(["download", "--dir", str(tmp_path / "m"), "--endpoint", hub.endpoint])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"refused access to {CKPT_REPO} (HTTP 401: its licence has not been accepted)" in err
    assert "HF_TOKEN" in err and "licence" in err.split("Fix:")[1]
    hub.fail[CKPT_REPO] = (403, "")
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.AUTH and "HTTP 403: no token was sent" in info.value.problem


def test_the_token_goes_to_the_hub_only(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret-token")
    cdn = FakeHub().start()  # "localhost" is another host name than the endpoint's 127.0.0.1
    try:
        cdn.repos = hub.repos
        hub.cdn = f"http://localhost:{cdn.endpoint.rsplit(':', 1)[1]}"
        download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    finally:
        cdn.stop()
    assert all(auth == "Bearer secret-token" for _, _, auth in hub.requests)
    assert cdn.requests and all(auth is None for _, _, auth in cdn.requests)


def test_an_unreachable_host_is_named(tmp_path, capsys):
    rc = main.main(["download", "--dir", str(tmp_path / "m"), "--endpoint", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert rc == 1 and "http://127.0.0.1:9 cannot be reached" in err and "--endpoint" in err


def test_a_full_disk_is_found_before_and_during_the_transfer(hub, tmp_path, monkeypatch):
    class Usage:
        free = 1_000_000

    with monkeypatch.context() as m, pytest.raises(hf.DownloadError) as info:
        m.setattr(dl.shutil, "disk_usage", lambda p: Usage)
        download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.DISK_FULL and "1.0 MB free" in info.value.problem
    assert not (tmp_path / "m" / WEIGHTS).exists() and not (tmp_path / "m" / (WEIGHTS + ".part")).exists()

    real_open = open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hub_http, "open", lambda p, mode="r": FullFile(real_open(p, mode)), raising=False)
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m2", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.DISK_FULL and "is full" in info.value.problem and "another folder" in info.value.fix


def test_a_hostile_listing_writes_nothing_outside(hub, tmp_path):
    hub.repos[CKPT_REPO]["../../evil.safetensors"] = b"x"
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "a" / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert info.value.kind == hf.BAD_INPUT and "could leave the model folder" in info.value.problem
    assert not list(tmp_path.rglob("evil*"))


def test_a_checkpoint_with_unknown_towers_is_refused_before_the_weights(hub, tmp_path):
    fill(hub, config=published_config(mm_vision_tower="/mnt/x/clip-vit-large-patch14"))
    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", hub=HfHttpHub(hub.endpoint), log=quiet)
    assert "vision tower '/mnt/x/clip-vit-large-patch14' that this app does not know" in info.value.problem
    assert not any(p.startswith("/cdn/") for p, _, _ in hub.requests)


def test_a_bad_endpoint_is_refused(tmp_path, capsys):
    assert main.main(["download", "--dir", str(tmp_path), "--endpoint", "ftp://mirror"]) == 1
    assert "is not an http(s) URL" in capsys.readouterr().err
    assert main.main(["download", "--dir", str(tmp_path), "--endpoint", "https://u:p@mirror"]) == 1
    assert "credentials" in capsys.readouterr().err


def test_progress_meter_reports_speed_and_time_left():
    now = [0.0]
    seen = []
    meter = dl.ProgressMeter(1000, seen.append, clock=lambda: now[0], period_s=0.0, window_s=10.0)
    meter.add(0)
    now[0] = 2.0
    meter.add(200)
    assert seen[-1].bytes_per_s == pytest.approx(100.0) and seen[-1].eta_s == pytest.approx(8.0)
    assert dl.format_progress(seen[-1]) == "200 B / 1.0 kB  100 B/s  8 s left"


def test_ctrl_c_says_how_far_it_got_and_how_to_resume(hub, tmp_path):
    class Stopped(HfHttpHub):
        def fetch(self, repo_id, commit, files, dest, on_bytes):
            if repo_id == "openai/whisper-large-v3":
                raise KeyboardInterrupt
            super().fetch(repo_id, commit, files, dest, on_bytes)

    with pytest.raises(hf.DownloadError) as info:
        download_model(tmp_path / "m", hub=Stopped(hub.endpoint), log=quiet)
    assert info.value.kind == hf.INTERRUPTED and "3.5 MB fetched" in info.value.problem
    assert "resumes" in info.value.fix


def test_the_model_config_is_written_without_following_a_planted_link(tmp_path):
    """write_model_config writes through a fresh temporary file: a symlink planted at config.json.part (the name
    it used to write to) is left alone, and the file it points at is not touched."""
    folder, victim = tmp_path / "m", tmp_path / "victim.txt"
    folder.mkdir()
    victim.write_text("keep")
    (folder / dl.HUB_CONFIG_COPY).write_bytes(published_config())
    (folder / "config.json.part").symlink_to(victim)
    cfg = json.loads(dl.write_model_config(folder, "towers/siglip", "towers/whisper").read_text())
    assert cfg["mm_vision_tower"] == "towers/siglip" and cfg["mm_audio_tower"] == "towers/whisper"
    assert victim.read_text() == "keep" and (folder / "config.json.part").is_symlink()
    assert not (folder / "config.json").is_symlink()
