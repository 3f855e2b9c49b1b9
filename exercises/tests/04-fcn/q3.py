# Public tests written by otter assign from solutions/04-fcn.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_a_3x3_kernel_on_4x4(conv_matrix):
    """a 3x3 kernel on a 4x4 image, stride 1: C is (4, 16) and C @ x is F.conv2d"""
    import torch
    from coursekit.fcn import conv_matrix as reference
    from coursekit.grading import expect_result
    kernel = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    expect_result(conv_matrix, 'conv_matrix', dict(kernel=kernel, height=4, width=4), reference(kernel[None, None], (4, 4)), hint='column j is F.conv2d of the j-th unit image, flattened: C[i, j] is the weight with which output i reads input pixel j', shape_hints={(16, 4): 'C has one row per output value and one column per input pixel: (4, 16), did you transpose it?'})

@test_case(points=None, hidden=False)
def test_stride_2_on_a_non_square_image(conv_matrix):
    """a 2x2 kernel on a 5x6 image, stride 2: C is (6, 30)"""
    import torch
    from coursekit.fcn import conv_matrix as reference
    from coursekit.grading import expect_result
    kernel = torch.randn(2, 2, generator=torch.Generator().manual_seed(1))
    expect_result(conv_matrix, 'conv_matrix', dict(kernel=kernel, height=5, width=6, stride=2), reference(kernel[None, None], (5, 6), stride=2), hint='with stride 2 the windows start 2 pixels apart: H_out = (5 - 2) // 2 + 1 = 2 and W_out = (6 - 2) // 2 + 1 = 3; flatten x row by row (x.flatten())')

