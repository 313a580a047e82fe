"""Attribution through a live session: asked for a recent window, logged beside it in the recording; and in a file
run with automatic attribution, every window attributed before the next one is cut."""

from __future__ import annotations

import json
import threading

import pytest

from core.attribution import AUTO_ON
from core.engine import AnalysisParams
from core.pipeline import LiveSession
from core.session import layout
from tests.core.test_attribution import VoiceModel
from tests.core.test_pipeline import Collect, _synthetic, _wait, loaded_worker


class Attributions(Collect):
    def __init__(self):
        super().__init__()
        self.attributions = []
        self.done = threading.Event()

    def attribution_ready(self, window_id, attribution):
        self.attributions.append(attribution)
        self.done.set()


def _log(folder):
    return [json.loads(line) for line in (folder / layout.EVENTS).read_text().splitlines()]


def test_a_recent_window_is_attributed_on_demand_and_logged_beside_it(tmp_path):
    rec = Attributions()
    worker = loaded_worker(VoiceModel(), AnalysisParams(max_new_tokens=8), warm_up=False)
    session = LiveSession(_synthetic(), None, rec, window_s=1.0, hop_s=0.5, worker=worker)
    session.start()
    assert session.start_recording(str(tmp_path / "rec"))
    assert _wait(lambda: len(rec.results) >= 2)
    session.stop_capture()  # monitoring stopped: the device is free, the window is still kept
    wanted = rec.results[-1][0].window_id
    assert session.request_attribution(wanted)
    assert not session.request_attribution(10_000)  # never analysed: nothing kept
    assert rec.done.wait(10)
    assert session.stop() and worker.stop()
    a = rec.attributions[0]
    assert a.window_id == wanted and a.summary() == "the voice changed fear → angry"
    logged = [e for e in _log(tmp_path / "rec") if e["type"] == "attribution"]
    assert len(logged) == 1 and logged[0]["window_id"] == wanted
    assert logged[0]["summary"] == "the voice changed fear → angry" and logged[0]["video_only"]["label"] == "fear"
    window_line = next(e for e in _log(tmp_path / "rec") if e["type"] == "window" and e["window_id"] == wanted)
    assert window_line["seq"] < logged[0]["seq"] and logged[0]["t0"] == window_line["t0"]


def test_every_window_of_a_file_is_attributed_when_automatic(tmp_path):
    from core.capture.media_file import MediaFileSource
    from core.clock import FakeClock
    from core.sources import DEMO_CLIP

    rec = Attributions()
    worker = loaded_worker(VoiceModel(), AnalysisParams(max_new_tokens=8), warm_up=False)
    worker.set_auto_attribution(AUTO_ON)
    source = MediaFileSource(DEMO_CLIP, realtime=True)
    session = LiveSession(source, source, rec, window_s=4.0, hop_s=4.0, clock=FakeClock(), worker=worker)
    assert session.start_recording(str(tmp_path / "rec"))
    cut = session.analyze_every_window()
    assert session.stop() and worker.stop()
    assert cut == 3 and [a.window_id for a in rec.attributions] == [0, 1, 2]
    types = [(e["type"], e.get("window_id")) for e in _log(tmp_path / "rec") if e["type"] in ("window", "attribution")]
    # each window's attribution is logged before the next window: the file run waited for it
    assert types == [("window", 0), ("attribution", 0), ("window", 1), ("attribution", 1), ("window", 2),
                     ("attribution", 2)]
    assert session.stats().worker.attributed == 3 and session.stats().worker.attributions_yielded == 0


@pytest.mark.slow
def test_monitor_prints_and_records_attributions_of_every_window(tmp_path):
    import subprocess
    import sys

    from tests.conftest import PARITY_DIR, ROOT

    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "monitor", "--source", str(PARITY_DIR / "clips" / "clip_a.mp4"),
         "--model", str(PARITY_DIR / "checkpoint"), "--window", "1", "--hop", "1", "--max-new-tokens", "4",
         "--no-warmup", "--every-window", "--attribution", "on", "--record", str(tmp_path / "rec")],
        check=False, capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line]
    results = [x for x in lines if "type" not in x]
    attributions = [x for x in lines if x.get("type") == "attribution"]
    assert len(results) == 3 and [a["window_id"] for a in attributions] == [r["window_id"] for r in results]
    for a, r in zip(attributions, results):
        assert a["video_only"]["modal"] == "video" and a["audio_visual"]["text"] == r["text"]
        assert a["seconds"] > 0 and a["summary"].startswith(("the voice changed", "the voice kept"))
    logged = [e for e in _log(tmp_path / "rec") if e["type"] == "attribution"]
    assert [e["window_id"] for e in logged] == [r["window_id"] for r in results]
