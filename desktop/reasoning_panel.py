"""The reasoning panel: the current window's ``<think>`` text as it streams, then the history.

Tokens are buffered as they arrive and flushed into the text view by ``refresh`` (display timer), so a
fast token stream costs one text update per frame, not one per token.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core import consistency as core_consistency
from core import labels as core_labels
from core import results as core_results
from core.consistency import Consistency
from core.results import WindowResult
from desktop import formatting, i18n, theme

HISTORY_LIMIT = 500  # rows kept in the history list (the session log keeps everything)
PREVIEW_CHARS = 90

PARSE_STATUS_TEXT = {  # translated where shown (parse_status_text)
    core_results.OK: QT_TRANSLATE_NOOP("ReasoningPanel", "✓ parsed"),
    core_results.NO_THINK: QT_TRANSLATE_NOOP("ReasoningPanel", "⚠ answer without <think>"),
    core_results.OUT_OF_SET: QT_TRANSLATE_NOOP("ReasoningPanel", "⚠ answer outside the label set"),
    core_results.UNCLOSED_ANSWER: QT_TRANSLATE_NOOP("ReasoningPanel", "⚠ <answer> not closed (token limit?)"),
    core_results.NO_ANSWER: QT_TRANSLATE_NOOP("ReasoningPanel", "✗ no <answer>"),
    core_results.EMPTY: QT_TRANSLATE_NOOP("ReasoningPanel", "✗ empty output"),
}


def parse_status_text(status: str) -> str:
    """How a parse status reads in the window's language."""
    return QCoreApplication.translate("ReasoningPanel", PARSE_STATUS_TEXT.get(status, status))


def label_chip(label: str | None, answer: str | None = None) -> str:
    """Rich-text chip for a label in its colour; out-of-set answers show the raw text in grey."""
    colour = QColor(core_labels.colour(label))
    fg = "#000000" if colour.lightnessF() > 0.55 else "#ffffff"
    if label:
        shown = i18n.label_name(label)
    else:
        shown = f"“{answer}”" if answer else QCoreApplication.translate("ReasoningPanel", "no answer")
    text = html.escape(shown)
    return (
        f"<span style='background:{colour.name()}; color:{fg}; font-weight:bold;'>&nbsp;{text}&nbsp;</span>"
    )


def caution_html(text: str) -> str:
    """Rich text "⚠ text" in the theme's caution colour (e.g. "2 faces in view")."""
    return f"<span style='color:{theme.current().caution}'>⚠ {html.escape(text)}</span>"


# core.consistency.CHECK_TITLES, marked for translation here (core stays Qt-free; exports keep the English)
CHECK_TEXT = {
    core_consistency.ANSWER: QT_TRANSLATE_NOOP("Consistency", "answer disagrees with the reasoning"),
    core_consistency.VOICE: QT_TRANSLATE_NOOP("Consistency", "reasoning describes a voice the model did not hear"),
    core_consistency.PERSON: QT_TRANSLATE_NOOP("Consistency",
                                               "reasoning describes one person; the faces in view disagree"),
}


def check_title(check: str) -> str:
    """A consistency check's title in the window's language."""
    return QCoreApplication.translate("Consistency", CHECK_TEXT.get(check, check))


def flags_html(consistency: Consistency | None) -> str:
    """The failed consistency checks of an answer as short caution notes (``core.consistency``), or ""."""
    if consistency is None:
        return ""
    return " &nbsp; ".join(caution_html(check_title(f.check)) for f in consistency.flags)


def flags_tooltip(consistency: Consistency | None) -> str:
    """Plain text: each failed check with its reason (the reason stays English, as core's messages do)."""
    if consistency is None:
        return ""
    return "\n".join(f"⚠ {check_title(f.check)}: {f.reason}" for f in consistency.flags)


class ReasoningPanel(QWidget):
    """Live text of the window being analysed + history newest first. UI thread only.

    ``window_selected(window_id)`` fires when a history row is clicked.
    """

    window_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        t = theme.current()
        self._live_id: int | None = None
        self._pending_text: list[str] = []
        self._live_raw = ""
        self._history_rows: dict[int, QListWidgetItem] = {}

        self.header = QLabel(self.tr("waiting for the first window…"))
        self.header.setStyleSheet(f"color: {t.muted};")
        self.live = QPlainTextEdit()
        self.live.setReadOnly(True)
        self.live.setPlaceholderText(self.tr("The model's reasoning streams here, token by token."))
        self.live.setMinimumHeight(90)
        self.answer = QLabel("")
        self.answer.setTextFormat(Qt.TextFormat.RichText)
        history_title = QLabel(self.tr("History — newest first, click a row for its evidence"))
        history_title.setStyleSheet(f"color: {t.muted}; margin-top: 4px;")
        self.history = QListWidget()
        self.history.setWordWrap(True)
        self.history.setAlternatingRowColors(True)
        self.history.itemClicked.connect(self._on_row_clicked)
        self.history.itemActivated.connect(self._on_row_clicked)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.header)
        tl.addWidget(self.live, 1)
        tl.addWidget(self.answer)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(history_title)
        bl.addWidget(self.history, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([220, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    # -- inputs (slots, UI thread) -----------------------------------------------------------------------
    def window_started(self, window_id: int, t0_s: float, t1_s: float) -> None:
        """A new window went to the model: clear the live view and name its span."""
        self.refresh()
        self._live_id = window_id
        self._live_raw = ""
        self._pending_text.clear()
        self.live.clear()
        self.answer.setText("")
        self.header.setText(self.tr("window #{id}  {span}  · analysing…").format(id=window_id,
                                                                                    span=formatting.span(t0_s, t1_s)))

    def token_streamed(self, window_id: int, delta: str) -> None:
        """Buffer a text delta of ``window_id``; stale windows' tokens are ignored."""
        if window_id == self._live_id:
            self._pending_text.append(delta)

    def result_ready(self, result: WindowResult) -> None:
        """Finish the live view with the parsed answer and put the window on top of the history."""
        a = result.analysis
        if result.window_id == self._live_id or self._live_id is None:
            self.refresh()
            self._live_id = result.window_id
            if not self._live_raw.strip():
                self.live.setPlainText(a.text)
            self.header.setText(self.tr("window #{id}  {span}  · {seconds}").format(
                id=result.window_id, span=formatting.span(result.t0, result.t1),
                seconds=formatting.seconds(a.timings.get("total"))))
            self.answer.setText(self.answer_html(result))
        self._add_history(result)

    def refresh(self) -> None:
        """Flush buffered tokens into the live text (display timer)."""
        if not self._pending_text:
            return
        chunk = "".join(self._pending_text)
        self._pending_text.clear()
        self._live_raw += chunk
        cursor = self.live.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        self.live.setTextCursor(cursor)
        self.live.ensureCursorVisible()

    def select(self, window_id: int | None) -> None:
        row = self._history_rows.get(window_id) if window_id is not None else None
        if row is not None:
            self.history.setCurrentItem(row)

    def clear(self) -> None:
        self._live_id = None
        self._live_raw = ""
        self._pending_text.clear()
        self.live.clear()
        self.answer.setText("")
        self.history.clear()
        self._history_rows.clear()
        self.header.setText(self.tr("waiting for the first window…"))

    # -- queries -----------------------------------------------------------------------------------------
    @property
    def live_text(self) -> str:
        return self.live.toPlainText()

    def history_ids(self) -> list[int]:
        return [self.history.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.history.count())]

    @staticmethod
    def answer_html(result: WindowResult) -> str:
        a = result.analysis
        status = html.escape(parse_status_text(a.parse_status))
        audio = "" if result.audio_status == "ok" else QCoreApplication.translate(
            "ReasoningPanel", " · audio {status}").format(status=result.audio_status)
        faces = result.face_check
        note = faces.warning() if faces is not None else None
        warn = f" &nbsp; {caution_html(note)}" if note else ""
        flags = flags_html(result.consistency)
        if a.profile != "exact":  # the fast profile: say so next to every answer it gave
            approx = QCoreApplication.translate("ReasoningPanel", "approximate (fast profile)")
            warn += f" &nbsp; {caution_html(approx)}"
        chip = label_chip(a.label, a.answer)
        answer = QCoreApplication.translate("ReasoningPanel", "answer: {chip}").format(chip=chip)
        return (
            f"{answer} &nbsp; {status}"
            f" &nbsp; <span style='color:{theme.current().muted}'>{a.modal.replace('_', '+')}{audio}</span>{warn}"
            + (f"<br>{flags}" if flags else "")
        )

    def apply_theme(self, t: theme.Theme) -> None:
        for i in range(self.history.count()):
            self.history.item(i).setForeground(QColor(t.text))

    # -- internals ---------------------------------------------------------------------------------------
    def _add_history(self, result: WindowResult) -> None:
        a = result.analysis
        preview = " ".join((a.think or a.text or "").split())
        if len(preview) > PREVIEW_CHARS:
            preview = preview[: PREVIEW_CHARS - 1] + "…"
        checks = result.consistency
        mark = ("⚠ " if checks.flags else "") + ("≈ " if a.profile != "exact" else "")
        shown = i18n.label_name(a.label) or a.answer or "—"
        item = QListWidgetItem(
            f"{formatting.span(result.t0, result.t1)}   {mark}{shown:<12}  “{preview}”"
        )
        item.setData(Qt.ItemDataRole.UserRole, result.window_id)
        item.setForeground(QColor(theme.current().text))
        item.setData(Qt.ItemDataRole.DecorationRole, QColor(core_labels.colour(a.label)))
        tip = parse_status_text(a.parse_status)
        if a.profile != "exact":
            tip += "\n" + QCoreApplication.translate("ReasoningPanel", "approximate (fast profile)")
        item.setToolTip(tip + (f"\n{flags_tooltip(checks)}" if checks.flags else ""))
        old = self._history_rows.pop(result.window_id, None)
        if old is not None:
            self.history.takeItem(self.history.row(old))
        self.history.insertItem(0, item)
        self._history_rows[result.window_id] = item
        while self.history.count() > HISTORY_LIMIT:
            gone = self.history.takeItem(self.history.count() - 1)
            self._history_rows.pop(gone.data(Qt.ItemDataRole.UserRole), None)

    def _on_row_clicked(self, item: QListWidgetItem) -> None:
        self.window_selected.emit(int(item.data(Qt.ItemDataRole.UserRole)))
