# Public tests written by otter assign from solutions/06-losses.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(focal_loss):
    """the example batch above, gamma = 2"""
    import torch
    import torch.nn.functional as F
    from coursekit import losses
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'focal = the mean over every pixel of -(1 - p_t) ** gamma * log(p_t), p_t = p where y = 1 and 1 - p where y = 0'
    logits = torch.tensor([[[[2.0, -1.0, 0.5], [-3.0, 1.0, 0.0]]], [[[0.0, 0.5, -2.0], [4.0, -4.0, 1.5]]]])
    target = torch.tensor([[[1, 0, 1], [0, 0, 0]], [[0, 0, 0], [1, 0, 1]]])
    expected = losses.focal_loss(logits, target, mode='binary', gamma=2.0)
    with computed_by_hand():
        got = call(focal_loss, 'focal_loss', logits, target)
    z, y = (logits.reshape(-1), target.float().reshape(-1))
    cost = F.binary_cross_entropy_with_logits(z, y, reduction='none')
    p, p_t = (torch.sigmoid(z), torch.exp(-cost))
    known_mistakes = [(((1 - p_t) ** 2 * cost).sum(), 'take the mean over the pixels (.mean()), not the sum'), (cost.mean(), "that is the plain cross-entropy: multiply each pixel's cost by (1 - p_t) ** gamma"), (((1 - p) ** 2 * cost).mean(), 'p_t is p where y = 1 and 1 - p where y = 0: the factor is (1 - p_t) ** gamma, not (1 - p) ** gamma'), ((p_t ** 2 * cost).mean(), 'the factor is (1 - p_t) ** gamma, not p_t ** gamma')]
    hint = formula
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        hint = next((h for wrong, h in known_mistakes if abs(float(got) - float(wrong)) < 0.0001), hint)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'focal_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'the example', hint)

@test_case(points=None, hidden=False)
def test_gamma_zero_is_cross_entropy(focal_loss):
    """with gamma = 0 the focal loss is F.binary_cross_entropy_with_logits"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import call, _fail
    formula = 'focal = the mean over every pixel of -(1 - p_t) ** gamma * log(p_t), p_t = p where y = 1 and 1 - p where y = 0'
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 4, 5, generator=g) * 2
    target = (torch.rand(2, 4, 5, generator=g) < 0.5).long()
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], target.float())
    got = call(focal_loss, 'focal_loss', logits, target, gamma=0.0)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'focal_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'gamma=0', 'with gamma = 0 the factor (1 - p_t) ** 0 is 1: the mean of -log p_t over every pixel, which is the mean binary cross-entropy')

@test_case(points=None, hidden=False)
def test_confident_pixels(focal_loss):
    """logits of +-200, right and wrong: finite, and a wrong pixel costs about 200"""
    import torch
    from coursekit import losses
    from coursekit.grading import call, _fail
    formula = 'focal = the mean over every pixel of -(1 - p_t) ** gamma * log(p_t), p_t = p where y = 1 and 1 - p where y = 0'
    stable = 'compute log p_t from the logits (F.binary_cross_entropy_with_logits or F.logsigmoid), never as log(sigmoid(z)), which is -inf once sigmoid rounds to 0'
    logits = torch.tensor([[[[200.0, -200.0], [-200.0, 200.0]]]])
    target = torch.tensor([[[1, 1], [0, 0]]])
    expected = losses.focal_loss(logits, target, mode='binary')
    got = call(focal_loss, 'focal_loss', logits, target)

    def check(answer, reference, what, hint='', tolerance=0.0001):
        what = f'focal_loss on {what}'
        if not isinstance(answer, torch.Tensor) or answer.dim() != 0:
            shown = f'a tensor of shape {tuple(answer.shape)}' if isinstance(answer, torch.Tensor) else repr(answer)
            _fail(f'{what} returned {shown}, expected a 0-dim tensor', 'return a tensor made of .sum() or .mean() of tensors (no .item())')
        close = torch.isclose(answer.detach().double(), reference.double(), rtol=tolerance, atol=tolerance / 10)
        if not close:
            _fail(f'{what} returned {float(answer):.4g}, expected {float(reference):.4g}', hint or formula)
    check(got, expected, 'logits of +-200', stable)

