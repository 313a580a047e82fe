import json

import pytest

from core.scheduler import DEFAULT_HOP_S, DEFAULT_WINDOW_S
from core.settings import CONFIG_DIR_ENV, Settings


def test_defaults_round_trip(tmp_path):
    path = tmp_path / "cfg" / "settings.json"
    s = Settings.load(path)
    assert s.window_s == DEFAULT_WINDOW_S and s.hop_s == DEFAULT_HOP_S and s.camera == 0
    s.camera = "rtsp://cam.local/stream"
    s.microphone = "USB"
    s.precision = "bfloat16"
    s.policy_notice_accepted = True
    s.use_microphone = False
    assert s.save() == path
    again = Settings.load(path)
    assert again == s
    assert again.dtype == "bfloat16" and again.policy_acknowledged is True and again.use_microphone is False


def test_unknown_missing_and_invalid_values(tmp_path, caplog):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "from_a_future_version": 1,
                "theme": "light",
                "device": "tpu",
                "max_new_tokens": "many",
                "camera": 2,
                "window_s": 8,
                "record_media": False,
            }
        )
    )
    s = Settings.load(path)
    assert s.theme == "light" and s.camera == 2 and s.window_s == 8.0 and isinstance(s.window_s, float)
    assert s.record_media is False
    assert s.device == "auto" and s.max_new_tokens == 256  # invalid -> default
    assert "device" in caplog.text and "max_new_tokens" in caplog.text
    assert "from_a_future_version" not in s.to_dict()


def test_window_longer_than_model_audio_falls_back(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"window_s": 90.0, "hop_s": 1.0}))
    s = Settings.load(path)
    assert (s.window_s, s.hop_s) == (DEFAULT_WINDOW_S, DEFAULT_HOP_S)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_unreadable_file_is_kept_aside_not_lost(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_text(content)
    s = Settings.load(path)
    assert s.theme == "dark"
    assert (tmp_path / "settings.json.bad").read_text() == content
    s.save()
    assert json.loads(path.read_text())["theme"] == "dark"


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    Settings(path=path).save()
    before = path.read_text()
    s = Settings.load(path)
    s.theme = "light"

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("core.settings.os.replace", boom)
    with pytest.raises(OSError):
        s.save()
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_config_dir_override_by_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    s = Settings.load()
    assert s.save() == tmp_path / "settings.json"
