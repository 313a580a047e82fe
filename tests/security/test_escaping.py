"""Per-format escaping holds for any text (Hypothesis): CSV formulas, WebVTT cues, control characters."""

from __future__ import annotations

import csv
import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.session.export.escaping import (
    FORMULA_PREFIXES,
    clean_json,
    csv_cell,
    terminal_safe,
    vtt_cue_text,
    vtt_line,
)

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from("=+-@\t\r\n<>&-->\x00\x1b\x9b")), max_size=60)
EXAMPLES = settings(max_examples=400, derandomize=True, deadline=None, database=None)


@EXAMPLES
@given(TEXT)
def test_a_csv_text_cell_never_starts_a_formula_and_reads_back_as_written(text):
    cell = csv_cell(text)
    assert not cell.startswith(FORMULA_PREFIXES) and not CONTROL.search(cell)
    buf = io.StringIO()
    csv.writer(buf).writerow([cell, 1.5])
    assert next(csv.reader(io.StringIO(buf.getvalue(), newline=""))) == [cell, "1.5"]


@EXAMPLES
@given(st.one_of(st.integers(), st.floats(allow_nan=False)))
def test_csv_numbers_stay_numbers(number):
    assert float(csv_cell(number)) == number


@EXAMPLES
@given(TEXT)
def test_a_webvtt_cue_payload_cannot_end_the_cue_or_forge_a_timing(text):
    payload = vtt_cue_text(text)
    assert payload and "-->" not in payload and "\n\n" not in payload and not CONTROL.search(payload)
    assert all(line.strip() for line in payload.split("\n")) and "<" not in payload


@EXAMPLES
@given(TEXT)
def test_webvtt_header_and_note_text_stay_on_one_line(text):
    line = vtt_line(text)
    assert "\n" not in line and "-->" not in line and not CONTROL.search(line)


@EXAMPLES
@given(TEXT)
def test_terminal_text_has_no_escape_sequences(text):
    out = terminal_safe(text)
    assert not CONTROL.search(out) and "\r" not in out


@EXAMPLES
@given(st.recursive(TEXT, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3)))
def test_json_exports_clean_every_string_keys_included(value):
    flat: list[str] = []

    def walk(v):
        if isinstance(v, str):
            flat.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                flat.append(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(clean_json(value))
    assert not any(CONTROL.search(s) for s in flat)
