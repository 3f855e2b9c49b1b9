"""Thresholds: a precision-recall curve of a probability map, and the F1-best threshold.

A binary model gives each pixel a probability p of the positive class (``sigmoid`` of its
logit, or one column of a ``softmax``). Predicting "positive where p >= t" for a
threshold t trades precision against recall: a low t finds every positive pixel (high
recall) with many false alarms (low precision), a high t the other way round. The curve
is the two numbers at every threshold; the F1 score (their harmonic mean) picks one.

Conventions, as in ``sklearn.metrics.precision_recall_curve``: a pixel is predicted
positive when its probability is >= the threshold (so t = 0.5 differs from the logit > 0
rule of ``predicted_classes`` only for p exactly 0.5); thresholds increase; the curve
ends with the point precision 1, recall 0 (nothing predicted).
"""

import numbers

import torch

from coursekit._checks import (
    check_class_indices,
    check_ignore_index,
    check_int,
    check_probabilities,
    check_same_shape,
    describe,
)
from coursekit.metrics.confusion import _as_class_indices


def _check_thresholds(thresholds) -> torch.Tensor | None:
    """None, an int k >= 2 (k evenly spaced in [0, 1]) or a 1-D sequence of numbers in
    [0, 1], as a sorted float64 tensor of distinct values."""
    if thresholds is None:
        return None
    if isinstance(thresholds, numbers.Integral) and not isinstance(thresholds, bool):
        return torch.linspace(0, 1, check_int(thresholds, "thresholds", low=2),
                              dtype=torch.float64)
    wanted = "None, an int >= 2 or a 1-D sequence of thresholds in [0, 1]"
    if isinstance(thresholds, str | bool | float) or not hasattr(thresholds, "__len__"):
        raise TypeError(f"thresholds: expected {wanted}, got {describe(thresholds)}")
    try:
        values = torch.as_tensor(thresholds, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"thresholds: expected {wanted}, got {describe(thresholds)}") from None
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(f"thresholds: expected {wanted}, got {describe(values)}")
    if not torch.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise ValueError(f"thresholds: expected values in [0, 1], got {values.tolist()}")
    return torch.unique(values)          # sorted, each once


def _counts_at_thresholds(probability, target, thresholds, ignore_index):
    """(thresholds (T,), true positives (T,), predicted positives (T,), positives), all
    float64 on the CPU, for predicting positive where probability >= threshold."""
    check_probabilities(probability, "probability")
    target = _as_class_indices(target, "target")
    check_same_shape(target, "target", probability, "probability")
    ignore_index = check_ignore_index(ignore_index)
    thresholds = _check_thresholds(thresholds)
    valid = check_class_indices(target, "target", 2, ignore_index)
    p = probability[valid].detach().double().cpu()
    t = target[valid].cpu()
    if p.numel() == 0:
        raise ValueError("target: no pixel was counted (empty, or every pixel "
                         "ignore_index): there is nothing to measure")
    positives = t.sum().double()
    if positives == 0:
        raise ValueError("target: expected at least one positive pixel (1), got none: "
                         "recall is undefined")
    if thresholds is None:
        thresholds = torch.unique(p)     # every distinct probability, ascending
    p, order = torch.sort(p)
    positives_below = torch.cat([torch.zeros(1, dtype=torch.float64),
                                 t[order].cumsum(0).double()])   # positives among the k lowest
    below = torch.searchsorted(p, thresholds, side="left")       # pixels with p < threshold
    true_positives = positives - positives_below[below]
    predicted = (p.numel() - below).double()
    return thresholds, true_positives, predicted, positives


def precision_recall_curve(probability: torch.Tensor, target: torch.Tensor, thresholds=None,
                           ignore_index: int | None = None):
    """Precision and recall of "positive where probability >= t", at every threshold t.

    probability: float tensor of any shape, e.g. (N, H, W), the probability of the
    positive class, in [0, 1] (NaN is an error; for logits take ``.sigmoid()`` first).
    target: the same shape, 1 = positive, 0 = negative (any integer dtype or bool);
    pixels equal to ``ignore_index`` are left out. thresholds: None for every distinct
    probability (the exact curve, as ``sklearn.metrics.precision_recall_curve``); an int
    k >= 2 for k evenly spaced thresholds from 0 to 1; or a 1-D sequence of thresholds in
    [0, 1] (as ``torchmetrics``' ``BinaryPrecisionRecallCurve(thresholds=...)``).

    Returns ``(precision, recall, thresholds)``: float64 tensors of T + 1, T + 1 and T
    values, thresholds increasing, with the end point precision 1, recall 0 appended. A
    given threshold above every probability predicts nothing: its precision is 0 / 0,
    NaN (as torchmetrics). A target without a positive pixel is an error (recall 0 / 0).
    """
    thresholds, true_positives, predicted, positives = _counts_at_thresholds(
        probability, target, thresholds, ignore_index)
    precision = true_positives / predicted          # NaN where nothing is predicted
    recall = true_positives / positives
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    return torch.cat([precision, one]), torch.cat([recall, zero]), thresholds


def best_f1_threshold(probability: torch.Tensor, target: torch.Tensor, thresholds=None,
                      ignore_index: int | None = None) -> dict:
    """The threshold whose prediction "positive where probability >= threshold" has the
    highest F1 score, with that F1, precision and recall: a dict of floats.

    Arguments as for ``precision_recall_curve``. F1 = 2 TP / (2 TP + FP + FN), which is
    defined at every threshold (0 where nothing is predicted). Ties go to the lowest
    threshold. Choose the threshold on validation data, then report the test score at it:
    a threshold chosen on the test set flatters the test score.
    """
    thresholds, true_positives, predicted, positives = _counts_at_thresholds(
        probability, target, thresholds, ignore_index)
    f1 = 2 * true_positives / (predicted + positives)
    best = int(torch.argmax(f1))                     # the first (lowest) of equal maxima
    tp, pred = float(true_positives[best]), float(predicted[best])
    return {"threshold": float(thresholds[best]), "f1": float(f1[best]),
            "precision": tp / pred if pred > 0 else float("nan"),
            "recall": tp / float(positives)}
