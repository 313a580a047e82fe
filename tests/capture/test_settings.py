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


def test_saver_writes_changes_on_its_own_thread_and_the_last_state_at_close(tmp_path, monkeypatch):
    import json
    import threading
    import time

    from core import settings as settings_mod

    s = Settings.load(tmp_path / "settings.json")
    writers: list[str] = []
    real_write = settings_mod.write_settings

    def spy(target, data):
        writers.append(threading.current_thread().name)
        real_write(target, data)

    monkeypatch.setattr(settings_mod, "write_settings", spy)
    saver = settings_mod.SettingsSaver(s)
    assert not saver.poll()  # nothing changed: nothing written
    s.window_s = 6.0
    assert saver.poll()
    deadline = time.monotonic() + 5
    while saver.saves < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writers == ["settings-save"]
    assert json.loads((tmp_path / "settings.json").read_text())["window_s"] == 6.0
    s.hop_s = 3.0  # changed, never polled: close() still writes it
    saver.close()
    assert json.loads((tmp_path / "settings.json").read_text())["hop_s"] == 3.0
    assert Settings.load(tmp_path / "settings.json").hop_s == 3.0


def test_saver_retries_after_a_failed_write(tmp_path, monkeypatch, caplog):
    from core import settings as settings_mod

    s = Settings.load(tmp_path / "settings.json")
    calls = []
    real_write = settings_mod.write_settings

    def flaky(target, data):
        calls.append(data["window_s"])
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_write(target, data)

    monkeypatch.setattr(settings_mod, "write_settings", flaky)
    saver = settings_mod.SettingsSaver(s)
    s.window_s = 6.0
    saver.poll()
    saver.close()  # the first write failed: close() hands the same state over again
    assert calls == [6.0, 6.0] and "No space left" in caplog.text
    assert Settings.load(tmp_path / "settings.json").window_s == 6.0
