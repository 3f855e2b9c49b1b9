"""Segmentation losses, one concept per function.

Two modes, named as in segmentation_models_pytorch:

- **multiclass**: every pixel has exactly one of C classes. logits (N, C, H, W) float,
  target (N, H, W) int64 with values in 0..C-1 (or ``ignore_index``).
- **binary**: every pixel is in or out of one class. logits (N, 1, H, W) or (N, H, W)
  float, target of the same shape (or (N, H, W)) with values 0 or 1.

Logits are raw scores, before any softmax or sigmoid: each loss applies its own, in the
numerically stable way.
"""

import torch
import torch.nn.functional as F

MODES = ("multiclass", "binary")


def _check_logits(logits, mode):
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        kind = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"logits: expected a float tensor of raw scores, got {kind}")
    if mode == "multiclass" and logits.dim() != 4:
        raise ValueError(f"logits: expected (N, C, H, W) in multiclass mode, "
                         f"got shape {tuple(logits.shape)}")


def _binary_pair(logits, target):
    """logits and target as (N, H, W) float, or a clear error."""
    if logits.dim() == 4 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if target.dim() == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if logits.dim() != 3 or logits.shape != target.shape:
        raise ValueError(f"target: expected the shape of logits, (N, H, W) or (N, 1, H, W), "
                         f"got logits {tuple(logits.shape)} and target {tuple(target.shape)}")
    if target.numel() and not ((target == 0) | (target == 1)).all():
        raise ValueError("target: expected only 0 and 1 in binary mode")
    return logits, target.to(logits.dtype)


def _multiclass_target(logits, target, ignore_index):
    if not isinstance(target, torch.Tensor) or target.dtype != torch.int64:
        kind = target.dtype if isinstance(target, torch.Tensor) else type(target).__name__
        raise TypeError(f"target: expected an int64 tensor of class indices, got {kind}")
    if target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"target: expected (N, H, W) = {(logits.shape[0], *logits.shape[2:])} "
                         f"for logits {tuple(logits.shape)}, got {tuple(target.shape)}")
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(
        target, dtype=torch.bool)
    if valid.any() and (target[valid].min() < 0 or target[valid].max() >= logits.shape[1]):
        raise ValueError(f"target: expected class indices in 0..{logits.shape[1] - 1}"
                         + (f" or {ignore_index}" if ignore_index is not None else "")
                         + f", found {int(target[valid].min())}..{int(target[valid].max())}")
    return valid


def cross_entropy(logits, target, weight=None, ignore_index: int | None = None):
    """Per-pixel cross-entropy, averaged over the pixels that count (multiclass mode).

    logits: (N, C, H, W) float; target: (N, H, W) int64; weight: (C,) float or None, a
    weight per class; pixels whose target is ``ignore_index`` (e.g. 255, "unlabelled")
    count for nothing. The same number as ``F.cross_entropy``, with clear errors.
    """
    _check_logits(logits, "multiclass")
    _multiclass_target(logits, target, ignore_index)
    return F.cross_entropy(logits, target, weight=weight,
                           ignore_index=-100 if ignore_index is None else ignore_index)


def binary_cross_entropy(logits, target, pos_weight=None):
    """Binary cross-entropy on logits (binary mode), averaged over the pixels.

    -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], computed from the logit z in
    the stable form ``max(z, 0) - z y + log(1 + exp(-|z|))`` (``BCEWithLogitsLoss``).
    logits: (N, 1, H, W) or (N, H, W) float; target: the same shape, 0 or 1.
    """
    _check_logits(logits, "binary")
    logits, target = _binary_pair(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


def soft_dice_loss(logits, target, mode: str = "multiclass", smooth: float = 1.0,
                   ignore_index: int | None = None):
    """1 - soft Dice, averaged over the classes present in the batch.

    Dice = (2 * sum(p * y) + smooth) / (sum(p) + sum(y) + smooth), with p the predicted
    probability (softmax in multiclass mode, sigmoid in binary mode) and y the one-hot
    target, summed over every pixel of the batch, for each class. It scores overlap, so
    a rare class counts as much as a common one. multiclass: logits (N, C, H, W), target
    (N, H, W) int64; binary: logits (N, 1, H, W) or (N, H, W), target 0/1 of that shape.
    """
    _check_logits(logits, mode)
    if mode == "binary":
        logits, target = _binary_pair(logits, target)
        probabilities, onehot = torch.sigmoid(logits)[:, None], target[:, None]
        valid = torch.ones_like(onehot)
    else:
        valid = _multiclass_target(logits, target, ignore_index)
        probabilities = logits.softmax(dim=1)                         # (N, C, H, W)
        onehot = F.one_hot(target.clamp(0, logits.shape[1] - 1).masked_fill(~valid, 0),
                           logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
        valid = valid[:, None].to(logits.dtype)                       # (N, 1, H, W)
    dims = (0, 2, 3)
    intersection = (probabilities * onehot * valid).sum(dims)         # (C,)
    total = (probabilities * valid).sum(dims) + (onehot * valid).sum(dims)
    dice = (2 * intersection + smooth) / (total + smooth)
    present = (onehot * valid).sum(dims) > 0
    if mode == "multiclass" and present.any():
        return 1 - dice[present].mean()
    return 1 - dice.mean()


def cross_entropy_dice(logits, target, dice_weight: float = 1.0):
    """Cross-entropy plus ``dice_weight`` times the soft Dice loss (multiclass mode).

    Cross-entropy gets every pixel right on average; Dice pulls the rare classes up.
    """
    return cross_entropy(logits, target) + dice_weight * soft_dice_loss(logits, target)


def class_prior_bias(target, num_classes: int, ignore_index: int | None = None):
    """(num_classes,) float: the log of each class's share of the pixels in ``target``.

    Put it in the bias of a network's last layer before training: the network then
    starts out predicting the class frequencies (mostly background) instead of spending
    its first hundreds of steps learning them, and rare classes start learning at once.
    target: (N, H, W) int64 (a sample of the training labels is enough).
    """
    labels = target[target != ignore_index] if ignore_index is not None else target
    counts = torch.bincount(labels.flatten(), minlength=num_classes).double()
    share = (counts + 1) / (counts.sum() + num_classes)   # +1: no log(0) for an absent class
    return share.log().float()
