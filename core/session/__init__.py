"""Sessions: recording (writer thread, crash-safe bundle), reading, exports and re-analysis.

A bundle from elsewhere is untrusted input: everything that reads one goes through ``SessionReader`` (see
SECURITY.md), and everything written as a whole goes through ``core.safe_files``.

Public API::

    SessionManifest, weights_fingerprint      manifest.py
    SessionWriter, RecordOptions, WriterStats  writer.py (record_options.py, kept_frames.py, media_writers.py)
    SessionReader, source_session              reader.py: the one checked boundary (records.py: typed lines,
                                               bundle_files.py: confined no-follow file access, media.py)
    SessionFormatError, BundleFileError        errors.py
    export functions                           export/ (one module per format: to_csv, to_json, to_eaf,
                                               to_vtt, to_html; export_session writes atomically)
    load_replay, FramePump, AudioFeeder        playback.py (Qt-free replay helpers)
    reanalyze, compare                         reanalysis.py (import core.session.reanalysis)
"""

from core.session.errors import BundleFileError, SessionFormatError
from core.session.manifest import SessionManifest, weights_fingerprint
from core.session.reader import SessionReader
from core.session.writer import RecordOptions, SessionWriter, WriterStats

__all__ = [
    "BundleFileError",
    "RecordOptions",
    "SessionFormatError",
    "SessionManifest",
    "SessionReader",
    "SessionWriter",
    "WriterStats",
    "weights_fingerprint",
]
