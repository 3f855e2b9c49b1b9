"""U-Net (Ronneberger et al., 2015): an encoder, a decoder, and skip connections.

The encoder halves the image ``depth`` times (each step: max pooling, then a double
convolution that doubles the channels); the decoder doubles it back (each step: an
upsampling, the encoder's feature map of the same size concatenated to it, then a double
convolution). The skips bring back the fine detail that pooling threw away.

Every 3x3 convolution is padded, so the output has the input's height and width,
for any input whose sides are divisible by ``2 ** depth`` (the original U-Net used
unpadded convolutions and cropped the skips; padding is the common modern choice).
"""

import torch
from torch import nn

from coursekit._checks import check_bool, check_choice, check_int, check_tensor, describe
from coursekit.profiling import count_parameters  # noqa: F401  (moved; chapter 5 uses it here)

UPSAMPLINGS = ("transposed", "bilinear")


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions (padding 1), each followed by batch norm (optional) and ReLU.

    in_channels, out_channels: ints >= 1; batch_norm: True or False.
    x: (N, in_channels, H, W) -> (N, out_channels, H, W). With batch norm the
    convolutions have no bias (the norm's shift does its job).
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        in_channels = check_int(in_channels, "in_channels", low=1)
        out_channels = check_int(out_channels, "out_channels", low=1)
        check_bool(batch_norm, "batch_norm")
        layers = []
        for channels in (in_channels, out_channels):
            layers.append(nn.Conv2d(channels, out_channels, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Down(nn.Sequential):
    """One encoder step: 2x2 max pooling, then a double conv.

    in_channels, out_channels: ints >= 1. x: (N, in_channels, H, W) -> (N, out_channels,
    H / 2, W / 2).
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, batch_norm))


class Up(nn.Module):
    """One decoder step: upsample x2, concatenate the skip, then a double conv.

    in_channels: an even int >= 2; out_channels: an int >= 1.
    x: (N, in_channels, h, w); skip: (N, in_channels // 2, 2h, 2w) from the encoder
    -> (N, out_channels, 2h, 2w). "transposed": a learned 2x2 transposed convolution
    that also halves the channels; "bilinear": fixed bilinear upsampling, then a 1x1
    convolution that halves the channels.
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True,
                 upsampling: str = "transposed"):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", low=2)
        if in_channels % 2:
            raise ValueError(f"in_channels: expected an even int (half come from the skip), "
                             f"got {in_channels}")
        check_choice(upsampling, "upsampling", UPSAMPLINGS)
        self.in_channels = in_channels
        if upsampling == "transposed":
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        elif upsampling == "bilinear":
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, in_channels // 2, 1))
        self.conv = DoubleConv(in_channels, out_channels, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        half = self.in_channels // 2
        check_tensor(x, "x", ndim=4, dims=f"(N, {self.in_channels}, h, w)", kind="float")
        check_tensor(skip, "skip", ndim=4, dims=f"(N, {half}, 2h, 2w)", kind="float")
        N, _, h, w = x.shape
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x: expected (N, {self.in_channels}, h, w), got {describe(x)}")
        if skip.shape != (N, half, 2 * h, 2 * w):
            raise ValueError(f"skip: expected {(N, half, 2 * h, 2 * w)} for x of shape "
                             f"{tuple(x.shape)}, got {describe(skip)}")
        x = self.up(x)                          # (N, in / 2, 2h, 2w)
        x = torch.cat([skip, x], dim=1)         # (N, in, 2h, 2w): the skip's detail joins
        return self.conv(x)                     # (N, out, 2h, 2w)


class UNet(nn.Module):
    """U-Net: images (N, in_channels, H, W) -> logits (N, num_classes, H, W).

    in_channels, num_classes: ints >= 1;
    depth: number of poolings, an int >= 1 (H and W must be divisible by 2 ** depth);
    width: channels of the first level, an int >= 1, doubled at each level down;
    batch_norm: True for batch norm after every convolution;
    upsampling: "transposed" (learned) or "bilinear" (fixed, then a 1x1 conv).
    The images may be of any float dtype (converted to the weights' dtype) and in
    channels-last memory format; a single image (C, H, W) needs its batch dimension:
    ``image[None]``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, depth: int = 4,
                 width: int = 64, batch_norm: bool = True, upsampling: str = "transposed"):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", low=1)
        num_classes = check_int(num_classes, "num_classes", low=1)
        depth = check_int(depth, "depth", low=1)
        width = check_int(width, "width", low=1)
        check_bool(batch_norm, "batch_norm")
        check_choice(upsampling, "upsampling", UPSAMPLINGS)
        self.in_channels, self.depth = in_channels, depth
        channels = [width * 2 ** level for level in range(depth + 1)]  # e.g. 64 ... 1024
        self.first = DoubleConv(in_channels, channels[0], batch_norm)
        self.downs = nn.ModuleList(
            Down(channels[i], channels[i + 1], batch_norm) for i in range(depth))
        self.ups = nn.ModuleList(
            Up(channels[i + 1], channels[i], batch_norm, upsampling)
            for i in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], num_classes, 1)  # a class score per pixel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.depth, self.in_channels)
        x = x.to(self.head.weight.dtype)        # float16 images into a float32 model, ...
        skips = [self.first(x)]                 # full size
        for down in self.downs:
            skips.append(down(skips[-1]))       # 1/2, 1/4, ... 1/2**depth
        x = skips.pop()                         # the bottom of the U
        for up in self.ups:
            x = up(x, skips.pop())              # back up, one skip per level
        return self.head(x)


def check_input(x, depth: int, channels: int | None = None) -> None:
    """Fail clearly unless x is a float (N, C, H, W) with H and W divisible by
    2 ** depth (and >= it), and C == channels unless channels is None."""
    depth = check_int(depth, "depth", low=0)
    check_tensor(x, "x", ndim=4, dims="(N, C, H, W)", kind="float")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"x: expected {channels} channels, (N, {channels}, H, W), "
                         f"got {describe(x)}")
    H, W = x.shape[-2:]
    multiple = 2 ** depth
    if H % multiple or W % multiple or min(H, W) < multiple:
        raise ValueError(
            f"x: height and width must be divisible by 2 ** depth = {multiple}, got {H}x{W}; "
            f"pad or crop the image, e.g. to {H // multiple * multiple}x{W // multiple * multiple}")
