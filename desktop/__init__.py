"""The PySide6 + pyqtgraph desktop app: main window, live views, controls and the Qt bridge to core."""
