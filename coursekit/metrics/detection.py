"""Average precision: the score of detections and instance masks (chapter 9), COCO's way.

A detector answers each image with a list of objects, each a box (or a mask), a class and
a score. No confusion matrix of pixels scores that: an answer may find an object twice,
miss it, or place it a little off. COCO's average precision (AP) scores it in four steps,
one function each:

1. **Overlap.** ``box_iou`` and ``mask_iou``: the intersection over union of every
   predicted object with every true one, IoU = |A ∩ B| / |A ∪ B|, from 0 (apart) to 1
   (the same pixels).
2. **Matching.** ``match_detections``: within one image and one class, the detections are
   taken in order of falling score; each takes the true object it overlaps most, among
   those not yet taken, if that IoU is at least a threshold t (0.5: "half right"). A
   detection that gets a match is a true positive (TP); one that does not is a false
   positive (FP): a duplicate of a found object, a misplaced box, a wrong class. A true
   object is matched at most once; those never matched are the misses.
3. **Precision and recall at every score threshold.** ``detection_precision_recall``: all
   the detections of a class over all images, sorted by falling score; keeping the first
   k of them gives precision_k = TP_k / k (how many of the answers are right) and
   recall_k = TP_k / G (how many of the G true objects were found). Lowering the score
   threshold walks along this precision-recall curve: recall rises, precision tends to fall.
4. **Average precision.** ``average_precision``: the area under that curve, read COCO's
   way at 101 recall levels r = 0, 0.01, ..., 1: at each, the best precision reached at
   recall r or beyond (0 if the detections never reach r), then the mean of the 101
   numbers. 1 means every object found before any false positive; a model that never
   finds an object scores 0.

``class_precision_recall`` runs steps 2 and 3 for one class of a data set (the curve to
draw); ``mean_average_precision`` puts the steps together as COCO reports them: the AP of
each class that has at least one true object (a class only predicted is not scored: its
recall would be 0 / 0), at each IoU threshold 0.50, 0.55, ..., 0.95; "AP50" (mAP at
IoU 0.5) is the mean over the classes at t = 0.5, "AP" (mAP@[.5:.95], the number COCO
ranks models by) the mean over the classes and all ten thresholds, so that placing an
object more precisely earns more. ``iou_type`` "bbox" scores boxes, "segm" masks.

Checked against ``pycocotools``' COCOeval, directly and through
``torchmetrics.detection.MeanAveragePrecision(backend="pycocotools")``
(tests/test_metrics_detection.py): the same numbers to 1e-6 as COCO's "area=all,
maxDets=100" figures, with these choices said once here:

- thresholds are the decimals 0.5, 0.55, ..., 0.95 and 0.00, 0.01, ..., 1.00 (each the
  nearest float64). A recall or IoU exactly at a threshold counts as reaching it
  (recall 1/5 reaches 0.2; a mask IoU of 3/5 reaches 0.6). ``pycocotools`` builds its
  thresholds with ``np.linspace``, a few of them one float64 step above the decimal
  (0.35, 0.7, 0.95 among the recall levels: recall 7/10 does not reach its 0.7), and
  ``torchmetrics`` rounds its defaults to float32 (recall 1/5 does not reach its
  0.2000000030); given these decimals as ``rec_thresholds`` and ``iou_thresholds``, both
  give the numbers here;
- no area ranges and no crowd regions (MNIST scenes have neither): COCO's "all" range,
  which keeps every object;
- at most ``max_detections`` (100) detections of a class per image, the highest scored,
  as COCO's maxDets=100;
- ties: detections of equal score keep their order (image by image, then as given), and
  a detection whose IoU is equally high with two free true objects takes the later one,
  as ``pycocotools`` does;
- an image without a true object still counts: its detections are false positives
  (``pycocotools`` given every image does the same; ``torchmetrics``' "segm" lists an
  image only where it has a true mask, and so leaves those false positives out);
- no true object of any class in any image is an error here (COCO reports -1).
"""

import torch

from coursekit._checks import (
    check_boxes,
    check_choice,
    check_detections,
    check_finite,
    check_indices,
    check_instance_masks,
    check_int,
    check_number,
    check_per_instance,
    check_same_shape,
    check_tensor,
    describe,
)

IOU_THRESHOLDS = torch.arange(50, 100, 5, dtype=torch.float64) / 100
"""COCO's ten IoU thresholds 0.50, 0.55, ..., 0.95 (float64, each the nearest to the decimal)."""

RECALL_LEVELS = torch.arange(101, dtype=torch.float64) / 100
"""COCO's 101 recall levels 0.00, 0.01, ..., 1.00 at which precision is read."""

IOU_TYPES = ("bbox", "segm")


# ------------------------------------------------------------------ 1. overlap


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """IoU of every box of ``boxes_a`` with every box of ``boxes_b``: -> (A, B) float64.

    boxes_a: (A, 4), boxes_b: (B, 4) float, (x1, y1, x2, y2) in pixel edges (as
    ``regions.region_boxes`` and Mask R-CNN give them), finite, x2 > x1 and y2 > y1. The
    intersection of two boxes is the box between the larger of the two x1 and the smaller
    of the two x2 (and the same for y), empty if those cross; the union is the two areas
    less the intersection counted twice. (The same as ``torchvision.ops.box_iou``,
    computed in float64.)
    """
    a = check_boxes(boxes_a, "boxes_a").detach().double().cpu()
    b = check_boxes(boxes_b, "boxes_b").detach().double().cpu()
    return _box_iou(a, b)


def _box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """box_iou without checks: (A, 4), (B, 4) float64 -> (A, B)."""
    a, b = a[:, None], b[None]                                     # (A, 1, 4), (1, B, 4)
    width = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]))
    height = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]))
    intersection = width.clamp(min=0) * height.clamp(min=0)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return intersection / (area_a + area_b - intersection)


def mask_iou(masks_a: torch.Tensor, masks_b: torch.Tensor,
             mask_threshold: float = 0.5) -> torch.Tensor:
    """IoU of every mask of ``masks_a`` with every mask of ``masks_b``: -> (A, B) float64.

    masks_a: (A, H, W) or (A, 1, H, W), masks_b: (B, H, W) or (B, 1, H, W), of the same
    H, W: 0/1 (any integer dtype, or bool) or probabilities (float in [0, 1], the object
    where > ``mask_threshold``, a float in [0, 1], as torchvision's Mask R-CNN returns
    them). The IoU counts pixels: those in both masks over those in either; two empty
    masks have IoU 0 (as ``pycocotools``).
    """
    mask_threshold = check_number(mask_threshold, "mask_threshold", low=0, high=1)
    a = check_instance_masks(masks_a, "masks_a", mask_threshold).detach().cpu()
    b = check_instance_masks(masks_b, "masks_b", mask_threshold).detach().cpu()
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"masks_b: expected masks of the size of masks_a "
                         f"{tuple(a.shape[1:])}, got {describe(masks_b)}")
    return _mask_iou(a, b)


def _mask_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mask_iou without checks: (A, H, W), (B, H, W) bool -> (A, B) float64."""
    a, b = a.flatten(1).double(), b.flatten(1).double()            # (A, H * W), (B, H * W)
    intersection = a @ b.T                    # pixels in both: a count, exact in float64
    union = a.sum(1)[:, None] + b.sum(1)[None] - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1), 0.0)


# ------------------------------------------------------------------ 2. matching


def match_detections(ious: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    """COCO's greedy matching of one image's detections of one class: -> (D,) int64, the
    true object each detection matched (its column), or -1 for none (a false positive).

    ious: (D, G) float, IoU of each detection (rows, in order of falling score) with each
    true object (columns), as from ``box_iou`` or ``mask_iou``, in [0, 1];
    iou_threshold: a float in [0, 1]. Detection by detection, best scored first: it takes
    the true object not yet taken with the highest IoU, if that IoU is >= iou_threshold
    (of two equally high, the later column, as ``pycocotools``). A higher-scored
    detection is never displaced by a later one that overlaps the object better.
    """
    check_tensor(ious, "ious", ndim=2, dims="(D, G)", kind="float")
    check_finite(ious, "ious")
    if ious.numel() and (ious.min() < 0 or ious.max() > 1):
        raise ValueError(f"ious: expected IoUs in [0, 1], found values "
                         f"{float(ious.min()):.4g}..{float(ious.max()):.4g}")
    iou_threshold = check_number(iou_threshold, "iou_threshold", low=0, high=1)
    return _match(ious.detach().double().cpu(), iou_threshold)


def _match(ious: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """match_detections without checks: (D, G) float64 -> (D,) int64."""
    detections, truths = ious.shape
    taken = torch.zeros(truths, dtype=torch.bool)
    matched = torch.full((detections,), -1, dtype=torch.long)
    for d in range(detections):
        free = (ious[d] >= iou_threshold) & ~taken
        if free.any():
            overlap = torch.where(free, ious[d], -1.0)
            best = truths - 1 - int(overlap.flip(0).argmax())     # the last of the highest
            matched[d], taken[best] = best, True
    return matched


# ------------------------------------------------------------------ 3. precision and recall


def detection_precision_recall(scores: torch.Tensor, true_positive: torch.Tensor,
                               num_truths: int):
    """The precision-recall curve of one class's detections over a data set:
    -> (precision (D,), recall (D,), scores (D,)) float64, in order of falling score.

    scores: (D,) float, finite, every detection of the class in every image;
    true_positive: (D,) bool (or 0/1 integers), whether each found a true object
    (``match_detections(...) >= 0``); num_truths: an int >= 1, the true objects of the
    class in all images, at least the number of true positives. Point k of the curve keeps
    the k + 1 best-scored detections: precision = TP / (k + 1), recall = TP / num_truths.
    Detections of equal score keep their order (a stable sort), as ``pycocotools``.
    """
    check_tensor(scores, "scores", ndim=1, dims="(D,)", kind="float")
    check_finite(scores, "scores")
    true_positive = check_indices(true_positive, "true_positive", ndim=1, dims="(D,)",
                                  low=0, high=1, wanted="0/1 (or bool): values")
    check_same_shape(true_positive, "true_positive", scores, "scores")
    num_truths = check_int(num_truths, "num_truths", low=1)
    if int(true_positive.sum()) > num_truths:
        raise ValueError(f"num_truths: expected at least the {int(true_positive.sum())} "
                         f"true positives (a true object is matched once), got {num_truths}")
    return _precision_recall(scores.detach().double().cpu(), true_positive.bool().cpu(),
                             num_truths)


def _precision_recall(scores: torch.Tensor, true_positive: torch.Tensor, num_truths: int):
    """detection_precision_recall without checks."""
    scores, order = torch.sort(scores, descending=True, stable=True)
    hits = true_positive[order].double().cumsum(0)             # TP among the first k + 1
    kept = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    return hits / kept, hits / num_truths, scores


# ------------------------------------------------------------------ 4. average precision


def average_precision(precision: torch.Tensor, recall: torch.Tensor) -> float:
    """COCO's 101-point interpolated average precision of a precision-recall curve: a float.

    precision, recall: (D,) float in [0, 1], point by point in order of falling score
    (recall never falls), as from ``detection_precision_recall``; no point (no detection)
    gives 0. At each recall level r = 0, 0.01, ..., 1 the interpolated precision is the
    best precision at any point with recall >= r (0 if none reaches r); AP is the mean of
    the 101 values. Taking the best precision further along smooths the curve's saw teeth
    (precision drops at each false positive and climbs back at the next true one), so
    that AP does not fall when a false positive is followed by true positives.
    """
    for name, value in (("precision", precision), ("recall", recall)):
        check_tensor(value, name, ndim=1, dims="(D,)", kind="float")
        check_finite(value, name)
        if value.numel() and (value.min() < 0 or value.max() > 1):
            raise ValueError(f"{name}: expected values in [0, 1], found "
                             f"{float(value.min()):.4g}..{float(value.max()):.4g}")
    check_same_shape(recall, "recall", precision, "precision")
    recall = recall.detach().double().cpu()
    if (recall.diff() < 0).any():
        raise ValueError("recall: expected a curve in order of falling score (recall never "
                         "falls), as from detection_precision_recall; got a falling recall")
    return _average_precision(precision.detach().double().cpu(), recall)


def _average_precision(precision: torch.Tensor, recall: torch.Tensor) -> float:
    """average_precision without checks."""
    if len(precision) == 0:
        return 0.0
    best_from_here = precision.flip(0).cummax(0).values.flip(0)    # max over points >= k
    first = torch.searchsorted(recall, RECALL_LEVELS, side="left")  # first point reaching r
    reached = first < len(recall)
    interpolated = torch.where(reached, best_from_here[first.clamp(max=len(recall) - 1)], 0.0)
    return float(interpolated.mean())


# ------------------------------------------------------------------ all together


def _objects(found: dict, where: str, iou_type: str, mask_threshold: float,
             scored: bool) -> tuple:
    """One image's objects, checked: (boxes (K, 4) float64 or masks (K, H, W) bool,
    labels (K,) int64, scores (K,) float64 or None), on the CPU."""
    key = "boxes" if iou_type == "bbox" else "masks"
    if key == "boxes":
        shapes = check_boxes(found["boxes"], f"{where}['boxes']").detach().double().cpu()
    else:
        shapes = check_instance_masks(found["masks"], f"{where}['masks']",
                                      mask_threshold).detach().cpu()
    labels = check_indices(found["labels"], f"{where}['labels']", ndim=1, dims="(K,)",
                           low=0, wanted="labels").cpu()
    entries = {key: shapes, "labels": labels}
    scores = None
    if scored:
        scores = check_tensor(found["scores"], f"{where}['scores']", ndim=1, dims="(K,)",
                              kind="float")
        scores = check_finite(scores, f"{where}['scores']").detach().double().cpu()
        entries["scores"] = scores
    check_per_instance(entries, where, len(labels))
    return shapes, labels, scores


def _images(predictions, targets, iou_type: str, mask_threshold: float,
            name: str = "predictions") -> list:
    """predictions and targets checked, image by image: a list of (ious (D, G) float64,
    detection labels (D,), scores (D,), true labels (G,)), IoUs between all the image's
    detections and true objects, whatever their classes; ``name``: the predictions'
    argument name in the messages."""
    key = "boxes" if iou_type == "bbox" else "masks"
    predictions = check_detections(predictions, name, (key, "labels", "scores"))
    targets = check_detections(targets, "targets", (key, "labels"))
    if len(predictions) != len(targets):
        raise ValueError(f"targets: expected one dict per image of {name} "
                         f"({len(predictions)}), got {len(targets)}")
    overlap = _box_iou if iou_type == "bbox" else _mask_iou
    images = []
    for i, (predicted, true) in enumerate(zip(predictions, targets, strict=True)):
        shapes, labels, scores = _objects(predicted, f"{name}[{i}]", iou_type,
                                          mask_threshold, scored=True)
        true_shapes, true_labels, _ = _objects(true, f"targets[{i}]", iou_type,
                                               mask_threshold, scored=False)
        if key == "masks" and shapes.shape[1:] != true_shapes.shape[1:]:
            raise ValueError(f"targets[{i}]['masks']: expected masks of the size of "
                             f"{name}[{i}]['masks'] {tuple(shapes.shape[1:])}, got "
                             f"{tuple(true_shapes.shape[1:])}")
        images.append((overlap(shapes, true_shapes), labels, scores, true_labels))
    return images


def _of_class(images: list, label: int, max_detections: int) -> tuple[list, int]:
    """One class's share of each image: ([(ious (D_i, G_i), scores (D_i,)), ...], G), the
    detections in order of falling score, at most max_detections of them (the best scored,
    as COCO keeps), G the class's true objects in all images."""
    per_image, num_truths = [], 0
    for ious, labels, scores, true_labels in images:
        mine = (labels == label).nonzero().flatten()
        mine = mine[torch.sort(scores[mine], descending=True, stable=True).indices]
        mine = mine[:max_detections]
        theirs = (true_labels == label).nonzero().flatten()
        per_image.append((ious[mine][:, theirs], scores[mine]))
        num_truths += len(theirs)
    return per_image, num_truths


def _curve(per_image: list, num_truths: int, iou_threshold: float):
    """Steps 2 and 3 for one class: match in each image, then precision and recall over
    all of them."""
    hits = torch.cat([_match(ious, iou_threshold) >= 0 for ious, _ in per_image])
    scores = torch.cat([scores for _, scores in per_image])
    return _precision_recall(scores, hits, num_truths)


def class_precision_recall(predictions, targets, label: int, iou_threshold: float = 0.5,
                           iou_type: str = "bbox", max_detections: int = 100,
                           mask_threshold: float = 0.5):
    """The precision-recall curve of one class over a data set, COCO's way:
    -> (precision (D,), recall (D,), scores (D,)) float64, in order of falling score.

    predictions, targets, iou_type, max_detections, mask_threshold: as for
    ``mean_average_precision``; label: an int, the class (it must have a true object in
    some image); iou_threshold: a float in [0, 1]. Each image's detections of the class
    are matched to its true objects of the class (``match_detections``), then all of them
    sorted by score (``detection_precision_recall``); ``average_precision(precision,
    recall)`` is the class's AP at that threshold, as ``mean_average_precision`` counts it.
    """
    iou_type = check_choice(iou_type, "iou_type", IOU_TYPES)
    label = check_int(label, "label", low=0)
    iou_threshold = check_number(iou_threshold, "iou_threshold", low=0, high=1)
    max_detections = check_int(max_detections, "max_detections", low=1)
    mask_threshold = check_number(mask_threshold, "mask_threshold", low=0, high=1)
    images = _images(predictions, targets, iou_type, mask_threshold)
    per_image, num_truths = _of_class(images, label, max_detections)
    if num_truths == 0:
        raise ValueError(f"label: expected a class with a true object in targets, got "
                         f"{label}, which has none (recall would be 0 / 0)")
    return _curve(per_image, num_truths, iou_threshold)


def mean_average_precision(predictions, targets, iou_type: str = "bbox",
                           max_detections: int = 100, mask_threshold: float = 0.5) -> dict:
    """COCO's average precision of detections (boxes) or instance masks over a data set.

    predictions: a list of N dicts, one per image, as torchvision's detection models
    return them in eval mode: ``scores`` (K,) finite floats, ``labels`` (K,) integers >= 0,
    and ``boxes`` (K, 4) (x1, y1, x2, y2) in pixel edges for iou_type "bbox", or ``masks``
    (K, 1, H, W) or (K, H, W) for "segm" (probabilities, the object where >
    ``mask_threshold``, or 0/1); targets: a list of N dicts the same way without scores
    (``instances.scene_targets``: boxes, labels, masks (K, H, W) uint8). An image may have
    no detection or no true object. iou_type: "bbox" or "segm"; max_detections: an int
    >= 1, the most detections of a class kept per image (the highest scored; COCO's 100);
    mask_threshold: a float in [0, 1].

    Returns a dict: ``map`` (AP@[.5:.95], the mean over classes and the ten thresholds),
    ``map_50`` and ``map_75`` (at IoU 0.5 and 0.75), floats; ``classes`` (C,) int64, the
    labels scored (those with a true object, increasing); ``ap`` (10, C) float64, the AP of
    each class at each threshold of ``iou_thresholds`` (10,); ``map_per_class`` (C,), its
    mean over the thresholds. At least one image must hold a true object.
    """
    iou_type = check_choice(iou_type, "iou_type", IOU_TYPES)
    max_detections = check_int(max_detections, "max_detections", low=1)
    mask_threshold = check_number(mask_threshold, "mask_threshold", low=0, high=1)
    images = _images(predictions, targets, iou_type, mask_threshold)
    classes = torch.cat([torch.zeros(0, dtype=torch.long)]
                        + [true_labels for *_, true_labels in images]).unique()
    if len(classes) == 0:
        raise ValueError("targets: no true object in any image; average precision needs "
                         "at least one (recall would be 0 / 0)")
    ap = torch.zeros(len(IOU_THRESHOLDS), len(classes), dtype=torch.float64)
    for c, label in enumerate(classes.tolist()):
        per_image, num_truths = _of_class(images, label, max_detections)
        for t, threshold in enumerate(IOU_THRESHOLDS.tolist()):
            precision, recall, _ = _curve(per_image, num_truths, threshold)
            ap[t, c] = _average_precision(precision, recall)
    return {"map": float(ap.mean()), "map_50": float(ap[0].mean()),
            "map_75": float(ap[5].mean()), "classes": classes, "ap": ap,
            "map_per_class": ap.mean(0), "iou_thresholds": IOU_THRESHOLDS.clone()}
