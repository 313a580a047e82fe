"""Evaluation on labelled clips and batch analysis of folders.

Modules, by intent:

- ``metrics``  per-class recall, UAR, WAR, confusion matrix, unparsed share (pure numpy)
- ``dataset``  labelled clip lists from manifests, per-label folders, RAVDESS / DFEW / MAFW layouts
- ``scoring``  turn a raw model answer into a prediction over the evaluation label set
- ``log``      the append-only JSONL result log that makes runs resumable
- ``progress`` a plain-text progress line with rate and ETA
- ``runner``   decode → analyse → log loop shared by evaluation and batch analysis
- ``report``   metrics.json, per-class tables, confusion CSV/PNG, comparison of runs
- ``batch``    ``python main.py analyze DIR`` over a folder without labels
"""
