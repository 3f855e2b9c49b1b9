# Public tests written by otter assign from solutions/02-concepts.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_mnist_sizes(conv_output_size):
    """28 pixels: a 3x3 kernel gives 26, with padding=1 28, a 2x2 window with stride=2 14"""
    from coursekit.grading import expect_result
    expect_result(conv_output_size, 'conv_output_size', dict(size=28, kernel_size=3), 26, hint='a 3x3 kernel fits 28 - 3 + 1 = 26 times across 28 pixels')
    expect_result(conv_output_size, 'conv_output_size', dict(size=28, kernel_size=3, padding=1), 28, hint='padding adds `padding` zeros on each side, so 28 + 2 * 1 values')
    expect_result(conv_output_size, 'conv_output_size', dict(size=28, kernel_size=2, stride=2), 14, hint='with stride=2 each window starts 2 pixels after the previous one')

@test_case(points=None, hidden=False)
def test_rounds_down(conv_output_size):
    """7 pixels, a 2x2 window and stride=2 give 3: a window that does not fit is dropped"""
    from coursekit.grading import expect_result
    expect_result(conv_output_size, 'conv_output_size', dict(size=7, kernel_size=2, stride=2), 3, hint='(7 - 2) / 2 + 1 = 3.5: round down to a whole number, e.g. with //')

@test_case(points=None, hidden=False)
def test_dilation(conv_output_size):
    """28 pixels and a 3x3 kernel with dilation=2: 24, and 28 with padding=2"""
    from coursekit.grading import expect_result
    expect_result(conv_output_size, 'conv_output_size', dict(size=28, kernel_size=3, dilation=2), 24, hint='with dilation=2 a 3x3 kernel spans 2 * (3 - 1) + 1 = 5 pixels, so it fits 28 - 5 + 1 = 24 times')
    expect_result(conv_output_size, 'conv_output_size', dict(size=28, kernel_size=3, padding=2, dilation=2), 28, hint='the kernel spans dilation * (kernel_size - 1) + 1 pixels; padding adds 2 * padding')

