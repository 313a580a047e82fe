"""The main window's widgets and how they sit: video and audio on the left, reasoning / evidence on the right,
the emotion timeline below, message banners above, the status bar at the bottom.

Built once by ``build_live_views``; the main window connects them to its actions and feeds them from its timers.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from desktop import theme
from desktop.audio_view import AudioView
from desktop.banner import Banner
from desktop.evidence_view import EvidenceView
from desktop.model_panel import ModelSetupPanel
from desktop.policy import PolicyNotice
from desktop.reasoning_panel import ReasoningPanel
from desktop.status_bar import StatusBar
from desktop.timeline import EmotionTimeline
from desktop.video_view import VideoView

TIMELINE_CAPTION = QT_TRANSLATE_NOOP("LiveViews", "Emotion timeline — one span per analysed window [t0, t1], "
                                     "drawn where the window was, not when its result arrived")


@dataclass
class LiveViews:
    banner: Banner
    policy: PolicyNotice
    video: VideoView
    audio: AudioView
    audio_caption: QLabel
    reasoning: ReasoningPanel
    model_panel: ModelSetupPanel
    model_page: QScrollArea  # the model panel, scrollable (shown instead of the reasoning while no model)
    reasoning_stack: QStackedWidget
    evidence: EvidenceView
    tabs: QTabWidget
    timeline: EmotionTimeline
    central: QWidget
    status: StatusBar


def _captioned(caption: QLabel, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(1)
    layout.addWidget(caption)
    layout.addWidget(widget, 1)
    return box


def _split(orientation: Qt.Orientation, widgets: tuple[QWidget, QWidget], stretch: tuple[int, int],
           sizes: list[int]) -> QSplitter:
    splitter = QSplitter(orientation)
    for i, widget in enumerate(widgets):
        splitter.addWidget(widget)
        splitter.setStretchFactor(i, stretch[i])
    splitter.setSizes(sizes)
    return splitter


def build_live_views(default_model_dir: str, label_set: tuple[str, ...] | None) -> LiveViews:
    muted = f"color: {theme.current().muted};"
    video, audio = VideoView(), AudioView()
    audio_caption = QLabel(QCoreApplication.translate("LiveViews", "Microphone — level and the last 5 s"))
    audio_caption.setStyleSheet(muted)
    left = _split(Qt.Orientation.Vertical, (video, _captioned(audio_caption, audio)), (4, 1), [420, 120])

    reasoning = ReasoningPanel()
    model_panel = ModelSetupPanel(default_model_dir)
    model_page = QScrollArea()  # the folder layout is wide: scroll rather than squeeze the video
    model_page.setWidget(model_panel)
    model_page.setWidgetResizable(True)
    model_page.setFrameShape(QFrame.Shape.NoFrame)
    model_page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    reasoning_stack = QStackedWidget()
    reasoning_stack.addWidget(model_page)
    reasoning_stack.addWidget(reasoning)
    evidence = EvidenceView()
    tabs = QTabWidget()
    tabs.addTab(reasoning_stack, QCoreApplication.translate("LiveViews", "Reasoning"))
    tabs.addTab(evidence, QCoreApplication.translate("LiveViews", "Evidence"))
    top = _split(Qt.Orientation.Horizontal, (left, tabs), (3, 2), [760, 560])

    timeline = EmotionTimeline()
    timeline.set_label_set(label_set)
    caption = QLabel(QCoreApplication.translate("LiveViews", TIMELINE_CAPTION))
    caption.setWordWrap(True)
    caption.setStyleSheet(muted)
    main = _split(Qt.Orientation.Vertical, (top, _captioned(caption, timeline)), (3, 2), [540, 260])

    banner, policy = Banner(), PolicyNotice()
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(6, 4, 6, 2)
    layout.setSpacing(4)
    layout.addWidget(policy)
    layout.addWidget(banner)
    layout.addWidget(main, 1)
    return LiveViews(banner, policy, video, audio, audio_caption, reasoning, model_panel, model_page,
                     reasoning_stack, evidence, tabs, timeline, central, StatusBar())
