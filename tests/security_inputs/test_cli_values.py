"""Numbers on the command line: a bad value is a usage error (exit status 2) naming the option, the value and the
allowed range, before anything is opened, loaded or allocated; no value is silently replaced by a default."""

from __future__ import annotations

import argparse
import math

import pytest

import main
from core.cli_types import BATCH_SIZE, MAX_NEW_TOKENS, RUN_S, Range, hop_range, parse_or_exit, window_range
from desktop.app import run_app

MONITOR = ["monitor", "--model", "unused", "--source", "synthetic"]
ANALYZE = ["analyze", "unused.mp4", "--model", "unused"]
EVALUATE = ["evaluate", "unused", "--model", "unused"]
BAD = {  # option -> values that must be refused
    "--window": ["nan", "inf", "-1", "0", "0.49", "30.5", "1e9", "four"],
    "--hop": ["nan", "-2", "0", "0.01", "1e9"],
    "--duration": ["nan", "inf", "-1", "0", "1e300"],
    "--max-new-tokens": ["0", "-1", "1000000000", "2.5", "nan"],
    "--batch-size": ["0", "-3", "100000", "1.5"],
    "--limit": ["0", "-1", "1e3"],
    "--fold": ["0", "6", "x"],
    "--workers": ["0", "-1", "1.5", "1e9", "two"],  # with --ray: nan or inf would reach Ray as a resource request
    "--gpus-per-worker": ["nan", "inf", "-1", "1e9"],
    "--cpus-per-worker": ["nan", "inf", "-0.5", "1e9"],
}
EVALUATE_RAY = [*EVALUATE, "--ray"]
CASES = (
    [(MONITOR, opt, v) for opt in ("--window", "--hop", "--duration", "--max-new-tokens") for v in BAD[opt]]
    + [(ANALYZE, opt, v) for opt in ("--max-new-tokens", "--batch-size") for v in BAD[opt]]
    + [(EVALUATE, opt, v) for opt in ("--max-new-tokens", "--batch-size", "--limit", "--fold") for v in BAD[opt]]
    + [(EVALUATE_RAY, opt, v) for opt in ("--workers", "--gpus-per-worker", "--cpus-per-worker") for v in BAD[opt]]
)


@pytest.mark.parametrize(("base", "option", "value"), CASES, ids=[f"{b[0]}{o}={v}" for b, o, v in CASES])
def test_bad_numbers_are_usage_errors_naming_option_value_and_range(capsys, base, option, value):
    assert main.main([*base, f"{option}={value}"]) == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and value in err and "expected" in err and "[" in err and "]" in err


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "1e300", "soon"])
def test_the_apps_quit_after_is_bounded_too(capsys, value):
    assert run_app([f"--quit-after={value}"]) == 2
    err = capsys.readouterr().err
    assert "argument --quit-after:" in err and value in err and "(0, 604800]" in err


@pytest.mark.parametrize("value", ["99999", "a" * 300, "mic\x1b[2J"])
def test_the_microphone_option_is_bounded(capsys, value):
    assert run_app(["--mic", value]) == 2
    assert "argument --mic:" in capsys.readouterr().err
    assert main.main([*MONITOR, "--mic", value]) == 2


def test_good_values_pass_unchanged_and_zero_is_never_a_default():
    from core.commands import monitor

    parser = argparse.ArgumentParser()
    monitor.configure(parser)
    args = parser.parse_args(["--model", "m", "--window", "0.5", "--hop", "0.1", "--duration", "2.5",
                              "--max-new-tokens", "4096"])
    assert (args.window, args.hop, args.duration, args.max_new_tokens) == (0.5, 0.1, 2.5, 4096)
    assert parse_or_exit(parser, ["--model", "m", "--window", "0"]) == 2  # not the default 4 s


def test_ranges_reject_what_json_or_python_can_produce():
    for value in (math.nan, math.inf, -math.inf, True, "3", None, 10**400, [1]):
        assert value not in window_range() and value not in MAX_NEW_TOKENS
    assert 2.5 not in BATCH_SIZE and 3 in BATCH_SIZE and 0.0 not in RUN_S and 1e-9 in RUN_S
    assert hop_range().describe() == "seconds in [0.1, 3600]"
    assert Range(1, 10**7, integer=True, noun="a whole number of clips").describe() == \
        "a whole number of clips in [1, 10000000]"


def test_help_documents_the_exit_statuses(capsys):
    for command in ("analyze", "evaluate", "monitor", "download"):
        assert main.main([command, "--help"]) == 0
        assert "exit status: 0 done, 1 failed to do its job" in " ".join(capsys.readouterr().out.split())
