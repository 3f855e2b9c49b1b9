"""Data sets, found offline or downloaded, and never silently replaced.

Where a data set lives: under the data root (``$COURSEKIT_DATA``, see
``coursekit.setup.data_root``). If it is not there, torchvision downloads it
(Colab, a laptop online). If it can be had neither way, ``DataNotFoundError``
names the data set, the places searched and the fix.
"""

from pathlib import Path

import torch
from torchvision import datasets

from coursekit import setup


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


def mnist(train: bool = True, root: str | Path | None = None, download: bool = True):
    """MNIST (60,000 train / 10,000 test digits, 28x28 grayscale) as a torchvision data set.

    Looks under ``root`` (default: the data root) in torchvision's layout
    ``MNIST/raw/*-ubyte``; downloads there when missing and ``download`` is True.
    """
    if not isinstance(train, bool):
        raise TypeError(f"train: expected True or False, got {train!r}")
    root = Path(root) if root is not None else setup.data_root()
    try:
        return datasets.MNIST(root, train=train, download=False)
    except RuntimeError:
        pass  # not on disk: try to download, below
    if not download:
        raise _not_found("MNIST", [root / "MNIST" / "raw"], "not on disk and download=False")
    try:
        return datasets.MNIST(root, train=train, download=True)
    except Exception as error:  # no internet, DNS failure, refused connection ...
        raise _not_found("MNIST", [root / "MNIST" / "raw"], f"download failed ({error})") from None


def as_tensors(dataset, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A torchvision MNIST-style data set as two tensors, without a per-image loop.

    Returns ``images: (N, 1, H, W) float32 in [0, 1]`` and ``labels: (N,) int64``,
    keeping the first ``limit`` examples when ``limit`` is given.
    """
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit: expected a positive int or None, got {limit!r}")
    images = dataset.data[:limit].unsqueeze(1).float() / 255.0
    labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.int64)
    return images, labels
