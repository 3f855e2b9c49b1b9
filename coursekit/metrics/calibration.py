"""Calibration: do a model's probabilities mean what they say?

A model is calibrated when, among the pixels (or images) it gives confidence 0.8, 80 %
are right. Networks trained with cross-entropy are often over-confident (Guo et al.
2017, "On calibration of modern neural networks", ICML). This module measures it and
fixes the simplest kind of it:

1. reliability bins (``reliability_bins``): split [0, 1] into ``n_bins`` bins of equal
   width; put each prediction in the bin of its confidence; per bin, the count, the
   mean confidence and the accuracy (the share of those predictions that are right).
   Plotted as accuracy against confidence, a calibrated model lies on the diagonal: the
   reliability diagram;
2. expected calibration error (``expected_calibration_error``): the gap between accuracy
   and confidence, bin by bin, weighted by the share of predictions in the bin,
   ECE = sum_b (n_b / n) |accuracy_b - confidence_b|; 0 for a calibrated model;
3. temperature scaling (``fit_temperature``): divide the logits by one number T > 0
   before the softmax. T > 1 softens over-confident probabilities; the predicted class
   (the argmax) never changes, so accuracy stays the same. T is fitted on held-out data
   by minimising the negative log-likelihood (cross-entropy) of the targets, with L-BFGS
   on log T (so that T stays positive), as Guo et al. do.

What "confidence" and "right" mean:

- multiclass probabilities (N, C) or (N, C, H, W), C >= 2 (``softmax(dim=1)``): the
  top-label confidence max_c p_c, right when that class is the target (torchmetrics'
  ``MulticlassCalibrationError``);
- binary probabilities, of the shape of the target ((N,), (N, H, W)) or with one channel
  ((N, 1, H, W), the course's one-logit models after ``sigmoid``): the probability p of
  class 1, against the share of class 1 among the targets of the bin
  (torchmetrics' ``BinaryCalibrationError``, scikit-learn's ``calibration_curve``). This
  is not the top-label ECE of the same model written as two classes, [1 - p, p].

Bins are [0, 1/B), [1/B, 2/B), ..., [(B-1)/B, 1]: the last one closed, so that a
confidence of exactly 1 (common in float32 once a model is sure) falls in the last bin.
Confidences are compared with the edges k/B by value (in float64), so a float16, float32
or float64 copy of the same probabilities gives the same bins. Against torchmetrics
(1.9), checked in tests/test_metrics_calibration.py: the same ECE within 1e-6, except
that (a) torchmetrics gives confidences of exactly 1.0 a bin of their own, so its ECE
differs wherever there are some, and (b) it compares with edges in float32 (from
``torch.linspace``), so a confidence lying exactly on one of those float32 numbers can
fall one bin higher there: a float32 0.65 is 0.64999998, below the edge 0.65 here
([0.6, 0.65) of 20 bins), equal to torchmetrics' float32 edge there ([0.65, 0.7)).
Guo et al.'s code closes the bins on the right instead, which differs only for
confidences exactly on an inner edge. Ignored pixels (``ignore_index``) are left out
everywhere; nothing left to measure is an error.
"""

import torch
import torch.nn.functional as F

from coursekit._checks import (
    check_class_indices,
    check_class_probabilities,
    check_finite,
    check_ignore_index,
    check_int,
    check_probabilities,
    check_tensor,
    describe,
)
from coursekit.metrics.confusion import _as_class_indices

LAYOUTS = "(N, C), (N, C, H, W), (N, 1, H, W) or the target's shape (binary)"


def _layout(scores: torch.Tensor, name: str, target: torch.Tensor) -> str:
    """'multiclass' or 'binary', read from how ``scores`` (probabilities or logits)
    stand to ``target``: one more dimension, dim 1 the classes (C >= 2: multiclass,
    C = 1: binary), or the target's shape (binary: (N,), (N, H, W), or with dim 1 of
    size 1; a target (N, C) or (N, C, H, W) of the shape of the scores would be one-hot,
    and is refused rather than read as C binary problems)."""
    if scores.shape == target.shape and scores.dim() >= 1:
        if scores.dim() in (2, 4) and scores.shape[1] > 1:     # (N, C) or (N, C, H, W)
            raise ValueError(f"target: expected class indices without the class dimension "
                             f"(N,) or (N, H, W) for {name} {tuple(scores.shape)}, got "
                             "the same shape; for one-hot targets take .argmax(dim=1)")
        return "binary"
    if (scores.dim() == target.dim() + 1 and scores.dim() >= 2
            and scores.shape[:1] + scores.shape[2:] == target.shape):
        return "multiclass" if scores.shape[1] >= 2 else "binary"
    raise ValueError(f"{name}: expected {LAYOUTS} for a target of shape "
                     f"{tuple(target.shape)} ((N, C) for (N,), (N, C, H, W) for (N, H, W)), "
                     f"got {describe(scores)}")


def _counted(scores: torch.Tensor, name: str, target, ignore_index):
    """(layout, scores, target) of the counted predictions: scores (M, C) for multiclass
    or (M,) for binary, target (M,) int64, both on the device of ``scores``."""
    target = _as_class_indices(target, "target")
    ignore_index = check_ignore_index(ignore_index)
    layout = _layout(scores, name, target)
    if target.device != scores.device:
        raise ValueError(f"target: expected the device of {name} ({scores.device}), "
                         f"got {target.device}")
    classes = scores.shape[1] if layout == "multiclass" else 2
    valid = check_class_indices(target, "target", classes, ignore_index)
    if layout == "multiclass":
        scores = scores.movedim(1, -1)[valid]                # (M, C)
    else:
        scores = scores.reshape(target.shape)[valid]        # (M,)
    if target[valid].numel() == 0:
        raise ValueError("target: no prediction to measure (empty, or every target is "
                         f"ignore_index {ignore_index})")
    return layout, scores, target[valid]


def reliability_bins(probabilities: torch.Tensor, target: torch.Tensor, n_bins: int = 15,
                     ignore_index: int | None = None) -> dict:
    """The numbers of a reliability diagram: per confidence bin, count, confidence, accuracy.

    probabilities: (N, C) or (N, C, H, W) class probabilities (summing to 1 over dim 1),
    or binary: the probability of class 1, of the target's shape or (N, 1, H, W).
    target: (N,) or (N, H, W) class indices, any integer dtype or bool; those equal to
    ``ignore_index`` are left out. n_bins: B >= 1 bins of equal width on [0, 1].

    Returns a dict of CPU tensors: ``edges`` (B + 1,) float64, 0 to 1; ``count`` (B,)
    int64; ``confidence`` (B,) float64, the mean confidence in each bin; ``accuracy``
    (B,) float64, the share right in each bin (binary: the share of class 1). Empty
    bins have confidence and accuracy NaN.
    """
    check_probabilities(probabilities, "probabilities", dims=LAYOUTS)
    n_bins = check_int(n_bins, "n_bins", low=1)
    layout, probabilities, target = _counted(probabilities, "probabilities", target,
                                             ignore_index)
    if layout == "multiclass":
        check_class_probabilities(probabilities, "probabilities")      # (M, C)
        confidence, predicted = probabilities.max(dim=1)
        right = predicted == target
    else:
        confidence, right = probabilities, target == 1
    confidence, right = confidence.detach().double().cpu(), right.double().cpu()

    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    # bin b holds edges[b] <= confidence < edges[b + 1]; the last also confidence 1
    which = (torch.bucketize(confidence, edges, right=True) - 1).clamp(max=n_bins - 1)
    count = torch.bincount(which, minlength=n_bins)
    sums = torch.zeros(2, n_bins, dtype=torch.float64)
    sums[0].index_add_(0, which, confidence)
    sums[1].index_add_(0, which, right)
    mean = sums / count.double()                           # NaN where the bin is empty
    return {"edges": edges, "count": count, "confidence": mean[0], "accuracy": mean[1]}


def expected_calibration_error(probabilities: torch.Tensor, target: torch.Tensor,
                               n_bins: int = 15, ignore_index: int | None = None) -> float:
    """ECE = sum over bins of (n_b / n) |accuracy_b - confidence_b|, in [0, 1].

    The inputs are those of ``reliability_bins`` (the bins this sum is read from):
    probabilities (N, C) or (N, C, H, W) (binary: the target's shape or (N, 1, H, W)),
    target (N,) or (N, H, W) class indices, ``n_bins`` equal-width bins (15 by default,
    as torchmetrics), ``ignore_index`` left out.
    """
    bins = reliability_bins(probabilities, target, n_bins, ignore_index)
    share = bins["count"].double() / bins["count"].sum()
    gap = (bins["accuracy"] - bins["confidence"]).abs().nan_to_num(0.0)   # empty bins: 0
    return float((share * gap).sum())


def _negative_log_likelihood(layout: str, logits: torch.Tensor, target: torch.Tensor):
    if layout == "multiclass":
        return F.cross_entropy(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def fit_temperature(logits: torch.Tensor, target: torch.Tensor,
                    ignore_index: int | None = None, max_iter: int = 100) -> float:
    """The temperature T > 0 that minimises the NLL of ``softmax(logits / T)``: a float.

    logits: held-out logits (N, C) or (N, C, H, W), C >= 2, or binary one-logit (N, 1,
    H, W) or of the target's shape (then ``sigmoid(logits / T)``); any float dtype,
    finite. target: (N,) or (N, H, W) class indices; ``ignore_index`` left out. The
    NLL is minimised over log T with L-BFGS (strong Wolfe line search, at most
    ``max_iter`` iterations) in float64, starting where T is the root-mean-square size
    of the logits (T = 1 for logits of unit size; the fit does not depend on the scale).

    The NLL is convex in 1/T, so a finite best T exists exactly when (a) some counted
    prediction is wrong (otherwise a smaller T always lowers the NLL: T -> 0) and (b) on
    average the logit of the target class is above the mean logit (otherwise no
    sharpening helps: T -> infinity). Either failing is an error that says which.
    """
    check_tensor(logits, "logits", dims=LAYOUTS, kind="float")
    check_finite(logits, "logits")
    max_iter = check_int(max_iter, "max_iter", low=1)
    layout, logits, target = _counted(logits, "logits", target, ignore_index)
    logits = logits.detach().double()     # the fit must not reach back into the model

    if layout == "multiclass":
        own = logits.gather(1, target[:, None])[:, 0]
        others = logits.scatter(1, target[:, None], -torch.inf).amax(dim=1)
        margin, lead = own - others, own - logits.mean(dim=1)
    else:
        margin = lead = torch.where(target == 1, logits, -logits)
    if not (margin < 0).any():
        raise ValueError("logits: every counted prediction is right, so the NLL keeps "
                         "falling as T -> 0 and no temperature minimises it; fit T on "
                         "held-out data the model was not trained on")
    if lead.mean() <= 0:
        raise ValueError("logits: on average the target's logit is not above the mean "
                         "logit, so the NLL only falls as T -> infinity (the logits carry "
                         "no information about the target to scale)")

    # The NLL at T of logits z is the NLL at T / s of z / s: fit on logits of unit
    # root-mean-square size s, so that logits of 1e-30 or 1e30 fit as well as ordinary ones
    # (L-BFGS stops on a gradient that is small in absolute terms).
    size = logits.square().mean().sqrt()
    unit = logits / size
    log_t = torch.zeros((), dtype=torch.float64, device=logits.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                  tolerance_change=1e-14)

    def closure():
        optimizer.zero_grad()
        loss = _negative_log_likelihood(layout, unit / log_t.exp(), target)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return float(log_t.detach().exp() * size)
