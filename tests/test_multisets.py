"""coursekit.metrics.multisets against a hand loop over Counters, closed forms and
scikit-learn (where each digit occurs at most once a scene, the answer is a multilabel
prediction); edge cases, the bootstrap over scenes, and every function's bad inputs."""

from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from coursekit import metrics

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def answers(draw, max_count=3):
    """(predicted, true): (N, K) counts of a few scenes."""
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    high = draw(st.integers(1, max_count + 1))
    return (torch.randint(0, high, (n, k), generator=g),
            torch.randint(0, high, (n, k), generator=g))


def as_multiset(counts_row) -> Counter:
    """One scene's counts as the multiset of its digits: {3: 2, 7: 1} for two 3s and a 7."""
    return Counter({c: int(n) for c, n in enumerate(counts_row.tolist()) if n})


def hand_tp_fp_fn(predicted, true):
    """Per scene and class, by Counters: TP = the common part, FP and FN what is left."""
    out = []
    for p_row, t_row in zip(predicted, true, strict=True):
        p, t = as_multiset(p_row), as_multiset(t_row)
        common = p & t                     # Counter intersection: the minimum per element
        out.append((common, p - common, t - common))
    return out


@SETTINGS
@given(answers())
def test_count_confusion_equals_a_hand_loop(pair):
    predicted, true = pair
    cms = metrics.count_confusion(predicted, true)
    n, k = true.shape
    assert cms.shape == (n, k + 1, k + 1) and cms.dtype == torch.int64
    for cm, (tp, fp, fn) in zip(cms, hand_tp_fp_fn(predicted, true), strict=True):
        expected = torch.zeros(k + 1, k + 1, dtype=torch.long)
        for c in range(k):
            expected[c + 1, c + 1] = tp[c]
            expected[0, c + 1] = fp[c]
            expected[c + 1, 0] = fn[c]
        assert torch.equal(cm, expected)
        assert cm[1:, 1:].sum() == cm.diagonal()[1:].sum()     # nothing off the diagonal
    assert torch.equal(cms.sum(1)[:, 1:], predicted)            # columns: what was claimed
    assert torch.equal(cms.sum(2)[:, 1:], true)                 # rows: what is there


@SETTINGS
@given(answers())
def test_scores_equal_closed_forms(pair):
    predicted, true = pair
    cms = metrics.count_confusion(predicted, true)
    tp = int(torch.minimum(predicted, true).sum())
    claimed, there = int(predicted.sum()), int(true.sum())
    exact = float((predicted == true).all(1).double().mean())
    assert metrics.exact_match(cms) == pytest.approx(exact)
    precision = metrics.digit_precision(cms)
    recall = metrics.digit_recall(cms)
    f1 = metrics.digit_f1(cms)
    assert all(isinstance(v, float) for v in (precision, recall, f1))
    assert precision == pytest.approx(tp / claimed if claimed else float(there == 0))
    assert recall == pytest.approx(tp / there if there else float(claimed == 0))
    assert f1 == pytest.approx(2 * tp / (claimed + there) if claimed + there else 1.0)
    if precision + recall:
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall))
    # one scene's matrix alone, (K + 1, K + 1), scores as a stack of one
    assert metrics.digit_f1(cms[0]) == pytest.approx(metrics.digit_f1(cms[:1]))
    assert metrics.exact_match(cms[0]) == metrics.exact_match(cms[:1])


@SETTINGS
@given(answers(max_count=1))
def test_scores_equal_scikit_learn_multilabel(pair):
    predicted, true = pair                  # counts 0/1: which digits are in each scene
    assume(true.shape[1] >= 2)              # one column reads as binary to scikit-learn
    cms = metrics.count_confusion(predicted, true)
    y_true, y_pred = true.numpy(), predicted.numpy()
    if y_pred.sum():
        assert metrics.digit_precision(cms) == pytest.approx(
            skm.precision_score(y_true, y_pred, average="micro", zero_division=0))
    if y_true.sum():
        assert metrics.digit_recall(cms) == pytest.approx(
            skm.recall_score(y_true, y_pred, average="micro", zero_division=0))
    if y_true.sum() + y_pred.sum():
        assert metrics.digit_f1(cms) == pytest.approx(
            skm.f1_score(y_true, y_pred, average="micro", zero_division=0))
    assert metrics.exact_match(cms) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    # per class, from the one matrix (class c at index c + 1): scikit-learn per label
    summed = cms.sum(0)
    claimed = summed.sum(0)[1:] > 0              # columns: what was claimed; others 0 / 0
    per_class = summed.diagonal()[1:][claimed].double() / summed.sum(0)[1:][claimed]
    expected = skm.precision_score(y_true, y_pred, average=None, zero_division=0)
    np.testing.assert_allclose(per_class.numpy(), expected[claimed.numpy()])


def test_a_misread_digit_is_one_fp_and_one_fn():
    # truth: two 3s and a 7; answer: a 3, an 8 and a 7 (one 3 read as an 8)
    true = torch.zeros(1, 10, dtype=torch.long)
    true[0, 3], true[0, 7] = 2, 1
    predicted = torch.zeros(1, 10, dtype=torch.long)
    predicted[0, 3] = predicted[0, 7] = predicted[0, 8] = 1
    cm = metrics.count_confusion(predicted, true)[0]
    assert cm[4, 4] == 1 and cm[8, 8] == 1 and cm[4, 0] == 1 and cm[0, 9] == 1
    assert cm.sum() == 4 and cm[0, 0] == 0
    assert metrics.digit_precision(cm) == pytest.approx(2 / 3)
    assert metrics.digit_recall(cm) == pytest.approx(2 / 3)
    assert metrics.digit_f1(cm) == pytest.approx(2 / 3)
    assert metrics.exact_match(cm) == 0.0


def test_edge_cases():
    nothing = torch.zeros(3, 10, dtype=torch.long)
    some = torch.zeros(3, 10, dtype=torch.long)
    some[0, 1] = some[2, 5] = 2
    # empty scenes, nothing claimed: all right
    cms = metrics.count_confusion(nothing, nothing)
    assert (metrics.exact_match(cms), metrics.digit_precision(cms), metrics.digit_recall(cms),
            metrics.digit_f1(cms)) == (1.0, 1.0, 1.0, 1.0)
    # digits there, nothing claimed: nothing found, nothing claimed wrongly
    cms = metrics.count_confusion(nothing, some)
    assert metrics.exact_match(cms) == pytest.approx(1 / 3)            # scene 1 is empty
    assert (metrics.digit_precision(cms), metrics.digit_recall(cms),
            metrics.digit_f1(cms)) == (0.0, 0.0, 0.0)
    # nothing there, digits claimed
    cms = metrics.count_confusion(some, nothing)
    assert (metrics.digit_precision(cms), metrics.digit_recall(cms),
            metrics.digit_f1(cms)) == (0.0, 0.0, 0.0)
    # all right
    cms = metrics.count_confusion(some, some)
    assert (metrics.exact_match(cms), metrics.digit_precision(cms), metrics.digit_recall(cms),
            metrics.digit_f1(cms)) == (1.0, 1.0, 1.0, 1.0)
    # no scene at all: an error, not a score
    none = metrics.count_confusion(nothing[:0], nothing[:0])
    assert none.shape == (0, 11, 11)
    for score in (metrics.exact_match, metrics.digit_precision, metrics.digit_recall,
                  metrics.digit_f1):
        with pytest.raises(ValueError, match="cms: no scene to score"):
            score(none)
    # other integer dtypes, non-contiguous inputs
    g = torch.Generator().manual_seed(1)
    predicted, true = torch.randint(0, 3, (2, 4, 10), generator=g)
    expected = metrics.count_confusion(predicted, true)
    assert torch.equal(metrics.count_confusion(predicted.to(torch.uint8), true.int()), expected)
    assert torch.equal(metrics.count_confusion(predicted.t().contiguous().t(),
                                               true.t().contiguous().t()), expected)


def test_bootstrap_interval_over_scenes():
    g = torch.Generator().manual_seed(0)
    true = torch.randint(0, 3, (40, 10), generator=g)
    predicted = true.clone()
    wrong = torch.rand(true.shape, generator=g) < 0.1
    predicted[wrong] = torch.randint(0, 3, (int(wrong.sum()),), generator=g)
    cms = metrics.count_confusion(predicted, true)
    result = metrics.bootstrap_interval(cms, metrics.digit_f1, n_resamples=200, seed=0)
    assert result["score"] == pytest.approx(metrics.digit_f1(cms))
    assert result["low"] <= result["score"] <= result["high"] <= 1.0
    assert result["low"] < result["high"]
    again = metrics.bootstrap_interval(cms, metrics.exact_match, n_resamples=200, seed=0)
    assert again["low"] <= metrics.exact_match(cms) <= again["high"]


def test_bad_inputs():
    counts = torch.tensor([[1, 0, 2]])
    with pytest.raises(TypeError, match="predicted: expected integer counts"):
        metrics.count_confusion(counts.float(), counts)
    with pytest.raises(TypeError, match="true: expected integer counts"):
        metrics.count_confusion(counts, counts.bool())
    with pytest.raises(TypeError, match="predicted: expected a tensor"):
        metrics.count_confusion([[1, 0, 2]], counts)
    with pytest.raises(ValueError, match=r"true: expected a tensor \(N, K\)"):
        metrics.count_confusion(counts, counts[0])
    with pytest.raises(ValueError, match="predicted: expected counts >= 0, got -1"):
        metrics.count_confusion(torch.tensor([[1, -1, 2]]), counts)
    with pytest.raises(ValueError, match=r"predicted: expected the shape of true \(1, 3\)"):
        metrics.count_confusion(counts[:, :2], counts)
    for score in (metrics.exact_match, metrics.digit_precision, metrics.digit_recall,
                  metrics.digit_f1):
        with pytest.raises(TypeError, match="cms: expected a tensor"):
            score([[0, 1], [1, 0]])
        with pytest.raises(ValueError, match=r"cms: expected a tensor \(N, K \+ 1, K \+ 1\)"):
            score(torch.zeros(4, dtype=torch.long))
        with pytest.raises(ValueError, match="cms: expected square matrices"):
            score(torch.zeros(2, 3, 4, dtype=torch.long))
        with pytest.raises(ValueError, match="cms: expected square matrices"):
            score(torch.zeros(2, 1, 1, dtype=torch.long))
