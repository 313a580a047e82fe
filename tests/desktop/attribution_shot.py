"""Screenshot of the evidence view after a window was attributed, in the real main window on a real X display.

    QT_QPA_PLATFORM=xcb python -m tests.desktop.attribution_shot OUT.png [--model scripted|parity] [--details PNG]

Runs the demo clip through the model (``scripted``: the desktop tests' stand-in, whose answer changes with each
call; ``parity``: the tiny parity checkpoint), stops monitoring, selects the newest window, presses "Re-run
video-only" and saves the window once the comparison is shown (``--details``: also the evidence view with its
details scrolled to the comparison). Exit status 0 when it was.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import PARITY_DIR

TIMEOUT_S = 120.0


def _wait(app, condition, timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", choices=("scripted", "parity"), default="scripted")
    parser.add_argument("--details", type=Path, default=None)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from core.settings import Settings
    from desktop import theme
    from desktop.live_controller import LiveController
    from desktop.main_window import MainWindow
    from desktop.startup import source_choice
    from desktop.voice_panel import DONE
    from tests.desktop.fakes import ScriptedModel

    app = QApplication.instance() or QApplication(sys.argv)
    theme.apply(app, theme.DARK)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(Path(tmp) / "settings.json")
        settings.camera, settings.auto_attribution, settings.max_new_tokens = None, "off", 12
        settings.policy_notice_accepted = True
        settings.record_dir = str(Path(tmp) / "sessions")
        if args.model == "scripted":
            controller = LiveController(settings, loader=lambda request: ScriptedModel(seconds=0.05))
            model_dir = "/models/scripted"
        else:
            controller = LiveController(settings)
            model_dir = str(PARITY_DIR / "checkpoint")
        win = MainWindow(settings, controller)
        win.resize(1280, 900)
        win.show()
        try:
            controller.model.load(model_dir, "cpu", "float32")
            if not _wait(app, lambda: controller.model.has_model):
                print("the model did not load", file=sys.stderr)
                return 1
            win.use_source(source_choice("demo"))
            win.start_monitoring()
            if not _wait(app, lambda: len(win._results) >= 2):
                print("no results", file=sys.stderr)
                return 1
            win.stop_monitoring()
            wid = max(win._results)
            win.select_window(wid)
            win.evidence.voice.button.click()
            if not _wait(app, lambda: win.attribution_status(wid).state == DONE):
                print(f"not attributed: {win.attribution_status(wid)}", file=sys.stderr)
                return 1
            _wait(app, lambda: False, 0.5)  # let the view paint
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if not win.grab().save(str(args.out)):
                print(f"could not write {args.out}", file=sys.stderr)
                return 1
            if args.details is not None:
                details = win.evidence.details
                details.find("What did the voice add?")
                bar = details.verticalScrollBar()
                bar.setValue(bar.value() + details.cursorRect().top())  # the comparison at the top
                cursor = details.textCursor()
                cursor.clearSelection()
                details.setTextCursor(cursor)
                _wait(app, lambda: False, 0.3)
                if not win.evidence.grab().save(str(args.details)):
                    print(f"could not write {args.details}", file=sys.stderr)
                    return 1
            print(win.attribution_status(wid).attribution.summary())
            return 0
        finally:
            win.close()
            _wait(app, lambda: False, 0.3)


if __name__ == "__main__":
    sys.exit(main())
