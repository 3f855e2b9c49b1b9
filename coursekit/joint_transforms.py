"""Transforms applied to an image and its mask together, so they stay aligned.

A segmentation mask is a map of class indices, not an image: a flip or a rotation must
move it exactly as it moves the image, and a resize must pick the nearest label, never
blend two labels into a third (halfway between class 1 and class 3 is not class 2).

Every function takes ``image: (C, H, W) float`` and ``mask: (H, W) int64`` and returns
both, transformed. Randomness comes from a ``torch.Generator``, so a seed repeats it.
"""

import torch
import torch.nn.functional as F


def _check_pair(image, mask):
    if not isinstance(image, torch.Tensor) or image.dim() != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image: expected a tensor (C, H, W), got {shape}")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.is_floating_point():
        what = (f"{tuple(mask.shape)} {mask.dtype}" if isinstance(mask, torch.Tensor)
                else type(mask).__name__)
        raise ValueError(f"mask: expected an integer tensor (H, W) of class indices, got {what}")
    if image.shape[1:] != mask.shape:
        raise ValueError(f"mask: expected the image's size {tuple(image.shape[1:])}, "
                         f"got {tuple(mask.shape)}")


def random_crop(image, mask, size: int, generator=None):
    """The same random ``size`` x ``size`` window of both."""
    _check_pair(image, mask)
    H, W = mask.shape
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= min(H, W):
        raise ValueError(f"size: expected an int from 1 to {min(H, W)}, got {size!r}")
    top = int(torch.randint(H - size + 1, (1,), generator=generator))
    left = int(torch.randint(W - size + 1, (1,), generator=generator))
    return (image[:, top:top + size, left:left + size],
            mask[top:top + size, left:left + size])


def random_flip_rotate(image, mask, generator=None):
    """One of the 8 symmetries of a square, at random, applied to both: a horizontal
    flip or not, then 0, 1, 2 or 3 quarter turns (rot90 also works on non-square)."""
    _check_pair(image, mask)
    flip, turns = torch.randint(2, (1,), generator=generator), torch.randint(4, (1,),
                                                                             generator=generator)
    if flip:
        image, mask = image.flip(-1), mask.flip(-1)
    turns = int(turns)
    return image.rot90(turns, (-2, -1)), mask.rot90(turns, (-2, -1))


def random_elastic(image, mask, sigma: float = 10.0, grid: int = 3, generator=None):
    """A smooth random warp of both, as in the U-Net paper: each point of a coarse
    ``grid`` x ``grid`` lattice moves by a random vector (normal, ``sigma`` pixels), and
    bicubic interpolation spreads the moves over every pixel. The image is resampled
    bilinearly, the mask by nearest neighbour (its values stay labels); pixels pulled
    from outside take the nearest border value.
    """
    _check_pair(image, mask)
    if not sigma >= 0:
        raise ValueError(f"sigma: expected a number >= 0 (pixels), got {sigma!r}")
    if not isinstance(grid, int) or isinstance(grid, bool) or grid < 2:
        raise ValueError(f"grid: expected an int >= 2, got {grid!r}")
    H, W = mask.shape
    moves = torch.randn(1, 2, grid, grid, generator=generator) * sigma   # pixels, (x, y)
    moves = F.interpolate(moves, size=(H, W), mode="bicubic", align_corners=True)
    # grid_sample wants, for each output pixel, where to read, in [-1, 1] coordinates
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing="ij")
    read_x = (xs + moves[0, 0]) / max(W - 1, 1) * 2 - 1
    read_y = (ys + moves[0, 1]) / max(H - 1, 1) * 2 - 1
    where = torch.stack([read_x, read_y], dim=-1)[None]                  # (1, H, W, 2)
    image = F.grid_sample(image[None].float(), where, mode="bilinear",
                          padding_mode="border", align_corners=True)[0]
    mask = F.grid_sample(mask[None, None].float(), where, mode="nearest",
                         padding_mode="border", align_corners=True)[0, 0]
    return image, mask.long()


def resize(image, mask, size):
    """Both to ``size`` (H, W) or an int for a square: the image bilinearly, the mask by
    nearest neighbour, so that every mask value is one of the labels it had."""
    _check_pair(image, mask)
    size = (size, size) if isinstance(size, int) else tuple(size)
    image = F.interpolate(image[None].float(), size=size, mode="bilinear",
                          align_corners=False, antialias=True)[0]
    mask = F.interpolate(mask[None, None].float(), size=size, mode="nearest-exact")[0, 0]
    return image, mask.long()


class RandomCropFlipRotate:
    """Augmentation for training: a random crop, then a random flip and quarter turns,
    then (if ``elastic_sigma`` > 0) a random elastic warp of that many pixels.

    ``transform(image, mask) -> (image, mask)`` with image (C, size, size) and mask
    (size, size); seed: the same seed gives the same sequence of transforms.
    """

    def __init__(self, size: int, seed: int = 0, elastic_sigma: float = 0.0):
        self.size = size
        self.elastic_sigma = elastic_sigma
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, image, mask):
        image, mask = random_crop(image, mask, self.size, self.generator)
        image, mask = random_flip_rotate(image, mask, self.generator)
        if self.elastic_sigma > 0:
            image, mask = random_elastic(image, mask, self.elastic_sigma,
                                         generator=self.generator)
        return image, mask
