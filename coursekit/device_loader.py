"""A loader that keeps a small data set on the device and augments it there.

``torch.utils.data.DataLoader`` with PIL transforms decodes, crops and flips every image
on the CPU, one at a time, then copies each batch to the GPU. A data set like MNIST or
CIFAR-10 fits in GPU memory whole (CIFAR-10 as float16: 300 MB), so ``DeviceLoader``
puts it there once, normalised, and augments whole batches with a few tensor operations
(the approach of airbench's CIFAR-10 loader). Chapter 8 compares the two.

    loader = DeviceLoader(images, labels, batch_size=512, device=device,
                          mean=mean, std=std, crop_padding=4, flip=True, shuffle=True)
    for images, labels in loader:   # images: (B, C, H, W) normalised, on the device
        ...
"""

import torch

from coursekit._checks import (
    INTEGER_DTYPES,
    check_bool,
    check_device,
    check_int,
    check_tensor,
    describe,
)
from coursekit.data import normalize


def _check_images(images, generator=None) -> torch.Tensor:
    """images (N, C, H, W) float; generator None or a torch.Generator on their device."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {describe(generator)}")
    check_tensor(images, "images", ndim=4, dims="(N, C, H, W)", kind="float")
    if generator is not None and generator.device.type != images.device.type:
        raise ValueError(f"generator: expected a generator on the images' device "
                         f"({images.device}), got one on {generator.device}")
    return images


def random_crop(images: torch.Tensor, padding: int, generator=None) -> torch.Tensor:
    """Shift each image by up to ``padding`` pixels (zero padding, then a random crop).

    images: (N, C, H, W) float; returns the same shape. Done for the whole batch at
    once with one gather, not image by image.
    """
    _check_images(images, generator)
    padding = check_int(padding, "padding", low=0)
    if padding == 0:
        return images
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), device=images.device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), device=images.device, generator=generator)
    rows = (torch.arange(h, device=images.device)[None, :] + dy[:, None])   # (N, H)
    cols = (torch.arange(w, device=images.device)[None, :] + dx[:, None])   # (N, W)
    index_n = torch.arange(n, device=images.device)[:, None, None, None]
    index_c = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[index_n, index_c, rows[:, None, :, None], cols[:, None, None, :]]


def random_flip(images: torch.Tensor, generator=None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2. images: (N, C, H, W)."""
    _check_images(images, generator)
    flip = torch.rand(len(images), device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def cutout(images: torch.Tensor, size: int, generator=None) -> torch.Tensor:
    """Set one random ``size`` x ``size`` square of each image to 0. images: (N, C, H, W).

    size: 0 (nothing cut out) up to the images' smaller side.
    """
    _check_images(images, generator)
    n, _, h, w = images.shape
    size = check_int(size, "size", low=0, high=min(h, w))
    top = torch.randint(0, h - size + 1, (n,), device=images.device, generator=generator)
    left = torch.randint(0, w - size + 1, (n,), device=images.device, generator=generator)
    rows = torch.arange(h, device=images.device)[None, :]
    cols = torch.arange(w, device=images.device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)      # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)    # (N, W)
    square = in_rows[:, :, None] & in_cols[:, None, :]                   # (N, H, W)
    return images.masked_fill(square[:, None], 0.0)


class DeviceLoader:
    """Batches of a data set held as one tensor on ``device``, augmented there.

    images: (N, C, H, W) float in [0, 1]; labels: (N,) int64. ``mean``/``std`` (C,)
    normalise once, up front. Each epoch (one ``for`` loop over the loader) shuffles
    and, if asked, crops with ``crop_padding``, flips, and cuts out ``cutout_size``
    squares. ``dtype`` (e.g. torch.float16 on a GPU) halves memory and copies. Random
    choices come from the loader's own generator (seeded by ``seed``), saved by
    ``state_dict`` so that a resumed run repeats exactly.
    """

    def __init__(self, images, labels, batch_size, device="cpu", mean=None, std=None,
                 shuffle=False, crop_padding=0, flip=False, cutout_size=0, drop_last=False,
                 dtype=torch.float32, seed=0):
        _check_images(images)
        if len(images) == 0:
            raise ValueError("images: expected at least one image, got an empty tensor")
        check_tensor(labels, "labels", ndim=1, dims=f"({len(images)},)")
        if labels.shape != (len(images),) or labels.dtype not in INTEGER_DTYPES:
            error = ValueError if labels.dtype in INTEGER_DTYPES else TypeError
            raise error(f"labels: expected ({len(images)},) integer class indices, one "
                        f"per image, got {describe(labels)}")
        batch_size = check_int(batch_size, "batch_size", low=1)
        shuffle, flip = check_bool(shuffle, "shuffle"), check_bool(flip, "flip")
        drop_last = check_bool(drop_last, "drop_last")
        crop_padding = check_int(crop_padding, "crop_padding", low=0)
        cutout_size = check_int(cutout_size, "cutout_size", low=0, high=min(images.shape[2:]))
        seed = check_int(seed, "seed", low=0)
        if (mean is None) != (std is None):
            raise ValueError("mean, std: expected both (to normalise) or neither, got one")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype: expected a float dtype such as torch.float16, "
                            f"got {describe(dtype)}")
        if drop_last and len(images) < batch_size:
            raise ValueError(f"batch_size: {batch_size} is more than the {len(images)} images, "
                             "so drop_last=True would leave no batch at all")
        self.device = check_device(device)
        images = images.to(self.device)
        if mean is not None:
            images = normalize(images, mean, std)
        self.images = images.to(dtype)
        self.labels = labels.to(self.device).long()
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.crop_padding, self.flip, self.cutout_size = crop_padding, flip, cutout_size
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.images), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """The loader's augmentation on one batch: crop, flip, cutout (those asked for)."""
        if self.crop_padding:
            images = random_crop(images, self.crop_padding, self.generator)
        if self.flip:
            images = random_flip(images, self.generator)
        if self.cutout_size:
            images = cutout(images, self.cutout_size, self.generator)
        return images

    def __iter__(self):
        n = len(self.images)
        order = (torch.randperm(n, device=self.device, generator=self.generator)
                 if self.shuffle else torch.arange(n, device=self.device))
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.augment(self.images[index]), self.labels[index]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` gave: the random generator's state."""
        ok = (isinstance(state, dict) and isinstance(state.get("generator"), torch.Tensor)
              and state["generator"].dtype == torch.uint8)
        if not ok:
            raise TypeError(f"state: expected what DeviceLoader.state_dict() returns, "
                            f"{{'generator': a uint8 tensor}}, got {describe(state)}")
        self.generator.set_state(state["generator"])
