"""coursekit.metrics.curves: the precision-recall curve of a probability map equals
scikit-learn's (every distinct threshold) and torchmetrics' (given thresholds); the
F1-best threshold is the best of a brute-force search over confusion matrices."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_curve as sk_precision_recall_curve
from torchmetrics.classification import BinaryPrecisionRecallCurve

from coursekit import metrics


@st.composite
def probability_maps(draw):
    """(probability, target, ignore_index): random shapes, ties (quantised probabilities),
    dtypes, at least one positive pixel."""
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=1, max_size=3)))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 16)))
    probability = torch.rand(shape, generator=g, dtype=torch.float64)
    levels = draw(st.sampled_from([None, 4, 10]))
    if levels is not None:
        probability = (probability * levels).round() / levels   # many equal values
    probability = probability.to(draw(st.sampled_from([torch.float32, torch.float64])))
    target = (torch.rand(shape, generator=g) < probability.double()).long()
    target.view(-1)[0] = 1
    ignore = draw(st.sampled_from([None, 255]))
    if ignore is not None:
        target = torch.where(torch.rand(shape, generator=g) < 0.2, ignore, target)
        target.view(-1)[0] = 1
    dtype = draw(st.sampled_from([torch.uint8, torch.int64] + ([torch.bool] if ignore is None
                                                              else [])))
    return probability, target.to(dtype), ignore


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(probability_maps())
def test_the_exact_curve_equals_scikit_learn(case):
    probability, target, ignore = case
    precision, recall, thresholds = metrics.precision_recall_curve(probability, target,
                                                                   ignore_index=ignore)
    t, p = target.long().flatten().numpy(), probability.double().flatten().numpy()
    keep = t != ignore if ignore is not None else np.ones(t.shape, bool)
    sk_precision, sk_recall, sk_thresholds = sk_precision_recall_curve(t[keep], p[keep])
    assert np.allclose(thresholds.numpy(), sk_thresholds, rtol=0, atol=0)
    assert np.allclose(precision.numpy(), sk_precision, rtol=0, atol=1e-12)
    assert np.allclose(recall.numpy(), sk_recall, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(probability_maps(), st.integers(2, 12))
def test_given_thresholds_equal_torchmetrics(case, k):
    probability, target, ignore = case
    thresholds = torch.linspace(0, 1, k)            # float32, as torchmetrics makes them
    precision, recall, used = metrics.precision_recall_curve(
        probability.float(), target, thresholds=thresholds, ignore_index=ignore)
    reference = BinaryPrecisionRecallCurve(thresholds=thresholds, ignore_index=ignore)
    tm_precision, tm_recall, tm_thresholds = reference(probability.float(), target.long())
    assert torch.equal(used, tm_thresholds.double())
    assert torch.allclose(precision, tm_precision.double(), atol=1e-6, equal_nan=True)
    assert torch.allclose(recall, tm_recall.double(), atol=1e-6)


def brute_force_best(probability, target, thresholds):
    """The F1-best threshold by building a confusion matrix at each threshold."""
    best = None
    for threshold in thresholds:
        cm = metrics.confusion_matrix((probability >= threshold).long(), target, 2)
        f1 = float(metrics.f1_per_class(cm)[1])
        if best is None or f1 > best[1] + 1e-12:
            best = (float(threshold), f1)
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(probability_maps())
def test_best_f1_threshold_is_the_best_of_a_brute_force_search(case):
    probability, target, ignore = case
    if ignore is not None:
        return        # brute_force_best counts every pixel
    target = target.long()
    result = metrics.best_f1_threshold(probability, target)
    threshold, f1 = brute_force_best(probability, target, torch.unique(probability.double()))
    assert result["threshold"] == pytest.approx(threshold)
    assert result["f1"] == pytest.approx(f1)
    p, r = result["precision"], result["recall"]
    assert result["f1"] == pytest.approx(2 * p * r / (p + r))


def test_a_hand_checked_curve():
    probability = torch.tensor([0.1, 0.4, 0.35, 0.8])
    target = torch.tensor([0, 0, 1, 1])
    precision, recall, thresholds = metrics.precision_recall_curve(probability, target)
    assert thresholds.tolist() == pytest.approx([0.1, 0.35, 0.4, 0.8])
    assert precision.tolist() == pytest.approx([0.5, 2 / 3, 0.5, 1.0, 1.0])
    assert recall.tolist() == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.0])
    best = metrics.best_f1_threshold(probability, target)
    assert best["threshold"] == pytest.approx(0.35) and best["f1"] == pytest.approx(0.8)
    grid = metrics.best_f1_threshold(probability, target, thresholds=[0.5, 0.9])
    assert grid["threshold"] == 0.5 and grid["precision"] == 1.0 and grid["recall"] == 0.5
    nothing = metrics.precision_recall_curve(probability, target, thresholds=[0.9])[0]
    assert torch.isnan(nothing[0])                   # 0 / 0: nothing predicted at 0.9


def test_bad_input_gets_a_clear_error():
    p = torch.tensor([0.2, 0.7, 0.9])
    t = torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match="probability: expected finite numbers"):
        metrics.precision_recall_curve(torch.tensor([0.2, float("nan"), 0.9]), t)
    with pytest.raises(ValueError, match=r"probability: expected probabilities in \[0, 1\].*"
                                         "sigmoid"):
        metrics.precision_recall_curve(p * 3 - 1, t)
    with pytest.raises(TypeError, match="probability: expected a float tensor"):
        metrics.precision_recall_curve(t, t)
    with pytest.raises(TypeError, match="target: expected an integer tensor"):
        metrics.precision_recall_curve(p, t.float())
    with pytest.raises(ValueError, match="target: expected class indices in 0..1"):
        metrics.precision_recall_curve(p, t + 1)
    with pytest.raises(ValueError, match="target: expected the shape of probability"):
        metrics.precision_recall_curve(p, t[:2])
    with pytest.raises(ValueError, match="target: expected at least one positive pixel"):
        metrics.precision_recall_curve(p, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="target: no pixel was counted"):
        metrics.best_f1_threshold(p, torch.full((3,), 255), ignore_index=255)
    with pytest.raises(ValueError, match="target: no pixel was counted"):
        metrics.precision_recall_curve(p[:0], t[:0])
    with pytest.raises(ValueError, match=r"thresholds: expected values in \[0, 1\]"):
        metrics.precision_recall_curve(p, t, thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="thresholds: expected an int >= 2, got 1"):
        metrics.best_f1_threshold(p, t, thresholds=1)
    with pytest.raises(TypeError, match="thresholds"):
        metrics.best_f1_threshold(p, t, thresholds=0.5)
    with pytest.raises(ValueError, match="thresholds"):
        metrics.best_f1_threshold(p, t, thresholds=[])
