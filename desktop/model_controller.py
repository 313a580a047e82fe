"""The window's one model owner: an ``InferenceWorker`` that lives as long as the window.

It loads, warms up, analyses and unloads on its own thread; monitoring runs, recordings and file runs attach to
it and detach again without ever reloading or waiting for it (``desktop.live_controller``). This class turns the
user's model choices into worker commands and keeps what the window shows about the model (loaded or not, its
description and memory), updated from the worker's queued signals. Thread of every method: the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from core import engine as core_engine
from core.backend import REMOTE, LoadRequest, default_loader
from core.engine import AnalysisParams, InferenceWorker
from desktop.engine_bridge import ModelBridge

WORKER_STOP_TIMEOUT_S = 10.0


def analysis_params(settings: Any) -> AnalysisParams:
    """What the model is asked with every window, from the settings (raises ValueError with the fix)."""
    instruction = core_engine.resolve_instruction(settings.instruction_preset, settings.custom_instruction)
    return AnalysisParams(instruction=instruction, label_set=str(settings.label_set).lower(),
                          max_new_tokens=int(settings.max_new_tokens))


class ModelController(QObject):
    def __init__(self, settings: Any, loader: Callable[[LoadRequest], Any] = default_loader) -> None:
        super().__init__()
        self.settings = settings
        self.bridge = ModelBridge()
        self.worker = InferenceWorker(self.bridge.listener(), params=analysis_params(settings), loader=loader)
        self.worker.set_auto_attribution(settings.auto_attribution)
        self._info: dict[str, Any] | None = None
        self.bridge.model_loaded.connect(self._on_loaded)
        self.bridge.model_unloaded.connect(self._on_unloaded)
        self.worker.start()

    # ---- commands ----------------------------------------------------------------------------------------
    def load(self, model_dir: str, device: str, dtype: str, profile: str = "exact") -> None:
        """Load the model in ``model_dir`` on the worker (``model_loaded`` or ``error_raised`` follows). The
        model already loaded, on the same device, precision and profile, is kept."""
        self.worker.load(LoadRequest(str(model_dir), device, dtype, profile=profile))

    def load_remote(self, target: Any) -> None:
        """Use the model of a server (``core.serve.client.RemoteTarget``) instead of a local folder: the worker
        connects on its thread (``model_loaded`` with ``backend: remote`` or ``error_raised`` follows)."""
        from core.serve.client import RemoteBackend

        self.worker.load(RemoteBackend(target))

    def unload(self) -> None:
        self.worker.unload()

    def set_analysis(self, preset: str, custom: str, label_set: str) -> None:
        """New instruction / label set from the next window on (raises ValueError with the fix)."""
        self.settings.instruction_preset, self.settings.custom_instruction = preset, custom
        self.settings.label_set = label_set
        self.worker.set_params(analysis_params(self.settings))

    def set_auto_attribution(self, mode: str) -> None:
        """Attribute every window when the device has spare time: off | gpu (only on a GPU) | on."""
        self.worker.set_auto_attribution(mode)
        self.settings.auto_attribution = mode

    def shutdown(self, timeout: float = WORKER_STOP_TIMEOUT_S) -> bool:
        """Cancel the window in flight at its next token, free the model and end the worker thread."""
        return self.worker.stop(timeout)

    # ---- state -------------------------------------------------------------------------------------------
    @property
    def has_model(self) -> bool:
        return self._info is not None

    @property
    def info(self) -> dict[str, Any] | None:
        return dict(self._info) if self._info is not None else None

    def description(self) -> str:
        info = self._info
        if not info:
            return "none"
        name = info.get("model_id") or Path(str(info.get("model_dir", ""))).name or "R1-Omni"
        # a server by host:port (the model menu's dialog shows its full address, https or loopback http)
        server = str(info.get("server") or "") if info.get("backend") == REMOTE else ""
        where = f" @ {server.split('://', 1)[-1]}" if server else ""
        text = f"{name}{where} · {info.get('device', '?')} {info.get('dtype', '')}".strip()
        if info.get("profile", "exact") != "exact":
            text += " · " + self.tr("fast (approximate)")
        return text

    def precision_note(self) -> str:
        """Why this precision and profile ("bfloat16: the CPU has AMX"), for the model button's tooltip."""
        info = self._info or {}
        return "; ".join(str(info[k]) for k in ("precision", "profile_detail") if info.get(k))

    def memory_bytes(self) -> int | None:
        return self.worker.memory_bytes() if self.has_model else None

    def default_model_dir(self) -> Path:
        return core_engine.default_model_dir()

    def _on_loaded(self, info: dict) -> None:
        self._info = dict(info)
        if info.get("backend") != REMOTE:
            self.settings.model_dir = info.get("model_dir", self.settings.model_dir)

    def _on_unloaded(self) -> None:
        self._info = None
