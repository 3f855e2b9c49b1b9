# Public tests written by otter assign from solutions/06-losses.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(soft_dice_loss):
    """the example batch above: (2, 1, 2, 3) logits, (2, 2, 3) target"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'loss = 1 - (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth), p = sigmoid(logits), sums over every pixel of the batch'
    logits = torch.tensor([[[[2.0, -1.0, 0.5], [-3.0, 1.0, 0.0]]], [[[0.0, 0.5, -2.0], [4.0, -4.0, 1.5]]]])
    target = torch.tensor([[[1, 0, 1], [0, 0, 0]], [[0, 0, 0], [1, 0, 1]]])
    expected = losses.soft_dice_loss(logits, target, mode='binary')
    with computed_by_hand():
        got = call(soft_dice_loss, 'soft_dice_loss', logits, target)
    p4, y3 = (torch.sigmoid(logits), target.float())
    p, y = (p4.reshape(-1), y3.reshape(-1))

    def dice_loss(p, y):
        return 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    known_mistakes = [(1 - 2 * (p * y).sum() / (p.sum() + y.sum()), 'did you add smooth to both the numerator and the denominator?'), (dice_loss(p4, y3), '(N, 1, H, W) times (N, H, W) broadcasts to (N, N, H, W): reshape both to (-1,)'), ((dice_loss(p4[0], y3[0]) + dice_loss(p4[1], y3[1])) / 2, 'did you sum over the whole batch? One Dice for the batch, not a mean of per-image Dice'), (dice_loss(logits.reshape(-1), y), 'apply torch.sigmoid to the logits first')]
    hint = formula
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        hint = next((h for wrong, h in known_mistakes if abs(float(got) - float(wrong)) < 0.0001), hint)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'soft_dice_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'the example', hint)

@test_case(points=None, hidden=False)
def test_empty_mask(soft_dice_loss):
    """a target with no foreground: Dice = smooth / (sum(p) + smooth)"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail
    formula = 'loss = 1 - (2 sum(p y) + smooth) / (sum(p) + sum(y) + smooth), p = sigmoid(logits), sums over every pixel of the batch'
    empty = 'with no foreground the formula gives smooth / (sum(p) + smooth) by itself: no special case'
    smooth_hint = 'use the smooth argument, in the numerator and the denominator, not a fixed 1'
    logits = torch.tensor([[[[-2.0, -1.0], [0.0, -3.0]]]])
    target = torch.zeros(1, 2, 2, dtype=torch.long)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'soft_dice_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    for smooth in (1.0, 2.0):
        expected = losses.soft_dice_loss(logits, target, mode='binary', smooth=smooth)
        got = call(soft_dice_loss, 'soft_dice_loss', logits, target, smooth=smooth)
        check(got, expected, f'an empty mask, smooth={smooth}', empty if smooth == 1 else smooth_hint)

@test_case(points=None, hidden=False)
def test_gradient(soft_dice_loss):
    """a 0-dim tensor in the autograd graph: backward() gives coursekit's gradient"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, expect_tensor, _fail
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(3, 1, 6, 5, generator=g) * 2
    target = (torch.rand(3, 6, 5, generator=g) < 0.4).long()
    ours, theirs = (logits.clone().requires_grad_(), logits.clone().requires_grad_())
    losses.soft_dice_loss(ours, target, mode='binary').backward()
    loss = call(soft_dice_loss, 'soft_dice_loss', theirs, target)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        _fail('soft_dice_loss(...) returned a value without a gradient', 'keep the loss in the graph: no .item(), .detach() or thresholding of p')
    if loss.dim() != 0:
        _fail(f'soft_dice_loss(...) returned shape {tuple(loss.shape)}, expected a 0-dim tensor', 'one number for the whole batch: .sum() over every pixel')
    loss.backward()
    if theirs.grad is None:
        _fail('soft_dice_loss(...): backward() gave the logits no gradient', 'compute the loss from the logits you were given')
    expect_tensor(theirs.grad, ours.grad, 'the gradient of soft_dice_loss', hint='compute the loss from sigmoid(logits) as defined, in the graph')

