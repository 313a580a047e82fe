"""A settings file is untrusted input: whatever it holds, loading gives valid settings (defaults for the bad keys,
each named in a warning) and never raises; the app starts with it."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.cli_types import MAX_NEW_TOKENS_LIMIT
from core.scheduler import MAX_HOP_S, MAX_WINDOW_S, MIN_HOP_S, MIN_WINDOW_S
from core.settings import CHOICES, MAX_PATH_CHARS, Settings
from tests.conftest import ROOT

FIELDS = [f.name for f in dataclasses.fields(Settings) if f.metadata.get("persist", True)]

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
    | st.sampled_from(["", "0", "DFEW", "dark", "cuda", "\x00", "../../etc", "rtsp://u:p@h/s", "x" * 5000])
    | st.sampled_from([0, -1, 1, 255, 256, 4096, 4097, 10**30, 0.0, -0.0, 1e-300, 1e308, 0.5, 30.0, 30.01])
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
settings_objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), json_values,
                                   max_size=len(FIELDS) + 3)


def assert_valid(s: Settings) -> None:
    """What the rest of the app relies on, stated independently of the loader's own rules."""
    assert isinstance(s.window_s, float) and MIN_WINDOW_S <= s.window_s <= MAX_WINDOW_S
    assert isinstance(s.hop_s, float) and MIN_HOP_S <= s.hop_s <= MAX_HOP_S
    assert type(s.max_new_tokens) is int and 1 <= s.max_new_tokens <= MAX_NEW_TOKENS_LIMIT
    for name, options in CHOICES.items():
        assert getattr(s, name) in options
    for name in ("use_microphone", "record_media", "record_audio", "blur_faces", "policy_notice_accepted"):
        assert type(getattr(s, name)) is bool
    for name in ("custom_instruction", "model_dir", "record_dir", "window_geometry"):
        value = getattr(s, name)
        assert isinstance(value, str) and "\x00" not in value and len(value) <= MAX_PATH_CHARS
    for name in ("camera", "microphone"):
        value = getattr(s, name)
        is_index = type(value) is int and 0 <= value <= 255
        assert value is None or is_index or (isinstance(value, str) and "\x00" not in value)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=settings_objects)
@example(data={"window_geometry": "x" * 5000})  # once drawn at random: the geometry limit was above a path's
def test_any_json_object_loads_as_valid_settings_and_round_trips(tmp_path, data):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))  # NaN and Infinity are written as the bare words Python's json reads back
    loaded = Settings.load(path)
    assert_valid(loaded)
    for key, value in data.items():  # a good value is kept as given
        if key == "max_new_tokens" and type(value) is int and 1 <= value <= MAX_NEW_TOKENS_LIMIT:
            assert loaded.max_new_tokens == value
        if key == "theme" and value in ("dark", "light"):
            assert loaded.theme == value
    loaded.save()
    assert Settings.load(path) == loaded  # what was loaded saves and loads the same


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_load_as_valid_settings(tmp_path, raw):
    path = tmp_path / "settings.json"
    path.write_bytes(raw)
    assert_valid(Settings.load(path))


UTF16 = '{"theme": "light"}'.encode("utf-16").decode("latin-1")


@pytest.mark.parametrize("content", ["[" * 100_000, '{"camera": ' + "9" * 5000 + "}", "\ufeff{}", UTF16])
def test_deep_nesting_and_huge_integers_do_not_escape(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_text(content)
    assert_valid(Settings.load(path))


def test_each_bad_key_falls_back_with_a_warning_naming_it(tmp_path, caplog):
    path = tmp_path / "settings.json"
    bad = {"max_new_tokens": 0, "window_s": "NaN", "hop_s": 1e400, "label_set": "EMOTIONS9", "theme": [1],
           "camera": -1, "microphone": 10**50, "custom_instruction": "x" * 100_000, "model_dir": "a\x00b",
           "use_microphone": "yes", "device": "tpu"}
    path.write_text(json.dumps(bad).replace('"NaN"', "NaN"))
    loaded = Settings.load(path)
    assert_valid(loaded)
    defaults = Settings()
    for key in bad:
        assert getattr(loaded, key) == getattr(defaults, key), key
        assert f"{key}" in caplog.text, key
    assert "x" * 200 not in caplog.text  # a huge value is cut in the warning, not printed whole


def test_large_file_and_non_regular_paths_are_not_read_or_replaced(tmp_path, caplog):
    big = tmp_path / "big.json"
    big.write_text('{"theme": "light", "pad": "' + "x" * (2 << 20) + '"}')
    assert Settings.load(big).theme == "dark" and (tmp_path / "big.json.bad").exists()
    folder = tmp_path / "folder.json"
    folder.mkdir()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for path in (folder, fifo):
        s = Settings.load(path)  # a FIFO is never opened: opening one would block until a writer comes
        assert_valid(s) and "not a regular file" in caplog.text
        with pytest.raises(OSError, match="not a regular file"):
            s.save()
    assert folder.is_dir() and fifo.is_fifo() and not (tmp_path / "folder.json.bad").exists()


@pytest.mark.slow
def test_the_app_starts_with_out_of_range_settings(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"max_new_tokens": 0, "window_s": NaN, "hop_s": -2, "label_set": "nope", "theme": 7}')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "R1OMNI_LIVE_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.run([sys.executable, "main.py", "--settings", str(path), "--quit-after", "0.5"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for key in ("max_new_tokens", "window_s", "label_set", "theme"):
        assert f"ignoring {key}=" in proc.stderr or f"{key}/" in proc.stderr, key
    saved = json.loads(path.read_text())  # the app saved its (valid) state back on the way out
    assert saved["max_new_tokens"] == 256 and not math.isnan(saved["window_s"])
