"""Chapter 7's overlap explorer: move a predicted mask over a true one, see IoU and Dice.

IoU = |A and B| / |A or B| (intersection over union) and Dice = 2 |A and B| / (|A| + |B|)
score the same overlap on different scales: Dice = 2 IoU / (1 + IoU), so Dice is never
below IoU, the two agree at 0 and at 1, and Dice is kinder to a poor overlap (IoU 0.33 is
Dice 0.5). ``overlap_masks`` makes the two masks, ``overlap_scores`` scores them with
``metrics``' confusion matrix, and the explorer moves the prediction around.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from coursekit import metrics
from coursekit._checks import check_choice, check_int, check_same_shape
from coursekit.widgets._binary import binary_mask, error_picture
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, replay_html

# ---------------------------------------------------------------------------
# Two masks and their overlap
# ---------------------------------------------------------------------------

SHAPES = ("square", "disc")


def overlap_scores(truth: torch.Tensor, prediction: torch.Tensor) -> dict:
    """IoU and Dice of a predicted mask against the true one, with the pixel counts.

    truth, prediction: masks of the same shape, e.g. (H, W), of 0 and 1 (any integer dtype
    or bool). Returns {"iou", "dice"} (floats, read off ``metrics.confusion_matrix``: the
    object class's ``iou_per_class`` and ``dice_per_class``) and {"intersection",
    "union", "truth", "prediction"} (ints: pixels in both, in either, in each). Two empty
    masks have nothing to measure: IoU and Dice are NaN, as in ``metrics``.

    >>> a = torch.tensor([[1, 1, 0, 0]]); b = torch.tensor([[0, 1, 1, 0]])
    >>> overlap_scores(a, b)["iou"], overlap_scores(a, b)["dice"]
    (0.3333333333333333, 0.5)
    """
    truth = binary_mask(truth, "truth")
    prediction = binary_mask(prediction, "prediction", dims="(H, W), the shape of truth")
    check_same_shape(prediction, "prediction", truth, "truth")
    if truth.numel() == 0:
        raise ValueError("truth: expected at least one pixel, got an empty mask")
    cm = metrics.confusion_matrix(prediction, truth, num_classes=2)
    intersection = int(cm[1, 1])
    return {"iou": float(metrics.iou_per_class(cm)[1]),
            "dice": float(metrics.dice_per_class(cm)[1]),
            "intersection": intersection,
            "union": int(cm[1, 1] + cm[1, 0] + cm[0, 1]),
            "truth": int(cm[1].sum()), "prediction": int(cm[:, 1].sum())}


def overlap_masks(dx: int = 0, dy: int = 0, size: int = 16, shape: str = "square",
                  grid: int = 40, truth_size: int = 16):
    """(truth, prediction): two (grid, grid) int64 masks of 0 and 1.

    truth: a square of side ``truth_size`` in the middle of the grid. prediction: a
    "square" of side ``size`` or a "disc" of diameter ``size``, placed as a same-sized
    square would be, centred on the truth's centre moved ``dx`` pixels right and ``dy``
    down (negative: left, up); the part outside the grid is cut off. With dx = dy = 0
    and size = truth_size, the square is the truth exactly.

    >>> truth, prediction = overlap_masks(dx=2, size=4, grid=8, truth_size=4)
    >>> truth.sum().item(), (truth & prediction).sum().item()
    (16, 8)
    """
    grid = check_int(grid, "grid", low=2)
    truth_size = check_int(truth_size, "truth_size", low=1, high=grid)
    size = check_int(size, "size", low=1, high=grid)
    dx = check_int(dx, "dx", low=-grid, high=grid)
    dy = check_int(dy, "dy", low=-grid, high=grid)
    shape = check_choice(shape, "shape", SHAPES)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")

    def square(top, left, side):
        return (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)

    start = (grid - truth_size) // 2
    truth = square(start, start, truth_size)
    top, left = (grid - size) // 2 + dy, (grid - size) // 2 + dx
    if shape == "square":
        prediction = square(top, left, size)
    else:   # the pixels whose centres lie within size / 2 of the square's centre
        radius = size / 2
        prediction = ((rows + 0.5 - top - radius) ** 2 + (cols + 0.5 - left - radius) ** 2
                      <= radius ** 2)
    return truth.long(), prediction.long()


# ---------------------------------------------------------------------------
# The overlap explorer
# ---------------------------------------------------------------------------


class OverlapExplorer(ReplayWidget):
    """Move and resize a predicted mask over a true square, see IoU and Dice.

    grid: the side of the picture in pixels; truth_size: the side of the true square.
    Read the current state from ``dx``, ``dy``, ``size``, ``shape``, ``truth`` and
    ``prediction`` ((grid, grid) masks, ``overlap_masks``) and ``scores``
    (``overlap_scores``). Change it through ``controls``: the sliders "dx", "dy" (the
    shift, right and down), "size" (side or diameter) and the dropdown "shape".
    """

    def __init__(self, grid: int = 48, truth_size: int = 16):
        self.grid = check_int(grid, "grid", low=4, high=400)
        self.truth_size = check_int(truth_size, "truth_size", low=1, high=self.grid)
        half = self.grid // 2
        self.controls = {
            "dx": widgets.IntSlider(value=4, min=-half, max=half, description="dx (right)"),
            "dy": widgets.IntSlider(value=2, min=-half, max=half, description="dy (down)"),
            "size": widgets.IntSlider(value=self.truth_size, min=1, max=self.grid,
                                      description="size"),
            "shape": widgets.Dropdown(options=list(SHAPES), value="square",
                                      description="shape"),
        }
        output = widgets.interactive_output(self._update, self.controls)
        c = self.controls
        self.widget = widgets.VBox([widgets.HBox([c["dx"], c["dy"]]),
                                    widgets.HBox([c["size"], c["shape"]]), output])

    def draw(self, dx: int, dy: int, size: int, shape: str = "square", fig=None):
        """The figure for one placement of the prediction (as in ``overlap_masks``), into
        ``fig`` if given. Returns it."""
        truth, prediction = overlap_masks(dx, dy, size, shape, self.grid, self.truth_size)
        scores = overlap_scores(truth, prediction)
        if fig is None:
            fig = plt.figure(figsize=(11, 3.9), layout="constrained")
        fig.clear()
        ax_masks, ax_curve, ax_slide = fig.subplots(1, 3, width_ratios=[1, 1.05, 1.3])

        ax_masks.imshow(error_picture(truth, prediction), interpolation="nearest")
        ax_masks.set_xticks([])
        ax_masks.set_yticks([])
        ax_masks.set_title(f"both (grey) {scores['intersection']}, truth only (blue) "
                           f"{scores['truth'] - scores['intersection']},\nprediction only "
                           f"(orange) {scores['prediction'] - scores['intersection']}: "
                           f"union {scores['union']}", fontsize=10)

        ious = torch.linspace(0, 1, 101)
        ax_curve.plot(ious, 2 * ious / (1 + ious), color="0.3",
                      label="Dice = 2 IoU / (1 + IoU)")
        ax_curve.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=0.8,
                      label="Dice = IoU")
        ax_curve.plot([scores["iou"]], [scores["dice"]], "o", color="#0072B2", markersize=9)
        ax_curve.set_xlim(0, 1)
        ax_curve.set_ylim(0, 1.02)
        ax_curve.set_aspect("equal")
        ax_curve.set_xlabel("IoU")
        ax_curve.set_ylabel("Dice")
        ax_curve.legend(fontsize=8, loc="lower right", frameon=False)
        ax_curve.set_title(f"IoU {scores['intersection']}/{scores['union']} = "
                           f"{scores['iou']:.2f}\nDice 2x{scores['intersection']}/"
                           f"({scores['truth']}+{scores['prediction']}) = "
                           f"{scores['dice']:.2f}", fontsize=10)

        shifts = list(range(-(self.grid // 2), self.grid // 2 + 1))
        along = [overlap_scores(*overlap_masks(s, dy, size, shape, self.grid,
                                               self.truth_size)) for s in shifts]
        ax_slide.plot(shifts, [a["dice"] for a in along], color="#D55E00", label="Dice")
        ax_slide.plot(shifts, [a["iou"] for a in along], color="#0072B2", label="IoU")
        ax_slide.axvline(dx, color="0.6", linestyle="--", linewidth=0.8)
        ax_slide.plot([dx], [scores["dice"]], "o", color="#D55E00")
        ax_slide.plot([dx], [scores["iou"]], "o", color="#0072B2")
        ax_slide.set_ylim(0, 1.02)
        ax_slide.set_xlabel("dx, the shift to the right (pixels)")
        ax_slide.legend(fontsize=8, loc="upper right", frameon=False)
        ax_slide.set_title(f"sliding along x (dy {dy}, {shape} of {size}, truth "
                           f"{self.truth_size})", fontsize=10)
        fig.suptitle(f"prediction moved ({dx:+d}, {dy:+d}), {shape} of size {size}: "
                     f"IoU {scores['iou']:.2f}, Dice {scores['dice']:.2f}", fontsize=11)
        return fig

    def _update(self, dx, dy, size, shape):
        """Recompute from the control values and draw (called on every change)."""
        self.dx, self.dy, self.size, self.shape = int(dx), int(dy), int(size), shape
        self.truth, self.prediction = overlap_masks(self.dx, self.dy, self.size, self.shape,
                                                    self.grid, self.truth_size)
        self.scores = overlap_scores(self.truth, self.prediction)
        fig = self.draw(self.dx, self.dy, self.size, self.shape)
        display(fig)
        plt.close(fig)

    def replay(self) -> str:
        """The HTML replay: a square the size of the truth slides in from the left (from
        touching it to covering it); then, in place, it grows and shrinks."""
        side = self.truth_size
        steps = [round(-side * k / 8) for k in (8, 6, 4, 2, 1, 0)]
        frames = [(s, 0, side) for s in dict.fromkeys(steps)]
        frames += [(0, 0, s) for s in dict.fromkeys([min(self.grid, round(side * 1.5)),
                                                     min(self.grid, side * 2),
                                                     max(1, side // 2)])]
        wide, narrow = (overlap_scores(*overlap_masks(*frame, "square", self.grid, side))
                        for frame in frames[-2:])
        fig = self.draw(*frames[0])
        caption = (LIVE_NOTE + "the shift, the size and the shape of the prediction. Here a "
                   "square as large as the truth slides in from the left until it covers it, "
                   "then grows and shrinks in place. Dice is never below IoU; the two agree "
                   f"only at 0 and 1. Twice as wide as the truth, the prediction scores IoU "
                   f"{wide['iou']:.2f} (Dice {wide['dice']:.2f}); half as wide, IoU "
                   f"{narrow['iou']:.2f} (Dice {narrow['dice']:.2f}).")
        return replay_html(fig, lambda i: self.draw(*frames[i], fig=fig), len(frames),
                           caption=caption, colours=256)

