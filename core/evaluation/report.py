"""Report files of an evaluation run, and the comparison of several runs.

``write_report(out_dir, ...)`` writes, next to ``results.jsonl``:

- ``metrics.json``     UAR, WAR, per-class recall/support, confusion counts, unparsed share,
                       parse-status counts, failed clips, throughput, the run settings, bootstrap
                       intervals (``core.evaluation.stats``) and consistency flag counts (``core.consistency``)
- ``per_class.md`` / ``per_class.csv``   the per-class table, with each recall's bootstrap interval
- ``confusion.csv``    counts, rows = truth, columns = prediction + ``unparsed/out-of-set``
- ``confusion.png``    the same matrix drawn with Pillow (cells shaded by row share)

Rates in metrics.json are fractions; tables show percentages. Pure functions of the log records.
Label names come from the dataset (untrusted): CSV cells are neutralised against formula injection and
cleaned of control characters (``core.session.export.escaping``), Markdown cells cannot break the table,
and every file is written atomically through an exclusive temporary file (``core.safe_files``).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core import consistency as _consistency
from core import labels as _labels
from core.evaluation import stats
from core.evaluation.metrics import UNPARSED_COLUMN, Metrics, compute_metrics
from core.evaluation.runner import STATUS_DECODE_ERROR, STATUS_MODEL_ERROR, STATUS_OK
from core.safe_files import atomic_output, atomic_write
from core.session.export.escaping import csv_cell, markdown_cell

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


def _scored(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == STATUS_OK and r.get("truth") is not None]


def metrics_from_records(records: Iterable[dict[str, Any]], labels: Sequence[str]) -> Metrics:
    """Metrics over the clips the model answered (``status == ok``); failed clips are counted apart."""
    ok = _scored(records)
    return compute_metrics([r["truth"] for r in ok], [r.get("prediction") for r in ok], labels)


def bootstrap_from_records(records: Iterable[dict[str, Any]], labels: Sequence[str]) -> stats.Bootstrap | None:
    """Bootstrap intervals over the scored clips (``core.evaluation.stats``); None without any."""
    ok = _scored(records)
    return stats.bootstrap_metrics([r["truth"] for r in ok], [r.get("prediction") for r in ok], labels)


def consistency_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many answered clips raised each consistency check (``core.consistency.flag_counts``)."""
    return _consistency.flag_counts(_consistency.of_record(r) for r in records if r.get("status") == STATUS_OK)


def pct(x: float | None) -> str:
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
    ci = bootstrap_from_records(recs, labels)
    status = Counter(r.get("status") for r in recs)
    return {
        "metrics": m.to_dict(),
        "bootstrap": ci.to_dict() if ci is not None else None,
        "consistency": consistency_counts(recs),
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


def interval_text(iv: dict[str, float | None] | stats.Interval | None) -> str:
    """``low–high`` in percent, or ``—``."""
    if iv is None:
        return "—"
    d = iv.to_dict() if isinstance(iv, stats.Interval) else iv
    if d.get("low") is None:
        return "—"
    return f"{pct(d['low'])}–{pct(d['high'])}"


def per_class_rows(m: Metrics, ci: dict[str, Any] | None = None) -> list[list[str]]:
    """label, support, predicted, recall % and its bootstrap interval (``—`` without). ``ci``: a summary's
    ``bootstrap`` (``Bootstrap.to_dict``)."""
    intervals = ci["recall"] if ci else {}
    return [[lab, str(s), str(p), pct(r), interval_text(intervals.get(lab))]
            for lab, s, p, r in zip(m.labels, m.support, m.predicted, m.recall)]


def ci_note(ci: dict[str, Any] | None) -> str:
    """One line naming how the intervals were made."""
    if not ci:
        return "no clips scored: no confidence intervals"
    return (f"{round(100 * ci['level'])} % percentile bootstrap intervals over clips ({ci['resamples']} resamples, "
            f"seed {ci['seed']}): UAR {interval_text(ci['uar'])} %, WAR {interval_text(ci['war'])} %")


def consistency_note(counts: dict[str, int] | None) -> str:
    """One line of consistency flag counts (``core.consistency``)."""
    if not counts or not counts.get("checked"):
        return "consistency: no answers checked"
    parts = ", ".join(f"{_consistency.CHECK_TITLES[c]} {counts.get(c, 0)}" for c in _consistency.CHECKS)
    return f"consistency flags on {counts['flagged']} of {counts['checked']} answers: {parts}"


def _csv_text(rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([[csv_cell(v) for v in row] for row in rows])
    return buf.getvalue()


def write_report(out_dir: Path, summary: dict[str, Any], labels: Sequence[str],
                 records: dict[str, dict[str, Any]]) -> list[Path]:
    """Write every report file into ``out_dir``, each atomically; returns their paths. ``summary`` is
    :func:`build_summary` of the same ``records`` (its bootstrap intervals are used as they are)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    m = metrics_from_records(records.values(), labels)
    ci = summary.get("bootstrap")
    paths = [atomic_write(out_dir / METRICS_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")]

    header = ["label", "support", "predicted", "recall_%", f"recall_{round(100 * stats.CONFIDENCE)}%_ci"]
    rows = per_class_rows(m, ci)
    paths.append(atomic_write(out_dir / "per_class.csv", _csv_text([header, *rows])))

    clips = summary["clips"]
    lines = [
        (
            f"UAR {pct(m.uar)} % · WAR {pct(m.war)} % · unparsed/out-of-set {pct(m.unparsed_share)} % "
            f"of {m.n} scored clips ({clips['decode_errors']} undecodable, {clips['model_errors']} model errors, "
            f"{clips['pending']} not run)"
        ),
        ci_note(ci),
        consistency_note(summary.get("consistency")),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(markdown_cell(c) for c in r) + " |" for r in rows),
        "",
        "recall: correct / support; classes without support (—) are left out of UAR.",
    ]
    paths.append(atomic_write(out_dir / "per_class.md", "\n".join(lines) + "\n"))

    confusion = [["truth \\ prediction", *m.columns]]
    confusion += [[lab, *row.tolist()] for lab, row in zip(m.labels, m.confusion)]
    paths.append(atomic_write(out_dir / "confusion.csv", _csv_text(confusion)))

    p = out_dir / "confusion.png"
    with atomic_output(p) as f:
        draw_confusion(m).save(f, format="PNG")
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
    caption = f"UAR {pct(m.uar)}%  WAR {pct(m.war)}%  n={m.n}  rows: truth, columns: prediction"
    draw.text((MARGIN_PX, height - MARGIN_PX - FONT_PX), caption, fill="black", font=font)
    return img


# ------------------------------------------------------------------------------------ comparison


def load_run(path: str | Path) -> dict[str, Any]:
    """A run folder (or its metrics.json) → its summary, with its clip records (``_records``, by key) when its
    results.jsonl is beside it; clear error when it is not a run."""
    from core.evaluation.log import read_log

    p = Path(path)
    f = p / METRICS_FILE if p.is_dir() else p
    if not f.is_file():
        raise FileNotFoundError(f"{path}: no {METRICS_FILE} (pass an evaluation --out folder)")
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{f} is not a readable {METRICS_FILE} ({exc}); run the evaluation again") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"{f} does not hold the metrics of an evaluation run")  # noqa: TRY004 — a bad file
    data["_name"] = p.name if p.is_dir() else p.parent.name
    results = f.parent / RESULTS_FILE
    data["_records"] = read_log(results)[1] if results.is_file() else None
    return data


def load_runs(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """``load_run`` of each path; an ``--ablation`` folder stands for its mode runs (``video_audio``, ``video``)."""
    from core.evaluation.ablation import mode_runs

    runs: list[dict[str, Any]] = []
    for path in paths:
        modes = mode_runs(Path(path))
        runs += [load_run(m) for m in modes] if modes else [load_run(path)]
    return runs


def _run_ci(run: dict[str, Any]) -> dict[str, Any] | None:
    """A run's bootstrap intervals: stored, else computed from its records (runs written before they existed)."""
    if run.get("bootstrap") is not None or not run.get("_records"):
        return run.get("bootstrap")
    ci = bootstrap_from_records(run["_records"].values(), run["metrics"]["labels"])
    return ci.to_dict() if ci is not None else None


def _run_consistency(run: dict[str, Any]) -> dict[str, int] | None:
    if run.get("consistency") is not None or not run.get("_records"):
        return run.get("consistency")
    return consistency_counts(run["_records"].values())


def paired_tests(runs: Sequence[dict[str, Any]]) -> list[tuple[str, str, stats.McNemar | None]]:
    """McNemar of every run against the first, on the clips both scored; None where a run has no records."""
    base = runs[0]
    out: list[tuple[str, str, stats.McNemar | None]] = []
    for other in runs[1:]:
        if not base.get("_records") or not other.get("_records"):
            out.append((base["_name"], other["_name"], None))
            continue
        _, ca, cb = stats.paired_correctness(base["_records"], other["_records"])
        out.append((base["_name"], other["_name"], stats.mcnemar(ca, cb)))
    return out


def mcnemar_line(a: str, b: str, test: stats.McNemar | None) -> str:
    if test is None:
        return f"{a} vs {b}: no paired test (a results.jsonl is missing)"
    if test.n == 0:
        return f"{a} vs {b}: no clip was scored in both runs"
    stat = f", chi-square {test.statistic:.2f}" if test.statistic is not None else ""
    return (f"{a} vs {b}: {test.n} clips scored in both; right only in {a}: {test.a_only}, only in {b}: "
            f"{test.b_only}; McNemar p = {test.p_value:.4g} ({test.method}{stat})")


def compare_table(runs: Sequence[dict[str, Any]]) -> str:
    """Plain-text table: one column per run; UAR, WAR (with bootstrap intervals), unparsed share, consistency
    flags, per-class recall, clips/s; then McNemar's test of each run against the first, where the runs'
    results.jsonl files are there to pair clips."""
    names = [r["_name"] for r in runs]
    rows: list[list[str]] = []

    def add(title: str, values: Iterable[str]) -> None:
        rows.append([title, *values])

    cis = [_run_ci(r) for r in runs]
    level = next((round(100 * c["level"]) for c in cis if c), round(100 * stats.CONFIDENCE))
    flags = [_run_consistency(r) or {} for r in runs]
    add("UAR %", (pct(r["metrics"]["uar"]) for r in runs))
    add(f"UAR {level}% CI", (interval_text(c["uar"]) if c else "—" for c in cis))
    add("WAR %", (pct(r["metrics"]["war"]) for r in runs))
    add(f"WAR {level}% CI", (interval_text(c["war"]) if c else "—" for c in cis))
    add("unparsed %", (pct(r["metrics"]["unparsed_share"]) for r in runs))
    add("clips scored", (str(r["metrics"]["n"]) for r in runs))
    add("clips failed", (str(r["clips"]["decode_errors"] + r["clips"]["model_errors"]) for r in runs))
    rates = [r["throughput"]["clips_per_s"] for r in runs]
    add("clips/s", ("—" if x is None else f"{x:.3f}" for x in rates))
    for check in _consistency.CHECKS:
        add(f"flag: {check}", (str(f.get(check, "—")) for f in flags))
    all_labels: list[str] = []
    for r in runs:
        all_labels += [lab for lab in r["metrics"]["labels"] if lab not in all_labels]
    for lab in all_labels:
        add(f"recall {lab} %", (pct(r["metrics"]["per_class"].get(lab, {}).get("recall")) for r in runs))
        add(f"  {level}% CI", (interval_text((c or {}).get("recall", {}).get(lab)) for c in cis))
    for key in ("model", "profile", "modal", "instruction", "labels", "max_new_tokens"):
        add(key, (_short(r.get("settings", {}).get(key, "exact" if key == "profile" else None)) for r in runs))

    table = [["", *names], *rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    out = []
    for n, row in enumerate(table):
        cells = (cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths)))
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    if len(runs) > 1:
        out += ["", "Paired tests (McNemar on per-clip correctness):"]
        out += [f"  {mcnemar_line(*t)}" for t in paired_tests(runs)]
    return "\n".join(out)


def _short(value: Any, limit: int = 28) -> str:
    text = " ".join(str(value).split()) if value is not None else "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["UNPARSED_COLUMN", "bootstrap_from_records", "build_summary", "compare_table", "consistency_counts",
           "draw_confusion", "load_run", "load_runs", "metrics_from_records", "paired_tests", "write_report"]
