"""coursekit.losses against the formulas of segmentation_models_pytorch (smp) and MONAI.

Neither library is installed (each would pull its own torch), so their formulas are
written out below, small and in float64, from the source files read at these commits:

- smp: the GitHub repository qubvel-org / segmentation_models.pytorch at
  5006616357631a48c7c8e11977cf5abb00803590: segmentation_models_pytorch/losses/
  _functional.py (soft_tversky_score, soft_dice_score, soft_jaccard_score), dice.py
  (DiceLoss.forward), jaccard.py (JaccardLoss.forward), tversky.py (TverskyLoss),
  focal.py (FocalLoss.forward with focal_loss_with_logits).
- MONAI: the GitHub repository Project-MONAI / MONAI at
  d388d1c6fec8cb3a0eebee5b5a0b9776ca59ca83:
  monai/losses/dice.py (DiceLoss.forward), utils.py (compute_tp_fp_fn), tversky.py
  (TverskyLoss.forward), focal_loss.py (softmax_focal_loss, sigmoid_focal_loss).

Where the settings coincide ours must equal theirs; where the docstrings of
coursekit.losses say we differ (smooth, per-image sums, absent classes), the tests pin
the difference, so a change on either side shows.
"""

import pytest
import torch
import torch.nn.functional as F

from coursekit import losses


def case(mode, n=2, classes=3, size=5, seed=0, absent=(), empty_channels=()):
    """(logits float64, target) for ``mode``; ``absent`` classes get no pixel (multiclass),
    ``empty_channels`` an empty mask (binary: channel 0; multilabel)."""
    g = torch.Generator().manual_seed(seed)
    channels = 1 if mode == "binary" else classes
    logits = torch.randn(n, channels, size, size, generator=g, dtype=torch.float64) * 2
    if mode == "multiclass":
        kept = torch.tensor([c for c in range(classes) if c not in absent])
        target = kept[torch.randint(len(kept), (n, size, size), generator=g)]
        target.view(-1)[:len(kept)] = kept               # every kept class has a pixel
    else:
        target = torch.randint(2, (n, channels, size, size), generator=g)
        target[0, 0, 0, 0] = 1
        for c in empty_channels:
            target[:, c] = 0
    return logits, target


def with_ignored(target, fraction=0.25, seed=1):
    g = torch.Generator().manual_seed(seed)
    target = target.clone()
    target[torch.rand(target.shape, generator=g) < fraction] = 255
    return target


# ============================================================ smp


def smp_probabilities_and_onehot(logits, target, mode, ignore_index=None):
    """smp's DiceLoss.forward up to the score: (N, K, pixels) probabilities and 0/1 target,
    both zeroed on ignored pixels. Probabilities as log_softmax().exp() or logsigmoid().exp()."""
    n, classes = logits.shape[0], logits.shape[1]
    if mode == "multiclass":
        p = logits.log_softmax(dim=1).exp().reshape(n, classes, -1)
        y = target.reshape(n, -1)
        mask = y != ignore_index if ignore_index is not None else torch.ones_like(y).bool()
        p = p * mask[:, None]
        y = F.one_hot((y * mask).long(), classes).permute(0, 2, 1) * mask[:, None]
    else:
        k = 1 if mode == "binary" else classes
        p, y = F.logsigmoid(logits).exp().reshape(n, k, -1), target.reshape(n, k, -1)
        if ignore_index is not None:
            mask = y != ignore_index
            p, y = p * mask, y * mask
    return p, y.to(p.dtype)


def smp_tversky_score(p, y, alpha, beta, smooth, eps, dims):
    """_functional.soft_tversky_score: tp from |p - y| (right for soft labels too)."""
    output_sum, target_sum = p.sum(dims), y.sum(dims)
    difference = (p - y).abs().sum(dims)
    tp = (output_sum + target_sum - difference) / 2
    fp, fn = output_sum - tp, target_sum - tp
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth).clamp_min(eps)


def smp_loss(logits, target, mode, alpha=0.5, beta=0.5, smooth=0.0, eps=1e-7, ignore_index=None):
    """DiceLoss (alpha = beta = 1/2), JaccardLoss (1, 1), TverskyLoss (gamma 1): sums over
    batch and pixels (dims (0, 2)); a class without target pixels gets loss 0; mean over
    all classes."""
    p, y = smp_probabilities_and_onehot(logits, target, mode, ignore_index)
    score = smp_tversky_score(p, y, alpha, beta, smooth, eps, dims=(0, 2))
    loss = (1 - score) * (y.sum((0, 2)) > 0)
    return loss.mean()


def smp_binary_focal(logits, target, gamma, alpha, ignore_index=None):
    """FocalLoss(mode='binary'): ignored pixels filtered out, then focal_loss_with_logits
    (p_t = exp(-BCE)), mean."""
    z, y = logits.reshape(-1), target.reshape(-1)
    if ignore_index is not None:
        z, y = z[y != ignore_index], y[y != ignore_index]
    y = y.to(z.dtype)
    logpt = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    loss = (1 - torch.exp(-logpt)) ** gamma * logpt
    if alpha is not None:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return loss.mean()


@pytest.mark.parametrize("ignore", [None, 255])
@pytest.mark.parametrize("mode", ["multiclass", "binary", "multilabel"])
def test_dice_jaccard_tversky_equal_smp_when_every_class_is_present(mode, ignore):
    logits, target = case(mode)
    if ignore is not None:
        target = with_ignored(target)
    for s in (0.0, 0.5):
        dice = losses.soft_dice_loss(logits, target, mode, smooth=2 * s, ignore_index=ignore)
        assert dice.item() == pytest.approx(
            smp_loss(logits, target, mode, 0.5, 0.5, s, ignore_index=ignore).item(), rel=1e-10)
        jaccard = losses.soft_jaccard_loss(logits, target, mode, smooth=s, ignore_index=ignore)
        assert jaccard.item() == pytest.approx(
            smp_loss(logits, target, mode, 1.0, 1.0, s, ignore_index=ignore).item(), rel=1e-10)
        tversky = losses.tversky_loss(logits, target, mode, alpha=0.3, beta=0.7, smooth=s,
                                      ignore_index=ignore)
        assert tversky.item() == pytest.approx(
            smp_loss(logits, target, mode, 0.3, 0.7, s, ignore_index=ignore).item(), rel=1e-10)


def test_smps_smooth_is_half_of_ours_in_dice():
    logits, target = case("multiclass")
    ours = losses.soft_dice_loss(logits, target, smooth=1.0).item()
    assert ours == pytest.approx(smp_loss(logits, target, "multiclass", smooth=0.5).item())
    assert ours != pytest.approx(smp_loss(logits, target, "multiclass", smooth=1.0).item(),
                                 rel=1e-4)


def test_smp_divides_by_every_class_we_by_the_present_ones():
    classes = 5
    logits, target = case("multiclass", classes=classes, absent=(1, 3))
    for loss, alpha in [(losses.soft_dice_loss, 0.5), (losses.soft_jaccard_loss, 1.0)]:
        ours = loss(logits, target, smooth=0.0).item()
        theirs = smp_loss(logits, target, "multiclass", alpha, alpha, 0.0).item()
        assert ours == pytest.approx(theirs * classes / 3, rel=1e-10)   # 3 classes present
        assert ours != pytest.approx(theirs, rel=1e-3)


def test_an_empty_mask_costs_0_in_smp_and_its_false_positives_in_ours():
    logits, target = case("binary", empty_channels=(0,))
    assert smp_loss(logits, target, "binary", smooth=1.0).item() == 0.0
    p = torch.sigmoid(logits).sum().item()
    assert losses.soft_dice_loss(logits, target, "binary", smooth=2.0).item() == pytest.approx(
        p / (p + 2))
    logits, target = case("multilabel", empty_channels=(1,))
    ours = losses.soft_dice_loss(logits, target, "multilabel", smooth=2.0).item()
    theirs = smp_loss(logits, target, "multilabel", smooth=1.0).item()
    assert ours > theirs + 0.1


@pytest.mark.parametrize("ignore", [None, 255])
@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (0.0, None), (1.0, 0.75)])
def test_binary_focal_equals_smp(gamma, alpha, ignore):
    logits, target = case("binary", seed=2)
    if ignore is not None:
        target = with_ignored(target)
    ours = losses.focal_loss(logits, target, "binary", gamma=gamma, alpha=alpha,
                             ignore_index=ignore)
    assert ours.item() == pytest.approx(
        smp_binary_focal(logits, target, gamma, alpha, ignore).item(), rel=1e-10)


def test_smps_multiclass_focal_is_one_class_against_the_rest_not_softmax():
    """smp FocalLoss(mode='multiclass'): the binary focal loss of logits[:, c] against
    (target == c), for each class c, averaged over the classes."""
    logits, target = case("multiclass", seed=3)
    theirs = torch.stack([smp_binary_focal(logits[:, c], (target == c).long(), 2.0, None)
                          for c in range(logits.shape[1])]).mean()
    ours = losses.focal_loss(logits, target, gamma=2.0)
    assert abs(ours.item() - theirs.item()) > 0.05


# ============================================================ MONAI


def monai_counts(p, y, batch, decoupled=True):
    """compute_tp_fp_fn with ord 1 and hard labels: sums over the pixels (and the batch
    when ``batch``); decoupled (Dice) fp = sum p - tp, fn = sum y - tp; not decoupled
    (Tversky) fp = sum p (1 - y), fn = sum (1 - p) y."""
    axes = list(range(2, p.dim()))
    axes = [0] + axes if batch else axes
    tp = (p * y).sum(axes)
    if decoupled:
        return tp, p.sum(axes) - tp, y.sum(axes) - tp
    return tp, (p * (1 - y)).sum(axes), ((1 - p) * y).sum(axes)


def monai_dice_loss(p, y, smooth_nr=1e-5, smooth_dr=1e-5, batch=False, jaccard=False):
    """DiceLoss.forward on probabilities p and one-hot y, (N, C, H, W), reduction 'mean'
    (include_background=True; False would drop channel 0 first)."""
    tp, fp, fn = monai_counts(p, y, batch)
    if not jaccard:
        fp, fn = fp * 0.5, fn * 0.5
    return (1 - (2 * tp + smooth_nr) / (2 * (tp + fp + fn) + smooth_dr)).mean()


def monai_tversky_loss(p, y, alpha, beta, smooth_nr=1e-5, smooth_dr=1e-5, batch=False):
    tp, fp, fn = monai_counts(p, y, batch, decoupled=False)
    return (1 - (tp + smooth_nr) / (tp + alpha * fp + beta * fn + smooth_dr)).mean()


def monai_softmax_focal(logits, onehot, gamma):
    """softmax_focal_loss, then reduction 'mean' over every entry of (N, C, H, W)."""
    log_p = logits.log_softmax(dim=1)
    return (-(1 - log_p.exp()) ** gamma * log_p * onehot).mean()


def monai_sigmoid_focal(logits, y, gamma, alpha):
    loss = logits - logits * y - F.logsigmoid(logits)
    loss = (F.logsigmoid(-logits * (y * 2 - 1)) * gamma).exp() * loss
    if alpha is not None:
        loss = (y * alpha + (1 - y) * (1 - alpha)) * loss
    return loss.mean()


def softmax_and_onehot(logits, target):
    return logits.softmax(dim=1), F.one_hot(target, logits.shape[1]).movedim(-1, 1).double()


@pytest.mark.parametrize("smooth", [1e-5, 1.0])
def test_dice_equals_monai_with_batch_sums_and_equal_smooths(smooth):
    logits, target = case("multiclass")
    p, y = softmax_and_onehot(logits, target)
    ours = losses.soft_dice_loss(logits, target, smooth=smooth)
    assert ours.item() == pytest.approx(
        monai_dice_loss(p, y, smooth, smooth, batch=True).item(), rel=1e-10)
    logits, target = case("multilabel", empty_channels=(2,))   # every channel counts in both
    ours = losses.soft_dice_loss(logits, target, "multilabel", smooth=smooth)
    theirs = monai_dice_loss(torch.sigmoid(logits), target.double(), smooth, smooth, batch=True)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)


def test_jaccard_equals_monai_with_smooths_twice_ours():
    logits, target = case("multiclass")
    p, y = softmax_and_onehot(logits, target)
    ours = losses.soft_jaccard_loss(logits, target, smooth=0.5)
    assert ours.item() == pytest.approx(
        monai_dice_loss(p, y, 1.0, 1.0, batch=True, jaccard=True).item(), rel=1e-10)


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
def test_tversky_equals_monai_with_batch_sums(mode):
    logits, target = case(mode)
    if mode == "multiclass":
        p, y = softmax_and_onehot(logits, target)
    else:
        p, y = torch.sigmoid(logits), target.double()
    ours = losses.tversky_loss(logits, target, mode, alpha=0.2, beta=0.8, smooth=0.5)
    assert ours.item() == pytest.approx(
        monai_tversky_loss(p, y, 0.2, 0.8, 0.5, 0.5, batch=True).item(), rel=1e-10)


def test_monais_default_per_image_dice_differs_from_our_batch_dice():
    logits, target = case("multiclass", n=4)
    p, y = softmax_and_onehot(logits, target)
    per_image = monai_dice_loss(p, y, 1.0, 1.0, batch=False).item()
    assert losses.soft_dice_loss(logits, target, smooth=1.0).item() != pytest.approx(
        per_image, rel=1e-3)


def test_monai_counts_an_absent_class_we_leave_it_out():
    logits, target = case("multiclass", classes=4, absent=(2,))
    p, y = softmax_and_onehot(logits, target)
    ours = losses.soft_dice_loss(logits, target, smooth=1.0).item()
    present = [0, 1, 3]
    assert ours == pytest.approx(monai_dice_loss(p[:, present], y[:, present], 1.0, 1.0,
                                                 batch=True).item(), rel=1e-10)
    assert ours < monai_dice_loss(p, y, 1.0, 1.0, batch=True).item() - 0.05


def test_multiclass_focal_is_monais_softmax_focal_times_c():
    logits, target = case("multiclass", classes=4, seed=5)
    p, y = softmax_and_onehot(logits, target)
    ours = losses.focal_loss(logits, target, gamma=2.0)
    assert ours.item() == pytest.approx(4 * monai_softmax_focal(logits, y, 2.0).item(),
                                        rel=1e-10)


@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (0.5, None)])
def test_binary_focal_equals_monais_sigmoid_focal(gamma, alpha):
    logits, target = case("binary", seed=6)
    ours = losses.focal_loss(logits, target, "binary", gamma=gamma, alpha=alpha)
    theirs = monai_sigmoid_focal(logits, target.double(), gamma, alpha)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)
