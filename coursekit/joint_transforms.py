"""Transforms applied to an image and its mask together, so they stay aligned.

A segmentation mask is a map of class indices, not an image: a flip or a rotation must
move it exactly as it moves the image, and a resize must pick the nearest label, never
blend two labels into a third (halfway between class 1 and class 3 is not class 2).

Every function takes ``image: (C, H, W)`` of any float dtype and ``mask: (H, W)`` class
indices of any integer dtype or bool (uint8 masks read from PNG files, class 255
included), and returns both, transformed: the image in its own dtype, the mask as int64.
Randomness comes from a ``torch.Generator``, so a seed repeats it.
"""

import torch
import torch.nn.functional as F

from coursekit._checks import check_int, check_number, check_tensor, describe


def _check_pair(image, mask):
    check_tensor(image, "image", ndim=3, dims="(C, H, W)", kind="float")
    if image.numel() == 0:
        raise ValueError(f"image: expected at least 1 channel, row and column, "
                         f"got {describe(image)}")
    check_tensor(mask, "mask", ndim=2, dims="(H, W)")
    if mask.is_floating_point() or mask.is_complex():
        raise TypeError(f"mask: expected an integer tensor (H, W) of class indices, "
                        f"got {describe(mask)}")
    if image.shape[1:] != mask.shape:
        raise ValueError(f"mask: expected the image's size {tuple(image.shape[1:])}, "
                         f"got {tuple(mask.shape)}")


def _check_generator(generator):
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {describe(generator)}")


def random_crop(image, mask, size: int, generator=None):
    """The same random ``size`` x ``size`` window of both; size: an int from 1 to the
    image's smaller side."""
    _check_pair(image, mask)
    _check_generator(generator)
    H, W = mask.shape
    size = check_int(size, "size", low=1, high=min(H, W))
    top = int(torch.randint(H - size + 1, (1,), generator=generator))
    left = int(torch.randint(W - size + 1, (1,), generator=generator))
    return (image[:, top:top + size, left:left + size],
            mask[top:top + size, left:left + size].long())


def random_flip_rotate(image, mask, generator=None):
    """One of the 8 symmetries of a square, at random, applied to both: a horizontal
    flip or not, then 0, 1, 2 or 3 quarter turns (rot90 also works on non-square)."""
    _check_pair(image, mask)
    _check_generator(generator)
    flip, turns = torch.randint(2, (1,), generator=generator), torch.randint(4, (1,),
                                                                             generator=generator)
    if flip:
        image, mask = image.flip(-1), mask.flip(-1)
    turns = int(turns)
    return image.rot90(turns, (-2, -1)), mask.rot90(turns, (-2, -1)).long()


def random_elastic(image, mask, sigma: float = 10.0, grid: int = 3, generator=None):
    """A smooth random warp of both, as in the U-Net paper: each point of a coarse
    ``grid`` x ``grid`` lattice (an int >= 2) moves by a random vector (normal, ``sigma``
    pixels, a finite number >= 0), and bicubic interpolation spreads the moves over
    every pixel. The image is resampled bilinearly, the mask by nearest neighbour (its
    values stay labels); pixels pulled from outside take the nearest border value.
    """
    _check_pair(image, mask)
    sigma = check_number(sigma, "sigma", low=0)
    grid = check_int(grid, "grid", low=2)
    _check_generator(generator)
    H, W = mask.shape
    moves = torch.randn(1, 2, grid, grid, generator=generator) * sigma   # pixels, (x, y)
    moves = F.interpolate(moves, size=(H, W), mode="bicubic", align_corners=True)
    # grid_sample wants, for each output pixel, where to read, in [-1, 1] coordinates
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing="ij")
    read_x = (xs + moves[0, 0]) / max(W - 1, 1) * 2 - 1
    read_y = (ys + moves[0, 1]) / max(H - 1, 1) * 2 - 1
    where = torch.stack([read_x, read_y], dim=-1)[None]                  # (1, H, W, 2)
    work = torch.float64 if image.dtype == torch.float64 else torch.float32
    warped = F.grid_sample(image[None].to(work), where.to(work), mode="bilinear",
                           padding_mode="border", align_corners=True)[0]
    mask = F.grid_sample(mask[None, None].double(), where.double(), mode="nearest",
                         padding_mode="border", align_corners=True)[0, 0]  # exact labels
    return warped.to(image.dtype), mask.long()


def resize(image, mask, size):
    """Both to ``size``: (H, W) or an int for a square (ints >= 1). The image bilinearly
    (antialiased), the mask by nearest neighbour ("nearest-exact"), so that every mask
    value is one of the labels it had."""
    _check_pair(image, mask)
    if isinstance(size, (tuple, list)) and len(size) == 2:
        size = (check_int(size[0], "size[0]", low=1), check_int(size[1], "size[1]", low=1))
    elif isinstance(size, (tuple, list)):
        raise ValueError(f"size: expected an int or (H, W), got {describe(size)}")
    else:
        size = (check_int(size, "size", low=1),) * 2
    work = torch.float64 if image.dtype == torch.float64 else torch.float32
    resized = F.interpolate(image[None].to(work), size=size, mode="bilinear",
                            align_corners=False, antialias=True)[0]
    # float64 holds every class index exactly (float32 only up to 2 ** 24)
    mask = F.interpolate(mask[None, None].double(), size=size, mode="nearest-exact")[0, 0]
    return resized.to(image.dtype), mask.long()


class RandomCropFlipRotate:
    """Augmentation for training: a random crop, then a random flip and quarter turns,
    then (if ``elastic_sigma`` > 0) a random elastic warp of that many pixels.

    ``transform(image, mask) -> (image, mask)`` with image (C, size, size) and mask
    (size, size) int64; size: an int >= 1; seed: an int >= 0, the same seed gives the
    same sequence of transforms; elastic_sigma: a finite number >= 0.
    """

    def __init__(self, size: int, seed: int = 0, elastic_sigma: float = 0.0):
        self.size = check_int(size, "size", low=1)
        self.elastic_sigma = check_number(elastic_sigma, "elastic_sigma", low=0)
        self.generator = torch.Generator().manual_seed(check_int(seed, "seed", low=0))

    def __call__(self, image, mask):
        image, mask = random_crop(image, mask, self.size, self.generator)
        image, mask = random_flip_rotate(image, mask, self.generator)
        if self.elastic_sigma > 0:
            image, mask = random_elastic(image, mask, self.elastic_sigma,
                                         generator=self.generator)
        return image, mask
