"""Metrics against hand computations and an independent loop implementation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.evaluation.metrics import UNPARSED_COLUMN, compute_metrics

LABELS = ("happy", "sad", "angry", "fear")


def test_hand_case_with_unparsed_out_of_set_and_empty_class():
    truth = ["happy", "happy", "happy", "sad", "sad", "angry"]
    pred = ["happy", "sad", None, "sad", "bored", "happy"]
    m = compute_metrics(truth, pred, LABELS)
    # happy 1/3, sad 1/2, angry 0/1 (never predicted correctly), fear has no support
    assert m.recall == pytest.approx((1 / 3, 1 / 2, 0.0, None))
    assert m.recall[3] is None
    assert m.uar == pytest.approx(5 / 18)  # (1/3 + 1/2 + 0) / 3: fear is not averaged in
    assert m.war == pytest.approx(1 / 3)  # 2 correct of 6
    assert m.support == (3, 2, 1, 0)
    assert m.predicted == (2, 2, 0, 0)  # angry and fear were never predicted
    assert m.n == 6 and m.n_unparsed == 2
    assert m.unparsed_share == pytest.approx(1 / 3)
    assert m.columns[-1] == UNPARSED_COLUMN
    assert m.confusion.tolist() == [
        [1, 1, 0, 0, 1],
        [0, 1, 0, 0, 1],
        [1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]


def test_prediction_of_a_class_without_support_counts_as_wrong():
    m = compute_metrics(["sad", "sad"], ["fear", "sad"], LABELS)
    assert m.recall[1] == 0.5 and m.recall[3] is None
    assert m.uar == pytest.approx(0.5) and m.war == pytest.approx(0.5)
    assert m.confusion[1].tolist() == [0, 1, 0, 1, 0]
    assert m.predicted == (0, 1, 0, 1)


def test_uar_differs_from_war_on_imbalanced_data():
    # 9 happy all right, 1 sad wrong: WAR 0.9, UAR (1 + 0) / 2
    m = compute_metrics(["happy"] * 9 + ["sad"], ["happy"] * 9 + [None], LABELS)
    assert m.war == pytest.approx(0.9)
    assert m.uar == pytest.approx(0.5)


def _loop_metrics(truth, pred, labels):
    """Independent reference: plain loops, no numpy."""
    recalls = {}
    for c in labels:
        idx = [i for i, t in enumerate(truth) if t == c]
        if idx:
            recalls[c] = sum(pred[i] == c for i in idx) / len(idx)
    uar = sum(recalls.values()) / len(recalls)
    war = sum(len([t for t in truth if t == c]) / len(truth) * r for c, r in recalls.items())
    acc = sum(t == p for t, p in zip(truth, pred)) / len(truth)
    return recalls, uar, war, acc


@pytest.mark.parametrize("seed", range(5))
def test_random_cases_match_loop_reference(seed):
    rng = random.Random(seed)
    truth = [rng.choice(LABELS[:3]) for _ in range(200)]
    pred = [rng.choice([*LABELS, None, "calm"]) for _ in range(200)]
    m = compute_metrics(truth, pred, LABELS)
    recalls, uar, war, acc = _loop_metrics(truth, pred, LABELS)
    for lab, r in zip(LABELS, m.recall):
        assert r == pytest.approx(recalls.get(lab)) if lab in recalls else r is None
    assert m.uar == pytest.approx(uar)
    assert m.war == pytest.approx(war) and m.war == pytest.approx(acc)
    assert m.confusion.sum() == 200
    assert m.n_unparsed == sum(p not in LABELS for p in pred)
    for i, t in enumerate(LABELS):
        for j, p in enumerate(LABELS):
            assert m.confusion[i, j] == sum(a == t and b == p for a, b in zip(truth, pred))


def test_to_dict_is_json_ready():
    import json

    d = compute_metrics(["sad"], ["sad"], LABELS).to_dict()
    assert json.loads(json.dumps(d))["per_class"]["fear"]["recall"] is None
    assert d["confusion"]["counts"][1][1] == 1


def test_empty_run_has_no_rates():
    m = compute_metrics([], [], LABELS)
    assert (m.n, m.uar, m.war, m.unparsed_share) == (0, None, None, None)
    assert m.confusion.shape == (4, 5) and not np.any(m.confusion)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="calm"):
        compute_metrics(["calm"], ["calm"], LABELS)
    with pytest.raises(ValueError, match="1 ground-truth labels but 2"):
        compute_metrics(["sad"], ["sad", "sad"], LABELS)
