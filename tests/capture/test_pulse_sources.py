"""The sound server's microphones: listed by their own names, chosen by name (``--mic USB``), and captured from
the chosen one (not the server's default) through PortAudio's ``pulse`` device with PULSE_SOURCE per stream."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from core.capture import RUNNING, MicrophoneSource, pulse_sources
from core.capture import devices as devices_mod
from core.capture.devices import find_microphone, list_microphones
from core.ring_buffer import LiveBuffer
from core.sources import open_sources
from tests.capture.helpers import wait_for
from tests.capture.test_microphone import locate
from tests.support.media import chirp

USB_ID = "alsa_input.usb-Generic_USB_Microphone-00.mono-fallback"
USB_NAME = "USB Microphone"

PACTL_JSON = """[{"index":0,"name":"vspeaker.monitor","description":"Monitor of Null Output",
"sample_specification":"s16le 2ch 44100Hz","properties":{"device.class":"monitor"}},
{"index":1,"name":"alsa_input.usb-Generic_USB_Microphone-00.mono-fallback","description":"USB Microphone",
"sample_specification":"s16le 1ch 16000Hz","properties":{"device.description":"USB Microphone"}},
{"index":2,"name":"alsa_input.pci-0000_00_1f.3.analog-stereo","description":"Built-in Audio Analog Stereo",
"sample_specification":"s32le 2ch 48000Hz","properties":{"device.class":"sound"}}]"""

PACTL_TEXT = """Source #0
\tState: IDLE
\tName: vspeaker.monitor
\tDescription: Monitor of Null Output
\tSample Specification: s16le 2ch 44100Hz
\tProperties:
\t\tdevice.class = "monitor"

Source #1
\tState: SUSPENDED
\tName: alsa_input.usb-Generic_USB_Microphone-00.mono-fallback
\tDescription: USB Microphone
\tSample Specification: s16le 1ch 16000Hz
\tProperties:
\t\tdevice.description = "USB Microphone"
"""


def test_pactl_output_is_read_without_monitors():
    usb = pulse_sources.PulseSource(USB_ID, USB_NAME, 1, 16_000, True)
    from_json = pulse_sources.parse_json(PACTL_JSON, default=USB_ID)
    assert from_json[0] == usb and len(from_json) == 2
    assert from_json[1].description == "Built-in Audio Analog Stereo" and from_json[1].rate_hz == 48_000
    assert pulse_sources.parse_text(PACTL_TEXT, default=USB_ID) == [usb]
    assert pulse_sources.parse_json("not json", "") == [] and pulse_sources.parse_json('{"a": 1}', "") == []


def test_a_name_prefers_the_servers_source_and_keys_are_stable(monkeypatch):
    gateway = devices_mod.MicrophoneInfo(3, "pulse", "ALSA", 32, 44_100, False)
    hw = devices_mod.MicrophoneInfo(1, "USB Audio: - (hw:1,0)", "ALSA", 1, 48_000, False)
    source = devices_mod.MicrophoneInfo(3, USB_NAME, "PulseAudio", 1, 16_000, True, pulse_source=USB_ID)
    server_asked = []
    monkeypatch.setattr(devices_mod, "_portaudio_microphones", lambda: [hw, gateway])
    monkeypatch.setattr(devices_mod, "_server_microphones", lambda portaudio: server_asked.append(1) or [source])
    assert devices_mod.list_microphones() == [hw, gateway, source]
    assert find_microphone("usb") == source  # the same hardware, held by the server
    assert find_microphone(f"pulse:{USB_ID}") == source and source.key == f"pulse:{USB_ID}"
    server_asked.clear()
    assert find_microphone(3) == gateway and find_microphone("1") == hw
    assert not server_asked  # an index is PortAudio's: found without running pactl
    assert find_microphone("pulse") == gateway
    with pytest.raises(devices_mod.SourceError, match=f"no microphone with index 7; available: 1: USB Audio.*, "
                                                      f"3: pulse, pulse:{USB_ID}: {USB_NAME}"):
        find_microphone(7)
    with pytest.raises(devices_mod.SourceError, match="has no source 'gone'"):
        find_microphone("pulse:gone")


@pytest.mark.pulse
def test_mic_name_selects_the_usb_source_and_captures_its_signal(pulse_server):
    fd = pulse_server.add_source(USB_ID, USB_NAME)
    mics = list_microphones()
    usb = [m for m in mics if m.pulse_source == USB_ID]
    assert usb and usb[0].name == USB_NAME and usb[0].hostapi == "PulseAudio", mics
    assert os.environ["PULSE_SOURCE"] == "vmic"  # the server default the helper set: not what we want to hear

    mic = open_sources("camera", mic="USB").audio  # what `--mic USB` builds
    assert isinstance(mic, MicrophoneSource)
    buf = LiveBuffer()
    mic.start(buf)
    try:
        assert wait_for(lambda: mic.status().state == RUNNING, timeout=5), mic.status()
        assert mic.info.pulse_source == USB_ID and os.environ["PULSE_SOURCE"] == "vmic"  # restored after open
        assert mic.status().message.startswith(USB_NAME)  # what the Mic box and status bar name
        time.sleep(0.3)
        sent = chirp(1.5)
        other = pulse_server.feed(np.sin(np.arange(len(sent)) * 0.05).astype(np.float32) * 0.5)  # into vmic
        pulse_server.feed(sent, fd=fd).join()
        other.join()
        time.sleep(0.4)
    finally:
        mic.stop()
    captured = buf.recent_audio(buf.audio.horizon - buf.audio.t_origin)
    k, r = locate(captured, sent)
    assert r > 0.9999, r  # the USB source's chirp, bit-exact up to 16-bit quantisation, not vmic's tone
    assert np.abs(captured[k : k + len(sent)] - sent).max() < 2 / 32767
