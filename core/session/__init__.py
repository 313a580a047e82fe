"""Sessions: recording (writer thread, crash-safe bundle), reading, exports and re-analysis.

Public API::

    SessionManifest, weights_fingerprint      manifest.py
    SessionWriter, RecordOptions, WriterStats  writer.py
    SessionReader                              reader.py
    export functions                           export.py (to_csv, to_json, to_eaf, to_vtt, to_html)
    reanalyse, compare                         reanalysis.py (import core.session.reanalysis)
"""

from core.session.manifest import SessionFormatError, SessionManifest, weights_fingerprint
from core.session.reader import SessionReader
from core.session.writer import RecordOptions, SessionWriter, WriterStats

__all__ = [
    "RecordOptions",
    "SessionFormatError",
    "SessionManifest",
    "SessionReader",
    "SessionWriter",
    "WriterStats",
    "weights_fingerprint",
]
