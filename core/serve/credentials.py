"""Where the desktop keeps a model server's token: never in the settings file.

The OS keyring (``keyring`` package: Secret Service, macOS Keychain, Windows Credential Locker) where one works;
otherwise ``server-tokens.json`` in the app's config folder, created readable by the user only (mode 600) and
refused if it has become readable by others. Tokens are stored per server address. Thread: any, but each call
may touch the disk or a D-Bus service: keep it off the UI thread.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from core.safe_files import atomic_write

log = logging.getLogger(__name__)

KEYRING_SERVICE = "r1omni-live model server"
TOKEN_FILE = "server-tokens.json"


class TokenStore:
    """``save``/``load``/``forget`` a token per server URL. ``keyring_module``: the ``keyring`` package, None to
    find it (tests pass a stand-in, or False to use the file only)."""

    def __init__(self, config_dir: str | os.PathLike[str], keyring_module: Any = None) -> None:
        self.path = Path(config_dir) / TOKEN_FILE
        self._keyring = _usable_keyring() if keyring_module is None else keyring_module or None

    @property
    def where(self) -> str:
        return "the system keyring" if self._keyring is not None else f"{self.path} (readable by you only)"

    def save(self, url: str, token: str) -> None:
        if self._keyring is not None:
            try:
                self._keyring.set_password(KEYRING_SERVICE, url, token)
                return
            except Exception as exc:  # noqa: BLE001 — a locked or broken keyring: fall back to the file
                log.warning("the keyring refused the token (%s); keeping it in %s", exc, self.path)
        tokens = self._read_file()
        tokens[url] = token
        self._write_file(tokens)

    def load(self, url: str) -> str | None:
        if self._keyring is not None:
            try:
                token = self._keyring.get_password(KEYRING_SERVICE, url)
                if token:
                    return str(token)
            except Exception as exc:  # noqa: BLE001
                log.warning("cannot read the keyring: %s", exc)
        return self._read_file().get(url)

    def forget(self, url: str) -> None:
        if self._keyring is not None:
            try:
                self._keyring.delete_password(KEYRING_SERVICE, url)
            except Exception:  # noqa: BLE001 — nothing stored there
                pass
        tokens = self._read_file()
        if tokens.pop(url, None) is not None:
            self._write_file(tokens)

    def _read_file(self) -> dict[str, str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by other users: not using it (chmod 600 it, or enter the token again)",
                        self.path)
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, tokens: dict[str, str]) -> None:
        """Atomic, and never readable by others, not even for a moment (the temp file is created 600)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(tokens), private=True)


def _usable_keyring() -> Any:
    """The keyring package if it has a real backend here (not the 'fail' or plaintext ones), else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001
        return None
    name = type(backend).__module__ + "." + type(backend).__name__
    if isinstance(backend, fail.Keyring) or "plaintext" in name.lower() or "null" in name.lower():
        return None
    return keyring
