"""The app's command line: its flags, their checks, and from flags to a configured window (settings file, source,
model, recording, auto-start).

Parsing and checking import no Qt, so a bad flag is reported at once (exit status 2) before the window is built;
``source_choice`` and ``apply_args`` need the desktop modules and import them when called.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli_types import EXIT_CODES_HELP, microphone, run_seconds
from core.serve.client import is_remote_model, target_from_args
from core.serve.security import resolve_token
from core.settings import Settings
from core.sources import SOURCE_CAMERA as CORE_CAMERA
from core.sources import SOURCE_DEMO as CORE_DEMO
from core.sources import SOURCE_FILE as CORE_FILE
from core.sources import SOURCE_SYNTHETIC as CORE_SYNTHETIC
from core.sources import SourceSpecError, describe, parse_source

LABEL_FLAG_TO_SETTING = {"dfew": "DFEW", "mafw": "MAFW", "free": "free"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py", description="R1-Omni Live: watch, listen, explain.",
                                epilog=EXIT_CODES_HELP + "; the app: 1 also when the screenshot cannot be written")
    p.add_argument(
        "--source",
        help="camera, camera:N, demo (the bundled clip), synthetic (test pattern), a media FILE or a stream URL",
    )
    p.add_argument(
        "--mic", type=microphone(),
        help="microphone index or name to use with a camera; 'default'; 'none' for video only",
    )
    p.add_argument("--model", metavar="DIR|URL", help="R1-Omni model folder to load at start, or a model server "
                   "https://HOST:PORT (python main.py serve)")
    p.add_argument("--token-file", help="with --model https://...: file holding the server's token (chmod 600); "
                   "default: R1OMNI_SERVE_TOKEN, else the token stored for that server")
    p.add_argument("--server-ca", metavar="PEM", help="with --model https://...: certificate to trust for the server")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), help="where the model runs")
    p.add_argument("--dtype", choices=("auto", "float32", "float16", "bfloat16"), help="model precision")
    p.add_argument("--profile", choices=("exact", "fast"),
                   help="exact: the official computation; fast: approximate, quicker on a CPU (labelled)")
    p.add_argument("--labels", choices=("dfew", "mafw", "free"), help="label set of the answers")
    p.add_argument("--record", metavar="DIR", help="record the session into a new folder under DIR")
    p.add_argument("--every-window", action="store_true",
                   help="with a file --source and --model: analyse every window, as fast as the model allows")
    p.add_argument("--quit-after", type=run_seconds(), metavar="SECONDS",
                   help="start monitoring, quit after SECONDS (more than 0, at most a week)")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window before quitting")
    p.add_argument("--theme", choices=("dark", "light"), help="colour theme (default: remembered, else dark)")
    p.add_argument("--settings", metavar="FILE", help="settings file to use instead of the per-user one")
    p.add_argument("--language", choices=("system", "en", "zh_CN"),
                   help="language of the window (default: remembered, else the system's; the command line stays "
                        "English)")
    return p


def check_args(args: argparse.Namespace) -> str | None:
    """A readable problem with the flags (what is wrong and the fix), or None when the app can start with them.
    Looks paths up; opens nothing."""
    if args.source:
        try:
            parse_source(args.source)
        except SourceSpecError as exc:
            return str(exc)
    if args.model and is_remote_model(args.model):
        try:
            target_from_args(args)
        except ValueError as exc:
            return f"--model: {exc}"
    elif args.model and not Path(args.model).is_dir():
        return (f"--model {args.model!r} is not a folder. Point it at the R1-Omni folder (config.json, "
                "model.safetensors, siglip/, whisper/, bert/) or run: python main.py download")
    if args.every_window and not (args.source and file_source(args.source) and args.model):
        return "--every-window needs a media file as --source and a --model"
    return None


def load_settings(path: str | None) -> Settings:
    """``--settings FILE`` or the per-user file (``R1OMNI_LIVE_CONFIG_DIR`` overrides its folder)."""
    return Settings.load(Path(path) if path else None)


def source_choice(source: str):
    """``camera`` | ``camera:N`` | ``demo`` | ``synthetic`` | a file path | a URL → the picker's choice
    (``desktop.controls.SourceChoice``; a stream's label has its password masked). Raises ``SourceSpecError``."""
    from desktop.controls import SOURCE_CAMERA, SOURCE_DEMO, SOURCE_FILE, SourceChoice
    from desktop.live_controller import SYNTHETIC_CHOICE

    spec = parse_source(source)
    if spec.kind == CORE_SYNTHETIC:
        return SYNTHETIC_CHOICE
    if spec.kind == CORE_DEMO:
        return SourceChoice(SOURCE_DEMO, spec.ref, "Demo clip")
    if spec.kind == CORE_CAMERA:
        return SourceChoice(SOURCE_CAMERA, spec.ref, describe(spec))
    return SourceChoice(SOURCE_FILE, spec.ref, describe(spec))  # a file, or a stream URL (the picker's "file")


def file_source(source: str) -> str | None:
    """The media file a ``--source`` names (``demo`` is the bundled clip), or None (a camera, a stream, or a source
    that does not parse)."""
    try:
        spec = parse_source(source)
    except SourceSpecError:
        return None
    return str(spec.ref) if spec.kind in (CORE_FILE, CORE_DEMO) else None


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
    if args.model and is_remote_model(args.model):
        token = resolve_token(getattr(args, "token_file", None))  # None: the token stored for that server
        window.connect_remote(args.model, token, getattr(args, "server_ca", None) or "", remember=False)
    elif args.model:
        s.model_dir = str(Path(args.model).resolve())
        s.use_remote = False
        window.load_model()
    if every:  # after the load request: every window of the file waits for the model
        window.analyze_file(file_source(args.source) or args.source)
