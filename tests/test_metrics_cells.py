"""coursekit.metrics.cells: the ISBI 2012 challenge's foreground-restricted Rand and
information scores, against a line-by-line transcription of the challenge's Fiji code
(trainableSegmentation.metrics.RandError / VariationOfInformation), against
scikit-image's adapted_rand_error and variation_of_information, and on the edge cases:
one cell, all membrane, a one-pixel gap that merges two cells."""

import math

import numpy as np
import pytest
import torch

from coursekit import metrics

skimage_metrics = pytest.importorskip("skimage.metrics")
skimage_measure = pytest.importorskip("skimage.measure")


# ------------------------------------------------------------------ the references


def fiji_scores(truth_cells, proposed_cells):
    """V_Rand and V_Info as the challenge's Fiji code computes them from two label images
    (getForegroundRestrictedRandIndexStatsN2 and foregroundRestrictedStats, then the
    F-scores of ClassificationStatistics and InformationStatistics), transcribed with a
    dense overlap matrix, loops and all."""
    a, b = np.asarray(truth_cells).ravel(), np.asarray(proposed_cells).ravel()
    n = float(np.count_nonzero(a))
    pij = np.zeros((a.max() + 1, b.max() + 1))
    for i, j in zip(a, b, strict=True):
        pij[i, j] += 1
    pij /= n
    ai = np.zeros(pij.shape[0])
    for i in range(1, pij.shape[0]):
        ai[i] = pij[i, :].sum()                       # skip the true background row
    bj = np.zeros(pij.shape[1])
    for j in range(1, pij.shape[1]):
        bj[j] = pij[1:, j].sum()                      # prune the proposal's zero column
    aux = pij[1:, 0].sum()                            # true cell pixels on predicted membrane
    sum_a2 = (ai ** 2).sum()
    sum_b2 = (bj ** 2).sum() + aux / n
    sum_ab2 = (pij[1:, 1:] ** 2).sum() + aux / n
    tp = n * n * sum_ab2
    fp, fn = n * n * sum_b2 - tp, n * n * sum_a2 - tp
    precision = 1.0 if fp == 0 else tp / (tp + fp)
    recall = 1.0 if fn == 0 else tp / (tp + fn)
    v_rand = 2 * precision * recall / (precision + recall)

    def xlogx(x):
        x = x[x != 0]
        return (x * np.log(x)).sum()

    sum_a = xlogx(ai)
    sum_b = xlogx(bj) - aux * math.log(n)
    sum_ab = xlogx(pij[1:, 1:]) - aux * math.log(n)
    ht, hs = -sum_a, -sum_b
    hts, hst = sum_b - sum_ab, sum_a - sum_ab
    with np.errstate(divide="ignore", invalid="ignore"):
        info_precision = np.float64(ht - hts) / ht
        info_recall = np.float64(hs - hst) / hs
    if info_recall == 0:
        info_precision = 1.0
    total = info_precision + info_recall
    v_info = 2 * info_precision * info_recall / total if total > 0 else 0.0
    return v_rand, v_info


def with_singletons(truth_cells, proposed_cells):
    """The proposal as the challenge scores it: each predicted membrane pixel inside a
    true cell becomes a cell of its own."""
    proposed = np.asarray(proposed_cells).copy()
    lonely = (proposed == 0) & (np.asarray(truth_cells) > 0)
    proposed[lonely] = proposed.max() + 1 + np.arange(lonely.sum())
    return proposed


def skimage_scores(truth_cells, proposed_cells):
    """V_Rand and V_Info from scikit-image alone. adapted_rand_error counts pairs of
    distinct pixels (sum n_ij (n_ij - 1)); the challenge counts ordered pairs drawn with
    replacement (sum n_ij^2): three calls give the three pair counts, and n is added back.
    variation_of_information gives H(S|T) and H(T|S) in bits; against one segment, H(T)
    and H(S)."""
    truth = np.asarray(truth_cells)
    proposed = with_singletons(truth, proposed_cells)
    one = (truth > 0).astype(int)                          # all true cell pixels: one segment
    n = float(one.sum())
    pairs = n * n - n
    are = skimage_metrics.adapted_rand_error
    with np.errstate(divide="ignore", invalid="ignore"):   # unused ratios may be 0 / 0
        truth_pairs = are(truth, one)[2] * pairs            # (T2 - n) / (n^2 - n)
        proposed_pairs = are(one, proposed)[1] * pairs      # (S2 - n) / (n^2 - n)
        both_pairs = are(truth, proposed)[1] * truth_pairs  # (P2 - n) / (T2 - n)
    v_rand = 2 * (both_pairs + n) / (truth_pairs + n + proposed_pairs + n)
    vi = skimage_metrics.variation_of_information
    h_s_given_t, _ = vi(truth, proposed, ignore_labels=(0,))
    h_truth = vi(truth, one, ignore_labels=(0,))[1]
    h_proposed = vi(one, proposed, ignore_labels=(0,))[0]
    mutual = h_proposed - h_s_given_t
    v_info = 2 * mutual / (h_truth + h_proposed)
    return v_rand, v_info


# ------------------------------------------------------------------ test images


def grid_cells(size=48, spacing=8):
    """A cell-interior mask: square cells between one-pixel membranes."""
    mask = torch.ones(size, size, dtype=torch.long)
    mask[::spacing] = 0
    mask[:, ::spacing] = 0
    return mask


def noisy_membranes(mask, seed, noise=0.3):
    """A membrane probability map near a mask, with noise that breaks some membranes and
    cuts some cells."""
    g = torch.Generator().manual_seed(seed)
    return ((1 - mask.double()) * 0.8 + 0.1
            + noise * torch.randn(mask.shape, generator=g, dtype=torch.float64)).clamp(0, 1)


CASES = [(seed, noise, threshold) for seed in range(3) for noise in (0.15, 0.35)
         for threshold in (0.3, 0.5, 0.7)]


@pytest.mark.parametrize("seed, noise, threshold", CASES)
def test_scores_equal_the_challenges_fiji_code_and_scikit_image(seed, noise, threshold):
    truth = metrics.label_cells(grid_cells())
    proposed = metrics.cells_from_membrane_probability(
        noisy_membranes(grid_cells(), seed, noise), threshold)
    v_rand = metrics.rand_scores(truth, proposed)["v_rand"]
    v_info = metrics.information_scores(truth, proposed)["v_info"]
    fiji_rand, fiji_info = fiji_scores(truth, proposed)
    assert v_rand == pytest.approx(fiji_rand, rel=1e-12)
    assert v_info == pytest.approx(fiji_info, rel=1e-9)
    sk_rand, sk_info = skimage_scores(truth, proposed)
    assert v_rand == pytest.approx(sk_rand, rel=1e-9)
    assert v_info == pytest.approx(sk_info, rel=1e-9)


def test_one_minus_adapted_rand_error_is_v_rand_up_to_the_self_pairs():
    truth = metrics.label_cells(grid_cells(64))
    proposed = metrics.cells_from_membrane_probability(noisy_membranes(grid_cells(64), 1),
                                                       0.5)
    v_rand = metrics.rand_scores(truth, proposed)["v_rand"]
    are = skimage_metrics.adapted_rand_error(truth.numpy(), with_singletons(truth, proposed))[0]
    n = float((truth > 0).sum())
    truth_pairs = float((torch.unique(truth[truth > 0], return_counts=True)[1].double() ** 2)
                        .sum())
    assert v_rand != 1 - are                                  # not the same definition...
    assert abs(v_rand - (1 - are)) < 2 * n / truth_pairs      # ...but close for big cells


def test_split_and_merge_scores_match_scikit_image_precision_and_recall_directions():
    truth = metrics.label_cells(grid_cells())
    over = metrics.cells_from_membrane_probability(noisy_membranes(grid_cells(), 0, 0.4), 0.8)
    scores = metrics.rand_scores(truth, over)
    info = metrics.information_scores(truth, over)
    h_s_given_t, h_t_given_s = skimage_metrics.variation_of_information(
        truth.numpy(), with_singletons(truth, over), ignore_labels=(0,))
    bits = math.log(2)
    assert info["split"] == pytest.approx(1 - h_s_given_t * bits / info["h_proposed"])
    assert info["merge"] == pytest.approx(1 - h_t_given_s * bits / info["h_truth"])
    assert scores["v_rand"] == pytest.approx(2 / (1 / scores["split"] + 1 / scores["merge"]))


# ------------------------------------------------------------------ edge cases


def test_one_cell_predicted_perfectly_scores_1():
    mask = torch.zeros(6, 6, dtype=torch.long)
    mask[1:5, 1:5] = 1
    cells = metrics.label_cells(mask)
    assert cells.max() == 1
    assert metrics.rand_scores(cells, cells) == {"v_rand": 1.0, "split": 1.0, "merge": 1.0}
    info = metrics.information_scores(cells, cells)
    assert info["v_info"] == info["split"] == info["merge"] == 1.0
    # the challenge's code gives 0 here (0 / 0); no error is possible, so 1
    assert fiji_scores(cells, cells) == (1.0, 0.0)
    assert metrics.isbi_scores(mask, mask)["v_info"] == 1.0


def test_all_membrane_makes_every_true_pixel_a_singleton():
    truth = metrics.label_cells(grid_cells(24))
    nothing = torch.zeros_like(truth)
    n = float((truth > 0).sum())
    sizes = torch.unique(truth[truth > 0], return_counts=True)[1].double()
    rand = metrics.rand_scores(truth, nothing)
    assert rand["merge"] == 1.0                              # nothing merged
    assert rand["v_rand"] == pytest.approx(2 * n / (float((sizes ** 2).sum()) + n))
    info = metrics.information_scores(truth, nothing)
    h_truth = float(-(sizes / n * (sizes / n).log()).sum())
    assert info["merge"] == pytest.approx(1.0)
    assert info["split"] == pytest.approx(h_truth / math.log(n))
    assert (rand["v_rand"], info["v_info"]) == pytest.approx(fiji_scores(truth, nothing))
    assert (rand["v_rand"], info["v_info"]) == pytest.approx(skimage_scores(truth, nothing))


def test_a_one_pixel_gap_merges_two_cells_which_pixel_accuracy_hardly_sees():
    truth = torch.ones(9, 9, dtype=torch.long)
    truth[:, 4] = 0                                           # a membrane between two cells
    predicted = truth.clone()
    predicted[4, 4] = 1                                       # one membrane pixel missed
    assert metrics.label_cells(truth).max() == 2 and metrics.label_cells(predicted).max() == 1
    cm = metrics.confusion_matrix(predicted, truth, 2)
    assert metrics.pixel_accuracy(cm) == pytest.approx(80 / 81)
    scores = metrics.isbi_scores(predicted, truth)
    # two equal cells of a pixels: sum p^2 = 2a^2, sum t^2 = 2a^2, sum s^2 = (2a)^2
    assert scores["v_rand"] == pytest.approx(2 / 3)
    assert scores["v_rand_split"] == 1.0 and scores["v_rand_merge"] == pytest.approx(0.5)
    assert scores["v_info"] == 0.0 and scores["v_info_split"] == 1.0
    fiji = fiji_scores(metrics.label_cells(truth), metrics.label_cells(predicted))
    assert (scores["v_rand"], scores["v_info"]) == pytest.approx(fiji)


def test_cells_are_4_connected_and_match_scikit_image_labelling():
    corner = torch.tensor([[1, 0], [0, 1]])                  # touching at a corner only
    assert metrics.label_cells(corner).max() == 2
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(20, 30, generator=g) < 0.6).to(torch.uint8)
    ours = metrics.label_cells(mask).numpy()
    theirs = skimage_measure.label(mask.numpy(), connectivity=1, background=0)
    assert (ours == theirs).all()
    assert torch.equal(metrics.label_cells(mask.bool()), metrics.label_cells(mask.long()))


def test_scores_average_over_slices_as_the_challenge():
    truth = torch.stack([grid_cells(32), grid_cells(32, 16)])
    predicted = torch.stack([(noisy_membranes(grid_cells(32), s) < 0.5).long()
                             for s in (0, 1)])
    stack = metrics.isbi_scores(predicted, truth)
    each = [metrics.isbi_scores(predicted[i], truth[i]) for i in range(2)]
    for key in stack:
        assert stack[key] == pytest.approx((each[0][key] + each[1][key]) / 2)


def test_the_best_threshold_for_cells_is_not_the_best_for_pixels():
    truth = torch.ones(20, 21, dtype=torch.long)
    truth[:, 10] = 0                                          # two cells
    membrane = torch.full(truth.shape, 0.05, dtype=torch.float64)
    membrane[:, 10] = 0.9
    membrane[7, 10] = 0.3                                     # a weak spot in the membrane
    membrane[:, 9] = 0.28                                     # doubtful pixels beside it
    rows = metrics.isbi_scores_at_thresholds(membrane, truth, thresholds=[0.25, 0.5])
    assert rows["threshold"].tolist() == [0.25, 0.5]
    assert rows["pixel_accuracy"].argmax() == 1               # 0.5: one pixel wrong
    assert rows["v_rand"].argmax() == 0                       # 0.25: the two cells kept apart
    assert rows["v_rand"][1] == pytest.approx(2 / 3)
    default = metrics.isbi_scores_at_thresholds(membrane, truth)
    assert len(default["threshold"]) == 9 and default["membrane_f1"].shape == (9,)


def test_bad_input_gets_a_clear_error():
    cells = metrics.label_cells(grid_cells(16))
    with pytest.raises(TypeError, match="cell_mask: expected an integer tensor"):
        metrics.label_cells(grid_cells(16).float())
    with pytest.raises(ValueError, match="cell_mask: expected class indices in 0..1"):
        metrics.label_cells(grid_cells(16) * 255)
    with pytest.raises(ValueError, match=r"cell_mask: expected a tensor \(H, W\)"):
        metrics.label_cells(grid_cells(16)[None])
    with pytest.raises(ValueError, match="truth_cells: no cell pixel"):
        metrics.rand_scores(torch.zeros(4, 4, dtype=torch.long), cells[:4, :4])
    with pytest.raises(ValueError, match="proposed_cells: expected the shape of truth_cells"):
        metrics.information_scores(cells, cells[:8])
    with pytest.raises(ValueError, match="proposed_cells: expected cell labels >= 0"):
        metrics.rand_scores(cells, cells - 1)
    probability = noisy_membranes(grid_cells(16), 0)
    with pytest.raises(ValueError, match=r"threshold: expected a number >= 0 and <= 1"):
        metrics.cells_from_membrane_probability(probability, 1.5)
    with pytest.raises(ValueError, match="membrane_probability: expected finite numbers"):
        metrics.cells_from_membrane_probability(probability * math.nan)
    with pytest.raises(ValueError, match=r"membrane_probability: expected probabilities"):
        metrics.isbi_scores_at_thresholds(probability * 2, grid_cells(16))
    with pytest.raises(ValueError, match="cell_mask: expected the shape"):
        metrics.isbi_scores_at_thresholds(probability, grid_cells(8))
    with pytest.raises(ValueError, match=r"thresholds: expected values in \[0, 1\]"):
        metrics.isbi_scores_at_thresholds(probability, grid_cells(16), thresholds=[-0.1])
    with pytest.raises(ValueError, match="predicted_cell_mask: expected the shape"):
        metrics.isbi_scores(grid_cells(8), grid_cells(16))
