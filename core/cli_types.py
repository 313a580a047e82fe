"""The ranges of the numbers users type, and argparse types that enforce them.

Every command (``main.py analyze|evaluate|monitor|...`` and the app's own options) parses its numbers with these, so
``nan``, ``inf``, a negative or zero count, or an absurd size is a usage error that names the option, the value and
the allowed range, with exit status 2, before anything is opened or allocated::

    main.py monitor: error: argument --window: window nan is out of range: expected seconds in [0.5, 30]

Nothing is silently replaced by a default. The same ranges bound the settings file (``core.settings``).

Exit statuses of every command (``EXIT_*``): 0 done; 1 it ran but failed to do its job (a source or stream failed,
a write failed); 2 usage: a bad option value or an input that cannot be used (missing, empty, not media, a folder
or a FIFO where a file belongs); 3 the model could not be loaded or failed (analyze, evaluate); 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = ("exit status: 0 done, 1 failed to do its job (e.g. the source failed), 2 usage (a bad option or "
                   "input), 3 the model could not be loaded or failed, 130 interrupted")

MAX_RUN_S = 7 * 24 * 3600.0  # --duration / --quit-after: a week; more is a typo, and timers overflow on 1e300
MAX_NEW_TOKENS_LIMIT = 4096  # twice the official script's 2048: reasoning + answer fit in 512
MAX_BATCH_SIZE = 64  # clips decoded and analysed together; memory grows with it
MAX_CLIPS = 10_000_000  # --limit
MAX_FOLD = 5  # DFEW and MAFW have 5 folds (set_1 .. set_5)
SHOWN_CHARS = 40  # a bad value is echoed up to this long; longer or unprintable ones as a cut repr


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class Range:
    """A closed range ``[low, high]`` (``low_open``: ``(low, high]``) of finite numbers, whole ones if ``integer``.

    ``noun`` words the error ("seconds", "a number of tokens"). Thread-safe (immutable)."""

    low: float
    high: float
    integer: bool = False
    low_open: bool = False
    noun: str = "a number"

    def __contains__(self, value: object) -> bool:
        """Whether a parsed (or loaded) value fits: the right kind of number, finite, in range. bool never fits."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        try:
            x = float(value)
        except OverflowError:  # an int too large for a float is out of every range here
            return False
        if not math.isfinite(x):
            return False
        above_low = x > self.low if self.low_open else x >= self.low
        return above_low and x <= self.high

    def describe(self) -> str:
        """E.g. ``seconds in [0.5, 30]`` or ``a number of tokens in [1, 4096]``."""
        left = "(" if self.low_open else "["
        return f"{self.noun} in {left}{_number(self.low)}, {_number(self.high)}]"

    def parse(self, text: str, name: str = "value") -> int | float:
        """``text`` as a number in range; ``argparse.ArgumentTypeError`` naming the value and the range if not
        (``name`` starts the message: "batch size 0 is out of range: expected a whole number of clips in [1, 64]")."""
        shown = text if len(text) <= SHOWN_CHARS and text.isprintable() else repr(text[:SHOWN_CHARS])
        try:
            value: int | float = int(text) if self.integer else float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{name} {shown} is not a number: expected {self.describe()}") from None
        if value not in self:
            raise argparse.ArgumentTypeError(f"{name} {shown} is out of range: expected {self.describe()}")
        return value

    def argtype(self, name: str) -> Callable[[str], int | float]:
        """An argparse ``type=`` callable; ``name`` (e.g. "batch size") starts its error messages."""

        def parse(text: str) -> int | float:
            return self.parse(text, name)

        parse.__name__ = name
        return parse


RUN_S = Range(0.0, MAX_RUN_S, low_open=True, noun="seconds")
MAX_NEW_TOKENS = Range(1, MAX_NEW_TOKENS_LIMIT, integer=True, noun="a whole number of tokens")
BATCH_SIZE = Range(1, MAX_BATCH_SIZE, integer=True, noun="a whole number of clips")
CLIPS = Range(1, MAX_CLIPS, integer=True, noun="a whole number of clips")
FOLD = Range(1, MAX_FOLD, integer=True, noun="a fold number")


def window_range() -> Range:
    """Window length in seconds (``core.scheduler``: the model hears at most 30 s)."""
    from core.scheduler import MAX_WINDOW_S, MIN_WINDOW_S

    return Range(MIN_WINDOW_S, MAX_WINDOW_S, noun="seconds")


def hop_range() -> Range:
    """Time between windows in seconds (``core.scheduler``)."""
    from core.scheduler import MAX_HOP_S, MIN_HOP_S

    return Range(MIN_HOP_S, MAX_HOP_S, noun="seconds")


def run_seconds() -> Callable[[str], int | float]:
    """``--duration`` / ``--quit-after``."""
    return RUN_S.argtype("duration")


def new_tokens() -> Callable[[str], int | float]:
    return MAX_NEW_TOKENS.argtype("max new tokens")


def batch_size() -> Callable[[str], int | float]:
    return BATCH_SIZE.argtype("batch size")


def window_seconds() -> Callable[[str], int | float]:
    return window_range().argtype("window")


def hop_seconds() -> Callable[[str], int | float]:
    return hop_range().argtype("hop")


MAX_DEVICE_INDEX = 255
MAX_DEVICE_NAME_CHARS = 256
MIC_WORDS = ("none", "off", "default")


def microphone() -> Callable[[str], str]:
    """``--mic``: ``none`` | ``off`` | ``default`` | a device index in [0, 255] | a name substring (printable, at
    most 256 characters). Returns the text as given."""

    def parse(text: str) -> str:
        if text.isdigit():
            if int(text) > MAX_DEVICE_INDEX:
                raise argparse.ArgumentTypeError(f"expected a device index in [0, {MAX_DEVICE_INDEX}], got {text!r}")
            return text
        if text in MIC_WORDS or (text.strip() and len(text) <= MAX_DEVICE_NAME_CHARS and text.isprintable()):
            return text
        raise argparse.ArgumentTypeError(f"expected {', '.join(MIC_WORDS)}, a device index or a printable name of at "
                                         f"most {MAX_DEVICE_NAME_CHARS} characters, got {text[:40]!r}")

    parse.__name__ = "microphone"
    return parse


def parse_or_exit(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """``parser.parse_args(argv)``, or the exit status argparse chose (2 for a usage error, 0 for ``--help``)
    instead of raising ``SystemExit``: commands return their status."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
