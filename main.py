"""R1-Omni Live entry point: the desktop app, or a command-line subcommand.

    python main.py [--source ...] [--model DIR] ...       the live monitor (desktop/app.py)
    python main.py analyze VIDEO --model DIR [--json]      one file or a folder
    python main.py evaluate DATASET --model DIR            UAR / WAR on labelled clips
    python main.py export SESSION --format csv|json|eaf|vtt|html
    python main.py download [--dir DIR]                    fetch the model weights
    python main.py bench [...]                             full-size speed benchmark
    python main.py monitor --source camera --model DIR     headless live mode, JSON lines on stdout
    python main.py reanalyze SESSION --model DIR           run a recorded session again (or --compare)
    python main.py serve --model DIR [--host H --port P]   serve the model to other machines (Ray Serve)

Exit status of every command: 0 done; 1 it ran but failed to do its job (e.g. the source failed); 2 usage (a bad
option value or an input that cannot be used); 3 the model could not be loaded or failed (analyze, evaluate);
130 interrupted. ``python main.py COMMAND --help`` lists each command's options and their ranges.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# subcommand -> module exposing configure(parser) and run(args) -> int. Imported lazily so that
# the window shows before torch/transformers are imported.
COMMANDS = {
    "analyze": "core.commands.analyze",
    "evaluate": "core.commands.evaluate",
    "export": "core.commands.export",
    "download": "core.commands.download",
    "bench": "core.commands.bench",
    "monitor": "core.commands.monitor",
    "reanalyze": "core.session.reanalysis",
    "serve": "core.commands.serve",
}
DEPRECATED_NAMES = {"reanalyse": "reanalyze"}  # older spellings that scripts may still use


def _log_stream():
    """Where log lines go: a duplicate of the stderr descriptor when stderr is the process's own.

    PortAudio's initialisation (``import sounddevice``, and each device rescan, on the device-scan thread) points
    descriptor 2 at /dev/null for a moment to hide ALSA's start-up chatter; a line another thread logs meanwhile
    would be lost. The duplicate keeps pointing where stderr pointed when logging was set up.
    """
    if sys.stderr is None or sys.stderr is not sys.__stderr__:  # redirected in-process (tests): keep it
        return sys.stderr
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding=sys.stderr.encoding,
                         errors="backslashreplace")
    except (OSError, ValueError):
        return sys.stderr


def _setup_logging(verbose: bool) -> None:
    from core.redaction import install_log_redaction

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=None if logging.getLogger().handlers else _log_stream(),  # with handlers basicConfig does nothing
    )
    install_log_redaction()  # a stream URL's password never reaches a log line, whoever logs it


def _program() -> str:
    """How the user called the app: ``main.py`` from the source tree, else the installed launcher's name."""
    name = os.path.basename(sys.argv[0] or "") if sys.argv else ""
    return "main.py" if not name or name.endswith(".py") or name.startswith("-") else name


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv or "--verbose" in argv
    argv = [a for a in argv if a not in ("-v", "--verbose")]
    _setup_logging(verbose)
    if argv and argv[0] in DEPRECATED_NAMES:
        print(f"note: '{argv[0]}' is now '{DEPRECATED_NAMES[argv[0]]}'", file=sys.stderr)
        argv[0] = DEPRECATED_NAMES[argv[0]]
    if argv and argv[0] in COMMANDS:
        from core.cli_types import parse_or_exit

        module = importlib.import_module(COMMANDS[argv[0]])
        parser = argparse.ArgumentParser(prog=f"{_program()} {argv[0]}", description=module.__doc__)
        module.configure(parser)
        args = parse_or_exit(parser, argv[1:])  # a bad value: argparse's message and status 2, returned
        return args if isinstance(args, int) else int(module.run(args) or 0)
    if argv and argv[0] in ("-h", "--help") and len(argv) == 1:
        print(__doc__)
    from desktop.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
