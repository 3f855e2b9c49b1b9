# Public tests written by otter assign from solutions/02-concepts.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_hand_checked(max_pool2d):
    """2x2 pooling of a 4x4 image keeps the largest value of each 2x2 block"""
    import torch
    from coursekit.grading import expect_result
    x = torch.tensor([[[[1.0, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]]]])
    expect_result(max_pool2d, 'max_pool2d', dict(x=x, kernel_size=2), torch.tensor([[[[4.0, 8], [12, 16]]]]), forbid=['max_pool2d'], shape_hints={(1, 1, 3, 3): 'stride=None means stride = kernel_size'})

@test_case(points=None, hidden=False)
def test_sizes(max_pool2d):
    """2x2 pooling takes 28x28 to 14x14 and 7x7 to 3x3 (rounding down), channel by channel"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import expect_result
    g = torch.Generator().manual_seed(0)
    for size in (28, 7):
        x = torch.randn(2, 3, size, size, generator=g)
        expect_result(max_pool2d, 'max_pool2d', dict(x=x, kernel_size=2), F.max_pool2d(x, 2), forbid=['max_pool2d'], shape_hints={(2, 3, 4, 4): 'the size rounds down: a 2x2 window fits 3 times in 7', (2, 3, size - 1, size - 1): 'stride=None means stride = kernel_size'})

@test_case(points=None, hidden=False)
def test_overlapping(max_pool2d):
    """a 3x3 window with stride=2 (windows overlap) on a 7x7 image gives 3x3"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import expect_result
    x = torch.randn(1, 2, 7, 7, generator=torch.Generator().manual_seed(1))
    expect_result(max_pool2d, 'max_pool2d', dict(x=x, kernel_size=3, stride=2), F.max_pool2d(x, 3, stride=2), forbid=['max_pool2d'], hint='window (i, j) starts at row i * stride and column j * stride')

