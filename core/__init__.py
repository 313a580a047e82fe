"""R1-Omni Live core: capture, model, sessions and evaluation. Never imports Qt."""

__version__ = "0.1.0"
