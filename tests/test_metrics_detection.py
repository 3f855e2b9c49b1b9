"""coursekit.metrics.detection against pycocotools (through torchmetrics'
MeanAveragePrecision, backend="pycocotools") on random scenes, boxes and masks; the
documented differences (the thresholds' floats, no object at all) shown case by case;
torchvision's box_iou; hand-made curves; the tiny Mask R-CNN's outputs as they come."""

import math
import warnings

import pytest
import torch
from torchvision import ops

from coursekit import instances
from coursekit.metrics import detection

pytest.importorskip("pycocotools")
from torchmetrics.detection import MeanAveragePrecision  # noqa: E402

DECIMALS = {"iou_thresholds": detection.IOU_THRESHOLDS.tolist(),
            "rec_thresholds": detection.RECALL_LEVELS.tolist()}


def coco(predictions, targets, iou_type, **thresholds):
    """pycocotools' figures through torchmetrics: (map, map_50, map_75, per class)."""
    metric = MeanAveragePrecision(iou_type=iou_type, backend="pycocotools",
                                  class_metrics=True, **thresholds)
    key = "boxes" if iou_type == "bbox" else "masks"

    def plain(found):
        out = {"labels": found["labels"], key: found[key]}
        if key == "masks":
            masks = found["masks"]
            masks = masks[:, 0] if masks.dim() == 4 else masks
            out["masks"] = masks > 0.5 if masks.is_floating_point() else masks.bool()
        if "scores" in found:
            out["scores"] = found["scores"]
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # "too many detections" (maxDets 100)
        metric.update([plain(p) for p in predictions], [plain(t) for t in targets])
        result = metric.compute()
    return {name: float(result[name]) for name in ("map", "map_50", "map_75")} | {
        "map_per_class": result["map_per_class"].double().reshape(-1),
        "classes": result["classes"].reshape(-1)}


def pycocotools_direct(predictions, targets, iou_type, thresholds=DECIMALS):
    """pycocotools' COCOeval itself on COCO data sets made here, every image listed (with
    or without objects): (map, map_50, map_75, per class), "area=all, maxDets=100"."""
    import contextlib
    import io

    import numpy as np
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def annotations(entries, scored):
        out = []
        for i, found in enumerate(entries):
            for k, label in enumerate(found["labels"].tolist()):
                ann = {"id": len(out) + 1, "image_id": i, "category_id": label, "iscrowd": 0}
                if iou_type == "bbox":
                    x1, y1, x2, y2 = found["boxes"][k].double().tolist()
                    ann["bbox"], ann["area"] = [x1, y1, x2 - x1, y2 - y1], (x2 - x1) * (y2 - y1)
                else:
                    mask = found["masks"][k]
                    mask = mask[0] if mask.dim() == 3 else mask
                    mask = mask > 0.5 if mask.is_floating_point() else mask.bool()
                    rle = mask_utils.encode(np.asfortranarray(mask.numpy().astype(np.uint8)))
                    ann["segmentation"], ann["area"] = rle, float(mask_utils.area(rle))
                if scored:
                    ann["score"] = float(found["scores"][k])
                out.append(ann)
        return out

    labels = torch.cat([e["labels"] for e in predictions + targets]).unique().tolist()
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": [{"id": i, "height": 1, "width": 1}
                                    for i in range(len(targets))],
                         "annotations": annotations(targets, False),
                         "categories": [{"id": c} for c in labels]}
        truth.createIndex()
        found = truth.loadRes(annotations(predictions, True))
        evaluation = COCOeval(truth, found, iou_type)
        evaluation.params.iouThrs = np.array(thresholds["iou_thresholds"])
        evaluation.params.recThrs = np.array(thresholds["rec_thresholds"])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = torch.from_numpy(evaluation.eval["precision"][:, :, :, 0, -1])   # (T, R, K)
    per_class = torch.where((precision > -1).all(0).all(0), precision.mean((0, 1)), -1.0)
    stats = evaluation.stats
    return {"map": stats[0], "map_50": stats[1], "map_75": stats[2],
            "map_per_class": per_class.double(), "classes": torch.tensor(labels)}


def random_scenes(seed, n=12, size=40, num_classes=4, iou_type="bbox"):
    """Random scenes: true objects (boxes, or blobs filling boxes) of labels
    1..num_classes, some images without any; detections near them (jittered, duplicated,
    some relabelled), others anywhere (some of class num_classes + 1, which has no truth),
    some images without any; scores in (0, 1), a few tied; masks as probabilities
    (K, 1, H, W), as Mask R-CNN's, targets' masks uint8 (K, H, W)."""
    g = torch.Generator().manual_seed(seed)
    whole = torch.rand(1, generator=g) < 0.5        # whole pixels: IoUs of small fractions

    def boxes(corner, side):
        out = torch.cat([corner, corner + side], 1).clamp(0, size)
        out = out.round() if whole else out
        out[:, 2:] = torch.maximum(out[:, 2:], out[:, :2] + 1)
        return out

    def masks_in(boxes, probabilities):
        grid = torch.arange(size) + 0.5
        inside = ((grid[None, None, :] > boxes[:, None, None, 0])
                  & (grid[None, None, :] < boxes[:, None, None, 2])
                  & (grid[None, :, None] > boxes[:, None, None, 1])
                  & (grid[None, :, None] < boxes[:, None, None, 3]))
        masks = inside & (torch.rand(inside.shape, generator=g) > 0.1)    # a few holes
        if probabilities:
            return (masks * (0.5 + 0.5 * torch.rand(masks.shape, generator=g))
                    + ~masks * 0.5 * torch.rand(masks.shape, generator=g))[:, None]
        return masks.to(torch.uint8)

    predictions, targets = [], []
    for _ in range(n):
        k = int(torch.randint(1, 5, (1,), generator=g))
        k = k if torch.rand(1, generator=g) > 0.15 else 0           # an image with no truth
        true_boxes = boxes(torch.rand(k, 2, generator=g) * size,
                           4 + torch.rand(k, 2, generator=g) * 12)
        labels = torch.randint(1, num_classes + 1, (k,), generator=g)
        targets.append({"boxes": true_boxes, "labels": labels})
        near = torch.randint(0, 3, (k,), generator=g)               # 0, 1 or 2 per object
        picked = torch.arange(k).repeat_interleave(near)
        extra = int(torch.randint(0, 4, (1,), generator=g))
        if torch.rand(1, generator=g) < 0.15:                       # no detection
            picked, extra = picked[:0], 0
        jittered = true_boxes[picked] + torch.randn(len(picked), 4, generator=g) * 1.5
        found_boxes = torch.cat([boxes(jittered[:, :2], jittered[:, 2:] - jittered[:, :2]),
                                 boxes(torch.rand(extra, 2, generator=g) * size,
                                       2 + torch.rand(extra, 2, generator=g) * 12)])
        found_labels = torch.cat([labels[picked], torch.randint(
            1, num_classes + 2, (extra,), generator=g)])
        wrong = torch.rand(len(found_labels), generator=g) < 0.1
        found_labels = torch.where(wrong, 1 + (found_labels % num_classes), found_labels)
        scores = torch.rand(len(found_labels), generator=g)
        if len(scores) > 2:
            scores[1] = scores[0]                                    # a tie
        predictions.append({"boxes": found_boxes, "labels": found_labels, "scores": scores})
        if iou_type == "segm":
            targets[-1]["masks"] = masks_in(true_boxes, probabilities=False)
            predictions[-1]["masks"] = masks_in(found_boxes, probabilities=True)
    return predictions, targets


def assert_agrees(ours, theirs, atol=1e-6):
    for name in ("map", "map_50", "map_75"):
        assert abs(ours[name] - theirs[name]) <= atol, (name, ours[name], theirs[name])
    scored = theirs["map_per_class"] > -1              # classes COCO scores: with a truth
    assert torch.equal(ours["classes"], theirs["classes"][scored])
    torch.testing.assert_close(ours["map_per_class"], theirs["map_per_class"][scored],
                               atol=atol, rtol=0)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_pycocotools_on_random_scenes(seed, iou_type):
    predictions, targets = random_scenes(seed, iou_type=iou_type)
    ours = detection.mean_average_precision(predictions, targets, iou_type)
    assert_agrees(ours, pycocotools_direct(predictions, targets, iou_type))
    assert ours["ap"].shape == (10, len(ours["classes"]))
    assert 0 <= ours["map"] <= 1 and ours["map_50"] >= ours["map_75"]
    # torchmetrics: the same for boxes; for masks it leaves out the images without a true
    # object (its COCO data set lists an image only with masks), and with them the false
    # positives found there
    if iou_type == "segm":
        kept = [i for i, t in enumerate(targets) if len(t["labels"])]
        ours = detection.mean_average_precision([predictions[i] for i in kept],
                                                [targets[i] for i in kept], iou_type)
    assert_agrees(ours, coco(predictions, targets, iou_type, **DECIMALS))


def test_false_positives_in_an_image_without_truth_count_unlike_torchmetrics_segm():
    """Image 0: one object, found (score 0.5); image 1: no object, a detection of that
    class scored 0.9. COCO: the 0.9 is a false positive ranked first: precision 1/2 at
    recall 1, AP 0.5. torchmetrics' "segm" leaves image 1 out: AP 1."""
    mask = torch.zeros(1, 8, 8, dtype=torch.uint8)
    mask[0, 2:6, 2:6] = 1
    predictions = [{"masks": mask.float()[:, None], "labels": torch.tensor([1]),
                    "scores": torch.tensor([0.5])},
                   {"masks": mask.float()[:, None], "labels": torch.tensor([1]),
                    "scores": torch.tensor([0.9])}]
    targets = [{"masks": mask, "labels": torch.tensor([1])},
               {"masks": mask[:0], "labels": torch.zeros(0, dtype=torch.long)}]
    ours = detection.mean_average_precision(predictions, targets, "segm")
    assert ours["map"] == pytest.approx(0.5, abs=1e-12)
    assert pycocotools_direct(predictions, targets, "segm")["map"] == pytest.approx(0.5)
    assert coco(predictions, targets, "segm", **DECIMALS)["map"] == pytest.approx(1.0)
    boxes = [{**p, "boxes": torch.tensor([[2.0, 2.0, 6.0, 6.0]])} for p in predictions]
    true_boxes = [{**targets[0], "boxes": boxes[0]["boxes"]},
                  {**targets[1], "boxes": torch.zeros(0, 4)}]
    assert coco(boxes, true_boxes, "bbox", **DECIMALS)["map"] == pytest.approx(0.5)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_class_curves_give_the_ap_table(iou_type):
    """class_precision_recall, then average_precision: each entry of the AP table."""
    predictions, targets = random_scenes(21, iou_type=iou_type)
    result = detection.mean_average_precision(predictions, targets, iou_type)
    for c, label in enumerate(result["classes"].tolist()):
        for t in (0, 5, 9):
            precision, recall, scores = detection.class_precision_recall(
                predictions, targets, label, float(result["iou_thresholds"][t]), iou_type)
            assert (scores.diff() <= 0).all() and (recall.diff() >= 0).all()
            ap = detection.average_precision(precision, recall)
            assert ap == result["ap"][t, c]
    with pytest.raises(ValueError, match="label: expected a class with a true object"):
        detection.class_precision_recall(predictions, targets, 5, iou_type=iou_type)


def test_maxdets_100_per_image_and_class_as_coco():
    g = torch.Generator().manual_seed(7)
    truth = torch.tensor([[10.0, 10.0, 20.0, 20.0], [30.0, 5.0, 40.0, 25.0]])
    # 120 detections of class 1 in one image: the true ones scored low, past the 100th
    boxes = torch.cat([torch.rand(118, 2, generator=g) * 40, torch.zeros(118, 2)], 1)
    boxes[:, 2:] = boxes[:, :2] + 3
    boxes = torch.cat([boxes, truth])
    scores = torch.cat([0.5 + 0.5 * torch.rand(118, generator=g), torch.tensor([0.1, 0.2])])
    predictions = [{"boxes": boxes, "labels": torch.ones(120, dtype=torch.long),
                    "scores": scores},
                   {"boxes": truth, "labels": torch.tensor([2, 1]),
                    "scores": torch.tensor([0.9, 0.3])}]
    targets = [{"boxes": truth, "labels": torch.tensor([1, 1])},
               {"boxes": truth, "labels": torch.tensor([2, 1])}]
    ours = detection.mean_average_precision(predictions, targets)
    assert_agrees(ours, coco(predictions, targets, "bbox", **DECIMALS))
    everything = detection.mean_average_precision(predictions, targets, max_detections=120)
    assert everything["map_per_class"][0] > ours["map_per_class"][0]


def test_recall_exactly_at_a_level_differs_from_torchmetrics_defaults():
    """Three true objects of five found, before any false positive: recall 3/5 reaches the
    level 0.6 (precision 1 there), so AP = 61/101 (levels 0, ..., 0.6). torchmetrics'
    default levels are float32 values: its 0.6 is 0.6000000238, which recall 0.6 does not
    reach: AP 60/101."""
    truth = torch.tensor([[10.0 * i, 0.0, 10.0 * i + 5, 5.0] for i in range(5)])
    predictions = [{"boxes": truth[:3], "labels": torch.ones(3, dtype=torch.long),
                    "scores": torch.tensor([0.9, 0.8, 0.7])}]
    targets = [{"boxes": truth, "labels": torch.ones(5, dtype=torch.long)}]
    ours = detection.mean_average_precision(predictions, targets)
    assert ours["map"] == pytest.approx(61 / 101, abs=1e-12)
    assert coco(predictions, targets, "bbox", **DECIMALS)["map"] == pytest.approx(61 / 101)
    assert coco(predictions, targets, "bbox")["map"] == pytest.approx(60 / 101)


def test_recall_seven_tenths_differs_from_pycocotools_linspace():
    """Seven of ten objects found before any false positive: AP = 71/101 (levels 0, ...,
    0.70). pycocotools' own levels come from np.linspace, whose 0.7 is
    0.7000000000000001: recall 7/10 does not reach it (AP 70/101)."""
    np = pytest.importorskip("numpy")
    truth = torch.tensor([[10.0 * i, 0.0, 10.0 * i + 5, 5.0] for i in range(10)])
    predictions = [{"boxes": truth[:7], "labels": torch.ones(7, dtype=torch.long),
                    "scores": torch.linspace(0.9, 0.3, 7)}]
    targets = [{"boxes": truth, "labels": torch.ones(10, dtype=torch.long)}]
    ours = detection.mean_average_precision(predictions, targets)
    assert ours["map"] == pytest.approx(71 / 101, abs=1e-12)
    linspace = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    assert coco(predictions, targets, "bbox", iou_thresholds=DECIMALS["iou_thresholds"],
                rec_thresholds=linspace.tolist())["map"] == pytest.approx(70 / 101)


def test_mask_iou_exactly_at_a_threshold_differs_from_torchmetrics_defaults():
    """A predicted mask of 5 pixels over a true one of 3: IoU exactly 3/5. It reaches the
    thresholds 0.5, 0.55 and 0.6: AP 1 at three of ten, map 0.3. torchmetrics' default 0.6 is
    0.6000000238 (float32): matched at two, map 0.2."""
    true = torch.zeros(1, 6, 6, dtype=torch.uint8)
    true[0, 2, 1:4] = 1
    found = torch.zeros(1, 1, 6, 6)
    found[0, 0, 2, 0:5] = 0.9
    predictions = [{"masks": found, "labels": torch.tensor([3]), "scores": torch.tensor([0.8])}]
    targets = [{"masks": true, "labels": torch.tensor([3])}]
    assert detection.mask_iou(found, true).item() == 3 / 5
    ours = detection.mean_average_precision(predictions, targets, "segm")
    assert ours["map"] == pytest.approx(0.3, abs=1e-12) and ours["map_50"] == 1.0
    assert coco(predictions, targets, "segm", **DECIMALS)["map"] == pytest.approx(0.3)
    assert coco(predictions, targets, "segm")["map"] == pytest.approx(0.2)


def test_no_true_object_anywhere_is_an_error_where_coco_says_minus_one():
    predictions = [{"boxes": torch.tensor([[0.0, 0.0, 2.0, 2.0]]), "labels": torch.tensor([1]),
                    "scores": torch.tensor([0.5])}]
    targets = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    assert coco(predictions, targets, "bbox")["map"] == -1
    with pytest.raises(ValueError, match="targets: no true object in any image"):
        detection.mean_average_precision(predictions, targets)


def test_classes_only_predicted_or_never_found():
    """A class only predicted is not scored (COCO: recall 0 / 0); a class with true objects
    and no detection scores 0 and counts in the mean."""
    box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    predictions = [{"boxes": torch.cat([box, box]), "labels": torch.tensor([1, 9]),
                    "scores": torch.tensor([0.9, 0.8])}, {"boxes": torch.zeros(0, 4),
                                                          "labels": torch.zeros(0).long(),
                                                          "scores": torch.zeros(0)}]
    targets = [{"boxes": box, "labels": torch.tensor([1])},
               {"boxes": box, "labels": torch.tensor([4])}]
    ours = detection.mean_average_precision(predictions, targets)
    assert ours["classes"].tolist() == [1, 4]
    assert ours["map_per_class"].tolist() == [0.5, 0.0] or ours["map_per_class"].tolist() == [
        1.0, 0.0]
    assert ours["map"] == pytest.approx(0.5)
    assert_agrees(ours, coco(predictions, targets, "bbox", **DECIMALS))


def test_box_iou_equals_torchvision():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(7, 2, generator=g) * 20
    a = torch.cat([a, a + 1 + torch.rand(7, 2, generator=g) * 10], 1)
    b = torch.cat([a[:3] + 2, a[:4].round() + 0.5])
    torch.testing.assert_close(detection.box_iou(a, b), ops.box_iou(a.double(), b.double()))
    assert detection.box_iou(a, b[:0]).shape == (7, 0)
    assert detection.box_iou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]),
                             torch.tensor([[1.0, 0.0, 3.0, 2.0]])).item() == 1 / 3


def test_mask_iou_by_hand_and_empty_masks():
    a = torch.tensor([[[1, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]], dtype=torch.bool)
    b = torch.tensor([[[0, 1, 1], [0, 0, 0]]], dtype=torch.uint8)
    assert detection.mask_iou(a, b).tolist() == [[1 / 3], [0.0]]
    assert detection.mask_iou(a[1:], a[1:]).tolist() == [[0.0]]        # both empty
    probabilities = torch.tensor([[[[0.9, 0.6, 0.5], [0.1, 0.0, 0.2]]]])
    assert detection.mask_iou(probabilities, b).tolist() == [[1 / 3]]  # > 0.5: two pixels
    assert detection.mask_iou(probabilities, b, mask_threshold=0.4).tolist() == [[2 / 3]]


def test_match_detections_rules():
    ious = torch.tensor([[0.6, 0.7, 0.0],      # the best free one: object 1
                         [0.6, 0.9, 0.0],      # object 1 taken: object 0, though 0.9 > 0.6
                         [0.8, 0.8, 0.4],      # both taken; 0.4 < 0.5: none
                         [0.0, 0.0, 0.5]])     # IoU exactly at the threshold: a match
    assert detection.match_detections(ious, 0.5).tolist() == [1, 0, -1, 2]
    assert detection.match_detections(ious, 0.75).tolist() == [-1, 1, 0, -1]
    tie = torch.tensor([[0.6, 0.6]])            # equally high: the later (pycocotools)
    assert detection.match_detections(tie).tolist() == [1]
    assert detection.match_detections(torch.zeros(2, 0)).tolist() == [-1, -1]
    assert detection.match_detections(torch.zeros(0, 3)).tolist() == []


def test_precision_recall_and_ap_by_hand():
    """Scores 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP; 3 true objects: precision 1, 1/2, 2/3, 1/2,
    recall 1/3, 1/3, 2/3, 2/3. Interpolated: 1 for r <= 1/3 (34 levels 0..0.33), 2/3 for
    1/3 < r <= 2/3 (33 levels 0.34..0.66), 0 beyond (recall never reaches 0.67)."""
    scores = torch.tensor([0.6, 0.9, 0.7, 0.8])          # not sorted: the function sorts
    hits = torch.tensor([False, True, True, False])
    precision, recall, kept = detection.detection_precision_recall(scores, hits, 3)
    assert kept.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3, 1 / 2])
    assert recall.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    ap = detection.average_precision(precision, recall)
    assert ap == pytest.approx((34 * 1 + 33 * 2 / 3) / 101, abs=1e-12)
    assert detection.average_precision(torch.zeros(0), torch.zeros(0)) == 0.0
    assert detection.average_precision(torch.ones(3), torch.tensor([0.5, 0.9, 1.0])) == 1.0


def test_ap_of_the_tiny_maskrcnn_outputs_as_they_come():
    """instances.tiny_maskrcnn in eval mode (untrained, random weights): its list of dicts
    (boxes, labels, scores, masks (K, 1, H, W) probabilities) goes in as it is, with
    scene_targets' dicts (masks uint8) as the truth; the same numbers as pycocotools'."""
    torch.manual_seed(0)
    model = instances.tiny_maskrcnn(size=32).eval()
    model.roi_heads.score_thresh = 0.0                # an untrained model: keep its guesses
    images = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        predictions = model(list(images))
    semantic = torch.zeros(3, 32, 32, dtype=torch.long)
    objects = torch.zeros(3, 32, 32, dtype=torch.long)
    semantic[:2, 4:14, 5:12], objects[:2, 4:14, 5:12] = 4, 1
    semantic[0, 18:30, 16:28], objects[0, 18:30, 16:28] = 8, 2
    targets = [instances.scene_targets(objects[i], semantic[i]) for i in range(3)]
    assert any(len(p["scores"]) for p in predictions)
    for iou_type in ("bbox", "segm"):
        ours = detection.mean_average_precision(predictions, targets, iou_type)
        assert_agrees(ours, coco(predictions, targets, iou_type, **DECIMALS))


def test_perfect_and_empty_answers():
    predictions, targets = random_scenes(11, iou_type="segm")
    # an empty true mask (image 2: a box past the image's edge) is never found (IoU 0)
    assert any((t["masks"].flatten(1).sum(1) == 0).any() for t in targets)
    targets = [{key: value[t["masks"].bool().flatten(1).any(1)] for key, value in t.items()}
               for t in targets]
    perfect = [{**t, "scores": torch.rand(len(t["labels"]))} for t in targets]
    for iou_type in ("bbox", "segm"):
        result = detection.mean_average_precision(perfect, targets, iou_type)
        assert result["map"] == 1.0 and result["map_50"] == 1.0
        nothing = [{key: value[:0] for key, value in p.items()} for p in perfect]
        assert detection.mean_average_precision(nothing, targets, iou_type)["map"] == 0.0
    assert not math.isnan(detection.mean_average_precision(predictions, targets)["map"])
