"""One typed settings object, persisted as JSON under the platform's user config dir.

Loading never fails on content: unknown keys are ignored, missing keys take their defaults, a value of the wrong
type or outside its choices falls back to the default (logged), and an unreadable file is kept aside as
``settings.json.bad`` (never overwritten silently) before defaults are used. Saving is atomic (temp file + rename),
so a crash mid-write leaves the previous file intact.

New fields are added additively with a default. Threads: the UI thread owns the object; ``save`` writes a small file
and is called on shutdown or after a change (quick, but not from a display timer).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import platformdirs

from core.scheduler import DEFAULT_HOP_S, DEFAULT_WINDOW_S, check_window_hop

log = logging.getLogger(__name__)

APP_NAME = "r1omni-live"
SETTINGS_FILE = "settings.json"
CONFIG_DIR_ENV = "R1OMNI_LIVE_CONFIG_DIR"  # overrides the platform config dir (tests, portable installs)

INSTRUCTION_PRESETS = ("official", "evaluation", "custom")
DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
PROFILES = ("exact", "fast")  # core.model.profiles: fast is approximate and labelled so
THEMES = ("dark", "light")
LABEL_SETS = ("DFEW", "MAFW", "RAVDESS", "free")

CHOICES: dict[str, tuple[str, ...]] = {
    "instruction_preset": INSTRUCTION_PRESETS,
    "device": DEVICES,
    "precision": PRECISIONS,
    "profile": PROFILES,
    "theme": THEMES,
    "label_set": LABEL_SETS,
}


def default_config_dir() -> Path:
    env = os.environ.get(CONFIG_DIR_ENV)
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_NAME))


def default_record_dir() -> str:
    return str(Path(platformdirs.user_data_dir(APP_NAME)) / "sessions")


@dataclass
class Settings:
    """Everything the user chooses. ``path`` (where it loads from / saves to) is not persisted."""

    camera: int | str | None = 0  # device index, video file path or stream URL; None = no camera
    microphone: int | str | None = None  # PortAudio index or name substring; None = the default input
    use_microphone: bool = True  # False: video only, windows marked 'audio missing'
    window_s: float = DEFAULT_WINDOW_S
    hop_s: float = DEFAULT_HOP_S
    instruction_preset: str = "official"
    custom_instruction: str = ""
    label_set: str = "DFEW"
    max_new_tokens: int = 256
    model_dir: str = ""  # "" = not chosen yet
    device: str = "auto"
    precision: str = "auto"
    profile: str = "exact"
    record_dir: str = field(default_factory=default_record_dir)
    record_media: bool = True  # False: record the analysis log only (no video, audio or window frames)
    record_audio: bool = True  # False: leave the audio out of the recorded media (the model still hears it)
    blur_faces: bool = False  # blur faces in the recorded video and window frames
    theme: str = "dark"
    policy_notice_accepted: bool = False
    window_geometry: str = ""  # opaque (Qt saveGeometry as base64)
    path: Path | None = field(default=None, repr=False, compare=False, metadata={"persist": False})

    # aliases used by the desktop code
    @property
    def dtype(self) -> str:
        """Alias of ``precision``."""
        return self.precision

    @dtype.setter
    def dtype(self, value: str) -> None:
        self.precision = value

    @property
    def policy_acknowledged(self) -> bool:
        """Alias of ``policy_notice_accepted``."""
        return self.policy_notice_accepted

    @policy_acknowledged.setter
    def policy_acknowledged(self, value: bool) -> None:
        self.policy_notice_accepted = value

    # -- persistence --------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read ``path`` (default: ``<config dir>/settings.json``); defaults for anything missing or invalid."""
        path = Path(path) if path is not None else default_config_dir() / SETTINGS_FILE
        settings = cls(path=path)
        if not path.exists():
            return settings
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
        except (OSError, ValueError) as exc:
            backup = path.with_name(path.name + ".bad")
            log.warning("settings file %s is unreadable (%s); kept as %s, using defaults", path, exc, backup)
            try:
                os.replace(path, backup)
            except OSError:
                pass
            return settings
        settings.update(data)
        return settings

    def update(self, data: dict[str, Any]) -> list[str]:
        """Apply known keys from ``data`` with type/choice checks; returns the keys rejected (and logs them)."""
        rejected = []
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            if not f.metadata.get("persist", True) or f.name not in data:
                continue
            value = data[f.name]
            if _fits(value, hints[f.name]) and value in CHOICES.get(f.name, (value,)):
                setattr(self, f.name, float(value) if hints[f.name] is float else value)
            else:
                rejected.append(f.name)
                log.warning(
                    "settings: ignoring %s=%r (expected %s)",
                    f.name,
                    value,
                    CHOICES.get(f.name, hints[f.name]),
                )
        try:
            check_window_hop(self.window_s, self.hop_s)
        except ValueError as exc:
            log.warning("settings: %s; using the defaults", exc)
            self.window_s, self.hop_s = DEFAULT_WINDOW_S, DEFAULT_HOP_S
            rejected += ["window_s", "hop_s"]
        return rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("persist", True)
        }

    def target(self) -> Path:
        """Where ``save`` writes: where it was loaded from, else the config dir."""
        return self.path or default_config_dir() / SETTINGS_FILE

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically to ``path`` (default: :meth:`target`). Returns the path."""
        target = Path(path) if path is not None else self.target()
        write_settings(target, self.to_dict())
        self.path = target
        return target


def write_settings(target: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as the settings file ``target``, atomically (a temporary file, fsync, rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class SettingsSaver:
    """Saves settings on a "settings-save" thread, newest state wins, so that a UI thread never waits on the
    disk and a change survives a crash of the app.

    ``poll()`` (cheap; call it from a timer on the owning thread) hands the state over when it differs from the
    last one handed over; ``close()`` writes the final state before it returns (call it at shutdown).
    A write that fails is logged and retried with the next change."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._handed = settings.to_dict()  # what is on the disk, or on its way there
        self._pending: dict[str, Any] | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._failed = False  # the last write failed
        self.saves = 0  # files written (tests, diagnostics)
        self._thread = threading.Thread(target=self._run, name="settings-save", daemon=True)
        self._thread.start()

    def poll(self) -> bool:
        """Queue the current state if it changed; True when it did."""
        data = self.settings.to_dict()
        if data == self._handed:
            return False
        self._handed = data
        with self._cond:
            self._pending = data
            self._cond.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                data, self._pending = self._pending, None
                if data is None:
                    return
            try:
                write_settings(self.settings.target(), data)
                self.saves += 1
                self._failed = False
            except OSError as exc:
                log.warning("could not save settings to %s: %s", self.settings.target(), exc)
                self._failed = True
                self._handed = {}  # differs from anything: the next poll tries again

    def close(self, timeout: float = 5.0) -> None:
        """Write what changed since the last poll and stop the thread (waits for the write); a state whose last
        write failed is tried once more here."""
        self.poll()
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._failed and not self._thread.is_alive():
            try:
                write_settings(self.settings.target(), self.settings.to_dict())
                self.saves += 1
                self._failed = False
            except OSError as exc:
                log.warning("could not save settings to %s: %s", self.settings.target(), exc)



def _fits(value: Any, hint: Any) -> bool:
    """Does a JSON value fit a field's annotation? (int fits float; bool fits neither int nor float.)"""
    if get_origin(hint) is Union or type(hint).__name__ == "UnionType":
        return any(_fits(value, h) for h in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, str)
    return isinstance(value, hint)
