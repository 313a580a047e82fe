"""How sure a difference is: bootstrap confidence intervals of UAR / WAR / per-class recall, and McNemar's test
between two runs on the same clips.

**Bootstrap.** The clips of a run are resampled with replacement ``BOOTSTRAP_RESAMPLES`` times (a numpy
``default_rng(BOOTSTRAP_SEED)``, so a report is reproducible); each resample is scored with the definitions of
``core.evaluation.metrics`` (UAR over the classes present in the resample, WAR = accuracy, recall per class), and
the interval is the percentile interval of those scores at ``CONFIDENCE`` (numpy's linear-interpolation quantiles
at (1 - level) / 2 and 1 - (1 - level) / 2). A class absent from a resample has no recall there; its interval is
taken over the resamples that hold it. With few clips per class the intervals are wide, as they should be.

**Paired difference.** For two runs on the same clips, each resample draws the same clips for both, and the
interval of (A − B) for UAR and WAR says how large the difference plausibly is (McNemar says whether it is there).

**McNemar.** Two runs (say video-only and audio-visual) are paired on the clips both scored; what matters are the
discordant clips, right in one run and wrong in the other (``a_only``, ``b_only``). With at most
``EXACT_MAX_DISCORDANT`` of them the two-sided exact binomial test is used (p = 2 · P(X ≤ min) for
X ~ Binomial(a_only + b_only, 1/2), capped at 1); above it the chi-square statistic with continuity correction,
(|a_only − b_only| − 1)² / (a_only + b_only), on one degree of freedom. No scipy: both need only ``math``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 2000  # enough for the 2.5 % / 97.5 % percentiles to settle to about ±0.5 point
BOOTSTRAP_SEED = 20240601
CONFIDENCE = 0.95
EXACT_MAX_DISCORDANT = 25  # up to this many discordant clips the exact binomial test, above it chi-square
_CHUNK_RESAMPLES = 100  # resamples scored at once (memory: chunk x clips int64)


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, float | None]:
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class Bootstrap:
    """Percentile intervals of one run's metrics (fractions in [0, 1]); ``recall`` in the labels' order."""

    labels: tuple[str, ...]
    uar: Interval
    war: Interval
    recall: tuple[Interval, ...]
    resamples: int
    seed: int | None
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "percentile bootstrap over clips",
            "resamples": self.resamples,
            "seed": self.seed,
            "level": self.level,
            "uar": self.uar.to_dict(),
            "war": self.war.to_dict(),
            "recall": {lab: iv.to_dict() for lab, iv in zip(self.labels, self.recall)},
        }


def _quantiles(values: np.ndarray, level: float) -> Interval:
    """Percentile interval of ``values`` (float [B], NaN = undefined in that resample, skipped)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return Interval(None, None)
    lo, hi = np.quantile(v, [(1 - level) / 2, 1 - (1 - level) / 2])
    return Interval(float(lo), float(hi))


def _score(rows: np.ndarray, correct: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UAR [B], WAR [B] and recall [B, k] (NaN without support) of resamples given as truth-row indices
    ``rows`` int64 [B, n] and correctness ``correct`` bool [B, n]."""
    b = rows.shape[0]
    flat = (np.arange(b)[:, None] * k + rows).ravel()
    support = np.bincount(flat, minlength=b * k).reshape(b, k)
    hits = np.bincount(flat, weights=correct.ravel().astype(np.float64), minlength=b * k).reshape(b, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
    uar = np.nanmean(recall, axis=1)
    war = correct.mean(axis=1)
    return uar, war, recall


def resample_chunks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """``resamples`` draws of ``n`` clip indices with replacement, as int64 arrays [<= 100, n] (bounded memory)."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK_RESAMPLES):
        yield rng.integers(0, n, size=(min(_CHUNK_RESAMPLES, resamples - start), n))


def bootstrap_from_indices(rows: np.ndarray, correct: np.ndarray, labels: Sequence[str],
                           resample_indices: Iterable[np.ndarray], level: float = CONFIDENCE,
                           seed: int | None = None) -> Bootstrap:
    """Intervals over the given resamples. ``rows``: int64 [n] truth class of each clip (index into ``labels``);
    ``correct``: bool [n]; ``resample_indices``: int arrays [B_i, n] of clip indices (chunks of resamples)."""
    rows = np.asarray(rows, np.int64)
    correct = np.asarray(correct, bool)
    k = len(labels)
    uars, wars, recalls = [], [], []
    for idx in resample_indices:
        idx = np.asarray(idx, np.int64)
        u, w, r = _score(rows[idx], correct[idx], k)
        uars.append(u)
        wars.append(w)
        recalls.append(r)
    if not uars:
        raise ValueError("no resamples")
    uar, war, recall = np.concatenate(uars), np.concatenate(wars), np.concatenate(recalls)
    return Bootstrap(tuple(labels), _quantiles(uar, level), _quantiles(war, level),
                     tuple(_quantiles(recall[:, c], level) for c in range(k)), len(uar), seed, level)


def bootstrap_metrics(truth: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str],
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                      level: float = CONFIDENCE) -> Bootstrap | None:
    """Bootstrap intervals of UAR, WAR and per-class recall (definitions of ``compute_metrics``; a missing or
    out-of-set prediction is wrong). None when there are no clips."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} ground-truth labels but {len(predicted)} predictions")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError("resamples must be >= 1 and the level within (0, 1)")
    n = len(truth)
    if n == 0:
        return None
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({t for t in truth if t not in index})
    if unknown:
        raise ValueError(f"ground-truth labels {unknown} are not in the label set {list(labels)}")
    rows = np.array([index[t] for t in truth], np.int64)
    correct = np.array([p == t for t, p in zip(truth, predicted)], bool)
    return bootstrap_from_indices(rows, correct, labels, resample_chunks(n, resamples, seed), level, seed)


@dataclass(frozen=True)
class Difference:
    """Percentile intervals of run A minus run B on resamples that draw the same clips for both."""

    uar: Interval
    war: Interval
    resamples: int
    seed: int | None
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {"method": "paired percentile bootstrap over clips", "resamples": self.resamples, "seed": self.seed,
                "level": self.level, "uar": self.uar.to_dict(), "war": self.war.to_dict()}


def difference_from_indices(rows: np.ndarray, correct_a: np.ndarray, correct_b: np.ndarray, k: int,
                            resample_indices: Iterable[np.ndarray], level: float = CONFIDENCE,
                            seed: int | None = None) -> Difference:
    """Intervals of A − B over the given resamples (``rows`` int64 [n] truth classes, ``correct_*`` bool [n])."""
    rows = np.asarray(rows, np.int64)
    ca, cb = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    du, dw = [], []
    for idx in resample_indices:
        idx = np.asarray(idx, np.int64)
        ua, wa, _ = _score(rows[idx], ca[idx], k)
        ub, wb, _ = _score(rows[idx], cb[idx], k)
        du.append(ua - ub)
        dw.append(wa - wb)
    if not du:
        raise ValueError("no resamples")
    u, w = np.concatenate(du), np.concatenate(dw)
    return Difference(_quantiles(u, level), _quantiles(w, level), len(u), seed, level)


def bootstrap_difference(truth: Sequence[str], predicted_a: Sequence[str | None],
                         predicted_b: Sequence[str | None], labels: Sequence[str],
                         resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                         level: float = CONFIDENCE) -> Difference | None:
    """Paired bootstrap intervals of UAR(A) − UAR(B) and WAR(A) − WAR(B) on the same clips (None without any)."""
    if not len(truth) == len(predicted_a) == len(predicted_b):
        raise ValueError("the two runs must be paired on the same clips (same length, same order)")
    n = len(truth)
    if n == 0:
        return None
    index = {lab: i for i, lab in enumerate(labels)}
    if any(t not in index for t in truth):
        raise ValueError(f"ground-truth labels outside the label set {list(labels)}")
    rows = np.array([index[t] for t in truth], np.int64)
    ca = np.array([p == t for t, p in zip(truth, predicted_a)], bool)
    cb = np.array([p == t for t, p in zip(truth, predicted_b)], bool)
    return difference_from_indices(rows, ca, cb, len(labels), resample_chunks(n, resamples, seed), level, seed)


@dataclass(frozen=True)
class McNemar:
    """Paired comparison of runs A and B on ``n`` clips both scored."""

    n: int
    both_right: int
    a_only: int  # right in A, wrong in B
    b_only: int  # wrong in A, right in B
    both_wrong: int
    method: str  # "exact binomial" | "chi-square, continuity corrected" | "no discordant clips"
    statistic: float | None  # chi-square value (None for the exact test)
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "both_right": self.both_right, "a_only": self.a_only, "b_only": self.b_only,
                "both_wrong": self.both_wrong, "method": self.method, "statistic": self.statistic,
                "p_value": self.p_value}


def exact_binomial_p(a_only: int, b_only: int) -> float:
    """Two-sided exact p of ``a_only`` against ``b_only`` discordant clips under H0: p = 1/2."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemar:
    """McNemar's test on per-clip correctness of two runs (same clips, same order)."""
    if len(correct_a) != len(correct_b):
        raise ValueError(f"{len(correct_a)} clips in A but {len(correct_b)} in B: pair them first")
    a = np.asarray(correct_a, bool)
    b = np.asarray(correct_b, bool)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    both_right, both_wrong = int(np.sum(a & b)), int(np.sum(~a & ~b))
    d = a_only + b_only
    if d == 0:
        return McNemar(len(a), both_right, 0, 0, both_wrong, "no discordant clips", None, 1.0)
    if d <= EXACT_MAX_DISCORDANT:
        return McNemar(len(a), both_right, a_only, b_only, both_wrong, "exact binomial", None,
                       exact_binomial_p(a_only, b_only))
    stat = (abs(a_only - b_only) - 1) ** 2 / d
    p = math.erfc(math.sqrt(stat / 2))  # chi-square survival function with one degree of freedom
    return McNemar(len(a), both_right, a_only, b_only, both_wrong, "chi-square, continuity corrected", stat, p)


def paired_correctness(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]],
                       scored: str = "ok") -> tuple[list[str], list[bool], list[bool]]:
    """Clips scored in both runs (records by key, ``status == scored``, with a ground truth), in key order, and
    whether each run got each right (a missing or out-of-set prediction is wrong)."""
    keys = sorted(k for k in a.keys() & b.keys()
                  if a[k].get("status") == scored and b[k].get("status") == scored
                  and a[k].get("truth") is not None and a[k].get("truth") == b[k].get("truth"))
    ca = [a[k].get("prediction") == a[k]["truth"] for k in keys]
    cb = [b[k].get("prediction") == b[k]["truth"] for k in keys]
    return keys, ca, cb
