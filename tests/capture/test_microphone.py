"""The microphone path for real: PortAudio (ALSA 'pulse' device) -> sounddevice callback -> BlockRing -> 16 kHz,
fed by a private PulseAudio daemon whose virtual microphone plays a known chirp. Plus no-microphone, unsupported
rate and unplug handling."""

import threading
import time
import typing

import numpy as np
import pytest

from core.capture import ERROR, RUNNING, MicrophoneSource, list_microphones
from core.capture import devices as devices_mod
from core.capture import microphone as microphone_mod
from core.ring_buffer import LiveBuffer
from core.window import MODEL_SAMPLE_RATE_HZ
from tests.capture.helpers import Events, wait_for
from tests.support.media import chirp

SR = MODEL_SAMPLE_RATE_HZ


def locate(captured: np.ndarray, sent: np.ndarray) -> tuple[int, float]:
    """Offset of ``sent`` inside ``captured`` and the normalised correlation there."""
    corr = np.correlate(captured, sent, "valid")
    k = int(np.argmax(corr))
    norm = np.linalg.norm(captured[k : k + len(sent)]) * np.linalg.norm(sent)
    return k, float(corr[k] / norm) if norm else 0.0


def capture_chirp(pulse_server, samplerate, channels=None, seconds=1.5):
    buf = LiveBuffer()
    mic = MicrophoneSource("pulse", samplerate=samplerate, channels=channels)
    events = Events(mic)
    mic.start(buf)
    assert wait_for(lambda: mic.status().state == RUNNING, timeout=5), mic.status()
    time.sleep(0.3)
    sent = chirp(seconds)
    pulse_server.feed(sent).join()
    time.sleep(0.4)
    status = mic.status()
    mic.stop()
    return buf, mic, status, events, sent


@pytest.mark.pulse
def test_capture_from_virtual_microphone_is_exact_and_on_the_session_clock(pulse_server):
    mics = list_microphones()
    assert any(m.name == "pulse" for m in mics), mics
    buf, _, status, events, sent = capture_chirp(pulse_server, samplerate=16_000, channels=1)
    assert events.kinds[0] == "started" and status.audio_rate_hz == 16_000
    audio_start = buf.audio.t_origin
    captured = buf.recent_audio(buf.audio.horizon - audio_start)
    k, r = locate(captured, sent)
    # content: bit-exact up to 16-bit quantisation
    assert r > 0.9999
    assert np.abs(captured[k : k + len(sent)] - sent).max() < 2 / 32767
    # timing: the chirp's first sample is stamped after it was written into the source (never before: that
    # would shift audio against video), and soon after (typically 20-40 ms; loose bound for a loaded machine)
    t_first = audio_start + k / SR
    written_mono, _ = pulse_server.fed_at[0]
    t_written = written_mono - (time.monotonic() - buf.clock.now())
    assert -0.02 <= t_first - t_written < 0.4, (t_first, t_written)
    # duration: the chirp arrives whole, at the right rate (no gap, no stretch)
    assert buf.stats().audio_gaps == 0
    assert status.audio_overflows == 0


@pytest.mark.pulse
def test_capture_at_48k_stereo_is_resampled_to_16k_mono(pulse_server):
    buf, _, status, _, sent = capture_chirp(pulse_server, samplerate=48_000, channels=2)
    assert status.audio_rate_hz == 48_000
    assert "48000 Hz x2 -> 16 kHz mono" in buf.source_info()["audio"]
    captured = buf.recent_audio(buf.audio.horizon - buf.audio.t_origin)
    _, r = locate(captured, sent)
    assert r > 0.995  # two resamplings (16k -> 48k in the server, 48k -> 16k here)
    # the pipe source sends nothing while nobody writes: what arrived is the chirp, at the right length
    assert len(captured) == pytest.approx(len(sent), rel=0.05)
    assert buf.stats().audio_gaps == 0


@pytest.mark.pulse
def test_unsupported_sample_rate_falls_back_or_is_a_clear_error(pulse_server):
    buf = LiveBuffer()
    mic = MicrophoneSource("pulse", samplerate=1_000_000)
    events = Events(mic)
    mic.start(buf)
    assert wait_for(lambda: mic.status().state == RUNNING, timeout=5), mic.status()
    mic.stop()
    assert "does not support 1000000 Hz; using its default" in events.messages("warning")[0]
    assert mic.status().audio_rate_hz == mic.info.default_rate_hz

    strict = MicrophoneSource("pulse", samplerate=1_000_000, strict_rate=True)
    strict.start(LiveBuffer())
    assert strict.join(5)
    assert strict.status().state == ERROR
    assert "does not support 1000000 Hz" in strict.status().message
    assert "choose that rate or leave the rate on automatic" in strict.status().message


@pytest.mark.pulse
def test_unknown_microphone_name_lists_what_exists(pulse_server):
    mic = MicrophoneSource("no-such-mic")
    mic.start(LiveBuffer())
    assert mic.join(5)
    assert mic.status().state == ERROR
    assert "no microphone name contains 'no-such-mic'" in mic.status().message
    assert "pulse" in mic.status().message


def test_no_microphone_is_a_clear_error_and_listing_is_empty(monkeypatch):
    monkeypatch.setattr(
        devices_mod, "_sounddevice", lambda: None
    )  # as on a machine without PortAudio devices
    assert list_microphones() == []
    mic = MicrophoneSource()
    events = Events(mic)
    mic.start(LiveBuffer())
    assert mic.join(5)
    assert mic.status().state == ERROR
    assert "no microphone" in events.messages("error")[0]


class FakeStream:
    """Stands in for sounddevice.InputStream: calls back with 20 ms blocks until 'unplugged'."""

    instances: typing.ClassVar[list] = []
    fail_opens = 0

    def __init__(self, *, samplerate, channels, blocksize, callback, **_):
        if FakeStream.fail_opens > 0:
            FakeStream.fail_opens -= 1
            raise OSError("device unavailable")
        self.rate, self.channels, self.blocksize, self.callback = samplerate, channels, blocksize, callback
        self.active = False
        self.unplugged = threading.Event()
        FakeStream.instances.append(self)

    def start(self):
        self.active = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        status = type("S", (), {"input_overflow": False})()
        block = np.full((self.blocksize, self.channels), 0.25, np.float32)
        while self.active and not self.unplugged.is_set():
            self.callback(block, self.blocksize, None, status)
            time.sleep(self.blocksize / self.rate)
        self.active = False  # what PortAudio reports when the device vanished

    def abort(self):
        self.active = False

    def close(self):
        pass


def test_microphone_unplugged_mid_run_reports_and_reconnects(monkeypatch):
    monkeypatch.setattr(microphone_mod, "RECONNECT_PERIOD_S", 0.05)
    FakeStream.instances = []
    buf = LiveBuffer()
    mic = MicrophoneSource(0, samplerate=16_000, stream_factory=FakeStream)
    events = Events(mic)
    mic.start(buf)
    assert wait_for(lambda: mic.status().audio_samples >= SR // 4)
    FakeStream.fail_opens = 6  # the device stays away for six reconnect attempts (> 0.3 s)
    FakeStream.instances[0].unplugged.set()
    assert wait_for(lambda: "reconnected" in events.kinds, timeout=5), events.kinds
    assert "unplugged" in events.messages("error")[0]
    before = mic.status().audio_samples
    assert wait_for(lambda: mic.status().audio_samples > before + SR // 10)
    mic.stop()
    assert events.kinds == ["started", "error", "reconnected", "stopped"]
    assert mic.status().reconnects == 1 and len(FakeStream.instances) == 2
    stats = buf.stats()
    assert stats.audio_gaps >= 1  # the time it was away is a gap, not silence


def test_microphone_callback_overflows_are_counted():
    class Overflowing(FakeStream):
        def _run(self):
            status = type("S", (), {"input_overflow": True})()
            block = np.zeros((self.blocksize, self.channels), np.float32)
            for _ in range(5):
                self.callback(block, self.blocksize, None, status)

    mic = MicrophoneSource(0, samplerate=16_000, stream_factory=Overflowing)
    mic.start(LiveBuffer())
    assert wait_for(lambda: mic.status().audio_overflows == 5, timeout=3), mic.status()
    mic.stop()


def test_portaudio_is_not_reinitialised_while_a_stream_is_open(monkeypatch):
    calls: list[str] = []

    class FakeSd:
        def _terminate(self):
            calls.append("terminate")

        def _initialize(self):
            calls.append("initialize")

    monkeypatch.setattr(devices_mod, "_sounddevice", lambda: FakeSd())
    assert devices_mod.rescan_audio_devices() is True
    assert calls == ["terminate", "initialize"]
    devices_mod.stream_opened()
    try:
        assert devices_mod.rescan_audio_devices() is False  # would close the open stream under its owner
        assert calls == ["terminate", "initialize"]
    finally:
        devices_mod.stream_closed()
    assert devices_mod.rescan_audio_devices() is True
