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
e.g. ``x: expected a tensor (N, C, H, W), got a float32 tensor of shape (3, 28, 28)``.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F

from coursekit._checks import check_int, check_tensor, describe

# ---------------------------------------------------------------------------
# Checking arguments
# ---------------------------------------------------------------------------


def _pair(value, name: str, low: int) -> tuple[int, int]:
    """``value`` as a (height, width) pair of ints >= ``low``; 2 -> (2, 2)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected an int or a pair (height, width), "
                             f"got {describe(value)}")
        return (check_int(value[0], f"{name}[0]", low=low),
                check_int(value[1], f"{name}[1]", low=low))
    value = check_int(value, name, low=low)
    return value, value


def _check_x(x) -> torch.Tensor:
    """``x``: (N, C, H, W), any float dtype, with C, H and W >= 1 (N may be 0)."""
    check_tensor(x, "x", ndim=4, dims="(N, C, H, W)", kind="float")
    if min(x.shape[1:]) < 1:
        raise ValueError(f"x: expected at least 1 channel, row and column, got {describe(x)}")
    return x


def _check_weight_and_bias(x, weight, bias) -> None:
    """``weight`` (C_out, C_in, kH, kW) must match ``x``; ``bias`` must be (C_out,) or None."""
    check_tensor(weight, "weight", ndim=4, dims="(C_out, C_in, kH, kW)", kind="float")
    if min(weight.shape) < 1:
        raise ValueError(f"weight: expected at least 1 output channel and a kernel of at "
                         f"least 1x1, got {describe(weight)}")
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
    check_tensor(bias, "bias", ndim=1, dims=f"({weight.shape[0]},)", kind="float")
    if bias.shape[0] != weight.shape[0]:
        raise ValueError(f"bias: expected a tensor of shape ({weight.shape[0]},), one number "
                         f"per output channel, got {describe(bias)}")
    if bias.dtype != x.dtype or bias.device != x.device:
        raise TypeError(f"bias: expected dtype {x.dtype} on {x.device} like x, "
                        f"got dtype {bias.dtype} on {bias.device}")


def _check_fits(size: tuple[int, int], kernel: tuple[int, int], padding: tuple[int, int],
                name: str) -> None:
    """The kernel (given as argument ``name``) must fit inside the padded input."""
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        where = (f"the padded input {padded[0]}x{padded[1]} (input {size[0]}x{size[1]}, "
                 f"padding {padding})" if padding != (0, 0) else f"the input {size[0]}x{size[1]}")
        raise ValueError(f"{name}: a {kernel[0]}x{kernel[1]} kernel is larger than {where}")


# ---------------------------------------------------------------------------
# Output size
# ---------------------------------------------------------------------------


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """The output length of a convolution or pooling along one dimension.

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``

    Every argument is an int (NumPy ints too): size, kernel_size, stride, dilation >= 1,
    padding >= 0; the (dilated) kernel must fit in the padded input.

    >>> conv_output_size(28, 3)             # a "valid" 3x3 convolution
    26
    >>> conv_output_size(28, 3, padding=1)  # "same"
    28
    >>> conv_output_size(7, 2, stride=2)    # 2x2 pooling drops the odd row
    3
    """
    size = check_int(size, "size", low=1)
    kernel_size = check_int(kernel_size, "kernel_size", low=1)
    stride = check_int(stride, "stride", low=1)
    padding = check_int(padding, "padding", low=0)
    dilation = check_int(dilation, "dilation", low=1)
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

    x: (N, C_in, H, W), any float dtype (float16, bfloat16, float32, float64; an empty
    batch N = 0 too); weight: (C_out, C_in, kH, kW) and bias: (C_out,) or None, of x's
    dtype and device; stride (>= 1), padding (>= 0): int or (int, int).
    Returns (N, C_out, H_out, W_out), H_out = conv_output_size(H, kH, stride, padding).

    Each output pixel is the sum of products of one kernel and the window under it:
    ``out[n, o, i, j] = sum(x_padded[n, :, i*s : i*s + kH, j*s : j*s + kW] * weight[o])``.
    """
    _check_x(x)
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

    x, weight, bias, stride, padding: as for ``conv2d_loops``.
    Returns (N, C_out, H_out, W_out), the same numbers as ``conv2d_loops``.

    ``F.unfold`` copies every kH x kW window (all C_in channels) into a column:
    (N, C_in*kH*kW, L) with L = H_out*W_out windows. Each kernel, flattened to a row
    of C_in*kH*kW numbers, times each column is one output pixel.
    """
    _check_x(x)
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

    x: (N, C, H, W), any float dtype; kernel_size, stride: int >= 1 or (int, int); stride
    defaults to kernel_size (non-overlapping windows); the kernel must fit in the input.
    Returns (N, C, H_out, W_out). A NaN in a window gives NaN, as in ``F.max_pool2d``.
    Each channel is pooled on its own: ``out[n, c, i, j]`` is the largest value of
    the window ``x[n, c, i*s : i*s + k, j*s : j*s + k]``. Rows or columns left over at
    the bottom or right edge are dropped (7x7 pooled by 2 gives 3x3).
    """
    _check_x(x)
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


def _check_layers(layers) -> list[tuple[int, int, int]]:
    """``layers`` as a list of (kernel_size, stride, padding), one per layer."""
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers: expected a list of (kernel_size, stride) or (kernel_size, "
                        f"stride, padding), one per layer, got {describe(layers)}")
    return [_layer_spec(layer, index) for index, layer in enumerate(layers)]


def _layer_spec(layer, index: int) -> tuple[int, int, int]:
    """``(kernel_size, stride)`` or ``(kernel_size, stride, padding)`` -> (k, s, p)."""
    name = f"layers[{index}]"
    if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
        error = ValueError if isinstance(layer, (tuple, list)) else TypeError
        raise error(f"{name}: expected (kernel_size, stride) or (kernel_size, stride, padding), "
                    f"got {describe(layer)}")
    kernel_size = check_int(layer[0], f"{name} kernel_size", low=1)
    stride = check_int(layer[1], f"{name} stride", low=1)
    padding = check_int(layer[2], f"{name} padding", low=0) if len(layer) == 3 else 0
    return kernel_size, stride, padding


def receptive_field(layers) -> list[ReceptiveField]:
    """The receptive field after each layer of a stack.

    layers: a list of (kernel_size, stride) pairs, one per layer, e.g.
    ``[(3, 1), (3, 1), (2, 2)]`` for conv3x3, conv3x3, pool2x2 (ints, kernel_size and
    stride >= 1). A third number, the padding (>= 0), is allowed; it moves the field
    but does not change its size. Returns one ``ReceptiveField(size, jump)`` per layer.

    Going through one layer, a unit sees ``kernel_size`` units of the layer below,
    which are ``jump`` input pixels apart, so the size grows by
    ``(kernel_size - 1) * jump``; a stride multiplies the jump.

    >>> receptive_field([(3, 1), (3, 1)])
    [ReceptiveField(size=3, jump=1), ReceptiveField(size=5, jump=1)]
    """
    size, jump, fields = 1, 1, []
    for kernel_size, stride, _ in _check_layers(layers):
        size = size + (kernel_size - 1) * jump
        jump = jump * stride
        fields.append(ReceptiveField(size, jump))
    return fields


def output_size(layers, input_size) -> tuple[int, int]:
    """(H_out, W_out) after a stack of layers, each (kernel_size, stride[, padding]).

    input_size: an int >= 1 (a square) or (H, W).

    >>> output_size([(2, 2)] * 3, (28, 28))  # three 2x2 poolings: 28 -> 14 -> 7 -> 3
    (3, 3)
    """
    specs = _check_layers(layers)
    H, W = _pair(input_size, "input_size", 1)
    for index, (kernel_size, stride, padding) in enumerate(specs):
        try:
            H = conv_output_size(H, kernel_size, stride, padding)
            W = conv_output_size(W, kernel_size, stride, padding)
        except ValueError as error:
            raise ValueError(f"layers[{index}]: {error}") from None
    return H, W


def receptive_region(layers, position, input_size=None) -> tuple[int, int, int, int]:
    """The input pixels that one output unit sees, as ``(top, left, bottom, right)``.

    layers: as for ``receptive_field``, with padding (third number) where the layer
    pads, e.g. ``[(3, 1, 1), (2, 2)]``; position: (row, col), ints >= 0, of the unit in
    the last layer's output. The region is half-open: ``image[top:bottom, left:right]``
    is what the unit sees (the box around them, where a stride larger than its kernel
    skips pixels). Without ``input_size`` it is the full field, which can stick out of
    the image into the zero padding (the output's size is then unknown, so any position
    is taken). With ``input_size=(H, W)`` it holds only the pixels that really reach
    the unit, ``position`` must lie inside the output, and a unit that sees only padding
    gets an empty region (``bottom == top`` or ``right == left``).

    It walks back from the unit through the layers: unit u of a layer's output sees the
    units ``u*stride - padding`` to ``u*stride - padding + kernel_size - 1`` of its input
    (those outside the input are padding, not pixels).
    """
    specs = _check_layers(layers)
    if not isinstance(position, (tuple, list)) or len(position) != 2:
        raise TypeError(f"position: expected (row, col), got {describe(position)}")
    row = check_int(position[0], "position[0] (row)", low=0)
    col = check_int(position[1], "position[1] (col)", low=0)
    if input_size is None:
        rows = _walk_back(specs, [None] * len(specs), row)
        cols = _walk_back(specs, [None] * len(specs), col)
        return rows[0], cols[0], rows[1], cols[1]

    H, W = _pair(input_size, "input_size", 1)
    heights, widths = [H], [W]  # the input size of each layer, then the output size
    for index in range(len(specs)):
        H_out, W_out = output_size(specs[: index + 1], (H, W))
        heights.append(H_out)
        widths.append(W_out)
    if row >= heights[-1] or col >= widths[-1]:
        raise ValueError(f"position: expected a unit inside the {heights[-1]}x{widths[-1]} "
                         f"output, got {(row, col)}")
    rows = _walk_back(specs, heights[:-1], row)
    cols = _walk_back(specs, widths[:-1], col)
    return rows[0], cols[0], rows[1], cols[1]


def _walk_back(specs, sizes, unit: int) -> tuple[int, int]:
    """Along one dimension: [first, last), the span of the input units that ``unit``
    depends on; (0, 0) when there is none (it sees only padding).

    specs: (kernel_size, stride, padding) per layer; sizes: each layer's input length,
    to drop the padding positions (None: keep them).
    """
    units = {unit}
    for (kernel_size, stride, padding), size in zip(reversed(specs), reversed(sizes), strict=True):
        units = {u * stride - padding + i for u in units for i in range(kernel_size)}
        if size is not None:
            units = {u for u in units if 0 <= u < size}     # padding is not a pixel
    if not units:
        return 0, 0
    return min(units), max(units) + 1


def layers_of(model) -> list[tuple[int, int, int]]:
    """(kernel_size, stride, padding) of each square Conv2d / MaxPool2d / AvgPool2d in a model.

    model: an ``nn.Module`` whose layers run in the order they are defined (an
    ``nn.Sequential``). Other layers (ReLU, BatchNorm, ...) do not change the receptive
    field and are skipped; layers that do but that a (kernel_size, stride, padding)
    cannot describe (transposed convolutions, upsampling, adaptive pooling, dilated
    kernels, ``ceil_mode=True``, padding "same") are refused with an error.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}")
    layers = []
    for module in model.modules():
        if isinstance(module, (torch.nn.ConvTranspose2d, torch.nn.Upsample,
                               torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveMaxPool2d)):
            raise ValueError(f"model: expected Conv2d, MaxPool2d and AvgPool2d layers, got "
                             f"{module}, which (kernel_size, stride, padding) cannot describe")
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            continue
        padding = 0 if module.padding == "valid" else module.padding
        if (getattr(module, "dilation", 1) not in (1, (1, 1)) or isinstance(padding, str)
                or getattr(module, "ceil_mode", False)):
            raise ValueError(f"model: expected layers without dilation, ceil_mode or "
                             f"padding='same', got {module}")
        k = _pair(module.kernel_size, "kernel_size", 1)
        s = _pair(module.stride, "stride", 1)
        p = _pair(padding, "padding", 0)
        if k[0] != k[1] or s[0] != s[1] or p[0] != p[1]:
            raise ValueError(f"model: expected square kernels, strides and paddings, "
                             f"got {module}")
        layers.append((k[0], s[0], p[0]))
    return layers
