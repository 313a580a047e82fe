"""Export a recorded session: CSV (one row per window), JSON, ELAN .eaf, WebVTT or an HTML report.

    python main.py export SESSION --format csv|json|eaf|vtt|html [--out PATH]

Without --out the file goes into the session folder as <folder name>.<format>; --out - prints it (control
characters replaced, so a bundle cannot send escape sequences to the terminal).
For .eaf the recorded video is first joined into SESSION/recording.mp4 (once) so ELAN can open it.

Exit status: 0 written (parts of a damaged bundle may have been left out: they are listed on stderr);
1 the output cannot be written; 2 SESSION is not a readable session.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.session import SessionReader

log = logging.getLogger(__name__)

EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_SESSION = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=Path, help="session folder (it holds manifest.json)")
    parser.add_argument("--format", "-f", required=True, choices=("csv", "json", "eaf", "vtt", "html"))
    parser.add_argument("--out", "-o", help="output file, or - for standard output")
    parser.add_argument(
        "--no-media",
        action="store_true",
        help="eaf: do not join the recorded video into recording.mp4 nor link it",
    )


def _report_left_out(reader: SessionReader) -> None:
    """Name on stderr what the export had to leave out of a damaged bundle."""
    from core.session.export.common import left_out_listed
    from core.session.export.escaping import terminal_safe

    for line in left_out_listed(reader):
        print(terminal_safe(f"export: left out: {line}"), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from core.session import SessionFormatError, SessionReader
    from core.session import export as ex
    from core.session.export.escaping import terminal_safe

    try:
        reader = SessionReader(args.session)
        if reader.torn_tail or not reader.complete:
            log.warning("%s did not end cleanly; exporting up to its last complete log line", args.session)
        if args.out == "-":
            sys.stdout.write(terminal_safe(ex.render(reader, args.format, link_media=not args.no_media)))
            _report_left_out(reader)
            return EXIT_OK
        out = ex.export_session(reader, args.format, args.out or None, link_media=not args.no_media)
    except SessionFormatError as e:
        print(terminal_safe(f"export: {e}"), file=sys.stderr)
        return EXIT_BAD_SESSION
    except OSError as e:
        target = args.out or args.session
        print(terminal_safe(f"export: cannot write {target}: {e}. Choose another --out path."), file=sys.stderr)
        return EXIT_WRITE_FAILED
    _report_left_out(reader)
    print(terminal_safe(f"{out}  ({len(reader.logged_windows)} windows, {len(reader.logged_markers)} markers)"))
    return EXIT_OK
