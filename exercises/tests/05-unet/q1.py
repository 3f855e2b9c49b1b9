# Public tests written by otter assign from solutions/05-unet.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_shape(DoubleConv):
    """(2, 3, 16, 16) -> (2, 8, 16, 16): new channels, same height and width"""
    import torch
    from coursekit.grading import call, expect_equal
    x = torch.randn(2, 3, 16, 16)
    out = call(lambda x: DoubleConv(3, 8)(x), 'DoubleConv(3, 8)', x)
    expect_equal(tuple(out.shape), (2, 8, 16, 16), 'DoubleConv(3, 8) on (2, 3, 16, 16)', hint='padding=1 keeps the size: without it each 3x3 convolution loses a pixel on every side')

@test_case(points=None, hidden=False)
def test_parameters(DoubleConv):
    """the parameters of two bias-free 3x3 convolutions and two batch norms"""
    from coursekit.grading import call, expect_equal
    block = call(lambda: DoubleConv(3, 8), 'DoubleConv(3, 8)')
    count = sum((p.numel() for p in block.parameters()))
    expected = 3 * 8 * 9 + 2 * 8 + 8 * 8 * 9 + 2 * 8
    expect_equal(count, expected, 'the number of parameters of DoubleConv(3, 8)', hint='two 3x3 convolutions with bias=False (3*8*9 and 8*8*9 weights) and two BatchNorm2d(8) (8 weights and 8 biases each)')

