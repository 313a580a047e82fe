"""One clock formatter and one lane packer, shared by the exports and the desktop."""

from __future__ import annotations

import math

import pytest

from core.clock_text import clock, span
from core.lanes import LanePacker, assign_lanes


@pytest.mark.parametrize(
    "t,text",
    [
        (0.0, "00:00.0"),
        (41.24, "00:41.2"),
        (59.94, "00:59.9"),
        (59.96, "01:00.0"),  # rounded first: never "00:60.0"
        (119.99, "02:00.0"),
        (3599.96, "1:00:00.0"),
        (3661.25, "1:01:01.2"),
        (-1.5, "-00:01.5"),
        (None, "--:--.-"),
        (math.nan, "--:--.-"),
        (math.inf, "--:--.-"),
    ],
)
def test_clock_text(t, text):
    assert clock(t) == text


def test_span_and_the_desktop_use_the_same_formatter():
    from desktop import formatting

    assert span(59.96, 61.0) == "01:00.0–01:01.0"
    assert formatting.clock is clock and formatting.span is span


def test_exports_print_59_96_s_as_one_minute(tmp_path):
    from core.session import RecordOptions, SessionReader, SessionWriter
    from core.session import export as ex
    from tests.session import synth

    w = SessionWriter(tmp_path / "s", synth.manifest(), RecordOptions.analysis_only())
    assert w.start()
    w.write_result(synth.result(0, 57.96, 59.96))
    assert w.stop()
    page = ex.to_html(SessionReader(tmp_path / "s"))
    assert "00:58.0–01:00.0" in page
    assert "00:60.0" not in page


def test_lanes_without_a_limit_never_overlap_and_touching_spans_share_a_lane():
    spans = [(0, 4), (1, 5), (2, 6), (3, 7), (4, 8)]
    assert assign_lanes(spans) == [0, 1, 2, 3, 0]
    assert assign_lanes([(0, 2), (2, 4), (4 - 1e-9, 6)]) == [0, 0, 0]


def test_lanes_with_a_limit_reuse_the_row_that_frees_first():
    assert assign_lanes([(0, 4), (1, 5), (2, 6), (3, 7)], max_lanes=3) == [0, 1, 2, 0]
    packer = LanePacker(max_lanes=2)
    assert [packer.add(*s) for s in [(0, 10), (1, 3), (2, 4)]] == [0, 1, 1] and packer.n_lanes == 2
    assert LanePacker().n_lanes == 1


def test_the_desktop_timeline_and_the_elan_export_pack_with_the_same_code():
    from core import lanes
    from core.session.export import elan
    from desktop import timeline

    assert issubclass(timeline.LanePacker, lanes.LanePacker)
    assert timeline.assign_lanes([(0, 4), (1, 5), (2, 6), (3, 7)]) == [0, 1, 2, 0]  # at most MAX_LANES rows
    assert elan.assign_lanes is lanes.assign_lanes
