"""Every score read off a confusion matrix ``cm`` (C, C): rows = truth, columns = prediction.

For class c: true positives TP = ``cm[c, c]``; false negatives FN = the rest of row c
(truly c, predicted something else); false positives FP = the rest of column c
(predicted c, truly something else). Then

- accuracy (pixel accuracy, for pixels) = trace / total, over all classes;
- precision = TP / (TP + FP): of what was predicted c, the share that is c;
- recall = TP / (TP + FN): of what is c, the share found;
- F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall; for
  segmentation the same number is called Dice;
- IoU (intersection over union, Jaccard) = TP / (TP + FP + FN).

Averages over classes (``average=``), as in scikit-learn and torchmetrics:

- "macro": the plain mean over classes, each class counting the same;
- "weighted": the mean weighted by each class's support (TP + FN, its true count);
- "micro": pool TP, FP and FN over classes first; with one label per pixel every error
  is one FP and one FN, so micro precision = micro recall = micro F1 = accuracy.

Classes with nothing to measure. A class that appears neither in the truth nor in the
prediction has 0 / 0 for every score: here it is NaN, and the macro mean (mIoU, mean
Dice, macro F1...) leaves it out. This is what torchmetrics' macro average does too
(it gives such a class 0 when asked per class) and what scikit-learn does with its
default ``labels`` (the classes that occur); ``sklearn.metrics.jaccard_score(...,
labels=range(C), average="macro")`` instead counts it as 0 and pulls the mean down. A
class that does occur but whose precision or recall alone is 0 / 0 (never predicted, or
predicted but absent from the truth) scores 0 there, as in both libraries
(``zero_division=0``): the model was wrong about it. A matrix in which no pixel was
counted is an error: there is nothing to measure.
"""

import torch

from coursekit._checks import check_choice, check_tensor, describe

AVERAGES = ("macro", "micro", "weighted")


def _check_cm(cm) -> torch.Tensor:
    """A confusion matrix (C, C) of counts with at least one pixel counted, as float64."""
    check_tensor(cm, "cm", ndim=2, dims="(C, C)")
    if cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise ValueError(f"cm: expected a square (C, C) confusion matrix with C >= 2, "
                         f"got {describe(cm)}")
    if cm.is_complex():
        raise TypeError(f"cm: expected real counts, got {describe(cm)}")
    cm = cm.detach().cpu().double()
    if not torch.isfinite(cm).all() or (cm < 0).any():
        raise ValueError("cm: expected counts (finite, >= 0), got negative or non-finite values")
    if cm.sum() == 0:
        raise ValueError("cm: no pixel was counted (an empty data set, or every target "
                         "ignored): there is nothing to measure")
    return cm


def _per_class(numerator, denominator, cm) -> torch.Tensor:
    """numerator / denominator per class: 0 where the denominator is 0 but the class
    occurs, NaN where the class occurs neither in the truth nor in the prediction."""
    occurs = (cm.sum(0) + cm.sum(1)) > 0
    score = torch.where(denominator > 0, numerator / denominator, 0.0)   # 0 / 0 -> 0
    return torch.where(occurs, score, torch.nan)


def _check_average(average) -> str:
    return check_choice(average, "average", AVERAGES)


def _average(per_class: torch.Tensor, cm: torch.Tensor, average: str) -> float:
    """The macro or support-weighted mean of per-class scores (NaN classes left out)."""
    if average == "macro":
        return float(per_class.nanmean())
    support = cm.sum(1)                                 # true count of each class
    return float((per_class.nan_to_num(0.0) * support).sum() / support.sum())


def accuracy(cm: torch.Tensor) -> float:
    """Share of labels (images or pixels) predicted right: trace / total. cm: (C, C)."""
    cm = _check_cm(cm)
    return float(cm.diag().sum() / cm.sum())


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Share of pixels labelled right: trace / total (``accuracy`` of a pixel matrix)."""
    return accuracy(cm)


def precision_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: TP / (TP + FP) per class (see the module's text for 0 / 0)."""
    cm = _check_cm(cm)
    return _per_class(cm.diag(), cm.sum(0), cm)


def recall_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: TP / (TP + FN) per class (see the module's text for 0 / 0)."""
    cm = _check_cm(cm)
    return _per_class(cm.diag(), cm.sum(1), cm)


def f1_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: 2 TP / (2 TP + FP + FN) per class, the harmonic mean of precision and
    recall (0 where both are 0); NaN for a class absent from truth and prediction."""
    cm = _check_cm(cm)
    return _per_class(2 * cm.diag(), cm.sum(0) + cm.sum(1), cm)


def dice_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: 2 TP / (2 TP + FP + FN) per class (the F1 score under its
    segmentation name); NaN for a class absent from both truth and prediction."""
    return f1_per_class(cm)


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: TP / (TP + FP + FN) per class; NaN for a class absent from both.

    Here such a class is NaN, because there was nothing to measure, and the means below
    leave it out. torchmetrics' ``MulticlassJaccardIndex(average=None)`` gives it 0 (its
    ``zero_division``) but leaves it out of its macro mean too; scikit-learn's
    ``jaccard_score(labels=..., average="macro")`` gives it 0 and averages the 0 in.
    """
    cm = _check_cm(cm)
    tp = cm.diag()
    return _per_class(tp, cm.sum(0) + cm.sum(1) - tp, cm)   # TP / (TP + FP + FN)


def precision(cm: torch.Tensor, average: str = "macro") -> float:
    """Precision averaged over classes: ``average`` "macro", "micro" or "weighted"."""
    average = _check_average(average)
    if average == "micro":
        return accuracy(cm)               # sum TP / sum (TP + FP) = trace / total
    return _average(precision_per_class(cm), _check_cm(cm), average)


def recall(cm: torch.Tensor, average: str = "macro") -> float:
    """Recall averaged over classes: ``average`` "macro", "micro" or "weighted"
    ("weighted" recall equals accuracy: each class's recall times its true count is its
    TP)."""
    average = _check_average(average)
    if average == "micro":
        return accuracy(cm)
    return _average(recall_per_class(cm), _check_cm(cm), average)


def f1_score(cm: torch.Tensor, average: str = "macro") -> float:
    """F1 averaged over classes: ``average`` "macro", "micro" or "weighted". Macro F1 is
    the mean of the per-class F1 scores (as in scikit-learn and torchmetrics), not the F1
    of macro precision and macro recall."""
    average = _check_average(average)
    if average == "micro":
        return accuracy(cm)
    return _average(f1_per_class(cm), _check_cm(cm), average)


def mean_iou(cm: torch.Tensor) -> float:
    """mIoU: the mean of the per-class IoUs, over the classes that occur (NaN ones left out).

    This is the data-set mIoU when ``cm`` counts the whole data set; see
    ``per_image.per_image_mean_iou`` for the mean of per-image scores."""
    return float(iou_per_class(cm).nanmean())


def mean_dice(cm: torch.Tensor) -> float:
    """The mean of the per-class Dice scores, over the classes that occur."""
    return float(dice_per_class(cm).nanmean())


def summary(cm: torch.Tensor, class_names=None) -> dict:
    """Every segmentation metric of a confusion matrix in one dict (plain floats, dicts).

    cm: (C, C) counts; class_names: C names (default "0", "1", ...).
    """
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    if class_names is not None and (isinstance(class_names, str)
                                    or not hasattr(class_names, "__len__")):
        raise TypeError(f"class_names: expected a sequence of {len(cm)} names, "
                        f"got {describe(class_names)}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(len(cm))]
    if len(names) != len(cm):
        raise ValueError(f"class_names: expected {len(cm)} names, got {len(names)}")
    return {"pixel_accuracy": pixel_accuracy(cm), "miou": mean_iou(cm),
            "mean_dice": mean_dice(cm), "iou": dict(zip(names, iou.tolist(), strict=True)),
            "dice": dict(zip(names, dice.tolist(), strict=True))}
