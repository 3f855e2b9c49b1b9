"""coursekit.metrics.detection_bootstrap: the kept matches give mean_average_precision of
every resample (images repeated) exactly, ties in score included; the paired bootstrap's
difference, seed and checks."""

import pytest
import torch

from coursekit.metrics import detection, detection_bootstrap, paired_bootstrap_map
from coursekit.metrics.bootstrap import _resample_indices


def scenes(seed, n=14, size=30, num_classes=4, iou_type="bbox"):
    """Random scenes: (predictions, targets). True boxes of labels 1..num_classes, some
    images with none; detections near them (jittered, 0 to 3 per object: duplicates),
    others anywhere, some of label num_classes + 1 (no truth anywhere); the last class
    never detected in even seeds; scores rounded to tenths (ties within and across
    images), masks (K, 1, H, W) probabilities for "segm"."""
    g = torch.Generator().manual_seed(seed)

    def boxes(k, near=None):
        corner = torch.rand(k, 2, generator=g) * (size - 6) if near is None else (
            near[:, :2] + torch.randn(k, 2, generator=g))
        side = 3 + torch.rand(k, 2, generator=g) * 8
        return torch.cat([corner, corner + side], 1)

    def masks(found, probabilities):
        grid = torch.arange(size) + 0.5
        inside = ((grid[None, None] > found[:, None, None, 0])
                  & (grid[None, None] < found[:, None, None, 2])
                  & (grid[None, :, None] > found[:, None, None, 1])
                  & (grid[None, :, None] < found[:, None, None, 3]))
        if not probabilities:
            return inside.to(torch.uint8)
        return (inside * 0.9 + ~inside * 0.1 * torch.rand(inside.shape, generator=g))[:, None]

    predictions, targets = [], []
    for _ in range(n):
        k = int(torch.randint(0, 5, (1,), generator=g))             # 0: an image without truth
        true_boxes, labels = boxes(k), torch.randint(1, num_classes + 1, (k,), generator=g)
        picked = torch.arange(k).repeat_interleave(torch.randint(0, 4, (k,), generator=g))
        extra = int(torch.randint(0, 3, (1,), generator=g))
        found = torch.cat([boxes(len(picked), true_boxes[picked]), boxes(extra)])
        found_labels = torch.cat([labels[picked],
                                  torch.randint(1, num_classes + 2, (extra,), generator=g)])
        if seed % 2 == 0:
            found_labels[found_labels == num_classes] = 1     # a class with truths only
        scores = (torch.rand(len(found), generator=g) * 10).round() / 10
        targets.append({"boxes": true_boxes, "labels": labels})
        predictions.append({"boxes": found, "labels": found_labels, "scores": scores})
        if iou_type == "segm":
            targets[-1]["masks"] = masks(true_boxes, probabilities=False)
            predictions[-1]["masks"] = masks(found, probabilities=True)
    return predictions, targets


def kept_map(predictions, targets, copies, iou_type="bbox", max_detections=100):
    images = detection._images(predictions, targets, iou_type, 0.5)
    matched = detection_bootstrap._kept_matches(images, max_detections)
    return detection_bootstrap._resample_map(matched, copies)


def direct_map(predictions, targets, copies, iou_type="bbox", max_detections=100):
    """mean_average_precision of the resample as a list: image i copies[i] times."""
    drawn = torch.arange(len(copies)).repeat_interleave(copies).tolist()
    return detection.mean_average_precision([predictions[i] for i in drawn],
                                            [targets[i] for i in drawn], iou_type,
                                            max_detections)["map"]


def some_copies(n, seed):
    """The whole set, three bootstrap draws, and a hand-made resample with zeros and
    many copies."""
    g = torch.Generator().manual_seed(seed)
    draws = [torch.bincount(torch.randint(n, (n,), generator=g), minlength=n)
             for _ in range(3)]
    by_hand = torch.zeros(n, dtype=torch.long)
    by_hand[:4] = torch.tensor([3, 0, 5, 1])
    return [torch.ones(n, dtype=torch.long), *draws, by_hand]


@pytest.mark.parametrize("seed", range(4))
def test_kept_matches_give_map_of_each_resample(seed):
    predictions, targets = scenes(seed)
    for copies in some_copies(len(targets), seed):
        if not any(len(targets[i]["labels"]) for i in copies.nonzero().flatten().tolist()):
            continue                                   # no truth drawn: no AP (NaN here)
        want = direct_map(predictions, targets, copies)
        assert abs(kept_map(predictions, targets, copies) - want) <= 1e-9, copies


def test_kept_matches_with_max_detections_and_masks():
    predictions, targets = scenes(5, n=8, size=24, iou_type="segm")
    for copies in some_copies(len(targets), 5)[:3]:
        for iou_type, most in (("segm", 100), ("bbox", 1), ("segm", 2)):
            want = direct_map(predictions, targets, copies, iou_type, most)
            got = kept_map(predictions, targets, copies, iou_type, most)
            assert abs(got - want) <= 1e-9, (iou_type, most, copies)


def test_ties_in_one_image_repeat_as_a_block():
    """One true object; two detections in one image, a hit and a miss (given in that
    order); the image twice. Of equal score 0.9, mean_average_precision's list sorts them
    hit, miss, hit, miss: precision 1 up to recall 1/2, then 2/3: AP (51 + 50 * 2/3) / 101
    at every threshold (repeating each detection in place, hit, hit, miss, miss, would
    give 1). Scored 0.9 and 0.8, it sorts them hit, hit, miss, miss: AP 1."""
    truth = {"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]]), "labels": torch.tensor([1])}
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0], [10.0, 10.0, 12.0, 12.0]])
    for scores, want in (([0.9, 0.9], (51 + 50 * 2 / 3) / 101), ([0.9, 0.8], 1.0)):
        found = {"boxes": boxes, "labels": torch.tensor([1, 1]),
                 "scores": torch.tensor(scores)}
        for copies in (torch.tensor([2]), torch.tensor([2, 0]), torch.tensor([1, 1])):
            found_n, truth_n = [found] * len(copies), [truth] * len(copies)
            assert direct_map(found_n, truth_n, copies) == pytest.approx(want, abs=1e-12)
            assert kept_map(found_n, truth_n, copies) == pytest.approx(want, abs=1e-12)


def other_reading(predictions, seed):
    """A second reading of the same scenes: each box moved a little, scores redrawn
    (rounded to tenths), about a fifth of the detections dropped."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for found in predictions:
        k = len(found["scores"])
        keep = torch.rand(k, generator=g) > 0.2
        moved = found["boxes"] + torch.randn(k, 4, generator=g) * 0.7
        moved[:, 2:] = torch.maximum(moved[:, 2:], moved[:, :2] + 1)
        scores = (torch.rand(k, generator=g) * 10).round() / 10
        out.append({"boxes": moved[keep], "labels": found["labels"][keep],
                    "scores": scores[keep]})
    return out


def test_difference_and_resamples_are_those_of_mean_average_precision():
    a, targets = scenes(7)
    b = other_reading(a, 7)
    result = paired_bootstrap_map(a, b, targets, n_resamples=100, seed=3)
    map_a = detection.mean_average_precision(a, targets)["map"]
    map_b = detection.mean_average_precision(b, targets)["map"]
    assert result["difference"] == pytest.approx(map_a - map_b, abs=1e-12)
    assert (result["map_a"], result["map_b"]) == pytest.approx((map_a, map_b), abs=1e-12)
    draws = _resample_indices(len(targets), 100, 3)
    for r in (0, 57):
        copies = torch.bincount(draws[r], minlength=len(targets))
        want = direct_map(a, targets, copies) - direct_map(b, targets, copies)
        assert abs(float(result["resamples"][r]) - want) <= 1e-9
    resamples = result["resamples"]
    assert result["low"] <= result["high"] and result["n_resamples"] == 100
    assert result["a_better"] == pytest.approx(float((resamples > 0).double().mean()))
    assert result["b_better"] == pytest.approx(float((resamples < 0).double().mean()))
    assert result["low"] == pytest.approx(float(resamples.quantile(0.025)))


def test_same_seed_same_result_and_copies_matter():
    a, targets = scenes(2)
    b = other_reading(a, 2)
    first = paired_bootstrap_map(a, b, targets, n_resamples=100, seed=1)
    again = paired_bootstrap_map(a, b, targets, n_resamples=100, seed=1)
    other = paired_bootstrap_map(a, b, targets, n_resamples=100, seed=2)
    assert torch.equal(first["resamples"], again["resamples"])
    assert (first["low"], first["high"]) == (again["low"], again["high"])
    assert not torch.equal(first["resamples"], other["resamples"])
    # a wrong implementation: the kept matches scored without the copies (the whole set)
    copies = some_copies(len(targets), 2)[1]
    whole = torch.ones(len(targets), dtype=torch.long)
    want = direct_map(a, targets, copies)
    assert abs(kept_map(a, targets, whole) - want) > 1e-3
    assert abs(kept_map(a, targets, copies) - want) <= 1e-9
    assert float(first["resamples"].std()) > 1e-3                # the resamples do differ


def test_segm_through_the_public_function():
    a, targets = scenes(4, n=6, size=20, iou_type="segm")
    b = [{**found, "masks": found["masks"].roll(1, -1), "scores": found["scores"].flip(0)}
         for found in a]                           # masks a pixel off, scores reordered
    result = paired_bootstrap_map(a, b, targets, "segm", n_resamples=100)
    want = (detection.mean_average_precision(a, targets, "segm")["map"]
            - detection.mean_average_precision(b, targets, "segm")["map"])
    assert result["difference"] == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("change, pattern", [
    ({"predictions_b": "short"}, r"^predictions_b: expected one dict per image of "
                                 r"predictions_a \(14\), got 13"),
    ({"targets": "short"}, r"^targets: expected one dict per image of predictions_a "
                           r"\(14\), got 13"),
    ({"n_resamples": 0}, r"^n_resamples: expected an int >= 100, got 0"),
    ({"n_resamples": 99.0}, r"^n_resamples: expected an int >= 100, got 99.0"),
    ({"confidence": 1.0}, r"^confidence: expected a number > 0 and < 1, got 1.0"),
    ({"confidence": 0}, r"^confidence: expected a number > 0 and < 1, got 0"),
    ({"iou_type": "box"}, r"^iou_type: expected one of 'bbox', 'segm', got 'box'"),
    ({"seed": -1}, r"^seed: expected an int >= 0, got -1"),
])
def test_bad_inputs_name_the_argument(change, pattern):
    a, targets = scenes(2)
    arguments = {"predictions_a": a, "predictions_b": other_reading(a, 2),
                 "targets": targets}
    for name, value in change.items():
        arguments[name] = arguments[name][:-1] if value == "short" else value
    with pytest.raises((TypeError, ValueError), match=pattern):
        paired_bootstrap_map(**arguments)
