"""Fully convolutional networks (Long, Shelhamer and Darrell, 2015): FCN-32s, 16s, 8s.

A classifier ends in fully connected layers that give one answer per image, for an
input of one fixed size. An FCN keeps only convolutions: its last layer is a 1x1
convolution that gives a score per class at every position of a coarse grid (1/32 of
the input here), and a transposed convolution initialised to bilinear upsampling
brings the scores back to the input's size. FCN-16s and FCN-8s add scores from
earlier, finer feature maps (1/16, 1/8) on the way up: the *skip fusion* that gives
them sharper edges.

The backbone here is small (five VGG-like stages of 3x3 convolutions and a pooling) so
that it trains on a CPU; torchvision's ``fcn_resnet50`` is the big pretrained one.

One deviation from the paper: there the *final* upsampling is fixed to bilinear ("Final
layer deconvolutional filters are fixed to bilinear interpolation, while intermediate
upsampling layers are initialized to bilinear upsampling, and then learned", section 4.3);
here every upsampling, the final one included, starts bilinear and is learned.

The algebra of transposed convolution, for chapter 4: ``transposed_output_size`` (how
big its output is) and ``conv_matrix`` (the matrix C of a convolution, whose transpose
C^T is the transposed convolution). ``segment_photo`` runs a pretrained torchvision
segmentation model on one photo.
"""

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._checks import (
    check_choice,
    check_finite,
    check_int,
    check_module,
    check_optional_int,
    check_tensor,
    describe,
)
from coursekit.models import download_failure, download_quietly

VARIANTS = ("32s", "16s", "8s")


# ---------------------------------------------------------------------------
# Transposed convolution: its output size and its matrix
# ---------------------------------------------------------------------------


def transposed_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                           output_padding: int = 0, dilation: int = 1) -> int:
    """The output length of a transposed convolution along one dimension.

    ``(size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``

    Every argument is an int (NumPy ints too), in ``nn.ConvTranspose2d``'s order: size,
    kernel_size, stride, dilation >= 1; padding, output_padding >= 0, output_padding
    smaller than stride or dilation (as torch requires); the result must be >= 1. Each
    input pixel writes a window spanning ``dilation * (kernel_size - 1) + 1`` pixels,
    ``stride`` apart; ``padding`` crops that many pixels from each side and
    ``output_padding`` adds that many on one side.

    >>> transposed_output_size(4, 4, stride=2, padding=1)   # FCN's x2 upsampling
    8
    >>> transposed_output_size(2, 3)                        # undoes a valid 3x3 conv
    4
    """
    size = check_int(size, "size", low=1)
    kernel_size = check_int(kernel_size, "kernel_size", low=1)
    stride = check_int(stride, "stride", low=1)
    padding = check_int(padding, "padding", low=0)
    output_padding = check_int(output_padding, "output_padding", low=0)
    dilation = check_int(dilation, "dilation", low=1)
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding: expected less than stride ({stride}) or dilation "
                         f"({dilation}), got {output_padding}")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding: {padding} on each side crops the whole output "
                         f"(it would have {out} pixels)")
    return out


MAX_MATRIX_INPUTS = 4096
"""``conv_matrix`` builds one column per input value: it is for small examples."""


def conv_matrix(weight, input_size, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The matrix C of a convolution: ``C @ x.flatten() == F.conv2d(x, weight, stride=stride,
    padding=padding).flatten()`` for one image x.

    weight: (C_out, C_in, k, k) float; input_size: (H, W), ints >= 1 (or one int for a
    square input); stride >= 1, padding >= 0. Returns (C_out * H_out * W_out,
    C_in * H * W), in weight's dtype and on its device. Column j is the convolution of
    the j-th unit image (a single 1, at the j-th position of x.flatten()); at most
    ``MAX_MATRIX_INPUTS`` input values.

    ``C.T`` maps an output-sized map back to the input's size: it is the transposed
    convolution ``F.conv_transpose2d(y, weight, stride=stride, padding=padding,
    output_padding=...)``, and also the gradient of the convolution with respect to x.
    """
    check_tensor(weight, "weight", ndim=4, dims="(C_out, C_in, k, k)", kind="float")
    check_finite(weight, "weight")
    if min(weight.shape) < 1:
        raise ValueError(f"weight: expected at least 1 output channel, 1 input channel and a "
                         f"1x1 kernel, got {describe(weight)}")
    if isinstance(input_size, list | tuple):
        if len(input_size) != 2:
            raise ValueError(f"input_size: expected (H, W), got {describe(input_size)}")
        height = check_int(input_size[0], "input_size[0]", low=1)
        width = check_int(input_size[1], "input_size[1]", low=1)
    else:
        height = width = check_int(input_size, "input_size", low=1)
    stride = check_int(stride, "stride", low=1)
    padding = check_int(padding, "padding", low=0)
    k_h, k_w = weight.shape[-2:]
    if k_h > height + 2 * padding or k_w > width + 2 * padding:
        raise ValueError(f"weight: a {k_h}x{k_w} kernel is larger than the padded input "
                         f"{height + 2 * padding}x{width + 2 * padding}")
    n = weight.shape[1] * height * width
    if n > MAX_MATRIX_INPUTS:
        raise ValueError(f"input_size: C_in * H * W = {n} input values, more than the "
                         f"{MAX_MATRIX_INPUTS} a matrix built column by column is meant for")
    units = torch.eye(n, dtype=weight.dtype, device=weight.device)
    units = units.reshape(n, weight.shape[1], height, width)   # the n unit images
    columns = F.conv2d(units, weight, stride=stride, padding=padding)  # (n, C_out, h, w)
    return columns.reshape(n, -1).T.contiguous()


def bilinear_kernel(factor: int) -> torch.Tensor:
    """The 2-D kernel with which a transposed convolution upsamples bilinearly.

    factor: an int >= 1. Returns (k, k) float32 with k = 2 * factor - factor % 2: the
    outer product of a "tent" 1 - |distance from the centre| / factor with itself. For
    factor 2: the tent is (0.25, 0.75, 0.75, 0.25).
    """
    factor = check_int(factor, "factor", low=1)
    size = 2 * factor - factor % 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    tent = 1 - (torch.arange(size, dtype=torch.float32) - center).abs() / factor  # (k,)
    return tent[:, None] * tent[None, :]


def bilinear_upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A transposed convolution that starts as bilinear upsampling by ``factor``.

    channels, factor: ints >= 1.
    x: (N, channels, H, W) -> (N, channels, factor * H, factor * W). Each channel is
    upsampled on its own (``groups=channels``: weight (channels, 1, k, k), the bilinear
    kernel in every channel). Away from the border (``factor`` pixels) it equals
    ``F.interpolate(x, scale_factor=factor, mode="bilinear")``; at the border it fades,
    as if the image were padded with zeros. The weights are learnable.
    """
    channels = check_int(channels, "channels", low=1)
    kernel = bilinear_kernel(factor)
    size = kernel.shape[0]
    up = nn.ConvTranspose2d(channels, channels, size, stride=factor,
                            padding=(size - factor) // 2, groups=channels, bias=False)
    with torch.no_grad():
        up.weight.copy_(kernel.expand(channels, 1, size, size))
    return up


class SkipFusion(nn.Module):
    """One FCN skip: upsample coarse scores x2 and add scores made from finer features.

    skip_channels, num_classes: ints >= 1. coarse: (N, num_classes, h, w); features:
    (N, skip_channels, 2h, 2w) -> (N, num_classes, 2h, 2w). The new 1x1 score layer
    starts at zero, so at first the fused net predicts exactly what the coarser one did
    (as in the FCN paper).
    """

    def __init__(self, skip_channels: int, num_classes: int):
        super().__init__()
        skip_channels = check_int(skip_channels, "skip_channels", low=1)
        num_classes = check_int(num_classes, "num_classes", low=1)
        self.score = nn.Conv2d(skip_channels, num_classes, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)
        self.up = bilinear_upsampler(num_classes, 2)

    def forward(self, coarse: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        classes, skip_channels = self.score.out_channels, self.score.in_channels
        check_tensor(coarse, "coarse", ndim=4, dims=f"(N, {classes}, h, w)", kind="float")
        check_tensor(features, "features", ndim=4, dims=f"(N, {skip_channels}, 2h, 2w)",
                     kind="float")
        N, _, h, w = coarse.shape
        if coarse.shape[1] != classes:
            raise ValueError(f"coarse: expected (N, {classes}, h, w), got {describe(coarse)}")
        if features.shape != (N, skip_channels, 2 * h, 2 * w):
            raise ValueError(f"features: expected {(N, skip_channels, 2 * h, 2 * w)} for coarse "
                             f"scores of shape {tuple(coarse.shape)}, got {describe(features)}")
        return self.up(coarse) + self.score(features)


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv + batch norm + ReLU, then 2x2 max pooling: halves H and W."""
    layers = []
    for channels in (in_channels, out_channels):
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1, bias=False),
                   nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class FCN(nn.Module):
    """FCN on a small VGG-like backbone: images (N, in_channels, H, W) -> logits
    (N, num_classes, H, W), for H and W divisible by 32.

    in_channels, num_classes, width: ints >= 1. variant: "32s" (upsample the 1/32
    scores by 32), "16s" (fuse the 1/16 features first, then x16) or "8s" (also the 1/8
    features, then x8). width: channels of the first stage; the stages have width x
    (1, 2, 4, 8, 8). The images may be of any float dtype (converted to the weights'
    dtype) and in channels-last memory format; a single image (C, H, W) needs its batch
    dimension: ``image[None]``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, variant: str = "8s",
                 width: int = 16):
        super().__init__()
        check_choice(variant, "variant", VARIANTS)
        in_channels = check_int(in_channels, "in_channels", low=1)
        num_classes = check_int(num_classes, "num_classes", low=1)
        width = check_int(width, "width", low=1)
        self.in_channels = in_channels
        self.variant = variant
        c = [width * m for m in (1, 2, 4, 8, 8)]
        self.stages = nn.ModuleList([_stage(in_channels, c[0])] +
                                    [_stage(c[i], c[i + 1]) for i in range(4)])
        # the "fully connected" layers of a classifier, as convolutions (fc6, fc7)
        self.classifier = nn.Sequential(
            nn.Conv2d(c[4], 2 * c[4], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(2 * c[4], num_classes, 1))          # scores at 1/32
        if variant in ("16s", "8s"):
            self.fuse16 = SkipFusion(c[3], num_classes)    # with stage 4's output, 1/16
        if variant == "8s":
            self.fuse8 = SkipFusion(c[2], num_classes)     # with stage 3's output, 1/8
        factor = {"32s": 32, "16s": 16, "8s": 8}[variant]
        self.upsample = bilinear_upsampler(num_classes, factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, dims=f"(N, {self.in_channels}, H, W)", kind="float")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x: expected {self.in_channels} channels, (N, {self.in_channels}"
                             f", H, W), got {describe(x)}")
        if x.shape[-2] % 32 or x.shape[-1] % 32 or min(x.shape[-2:]) < 32:
            raise ValueError(f"x: height and width must be divisible by 32 (and >= 32), "
                             f"got {x.shape[-2]}x{x.shape[-1]}")
        x = x.to(self.upsample.weight.dtype)   # float16 images into a float32 model, ...
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)                  # 1/2, 1/4, 1/8, 1/16, 1/32
        scores = self.classifier(x)             # (N, classes, H/32, W/32)
        if self.variant in ("16s", "8s"):
            scores = self.fuse16(scores, features[3])   # (N, classes, H/16, W/16)
        if self.variant == "8s":
            scores = self.fuse8(scores, features[2])    # (N, classes, H/8, W/8)
        return self.upsample(scores)            # (N, classes, H, W)


def pretrained_fcn_resnet50(num_classes: int | None = None):
    """torchvision's FCN with a ResNet-50 backbone, pretrained on COCO (VOC classes).

    Downloads about 135 MB of weights the first time (in Colab). Offline, raises a
    RuntimeError saying so. ``num_classes`` (an int >= 1, or None to keep the 21 VOC
    classes) replaces the last layer for a new task.
    """
    num_classes = check_optional_int(num_classes, "num_classes", low=1)
    from torchvision.models.segmentation import FCN_ResNet50_Weights, fcn_resnet50

    try:
        model = download_quietly(lambda: fcn_resnet50(weights=FCN_ResNet50_Weights.DEFAULT))
    except Exception as error:  # no internet: URLError, socket errors, ...
        raise RuntimeError(
            f"fcn_resnet50's pretrained weights could not be downloaded: "
            f"{download_failure(error)}. They need the internet: run this in Colab or "
            "online; the rest of the chapter does not need them.") from None
    if num_classes is not None:
        model.classifier[4] = nn.Conv2d(512, num_classes, 1)
        model.aux_classifier = None
    return model


def segment_photo(model, photo, preprocess) -> torch.Tensor:
    """One class per pixel of ``photo``, by a torchvision segmentation model.

    model: a torchvision segmentation model (``fcn_resnet50``, ...), returning
    ``{"out": (1, K, h, w)}`` for a batch (1, 3, h, w); photo: a PIL image, or a (3, H, W)
    tensor (uint8, or float in [0, 1]); preprocess: the weights' own transforms,
    ``weights.transforms()`` (resize, scale to [0, 1], normalise as in training). Returns
    (H, W) int64 on the CPU, the photo's own size: the class of the highest score, the
    scores resized bilinearly from the model's input size to the photo's. The model is
    put in eval mode and run without gradients, on the device of its parameters.
    """
    check_module(model, "model")
    if not callable(preprocess):
        raise TypeError(f"preprocess: expected the weights' transforms (weights.transforms()),"
                        f" got {describe(preprocess)}")
    if isinstance(photo, torch.Tensor):
        check_tensor(photo, "photo", ndim=3, dims="(3, H, W)")
        if photo.shape[0] != 3 or min(photo.shape[1:]) < 1:
            raise ValueError(f"photo: expected an RGB image (3, H, W), got {describe(photo)}")
        if photo.is_floating_point():
            check_finite(photo, "photo")
        elif photo.dtype != torch.uint8:
            raise TypeError(f"photo: expected uint8 or float values, got {describe(photo)}")
        size = tuple(photo.shape[1:])
    elif hasattr(photo, "size") and hasattr(photo, "convert"):       # a PIL image
        photo = photo.convert("RGB")
        size = (photo.size[1], photo.size[0])                        # PIL says (W, H)
    else:
        raise TypeError(f"photo: expected a PIL image or a tensor (3, H, W), "
                        f"got {describe(photo)}")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    batch = preprocess(photo)[None].to(device)                       # (1, 3, h, w)
    model.eval()
    with torch.no_grad():
        scores = model(batch)["out"]                                 # (1, K, h, w)
        scores = F.interpolate(scores.float(), size=size, mode="bilinear",
                               align_corners=False)
    return scores.argmax(dim=1)[0].cpu()
