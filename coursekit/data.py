"""Data sets, found offline or downloaded, and never silently replaced.

Where a data set lives: under the data root (``$COURSEKIT_DATA``, see
``coursekit.setup.data_root``). If it is not there, torchvision downloads it
(Colab, a laptop online). If it can be had neither way, ``DataNotFoundError``
names the data set, the places searched and the fix.

Classification data sets: ``mnist``, ``fashion_mnist`` and ``cifar10``. CIFAR-10 comes
from the official torchvision files when they are there (or can be downloaded), else
from the JPEG copy in ``ImageFolder`` layout (``cifar10-jpg/{train,test}/<class>/``); its
``source`` attribute says which ("official" or "JPEG copy"), so every figure can say so.
``as_tensors`` turns any of them into two tensors, ``channel_stats`` computes the
normalisation statistics, and ``coursekit.device_loader`` feeds them to a model.
"""

from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from coursekit import setup
from coursekit._checks import (
    check_bool,
    check_finite,
    check_int,
    check_number,
    check_tensor,
    describe,
)

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DataNotFoundError(FileNotFoundError):
    """A data set is neither on disk nor downloadable from here."""


def _not_found(name: str, searched: list[Path], reason: str) -> DataNotFoundError:
    places = "\n".join(f"  - {p}" for p in searched)
    return DataNotFoundError(
        f"{name} is not available: {reason}\n"
        f"Searched:\n{places}\n"
        f"Fix: set COURSEKIT_DATA to a folder that holds it (offline copies: run "
        f"`../shared/data/prepare.sh DIR` and `export COURSEKIT_DATA=DIR`), "
        f"or run where the internet is reachable so torchvision can download it."
    )


def _check_split(train, root=None, download=True):
    check_bool(train, "train")
    check_bool(download, "download")
    if root is not None and not isinstance(root, str | Path):
        raise TypeError(f"root: expected a folder (str or Path) or None, got {describe(root)}")


def _torchvision_set(cls, name, folder, train, root, download):
    """``cls(root, train)`` from disk, else downloaded, else a DataNotFoundError."""
    _check_split(train, root, download)
    root = Path(root) if root is not None else setup.data_root()
    try:
        return cls(root, train=train, download=False)
    except RuntimeError:
        pass  # not on disk: try to download, below
    if not download:
        raise _not_found(name, [root / folder], "not on disk and download=False")
    try:
        return cls(root, train=train, download=True)
    except Exception as error:  # no internet, DNS failure, refused connection ...
        raise _not_found(name, [root / folder], f"download failed ({error})") from None


def mnist(train: bool = True, root: str | Path | None = None, download: bool = True):
    """MNIST (60,000 train / 10,000 test digits, 28x28 grayscale) as a torchvision data set.

    Looks under ``root`` (default: the data root) in torchvision's layout
    ``MNIST/raw/*-ubyte``; downloads there when missing and ``download`` is True.
    """
    return _torchvision_set(datasets.MNIST, "MNIST", "MNIST/raw", train, root, download)


def fashion_mnist(train: bool = True, root: str | Path | None = None, download: bool = True):
    """Fashion-MNIST (60,000 / 10,000 clothing images, 28x28 grayscale, 10 classes).

    A drop-in for MNIST, harder to classify. Layout ``FashionMNIST/raw/*-ubyte``.
    """
    return _torchvision_set(datasets.FashionMNIST, "Fashion-MNIST", "FashionMNIST/raw",
                            train, root, download)


def cifar10(train: bool = True, root: str | Path | None = None, download: bool = True):
    """CIFAR-10 (50,000 train / 10,000 test colour images, 32x32, 10 classes).

    Looked for, in order: the official files (``cifar-10-batches-py/``), the JPEG copy
    (``cifar10-jpg/train|test/<class>/*.jpg``), then a download of the official files.
    The returned data set has ``source``: "official" or "JPEG copy" (JPEG is lossy:
    accuracies on it are close to, not equal to, accuracies on official CIFAR-10).
    """
    _check_split(train, root, download)
    root = Path(root) if root is not None else setup.data_root()
    official, jpeg = root / "cifar-10-batches-py", root / "cifar10-jpg" / (
        "train" if train else "test")
    if official.is_dir():
        dataset = datasets.CIFAR10(root, train=train, download=False)
    elif jpeg.is_dir():
        dataset = datasets.ImageFolder(jpeg)
        if tuple(dataset.classes) != CIFAR10_CLASSES:
            raise ValueError(f"{jpeg}: expected the CIFAR-10 class folders "
                             f"{CIFAR10_CLASSES}, got {tuple(dataset.classes)}")
        # The folders hold the images class by class; put them in a fixed random order,
        # as the official files are, so that the first N images hold every class.
        order = torch.randperm(len(dataset.samples), generator=torch.Generator().manual_seed(0))
        dataset.samples = dataset.imgs = [dataset.samples[i] for i in order]
        dataset.targets = [label for _, label in dataset.samples]
    elif download:
        try:
            dataset = datasets.CIFAR10(root, train=train, download=True)
        except Exception as error:
            raise _not_found("CIFAR-10", [official, jpeg], f"download failed ({error})") from None
    else:
        raise _not_found("CIFAR-10", [official, jpeg], "not on disk and download=False")
    dataset.source = "JPEG copy" if isinstance(dataset, datasets.ImageFolder) else "official"
    return dataset


def _decode_image_folder(dataset) -> torch.Tensor:
    """Every image of an ``ImageFolder`` as ``(N, H, W, C) uint8``, cached next to it."""
    cache = Path(dataset.root).with_suffix(".shuffled.uint8.pt")
    if cache.is_file():
        return torch.load(cache, weights_only=True)
    from PIL import Image

    pictures = [np.asarray(Image.open(path).convert("RGB")) for path, _ in dataset.samples]
    pixels = torch.from_numpy(np.stack(pictures))
    try:
        torch.save(pixels, cache)
    except OSError:
        pass  # a read-only data folder: decode again next time
    return pixels


def as_tensors(dataset, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A torchvision classification data set as two tensors, without a per-image loop.

    Works for MNIST, Fashion-MNIST and CIFAR-10 (official or JPEG copy). Returns
    ``images: (N, C, H, W) float32 in [0, 1]`` and ``labels: (N,) int64``, keeping the
    first ``limit`` examples when ``limit`` is given.
    """
    if limit is not None:
        limit = check_int(limit, "limit", low=1)
    if isinstance(dataset, datasets.ImageFolder):
        pixels = _decode_image_folder(dataset)[:limit]         # (N, H, W, C) uint8
        labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.int64)
    elif isinstance(dataset, datasets.CIFAR10):
        pixels = torch.from_numpy(dataset.data[:limit])        # (N, H, W, C) uint8
        labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.int64)
    elif isinstance(dataset, datasets.MNIST):  # FashionMNIST is an MNIST too
        pixels = dataset.data[:limit].unsqueeze(-1)            # (N, H, W, 1) uint8
        labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.int64)
    else:
        raise TypeError(f"dataset: expected MNIST, FashionMNIST, CIFAR10 or ImageFolder, "
                        f"got {type(dataset).__name__}")
    images = pixels.permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    return images, labels


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation, computed from the data (never copied).

    images: (N, C, H, W) float, any float dtype (summed in float64). Returns ``mean, std``,
    each ``(C,)`` float32; ``std`` is the sample standard deviation (divided by count - 1).
    """
    check_tensor(images, "images", ndim=4, dims="(N, C, H, W)", kind="float")
    if images[:, :1].numel() < 2:
        raise ValueError(f"images: expected at least 2 pixels per channel, got {describe(images)}")
    check_finite(images, "images")
    flat = images.transpose(0, 1).reshape(images.shape[1], -1).double()
    return flat.mean(dim=1).float(), flat.std(dim=1).float()


def _per_channel(values, name: str, channels: int, dtype) -> torch.Tensor:
    """``values`` (a sequence or tensor of ``channels`` finite numbers) as a (C,) tensor."""
    try:
        values = torch.as_tensor(values, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name}: expected {channels} numbers, one per channel, "
                        f"got {describe(values)}") from None
    if values.dim() == 0:
        values = values.expand(channels)     # one number for every channel
    if values.shape != (channels,) or not torch.isfinite(values).all():
        raise ValueError(f"{name}: expected {channels} finite numbers, one per channel of "
                         f"images, got {describe(values)}")
    return values.to(dtype)


def normalize(images, mean, std) -> torch.Tensor:
    """``(images - mean) / std`` per channel. images: (N, C, H, W) float; mean, std: (C,)
    numbers (or one number for every channel), std > 0. Integer images are refused: uint8
    arithmetic would wrap around; convert them with ``images.float() / 255`` first.
    """
    check_tensor(images, "images", ndim=4, dims="(N, C, H, W)", kind="float")
    mean = _per_channel(mean, "mean", images.shape[1], images.dtype)
    std = _per_channel(std, "std", images.shape[1], images.dtype)
    if (std <= 0).any():
        raise ValueError(f"std: expected standard deviations > 0, got {std.tolist()}")
    return (images - mean.to(images.device)[:, None, None]) / std.to(images.device)[:, None, None]


def split(images, labels, fraction: float, seed: int = 0):
    """A random split into (train_images, train_labels, val_images, val_labels).

    ``fraction`` (between 0 and 1) of the examples go to validation: choose models on
    them, and keep the test set for the one final figure.
    """
    fraction = check_number(fraction, "fraction", low=0, high=1, low_open=True, high_open=True)
    seed = check_int(seed, "seed", low=0)
    check_tensor(images, "images", dims="(N, ...)")
    check_tensor(labels, "labels", dims="(N,)")
    if len(labels) != len(images):
        raise ValueError(f"labels: expected one label per image ({len(images)}), got {len(labels)}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(len(images) * fraction))
    if not 0 < n_val < len(images):
        raise ValueError(f"fraction: {fraction} of {len(images)} examples leaves "
                         f"{n_val} for validation and {len(images) - n_val} for training; "
                         "expected at least one in each")
    val, keep = order[:n_val], order[n_val:]
    return images[keep], labels[keep], images[val], labels[val]
