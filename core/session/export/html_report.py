"""A self-contained HTML report of a session (inline CSS and SVG, no scripts, no external assets).

Every piece of bundle text is escaped (``svg.esc``: control characters replaced, then ``html.escape``).
The report also counts the consistency flags of the answers (``core.consistency``) and says what the voice added
where windows were re-run video-only (``core.attribution``), next to each window and over the session.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial

from core import consistency as _consistency
from core import labels as _labels
from core.attribution import Attribution, summary_counts
from core.clock_text import clock, span
from core.session.export import svg
from core.session.export.common import (
    APPROXIMATE_NOTE,
    approximate,
    checks_of,
    faces_note,
    left_out_listed,
    score_labels,
    utc_time,
)
from core.session.export.svg import esc
from core.session.reader import SessionReader
from core.session.records import LoggedWindow

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;
background:#16181c;color:#e6e6e6}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#a8a8a8}.meta td{padding:1px 12px 1px 0}.notice{border-left:3px solid #E69F00;padding:6px 10px;
background:#22252b;margin:12px 0}svg text{fill:#cfcfcf;font-size:11px}
table.w{border-collapse:collapse;width:100%}
table.w td,table.w th{border-bottom:1px solid #2c3038;padding:4px 8px;vertical-align:top;text-align:left}
.chip{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.status{color:#a8a8a8;font-size:12px}.mono{font-family:ui-monospace,monospace}
.flag{color:#E69F00;font-size:12px}.voice{font-size:12px}
"""


def _window_row(w: LoggedWindow, shown: Callable[[str], str], checks: _consistency.Consistency,
                attribution: Attribution | None) -> str:
    a = w.analysis
    name = shown(a.label) if a.label else "—"
    flags = "".join(f'<div class="flag">⚠ {esc(_consistency.CHECK_TITLES[f.check])}: {esc(f.reason)}</div>'
                    for f in checks.flags)
    voice = ("" if attribution is None else f'<div class="voice">{esc(attribution.summary())} <span class="status">'
             f"(video-only re-run {attribution.seconds:.1f} s)</span></div>")
    return (
        f'<tr><td class="mono">{span(w.t0, w.t1)}</td>'
        f'<td><span class="chip" style="background:{_labels.colour(a.label)}"></span>{esc(name)}'
        f'<div class="status">{esc(a.parse_status)}'
        f'{" · approximate (fast profile)" if a.profile != "exact" else ""}'
        f" · audio {esc(w.result.audio_status)}{esc(faces_note(w.result.faces))}"
        f" · ready {w.latency_s:+.1f} s</div>{flags}{voice}</td>"
        f"<td>{esc(w.reasoning)}</td></tr>"
    )


def _checks_section(checks: list[_consistency.Consistency]) -> str:
    """How many answers raised each consistency check, and what the checks are."""
    if not checks:
        return "<p>No analysed windows.</p>"
    counts = _consistency.flag_counts(checks)
    rows = "".join(
        f'<tr><td>{esc(_consistency.CHECK_TITLES[c])}</td><td class="mono" data-check="{c}">{counts[c]}</td>'
        f"<td>{100 * counts[c] / counts['checked']:.0f}%</td></tr>"
        for c in _consistency.CHECKS)
    return (f"<p>{counts['flagged']} of {counts['checked']} answers raised at least one flag. The checks are word "
            "rules over the reasoning (emotion words and negations against the answer, speech words against the "
            "audio, one person against the faces in view); a flag informs, it does not change the answer.</p>"
            f'<table class="w"><tr><th>check</th><th>answers</th><th>share</th></tr>{rows}</table>')


def _voice_section(attributions: list[Attribution], n_windows: int) -> str:
    """What the video-only re-runs found: how many windows the voice changed, and which changes."""
    if not attributions:
        return ("<p>No window was re-run video-only in this session. The app does it on demand or automatically; "
                "<code>reanalyze --attribution</code> does it for every window.</p>")
    s = summary_counts(attributions)
    changes = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in s["changes"].items())
    table = (f'<table class="w"><tr><th>without the voice → with it</th><th>windows</th></tr>{changes}</table>'
             if changes else "")
    return (f"<p>{s['attributed']} of {n_windows} windows were re-run video-only (the official video-only path, "
            f"on the frames the model saw): the voice changed the label in {s['label_changed']}, the reasoning in "
            f"{s['text_changed']}; a re-run took {s['mean_seconds']:.1f} s on average. An ablation of each window, "
            f"not an explanation of the model.</p>{table}")


def _meta(reader: SessionReader, t0: float, t1: float) -> list[tuple[str, str]]:
    m = reader.manifest
    windows, markers = reader.logged_windows, reader.logged_markers
    meta = [
        ("session", m.session_id),
        ("recorded", utc_time(m.created_wall).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("app version", m.app_version),
        ("model", f"{m.model_dir or '—'} ({(m.weights_hash or '')[:12] or 'no hash'})"),
        ("instruction", m.instruction),
        ("label set", m.label_set),
        ("window / hop", f"{m.window_s:g} s / {m.hop_s:g} s"),
        ("span", f"{span(t0, t1)} ({len(windows)} windows, {len(markers)} markers)"),
    ]
    if m.source_session:
        meta.append(("re-analysis of", m.source_session))
    if not reader.complete:
        meta.append(
            ("state", "recording did not end cleanly (crash or still running): shown up to the last complete log line")
        )
    n_fast = approximate(reader)
    if n_fast:
        meta.append(("approximate", f"{n_fast} of {len(windows)} windows {APPROXIMATE_NOTE}"))
    n_left_out = len(reader.left_out())
    if n_left_out:
        listed = "; ".join(left_out_listed(reader))
        meta.append(("left out", f"{n_left_out} damaged or refused part(s) of the bundle: {listed}"))
    return meta


def to_html(reader: SessionReader, language: str = "en") -> str:
    """``language``: how emotion label names read (``en``, ``zh_CN``: :func:`core.labels.display_name`); the
    rest of the report is English, and data attributes keep the canonical ids."""
    m = reader.manifest
    shown = partial(_labels.display_name, language=language)
    html_lang = "zh-CN" if language == "zh_CN" else "en"
    windows, markers = reader.logged_windows, reader.logged_markers
    t0, t1 = reader.span
    counts = Counter(w.shown_label for w in windows)
    order = [lab for lab in (m.labels or ()) if lab in counts] + sorted(k for k in counts if k not in (m.labels or ()))
    attributions = reader.attributions
    checks = [checks_of(w) for w in windows]
    rows = "".join(_window_row(w, shown, c, attributions.get(w.window_id)) for w, c in zip(windows, checks))
    marker_rows = "".join(
        f'<tr><td class="mono">{clock(mk.t)}</td><td>{esc(mk.kind)}</td><td>{esc(mk.text)}</td></tr>' for mk in markers
    )
    scores_svg = (
        svg.scores(windows, score_labels(windows, m.labels), t0, t1, shown=shown)
        if any(w.analysis.scores for w in windows)
        else "<p>No scores.</p>"
    )
    marker_table = (
        f'<table class="w"><tr><th>time</th><th>kind</th><th>text</th></tr>{marker_rows}</table>'
        if markers
        else "<p>None.</p>"
    )
    meta = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in _meta(reader, t0, t1))
    return f"""<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8"><title>R1-Omni Live session {esc(m.session_id[:8])}</title>
<style>{_CSS}</style></head><body>
<h1>R1-Omni Live — session report</h1>
<table class="meta">{meta}</table>
<div class="notice">{esc(m.usage_notice)} Notice accepted: {"yes" if m.usage_notice_accepted else "no"}.
Labels are the model's answers; scores are its own preferences, not calibrated probabilities.</div>
<h2>Emotion timeline</h2>
{svg.timeline(windows, markers, t0, t1, shown=shown) if windows or markers else "<p>No analysed windows.</p>"}
<h2>Label scores <span class="status">(the model's own preference per label, not a probability)</span></h2>
{scores_svg}
<h2>Label distribution</h2>
{svg.distribution([(k, counts[k]) for k in order], shown=shown) if windows else "<p>No analysed windows.</p>"}
<h2>Checks on the answers</h2>
{_checks_section(checks)}
<h2>What did the voice add?</h2>
{_voice_section(list(attributions.values()), len(windows))}
<h2>Markers</h2>
{marker_table}
<h2>Reasoning per window</h2>
<table class="w"><tr><th>window</th><th>emotion</th><th>reasoning</th></tr>{rows}</table>
</body></html>
"""
