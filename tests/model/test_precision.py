"""The CPU default precision: bfloat16 only where the CPU computes it natively (flags, not vendor names)."""

from __future__ import annotations

import pytest

from core.model import precision

XEON_AMX = "fpu vme sse sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"
ZEN4 = "fpu vme sse sse2 avx2 avx512f avx512_bf16 avx512_vnni"
SKYLAKE = "fpu vme sse sse2 avx2 avx512f avx512dq avx512_vnni"
OLD = "fpu vme sse sse2 avx avx2 fma"


def _cpuinfo(tmp_path, flags: str, key: str = "flags"):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Some CPU\n{key}\t\t: {flags}\n\n"
                    f"processor\t: 1\n{key}\t\t: {flags}\n")
    return path


@pytest.mark.parametrize(("flags", "dtype", "why"), [
    (XEON_AMX, "bfloat16", "AMX"),
    (ZEN4, "bfloat16", "AVX512-BF16"),
    (SKYLAKE, "float32", "no native bfloat16"),
    (OLD, "float32", "no native bfloat16"),
])
def test_auto_on_a_cpu_follows_the_flags(tmp_path, monkeypatch, flags, dtype, why):
    monkeypatch.setattr(precision, "CPUINFO", _cpuinfo(tmp_path, flags))
    chosen, reason = precision.choose("auto", "cpu")
    assert chosen == dtype and why in reason and reason.startswith(dtype)


def test_the_vendor_or_model_name_is_never_read(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("vendor_id\t: GenuineIntel\nmodel name\t: Intel Xeon Sapphire Rapids AMX\nflags\t\t: sse2 avx2\n")
    assert precision.native_bf16(precision.cpu_flags(path)) is None


def test_arm_features_line_is_read_but_only_x86_flags_count(tmp_path):
    flags = precision.cpu_flags(_cpuinfo(tmp_path, "fp asimd bf16 i8mm sve", key="Features"))
    assert "bf16" in flags and precision.native_bf16(flags) is None


def test_without_proc_cpuinfo_torch_probes_are_asked(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(precision, "CPUINFO", tmp_path / "missing")
    assert precision.cpu_flags() is None
    assert precision.native_bf16() == "AVX512-BF16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert precision.choose("auto", "cpu")[0] == "float32"


def test_gpu_and_explicit_choices():
    assert precision.choose("auto", "cuda", flags=()) == ("float16", "float16: a GPU (as the official inference code)")
    assert precision.choose("bf16", "cpu", flags=()) == ("bfloat16", "bfloat16: requested")
    assert precision.choose("float32", "cpu", flags=XEON_AMX.split())[0] == "float32"
    with pytest.raises(ValueError, match="unknown dtype"):
        precision.choose("int8", "cpu")


def test_load_reports_the_choice_in_info(monkeypatch):
    """The loaded model says which precision was picked and why (the UI and the manifest read it)."""
    pytest.importorskip("torch")
    from core.model import load_model
    from tests.model.conftest import CHECKPOINT

    monkeypatch.setattr(precision, "cpu_flags", lambda cpuinfo=None: frozenset(SKYLAKE.split()))
    m = load_model(CHECKPOINT, device="cpu")
    try:
        info = m.info()
        assert info["dtype"] == "float32" and info["precision"].startswith("float32: the CPU has no native")
        assert info["profile"] == "exact"
    finally:
        m.close()
    monkeypatch.setattr(precision, "cpu_flags", lambda cpuinfo=None: frozenset(XEON_AMX.split()))
    m = load_model(CHECKPOINT, device="cpu")
    try:
        assert m.info()["dtype"] == "bfloat16" and m.info()["precision"] == "bfloat16: the CPU has AMX"
    finally:
        m.close()
