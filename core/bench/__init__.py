"""Benchmarks shipped with the app (``python main.py bench``): everything they need is built here, no download
and no test fixture — a full-size R1-Omni folder with random weights in the published layout, small tokenizers,
synthetic windows."""
