"""``MicrophoneSource``: a sounddevice (PortAudio) input stream, resampled to 16 kHz mono on the session clock.

The PortAudio callback follows the python-sounddevice contract: it copies the block into a preallocated
``BlockRing``, stamps it on the session clock and counts overflows; nothing else (no allocation, no lock, no logging).
A drain thread (the source's own) downmixes, resamples, pushes into the sink, watches the stream and reopens it when
the device comes back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from core.capture import devices as _devices
from core.capture.audio_path import AudioConverter, BlockRing, drain
from core.capture.base import (
    ERROR,
    EV_RECONNECTED,
    EV_STARTED,
    EV_WARNING,
    RUNNING,
    SourceBase,
    SourceError,
)
from core.capture.devices import MicrophoneInfo, _sounddevice, find_microphone, rescan_audio_devices
from core.capture.pulse_sources import pulse_source_env

log = logging.getLogger(__name__)

BLOCK_S = 0.02  # callback block length: 20 ms (50 callbacks/s)
DRAIN_PERIOD_S = 0.02
NO_DATA_WARN_S = 2.0  # warn (once per silence) when no block arrived for this long
RECONNECT_PERIOD_S = 1.0
STREAM_LATENCY = "low"


class MicrophoneSource(SourceBase):
    """Capture from ``device`` (PortAudio index, ``pulse:<source>``, name substring, or None for the default).

    ``samplerate`` None uses the device's default rate. An unsupported rate falls back to the default with a warning
    event, or is an error with ``strict_rate=True``. ``stream_factory`` replaces ``sounddevice.InputStream`` (tests
    use it to simulate a device that disappears).
    """

    kind = "microphone"
    has_audio = True

    def __init__(
        self,
        device: int | str | None = None,
        samplerate: int | None = None,
        channels: int | None = None,
        strict_rate: bool = False,
        reconnect: bool = True,
        stream_factory: Callable[..., Any] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name or f"microphone {device if device is not None else '(default)'}")
        self.device = device
        self.requested_rate = samplerate
        self.requested_channels = channels
        self.strict_rate = strict_rate
        self.reconnect = reconnect
        self._stream_factory = stream_factory
        self._ring: BlockRing | None = None
        self._stream: Any = None
        self._counted = False  # this stream is counted by core.capture.devices (a real PortAudio stream)
        self._xruns = 0
        self.rate_hz = 0
        self.info: MicrophoneInfo | None = None

    # -- PortAudio callback thread ------------------------------------------------------------------------------

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        sink, ring = self._sink, self._ring
        assert sink is not None and ring is not None  # set before the stream (hence this callback) starts
        now = sink.clock.now()
        if status.input_overflow:
            self._xruns += 1
        # the block's first sample was captured one block ago. PortAudio's inputBufferAdcTime is not used: through
        # ALSA's pulse plugin it was measured up to 150 ms off (stale after idle), which would shift audio vs video
        ring.write(indata, now - frames / self.rate_hz)

    # -- own thread ---------------------------------------------------------------------------------------------

    def _choose_rate(self, sd: Any, info: MicrophoneInfo, channels: int) -> int:
        rate = self.requested_rate or info.default_rate_hz
        try:
            sd.check_input_settings(device=info.index, samplerate=rate, channels=channels, dtype="float32")
            return int(rate)
        except Exception as exc:
            if self.strict_rate or rate == info.default_rate_hz:
                raise SourceError(
                    f"microphone '{info.name}' does not support {rate} Hz ({exc}); its default rate is "
                    f"{info.default_rate_hz} Hz: choose that rate or leave the rate on automatic"
                ) from None
            self._emit(
                EV_WARNING,
                f"microphone '{info.name}' does not support {rate} Hz; using its default {info.default_rate_hz} Hz",
                requested_rate_hz=rate,
            )
            return info.default_rate_hz

    def _open(self) -> None:
        sd = _sounddevice()
        factory = self._stream_factory or (sd.InputStream if sd is not None else None)
        if factory is None:
            raise SourceError("no microphone: the PortAudio library is missing (install libportaudio2)")
        info = find_microphone(self.device) if self._stream_factory is None else self._fake_info()
        channels = min(self.requested_channels or min(2, info.channels), info.channels)
        rate = (
            self._choose_rate(sd, info, channels)
            if self._stream_factory is None
            else (self.requested_rate or info.default_rate_hz)
        )
        self.info, self.rate_hz, self._audio_rate = info, rate, rate
        self._ring = BlockRing(rate, channels)
        self._converter = AudioConverter(rate)
        real = self._stream_factory is None
        server_source = pulse_source_env(info.pulse_source) if info.pulse_source else contextlib.nullcontext()
        try:
            # the lock: no device rescan between opening and counting the stream, and PULSE_SOURCE is ours
            with _devices.PORTAUDIO_LOCK, server_source:
                stream = factory(
                    device=info.index,
                    samplerate=rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=int(rate * BLOCK_S),
                    latency=STREAM_LATENCY,
                    callback=self._callback,
                )
                stream.start()
                if real:
                    _devices.stream_opened()
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(
                f"cannot open microphone '{info.name}' at {rate} Hz x{channels}: {exc}. Is it in use by another "
                "application or unplugged? Pick another microphone or reconnect it"
            ) from None
        self._stream, self._counted = stream, real
        assert self._sink is not None
        self._sink.set_source_info("audio", f"{info.name} {rate} Hz x{channels} -> 16 kHz mono")

    def _fake_info(self) -> MicrophoneInfo:
        index = self.device if isinstance(self.device, int) else 0
        return MicrophoneInfo(
            index, str(self.device or "injected"), "test", 1, self.requested_rate or 16_000, True
        )

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            with _devices.PORTAUDIO_LOCK:
                stream.abort()
                stream.close()
        except Exception as exc:  # a vanished device may fail to close; it is gone either way
            log.info("closing %s: %s", self.name, exc)
        finally:
            if self._counted:
                self._counted = False
                _devices.stream_closed()

    def _run(self) -> None:
        self._open()
        self._set_state(RUNNING, f"{self.info.name if self.info else ''} at {self.rate_hz} Hz")
        self._emit(EV_STARTED, "started", rate_hz=self.rate_hz)
        self._drain_loop()

    def _drain_loop(self) -> None:
        assert self._sink is not None
        clock = self._sink.clock
        last_block, last_count, warned = clock.now(), 0, False
        while not self._stop.wait(DRAIN_PERIOD_S):
            ring = self._ring
            assert ring is not None
            self._audio_samples += drain(ring, self._converter, self._sink)
            self._overflows = self._xruns + ring.overruns
            now = clock.now()
            if ring.blocks != last_count:
                last_count, last_block = ring.blocks, now
                if warned:
                    warned = False
                    self._set_state(RUNNING, f"{self.info.name if self.info else ''} at {self.rate_hz} Hz")
            elif now - last_block > NO_DATA_WARN_S and not warned:
                warned = True
                self._set_state(RUNNING, f"no audio for {NO_DATA_WARN_S:g} s")
                self._emit(EV_WARNING, f"no audio from {self.name} for {NO_DATA_WARN_S:g} s")
            stream = self._stream
            if stream is not None and not stream.active and not self._stop.is_set():
                self._lost("the audio stream stopped (microphone unplugged?)")
                if not self._reopen_loop():
                    return
                last_block, last_count, warned = clock.now(), self._ring.blocks if self._ring else 0, False

    def _lost(self, why: str) -> None:
        self._close()
        retry = f"; retrying every {RECONNECT_PERIOD_S:g} s" if self.reconnect else ""
        self._fail(f"{why}{retry}")

    def _reopen_loop(self) -> bool:
        """Try to reopen until it works or we are stopped; True once running again."""
        if not self.reconnect:
            return False
        while not self._stop.wait(RECONNECT_PERIOD_S):
            if self._stream_factory is None:
                # PortAudio lists devices once; look again so a re-plugged device is found. Our stream is
                # closed here, and the app opens one microphone stream at a time.
                rescan_audio_devices()
            try:
                self._open()
            except SourceError as exc:
                self._set_state(ERROR, f"{exc}; retrying every {RECONNECT_PERIOD_S:g} s")
                continue
            self._reconnects += 1
            self._set_state(RUNNING, f"reconnected at {self.rate_hz} Hz")
            self._emit(EV_RECONNECTED, "microphone is back", rate_hz=self.rate_hz)
            return True
        return False

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self._close()
