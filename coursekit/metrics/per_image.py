"""The two meanings of mIoU: one confusion matrix over the data set, or a mean over images.

- **Data-set mIoU** (``data_set_mean_iou``; torchvision's references, the PASCAL VOC and
  Cityscapes benchmarks, ``MulticlassJaccardIndex`` over all batches): add up every
  image's confusion matrix, then take the mIoU of the sum. Big objects and big images
  weigh more; a class counts if it occurs anywhere in the data set.
- **Per-image mIoU** (``per_image_mean_iou``; ``torchmetrics.functional.segmentation.
  mean_iou(...).mean()``): the mIoU of each image on its own, over the classes that
  occur in that image (in its truth or its prediction), then the plain mean over
  images. Every image weighs the same, and a small object missed in one image costs
  that image a whole class's IoU.

The two differ, sometimes by a lot, and neither is wrong: say which one a number is.
torchmetrics' class ``torchmetrics.segmentation.MeanIoU`` (``per_class=False``) is a
third: it averages the IoU over all (image, class) pairs where the class occurs, so an
image with more classes present weighs more; it equals the per-image mean when every
image has the same number of classes present.

Absent classes: in both of ours, a class that is in neither the truth nor the
prediction (of the data set, or of that image) has no IoU and is left out of the mean,
as in torchmetrics (which marks it with -1 per class); see ``scores``.

Per-image confusion matrices, (N, C, C), are also what ``bootstrap`` resamples.
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
from coursekit.metrics.confusion import _as_class_indices
from coursekit.metrics.scores import iou_per_class, mean_iou


def per_image_confusion_matrices(prediction: torch.Tensor, target: torch.Tensor,
                                 num_classes: int, ignore_index: int | None = None
                                 ) -> torch.Tensor:
    """One confusion matrix per image: (N, num_classes, num_classes) int64 on the CPU.

    prediction, target: class indices of the same shape (N, ...), e.g. (N, H, W), any
    integer dtype or bool; pixels whose target is ``ignore_index`` are not counted.
    ``result.sum(0)`` is ``confusion_matrix(prediction, target, num_classes)``.
    """
    num_classes = check_int(num_classes, "num_classes", low=2)
    ignore_index = check_ignore_index(ignore_index)
    prediction = _as_class_indices(prediction, "prediction")
    target = _as_class_indices(target, "target")
    check_same_shape(prediction, "prediction", target, "target")
    if target.dim() < 1:
        raise ValueError(f"target: expected a batch of images (N, H, W), got {describe(target)}")
    valid = check_class_indices(target, "target", num_classes, ignore_index)
    check_class_indices(prediction[valid], "prediction", num_classes)
    n = target.shape[0]
    image = torch.arange(n, device=target.device).reshape(-1, *[1] * (target.dim() - 1))
    image = image.expand_as(target)                     # the image each pixel belongs to
    pairs = (image[valid] * num_classes + target[valid]) * num_classes + prediction[valid]
    counts = torch.bincount(pairs.flatten(), minlength=n * num_classes ** 2)
    return counts.reshape(n, num_classes, num_classes).cpu()


def _check_cms(cms) -> torch.Tensor:
    """A stack of confusion matrices (N, C, C) with N >= 1."""
    check_tensor(cms, "cms", ndim=3, dims="(N, C, C)")
    if cms.shape[0] == 0 or cms.shape[1] != cms.shape[2]:
        raise ValueError(f"cms: expected per-image confusion matrices (N, C, C) with "
                         f"N >= 1, got {describe(cms)}")
    return cms


def data_set_mean_iou(cms: torch.Tensor) -> float:
    """mIoU of the whole data set: the mIoU of the sum of the per-image matrices.

    cms: (N, C, C) counts, e.g. from ``per_image_confusion_matrices``."""
    return mean_iou(_check_cms(cms).sum(0))


def per_image_iou(cms: torch.Tensor) -> torch.Tensor:
    """Each image's mIoU: (N,) float64, over the classes present in that image (its truth
    or its prediction). An image with no counted pixel (all ignored) is NaN."""
    cms = _check_cms(cms)
    result = torch.full((cms.shape[0],), torch.nan, dtype=torch.float64)
    for i, cm in enumerate(cms):
        if cm.sum() > 0:
            result[i] = iou_per_class(cm).nanmean()
    return result


def per_image_mean_iou(cms: torch.Tensor) -> float:
    """The mean over images of each image's mIoU (images with no counted pixel left out).

    Equals ``torchmetrics.functional.segmentation.mean_iou(prediction, target,
    num_classes, input_format="index").mean()``. cms: (N, C, C) counts."""
    scores = per_image_iou(cms)
    if torch.isnan(scores).all():
        raise ValueError("cms: no pixel was counted in any image: there is nothing to measure")
    return float(scores.nanmean())
