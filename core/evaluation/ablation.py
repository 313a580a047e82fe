"""The modality ablation table: the same clips, video-only against video + audio.

``evaluate DATASET --ablation --out DIR`` runs every mode of ``MODES`` into its own run folder (``DIR/video_audio``,
``DIR/video``), each an ordinary evaluation run with its own resumable ``results.jsonl`` and report files, and then
writes ``DIR/ablation.md`` and ``DIR/ablation.json``: UAR / WAR and per-class recall per mode with bootstrap
intervals, the paired difference (audio-visual minus video-only) with its interval, McNemar's test on the clips both
modes scored (``core.evaluation.stats``) and the consistency flags per mode (a video-only run whose reasoning still
describes a voice shows up there). The table the paper does not publish, for the user's own data.

Pure functions of the runs' records, except ``write_ablation``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core import consistency as _consistency
from core.evaluation import stats
from core.evaluation.report import (
    METRICS_FILE,
    bootstrap_from_records,
    consistency_counts,
    interval_text,
    mcnemar_line,
    metrics_from_records,
    pct,
)
from core.evaluation.runner import MODALS
from core.safe_files import atomic_write
from core.session.export.escaping import markdown_cell

MODES = MODALS  # one run per modal an evaluation run can have
AUDIO_VISUAL, VIDEO_ONLY = MODES  # "video_audio", "video"
MODE_TITLES = {AUDIO_VISUAL: "video + audio", VIDEO_ONLY: "video only"}
ABLATION_MD = "ablation.md"
ABLATION_JSON = "ablation.json"


def mode_dir(out: Path, modal: str) -> Path:
    """Where the run of ``modal`` lives inside an ablation folder."""
    if modal not in MODES:
        raise ValueError(f"modal {modal!r}: use one of {', '.join(MODES)}")
    return out / modal


def mode_runs(folder: Path) -> list[Path]:
    """The mode run folders of an ablation folder (``[]`` when ``folder`` is a run itself or holds none)."""
    if not folder.is_dir() or (folder / METRICS_FILE).is_file():
        return []
    return [mode_dir(folder, m) for m in MODES if (mode_dir(folder, m) / METRICS_FILE).is_file()]


def ablation_summary(records: Mapping[str, Mapping[str, dict[str, Any]]], labels: Sequence[str]) -> dict[str, Any]:
    """The table as a JSON-ready dict. ``records``: clip records by key, per mode (both ``MODES``)."""
    modes: dict[str, Any] = {}
    for modal in MODES:
        recs = list(records.get(modal, {}).values())
        m = metrics_from_records(recs, labels)
        ci = bootstrap_from_records(recs, labels)
        modes[modal] = {"metrics": m.to_dict(), "bootstrap": ci.to_dict() if ci else None,
                        "consistency": consistency_counts(recs)}
    av, v = records.get(AUDIO_VISUAL, {}), records.get(VIDEO_ONLY, {})
    keys, c_av, c_v = stats.paired_correctness(av, v)
    truth = [av[k]["truth"] for k in keys]
    diff = stats.bootstrap_difference(truth, [av[k].get("prediction") for k in keys],
                                      [v[k].get("prediction") for k in keys], labels)
    test = stats.mcnemar(c_av, c_v)
    return {
        "labels": list(labels),
        "modes": modes,
        "paired": {
            "clips": len(keys),
            "difference_av_minus_v": diff.to_dict() if diff else None,
            "mcnemar": test.to_dict(),
        },
    }


def _cell(mode: dict[str, Any], key: str, ci_key: str | None = None) -> str:
    value = mode["metrics"][key] if ci_key is None else mode["metrics"]["per_class"][key]["recall"]
    ci = mode.get("bootstrap") or {}
    iv = ci.get(key) if ci_key is None else (ci.get("recall") or {}).get(key)
    return f"{pct(value)} [{interval_text(iv)}]"


def _delta(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{100 * (a - b):+.2f}"


def render_ablation(summary: dict[str, Any]) -> str:
    """``ablation.md``: one markdown table plus the paired test."""
    av, v = summary["modes"][AUDIO_VISUAL], summary["modes"][VIDEO_ONLY]
    paired = summary["paired"]
    ci = av.get("bootstrap") or v.get("bootstrap") or {}
    level = round(100 * ci.get("level", stats.CONFIDENCE))
    diff = paired.get("difference_av_minus_v") or {}
    header = ["", f"{MODE_TITLES[AUDIO_VISUAL]} % [{level}% CI]", f"{MODE_TITLES[VIDEO_ONLY]} % [{level}% CI]",
              "audio − video-only (points)"]
    rows = [
        ["UAR", _cell(av, "uar"), _cell(v, "uar"),
         f"{_delta(av['metrics']['uar'], v['metrics']['uar'])} [{interval_text(diff.get('uar'))}]"],
        ["WAR", _cell(av, "war"), _cell(v, "war"),
         f"{_delta(av['metrics']['war'], v['metrics']['war'])} [{interval_text(diff.get('war'))}]"],
    ]
    for lab in summary["labels"]:
        ra = av["metrics"]["per_class"][lab]["recall"]
        rv = v["metrics"]["per_class"][lab]["recall"]
        rows.append([f"recall {markdown_cell(lab)}", _cell(av, lab, "recall"), _cell(v, lab, "recall"),
                     _delta(ra, rv)])
    rows.append(["clips scored", str(av["metrics"]["n"]), str(v["metrics"]["n"]), ""])
    for check in _consistency.CHECKS:
        rows.append([f"flag: {_consistency.CHECK_TITLES[check]}", str(av["consistency"].get(check, 0)),
                     str(v["consistency"].get(check, 0)), ""])
    test = stats.McNemar(**paired["mcnemar"])
    method = (f"Each mode is a run of the same clips; intervals are {level} % percentile bootstrap intervals over "
              f"clips ({ci.get('resamples', stats.BOOTSTRAP_RESAMPLES)} resamples, seed "
              f"{ci.get('seed', stats.BOOTSTRAP_SEED)}); the difference column is paired (the same clips drawn for "
              "both modes).")
    lines = [
        "# Modality ablation",
        "",
        method,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        mcnemar_line(MODE_TITLES[AUDIO_VISUAL], MODE_TITLES[VIDEO_ONLY], test),
        "",
        "Video-only is the official `--modal video` path (no audio tokens). Recall of a class without support is —.",
    ]
    return "\n".join(lines) + "\n"


def write_ablation(out: Path, summary: dict[str, Any]) -> list[Path]:
    """Write ``ablation.json`` and ``ablation.md`` into ``out``, each atomically; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    return [atomic_write(out / ABLATION_JSON, json.dumps(summary, indent=2, ensure_ascii=False) + "\n"),
            atomic_write(out / ABLATION_MD, render_ablation(summary))]
