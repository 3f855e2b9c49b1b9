"""Scoring answers that are multisets: "which digits are in this scene, and how many of each".

The answer for a scene is a count per class (two 3s and a 7: counts[3] = 2, counts[7] =
1). Compared with the truth, class by class, the matches are the smaller of the two counts:

- true positives TP_c = min(predicted_c, true_c);
- false positives FP_c = predicted_c - TP_c (claimed, not there);
- false negatives FN_c = true_c - TP_c (there, not found).

A wrong reading (a 3 read as an 8) is one FN for 3 and one FP for 8: an answer says
which digits, not where, so which one was misread is not known.

The counts go into one confusion matrix per scene (``count_confusion``), (K + 1, K + 1)
with an extra class 0, "nothing", first: TP_c on the diagonal at [c + 1, c + 1], FN_c at
[c + 1, 0] (a true c matched with nothing), FP_c at [0, c + 1] (nothing matched with a
predicted c); [0, 0] stays 0. So every score is read off a matrix, and
``bootstrap_interval`` gives intervals over scenes as for pixels:

- ``exact_match``: the share of scenes whose answer is exactly right (no FP, no FN);
- ``digit_precision``, ``digit_recall``, ``digit_f1``: pooled over classes ("micro"):
  sum TP / (sum TP + sum FP), sum TP / (sum TP + sum FN), their harmonic mean;
  per class from ``scores.precision_per_class(cm)[1:]`` and the like.
"""

import torch

from coursekit._checks import check_count_matrices, check_counts, describe


def _check_counts(counts, name: str) -> torch.Tensor:
    check_counts(counts, name, ndim=2, dims="(N, K)", integer=True)
    if counts.shape[1] == 0:
        raise ValueError(f"{name}: expected counts of at least one class (N, K), K >= 1, "
                         f"got {describe(counts)}")
    return counts.long()


def count_confusion(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """One confusion matrix per scene: (N, K) and (N, K) counts -> (N, K + 1, K + 1) int64.

    predicted, true: how many of each of K >= 1 classes every scene holds, integers >= 0
    (any integer dtype, not bool), the same shape. Index 0 of the matrix is "nothing";
    class c is index c + 1 (see the module's text).
    """
    predicted, true = _check_counts(predicted, "predicted"), _check_counts(true, "true")
    if predicted.shape != true.shape:
        raise ValueError(f"predicted: expected the shape of true {tuple(true.shape)}, got "
                         f"{describe(predicted)}")
    n, k = true.shape
    matched = torch.minimum(predicted, true)
    cms = torch.zeros(n, k + 1, k + 1, dtype=torch.long, device=true.device)
    classes = torch.arange(1, k + 1, device=true.device)
    cms[:, classes, classes] = matched
    cms[:, classes, 0] = true - matched
    cms[:, 0, classes] = predicted - matched
    return cms


def _check_cms(cms) -> torch.Tensor:
    return check_count_matrices(cms, "cms").double()


def _pooled(cms):
    """(TP, FP, FN) summed over scenes and classes."""
    cm = cms.sum(0) if cms.dim() == 3 else cms
    tp = cm.diagonal()[1:].sum()
    return tp, cm[0, 1:].sum(), cm[1:, 0].sum()


def exact_match(cms: torch.Tensor) -> float:
    """Share of scenes answered exactly: cms (N, K + 1, K + 1) -> float in [0, 1]."""
    cms = _check_cms(cms)
    if cms.dim() == 2:
        cms = cms[None]
    errors = cms[:, 0, 1:].sum(1) + cms[:, 1:, 0].sum(1)
    return float((errors == 0).double().mean())


def digit_precision(cms: torch.Tensor) -> float:
    """Of the digits an answer claims, the share that are there: sum TP / (TP + FP).
    1.0 when nothing was claimed and nothing is there; 0.0 when nothing was claimed."""
    tp, fp, fn = _pooled(_check_cms(cms))
    if tp + fp == 0:
        return 1.0 if fn == 0 else 0.0
    return float(tp / (tp + fp))


def digit_recall(cms: torch.Tensor) -> float:
    """Of the digits that are there, the share found: sum TP / (TP + FN); 1.0 when there
    is nothing to find and nothing was claimed, 0.0 when only false digits were."""
    tp, fp, fn = _pooled(_check_cms(cms))
    if tp + fn == 0:
        return 1.0 if fp == 0 else 0.0
    return float(tp / (tp + fn))


def digit_f1(cms: torch.Tensor) -> float:
    """2 TP / (2 TP + FP + FN), pooled over scenes and classes (1.0 with nothing to find
    and nothing claimed)."""
    tp, fp, fn = _pooled(_check_cms(cms))
    if 2 * tp + fp + fn == 0:
        return 1.0
    return float(2 * tp / (2 * tp + fp + fn))
