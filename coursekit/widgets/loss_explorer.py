"""Chapter 6's loss explorer: how each loss responds as you move a prediction.

The task is the smallest imbalanced one: a strip of ``total_pixels`` pixels of which
``object_pixels`` (a rare foreground, in the middle) are 1 and the rest 0. The prediction
puts probability ``p_object`` on every object pixel and ``p_background`` on every
background pixel (each turned into a logit, log(p / (1 - p)), for the losses, which take
logits). ``loss_values`` gives every loss of ``coursekit.losses`` on it, and
``loss_gradients`` how hard each loss pulls the object pixels up and pushes the
background pixels down: the sum of the gradients over each group, which is what moves a
weight (such as the last layer's bias) that every pixel shares.
"""

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from coursekit import losses
from coursekit._checks import check_int, check_number
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, replay_html

# ---------------------------------------------------------------------------
# The losses on a strip, and their gradients
# ---------------------------------------------------------------------------

LOSS_NAMES = {
    "bce": "BCE",
    "weighted_bce": "BCE, pos_weight",
    "dice": "soft Dice",
    "jaccard": "soft Jaccard",
    "focal": "focal, gamma 2",
    "tversky": "Tversky, a 0.3 b 0.7",
}
"""The losses the explorer shows, by key: what ``loss_values`` returns, as labelled in its
figure. "weighted_bce" is BCE with pos_weight = background pixels / object pixels (the
usual weight for a rare class); "tversky" weighs false negatives more (alpha 0.3 on false
positives, beta 0.7 on false negatives). The overlap losses take their default smooth (1)."""


def _losses(pos_weight: float) -> dict:
    """key -> loss(logits, target) in binary mode, with the settings of LOSS_NAMES."""
    return {
        "bce": losses.binary_cross_entropy,
        "weighted_bce": lambda z, y: losses.binary_cross_entropy(z, y, pos_weight=pos_weight),
        "dice": lambda z, y: losses.soft_dice_loss(z, y, mode="binary"),
        "jaccard": lambda z, y: losses.soft_jaccard_loss(z, y, mode="binary"),
        "focal": lambda z, y: losses.focal_loss(z, y, mode="binary", gamma=2.0),
        "tversky": lambda z, y: losses.tversky_loss(z, y, mode="binary", alpha=0.3, beta=0.7),
    }


def _check_setting(p_object, p_background, object_pixels, total_pixels):
    p_object = check_number(p_object, "p_object", low=0, high=1, low_open=True, high_open=True)
    p_background = check_number(p_background, "p_background", low=0, high=1, low_open=True,
                                high_open=True)
    object_pixels = check_int(object_pixels, "object_pixels", low=1)
    total_pixels = check_int(total_pixels, "total_pixels", low=object_pixels + 1)
    return p_object, p_background, object_pixels, total_pixels


def object_strip(object_pixels: int = 4, total_pixels: int = 32) -> torch.Tensor:
    """The truth: (total_pixels,) int64, 1 on ``object_pixels`` pixels in the middle, else 0.

    >>> object_strip(2, 6).tolist()
    [0, 0, 1, 1, 0, 0]
    """
    object_pixels = check_int(object_pixels, "object_pixels", low=1)
    total_pixels = check_int(total_pixels, "total_pixels", low=object_pixels + 1)
    truth = torch.zeros(total_pixels, dtype=torch.int64)
    start = (total_pixels - object_pixels) // 2
    truth[start:start + object_pixels] = 1
    return truth


def _evaluate(p_object, p_background, object_pixels, total_pixels, gradients: bool):
    """Every loss of LOSS_NAMES on the strip, and (if asked) the gradients of each."""
    p_object, p_background, object_pixels, total_pixels = _check_setting(
        p_object, p_background, object_pixels, total_pixels)
    truth = object_strip(object_pixels, total_pixels)
    is_object = truth == 1
    logit_object = math.log(p_object / (1 - p_object))
    logit_background = math.log(p_background / (1 - p_background))
    logits = torch.full((total_pixels,), logit_background, dtype=torch.float64)
    logits[is_object] = logit_object
    logits = logits.reshape(1, 1, 1, total_pixels).requires_grad_(gradients)  # (N, 1, H, W)
    target = truth.reshape(1, 1, total_pixels)                                  # (N, H, W)
    values, pulls = {}, {}
    pos_weight = (total_pixels - object_pixels) / object_pixels
    for key, loss_fn in _losses(pos_weight).items():
        loss = loss_fn(logits, target)
        values[key] = loss.item()
        if gradients:
            (grad,) = torch.autograd.grad(loss, logits)
            grad = grad.reshape(-1)
            pulls[key] = {"object": float(-grad[is_object].sum()),
                          "background": float(grad[~is_object].sum())}
    return values, pulls


def loss_values(p_object: float, p_background: float, object_pixels: int = 4,
                total_pixels: int = 32) -> dict:
    """{key: loss} for each loss of ``LOSS_NAMES`` on the strip (see the module's text).

    p_object: the probability predicted on every object pixel; p_background: on every
    background pixel; both in (0, 1), exclusive (a probability of exactly 0 or 1 is an
    infinite logit). object_pixels >= 1 of total_pixels > object_pixels are the object.

    >>> round(loss_values(0.5, 0.5)["bce"], 4)   # log 2, whatever the imbalance
    0.6931
    """
    return _evaluate(p_object, p_background, object_pixels, total_pixels, gradients=False)[0]


def loss_gradients(p_object: float, p_background: float, object_pixels: int = 4,
                   total_pixels: int = 32) -> dict:
    """{key: {"object": pull, "background": push}} for each loss of ``LOSS_NAMES``.

    pull = -(sum over the object pixels of d loss / d logit): how hard gradient descent
    raises the object pixels' logits (> 0: up, towards 1); push = +(sum over the
    background pixels of d loss / d logit): how hard it lowers the background's (> 0:
    down, towards 0). Arguments as for ``loss_values``. With BCE and a rare object the
    push outweighs the pull by the ratio of pixel counts at p = 0.5; with Dice or
    pos_weight they balance; focal's push vanishes once the background is easy (p near 0).
    """
    return _evaluate(p_object, p_background, object_pixels, total_pixels, gradients=True)[1]


# ---------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------

COLOURS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#CC79A7")
"""One colour per loss, in the order of LOSS_NAMES (Okabe and Ito's palette)."""

GRADIENT_RANGE = (1e-4, 3.0)
"""The x range of the gradient bars (log scale); a smaller gradient shows as its number."""

INSIDE_FROM = 0.1
"""A gradient bar at least this long carries its number inside its end, not after it."""

# The figure's size and its one font size: 680 px wide at the replays' 72 dpi, the
# book's column, so that 12 pt shows as 12 px (9 pt on the page) without a shrink.
FIGSIZE = (9.4, 8.6)
FONT = 12

SWEEP = tuple(round(0.01 + 0.98 * i / 48, 4) for i in range(49))
"""The p_object values of the curves: 0.01 to 0.99."""


def _labels(object_pixels, total_pixels):
    weight = (total_pixels - object_pixels) / object_pixels
    labels = dict(LOSS_NAMES)
    labels["weighted_bce"] = f"BCE, pos_weight {weight:.3g}"
    return labels


def draw_losses(p_object: float, p_background: float, object_pixels: int = 4,
                total_pixels: int = 32, fig=None):
    """The explorer's figure for one setting (arguments as for ``loss_values``). Returns it.

    Top: the truth and the prediction as strips. Middle, left: each loss over p_object
    (p_background fixed), the current p_object marked; right: each loss now. Bottom: the
    pull on the object and the push on the background (``loss_gradients``). Drawn for a
    book column: FIGSIZE at the replays' 72 dpi is 680 px wide, and no text is smaller
    than 12 pt (9 pt once shown).
    fig: draw into this figure (for widgets).
    """
    p_object, p_background, object_pixels, total_pixels = _check_setting(
        p_object, p_background, object_pixels, total_pixels)
    values, pulls = _evaluate(p_object, p_background, object_pixels, total_pixels, True)
    curves = {key: [] for key in LOSS_NAMES}
    for p in SWEEP:
        for key, value in loss_values(p, p_background, object_pixels, total_pixels).items():
            curves[key].append(value)
    labels = _labels(object_pixels, total_pixels)
    keys = list(LOSS_NAMES)

    if fig is None:
        fig = plt.figure(figsize=FIGSIZE, layout="constrained")
    fig.clear()
    grid = fig.add_gridspec(3, 2, height_ratios=[0.9, 4, 3.6], width_ratios=[1, 1.05])
    ax_strip = fig.add_subplot(grid[0, :])
    truth = object_strip(object_pixels, total_pixels)
    prediction = torch.where(truth == 1, p_object, p_background)
    ax_strip.imshow(torch.stack([truth.double(), prediction.double()]).numpy(), cmap="gray",
                    vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax_strip.set_yticks([0, 1], ["truth", "prediction"], fontsize=FONT)
    ax_strip.set_xticks([])
    ax_strip.set_title(f"{object_pixels} object pixels of {total_pixels}:  prediction "
                       f"p = {p_object:.2f} on the object,\n{p_background:.2f} on the "
                       f"background (white = 1, black = 0)", fontsize=FONT)

    ax_curve = fig.add_subplot(grid[1, 0])
    # the y range fits every curve but weighted BCE's, which would squash the others;
    # it stays fixed while p_object moves
    top = 1.08 * max(max(c) for k, c in curves.items() if k != "weighted_bce")
    for key, colour in zip(keys, COLOURS, strict=True):
        ax_curve.plot(SWEEP, curves[key], color=colour, label=labels[key])
        if values[key] <= top:
            ax_curve.plot([p_object], [values[key]], "o", color=colour, markersize=6)
        else:  # off the top: an arrow at the edge
            ax_curve.plot([p_object], [0.985 * top], "^", color=colour, markersize=7,
                          clip_on=False)
    ax_curve.axvline(p_object, color="0.6", linewidth=0.8, linestyle="--")
    ax_curve.set_ylim(0, top)
    ax_curve.set_xlim(0, 1)
    ax_curve.set_xlabel("p_object", fontsize=FONT)
    ax_curve.set_ylabel("loss", fontsize=FONT)
    ax_curve.tick_params(labelsize=FONT)
    ax_curve.set_title(f"loss against p_object\n(p_background {p_background:.2f}; "
                       "colours\nas in the bars; ^: off the top)", fontsize=FONT)

    rows = list(range(len(keys)))[::-1]       # the first loss on top
    ax_value = fig.add_subplot(grid[1, 1])
    ax_value.barh(rows, [values[k] for k in keys], color=COLOURS)
    for row, key in zip(rows, keys, strict=True):
        ax_value.text(values[key], row, f" {values[key]:.3g}", va="center", fontsize=FONT)
    ax_value.set_yticks(rows, [labels[k] for k in keys], fontsize=FONT)
    ax_value.set_xlim(0, max(1.5, 1.45 * max(values.values())))
    ax_value.tick_params(labelsize=FONT)
    ax_value.set_xlabel("loss", fontsize=FONT)
    ax_value.set_title("the loss now", fontsize=FONT)

    ax_grad = fig.add_subplot(grid[2, :], sharey=ax_value)
    height = 0.38
    pull = [pulls[k]["object"] for k in keys]
    push = [pulls[k]["background"] for k in keys]
    ax_grad.barh([r + height / 2 for r in rows], pull, height, color="#0072B2")
    ax_grad.barh([r - height / 2 for r in rows], push, height, color="#BBBBBB")
    for row, up, down in zip(rows, pull, push, strict=True):
        for value, y, ink in [(up, row + height / 2, "white"),
                              (down, row - height / 2, "black")]:
            if value >= INSIDE_FROM:   # a long bar: its number inside its end, so that
                # the number stays inside the panel (a bar may reach the edge)
                ax_grad.text(min(value, GRADIENT_RANGE[1]), y, f"{value:.2g} ",
                             va="center", ha="right", fontsize=FONT, color=ink)
            else:
                ax_grad.text(max(value, GRADIENT_RANGE[0]), y, f" {value:.2g}",
                             va="center", fontsize=FONT)
    ax_grad.set_xscale("log")      # fixed: the bars can be compared from frame to frame
    ax_grad.set_xlim(GRADIENT_RANGE)
    ax_grad.tick_params(labelleft=True, labelsize=FONT)  # the loss names on this panel too
    ax_grad.set_xlabel("sum of |d loss / d logit| (log scale)", fontsize=FONT)
    ax_grad.set_title(f"gradient now: blue, {object_pixels} object px up; "
                      f"grey, {total_pixels - object_pixels} background px down",
                      fontsize=FONT)
    return fig


# ---------------------------------------------------------------------------
# The loss explorer
# ---------------------------------------------------------------------------


class LossExplorer(ReplayWidget):
    """Move a prediction on a small imbalanced strip, see how each loss responds.

    Read the current state from ``p_object``, ``p_background``, ``object_pixels``,
    ``total_pixels``, ``values`` (``loss_values``) and ``gradients``
    (``loss_gradients``). Change it through ``controls``: the sliders "p_object",
    "p_background" (0.01 to 0.99) and "object_pixels" (1 to total_pixels - 1).
    """

    def __init__(self, object_pixels: int = 4, total_pixels: int = 32, p_object: float = 0.3,
                 p_background: float = 0.1):
        p_object, p_background, object_pixels, total_pixels = _check_setting(
            p_object, p_background, object_pixels, total_pixels)
        for name, p in [("p_object", p_object), ("p_background", p_background)]:
            if not 0.01 <= p <= 0.99:
                raise ValueError(f"{name}: expected a number >= 0.01 and <= 0.99 (the "
                                 f"slider's range), got {p}")
        self.total_pixels = total_pixels
        self.controls = {
            "p_object": widgets.FloatSlider(value=p_object, min=0.01, max=0.99, step=0.01,
                                            description="p_object"),
            "p_background": widgets.FloatSlider(value=p_background, min=0.01, max=0.99,
                                                step=0.01, description="p_background"),
            "object_pixels": widgets.IntSlider(value=object_pixels, min=1,
                                               max=total_pixels - 1,
                                               description="object px"),
        }
        output = widgets.interactive_output(self._update, self.controls)
        c = self.controls
        self.widget = widgets.VBox([widgets.HBox([c["p_object"], c["p_background"],
                                                  c["object_pixels"]]), output])

    def _update(self, p_object, p_background, object_pixels):
        """Recompute from the control values and draw (called on every change)."""
        self.p_object, self.p_background = float(p_object), float(p_background)
        self.object_pixels = int(object_pixels)
        setting = (self.p_object, self.p_background, self.object_pixels, self.total_pixels)
        self.values = loss_values(*setting)
        self.gradients = loss_gradients(*setting)
        fig = draw_losses(*setting)
        display(fig)
        plt.close(fig)

    def replay(self) -> str:
        """The HTML replay: p_object sweeps from 0.05 to 0.95 with the current p_background;
        then p_background sweeps with p_object 0.9 (with the current number of object
        pixels)."""
        n, total, background = self.object_pixels, self.total_pixels, self.p_background
        objects = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
        backgrounds = (0.02, 0.1, 0.3, 0.5, 0.7)
        fig = plt.figure(figsize=FIGSIZE, layout="constrained")
        first = replay_html(fig, lambda i: draw_losses(objects[i], background, n, total,
                                                       fig=fig),
                            len(objects), caption=LIVE_NOTE + "p_object, p_background and the "
                            "number of object pixels. Here p_object rises from 0.05 to 0.95 while "
                            f"the background stays right (p_background {background:g}). Watch the "
                            "blue bars: as the object gets right, BCE's pull on it shrinks and "
                            "focal's all "
                            "but vanishes (focal looks away from pixels already right), while the "
                            "overlap losses (Dice, Jaccard, Tversky) pull hardest half-way.",
                            colours=256)
        fig = plt.figure(figsize=FIGSIZE, layout="constrained")
        second = replay_html(fig, lambda i: draw_losses(0.9, backgrounds[i], n, total, fig=fig),
                             len(backgrounds), caption="Here the background goes wrong "
                             "(p_background 0.02 to 0.7) while the object stays right (p_object "
                             "0.9). Watch the grey bars: BCE's push on the background grows with "
                             "p_background and with the number of background pixels, far past its "
                             "pull on the object; focal's catches up with BCE's once the "
                             "background is wrong; the overlap losses' push stays bounded.",
                             colours=256)
        return first + second

