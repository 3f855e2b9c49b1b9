"""Chapter 2's convolution figures: one step of a convolution, a receptive field.

Both take ``fig=``, so that the widgets of ``coursekit.widgets`` can redraw them.
"""

import numbers

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle

from coursekit.conv import output_size, receptive_field, receptive_region

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
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                  for v in position))
    if not ok or not (0 <= position[0] < size[0] and 0 <= position[1] < size[1]):
        raise ValueError(f"position: expected (row, col) inside the {size[0]}x{size[1]} output, "
                         f"got {position!r}")
    return int(position[0]), int(position[1])


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
