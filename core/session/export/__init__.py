"""Exports of a session: pure functions from a ``SessionReader`` to text (CSV, JSON, ELAN, WebVTT, HTML).

One module per format (``csv_table``, ``json_document``, ``elan``, ``webvtt``, ``html_report`` with ``svg``),
the escaping each format needs in ``escaping`` and what they share in ``common``. Every export reads the
bundle through the reader's checked, typed values and escapes bundle text for its format; what the reader
had to leave out is named in the export's header (JSON ``left_out``, an ELAN header property, a WebVTT
NOTE, a row of the HTML report; CSV has no header to carry it, the command reports it).

Times: CSV and JSON keep session seconds. ELAN and WebVTT are laid over the recorded media, so their
times are milliseconds from ``media_origin`` (the start of the recording; 0 without media); the offset
is written into each file. Colours come from ``core.labels.colour``.

Files are written by :func:`export_session` through ``core.safe_files.atomic_output``: the file appears
whole or not at all, and a symlink planted in a bundle at the output or temporary name is never followed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from core.safe_files import atomic_write
from core.session import layout
from core.session.errors import SessionFormatError
from core.session.export.common import MARKER_SPAN_S, media_origin, score_labels, timing_names
from core.session.export.csv_table import CSV_FIELDS, to_csv
from core.session.export.elan import to_eaf
from core.session.export.html_report import to_html
from core.session.export.json_document import to_json
from core.session.export.webvtt import to_vtt, vtt_time
from core.session.reader import SessionReader

log = logging.getLogger(__name__)

FORMATS = ("csv", "json", "eaf", "vtt", "html")

EXPORTERS: dict[str, Callable[[SessionReader], str]] = {
    "csv": to_csv,
    "json": to_json,
    "eaf": to_eaf,
    "vtt": to_vtt,
    "html": to_html,
}


def default_media(reader: SessionReader) -> Path | None:
    """The single-file recording an ELAN document should link, if the bundle holds one (a regular file)."""
    return reader.path / layout.RECORDING if reader.files.is_file(layout.RECORDING) else None


def _linked_media(reader: SessionReader) -> Path | None:
    """The recording to link in ELAN, joined once into ``recording.mp4``; None (noted) when that fails."""
    from core.session.media import consolidate

    if not reader.has_video:
        return None
    try:
        return default_media(reader) or consolidate(reader.files)
    except (OSError, SessionFormatError) as e:
        reader.files.note(layout.RECORDING, f"not made, the document links no media: {e}")
        log.warning("%s: %s not made (%s); the ELAN document links no media", reader.path, layout.RECORDING, e)
        return None


def render(reader: SessionReader, fmt: str, link_media: bool = True, language: str = "en") -> str:
    """The text of ``reader``'s session as ``fmt``; for ELAN with ``link_media``, the recorded video is joined
    into one file (made once) and linked. ``language`` names the labels of the HTML report (data files keep the
    canonical English ids)."""
    if fmt not in EXPORTERS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "eaf":
        return to_eaf(reader, _linked_media(reader) if link_media else None)
    if fmt == "html":
        return to_html(reader, language)
    return EXPORTERS[fmt](reader)


def default_target(reader: SessionReader, fmt: str) -> Path:
    """Where an export goes without a chosen path: ``NAME.FMT`` inside the session folder."""
    return reader.path / f"{reader.path.resolve().name}.{fmt}"


def export_session(
    reader: SessionReader, fmt: str, out: str | os.PathLike[str] | None = None, link_media: bool = True,
    language: str = "en",
) -> Path:
    """Write ``reader``'s session as ``fmt`` (one of ``FORMATS``) to ``out`` (default: :func:`default_target`)
    and return the path (``link_media``: see :func:`render`). The file appears whole or not at all, through an
    exclusive temporary file beside it (``core.safe_files``). Raises ``OSError`` when it cannot be written,
    ``ValueError`` for an unknown format."""
    text = render(reader, fmt, link_media, language)
    target = Path(out) if out else default_target(reader, fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(target, text)


__all__ = [
    "CSV_FIELDS",
    "EXPORTERS",
    "FORMATS",
    "MARKER_SPAN_S",
    "default_media",
    "default_target",
    "export_session",
    "media_origin",
    "render",
    "score_labels",
    "timing_names",
    "to_csv",
    "to_eaf",
    "to_html",
    "to_json",
    "to_vtt",
    "vtt_time",
]
