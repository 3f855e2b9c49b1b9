"""coursekit.losses: values checked by hand and against torch, wrong inputs caught."""

import pytest
import torch
import torch.nn.functional as F

from coursekit import losses


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


def test_soft_dice_is_zero_when_perfect_and_near_one_when_disjoint():
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, 2:6, 2:6] = 1
    confident = F.one_hot(target, 2).permute(0, 3, 1, 2).float() * 40 - 20
    assert losses.soft_dice_loss(confident, target) == pytest.approx(0.0, abs=1e-4)
    assert losses.soft_dice_loss(-confident, target, smooth=0.0) == pytest.approx(1.0, abs=1e-4)
    binary = confident[:, 1:] - confident[:, :1]
    assert losses.soft_dice_loss(binary, target.float(), mode="binary") == pytest.approx(
        0.0, abs=1e-4)


def test_soft_dice_by_hand():
    # one image, binary: p = (0.5, 0.5, 0.5, 0.5), y = (1, 1, 0, 0) -> 2 * 1 / (2 + 2)
    logits, target = torch.zeros(1, 1, 2, 2), torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    assert losses.soft_dice_loss(logits, target, "binary", smooth=0.0) == pytest.approx(0.5)


def test_dice_loss_is_differentiable_and_drives_learning():
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[0, :3] = 1
    logits = torch.zeros(1, 2, 8, 8, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=50.0)
    start = losses.soft_dice_loss(logits, target).item()
    for _ in range(20):
        loss = losses.soft_dice_loss(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < start / 4
    assert torch.equal(logits.argmax(1), target)


def test_bad_input_gets_a_clear_error():
    logits = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"target: expected \(N, H, W\)"):
        losses.cross_entropy(logits, torch.zeros(2, 1, 4, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="target: expected an integer tensor"):
        losses.cross_entropy(logits, torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"class indices in 0..2, found values 0..5"):
        losses.soft_dice_loss(logits, torch.tensor([0, 5]).repeat(16).reshape(2, 4, 4))
    with pytest.raises(ValueError, match="mode: expected one of"):
        losses.soft_dice_loss(logits, torch.zeros(2, 4, 4, dtype=torch.long), mode="multilabel")
    with pytest.raises(ValueError, match="target: expected only 0 and 1"):
        losses.binary_cross_entropy(torch.zeros(2, 4, 4), torch.full((2, 4, 4), 2.0))
    with pytest.raises(TypeError, match="logits: expected a float tensor"):
        losses.binary_cross_entropy(torch.zeros(2, 4, 4, dtype=torch.long), torch.zeros(2, 4, 4))
