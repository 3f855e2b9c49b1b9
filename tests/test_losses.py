"""coursekit.losses: values checked by hand and against torch, special cases, gradients,
every input of the decisions file (target dtypes, layouts, empty batches, ignored pixels,
NaN, float16), wrong inputs caught, and random cases against float64 references.

The formulas of segmentation_models_pytorch and MONAI are checked in
tests/test_losses_reference.py."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import sigmoid_focal_loss

from coursekit import losses

LN2, LN3 = math.log(2), math.log(3)


def random_case(mode, n=2, classes=3, size=4, seed=0, dtype=torch.float32):
    """(logits, target) for ``mode``: multiclass (N, C, H, W) and (N, H, W) int64, binary
    (N, 1, H, W) and (N, 1, H, W) int64 of 0/1, multilabel (N, C, H, W) both."""
    g = torch.Generator().manual_seed(seed)
    channels = 1 if mode == "binary" else classes
    logits = torch.randn(n, channels, size, size, generator=g, dtype=dtype) * 2
    if mode == "multiclass":
        target = torch.randint(classes, (n, size, size), generator=g)
    else:
        target = torch.randint(2, (n, channels, size, size), generator=g)
    return logits, target


# every loss with each mode it takes, as (id, function taking (logits, target, **settings), mode)
OVERLAP = [losses.soft_dice_loss, losses.soft_jaccard_loss, losses.tversky_loss]
LOSSES = ([(f"{f.__name__}-{m}", functools.partial(f, mode=m), m)
           for f in OVERLAP for m in ("multiclass", "binary", "multilabel")]
          + [(f"focal_loss-{m}", functools.partial(losses.focal_loss, mode=m), m)
             for m in ("multiclass", "binary")]
          + [("cross_entropy", losses.cross_entropy, "multiclass"),
             ("binary_cross_entropy", losses.binary_cross_entropy, "binary"),
             ("cross_entropy_dice", losses.cross_entropy_dice, "multiclass")])
LOSS_IDS = [name for name, _, _ in LOSSES]


# ------------------------------------------------------------------ cross-entropy


def test_cross_entropy_equals_torch_and_ignores_pixels():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(2, 4, 5, 5, generator=g), torch.randint(4, (2, 5, 5), generator=g)
    assert losses.cross_entropy(logits, target) == pytest.approx(
        F.cross_entropy(logits, target).item())
    ignored = target.clone()
    ignored[0] = 255
    expected = F.cross_entropy(logits[1:], target[1:])  # only image 1 counts
    assert losses.cross_entropy(logits, ignored, ignore_index=255) == pytest.approx(
        expected.item(), rel=1e-5)


def test_cross_entropy_with_label_smoothing_by_hand():
    # p = (1/4, 3/4), true class 1: (1 - e) * -log(3/4) + e / 2 * (-log(1/4) - log(3/4))
    logits, target = torch.tensor([[0.0, LN3]]), torch.tensor([1])
    e = 0.2
    by_hand = (1 - e) * -math.log(3 / 4) + e / 2 * (-math.log(1 / 4) - math.log(3 / 4))
    assert losses.cross_entropy(logits, target, label_smoothing=e).item() == pytest.approx(by_hand)
    assert losses.cross_entropy(logits, target).item() == pytest.approx(-math.log(3 / 4))


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_equals_torch_with_weight_smoothing_and_ignore(smoothing, weighted):
    logits, target = random_case("multiclass", n=3, classes=4, size=5)
    target[0, :2] = 255
    weight = torch.tensor([0.5, 2.0, 1.0, 3.0]) if weighted else None
    ours = losses.cross_entropy(logits, target, weight=weight, ignore_index=255,
                                label_smoothing=smoothing)
    theirs = F.cross_entropy(logits, target, weight=weight, ignore_index=255,
                             label_smoothing=smoothing)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_cross_entropy_when_every_counted_pixel_has_weight_0_is_0_not_nan():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    loss = losses.cross_entropy(logits, target, weight=torch.tensor([0.0, 1.0, 1.0]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


# ------------------------------------------------------------------ binary cross-entropy


def test_binary_cross_entropy_is_the_formula_and_stable():
    z = torch.tensor([[[-2.0, 0.0, 3.0]]])
    y = torch.tensor([[[0.0, 1.0, 1.0]]])
    p = torch.sigmoid(z)
    formula = -(y * p.log() + (1 - y) * (1 - p).log()).mean()   # A5's formula
    assert losses.binary_cross_entropy(z, y) == pytest.approx(formula.item(), rel=1e-6)
    huge = torch.tensor([[[-200.0, 200.0]]])
    value = losses.binary_cross_entropy(huge, torch.tensor([[[1.0, 0.0]]]))
    assert torch.isfinite(value) and value == pytest.approx(200.0)  # the naive form gives inf
    assert losses.binary_cross_entropy(z[:, None], y[:, None]) == pytest.approx(formula.item())


def test_binary_cross_entropy_pos_weight_by_hand_and_as_torch():
    # z = 0: p = 1/2; a class-1 pixel costs w log 2, a class-0 pixel log 2
    z, y = torch.zeros(1, 1, 1, 2), torch.tensor([[[[1, 0]]]])
    assert losses.binary_cross_entropy(z, y, pos_weight=3).item() == pytest.approx(2 * LN2)
    assert losses.binary_cross_entropy(z, y, pos_weight=torch.tensor([3.0])).item() == (
        pytest.approx(2 * LN2))
    logits, target = random_case("binary", n=3, size=5)
    ignored = target.clone()
    ignored[0] = 255
    ours = losses.binary_cross_entropy(logits, ignored, pos_weight=2.5, ignore_index=255)
    theirs = F.binary_cross_entropy_with_logits(logits[1:], target[1:].float(),
                                                pos_weight=torch.tensor([2.5]))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


# ------------------------------------------------------------------ focal


def test_focal_loss_by_hand():
    # binary: z = 0, y = 1: p_t = 1/2, (1 - 1/2)^2 * log 2; alpha 0.25 on class 1
    z, y = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1, dtype=torch.long)
    assert losses.focal_loss(z, y, "binary").item() == pytest.approx(LN2 / 4)
    assert losses.focal_loss(z, y, "binary", alpha=0.25).item() == pytest.approx(LN2 / 16)
    assert losses.focal_loss(z, 1 - y, "binary", alpha=0.25).item() == pytest.approx(
        0.75 * LN2 / 4)
    # multiclass: p = (1/4, 3/4), true class 1: (1/4)^2 * -log(3/4); gamma 1: (1/4) * ...
    logits, target = torch.tensor([[0.0, LN3]]), torch.tensor([1])
    assert losses.focal_loss(logits, target).item() == pytest.approx(-math.log(0.75) / 16)
    assert losses.focal_loss(logits, target, gamma=1).item() == pytest.approx(
        -math.log(0.75) / 4)
    alpha = torch.tensor([1.0, 0.5])
    assert losses.focal_loss(logits, target, alpha=alpha).item() == pytest.approx(
        -math.log(0.75) / 32)


def test_focal_loss_with_gamma_0_is_cross_entropy():
    logits, target = random_case("multiclass", n=3, classes=4, size=5)
    target[1, 0] = 255
    assert losses.focal_loss(logits, target, gamma=0, ignore_index=255).item() == pytest.approx(
        losses.cross_entropy(logits, target, ignore_index=255).item(), rel=1e-6)
    blogits, btarget = random_case("binary", n=3, size=5)
    btarget[0, 0, 0] = 255
    assert losses.focal_loss(blogits, btarget, "binary", gamma=0,
                             ignore_index=255).item() == pytest.approx(
        losses.binary_cross_entropy(blogits, btarget, ignore_index=255).item(), rel=1e-6)
    # and gamma > 0 is something else: every pixel's cross-entropy is scaled by (1 - p_t)^2 < 1
    assert losses.focal_loss(logits, target, gamma=2, ignore_index=255).item() < (
        losses.cross_entropy(logits, target, ignore_index=255).item() - 0.1)


def test_focal_loss_alpha_per_class_divides_by_pixels_not_by_weights():
    logits, target = random_case("multiclass", classes=3, size=5)
    alpha = torch.tensor([0.2, 1.0, 3.0])
    per_pixel = F.cross_entropy(logits, target, reduction="none") * alpha[target]
    ours = losses.focal_loss(logits, target, gamma=0, alpha=alpha)
    assert ours.item() == pytest.approx(per_pixel.mean().item(), rel=1e-6)
    assert ours.item() != pytest.approx(F.cross_entropy(logits, target, weight=alpha).item(),
                                        rel=1e-2)


@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (0.5, None), (0.0, 0.9), (3.0, 0.0)])
def test_binary_focal_loss_equals_torchvision(gamma, alpha):
    logits, target = random_case("binary", n=3, size=6, seed=4)
    ours = losses.focal_loss(logits * 3, target, "binary", gamma=gamma, alpha=alpha)
    theirs = sigmoid_focal_loss(logits * 3, target.float(), alpha=-1 if alpha is None else alpha,
                                gamma=gamma, reduction="mean")
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


def test_focal_loss_gradient_is_finite_for_gamma_below_1_on_confident_pixels():
    logits = torch.tensor([[[[60.0, -60.0, 0.3]]]], requires_grad=True)
    target = torch.tensor([[[[1, 0, 1]]]])
    losses.focal_loss(logits, target, "binary", gamma=0.5).backward()
    assert torch.isfinite(logits.grad).all()
    logits = torch.tensor([[200.0, 0.0, 0.0], [0.0, 1.0, 0.0]], requires_grad=True)
    losses.focal_loss(logits, torch.tensor([0, 2]), gamma=0.5).backward()
    assert torch.isfinite(logits.grad).all()


# ------------------------------------------------------------------ Dice, Jaccard, Tversky

# One image of two pixels, two classes. Pixel a: logits (log 3, 0), p = (3/4, 1/4), class 0;
# pixel b: logits (0, 0), p = (1/2, 1/2), class 1. Soft counts:
#   class 0: tp = 3/4, fp = 1/2 (b), fn = 1/4 (a);  class 1: tp = 1/2, fp = 1/4, fn = 1/2.
HAND_LOGITS = torch.tensor([[[[LN3, 0.0]], [[0.0, 0.0]]]], dtype=torch.float64)  # (1, 2, 1, 2)
HAND_TARGET = torch.tensor([[[0, 1]]])


def test_soft_dice_jaccard_tversky_by_hand():
    dice0, dice1 = 1.5 / (1.5 + 0.5 + 0.25), 1.0 / (1.0 + 0.25 + 0.5)     # 2/3, 4/7
    assert losses.soft_dice_loss(HAND_LOGITS, HAND_TARGET, smooth=0).item() == pytest.approx(
        1 - (dice0 + dice1) / 2)                                              # 8/21
    assert losses.soft_dice_loss(HAND_LOGITS, HAND_TARGET).item() == pytest.approx(
        1 - (2.5 / 3.25 + 2 / 2.75) / 2)                                      # smooth 1
    iou0, iou1 = 0.75 / 1.5, 0.5 / 1.25                                       # 1/2, 2/5
    assert losses.soft_jaccard_loss(HAND_LOGITS, HAND_TARGET, smooth=0).item() == pytest.approx(
        1 - (iou0 + iou1) / 2)
    t0, t1 = 0.75 / (0.75 + 0.3 * 0.5 + 0.7 * 0.25), 0.5 / (0.5 + 0.3 * 0.25 + 0.7 * 0.5)
    assert losses.tversky_loss(HAND_LOGITS, HAND_TARGET, alpha=0.3, beta=0.7,
                               smooth=0).item() == pytest.approx(1 - (t0 + t1) / 2)


def test_a_class_absent_from_the_target_is_left_out_in_multiclass_mode():
    # a third class with probability 0 (logit -1e4) and no pixel: the loss is the two-class one
    three = torch.cat([HAND_LOGITS, torch.full((1, 1, 1, 2), -1e4, dtype=torch.float64)], 1)
    for loss in OVERLAP:
        assert loss(three, HAND_TARGET, smooth=0).item() == pytest.approx(
            loss(HAND_LOGITS, HAND_TARGET, smooth=0).item())
    # counting it (with a score of 0 = 0 / eps) would give another number
    assert losses.soft_dice_loss(three, HAND_TARGET, smooth=0).item() != pytest.approx(
        1 - (2 / 3 + 4 / 7 + 0) / 3)


def test_soft_dice_by_hand_binary_and_multilabel_empty_channel():
    # one image, binary: p = (0.5, 0.5, 0.5, 0.5), y = (1, 1, 0, 0) -> 2 * 1 / (2 + 2)
    logits, target = torch.zeros(1, 1, 2, 2), torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    assert losses.soft_dice_loss(logits, target, "binary", smooth=0.0) == pytest.approx(0.5)
    # multilabel: channel 0 as above (Dice 1/2), channel 1 empty: smooth / (2 + smooth) = 1/3
    two = torch.zeros(1, 2, 2, 2)
    target2 = torch.stack([target, torch.zeros_like(target)], 1)
    assert losses.soft_dice_loss(two, target2, "multilabel", smooth=1.0).item() == (
        pytest.approx(1 - ((2 + 1) / (4 + 1) + 1 / (2 + 1)) / 2))


def test_an_empty_binary_mask_punishes_false_positives_when_smooth_is_positive():
    target = torch.zeros(1, 1, 2, 2, dtype=torch.long)
    logits = torch.zeros(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)   # P = 2
    for loss, expected in [(losses.soft_dice_loss, 2 / 3), (losses.soft_jaccard_loss, 2 / 3),
                           (losses.tversky_loss, 1 / 2)]:   # 1 - 1/(P+1); 1 - 1/(P/2+1)
        value = loss(logits, target, "binary", smooth=1.0)
        assert value.item() == pytest.approx(expected)
        (gradient,) = torch.autograd.grad(value, logits)
        assert (gradient > 0).all()                  # lower logits, lower loss
    # smooth 0: 0 / (P + Y) = 0 whatever is predicted, even nothing (0 / eps): loss 1, no gradient
    for nothing in (torch.full((1, 1, 2, 2), -1e4, dtype=torch.float64, requires_grad=True),
                    logits):
        value = losses.soft_dice_loss(nothing, target, "binary", smooth=0.0)
        assert value.item() == 1.0
        (gradient,) = torch.autograd.grad(value, nothing)
        assert torch.equal(gradient, torch.zeros_like(gradient))


@pytest.mark.parametrize("mode", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("smooth", [0.0, 0.5])
def test_tversky_with_one_half_is_dice_and_with_ones_is_jaccard(mode, smooth):
    logits, target = random_case(mode, dtype=torch.float64)
    tversky = losses.tversky_loss(logits, target, mode, alpha=0.5, beta=0.5, smooth=smooth)
    dice = losses.soft_dice_loss(logits, target, mode, smooth=2 * smooth)
    assert tversky.item() == pytest.approx(dice.item(), rel=1e-12)
    tversky = losses.tversky_loss(logits, target, mode, alpha=1, beta=1, smooth=smooth)
    jaccard = losses.soft_jaccard_loss(logits, target, mode, smooth=smooth)
    assert tversky.item() == pytest.approx(jaccard.item(), rel=1e-12)
    recall_minded = losses.tversky_loss(logits, target, mode, alpha=0.2, beta=0.8, smooth=smooth)
    assert abs(recall_minded.item() - dice.item()) > 1e-3            # alpha, beta do matter


def test_jaccard_is_the_larger_loss_and_iou_is_dice_over_2_minus_dice():
    logits, target = random_case("binary", dtype=torch.float64)
    dice = 1 - losses.soft_dice_loss(logits, target, "binary", smooth=0)
    iou = 1 - losses.soft_jaccard_loss(logits, target, "binary", smooth=0)
    assert iou.item() == pytest.approx((dice / (2 - dice)).item())
    assert iou < dice


def test_soft_dice_is_zero_when_perfect_and_near_one_when_disjoint():
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, 2:6, 2:6] = 1
    confident = F.one_hot(target, 2).permute(0, 3, 1, 2).float() * 40 - 20
    assert losses.soft_dice_loss(confident, target) == pytest.approx(0.0, abs=1e-4)
    assert losses.soft_dice_loss(-confident, target, smooth=0.0) == pytest.approx(1.0, abs=1e-4)
    binary = confident[:, 1:] - confident[:, :1]
    assert losses.soft_dice_loss(binary, target.float(), mode="binary") == pytest.approx(
        0.0, abs=1e-4)


@pytest.mark.parametrize("loss", [losses.soft_dice_loss, losses.soft_jaccard_loss,
                                  losses.tversky_loss, losses.focal_loss, losses.cross_entropy])
def test_each_loss_is_differentiable_and_drives_learning(loss):
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, :3] = 1
    logits = torch.zeros(1, 2, 8, 8, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=50.0)
    start = loss(logits, target).item()
    for _ in range(20):
        value = loss(logits, target)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    assert value.item() < start / 4
    assert torch.equal(logits.argmax(1), target)


# ------------------------------------------------------------------ combinations


def test_weighted_sum_adds_its_terms_and_reads_ignore_index():
    logits, target = random_case("multiclass")
    target[0, 0] = 255
    ce = functools.partial(losses.cross_entropy, ignore_index=255)
    dice = functools.partial(losses.soft_dice_loss, ignore_index=255, smooth=0.5)
    total = losses.WeightedSum((1.0, ce), (0.25, dice))
    assert total(logits, target).item() == pytest.approx(
        ce(logits, target).item() + 0.25 * dice(logits, target).item())
    assert total.ignore_index == 255
    assert "0.25 * soft_dice_loss(ignore_index=255, smooth=0.5)" in repr(total)
    nested = losses.WeightedSum((2, total), (1, torch.nn.CrossEntropyLoss(ignore_index=255)))
    assert nested.ignore_index == 255
    from coursekit import train
    assert train._loss_ignore_index(total) == 255       # fit counts accuracy on the same pixels


def test_weighted_sum_refuses_bad_terms():
    with pytest.raises(ValueError, match="terms: expected at least one"):
        losses.WeightedSum()
    with pytest.raises(TypeError, match=r"terms\[0\]: expected a \(weight, loss function\) pair"):
        losses.WeightedSum(losses.cross_entropy)
    with pytest.raises(TypeError, match=r"terms\[1\]: expected a \(weight, loss function\)"):
        losses.WeightedSum((1, losses.cross_entropy), (losses.soft_dice_loss, 1))
    with pytest.raises(ValueError, match=r"terms\[0\]: expected a number >= 0, got -1.0"):
        losses.WeightedSum((-1, losses.cross_entropy))
    with pytest.raises(ValueError, match=r"terms: expected losses that ignore the same label"):
        losses.WeightedSum((1, functools.partial(losses.cross_entropy, ignore_index=255)),
                           (1, functools.partial(losses.soft_dice_loss, ignore_index=0)))


def test_cross_entropy_dice_is_the_same_number_as_before():
    logits, target = random_case("multiclass", n=3, classes=4, size=6)
    target[0, 0] = 255
    weight = torch.tensor([1.0, 2.0, 0.5, 1.0])
    old = (losses.cross_entropy(logits, target, weight=weight, ignore_index=255)
           + 0.3 * losses.soft_dice_loss(logits, target, smooth=2.0, ignore_index=255))
    new = losses.cross_entropy_dice(logits, target, dice_weight=0.3, weight=weight,
                                    ignore_index=255, smooth=2.0)
    assert new.item() == old.item()


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_gradients_match_finite_differences(name, loss, mode):
    logits, target = random_case(mode, n=2, classes=3, size=2, seed=1, dtype=torch.float64)
    logits.requires_grad_(True)
    target.view(-1)[0] = 255                           # one ignored pixel, on every path
    settings_ = {"ignore_index": 255}
    if name.startswith("focal_loss"):
        settings_["gamma"] = 1.5
    assert torch.autograd.gradcheck(lambda z: loss(z, target, **settings_), (logits,))


def test_gradients_of_label_smoothing_weights_pos_weight_alpha_and_tversky():
    logits, target = random_case("multiclass", n=2, classes=3, size=2, dtype=torch.float64)
    logits.requires_grad_(True)
    weight = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    checks = [lambda z: losses.cross_entropy(z, target, weight=weight, label_smoothing=0.1),
              lambda z: losses.focal_loss(z, target, gamma=0.5, alpha=weight),
              lambda z: losses.tversky_loss(z, target, alpha=0.3, beta=0.7, smooth=0)]
    for check in checks:
        assert torch.autograd.gradcheck(check, (logits,))
    blogits, btarget = random_case("binary", n=2, size=2, dtype=torch.float64)
    blogits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z: losses.binary_cross_entropy(z, btarget, pos_weight=3.0), (blogits,))
    assert torch.autograd.gradcheck(
        lambda z: losses.focal_loss(z, btarget, "binary", alpha=0.25), (blogits,))


# ------------------------------------------------------------------ every input of the decisions


def plain_value(loss, logits, target, **settings_):
    return loss(logits, target, **settings_).item()


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_every_integer_and_bool_target_dtype_gives_the_same_loss(name, loss, mode):
    logits, target = random_case(mode, classes=2)    # 0/1 only, so bool fits every mode
    expected = plain_value(loss, logits, target)
    dtypes = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.bool]
    if mode != "multiclass":
        dtypes.append(torch.float32)
    for dtype in dtypes:
        assert plain_value(loss, logits, target.to(dtype)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_uint8_targets_with_255_ignored_and_21_classes(name, loss, mode):
    logits, target = random_case(mode, classes=21, size=5)
    target.view(-1)[::3] = 255
    expected = plain_value(loss, logits, target, ignore_index=255)
    assert plain_value(loss, logits, target.to(torch.uint8), ignore_index=255) == pytest.approx(
        expected, rel=1e-6)
    with pytest.raises(ValueError, match="target: expected"):      # 255 without ignore_index
        loss(logits, target)


@pytest.mark.parametrize("name, loss, mode", [c for c in LOSSES if c[2] == "binary"],
                         ids=[c[0] for c in LOSSES if c[2] == "binary"])
def test_binary_layouts_n_1_h_w_and_n_h_w_are_the_same(name, loss, mode):
    logits, target = random_case("binary")
    expected = plain_value(loss, logits, target)
    for z, t in [(logits[:, 0], target), (logits, target[:, 0]), (logits[:, 0], target[:, 0])]:
        assert plain_value(loss, z, t) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_non_contiguous_and_channels_last_logits(name, loss, mode):
    logits, target = random_case(mode)
    expected = plain_value(loss, logits, target)
    strided = logits.repeat_interleave(2, dim=-1)[..., ::2]
    assert not strided.is_contiguous()
    wide_target = target.repeat_interleave(2, dim=-1)[..., ::2]
    for z, t in [(strided, target), (logits.contiguous(memory_format=torch.channels_last), target),
                 (logits, wide_target), (logits.transpose(2, 3).contiguous().transpose(2, 3),
                                         target)]:
        assert plain_value(loss, z, t) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_nothing_to_count_gives_0_with_zero_gradient(name, loss, mode):
    logits, target = random_case(mode)
    for z, t, settings_ in [(logits[:0], target[:0], {}),                       # empty batch
                            (logits, torch.full_like(target, 255), {"ignore_index": 255})]:
        z = z.clone().requires_grad_(True)
        value = loss(z, t, **settings_)
        assert value.item() == 0.0 and value.dtype == torch.float32
        value.backward()
        assert torch.equal(z.grad, torch.zeros_like(z))


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_a_batch_of_one_with_a_one_pixel_object(name, loss, mode):
    """Confident logits (+-10): near 0 when the one pixel is found, clearly more when not."""
    if mode == "multiclass":
        target = torch.zeros(1, 5, 5, dtype=torch.long)
        target[0, 2, 3] = 2                                  # one pixel of class 2
        found = F.one_hot(target, 3).movedim(-1, 1).float() * 20 - 10
        missed = F.one_hot(torch.zeros_like(target), 3).movedim(-1, 1).float() * 20 - 10
    else:
        target = torch.zeros(1, 1 if mode == "binary" else 3, 5, 5, dtype=torch.long)
        target[0, :, 2, 3] = 1
        found, missed = target.float() * 20 - 10, torch.full(target.shape, -10.0)
    assert 0 <= loss(found, target).item() < 0.01
    assert loss(missed, target).item() > 0.1


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
def test_nan_logits_give_a_nan_loss_like_torch(name, loss, mode):
    logits, target = random_case(mode)
    logits.view(-1)[0] = math.nan
    assert math.isnan(loss(logits, target).item())


@pytest.mark.parametrize("name, loss, mode", LOSSES, ids=LOSS_IDS)
@pytest.mark.parametrize("dtype, tolerance", [(torch.float16, 3e-3), (torch.bfloat16, 2e-2)])
def test_half_precision_is_finite_and_close_to_float32(name, loss, mode, dtype, tolerance):
    """(2, 2, 256, 256): a class's sums reach 65,536 and more, beyond float16's 65,504."""
    logits, target = random_case(mode, n=2, classes=2, size=256, seed=3)
    full = loss(logits, target)
    low = loss(logits.to(dtype), target)
    assert low.dtype == torch.float32 and torch.isfinite(low)
    assert low.item() == pytest.approx(full.item(), abs=tolerance)


def test_float64_logits_stay_float64():
    for name, loss, mode in LOSSES:
        logits, target = random_case(mode, dtype=torch.float64)
        assert loss(logits, target).dtype == torch.float64, name


# ------------------------------------------------------------------ bad inputs


def test_bad_input_gets_a_clear_error():
    logits = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"target: expected \(N, H, W\)"):
        losses.cross_entropy(logits, torch.zeros(2, 1, 4, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="target: expected an integer tensor"):
        losses.cross_entropy(logits, torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"class indices in 0..2, found values 0..5"):
        losses.soft_dice_loss(logits, torch.tensor([0, 5]).repeat(16).reshape(2, 4, 4))
    with pytest.raises(ValueError, match="mode: expected one of"):
        losses.soft_dice_loss(logits, torch.zeros(2, 4, 4, dtype=torch.long), mode="multi")
    with pytest.raises(ValueError, match="target: expected only 0 and 1"):
        losses.binary_cross_entropy(torch.zeros(2, 4, 4), torch.full((2, 4, 4), 2.0))
    with pytest.raises(TypeError, match="logits: expected a float tensor"):
        losses.binary_cross_entropy(torch.zeros(2, 4, 4, dtype=torch.long), torch.zeros(2, 4, 4))


BAD_SETTINGS = [
    (losses.soft_dice_loss, {"mode": "multi"}, ValueError,
     "mode: expected one of 'binary', 'multiclass', 'multilabel', got 'multi'"),
    (losses.focal_loss, {"mode": "multilabel"}, ValueError,
     "mode: expected one of 'binary', 'multiclass', got 'multilabel'"),
    (losses.soft_dice_loss, {"smooth": -1}, ValueError, "smooth: expected a number >= 0"),
    (losses.soft_jaccard_loss, {"smooth": math.nan}, ValueError, "smooth: expected"),
    (losses.tversky_loss, {"smooth": True}, TypeError, "smooth: expected a number"),
    (losses.soft_dice_loss, {"eps": 0}, ValueError, "eps: expected a number > 0"),
    (losses.tversky_loss, {"alpha": -0.1}, ValueError, "alpha: expected a number >= 0"),
    (losses.tversky_loss, {"beta": math.inf}, ValueError, "beta: expected"),
    (losses.tversky_loss, {"alpha": 0, "beta": 0}, ValueError, "beta: expected alpha \\+ beta > 0"),
    (losses.focal_loss, {"gamma": -1}, ValueError, "gamma: expected a number >= 0"),
    (losses.focal_loss, {"gamma": "2"}, TypeError, "gamma: expected a number"),
    (losses.focal_loss, {"alpha": 0.25}, TypeError, r"alpha: expected None or a \(3,\) float"),
    (losses.focal_loss, {"alpha": torch.ones(2)}, ValueError, "alpha: expected 3 finite weights"),
    (losses.focal_loss, {"alpha": torch.tensor([1.0, -1.0, 1.0])}, ValueError, "alpha: expected"),
    (losses.cross_entropy, {"label_smoothing": 1.5}, ValueError,
     r"label_smoothing: expected a number >= 0 and <= 1"),
    (losses.cross_entropy, {"weight": torch.ones(2)}, ValueError, "weight: expected 3 finite"),
    (losses.cross_entropy, {"ignore_index": 2.5}, TypeError, "ignore_index: expected an int"),
]


@pytest.mark.parametrize("loss, settings_, error, message", BAD_SETTINGS,
                         ids=[f"{b[0].__name__}-{list(b[1])}" for b in BAD_SETTINGS])
def test_bad_settings_get_a_clear_error(loss, settings_, error, message):
    logits, target = random_case("multiclass")
    with pytest.raises(error, match=message):
        loss(logits, target, **settings_)


def test_bad_binary_settings_and_layouts_get_a_clear_error():
    logits, target = random_case("binary")
    with pytest.raises(ValueError, match=r"alpha: expected a number >= 0 and <= 1, got 1.5"):
        losses.focal_loss(logits, target, "binary", alpha=1.5)
    with pytest.raises(ValueError, match=r"pos_weight: expected a number > 0"):
        losses.binary_cross_entropy(logits, target, pos_weight=0)
    with pytest.raises(TypeError, match=r"pos_weight: expected a number"):
        losses.binary_cross_entropy(logits, target, pos_weight=torch.ones(2))
    with pytest.raises(ValueError, match=r"logits: expected \(N, 1, H, W\) or \(N, H, W\) in "
                                         r"binary mode.*'multilabel'"):
        losses.soft_dice_loss(torch.zeros(2, 3, 4, 4), target, "binary")
    with pytest.raises(ValueError, match=r"target: expected the shape of logits \(2, 3, 4, 4\) "
                                         r"in multilabel mode"):
        losses.soft_dice_loss(torch.zeros(2, 3, 4, 4), target, "multilabel")
    with pytest.raises(ValueError, match=r"target: expected only 0 and 1"):
        losses.tversky_loss(torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5), "multilabel")
    with pytest.raises(ValueError, match=r"logits: expected \(N, C, H, W\) for a target"):
        losses.soft_dice_loss(torch.zeros(3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"logits: expected C >= 2 class scores"):
        losses.focal_loss(logits, target[:, 0])


# ------------------------------------------------------------------ random cases


def overlap_reference(logits, target, mode, alpha, beta, smooth, ignore_index):
    """1 - mean Tversky index, straight from the docstrings, in float64 (Dice: alpha = beta
    = 1/2 with smooth doubled; Jaccard: alpha = beta = 1)."""
    z, t = logits.double(), target.long()
    if mode == "binary":
        z, t = z.reshape(z.shape[0], 1, -1), t.reshape(t.shape[0], 1, -1)
    valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
    if mode == "multiclass":
        p = z.softmax(dim=1)
        y = F.one_hot(t.where(valid, 0), z.shape[1]).movedim(-1, 1).double()
        valid = valid[:, None]
    else:
        p, y = torch.sigmoid(z), t.where(valid, 0).double()
    p, y = p * valid, y * valid
    dims = [0] + list(range(2, p.dim()))
    tp, fp, fn = (p * y).sum(dims), (p * (1 - y)).sum(dims), ((1 - p) * y).sum(dims)
    score = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth).clamp(min=1e-7)
    present = y.sum(dims) > 0
    return 1 - (score[present].mean() if mode == "multiclass" else score.mean())


def focal_reference(logits, target, mode, gamma, ignore_index):
    """-(1 - p_t)^gamma log p_t over the pixels that count, in float64, the naive way."""
    z, t = logits.double(), target.long()
    if mode == "binary":
        z, t = z.reshape(-1), t.reshape(-1)
        valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
        p = torch.sigmoid(z[valid])
        p_t = torch.where(t[valid] == 1, p, 1 - p)
    else:
        valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
        p = z.softmax(dim=1).movedim(1, -1)[valid]                  # (pixels, C)
        p_t = p.gather(1, t[valid][:, None])[:, 0]
    return (-(1 - p_t) ** gamma * p_t.log()).mean()


@st.composite
def labelled_logits(draw):
    """(logits, target, mode, ignore_index) on a random shape, class count and target dtype."""
    mode = draw(st.sampled_from(["multiclass", "binary", "multilabel"]))
    classes = 1 if mode == "binary" else draw(st.integers(2, 6))
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ignore = draw(st.sampled_from([None, 255]))
    seed = draw(st.integers(0, 2 ** 16))
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, h, w, generator=g) * draw(st.sampled_from([0.5, 3.0]))
    if mode == "multiclass":
        target = torch.randint(classes, (n, h, w), generator=g)
        dtypes = [torch.uint8, torch.int16, torch.int32, torch.int64]
    else:
        target = torch.randint(2, (n, classes, h, w), generator=g)
        dtypes = [torch.uint8, torch.int32, torch.int64, torch.float32]
    if ignore is not None:
        target = torch.where(torch.rand(target.shape, generator=g) < 0.3, ignore, target)
    return logits, target.to(draw(st.sampled_from(dtypes))), mode, ignore


@settings(max_examples=60, deadline=None)
@given(labelled_logits(), st.sampled_from([0.0, 1.0]),
       st.sampled_from([(0.5, 0.5), (1.0, 1.0), (0.3, 0.7)]))
def test_overlap_losses_equal_the_float64_reference(case, smooth, alpha_beta):
    logits, target, mode, ignore = case
    alpha, beta = alpha_beta
    nothing = ignore is not None and bool((target == ignore).all())
    got = losses.tversky_loss(logits, target, mode, alpha, beta, smooth, ignore_index=ignore)
    want = 0.0 if nothing else overlap_reference(logits, target, mode, alpha, beta, smooth,
                                                 ignore).item()
    assert got.item() == pytest.approx(want, abs=1e-5)
    dice = losses.soft_dice_loss(logits, target, mode, 2 * smooth, ignore_index=ignore)
    want = 0.0 if nothing else overlap_reference(logits, target, mode, 0.5, 0.5, smooth,
                                                 ignore).item()
    assert dice.item() == pytest.approx(want, abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(labelled_logits(), st.sampled_from([0.0, 0.5, 2.0]))
def test_focal_loss_equals_the_float64_reference(case, gamma):
    logits, target, mode, ignore = case
    if mode == "multilabel":
        mode, logits, target = "binary", logits[:, :1], target[:, :1]
    got = losses.focal_loss(logits, target, mode, gamma=gamma, ignore_index=ignore)
    if ignore is not None and bool((target == ignore).all()):
        assert got.item() == 0.0
        return
    want = focal_reference(logits, target, mode, gamma, ignore)
    assert got.item() == pytest.approx(want.item(), rel=1e-5, abs=1e-7)
