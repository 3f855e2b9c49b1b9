"""coursekit.metrics: the confusion matrix and every metric read off it, checked by hand
and against torchmetrics on random inputs."""

import math

import pytest
import torch
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)

from coursekit import metrics


def test_a_hand_checked_example():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
    prediction = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
    cm = metrics.confusion_matrix(prediction, target, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]  # rows truth, columns prediction
    assert metrics.pixel_accuracy(cm) == pytest.approx(6 / 8)
    # class 0: TP 2, FP 1, FN 1 -> 2/4; class 1: TP 2, FP 1, FN 0 -> 2/3; class 2: 2/3
    assert metrics.iou_per_class(cm).tolist() == pytest.approx([0.5, 2 / 3, 2 / 3])
    assert metrics.dice_per_class(cm).tolist() == pytest.approx([4 / 6, 4 / 5, 4 / 5])
    assert metrics.mean_iou(cm) == pytest.approx((0.5 + 4 / 3) / 3)


def test_an_absent_class_is_skipped_not_counted_as_zero():
    target = torch.tensor([0, 0, 1, 1])
    cm = metrics.confusion_matrix(target.clone(), target, 3)   # class 2 never occurs
    assert math.isnan(metrics.iou_per_class(cm)[2])
    assert metrics.mean_iou(cm) == 1.0 and metrics.mean_dice(cm) == 1.0


def test_ignore_index_pixels_are_not_counted():
    target = torch.tensor([0, 1, 255, 255])
    prediction = torch.tensor([0, 1, 0, 1])
    cm = metrics.confusion_matrix(prediction, target, 2, ignore_index=255)
    assert cm.sum() == 2 and metrics.pixel_accuracy(cm) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_torchmetrics_on_random_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    C = 5
    target = torch.randint(C, (4, 16, 16), generator=g)
    prediction = torch.where(torch.rand(4, 16, 16, generator=g) < 0.6, target,
                             torch.randint(C, (4, 16, 16), generator=g))
    cm = metrics.confusion_matrix(prediction, target, C)
    assert torch.equal(cm, MulticlassConfusionMatrix(C)(prediction, target))
    iou = MulticlassJaccardIndex(C, average=None)(prediction, target)
    assert metrics.iou_per_class(cm).float() == pytest.approx(iou, abs=1e-6)
    assert metrics.mean_iou(cm) == pytest.approx(
        MulticlassJaccardIndex(C, average="macro")(prediction, target).item(), abs=1e-6)
    dice = MulticlassF1Score(C, average=None)(prediction, target)   # Dice = F1 per class
    assert metrics.dice_per_class(cm).float() == pytest.approx(dice, abs=1e-6)
    accuracy = MulticlassAccuracy(C, average="micro")(prediction, target)
    assert metrics.pixel_accuracy(cm) == pytest.approx(accuracy.item(), abs=1e-6)


def test_a_wrong_answer_is_caught():
    """A perfect prediction and one with a single wrong pixel do not score the same."""
    target = torch.zeros(8, 8, dtype=torch.long)
    target[2:4, 2:4] = 1
    wrong = target.clone()
    wrong[2, 2] = 0
    good = metrics.mean_iou(metrics.confusion_matrix(target, target, 2))
    bad = metrics.mean_iou(metrics.confusion_matrix(wrong, target, 2))
    assert good == 1.0 and bad < 1.0


def test_summary_and_evaluate_segmentation():
    class Perfect(torch.nn.Module):
        def forward(self, x):  # logits: class 1 where x > 0.5
            return torch.cat([0.5 - x, x - 0.5], dim=1)

    x = torch.rand(6, 1, 8, 8)
    y = (x[:, 0] > 0.5).long()
    loader = [(x[:3], y[:3]), (x[3:], y[3:])]
    cm = metrics.evaluate_segmentation(Perfect(), loader, 2)
    result = metrics.summary(cm, ["bg", "fg"])
    assert cm.sum() == 6 * 64 and result["miou"] == 1.0 and result["iou"]["fg"] == 1.0


def test_bad_input_gets_a_clear_error():
    t = torch.zeros(2, 4, 4, dtype=torch.long)
    with pytest.raises(TypeError, match="prediction: expected an integer tensor.*argmax"):
        metrics.confusion_matrix(torch.zeros(2, 3, 4, 4), t, 3)
    with pytest.raises(ValueError, match="prediction: expected the shape of target"):
        metrics.confusion_matrix(t[0], t, 3)
    bad = t.clone()
    bad[0, 0, 0] = 7
    with pytest.raises(ValueError,
                       match=r"target: expected class indices in 0..2, found values 0..7"):
        metrics.confusion_matrix(t, bad, 3)
    with pytest.raises(ValueError, match="num_classes: expected an int >= 2"):
        metrics.confusion_matrix(t, t, 1)


def test_the_package_keeps_every_name_of_the_old_module():
    """coursekit.metrics became a package (confusion, scores, curves, per_image, bootstrap,
    cells): every name callers used is still importable from coursekit.metrics."""
    from coursekit.metrics import confusion, scores

    old = ["confusion_matrix", "predicted_classes", "pixel_accuracy", "iou_per_class",
           "dice_per_class", "mean_iou", "mean_dice", "summary", "evaluate_segmentation"]
    for name in old:
        assert callable(getattr(metrics, name)), name
    assert metrics.confusion_matrix is confusion.confusion_matrix
    assert metrics.mean_iou is scores.mean_iou
    assert sorted(metrics.__all__) == sorted(
        name for name in dir(metrics) if not name.startswith("_")
        and callable(getattr(metrics, name)))
