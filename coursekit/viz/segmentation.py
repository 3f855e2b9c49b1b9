"""Segmentation figures: the class palette, mask overlays, input / truth / prediction,
per-class error maps.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from coursekit import metrics
from coursekit._checks import check_ignore_index, check_int, check_number, describe
from coursekit.viz.pictures import _as_picture, _gray_limits, _grid, _wrap

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

    num_classes = check_int(num_classes, "num_classes", low=1)
    if num_classes - 1 > len(SEGMENTATION_PALETTE):
        raise ValueError(f"num_classes: the palette has colours for up to "
                         f"{len(SEGMENTATION_PALETTE) + 1} classes, got {num_classes}")
    return np.array([(0.0, 0.0, 0.0)] + [to_rgb(c) for c in
                                         SEGMENTATION_PALETTE[: num_classes - 1]])


def _as_mask(mask, name: str, num_classes: int | None = None,
             ignore_index: int | None = None) -> np.ndarray:
    """A mask (H, W) or (1, H, W) of class indices (any integer dtype, or bool) as an int64
    NumPy array; with ``num_classes``, every value must be a class or ``ignore_index``."""
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        raise TypeError(f"{name}: expected an integer mask (H, W) of class indices, "
                        f"got {describe(mask)}")
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a mask (H, W) or (1, H, W), got {describe(mask)}")
    array = array.astype(np.int64)
    if num_classes is not None:
        counted = array[array != ignore_index] if ignore_index is not None else array
        if counted.size and (counted.min() < 0 or counted.max() >= num_classes):
            also = f" or {ignore_index} (ignored)" if ignore_index is not None else ""
            raise ValueError(f"{name}: expected class indices in 0..{num_classes - 1}{also}, "
                             f"found values {counted.min()}..{counted.max()}")
    return array


def _scores(truth: np.ndarray, predicted: np.ndarray, num_classes: int,
            ignore_index: int | None) -> dict | None:
    """Pixel accuracy, mIoU and per-class IoU of one mask, read off ``metrics``' confusion
    matrix (ignored pixels not counted); None when no pixel counts."""
    cm = metrics.confusion_matrix(torch.from_numpy(predicted), torch.from_numpy(truth),
                                  max(num_classes, 2), ignore_index)
    if cm.sum() == 0:
        return None
    return {"accuracy": metrics.pixel_accuracy(cm), "miou": metrics.mean_iou(cm),
            "iou": metrics.iou_per_class(cm)}


def mask_overlay(image, mask, num_classes: int, alpha: float = 0.6,
                 ignore_index: int | None = None) -> np.ndarray:
    """The image in grey with each labelled pixel painted in its class colour.

    image: (H, W), (1, H, W) or (3, H, W); mask: (H, W) int, 0 = background (not
    painted); pixels equal to ``ignore_index`` are white. Returns (H, W, 3). mask may be
    any integer dtype (uint8 masks from PNG files) or bool.

    A labelled pixel keeps its class's hue and saturation whatever lies under it: its
    colour is only darkened where the image is dark, to between ``alpha`` (black pixels)
    and 1 (white pixels) of the colour's brightness; alpha=1 paints flat colour. (Mixing
    the colour with the image's grey, as this function once did, made one class light on
    ink and dark off it: two colours for one class.)
    """
    num_classes = check_int(num_classes, "num_classes", low=1)
    alpha = check_number(alpha, "alpha", low=0, high=1)
    ignore_index = check_ignore_index(ignore_index)
    picture = _as_picture(image, "image")
    mask = _as_mask(mask, "mask", num_classes, ignore_index)
    if picture.shape[:2] != mask.shape:
        raise ValueError(f"mask: expected the image's size {picture.shape[:2]}, "
                         f"got {mask.shape}")
    if picture.ndim == 2:
        low, high = picture.min(), picture.max()
        picture = np.repeat(((picture - low) / max(high - low, 1e-12))[..., None], 3, axis=2)
    ignored = mask == ignore_index if ignore_index is not None else np.zeros_like(mask, bool)
    colours = class_colours(num_classes)[np.where(ignored, 0, mask)]
    brightness = picture.mean(axis=2, keepdims=True)            # (H, W, 1) in [0, 1]
    tinted = np.where((mask > 0)[..., None] & ~ignored[..., None],
                      colours * (alpha + (1 - alpha) * brightness), picture)
    tinted[ignored] = 1.0
    return tinted


def _legend(fig, class_names, skip_background=True, fontsize=9):
    from matplotlib.patches import Patch

    colours = class_colours(len(class_names))
    handles = [Patch(facecolor=colours[c], edgecolor="0.3", label=str(name))
               for c, name in enumerate(class_names) if c > 0 or not skip_background]
    if skip_background and str(class_names[0]).lower() != "background":
        # class 0 is left uncoloured; where it is a real class (ISBI's membranes), say so
        handles.insert(0, Patch(facecolor="white", edgecolor="0.3",
                                label=f"{class_names[0]} (not coloured)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 10),
               fontsize=fontsize, frameon=False)


def show_segmentation(images, truths, predictions=None, class_names=None, titles=None,
                      ignore_index=None, panel=2.2):
    """Input, truth and prediction side by side, one row per example. Returns the Figure.

    images: (N, C, H, W) or a list of images; truths, predictions: (N, H, W) int masks
    (or lists); predictions may be None. class_names: one name per class (class 0 is the
    background), for the legend. With predictions, a fourth column marks the wrong
    pixels in red-orange and gives the row's pixel accuracy. titles: one per row, or None.
    """
    _check_batch(images, "images")
    check_number(panel, "panel", low=0, low_open=True)
    n = len(images)
    names = _class_names(class_names)
    ignore_index = check_ignore_index(ignore_index)
    for name, masks in (("truths", truths), ("predictions", predictions)):
        if masks is not None:
            _check_batch(masks, name)
            if len(masks) != n:
                raise ValueError(f"{name}: expected one mask per image ({n}), got {len(masks)}")
    if titles is not None and (isinstance(titles, str) or len(titles) != n):
        raise ValueError(f"titles: expected one title per image ({n}), got {describe(titles)}")
    num_classes = len(names)
    columns = 2 if predictions is None else 4
    fig = plt.figure(figsize=(columns * panel, n * panel + 0.6), layout="constrained")
    axes = fig.subplots(n, columns, squeeze=False)
    for i in range(n):
        truth = _as_mask(truths[i], f"truths[{i}]", num_classes, ignore_index)
        row = [(_as_picture(images[i], f"images[{i}]"), "input"),
               (mask_overlay(images[i], truth, num_classes, ignore_index=ignore_index),
                "truth")]
        if predictions is not None:
            predicted = _as_mask(predictions[i], f"predictions[{i}]", num_classes)
            if predicted.shape != truth.shape:
                raise ValueError(f"predictions[{i}]: expected the shape of truths[{i}] "
                                 f"{truth.shape}, got {predicted.shape}")
            wrong = predicted != truth
            if ignore_index is not None:
                wrong &= truth != ignore_index
            scores = _scores(truth, predicted, num_classes, ignore_index)
            right = f"{scores['accuracy']:.1%} right" if scores else "every pixel ignored"
            errors = np.ones(truth.shape + (3,))
            errors[wrong] = (0.835, 0.369, 0.0)          # Okabe-Ito vermillion
            row += [(mask_overlay(images[i], predicted, num_classes), "prediction"),
                    (errors, f"errors ({right})")]
        for ax, (picture, label) in zip(axes[i], row, strict=True):
            vmin, vmax = _gray_limits(picture) if picture.ndim == 2 else (None, None)
            ax.imshow(picture, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 or label.startswith("errors"):
                ax.set_title(label, fontsize=10)
        if titles is not None:
            axes[i][0].set_ylabel(str(titles[i]), fontsize=9)
    _legend(fig, names)
    return fig


def _check_batch(values, name: str) -> None:
    """``values`` must be a tensor/array with a first dimension, or a non-empty list."""
    if isinstance(values, torch.Tensor | np.ndarray):
        if values.ndim < 3:
            raise ValueError(f"{name}: expected a batch (N, ...) of images or masks, "
                             f"got {describe(values)}")
    elif not isinstance(values, list | tuple):
        raise TypeError(f"{name}: expected a tensor (N, ...) or a list, got {describe(values)}")
    if len(values) == 0:
        raise ValueError(f"{name}: expected at least one, got none")


def _class_names(class_names) -> list:
    """``class_names`` as a list of at least 2 names (a string is not a list of names)."""
    if class_names is None or isinstance(class_names, str) or not hasattr(class_names,
                                                                           "__len__"):
        raise TypeError(f"class_names: expected one name per class, e.g. ('background', "
                        f"'cell'), got {describe(class_names)}")
    if len(class_names) < 2:
        raise ValueError(f"class_names: expected at least 2 names (class 0 is the "
                         f"background), got {len(class_names)}")
    return [str(name) for name in class_names]


def show_class_errors(truth, prediction, class_names, classes=None, panel=2.0,
                      ignore_index=None):
    """For each class, where it was found, missed and wrongly claimed. Returns the Figure.

    truth, prediction: (H, W) masks of class indices of one image, any integer dtype (or
    (N, H, W): drawn as a row of images side by side). classes: the class indices to draw
    (default: every class but 0 that occurs in the truth or the prediction). Each panel
    gives the class's IoU, read off ``metrics``' confusion matrix; pixels whose truth is
    ``ignore_index`` are left white and not counted.
    """
    names = _class_names(class_names)
    ignore_index = check_ignore_index(ignore_index)
    check_number(panel, "panel", low=0, low_open=True)
    truth, prediction = (torch.as_tensor(np.asarray(m)) if not isinstance(m, torch.Tensor)
                         else m for m in (truth, prediction))
    if truth.shape != prediction.shape or truth.dim() not in (2, 3):
        raise ValueError(f"prediction: expected the shape of truth, (H, W) or (N, H, W), got "
                         f"truth {tuple(truth.shape)} and prediction {tuple(prediction.shape)}")
    if truth.dim() == 3:  # a batch: lay the images side by side
        truth, prediction = torch.cat(list(truth), dim=1), torch.cat(list(prediction), dim=1)
    truth = _as_mask(truth, "truth", len(names), ignore_index)
    prediction = _as_mask(prediction, "prediction", len(names))
    counted = truth != ignore_index if ignore_index is not None else np.ones_like(truth, bool)
    if classes is None:
        classes = [c for c in range(1, len(names))
                   if (truth[counted] == c).any() or (prediction[counted] == c).any()]
    elif (isinstance(classes, str) or not hasattr(classes, "__iter__")
          or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(names)
                     for c in classes)):
        raise ValueError(f"classes: expected class indices in 0..{len(names) - 1}, "
                         f"got {describe(classes)}")
    if not classes:
        raise ValueError("classes: nothing to draw, no class but the background occurs")
    scores = _scores(truth, prediction, len(names), ignore_index)
    from matplotlib.colors import to_rgb

    aspect = truth.shape[1] / truth.shape[0]
    fig, axes = _grid(len(classes), min(len(classes), max(1, int(8 / aspect))), panel, 0.3,
                      None)
    fig.set_size_inches(min(len(classes), max(1, int(8 / aspect))) * panel * aspect,
                        fig.get_size_inches()[1])
    for ax, c in zip(axes, classes, strict=True):
        is_truth, is_predicted = (truth == c) & counted, (prediction == c) & counted
        picture = np.ones(truth.shape + (3,))
        picture[is_truth & is_predicted] = to_rgb(ERROR_COLOURS["right"])
        picture[is_truth & ~is_predicted] = to_rgb(ERROR_COLOURS["missed"])
        picture[~is_truth & is_predicted] = to_rgb(ERROR_COLOURS["extra"])
        iou = scores["iou"][c].item() if scores else float("nan")
        ax.imshow(picture, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{names[c]}: IoU {iou:.2f}", fontsize=9)
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(facecolor=ERROR_COLOURS[k], label=label) for k, label in
                        [("right", "found"), ("missed", "missed"), ("extra", "wrongly claimed")]],
               loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    return fig


def show_predictions(image, truth, predictions: dict, class_names, title=None, fig=None,
                     panel=2.2, ignore_index=None, fontsize=9, alpha=0.6):
    """One image: input, truth, then each named prediction, in a row. Returns the Figure.

    image: (C, H, W) or (H, W); truth: (H, W) class indices (any integer dtype);
    predictions: {name: (H, W) mask}; each prediction's title gives its pixel accuracy and
    its mIoU (over the classes present in truth or prediction), read off ``metrics``'
    confusion matrix, not counting pixels whose truth is ``ignore_index``.
    fig: draw into this figure (for widgets). fontsize: of the titles and the legend
    (a title too wide for its panel is broken into lines). alpha: ``mask_overlay``'s; 1 paints
    each class in one flat colour whatever lies under it.
    """
    names = _class_names(class_names)
    num_classes = len(names)
    ignore_index = check_ignore_index(ignore_index)
    check_number(panel, "panel", low=0, low_open=True)
    fontsize = check_number(fontsize, "fontsize", low=0, low_open=True)
    alpha = check_number(alpha, "alpha", low=0, high=1)
    if not isinstance(predictions, dict):
        raise TypeError(f"predictions: expected a dict {{name: (H, W) mask}}, "
                        f"got {describe(predictions)}")
    truth = _as_mask(truth, "truth", num_classes, ignore_index)
    characters = panel * 72 / (0.6 * fontsize)          # a title line that fits a panel
    panels = [("input", _as_picture(image, "image")),
              ("truth", mask_overlay(image, truth, num_classes, alpha,
                                     ignore_index=ignore_index))]
    for name, predicted in predictions.items():
        predicted = _as_mask(predicted, f"predictions[{name!r}]", num_classes)
        if predicted.shape != truth.shape:
            raise ValueError(f"predictions[{name!r}]: expected the shape of truth "
                             f"{truth.shape}, got {predicted.shape}")
        scores = _scores(truth, predicted, num_classes, ignore_index)
        figures = (f"{scores['accuracy']:.1%} px, mIoU {scores['miou']:.2f}" if scores
                   else "every pixel ignored")
        if len(figures) > characters:                # too long for its panel: two lines
            figures = figures.replace(", ", "\n")
        panels.append((f"{_wrap(str(name), characters)}\n{figures}",
                       mask_overlay(image, predicted, num_classes, alpha)))
    if fig is None:
        fig = plt.figure(figsize=(len(panels) * panel, panel + 0.1 * fontsize),
                         layout="constrained")
    fig.clear()
    axes = fig.subplots(1, len(panels))
    for ax, (label, picture) in zip(axes, panels, strict=True):
        vmin, vmax = _gray_limits(picture) if picture.ndim == 2 else (None, None)
        ax.imshow(picture, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=fontsize)
    if title is not None:
        fig.suptitle(title, fontsize=fontsize + 1)
    _legend(fig, names, fontsize=fontsize)
    return fig


def show_photo_segmentation(photo, labels, class_names, title=None, panel=3.2):
    """A photo and the classes predicted for its pixels, side by side. Returns the Figure.

    photo: a PIL image, (3, H, W) tensor or (H, W, 3) array; labels: (H, W) class indices
    (any integer dtype) into class_names (at least 2 names; class 0, the background, is
    not coloured), e.g. the 21 Pascal VOC categories. Only the classes found are
    coloured and named in the legend, each with its share of the pixels; the palette has
    colours for nine, so beyond nine the smallest share one colour as "other classes".
    """
    names = _class_names(class_names)
    check_number(panel, "panel", low=0, low_open=True)
    picture = _as_picture(photo, "photo")
    labels = _as_mask(labels, "labels", len(names))
    if labels.shape != picture.shape[:2]:
        raise ValueError(f"labels: expected the photo's size {picture.shape[:2]}, "
                         f"got {labels.shape}")
    counts = np.bincount(labels.ravel(), minlength=len(names))
    found = [c for c in np.argsort(-counts, kind="stable") if c > 0 and counts[c] > 0]
    coloured, rest = found[:9], found[9:]
    compact = np.zeros_like(labels)
    legend = [f"{names[0].strip('_')} {counts[0] / labels.size:.1%}"]   # '__background__'
    for k, c in enumerate(coloured, start=1):
        compact[labels == c] = k
        legend.append(f"{names[c].strip('_')} {counts[c] / labels.size:.1%}")
    if rest:
        compact[np.isin(labels, rest)] = len(coloured) + 1
        legend.append(f"other classes {counts[rest].sum() / labels.size:.1%}")
    aspect = picture.shape[1] / picture.shape[0]
    fig = plt.figure(figsize=(2 * panel * aspect, panel + 0.9), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = [(picture, "photo"),
              (mask_overlay(picture.transpose(2, 0, 1) if picture.ndim == 3 else picture,
                            compact, len(legend), alpha=0.8), "predicted classes")]
    for ax, (image, label) in zip(axes, panels, strict=True):
        vmin, vmax = _gray_limits(image) if image.ndim == 2 else (None, None)
        ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=10)
    if title is not None:
        fig.suptitle(title, fontsize=10)
    from matplotlib.patches import Patch

    colours = class_colours(len(legend))
    handles = [Patch(facecolor="white", edgecolor="0.3", label=legend[0] + " (not coloured)")]
    handles += [Patch(facecolor=colours[k], edgecolor="0.3", label=label)
                for k, label in enumerate(legend) if k > 0]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4),
               fontsize=9, frameon=False)
    return fig
