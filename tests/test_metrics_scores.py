"""coursekit.metrics.scores: accuracy, precision, recall, F1 (per class; macro, micro,
weighted), IoU and Dice read off one confusion matrix, against scikit-learn and
torchmetrics on random inputs, and the rule for classes with nothing to measure."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, jaccard_score, precision_recall_fscore_support
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from coursekit import metrics

AVERAGES = ("macro", "micro", "weighted")


def sklearn_scores(prediction, target, average, ignore_index=None):
    """precision, recall, F1 of scikit-learn over the counted pixels, with its default
    labels (the classes that occur in truth or prediction) and zero_division=0."""
    t, p = target.flatten().long().numpy(), prediction.flatten().long().numpy()
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return precision_recall_fscore_support(t, p, average=average, zero_division=0)[:3]


def test_a_hand_checked_example():
    cm = torch.tensor([[5, 1, 0],     # rows truth, columns prediction
                       [2, 2, 1],
                       [0, 1, 0]])
    # class 0: TP 5, FN 1 (row), FP 2 (column); class 1: TP 2, FN 3, FP 2;
    # class 2: TP 0, FN 1, FP 1 (present, always wrong)
    precision = [5 / 7, 2 / 4, 0.0]
    recall = [5 / 6, 2 / 5, 0.0]
    f1 = [2 * 5 / (10 + 2 + 1), 2 * 2 / (4 + 2 + 3), 0.0]
    assert metrics.precision_per_class(cm).tolist() == pytest.approx(precision)
    assert metrics.recall_per_class(cm).tolist() == pytest.approx(recall)
    assert metrics.f1_per_class(cm).tolist() == pytest.approx(f1)
    assert metrics.precision(cm) == pytest.approx(sum(precision) / 3)
    support = [6, 5, 1]
    assert metrics.f1_score(cm, "weighted") == pytest.approx(
        sum(f * s for f, s in zip(f1, support, strict=True)) / 12)
    assert metrics.f1_score(cm, "micro") == pytest.approx(7 / 12) == metrics.accuracy(cm)


def test_macro_f1_is_the_mean_of_per_class_f1_not_f1_of_macro_precision_and_recall():
    cm = torch.tensor([[90, 10], [5, 1]])
    per_class = metrics.f1_per_class(cm)
    assert metrics.f1_score(cm) == pytest.approx(float(per_class.mean()))
    p, r = metrics.precision(cm), metrics.recall(cm)
    assert abs(metrics.f1_score(cm) - 2 * p * r / (p + r)) > 1e-3


def test_a_class_absent_from_truth_and_prediction_is_nan_and_left_out():
    cm = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])     # class 2 never occurs
    for per_class in (metrics.precision_per_class, metrics.recall_per_class,
                      metrics.f1_per_class, metrics.iou_per_class, metrics.dice_per_class):
        assert math.isnan(per_class(cm)[2])
    assert metrics.precision(cm) == pytest.approx((5 / 7 + 3 / 4) / 2)
    assert metrics.precision(cm, "weighted") == pytest.approx((5 / 7 * 6 + 3 / 4 * 5) / 11)


def test_a_class_never_predicted_has_precision_0_and_one_absent_from_truth_recall_0():
    cm = torch.tensor([[4, 0, 1], [2, 0, 0], [0, 0, 0]])
    # class 1: in the truth, never predicted -> precision 0 / 0 -> 0 (as both libraries)
    # class 2: predicted once, absent from the truth -> recall 0 / 0 -> 0
    assert metrics.precision_per_class(cm)[1] == 0.0
    assert metrics.recall_per_class(cm)[2] == 0.0
    target = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    prediction = torch.tensor([0, 0, 0, 0, 2, 0, 0])
    assert torch.equal(metrics.confusion_matrix(prediction, target, 3), cm)
    for average in ("macro", "weighted"):
        p, r, f = sklearn_scores(prediction, target, average)
        assert metrics.precision(cm, average) == pytest.approx(p)
        assert metrics.recall(cm, average) == pytest.approx(r)
        assert metrics.f1_score(cm, average) == pytest.approx(f)


@st.composite
def predictions(draw):
    """(prediction, target, classes, ignore_index): random sizes, class counts, ignore
    masks and dtypes; some classes left out of truth, of prediction, or of both."""
    classes = draw(st.integers(2, 7))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    dtype = draw(st.sampled_from([torch.uint8, torch.int32, torch.int64]))
    ignore = draw(st.sampled_from([None, 255]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 16)))
    truth_classes = draw(st.integers(1, classes))
    target = torch.randint(truth_classes, shape, generator=g)
    prediction = torch.where(torch.rand(shape, generator=g) < 0.5, target,
                             torch.randint(classes, shape, generator=g))
    if draw(st.booleans()):
        prediction = prediction.clamp(max=classes - 2)     # the last class never predicted
    if ignore is not None:
        target = torch.where(torch.rand(shape, generator=g) < 0.2, ignore, target)
    return prediction.to(dtype), target.to(dtype), classes, ignore


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(predictions())
def test_precision_recall_f1_accuracy_equal_scikit_learn(case):
    prediction, target, classes, ignore = case
    cm = metrics.confusion_matrix(prediction, target, classes, ignore_index=ignore)
    if cm.sum() == 0:
        with pytest.raises(ValueError, match="cm: no pixel was counted"):
            metrics.precision(cm)
        return
    for average in AVERAGES:
        p, r, f = sklearn_scores(prediction, target, average, ignore)
        assert metrics.precision(cm, average) == pytest.approx(p, abs=1e-12)
        assert metrics.recall(cm, average) == pytest.approx(r, abs=1e-12)
        assert metrics.f1_score(cm, average) == pytest.approx(f, abs=1e-12)
    t, p = target.flatten().long().numpy(), prediction.flatten().long().numpy()
    keep = t != ignore if ignore is not None else np.ones(t.shape, bool)
    assert metrics.accuracy(cm) == pytest.approx(accuracy_score(t[keep], p[keep]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        present = np.union1d(t[keep], p[keep])
        iou = jaccard_score(t[keep], p[keep], labels=present, average=None, zero_division=0)
        miou = jaccard_score(t[keep], p[keep], average="macro", zero_division=0)
    assert metrics.iou_per_class(cm)[present].numpy() == pytest.approx(iou)
    assert metrics.mean_iou(cm) == pytest.approx(miou)        # default labels: present ones


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(predictions())
def test_precision_recall_f1_equal_torchmetrics(case):
    prediction, target, classes, ignore = case
    cm = metrics.confusion_matrix(prediction, target, classes, ignore_index=ignore)
    if cm.sum() == 0:
        return
    p, t = prediction.long().flatten(), target.long().flatten()
    for average in AVERAGES:
        for ours, theirs in [(metrics.precision, MulticlassPrecision),
                             (metrics.recall, MulticlassRecall),
                             (metrics.f1_score, MulticlassF1Score)]:
            reference = theirs(classes, average=average, ignore_index=ignore)(p, t).item()
            assert ours(cm, average) == pytest.approx(reference, abs=1e-6), (ours, average)
    reference = MulticlassAccuracy(classes, average="micro", ignore_index=ignore)(p, t).item()
    assert metrics.accuracy(cm) == pytest.approx(reference, abs=1e-6)
    occurs = (cm.sum(0) + cm.sum(1)) > 0          # torchmetrics: 0 where nothing occurs
    for ours, theirs in [(metrics.precision_per_class, MulticlassPrecision),
                         (metrics.recall_per_class, MulticlassRecall),
                         (metrics.f1_per_class, MulticlassF1Score)]:
        reference = theirs(classes, average=None, ignore_index=ignore)(p, t).double()
        values = ours(cm)
        assert torch.allclose(values[occurs], reference[occurs], atol=1e-6)
        assert torch.isnan(values[~occurs]).all() and (reference[~occurs] == 0).all()


def test_micro_and_weighted_recall_are_accuracy():
    g = torch.Generator().manual_seed(3)
    cm = torch.randint(0, 50, (4, 4), generator=g)
    accuracy = metrics.accuracy(cm)
    assert metrics.precision(cm, "micro") == metrics.recall(cm, "micro") == accuracy
    assert metrics.recall(cm, "weighted") == pytest.approx(accuracy)
    assert metrics.precision(cm, "weighted") != pytest.approx(accuracy)


def test_bad_input_gets_a_clear_error():
    cm = torch.tensor([[3, 1], [0, 2]])
    with pytest.raises(ValueError, match="average: expected one of 'macro', 'micro', "
                                         "'weighted', got 'binary'"):
        metrics.precision(cm, "binary")
    with pytest.raises(ValueError, match="average"):
        metrics.f1_score(cm, None)
    with pytest.raises(TypeError, match=r"cm: expected a tensor \(C, C\)"):
        metrics.recall(cm.tolist())
    with pytest.raises(ValueError, match="cm: no pixel was counted"):
        metrics.f1_per_class(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="cm: expected counts"):
        metrics.accuracy(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
