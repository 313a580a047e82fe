"""Start the desktop app: parse the automation flags, build the QApplication, theme and main window.

    python main.py [--source camera|demo|FILE|URL] [--mic ID|none] [--model DIR] [--device auto|cuda|cpu]
                   [--dtype auto|float32|float16|bfloat16] [--profile exact|fast] [--labels dfew|mafw|free]
                   [--record DIR]
                   [--quit-after SECONDS] [--screenshot PNG] [--theme dark|light] [--settings FILE]
                   [--language system|en|zh_CN]

``--quit-after`` and ``--screenshot`` make scripted runs possible (tests, CI, documentation): the window
starts monitoring at once, a screenshot is saved just before the ordered shutdown, and the exit code says
whether it all went well (0), the arguments were wrong (2), or the screenshot could not be written (1). The flags
and their checks live in ``desktop.startup``.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

APP_NAME = "R1-Omni Live"
ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icon.png"
# Python threads (model worker, capture, scheduler) hand the GIL over every switch interval. With the default
# 5 ms, a UI thread that crosses into C++ and back many times per frame waits up to 5 ms at each crossing while
# the worker runs Python between kernels; measured with desktop/ui_bench.py on a loaded 2-core machine, 1 ms took
# the worst event-loop stall from ~160 ms to ~35 ms and the preview from 23 to 27 fps (30 fps source).
UI_SWITCH_INTERVAL_S = 0.001
PREWARM_DELAY_MS = 500  # after the window is shown: import the model code (torch) on a thread
PREWARM_JOIN_S = 30.0


def tune_interpreter() -> None:
    """Keep the UI thread responsive beside busy worker threads (call before torch is imported).

    - GIL switch interval ``UI_SWITCH_INTERVAL_S`` (see there).
    - Model compute threads: one core fewer than the machine has (``OMP_NUM_THREADS``, unless the user set
      it), so that capture and the UI always find a free core. Measured with desktop/ui_bench.py on 2 cores
      with the slowed parity model: worst stall 50 ms -> 9 ms, preview 27.3 -> 28.6 fps. A model on a GPU does
      not care; a CPU-only model loses at most one core's share.
    """
    sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 1)))


def run_app(argv: list[str]) -> int:
    """Run the GUI until its window closes; returns the process exit code."""
    from core.cli_types import EXIT_USAGE, parse_or_exit
    from desktop.startup import build_parser, check_args

    args = parse_or_exit(build_parser(), argv)  # a bad value: argparse's message, status 2
    if isinstance(args, int):
        return args
    problem = check_args(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from desktop import theme
    from desktop.qt_compat import install_guard
    from desktop.startup import apply_args, load_settings

    tune_interpreter()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "r1omni-live"])
    guard = install_guard(app)  # noqa: F841 - lives as long as the app (parented)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("r1omni-live")
    app.setDesktopFileName("r1omni-live")
    if ICON_PATH.exists():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    settings = load_settings(args.settings)
    theme.apply(app, args.theme or settings.theme)
    from desktop import i18n

    i18n.install(app, args.language or settings.language)

    from desktop.live_controller import LiveController
    from desktop.main_window import MainWindow

    controller = LiveController(settings)
    window = MainWindow(settings, controller)
    apply_args(window, args)
    window.show()
    gc.freeze()  # what start-up created lives for the whole run: keep it out of every later full collection
    prewarm = threading.Thread(target=import_model_runtime, name="model-prewarm", daemon=True)
    # shortly after the window is drawn, while nothing is live yet: the import's GIL stalls land here, not in
    # the middle of a monitoring run when the user loads a model
    QTimer.singleShot(PREWARM_DELAY_MS, prewarm.start)

    outcome = {"code": 0}
    if args.quit_after is not None:

        def finish() -> None:
            if args.screenshot:
                outcome["code"] = 0 if save_screenshot(window, args.screenshot) else 1
            window.close()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    app.exec()
    window.shutdown()  # no-op when closeEvent already ran
    if prewarm.is_alive():  # the window is gone: let a half-done import finish before the interpreter exits
        prewarm.join(PREWARM_JOIN_S)
    return outcome["code"]


def import_model_runtime() -> None:
    try:
        from core.model import import_runtime

        import_runtime()
    except Exception as exc:  # a broken torch install is reported when a model is loaded, with its fix
        log.info("model code not pre-imported: %s", exc)


def save_screenshot(window, path: str) -> bool:
    """Grab the window as drawn (works under xcb and offscreen) and save a PNG; False with a log line if not."""
    pixmap = window.grab()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ok = pixmap.save(str(target), "PNG")
    if ok:
        log.info(
            "screenshot saved to %s (%dx%d, platform %s)",
            target,
            pixmap.width(),
            pixmap.height(),
            os.environ.get("QT_QPA_PLATFORM", "default"),
        )
    else:
        log.error("could not write the screenshot to %s", target)
    return ok
