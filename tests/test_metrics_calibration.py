"""coursekit.metrics.calibration: reliability bins and expected calibration error against
torchmetrics' MulticlassCalibrationError(norm='l1') and BinaryCalibrationError (with the
one documented difference, confidences of exactly 1), and temperature scaling against
closed forms and a brute-force grid of the NLL; with the edge cases (empty bins, every
pixel ignored, NaN)."""

import math

import pytest
import torch
import torch.nn.functional as F

from coursekit import metrics

classification = pytest.importorskip("torchmetrics.classification")


def tm_multiclass(probabilities, target, n_bins=15, ignore_index=None):
    metric = classification.MulticlassCalibrationError(
        probabilities.shape[1], n_bins=n_bins, norm="l1", ignore_index=ignore_index)
    return float(metric(probabilities, target))


def tm_binary(probabilities, target, n_bins=15, ignore_index=None):
    metric = classification.BinaryCalibrationError(n_bins=n_bins, norm="l1",
                                                    ignore_index=ignore_index)
    return float(metric(probabilities, target))


def overconfident(seed, shape=(300,), classes=4, scale=3.0):
    """Logits z whose softmax is calibrated (targets drawn from it), shown as scale * z."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(shape[0], classes, *shape[1:], generator=g) * 1.5
    p = z.softmax(1).movedim(1, -1).reshape(-1, classes)
    target = torch.multinomial(p, 1, generator=g)[:, 0].reshape(shape[0], *shape[1:])
    return z * scale, target


# ------------------------------------------------------------------ ECE against torchmetrics


@pytest.mark.parametrize("seed", range(6))
def test_multiclass_ece_agrees_with_torchmetrics(seed):
    logits, target = overconfident(seed, classes=2 + seed)
    probabilities = logits.softmax(1)
    for n_bins in (1, 5, 15, 40):
        assert metrics.expected_calibration_error(probabilities, target, n_bins) == \
            pytest.approx(tm_multiclass(probabilities, target, n_bins), abs=1e-6)


def test_segmentation_ece_with_ignored_pixels_agrees_with_torchmetrics():
    logits, target = overconfident(1, shape=(3, 8, 10), classes=3, scale=2.0)
    target[:, :2] = 255
    probabilities = logits.softmax(1)
    ours = metrics.expected_calibration_error(probabilities, target.to(torch.uint8),
                                              ignore_index=255)
    assert ours == pytest.approx(tm_multiclass(probabilities, target, ignore_index=255),
                                 abs=1e-6)
    # the ignored pixels are simply left out
    kept = target[:, 2:]
    assert ours == pytest.approx(metrics.expected_calibration_error(
        probabilities[:, :, 2:], kept), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_binary_ece_agrees_with_torchmetrics(seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(2, 9, 7, generator=g)
    target = (torch.rand(2, 9, 7, generator=g) < p ** 2).long()   # over-confident
    for n_bins in (3, 15):
        expected = tm_binary(p, target, n_bins)
        assert metrics.expected_calibration_error(p, target, n_bins) == pytest.approx(
            expected, abs=1e-6)
        assert metrics.expected_calibration_error(p[:, None], target.bool(), n_bins) == \
            pytest.approx(expected, abs=1e-6)
    target[0] = -100
    assert metrics.expected_calibration_error(p, target, ignore_index=-100) == pytest.approx(
        tm_binary(p, target, ignore_index=-100), abs=1e-6)


def test_binary_is_not_the_top_label_ece_of_two_classes():
    p = torch.tensor([0.1, 0.2, 0.7, 0.9])
    target = torch.tensor([0, 1, 1, 1])
    two = torch.stack([1 - p, p], dim=1)
    binary = metrics.expected_calibration_error(p, target, 5)
    top = metrics.expected_calibration_error(two, target, 5)
    # binary: bins [0, .2) {0.1: 0}, [.2, .4) {0.2: 1}, [.6, .8) {0.7: 1}, [.8, 1] {0.9: 1}
    assert binary == pytest.approx((0.1 + 0.8 + 0.3 + 0.1) / 4)
    # top label: confidences 0.9 (right), 0.8 (wrong), 0.7, 0.9 (right); bin [.8, 1]: 3
    assert top == pytest.approx((3 * abs(2 / 3 - 2.6 / 3) + 0.3) / 4)


# ------------------------------------------------------------------ reliability bins


def test_reliability_bins_by_hand():
    probabilities = torch.tensor([[0.9, 0.1], [0.65, 0.35], [0.3, 0.7], [0.45, 0.55],
                                  [0.5, 0.5]])
    target = torch.tensor([0, 1, 1, 0, 0])
    bins = metrics.reliability_bins(probabilities, target, n_bins=4)
    torch.testing.assert_close(bins["edges"], torch.tensor([0, 0.25, 0.5, 0.75, 1],
                                                           dtype=torch.float64))
    # confidences 0.9 (right), 0.65 (wrong), 0.7 (right), 0.55 (wrong), 0.5 (right, the
    # first of a tie): bins 0 and 1 empty, bin 2 [.5, .75) holds four, bin 3 one
    assert bins["count"].tolist() == [0, 0, 4, 1]
    torch.testing.assert_close(bins["confidence"], torch.tensor(
        [math.nan, math.nan, 0.6, 0.9], dtype=torch.float64), equal_nan=True)
    torch.testing.assert_close(bins["accuracy"], torch.tensor(
        [math.nan, math.nan, 0.5, 1.0], dtype=torch.float64), equal_nan=True)
    ece = metrics.expected_calibration_error(probabilities, target, n_bins=4)
    assert ece == pytest.approx((4 * 0.1 + 1 * 0.1) / 5)
    assert ece == pytest.approx(tm_multiclass(probabilities, target, 4), abs=1e-7)


def test_one_bin_is_the_gap_between_accuracy_and_mean_confidence():
    logits, target = overconfident(3)
    probabilities = logits.softmax(1)
    confidence, predicted = probabilities.max(1)
    gap = abs(float((predicted == target).double().mean()) - float(confidence.double().mean()))
    assert metrics.expected_calibration_error(probabilities, target, 1) == pytest.approx(gap)


def test_a_confidence_of_exactly_one():
    """Ours: in the last bin [(B-1)/B, 1]; torchmetrics: a bin of its own, which differs
    where the two parts err in opposite directions."""
    probabilities = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.92, 0.08], [0.08, 0.92]])
    target = torch.tensor([0, 0, 0, 1])       # confidence 1: right, wrong; 0.92: both right
    bins = metrics.reliability_bins(probabilities, target, n_bins=10)
    assert bins["count"][-1] == 4 and bins["count"].sum() == 4
    ours = metrics.expected_calibration_error(probabilities, target, 10)
    assert ours == pytest.approx(abs(3 / 4 - 3.84 / 4))                          # 0.21
    theirs = tm_multiclass(probabilities, target, 10)
    assert theirs == pytest.approx((2 * abs(1 - 0.92) + 2 * abs(1 / 2 - 1)) / 4,  # 0.29
                                   abs=1e-6)


def test_a_confidence_on_a_float32_edge():
    """A float32 0.65 is 0.64999998: below the edge 0.65 here, by value, whatever the
    dtype; torchmetrics compares it with its float32 edge 0.65 and puts it a bin higher."""
    p = torch.tensor([0.65, 0.3, 0.9])
    target = torch.tensor([1, 0, 1])
    for dtype in (torch.float32, torch.float64):
        assert metrics.reliability_bins(p.to(dtype), target, 20)["count"][12] == 1
    ours = metrics.expected_calibration_error(p, target, 20)
    assert ours == pytest.approx((abs(1 - 0.65) + 0.3 + 0.1) / 3, abs=1e-7)
    assert ours == pytest.approx(tm_binary(p, target, 20), abs=1e-7)   # one bin alone: same
    crowded = torch.tensor([0.65, 0.62, 0.68])      # 0.62 shares its bin here, 0.68 there
    target = torch.tensor([1, 0, 0])
    assert metrics.expected_calibration_error(crowded, target, 20) == pytest.approx(
        (2 * abs(0.5 - 0.635) + 0.68) / 3, abs=1e-7)
    assert tm_binary(crowded, target, 20) == pytest.approx(
        (0.62 + 2 * abs(0.5 - 0.665)) / 3, abs=1e-6)


# ------------------------------------------------------------------ edge cases


def test_every_pixel_ignored_is_an_error():
    probabilities = torch.full((2, 3, 4, 4), 1 / 3)
    target = torch.full((2, 4, 4), 255)
    with pytest.raises(ValueError, match="target: no prediction to measure"):
        metrics.expected_calibration_error(probabilities, target, ignore_index=255)
    with pytest.raises(ValueError, match="target"):
        metrics.fit_temperature(torch.randn(2, 3, 4, 4), target, ignore_index=255)
    with pytest.raises(ValueError, match="target"):
        metrics.reliability_bins(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


def test_nan_is_an_error():
    probabilities = torch.tensor([[0.5, 0.5], [math.nan, 0.2]])
    target = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="probabilities: expected finite numbers"):
        metrics.expected_calibration_error(probabilities, target)
    with pytest.raises(ValueError, match="logits: expected finite numbers"):
        metrics.fit_temperature(probabilities, target)


def test_logits_or_unnormalised_scores_are_an_error():
    target = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="probabilities: expected probabilities in"):
        metrics.expected_calibration_error(torch.randn(3, 3) * 3, target)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.expected_calibration_error(torch.rand(3, 3), target)
    # float16 softmax sums stray by about 1e-3: accepted
    probabilities = torch.randn(50, 7).softmax(1).half()
    metrics.expected_calibration_error(probabilities, torch.randint(7, (50,)))


# ------------------------------------------------------------------ temperature scaling


def nll_on_grid(logits, target, grid, binary=False):
    """(G,) the mean NLL of logits / T for each temperature T of the grid (float64)."""
    scaled = logits.double()[None] / grid.view(-1, *[1] * logits.dim())
    if binary:
        losses = F.binary_cross_entropy_with_logits(
            scaled, target.double().expand_as(scaled), reduction="none")
    else:
        losses = F.cross_entropy(scaled.flatten(0, 1), target.repeat(len(grid)),
                                 reduction="none").view(len(grid), -1)
    return losses.flatten(1).mean(1)


def grid_minimum(logits, target, binary=False):
    """The temperature of the smallest NLL by brute force: 2001 log-spaced values in
    [0.05, 20], then 2001 between the best one's neighbours (the NLL is convex in 1/T, so
    it has one valley). Returns (T, the relative spacing of the fine grid)."""
    grid = torch.logspace(math.log10(0.05), math.log10(20.0), 2001, dtype=torch.float64)
    best = int(nll_on_grid(logits, target, grid, binary).argmin())
    fine = torch.linspace(float(grid[max(best - 1, 0)]), float(grid[min(best + 1, 2000)]),
                          2001, dtype=torch.float64)
    t = float(fine[nll_on_grid(logits, target, fine, binary).argmin()])
    return t, float(fine[1] - fine[0]) / t


def test_temperature_is_the_nll_minimum_on_a_grid():
    logits, target = overconfident(5, shape=(400,), classes=5, scale=2.5)
    best, step = grid_minimum(logits, target)
    assert metrics.fit_temperature(logits, target) == pytest.approx(best, rel=step)


def test_temperature_of_segmentation_logits_with_ignored_pixels():
    logits, target = overconfident(6, shape=(2, 6, 7), classes=3, scale=0.5)  # under-confident
    target[0, :3] = -1
    fitted = metrics.fit_temperature(logits.float(), target.int(), ignore_index=-1)
    kept = target != -1
    best, step = grid_minimum(logits.movedim(1, -1)[kept], target[kept])
    assert fitted == pytest.approx(best, rel=step)
    assert fitted < 1


def test_temperature_recovers_the_scale_of_overconfident_logits():
    """Targets drawn from softmax(z), logits 3 z: the fitted T is about 3, and the ECE
    falls after scaling."""
    logits, target = overconfident(7, shape=(20000,), classes=3, scale=3.0)
    temperature = metrics.fit_temperature(logits, target)
    assert temperature == pytest.approx(3.0, rel=0.05)
    before = metrics.expected_calibration_error(logits.softmax(1), target)
    after = metrics.expected_calibration_error((logits / temperature).softmax(1), target)
    assert after < before / 3


def test_temperature_closed_forms():
    """One logit 2 for every pixel, 3 of 4 positive: sigmoid(2 / T) = 3/4, T = 2 / log 3.
    Multiclass: logits [z, 0, 0] everywhere, class 0 in a share q: softmax(z / T)_0 = q,
    z / T = log(2q / (1 - q))."""
    logits = torch.full((1, 1, 2, 2), 2.0)
    target = torch.tensor([[[1, 1], [1, 0]]])
    assert metrics.fit_temperature(logits, target) == pytest.approx(2 / math.log(3), rel=1e-6)
    assert metrics.fit_temperature(logits[:, 0], target.bool()) == pytest.approx(
        2 / math.log(3), rel=1e-6)
    q, z = 0.6, 4.0
    logits = torch.tensor([[z, 0.0, 0.0]]).repeat(10, 1)
    target = torch.tensor([0] * 6 + [1, 2, 2, 1])
    assert metrics.fit_temperature(logits, target) == pytest.approx(
        z / math.log(2 * q / (1 - q)), rel=1e-6)


def test_temperature_of_a_binary_model_agrees_with_the_grid():
    g = torch.Generator().manual_seed(8)
    z = torch.randn(3, 1, 5, 5, generator=g) * 2
    target = (torch.rand(3, 5, 5, generator=g) < z[:, 0].sigmoid()).long()
    shown = z * 4
    best, step = grid_minimum(shown[:, 0], target, binary=True)
    assert metrics.fit_temperature(shown, target) == pytest.approx(best, rel=step)


def test_no_finite_temperature_is_an_error():
    logits = torch.tensor([[3.0, 0.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match="every counted prediction is right"):
        metrics.fit_temperature(logits, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="T -> infinity"):
        metrics.fit_temperature(logits, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="every counted prediction is right"):
        metrics.fit_temperature(torch.tensor([2.0, -1.0]), torch.tensor([1, 0]))


def test_fitting_does_not_reach_back_into_the_model():
    """Logits straight from a model (requiring grad): the fit leaves the model's
    gradients alone, and the ECE of probabilities with a graph is a plain number."""
    model = torch.nn.Linear(4, 3)
    logits = model(torch.randn(50, 4, generator=torch.Generator().manual_seed(0)))
    target = torch.cat([logits.argmax(1)[:40], (logits.argmax(1)[40:] + 1) % 3])
    metrics.fit_temperature(logits, target)
    assert model.weight.grad is None
    assert isinstance(metrics.expected_calibration_error(logits.softmax(1), target), float)


@pytest.mark.parametrize("scale", [1e-30, 1e-6, 1e6, 1e30])
def test_temperature_follows_the_scale_of_the_logits(scale):
    """NLL(z / T) = NLL((s z) / (s T)): logits s times larger need an s times larger T
    (a fit starting at T = 1 with a fixed gradient tolerance stopped at once on tiny
    logits)."""
    logits, target = overconfident(9, classes=3)
    fitted = metrics.fit_temperature(logits.double(), target)
    assert metrics.fit_temperature(logits.double() * scale, target) == pytest.approx(
        fitted * scale, rel=1e-9)
