"""Log lines survive PortAudio's initialisation, which points descriptor 2 at /dev/null for a moment (the
start-up measurement reads the app's first-frame log line, written while the device scan runs)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import logging, os, sys
sys.path.insert(0, {root!r})
import main
main._setup_logging(False)
saved = os.dup(2)
devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(devnull, 2)  # what sounddevice does around Pa_Initialize
logging.getLogger("probe").info("written while stderr is muted")
print("a plain print to stderr meanwhile", file=sys.stderr, flush=True)
os.dup2(saved, 2)
"""


def test_a_line_logged_while_descriptor_2_is_muted_still_arrives():
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "INFO probe: written while stderr is muted" in proc.stderr
    assert "a plain print" not in proc.stderr  # the muting is real: only the log's own descriptor escapes it
