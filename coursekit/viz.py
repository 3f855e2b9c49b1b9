"""Figures: image grids, feature maps, one convolution step, a receptive field,
segmentation masks and their errors, training curves and confusion matrices.

Every function draws one matplotlib figure and returns it, so that a test or a
chapter can look inside (``fig.axes``, titles, ...) or save it. The figures are made
with pyplot, like ``plt.subplots()`` in a notebook: in Jupyter or Colab the figure
appears at the end of the cell without ``plt.show()``. The one thing to remember:
if the call is the *last line* of a cell, Jupyter would also show the returned
Figure, i.e. twice. End that line with ``;`` or assign it (``fig = show_images(x)``).

The drawing functions that the widgets animate take ``fig=``: they clear that
figure and draw into it instead of making a new one.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle

from coursekit.conv import output_size, receptive_field, receptive_region

# ---------------------------------------------------------------------------
# Turning tensors into something imshow can draw
# ---------------------------------------------------------------------------


def _to_numpy(image, name: str) -> np.ndarray:
    """A tensor, array or PIL image as a float NumPy array on the CPU."""
    if isinstance(image, torch.Tensor):
        return image.detach().cpu().float().numpy()
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name}: expected a tensor or array of numbers, "
                        f"got {type(image).__name__}")
    return array.astype(np.float32)


def _as_picture(image, name: str) -> np.ndarray:
    """One image as (H, W) grayscale or (H, W, 3) RGB, ready for ``imshow``.

    Accepts (H, W), (1, H, W), (3, H, W) and, from NumPy or PIL, (H, W, 1) or (H, W, 3).
    RGB values outside [0, 1] (e.g. normalised images) are stretched to [0, 1].
    """
    array = _to_numpy(image, name)
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = array.transpose(1, 2, 0)  # channels first -> channels last
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(
            f"{name}: expected an image (H, W), (1, H, W) or (3, H, W), got shape {array.shape}"
        )
    if array.ndim == 3 and (array.min() < 0 or array.max() > 1):
        low, high = array.min(), array.max()
        array = (array - low) / max(high - low, 1e-12)
    return array


def _gray_limits(picture: np.ndarray) -> tuple:
    """(vmin, vmax): 0 and 1 for images in [0, 1] (so black is 0), else the image's own range."""
    if picture.ndim == 2 and picture.min() >= 0 and picture.max() <= 1:
        return 0.0, 1.0
    return None, None


def _grid(n: int, ncols: int, panel: float, caption_space: float, title):
    """A figure with ``n`` axes in rows of ``ncols``; unused cells are removed."""
    if not isinstance(ncols, int) or isinstance(ncols, bool) or ncols < 1:
        raise ValueError(f"ncols: expected a positive int, got {ncols!r}")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = plt.figure(figsize=(ncols * panel, nrows * (panel + caption_space) + 0.4 * bool(title)),
                     layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    if title is not None:
        fig.suptitle(title)
    return fig, axes[:n]


# ---------------------------------------------------------------------------
# Image grids and feature maps
# ---------------------------------------------------------------------------


def show_images(images, labels=None, ncols=8, title=None, cmap="gray"):
    """A grid of images, each with an optional caption. Returns the Figure.

    images: a tensor (N, C, H, W) with C = 1 or 3, or (N, H, W) grayscale, or (H, W)
    for one image; or a list of images, each (H, W), (1, H, W) or (3, H, W) (tensors or
    arrays). Grayscale images in [0, 1] are drawn with 0 black and 1 white, others on
    their own range; RGB images outside [0, 1] are stretched to it.
    labels: one caption per image (str, int or a 1-D tensor), or None.
    """
    if isinstance(images, (torch.Tensor, np.ndarray)):
        if images.ndim not in (2, 3, 4):
            raise ValueError(f"images: expected a tensor (N, C, H, W), (N, H, W) or (H, W), "
                             f"got shape {tuple(images.shape)}")
        images = [images] if images.ndim == 2 else list(images)
    elif not isinstance(images, (list, tuple)):
        raise TypeError(f"images: expected a tensor or a list of images, "
                        f"got {type(images).__name__}")
    if len(images) == 0:
        raise ValueError("images: expected at least one image, got none")
    pictures = [_as_picture(image, f"images[{i}]") for i, image in enumerate(images)]

    if labels is not None:
        labels = labels.tolist() if isinstance(labels, (torch.Tensor, np.ndarray)) else labels
        if len(labels) != len(pictures):
            raise ValueError(f"labels: expected one label per image ({len(pictures)}), "
                             f"got {len(labels)}")

    fig, axes = _grid(len(pictures), ncols, 1.4, 0.3 if labels is not None else 0.0, title)
    for i, (ax, picture) in enumerate(zip(axes, pictures, strict=True)):
        vmin, vmax = _gray_limits(picture)
        ax.imshow(picture, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_axis_off()
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=9)
    return fig


def show_feature_maps(maps, ncols=8, title=None, cmap="viridis"):
    """Each channel of a feature map as its own small image. Returns the Figure.

    maps: (C, H, W) or (1, C, H, W) tensor, e.g. the output of a conv layer for one
    image. Every map gets its own colour scale (its smallest value darkest, its largest
    brightest) and its channel index in the corner.
    """
    if not isinstance(maps, (torch.Tensor, np.ndarray)):
        raise TypeError(f"maps: expected a tensor (C, H, W), got {type(maps).__name__}")
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        hint = "; pick one image, e.g. maps[0]" if maps.ndim == 4 else ""
        raise ValueError(f"maps: expected a tensor (C, H, W) or (1, C, H, W), "
                         f"got shape {tuple(maps.shape)}{hint}")
    array = _to_numpy(maps, "maps")

    fig, axes = _grid(len(array), ncols, 1.2, 0.0, title)
    for index, (ax, feature_map) in enumerate(zip(axes, array, strict=True)):
        ax.imshow(feature_map, cmap=cmap)  # no vmin/vmax: each map on its own scale
        ax.set_axis_off()
        ax.text(0.03, 0.97, str(index), transform=ax.transAxes, ha="left", va="top",
                fontsize=7, color="white", bbox={"facecolor": "black", "alpha": 0.6, "pad": 1})
    return fig


# ---------------------------------------------------------------------------
# One step of a convolution
# ---------------------------------------------------------------------------


def _number(value: float) -> str:
    """Short text for a number in a cell: '2', '-0.25'."""
    value = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"


def _annotated(ax, values: np.ndarray, title: str) -> None:
    """A small matrix as coloured cells (red +, blue -) with its numbers written in."""
    limit = max(float(np.abs(values).max()), 1e-12)
    ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    if values.size <= 49:  # up to 7x7: room to write the numbers
        for (i, j), value in np.ndenumerate(values):
            color = "white" if abs(value) > 0.6 * limit else "black"
            ax.text(j, i, _number(value), ha="center", va="center", fontsize=10, color=color)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def _check_2d(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name}: expected a 2-D tensor (H, W), got shape {tuple(x.shape)}")
    return x.detach().cpu().float()


def show_conv_step(image, kernel, position, padding=0, fig=None):
    """How one output pixel of a convolution is made. Returns the Figure.

    image: (H, W) float; kernel: (kH, kW) float; position: (row, col) of the output
    pixel; padding: zeros around the image (stride 1).
    Four panels: the input with the kernel's window outlined; the kernel; window x
    kernel, element by element, whose sum is the output pixel; the whole output
    (``F.conv2d``, a cross-correlation) with that pixel outlined.
    """
    image, kernel = _check_2d(image, "image"), _check_2d(kernel, "kernel")
    if not isinstance(padding, int) or isinstance(padding, bool) or padding < 0:
        raise ValueError(f"padding: expected an int >= 0, got {padding!r}")
    (kH, kW), (H, W) = kernel.shape, image.shape
    H_out, W_out = H + 2 * padding - kH + 1, W + 2 * padding - kW + 1  # stride 1
    if H_out < 1 or W_out < 1:
        raise ValueError(f"kernel: a {kH}x{kW} kernel is larger than the padded image "
                         f"{H + 2 * padding}x{W + 2 * padding}")
    row, col = _check_position(position, (H_out, W_out))

    feature_map = F.conv2d(image[None, None], kernel[None, None], padding=padding)[0, 0]
    padded = F.pad(image, (padding, padding, padding, padding))
    products = padded[row: row + kH, col: col + kW] * kernel
    value = feature_map[row, col].item() + 0.0  # + 0.0: no "-0.00"

    if fig is None:
        fig = plt.figure(figsize=(11, 3))
    fig.clear()
    ax_image, ax_kernel, ax_products, ax_output = fig.subplots(1, 4)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.9, wspace=0.06)
    ax_image.set_facecolor("0.85")  # around the image: the zero padding
    ax_image.imshow(image.numpy(), cmap="gray")
    ax_image.set_xlim(-0.5 - padding, W - 0.5 + padding)
    ax_image.set_ylim(H - 0.5 + padding, -0.5 - padding)
    top, left = row - padding, col - padding  # the window in image coordinates
    ax_image.add_patch(Rectangle((left - 0.5, top - 0.5), kW, kH,
                                 fill=False, edgecolor="red", linewidth=2, clip_on=False))
    ax_image.set_title(f"input {H}x{W}: rows {top}..{top + kH - 1}, "
                       f"cols {left}..{left + kW - 1}", fontsize=10)
    _annotated(ax_kernel, kernel.numpy(), f"kernel {kH}x{kW}")
    _annotated(ax_products, products.numpy(), f"window x kernel: sum = {value:.2f}")
    ax_output.imshow(feature_map.numpy(), cmap="gray")
    ax_output.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red",
                                  linewidth=2))
    ax_output.set_title(f"output {H_out}x{W_out}: [{row}, {col}] = {value:.2f}", fontsize=10)
    for ax in (ax_image, ax_output):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def _check_position(position, size) -> tuple[int, int]:
    """``position`` must be (row, col) inside a map of ``size`` (H, W)."""
    ok = (isinstance(position, (tuple, list)) and len(position) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in position))
    if not ok or not (0 <= position[0] < size[0] and 0 <= position[1] < size[1]):
        raise ValueError(f"position: expected (row, col) inside the {size[0]}x{size[1]} output, "
                         f"got {position!r}")
    return position[0], position[1]


# ---------------------------------------------------------------------------
# Receptive field
# ---------------------------------------------------------------------------


def show_receptive_field(image, layers, position, title=None, fig=None):
    """What one output unit of a stack of layers sees. Returns the Figure.

    image: (H, W) float; layers: (kernel_size, stride, padding) per layer (see
    ``coursekit.conv.receptive_region``); position: (row, col) of the unit in the
    output. Left: the image with the pixels the unit sees outlined in red (solid) and
    its full receptive field (dashed, it may reach into the zero padding). Right: the
    output grid with the unit marked.
    """
    image = _check_2d(image, "image")
    H, W = image.shape
    H_out, W_out = output_size(layers, (H, W))
    row, col = _check_position(position, (H_out, W_out))
    top, left, bottom, right = receptive_region(layers, (row, col), (H, W))
    full_top, full_left, full_bottom, full_right = receptive_region(layers, (row, col))
    fields = receptive_field(layers)
    size, jump = (fields[-1].size, fields[-1].jump) if fields else (1, 1)

    if fig is None:
        fig = plt.figure(figsize=(8, 4))
    fig.clear()
    ax_image, ax_output = fig.subplots(1, 2, width_ratios=[1.6, 1])
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.82, wspace=0.05)
    ax_image.set_facecolor("0.85")  # outside the image: the zero padding
    ax_image.imshow(image.numpy(), cmap="gray")
    ax_image.add_patch(Rectangle((full_left - 0.5, full_top - 0.5), full_right - full_left,
                                 full_bottom - full_top, fill=False, edgecolor="red",
                                 linestyle="--", linewidth=1))
    ax_image.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                 facecolor=(1, 0, 0, 0.25), edgecolor="red", linewidth=2))
    ax_image.set_xlim(min(-0.5, full_left - 0.5) - 0.5, max(W - 0.5, full_right - 0.5) + 0.5)
    ax_image.set_ylim(max(H - 0.5, full_bottom - 0.5) + 0.5, min(-0.5, full_top - 0.5) - 0.5)
    ax_image.set_title(f"input {H}x{W}: unit sees {bottom - top}x{right - left} pixels\n"
                       f"(receptive field {size}, jump {jump})", fontsize=10)

    grid = np.zeros((H_out, W_out))
    grid[row, col] = 1.0
    ax_output.imshow(grid, cmap="Reds", vmin=0, vmax=1.5)
    ax_output.set_title(f"output {H_out}x{W_out}: unit ({row}, {col})", fontsize=10)
    if max(H_out, W_out) <= 32:  # thin lines between the units
        ax_output.set_xticks(np.arange(W_out + 1) - 0.5, minor=True)
        ax_output.set_yticks(np.arange(H_out + 1) - 0.5, minor=True)
        ax_output.grid(which="minor", color="0.7", linewidth=0.5)
        ax_output.tick_params(which="minor", length=0)
    for ax in (ax_image, ax_output):
        ax.set_xticks([])
        ax.set_yticks([])
    if title is not None:
        fig.suptitle(title, fontsize=11)
    return fig


# ---------------------------------------------------------------------------
# Segmentation: mask overlays, input / truth / prediction, per-class errors
# ---------------------------------------------------------------------------

SEGMENTATION_PALETTE = (
    # Okabe & Ito's colours, safe for the common colour-vision deficiencies ...
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    # ... then three of Paul Tol's "muted" colours, for tasks with more classes
    "#332288", "#882255", "#999933",
)
"""The colour of class 1, 2, ...; class 0 (background) is left uncoloured. Fixed, so a
class has the same colour in every figure of the course. With more than seven
classes, read the legend (or the per-class error maps, which need no colour)."""

ERROR_COLOURS = {"right": "#BBBBBB", "missed": "#0072B2", "extra": "#E69F00"}
"""Per-class error maps: pixels of the class found (grey), missed (blue), wrongly
claimed (orange): a blue-orange pair that colour-blind readers tell apart."""


def class_colours(num_classes: int) -> np.ndarray:
    """(num_classes, 3) RGB in [0, 1]: black for class 0, then SEGMENTATION_PALETTE."""
    from matplotlib.colors import to_rgb

    if num_classes - 1 > len(SEGMENTATION_PALETTE):
        raise ValueError(f"num_classes: the palette has colours for up to "
                         f"{len(SEGMENTATION_PALETTE) + 1} classes, got {num_classes}")
    return np.array([(0.0, 0.0, 0.0)] + [to_rgb(c) for c in
                                         SEGMENTATION_PALETTE[: num_classes - 1]])


def _as_mask(mask, name: str) -> np.ndarray:
    """A mask (H, W) or (1, H, W) of class indices as an int NumPy array."""
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected an integer mask (H, W) of class indices, "
                         f"got shape {array.shape} and dtype {array.dtype}")
    return array.astype(np.int64)


def mask_overlay(image, mask, num_classes: int, alpha: float = 0.6,
                 ignore_index: int | None = None) -> np.ndarray:
    """The image in grey with each labelled pixel tinted in its class colour.

    image: (H, W), (1, H, W) or (3, H, W); mask: (H, W) int, 0 = background (not
    tinted); pixels equal to ``ignore_index`` are hatched white. Returns (H, W, 3).
    """
    picture, mask = _as_picture(image, "image"), _as_mask(mask, "mask")
    if picture.shape[:2] != mask.shape:
        raise ValueError(f"mask: expected the image's size {picture.shape[:2]}, "
                         f"got {mask.shape}")
    if picture.ndim == 2:
        low, high = picture.min(), picture.max()
        picture = np.repeat(((picture - low) / max(high - low, 1e-12))[..., None], 3, axis=2)
    ignored = mask == ignore_index if ignore_index is not None else np.zeros_like(mask, bool)
    valid = mask[~ignored]
    if valid.size and (valid.min() < 0 or valid.max() >= num_classes):
        raise ValueError(f"mask: expected class indices in 0..{num_classes - 1}, "
                         f"found {valid.min()}..{valid.max()}")
    colours = class_colours(num_classes)[np.where(ignored, 0, mask)]
    tinted = np.where((mask > 0)[..., None] & ~ignored[..., None],
                      (1 - alpha) * picture + alpha * colours, picture)
    tinted[ignored] = 1.0
    return tinted


def _legend(fig, class_names, skip_background=True):
    from matplotlib.patches import Patch

    colours = class_colours(len(class_names))
    handles = [Patch(facecolor=colours[c], edgecolor="0.3", label=str(name))
               for c, name in enumerate(class_names) if c > 0 or not skip_background]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 10),
               fontsize=9, frameon=False)


def show_segmentation(images, truths, predictions=None, class_names=None, titles=None,
                      ignore_index=None, panel=2.2):
    """Input, truth and prediction side by side, one row per example. Returns the Figure.

    images: (N, C, H, W) or a list of images; truths, predictions: (N, H, W) int masks
    (or lists); predictions may be None. class_names: one name per class (class 0 is the
    background), for the legend. With predictions, a fourth column marks the wrong
    pixels in red-orange and gives the row's pixel accuracy. titles: one per row, or None.
    """
    n = len(images)
    if len(truths) != n or (predictions is not None and len(predictions) != n):
        raise ValueError(f"truths, predictions: expected one mask per image ({n}), got "
                         f"{len(truths)} and {None if predictions is None else len(predictions)}")
    if class_names is None:
        raise ValueError("class_names: expected one name per class, e.g. "
                         "('background', 'cell'), got None")
    num_classes = len(class_names)
    columns = 2 if predictions is None else 4
    fig = plt.figure(figsize=(columns * panel, n * panel + 0.6), layout="constrained")
    axes = fig.subplots(n, columns, squeeze=False)
    for i in range(n):
        truth = _as_mask(truths[i], f"truths[{i}]")
        row = [(_as_picture(images[i], f"images[{i}]"), "input"),
               (mask_overlay(images[i], truth, num_classes, ignore_index=ignore_index),
                "truth")]
        if predictions is not None:
            predicted = _as_mask(predictions[i], f"predictions[{i}]")
            wrong = predicted != truth
            if ignore_index is not None:
                wrong &= truth != ignore_index
            accuracy = 1 - wrong.sum() / max((truth != ignore_index).sum()
                                             if ignore_index is not None else truth.size, 1)
            errors = np.ones(truth.shape + (3,))
            errors[wrong] = (0.835, 0.369, 0.0)          # Okabe-Ito vermillion
            row += [(mask_overlay(images[i], predicted, num_classes), "prediction"),
                    (errors, f"errors ({accuracy:.1%} right)")]
        for ax, (picture, label) in zip(axes[i], row, strict=True):
            vmin, vmax = _gray_limits(picture) if picture.ndim == 2 else (None, None)
            ax.imshow(picture, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 or label.startswith("errors"):
                ax.set_title(label, fontsize=10)
        if titles is not None:
            axes[i][0].set_ylabel(str(titles[i]), fontsize=9)
    _legend(fig, class_names)
    return fig


def show_class_errors(truth, prediction, class_names, classes=None, panel=2.0):
    """For each class, where it was found, missed and wrongly claimed. Returns the Figure.

    truth, prediction: (H, W) int masks of one image (or (N, H, W): drawn as a row of
    images side by side). classes: the class indices to draw (default: every class but
    0 that occurs in the truth or the prediction). Each panel gives the class's IoU.
    """
    truth, prediction = (torch.as_tensor(np.asarray(m)) if not isinstance(m, torch.Tensor)
                         else m for m in (truth, prediction))
    if truth.shape != prediction.shape or truth.dim() not in (2, 3):
        raise ValueError(f"prediction: expected the shape of truth, (H, W) or (N, H, W), got "
                         f"truth {tuple(truth.shape)} and prediction {tuple(prediction.shape)}")
    if truth.dim() == 3:  # a batch: lay the images side by side
        truth, prediction = torch.cat(list(truth), dim=1), torch.cat(list(prediction), dim=1)
    truth, prediction = _as_mask(truth, "truth"), _as_mask(prediction, "prediction")
    if classes is None:
        classes = [c for c in range(1, len(class_names))
                   if (truth == c).any() or (prediction == c).any()]
    if not classes:
        raise ValueError("classes: nothing to draw, no class but the background occurs")
    from matplotlib.colors import to_rgb

    aspect = truth.shape[1] / truth.shape[0]
    fig, axes = _grid(len(classes), min(len(classes), max(1, int(8 / aspect))), panel, 0.3,
                      None)
    fig.set_size_inches(min(len(classes), max(1, int(8 / aspect))) * panel * aspect,
                        fig.get_size_inches()[1])
    for ax, c in zip(axes, classes, strict=True):
        is_truth, is_predicted = truth == c, prediction == c
        picture = np.ones(truth.shape + (3,))
        picture[is_truth & is_predicted] = to_rgb(ERROR_COLOURS["right"])
        picture[is_truth & ~is_predicted] = to_rgb(ERROR_COLOURS["missed"])
        picture[~is_truth & is_predicted] = to_rgb(ERROR_COLOURS["extra"])
        union = (is_truth | is_predicted).sum()
        iou = (is_truth & is_predicted).sum() / union if union else float("nan")
        ax.imshow(picture, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{class_names[c]}: IoU {iou:.2f}", fontsize=9)
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(facecolor=ERROR_COLOURS[k], label=label) for k, label in
                        [("right", "found"), ("missed", "missed"), ("extra", "wrongly claimed")]],
               loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return fig


def show_predictions(image, truth, predictions: dict, class_names, title=None, fig=None,
                     panel=2.2):
    """One image: input, truth, then each named prediction, in a row. Returns the Figure.

    image: (C, H, W) or (H, W); truth: (H, W) int; predictions: {name: (H, W) int mask};
    each prediction's title gives its pixel accuracy and its IoU averaged over the
    classes present in truth or prediction. fig: draw into this figure (for widgets).
    """
    truth = _as_mask(truth, "truth")
    num_classes = len(class_names)
    panels = [("input", _as_picture(image, "image")),
              ("truth", mask_overlay(image, truth, num_classes))]
    for name, predicted in predictions.items():
        predicted = _as_mask(predicted, f"predictions[{name!r}]")
        ious = []
        for c in range(num_classes):
            union = ((truth == c) | (predicted == c)).sum()
            if union:
                ious.append(((truth == c) & (predicted == c)).sum() / union)
        label = f"{name}\n{(predicted == truth).mean():.1%} px, mIoU {np.mean(ious):.2f}"
        panels.append((label, mask_overlay(image, predicted, num_classes)))
    if fig is None:
        fig = plt.figure(figsize=(len(panels) * panel, panel + 0.9), layout="constrained")
    fig.clear()
    axes = fig.subplots(1, len(panels))
    for ax, (label, picture) in zip(axes, panels, strict=True):
        vmin, vmax = _gray_limits(picture) if picture.ndim == 2 else (None, None)
        ax.imshow(picture, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=9)
    if title is not None:
        fig.suptitle(title, fontsize=10)
    _legend(fig, class_names)
    return fig


# ---------------------------------------------------------------------------
# Classification: training curves, confusion matrix, mistakes
# ---------------------------------------------------------------------------


def show_history(history, title=None):
    """Loss and accuracy per epoch, training and held-out, side by side. Returns the Figure.

    history: a list of dicts with "epoch", "loss", "accuracy" and optionally "test_loss",
    "test_accuracy" (what ``coursekit.train.fit`` returns).
    """
    if not history or "epoch" not in history[0]:
        raise ValueError("history: expected a non-empty list of per-epoch dicts "
                         f"with 'epoch', 'loss', 'accuracy', got {history!r:.80}")
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for ax, key, name in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, [row[key] for row in history], "o-", label="training (while learning)")
        if f"test_{key}" in history[0]:
            ax.plot(epochs, [row[f"test_{key}"] for row in history], "s-", label="held-out")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend(fontsize=8)
    if "test_accuracy" in history[-1]:
        ax_acc.set_title(f"last held-out accuracy {history[-1]['test_accuracy']:.2%}",
                         fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def _share(value: float) -> str:
    """A share in a cell: ".93"; "<.01" and ">.99" rather than a misleading ".00" or "1.00"
    (1.00 only when every image of the class is there)."""
    if 0 < value < 0.005:
        return "<.01"
    if 0.995 <= value < 1:
        return ">.99"
    return f"{value:.2f}".lstrip("0")


def show_confusion_matrix(predicted, target, class_names, title=None, normalize=True):
    """Rows: true class; columns: predicted class. Returns the Figure.

    predicted, target: (N,) int class indices; class_names: one name per class.
    With ``normalize`` each row shows the share of that class's images (rows sum to 1).
    """
    predicted, target = torch.as_tensor(predicted).flatten(), torch.as_tensor(target).flatten()
    k = len(class_names)
    if predicted.shape != target.shape:
        raise ValueError(f"predicted, target: expected the same number of labels, got "
                         f"{len(predicted)} and {len(target)}")
    if len(target) and (min(predicted.min(), target.min()) < 0
                        or max(predicted.max(), target.max()) >= k):
        raise ValueError(f"predicted, target: expected class indices 0..{k - 1} "
                         f"(one per name in class_names), got values outside")
    counts = torch.bincount(target * k + predicted, minlength=k * k).reshape(k, k)
    shown = counts / counts.sum(1, keepdim=True).clamp(min=1) if normalize else counts
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.2, 0.55 * k + 1.5), layout="constrained")
    ax.imshow(shown.numpy(), cmap="Blues", vmin=0)
    for i in range(k):
        for j in range(k):
            value = shown[i, j].item()
            text = _share(value) if normalize else f"{int(value)}"
            if value:
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if value > 0.5 * shown.max().item() else "black")
    ax.set_xticks(range(k), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = counts.diag().sum().item() / max(counts.sum().item(), 1)
    ax.set_title(title or f"accuracy {accuracy:.2%} on {len(target)} images", fontsize=10)
    return fig


def show_misclassified(images, predicted, target, class_names, n=16, ncols=8, title=None):
    """The first ``n`` images the model got wrong, captioned "true → predicted".

    images: (N, C, H, W) in [0, 1] (not normalised); predicted, target: (N,) int.
    """
    predicted, target = torch.as_tensor(predicted), torch.as_tensor(target)
    wrong = (predicted != target).nonzero().flatten()[:n]
    if len(wrong) == 0:
        raise ValueError("predicted: every prediction is right, there is nothing to show")
    captions = [f"{class_names[target[i]]}→{class_names[predicted[i]]}" for i in wrong]
    return show_images(images[wrong], captions, ncols=ncols,
                       title=title or f"{len(wrong)} of {int((predicted != target).sum())} "
                                      "mistakes (true → predicted)")
