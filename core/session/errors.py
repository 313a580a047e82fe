"""The errors of reading a session bundle; their messages name the problem and what to do."""

from __future__ import annotations


class SessionFormatError(ValueError):
    """A folder is not a readable session bundle; the message says what is wrong and what to do."""


class BundleFileError(SessionFormatError):
    """A file named by a bundle cannot be used (outside the bundle, a symlink, a FIFO, too large...)."""
