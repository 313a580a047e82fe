"""ELAN 3.0 annotation documents (.eaf) laid over the recorded media.

Tiers: ``emotion`` (label per window; overlapping windows go to ``emotion-2``, ``-3``…, because an ELAN
tier cannot hold overlapping annotations), ``reasoning`` / ``reasoning-2``… as symbolic children of each
emotion tier, and ``markers`` (200 ms spans, ``kind: text``). Times are milliseconds from the media origin;
the offset is a header property. Text is cleaned of control characters and escaped by ElementTree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from xml.etree import ElementTree as ET

from core.lanes import assign_lanes
from core.session.export.common import (
    APPROXIMATE_NOTE,
    MARKER_SPAN_S,
    approximate,
    approximate_suffix,
    left_out_listed,
    media_origin,
    to_ms,
    utc_time,
)
from core.session.export.escaping import REPLACEMENT, clean_text
from core.session.reader import SessionReader

# characters outside XML 1.0's Char production that clean_text keeps (lone surrogates, U+FFFE/F)
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _tier(kind: str, base: str, lane: int, parent: str | None = None) -> ET.Element:
    attrs = {"LINGUISTIC_TYPE_REF": kind, "TIER_ID": base + (f"-{lane + 1}" if lane else "")}
    if parent is not None:
        attrs["PARENT_REF"] = parent
    return ET.Element("TIER", attrs)


def _media_descriptor(header: ET.Element, reader: SessionReader, media_path: str | os.PathLike[str]) -> None:
    p = Path(media_path).resolve()
    attrs = {"MEDIA_URL": p.as_uri(), "MIME_TYPE": "video/mp4" if p.suffix == ".mp4" else "video/*"}
    try:
        attrs["RELATIVE_MEDIA_URL"] = "./" + p.relative_to(reader.path.resolve()).as_posix()
    except ValueError:
        pass
    ET.SubElement(header, "MEDIA_DESCRIPTOR", attrs)


def to_eaf(reader: SessionReader, media_path: str | os.PathLike[str] | None = None) -> str:
    """The document as text; with ``media_path`` the header links that file (relative when inside the bundle)."""
    origin = media_origin(reader)
    root = ET.Element(
        "ANNOTATION_DOCUMENT",
        {
            "AUTHOR": "",
            "DATE": utc_time(reader.manifest.created_wall).isoformat(),
            "FORMAT": "3.0",
            "VERSION": "3.0",
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd",
        },
    )
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if media_path is not None:
        _media_descriptor(header, reader, media_path)
    order = ET.SubElement(root, "TIME_ORDER")
    slots: dict[int, str] = {}

    def slot(ms: int) -> str:
        if ms not in slots:
            slots[ms] = f"ts{len(slots) + 1}"
        return slots[ms]

    counter = iter(range(1, 10**9))
    tiers: list[ET.Element] = []
    windows = reader.logged_windows
    lane_of = assign_lanes([(w.t0, w.t1) for w in windows])
    n_lanes = max(lane_of, default=0) + 1
    emo = [_tier("emotion", "emotion", i) for i in range(n_lanes)]
    rea = [_tier("reasoning", "reasoning", i, emo[i].get("TIER_ID")) for i in range(n_lanes)]
    for w, lane in zip(windows, lane_of):
        a, b = to_ms(w.t0, origin), to_ms(w.t1, origin)
        if b <= a:
            continue
        aid = f"a{next(counter)}"
        ann = ET.SubElement(
            ET.SubElement(emo[lane], "ANNOTATION"),
            "ALIGNABLE_ANNOTATION",
            {"ANNOTATION_ID": aid, "TIME_SLOT_REF1": slot(a), "TIME_SLOT_REF2": slot(b)},
        )
        ET.SubElement(ann, "ANNOTATION_VALUE").text = w.shown_label + approximate_suffix(w)
        ref = ET.SubElement(
            ET.SubElement(rea[lane], "ANNOTATION"),
            "REF_ANNOTATION",
            {"ANNOTATION_ID": f"a{next(counter)}", "ANNOTATION_REF": aid},
        )
        ET.SubElement(ref, "ANNOTATION_VALUE").text = w.reasoning
    for pair in zip(emo, rea):
        tiers += pair
    markers = reader.logged_markers
    m_lane = assign_lanes([(m.t, m.t + MARKER_SPAN_S) for m in markers])
    mk = [_tier("marker", "markers", i) for i in range(max(m_lane, default=0) + 1)] if markers else []
    for m, lane in zip(markers, m_lane):
        a = to_ms(m.t, origin)
        ann = ET.SubElement(
            ET.SubElement(mk[lane], "ANNOTATION"),
            "ALIGNABLE_ANNOTATION",
            {
                "ANNOTATION_ID": f"a{next(counter)}",
                "TIME_SLOT_REF1": slot(a),
                "TIME_SLOT_REF2": slot(a + round(MARKER_SPAN_S * 1000)),
            },
        )
        ET.SubElement(ann, "ANNOTATION_VALUE").text = m.kind + (f": {m.text}" if m.text else "")
    tiers += mk
    for ms in sorted(slots):
        ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": slots[ms], "TIME_VALUE": str(ms)})
    # ELAN wants slots numbered in time order: renumber in place
    renum = {old: f"ts{i + 1}" for i, (_, old) in enumerate(sorted((ms, s) for ms, s in slots.items()))}
    for el in order:
        el.set("TIME_SLOT_ID", renum[el.attrib["TIME_SLOT_ID"]])
    for tier in tiers:
        for al in tier.iter("ALIGNABLE_ANNOTATION"):
            al.set("TIME_SLOT_REF1", renum[al.attrib["TIME_SLOT_REF1"]])
            al.set("TIME_SLOT_REF2", renum[al.attrib["TIME_SLOT_REF2"]])
    root.extend(tiers)
    n_ann = next(counter) - 1
    ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"}).text = str(n_ann)
    ET.SubElement(header, "PROPERTY", {"NAME": "session_time_offset_ms"}).text = str(round(origin * 1000))
    ET.SubElement(header, "PROPERTY", {"NAME": "session_id"}).text = reader.manifest.session_id
    n_fast = approximate(reader)
    if n_fast:
        note = f"{n_fast} window(s) {APPROXIMATE_NOTE}"
        ET.SubElement(header, "PROPERTY", {"NAME": "approximate_windows"}).text = note
    skipped = left_out_listed(reader)
    if skipped:
        ET.SubElement(header, "PROPERTY", {"NAME": "left_out_of_bundle"}).text = "; ".join(skipped)
    _linguistic_types(root)
    ET.indent(root, space="  ")
    for el in root.iter():  # bundle and model text may hold control characters, which XML 1.0 cannot carry
        if el.text:
            el.text = _XML_INVALID.sub(REPLACEMENT, clean_text(el.text))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _linguistic_types(root: ET.Element) -> None:
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "emotion", "TIME_ALIGNABLE": "true"},
    )
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {
            "CONSTRAINTS": "Symbolic_Association",
            "GRAPHIC_REFERENCES": "false",
            "LINGUISTIC_TYPE_ID": "reasoning",
            "TIME_ALIGNABLE": "false",
        },
    )
    ET.SubElement(
        root,
        "LINGUISTIC_TYPE",
        {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "marker", "TIME_ALIGNABLE": "true"},
    )
    ET.SubElement(
        root,
        "CONSTRAINT",
        {"DESCRIPTION": "1-1 association with a parent annotation", "STEREOTYPE": "Symbolic_Association"},
    )
