"""Chapter 7's threshold explorer: a probability map, a threshold, what it finds and misses.

A binary segmentation model gives each pixel a probability p of the object; the mask it
predicts is "object where p >= threshold" (the convention of
``metrics.precision_recall_curve``). ``threshold_scores`` reads precision, recall, F1,
IoU and accuracy at one threshold off ``metrics``' confusion matrix; the explorer moves
the threshold and shows the pixels found, missed and wrongly claimed, and where that
threshold sits on the precision-recall curve.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display

from coursekit import metrics
from coursekit._checks import (
    check_number,
    check_probabilities,
    check_same_shape,
    describe,
)
from coursekit.viz.pictures import _as_picture, _gray_limits
from coursekit.widgets._binary import binary_mask, error_picture, probability_map
from coursekit.widgets.kernels import named_kernel, sample_image
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, replay_html

# ---------------------------------------------------------------------------
# The scores at one threshold
# ---------------------------------------------------------------------------


def threshold_scores(probabilities: torch.Tensor, truth: torch.Tensor,
                     threshold: float) -> dict:
    """The scores of the mask "object where probabilities >= threshold": a dict of floats.

    probabilities: float tensor, e.g. (H, W) or (N, H, W), in [0, 1] (for logits take
    ``.sigmoid()`` first); truth: the same shape, 1 = object, 0 = background, any integer
    dtype or bool; threshold: a number in [0, 1] (0 predicts every pixel), compared with
    the probabilities in float64.

    Returns precision, recall, f1, iou (of the object class) and accuracy (of all pixels),
    read off ``metrics.confusion_matrix``, and the counts true_positives (right),
    false_negatives (missed), false_positives (extra) and true_negatives. As in
    ``metrics``, a precision or recall of 0 / 0 is 0 when the object occurs in the truth
    or the prediction (nothing predicted: precision 0), and every object score is NaN
    when it occurs in neither.

    >>> scores = threshold_scores(torch.tensor([0.9, 0.6, 0.4, 0.7]), torch.tensor([1, 1, 1, 0]),
    ...                           threshold=0.5)
    >>> scores["precision"], scores["recall"], scores["iou"]
    (0.6666666666666666, 0.6666666666666666, 0.5)
    """
    check_probabilities(probabilities, "probabilities")
    truth = binary_mask(truth, "truth", dims="(H, W), the shape of probabilities")
    check_same_shape(truth, "truth", probabilities, "probabilities")
    threshold = check_number(threshold, "threshold", low=0, high=1)
    if truth.numel() == 0:
        raise ValueError("probabilities: expected at least one pixel, got an empty tensor")
    # compared in float64, as metrics.precision_recall_curve does: the same threshold gives
    # the same mask whatever the dtype of the map (float32(0.7) is below 0.7)
    predicted = (probabilities.detach().cpu().double() >= threshold).long()
    cm = metrics.confusion_matrix(predicted, truth, num_classes=2)
    return {
        "precision": float(metrics.precision_per_class(cm)[1]),
        "recall": float(metrics.recall_per_class(cm)[1]),
        "f1": float(metrics.f1_per_class(cm)[1]),
        "iou": float(metrics.iou_per_class(cm)[1]),
        "accuracy": metrics.accuracy(cm),
        "true_positives": int(cm[1, 1]), "false_negatives": int(cm[1, 0]),
        "false_positives": int(cm[0, 1]), "true_negatives": int(cm[0, 0]),
    }


def _example(size: int = 48, seed: int = 0):
    """(image, probabilities, truth), each (size, size): a noisy digit "2", an under-confident
    model's probability map of its stroke (a smoothed copy of the image), the stroke."""
    g = torch.Generator().manual_seed(seed)
    digit = sample_image("digit", size)
    truth = (digit > 0.5).long()
    image = (0.3 + 0.4 * digit + 0.3 * torch.randn(size, size, generator=g)).clamp(0, 1)
    blur = named_kernel("gaussian blur")[None, None]
    smooth = F.conv2d(F.conv2d(image[None, None], blur, padding=1), blur, padding=1)[0, 0]
    return image, torch.sigmoid(12 * (smooth - 0.56)), truth


# ---------------------------------------------------------------------------
# The threshold explorer
# ---------------------------------------------------------------------------


class ThresholdExplorer(ReplayWidget):
    """Move the threshold on a probability map, see what it finds, misses and claims wrongly.

    probabilities: (H, W) float in [0, 1], a model's probability of the object per pixel;
    truth: (H, W) of 0 and 1 (any integer dtype or bool), with at least one 1; image: None
    or the (H, W), (1, H, W) or (3, H, W) input, drawn beside them. With no arguments, a
    built-in example (a noisy digit and a smoothed model of it). threshold: where the
    slider starts.

    Read the current state from ``threshold``, ``scores`` (``threshold_scores``),
    ``predicted`` ((H, W) int64, the mask at that threshold), ``curve`` (precision,
    recall, thresholds from ``metrics.precision_recall_curve``) and ``best`` (from
    ``metrics.best_f1_threshold``). Change it through ``controls["threshold"]``.
    """

    def __init__(self, probabilities=None, truth=None, image=None, threshold: float = 0.5):
        if probabilities is None and truth is None:
            example_image, probabilities, truth = _example()
            image = example_image if image is None else image
        elif probabilities is None or truth is None:
            missing = "probabilities" if probabilities is None else "truth"
            raise TypeError(f"{missing}: expected an (H, W) tensor (give both probabilities "
                            f"and truth, or neither for the example), got None")
        self.probabilities = probability_map(probabilities, "probabilities")
        self.truth = binary_mask(truth, "truth", ndim=2)
        check_same_shape(self.truth, "truth", self.probabilities, "probabilities")
        if self.truth.sum() == 0:
            raise ValueError("truth: expected at least one pixel of 1 (the object), got none: "
                             "recall and the precision-recall curve are undefined")
        self.image = None
        if image is not None:
            self.image = _as_picture(image, "image")
            if self.image.shape[:2] != tuple(self.truth.shape):
                raise ValueError(f"image: expected the size of probabilities "
                                 f"{tuple(self.truth.shape)}, got {describe(image)}")
        threshold = check_number(threshold, "threshold", low=0, high=1)
        self.curve = metrics.precision_recall_curve(self.probabilities, self.truth)
        self.best = metrics.best_f1_threshold(self.probabilities, self.truth)
        self.controls = {"threshold": widgets.FloatSlider(value=threshold, min=0.0, max=1.0,
                                                          step=0.01, description="threshold")}
        output = widgets.interactive_output(self._update, self.controls)
        self.widget = widgets.VBox([self.controls["threshold"], output])

    def draw(self, threshold: float, fig=None):
        """The figure at ``threshold`` (in [0, 1]), into ``fig`` if given. Returns it."""
        threshold = check_number(threshold, "threshold", low=0, high=1)
        scores = threshold_scores(self.probabilities, self.truth, threshold)
        predicted = (self.probabilities >= threshold).long()
        panels = 3 + (self.image is not None)
        if fig is None:
            fig = plt.figure(figsize=(2.75 * panels, 3.7), layout="constrained")
        fig.clear()
        axes = list(fig.subplots(1, panels, width_ratios=[1] * (panels - 1) + [1.15]))
        if self.image is not None:
            ax = axes.pop(0)
            vmin, vmax = _gray_limits(self.image) if self.image.ndim == 2 else (None, None)
            ax.imshow(self.image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title("input", fontsize=10)
        ax = axes[0]
        p = self.probabilities.numpy()
        ax.imshow(p, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        if p.min() < threshold < p.max():
            ax.contour(p, levels=[threshold], colors="red", linewidths=1.4)
        ax.set_title(f"probability (yellow 1, purple 0)\nred line: p = {threshold:.2f}",
                     fontsize=10)
        ax = axes[1]
        ax.imshow(error_picture(self.truth, predicted), interpolation="nearest")
        ax.set_title(f"mask p >= {threshold:.2f}: right (grey) {scores['true_positives']},\n"
                     f"missed (blue) {scores['false_negatives']}, extra (orange) "
                     f"{scores['false_positives']}", fontsize=10)
        for ax in fig.axes[:-1]:
            ax.set_xticks([])
            ax.set_yticks([])
        self._draw_curve(axes[2], scores, threshold)
        if scores["true_positives"] + scores["false_positives"] == 0:
            what = "nothing predicted: precision 0 / 0 (read as 0), recall 0, F1 0"
        else:
            what = (f"precision {scores['precision']:.2f}, recall {scores['recall']:.2f}, "
                    f"F1 {scores['f1']:.2f}, IoU {scores['iou']:.2f}")
        fig.suptitle(f"threshold {threshold:.2f}: {what}   (pixel accuracy "
                     f"{scores['accuracy']:.2f})", fontsize=11)
        return fig

    def _draw_curve(self, ax, scores, threshold):
        precision, recall, _ = self.curve
        ax.plot(recall.numpy(), precision.numpy(), color="0.3", linewidth=1.2)
        best = self.best
        ax.plot([best["recall"]], [best["precision"]], "*", color="#D55E00", markersize=13,
                label=f"best F1 {best['f1']:.2f} at {best['threshold']:.2f}")
        if scores["true_positives"] + scores["false_positives"] > 0:
            ax.plot([scores["recall"]], [scores["precision"]], "o", color="#0072B2",
                    markersize=9, label=f"now: F1 {scores['f1']:.2f} at {threshold:.2f}")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("recall (share of the object found)")
        ax.set_ylabel("precision (share of the mask right)")
        ax.set_title("precision-recall, every threshold", fontsize=10)
        ax.legend(fontsize=8, loc="lower left", frameon=False)
        ax.set_aspect("equal")

    def _update(self, threshold):
        """Recompute from the slider and draw (called on every change)."""
        self.threshold = float(threshold)
        self.scores = threshold_scores(self.probabilities, self.truth, self.threshold)
        self.predicted = (self.probabilities >= self.threshold).long()
        fig = self.draw(self.threshold)
        display(fig)
        plt.close(fig)

    def replay(self) -> str:
        """The HTML replay: the threshold rises from 0.1 to 0.9 in 9 steps."""
        thresholds = [round(0.1 * i, 1) for i in range(1, 10)]
        scores = [threshold_scores(self.probabilities, self.truth, t) for t in thresholds]
        accuracies = [s["accuracy"] for s in scores]
        f1s = [s["f1"] for s in scores]
        fig = self.draw(thresholds[0])
        caption = (LIVE_NOTE + "the threshold (and pass your own probability map and truth). "
                   "Here the threshold rises from 0.1 to 0.9: the mask shrinks, precision "
                   "rises and recall falls; F1 (and IoU) peak in between, best at "
                   f"{self.best['threshold']:.2f} (the star). Pixel accuracy stays between "
                   f"{min(accuracies):.2f} and {max(accuracies):.2f} while F1 goes from "
                   f"{min(f1s):.2f} to {max(f1s):.2f}: most pixels are background, "
                   "so accuracy hardly sees the object.")
        return replay_html(fig, lambda i: self.draw(thresholds[i], fig=fig), len(thresholds),
                           caption=caption, colours=256)

