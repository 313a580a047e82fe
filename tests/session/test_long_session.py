"""A shortened long session (see tests/session/long_session.py for the one-hour run)."""

from __future__ import annotations

import pytest

from tests.session.long_session import run


@pytest.mark.slow
def test_long_session_keeps_memory_flat_and_the_log_complete(tmp_path):
    res = run(tmp_path / "long", minutes=12.0, fps=5.0, size=(96, 72), report_every_min=2.0, verbose=False)
    assert res.complete and res.dropped_media == 0
    assert res.windows_logged == res.windows_expected == 12 * 30 - 1
    assert res.markers_logged == 12
    rss = [m for _, m in res.rss_mib]
    # after the first report (imports, encoder, caches warmed) RSS must not grow with session length: compare
    # the end (queues drained) with minute 2; a leak of one window's frames per hop would add ~200 MiB here
    assert rss[-1] - rss[1] < 20, res.rss_mib
