"""Training and evaluation loops, written out so they can be read in one sitting.

``fit`` runs the five steps of every training step (forward, loss, zero_grad,
backward, step) over a data loader for some epochs, with a progress bar, and
returns the history; ``evaluate`` measures loss and accuracy on held-out data.

Options of ``fit``, all off unless asked for: a learning-rate ``scheduler`` stepped
after every batch (``one_cycle`` makes the usual one), mixed precision (``amp``:
bfloat16 on a CPU or a GPU that has it, float16 on older GPUs: ``amp_dtype``), gradient clipping
(``clip_grad_norm``), and a ``checkpoint`` file written after
every epoch, from which ``resume=True`` continues an interrupted run (a Colab
disconnect) to exactly the same weights as an uninterrupted one on the CPU.
"""

import contextlib
import random
import time

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from coursekit._checks import (
    check_bool,
    check_class_indices,
    check_device,
    check_ignore_index,
    check_int,
    check_loader,
    check_module,
    check_number,
    check_optional_int,
    check_path,
    check_tensor,
    describe,
)
from coursekit.metrics import ConfusionMatrix, accuracy, predicted_classes


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
        if not self:
            raise ValueError("history: expected at least one epoch, got an empty history")
        if not all(key in row for row in self):
            raise ValueError(f"key: expected one of {sorted(self[0])}, got {key!r}")
        return max(self, key=lambda row: row[key])


def one_cycle(optimizer, max_lr: float, epochs: int, steps_per_epoch: int,
              pct_start: float = 0.25):
    """A one-cycle schedule: the learning rate rises to ``max_lr``, then falls to ~0.

    Step it after every batch (``fit(..., scheduler=...)`` does).
    """
    _check_optimizer(optimizer)
    max_lr = check_number(max_lr, "max_lr", low=0, low_open=True)
    epochs = check_int(epochs, "epochs", low=1)
    steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch", low=1)
    pct_start = check_number(pct_start, "pct_start", low=0, high=1, low_open=True, high_open=True)
    total = epochs * steps_per_epoch
    if total < 4:
        raise ValueError(f"epochs * steps_per_epoch: expected at least 4 steps for a "
                         f"one-cycle schedule, got {epochs} * {steps_per_epoch} = {total}")
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=max(pct_start, 2 / total),   # at least two steps up, on tiny runs
        anneal_strategy="linear", cycle_momentum=False)


def amp_dtype(device) -> torch.dtype | None:
    """The half-precision dtype of mixed precision (``amp=True``) on ``device``.

    bfloat16 on a CPU and on CUDA GPUs that compute it in hardware (Ampere, 2020, and
    later); float16 on older GPUs, such as Colab's T4, where bfloat16 would only be
    emulated (``torch.cuda.is_bf16_supported()`` says True there unless asked
    ``including_emulation=False``), with a gradient scaler in ``fit``; None on other
    devices (no mixed precision). device: a torch.device or its name, e.g. "cuda:0"."""
    device = check_device(device)
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native else torch.float16
    if device.type == "cpu":
        return torch.bfloat16
    return None


def fast_bf16_cpu() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX), with which
    bfloat16 autocast speeds training up; elsewhere a CPU emulates it, more slowly than
    float32. False when this PyTorch cannot tell."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def _autocast(device, amp):
    """Mixed precision when ``amp``: autocast to ``amp_dtype(device)``; nothing on other
    devices or without ``amp``."""
    device = torch.device(device)
    dtype = amp_dtype(device) if amp else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _classes_of(logits, labels, ignore_index: int | None):
    """(prediction, labels): the classes the logits predict and the labels as class
    indices of the same shape, (N,) or (N, H, W) int64; ignored labels stay ignore_index.

    logits: (N, C) or (N, C, H, W) float, labels: (N,) or (N, H, W) class indices
    (multiclass; the prediction is the argmax). A binary model gives one logit per image
    or pixel, (N, 1) or (N, 1, H, W), and predicts class 1 where it is above 0; its
    labels are (N, ...) or (N, 1, ...), 0 or 1 (float labels too, as for
    ``BCEWithLogitsLoss``, read as 1 above 0.5). Class probabilities as labels
    ((N, C, ...) float) count by their argmax.
    """
    prediction = predicted_classes(logits)
    check_tensor(labels, "labels", dims="(N,) or (N, H, W)")
    binary = logits.shape[1] == 1
    if labels.dim() == logits.dim() and labels.shape[1] == logits.shape[1]:
        if binary:
            labels = labels[:, 0]                 # (N, 1, H, W) masks of a binary model
        elif labels.is_floating_point():
            labels = labels.argmax(dim=1)         # class probabilities (soft labels)
    if labels.shape != prediction.shape:
        raise ValueError(f"labels: expected shape {tuple(prediction.shape)} for logits "
                         f"{tuple(logits.shape)}, got {describe(labels)}")
    if labels.is_floating_point():
        classes = (labels > 0.5).long() if binary else labels.round().long()
        if ignore_index is not None:              # keep ignored labels recognisable
            classes = torch.where(labels == ignore_index, ignore_index, classes)
        labels = classes
    check_class_indices(labels, "labels", _num_classes(logits), ignore_index)
    return prediction, labels


def _num_classes(logits) -> int:
    """C for multiclass logits (N, C, ...); 2 for a binary model's (N, 1, ...)."""
    return max(logits.shape[1], 2)


def count_correct(logits, labels, ignore_index: int | None = None) -> tuple[int, int]:
    """(right, counted): how many labels the logits get right, out of those that count.

    logits: (N, C) or (N, C, H, W) float, labels: (N,) or (N, H, W) class indices
    (multiclass; the prediction is the argmax). A binary model gives one logit per image
    or pixel, (N, 1) or (N, 1, H, W), and predicts class 1 where it is above 0; its
    labels are (N, ...) or (N, 1, ...), 0 or 1 (float labels too, as for
    ``BCEWithLogitsLoss``). Labels equal to ``ignore_index`` count neither as right
    nor as wrong. Class probabilities as labels ((N, C, ...) float) count by their argmax.
    Read off the batch's confusion matrix: right = its trace, counted = its total.
    """
    ignore_index = check_ignore_index(ignore_index)
    prediction, labels = _classes_of(logits, labels, ignore_index)
    counts = ConfusionMatrix(_num_classes(logits), ignore_index).update(prediction, labels)
    return int(counts.diag().sum()), int(counts.sum())


def _loss_ignore_index(loss_fn) -> int | None:
    """The label a loss ignores, when it says: ``nn.CrossEntropyLoss(ignore_index=...)`` or
    ``functools.partial(losses.cross_entropy, ignore_index=...)``."""
    keywords = getattr(loss_fn, "keywords", None)
    if isinstance(keywords, dict) and keywords.get("ignore_index") is not None:
        return keywords["ignore_index"]
    value = getattr(loss_fn, "ignore_index", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_loss(loss, batch: int, epoch: int | None) -> float:
    """The loss as a float, or a clear error when it is NaN or infinite (before it spoils
    the weights)."""
    value = loss.item()
    if not np.isfinite(value):
        where = f"epoch {epoch}, batch {batch}" if epoch is not None else f"batch {batch}"
        raise FloatingPointError(
            f"loss: became {value} at {where}; the learning rate is probably too high "
            "for this model, or the data holds NaN or infinite values")
    return value


def _check_optimizer(optimizer):
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, e.g. "
                        f"torch.optim.SGD(model.parameters(), lr=0.1), got {describe(optimizer)}")
    return optimizer


def _check_loss_fn(loss_fn):
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a function (logits, labels) -> loss, "
                        f"got {describe(loss_fn)}")
    return loss_fn


def _check_clip(clip_grad_norm):
    """None, or a number > 0 (0 would scale every gradient to 0: training frozen)."""
    if clip_grad_norm is None:
        return None
    return check_number(clip_grad_norm, "clip_grad_norm", low=0, low_open=True)


def _check_not_empty(loader, name: str):
    """A loader that knows its length must have at least one batch."""
    check_loader(loader, name)
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError(f"{name}: expected at least one batch, got an empty loader")
    return loader


def _unpack(batch, device):
    """A batch on ``device``: (images, labels, extra), extra () for the usual (images,
    labels) and (pixel_weight,) for (images, labels, pixel_weight), which the loss is given
    as ``loss_fn(logits, labels, pixel_weight)`` (``losses.weighted_cross_entropy``)."""
    if not isinstance(batch, tuple | list) or len(batch) not in (2, 3):
        raise ValueError(f"loader: expected batches of (images, labels) or (images, labels, "
                         f"pixel_weight), got {describe(batch)}")
    return tuple(part.to(device) for part in batch[:2]) + (
        tuple(part.to(device) for part in batch[2:]),)


def train_one_epoch(model, loader, loss_fn, optimizer, device, progress=None,
                    scheduler=None, clip_grad_norm=None, amp=False, scaler=None,
                    ignore_index: int | None = None, epoch: int | None = None) -> dict:
    """One pass over ``loader``; returns the mean loss and accuracy seen while training.

    Each batch: ``images: (N, C, H, W) float`` and ``labels: (N,) int64`` (classification,
    ``model(images)`` gives ``logits: (N, num_classes)``) or ``labels: (N, H, W) int64``
    (segmentation, ``logits: (N, num_classes, H, W)``); a binary model gives one logit
    (see ``count_correct``). Accuracy counts every label but those equal to
    ``ignore_index`` (by default the one ``loss_fn`` ignores, if it says): per image for
    classification, per pixel for segmentation. The loss is averaged over batches
    weighted by the labels that count in each. A batch may carry a third part,
    ``pixel_weight: (N, H, W) float`` (``membranes.MembraneCrops(..., pixel_weights=...)``),
    which goes to the loss: ``loss_fn(logits, labels, pixel_weight)``. ``epoch`` only
    names the epoch in errors.
    """
    check_module(model, "model")
    _check_loss_fn(loss_fn)
    _check_optimizer(optimizer)
    device = check_device(device)
    clip_grad_norm = _check_clip(clip_grad_norm)
    amp = check_bool(amp, "amp")
    _check_not_empty(loader, "loader")
    ignore_index = (check_ignore_index(ignore_index) if ignore_index is not None
                    else _loss_ignore_index(loss_fn))
    model.train()
    total_loss, seen = 0.0, 0
    confusion = None          # a ConfusionMatrix, once the first logits say how many classes
    for batch, parts in enumerate(loader):
        images, labels, extra = _unpack(parts, device)
        with _autocast(device, amp):
            logits = model(images)               # 1. forward
            loss = loss_fn(logits, labels, *extra)   # 2. loss
        loss_value = _check_loss(loss, batch, epoch)
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
        prediction, classes = _classes_of(logits.detach(), labels, ignore_index)
        if confusion is None:
            confusion = ConfusionMatrix(_num_classes(logits), ignore_index)
        counted = int(confusion.update(prediction, classes).sum())   # this batch's labels
        total_loss += loss_value * counted
        seen += counted
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{total_loss / max(seen, 1):.4f}", refresh=False)
    if seen == 0:
        raise ValueError("loader: expected at least one batch with a label that counts, "
                         "got an empty loader (or every label ignored)")
    return {"loss": total_loss / seen, "accuracy": accuracy(confusion.compute())}


@torch.no_grad()
def evaluate(model, loader, device, loss_fn=None, amp=False,
             ignore_index: int | None = None) -> dict:
    """Accuracy (and mean loss, when ``loss_fn`` is given) of ``model`` over ``loader``.

    Batches as for ``train_one_epoch``. Labels equal to ``ignore_index`` (by default the
    one ``loss_fn`` ignores, if it says) are not counted. An empty loader is an error.
    """
    check_module(model, "model")
    check_loader(loader, "loader")
    device = check_device(device)
    if loss_fn is not None:
        _check_loss_fn(loss_fn)
    amp = check_bool(amp, "amp")
    ignore_index = (check_ignore_index(ignore_index) if ignore_index is not None
                    else _loss_ignore_index(loss_fn))
    model.eval()
    total_loss, seen, batches = 0.0, 0, 0
    confusion = None          # a ConfusionMatrix, once the first logits say how many classes
    for parts in loader:
        images, labels, extra = _unpack(parts, device)
        with _autocast(device, amp):
            logits = model(images)
        prediction, classes = _classes_of(logits, labels, ignore_index)
        if confusion is None:
            confusion = ConfusionMatrix(_num_classes(logits), ignore_index)
        counted = int(confusion.update(prediction, classes).sum())   # this batch's labels
        if loss_fn is not None and counted:
            total_loss += loss_fn(logits.float(), labels, *extra).item() * counted
        seen += counted
        batches += 1
    if batches == 0:
        raise ValueError("loader: expected at least one batch, got an empty loader")
    if seen == 0:
        raise ValueError(f"loader: every label is ignore_index={ignore_index}: "
                         "there is nothing to measure")
    result = {"accuracy": accuracy(confusion.compute())}
    if loss_fn is not None:
        result["loss"] = total_loss / seen
    return result


@torch.no_grad()
def predict(model, images, device, batch_size: int = 1000) -> torch.Tensor:
    """Logits for a tensor of images, in batches. images: (N, C, H, W) (or (N, features))
    -> (N, classes) float32 on the CPU (also for a float16 model). One image without its
    batch dimension, (C, H, W), is an error: take ``images[None]``.
    """
    check_module(model, "model")
    device = check_device(device)
    check_tensor(images, "images", ndim=(2, 4), dims="(N, C, H, W)", kind="float")
    batch_size = check_int(batch_size, "batch_size", low=1)
    model.eval()
    if len(images) == 0:
        raise ValueError("images: expected at least one image, got an empty tensor")
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
    """Everything needed to continue training after ``len(history)`` epochs, in one file.

    history: a list of per-epoch dicts (what ``fit`` returns). The file is written whole
    or not at all.
    """
    path = check_path(path, "path")
    check_module(model, "model")
    _check_optimizer(optimizer)
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise TypeError(f"history: expected a list of per-epoch dicts, got {describe(history)}")
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "history": [dict(row) for row in history], "random": _random_state()}
    for name, thing in (("scheduler", scheduler), ("scaler", scaler), ("loader", loader)):
        if thing is not None and hasattr(thing, "state_dict"):
            state[name] = thing.state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)  # never a half-written checkpoint


def load_checkpoint(path, model, optimizer, scheduler=None, scaler=None, loader=None,
                    device="cpu") -> History:
    """Restore what ``save_checkpoint`` saved (weights_only: no code runs); the history.

    A missing file, or weights of another architecture, is a clear error.
    """
    path = check_path(path, "path")
    check_module(model, "model")
    _check_optimizer(optimizer)
    if not path.is_file():
        raise FileNotFoundError(f"path: no checkpoint file at {path}")
    state = torch.load(path, map_location=check_device(device), weights_only=True)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"model: the checkpoint's weights do not fit this model "
                         f"({str(error).splitlines()[0]}): is it the same architecture?") from None
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
        log=False, ignore_index: int | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs; returns one dict of figures per epoch.

    ``loss_fn`` defaults to cross-entropy on logits. When ``test_loader`` is given,
    each epoch also reports held-out ``test_loss`` and ``test_accuracy``.

    Options: ``scheduler`` (stepped after every batch), ``amp`` (mixed precision:
    bfloat16 on a CPU, which is faster only where the CPU has bfloat16 instructions
    (AVX512-BF16 or AMX; see chapter 8), and on recent GPUs; float16 on older GPUs),
    ``clip_grad_norm`` (a float), ``checkpoint`` (a file
    written after every epoch) with ``resume`` (continue from it if it exists),
    ``stop_epoch`` (stop after that epoch, as if interrupted), ``log`` (print a line
    per epoch, for the rendered book and plain logs). ``ignore_index``: labels that
    accuracy does not count (by default the one ``loss_fn`` ignores, if it says, e.g.
    ``nn.CrossEntropyLoss(ignore_index=255)``), so accuracy and loss agree on what counts.
    A loss that becomes NaN or infinite stops training with a ``FloatingPointError``.
    """
    check_module(model, "model")
    _check_optimizer(optimizer)
    device = check_device(device)
    epochs = check_int(epochs, "epochs", low=1)
    clip_grad_norm = _check_clip(clip_grad_norm)
    _check_not_empty(train_loader, "train_loader")
    if test_loader is not None:
        _check_not_empty(test_loader, "test_loader")
    if checkpoint is not None:
        checkpoint = check_path(checkpoint, "checkpoint")
    amp, resume, log = check_bool(amp, "amp"), check_bool(resume, "resume"), check_bool(log, "log")
    stop_epoch = check_optional_int(stop_epoch, "stop_epoch", low=1)
    if resume and checkpoint is None:
        raise ValueError("resume: expected a checkpoint file to resume from, got checkpoint=None")
    if loss_fn is not None:
        _check_loss_fn(loss_fn)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    ignore_index = (check_ignore_index(ignore_index) if ignore_index is not None
                    else _loss_ignore_index(loss_fn))
    model.to(device)
    on_cuda = torch.device(device).type == "cuda"
    use_scaler = amp and on_cuda and amp_dtype(device) == torch.float16
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    history = History()
    if resume and checkpoint.is_file():
        history = load_checkpoint(checkpoint, model, optimizer, scheduler, scaler,
                                  train_loader, device)
    done = len(history)
    last = epochs if stop_epoch is None else min(epochs, stop_epoch)
    with tqdm(total=(last - done) * len(train_loader), desc="training", unit="batch",
              mininterval=2.0) as progress:
        for epoch in range(done + 1, last + 1):
            start = time.perf_counter()
            figures = train_one_epoch(model, train_loader, loss_fn, optimizer, device,
                                      progress, scheduler, clip_grad_norm, amp, scaler,
                                      ignore_index, epoch)
            row = {"epoch": epoch, "seconds": time.perf_counter() - start, **figures}
            if test_loader is not None:
                held_out = evaluate(model, test_loader, device, loss_fn, amp, ignore_index)
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
