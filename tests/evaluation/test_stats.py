"""Bootstrap intervals and McNemar's test against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.evaluation import stats


def test_bootstrap_on_given_resamples_matches_hand_computation():
    # clips: truth a, a, b, b; right, wrong, right, right
    rows, correct = np.array([0, 0, 1, 1]), np.array([True, False, True, True])
    resamples = [np.array([[0, 1, 2, 3],    # recall a 1/2, b 2/2 -> UAR 0.75, WAR 0.75
                           [0, 0, 2, 2]]),  # a 1, b 1 -> UAR 1, WAR 1
                 np.array([[1, 1, 1, 3],    # a 0/3, b 1/1 -> UAR 0.5, WAR 0.25
                           [0, 0, 0, 0]])]  # a 1, b absent -> UAR 1 (only a present), WAR 1
    ci = stats.bootstrap_from_indices(rows, correct, ("a", "b"), resamples, level=0.5)
    # 25 % / 75 % linear quantiles of four values sit at positions 0.75 and 2.25 of the sorted list
    assert ci.uar == stats.Interval(0.5 + 0.75 * 0.25, 1.0)  # sorted 0.5 0.75 1 1
    assert ci.war == stats.Interval(0.25 + 0.75 * 0.5, 1.0)  # sorted 0.25 0.75 1 1
    assert ci.recall[0] == stats.Interval(0.375, 1.0)  # sorted 0 0.5 1 1
    assert ci.recall[1] == stats.Interval(1.0, 1.0)  # the resample without b is skipped
    assert ci.resamples == 4


def test_two_clips_one_right_follow_the_exact_distribution():
    """WAR of a resample of (right, wrong) is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4: the 95 % interval is
    [0, 1] and the 40 % interval (30th to 70th percentile) is the single value 0.5."""
    ci95 = stats.bootstrap_metrics(["a", "a"], ["a", "b"], ["a", "b"])
    assert ci95.war == stats.Interval(0.0, 1.0)
    ci40 = stats.bootstrap_metrics(["a", "a"], ["a", "b"], ["a", "b"], level=0.4)
    assert ci40.war == stats.Interval(0.5, 0.5)


def test_perfect_and_hopeless_runs_have_degenerate_intervals():
    truth = ["a", "b", "c"] * 5
    perfect = stats.bootstrap_metrics(truth, truth, ["a", "b", "c"])
    assert perfect.uar == perfect.war == stats.Interval(1.0, 1.0)
    hopeless = stats.bootstrap_metrics(truth, [None] * 15, ["a", "b", "c"])
    assert hopeless.uar == hopeless.war == stats.Interval(0.0, 0.0)


def test_accuracy_interval_agrees_with_the_normal_approximation():
    """400 clips at 70 %: the interval is 0.70 ± 1.96 · sqrt(0.7 · 0.3 / 400) = ± 0.0449, to about a point."""
    truth = ["a"] * 400
    predicted = ["a"] * 280 + ["b"] * 120
    ci = stats.bootstrap_metrics(truth, predicted, ["a", "b"])
    half = 1.96 * math.sqrt(0.7 * 0.3 / 400)
    assert ci.war.low == pytest.approx(0.7 - half, abs=0.01)
    assert ci.war.high == pytest.approx(0.7 + half, abs=0.01)
    assert ci.recall[1] == stats.Interval(None, None)  # b never occurs in the truth


def test_bootstrap_is_reproducible_and_seeded():
    rng = np.random.default_rng(1)
    truth = list(rng.choice(["a", "b", "c"], 60))
    predicted = [t if rng.random() < 0.6 else "a" for t in truth]
    one = stats.bootstrap_metrics(truth, predicted, ["a", "b", "c"])
    two = stats.bootstrap_metrics(truth, predicted, ["a", "b", "c"])
    other = stats.bootstrap_metrics(truth, predicted, ["a", "b", "c"], seed=7)
    assert one == two
    assert one.uar != other.uar
    assert one.resamples == stats.BOOTSTRAP_RESAMPLES and one.to_dict()["seed"] == stats.BOOTSTRAP_SEED


def test_bootstrap_rejects_bad_input():
    assert stats.bootstrap_metrics([], [], ["a"]) is None
    with pytest.raises(ValueError, match="not in the label set"):
        stats.bootstrap_metrics(["z"], ["z"], ["a"])
    with pytest.raises(ValueError, match="predictions"):
        stats.bootstrap_metrics(["a"], [], ["a"])


# ---- McNemar ---------------------------------------------------------------------------------------------------
def _pairs(a_only, b_only, both_right=0, both_wrong=0):
    a = [True] * a_only + [False] * b_only + [True] * both_right + [False] * both_wrong
    b = [False] * a_only + [True] * b_only + [True] * both_right + [False] * both_wrong
    return a, b


def test_mcnemar_exact_small_counts():
    # 5 against 1: p = 2 · (C(6,0) + C(6,1)) / 2^6 = 2 · 7 / 64
    r = stats.mcnemar(*_pairs(5, 1, both_right=10, both_wrong=4))
    assert (r.n, r.a_only, r.b_only, r.both_right, r.both_wrong) == (20, 5, 1, 10, 4)
    assert r.method == "exact binomial" and r.p_value == 14 / 64
    # 3 against 3: the doubled tail exceeds 1 and is capped
    assert stats.mcnemar(*_pairs(3, 3)).p_value == 1.0
    # 20 against 5 (25 discordant, still exact): 2 · (1 + 25 + 300 + 2300 + 12650 + 53130) / 2^25
    r = stats.mcnemar(*_pairs(20, 5))
    assert r.method == "exact binomial" and r.p_value == 2 * 68406 / 2**25


def test_mcnemar_chi_square_above_the_exact_limit():
    r = stats.mcnemar(*_pairs(40, 20))
    assert r.method == "chi-square, continuity corrected"
    assert r.statistic == pytest.approx(19**2 / 60)
    assert r.p_value == pytest.approx(0.01417, abs=2e-4)  # chi-square table, 1 df, 6.017


def test_chi_square_tail_matches_the_table():
    """The 5 % critical value of chi-square with one degree of freedom is 3.8415."""
    assert math.erfc(math.sqrt(3.841459 / 2)) == pytest.approx(0.05, abs=1e-6)


def test_mcnemar_without_discordant_clips():
    r = stats.mcnemar(*_pairs(0, 0, both_right=3, both_wrong=2))
    assert r.p_value == 1.0 and r.method == "no discordant clips"
    with pytest.raises(ValueError, match="pair them"):
        stats.mcnemar([True], [True, False])


def test_pairing_uses_clips_scored_in_both_runs():
    a = {"x": {"status": "ok", "truth": "sad", "prediction": "sad"},
         "y": {"status": "ok", "truth": "sad", "prediction": None},  # unparsed: wrong
         "z": {"status": "model_error", "truth": "sad", "prediction": None},
         "w": {"status": "ok", "truth": "happy", "prediction": "happy"}}
    b = {"x": {"status": "ok", "truth": "sad", "prediction": "angry"},
         "y": {"status": "ok", "truth": "sad", "prediction": "sad"},
         "z": {"status": "ok", "truth": "sad", "prediction": "sad"}}
    keys, ca, cb = stats.paired_correctness(a, b)
    assert keys == ["x", "y"] and ca == [True, False] and cb == [False, True]


def test_paired_difference_on_given_resamples():
    # truth a, a, b; run A right, right, wrong; run B wrong, right, right
    rows = np.array([0, 0, 1])
    ca, cb = np.array([True, True, False]), np.array([False, True, True])
    resamples = [np.array([[0, 1, 2],    # A: UAR (1 + 0)/2 = 0.5, WAR 2/3; B: (0.5 + 1)/2 = 0.75, WAR 2/3
                           [0, 0, 0]])]  # A: UAR 1, WAR 1; B: UAR 0, WAR 0
    d = stats.difference_from_indices(rows, ca, cb, 2, resamples, level=0.5)
    # two values each: the 25 % / 75 % quantiles sit a quarter of the way from each end
    assert d.uar.low == pytest.approx(-0.25 + 0.25 * 1.25) and d.uar.high == pytest.approx(-0.25 + 0.75 * 1.25)
    assert d.war.low == pytest.approx(0.25) and d.war.high == pytest.approx(0.75)


def test_identical_runs_differ_by_nothing():
    truth = ["a", "b", "c", "a"] * 10
    predicted = ["a", "c", "c", None] * 10
    d = stats.bootstrap_difference(truth, predicted, predicted, ["a", "b", "c"])
    assert d.uar == d.war == stats.Interval(0.0, 0.0)
    assert stats.bootstrap_difference([], [], [], ["a"]) is None
