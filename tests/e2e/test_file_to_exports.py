"""End to end through the user-facing commands: a media file is monitored with the tiny parity model and
recorded, then every export is produced from the bundle and checked against the logged windows."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import PARITY_DIR, ROOT

pytestmark = pytest.mark.slow


def _main(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=240, cwd=cwd)


def test_monitor_record_then_export_every_format(tmp_path):
    bundle = tmp_path / "session"
    mon = _main("monitor", "--source", PARITY_DIR / "clips" / "clip_a.mp4", "--model", PARITY_DIR / "checkpoint",
                "--window", "1", "--hop", "0.5", "--max-new-tokens", "6", "--no-warmup", "--labels", "free",
                "--record", bundle, cwd=tmp_path)
    assert mon.returncode == 0, mon.stderr
    # JSON Lines are separated by "\n" only (the model's text may hold U+2028 and friends)
    printed = [json.loads(line) for line in mon.stdout.split("\n") if line]
    assert printed
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model_dir"] == str((PARITY_DIR / "checkpoint").resolve()) and manifest["weights_hash"]
    assert manifest["label_set"] == "free" and manifest["usage_notice_accepted"] is False

    out = {}
    for fmt in ("csv", "json", "eaf", "vtt", "html"):
        path = tmp_path / f"export.{fmt}"
        r = _main("export", bundle, "--format", fmt, "--out", path, cwd=tmp_path)
        assert r.returncode == 0, (fmt, r.stderr)
        with path.open(encoding="utf-8", newline="") as f:  # keep \r inside quoted CSV fields
            out[fmt] = f.read()

    rows = list(csv.DictReader(io.StringIO(out["csv"], newline="")))
    assert [int(r["window_id"]) for r in rows] == [p["window_id"] for p in printed]
    assert [float(r["t0"]) for r in rows] == pytest.approx([p["t0"] for p in printed], abs=1e-3)

    data = json.loads(out["json"])
    windows = data["windows"] if isinstance(data, dict) else data
    assert [w["window_id"] for w in windows] == [p["window_id"] for p in printed]
    assert [w["token_ids"] for w in windows] == [p["token_ids"] for p in printed]

    root = ET.fromstring(out["eaf"])
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    # overlapping windows are spread over lanes emotion, emotion-2, ... (an ELAN tier cannot overlap)
    lanes = [t for name, t in tiers.items() if name.startswith("emotion")]
    spans = sorted((slots[a.get("TIME_SLOT_REF1")], slots[a.get("TIME_SLOT_REF2")])
                   for lane in lanes for a in lane.iter("ALIGNABLE_ANNOTATION"))
    assert len(spans) == len(printed)
    # ELAN times are relative to the recorded media; the offset to the session clock is in the header
    offset = next(int(p.text) for p in root.iter("PROPERTY") if p.get("NAME") == "session_time_offset_ms")
    # (a window that began before the recording's first media is clipped to the media start)
    assert [a + offset for a, _ in spans] == pytest.approx(
        [max(offset, round(p["t0"] * 1000)) for p in printed], abs=1)
    assert [b + offset for _, b in spans] == pytest.approx([round(p["t1"] * 1000) for p in printed], abs=1)

    assert out["vtt"].startswith("WEBVTT") and out["vtt"].count("-->") >= len(printed)
    assert "<svg" in out["html"] and "http://" not in out["html"].replace("http://www.w3.org", "")
