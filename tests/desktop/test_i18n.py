"""Simplified Chinese is complete and current: every tr() string of desktop/ is in the .ts with a finished
translation (same placeholders), the committed .qm is what lrelease makes of the .ts, no widget text bypasses
tr(), and the windows built in zh_CN show no English words besides names and units."""

from __future__ import annotations

import ast
import html
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QLineEdit, QMenu, QPlainTextEdit, QTabWidget, QWidget

from core import labels as core_labels
from desktop import i18n
from tests.desktop.test_main_window import make_window, settings  # noqa: F401 — fixtures

TS = i18n.ts_path(i18n.CHINESE)
QM = i18n.qm_path(i18n.CHINESE)
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
# calls whose string argument a person reads: a literal with letters here must go through tr()/translate()
UI_CALLS = {"QLabel", "QPushButton", "QAction", "QToolButton", "QCheckBox", "QRadioButton", "QGroupBox", "setText",
            "setToolTip", "setWindowTitle", "setPlaceholderText", "addAction", "addMenu", "addTab", "showMessage",
            "setTitle", "addItem", "setStatusTip", "show_message", "set_unavailable", "clear", "setHtml", "addRow",
            "getOpenFileName", "getSaveFileName", "getExistingDirectory"}
# words allowed to stay Latin in a Chinese window: names, units, keys, formats, commands
ALLOWED = re.compile(
    r"R1-Omni Live|R1-Omni|Hugging Face|ModelScope|HumanOmni-7B|HumanOmni-0\.5B|EMER-SFT-0\.5B|MAFW-DFEW-0\.5B|"
    r"CSV|JSON|ELAN|WebVTT|HTML|session-\d{8}-\d{6}|\b(?:dfew|mafw|ravdess)\b|"
    r"DFEW|MAFW|RAVDESS|CUDA|CPU|GPU|fp16|bf16|fp32|float32|float16|bfloat16|HF_TOKEN|HF_ENDPOINT|safetensors|"
    r"python main\.py download|python main\.py --source demo|python main\.py serve|pip install modelscope|"
    r"modelscope|dBFS|RMS|kHz|Hz|"
    r"GiB|MiB|GB|MB|kB|fps|Ctrl\+[A-Z]|Space|Esc|F5|\b[MXF]\b|<think>|<answer>|English|https?://\S+|\bhttps?\b|"
    r"\*\.[a-z0-9]+|SigLIP|Whisper|BERT|\bs\b|\bms\b|t0|t1|#\d+|[/\\][\w./\\-]*|\b\w+\.(json|safetensors|txt)\b|"
    r"(?:[\w.-]+/)+[\w.-]*")
DEVICE = "USB Microphone"  # a device's own name is data, not a text of the window
MARKER_NOTE = "door"  # a marker's note (tests.desktop.shoot_windows) is the user's text


def messages(ts: Path) -> list[tuple[str, str, ET.Element]]:
    root = ET.parse(ts).getroot()
    return [(c.findtext("name") or "", m.findtext("source") or "", m.find("translation"))
            for c in root.findall("context") for m in c.findall("message")]


def test_every_entry_is_translated_with_the_same_placeholders():
    entries = messages(TS)
    assert len(entries) > 150
    for context, source, tr in entries:
        assert tr is not None and tr.get("type") not in ("unfinished", "obsolete", "vanished"), (context, source)
        assert (tr.text or "").strip(), (context, source)
        assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(tr.text)), (context, source)
        if re.search(r"&[A-Za-z](?![A-Za-z]*;)", source):  # menu accelerators (not &nbsp;) keep their letter
            assert re.search(r"\(&[A-Z]\)", tr.text), (context, source)


def test_every_tr_string_is_in_the_ts(tmp_path):
    fresh = tmp_path / "fresh.ts"
    i18n.lupdate(fresh)
    wanted = {(c, s) for c, s, _ in messages(fresh)}
    have = {(c, s) for c, s, _ in messages(TS)}
    assert wanted - have == set(), "run: python -m desktop.i18n update, translate, then release"
    assert have - wanted == set(), "strings no longer in the code: python -m desktop.i18n update"


def test_the_qm_is_compiled_from_the_ts(tmp_path):
    if shutil.which("pyside6-lrelease") is None and not Path(i18n._tool("pyside6-lrelease")).exists():
        pytest.skip("pyside6-lrelease not installed")
    qm = tmp_path / "zh.qm"
    i18n.lrelease(TS, qm)
    assert qm.read_bytes() == QM.read_bytes(), "run: python -m desktop.i18n release"


def test_no_widget_text_bypasses_translation():
    offenders = []
    for path in i18n.sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in UI_CALLS:
                continue
            for arg in node.args:
                text = html.unescape(re.sub(r"<[^>]+>", "", _literal_text(arg)))
                if text and re.search(r"[A-Za-z]{2,}", ALLOWED.sub("", text)):
                    offenders.append(f"{path.name}:{node.lineno}: {name}({text!r})")
    assert offenders == [], "wrap these in self.tr() / QCoreApplication.translate():\n" + "\n".join(offenders)


def _literal_text(arg: ast.expr) -> str:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        return "".join(v.value for v in arg.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(arg, ast.BinOp):
        return _literal_text(arg.left) + _literal_text(arg.right)
    return ""


def test_label_names_cover_every_label_set():
    names = core_labels.DISPLAY_NAMES["zh_CN"]
    for label in {*core_labels.DFEW, *core_labels.MAFW, *core_labels.RAVDESS}:
        assert re.fullmatch(r"[\u4e00-\u9fff]+", names[label]), label
    assert core_labels.display_name("happy", "en") == "happy"
    assert core_labels.display_name("bewildered", "zh_CN") == "bewildered"  # a free answer stays as written


def test_the_system_locale_chooses_the_language():
    assert i18n.resolve("system", QLocale(QLocale.Language.Chinese, QLocale.Country.China)) == "zh_CN"
    assert i18n.resolve("system", QLocale(QLocale.Language.Chinese, QLocale.Country.Taiwan)) == "zh_CN"
    assert i18n.resolve("system", QLocale(QLocale.Language.German, QLocale.Country.Germany)) == "en"
    assert i18n.resolve("en", QLocale(QLocale.Language.Chinese)) == "en"


def visible_texts(top: QWidget) -> list[str]:
    """Every text a person can read in ``top``: labels, buttons, combo items, placeholders, tabs, tooltips,
    menus and their actions."""
    texts = [top.windowTitle()]
    widgets = [top, *top.findChildren(QWidget)]
    for w in widgets:
        texts.append(w.toolTip())
        if isinstance(w, (QLabel, QAbstractButton)):
            texts.append(w.text())
        if isinstance(w, QComboBox):
            texts += [w.itemText(i) for i in range(w.count())]
        if isinstance(w, (QLineEdit, QPlainTextEdit)):
            texts.append(w.placeholderText())
        if isinstance(w, QTabWidget):
            texts += [w.tabText(i) for i in range(w.count())]
        if isinstance(w, QMenu):
            texts.append(w.title())
        for action in w.actions():
            texts += [action.text(), action.toolTip()]
            if action.menu() is not None:
                texts.append(action.menu().title())
                texts += [a.text() for a in action.menu().actions()]
    return [t for t in texts if t]


def english_left(texts: list[str]) -> list[str]:
    left = []
    for t in texts:
        plain = html.unescape(re.sub(r"<[^>]+>", " ", t)).replace(DEVICE, "").replace(MARKER_NOTE, "")
        if re.search(r"[A-Za-z]{2,}", ALLOWED.sub(" ", plain)):
            left.append(t)
    return left


@pytest.fixture
def chinese(qapp):
    i18n.install(qapp, i18n.CHINESE)
    yield
    i18n.install(qapp, i18n.ENGLISH)


def test_the_main_window_in_chinese_has_no_english_left(qtbot, chinese, make_window):  # noqa: F811
    win = make_window()
    win.controller.devices_found.emit([], [("pulse:alsa_input.usb", DEVICE, True)])
    texts = visible_texts(win)
    assert "未加载模型" in texts and any("文件(&F)" == t for t in texts)
    left = english_left(texts)
    assert left == [], "\n".join(left)


def test_the_download_dialog_in_chinese_has_no_english_left(qtbot, chinese, tmp_path):
    from desktop.download_dialog import DownloadDialog

    dialog = DownloadDialog(str(tmp_path / "R1-Omni-0.5B"))
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "下载模型权重"
    dialog._on_line('{"event": "progress", "done": 1500000000, "total": 6600000000, "speed": 12300000, "eta": 75}')
    assert dialog.status.text() == "1.5 GB / 6.6 GB · 12.3 MB/秒 · 剩余 1 分 15 秒"
    assert english_left(visible_texts(dialog)) == []


def test_the_replay_window_in_chinese_has_no_english_left(qtbot, chinese, tmp_path):
    from tests.desktop.shoot_windows import replay_window

    win = replay_window(tmp_path)
    qtbot.addWidget(win)
    texts = visible_texts(win)
    assert "▶ 播放" in texts and "导出 ▾" in texts
    left = english_left(texts)
    assert left == [], "\n".join(left)
    win.close()


def test_the_html_report_names_labels_in_the_language_and_data_keeps_ids(tmp_path):
    from core.session import SessionReader
    from core.session.export import render
    from core.session.writer import RecordOptions, SessionWriter
    from tests.session import synth

    folder = tmp_path / "s"
    writer = SessionWriter(folder, synth.manifest(), RecordOptions())
    writer.start()
    synth.feed(writer, 0.0, 5.0)
    writer.write_result(synth.result(0, 0.0, 4.0, label="fear"), synth.window(0, 0.0, 4.0))
    writer.stop()
    reader = SessionReader(folder)
    zh, en = render(reader, "html", language="zh_CN"), render(reader, "html")
    assert '<html lang="zh-CN">' in zh and "恐惧" in zh and 'data-label="fear"' in zh
    assert "恐惧" not in en and '<html lang="en">' in en
    for data in ("csv", "json", "vtt"):
        assert "恐惧" not in render(reader, data)  # files for tools keep the canonical ids


def test_the_remote_server_dialog_in_chinese_has_no_english_left(qtbot, chinese):
    from desktop.remote_dialog import RemoteServerDialog

    dialog = RemoteServerDialog()
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "远程模型服务器"
    left = english_left(visible_texts(dialog))
    assert left == [], "\n".join(left)


def test_view_language_is_remembered_and_validated(qtbot, make_window, settings):  # noqa: F811
    from core.settings import Settings
    from desktop.startup import build_parser

    win = make_window()
    actions = {a.data(): a for a in win.language_actions.actions()}
    assert set(actions) == {"system", "en", "zh_CN"} and actions["system"].isChecked()
    assert [a.text() for a in win.language_actions.actions()][1:] == ["English", "简体中文"]
    actions["zh_CN"].trigger()
    assert settings.language == "zh_CN" and "next" in win.banner._text.text()
    assert Settings().update({"language": "fr"}) == ["language"]  # a hand-edited settings file
    assert build_parser().parse_args(["--language", "zh_CN"]).language == "zh_CN"
