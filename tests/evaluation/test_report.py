"""Report files agree with the records and with a hand computation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from core import labels
from core.evaluation.metrics import UNPARSED_COLUMN
from core.evaluation.report import build_summary, compare_table, load_run, write_report

LABELS = labels.DFEW


def rec(key, truth, pred, status="ok", parse="ok", total_s=2.0):
    return {"key": key, "truth": truth, "prediction": pred, "status": status, "parse_status": parse,
            "error": None if status == "ok" else "x", "timings": {"total_s": total_s}}


RECORDS = {r["key"]: r for r in [
    rec("a", "happy", "happy"), rec("b", "happy", None, parse="no_answer"), rec("c", "sad", "sad"),
    rec("d", "sad", "angry"), rec("e", "angry", None, status="decode_error", parse=None),
]}


def test_report_files(tmp_path):
    summary = build_summary(RECORDS, LABELS, {"record": "run", "model": "m", "instruction": "q"},
                            total=6, clips_per_s=0.5, dataset={"layout": "manifest"})
    paths = write_report(tmp_path, summary, LABELS, RECORDS)
    assert sorted(p.name for p in paths) == ["confusion.csv", "confusion.png", "metrics.json",
                                             "per_class.csv", "per_class.md"]
    data = json.loads((tmp_path / "metrics.json").read_text())
    m = data["metrics"]
    # scored: a, b, c, d (e failed to decode). happy 1/2, sad 1/2 -> UAR 0.5; WAR 2/4
    assert m["uar"] == pytest.approx(0.5) and m["war"] == pytest.approx(0.5) and m["n"] == 4
    assert m["unparsed_share"] == pytest.approx(0.25)
    assert m["per_class"]["angry"] == {"support": 0, "predicted": 1, "recall": None}
    assert data["clips"] == {"total": 6, "scored": 4, "decode_errors": 1, "model_errors": 0, "pending": 1,
                             "failed": [{"key": "e", "status": "decode_error", "error": "x"}]}
    assert data["parse_status"] == {"no_answer": 1, "ok": 3}
    assert data["throughput"] == {"clips_per_s": 0.5, "mean_clip_s": 2.0}
    assert data["settings"] == {"model": "m", "instruction": "q"}

    rows = list(csv.reader(io.StringIO((tmp_path / "confusion.csv").read_text())))
    assert rows[0] == ["truth \\ prediction", *LABELS, UNPARSED_COLUMN]
    by_truth = {r[0]: [int(x) for x in r[1:]] for r in rows[1:]}
    assert by_truth["happy"] == [1, 0, 0, 0, 0, 0, 0, 1]
    assert by_truth["sad"] == [0, 0, 0, 1, 0, 1, 0, 0]

    table = list(csv.reader(io.StringIO((tmp_path / "per_class.csv").read_text())))
    # happy: one of two right; a resample of its two clips scores 0, 1/2 or 1, so the 95 % interval is 0-100
    assert table[0][-1] == "recall_95%_ci"
    assert table[1] == ["happy", "2", "1", "50.00", "0.00–100.00"] and table[4] == ["angry", "0", "1", "—", "—"]
    md = (tmp_path / "per_class.md").read_text()
    assert md.startswith("UAR 50.00 % · WAR 50.00 % · unparsed/out-of-set 25.00 %")
    assert "| sad | 2 | 1 | 50.00 | 0.00–100.00 |" in md
    assert "95 % percentile bootstrap intervals over clips (2000 resamples" in md
    boot = data["bootstrap"]
    assert boot["resamples"] == 2000 and boot["level"] == 0.95
    assert boot["war"]["low"] <= 0.5 <= boot["war"]["high"] and boot["recall"]["angry"] == {"low": None, "high": None}

    with Image.open(tmp_path / "confusion.png") as img:
        assert img.mode == "RGB" and img.width > 8 * 56 and img.height > 7 * 56
        # the happy→happy cell (row 0, col 0) is shaded: half of its row
        assert img.getpixel((16 + 150 + 28, 16 + 150 + 5)) != (255, 255, 255)


def test_compare_table_lists_every_run(tmp_path):
    for name, recs in (("run_a", RECORDS), ("run_b", {"a": rec("a", "happy", "happy")})):
        s = build_summary(recs, LABELS, {"model": name, "instruction": "q"}, total=len(recs),
                          clips_per_s=1.25)
        write_report(tmp_path / name, s, LABELS, recs)
    text = compare_table([load_run(tmp_path / "run_a"), load_run(tmp_path / "run_b" / "metrics.json")])
    lines = text.splitlines()
    assert lines[0].split() == ["run_a", "run_b"]
    assert lines[2].split() == ["UAR", "%", "50.00", "100.00"]
    assert ["recall", "happy", "%", "50.00", "100.00"] in [line.split() for line in lines]
    assert any(line.startswith("clips/s") and "1.250" in line for line in lines)
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        load_run(tmp_path / "nothing")


def test_consistency_flags_are_counted_in_the_report(tmp_path):
    recs = {
        "a": {**rec("a", "happy", "happy"), "think": "She is sad.", "text": "x", "label_set": "dfew",
              "audio_status": "ok"},  # computed from the fields: answer disagrees
        "b": {**rec("b", "sad", "sad"), "consistency": {"conclusion": ["sad"], "flags": [
            {"check": "voice_without_audio", "reason": "r"}]}},  # stored checks are read as they are
        "c": {**rec("c", "sad", "sad"), "think": "He is sad.", "text": "x", "label_set": "dfew"},
    }
    summary = build_summary(recs, LABELS, {}, total=3)
    assert summary["consistency"] == {"answer_vs_reasoning": 1, "voice_without_audio": 1, "person_vs_faces": 0,
                                      "checked": 3, "flagged": 2}
    write_report(tmp_path, summary, LABELS, recs)
    md = (tmp_path / "per_class.md").read_text()
    assert "consistency flags on 2 of 3 answers: answer disagrees with the reasoning 1, reasoning describes a " \
           "voice the model did not hear 1" in md
