"""The download dialog drives a child process: progress from its output, Cancel kills it, errors are shown."""

from __future__ import annotations

import sys

from desktop.download_dialog import DownloadDialog

FAKE_DOWNLOAD = r"""
import sys, time
for repo in ("a/one", "b/two"):
    print(f"fetching {repo} -> /tmp/x", file=sys.stderr, flush=True)
    for p in (0, 50, 100):
        sys.stderr.write(f"\rmodel.safetensors: {p}%|####| {p}/100"); sys.stderr.flush(); time.sleep(0.02)
    sys.stderr.write("\n")
print("model folder ready", file=sys.stderr)
"""


def test_progress_and_success(qtbot, tmp_path):
    dialog = DownloadDialog(str(tmp_path), command=[sys.executable, "-c", FAKE_DOWNLOAD], steps=2)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.finished_ok, timeout=10000) as sig:
        dialog.start()
    assert sig.args == [str(tmp_path)]
    assert dialog.state == "done" and dialog.progress.value() == 1000
    assert "fetching b/two" in dialog.log.toPlainText()


def test_cancel_kills_the_download(qtbot, tmp_path):
    slow = "import sys, time\nprint('fetching a/one -> x', file=sys.stderr, flush=True)\ntime.sleep(30)\n"
    dialog = DownloadDialog(str(tmp_path), command=[sys.executable, "-c", slow], steps=1)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: "1/1" in dialog.status.text(), timeout=10000)
    dialog.cancel()
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=5000)
    assert dialog.state == "cancelled" and "resumes" in dialog.status.text()


def test_failure_shows_the_last_message(qtbot, tmp_path):
    failing = (
        "import sys\nprint('error: the Hugging Face hub cannot be reached', file=sys.stderr)\nsys.exit(1)\n"
    )
    dialog = DownloadDialog(str(tmp_path), command=[sys.executable, "-c", failing], steps=1)
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.state == "failed", timeout=10000)
    assert "cannot be reached" in dialog.status.text()
