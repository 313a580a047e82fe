"""The download dialog drives a child process: the model, hub and mirror chosen become its arguments; its JSON
progress (bytes, speed, time left) fills the bar; Cancel kills it; each failure kind reads as one sentence."""

from __future__ import annotations

import sys

from desktop.download_dialog import DownloadDialog

# Stands in for `main.py download`: prints its arguments, then the events the real command writes.
FAKE_DOWNLOAD = r"""
import json, sys, time
def emit(**e): print(json.dumps(e), file=sys.stderr, flush=True)
emit(event="log", text="args " + " ".join(sys.argv[1:]))
for done in (0, 500_000, 1_000_000):
    emit(event="progress", done=done, total=1_000_000, speed=250_000, eta=(1_000_000 - done) / 250_000, item="a/b")
    time.sleep(0.02)
emit(event="done", folder=sys.argv[sys.argv.index("--dir") + 1])
"""


def make(qtbot, tmp_path, script: str) -> DownloadDialog:
    dialog = DownloadDialog(str(tmp_path / "R1-Omni-0.5B"), command=[sys.executable, "-c", script])
    qtbot.addWidget(dialog)
    return dialog


def test_choices_become_arguments_and_progress_shows_bytes(qtbot, tmp_path):
    dialog = make(qtbot, tmp_path, FAKE_DOWNLOAD)
    dialog.model_box.setCurrentIndex(dialog.model_box.findData("HumanOmni-7B"))
    assert dialog.folder == str(tmp_path / "HumanOmni-7B")  # the folder follows the model until edited
    assert "21 GB" in dialog.model_info.text() and "18 GB" in dialog.model_info.text()
    dialog.hub_box.setCurrentIndex(dialog.hub_box.findData("modelscope"))
    dialog.mirror_edit.setText("http://127.0.0.1:8080")
    seen = []
    dialog.progress.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.finished_ok, timeout=10000) as sig:
        dialog.start()
    assert sig.args == [str(tmp_path / "HumanOmni-7B")]
    log = dialog.log.toPlainText()
    assert "--model HumanOmni-7B --hub modelscope --progress json --endpoint http://127.0.0.1:8080" in log
    assert 500 in seen and dialog.progress.value() == 1000
    assert dialog.state == "done" and "Done" in dialog.status.text()


def test_progress_line_reads_bytes_speed_and_time_left(qtbot, tmp_path):
    dialog = make(qtbot, tmp_path, FAKE_DOWNLOAD)
    dialog._on_line('{"event": "progress", "done": 1500000000, "total": 6600000000, "speed": 12300000, "eta": 414.6}')
    assert dialog.status.text() == "1.5 GB of 6.6 GB · 12.3 MB/s · 6 min 55 s left"
    assert dialog.progress.value() == 227


def test_cancel_kills_the_download(qtbot, tmp_path):
    slow = "import sys, time\nprint('{\"event\": \"log\", \"text\": \"started\"}', file=sys.stderr, flush=True)\n" \
           "time.sleep(30)\n"
    dialog = make(qtbot, tmp_path, slow)
    dialog.start()
    qtbot.waitUntil(lambda: "started" in dialog.log.toPlainText(), timeout=10000)
    assert not dialog.model_box.isEnabled()
    dialog.cancel()
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=5000)
    assert dialog.state == "cancelled" and "resumes" in dialog.status.text()


def test_a_failure_says_what_to_do_and_keeps_the_detail(qtbot, tmp_path):
    failing = ("import json, sys\nprint(json.dumps({'event': 'error', 'kind': 'auth', 'problem': 'refused access "
               "to a/b (HTTP 401)', 'fix': 'log in'}), file=sys.stderr)\nsys.exit(1)\n")
    dialog = make(qtbot, tmp_path, failing)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.state == "failed", timeout=10000)
    assert "log in (HF_TOKEN)" in dialog.status.text()
    assert "refused access to a/b (HTTP 401)" in dialog.log.toPlainText()
