"""A shortened long session (see tests/session/long_session.py for the one-hour run).

It runs in a fresh interpreter so that RSS measures the recording alone, not what other tests loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_long_session_keeps_memory_flat_and_the_log_complete(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.session.long_session",
            "--minutes",
            "12",
            "--fps",
            "5",
            "--size",
            "96x72",
            "--report-every",
            "2",
            "--dir",
            str(tmp_path / "long"),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["complete"] and res["dropped_media"] == 0
    assert res["windows_logged"] == res["windows_expected"] == 12 * 30 - 1
    assert res["markers_logged"] == 12
    rss = [m for _, m in res["rss_mib"]]
    # after the first report (imports, encoder, caches warmed) RSS must not grow with session length: compare
    # the end (queues drained) with minute 2; a leak of one window's frames per hop would add ~200 MiB here
    assert rss[-1] - rss[1] < 20, res["rss_mib"]
