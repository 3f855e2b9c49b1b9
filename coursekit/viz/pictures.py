"""Tensors as pictures, image grids and feature maps.

The helpers that turn a tensor, array or PIL image into something ``imshow`` can
draw (``_to_numpy``, ``_as_picture``, ``_gray_limits``) and lay out a grid of panels
(``_grid``) are shared by the other figure modules.
"""

import math
import textwrap

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from coursekit._checks import check_int, check_number, describe

# ---------------------------------------------------------------------------
# Turning tensors into something imshow can draw
# ---------------------------------------------------------------------------


def _to_numpy(image, name: str) -> np.ndarray:
    """A tensor, array or PIL image as a float NumPy array on the CPU.

    uint8 values (tensors, arrays, PIL images) are 0..255 and become 0..1; NaN or
    infinite values are an error (imshow would draw them as nothing).
    """
    if isinstance(image, torch.Tensor):
        array = image.detach().cpu()
        array = (array.float() / 255.0 if array.dtype == torch.uint8 else array.float()).numpy()
    else:
        array = np.asarray(image)
        if array.dtype == np.uint8:
            array = array.astype(np.float32) / 255.0
        elif array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"{name}: expected a tensor or array of numbers, "
                            f"got {type(image).__name__} of {array.dtype}")
        array = array.astype(np.float32)
    if array.size == 0:
        raise ValueError(f"{name}: expected an image, got an empty one of shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinite values")
    return array


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


COLUMN_INCHES = 6.9
"""The width of the book's text column (about 690 pixels at 100 dpi): a wider figure is
shrunk to it, and its text with it."""

CAPTION_POINTS = 9.0
"""The size a caption should have once the figure is shown in the column."""


def _caption_size(fig_width: float) -> float:
    """The font size (points) that shows as ``CAPTION_POINTS`` once a figure
    ``fig_width`` inches wide is shrunk to the book's column; narrower figures are not
    enlarged, so they keep ``CAPTION_POINTS``."""
    fig_width = check_number(fig_width, "fig_width", low=0, low_open=True)
    return CAPTION_POINTS * max(1.0, fig_width / COLUMN_INCHES)


def _wrap(caption: str, characters: float) -> str:
    """``caption`` with each of its lines broken at spaces so that none is longer than
    ``characters`` (a word longer than that stays whole)."""
    width = max(int(characters), 1)
    return "\n".join(textwrap.fill(line, width, break_long_words=False) or line
                     for line in caption.split("\n"))


def _grid(n: int, ncols: int, panel: float, caption_space: float, title):
    """A figure with ``n`` axes in rows of ``ncols``; unused cells are removed."""
    ncols = min(check_int(ncols, "ncols", low=1), n)
    check_number(panel, "panel", low=0, low_open=True)
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


def _check_cmap(cmap) -> None:
    """``cmap`` must name one of matplotlib's colour maps."""
    if not isinstance(cmap, str) or cmap not in plt.colormaps():
        raise ValueError(f"cmap: expected the name of a matplotlib colour map, e.g. 'gray' or "
                         f"'viridis', got {describe(cmap)}")


def show_images(images, labels=None, ncols=8, title=None, cmap="gray"):
    """A grid of images, each with an optional caption. Returns the Figure.

    images: a tensor (N, C, H, W) with C = 1 or 3, or (N, H, W) grayscale, or (H, W)
    for one image; or a list of images, each (H, W), (1, H, W) or (3, H, W) (tensors or
    arrays). Grayscale images in [0, 1] are drawn with 0 black and 1 white, others on
    their own range; RGB images outside [0, 1] are stretched to it.
    labels: one caption per image (str, int or a 1-D tensor), or None.
    """
    _check_cmap(cmap)
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

    panel = 1.4                                      # inches per image
    columns = min(check_int(ncols, "ncols", low=1), len(pictures))
    size = _caption_size(columns * panel)            # readable once shrunk to the column
    if labels is not None:                           # wrapped to the panel's width
        labels = [_wrap(str(label), panel * 72 / (0.6 * size)) for label in labels]
    lines = max((label.count("\n") + 1 for label in labels), default=0) \
        if labels is not None else 0
    fig, axes = _grid(len(pictures), ncols, panel, lines * 1.4 * size / 72, title)
    for i, (ax, picture) in enumerate(zip(axes, pictures, strict=True)):
        vmin, vmax = _gray_limits(picture)
        ax.imshow(picture, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_axis_off()
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=size)
    return fig


def show_feature_maps(maps, ncols=8, title=None, cmap="viridis", labels=None):
    """Each channel of a feature map as its own small image. Returns the Figure.

    maps: (C, H, W) or (1, C, H, W) tensor, e.g. the output of a conv layer for one
    image. Every map gets its own colour scale (its smallest value darkest, its largest
    brightest), shown by its own colour bar, and its channel index in the corner, or
    its label: labels, None or one name per map (e.g. the kernel that made it).
    """
    _check_cmap(cmap)
    if not isinstance(maps, (torch.Tensor, np.ndarray)):
        raise TypeError(f"maps: expected a tensor (C, H, W), got {type(maps).__name__}")
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        hint = "; pick one image, e.g. maps[0]" if maps.ndim == 4 else ""
        raise ValueError(f"maps: expected a tensor (C, H, W) or (1, C, H, W), "
                         f"got shape {tuple(maps.shape)}{hint}")
    array = _to_numpy(maps, "maps")
    if labels is None:
        labels = [str(index) for index in range(len(array))]
    elif isinstance(labels, str) or not hasattr(labels, "__len__") or len(labels) != len(array):
        raise ValueError(f"labels: expected one label per map ({len(array)}), "
                         f"got {describe(labels)}")
    fig, axes = _grid(len(array), ncols, 1.2, 0.0, title)
    for ax, feature_map, label in zip(axes, array, labels, strict=True):
        shown = ax.imshow(feature_map, cmap=cmap)  # no vmin/vmax: each map on its own scale
        ax.set_axis_off()
        bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
        bar.ax.tick_params(labelsize=6, length=2)
        bar.locator = matplotlib.ticker.MaxNLocator(3)
        bar.update_ticks()
        ax.text(0.03, 0.97, str(label), transform=ax.transAxes, ha="left", va="top",
                fontsize=7, color="white", bbox={"facecolor": "black", "alpha": 0.6, "pad": 1})
    return fig
