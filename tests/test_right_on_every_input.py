"""Regression tests for wrong numbers coursekit once gave without a word, each checked
against an independent reference (torchmetrics, scikit-learn, torch, a hand count), and
property tests: on random shapes, class counts, ignore masks and dtypes, coursekit's
metrics and losses equal torchmetrics' and torch's."""

import functools
import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import measure
from sklearn.metrics import accuracy_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.classification import (
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)
from torchvision import ops

from coursekit import data, instances, losses, metrics, models, regions, scenes, train

INTEGER_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]


# ------------------------------------------------------------------ uint8 masks, 21 classes


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_a_perfect_prediction_of_21_classes_scores_1_in_every_integer_dtype(dtype):
    g = torch.Generator().manual_seed(0)
    target = torch.randint(21, (2, 16, 16), generator=g)
    if dtype == torch.int8:
        target = target.clamp(max=20)
    cm = metrics.confusion_matrix(target.to(dtype), target.to(dtype), 21)
    assert metrics.mean_iou(cm) == 1.0            # was 0.41 with uint8 labels
    assert torch.equal(cm, MulticlassConfusionMatrix(21)(target, target))


def test_uint8_confusion_matrix_equals_torchmetrics_on_an_imperfect_prediction():
    g = torch.Generator().manual_seed(1)
    target = torch.randint(21, (3, 20, 20), generator=g)
    prediction = torch.where(torch.rand(3, 20, 20, generator=g) < 0.7, target,
                             torch.randint(21, (3, 20, 20), generator=g))
    ours = metrics.confusion_matrix(prediction.to(torch.uint8), target.to(torch.uint8), 21)
    assert torch.equal(ours, MulticlassConfusionMatrix(21)(prediction, target))


def test_bool_masks_are_two_classes():
    truth = torch.tensor([[True, False], [True, True]])
    guess = torch.tensor([[True, True], [False, True]])
    assert metrics.confusion_matrix(guess, truth, 2).tolist() == [[0, 1], [1, 2]]


def test_non_contiguous_views_count_the_same():
    g = torch.Generator().manual_seed(2)
    target = torch.randint(4, (8, 6), generator=g)
    prediction = torch.randint(4, (8, 6), generator=g)
    view = metrics.confusion_matrix(prediction.t(), target.t(), 4)
    assert torch.equal(view, metrics.confusion_matrix(prediction, target, 4))


def test_an_empty_confusion_matrix_is_an_error_not_a_score():
    cm = metrics.confusion_matrix(torch.zeros(0, dtype=torch.long),
                                  torch.zeros(0, dtype=torch.long), 3)
    assert cm.sum() == 0
    with pytest.raises(ValueError, match="cm: no pixel was counted"):
        metrics.pixel_accuracy(cm)
    with pytest.raises(ValueError, match="cm: no pixel was counted"):
        metrics.mean_iou(cm)


def test_an_absent_class_is_nan_here_0_in_torchmetrics_and_counted_by_scikit_learn():
    """The documented difference: a class in neither truth nor prediction has IoU NaN here
    and is left out of the mean. torchmetrics gives it 0 per class but leaves it out of
    its macro mean too; scikit-learn, told every label, gives it 0 and averages it in."""
    from sklearn.metrics import jaccard_score

    target = torch.tensor([0, 0, 1, 1])
    cm = metrics.confusion_matrix(target, target, 3)
    assert torch.isnan(metrics.iou_per_class(cm)[2]) and metrics.mean_iou(cm) == 1.0
    assert MulticlassJaccardIndex(3, average=None)(target, target)[2].item() == 0.0
    assert MulticlassJaccardIndex(3, average="macro")(target, target).item() == 1.0
    sklearn_miou = jaccard_score(target, target, labels=[0, 1, 2], average="macro",
                                 zero_division=0)
    assert sklearn_miou == pytest.approx(2 / 3)


# ------------------------------------------------------------------ fit / evaluate accuracy


def test_evaluate_does_not_count_ignored_pixels():
    torch.manual_seed(0)
    model = nn.Conv2d(1, 3, 1)
    x, y = torch.randn(4, 1, 5, 5), torch.randint(3, (4, 5, 5))
    y[:, :2] = 255                                         # two rows of every image ignored
    loader = DataLoader(TensorDataset(x, y), batch_size=3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=255)
    ours = train.evaluate(model, loader, "cpu", loss_fn=loss_fn)
    with torch.no_grad():
        predicted = model(x).argmax(1)
    keep = y != 255
    assert ours["accuracy"] == pytest.approx(accuracy_score(y[keep], predicted[keep]))
    assert ours["loss"] == pytest.approx(loss_fn(model(x), y).item(), rel=1e-5)
    partial = functools.partial(losses.cross_entropy, ignore_index=255)
    assert train.evaluate(model, loader, "cpu", loss_fn=partial)["accuracy"] == ours["accuracy"]


@pytest.mark.parametrize("label_shape", ["(N, H, W)", "(N, 1, H, W)"])
def test_a_binary_model_scores_at_most_1_and_as_counted_by_hand(label_shape):
    torch.manual_seed(1)
    model = nn.Conv2d(1, 1, 1)                             # one logit per pixel
    x = torch.randn(6, 1, 4, 4)
    y = (torch.rand(6, 4, 4) < 0.5).long()
    if label_shape == "(N, 1, H, W)":
        y = y[:, None].float()                             # as BCEWithLogitsLoss wants
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    accuracy = train.evaluate(model, loader, "cpu")["accuracy"]
    with torch.no_grad():
        by_hand = ((model(x)[:, 0] > 0).long() == y.reshape(6, 4, 4).long()).float().mean()
    assert accuracy == pytest.approx(by_hand.item()) and accuracy <= 1


def test_fit_reports_accuracy_without_the_ignored_pixels():
    torch.manual_seed(2)
    model = nn.Conv2d(1, 2, 1)
    x = torch.randn(8, 1, 4, 4)
    y = (x[:, 0] > 0).long()
    y[:, 0] = 255
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    history = train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.5), 30, "cpu",
                        loss_fn=nn.CrossEntropyLoss(ignore_index=255), test_loader=loader)
    assert history[-1]["test_accuracy"] == 1.0             # was 0.75: ignored rows as errors


def test_fit_refuses_a_clip_of_zero_that_would_freeze_training():
    model = nn.Linear(2, 2)
    loader = [(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long))]
    with pytest.raises(ValueError, match="clip_grad_norm: expected a number > 0, got 0.0"):
        train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 1, "cpu",
                  clip_grad_norm=0)


def test_fit_stops_with_a_clear_error_when_the_loss_becomes_nan():
    model = nn.Linear(2, 2)
    loader = [(torch.tensor([[float("nan"), 0.0]]), torch.zeros(1, dtype=torch.long))]
    with pytest.raises(FloatingPointError, match="loss: became nan at epoch 1, batch 0"):
        train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 1, "cpu")


def test_count_correct_reads_class_probabilities_by_their_argmax():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    soft = torch.tensor([[0.9, 0.1], [0.8, 0.2]])
    assert train.count_correct(logits, soft) == (1, 2)


# ------------------------------------------------------------------ losses


def test_soft_dice_is_finite_in_float16_and_close_to_float32():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 3, 64, 64, generator=g) * 4
    target = torch.randint(3, (8, 64, 64), generator=g)
    full = losses.soft_dice_loss(logits, target)
    for dtype in (torch.float16, torch.bfloat16):
        low = losses.soft_dice_loss(logits.to(dtype), target)
        assert torch.isfinite(low) and low.item() == pytest.approx(full.item(), abs=1e-2)


def test_cross_entropy_of_float16_logits_is_summed_in_float32():
    """On a GPU, F.cross_entropy on float16 logits of 32,768 pixels gave inf."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 3, 64, 64, generator=g) * 4
    target = torch.randint(3, (8, 64, 64), generator=g)
    full = losses.cross_entropy(logits, target)
    low = losses.cross_entropy(logits.half(), target)
    assert low.dtype == torch.float32 and low.item() == pytest.approx(full.item(), abs=1e-2)


def test_class_prior_bias_counts_only_real_classes():
    target = torch.tensor([[0, 0, 1, 255]])
    with pytest.raises(ValueError, match=r"target: expected class indices in 0..1, found"):
        losses.class_prior_bias(target, 2)                 # was: 256 values
    bias = losses.class_prior_bias(target.to(torch.uint8), 2, ignore_index=255)
    assert bias.exp().tolist() == pytest.approx([3 / 5, 2 / 5])   # (2+1)/(3+2), (1+1)/(3+2)


def test_binary_losses_ignore_pixels():
    logits = torch.tensor([[[2.0, -1.0, 5.0]]])
    target = torch.tensor([[[1, 0, 255]]], dtype=torch.uint8)
    expected = F.binary_cross_entropy_with_logits(logits[..., :2], target[..., :2].float())
    got = losses.binary_cross_entropy(logits, target, ignore_index=255)
    assert got.item() == pytest.approx(expected.item())


def test_a_batch_with_nothing_to_count_gives_zero_not_nan():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), 255)
    for loss in (losses.cross_entropy(logits, target, ignore_index=255),
                 losses.soft_dice_loss(logits, target, ignore_index=255, smooth=0.0)):
        assert loss.item() == 0.0
        loss.backward()


def test_normalize_refuses_uint8_and_handles_float64():
    images = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"images: expected a float tensor.*float\(\) / 255"):
        data.normalize(images, [0.5], [0.25])              # was: values wrapped around
    doubles = images.double() / 255
    assert data.normalize(doubles, [0.5], [0.25]).dtype == torch.float64
    assert data.normalize(doubles, [0.5], [0.25])[0, 0, 0, 2].item() == pytest.approx(2.0)


# ------------------------------------------------------------------ properties


@st.composite
def labelled_pixels(draw):
    """(prediction, target, num_classes, ignore_index, dtype) on a random shape."""
    classes = draw(st.integers(2, 24))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    dtype = draw(st.sampled_from([torch.uint8, torch.int16, torch.int32, torch.int64]))
    seed = draw(st.integers(0, 2 ** 16))
    ignore = draw(st.sampled_from([None, 255]))
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(classes, shape, generator=g)
    prediction = torch.where(torch.rand(shape, generator=g) < 0.5, target,
                             torch.randint(classes, shape, generator=g))
    if ignore is not None:
        target = torch.where(torch.rand(shape, generator=g) < 0.2, ignore, target)
    return prediction.to(dtype), target.to(dtype), classes, ignore


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labelled_pixels())
def test_confusion_matrix_and_iou_equal_torchmetrics(case):
    prediction, target, classes, ignore = case
    cm = metrics.confusion_matrix(prediction, target, classes, ignore_index=ignore)
    reference = MulticlassConfusionMatrix(classes, ignore_index=ignore)(
        prediction.long(), target.long())
    assert torch.equal(cm, reference)
    if cm.sum() == 0:
        return
    present = (cm.sum(0) + cm.sum(1)) > 0
    iou = MulticlassJaccardIndex(classes, average=None, ignore_index=ignore)(
        prediction.long(), target.long())
    assert np.allclose(metrics.iou_per_class(cm)[present].numpy(), iou[present].numpy(),
                       atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 3), st.integers(1, 5), st.integers(0, 2 ** 16),
       st.sampled_from([None, 255]), st.sampled_from([torch.uint8, torch.int64]))
def test_cross_entropy_equals_torch(classes, n, size, seed, ignore, dtype):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, size, size, generator=g)
    target = torch.randint(classes, (n, size, size), generator=g)
    if ignore is not None:
        target[torch.rand(n, size, size, generator=g) < 0.3] = ignore
    ours = losses.cross_entropy(logits, target.to(dtype), ignore_index=ignore)
    if ignore is not None and (target == ignore).all():
        assert ours.item() == 0.0
        return
    theirs = F.cross_entropy(logits, target, ignore_index=-100 if ignore is None else ignore)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 3), st.integers(1, 6), st.integers(0, 2 ** 16))
def test_soft_dice_of_confident_logits_is_1_minus_torchmetrics_dice(classes, n, size, seed):
    """With logits of +-50 the softmax is exactly one-hot, so soft Dice (smooth 0) is the
    hard Dice (F1) per class, averaged over the classes present in the target."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(classes, (n, size, size), generator=g)
    guess = torch.randint(classes, (n, size, size), generator=g)
    logits = F.one_hot(guess, classes).movedim(-1, 1).float() * 100 - 50
    ours = losses.soft_dice_loss(logits, target, smooth=0.0)
    f1 = MulticlassF1Score(classes, average=None, zero_division=0)(guess, target)
    present = torch.bincount(target.flatten(), minlength=classes) > 0
    assert ours.item() == pytest.approx(1 - f1[present].mean().item(), abs=1e-5)


# ============================================================ chapter 9's modules (issue 23)
# Each test below failed on the code before issue 23's fixes (a wrong number, a crash, an
# out-of-bounds read or an error from inside torch) and checks the fix against a reference
# that does not use coursekit: torchvision's ops, torch's pooling, scikit-image, a Counter.


def _cell(value: float) -> int:
    """C's round (halves away from zero), as torchvision's roi_pool rounds to cells."""
    return int(np.sign(value) * np.floor(abs(value) + 0.5))


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_roi_pool_crops_the_box_not_one_more_row_and_column(stride):
    """A box in pixel edges (x2, y2 one past the last column and row, as region_boxes gives
    them) covers map cells round(x1 s)..round(x2 s) - 1: the reference slices them and
    max-pools with torch's adaptive max pooling (roi_pool's bins). Before: roi_pool read
    x2 and y2 as cells, one row and one column more (at stride 1 a box of 8x8 pixels gave
    9x9)."""
    g = torch.Generator().manual_seed(stride)
    image = torch.rand(2, 3, 32, 32, generator=g)
    feature_map = F.max_pool2d(image, stride) if stride > 1 else image
    boxes = [torch.tensor([[4.0, 8.0, 12.0, 16.0], [0.0, 0.0, 32.0, 32.0]]),
             torch.tensor([[3.0, 5.0, 21.0, 30.0]])]
    s = 1 / stride
    expected = torch.cat([F.adaptive_max_pool2d(
        feature_map[i:i + 1, :, _cell(y1 * s):max(_cell(y2 * s), _cell(y1 * s) + 1),
                    _cell(x1 * s):max(_cell(x2 * s), _cell(x1 * s) + 1)], 4)
        for i, b in enumerate(boxes) for x1, y1, x2, y2 in b.tolist()])
    got = regions.crop_regions(feature_map, boxes, 4, "pool", spatial_scale=s)
    assert torch.equal(got, expected)


def test_roi_pool_of_a_box_sees_no_ink_past_its_far_edges():
    image = torch.zeros(1, 1, 12, 12)
    image[0, 0, :, 7] = image[0, 0, 9, :] = 1.0      # ink just right of and below the box
    box = [torch.tensor([[2.0, 3.0, 7.0, 9.0]])]      # columns 2..6, rows 3..8
    assert regions.crop_regions(image, box, 5, "pool").max() == 0      # was 1
    same_size = regions.crop_regions(torch.rand(1, 1, 12, 12, generator=torch.Generator()
                                                .manual_seed(1)), box, 1, "pool")
    assert same_size.shape == (1, 1, 1, 1)
    picture = torch.arange(144.0).reshape(1, 1, 12, 12)
    exact = regions.crop_regions(picture, [torch.tensor([[2.0, 3.0, 6.0, 7.0]])], 4, "pool")
    assert torch.equal(exact[0, 0], picture[0, 0, 3:7, 2:6])   # a 4x4 box at size 4: itself


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_crop_regions_refuses_a_non_finite_box_instead_of_crashing(bad):
    images = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"boxes\[0\]: expected finite numbers"):
        regions.crop_regions(images, [torch.tensor([[0.0, 0.0, bad, 4.0]]),
                                      torch.zeros(0, 4)], 4)
    with pytest.raises(ValueError, match="boxes: expected finite numbers"):
        regions.crop_regions(images, torch.tensor([[0.0, bad, 0.0, 4.0, 4.0]]), 4, "pool")


@pytest.mark.parametrize("index", [2.0, -1.0, 0.5, 1.7])
def test_crop_regions_refuses_an_image_index_that_is_no_image(index):
    """Before: 2 and -1 read memory outside the images, 0.5 and 1.7 cropped image 0 and 1."""
    images = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="boxes: expected image indices .* 0..1"):
        regions.crop_regions(images, torch.tensor([[index, 0.0, 0.0, 4.0, 4.0]]), 4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_crop_regions_of_half_precision_images_keeps_box_precision(dtype):
    """float16 and bfloat16 images are cropped in float32: torchvision's roi_align on the
    float32 image, in the image's dtype. Before: bfloat16 failed inside torchvision, and
    float16 rounded the boxes to float16 (257.3 -> 257.25), moving the crop."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 1, 320, 320, generator=g)
    boxes = [torch.tensor([[257.3, 250.1, 301.7, 290.9]])]
    expected = ops.roi_align(image.to(dtype).float(), boxes, 6, 1.0, 2, aligned=True)
    got = regions.crop_regions(image.to(dtype), boxes, 6)
    assert got.dtype == dtype
    assert torch.allclose(got.float(), expected, atol=4e-3 if dtype == torch.bfloat16
                          else 5e-4)


def test_crop_regions_refuses_images_of_no_pixel_and_boxes_float32_cannot_hold():
    """Both crashed torchvision's roi_align (a segmentation fault) before."""
    boxes = [torch.tensor([[1.0, 2.0, 9.0, 11.0]])]
    with pytest.raises(ValueError, match="images: expected at least 1x1 pixels"):
        regions.crop_regions(torch.zeros(1, 1, 0, 0), boxes, 4)
    with pytest.raises(ValueError, match=r"boxes\[0\]: expected coordinates a float32 can"):
        regions.crop_regions(torch.zeros(1, 1, 8, 8),
                             [torch.tensor([[0.0, 0.0, 1e300, 1e300]], dtype=torch.float64)], 4)
    float64 = regions.crop_regions(torch.ones(1, 1, 8, 8, dtype=torch.float64),
                                   [torch.tensor([[0.0, 0.0, 4.0, 4.0]], dtype=torch.float64)], 2)
    assert torch.equal(float64, torch.ones(1, 1, 2, 2, dtype=torch.float64))


def test_crop_regions_of_no_image_is_no_crop():
    got = regions.crop_regions(torch.zeros(0, 3, 8, 8), [], 5)   # was torch.cat's error
    assert got.shape == (0, 3, 5, 5)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_square_boxes_refuse_non_finite_boxes(bad):
    with pytest.raises(ValueError, match="boxes: expected finite numbers"):   # was NaN
        regions.square_boxes(torch.tensor([[0.0, 0.0, 4.0, 4.0], [1.0, bad, 5.0, 6.0]]))


def test_majority_classes_refuse_a_region_number_without_pixels():
    """Region 2 has no pixel: before, it got class 0 (background) without a word, while
    region_boxes refused the same labels."""
    labels = torch.tensor([[1, 0, 3]])
    with pytest.raises(ValueError, match="labels: region 2 has no pixel"):
        regions.majority_classes(torch.tensor([[1, 0, 2]]), labels, 3)
    with pytest.raises(ValueError, match="labels: region 2 has no pixel"):
        regions.region_boxes(labels)


def _digits(*labels):
    return [scenes.Digit(label, 0, 0, (0, 0, 1, 1)) for label in labels]


def test_scene_digit_counts_equal_a_counter_and_refuse_labels_that_are_no_digit():
    scenes_ = [_digits(3, 3, 7), _digits(), _digits(0, 9)]
    expected = [[Counter(d.label for d in digits)[c] for c in range(10)] for digits in scenes_]
    assert scenes.digit_counts(scenes_).tolist() == expected
    for bad, error in [(-1, ValueError), (10, ValueError), (True, TypeError),
                       (3.0, TypeError)]:
        # before: -1 counted as a 9, True as one of every digit, 10 and 3.0 IndexError
        with pytest.raises(error, match=r"digits_of_scenes\[0\]\[1\]\.label: expected an int"):
            scenes.digit_counts([_digits(2, bad)])
    with pytest.raises(TypeError, match=r"digits_of_scenes\[0\]: expected a list of Digit"):
        scenes.digit_counts(_digits(2))            # one scene's digits, not a list of scenes


DETECTIONS = {"boxes": torch.tensor([[0.0, 0, 4, 4], [1, 0, 4, 4], [6, 6, 9, 9]]),
              "scores": torch.tensor([0.6, 0.9, 0.8]), "labels": torch.tensor([2, 5, 7]),
              "masks": torch.rand(3, 1, 10, 10, generator=torch.Generator().manual_seed(0))}


def test_instance_digit_counts_refuse_nan_scores_and_labels_below_the_threshold():
    kept = DETECTIONS["labels"][DETECTIONS["scores"] > 0.7] - 1
    assert instances.digit_counts([DETECTIONS], 0.7)[0].tolist() == [
        Counter(kept.tolist())[c] for c in range(10)]
    bool_labels = {"labels": torch.tensor([True, False, True])}
    assert instances.digit_counts([bool_labels])[0].tolist() == [2] + [0] * 9
    with pytest.raises(ValueError, match=r"detections\[0\]\['scores'\]: expected finite"):
        instances.digit_counts([{**DETECTIONS, "scores": torch.tensor([math.nan, 0.9, 0.8])}],
                               0.5)                      # was: the NaN one silently dropped
    with pytest.raises(ValueError, match=r"detections\[0\]\['labels'\]: expected 0..10"):
        instances.digit_counts([{**DETECTIONS, "labels": torch.tensor([-1, 5, 7])}], 0.7)


def test_one_class_per_place_equals_torchvision_nms_and_refuses_broken_detections():
    keep = ops.nms(DETECTIONS["boxes"], DETECTIONS["scores"], 0.5)
    kept = instances.one_class_per_place([DETECTIONS])[0]
    assert torch.equal(kept["labels"], DETECTIONS["labels"][keep])
    assert torch.equal(kept["masks"], DETECTIONS["masks"][keep])
    # before: each of these returned detections (a NaN box kept, an inverted box kept
    # beside the box it overlaps, labels of another length indexed without a word)
    for key, bad, message in [
            ("boxes", torch.tensor([[math.nan, 0, 4, 4], [1, 0, 4, 4], [6, 6, 9, 9]]),
             "expected finite"),
            ("boxes", torch.tensor([[4.0, 4, 0, 0], [1, 0, 4, 4], [6, 6, 9, 9]]),
             "expected x2 > x1"),
            ("scores", torch.tensor([math.nan, 0.9, 0.8]), "expected finite"),
            ("labels", torch.tensor([2, 5, 7, 1]), "expected one entry per instance")]:
        with pytest.raises(ValueError, match=rf"detections\[0\]\['{key}'\]: {message}"):
            instances.one_class_per_place([{**DETECTIONS, key: bad}])


@pytest.mark.parametrize("key, bad, error, message", [
    ("labels", torch.tensor([-1, 5, 7]), ValueError, "labels'\\]: expected labels >= 0"),
    ("labels", torch.tensor([2.0, 5.0, 7.0]), TypeError, "labels'\\]: expected an integer"),
    ("boxes", torch.tensor([[math.nan, 0, 4, 4], [1, 0, 4, 4], [6, 6, 9, 9]]), ValueError,
     "boxes'\\]: expected finite"),
    ("masks", torch.rand(3, 2, 10, 10), ValueError, "masks'\\]: expected one mask per"),
    ("masks", torch.rand(3, 1, 10, 10) * 4 - 2, ValueError, "masks'\\]: expected probab"),
    ("scores", torch.tensor([math.nan, 0.9, 0.8]), ValueError, "scores'\\]: expected finite"),
])
def test_draw_instances_refuses_what_it_would_draw_wrong(key, bad, error, message):
    """Before: label -1 drawn as class_names[-1] ('9'), float labels truncated, a NaN box
    drawn somewhere, the second channel of masks dropped, logits thresholded as
    probabilities, a NaN-scored instance silently left out."""
    with pytest.raises(error, match=r"detections\['" + message):
        instances.draw_instances(torch.rand(1, 10, 10), {**DETECTIONS, key: bad})


def test_draw_instances_refuses_images_outside_0_1_and_names_that_are_not_str():
    with pytest.raises(ValueError, match=r"image: expected values in \[0, 1\]"):
        instances.draw_instances(torch.rand(1, 10, 10) * 255, DETECTIONS)  # was: all white
    with pytest.raises(ValueError, match="image: expected finite"):
        instances.draw_instances(torch.full((1, 10, 10), math.nan), DETECTIONS)
    with pytest.raises(TypeError, match="class_names: expected a list or tuple of names"):
        instances.draw_instances(torch.rand(1, 10, 10), DETECTIONS, class_names=list(range(11)))


def test_scene_targets_of_a_bool_instance_map_equal_scikit_image_boxes():
    mask = torch.zeros(7, 9, dtype=torch.bool)
    mask[2:5, 3:8] = True                               # was: TypeError for a bool map
    targets = instances.scene_targets(mask, mask.long() * 4)
    (region,) = measure.regionprops(mask.numpy().astype(int))
    r0, c0, r1, c1 = region.bbox                        # rows, columns; ends exclusive
    assert targets["boxes"].tolist() == [[c0, r0, c1, r1]]
    assert targets["labels"].tolist() == [4]
    assert torch.equal(targets["masks"][0].bool(), mask)


@pytest.mark.parametrize("images, message", [
    (torch.rand(2, 3, 8, 8), r"scenes.images: expected grey scenes"),
    (torch.full((2, 1, 8, 8), math.nan), "scenes.images: expected finite"),
    (torch.rand(2, 1, 8, 8) * 255, r"scenes.images: expected values in \[0, 1\]"),
])
def test_instance_scenes_refuse_images_the_tiny_mask_rcnn_cannot_read(images, message):
    import types

    semantic = torch.zeros(2, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=message):
        instances.InstanceScenes(types.SimpleNamespace(images=images, semantic=semantic,
                                                       instances=semantic))


@pytest.mark.parametrize("name", ["exact_match", "digit_precision", "digit_recall", "digit_f1"])
def test_multiset_scores_refuse_counts_that_are_no_counts(name):
    score = getattr(metrics, name)
    cms = metrics.count_confusion(torch.tensor([[0, 1, 1], [1, 0, 0]]),
                                  torch.tensor([[0, 2, 0], [1, 0, 0]]))
    good = score(cms)
    assert score(cms.float()) == good and score(cms.to(torch.uint8)) == good
    nan = cms.double()
    nan[0, 0, 1] = math.nan
    plain = metrics.confusion_matrix(torch.tensor([1, 2, 2]), torch.tensor([1, 1, 2]), 3)
    corner = cms.clone()
    corner[:, 0, 0] = 1
    # before: a number for each (negative counts: 0.46 for an F1 of 0.75; a plain
    # confusion matrix of classes: 1.0, its misreadings not seen)
    for bad, error, message in [(cms - 2, ValueError, "cms: expected counts >= 0"),
                                (nan, ValueError, "cms: expected finite"),
                                (cms > 0, TypeError, "cms: expected counts"),
                                (plain, ValueError, "cms: expected matrices from count"),
                                (corner, ValueError, r"cms: .*got \[0, 0\] = 2")]:
        with pytest.raises(error, match=message):
            score(bad)


def test_count_confusion_refuses_counts_of_no_class():
    with pytest.raises(ValueError, match="predicted: expected counts of at least one class"):
        metrics.count_confusion(torch.zeros(2, 0, dtype=torch.long),
                                torch.zeros(2, 0, dtype=torch.long))   # was (2, 1, 1) zeros


def test_pretrained_maskrcnn_version_is_an_int():
    with pytest.raises(TypeError, match="version: expected an int"):
        models.pretrained_maskrcnn(pretrained=False, version=2.0)     # was accepted


def _one_scene():
    ids = torch.zeros(32, 32, dtype=torch.long)
    ids[4:20, 4:20] = 1
    return torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(0)), \
        instances.scene_targets(ids, ids * 3)


@pytest.mark.parametrize("change, error, message", [
    (lambda image, t: ((image * 255).to(torch.uint8), t), TypeError,
     r"dataset\[0\] image: expected a float"),
    (lambda image, t: (image.expand(3, -1, -1), t), ValueError,
     r"dataset\[0\] image: expected 1 channel"),
    (lambda image, t: (image * math.nan, t), ValueError, r"dataset\[0\] image: expected finite"),
    (lambda image, t: (image * 255, t), ValueError,
     r"dataset\[0\] image: expected values in \[0, 1\]"),
    (lambda image, t: (image, {**t, "labels": torch.tensor([11])}), ValueError,
     r"dataset\[0\] targets\['labels'\]: expected labels 1..10"),
    (lambda image, t: (image, {**t, "labels": torch.tensor([0])}), ValueError,
     r"dataset\[0\] targets\['labels'\]: expected labels 1..10"),
    (lambda image, t: (image, {**t, "masks": t["masks"][:, :16]}), ValueError,
     r"dataset\[0\] targets\['masks'\]: expected masks of the image's size"),
    (lambda image, t: image, TypeError, r"dataset\[0\]: expected an \(image, targets\) pair"),
])
def test_train_detector_refuses_samples_mask_rcnn_would_fail_on_or_learn_wrong(change, error,
                                                                              message):
    """Before: torchvision's own errors from deep inside (a 3-channel image: a convolution's
    RuntimeError; label 11: an IndexError), a 'try a smaller lr' for a NaN image, and
    0..255 images or a background label trained on without a word."""
    image, targets = _one_scene()
    with pytest.raises(error, match=message):
        instances.train_detector(instances.tiny_maskrcnn(width=2, size=32),
                                 [change(image, targets)], 1, progress=False)


def test_train_detector_takes_uint8_labels_as_int64():
    image, targets = _one_scene()
    runs = []
    for labels in (targets["labels"], targets["labels"].to(torch.uint8)):
        torch.manual_seed(0)
        model = instances.tiny_maskrcnn(width=2, size=32)
        runs.append(instances.train_detector(model, [(image, {**targets, "labels": labels})],
                                             2, batch_size=1, progress=False))
    assert runs[0] == runs[1]
