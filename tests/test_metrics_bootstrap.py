"""coursekit.metrics.bootstrap: percentile intervals over test images, on a synthetic
case with a known answer (coverage, narrowing with more images), exact repeatability by
seed, and the paired difference of two models."""

import pytest
import torch

from coursekit import metrics

TRUE_ACCURACY = 0.8


def images(n, pixels, seed):
    """Per-image confusion matrices (n, 2, 2) of a model whose accuracy varies from image
    to image: image i has accuracy q_i ~ Uniform(0.6, 1.0), so over the population of
    images (all of one size) the data-set accuracy is 0.8."""
    g = torch.Generator().manual_seed(seed)
    q = 0.6 + 0.4 * torch.rand(n, generator=g, dtype=torch.float64)
    right = torch.binomial(torch.full((n,), float(pixels), dtype=torch.float64), q,
                           generator=g).long()
    cms = torch.zeros(n, 2, 2, dtype=torch.long)
    cms[:, 1, 1] = right                       # every pixel truly class 1
    cms[:, 1, 0] = pixels - right
    return cms


def data_set_accuracy(cms):
    return metrics.accuracy(cms.sum(0))


def test_the_interval_contains_the_true_value_in_most_seeds_and_narrows_with_more_images():
    widths = {}
    for n in (10, 40):
        covered, width = 0, 0.0
        for seed in range(40):
            result = metrics.bootstrap_interval(images(n, 100, seed), data_set_accuracy,
                                                n_resamples=200, seed=seed)
            assert result["low"] <= result["score"] <= result["high"]
            covered += result["low"] <= TRUE_ACCURACY <= result["high"]
            width += (result["high"] - result["low"]) / 40
        assert covered >= 30, f"{n} images: the 95 % interval covered 0.8 in {covered}/40"
        widths[n] = width
    # the spread of a mean falls as 1 / sqrt(N): 4 times the images, about half the width
    assert 1.6 < widths[10] / widths[40] < 2.6, widths


def test_the_same_seed_gives_exactly_the_same_interval():
    cms = images(12, 50, seed=0)
    one = metrics.bootstrap_interval(cms, metrics.data_set_mean_iou, n_resamples=100, seed=3)
    two = metrics.bootstrap_interval(cms, metrics.data_set_mean_iou, n_resamples=100, seed=3)
    other = metrics.bootstrap_interval(cms, metrics.data_set_mean_iou, n_resamples=100, seed=4)
    assert one["low"] == two["low"] and one["high"] == two["high"]
    assert torch.equal(one["resamples"], two["resamples"])
    assert not torch.equal(one["resamples"], other["resamples"])
    assert one["score"] == metrics.data_set_mean_iou(cms)


def test_the_interval_is_the_percentiles_of_the_resampled_scores():
    cms = images(8, 30, seed=1)
    result = metrics.bootstrap_interval(cms, data_set_accuracy, n_resamples=400,
                                        confidence=0.9, seed=0)
    g = torch.Generator().manual_seed(0)                   # the documented resampling
    drawn = torch.randint(8, (400, 8), generator=g)
    values = torch.tensor([data_set_accuracy(cms[i]) for i in drawn], dtype=torch.float64)
    assert torch.allclose(result["resamples"], values)
    assert result["low"] == pytest.approx(float(torch.quantile(values, 0.05)))
    assert result["high"] == pytest.approx(float(torch.quantile(values, 0.95)))


def test_paired_bootstrap_of_two_models_on_the_same_images():
    a = images(30, 100, seed=2)
    b = a.clone()                        # b: the same model, 5 pixels worse on every image
    b[:, 1, 1] -= 5
    b[:, 1, 0] += 5
    result = metrics.paired_bootstrap(a, b, data_set_accuracy, n_resamples=200)
    assert result["difference"] == pytest.approx(0.05)
    assert result["low"] == pytest.approx(0.05) and result["high"] == pytest.approx(0.05)
    assert result["a_better"] == 1.0
    # separately, the two intervals overlap: image-to-image variation hides the difference
    alone_a = metrics.bootstrap_interval(a, data_set_accuracy, n_resamples=200)
    alone_b = metrics.bootstrap_interval(b, data_set_accuracy, n_resamples=200)
    assert alone_b["high"] > alone_a["low"]
    same = metrics.paired_bootstrap(a, a, data_set_accuracy, n_resamples=100)
    assert same["difference"] == same["low"] == same["high"] == 0.0


def test_resamples_with_nothing_to_measure_are_left_out():
    cms = images(10, 20, seed=5)
    cms[0] = 0                                               # an image with every pixel ignored
    result = metrics.bootstrap_interval(cms, data_set_accuracy, n_resamples=100)
    assert not torch.isnan(result["resamples"]).any()        # never all 10 draws of image 0
    assert result["low"] <= result["high"]


def test_bad_input_gets_a_clear_error():
    cms = images(5, 10, seed=0)
    with pytest.raises(ValueError, match=r"cms: expected a tensor \(N, C, C\)"):
        metrics.bootstrap_interval(cms[0], data_set_accuracy)
    with pytest.raises(ValueError, match="cms: expected per-image confusion matrices"):
        metrics.bootstrap_interval(cms[:1], data_set_accuracy)
    with pytest.raises(TypeError, match="score: expected a function"):
        metrics.bootstrap_interval(cms, "miou")
    with pytest.raises(TypeError, match="score: expected a function returning one number"):
        metrics.bootstrap_interval(cms, metrics.per_image_iou)
    with pytest.raises(ValueError, match="n_resamples: expected an int >= 100, got 10"):
        metrics.bootstrap_interval(cms, data_set_accuracy, n_resamples=10)
    with pytest.raises(ValueError, match="confidence"):
        metrics.bootstrap_interval(cms, data_set_accuracy, confidence=95)
    with pytest.raises(ValueError, match="seed"):
        metrics.bootstrap_interval(cms, data_set_accuracy, seed=-1)
    with pytest.raises(ValueError, match="cms_b: expected the shape of cms_a"):
        metrics.paired_bootstrap(cms, cms[:4], data_set_accuracy)
    with pytest.raises(ValueError, match="cms_b: expected the same images as cms_a"):
        metrics.paired_bootstrap(cms, images(5, 10, seed=1) * 2, data_set_accuracy)


def test_paired_bootstrap_of_count_matrices_reads_truth_below_row_0():
    """count_confusion's row 0 holds each reader's own false positives: the truth is in
    rows 1.. only, which truth_from=1 says; without it the readers look like different
    images."""
    from coursekit.metrics import count_confusion, exact_match

    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 3, (40, 10), generator=g)
    right = truth.clone()
    wrong = truth.clone()
    wrong[::2, 0] += 1                                   # a false 0 in every other scene
    cms_a, cms_b = count_confusion(right, truth), count_confusion(wrong, truth)
    with pytest.raises(ValueError, match="different truths"):
        metrics.paired_bootstrap(cms_a, cms_b, exact_match)
    diff = metrics.paired_bootstrap(cms_a, cms_b, exact_match, truth_from=1)
    assert diff["difference"] == pytest.approx(0.5)
    assert 0.3 < diff["low"] <= 0.5 <= diff["high"] < 0.7
    other = count_confusion(right, truth.flip(0))
    with pytest.raises(ValueError, match="different truths"):
        metrics.paired_bootstrap(cms_a, other, exact_match, truth_from=1)
    with pytest.raises(ValueError, match="truth_from: expected an int >= 0 and <= 10"):
        metrics.paired_bootstrap(cms_a, cms_b, exact_match, truth_from=11)
