# Public tests written by otter assign from solutions/04-fcn.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_layer_and_size(bilinear_upsampler):
    """a ConvTranspose2d that takes (1, 3, 5, 6) to (1, 3, 10, 12) with factor 2"""
    import torch
    from torch import nn
    from coursekit.grading import call, expect_equal, _fail
    up = call(bilinear_upsampler, 'bilinear_upsampler', channels=3, factor=2)
    if not isinstance(up, nn.ConvTranspose2d):
        _fail(f'bilinear_upsampler(channels=3, factor=2) returned a {type(up).__name__}, expected an nn.ConvTranspose2d')
    out = up(torch.zeros(1, 3, 5, 6))
    expect_equal(tuple(out.shape), (1, 3, 10, 12), 'bilinear_upsampler(3, 2) on (1, 3, 5, 6)', hint='check the padding: kernel 4, stride 2, padding (4 - 2) // 2 = 1')

@test_case(points=None, hidden=False)
def test_equals_interpolate_inside(bilinear_upsampler):
    """factor 2: away from the border, the same numbers as F.interpolate (bilinear)"""
    import torch
    import torch.nn.functional as F
    from coursekit.grading import call, expect_tensor
    x = torch.randn(2, 3, 6, 7, generator=torch.Generator().manual_seed(0))
    up = call(bilinear_upsampler, 'bilinear_upsampler', channels=3, factor=2)
    with torch.no_grad():
        got = up(x)
    expected = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
    expect_tensor(got[..., 2:-2, 2:-2], expected[..., 2:-2, 2:-2], 'bilinear_upsampler(3, 2)(x) away from the border', hint='the 1-D tent for factor 2 is (0.25, 0.75, 0.75, 0.25); every channel needs it (weight shape (3, 1, 4, 4) with groups=3)')

