"""Segmentation losses, one concept per function.

Two modes, named as in segmentation_models_pytorch:

- **multiclass**: every pixel has exactly one of C classes. logits (N, C, H, W) float
  (or (N, C) for one label per image), target (N, H, W) (or (N,)) of class indices in
  0..C-1 or ``ignore_index``, any integer dtype (uint8 masks read from PNG files work).
- **binary**: every pixel is in or out of one class. logits (N, 1, H, W) or (N, H, W)
  float, target of either shape with values 0 or 1 (or ``ignore_index``), any integer,
  bool or float dtype.

Logits are raw scores, before any softmax or sigmoid: each loss applies its own, in the
numerically stable way. Sums over pixels are taken in float32 even for float16 or
bfloat16 logits (under mixed precision), where a sum of 65,536 pixels would overflow.
Pixels whose target is ``ignore_index`` count for nothing, in every loss here; a batch
with no pixel that counts gives a loss of 0 (nothing to learn from), not NaN.
"""

import torch
import torch.nn.functional as F

from coursekit._checks import (
    INTEGER_DTYPES,
    check_choice,
    check_class_indices,
    check_ignore_index,
    check_int,
    check_number,
    check_tensor,
    describe,
)

MODES = ("multiclass", "binary")


def _check_logits(logits, mode):
    check_choice(mode, "mode", MODES)
    if mode == "multiclass":
        check_tensor(logits, "logits", ndim=(2, 3, 4, 5), dims="(N, C, H, W) or (N, C)",
                     kind="float")
        if logits.shape[1] < 2:
            raise ValueError(f"logits: expected C >= 2 class scores in multiclass mode, got "
                             f"{describe(logits)}; for one logit per pixel use mode='binary'")
    else:
        check_tensor(logits, "logits", ndim=(1, 2, 3, 4), dims="(N, 1, H, W) or (N, H, W)",
                     kind="float")


def _nothing_counts(logits):
    """A zero loss that still belongs to the graph (``backward`` works, gradients are 0)."""
    return (logits * 0).sum().float()


def _binary_pair(logits, target, ignore_index=None):
    """logits (N, ...) and target (N, ...) as float, and the mask of pixels that count.

    (N, 1, H, W) and (N, H, W) are the same thing here; any other mismatch is an error.
    """
    check_tensor(target, "target", dims="(N, H, W) or (N, 1, H, W)")
    if logits.dim() >= 2 and logits.shape[1] == 1 and target.dim() == logits.dim() - 1:
        logits = logits[:, 0]
    if target.dim() >= 2 and target.shape[1] == 1 and logits.dim() == target.dim() - 1:
        target = target[:, 0]
    if logits.shape != target.shape:
        raise ValueError(f"target: expected the shape of logits, (N, H, W) or (N, 1, H, W), "
                         f"got logits {tuple(logits.shape)} and target {tuple(target.shape)}")
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(
        target, dtype=torch.bool)
    counted = target[valid]
    if counted.numel() and not ((counted == 0) | (counted == 1)).all():
        also = f" (or {ignore_index}, ignored)" if ignore_index is not None else ""
        raise ValueError(f"target: expected only 0 and 1{also} in binary mode, found "
                         f"{sorted(set(counted.unique().tolist()))[:6]}")
    return logits, target.masked_fill(~valid, 0).to(logits.dtype), valid


def _multiclass_target(logits, target, ignore_index):
    """target as int64 after checking dtype, shape and values; the mask of pixels that count."""
    check_tensor(target, "target", dims="(N, H, W)")
    if target.dtype not in INTEGER_DTYPES:
        hint = ("; for 0/1 masks of one class use mode='binary'"
                if target.is_floating_point() else "")
        raise TypeError(f"target: expected an integer tensor of class indices, "
                        f"got {describe(target)}{hint}")
    expected = (logits.shape[0], *logits.shape[2:])
    if target.shape != expected:
        raise ValueError(f"target: expected (N, H, W) = {expected} for logits "
                         f"{tuple(logits.shape)}, got {tuple(target.shape)}")
    target = target.long()
    valid = check_class_indices(target, "target", logits.shape[1], ignore_index)
    return target, valid


def _check_class_weight(weight, classes):
    if weight is None:
        return None
    check_tensor(weight, "weight", ndim=1, dims=f"({classes},)", kind="float")
    if len(weight) != classes or (weight < 0).any() or not torch.isfinite(weight).all():
        raise ValueError(f"weight: expected {classes} finite weights >= 0, one per class, "
                         f"got {describe(weight)}")
    return weight


def cross_entropy(logits, target, weight=None, ignore_index: int | None = None):
    """Per-pixel cross-entropy, averaged over the pixels that count (multiclass mode).

    logits: (N, C, H, W) or (N, C) float; target: (N, H, W) or (N,) class indices;
    weight: (C,) float or None, a weight per class (the mean is then weighted, as in
    ``F.cross_entropy``); pixels whose target is ``ignore_index`` (e.g. 255,
    "unlabelled") count for nothing. The same number as ``F.cross_entropy``, with clear
    errors, any integer target dtype, and 0 rather than NaN when no pixel counts.
    """
    _check_logits(logits, "multiclass")
    ignore_index = check_ignore_index(ignore_index)
    target, valid = _multiclass_target(logits, target, ignore_index)
    weight = _check_class_weight(weight, logits.shape[1])
    if not valid.any():
        return _nothing_counts(logits)
    weight = None if weight is None else weight.float()
    return F.cross_entropy(logits.float(), target, weight=weight,      # sums in float32
                           ignore_index=-100 if ignore_index is None else ignore_index)


def binary_cross_entropy(logits, target, pos_weight=None, ignore_index: int | None = None):
    """Binary cross-entropy on logits (binary mode), averaged over the pixels that count.

    -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], computed from the logit z in
    the stable form ``max(z, 0) - z y + log(1 + exp(-|z|))`` (``BCEWithLogitsLoss``).
    logits: (N, 1, H, W) or (N, H, W) float; target: either shape, 0 or 1 (or
    ``ignore_index``); pos_weight: a number > 0 that weighs the pixels of class 1
    (e.g. background pixels / foreground pixels, for a rare foreground).
    """
    _check_logits(logits, "binary")
    ignore_index = check_ignore_index(ignore_index)
    logits, target, valid = _binary_pair(logits, target, ignore_index)
    if pos_weight is not None:
        if isinstance(pos_weight, torch.Tensor) and pos_weight.numel() == 1:
            pos_weight = pos_weight.item()
        pos_weight = torch.tensor(check_number(pos_weight, "pos_weight", low=0, low_open=True),
                                  device=logits.device)
    if not valid.any():
        return _nothing_counts(logits)
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target.float(),
                                                   pos_weight=pos_weight, reduction="none")
    return per_pixel[valid].mean()


def soft_dice_loss(logits, target, mode: str = "multiclass", smooth: float = 1.0,
                   ignore_index: int | None = None):
    """1 - soft Dice, averaged over the classes present in the batch.

    Dice = (2 * sum(p * y) + smooth) / (sum(p) + sum(y) + smooth), with p the predicted
    probability (softmax in multiclass mode, sigmoid in binary mode) and y the one-hot
    target, summed over every pixel of the batch that counts, for each class. It scores
    overlap, so a rare class counts as much as a common one. multiclass: logits
    (N, C, H, W), target (N, H, W) class indices; binary: logits (N, 1, H, W) or
    (N, H, W), target 0/1 of either shape. The sums are taken in float32.
    """
    _check_logits(logits, mode)
    smooth = check_number(smooth, "smooth", low=0)
    ignore_index = check_ignore_index(ignore_index)
    if mode == "binary":
        logits, target, valid = _binary_pair(logits, target, ignore_index)
        probabilities = torch.sigmoid(logits.float())[:, None]     # (N, 1, ...)
        onehot, valid = target.float()[:, None], valid[:, None]
    else:
        target, valid = _multiclass_target(logits, target, ignore_index)
        probabilities = logits.float().softmax(dim=1)                 # (N, C, ...)
        onehot = F.one_hot(target.masked_fill(~valid, 0), logits.shape[1])
        onehot = onehot.movedim(-1, 1).float()                        # (N, C, ...)
        valid = valid[:, None]                                        # (N, 1, ...)
    if not valid.any():
        return _nothing_counts(logits)
    valid = valid.float()
    dims = [0] + list(range(2, probabilities.dim()))
    intersection = (probabilities * onehot * valid).sum(dims)         # (C,)
    total = (probabilities * valid).sum(dims) + (onehot * valid).sum(dims)
    dice = (2 * intersection + smooth) / (total + smooth).clamp(min=1e-12)
    present = (onehot * valid).sum(dims) > 0
    if mode == "multiclass" and present.any():
        return 1 - dice[present].mean()
    return 1 - dice.mean()


def cross_entropy_dice(logits, target, dice_weight: float = 1.0, weight=None,
                       ignore_index: int | None = None, smooth: float = 1.0):
    """Cross-entropy plus ``dice_weight`` times the soft Dice loss (multiclass mode).

    Cross-entropy gets every pixel right on average; Dice pulls the rare classes up.
    ``weight`` goes to the cross-entropy, ``smooth`` to the Dice, ``ignore_index`` to both.
    """
    dice_weight = check_number(dice_weight, "dice_weight", low=0)
    return (cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)
            + dice_weight * soft_dice_loss(logits, target, smooth=smooth,
                                           ignore_index=ignore_index))


def class_prior_bias(target, num_classes: int, ignore_index: int | None = None):
    """(num_classes,) float: the log of each class's share of the pixels in ``target``.

    Put it in the bias of a network's last layer before training: the network then
    starts out predicting the class frequencies (mostly background) instead of spending
    its first hundreds of steps learning them, and rare classes start learning at once.
    target: (N, H, W) class indices, any integer dtype (a sample of the training labels is
    enough); pixels equal to ``ignore_index`` are not counted; any other value outside
    0..num_classes-1 is an error.
    """
    num_classes = check_int(num_classes, "num_classes", low=2)
    ignore_index = check_ignore_index(ignore_index)
    check_tensor(target, "target", dims="(N, H, W)")
    if target.dtype not in INTEGER_DTYPES + (torch.bool,):
        raise TypeError(f"target: expected an integer tensor of class indices, "
                        f"got {describe(target)}")
    target = target.long()
    valid = check_class_indices(target, "target", num_classes, ignore_index)
    counts = torch.bincount(target[valid].flatten(), minlength=num_classes).double()
    share = (counts + 1) / (counts.sum() + num_classes)   # +1: no log(0) for an absent class
    return share.log().float()
