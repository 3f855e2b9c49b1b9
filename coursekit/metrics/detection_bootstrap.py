"""How sure is a difference of mAP? A paired bootstrap of COCO's average precision.

``paired_bootstrap_map(predictions_a, predictions_b, targets)`` does for two detectors (or
two readings of one) on the same test images what ``bootstrap.paired_bootstrap`` does for
confusion matrices: it draws N images with replacement from the N, the same draw for both,
scores both on each resample with ``detection.mean_average_precision``'s AP@[.5:.95], and
reads the percentile interval of the difference mAP(a) - mAP(b).

Calling ``mean_average_precision`` on each resample would match every detection again,
1000 times over (about a second a call on 1000 scenes). Matching (step 2) happens within
one image and one class, so its result does not depend on which other images a resample
holds: it is done once per image, class and IoU threshold and kept. A resample that holds
image i ``copies[i]`` times then only repeats steps 3 and 4 (sort, count, interpolate) on
the kept true/false positives, each image's repeated ``copies[i]`` times; a resample
takes milliseconds.

The result is exactly ``mean_average_precision`` of the resample, given as the list of
images in index order, image i ``copies[i]`` times (``[found[i] for i in
sorted(draw)]``): the same classes scored (those with a true object in the resample; a
class with truths but no detection scores 0), the same ``max_detections`` per image and
class, the same 101 recall levels and ten IoU thresholds, and ties in score ordered as it
orders them (by image, then copy, then as given: detections of equal score in one image
are repeated as a block, not one by one). Only ties in score across images can order a
resample differently from a list in the order drawn; COCO's AP depends on that order, so
the order is fixed here.

The bootstrap's assumptions (``bootstrap``) hold here too: the images are independent
draws, and the interval covers the spread due to *which test images*, not to training.
"""

from contextlib import contextmanager
from typing import NamedTuple

import torch

from coursekit._checks import check_choice, check_int, check_number
from coursekit.metrics.bootstrap import _percentiles, _resample_indices
from coursekit.metrics.detection import (
    IOU_THRESHOLDS,
    IOU_TYPES,
    RECALL_LEVELS,
    _images,
    _match,
    _of_class,
)


class _Kept(NamedTuple):
    """One class's matches over a data set of N images, kept for every resample.

    hits: (D, 10) bool, each detection a true positive at each IoU threshold, in
    ``mean_average_precision``'s order of falling score; starts, sizes, scenes: (R,)
    int64, the runs of that order whose detections share one score and one image (their
    first position, length and image), repeated as blocks; truths: (N,) int64, the
    class's true objects in each image."""

    hits: torch.Tensor
    starts: torch.Tensor
    sizes: torch.Tensor
    scenes: torch.Tensor
    truths: torch.Tensor


def _keep_class(per_image: list) -> _Kept:
    """Step 2 for one class in every image, once: per_image as from ``_of_class``
    ([(ious (D_i, G_i), scores (D_i,)), ...], each image's detections by falling score)."""
    hits = [torch.zeros(0, len(IOU_THRESHOLDS), dtype=torch.bool)]
    scores = [torch.zeros(0, dtype=torch.float64)]
    scenes = [torch.zeros(0, dtype=torch.long)]
    for i, (ious, image_scores) in enumerate(per_image):
        if len(ious) == 0:
            continue                                   # no detection of the class here
        hits.append(torch.stack([_match(ious, t) >= 0 for t in IOU_THRESHOLDS.tolist()], 1))
        scores.append(image_scores)
        scenes.append(torch.full((len(ious),), i, dtype=torch.long))
    scores, order = torch.sort(torch.cat(scores), descending=True, stable=True)
    scenes = torch.cat(scenes)[order]
    new_run = torch.ones(len(scores), dtype=torch.bool)
    new_run[1:] = (scores[1:] != scores[:-1]) | (scenes[1:] != scenes[:-1])
    starts = new_run.nonzero().flatten()
    sizes = torch.diff(starts, append=torch.tensor([len(scores)]))
    truths = torch.tensor([ious.shape[1] for ious, _ in per_image], dtype=torch.long)
    return _Kept(torch.cat(hits)[order], starts, sizes, scenes[starts], truths)


def _kept_matches(images: list, max_detections: int) -> list:
    """Every class with a true object in some image, as a ``_Kept``, by increasing label;
    images as from ``detection._images``."""
    classes = torch.cat([torch.zeros(0, dtype=torch.long)]
                        + [true_labels for *_, true_labels in images]).unique()
    return [_keep_class(_of_class(images, label, max_detections)[0])
            for label in classes.tolist()]


@contextmanager
def _one_thread():
    """torch on one thread inside: a resample's tensors are small, and waking torch's
    other threads for each operation (repeat_interleave, searchsorted) costs more than
    it saves: milliseconds an operation on a busy machine, against microseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _repeated(kept: _Kept, copies: torch.Tensor) -> torch.Tensor:
    """(D',) positions into kept.hits: the order of falling score of a resample holding
    image i copies[i] times, each run repeated as a block (copy after copy)."""
    times = copies[kept.scenes]                                   # (R,) copies of each run
    first = kept.starts.repeat_interleave(times)                  # (R',) a run per copy
    size = kept.sizes.repeat_interleave(times)
    before = (size.cumsum(0) - size).repeat_interleave(size)     # (D',) where its run begins
    return first.repeat_interleave(size) + torch.arange(len(before)) - before


def _class_ap(kept: _Kept, copies: torch.Tensor) -> torch.Tensor | None:
    """Steps 3 and 4 of one class in a resample: (10,) float64, its AP at each IoU
    threshold, or None where the resample holds no true object of the class."""
    num_truths = int((kept.truths * copies).sum())
    if num_truths == 0:
        return None                           # not scored, as mean_average_precision
    found = kept.hits[_repeated(kept, copies)].double().cumsum(0)          # (D', 10)
    count = len(found)
    if count == 0:
        return torch.zeros(len(IOU_THRESHOLDS), dtype=torch.float64)
    precision = found / torch.arange(1, count + 1, dtype=torch.float64)[:, None]
    recall = (found / num_truths).T.contiguous()                            # (10, D')
    best = precision.flip(0).cummax(0).values.flip(0).T        # (10, D') best from here on
    levels = RECALL_LEVELS.expand(len(recall), -1).contiguous()           # (10, 101)
    first = torch.searchsorted(recall, levels, side="left")    # first point reaching r
    values = torch.where(first < count, best.gather(1, first.clamp(max=count - 1)), 0.0)
    return values.mean(1)


def _resample_map(matched: list, copies: torch.Tensor) -> float:
    """AP@[.5:.95] of a resample holding image i copies[i] times ((N,) int64), from the
    kept matches (``_kept_matches``): the mean over the classes it holds a true object of
    and the ten thresholds; NaN where it holds none."""
    with _one_thread():
        aps = [ap for ap in (_class_ap(kept, copies) for kept in matched) if ap is not None]
    return float(torch.stack(aps, 1).mean()) if aps else float("nan")


def _checked_images(predictions_a, predictions_b, targets, iou_type: str,
                    mask_threshold: float) -> tuple[list, list]:
    """Both readings checked against targets, image by image (``detection._images``)."""
    images_a = _images(predictions_a, targets, iou_type, mask_threshold, "predictions_a")
    if isinstance(predictions_b, list | tuple) and len(predictions_b) != len(images_a):
        raise ValueError(f"predictions_b: expected one dict per image of predictions_a "
                         f"({len(images_a)}), got {len(predictions_b)}")
    images_b = _images(predictions_b, targets, iou_type, mask_threshold, "predictions_b")
    if len(images_a) < 2:
        raise ValueError(f"targets: expected at least 2 images to resample, got "
                         f"{len(images_a)}")
    if not any(len(true_labels) for *_, true_labels in images_a):
        raise ValueError("targets: no true object in any image; average precision needs "
                         "at least one (recall would be 0 / 0)")
    return images_a, images_b


def paired_bootstrap_map(predictions_a, predictions_b, targets, iou_type: str = "bbox",
                         n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                         max_detections: int = 100, mask_threshold: float = 0.5) -> dict:
    """A paired percentile bootstrap of mAP(a) - mAP(b), COCO's AP@[.5:.95], on the same
    images.

    predictions_a, predictions_b: lists of N dicts, two detectors' (or readings') answers
    for the same N >= 2 images in the same order, each as for
    ``mean_average_precision`` (``boxes`` (K, 4) or ``masks`` (K, 1, H, W), ``labels``
    (K,), ``scores`` (K,)); targets: the N true dicts; iou_type ("bbox" or "segm"),
    max_detections, mask_threshold: as for ``mean_average_precision``; n_resamples (an
    int >= 100), confidence (in (0, 1)), seed (an int >= 0): as for
    ``bootstrap.paired_bootstrap``: the same seed draws the same images.

    Each image is matched once per reading, class and threshold; every resample reuses
    the matches (see the module's docstring), and scores both readings on the same drawn
    images. Returns a dict: ``difference`` (mAP(a) - mAP(b) on all N images, the
    difference of ``mean_average_precision``'s ``map``), ``map_a`` and ``map_b``;
    ``low`` and ``high`` (its interval); ``a_better`` and ``b_better`` (the shares of
    resamples in which a scored higher, and lower: the difference above 0, below 0; a
    description of the resamples, not a p-value); ``resamples`` ((n_resamples,) float64
    differences; NaN where a resample drew no image with a true object, left out of the
    percentiles and shares) and ``n_resamples``.
    """
    iou_type = check_choice(iou_type, "iou_type", IOU_TYPES)
    n_resamples = check_int(n_resamples, "n_resamples", low=100)
    confidence = check_number(confidence, "confidence", low=0, high=1, low_open=True,
                              high_open=True)
    seed = check_int(seed, "seed", low=0)
    max_detections = check_int(max_detections, "max_detections", low=1)
    mask_threshold = check_number(mask_threshold, "mask_threshold", low=0, high=1)
    images_a, images_b = _checked_images(predictions_a, predictions_b, targets, iou_type,
                                         mask_threshold)
    n = len(images_a)
    whole = torch.ones(n, dtype=torch.long)
    values = torch.empty(n_resamples, dtype=torch.float64)
    with _one_thread():
        matched_a = _kept_matches(images_a, max_detections)
        matched_b = _kept_matches(images_b, max_detections)
        map_a, map_b = _resample_map(matched_a, whole), _resample_map(matched_b, whole)
        for r, draw in enumerate(_resample_indices(n, n_resamples, seed)):
            copies = torch.bincount(draw, minlength=n)
            values[r] = _resample_map(matched_a, copies) - _resample_map(matched_b, copies)
    kept = values[~torch.isnan(values)]
    if kept.numel() < n_resamples // 2:
        raise ValueError(f"targets: only {kept.numel()} of {n_resamples} resamples drew an "
                         f"image with a true object: too few true objects to resample")
    low, high = _percentiles(kept, confidence)
    return {"difference": map_a - map_b, "low": low, "high": high,
            "a_better": float((kept > 0).double().mean()),
            "b_better": float((kept < 0).double().mean()), "map_a": map_a, "map_b": map_b,
            "resamples": values, "n_resamples": n_resamples}

