"""The PySide6 + pyqtgraph desktop app (everything that is not a widget lives in ``core``).

app.run_app            flags -> QApplication, theme, settings, main window, exit code
startup                flags applied to a built window (source, model, labels, recording, auto-start)
main_window            layout, user actions -> LiveController, worker events -> views, display timers
live_controller        owns core.pipeline.LiveSession runs, keeps the model across runs, recording, stats
engine_bridge          core session callbacks (worker/source/writer threads) -> queued Qt signals
video_view, audio_view, timeline (+ timeline_axis), reasoning_panel, evidence_view (+ evidence_store),
status_bar, banner, policy, model_panel, controls, download_dialog     the widgets
theme, formatting      colours (label colours come from core.labels) and how numbers read
qt_compat              guard against the PySide6 6.12.0 signal-emit reference leak
ui_bench               responsiveness benchmark (python -m desktop.ui_bench)
replay                 recorded-session replay window
"""
