# Public tests written by otter assign from solutions/06-losses.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(soft_dice_loss_ignore):
    """the example batch above with three pixels marked 255: they count for nothing"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'leave out every pixel whose target is ignore_index (its p and its y), then the soft Dice loss of question 1 on the rest'
    logits = torch.tensor([[[[2.0, -1.0, 0.5], [-3.0, 1.0, 0.0]]], [[[0.0, 0.5, -2.0], [4.0, -4.0, 1.5]]]])
    target = torch.tensor([[[1, 255, 1], [0, 0, 255]], [[0, 0, 0], [1, 255, 1]]], dtype=torch.uint8)
    expected = losses.soft_dice_loss(logits, target, mode='binary', ignore_index=255)
    with computed_by_hand():
        got = call(soft_dice_loss_ignore, 'soft_dice_loss_ignore', logits, target)
    p, t = (torch.sigmoid(logits).reshape(-1), target.reshape(-1).float())
    counts = t != 255

    def dice_loss(p, y):
        return 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
    known_mistakes = [(dice_loss(p, t * counts), 'the ignored pixels still count, as background: leave out their p too, not only their target'), (dice_loss(p * counts, t), "the ignored pixels' target (255) still counts: leave out their target too")]
    hint = formula
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        hint = next((h for wrong, h in known_mistakes if abs(float(got) - float(wrong)) < 0.0001), hint)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'soft_dice_loss_ignore on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'the example', hint)
    if (target == 255).sum() != 3:
        _fail('soft_dice_loss_ignore changed its argument `target` in place', 'work on new tensors, e.g. with a boolean mask; never assign into target')

@test_case(points=None, hidden=False)
def test_all_ignored(soft_dice_loss_ignore):
    """every pixel ignored: a loss of 0, not NaN"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail
    formula = 'leave out every pixel whose target is ignore_index (its p and its y), then the soft Dice loss of question 1 on the rest'
    logits = torch.tensor([[[[2.0, -1.0], [0.5, -3.0]]]])
    target = torch.full((1, 2, 2), 255, dtype=torch.uint8)
    expected = losses.soft_dice_loss(logits, target, mode='binary', ignore_index=255)
    got = call(soft_dice_loss_ignore, 'soft_dice_loss_ignore', logits, target)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'soft_dice_loss_ignore on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'every pixel ignored', "no pixel counts: every sum is 0 and the loss 1 - smooth / smooth = 0 (an empty tensor's .sum() is 0; its .mean() is NaN)")

