"""Evaluation: labels scored off one confusion matrix (rows = truth, columns = prediction).

The modules, in the order a chapter meets them:

- ``confusion``: ``confusion_matrix`` (one call), ``ConfusionMatrix`` (batch by batch,
  on any device), ``predicted_classes`` (logits -> classes), ``evaluate_segmentation``;
- ``scores``: everything read off a matrix: accuracy, precision, recall, F1 (per class;
  macro, micro, weighted), IoU, mIoU, Dice, ``summary``;
- ``curves``: the precision-recall curve of a probability map and the F1-best threshold;
- ``per_image``: per-image matrices and the two meanings of mIoU (data set, per image);
- ``bootstrap``: confidence intervals over test images, and the paired difference of two
  models;
- ``cells``: the ISBI 2012 challenge's cell scores (V_Rand, V_Info) of membrane maps;
- ``multisets``: answers that are counts per class (the digits of a scene): one matrix
  per scene, exact-match share, pooled precision, recall and F1;
- ``detection``: objects found rather than pixels labelled (chapter 9): COCO's
  average precision of boxes and instance masks (IoU, greedy matching by score,
  precision and recall over score thresholds, 101-point AP, mAP at IoU 0.5 and
  over 0.5:0.95);
- ``detection_bootstrap``: the paired bootstrap interval of a difference of mAP, each
  image matched once and the matches reused in every resample;
- ``boundary``: distances between predicted and true outlines (Hausdorff distance, HD95,
  average surface distance) and normalised surface Dice, as MONAI computes them;
- ``calibration``: reliability bins, expected calibration error, temperature scaling.

``detection``, ``boundary`` and ``calibration`` are the scores not read off a confusion
matrix: they need what a matrix of counts no longer holds (the objects, the outlines,
the probabilities).

Every name is importable from ``coursekit.metrics`` itself, e.g. ``metrics.mean_iou``.
"""

from coursekit.metrics.bootstrap import bootstrap_interval, paired_bootstrap
from coursekit.metrics.boundary import (
    average_surface_distance,
    boundary_pixels,
    hausdorff_distance,
    hd95,
    surface_dice,
    surface_distances,
)
from coursekit.metrics.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from coursekit.metrics.cells import (
    cells_from_membrane_probability,
    information_scores,
    isbi_scores,
    isbi_scores_at_thresholds,
    label_cells,
    rand_scores,
)
from coursekit.metrics.confusion import (
    ConfusionMatrix,
    confusion_matrix,
    evaluate_segmentation,
    predicted_classes,
)
from coursekit.metrics.curves import best_f1_threshold, precision_recall_curve
from coursekit.metrics.detection import (
    average_precision,
    box_iou,
    class_precision_recall,
    detection_precision_recall,
    mask_iou,
    match_detections,
    mean_average_precision,
)
from coursekit.metrics.detection_bootstrap import paired_bootstrap_map
from coursekit.metrics.multisets import (
    count_confusion,
    digit_f1,
    digit_precision,
    digit_recall,
    exact_match,
)
from coursekit.metrics.per_image import (
    data_set_mean_iou,
    per_image_confusion_matrices,
    per_image_iou,
    per_image_mean_iou,
)
from coursekit.metrics.scores import (
    accuracy,
    dice_per_class,
    f1_per_class,
    f1_score,
    iou_per_class,
    mean_dice,
    mean_iou,
    pixel_accuracy,
    precision,
    precision_per_class,
    recall,
    recall_per_class,
    summary,
)

__all__ = [
    "ConfusionMatrix", "accuracy", "average_precision", "box_iou",
    "class_precision_recall", "detection_precision_recall", "mask_iou", "match_detections",
    "mean_average_precision", "paired_bootstrap_map", "average_surface_distance",
    "best_f1_threshold",
    "bootstrap_interval", "boundary_pixels", "hausdorff_distance", "hd95", "surface_dice",
    "surface_distances", "expected_calibration_error", "fit_temperature", "reliability_bins",
    "cells_from_membrane_probability", "confusion_matrix", "count_confusion",
    "data_set_mean_iou", "digit_f1", "digit_precision", "digit_recall", "exact_match",
    "dice_per_class", "evaluate_segmentation", "f1_per_class", "f1_score", "information_scores",
    "iou_per_class", "isbi_scores", "isbi_scores_at_thresholds", "label_cells", "mean_dice",
    "mean_iou", "paired_bootstrap", "per_image_confusion_matrices", "per_image_iou",
    "per_image_mean_iou", "pixel_accuracy", "precision", "precision_per_class",
    "precision_recall_curve", "predicted_classes", "rand_scores", "recall", "recall_per_class",
    "summary",
]
