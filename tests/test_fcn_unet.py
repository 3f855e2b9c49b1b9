"""coursekit.fcn and coursekit.unet: shapes, the bilinear start, skips, clear errors."""

import pytest
import torch
import torch.nn.functional as F

from coursekit import fcn, unet


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
def test_bilinear_upsampler_equals_interpolate_away_from_the_border(factor):
    x = torch.randn(2, 3, 7, 9)
    up = fcn.bilinear_upsampler(3, factor)
    got = up(x)
    expected = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert got.shape == expected.shape == (2, 3, 7 * factor, 9 * factor)
    inner = (..., slice(factor, -factor), slice(factor, -factor))
    assert torch.allclose(got[inner], expected[inner], atol=1e-5)
    assert not torch.allclose(got, expected, atol=1e-3)  # the border does differ


def test_bilinear_kernel_by_hand():
    tent = torch.tensor([0.25, 0.75, 0.75, 0.25])
    assert torch.allclose(fcn.bilinear_kernel(2), tent[:, None] * tent[None, :])


def test_skip_fusion_starts_as_the_coarser_net():
    fusion = fcn.SkipFusion(skip_channels=8, num_classes=3)
    coarse, features = torch.randn(1, 3, 4, 4), torch.randn(1, 8, 8, 8)
    assert torch.allclose(fusion(coarse, features), fusion.up(coarse))
    with torch.no_grad():
        fusion.score.weight.fill_(1.0)
    expected = fusion.up(coarse) + features.sum(1, keepdim=True)
    assert torch.allclose(fusion(coarse, features), expected, atol=1e-5)


@pytest.mark.parametrize("variant", fcn.VARIANTS)
def test_fcn_keeps_the_input_size(variant):
    model = fcn.FCN(in_channels=1, num_classes=11, variant=variant, width=4)
    assert model(torch.randn(2, 1, 64, 96)).shape == (2, 11, 64, 96)


def test_fcn_variants_differ_only_by_their_skips():
    torch.manual_seed(0)
    m32 = fcn.FCN(1, 3, "32s", width=4)
    m8 = fcn.FCN(1, 3, "8s", width=4)
    extra = {n for n, _ in m8.named_parameters()} - {n for n, _ in m32.named_parameters()}
    assert {n.split(".")[0] for n in extra} == {"fuse16", "fuse8"}


def test_fcn_rejects_bad_sizes():
    with pytest.raises(ValueError, match="divisible by 32, got 50x64"):
        fcn.FCN(1, 2, width=4)(torch.zeros(1, 1, 50, 64))
    with pytest.raises(ValueError, match="variant: expected one of"):
        fcn.FCN(variant="4s")


@pytest.mark.parametrize("depth, upsampling, batch_norm", [
    (1, "transposed", True), (2, "bilinear", True),
    (3, "transposed", False), (4, "bilinear", False)])
def test_unet_output_has_the_input_size(depth, upsampling, batch_norm):
    model = unet.UNet(in_channels=3, num_classes=5, depth=depth, width=4,
                      batch_norm=batch_norm, upsampling=upsampling)
    side = 2 ** depth * 3
    assert model(torch.randn(2, 3, side, 2 * side)).shape == (2, 5, side, 2 * side)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert has_bn == batch_norm


def test_unet_parameter_count_by_hand():
    # depth 1, width 2, 1 input channel, 2 classes, no batch norm, transposed
    model = unet.UNet(1, 2, depth=1, width=2, batch_norm=False)
    first = (1 * 2 * 9 + 2) + (2 * 2 * 9 + 2)          # DoubleConv(1, 2)
    down = (2 * 4 * 9 + 4) + (4 * 4 * 9 + 4)           # DoubleConv(2, 4)
    up = (4 * 2 * 4 + 2) + (4 * 2 * 9 + 2) + (2 * 2 * 9 + 2)   # ConvT(4, 2, 2) + DoubleConv(4, 2)
    head = 2 * 2 + 2
    assert unet.count_parameters(model) == first + down + up + head


def test_unet_skips_carry_detail():
    """Cut the skips (zero the encoder's features in the concatenation) and the output
    changes: the decoder really reads them."""
    torch.manual_seed(0)
    model = unet.UNet(1, 2, depth=2, width=4).eval()
    x = torch.randn(1, 1, 16, 16)
    out = model(x)
    original = unet.Up.forward
    try:
        unet.Up.forward = lambda self, x, skip: original(self, x, torch.zeros_like(skip))
        assert not torch.allclose(model(x), out)
    finally:
        unet.Up.forward = original


def test_unet_rejects_bad_input():
    model = unet.UNet(1, 2, depth=3, width=4)
    with pytest.raises(ValueError, match=r"divisible by 2 \*\* depth = 8, got 60x64"):
        model(torch.zeros(1, 1, 60, 64))
    with pytest.raises(ValueError, match=r"x: expected a tensor \(N, C, H, W\)"):
        model(torch.zeros(1, 64, 64))
    with pytest.raises(ValueError, match="upsampling: expected 'transposed' or 'bilinear'"):
        unet.UNet(upsampling="nearest")
    with pytest.raises(ValueError, match="depth: expected an int >= 1"):
        unet.UNet(depth=0)
