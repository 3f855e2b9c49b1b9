"""The confusion matrix: the one count from which every metric is read.

For every pair (true class i, predicted class j) count the pixels (or images) with that
truth and that prediction: ``cm`` (C, C) int64, rows = truth, columns = prediction, as
in scikit-learn's and torchmetrics' confusion matrices.

- ``confusion_matrix(prediction, target, num_classes)``: one call on tensors;
- ``ConfusionMatrix(num_classes)``: the same count over many batches, ``update`` after
  each, ``compute`` at the end (the torchmetrics pattern); it counts on the device of
  the first batch, so a GPU evaluation loop never copies predictions to the CPU;
- ``predicted_classes(logits)``: the class a model predicts, multiclass or binary;
- ``evaluate_segmentation(model, loader, num_classes)``: a model's matrix over a loader.
"""

import torch

from coursekit._checks import (
    check_class_indices,
    check_device,
    check_ignore_index,
    check_int,
    check_loader,
    check_module,
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


def _count(prediction, target, num_classes: int, ignore_index: int | None) -> torch.Tensor:
    """(C, C) int64 counts on the device of the inputs (checked, not yet moved)."""
    prediction = _as_class_indices(prediction, "prediction")
    target = _as_class_indices(target, "target")
    check_same_shape(prediction, "prediction", target, "target")
    if prediction.device != target.device:
        raise ValueError(f"prediction: expected the device of target ({target.device}), "
                         f"got {prediction.device}")
    valid = check_class_indices(target, "target", num_classes, ignore_index)
    check_class_indices(prediction[valid], "prediction", num_classes)
    pairs = target[valid] * num_classes + prediction[valid]   # one number per (i, j)
    counts = torch.bincount(pairs.flatten(), minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


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
    return _count(prediction, target, num_classes, ignore_index).cpu()


class ConfusionMatrix:
    """A confusion matrix counted batch by batch: ``update`` per batch, ``compute`` at the end.

        cm = ConfusionMatrix(num_classes=11, ignore_index=255)
        for images, targets in loader:
            cm.update(predicted_classes(model(images)), targets)
        scores.mean_iou(cm.compute())

    num_classes: C >= 2; ignore_index: a target value that is not counted (None: none).
    The counts are int64 on the device of the first ``update`` (later batches on another
    device are counted there and added), so a loop on the GPU keeps its predictions
    there; ``compute`` returns a (C, C) int64 copy on the CPU, equal to one
    ``confusion_matrix`` call on all the batches at once. ``reset`` starts again.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes = check_int(num_classes, "num_classes", low=2)
        self.ignore_index = check_ignore_index(ignore_index)
        self.matrix = None          # (C, C) int64, made by the first update

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Count one batch. prediction, target: class indices of the same shape, e.g.
        (N, H, W) or (N,), any integer dtype or bool, on one device. Returns this batch's
        own (C, C) counts, on that device (its ``.sum()`` is the number of counted labels).
        """
        counts = _count(prediction, target, self.num_classes, self.ignore_index)
        if self.matrix is None:
            self.matrix = torch.zeros_like(counts)
        self.matrix += counts.to(self.matrix.device)
        return counts

    def compute(self) -> torch.Tensor:
        """The counts so far: (C, C) int64 on the CPU (zeros before the first update)."""
        if self.matrix is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        return self.matrix.cpu().clone()

    def reset(self) -> None:
        """Forget every count (the device is chosen again by the next update)."""
        self.matrix = None

    def __repr__(self) -> str:
        counted = 0 if self.matrix is None else int(self.matrix.sum())
        return (f"ConfusionMatrix(num_classes={self.num_classes}, "
                f"ignore_index={self.ignore_index}, counted={counted})")


def predicted_classes(logits: torch.Tensor) -> torch.Tensor:
    """The class a model predicts, from its raw scores: (N, C, ...) -> (N, ...) int64.

    Multiclass (C >= 2): the argmax over dim 1. Binary (C == 1, one logit for "in the
    class"): 1 where the logit is above 0 (probability above 1/2), else 0.
    """
    check_tensor(logits, "logits", ndim=tuple(range(2, 9)), dims="(N, C, ...)", kind="float")
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(dim=1)


@torch.no_grad()
def evaluate_segmentation(model, loader, num_classes: int, device="cpu",
                          ignore_index: int | None = None) -> torch.Tensor:
    """The confusion matrix of ``model`` over every batch of ``loader``: (C, C) int64.

    Batches: images (N, C_in, H, W) and targets (N, H, W) of class indices (any integer
    dtype). The model gives logits (N, num_classes, H, W), the predicted class being
    their argmax; a binary model gives (N, 1, H, W) and predicts class 1 where its logit
    is above 0 (``predicted_classes``). Pixels whose target is ``ignore_index`` are not
    counted. Counting happens on ``device``; the result is on the CPU. An empty loader is
    an error.
    """
    check_module(model, "model")
    check_loader(loader, "loader")
    num_classes = check_int(num_classes, "num_classes", low=2)
    device = check_device(device)
    cm = ConfusionMatrix(num_classes, ignore_index)
    model.eval()
    batches = 0
    for images, targets in loader:
        prediction = predicted_classes(model(images.to(device)))
        if targets.dim() == prediction.dim() + 1 and targets.shape[1] == 1:
            targets = targets[:, 0]          # (N, 1, H, W) masks, as for a binary model
        cm.update(prediction, targets.to(device))
        batches += 1
    if batches == 0:
        raise ValueError("loader: expected at least one batch, got an empty loader")
    return cm.compute()
