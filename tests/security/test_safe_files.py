"""core.safe_files: exclusive temporary files, atomic renames, no symlink ever followed, nothing left on failure."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from core import safe_files
from core.safe_files import atomic_output, atomic_write, open_no_follow


def test_a_write_replaces_the_target_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    assert atomic_write(target, "new ✓") == target
    assert target.read_text(encoding="utf-8") == "new ✓" and os.listdir(tmp_path) == ["out.txt"]


def test_temporary_names_are_unpredictable_and_created_exclusively(tmp_path, monkeypatch):
    names, flags = [], []
    real_open = os.open

    def spy(path, f, *a, **kw):
        names.append(os.path.basename(path))
        flags.append(f)
        return real_open(path, f, *a, **kw)

    monkeypatch.setattr(safe_files.os, "open", spy)
    for _ in range(3):
        atomic_write(tmp_path / "x.csv", "a")
    temps = [n for n in names if n.endswith(".part")]
    assert len(set(temps)) == 3 and all(n.startswith(".x.csv.") for n in temps)
    creates = [f for f in flags if f & os.O_CREAT]
    assert creates and all(f & os.O_EXCL and f & os.O_NOFOLLOW for f in creates)


def test_a_symlink_planted_at_the_temporary_name_is_never_written_through(tmp_path, monkeypatch):
    decoy = tmp_path / "decoy"
    decoy.write_text("keep")
    planted = tmp_path / ".x.csv.planted.part"
    planted.symlink_to(decoy)
    fresh = iter([planted, tmp_path / ".x.csv.fresh.part"])
    monkeypatch.setattr(safe_files, "temp_name", lambda target: next(fresh))
    atomic_write(tmp_path / "x.csv", "data")
    assert decoy.read_text() == "keep" and planted.is_symlink() and (tmp_path / "x.csv").read_text() == "data"


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    decoy = tmp_path / "decoy"
    decoy.write_text("keep")
    (tmp_path / "x.vtt").symlink_to(decoy)
    atomic_write(tmp_path / "x.vtt", "WEBVTT\n")
    assert decoy.read_text() == "keep" and not (tmp_path / "x.vtt").is_symlink()


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text("old")

    class Full:
        def __init__(self, path, mode):
            assert mode == "xb"  # the injected opener is asked for an exclusive create
            self.f = open(path, mode)  # noqa: SIM115 — the writer closes it, as with any opener

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new", opener=Full)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["manifest.json"]
    with pytest.raises(ValueError), atomic_output(target) as f:
        f.write(b"half")
        raise ValueError("the renderer failed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["manifest.json"]


def test_private_files_are_readable_by_the_user_only(tmp_path):
    atomic_write(tmp_path / "settings.json", "{}", private=True)
    assert stat.S_IMODE(os.stat(tmp_path / "settings.json").st_mode) == 0o600


def test_settings_are_written_through_the_safe_writer(tmp_path):
    from core.settings import write_settings

    decoy = tmp_path / "decoy"
    decoy.write_text("keep")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "settings.json").symlink_to(decoy)
    write_settings(tmp_path / "cfg" / "settings.json", {"theme": "dark"})
    assert decoy.read_text() == "keep" and '"theme": "dark"' in (tmp_path / "cfg" / "settings.json").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "cfg" / "settings.json").st_mode) == 0o600


def test_reopening_a_recording_file_refuses_a_symlink(tmp_path):
    decoy = tmp_path / "decoy"
    decoy.write_text("keep")
    (tmp_path / "events.jsonl").symlink_to(decoy)
    with pytest.raises(OSError):
        open_no_follow(tmp_path / "events.jsonl", "ab")
    assert decoy.read_text() == "keep"
