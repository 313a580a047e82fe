"""One typed settings object, persisted as JSON under the platform's user config dir.

Loading never fails on content: unknown keys are ignored, missing keys take their defaults, a value of the wrong
type, outside its range or choices (``max_new_tokens`` 0, a NaN window, a 10 MB string...) falls back to the default
with a warning naming the key, and an unreadable file is kept aside as ``settings.json.bad`` (never overwritten
silently) before defaults are used. A path that is not a regular file (a folder, a FIFO, a device) is neither read
nor ever replaced, and a file larger than ``MAX_SETTINGS_BYTES`` is not parsed. Saving is atomic (temp file +
rename), so a crash mid-write leaves the previous file intact.

New fields are added additively with a default. Threads: the UI thread owns the object; ``save`` writes a small file
and is called on shutdown or after a change (quick, but not from a display timer).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import platformdirs

from core.cli_types import MAX_DEVICE_INDEX, MAX_DEVICE_NAME_CHARS, MAX_NEW_TOKENS
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
LANGUAGES = ("system", "en", "zh_CN")  # the UI languages shipped (resources/i18n)
LABEL_SETS = ("DFEW", "MAFW", "RAVDESS", "free")
AUTO_ATTRIBUTION = ("off", "gpu", "on")  # core.attribution.AUTO_MODES (kept here: settings import nothing heavy)

CHOICES: dict[str, tuple[str, ...]] = {
    "instruction_preset": INSTRUCTION_PRESETS,
    "device": DEVICES,
    "precision": PRECISIONS,
    "profile": PROFILES,
    "theme": THEMES,
    "label_set": LABEL_SETS,
    "auto_attribution": AUTO_ATTRIBUTION,
    "language": LANGUAGES,
}

MAX_SETTINGS_BYTES = 1 << 20  # a settings file is a few hundred bytes; a bigger one is not ours
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux: paths, stream URLs
MAX_INSTRUCTION_CHARS = 4000  # a custom question; the model's prompt grows with it
MAX_GEOMETRY_CHARS = 4096  # Qt's saveGeometry as base64 is ~100 characters; no more than a path


def _text(limit: int) -> Callable[[Any], bool]:
    """Strings up to ``limit`` characters without NUL (which no path, URL or label may hold)."""
    return lambda v: not isinstance(v, str) or (len(v) <= limit and "\x00" not in v)


def _one_of(options: tuple[str, ...]) -> Callable[[Any], bool]:
    """Exactly one of ``options``."""
    return lambda v: v in options


def _index_or_text(limit: int) -> Callable[[Any], bool]:
    """A device index in [0, MAX_DEVICE_INDEX] or a string (see ``_text``)."""
    return lambda v: (0 <= v <= MAX_DEVICE_INDEX) if isinstance(v, int) and not isinstance(v, bool) else _text(limit)(v)


# Beyond the type (checked first, from the annotation): what a value must satisfy. window_s/hop_s are checked as a pair.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "camera": (_index_or_text(MAX_PATH_CHARS), f"a camera index 0-{MAX_DEVICE_INDEX}, a path or URL, or null"),
    "microphone": (_index_or_text(MAX_DEVICE_NAME_CHARS), f"a device index 0-{MAX_DEVICE_INDEX}, a name, or null"),
    "max_new_tokens": (lambda v: v in MAX_NEW_TOKENS, MAX_NEW_TOKENS.describe()),
    "custom_instruction": (_text(MAX_INSTRUCTION_CHARS), f"text up to {MAX_INSTRUCTION_CHARS} characters"),
    "model_dir": (_text(MAX_PATH_CHARS), "a folder path"),
    "record_dir": (_text(MAX_PATH_CHARS), "a folder path"),
    "window_geometry": (_text(MAX_GEOMETRY_CHARS), "Qt window geometry"),
}
RULES.update(
    {name: (_one_of(options), f"one of {', '.join(options)}") for name, options in CHOICES.items()}
)


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
    auto_attribution: str = "gpu"  # re-run every window video-only when the device is free: off | gpu | on
    model_dir: str = ""  # "" = not chosen yet
    remote_url: str = ""  # a model server (main.py serve); its token is kept by core.serve.credentials, not here
    remote_ca_file: str = ""  # certificate to trust for it ("" = the system's)
    use_remote: bool = False  # "Load model" connects to remote_url instead of loading model_dir
    device: str = "auto"
    precision: str = "auto"
    profile: str = "exact"
    record_dir: str = field(default_factory=default_record_dir)
    record_media: bool = True  # False: record the analysis log only (no video, audio or window frames)
    record_audio: bool = True  # False: leave the audio out of the recorded media (the model still hears it)
    blur_faces: bool = False  # blur faces in the recorded video and window frames
    theme: str = "dark"
    language: str = "system"  # UI language: system (from the locale), en, zh_CN
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
        try:
            info = path.stat()
        except (OSError, ValueError):  # missing (the first start), or a path the system refuses
            return settings
        if not stat.S_ISREG(info.st_mode):
            log.warning("settings: %s is not a regular file (a folder, FIFO or device): using defaults, and the "
                        "settings of this run are not saved there", path)
            return settings
        try:
            if info.st_size > MAX_SETTINGS_BYTES:
                raise ValueError(f"{info.st_size} bytes, more than a settings file holds ({MAX_SETTINGS_BYTES})")
            with open(path, "rb") as f:
                raw = f.read(MAX_SETTINGS_BYTES + 1)
            data = json.loads(raw.decode("utf-8"), parse_int=_parse_int)
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
        except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
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
        """Apply known keys from ``data`` with type, range and choice checks; returns the keys rejected, each named
        in a logged warning. Never raises on content."""
        rejected = []
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            if not f.metadata.get("persist", True) or f.name not in data:
                continue
            value = data[f.name]
            rule, expected = RULES.get(f.name, (None, _type_name(hints[f.name])))
            value = _coerce(value, hints[f.name])
            if value is not _BAD and (rule is None or rule(value)):
                setattr(self, f.name, value)
            else:
                rejected.append(f.name)
                log.warning("settings: ignoring %s=%s (expected %s); using %r", f.name, _short_repr(data[f.name]),
                            expected, getattr(self, f.name))
        try:
            check_window_hop(self.window_s, self.hop_s)
        except ValueError as exc:  # a pair: a hop chosen for one window length means nothing for the default one
            log.warning("settings: window_s/hop_s: %s; using the defaults %g/%g", exc, DEFAULT_WINDOW_S, DEFAULT_HOP_S)
            self.window_s, self.hop_s = DEFAULT_WINDOW_S, DEFAULT_HOP_S
            rejected += [k for k in ("window_s", "hop_s") if k not in rejected]
        return rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("persist", True)
        }

    def target(self) -> Path:
        """Where ``save`` writes: where it was loaded from, else the config dir."""
        return self.path or default_config_dir() / SETTINGS_FILE

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically to ``path`` (default: :meth:`target`). Returns the path. ``OSError`` when the target is
        a folder, FIFO or device (never replaced) or cannot be written."""
        target = Path(path) if path is not None else self.target()
        write_settings(target, self.to_dict())
        self.path = target
        return target


def check_target(target: Path) -> None:
    """Raise ``OSError`` when ``target`` exists and is not a regular file: saving renames a new file over the
    target, which would replace a FIFO or a device node (``--settings /dev/null``) with a file."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise OSError(f"{target} is not a regular file (a folder, FIFO or device); settings are not saved there")


def write_settings(target: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as the settings file ``target``, atomically and readable by the user only (an exclusive
    temporary file beside it, fsync, rename: ``core.safe_files``). ``OSError`` when the target is a folder, FIFO
    or device (never replaced, :func:`check_target`) or cannot be written."""
    from core.safe_files import atomic_write

    check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, json.dumps(data, indent=2, sort_keys=True) + "\n", private=True)


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


_BAD = object()  # _coerce: the value does not fit the field's type
MAX_INT_DIGITS = 30  # longer integer literals load as inf (out of every range) instead of failing the whole file


def _parse_int(text: str) -> int | float:
    """json's integer parser, bounded: Python refuses to convert more than 4300 digits, which would make one bad
    value fail the whole file (and costs quadratic time below that)."""
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else (math.inf if text[0] != "-" else -math.inf)
SHORT_REPR_CHARS = 80


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as the field's type (an int where a float belongs becomes a float), or ``_BAD``."""
    if not _fits(value, hint):
        return _BAD
    if hint is float:
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float (JSON allows 1e400 digits)
            return _BAD
    return value


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _short_repr(value: Any) -> str:
    """A log-safe repr: a huge string or list from a hostile file is cut, not printed whole."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # repr of an integer with more than 4300 digits refuses
        text = f"<{type(value).__name__}>"
    return text if len(text) <= SHORT_REPR_CHARS else text[:SHORT_REPR_CHARS] + f"... ({len(text)} characters)"


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
