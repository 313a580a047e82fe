"""Which floating-point precision the model runs in, and why (``model.info()["precision"]``).

``auto`` picks:
- float16 on a CUDA GPU, as the official inference code does;
- bfloat16 on a CPU that computes it natively — AMX (``amx_bf16``) or AVX512-BF16 (``avx512_bf16``) in the CPU
  flags. There a window takes about half the time of float32 (Whisper and the prefill about 3-4x faster);
- float32 on any other CPU, where bfloat16 is emulated and no faster.

Neither is more "official" than the other on a CPU: the official code runs in float16 on a GPU, and both
bfloat16 and float32 differ from it by rounding. float32 is the precision of the parity tests (token-identical
with the official code run in float32).

The flags are read from ``/proc/cpuinfo`` on Linux; elsewhere torch's own CPU probes are asked. Nothing is
guessed from the CPU vendor or model name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")
# CPU flag -> how the reason names it; the first present wins
NATIVE_BF16_FLAGS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16"))
DTYPE_NAMES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
               "bfloat16": "bfloat16", "bf16": "bfloat16"}


def cpu_flags(cpuinfo: Path | None = None) -> frozenset[str] | None:
    """The CPU feature flags (the ``flags`` line of /proc/cpuinfo, ``Features`` on ARM), or None where there is
    no such file."""
    try:
        text = (cpuinfo or CPUINFO).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def _torch_probe_flags() -> frozenset[str]:
    """Flags as torch's CPU probes see them (for systems without /proc/cpuinfo)."""
    try:
        import torch

        probes = {"amx_bf16": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}
        return frozenset(flag for flag, fn in probes.items() if getattr(torch.cpu, fn, lambda: False)())
    except Exception:  # noqa: BLE001 — a private probe that moved: report no native bfloat16
        return frozenset()


def native_bf16(flags: Iterable[str] | None = None) -> str | None:
    """How the CPU computes bfloat16 natively ("AMX", "AVX512-BF16"), or None. ``flags`` default: this CPU's."""
    found = frozenset(flags) if flags is not None else cpu_flags()
    if found is None:
        found = _torch_probe_flags()
    return next((name for flag, name in NATIVE_BF16_FLAGS if flag in found), None)


def choose(requested: Any, device_type: str, flags: Iterable[str] | None = None) -> tuple[str, str]:
    """(dtype name, reason) for a requested dtype (``auto`` or a name) on ``cuda`` or ``cpu``.

    The reason is one line for people: "bfloat16: the CPU has AMX", "float32: requested".
    Raises ValueError for an unknown name."""
    name = str(requested).strip().lower().removeprefix("torch.")
    if name != "auto":
        if name not in DTYPE_NAMES:
            raise ValueError(f"unknown dtype {requested!r}: use auto, float32, float16 or bfloat16")
        return DTYPE_NAMES[name], f"{DTYPE_NAMES[name]}: requested"
    if device_type == "cuda":
        return "float16", "float16: a GPU (as the official inference code)"
    how = native_bf16(flags)
    if how is not None:
        return "bfloat16", f"bfloat16: the CPU has {how}"
    return "float32", "float32: the CPU has no native bfloat16 (no AMX, no AVX512-BF16)"
