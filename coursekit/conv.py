"""Convolution and pooling written out by hand (chapter 2).

PyTorch's ``F.conv2d`` is fast and opaque. This module builds the same operation
twice, to be read:

1. ``conv2d_loops``: one output pixel at a time, as the sum of products of a kernel
   and the window of the input under it. Slow; use small inputs.
2. ``conv2d_unfold``: the same numbers, vectorised. ``F.unfold`` copies every window
   into a column; one matrix product then applies every kernel to every window.

Like ``F.conv2d``, both compute a *cross-correlation*: the kernel is not flipped.
Around them: the output-size formula, max pooling by loops, and the receptive field
of a stack of layers (how much of the input one output unit sees).

Every function checks its input and says what was wrong, naming the argument,
e.g. ``x: expected a 4-D tensor (N, C, H, W), got shape (3, 28, 28)``.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# Checking arguments
# ---------------------------------------------------------------------------


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    """``value`` as a (height, width) pair of ints >= ``minimum``; 2 -> (2, 2)."""
    pair = (value, value) if isinstance(value, int) else value
    ok = (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair)
    )
    if not ok:
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name}: expected {kind} or a pair of them, got {value!r}")
    return pair[0], pair[1]


def _check_4d(x, name: str = "x", dims: str = "(N, C, H, W)") -> None:
    """``x`` must be a floating-point tensor with four dimensions, named ``dims``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(
            f"{name}: expected a 4-D tensor {dims}, got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def _check_weight_and_bias(x, weight, bias) -> None:
    """``weight`` (C_out, C_in, kH, kW) must match ``x``; ``bias`` must be (C_out,) or None."""
    _check_4d(weight, "weight", "(C_out, C_in, kH, kW)")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight: expected {x.shape[1]} input channels to match x of shape "
            f"{tuple(x.shape)}, got weight of shape {tuple(weight.shape)}"
        )
    if weight.dtype != x.dtype or weight.device != x.device:
        raise TypeError(
            f"weight: expected dtype {x.dtype} on {x.device} like x, "
            f"got dtype {weight.dtype} on {weight.device}"
        )
    if bias is None:
        return
    if not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (weight.shape[0],):
        got = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
        raise ValueError(f"bias: expected a tensor of shape ({weight.shape[0]},), got {got}")


def _check_fits(size: tuple[int, int], kernel: tuple[int, int], padding: tuple[int, int],
                name: str) -> None:
    """The kernel (given as argument ``name``) must fit inside the padded input."""
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{name}: a {kernel[0]}x{kernel[1]} kernel is larger than the padded input "
            f"{padded[0]}x{padded[1]} (input {size[0]}x{size[1]}, padding {padding})"
        )


# ---------------------------------------------------------------------------
# Output size
# ---------------------------------------------------------------------------


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """The output length of a convolution or pooling along one dimension.

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``

    >>> conv_output_size(28, 3)             # a "valid" 3x3 convolution
    26
    >>> conv_output_size(28, 3, padding=1)  # "same"
    28
    >>> conv_output_size(7, 2, stride=2)    # 2x2 pooling drops the odd row
    3
    """
    for name, value, minimum in [("size", size, 1), ("kernel_size", kernel_size, 1),
                                 ("stride", stride, 1), ("padding", padding, 0),
                                 ("dilation", dilation, 1)]:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    span = dilation * (kernel_size - 1) + 1  # how far the (dilated) kernel reaches
    if span > size + 2 * padding:
        raise ValueError(
            f"kernel_size: a kernel spanning {span} pixels is larger than the padded input "
            f"{size + 2 * padding} (size {size}, padding {padding})"
        )
    return (size + 2 * padding - span) // stride + 1


# ---------------------------------------------------------------------------
# Convolution, twice
# ---------------------------------------------------------------------------


def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, like ``F.conv2d``) by explicit loops.

    x: (N, C_in, H, W) float; weight: (C_out, C_in, kH, kW); bias: (C_out,) or None;
    stride, padding: int or (int, int).
    Returns (N, C_out, H_out, W_out), H_out = conv_output_size(H, kH, stride, padding).

    Each output pixel is the sum of products of one kernel and the window under it:
    ``out[n, o, i, j] = sum(x_padded[n, :, i*s : i*s + kH, j*s : j*s + kW] * weight[o])``.
    """
    _check_4d(x)
    _check_weight_and_bias(x, weight, bias)
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    N, _, H, W = x.shape
    C_out, _, kH, kW = weight.shape
    _check_fits((H, W), (kH, kW), (ph, pw), "weight")
    H_out = conv_output_size(H, kH, sh, ph)
    W_out = conv_output_size(W, kW, sw, pw)

    x_padded = F.pad(x, (pw, pw, ph, ph))  # zeros: left, right, top, bottom
    out = torch.zeros(N, C_out, H_out, W_out, dtype=x.dtype, device=x.device)
    for n in range(N):
        for o in range(C_out):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_padded[n, :, i * sh: i * sh + kH, j * sw: j * sw + kW]
                    out[n, o, i, j] = (window * weight[o]).sum()
            if bias is not None:
                out[n, o] += bias[o]
    return out


def conv2d_unfold(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution as one matrix product: ``F.unfold`` (im2col), then ``@``.

    x: (N, C_in, H, W) float; weight: (C_out, C_in, kH, kW); bias: (C_out,) or None.
    Returns (N, C_out, H_out, W_out), the same numbers as ``conv2d_loops``.

    ``F.unfold`` copies every kH x kW window (all C_in channels) into a column:
    (N, C_in*kH*kW, L) with L = H_out*W_out windows. Each kernel, flattened to a row
    of C_in*kH*kW numbers, times each column is one output pixel.
    """
    _check_4d(x)
    _check_weight_and_bias(x, weight, bias)
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    N, _, H, W = x.shape
    C_out, _, kH, kW = weight.shape
    _check_fits((H, W), (kH, kW), (ph, pw), "weight")
    H_out = conv_output_size(H, kH, sh, ph)
    W_out = conv_output_size(W, kW, sw, pw)

    columns = F.unfold(x, (kH, kW), padding=(ph, pw), stride=(sh, sw))  # (N, C_in*kH*kW, L)
    rows = weight.reshape(C_out, -1)                                     # (C_out, C_in*kH*kW)
    out = rows @ columns                                                 # (N, C_out, L)
    if bias is not None:
        out = out + bias.reshape(1, C_out, 1)
    return out.reshape(N, C_out, H_out, W_out)


# ---------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------


def max_pool2d_loops(x, kernel_size, stride=None):
    """Max pooling by explicit loops, without padding (like ``F.max_pool2d``).

    x: (N, C, H, W) float; kernel_size, stride: int or (int, int); stride defaults
    to kernel_size (non-overlapping windows). Returns (N, C, H_out, W_out).
    Each channel is pooled on its own: ``out[n, c, i, j]`` is the largest value of
    the window ``x[n, c, i*s : i*s + k, j*s : j*s + k]``. Rows or columns left over at
    the bottom or right edge are dropped (7x7 pooled by 2 gives 3x3).
    """
    _check_4d(x)
    kH, kW = _pair(kernel_size, "kernel_size", 1)
    sh, sw = (kH, kW) if stride is None else _pair(stride, "stride", 1)
    N, C, H, W = x.shape
    _check_fits((H, W), (kH, kW), (0, 0), "kernel_size")
    H_out = conv_output_size(H, kH, sh)
    W_out = conv_output_size(W, kW, sw)

    out = torch.empty(N, C, H_out, W_out, dtype=x.dtype, device=x.device)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * sh: i * sh + kH, j * sw: j * sw + kW]  # (N, C, kH, kW)
            out[:, :, i, j] = window.amax(dim=(2, 3))
    return out


# ---------------------------------------------------------------------------
# Receptive field
# ---------------------------------------------------------------------------


class ReceptiveField(NamedTuple):
    """After one layer: ``size`` input pixels seen by one unit (along one side), and
    ``jump``, the distance in input pixels between two neighbouring units."""

    size: int
    jump: int


def _layer_spec(layer, index: int) -> tuple[int, int, int]:
    """``(kernel_size, stride)`` or ``(kernel_size, stride, padding)`` -> (k, s, p)."""
    ok = (
        isinstance(layer, (tuple, list))
        and len(layer) in (2, 3)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in layer)
        and layer[0] >= 1 and layer[1] >= 1 and (len(layer) == 2 or layer[2] >= 0)
    )
    if not ok:
        raise ValueError(
            f"layers[{index}]: expected (kernel_size, stride) or (kernel_size, stride, padding) "
            f"with kernel_size, stride >= 1 and padding >= 0, got {layer!r}"
        )
    return layer[0], layer[1], (layer[2] if len(layer) == 3 else 0)


def receptive_field(layers) -> list[ReceptiveField]:
    """The receptive field after each layer of a stack.

    layers: a sequence of (kernel_size, stride) pairs, one per layer, e.g.
    ``[(3, 1), (3, 1), (2, 2)]`` for conv3x3, conv3x3, pool2x2. A third number,
    the padding, is allowed; it moves the field but does not change its size.
    Returns one ``ReceptiveField(size, jump)`` per layer.

    Going through one layer, a unit sees ``kernel_size`` units of the layer below,
    which are ``jump`` input pixels apart, so the size grows by
    ``(kernel_size - 1) * jump``; a stride multiplies the jump.

    >>> receptive_field([(3, 1), (3, 1)])
    [ReceptiveField(size=3, jump=1), ReceptiveField(size=5, jump=1)]
    """
    size, jump, fields = 1, 1, []
    for index, layer in enumerate(layers):
        kernel_size, stride, _ = _layer_spec(layer, index)
        size = size + (kernel_size - 1) * jump
        jump = jump * stride
        fields.append(ReceptiveField(size, jump))
    return fields


def output_size(layers, input_size) -> tuple[int, int]:
    """(H_out, W_out) after a stack of layers, each (kernel_size, stride[, padding]).

    >>> output_size([(2, 2)] * 3, (28, 28))  # three 2x2 poolings: 28 -> 14 -> 7 -> 3
    (3, 3)
    """
    H, W = _pair(input_size, "input_size", 1)
    for index, layer in enumerate(layers):
        kernel_size, stride, padding = _layer_spec(layer, index)
        try:
            H = conv_output_size(H, kernel_size, stride, padding)
            W = conv_output_size(W, kernel_size, stride, padding)
        except ValueError as error:
            raise ValueError(f"layers[{index}]: {error}") from None
    return H, W


def receptive_region(layers, position, input_size=None) -> tuple[int, int, int, int]:
    """The input pixels that one output unit sees, as ``(top, left, bottom, right)``.

    layers: as for ``receptive_field``, with padding (third number) where the layer
    pads, e.g. ``[(3, 1, 1), (2, 2)]``; position: (row, col) of the unit in the last
    layer's output. The region is half-open: ``image[top:bottom, left:right]`` is what
    the unit sees. Without ``input_size`` it is the full field, which can stick out of
    the image into the zero padding; with ``input_size=(H, W)`` it is clipped to the
    pixels that really reach the unit (and ``position`` is checked).

    It walks back from the unit through the layers: the units [a, b) of a layer's
    output come from the units [a*stride - padding, (b-1)*stride - padding + kernel_size)
    of its input.
    """
    if not (isinstance(position, (tuple, list)) and len(position) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in position)):
        raise ValueError(f"position: expected (row, col) with ints >= 0, got {position!r}")
    specs = [_layer_spec(layer, index) for index, layer in enumerate(layers)]
    if input_size is None:
        rows = _walk_back(specs, [None] * len(specs), position[0])
        cols = _walk_back(specs, [None] * len(specs), position[1])
        return rows[0], cols[0], rows[1], cols[1]

    H, W = _pair(input_size, "input_size", 1)
    heights, widths = [H], [W]  # the input size of each layer, then the output size
    for index in range(len(specs)):
        H_out, W_out = output_size(specs[: index + 1], (H, W))
        heights.append(H_out)
        widths.append(W_out)
    if position[0] >= heights[-1] or position[1] >= widths[-1]:
        raise ValueError(f"position: expected a unit inside the {heights[-1]}x{widths[-1]} "
                         f"output, got {tuple(position)}")
    rows = _walk_back(specs, heights[:-1], position[0])
    cols = _walk_back(specs, widths[:-1], position[1])
    return rows[0], cols[0], rows[1], cols[1]


def _walk_back(specs, sizes, unit: int) -> tuple[int, int]:
    """Along one dimension: the input interval [first, last) that ``unit`` depends on.

    specs: (kernel_size, stride, padding) per layer; sizes: each layer's input length,
    to clip to (None: no clipping).
    """
    first, last = unit, unit + 1
    for (kernel_size, stride, padding), size in zip(reversed(specs), reversed(sizes), strict=True):
        first, last = first * stride - padding, (last - 1) * stride - padding + kernel_size
        if size is not None:
            first, last = max(first, 0), min(last, size)
    return first, last


def layers_of(model) -> list[tuple[int, int, int]]:
    """(kernel_size, stride, padding) of each square Conv2d / MaxPool2d / AvgPool2d in a model.

    Other layers (ReLU, BatchNorm, ...) do not change the receptive field and are skipped.
    """
    layers = []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            k = _pair(module.kernel_size, "kernel_size", 1)
            s = _pair(module.stride, "stride", 1)
            p = _pair(module.padding, "padding", 0)
            if k[0] != k[1] or s[0] != s[1] or p[0] != p[1]:
                raise ValueError(f"model: expected square kernels, strides and paddings, "
                                 f"got {module}")
            layers.append((k[0], s[0], p[0]))
    return layers
