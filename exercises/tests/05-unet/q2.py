# Public tests written by otter assign from solutions/05-unet.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_shape(UpStep):
    """x (2, 16, 4, 4) and skip (2, 8, 8, 8) give (2, 8, 8, 8)"""
    import torch
    from coursekit.grading import call, expect_equal
    x, skip = (torch.randn(2, 16, 4, 4), torch.randn(2, 8, 8, 8))
    out = call(lambda x, skip: UpStep(16, 8)(x, skip), 'UpStep(16, 8)', x, skip)
    expect_equal(tuple(out.shape), (2, 8, 8, 8), 'UpStep(16, 8) on x (2, 16, 4, 4), skip (2, 8, 8, 8)', hint='up: ConvTranspose2d(16, 8, 2, stride=2) gives (2, 8, 8, 8); with the skip that is 16 channels, which DoubleConv(16, 8) takes to 8')

@test_case(points=None, hidden=False)
def test_skip_order(UpStep):
    """the skip's channels come first in the concatenation"""
    import torch
    from coursekit.grading import call, expect_tensor, _fail
    from coursekit.unet import Up as Reference
    g = torch.Generator().manual_seed(0)
    step, reference = (call(lambda: UpStep(8, 4), 'UpStep(8, 4)'), Reference(8, 4))
    mine, theirs = (list(step.state_dict().values()), list(reference.state_dict().values()))
    if [tuple(t.shape) for t in mine] != [tuple(t.shape) for t in theirs]:
        _fail('UpStep(8, 4) does not have the layers asked for: self.up, a ConvTranspose2d(8, 4, 2, stride=2), then self.conv, a DoubleConv(8, 4)')
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    step.load_state_dict(dict(zip(step.state_dict(), reference.state_dict().values(), strict=True)))
    step.eval()
    reference.eval()
    x, skip = (torch.randn(1, 8, 3, 3, generator=g), torch.randn(1, 4, 6, 6, generator=g))
    with torch.no_grad():
        got, expected = (step(x, skip), reference(x, skip))
        up = reference.up(x)
        swapped = reference.conv(torch.cat([up, skip], dim=1))
    if torch.allclose(got, swapped, atol=1e-05) and (not torch.allclose(got, expected, atol=1e-05)):
        _fail('the skip must come first: torch.cat([skip, x], dim=1)')
    expect_tensor(got, expected, 'UpStep(8, 4)(x, skip)', hint='upsample x with self.up, concatenate [skip, x] on dim=1, then self.conv')

