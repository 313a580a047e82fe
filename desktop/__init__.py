"""The PySide6 + pyqtgraph desktop app (everything that is not a widget lives in ``core``).

app.run_app            flags -> QApplication, theme, settings, main window, exit code
startup                flags applied to a built window (source, model, labels, recording, auto-start)
main_window            user actions -> controllers, events -> views, display timers, ordered shutdown
live_views, menus      the window's widgets and where they sit; its menu bar
model_controller       the window's one model owner: an InferenceWorker for the window's lifetime
live_controller        core.pipeline.LiveSession runs attached to that worker, recording, file runs, stats
tasks                  blocking jobs (scans, stops, recordings, file runs) off the UI thread, continuations on it
engine_bridge          core callbacks (worker/source/writer threads) -> queued Qt signals; drops a stopped
                       session's late window events
loop_watch             how late the view timer fires (responsiveness)
video_view, audio_view, timeline (+ timeline_axis), reasoning_panel, evidence_view (+ evidence_store),
status_bar, banner, policy, model_panel, controls, download_dialog     the widgets
theme, formatting      colours (label colours come from core.labels) and how numbers read
qt_compat              guard against the PySide6 6.12.0 signal-emit reference leak
ui_bench               responsiveness benchmark (python -m desktop.ui_bench)
replay                 recorded-session replay window
"""
