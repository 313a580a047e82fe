"""Export a recorded session: CSV (one row per window), JSON, ELAN .eaf, WebVTT or an HTML report.

    python main.py export SESSION --format csv|json|eaf|vtt|html [--out PATH]

Without --out the file goes into the session folder as <folder name>.<format>; --out - prints it.
For .eaf the recorded video is first joined into SESSION/recording.mp4 (once) so ELAN can open it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=Path, help="session folder (it holds manifest.json)")
    parser.add_argument("--format", "-f", required=True, choices=("csv", "json", "eaf", "vtt", "html"))
    parser.add_argument("--out", "-o", help="output file, or - for standard output")
    parser.add_argument(
        "--no-media",
        action="store_true",
        help="eaf: do not join the recorded video into recording.mp4 nor link it",
    )


def run(args: argparse.Namespace) -> int:
    from core.session import SessionFormatError, SessionReader
    from core.session import export as ex

    try:
        reader = SessionReader(args.session)
    except SessionFormatError as e:
        print(f"export: {e}", file=sys.stderr)
        return 2
    if reader.torn_tail or not reader.complete:
        log.warning("%s did not end cleanly; exporting up to its last complete log line", args.session)
    if args.out == "-":
        sys.stdout.write(ex.render(reader, args.format, link_media=not args.no_media))
        return 0
    try:
        out = ex.export_session(reader, args.format, args.out or None, link_media=not args.no_media)
    except OSError as e:
        print(f"export: cannot write {args.out or reader.path}: {e}. Choose another --out path.", file=sys.stderr)
        return 1
    print(f"{out}  ({len(reader.windows)} windows, {len(reader.markers)} markers)")
    return 0
