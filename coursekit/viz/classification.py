"""Classification figures: training curves, the confusion matrix, the mistakes."""

import matplotlib.pyplot as plt
import torch

from coursekit.viz.pictures import show_images

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
