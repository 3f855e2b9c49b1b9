"""Segmentation losses, one concept per function.

Three modes, named as in segmentation_models_pytorch (smp):

- **multiclass**: every pixel has exactly one of C classes; the probabilities are a
  softmax over the C logits. logits (N, C, H, W) float (or (N, C) for one label per
  image), target (N, H, W) (or (N,)) of class indices in 0..C-1 or ``ignore_index``, any
  integer dtype or bool (uint8 masks read from PNG files work).
- **binary**: every pixel is in or out of one class; the probability is the sigmoid of
  one logit. logits (N, 1, H, W) or (N, H, W) float, target of either shape with values
  0 or 1 (or ``ignore_index``), any integer, bool or float dtype.
- **multilabel**: C binary questions per pixel ("is it a cell?", "is it a membrane?"),
  which may all be yes or all be no; one sigmoid per class. logits (N, C, H, W) float,
  target (N, C, H, W) of 0 or 1 per class (or ``ignore_index``).

Logits are raw scores, before any softmax or sigmoid: each loss applies its own, in the
numerically stable way. Sums over pixels are taken in float32 even for float16 or
bfloat16 logits (under mixed precision), where a sum of 65,536 pixels would overflow;
float64 logits stay float64. Pixels whose target is ``ignore_index`` count for nothing,
in every loss here; a batch with no pixel that counts gives a loss of 0 (nothing to
learn from), not NaN. NaN logits give a NaN loss, as in torch.

The losses: ``cross_entropy`` and ``binary_cross_entropy`` (per pixel, averaged),
``weighted_cross_entropy`` (cross-entropy with a weight per pixel, such as the U-Net
paper's weight map, ``membranes.weight_map``),
``focal_loss`` (cross-entropy that looks away from the pixels already right),
``soft_dice_loss``, ``soft_jaccard_loss`` and ``tversky_loss`` (one overlap score per
class, from soft counts of true positives, false positives and false negatives), and
``WeightedSum`` to add several of them (``cross_entropy_dice`` is one such sum).
"""

import functools

import torch
import torch.nn.functional as F

from coursekit._checks import (
    INTEGER_DTYPES,
    check_choice,
    check_class_indices,
    check_ignore_index,
    check_int,
    check_number,
    check_same_shape,
    check_tensor,
    check_weights,
    describe,
)

MODES = ("binary", "multiclass", "multilabel")

# ============================================================ checks shared by the losses


def _check_mode(mode, allowed=MODES):
    return check_choice(mode, "mode", allowed)


def _check_logits(logits, mode):
    """logits as given, after checking dtype and layout for ``mode``."""
    if mode == "binary":
        check_tensor(logits, "logits", ndim=(1, 2, 3, 4), dims="(N, 1, H, W) or (N, H, W)",
                     kind="float")
        if logits.dim() == 4 and logits.shape[1] != 1:
            raise ValueError(f"logits: expected (N, 1, H, W) or (N, H, W) in binary mode, got "
                             f"{describe(logits)}; for C classes use mode='multiclass' (one "
                             f"class per pixel) or 'multilabel' (C yes/no questions per pixel)")
        return logits
    dims = "(N, C, H, W) or (N, C)"
    check_tensor(logits, "logits", ndim=(2, 3, 4, 5), dims=dims, kind="float")
    if mode == "multiclass" and logits.shape[1] < 2:
        raise ValueError(f"logits: expected C >= 2 class scores in multiclass mode, got "
                         f"{describe(logits)}; for one logit per pixel use mode='binary'")
    return logits


def _at_least_float32(logits):
    """float16 and bfloat16 logits as float32 (sums of many pixels overflow float16);
    float32 and float64 as they are (float64 for ``torch.autograd.gradcheck``)."""
    return logits if logits.dtype == torch.float64 else logits.float()


def _nothing_counts(logits):
    """A zero loss that still belongs to the graph (``backward`` works, gradients are 0)."""
    return (_at_least_float32(logits) * 0).sum()


def _check_zero_one(target, valid, ignore_index):
    counted = target[valid]
    if counted.numel() and not ((counted == 0) | (counted == 1)).all():
        also = f" (or {ignore_index}, ignored)" if ignore_index is not None else ""
        raise ValueError(f"target: expected only 0 and 1{also}, found "
                         f"{sorted(set(counted.unique().tolist()))[:6]}")


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
    _check_zero_one(target, valid, ignore_index)
    return logits, target.masked_fill(~valid, 0).to(logits.dtype), valid


def _multilabel_target(logits, target, ignore_index):
    """target (N, C, H, W) as the dtype of logits, and the mask of entries that count."""
    check_tensor(target, "target", dims="(N, C, H, W)")
    if target.shape != logits.shape:
        raise ValueError(f"target: expected the shape of logits {tuple(logits.shape)} in "
                         f"multilabel mode (0 or 1 per class), got {describe(target)}")
    valid = target != ignore_index if ignore_index is not None else torch.ones_like(
        target, dtype=torch.bool)
    _check_zero_one(target, valid, ignore_index)
    return target.masked_fill(~valid, 0).to(logits.dtype), valid


def _multiclass_target(logits, target, ignore_index):
    """target as int64 after checking dtype, shape and values; the mask of pixels that count."""
    check_tensor(target, "target", dims="(N, H, W)")
    if target.dtype not in INTEGER_DTYPES + (torch.bool,):
        hint = ("; for 0/1 masks of one class use mode='binary'"
                if target.is_floating_point() else "")
        raise TypeError(f"target: expected an integer tensor of class indices, "
                        f"got {describe(target)}{hint}")
    if logits.dim() != 4 and target.dim() == 3:      # the usual target: the logits are wrong
        raise ValueError(f"logits: expected (N, C, H, W) for a target (N, H, W) of shape "
                         f"{tuple(target.shape)}, got {describe(logits)}")
    expected = (logits.shape[0], *logits.shape[2:])
    if target.shape != expected:
        raise ValueError(f"target: expected (N, H, W) = {expected} for logits "
                         f"{tuple(logits.shape)}, got {tuple(target.shape)}")
    target = target.long()
    valid = check_class_indices(target, "target", logits.shape[1], ignore_index)
    return target, valid


def _check_class_weight(weight, classes, name="weight"):
    """None, or a (classes,) float tensor of finite weights >= 0."""
    if weight is None:
        return None
    check_tensor(weight, name, ndim=1, dims=f"({classes},)", kind="float")
    if len(weight) != classes or (weight < 0).any() or not torch.isfinite(weight).all():
        raise ValueError(f"{name}: expected {classes} finite weights >= 0, one per class, "
                         f"got {describe(weight)}")
    return weight


# ============================================================ per-pixel losses


def cross_entropy(logits, target, weight=None, ignore_index: int | None = None,
                  label_smoothing: float = 0.0):
    """Per-pixel cross-entropy, averaged over the pixels that count (multiclass mode).

    -log p_y, with p = softmax(logits) and y the true class of the pixel.
    logits: (N, C, H, W) or (N, C) float; target: (N, H, W) or (N,) class indices;
    weight: (C,) float or None, a weight per class (the mean is then weighted, sum of
    w_y * loss / sum of w_y, as in ``F.cross_entropy``); pixels whose target is
    ``ignore_index`` (e.g. 255, "unlabelled") count for nothing; label_smoothing in
    [0, 1]: the target becomes (1 - label_smoothing) on the true class plus
    label_smoothing / C on every class, as ``F.cross_entropy`` defines it (so the network
    is not pushed to ever larger logits). The same number as ``F.cross_entropy``, with
    clear errors, any integer target dtype, the mean taken in float32, and 0 rather than
    NaN when no pixel counts (or every pixel that counts has weight 0).
    """
    _check_logits(logits, "multiclass")
    ignore_index = check_ignore_index(ignore_index)
    label_smoothing = check_number(label_smoothing, "label_smoothing", low=0, high=1)
    target, valid = _multiclass_target(logits, target, ignore_index)
    weight = _check_class_weight(weight, logits.shape[1])
    z = _at_least_float32(logits)                                 # sums in float32
    if weight is not None:
        weight = weight.to(device=z.device, dtype=z.dtype)
        if not valid.any() or weight[target[valid]].sum() == 0:
            return _nothing_counts(logits)
    elif not valid.any():
        return _nothing_counts(logits)
    return F.cross_entropy(z, target, weight=weight, label_smoothing=label_smoothing,
                           ignore_index=-100 if ignore_index is None else ignore_index)


def weighted_cross_entropy(logits, target, pixel_weight, ignore_index: int | None = None):
    """Per-pixel cross-entropy, each pixel's multiplied by its own weight, summed and
    divided by the number of pixels that count (multiclass mode).

    sum over pixels of w(x) * -log p_y(x), divided by the number of pixels whose target
    is not ``ignore_index``: the U-Net paper's weighted energy (Ronneberger et al. 2015,
    eq. 1, a sum over the pixels) divided by the pixel count, so that its scale does not
    grow with the crop; with every weight 1 it is ``cross_entropy``. PyTorch ports of the
    weight map commonly write it ``(w * F.cross_entropy(..., reduction="none")).mean()``.
    It is not the weighted mean of ``cross_entropy(weight=...)`` (divided by the sum of the
    weights), which would undo the weights' scale: a map that puts 10 on a thin border
    must make that border cost more, not just share the same total differently.

    logits: (N, C, H, W) or (N, C) float; target: (N, H, W) or (N,) class indices;
    pixel_weight: a float tensor of the target's shape, finite weights >= 0 (e.g.
    ``membranes.weight_map(target)``), any float dtype; pixels whose target is
    ``ignore_index`` count for nothing, whatever their weight. Its own function rather
    than an argument of ``cross_entropy``: a per-class weight there takes the weighted
    mean, this the plain one, and ``train.fit`` calls it as ``loss(logits, labels,
    pixel_weight)`` for batches of three. 0 rather than NaN when no pixel counts.
    """
    _check_logits(logits, "multiclass")
    ignore_index = check_ignore_index(ignore_index)
    target, valid = _multiclass_target(logits, target, ignore_index)
    check_weights(pixel_weight, "pixel_weight", dims="(N, H, W), the target's shape")
    check_same_shape(pixel_weight, "pixel_weight", target, "target")
    if not valid.any():
        return _nothing_counts(logits)
    z = _at_least_float32(logits)                                 # sums in float32
    per_pixel = F.cross_entropy(z, target.masked_fill(~valid, 0), reduction="none")
    weighted = per_pixel * pixel_weight.to(device=z.device, dtype=z.dtype)
    return weighted[valid].sum() / valid.sum()


def binary_cross_entropy(logits, target, pos_weight=None, ignore_index: int | None = None):
    """Binary cross-entropy on logits (binary mode), averaged over the pixels that count.

    -[w y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], computed from the logit z in
    the stable form of ``BCEWithLogitsLoss`` (no log of 0 for large |z|).
    logits: (N, 1, H, W) or (N, H, W) float; target: either shape, 0 or 1 (or
    ``ignore_index``), any integer, bool or float dtype; pos_weight w: None (1), a number
    > 0 or a (1,) tensor, weighing the pixels of class 1 (e.g. background pixels /
    foreground pixels, for a rare foreground), as ``F.binary_cross_entropy_with_logits``.
    """
    _check_logits(logits, "binary")
    ignore_index = check_ignore_index(ignore_index)
    logits, target, valid = _binary_pair(logits, target, ignore_index)
    if pos_weight is not None:
        if isinstance(pos_weight, torch.Tensor) and pos_weight.numel() == 1:
            pos_weight = pos_weight.item()
        pos_weight = check_number(pos_weight, "pos_weight", low=0, low_open=True)
    if not valid.any():
        return _nothing_counts(logits)
    z = _at_least_float32(logits)
    if pos_weight is not None:
        pos_weight = torch.tensor(pos_weight, device=z.device, dtype=z.dtype)
    per_pixel = F.binary_cross_entropy_with_logits(z, target.to(z.dtype), pos_weight=pos_weight,
                                                   reduction="none")
    return per_pixel[valid].mean()


def focal_loss(logits, target, mode: str = "multiclass", gamma: float = 2.0, alpha=None,
               ignore_index: int | None = None):
    """Focal loss (Lin et al. 2017), averaged over the pixels that count.

    -alpha_t (1 - p_t)^gamma log p_t, with p_t the probability given to the true answer:
    cross-entropy multiplied by (1 - p_t)^gamma, which is near 0 for the pixels already
    right with confidence (most of the background) and near 1 for the wrong ones, so that
    the many easy pixels do not drown the few hard ones. gamma >= 0 (2 in the paper);
    with gamma=0 and alpha=None it is ``cross_entropy`` (multiclass) or
    ``binary_cross_entropy`` (binary).

    - mode="multiclass": logits (N, C, H, W) or (N, C), target (N, H, W) or (N,) class
      indices, p = softmax(logits); alpha None or a (C,) float tensor, a weight alpha_y
      per class.
    - mode="binary": logits (N, 1, H, W) or (N, H, W), target 0/1 of either shape,
      p = sigmoid(logits); alpha None or a number in [0, 1]: alpha_t = alpha on class-1
      pixels and 1 - alpha on class-0 pixels (the paper used 0.25).

    The mean is over the pixels that count (not over the weights, unlike
    ``F.cross_entropy(weight=...)``), as in the paper's dense form and in
    ``torchvision.ops.sigmoid_focal_loss(..., reduction="mean")``, which the binary mode
    equals (ours defaults to alpha=None where torchvision's defaults to 0.25).
    Elsewhere: smp's ``FocalLoss(mode="multiclass")`` is not a softmax focal loss but a
    sigmoid (binary) focal loss per class, one class against the rest, averaged over the
    classes; MONAI's ``FocalLoss(use_softmax=True)`` is ours but averages over N*C*H*W
    entries (C times smaller) and reads a number alpha as 1 - alpha for class 0 and alpha
    for every other class. (1 - p_t) is computed without subtracting from 1 (as
    sigmoid(-z) or -expm1(log p_t)) and kept above the smallest positive float, so the
    gradient stays finite on confident pixels for any gamma >= 0 (0^gamma has an infinite
    slope for gamma < 1).
    """
    _check_mode(mode, ("binary", "multiclass"))
    _check_logits(logits, mode)
    gamma = check_number(gamma, "gamma", low=0)
    ignore_index = check_ignore_index(ignore_index)
    if mode == "binary":
        if alpha is not None:
            alpha = check_number(alpha, "alpha", low=0, high=1)
        logits, target, valid = _binary_pair(logits, target, ignore_index)
        if not valid.any():
            return _nothing_counts(logits)
        z = _at_least_float32(logits)
        y = target.to(z.dtype)
        signed = z * (2 * y - 1)                      # +z where y = 1, -z where y = 0
        log_p_true = F.logsigmoid(signed)             # log p_t
        p_wrong = torch.sigmoid(-signed)              # 1 - p_t
        alpha_t = None if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    else:
        if alpha is not None and not isinstance(alpha, torch.Tensor):
            raise TypeError(f"alpha: expected None or a ({logits.shape[1]},) float tensor, a "
                            f"weight per class, in multiclass mode, got {describe(alpha)}")
        alpha = _check_class_weight(alpha, logits.shape[1], "alpha")
        target, valid = _multiclass_target(logits, target, ignore_index)
        if not valid.any():
            return _nothing_counts(logits)
        z = _at_least_float32(logits)
        safe_target = target.masked_fill(~valid, 0)[:, None]            # (N, 1, H, W)
        log_p_true = z.log_softmax(dim=1).gather(1, safe_target)[:, 0]  # (N, H, W)
        p_wrong = -torch.expm1(log_p_true)                              # 1 - p_t
        alpha_t = None if alpha is None else alpha.to(z)[safe_target[:, 0]]
    tiny = torch.finfo(p_wrong.dtype).tiny
    per_pixel = -(p_wrong.clamp(min=tiny) ** gamma) * log_p_true
    if alpha_t is not None:
        per_pixel = alpha_t * per_pixel
    return per_pixel[valid].mean()


# ============================================================ overlap losses


def _soft_counts(logits, target, mode, ignore_index):
    """Soft true positives, false positives and false negatives per class.

    With p the predicted probability of the class and y = 1 where the target is that
    class: tp = sum p y, fp = sum p (1 - y), fn = sum (1 - p) y, each a (K,) float32 (or
    float64) tensor summed over every pixel of the batch that counts, K = C classes
    (multiclass, multilabel) or 1 (binary). Also ``present``, (K,) bool: the classes with
    at least one pixel in the target. None when no pixel counts.
    """
    _check_mode(mode)
    _check_logits(logits, mode)
    ignore_index = check_ignore_index(ignore_index)
    if mode == "binary":
        logits, target, valid = _binary_pair(logits, target, ignore_index)
        z = _at_least_float32(logits)[:, None]                        # (N, 1, ...)
        probabilities, onehot, valid = torch.sigmoid(z), target[:, None], valid[:, None]
    elif mode == "multilabel":
        target, valid = _multilabel_target(logits, target, ignore_index)
        probabilities, onehot = torch.sigmoid(_at_least_float32(logits)), target
    else:
        target, valid = _multiclass_target(logits, target, ignore_index)
        probabilities = _at_least_float32(logits).softmax(dim=1)      # (N, C, ...)
        onehot = F.one_hot(target.masked_fill(~valid, 0), logits.shape[1])
        onehot, valid = onehot.movedim(-1, 1), valid[:, None]         # (N, C, ...), (N, 1, ...)
    if not valid.any():
        return None
    valid = valid.to(probabilities.dtype)
    p, y = probabilities * valid, onehot.to(probabilities.dtype) * valid
    dims = [0] + list(range(2, p.dim()))            # the batch and every pixel: one sum per class
    tp = (p * y).sum(dims)
    fp = (p * (1 - y)).sum(dims)
    fn = ((1 - p) * y).sum(dims)
    return tp, fp, fn, y.sum(dims) > 0


def _mean_over_classes(score, present, mode):
    """The mean score over the classes present in the target (multiclass) or over every
    channel (binary, multilabel)."""
    if mode == "multiclass":
        return score[present].mean()
    return score.mean()


def _check_smooth_eps(smooth, eps):
    return check_number(smooth, "smooth", low=0), check_number(eps, "eps", low=0, low_open=True)


def soft_dice_loss(logits, target, mode: str = "multiclass", smooth: float = 1.0,
                   ignore_index: int | None = None, eps: float = 1e-7):
    """1 - soft Dice, averaged over classes (see below which).

    Dice = (2 tp + smooth) / (2 tp + fp + fn + smooth), i.e. (2 sum(p y) + smooth) /
    (sum(p) + sum(y) + smooth), the F1 score of chapter 7 with soft counts: p the
    predicted probability (softmax in multiclass mode, sigmoid in binary and multilabel
    mode), y = 1 on the pixels of the class, summed over every pixel of the batch that
    counts, one Dice per class. It scores overlap, so a rare class counts as much as a
    common one. The denominator is clamped to at least ``eps`` (> 0); the sums are taken
    in float32.

    - multiclass: logits (N, C, H, W), target (N, H, W) class indices; the mean is over
      the classes present in the target of the batch (chapter 7's mean Dice also leaves
      absent classes out). Probability put on an absent class is taken from the true
      class, so the Dice of the present classes already punishes it.
    - binary: logits (N, 1, H, W) or (N, H, W), target 0/1 of either shape; the one
      class always counts.
    - multilabel: logits (N, C, H, W), target (N, C, H, W) of 0/1; the mean is over all
      C channels, present or not: the sigmoids are independent, so false positives in a
      channel whose mask is empty are punished only by that channel's own Dice.

    An empty mask (binary or multilabel channel with y = 0 everywhere) scores
    smooth / (sum(p) + smooth): 1 when nothing is predicted, lower the more is. With
    smooth=0 it scores 0 whatever is predicted (0 / eps): loss 1 and no gradient, so keep
    smooth > 0 where masks can be empty.

    Where segmentation_models_pytorch (smp, ``losses/_functional.py`` and ``dice.py``) and
    MONAI (``monai/losses/dice.py``) differ from each other and from us:

    - smooth: smp writes (tp + s) / (tp + fp/2 + fn/2 + s) = (2 tp + 2s) / (...+ 2s),
      i.e. our Dice with smooth = 2s, default s = 0; MONAI adds ``smooth_nr`` to the
      numerator 2 tp and ``smooth_dr`` to the denominator (1e-5 each), our Dice when both
      equal our smooth. Ours: one smooth, in both places, as in the usual formula;
      default 1 so that an empty binary mask still gives a gradient against false
      positives.
    - eps: smp clamps the denominator at eps = 1e-7 (as we do); MONAI relies on
      smooth_dr.
    - batch or image: smp and we sum over the whole batch (one Dice per class); MONAI by
      default (``batch=False``) takes one Dice per image and class and averages those.
      Batch sums weigh every pixel alike; a per-image Dice of a class with a handful of
      pixels in one image is noisy, and an absent class would need a rule per image.
    - absent classes: smp gives a class with no target pixel in the batch a loss of 0 but
      still divides by C (so the loss shrinks when fewer classes are present, and an empty
      binary mask gives loss 0 whatever is predicted); MONAI counts every class of every
      image (``include_background=False`` drops class 0). Ours: see the modes above.
    - MONAI applies no softmax or sigmoid unless told (``softmax=True``, ``sigmoid=True``);
      smp and we take logits. MONAI's ``squared_pred`` (sums of p^2 and y^2 in the
      denominator) is not offered here.
    - soft labels: smp and MONAI (``soft_label=True``) compute tp from |p - y|, which is
      sum(p y) for 0/1 targets, the only kind taken here.
    - ignore_index: smp zeroes p and y on ignored pixels, as we do; MONAI has no
      ignore_index (``MaskedDiceLoss`` takes a mask instead).
    - float16: smp and MONAI sum in the dtype of the logits; we sum in float32.
    """
    _check_mode(mode)
    smooth, eps = _check_smooth_eps(smooth, eps)
    counts = _soft_counts(logits, target, mode, ignore_index)
    if counts is None:
        return _nothing_counts(logits)
    tp, fp, fn, present = counts
    dice = (2 * tp + smooth) / (2 * tp + fp + fn + smooth).clamp(min=eps)
    return 1 - _mean_over_classes(dice, present, mode)


def soft_jaccard_loss(logits, target, mode: str = "multiclass", smooth: float = 1.0,
                      ignore_index: int | None = None, eps: float = 1e-7):
    """1 - soft Jaccard (soft IoU), averaged over classes as in ``soft_dice_loss``.

    Jaccard = (tp + smooth) / (tp + fp + fn + smooth), i.e. (sum(p y) + smooth) /
    (sum(p) + sum(y) - sum(p y) + smooth): intersection over union with soft counts,
    summed over every pixel of the batch that counts, one per class; the denominator is
    clamped to at least ``eps``. Modes, shapes, the classes averaged and the empty-mask
    rule are those of ``soft_dice_loss``. For the same prediction IoU <= Dice
    (IoU = Dice / (2 - Dice) with smooth 0), so this loss is the larger, more so for poor
    overlaps.

    smp's ``JaccardLoss`` uses this formula and this smooth (default 0), with its Dice
    loss's eps clamp, batch sums and absent-class rule; MONAI's ``DiceLoss(jaccard=True)``
    computes (2 tp + smooth_nr) / (2 (tp + fp + fn) + smooth_dr), ours with smooth =
    smooth_nr / 2 = smooth_dr / 2, per image by default.
    """
    _check_mode(mode)
    smooth, eps = _check_smooth_eps(smooth, eps)
    counts = _soft_counts(logits, target, mode, ignore_index)
    if counts is None:
        return _nothing_counts(logits)
    tp, fp, fn, present = counts
    jaccard = (tp + smooth) / (tp + fp + fn + smooth).clamp(min=eps)
    return 1 - _mean_over_classes(jaccard, present, mode)


def tversky_loss(logits, target, mode: str = "multiclass", alpha: float = 0.5,
                 beta: float = 0.5, smooth: float = 1.0, ignore_index: int | None = None,
                 eps: float = 1e-7):
    """1 - Tversky index (Salehi et al. 2017), averaged over classes as in ``soft_dice_loss``.

    Tversky = (tp + smooth) / (tp + alpha fp + beta fn + smooth), soft counts summed over
    every pixel of the batch that counts, one per class; the denominator is clamped to at
    least ``eps``. alpha weighs the false positives, beta the false negatives (both >= 0,
    not both 0): beta > alpha favours recall, for a small structure that must not be
    missed. alpha = beta = 0.5 gives the Dice score with smooth doubled
    (``soft_dice_loss(..., smooth=2 * smooth)``; the same for smooth=0), and alpha = beta
    = 1 gives ``soft_jaccard_loss`` with the same smooth. Modes, shapes, the classes
    averaged and the empty-mask rule are those of ``soft_dice_loss``.

    smp's ``TverskyLoss`` (gamma=1) and MONAI's ``TverskyLoss`` (smooth_nr = smooth_dr =
    smooth) use this formula, with the batch, absent-class and activation differences
    listed in ``soft_dice_loss``; smp's gamma (raising the mean loss to a power, the
    "focal Tversky" loss) is not offered here.
    """
    _check_mode(mode)
    alpha = check_number(alpha, "alpha", low=0)
    beta = check_number(beta, "beta", low=0)
    if alpha == 0 and beta == 0:
        raise ValueError("beta: expected alpha + beta > 0 (with both 0 every prediction "
                         "scores 1), got alpha=0.0 and beta=0.0")
    smooth, eps = _check_smooth_eps(smooth, eps)
    counts = _soft_counts(logits, target, mode, ignore_index)
    if counts is None:
        return _nothing_counts(logits)
    tp, fp, fn, present = counts
    tversky = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth).clamp(min=eps)
    return 1 - _mean_over_classes(tversky, present, mode)


# ============================================================ combinations


def _ignore_index_of(loss_fn):
    """The label a loss says it ignores: ``functools.partial(f, ignore_index=...)``, or an
    ``ignore_index`` attribute (``nn.CrossEntropyLoss``, ``WeightedSum``); else None."""
    keywords = getattr(loss_fn, "keywords", None)
    if isinstance(keywords, dict) and keywords.get("ignore_index") is not None:
        return keywords["ignore_index"]
    value = getattr(loss_fn, "ignore_index", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _name_of(loss_fn):
    if isinstance(loss_fn, functools.partial):
        settings = ", ".join(f"{k}={v!r}" for k, v in loss_fn.keywords.items())
        return f"{_name_of(loss_fn.func)}({settings})" if settings else _name_of(loss_fn.func)
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)


class WeightedSum:
    """A loss that is w1 * loss1(logits, target) + w2 * loss2(logits, target) + ...

    terms: (weight, loss function) pairs, weight a number >= 0, each loss function
    called as ``loss(logits, target)``; settings go in with ``functools.partial``::

        loss_fn = WeightedSum((1.0, losses.cross_entropy),
                              (0.5, partial(losses.soft_dice_loss, smooth=1.0)))

    ``ignore_index`` is the label the terms ignore (read from their ``ignore_index``
    keyword or attribute), so that ``train.fit`` counts accuracy on the same pixels;
    terms that ignore different labels are an error.
    """

    def __init__(self, *terms):
        if not terms:
            raise ValueError("terms: expected at least one (weight, loss function) pair, "
                             "got none")
        checked = []
        for i, term in enumerate(terms):
            if not isinstance(term, tuple | list) or len(term) != 2 or not callable(term[1]):
                raise TypeError(f"terms[{i}]: expected a (weight, loss function) pair, "
                                f"got {describe(term)}")
            checked.append((check_number(term[0], f"terms[{i}]", low=0), term[1]))
        said = {_ignore_index_of(loss_fn) for _, loss_fn in checked} - {None}
        if len(said) > 1:
            raise ValueError(f"terms: expected losses that ignore the same label, got "
                             f"ignore_index {sorted(said)}")
        self.terms = checked
        self.ignore_index = said.pop() if said else None

    def __call__(self, logits, target):
        total = 0
        for weight, loss_fn in self.terms:
            total = total + weight * loss_fn(logits, target)
        return total

    def __repr__(self):
        return "WeightedSum(" + " + ".join(f"{w:g} * {_name_of(f)}" for w, f in self.terms) + ")"


def cross_entropy_dice(logits, target, dice_weight: float = 1.0, weight=None,
                       ignore_index: int | None = None, smooth: float = 1.0):
    """Cross-entropy plus ``dice_weight`` times the soft Dice loss (multiclass mode).

    Cross-entropy gets every pixel right on average; Dice pulls the rare classes up.
    ``weight`` goes to the cross-entropy, ``smooth`` to the Dice, ``ignore_index`` to both.
    logits: (N, C, H, W) float; target: (N, H, W) class indices. The same as
    ``WeightedSum((1, partial(cross_entropy, weight=weight, ignore_index=ignore_index)),
    (dice_weight, partial(soft_dice_loss, smooth=smooth, ignore_index=ignore_index)))``.
    """
    dice_weight = check_number(dice_weight, "dice_weight", low=0)
    return WeightedSum(
        (1.0, functools.partial(cross_entropy, weight=weight, ignore_index=ignore_index)),
        (dice_weight, functools.partial(soft_dice_loss, smooth=smooth,
                                        ignore_index=ignore_index)),
    )(logits, target)


# ============================================================ initialisation


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
