"""Tests for coursekit.conv: hand-written convolution, pooling and receptive fields."""

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit import conv
from coursekit.conv import (
    ReceptiveField,
    conv2d_loops,
    conv2d_unfold,
    conv_output_size,
    layers_of,
    max_pool2d_loops,
    output_size,
    receptive_field,
    receptive_region,
)

CONVS = [conv2d_loops, conv2d_unfold]

# (N, C_in, H, W, C_out, kH, kW, stride, padding): small, since the loops are slow
CASES = [
    (1, 1, 5, 5, 1, 3, 3, 1, 0),
    (2, 3, 7, 6, 4, 3, 3, 1, 1),
    (2, 2, 8, 8, 3, 3, 3, 2, 0),
    (1, 3, 9, 7, 2, 5, 5, 2, 2),
    (2, 1, 6, 9, 2, 2, 3, (1, 2), (0, 1)),
    (1, 2, 4, 4, 2, 4, 4, 1, 0),  # kernel as large as the input: one output pixel
    (1, 1, 2, 2, 1, 3, 3, 3, 1),  # kernel only fits thanks to padding
]


def test_doctests():
    assert doctest.testmod(conv).failed == 0


# --- output size -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [5, 7, 28, 32])
@pytest.mark.parametrize("kernel_size, stride, padding, dilation",
                         [(1, 1, 0, 1), (3, 1, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1), (5, 2, 2, 1),
                          (2, 2, 0, 1), (3, 3, 0, 1), (3, 1, 2, 2), (4, 3, 1, 1)])
def test_output_size_matches_nn_conv2d(size, kernel_size, stride, padding, dilation):
    layer = nn.Conv2d(1, 1, kernel_size, stride=stride, padding=padding, dilation=dilation)
    actual = layer(torch.zeros(1, 1, size, size + 1)).shape
    assert conv_output_size(size, kernel_size, stride, padding, dilation) == actual[2]
    assert conv_output_size(size + 1, kernel_size, stride, padding, dilation) == actual[3]


def test_output_size_known_values():
    assert conv_output_size(28, 3) == 26
    assert conv_output_size(28, 3, padding=1) == 28
    assert conv_output_size(28, 2, stride=2) == 14
    assert conv_output_size(7, 2, stride=2) == 3  # A1's mistake: 28 -> 14 -> 7 -> 3, not 4
    assert output_size([(2, 2)] * 3, 28) == (3, 3)
    assert output_size([(3, 1, 1), (2, 2)], (28, 20)) == (14, 10)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": 0, "kernel_size": 3}, ValueError, r"size: expected an int >= 1, got 0"),
    ({"size": 28, "kernel_size": 0}, ValueError, r"kernel_size: expected an int >= 1, got 0"),
    ({"size": 28, "kernel_size": 3, "stride": 0}, ValueError,
     r"stride: expected an int >= 1, got 0"),
    ({"size": 28, "kernel_size": 3, "padding": -1}, ValueError,
     r"padding: expected an int >= 0, got -1"),
    ({"size": 28, "kernel_size": 3, "dilation": 0}, ValueError,
     r"dilation: expected an int >= 1, got 0"),
    ({"size": 2.5, "kernel_size": 3}, TypeError, r"size: expected an int >= 1, got 2.5"),
    ({"size": 28.0, "kernel_size": 3}, TypeError, r"size: expected an int >= 1, got 28.0"),
    ({"size": 28, "kernel_size": True}, TypeError, r"kernel_size: expected an int >= 1, got True"),
    ({"size": 3, "kernel_size": 5}, ValueError, r"kernel_size: .*larger than the padded input 3"),
    ({"size": 3, "kernel_size": 3, "dilation": 2}, ValueError, r"spanning 5 pixels"),
])
def test_output_size_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        conv_output_size(**kwargs)


def test_output_size_takes_numpy_ints():
    """NumPy ints (from an array of sizes) are ints; they were refused."""
    layer = nn.Conv2d(1, 1, 3, stride=2, padding=1)
    expected = layer(torch.zeros(1, 1, 9, 9)).shape[2]
    assert conv_output_size(np.int64(9), np.int32(3), np.int64(2), np.int64(1)) == expected == 5
    assert output_size([(np.int64(3), np.int64(2), np.int64(1))], np.int64(9)) == (5, 5)


def test_output_size_of_a_stack_names_the_layer():
    with pytest.raises(ValueError, match=r"layers\[3\]: kernel_size: .*larger"):
        output_size([(2, 2)] * 4, 12)  # 12 -> 6 -> 3 -> 1 -> (no room for 2x2)


# --- convolution -----------------------------------------------------------------------


@pytest.mark.parametrize("conv2d", CONVS)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_matches_f_conv2d(conv2d, case, with_bias):
    N, C_in, H, W, C_out, kH, kW, stride, padding = case
    generator = torch.Generator().manual_seed(hash(case) % 1000)
    x = torch.randn(N, C_in, H, W, generator=generator)
    weight = torch.randn(C_out, C_in, kH, kW, generator=generator)
    bias = torch.randn(C_out, generator=generator) if with_bias else None
    expected = F.conv2d(x, weight, bias, stride=stride, padding=padding)
    actual = conv2d(x, weight, bias, stride=stride, padding=padding)
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("conv2d", CONVS)
def test_conv_is_cross_correlation_not_flipped(conv2d):
    """An asymmetric kernel tells a flipped kernel (true convolution) from PyTorch's one."""
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])  # picks the top-left of each window
    assert torch.equal(conv2d(x, weight), x[:, :, :3, :3])
    flipped = conv2d(x, weight.flip(2, 3))
    assert not torch.allclose(flipped, F.conv2d(x, weight))


def test_a_wrong_conv_is_caught():
    """The comparison above is sharp enough to catch common slips."""
    x = torch.randn(2, 3, 6, 6)
    weight = torch.randn(4, 3, 3, 3)
    expected = F.conv2d(x, weight, padding=1)
    slips = [
        conv2d_unfold(x, weight.flip(2, 3), padding=1),       # a flipped kernel
        conv2d_unfold(x, weight.transpose(2, 3), padding=1),  # rows and columns swapped
        conv2d_unfold(x[:, :1].expand(-1, 3, -1, -1), weight, padding=1),  # one channel only
    ]
    for wrong in slips:
        assert not torch.allclose(wrong, expected, atol=1e-5)


def test_conv_keeps_dtype_and_gradients():
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    for conv2d in CONVS:
        out = conv2d(x, weight, padding=1)
        assert out.dtype == torch.float64
        (grad,) = torch.autograd.grad(out.sum(), x)
        (expected,) = torch.autograd.grad(F.conv2d(x, weight, padding=1).sum(), x)
        torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize("conv2d", CONVS)
@pytest.mark.parametrize("dtype, tolerance", [(torch.float16, 2e-2), (torch.bfloat16, 2e-1),
                                              (torch.float64, 1e-12)])
def test_conv_in_every_float_dtype(conv2d, dtype, tolerance):
    g = torch.Generator().manual_seed(3)
    x, weight, bias = torch.randn(2, 3, 6, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g), \
        torch.randn(4, generator=g)
    expected = F.conv2d(x.double(), weight.double(), bias.double(), padding=1)
    actual = conv2d(x.to(dtype), weight.to(dtype), bias.to(dtype), padding=1)
    assert actual.dtype == dtype
    torch.testing.assert_close(actual.double(), expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("conv2d", CONVS)
def test_conv_layouts_empty_batch_and_numpy_ints(conv2d):
    g = torch.Generator().manual_seed(4)
    x, weight = torch.randn(2, 3, 7, 6, generator=g), torch.randn(4, 3, 3, 2, generator=g)
    expected = F.conv2d(x, weight, stride=2, padding=1)
    for same_x in [x.contiguous(memory_format=torch.channels_last),
                   x.transpose(2, 3).contiguous().transpose(2, 3)]:       # a non-contiguous view
        torch.testing.assert_close(conv2d(same_x, weight, stride=2, padding=1), expected)
    torch.testing.assert_close(conv2d(x, weight.transpose(2, 3).contiguous().transpose(2, 3),
                                      stride=2, padding=1), expected)
    torch.testing.assert_close(conv2d(x, weight, stride=np.int64(2), padding=(np.int32(1), 1)),
                               expected)
    assert conv2d(x[:0], weight).shape == F.conv2d(x[:0], weight).shape == (0, 4, 5, 5)


def test_bias_of_another_dtype_no_longer_changes_the_output_dtype():
    """conv2d_unfold once returned float64 for float32 x with a float64 bias (conv2d_loops
    float32, F.conv2d an error): now both refuse it, as F.conv2d does."""
    x, weight = torch.randn(1, 1, 4, 4), torch.randn(2, 1, 3, 3)
    with pytest.raises(RuntimeError):
        F.conv2d(x, weight, torch.zeros(2, dtype=torch.float64))
    for conv2d in CONVS:
        with pytest.raises(TypeError, match=r"bias: expected dtype torch.float32"):
            conv2d(x, weight, torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize("conv2d", CONVS)
@pytest.mark.parametrize("args, kwargs, error, match", [
    ((torch.randn(3, 28, 28), torch.randn(1, 3, 3, 3)), {}, ValueError,
     r"x: expected a tensor \(N, C, H, W\), got a float32 tensor of shape \(3, 28, 28\)"),
    (([[1.0]], torch.randn(1, 1, 1, 1)), {}, TypeError, r"x: expected a tensor .*got \[\[1.0\]\]"),
    ((torch.ones(1, 1, 5, 5, dtype=torch.int64), torch.ones(1, 1, 3, 3)), {}, TypeError,
     r"x: expected a float tensor .*got a int64 tensor .*images.float\(\) / 255"),
    ((torch.ones(1, 1, 5, 5, dtype=torch.uint8), torch.ones(1, 1, 3, 3)), {}, TypeError,
     r"x: expected a float tensor .*got a uint8 tensor"),
    ((torch.ones(1, 1, 5, 5, dtype=torch.bool), torch.ones(1, 1, 3, 3)), {}, TypeError,
     r"x: expected a float tensor .*got a bool tensor"),
    ((torch.randn(1, 0, 5, 5), torch.randn(1, 0, 3, 3)), {}, ValueError,
     r"x: expected at least 1 channel, row and column"),
    ((torch.randn(1, 1, 0, 5), torch.randn(1, 1, 1, 1)), {"padding": 1}, ValueError,
     r"x: expected at least 1 channel, row and column"),
    ((torch.randn(1, 3, 8, 8), torch.randn(4, 3, 3)), {}, ValueError,
     r"weight: expected a tensor \(C_out, C_in, kH, kW\), "
     r"got a float32 tensor of shape \(4, 3, 3\)"),
    ((torch.randn(1, 3, 8, 8), torch.randn(4, 1, 3, 3)), {}, ValueError,
     (r"weight: expected 3 input channels to match x of shape \(1, 3, 8, 8\), "
     r"got weight of shape \(4, 1, 3, 3\)")),
    ((torch.randn(1, 3, 8, 8), torch.randn(0, 3, 3, 3)), {}, ValueError,
     r"weight: expected at least 1 output channel and a kernel of at least 1x1"),
    ((torch.randn(1, 3, 8, 8), torch.randn(2, 3, 0, 3)), {}, ValueError,
     r"weight: expected at least 1 output channel and a kernel of at least 1x1"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3, dtype=torch.float64)), {}, TypeError,
     r"weight: expected dtype torch.float32 .*got dtype torch.float64"),
    ((torch.randn(1, 1, 8, 8), torch.randn(2, 1, 3, 3), torch.randn(3)), {}, ValueError,
     r"bias: expected a tensor of shape \(2,\), one number per output channel, "
     r"got a float32 tensor of shape \(3,\)"),
    ((torch.randn(1, 1, 8, 8), torch.randn(2, 1, 3, 3), torch.randn(2, dtype=torch.float64)),
     {}, TypeError, r"bias: expected dtype torch.float32 .*got dtype torch.float64"),
    ((torch.randn(1, 1, 8, 8), torch.randn(2, 1, 3, 3), torch.ones(2, dtype=torch.int64)),
     {}, TypeError, r"bias: expected a float tensor \(2,\), got a int64 tensor"),
    ((torch.randn(1, 1, 8, 8), torch.randn(2, 1, 3, 3), [0.0, 1.0]), {}, TypeError,
     r"bias: expected a tensor \(2,\), got \[0.0, 1.0\]"),
    ((torch.randn(1, 1, 3, 3), torch.randn(1, 1, 5, 5)), {}, ValueError,
     r"weight: a 5x5 kernel is larger than the input 3x3"),
    ((torch.randn(1, 1, 3, 3), torch.randn(1, 1, 7, 7)), {"padding": 1}, ValueError,
     r"weight: a 7x7 kernel is larger than the padded input 5x5"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)), {"stride": 0}, ValueError,
     r"stride: expected an int >= 1, got 0"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)), {"stride": (1, -2)}, ValueError,
     r"stride\[1\]: expected an int >= 1, got -2"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)), {"stride": (1,)}, ValueError,
     r"stride: expected an int or a pair \(height, width\), got \(1,\)"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)), {"stride": 2.0}, TypeError,
     r"stride: expected an int >= 1, got 2.0"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)), {"stride": True}, TypeError,
     r"stride: expected an int >= 1, got True"),
    ((torch.randn(1, 1, 8, 8), torch.randn(1, 1, 3, 3)), {"padding": -1}, ValueError,
     r"padding: expected an int >= 0, got -1"),
])
def test_conv_errors(conv2d, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv2d(*args, **kwargs)


# --- max pooling -----------------------------------------------------------------------


@pytest.mark.parametrize("shape, kernel_size, stride", [
    ((1, 1, 4, 4), 2, None),
    ((2, 3, 7, 7), 2, None),      # odd size: the last row and column are dropped
    ((2, 2, 9, 8), 3, 2),         # overlapping windows
    ((1, 2, 6, 9), (2, 3), None),
    ((1, 1, 5, 5), 5, None),
    ((2, 1, 8, 8), 3, 1),
])
def test_max_pool_matches_f_max_pool2d(shape, kernel_size, stride):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    expected = F.max_pool2d(x, kernel_size, stride)
    actual = max_pool2d_loops(x, kernel_size, stride)
    assert actual.shape == expected.shape
    assert torch.equal(actual, expected)


def test_max_pool_errors():
    with pytest.raises(ValueError, match=r"x: expected a tensor \(N, C, H, W\), got a float32"):
        max_pool2d_loops(torch.randn(28, 28), 2)
    with pytest.raises(ValueError, match=r"kernel_size: expected an int >= 1, got 0"):
        max_pool2d_loops(torch.randn(1, 1, 4, 4), 0)
    with pytest.raises(ValueError, match=r"stride: expected an int >= 1, got 0"):
        max_pool2d_loops(torch.randn(1, 1, 4, 4), 2, stride=0)
    with pytest.raises(ValueError, match=r"kernel_size: a 3x3 kernel is larger than the input 2x2"):
        max_pool2d_loops(torch.randn(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"kernel_size: a 2x5 kernel is larger than the input 4x4"):
        max_pool2d_loops(torch.randn(1, 1, 4, 4), (2, 5))
    with pytest.raises(TypeError, match=r"kernel_size: expected an int >= 1, got 2.0"):
        max_pool2d_loops(torch.randn(1, 1, 4, 4), 2.0)
    with pytest.raises(TypeError, match=r"x: expected a float tensor .*got a int64 tensor"):
        max_pool2d_loops(torch.arange(16).reshape(1, 1, 4, 4), 2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_max_pool_in_every_float_dtype(dtype):
    x = torch.randn(2, 3, 7, 6, generator=torch.Generator().manual_seed(1)).to(dtype)
    expected = F.max_pool2d(x.double(), 2).to(dtype)  # a maximum is exact in any dtype
    actual = max_pool2d_loops(x, 2)
    assert actual.dtype == dtype and torch.equal(actual, expected)


def test_max_pool_layouts_numpy_ints_and_nan():
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    expected = F.max_pool2d(x, 3, 2)
    assert torch.equal(max_pool2d_loops(x.contiguous(memory_format=torch.channels_last), 3, 2),
                       expected)
    assert torch.equal(max_pool2d_loops(x.transpose(2, 3), 3, 2),
                       F.max_pool2d(x.transpose(2, 3), 3, 2))       # a non-contiguous view
    assert torch.equal(max_pool2d_loops(x, np.int64(3), np.int64(2)), expected)
    assert max_pool2d_loops(x[:0], 2).shape == (0, 3, 4, 4)        # an empty batch
    x[0, 0, 0, 0] = float("nan")                                  # NaN wins, as in torch
    pooled = max_pool2d_loops(x, 2)
    assert pooled[0, 0, 0, 0].isnan() and pooled.isnan().sum() == 1
    torch.testing.assert_close(pooled, F.max_pool2d(x, 2), equal_nan=True, rtol=0, atol=0)


# --- receptive field -------------------------------------------------------------------

CONV3 = (3, 1)
POOL2 = (2, 2)


def test_receptive_field_known_values():
    assert receptive_field([]) == []
    assert receptive_field([CONV3]) == [ReceptiveField(3, 1)]
    assert receptive_field([CONV3, CONV3])[-1].size == 5
    assert receptive_field([CONV3] * 3)[-1].size == 7  # three 3x3 see as much as one 7x7
    assert receptive_field([POOL2, POOL2]) == [ReceptiveField(2, 2), ReceptiveField(4, 4)]
    assert receptive_field([(7, 2), (3, 2)]) == [ReceptiveField(7, 2), ReceptiveField(11, 4)]
    # VGG-16's conv part: (2 convs, pool) x 2, (3 convs, pool) x 3
    vgg16 = ([CONV3] * 2 + [POOL2]) * 2 + ([CONV3] * 3 + [POOL2]) * 3
    fields = receptive_field(vgg16)
    assert [f.size for f in fields[:6]] == [3, 5, 6, 10, 14, 16]
    assert fields[-2] == ReceptiveField(196, 16)  # conv5_3
    assert fields[-1] == ReceptiveField(212, 32)  # pool5
    # padding moves the field, it does not change its size
    assert receptive_field([(3, 1, 1)] * 2) == receptive_field([CONV3] * 2)


def _measured_region(model, input_size, position):
    """Backprop from one output unit; the bounding box of the pixels with a gradient."""
    x = torch.ones(1, 1, *input_size, requires_grad=True)
    out = model(x)
    out[0, 0, position[0], position[1]].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    return (rows.min().item(), cols.min().item(), rows.max().item() + 1, cols.max().item() + 1)


@pytest.mark.parametrize("layers", [
    [(3, 1, 0), (3, 1, 0)],
    [(3, 1, 1), (3, 1, 1), (2, 2, 0), (3, 1, 1), (3, 1, 1), (2, 2, 0)],
    [(5, 2, 2), (3, 2, 1), (3, 1, 0)],
    [(2, 2, 0), (2, 2, 0), (3, 1, 1)],
    [(7, 2, 3), (3, 2, 1), (3, 1, 1)],
])
def test_receptive_region_matches_gradients(layers):
    """Every pixel a unit sees gets a gradient (all-positive weights, average pooling)."""
    modules = []
    for kernel_size, stride, padding in layers:
        if stride == kernel_size:
            modules.append(nn.AvgPool2d(kernel_size, stride, padding))  # same geometry as max
        else:
            layer = nn.Conv2d(1, 1, kernel_size, stride, padding, bias=False)
            nn.init.constant_(layer.weight, 1.0)
            modules.append(layer)
    model = nn.Sequential(*modules)
    assert layers_of(model) == layers
    input_size = (23, 30)
    H_out, W_out = output_size(layers, input_size)
    assert model(torch.zeros(1, 1, *input_size)).shape[2:] == (H_out, W_out)
    for position in [(0, 0), (H_out // 2, W_out // 3), (H_out - 1, W_out - 1)]:
        expected = _measured_region(model, input_size, position)
        assert receptive_region(layers, position, input_size) == expected
        top, left, bottom, right = receptive_region(layers, position)  # unclipped
        assert bottom - top == right - left == receptive_field(layers)[-1].size


def test_receptive_region_unclipped_and_errors():
    assert receptive_region([], (4, 5)) == (4, 5, 5, 6)
    assert receptive_region([(3, 1, 1)], (0, 0)) == (-1, -1, 2, 2)  # reaches into padding
    assert receptive_region([(3, 1, 1)], (0, 0), (8, 8)) == (0, 0, 2, 2)
    assert receptive_region([POOL2, CONV3], (1, 2)) == (2, 4, 8, 10)
    assert receptive_region([POOL2, CONV3], (np.int64(1), np.int32(2)), (np.int64(12), 12)) == (
        2, 4, 8, 10)                                                 # NumPy ints are ints
    assert receptive_field([(np.int64(3), np.int64(2))]) == [ReceptiveField(3, 2)]
    with pytest.raises(ValueError, match=r"position\[1\] \(col\): expected an int >= 0, got -1"):
        receptive_region([CONV3], (1, -1))
    with pytest.raises(TypeError, match=r"position\[0\] \(row\): expected an int >= 0, got 1.0"):
        receptive_region([CONV3], (1.0, 1))
    with pytest.raises(TypeError, match=r"position: expected \(row, col\), got \(1,\)"):
        receptive_region([CONV3], (1,))
    with pytest.raises(ValueError, match=r"position: expected a unit inside the 6x6 output"):
        receptive_region([CONV3], (6, 0), (8, 8))
    with pytest.raises(ValueError, match=r"layers\[1\] stride: expected an int >= 1, got 0"):
        receptive_field([CONV3, (3, 0)])
    with pytest.raises(TypeError, match=r"layers\[0\]: expected \(kernel_size, .*got 'conv'"):
        receptive_field(["conv"])
    with pytest.raises(ValueError, match=r"layers\[0\]: expected \(kernel_size, .*got \(3,\)"):
        receptive_field([(3,)])
    with pytest.raises(TypeError, match=r"layers: expected a list of \(kernel_size, stride\)"):
        receptive_field(None)             # was "'NoneType' object is not iterable", from Python
    with pytest.raises(TypeError, match=r"layers: expected a list"):
        output_size(3, (8, 8))
    with pytest.raises(ValueError, match=r"input_size\[0\]: expected an int >= 1, got 0"):
        receptive_region([CONV3], (0, 0), (0, 8))
    with pytest.raises(TypeError, match=r"input_size: expected an int >= 1, got None"):
        output_size([CONV3], None)


def test_a_unit_that_sees_only_padding_gets_an_empty_region():
    """With padding 5 around a 3x3 kernel, the corner units of the output see only zeros.
    receptive_region once returned (0, 0, -2, -2) for them, and image[0:-2] is not empty:
    it is all but the last two rows. Now the region is empty, as the gradient says."""
    layers = [(3, 1, 5)]
    model = nn.Conv2d(1, 1, 3, padding=5, bias=False)
    nn.init.constant_(model.weight, 1.0)
    image = torch.ones(1, 1, 8, 8, requires_grad=True)
    model(image)[0, 0, 0, 0].backward()
    assert (image.grad == 0).all()                                  # it sees no pixel
    top, left, bottom, right = receptive_region(layers, (0, 0), (8, 8))
    assert image.grad[0, 0, top:bottom, left:right].numel() == 0
    top, left, bottom, right = receptive_region(layers, (15, 15), (8, 8))
    assert image.grad[0, 0, top:bottom, left:right].numel() == 0


@pytest.mark.parametrize("seed", range(40))
def test_receptive_region_matches_gradients_on_random_stacks(seed):
    """Random stacks (large paddings too, where some units see only zeros): the region
    is the bounding box of the pixels with a gradient, or empty when none has one."""
    g = torch.Generator().manual_seed(seed)
    layers, modules = [], []
    for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
        kernel_size = int(torch.randint(1, 5, (1,), generator=g))
        stride = int(torch.randint(1, 4, (1,), generator=g))
        padding = int(torch.randint(0, kernel_size + 2, (1,), generator=g))
        layers.append((kernel_size, stride, padding))
        layer = nn.Conv2d(1, 1, kernel_size, stride, padding, bias=False)
        nn.init.constant_(layer.weight, 1.0)
        modules.append(layer)
    input_size = (int(torch.randint(12, 20, (1,), generator=g)),
                  int(torch.randint(12, 20, (1,), generator=g)))
    try:
        H_out, W_out = output_size(layers, input_size)
    except ValueError:
        return                                                        # no room for a layer
    model = nn.Sequential(*modules)
    for position in [(0, 0), (H_out // 2, W_out - 1), (H_out - 1, 0)]:
        image = torch.ones(1, 1, *input_size, requires_grad=True)
        model(image)[0, 0, position[0], position[1]].backward()
        rows, cols = torch.nonzero(image.grad[0, 0], as_tuple=True)
        top, left, bottom, right = receptive_region(layers, position, input_size)
        if len(rows) == 0:
            assert bottom <= top or right <= left
        else:
            assert (top, left, bottom, right) == (int(rows.min()), int(cols.min()),
                                                  int(rows.max()) + 1, int(cols.max()) + 1)


def test_layers_of_skips_other_layers_and_rejects_rectangles():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(8),
                          nn.MaxPool2d(2), nn.Flatten())
    assert layers_of(model) == [(3, 1, 1), (2, 2, 0)]
    assert layers_of(nn.Conv2d(1, 1, 3, padding="valid")) == [(3, 1, 0)]
    with pytest.raises(ValueError, match=r"model: expected square kernels"):
        layers_of(nn.Conv2d(1, 1, (1, 3)))


@pytest.mark.parametrize("layer", [
    nn.Conv2d(1, 1, 3, dilation=2),          # spans 5 pixels: was reported as a 3x3
    nn.MaxPool2d(2, ceil_mode=True),         # rounds up: 7 -> 4, not 3
    nn.Conv2d(1, 1, 3, padding="same"),
    nn.ConvTranspose2d(1, 1, 2, stride=2),   # was skipped as if it changed nothing
    nn.AdaptiveAvgPool2d(1),
    nn.Upsample(scale_factor=2),
])
def test_layers_of_refuses_layers_it_cannot_describe(layer):
    with pytest.raises(ValueError, match=r"model: expected"):
        layers_of(nn.Sequential(nn.Conv2d(1, 1, 3), layer))


def test_a_dilated_or_ceil_mode_layer_would_have_given_wrong_sizes():
    """Why they are refused: the (kernel_size, stride, padding) that layers_of used to give
    for them does not predict the layer's output size."""
    x = torch.zeros(1, 1, 7, 7)
    assert nn.Conv2d(1, 1, 3, dilation=2)(x).shape[2] == 3 != output_size([(3, 1, 0)], 7)[0]
    assert nn.MaxPool2d(2, ceil_mode=True)(x).shape[2] == 4 != output_size([(2, 2, 0)], 7)[0]


def test_layers_of_wants_a_module():
    with pytest.raises(TypeError, match=r"model: expected an nn.Module, got None"):
        layers_of(None)
