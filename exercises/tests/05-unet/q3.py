# Public tests written by otter assign from solutions/05-unet.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_by_hand(border_weight):
    """the row 1 0 0 1 0 1 1 (1 = cell): d1 + d2 = 3 at its first two membrane pixels,
    2 at the last"""
    import math
    import torch
    from coursekit.grading import expect_result
    d1, d2 = (torch.tensor([1.0, 2.0, 1.0]), torch.tensor([2.0, 1.0, 1.0]))
    expected = torch.tensor([10 * math.exp(-9 / 50), 10 * math.exp(-9 / 50), 10 * math.exp(-4 / 50)])
    expect_result(border_weight, 'border_weight', dict(d1=d1, d2=d2), expected, hint='(d1 + d2) ** 2, not d1 ** 2 + d2 ** 2; with sigma 5 the denominator 2 sigma^2 is 50')

@test_case(points=None, hidden=False)
def test_w0_and_sigma(border_weight):
    """w0 and sigma are used: w0 where d1 + d2 = 0; sigma 2 on a 2x2 map"""
    import torch
    from coursekit.grading import expect_result
    zeros = torch.zeros(2, 3)
    expect_result(border_weight, 'border_weight', dict(d1=zeros, d2=zeros, w0=3.0), torch.full((2, 3), 3.0), hint='at d1 + d2 = 0 the term is w0 itself')
    d1, d2 = (torch.tensor([[1.0, 0.0], [2.0, 0.5]]), torch.tensor([[1.0, 1.0], [3.0, 0.5]]))
    expected = 10 * torch.exp(-(d1 + d2) ** 2 / 8)
    expect_result(border_weight, 'border_weight', dict(d1=d1, d2=d2, sigma=2.0), expected, hint='2 sigma^2 with sigma = 2 is 8')

