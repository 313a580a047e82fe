"""Report files of an evaluation run, and the comparison of several runs.

``write_report(out_dir, ...)`` writes, next to ``results.jsonl``:

- ``metrics.json``     UAR, WAR, per-class recall/support, confusion counts, unparsed share,
                       parse-status counts, failed clips, throughput, the run settings
- ``per_class.md`` / ``per_class.csv``   the per-class table
- ``confusion.csv``    counts, rows = truth, columns = prediction + ``unparsed/out-of-set``
- ``confusion.png``    the same matrix drawn with Pillow (cells shaded by row share)

Rates in metrics.json are fractions; tables show percentages. Pure functions of the log records.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from core import labels as _labels
from core.evaluation.metrics import UNPARSED_COLUMN, Metrics, compute_metrics
from core.evaluation.runner import STATUS_DECODE_ERROR, STATUS_MODEL_ERROR, STATUS_OK

RESULTS_FILE = "results.jsonl"
METRICS_FILE = "metrics.json"

# confusion.png geometry (pixels)
CELL_PX = 56
LABEL_COL_PX = 150
HEADER_PX = 150
MARGIN_PX = 16
SWATCH_PX = 12
FONT_PX = 14
CELL_RGB_LOW = np.array([255, 255, 255], dtype=float)
CELL_RGB_HIGH = np.array([16, 66, 140], dtype=float)
UNPARSED_RGB_HIGH = np.array([150, 40, 40], dtype=float)


def metrics_from_records(records: Iterable[dict[str, Any]], labels: Sequence[str]) -> Metrics:
    """Metrics over the clips the model answered (``status == ok``); failed clips are counted apart."""
    ok = [r for r in records if r.get("status") == STATUS_OK and r.get("truth") is not None]
    return compute_metrics([r["truth"] for r in ok], [r.get("prediction") for r in ok], labels)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _throughput(records: list[dict[str, Any]], clips_per_s: float | None) -> dict[str, Any]:
    ok = [r for r in records if r.get("status") == STATUS_OK]
    per_clip = [r["timings"]["total_s"] for r in ok if "total_s" in r.get("timings", {})]
    return {
        "clips_per_s": clips_per_s,  # wall-clock rate of the latest (possibly resumed) session
        "mean_clip_s": float(np.mean(per_clip)) if per_clip else None,  # decode + analyse, per clip
    }


def build_summary(
    records: dict[str, dict[str, Any]], labels: Sequence[str], settings: dict[str, Any],
    *, total: int, clips_per_s: float | None = None, dataset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    recs = list(records.values())
    m = metrics_from_records(recs, labels)
    status = Counter(r.get("status") for r in recs)
    return {
        "metrics": m.to_dict(),
        "clips": {
            "total": total,
            "scored": m.n,
            "decode_errors": status.get(STATUS_DECODE_ERROR, 0),
            "model_errors": status.get(STATUS_MODEL_ERROR, 0),
            "pending": total - len(recs),
            "failed": sorted(
                ({"key": r["key"], "status": r["status"], "error": r.get("error")}
                 for r in recs if r.get("status") != STATUS_OK), key=lambda d: d["key"]),
        },
        "parse_status": dict(sorted(Counter(r.get("parse_status") for r in recs
                                            if r.get("status") == STATUS_OK).items())),
        "throughput": _throughput(recs, clips_per_s),
        "settings": {k: v for k, v in settings.items() if k != "record"},
        "dataset": dataset or {},
    }


def per_class_rows(m: Metrics) -> list[list[str]]:
    return [[lab, str(s), str(p), _pct(r)]
            for lab, s, p, r in zip(m.labels, m.support, m.predicted, m.recall)]


def write_report(out_dir: Path, summary: dict[str, Any], labels: Sequence[str],
                 records: dict[str, dict[str, Any]]) -> list[Path]:
    """Write every report file into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    m = metrics_from_records(records.values(), labels)
    paths = []

    p = out_dir / METRICS_FILE
    p.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.append(p)

    header = ["label", "support", "predicted", "recall_%"]
    rows = per_class_rows(m)
    p = out_dir / "per_class.csv"
    with p.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    paths.append(p)

    p = out_dir / "per_class.md"
    clips = summary["clips"]
    lines = [
        f"UAR {_pct(m.uar)} % · WAR {_pct(m.war)} % · unparsed/out-of-set {_pct(m.unparsed_share)} % "
        f"of {m.n} scored clips ({clips['decode_errors']} undecodable, {clips['model_errors']} model errors, "
        f"{clips['pending']} not run)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "recall: correct / support; classes without support (—) are left out of UAR.",
    ]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths.append(p)

    p = out_dir / "confusion.csv"
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["truth \\ prediction", *m.columns])
        for lab, row in zip(m.labels, m.confusion):
            w.writerow([lab, *row.tolist()])
    paths.append(p)

    p = out_dir / "confusion.png"
    draw_confusion(m).save(p)
    paths.append(p)
    return paths


def draw_confusion(m: Metrics):
    """Confusion matrix as a Pillow RGB image: counts in cells, shade = share of the row (truth)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=FONT_PX)
    k = len(m.labels)
    cols = m.columns
    width = MARGIN_PX * 2 + LABEL_COL_PX + CELL_PX * len(cols)
    height = MARGIN_PX * 2 + HEADER_PX + CELL_PX * k + 2 * FONT_PX
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    x0, y0 = MARGIN_PX + LABEL_COL_PX, MARGIN_PX + HEADER_PX

    # column headers, rotated 90° so long labels fit
    for j, name in enumerate(cols):
        tw = int(draw.textlength(name, font=font)) + 4
        txt = Image.new("RGB", (max(tw, 1) + SWATCH_PX + 6, FONT_PX + 6), "white")
        td = ImageDraw.Draw(txt)
        td.rectangle([0, 3, SWATCH_PX, 3 + SWATCH_PX], fill=_labels.colour(name if j < k else None))
        td.text((SWATCH_PX + 4, 1), name, fill="black", font=font)
        rot = txt.rotate(90, expand=True)
        img.paste(rot, (x0 + j * CELL_PX + (CELL_PX - rot.width) // 2, y0 - rot.height - 4))
    for i, name in enumerate(m.labels):
        cy = y0 + i * CELL_PX + CELL_PX // 2
        draw.rectangle([MARGIN_PX, cy - SWATCH_PX // 2, MARGIN_PX + SWATCH_PX, cy + SWATCH_PX // 2],
                       fill=_labels.colour(name))
        support = m.support[i]
        draw.text((MARGIN_PX + SWATCH_PX + 6, cy), f"{name} ({support})", fill="black", font=font,
                  anchor="lm")

    for i in range(k):
        row_total = m.confusion[i].sum()
        for j in range(len(cols)):
            count = int(m.confusion[i, j])
            share = count / row_total if row_total else 0.0
            high = UNPARSED_RGB_HIGH if j == k else CELL_RGB_HIGH
            rgb = tuple(int(v) for v in CELL_RGB_LOW + (high - CELL_RGB_LOW) * share)
            box = [x0 + j * CELL_PX, y0 + i * CELL_PX, x0 + (j + 1) * CELL_PX - 1, y0 + (i + 1) * CELL_PX - 1]
            draw.rectangle(box, fill=rgb, outline=(200, 200, 200))
            if count:
                draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), str(count),
                          fill="white" if share > 0.5 else "black", font=font, anchor="mm")
    caption = f"UAR {_pct(m.uar)}%  WAR {_pct(m.war)}%  n={m.n}  rows: truth, columns: prediction"
    draw.text((MARGIN_PX, height - MARGIN_PX - FONT_PX), caption, fill="black", font=font)
    return img


# ------------------------------------------------------------------------------------ comparison


def load_run(path: str | Path) -> dict[str, Any]:
    """A run folder (or its metrics.json) → its summary; clear error when it is not a run."""
    p = Path(path)
    f = p / METRICS_FILE if p.is_dir() else p
    if not f.is_file():
        raise FileNotFoundError(f"{path}: no {METRICS_FILE} (pass an evaluation --out folder)")
    data = json.loads(f.read_text(encoding="utf-8"))
    data["_name"] = p.name if p.is_dir() else p.parent.name
    return data


def compare_table(runs: Sequence[dict[str, Any]]) -> str:
    """Plain-text table: one column per run; UAR, WAR, unparsed share, per-class recall, clips/s."""
    names = [r["_name"] for r in runs]
    rows: list[list[str]] = []

    def add(title: str, values: Iterable[str]) -> None:
        rows.append([title, *values])

    add("UAR %", (_pct(r["metrics"]["uar"]) for r in runs))
    add("WAR %", (_pct(r["metrics"]["war"]) for r in runs))
    add("unparsed %", (_pct(r["metrics"]["unparsed_share"]) for r in runs))
    add("clips scored", (str(r["metrics"]["n"]) for r in runs))
    add("clips failed", (str(r["clips"]["decode_errors"] + r["clips"]["model_errors"]) for r in runs))
    rates = [r["throughput"]["clips_per_s"] for r in runs]
    add("clips/s", ("—" if x is None else f"{x:.3f}" for x in rates))
    all_labels: list[str] = []
    for r in runs:
        all_labels += [lab for lab in r["metrics"]["labels"] if lab not in all_labels]
    for lab in all_labels:
        add(f"recall {lab} %", (_pct(r["metrics"]["per_class"].get(lab, {}).get("recall")) for r in runs))
    for key in ("model", "profile", "instruction", "labels", "max_new_tokens"):
        add(key, (_short(r.get("settings", {}).get(key, "exact" if key == "profile" else None)) for r in runs))

    table = [["", *names], *rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    out = []
    for n, row in enumerate(table):
        cells = (cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths)))
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _short(value: Any, limit: int = 28) -> str:
    text = " ".join(str(value).split()) if value is not None else "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["UNPARSED_COLUMN", "build_summary", "compare_table", "draw_confusion", "load_run",
           "metrics_from_records", "write_report"]
