"""Resident memory of this process, for benchmarks and long-session checks (Linux /proc; NaN elsewhere)."""

from __future__ import annotations


def rss_mib() -> float:
    """Current resident set size in MiB, or NaN where /proc is not available."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
