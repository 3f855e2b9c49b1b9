"""Classification figures: training curves, the confusion matrix, the mistakes."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from coursekit import metrics
from coursekit._checks import check_bool, check_class_indices, check_int, describe
from coursekit.viz.pictures import show_images


def _labels(values, name: str, num_classes: int) -> torch.Tensor:
    """Class indices (a tensor, array or list; any integer dtype, or bool for two classes)
    as a flat int64 tensor."""
    if not isinstance(values, torch.Tensor):
        try:
            values = torch.as_tensor(np.asarray(values))
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name}: expected class indices (a tensor, array or list of "
                            f"ints), got {describe(values)}") from None
    if values.is_floating_point() or values.is_complex():
        raise TypeError(f"{name}: expected integer class indices, got {describe(values)}; "
                        "for logits take .argmax(dim=1) first")
    values = values.detach().cpu().long().flatten()
    check_class_indices(values, name, num_classes)
    return values


def _names(class_names) -> list:
    if class_names is None or isinstance(class_names, str) or not hasattr(class_names,
                                                                           "__len__"):
        raise TypeError(f"class_names: expected one name per class, got {describe(class_names)}")
    if len(class_names) < 2:
        raise ValueError(f"class_names: expected at least 2 names, got {len(class_names)}")
    return [str(name) for name in class_names]

# ---------------------------------------------------------------------------
# Classification: training curves, confusion matrix, mistakes
# ---------------------------------------------------------------------------


def show_history(history, title=None):
    """Loss and accuracy per epoch, training and held-out, side by side. Returns the Figure.

    history: a list of dicts with "epoch", "loss", "accuracy" and optionally "test_loss",
    "test_accuracy" (what ``coursekit.train.fit`` returns).
    """
    needed = ("epoch", "loss", "accuracy")
    if (not isinstance(history, list | tuple) or not history
            or not all(isinstance(row, dict) and all(k in row for k in needed)
                       for row in history)):
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
    ax_loss.legend(fontsize=8)
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

    predicted, target: (N,) class indices (any integer dtype; tensors, arrays or lists);
    class_names: one name per class. The counts are ``metrics.confusion_matrix``'s. With
    ``normalize`` each row shows the share of that class's images (rows sum to 1).
    """
    class_names = _names(class_names)
    k = len(class_names)
    normalize = check_bool(normalize, "normalize")
    predicted, target = _labels(predicted, "predicted", k), _labels(target, "target", k)
    if predicted.shape != target.shape:
        raise ValueError(f"predicted: expected one label per target ({len(target)}), "
                         f"got {len(predicted)}")
    if len(target) == 0:
        raise ValueError("target: expected at least one label, got none")
    counts = metrics.confusion_matrix(predicted, target, k)    # rows: truth
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
    accuracy = metrics.pixel_accuracy(counts)   # of images, here: trace / total
    ax.set_title(title or f"accuracy {accuracy:.2%} on {len(target)} images", fontsize=10)
    return fig


def show_misclassified(images, predicted, target, class_names, n=16, ncols=8, title=None):
    """The first ``n`` images the model got wrong, captioned "true", then "→ predicted"
    below it.

    images: (N, C, H, W) in [0, 1] (not normalised); predicted, target: (N,) int.
    """
    class_names = _names(class_names)
    predicted = _labels(predicted, "predicted", len(class_names))
    target = _labels(target, "target", len(class_names))
    if not isinstance(images, torch.Tensor | np.ndarray) or len(images) != len(target):
        raise ValueError(f"images: expected a tensor (N, C, H, W) with one image per target "
                         f"({len(target)}), got {describe(images)}")
    if predicted.shape != target.shape:
        raise ValueError(f"predicted: expected one label per target ({len(target)}), "
                         f"got {len(predicted)}")
    n = check_int(n, "n", low=1)
    wrong = (predicted != target).nonzero().flatten()[:n]
    if len(wrong) == 0:
        raise ValueError("predicted: every prediction is right, there is nothing to show")
    captions = [f"{class_names[target[i]]}\n→ {class_names[predicted[i]]}" for i in wrong]
    return show_images(images[wrong], captions, ncols=ncols,
                       title=title or f"{len(wrong)} of {int((predicted != target).sum())} "
                                      "mistakes (true → predicted)")
