"""WebVTT subtitles laid over the recorded media: exactly one cue per analysed window.

A cue is ``w<window id>``, its span in milliseconds from the media origin, and ``LABEL — reasoning``. Cues of
overlapping windows overlap, as the windows do (players stack them). A window that ends before the media
starts still gets its cue, 1 ms long at time 0, so that cues and windows match one to one. Text is escaped
by ``escaping.vtt_cue_text`` / ``vtt_line``: no markup, no ``-->``, no blank line can forge a cue.
"""

from __future__ import annotations

from core.session.export.common import (
    APPROXIMATE_NOTE,
    approximate,
    approximate_suffix,
    left_out_listed,
    media_origin,
    to_ms,
)
from core.session.export.escaping import vtt_cue_text, vtt_line
from core.session.reader import SessionReader


def vtt_time(ms: int) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_vtt(reader: SessionReader) -> str:
    origin = media_origin(reader)
    out = [
        vtt_line(f"WEBVTT - {reader.manifest.session_id}"),
        "",
        vtt_line(f"NOTE session time of 00:00:00.000 = {origin:.3f} s; label set {reader.manifest.label_set}"),
        "",
    ]
    n_fast = approximate(reader)
    if n_fast:
        out += [vtt_line(f"NOTE {n_fast} window(s) {APPROXIMATE_NOTE}; their cues say (approximate)"), ""]
    cues = []
    for w in reader.logged_windows:
        a = to_ms(w.t0, origin)
        b = max(a + 1, to_ms(w.t1, origin))
        cues += [
            f"w{w.window_id}",
            f"{vtt_time(a)} --> {vtt_time(b)}",
            vtt_cue_text(f"{w.shown_label.upper()}{approximate_suffix(w)} — {w.reasoning}"),
            "",
        ]
    skipped = left_out_listed(reader)
    if skipped:
        out += [vtt_line(f"NOTE left out of the bundle: {'; '.join(skipped)}"), ""]
    return "\n".join(out + cues)
