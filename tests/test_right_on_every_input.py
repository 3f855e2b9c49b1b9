"""Regression tests for wrong numbers coursekit once gave without a word, each checked
against an independent reference (torchmetrics, scikit-learn, torch, a hand count), and
property tests: on random shapes, class counts, ignore masks and dtypes, coursekit's
metrics and losses equal torchmetrics' and torch's."""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.classification import (
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)

from coursekit import data, losses, metrics, train

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
