"""The audio path shared by every source with sound: device-rate blocks -> 16 kHz mono on the session clock.

``BlockRing`` is what a PortAudio callback (or a synthetic generator standing in for one) writes into: preallocated
storage, one copy, one time stamp, one counter. ``AudioConverter`` runs on the source's own thread: it downmixes,
resamples to 16 kHz with libswresample (PyAV) and stamps the result. ``drain`` moves everything pending from the
ring through the converter into the sink.
"""

from __future__ import annotations

import fractions

import av
import numpy as np

from core.capture.base import CaptureSink
from core.window import MODEL_SAMPLE_RATE_HZ

RING_CAPACITY_S = 2.0  # device-rate audio the drain thread may fall behind by before an overrun
MAX_PENDING_BLOCKS = 1024


class BlockRing:
    """Single-producer (callback) / single-consumer (drain thread) ring of device-rate blocks.

    ``write`` allocates nothing and takes no lock: it copies into preallocated storage and publishes by bumping
    integer counters (atomic under the GIL). The reader detects being lapped and counts an overrun.
    """

    def __init__(self, rate_hz: int, channels: int, capacity_s: float = RING_CAPACITY_S) -> None:
        self.rate_hz = int(rate_hz)
        self.channels = int(channels)
        self.capacity = int(capacity_s * rate_hz)
        self._data = np.zeros((self.capacity, self.channels), np.float32)
        self._block_start = np.zeros(MAX_PENDING_BLOCKS, np.int64)
        self._block_len = np.zeros(MAX_PENDING_BLOCKS, np.int64)
        self._block_t = np.zeros(MAX_PENDING_BLOCKS, np.float64)
        self.written = 0  # absolute frames written
        self.blocks = 0  # absolute blocks written
        self._read_block = 0
        self.overruns = 0  # reader lapped by the writer (drain thread starved)
        self.oversized = 0  # blocks larger than the ring (truncated)

    def write(self, block: np.ndarray, t_start: float) -> None:
        """block: float32 [n, channels] at ``rate_hz``; t_start: session seconds of block[0]. Callback thread."""
        n = block.shape[0]
        if n > self.capacity:
            self.oversized += 1
            block = block[-self.capacity :]
            t_start += (n - self.capacity) / self.rate_hz
            n = self.capacity
        w = self.written
        i = w % self.capacity
        first = min(n, self.capacity - i)
        self._data[i : i + first] = block[:first]
        if first < n:
            self._data[: n - first] = block[first:]
        b = self.blocks % MAX_PENDING_BLOCKS
        self._block_start[b] = w
        self._block_len[b] = n
        self._block_t[b] = t_start
        self.written = w + n
        self.blocks += 1  # publish last

    def read_pending(self) -> list[tuple[np.ndarray, float]]:
        """Copies of every block written since the last call, oldest first: (float32 [n, ch], t_start). Drain
        thread. Blocks already overwritten are skipped and counted in ``overruns``."""
        out: list[tuple[np.ndarray, float]] = []
        end = self.blocks
        if end - self._read_block > MAX_PENDING_BLOCKS:
            self.overruns += 1
            self._read_block = end - MAX_PENDING_BLOCKS
        for blk in range(self._read_block, end):
            b = blk % MAX_PENDING_BLOCKS
            start, n, t = int(self._block_start[b]), int(self._block_len[b]), float(self._block_t[b])
            if self.written - start > self.capacity:
                self.overruns += 1
                continue
            i = start % self.capacity
            first = min(n, self.capacity - i)
            data = np.empty((n, self.channels), np.float32)
            data[:first] = self._data[i : i + first]
            if first < n:
                data[first:] = self._data[: n - first]
            if self.written - start > self.capacity:  # overwritten while we copied
                self.overruns += 1
                continue
            out.append((data, t))
        self._read_block = end
        return out


class AudioConverter:
    """Downmix + resample device-rate float32 blocks to 16 kHz mono, keeping the session time stamps.

    Stateful (the resampler keeps a few samples of history): one per stream, used on one thread.
    """

    def __init__(self, rate_hz: int, out_rate_hz: int = MODEL_SAMPLE_RATE_HZ) -> None:
        self.rate_hz = int(rate_hz)
        self.out_rate_hz = int(out_rate_hz)
        self._resampler = (
            av.AudioResampler(format="flt", layout="mono", rate=out_rate_hz)
            if rate_hz != out_rate_hz
            else None
        )
        self._pts = 0
        self._time_base = fractions.Fraction(1, self.rate_hz)

    def convert(self, block: np.ndarray, t_start: float) -> tuple[np.ndarray, float] | None:
        """block: float32 [n, channels] (or [n]); returns (float32 [m] at 16 kHz, session t of its first sample),
        or None while the resampler is still filling."""
        mono = block if block.ndim == 1 else (block[:, 0] if block.shape[1] == 1 else block.mean(axis=1))
        mono = np.ascontiguousarray(mono, np.float32)
        n = len(mono)
        if self._resampler is None:
            return mono, t_start
        frame = av.AudioFrame.from_ndarray(mono[None, :], format="flt", layout="mono")
        frame.sample_rate = self.rate_hz
        frame.pts = self._pts
        frame.time_base = self._time_base
        self._pts += n
        chunks = [f.to_ndarray()[0] for f in self._resampler.resample(frame)]
        if not chunks:
            return None
        out = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        # the output ends (within the resampler's ~1 ms delay) where this input block ends
        t_end = t_start + n / self.rate_hz
        return out.astype(np.float32, copy=False), t_end - len(out) / self.out_rate_hz


def drain(ring: BlockRing, converter: AudioConverter, sink: CaptureSink) -> int:
    """Move every pending block from ``ring`` through ``converter`` into ``sink``; returns 16 kHz samples pushed.
    Called on the source's drain thread."""
    pushed = 0
    for block, t_start in ring.read_pending():
        converted = converter.convert(block, t_start)
        if converted is None:
            continue
        samples, t0 = converted
        if len(samples):
            sink.push_audio(samples, t0)
            pushed += len(samples)
    return pushed
