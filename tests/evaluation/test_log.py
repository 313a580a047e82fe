from __future__ import annotations

import json

import pytest

from core.evaluation.log import LogMismatch, ResultLog, read_log

SETTINGS = {"instruction": "q", "labels": "dfew", "max_new_tokens": 8, "modal": "video_audio", "model": "m"}


def test_log_round_trip_and_later_record_wins(tmp_path):
    p = tmp_path / "r.jsonl"
    log = ResultLog(p)
    assert log.open(SETTINGS) == {}
    log.append({"key": "a", "status": "model_error"})
    log.append({"key": "b", "status": "ok"})
    log.append({"key": "a", "status": "ok"})
    log.close()
    settings, records, good = read_log(p)
    assert settings["instruction"] == "q" and settings["record"] == "run"
    assert {k: r["status"] for k, r in records.items()} == {"a": "ok", "b": "ok"}
    assert good == p.stat().st_size
    assert len(p.read_text().splitlines()) == 4


@pytest.mark.parametrize("tail", [b'{"record": "clip", "key": "c", "sta', b'{"record": "clip", "key": "c"}',
                                  b'{"record": "clip", "ke\n'])
def test_torn_last_line_is_cut_on_reopen(tmp_path, tail):
    p = tmp_path / "r.jsonl"
    log = ResultLog(p)
    log.open(SETTINGS)
    log.append({"key": "a", "status": "ok"})
    log.close()
    intact = p.read_bytes()
    p.write_bytes(intact + tail)
    reopened = ResultLog(p)
    records = reopened.open(SETTINGS)
    reopened.close()
    assert set(records) == {"a"}
    assert p.read_bytes() == intact  # the torn write is gone, nothing else touched


def test_damage_in_the_middle_is_an_error(tmp_path):
    p = tmp_path / "r.jsonl"
    run_line = json.dumps({"record": "run", **SETTINGS})
    clip_line = json.dumps({"record": "clip", "key": "a"})
    p.write_text(f"{run_line}\nGARBAGE\n{clip_line}\n")
    with pytest.raises(ValueError, match=r"r.jsonl:2"):
        ResultLog(p).open(SETTINGS)


def test_resuming_with_other_settings_is_refused_and_changes_nothing(tmp_path):
    p = tmp_path / "r.jsonl"
    log = ResultLog(p)
    log.open(SETTINGS)
    log.append({"key": "a", "status": "ok"})
    log.close()
    before = p.read_bytes()
    with pytest.raises(LogMismatch, match="instruction"):
        ResultLog(p).open({**SETTINGS, "instruction": "other"})
    assert p.read_bytes() == before
    p2 = tmp_path / "foreign.jsonl"
    p2.write_text('{"key": "x"}\n')
    with pytest.raises(LogMismatch, match="no run record"):
        ResultLog(p2).open(SETTINGS)
