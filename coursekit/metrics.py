"""Segmentation metrics, all read off one confusion matrix.

Count, for every pair (true class i, predicted class j), the pixels with that truth and
that prediction: the confusion matrix ``cm`` (C, C), rows = truth, columns = prediction.
Then, for class c:

- true positives ``cm[c, c]``; false negatives: the rest of row c; false positives: the
  rest of column c;
- IoU (intersection over union, Jaccard) = TP / (TP + FP + FN);
- Dice (F1) = 2 TP / (2 TP + FP + FN);
- pixel accuracy = trace / total, over all classes.

A class that appears neither in the truth nor in the prediction has no IoU or Dice
(0 / 0): it is NaN, and the mean over classes (mIoU, mean Dice) skips it.
"""

import torch

from coursekit._checks import (
    check_class_indices,
    check_ignore_index,
    check_int,
    check_same_shape,
    check_tensor,
    describe,
)


def _as_class_indices(value, name: str) -> torch.Tensor:
    """Class indices of any integer dtype (uint8 masks from PNG files too) or bool, as int64."""
    check_tensor(value, name)
    if value.is_floating_point() or value.is_complex():
        hint = "; for logits (N, C, H, W) take .argmax(dim=1) first" if name == "prediction" else ""
        raise TypeError(f"{name}: expected an integer tensor of class indices, "
                        f"got {describe(value)}{hint}")
    return value.long()   # uint8 * num_classes would wrap around past 255


def confusion_matrix(prediction: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """Pixel counts per (true class, predicted class): (num_classes, num_classes) int64.

    prediction, target: tensors of class indices of the same shape, e.g. (N, H, W), any
    integer dtype or bool (converted to int64, so uint8 masks read from PNG files give the
    right counts for any number of classes). Pixels whose target is ``ignore_index`` are
    not counted. Empty tensors give a matrix of zeros. The result is on the CPU.
    """
    num_classes = check_int(num_classes, "num_classes", low=2)
    ignore_index = check_ignore_index(ignore_index)
    prediction = _as_class_indices(prediction, "prediction")
    target = _as_class_indices(target, "target")
    check_same_shape(prediction, "prediction", target, "target")
    valid = check_class_indices(target, "target", num_classes, ignore_index)
    check_class_indices(prediction[valid], "prediction", num_classes)
    pairs = target[valid] * num_classes + prediction[valid]   # one number per (i, j)
    counts = torch.bincount(pairs.flatten(), minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes).cpu()


def predicted_classes(logits: torch.Tensor) -> torch.Tensor:
    """The class a model predicts, from its raw scores: (N, C, ...) -> (N, ...) int64.

    Multiclass (C >= 2): the argmax over dim 1. Binary (C == 1, one logit for "in the
    class"): 1 where the logit is above 0 (probability above 1/2), else 0.
    """
    check_tensor(logits, "logits", ndim=tuple(range(2, 9)), dims="(N, C, ...)", kind="float")
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(dim=1)


def _check_cm(cm) -> torch.Tensor:
    """A confusion matrix (C, C) of counts with at least one pixel counted, as float64."""
    check_tensor(cm, "cm", ndim=2, dims="(C, C)")
    if cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise ValueError(f"cm: expected a square (C, C) confusion matrix with C >= 2, "
                         f"got {describe(cm)}")
    cm = cm.double()
    if (cm < 0).any() or not torch.isfinite(cm).all():
        raise ValueError("cm: expected counts (finite, >= 0), got negative or non-finite values")
    if cm.sum() == 0:
        raise ValueError("cm: no pixel was counted (an empty data set, or every target "
                         "ignored): there is nothing to measure")
    return cm


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Fraction of pixels labelled right: trace / total. cm: (C, C) counts."""
    cm = _check_cm(cm)
    return float(cm.diag().sum() / cm.sum())


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: TP / (TP + FP + FN) per class; NaN for a class absent from both.

    Here such a class is NaN, because there was nothing to measure, and the means below
    leave it out. torchmetrics' ``MulticlassJaccardIndex(average=None)`` gives it 0 (its
    ``zero_division``) but leaves it out of its macro mean too; scikit-learn's
    ``jaccard_score(labels=..., average="macro")`` gives it 0 and averages the 0 in.
    """
    cm = _check_cm(cm)
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp             # TP + FP + FN
    return tp / union                              # 0 / 0 = NaN: nothing to measure


def dice_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: 2 TP / (2 TP + FP + FN) per class; NaN for a class absent from both."""
    cm = _check_cm(cm)
    tp = cm.diag()
    return 2 * tp / (cm.sum(0) + cm.sum(1))


def mean_iou(cm: torch.Tensor) -> float:
    """mIoU: the mean of the per-class IoUs, over the classes that occur (NaN ones left out)."""
    return float(iou_per_class(cm).nanmean())


def mean_dice(cm: torch.Tensor) -> float:
    """The mean of the per-class Dice scores, over the classes that occur."""
    return float(dice_per_class(cm).nanmean())


def summary(cm: torch.Tensor, class_names=None) -> dict:
    """Every metric of a confusion matrix in one dict (plain floats and lists).

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


@torch.no_grad()
def evaluate_segmentation(model, loader, num_classes: int, device="cpu",
                          ignore_index: int | None = None) -> torch.Tensor:
    """The confusion matrix of ``model`` over every batch of ``loader``: (C, C) int64.

    Batches: images (N, C_in, H, W) and targets (N, H, W) of class indices (any integer
    dtype). The model gives logits (N, num_classes, H, W), the predicted class being
    their argmax; a binary model gives (N, 1, H, W) and predicts class 1 where its logit
    is above 0 (``predicted_classes``). Pixels whose target is ``ignore_index`` are not
    counted. An empty loader is an error.
    """
    num_classes = check_int(num_classes, "num_classes", low=2)
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    batches = 0
    for images, targets in loader:
        prediction = predicted_classes(model(images.to(device))).cpu()
        if targets.dim() == prediction.dim() + 1 and targets.shape[1] == 1:
            targets = targets[:, 0]          # (N, 1, H, W) masks, as for a binary model
        cm += confusion_matrix(prediction, targets.cpu(), num_classes, ignore_index)
        batches += 1
    if batches == 0:
        raise ValueError("loader: expected at least one batch, got an empty loader")
    return cm
