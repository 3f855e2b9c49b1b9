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


def _check_labels(prediction, target, num_classes, ignore_index):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes: expected an int >= 2, got {num_classes!r}")
    for name, value in [("prediction", prediction), ("target", target)]:
        if not isinstance(value, torch.Tensor) or value.is_floating_point():
            kind = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            raise TypeError(f"{name}: expected an integer tensor of class indices, got {kind}"
                            + ("; for logits (N, C, H, W) take .argmax(dim=1) first"
                               if name == "prediction" else ""))
    if prediction.shape != target.shape:
        raise ValueError(f"prediction: expected the shape of target {tuple(target.shape)}, "
                         f"got {tuple(prediction.shape)}")
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(
        target, dtype=torch.bool)
    for name, value in [("prediction", prediction), ("target", target[valid])]:
        if value.numel() and (value.min() < 0 or value.max() >= num_classes):
            raise ValueError(f"{name}: expected class indices in 0..{num_classes - 1}, "
                             f"found {int(value.min())}..{int(value.max())}")
    return valid


def confusion_matrix(prediction: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """Pixel counts per (true class, predicted class): (num_classes, num_classes) int64.

    prediction, target: integer tensors of the same shape, e.g. (N, H, W), of class
    indices. Pixels whose target is ``ignore_index`` are not counted.
    """
    valid = _check_labels(prediction, target, num_classes, ignore_index)
    pairs = target[valid] * num_classes + prediction[valid]   # one number per (i, j)
    counts = torch.bincount(pairs.flatten(), minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes).cpu()


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Fraction of pixels labelled right: trace / total."""
    return float(cm.diag().sum() / cm.sum().clamp(min=1))


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: TP / (TP + FP + FN) per class; NaN for a class absent from both."""
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp             # TP + FP + FN
    return tp / union                              # 0 / 0 = NaN: nothing to measure


def dice_per_class(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64: 2 TP / (2 TP + FP + FN) per class; NaN for a class absent from both."""
    cm = cm.double()
    tp = cm.diag()
    return 2 * tp / (cm.sum(0) + cm.sum(1))


def mean_iou(cm: torch.Tensor) -> float:
    """mIoU: the mean of the per-class IoUs, over the classes that occur."""
    return float(iou_per_class(cm).nanmean())


def mean_dice(cm: torch.Tensor) -> float:
    """The mean of the per-class Dice scores, over the classes that occur."""
    return float(dice_per_class(cm).nanmean())


def summary(cm: torch.Tensor, class_names=None) -> dict:
    """Every metric of a confusion matrix in one dict (plain floats and lists)."""
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    names = list(class_names) if class_names is not None else [str(c) for c in range(len(cm))]
    if len(names) != len(cm):
        raise ValueError(f"class_names: expected {len(cm)} names, got {len(names)}")
    return {"pixel_accuracy": pixel_accuracy(cm), "miou": mean_iou(cm),
            "mean_dice": mean_dice(cm), "iou": dict(zip(names, iou.tolist(), strict=True)),
            "dice": dict(zip(names, dice.tolist(), strict=True))}


@torch.no_grad()
def evaluate_segmentation(model, loader, num_classes: int, device="cpu",
                          ignore_index: int | None = None) -> torch.Tensor:
    """The confusion matrix of ``model`` over every batch of ``loader``.

    Batches: images (N, C, H, W) and targets (N, H, W) int64; the model gives logits
    (N, num_classes, H, W), and the predicted class is their argmax.
    """
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for images, targets in loader:
        logits = model(images.to(device))
        cm += confusion_matrix(logits.argmax(dim=1).cpu(), targets, num_classes, ignore_index)
    return cm
