# Public tests written by otter assign from solutions/02-concepts.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_hand_checked(conv2d_unfold):
    """a 2x2 kernel of ones on the 4x4 image 0, 1, ..., 15 adds up each 2x2 window"""
    import torch
    from coursekit.grading import expect_result
    kwargs = dict(x=torch.arange(16.0).reshape(1, 1, 4, 4), weight=torch.ones(1, 1, 2, 2))
    expected = torch.tensor([[[[10.0, 14, 18], [26, 30, 34], [42, 46, 50]]]])
    expect_result(conv2d_unfold, 'conv2d_unfold', kwargs, expected, forbid=['conv2d'], hint='output[0, 0, i, j] should be x[0, 0, i:i+2, j:j+2].sum()')

@test_case(points=None, hidden=False)
def test_channels_and_bias(conv2d_unfold):
    """2 images, 3 input and 4 output channels and a bias: the same as F.conv2d"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import expect_result
    g = torch.Generator().manual_seed(0)
    x, weight = (torch.randn(2, 3, 6, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g))
    bias = torch.randn(4, generator=g)
    expect_result(conv2d_unfold, 'conv2d_unfold', dict(x=x, weight=weight, bias=bias), F.conv2d(x, weight, bias), forbid=['conv2d'], hint='output channel o sums over every input channel of the window, times weight[o], plus bias[o]')

@test_case(points=None, hidden=False)
def test_padding(conv2d_unfold):
    """padding=1 keeps a 5x5 image 5x5 under a 3x3 kernel"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import expect_result
    g = torch.Generator().manual_seed(1)
    x, weight = (torch.randn(1, 1, 5, 5, generator=g), torch.randn(2, 1, 3, 3, generator=g))
    expect_result(conv2d_unfold, 'conv2d_unfold', dict(x=x, weight=weight, padding=1), F.conv2d(x, weight, padding=1), forbid=['conv2d'], shape_hints={(1, 2, 3, 3): 'did you forget the padding?'}, hint='pad with zeros on all four sides, e.g. F.pad(x, (1, 1, 1, 1))')

@test_case(points=None, hidden=False)
def test_stride(conv2d_unfold):
    """stride=2 moves the kernel 2 pixels at a time: a 7x7 image and a 3x3 kernel give 3x3"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import expect_result
    g = torch.Generator().manual_seed(2)
    x, weight = (torch.randn(1, 1, 7, 7, generator=g), torch.randn(2, 1, 3, 3, generator=g))
    expect_result(conv2d_unfold, 'conv2d_unfold', dict(x=x, weight=weight, stride=2), F.conv2d(x, weight, stride=2), forbid=['conv2d'], shape_hints={(1, 2, 5, 5): 'did you forget the stride?'}, hint='window (i, j) starts at row i * stride and column j * stride')

