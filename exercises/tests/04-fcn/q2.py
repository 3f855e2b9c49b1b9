# Public tests written by otter assign from solutions/04-fcn.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_starts_as_the_coarser_net(SkipFusion):
    """freshly made, it returns the coarse scores upsampled x2: (1, 3, 8, 8)"""
    import torch
    from coursekit.fcn import bilinear_upsampler as reference_upsampler
    from coursekit.grading import call, expect_tensor
    g = torch.Generator().manual_seed(0)
    coarse, features = (torch.randn(1, 3, 4, 4, generator=g), torch.randn(1, 8, 8, 8, generator=g))
    with torch.no_grad():
        got = call(lambda c, f: SkipFusion(8, 3)(c, f), 'SkipFusion(8, 3)', coarse, features)
        expected = reference_upsampler(3, 2)(coarse)
    expect_tensor(got, expected, 'SkipFusion(8, 3)(coarse, features) at the start', hint='self.up should be fcn.bilinear_upsampler(num_classes, 2), and self.score should start at zero (nn.init.zeros_ on its weight and its bias)')

@test_case(points=None, hidden=False)
def test_adds_the_skip(SkipFusion):
    """with a non-zero score layer, the fine features change the output"""
    import torch
    from coursekit.fcn import bilinear_upsampler as reference_upsampler
    from coursekit.grading import call, expect_tensor, _fail
    g = torch.Generator().manual_seed(1)
    coarse, features = (torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 8, 8, 10, generator=g))
    fusion = call(lambda: SkipFusion(8, 3), 'SkipFusion(8, 3)')
    if not isinstance(getattr(fusion, 'score', None), torch.nn.Conv2d):
        _fail('SkipFusion has no 1x1 convolution `self.score`')
    weight, bias = (torch.randn(3, 8, 1, 1, generator=g), torch.randn(3, generator=g))
    with torch.no_grad():
        fusion.score.weight.copy_(weight)
        fusion.score.bias.copy_(bias)
        got = call(fusion, 'SkipFusion(8, 3)', coarse, features)
        other = fusion(coarse, features + 1)
        expected = reference_upsampler(3, 2)(coarse) + torch.nn.functional.conv2d(features, weight, bias)
    if torch.allclose(got, other):
        _fail('the output does not depend on the features: the skip is not added')
    expect_tensor(got, expected, 'SkipFusion(8, 3)(coarse, features)', hint='return self.up(coarse) + self.score(features)')

