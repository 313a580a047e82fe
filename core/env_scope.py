"""One environment variable set for the length of a call, and put back afterwards.

Some libraries take a setting only from the environment when they build a client or open a stream (PortAudio's
``pulse`` device reads ``PULSE_SOURCE``; the ModelScope package reads ``MODELSCOPE_ENDPOINT``). The value must not
outlive the call: the next stream or download would silently inherit it. The environment is process-wide, so a
caller sets it from the one thread that uses the library at that moment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def scoped_env(name: str, value: str) -> Iterator[None]:
    """``name=value`` inside the block; the previous value (or none) afterwards, also when the block raises."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved
