"""Training and evaluation loops, written out so they can be read in one sitting.

``fit`` runs the five steps of every training step (forward, loss, zero_grad,
backward, step) over a data loader for some epochs, with a progress bar, and
returns the history; ``evaluate`` measures loss and accuracy on held-out data.

Options of ``fit``, all off unless asked for: a learning-rate ``scheduler`` stepped
after every batch (``one_cycle`` makes the usual one), mixed precision (``amp``, on
CUDA), gradient clipping (``clip_grad_norm``), and a ``checkpoint`` file written after
every epoch, from which ``resume=True`` continues an interrupted run (a Colab
disconnect) to exactly the same weights as an uninterrupted one on the CPU.
"""

import contextlib
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


class History(list):
    """One dict of figures per epoch ("epoch", "loss", "accuracy", "test_accuracy", ...).

    A plain list (``history[-1]["test_accuracy"]``) that can also plot itself.
    """

    def plot(self, title=None):
        """Loss and accuracy curves, train and held-out (see ``viz.show_history``)."""
        from coursekit import viz

        return viz.show_history(self, title=title)

    def best(self, key: str = "test_accuracy") -> dict:
        """The epoch's row with the highest ``key``."""
        return max(self, key=lambda row: row[key])


def one_cycle(optimizer, max_lr: float, epochs: int, steps_per_epoch: int,
              pct_start: float = 0.25):
    """A one-cycle schedule: the learning rate rises to ``max_lr``, then falls to ~0.

    Step it after every batch (``fit(..., scheduler=...)`` does).
    """
    total = epochs * steps_per_epoch
    if total < 4:
        raise ValueError(f"epochs * steps_per_epoch: expected at least 4 steps for a "
                         f"one-cycle schedule, got {epochs} * {steps_per_epoch} = {total}")
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=max(pct_start, 2 / total),   # at least two steps up, on tiny runs
        anneal_strategy="linear", cycle_momentum=False)


def _autocast(device, amp):
    """bfloat16 (or float16) autocast on CUDA when ``amp``; nothing elsewhere."""
    device = torch.device(device)
    if amp and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def train_one_epoch(model, loader, loss_fn, optimizer, device, progress=None,
                    scheduler=None, clip_grad_norm=None, amp=False, scaler=None) -> dict:
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
        with _autocast(device, amp):
            logits = model(images)               # 1. forward
            loss = loss_fn(logits, labels)       # 2. loss
        optimizer.zero_grad()                    # 3. forget the previous batch's gradients
        if scaler is not None:                   # float16 needs its loss scaled
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()                      # 4. gradients of the loss
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()                     # 5. update the weights
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.item() * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += labels.numel()
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
    return {"loss": total_loss / seen, "accuracy": correct / seen}


@torch.no_grad()
def evaluate(model, loader, device, loss_fn=None, amp=False) -> dict:
    """Accuracy (and mean loss, when ``loss_fn`` is given) of ``model`` over ``loader``."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        with _autocast(device, amp):
            logits = model(images)
        if loss_fn is not None:
            total_loss += loss_fn(logits.float(), labels).item() * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += labels.numel()
    if seen == 0:
        raise ValueError("loader: expected at least one batch, got an empty loader")
    result = {"accuracy": correct / seen}
    if loss_fn is not None:
        result["loss"] = total_loss / seen
    return result


@torch.no_grad()
def predict(model, images, device, batch_size: int = 1000) -> torch.Tensor:
    """Logits for a tensor of images, in batches. images: (N, C, H, W) -> (N, classes) on CPU."""
    model.eval()
    return torch.cat([model(images[i:i + batch_size].to(device)).float().cpu()
                      for i in range(0, len(images), batch_size)])


# ------------------------------------------------------------------------- checkpoints


def _random_state() -> dict:
    """Every random generator's state, in types that ``torch.load(weights_only=True)`` reads."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss)}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_random_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, model, optimizer, history, scheduler=None, scaler=None,
                    loader=None) -> None:
    """Everything needed to continue training after ``len(history)`` epochs, in one file."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "history": [dict(row) for row in history], "random": _random_state()}
    for name, thing in (("scheduler", scheduler), ("scaler", scaler), ("loader", loader)):
        if thing is not None and hasattr(thing, "state_dict"):
            state[name] = thing.state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)  # never a half-written checkpoint


def load_checkpoint(path, model, optimizer, scheduler=None, scaler=None, loader=None,
                    device="cpu") -> History:
    """Restore what ``save_checkpoint`` saved (weights_only: no code runs); the history."""
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for name, thing in (("scheduler", scheduler), ("scaler", scaler), ("loader", loader)):
        if name in state and thing is not None and hasattr(thing, "load_state_dict"):
            thing.load_state_dict(state[name])
    _set_random_state(state["random"])
    return History(state["history"])


# --------------------------------------------------------------------------------- fit


def fit(model: nn.Module, train_loader, optimizer, epochs: int, device,
        loss_fn=None, test_loader=None, *, scheduler=None, amp=False,
        clip_grad_norm=None, checkpoint=None, resume=False, stop_epoch=None,
        log=False) -> History:
    """Train ``model`` for ``epochs`` epochs; returns one dict of figures per epoch.

    ``loss_fn`` defaults to cross-entropy on logits. When ``test_loader`` is given,
    each epoch also reports held-out ``test_loss`` and ``test_accuracy``.

    Options: ``scheduler`` (stepped after every batch), ``amp`` (mixed precision on
    CUDA; ignored elsewhere), ``clip_grad_norm`` (a float), ``checkpoint`` (a file
    written after every epoch) with ``resume`` (continue from it if it exists),
    ``stop_epoch`` (stop after that epoch, as if interrupted), ``log`` (print a line
    per epoch, for the rendered book and plain logs).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected a positive int, got {epochs!r}")
    if resume and checkpoint is None:
        raise ValueError("resume: expected a checkpoint file to resume from, got checkpoint=None")
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    model.to(device)
    amp = amp and torch.device(device).type == "cuda"
    use_scaler = amp and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    history = History()
    if resume and Path(checkpoint).is_file():
        history = load_checkpoint(checkpoint, model, optimizer, scheduler, scaler,
                                  train_loader, device)
    done = len(history)
    last = epochs if stop_epoch is None else min(epochs, stop_epoch)
    with tqdm(total=(last - done) * len(train_loader), desc="training", unit="batch",
              mininterval=2.0) as progress:
        for epoch in range(done + 1, last + 1):
            start = time.perf_counter()
            figures = train_one_epoch(model, train_loader, loss_fn, optimizer, device,
                                      progress, scheduler, clip_grad_norm, amp, scaler)
            row = {"epoch": epoch, "seconds": time.perf_counter() - start, **figures}
            if test_loader is not None:
                held_out = evaluate(model, test_loader, device, loss_fn, amp)
                row["test_loss"], row["test_accuracy"] = held_out["loss"], held_out["accuracy"]
            history.append(row)
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, optimizer, history, scheduler, scaler,
                                train_loader)
            if log:
                progress.write(_epoch_line(row))
    return history


def _epoch_line(row: dict) -> str:
    line = (f"epoch {row['epoch']:>2}  {row['seconds']:5.1f} s  loss {row['loss']:.4f}  "
            f"train acc {row['accuracy']:.2%}")
    if "test_accuracy" in row:
        line += f"  held-out loss {row['test_loss']:.4f}  acc {row['test_accuracy']:.2%}"
    return line
