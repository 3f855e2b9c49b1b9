"""Training and evaluation loops, written out so they can be read in one sitting.

``fit`` runs the five steps of every training step (forward, loss, zero_grad,
backward, step) over a data loader for some epochs, with a progress bar, and
returns the history; ``evaluate`` measures loss and accuracy on held-out data.
"""

import time

import torch
from torch import nn
from tqdm.auto import tqdm


def train_one_epoch(model, loader, loss_fn, optimizer, device, progress=None) -> dict:
    """One pass over ``loader``; returns the mean loss and accuracy seen while training.

    Each batch: ``images: (N, C, H, W) float`` and ``labels: (N,) int64`` (classification,
    ``model(images)`` gives ``logits: (N, num_classes)``) or ``labels: (N, H, W) int64``
    (segmentation, ``logits: (N, num_classes, H, W)``). Accuracy counts every label: per
    image for classification, per pixel for segmentation.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)               # 1. forward
        loss = loss_fn(logits, labels)       # 2. loss
        optimizer.zero_grad()                # 3. forget the previous batch's gradients
        loss.backward()                      # 4. gradients of the loss
        optimizer.step()                     # 5. update the weights
        total_loss += loss.item() * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += labels.numel()
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
    return {"loss": total_loss / seen, "accuracy": correct / seen}


@torch.no_grad()
def evaluate(model, loader, device, loss_fn=None) -> dict:
    """Accuracy (and mean loss, when ``loss_fn`` is given) of ``model`` over ``loader``."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        if loss_fn is not None:
            total_loss += loss_fn(logits, labels).item() * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += labels.numel()
    if seen == 0:
        raise ValueError("loader: expected at least one batch, got an empty loader")
    result = {"accuracy": correct / seen}
    if loss_fn is not None:
        result["loss"] = total_loss / seen
    return result


def fit(model: nn.Module, train_loader, optimizer, epochs: int, device,
        loss_fn=None, test_loader=None) -> list[dict]:
    """Train ``model`` for ``epochs`` epochs; returns one dict of figures per epoch.

    ``loss_fn`` defaults to cross-entropy on logits. When ``test_loader`` is given,
    each epoch also reports held-out ``test_loss`` and ``test_accuracy``.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected a positive int, got {epochs!r}")
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    model.to(device)
    history = []
    with tqdm(total=epochs * len(train_loader), desc="training", unit="batch") as progress:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            figures = train_one_epoch(model, train_loader, loss_fn, optimizer, device, progress)
            row = {"epoch": epoch, "seconds": time.perf_counter() - start, **figures}
            if test_loader is not None:
                held_out = evaluate(model, test_loader, device, loss_fn)
                row["test_loss"], row["test_accuracy"] = held_out["loss"], held_out["accuracy"]
            history.append(row)
    return history
