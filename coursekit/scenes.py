"""MNIST scenes: canvases with several real MNIST digits, labelled pixel by pixel.

A scene is a square canvas (64x64 by default) on which a few MNIST digits are placed
at random without touching. Each scene comes with

- ``image``: (1, S, S) float in [0, 1];
- ``semantic``: (S, S) int64, 0 for background and 1 + d for the ink of digit d
  (11 classes; ink is a pixel brighter than 0.5 in its digit);
- ``instances``: (S, S) int64, 0 for background and k for the ink of the k-th digit;
- ``digits``: one ``Digit(label, top, left, box)`` per digit, box = (left, top, right,
  bottom) of its ink, inclusive.

Scenes are deterministic by seed: the same seed gives the same scenes. Training scenes
use MNIST's training digits and test scenes its test digits, so no digit is seen in
both. Chapters 4 and 5 segment them, chapter 7 evaluates on them, chapter 9 reads every
digit of them.
"""

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from coursekit import data

CLASS_NAMES = ("background",) + tuple(str(d) for d in range(10))
NUM_CLASSES = len(CLASS_NAMES)  # 11
INK = 0.5  # a digit's pixel brighter than this is ink: labelled with its digit


@dataclass(frozen=True)
class Digit:
    """One digit of a scene: its class, where its 28x28 picture went, its ink's box."""

    label: int
    top: int
    left: int
    box: tuple[int, int, int, int]  # (left, top, right, bottom), inclusive


def compose(digit_images, digit_labels, size: int = 64, max_digits: int = 3,
            generator: torch.Generator | None = None, tries: int = 20):
    """One scene from a pool of digits: (image, semantic, instances, digits).

    digit_images: (M, 28, 28) float in [0, 1]; digit_labels: (M,) int64. Picks 1 to
    ``max_digits`` digits at random and places each where its ink touches no other
    digit's ink (a digit that finds no such place in ``tries`` attempts is left out).
    """
    count = int(torch.randint(1, max_digits + 1, (1,), generator=generator))
    image = torch.zeros(size, size)
    semantic = torch.zeros(size, size, dtype=torch.int64)
    instances = torch.zeros(size, size, dtype=torch.int64)
    digits = []
    picks = torch.randint(len(digit_images), (count,), generator=generator).tolist()
    for index in picks:
        picture, label = digit_images[index], int(digit_labels[index])
        ink = picture > INK
        for _ in range(tries):
            top, left = torch.randint(size - 27, (2,), generator=generator).tolist()
            window = (slice(top, top + 28), slice(left, left + 28))
            if not (instances[window][ink] > 0).any():  # no ink on ink
                break
        else:
            continue
        image[window] = torch.maximum(image[window], picture)
        semantic[window][ink] = label + 1
        instances[window][ink] = len(digits) + 1
        rows, cols = ink.nonzero(as_tuple=True)
        box = (left + int(cols.min()), top + int(rows.min()),
               left + int(cols.max()), top + int(rows.max()))
        digits.append(Digit(label, top, left, box))
    return image[None], semantic, instances, digits


class MNISTScenes(Dataset):
    """``count`` MNIST scenes, made once, in memory: ``dataset[i]`` is (image, semantic).

    image: (1, size, size) float; semantic: (size, size) int64, 0..10. Also kept for
    every scene: ``instances[i]`` (size, size) and ``digits[i]`` (list of Digit).
    train: True for MNIST's training digits, False for its test digits. seed: the same
    seed gives the same scenes. digits_pool: (images (M, 28, 28), labels (M,)) to use
    instead of loading MNIST (for tests).
    """

    def __init__(self, count: int, train: bool = True, size: int = 64, max_digits: int = 3,
                 seed: int = 0, digits_pool=None):
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"count: expected a positive int, got {count!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 28:
            raise ValueError(f"size: expected an int >= 28 (a digit is 28x28), got {size!r}")
        if not isinstance(max_digits, int) or isinstance(max_digits, bool) or max_digits < 1:
            raise ValueError(f"max_digits: expected a positive int, got {max_digits!r}")
        if digits_pool is None:
            pictures, labels = data.as_tensors(data.mnist(train=train))
            pictures = pictures[:, 0]
        else:
            pictures, labels = digits_pool
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.empty(count, 1, size, size)
        self.semantic = torch.empty(count, size, size, dtype=torch.int64)
        self.instances = torch.empty(count, size, size, dtype=torch.int64)
        self.digits = []
        for i in range(count):
            image, semantic, instances, digits = compose(pictures, labels, size, max_digits,
                                                         generator)
            self.images[i], self.semantic[i], self.instances[i] = image, semantic, instances
            self.digits.append(digits)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.semantic[index]
