"""Classification metrics of an emotion evaluation: per-class recall, UAR, WAR, confusion matrix.

Definitions follow the R1-Omni / HumanOmni evaluation (model-spec §5), with the answer extracted
properly first (see ``core.evaluation.scoring``):

- recall_c = correct_c / support_c for every class c with support_c > 0 (``None`` otherwise);
- UAR = mean of recall_c over the classes present in the ground truth;
- WAR = Σ_c (support_c / N) · recall_c = overall accuracy;
- a prediction that is missing (unparseable answer) or outside the label set counts as wrong and
  lands in the extra last column of the confusion matrix, ``UNPARSED_COLUMN``.

Pure numpy; no sklearn. All rates are fractions in [0, 1] (reports multiply by 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

UNPARSED_COLUMN = "unparsed/out-of-set"


@dataclass(frozen=True)
class Metrics:
    """Metrics of one run. ``confusion`` is int64 [K, K+1]: rows = truth, columns = prediction
    in ``labels`` order plus the unparsed/out-of-set column."""

    labels: tuple[str, ...]
    support: tuple[int, ...]  # clips per true class, in ``labels`` order
    predicted: tuple[int, ...]  # clips predicted as each class, in ``labels`` order
    recall: tuple[float | None, ...]  # None where the class has no support
    uar: float | None  # None when there are no clips
    war: float | None
    n: int  # clips scored
    n_unparsed: int  # predictions missing or outside the label set
    confusion: np.ndarray

    @property
    def unparsed_share(self) -> float | None:
        return self.n_unparsed / self.n if self.n else None

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.labels, UNPARSED_COLUMN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "uar": self.uar,
            "war": self.war,
            "accuracy": self.war,
            "n_unparsed": self.n_unparsed,
            "unparsed_share": self.unparsed_share,
            "labels": list(self.labels),
            "per_class": {
                lab: {"support": s, "predicted": p, "recall": r}
                for lab, s, p, r in zip(self.labels, self.support, self.predicted, self.recall)
            },
            "confusion": {"rows": list(self.labels), "columns": list(self.columns),
                          "counts": self.confusion.tolist()},
        }


def compute_metrics(
    truth: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str]
) -> Metrics:
    """Score predictions against ground truth over the label set ``labels`` (order kept).

    ``truth[i]`` must be a member of ``labels``; ``predicted[i]`` may be ``None`` (unparseable
    answer) or any string (outside the set = wrong, counted in the unparsed column).
    """
    labels = tuple(labels)
    if len(set(labels)) != len(labels):
        raise ValueError(f"label set has duplicates: {labels}")
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} ground-truth labels but {len(predicted)} predictions")
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({t for t in truth if t not in index})
    if unknown:
        raise ValueError(
            f"ground-truth labels {unknown} are not in the label set {list(labels)}; "
            "choose the matching label set (--labels dfew|mafw|ravdess|FILE)"
        )
    k = len(labels)
    rows = np.fromiter((index[t] for t in truth), dtype=np.int64, count=len(truth))
    cols = np.fromiter(
        (index.get(p, k) if p is not None else k for p in predicted), dtype=np.int64, count=len(predicted)
    )
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(confusion, (rows, cols), 1)

    support = confusion.sum(axis=1)
    correct = np.diag(confusion[:, :k])
    present = support > 0
    recall = [float(c / s) if s else None for c, s in zip(correct, support)]
    n = int(support.sum())
    uar = float(np.mean(correct[present] / support[present])) if n else None
    war = float(correct.sum() / n) if n else None
    return Metrics(
        labels=labels,
        support=tuple(int(s) for s in support),
        predicted=tuple(int(p) for p in confusion[:, :k].sum(axis=0)),
        recall=tuple(recall),
        uar=uar,
        war=war,
        n=n,
        n_unparsed=int(confusion[:, k].sum()),
        confusion=confusion,
    )
