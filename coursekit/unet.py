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


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions (padding 1), each followed by batch norm (optional) and ReLU.

    x: (N, in_channels, H, W) -> (N, out_channels, H, W). With batch norm the
    convolutions have no bias (the norm's shift does its job).
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        layers = []
        for channels in (in_channels, out_channels):
            layers.append(nn.Conv2d(channels, out_channels, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Down(nn.Sequential):
    """One encoder step: 2x2 max pooling, then a double conv.

    x: (N, in_channels, H, W) -> (N, out_channels, H / 2, W / 2).
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, batch_norm))


class Up(nn.Module):
    """One decoder step: upsample x2, concatenate the skip, then a double conv.

    x: (N, in_channels, h, w); skip: (N, in_channels // 2, 2h, 2w) from the encoder
    -> (N, out_channels, 2h, 2w). "transposed": a learned 2x2 transposed convolution
    that also halves the channels; "bilinear": fixed bilinear upsampling, then a 1x1
    convolution that halves the channels.
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True,
                 upsampling: str = "transposed"):
        super().__init__()
        if upsampling == "transposed":
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, stride=2)
        elif upsampling == "bilinear":
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, in_channels // 2, 1))
        else:
            raise ValueError(f"upsampling: expected 'transposed' or 'bilinear', "
                             f"got {upsampling!r}")
        self.conv = DoubleConv(in_channels, out_channels, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)                          # (N, in / 2, 2h, 2w)
        x = torch.cat([skip, x], dim=1)         # (N, in, 2h, 2w): the skip's detail joins
        return self.conv(x)                     # (N, out, 2h, 2w)


class UNet(nn.Module):
    """U-Net: images (N, in_channels, H, W) -> logits (N, num_classes, H, W).

    depth: number of poolings (H and W must be divisible by 2 ** depth);
    width: channels of the first level, doubled at each level down;
    batch_norm: batch norm after every convolution;
    upsampling: "transposed" (learned) or "bilinear" (fixed, then a 1x1 conv).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, depth: int = 4,
                 width: int = 64, batch_norm: bool = True, upsampling: str = "transposed"):
        super().__init__()
        for name, value, low in [("in_channels", in_channels, 1), ("num_classes", num_classes, 1),
                                 ("depth", depth, 1), ("width", width, 1)]:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
        self.depth = depth
        channels = [width * 2 ** level for level in range(depth + 1)]  # e.g. 64 ... 1024
        self.first = DoubleConv(in_channels, channels[0], batch_norm)
        self.downs = nn.ModuleList(
            Down(channels[i], channels[i + 1], batch_norm) for i in range(depth))
        self.ups = nn.ModuleList(
            Up(channels[i + 1], channels[i], batch_norm, upsampling)
            for i in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], num_classes, 1)  # a class score per pixel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.depth)
        skips = [self.first(x)]                 # full size
        for down in self.downs:
            skips.append(down(skips[-1]))       # 1/2, 1/4, ... 1/2**depth
        x = skips.pop()                         # the bottom of the U
        for up in self.ups:
            x = up(x, skips.pop())              # back up, one skip per level
        return self.head(x)


def check_input(x, depth: int) -> None:
    """Fail clearly unless x is (N, C, H, W) with H and W divisible by 2 ** depth."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x: expected a tensor (N, C, H, W), got {shape}")
    H, W = x.shape[-2:]
    multiple = 2 ** depth
    if H % multiple or W % multiple:
        raise ValueError(
            f"x: height and width must be divisible by 2 ** depth = {multiple}, got {H}x{W}; "
            f"pad or crop the image, e.g. to {H // multiple * multiple}x{W // multiple * multiple}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
