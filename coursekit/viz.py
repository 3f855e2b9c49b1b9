"""Figures: image grids, feature maps, one convolution step, a receptive field.

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
