"""From command-line flags to a configured window: settings file, source, model, recording, auto-start."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.settings import Settings
from desktop.controls import SOURCE_CAMERA, SOURCE_DEMO, SOURCE_FILE, SourceChoice
from desktop.live_controller import DEMO_CLIP, SYNTHETIC_CHOICE

LABEL_FLAG_TO_SETTING = {"dfew": "DFEW", "mafw": "MAFW", "free": "free"}


def load_settings(path: str | None) -> Settings:
    """``--settings FILE`` or the per-user file (``R1OMNI_LIVE_CONFIG_DIR`` overrides its folder)."""
    return Settings.load(Path(path) if path else None)


def source_choice(source: str) -> SourceChoice:
    """``camera`` | ``camera:N`` | ``demo`` | ``synthetic`` | a file path | a URL → the picker's choice."""
    if source == "synthetic":
        return SYNTHETIC_CHOICE
    if source == "demo":
        return SourceChoice(SOURCE_DEMO, str(DEMO_CLIP), "Demo clip")
    if source == "camera" or source.startswith("camera:"):
        index = int(source.split(":", 1)[1]) if ":" in source else 0
        return SourceChoice(SOURCE_CAMERA, index, f"camera {index}")
    return SourceChoice(SOURCE_FILE, source, Path(source).name or source)


def file_source(source: str) -> str | None:
    """The media file a ``--source`` names (``demo`` is the bundled clip), or None."""
    choice = source_choice(source)
    if choice.kind == SOURCE_DEMO:
        return str(choice.ref)
    return str(Path(source).resolve()) if choice.kind == SOURCE_FILE and Path(source).is_file() else None


def apply_args(window, args: argparse.Namespace) -> None:
    """Apply the automation flags to a freshly built ``MainWindow``; flags override remembered settings
    for this run. A given ``--source`` (or ``--quit-after``) starts monitoring at once."""
    s = window.settings
    if args.device:
        s.device = args.device
    if args.dtype:
        s.dtype = args.dtype
    if getattr(args, "profile", None):
        s.profile = args.profile
    if args.labels:
        window.set_label_set(LABEL_FLAG_TO_SETTING[args.labels])
    if args.mic:
        window.controller.set_microphone(int(args.mic) if args.mic.isdigit() else args.mic)
    if args.source:
        window.use_source(source_choice(args.source))
    if args.record:
        window.controller.set_recording(True, root=args.record)
    every = bool(getattr(args, "every_window", False))
    if (args.source or args.quit_after is not None) and not every:
        window.start_monitoring()  # first, so capture runs while the model loads
    if args.model:
        s.model_dir = str(Path(args.model).resolve())
        window.load_model()
    if every:  # after the load request: every window of the file waits for the model
        window.analyse_file(file_source(args.source) or args.source)
