# Public tests written by otter assign from solutions/06-losses.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(soft_iou_loss):
    """the example batch above: (2, 1, 2, 3) logits, (2, 2, 3) target"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'loss = 1 - (sum(p y) + smooth) / (sum(p) + sum(y) - sum(p y) + smooth), p = sigmoid(logits), sums over every pixel of the batch'
    logits = torch.tensor([[[[2.0, -1.0, 0.5], [-3.0, 1.0, 0.0]]], [[[0.0, 0.5, -2.0], [4.0, -4.0, 1.5]]]])
    target = torch.tensor([[[1, 0, 1], [0, 0, 0]], [[0, 0, 0], [1, 0, 1]]])
    expected = losses.soft_jaccard_loss(logits, target, mode='binary')
    with computed_by_hand():
        got = call(soft_iou_loss, 'soft_iou_loss', logits, target)
    p, y = (torch.sigmoid(logits).reshape(-1), target.float().reshape(-1))
    known_mistakes = [(1 - ((p * y).sum() + 1) / (p.sum() + y.sum() + 1), 'the union is sum(p) + sum(y) - sum(p y): did you subtract the intersection?'), (1 - (p * y).sum() / (p.sum() + y.sum() - (p * y).sum()), 'did you add smooth to both the numerator and the denominator?'), (1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1), 'that is the Dice loss: IoU is sum(p y) over the union, no factor 2')]
    hint = formula
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        hint = next((h for wrong, h in known_mistakes if abs(float(got) - float(wrong)) < 0.0001), hint)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'soft_iou_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'the example', hint)

@test_case(points=None, hidden=False)
def test_empty_mask(soft_iou_loss):
    """a target with no foreground: IoU = smooth / (sum(p) + smooth)"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail
    formula = 'loss = 1 - (sum(p y) + smooth) / (sum(p) + sum(y) - sum(p y) + smooth), p = sigmoid(logits), sums over every pixel of the batch'
    empty = 'with no foreground the formula gives smooth / (sum(p) + smooth) by itself: no special case'
    logits = torch.tensor([[[[-2.0, -1.0], [0.0, -3.0]]]])
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    expected = losses.soft_jaccard_loss(logits, target, mode='binary')
    got = call(soft_iou_loss, 'soft_iou_loss', logits, target)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'soft_iou_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'an empty mask', empty)

