"""coursekit.fcn and coursekit.unet: shapes, the bilinear start, skips, clear errors."""

import numpy as np
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
    with pytest.raises(ValueError, match=r"divisible by 32 \(and >= 32\), got 50x64"):
        fcn.FCN(1, 2, width=4)(torch.zeros(1, 1, 50, 64))
    with pytest.raises(ValueError, match=r"divisible by 32 \(and >= 32\), got 0x64"):
        fcn.FCN(1, 2, width=4)(torch.zeros(1, 1, 0, 64))           # was an error inside torch
    with pytest.raises(ValueError, match="variant: expected one of '32s', '16s', '8s', got '4s'"):
        fcn.FCN(variant="4s")
    with pytest.raises(ValueError, match=r"x: expected 1 channels, \(N, 1, H, W\), got a float32"):
        fcn.FCN(1, 2, width=4)(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"x: expected a tensor \(N, 1, H, W\), got a float32 "
                                         r"tensor of shape \(1, 32, 32\)"):
        fcn.FCN(1, 2, width=4)(torch.zeros(1, 32, 32))             # no batch dimension
    with pytest.raises(TypeError, match=r"x: expected a float tensor .*images.float\(\) / 255"):
        fcn.FCN(1, 2, width=4)(torch.zeros(1, 1, 32, 32, dtype=torch.uint8))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_classes": True}, TypeError, "num_classes: expected an int >= 1, got True"),
    ({"width": 4.0}, TypeError, "width: expected an int >= 1, got 4.0"),
    ({"in_channels": 0}, ValueError, "in_channels: expected an int >= 1, got 0"),
    ({"variant": 8}, ValueError, "variant: expected one of .* got 8"),
])
def test_fcn_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        fcn.FCN(**kwargs)


def test_fcn_and_unet_take_numpy_ints():
    assert [p.shape for p in fcn.FCN(np.int64(1), np.int64(3), width=np.int64(2)).parameters()] \
        == [p.shape for p in fcn.FCN(1, 3, width=2).parameters()]
    assert unet.count_parameters(unet.UNet(depth=np.int64(2), width=np.int32(2))) == \
        unet.count_parameters(unet.UNet(depth=2, width=2))
    assert fcn.bilinear_kernel(np.int64(2)).shape == (4, 4)


@pytest.mark.parametrize("make, shape", [
    (lambda: fcn.FCN(1, 3, width=2), (2, 1, 32, 64)),
    (lambda: unet.UNet(1, 3, depth=2, width=2), (2, 1, 8, 12)),
])
def test_segmentation_models_on_layouts_and_float_dtypes(make, shape):
    """Channels-last and non-contiguous images give the same logits; float16, bfloat16
    and float64 images are converted to the weights' dtype (they were an error from
    inside torch: "Input type (Half) and bias type (float) should be the same")."""
    torch.manual_seed(0)
    model = make().eval()
    x = torch.rand(*shape)
    expected = model(x)
    torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), expected)
    torch.testing.assert_close(model(x.transpose(2, 3).contiguous().transpose(2, 3)), expected)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        same = x.to(dtype)
        torch.testing.assert_close(model(same), model(same.float()))


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
    with pytest.raises(ValueError, match=r"divisible by 2 \*\* depth = 8, got 0x64"):
        model(torch.zeros(1, 1, 0, 64))                             # was an error inside torch
    with pytest.raises(ValueError, match=r"x: expected a tensor \(N, C, H, W\)"):
        model(torch.zeros(1, 64, 64))
    with pytest.raises(ValueError, match=r"x: expected 1 channels, \(N, 1, H, W\)"):
        model(torch.zeros(1, 3, 64, 64))                            # was an error inside torch
    with pytest.raises(TypeError, match=r"x: expected a float tensor .*images.float\(\) / 255"):
        model(torch.zeros(1, 1, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="upsampling: expected one of 'transposed', 'bilinear'"):
        unet.UNet(upsampling="nearest")
    with pytest.raises(ValueError, match="depth: expected an int >= 1"):
        unet.UNet(depth=0)
    with pytest.raises(TypeError, match="in_channels: expected an int >= 1, got True"):
        unet.UNet(in_channels=True)                                 # was accepted as 1
    with pytest.raises(TypeError, match="batch_norm: expected True or False, got 1"):
        unet.UNet(batch_norm=1)
    with pytest.raises(TypeError, match="model: expected an nn.Module, got None"):
        unet.count_parameters(None)


def test_unet_blocks_say_which_input_is_wrong():
    """Up with an odd in_channels could not take its own skip; a skip of the wrong size
    failed inside torch.cat. Both now fail at the argument."""
    with pytest.raises(ValueError, match=r"in_channels: expected an even int .*got 5"):
        unet.Up(5, 3)
    up = unet.Up(4, 2)
    with pytest.raises(ValueError, match=r"skip: expected \(1, 2, 8, 8\) for x of shape "
                                         r"\(1, 4, 4, 4\), got a float32 tensor of shape "
                                         r"\(1, 2, 9, 9\)"):
        up(torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 9, 9))
    with pytest.raises(ValueError, match=r"x: expected \(N, 4, h, w\)"):
        up(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 8, 8))
    fusion = fcn.SkipFusion(8, 3)
    with pytest.raises(ValueError, match=r"features: expected \(1, 8, 8, 8\) for coarse"):
        fusion(torch.zeros(1, 3, 4, 4), torch.zeros(1, 8, 9, 9))
    with pytest.raises(ValueError, match=r"coarse: expected \(N, 3, h, w\)"):
        fusion(torch.zeros(1, 2, 4, 4), torch.zeros(1, 8, 8, 8))
    with pytest.raises(TypeError, match=r"in_channels: expected an int >= 1, got 2.0"):
        unet.DoubleConv(2.0, 4)
    assert unet.check_input(torch.zeros(1, 1, 5, 7), 0) is None    # depth 0: any size


# ---------------------------------------------------------------- transposed convolution


def test_transposed_output_size_is_torchs_on_a_grid():
    """The formula against nn.ConvTranspose2d, on every setting torch accepts in a grid."""
    import itertools

    checked = 0
    for n, k, s, p, extra, d in itertools.product(range(1, 5), range(1, 5), range(1, 4),
                                                  range(3), range(3), range(1, 3)):
        if extra >= max(s, d) or (n - 1) * s - 2 * p + d * (k - 1) + extra < 0:
            with pytest.raises(ValueError):
                fcn.transposed_output_size(n, k, s, p, extra, d)
            continue
        layer = torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=extra,
                                         dilation=d)
        assert (layer(torch.zeros(1, 1, n, n)).shape[-1]
                == fcn.transposed_output_size(n, k, s, p, extra, d)), (n, k, s, p, extra, d)
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 1)])
def test_conv_matrix_is_conv2d_and_its_transpose_is_conv_transpose2d(stride, padding):
    g = torch.Generator().manual_seed(stride * 10 + padding)
    weight = torch.randn(3, 2, 3, 3, generator=g)
    x = torch.randn(1, 2, 5, 6, generator=g)
    C = fcn.conv_matrix(weight, (5, 6), stride=stride, padding=padding)
    y = F.conv2d(x, weight, stride=stride, padding=padding)
    assert C.shape == (y.numel(), x.numel())
    assert torch.allclose(C @ x.flatten(), y.flatten(), atol=1e-5)
    # C^T is conv_transpose2d with the same weight, output_padding making up the rows and
    # columns the stride dropped; and it is the gradient of the convolution w.r.t. x
    upstream = torch.randn(y.shape, generator=g)
    plain = F.conv_transpose2d(upstream, weight, stride=stride, padding=padding)
    extra = (5 - plain.shape[-2], 6 - plain.shape[-1])
    transposed = F.conv_transpose2d(upstream, weight, stride=stride, padding=padding,
                                    output_padding=extra)
    assert torch.allclose(C.T @ upstream.flatten(), transposed.flatten(), atol=1e-5)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(F.conv2d(x, weight, stride=stride, padding=padding), x,
                                  upstream)
    assert torch.allclose(C.T @ upstream.flatten(), grad.flatten(), atol=1e-5)


def test_conv_matrix_refuses_large_inputs():
    with pytest.raises(ValueError, match="input_size"):
        fcn.conv_matrix(torch.zeros(1, 1, 3, 3), (65, 64))


# ---------------------------------------------------------------- a pretrained model on a photo


def test_segment_photo_against_the_steps_by_hand():
    """segment_photo = the weights' preprocessing, the model, bilinear resizing to the
    photo's size and argmax, written out here with torchvision's functions, for a PIL
    photo and for a uint8 tensor (resized by different code, so compared separately)."""
    from PIL import Image
    from torchvision.transforms import functional as TF
    from torchvision.transforms._presets import SemanticSegmentation

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)

        def forward(self, x):
            return {"out": self.conv(x)}

    torch.manual_seed(0)
    model = Tiny()
    pixels = (torch.rand(3, 21, 30) * 255).round().to(torch.uint8)
    preset = SemanticSegmentation(resize_size=16)
    photo = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    got = fcn.segment_photo(model, photo, preset)
    x = TF.pil_to_tensor(TF.resize(photo, [16])).float() / 255
    x = TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    with torch.no_grad():
        scores = model.conv(x[None])
    expected = F.interpolate(scores, size=(21, 30), mode="bilinear").argmax(1)[0]
    assert got.dtype == torch.int64 and got.shape == (21, 30)
    assert torch.equal(got, expected)
    assert not model.training
    x = TF.resize(pixels, [16], antialias=True).float() / 255     # the same, as a tensor
    x = TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    with torch.no_grad():
        scores = model.conv(x[None])
    expected = F.interpolate(scores, size=(21, 30), mode="bilinear").argmax(1)[0]
    assert torch.equal(fcn.segment_photo(model, pixels, preset), expected)


def test_segment_photo_with_torchvisions_fcn_untrained():
    """The architecture the chapter downloads weights for, with random weights (offline)."""
    from torchvision.models.segmentation import FCN_ResNet50_Weights, fcn_resnet50

    model = fcn_resnet50(weights=None, weights_backbone=None, num_classes=21)
    weights = FCN_ResNet50_Weights.DEFAULT
    labels = fcn.segment_photo(model, torch.rand(3, 40, 50), weights.transforms())
    assert labels.shape == (40, 50) and 0 <= labels.min() and labels.max() < 21
