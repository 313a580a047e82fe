"""Screenshots of the main window, a replay window and the download dialog in one language, for a person to look
at and for tests/desktop/test_i18n_screens.py to check (run under Xvfb with the xcb platform).

    python -m tests.desktop.shoot_windows OUT_DIR LANGUAGE        (LANGUAGE: en | zh_CN)

Writes OUT_DIR/{main,replay,download}-LANGUAGE.png and OUT_DIR/report-LANGUAGE.json: the font families that
can show Simplified Chinese, and every label or button whose one-line text is wider than the widget (clipped).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget

SETTLE_MS = 600  # layouts, the first timer ticks and the first paint


def clipped(top: QWidget) -> list[str]:
    """Visible one-line labels and buttons whose text does not fit their width."""
    out = []
    for w in [top, *top.findChildren(QWidget)]:
        if not w.isVisible() or w.width() <= 1:
            continue
        if isinstance(w, QLabel) and not w.wordWrap() and w.textFormat() != Qt.TextFormat.RichText:
            text = w.text()
            if text and "<" not in text and "\n" not in text:
                need = w.fontMetrics().horizontalAdvance(text) + 2 * w.margin()
                if need > w.contentsRect().width() + 1:
                    out.append(f"QLabel {text!r}: {need} > {w.contentsRect().width()} px")
        elif isinstance(w, QAbstractButton) and w.text() and w.width() > 1:
            need = w.fontMetrics().horizontalAdvance(w.text().replace("&", ""))
            if need > w.width() - 4:
                out.append(f"{type(w).__name__} {w.text()!r}: {need} > {w.width()} px")
    return out


def settle(app: QApplication, ms: int = SETTLE_MS) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    app.processEvents()


def main_window(tmp: Path):
    from core.settings import Settings
    from desktop.live_controller import LiveController
    from desktop.main_window import MainWindow
    from tests.desktop.conftest import make_result, make_window

    settings = Settings.load(tmp / "settings.json")
    settings.camera = None
    settings.record_dir = str(tmp / "sessions")
    win = MainWindow(settings, LiveController(settings))
    win.resize(1360, 860)
    win.show()
    win.controller.devices_found.emit([], [("pulse:usb", "USB Microphone", True)])
    for i, label in enumerate(("happy", "sad", "angry")):
        t0 = 2.0 * i
        window = make_window(i, t0, t0 + 4.0)
        win._on_window_started(window)
        win._on_result(make_result(i, t0, t0 + 4.0, label=label), window)
    win.select_window(2)
    return win


def replay_window(tmp: Path):
    from core.session.writer import RecordOptions, SessionWriter
    from desktop.replay import ReplayWindow
    from tests.session import synth

    folder = tmp / "session-20261202-101500"
    writer = SessionWriter(folder, synth.manifest(), RecordOptions())
    writer.start()
    synth.feed(writer, 0.0, 9.0)
    for i, label in enumerate(("happy", "neutral", "fear")):
        t0 = 2.0 * i
        writer.write_result(synth.result(i, t0, t0 + 4.0, label=label), synth.window(i, t0, t0 + 4.0))
    writer.add_marker("event", "door", t=2.5)
    writer.stop()
    win = ReplayWindow(folder)
    win.show()
    return win


def download_dialog(tmp: Path):
    from desktop.download_dialog import DownloadDialog

    dialog = DownloadDialog(str(tmp / "models" / "R1-Omni-0.5B"))
    dialog.show()
    dialog._on_line('{"event": "progress", "done": 2310000000, "total": 6600000000, "speed": 11800000, "eta": 363}')
    dialog.log.appendPlainText("fetching StarJiaxing/R1-Omni-0.5B -> /home/user/models/R1-Omni-0.5B")
    return dialog


def main(argv: list[str]) -> int:
    out, language = Path(argv[0]), argv[1]
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(["shoot"])
    from desktop import i18n, theme

    theme.apply(app, theme.DARK)
    shown = i18n.install(app, language)
    report = {"language": shown, "cjk_fonts": QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese),
              "clipped": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in (("main", main_window), ("replay", replay_window), ("download", download_dialog)):
            widget = build(Path(tmp))
            settle(app)
            widget.grab().save(str(out / f"{name}-{language}.png"), "PNG")
            report["clipped"][name] = clipped(widget)
            if hasattr(widget, "shutdown"):
                widget.shutdown()
            widget.close()
            settle(app, 100)
    (out / f"report-{language}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
