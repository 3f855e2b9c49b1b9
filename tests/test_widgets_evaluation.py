"""Tests for the widgets of chapters 6 and 7: the loss, threshold and overlap explorers.

The plain functions are checked against references computed another way (closed forms,
hand counts, scikit-learn, torchmetrics, the losses module called directly); the widgets
live (a slider moved recomputes the numbers) and replayed (frames, offline, size).
"""

import base64
import doctest
import io
import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    accuracy_score,
    f1_score,
    jaccard_score,
    precision_score,
    recall_score,
)

from coursekit import losses, metrics, widgets  # noqa: E402
from coursekit.widgets import (  # noqa: E402
    LOSS_NAMES,
    LossExplorer,
    OverlapExplorer,
    ThresholdExplorer,
    loss_gradients,
    loss_values,
    object_strip,
    overlap_masks,
    overlap_scores,
    replay_html,
    threshold_scores,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_doctests():
    for module in (widgets.loss_explorer, widgets.threshold_explorer, widgets.overlap_explorer):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# --- the replays: frames, offline, size ---------------------------------------------------


def _frame_counts(html):
    """The number of frames of each replay in the page, in order."""
    declared = [int(n) for n in re.findall(r"var frames = new Array\((\d+)\)", html)]
    assert len(re.findall(r'frames\[\d+\] = "data:image/png;base64,', html)) == sum(declared)
    return declared


def _check_offline(html):
    assert "http" not in html  # no script, stylesheet or image from the web
    assert "<link" not in html and "<script src" not in html
    assert 'class="fa' not in html
    assert "precomputed replay" in html and "Colab or Jupyter" in html
    assert len(html) < 600_000  # well under 1 MB: the committed notebooks stay small


def _first_frame(html):
    data = re.search(r'frames\[0\] = "data:image/png;base64,([A-Za-z0-9+/=\\\n]+)"', html)
    return Image.open(io.BytesIO(base64.b64decode(data.group(1).replace("\\\n", ""))))


def test_replay_html_with_fewer_colours():
    def draw(i):
        fig.clear()
        fig.add_subplot().plot([0, 1], [0, i], color="#0072B2")

    fig = plt.figure(figsize=(2, 2))
    full = replay_html(fig, draw, 2, "c")
    fig = plt.figure(figsize=(2, 2))
    small = replay_html(fig, draw, 2, "c", colours=16)
    assert _frame_counts(full) == _frame_counts(small) == [2]
    assert _first_frame(full).mode == "RGBA" and _first_frame(small).mode == "P"
    assert _first_frame(small).size == _first_frame(full).size == (144, 144)  # DPI 72
    assert len(small) < len(full)
    fig = plt.figure()
    for bad, error in [(1, ValueError), (257, ValueError), (True, TypeError), (8.0, TypeError)]:
        with pytest.raises(error, match=r"colours: expected an int >= 2 and <= 256"):
            replay_html(fig, draw, 1, "c", colours=bad)
    plt.close(fig)


# --- the loss explorer: values and gradients ----------------------------------------------


def _by_hand(p_o, p_b, F, N):
    """Every loss of the strip from its formula: F object pixels at p_o, N - F at p_b."""
    B = N - F
    tp, fp, fn = F * p_o, B * p_b, F * (1 - p_o)
    weight = B / F
    bce_o, bce_b = -math.log(p_o), -math.log(1 - p_b)
    return {
        "bce": (F * bce_o + B * bce_b) / N,
        "weighted_bce": (weight * F * bce_o + B * bce_b) / N,   # the mean over pixels
        "dice": 1 - (2 * tp + 1) / (2 * tp + fp + fn + 1),
        "jaccard": 1 - (tp + 1) / (tp + fp + fn + 1),
        "focal": (F * (1 - p_o) ** 2 * bce_o + B * p_b ** 2 * bce_b) / N,
        "tversky": 1 - (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1),
    }


SETTINGS = [(0.3, 0.1, 4, 32), (0.9, 0.5, 4, 32), (0.05, 0.02, 1, 100), (0.5, 0.5, 16, 32),
            (0.99, 0.01, 3, 7)]


@pytest.mark.parametrize("p_o, p_b, F, N", SETTINGS)
def test_loss_values_match_their_formulas(p_o, p_b, F, N):
    values = loss_values(p_o, p_b, F, N)
    assert list(values) == list(LOSS_NAMES)
    assert values == pytest.approx(_by_hand(p_o, p_b, F, N), rel=1e-9)


@pytest.mark.parametrize("p_o, p_b, F, N", SETTINGS[:3])
def test_loss_values_match_the_losses_module(p_o, p_b, F, N):
    """The same numbers from coursekit.losses called directly, on a (N, 1, H, W) layout of
    the same pixels (an image of one column) in float32."""
    target = torch.zeros(N, dtype=torch.int64)
    target[-F:] = 1                                  # the object at the end, not the middle
    logits = torch.where(target == 1, math.log(p_o / (1 - p_o)), math.log(p_b / (1 - p_b)))
    z, y = logits.reshape(1, 1, N, 1).float(), target.reshape(1, N, 1)
    direct = {
        "bce": losses.binary_cross_entropy(z, y),
        "weighted_bce": losses.binary_cross_entropy(z, y, pos_weight=(N - F) / F),
        "dice": losses.soft_dice_loss(z, y, mode="binary"),
        "jaccard": losses.soft_jaccard_loss(z, y, mode="binary"),
        "focal": losses.focal_loss(z, y, mode="binary", gamma=2),
        "tversky": losses.tversky_loss(z, y, mode="binary", alpha=0.3, beta=0.7),
    }
    assert loss_values(p_o, p_b, F, N) == pytest.approx(
        {k: v.item() for k, v in direct.items()}, rel=1e-5)


def _logit(p):
    return math.log(p / (1 - p))


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize("p_o, p_b, F, N", SETTINGS)
def test_loss_gradients_are_the_slopes_of_the_losses(p_o, p_b, F, N):
    """Moving every object logit by +h changes the loss by -pull * h; every background
    logit by +h, by +push * h (central differences of loss_values)."""
    h = 1e-5
    gradients = loss_gradients(p_o, p_b, F, N)
    up = loss_values(_sigmoid(_logit(p_o) + h), p_b, F, N)
    down = loss_values(_sigmoid(_logit(p_o) - h), p_b, F, N)
    right = loss_values(p_o, _sigmoid(_logit(p_b) + h), F, N)
    left = loss_values(p_o, _sigmoid(_logit(p_b) - h), F, N)
    for key in LOSS_NAMES:
        assert gradients[key]["object"] == pytest.approx(
            -(up[key] - down[key]) / (2 * h), rel=1e-4, abs=1e-9), key
        assert gradients[key]["background"] == pytest.approx(
            (right[key] - left[key]) / (2 * h), rel=1e-4, abs=1e-9), key


def test_loss_gradients_closed_forms_and_what_the_chapter_reads_off_them():
    F, N = 4, 32
    g = loss_gradients(0.3, 0.1, F, N)
    assert g["bce"]["object"] == pytest.approx(F * 0.7 / N)        # sum of (1 - p) / N
    assert g["bce"]["background"] == pytest.approx((N - F) * 0.1 / N)
    assert g["weighted_bce"]["object"] == pytest.approx((N - F) / F * F * 0.7 / N)
    S = F * 0.3 + (N - F) * 0.1 + F + 1                              # sum p + sum y + smooth
    dice_object = (2 * S - (2 * F * 0.3 + 1)) / S ** 2 * 0.3 * 0.7   # d Dice / d z, one pixel
    assert g["dice"]["object"] == pytest.approx(F * dice_object)
    # an unsure prediction (0.5 everywhere): BCE pushes the background down as much harder
    # than it pulls the object up as there are more background pixels; Dice and pos_weight
    # balance the two
    g = loss_gradients(0.5, 0.5, F, N)
    assert g["bce"]["background"] / g["bce"]["object"] == pytest.approx((N - F) / F)
    assert g["weighted_bce"]["background"] == pytest.approx(g["weighted_bce"]["object"])
    assert 0.5 < g["dice"]["background"] / g["dice"]["object"] < 1.5
    # focal looks away from easy pixels: an easy background (0.02) gets under 1% of BCE's push
    g = loss_gradients(0.9, 0.02, F, N)
    assert g["focal"]["background"] < 0.01 * g["bce"]["background"]
    assert all(v["object"] > 0 and v["background"] > 0 for v in g.values())


def test_object_strip():
    assert object_strip(2, 6).tolist() == [0, 0, 1, 1, 0, 0]
    assert object_strip(1, 2).tolist() == [1, 0]
    assert object_strip(4, 32).sum() == 4 and object_strip().dtype == torch.int64


@pytest.mark.parametrize("call, error, message", [
    (lambda: loss_values(0, 0.1), ValueError, r"p_object: expected a number > 0 and < 1, got 0"),
    (lambda: loss_values(0.5, 1.0), ValueError, r"p_background: expected a number > 0 and < 1"),
    (lambda: loss_values(0.5, math.nan), ValueError, r"p_background: .*got nan"),
    (lambda: loss_values(True, 0.1), TypeError, r"p_object: expected a number"),
    (lambda: loss_values("0.5", 0.1), TypeError, r"p_object: expected a number"),
    (lambda: loss_values(0.5, 0.1, 0), ValueError, r"object_pixels: expected an int >= 1, got 0"),
    (lambda: loss_values(0.5, 0.1, 4.0), TypeError, r"object_pixels: expected an int >= 1"),
    (lambda: loss_values(0.5, 0.1, 4, 4), ValueError, r"total_pixels: expected an int >= 5, got 4"),
    (lambda: loss_gradients(0.5, 0.1, 4, 32.0), TypeError, r"total_pixels: expected an int"),
    (lambda: object_strip(3, 2), ValueError, r"total_pixels: expected an int >= 4, got 2"),
    (lambda: LossExplorer(p_object=0.001), ValueError, r"p_object: expected a number >= 0.01 "
                                                        r"and <= 0.99 \(the slider's range\)"),
    (lambda: LossExplorer(total_pixels=1), ValueError, r"total_pixels: expected an int >= 5"),
])
def test_loss_explorer_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_loss_explorer_updates_when_controls_change():
    explorer = LossExplorer()
    assert (explorer.p_object, explorer.p_background) == (0.3, 0.1)
    assert (explorer.object_pixels, explorer.total_pixels) == (4, 32)
    assert explorer.values == pytest.approx(_by_hand(0.3, 0.1, 4, 32))
    assert explorer.gradients == loss_gradients(0.3, 0.1, 4, 32)

    explorer.controls["p_object"].value = 0.8
    assert explorer.p_object == pytest.approx(0.8)
    assert explorer.values == pytest.approx(_by_hand(0.8, 0.1, 4, 32))
    explorer.controls["p_background"].value = 0.6
    assert explorer.values == pytest.approx(_by_hand(0.8, 0.6, 4, 32))
    explorer.controls["object_pixels"].value = 16       # balanced: pos_weight 1
    assert explorer.values["weighted_bce"] == pytest.approx(explorer.values["bce"])
    assert explorer.gradients == loss_gradients(0.8, 0.6, 16, 32)
    assert explorer.controls["object_pixels"].max == 31
    assert plt.get_fignums() == []  # every live figure was shown and closed


def test_loss_explorer_replay():
    """The first sweep keeps the explorer's own p_background (before: always 0.1, so
    chapter 6's replay showed another setting than its code cell asked for)."""
    figures_before = plt.get_fignums()
    bundle = LossExplorer(object_pixels=2, total_pixels=20,
                          p_background=0.01)._repr_mimebundle_()
    assert plt.get_fignums() == figures_before
    assert WIDGET_VIEW in bundle and bundle["text/plain"].startswith("VBox(")
    html = bundle["text/html"]
    assert _frame_counts(html) == [9, 5]  # p_object sweeps, then p_background
    assert "the background stays right (p_background 0.01)" in html
    assert "p_background 0.1)" not in html
    assert _first_frame(html).mode == "P"
    _check_offline(html)


def test_draw_losses_titles_carry_the_numbers():
    fig = widgets.draw_losses(0.3, 0.1, 4, 32)
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "4 object pixels of 32" in titles and "p = 0.30 on the object" in titles
    texts = [t.get_text().strip() for ax in fig.axes for t in ax.texts]
    values = loss_values(0.3, 0.1)
    assert all(f"{v:.3g}" in texts for v in values.values())   # a number by each bar
    assert [t.get_text() for t in fig.axes[2].get_yticklabels()][0] == "BCE"
    plt.close(fig)


def test_draw_losses_gradient_panel_names_its_rows_and_keeps_its_numbers_inside():
    """Chapter 6's replay: the gradient bars carry the loss names, and no number runs
    past the panel's right edge (the first frame's pos_weight pull, 0.94, did)."""
    for setting in [(0.05, 0.01, 2, 200), (0.9, 0.7, 2, 200), (0.5, 0.5, 1, 5),
                    (0.01, 0.99, 4, 32)]:
        fig = widgets.draw_losses(*setting)
        ax_grad = fig.axes[3]
        assert ax_grad.get_xscale() == "log"
        names = [t.get_text() for t in ax_grad.get_yticklabels() if t.get_visible()]
        assert names[0] == "BCE" and len(names) == len(widgets.LOSS_NAMES)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        panel = ax_grad.get_window_extent(renderer)
        for text in ax_grad.texts:
            box = text.get_window_extent(renderer)
            assert panel.x0 - 1 <= box.x0 and box.x1 <= panel.x1 + 1, (setting,
                                                                      text.get_text())
        plt.close(fig)


# --- the threshold explorer -----------------------------------------------------------------


def _random_map(seed=0, shape=(24, 20)):
    g = torch.Generator().manual_seed(seed)
    truth = (torch.rand(shape, generator=g) < 0.3).long()
    probabilities = (0.35 * truth + 0.65 * torch.rand(shape, generator=g)).clamp(0, 1)
    return probabilities, truth


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.45, 0.5, 0.7, 0.95])
def test_threshold_scores_match_sklearn(threshold):
    probabilities, truth = _random_map()
    scores = threshold_scores(probabilities, truth, threshold)
    y, p = truth.flatten().numpy(), (probabilities.flatten().double() >= threshold).long().numpy()
    assert scores["precision"] == pytest.approx(precision_score(y, p, zero_division=0))
    assert scores["recall"] == pytest.approx(recall_score(y, p))
    assert scores["f1"] == pytest.approx(f1_score(y, p))
    assert scores["iou"] == pytest.approx(jaccard_score(y, p))
    assert scores["accuracy"] == pytest.approx(accuracy_score(y, p))
    counts = [scores[k] for k in ("true_positives", "false_negatives", "false_positives",
                                  "true_negatives")]
    assert sum(counts) == truth.numel()
    assert scores["true_positives"] == int(((p == 1) & (y == 1)).sum())


def test_threshold_scores_by_hand():
    probabilities = torch.tensor([[0.9, 0.6, 0.4], [0.2, 0.7, 0.1]])
    truth = torch.tensor([[1, 1, 1], [0, 0, 0]], dtype=torch.uint8)
    scores = threshold_scores(probabilities, truth, 0.5)   # predicted: 0.9, 0.6, 0.7
    assert (scores["true_positives"], scores["false_negatives"], scores["false_positives"],
            scores["true_negatives"]) == (2, 1, 1, 2)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3) and scores["iou"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert threshold_scores(probabilities, truth.bool(), 0.5) == scores
    assert threshold_scores(probabilities, truth, 0.6)["true_positives"] == 2  # p >= t counts
    at_07 = torch.tensor([0.7, 0.7, 0.2])            # float32(0.7) is 0.69999999
    assert threshold_scores(at_07, torch.tensor([1, 0, 0]), 0.7)["true_positives"] == 0
    exact = torch.tensor([0.7, 0.7, 0.2], dtype=torch.float64)
    assert threshold_scores(exact, torch.tensor([1, 0, 0]), 0.7)["true_positives"] == 1
    everything = threshold_scores(probabilities, truth, 0)
    assert everything["recall"] == 1 and everything["precision"] == pytest.approx(0.5)
    nothing = threshold_scores(probabilities, truth, 1)
    assert nothing["precision"] == 0 and nothing["recall"] == 0 and nothing["f1"] == 0
    empty = threshold_scores(probabilities, torch.zeros(2, 3, dtype=torch.int64), 0.95)
    assert math.isnan(empty["iou"]) and empty["accuracy"] == 1  # nothing to find, none claimed


def test_threshold_scores_agree_with_the_curve_and_the_best_threshold():
    probabilities, truth = _random_map(1)
    best = metrics.best_f1_threshold(probabilities, truth)
    scores = threshold_scores(probabilities, truth, best["threshold"])
    assert scores["f1"] == pytest.approx(best["f1"])
    assert scores["precision"] == pytest.approx(best["precision"])
    precision, recall, thresholds = metrics.precision_recall_curve(probabilities, truth)
    for i in (0, len(thresholds) // 2, len(thresholds) - 1):
        scores = threshold_scores(probabilities, truth, float(thresholds[i]))
        assert (scores["precision"], scores["recall"]) == pytest.approx(
            (float(precision[i]), float(recall[i])))


@pytest.mark.parametrize("call, error, message", [
    (lambda p, t: threshold_scores(p, t, 1.5), ValueError,
     r"threshold: expected a number >= 0 and <= 1, got 1.5"),
    (lambda p, t: threshold_scores(p, t, None), TypeError, r"threshold: expected a number"),
    (lambda p, t: threshold_scores(p * 2, t, 0.5), ValueError,
     r"probabilities: expected probabilities in \[0, 1\]"),
    (lambda p, t: threshold_scores((p * 255).to(torch.uint8), t, 0.5), TypeError,
     r"probabilities: expected a float tensor"),
    (lambda p, t: threshold_scores(p, t.float(), 0.5), TypeError,
     r"truth: expected an integer or bool mask .*got a float32 tensor"),
    (lambda p, t: threshold_scores(p, t * 2, 0.5), ValueError,
     r"truth: expected a mask of 0 and 1 only, found values \[0, 2\]"),
    (lambda p, t: threshold_scores(p, t[:5], 0.5), ValueError,
     r"truth: expected the shape of probabilities \(24, 20\), got \(5, 20\)"),
    (lambda p, t: threshold_scores(p.tolist(), t, 0.5), TypeError,
     r"probabilities: expected a tensor"),
    (lambda p, t: ThresholdExplorer(p, None), TypeError, r"truth: expected an \(H, W\) tensor"),
    (lambda p, t: ThresholdExplorer(p[None], t[None]), ValueError,
     r"probabilities: expected a tensor \(H, W\)"),
    (lambda p, t: ThresholdExplorer(p, t * 0), ValueError,
     r"truth: expected at least one pixel of 1"),
    (lambda p, t: ThresholdExplorer(p, t, image=torch.rand(3, 5, 5)), ValueError,
     r"image: expected the size of probabilities \(24, 20\)"),
    (lambda p, t: ThresholdExplorer(p, t, threshold=-0.1), ValueError, r"threshold: expected"),
])
def test_threshold_errors(call, error, message):
    probabilities, truth = _random_map()
    with pytest.raises(error, match=message):
        call(probabilities, truth)


def test_threshold_explorer_updates_when_the_slider_moves():
    probabilities, truth = _random_map(2)
    explorer = ThresholdExplorer(probabilities, truth.bool(), image=torch.rand(3, 24, 20))
    assert explorer.threshold == 0.5
    assert explorer.scores == threshold_scores(probabilities, truth, 0.5)
    assert torch.equal(explorer.predicted, (probabilities >= 0.5).long())
    explorer.controls["threshold"].value = 0.73
    assert explorer.threshold == pytest.approx(0.73)
    assert explorer.scores == threshold_scores(probabilities, truth, explorer.threshold)
    assert explorer.best == metrics.best_f1_threshold(probabilities, truth)
    precision, recall, _ = explorer.curve
    assert precision[-1] == 1 and recall[-1] == 0
    assert plt.get_fignums() == []


def test_threshold_explorer_example_and_replay():
    explorer = ThresholdExplorer()  # the built-in example: a noisy digit
    assert explorer.probabilities.shape == explorer.truth.shape == (48, 48)
    assert 0.2 < explorer.best["threshold"] < 0.45  # an under-confident model: 0.5 is not best
    assert explorer.best["f1"] > explorer.scores["f1"] + 0.03
    fig = explorer.draw(0.3)
    assert len(fig.axes) == 4  # input, probability, mask, curve
    scores = threshold_scores(explorer.probabilities, explorer.truth, 0.3)
    assert f"F1 {scores['f1']:.2f}" in fig._suptitle.get_text()
    assert f"missed (blue) {scores['false_negatives']}" in fig.axes[2].get_title()
    plt.close(fig)
    figures_before = plt.get_fignums()
    bundle = explorer._repr_mimebundle_()
    assert plt.get_fignums() == figures_before
    assert WIDGET_VIEW in bundle
    html = bundle["text/html"]
    assert _frame_counts(html) == [9]
    assert f"best at {explorer.best['threshold']:.2f}" in html
    _check_offline(html)


# --- the overlap explorer -------------------------------------------------------------------


def test_overlap_masks():
    truth, prediction = overlap_masks()
    assert truth.shape == prediction.shape == (40, 40) and truth.dtype == torch.int64
    assert torch.equal(truth, prediction) and truth.sum() == 256
    assert truth[12:28, 12:28].all()
    truth, prediction = overlap_masks(dx=3, dy=-2)
    assert torch.equal(prediction, torch.roll(truth, shifts=(-2, 3), dims=(0, 1)))
    _, prediction = overlap_masks(dx=-20)        # half of it off the grid, cut off
    assert prediction.sum() == 16 * 8
    _, disc = overlap_masks(size=20, shape="disc", grid=60)
    assert abs(disc.sum().item() - math.pi * 10 ** 2) < 0.03 * math.pi * 10 ** 2
    assert torch.equal(disc, disc.flip(0)) and torch.equal(disc, disc.T)   # centred
    _, small = overlap_masks(size=3, grid=8, truth_size=4)
    assert small.sum() == 9


def test_overlap_scores_by_hand_and_against_sklearn_and_torchmetrics():
    a, b = torch.tensor([[1, 1, 0, 0]]), torch.tensor([[0, 1, 1, 0]], dtype=torch.uint8)
    assert overlap_scores(a, b) == {"iou": pytest.approx(1 / 3), "dice": pytest.approx(0.5),
                                    "intersection": 1, "union": 3, "truth": 2, "prediction": 2}
    from torchmetrics.functional.classification import binary_jaccard_index

    for dx, dy, size, shape in [(4, 2, 16, "square"), (-9, 5, 11, "disc"), (0, 0, 30, "square"),
                                (20, 0, 16, "square")]:
        truth, prediction = overlap_masks(dx, dy, size, shape)
        scores = overlap_scores(truth, prediction.bool())
        y, p = truth.flatten().numpy(), prediction.flatten().numpy()
        assert scores["iou"] == pytest.approx(jaccard_score(y, p))
        assert scores["dice"] == pytest.approx(f1_score(y, p))
        assert scores["iou"] == pytest.approx(binary_jaccard_index(prediction, truth).item())
        assert scores["intersection"] == int((truth & prediction).sum())
        assert scores["union"] == int((truth | prediction).sum())


def test_dice_is_a_function_of_iou():
    g = torch.Generator().manual_seed(3)
    for _ in range(30):
        dx, dy = (int(v) for v in torch.randint(-20, 21, (2,), generator=g))
        size = int(torch.randint(1, 41, (1,), generator=g))
        scores = overlap_scores(*overlap_masks(dx, dy, size, "disc" if size % 2 else "square"))
        iou = scores["iou"]
        assert scores["dice"] == pytest.approx(2 * iou / (1 + iou))
        assert scores["dice"] >= iou
    nothing = overlap_scores(torch.zeros(3, 3, dtype=torch.int64), torch.zeros(3, 3).bool())
    assert math.isnan(nothing["iou"]) and math.isnan(nothing["dice"])  # nothing to measure


@pytest.mark.parametrize("call, error, message", [
    (lambda: overlap_scores(torch.ones(2, 2), torch.ones(2, 2).long()), TypeError,
     r"truth: expected an integer or bool mask"),
    (lambda: overlap_scores(torch.ones(2, 2).long(), torch.full((2, 2), 3)), ValueError,
     r"prediction: expected a mask of 0 and 1 only, found values \[3\]"),
    (lambda: overlap_scores(torch.ones(2, 2).long(), torch.ones(3, 2).long()), ValueError,
     r"prediction: expected the shape of truth \(2, 2\), got \(3, 2\)"),
    (lambda: overlap_scores([[1]], torch.ones(1, 1).long()), TypeError,
     r"truth: expected a tensor"),
    (lambda: overlap_masks(dx=1.5), TypeError, r"dx: expected an int"),
    (lambda: overlap_masks(dy=100), ValueError, r"dy: expected an int >= -40 and <= 40"),
    (lambda: overlap_masks(size=0), ValueError, r"size: expected an int >= 1 and <= 40"),
    (lambda: overlap_masks(shape="circle"), ValueError, r"shape: expected one of 'square', "
                                                        r"'disc', got 'circle'"),
    (lambda: overlap_masks(truth_size=50), ValueError, r"truth_size: expected an int >= 1"),
    (lambda: OverlapExplorer(grid=True), TypeError, r"grid: expected an int"),
    (lambda: OverlapExplorer(truth_size=60), ValueError, r"truth_size: expected an int >= 1 "
                                                          r"and <= 48, got 60"),
])
def test_overlap_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_overlap_explorer_updates_when_controls_change():
    explorer = OverlapExplorer()
    assert (explorer.dx, explorer.dy, explorer.size, explorer.shape) == (4, 2, 16, "square")
    assert explorer.truth.shape == (48, 48)
    assert explorer.scores == overlap_scores(*overlap_masks(4, 2, 16, "square", 48, 16))
    explorer.controls["dx"].value = 0
    explorer.controls["dy"].value = 0
    assert explorer.scores["iou"] == 1 and explorer.scores["dice"] == 1
    explorer.controls["size"].value = 32       # twice as wide, the truth inside it
    assert explorer.scores["iou"] == pytest.approx(0.25)
    assert explorer.scores["dice"] == pytest.approx(0.4)
    explorer.controls["shape"].value = "disc"
    assert torch.equal(explorer.prediction, overlap_masks(0, 0, 32, "disc", 48, 16)[1])
    assert explorer.scores == overlap_scores(explorer.truth, explorer.prediction)
    assert plt.get_fignums() == []


def test_overlap_explorer_replay():
    explorer = OverlapExplorer()
    fig = explorer.draw(-8, 0, 16)
    assert "IoU 128/384 = 0.33" in fig.axes[1].get_title()
    assert "Dice 2x128/(256+256) = 0.50" in fig.axes[1].get_title()
    plt.close(fig)
    figures_before = plt.get_fignums()
    html = explorer._repr_mimebundle_()["text/html"]
    assert plt.get_fignums() == figures_before
    assert _frame_counts(html) == [9]  # 6 positions, then 3 sizes
    assert "Twice as wide as the truth, the prediction scores IoU 0.25 (Dice 0.40)" in html
    _check_offline(html)


def test_stream_budget_by_hand():
    from coursekit.widgets import StreamBudgetExplorer, stream_budget

    budget = stream_budget(latency_ms=100.0, fps=20, batch=4)   # frames every 50 ms
    assert budget["interval_ms"] == 50.0
    assert budget["load"] == 0.5 and budget["keeps_up"]
    assert budget["delay_ms"] == 3 * 50 + 100                   # waits for frames 2-4
    curves = {"fast": [{"batch": 1, "latency_ms": 2.0}, {"batch": 8, "latency_ms": 6.0}],
              "slow": [{"batch": 1, "latency_ms": 40.0}, {"batch": 8, "latency_ms": 200.0}]}
    explorer = StreamBudgetExplorer(curves)
    at_one = explorer.budgets(30, 1)
    assert at_one["fast"]["keeps_up"] and not at_one["slow"]["keeps_up"]
    at_eight = explorer.budgets(30, 8)
    assert at_eight["slow"]["keeps_up"]                           # 200 ms for 267 ms of frames
    assert at_eight["slow"]["delay_ms"] > at_one["slow"]["delay_ms"]
    html = explorer.replay()
    assert "var frames = new Array(2)" in html
