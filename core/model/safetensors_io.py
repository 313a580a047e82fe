"""Reading safetensors files tensor by tensor, straight into the target dtype, with the header checked.

The format: 8 bytes little-endian header length, a JSON header ``{name: {"dtype", "shape", "data_offsets"}}``,
then the raw little-endian tensor bytes. This reader parses and checks the header itself (size cap, known dtypes,
shapes that match their byte ranges, ranges inside the file and not overlapping) and reads each tensor with plain
file reads into a tensor allocated for it:

- stored dtype == target dtype: the bytes land in the final tensor, nothing else is allocated;
- otherwise: one temporary of the stored dtype for this tensor only, converted into the final tensor.

It does not memory-map the file: file pages read through a mapping count as the process's memory for as long
as the mapping lives, which made a float32 load peak at the weights plus the whole file (8.1 GiB for
R1-Omni-0.5B in float32, 5.1 GiB of weights). Nothing here executes code from the file (no pickle).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from core.model.checks import open_regular
from core.model.errors import ModelLoadError

HEADER_LIMIT_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
READ_BLOCK_BYTES = 64 * 1024 * 1024  # bytes per read() call
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
_TORCH_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
                 "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
                 "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
DOWNLOAD_FIX = "delete it and download it again (python main.py download --dir DIR)"


@dataclass(frozen=True)
class TensorEntry:
    file: Path
    dtype: str  # safetensors name: F32, BF16, I8, BOOL ...
    shape: tuple[int, ...]
    start: int  # absolute byte offset in the file
    nbytes: int

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def dtype_name(self) -> str:
        return _TORCH_DTYPES[self.dtype]


def _corrupt(path: Path, why: str) -> ModelLoadError:
    return ModelLoadError(f"{path} is not a readable safetensors file ({why}); it is corrupt, truncated or not a "
                          "weights file", DOWNLOAD_FIX)


def read_header(f: BinaryIO, path: Path) -> dict[str, TensorEntry]:
    """The checked header of the open file ``f`` (``path`` names it in errors) -> {tensor name: entry}."""
    if sys.byteorder != "little":
        raise ModelLoadError("safetensors files are little-endian and this machine is not",
                             "run the app on a little-endian machine (x86-64, ARM64)")
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    head = f.read(8)
    if len(head) < 8:
        raise _corrupt(path, "shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > min(HEADER_LIMIT_BYTES, size - 8):
        raise _corrupt(path, f"HeaderTooLarge: the header claims {n} bytes")
    raw = _read_exactly(f, n, path)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _corrupt(path, f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "the header is not a JSON object")
    base, data_len = 8 + n, size - 8 - n
    entries: dict[str, TensorEntry] = {}
    for name, spec in header.items():
        if name != "__metadata__":
            entries[name] = _entry(path, name, spec, base, data_len)
    spans = sorted((e.start, e.start + e.nbytes, k) for k, e in entries.items() if e.nbytes)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        if start < end:
            raise _corrupt(path, f"the bytes of {a} and {b} overlap")
    return entries


def _read_exactly(f: BinaryIO, n: int, path: Path) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = f.read(min(n - len(data), READ_BLOCK_BYTES))
        if not chunk:
            raise _corrupt(path, "it ends inside its header")
        data += chunk
    return bytes(data)


def _entry(path: Path, name: str, spec: Any, base: int, data_len: int) -> TensorEntry:
    if not isinstance(spec, dict):
        raise _corrupt(path, f"the header entry of {name} is not an object")
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if dtype not in _ITEM_BYTES:
        raise _corrupt(path, f"{name} has the unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise _corrupt(path, f"{name} has the shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise _corrupt(path, f"{name} has the data offsets {offsets!r}")
    start, end = offsets
    nbytes = _ITEM_BYTES[dtype]
    for d in shape:
        nbytes *= d
    if not 0 <= start <= end <= data_len or end - start != nbytes:
        raise _corrupt(path, f"{name} ({dtype} {shape}) does not fit its bytes {offsets} (data: {data_len} bytes)")
    return TensorEntry(path, dtype, tuple(shape), base + start, nbytes)


class TensorSource:
    """The tensors of one or more safetensors files, read on request (nothing is read before ``get``). Holds the
    files open until :meth:`close` (or garbage collection); used by one thread."""

    def __init__(self, files: Iterable[Path], what: str) -> None:
        self.what = what
        self.entries: dict[str, TensorEntry] = {}
        self._files: dict[Path, io.FileIO] = {}  # raw (unbuffered) files: readinto fills tensors directly
        try:
            for path in files:
                path = Path(path)
                f = self._files[path] = open_regular(path, what)
                self.entries.update(read_header(f, path))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def keys(self) -> list[str]:
        return list(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def shape(self, key: str) -> tuple[int, ...]:
        return self.entries[key].shape

    def nbytes(self, key: str) -> int:
        return self.entries[key].nbytes

    def get(self, key: str, dtype: Any = None, scratch: Any = None) -> Any:
        """The tensor ``key`` as a new CPU tensor of ``dtype`` (default: as stored). When it must be converted,
        its stored bytes go to ``scratch`` (a uint8 CPU tensor of at least :meth:`nbytes`, reused from tensor to
        tensor, so conversions leave no freed temporaries behind) or else to a temporary. Non-float tensors are
        refused when a float ``dtype`` is asked for (they would be silently converted into garbage weights)."""
        import torch

        e = self.entries[key]
        target = getattr(torch, e.dtype_name) if dtype is None else dtype
        out = torch.empty(e.shape, dtype=target)
        self.read_into(key, out, scratch)
        return out

    def read_into(self, key: str, out: Any, scratch: Any = None) -> None:
        """Fill the contiguous CPU tensor ``out`` (shape of ``key``, any float dtype) with the tensor ``key``
        (see :meth:`get` for ``scratch``)."""
        import torch

        e = self.entries[key]
        stored = getattr(torch, e.dtype_name)
        if tuple(out.shape) != e.shape or not out.is_contiguous():
            raise ValueError(f"{key}: cannot read {e.shape} into {tuple(out.shape)}")
        if out.dtype.is_floating_point and not e.is_float:
            raise ModelLoadError(
                f"{self.what}: the tensor {key} in {e.file} is {e.dtype_name}, where the model needs floating-point "
                "weights", "this is not an R1-Omni weights file (or it was quantised by another tool): download the "
                "published safetensors")
        if stored == out.dtype:
            self._read_into(e, out)
            return
        if scratch is not None and scratch.numel() >= e.nbytes:
            raw = scratch[: e.nbytes].view(stored).view(e.shape)
        else:
            raw = torch.empty(e.shape, dtype=stored)
        self._read_into(e, raw)
        out.copy_(raw)

    def _read_into(self, e: TensorEntry, t: Any) -> None:
        """Fill the contiguous CPU tensor ``t`` with the entry's bytes (plain reads, no mapping)."""
        import torch

        if e.nbytes == 0:
            return
        view = memoryview(t.reshape(-1).view(torch.uint8).numpy())
        f = self._files[e.file]
        f.seek(e.start)
        done = 0
        while done < e.nbytes:
            n = f.readinto(view[done:done + READ_BLOCK_BYTES])
            if not n:
                raise _corrupt(e.file, "it ends inside a tensor")
            done += n
