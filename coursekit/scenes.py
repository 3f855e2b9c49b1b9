"""MNIST scenes: canvases with several real MNIST digits, labelled pixel by pixel.

A scene is a square canvas (64x64 by default) on which a few MNIST digits are placed
at random where their ink lands on no other digit's ink: digits may touch, and their
faint edges (pixels of 0.5 or less) may overlap, but no ink pixel belongs to two digits.
With ``overlap=True`` digits land anywhere, on top of each other: a later digit hides
the ink of an earlier one where they cross (its label wins there), as in crowded real
scenes. Each scene comes with

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
import torch.nn.functional as F
from torch.utils.data import Dataset

from coursekit import data
from coursekit._checks import (
    check_bool,
    check_class_indices,
    check_finite,
    check_int,
    check_tensor,
    describe,
)

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


def _check_pool(images, labels, images_name: str, labels_name: str) -> torch.Tensor:
    """Fail clearly unless this is a pool of digits: images (M, 28, 28) float in [0, 1],
    M >= 1, and labels (M,) class indices 0..9 (any integer dtype or bool)."""
    check_tensor(images, images_name, ndim=3, dims="(M, 28, 28)", kind="float")
    if images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"{images_name}: expected (M, 28, 28), at least one digit, "
                         f"got {describe(images)}")
    check_finite(images, images_name)
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"{images_name}: expected values in [0, 1], got "
                         f"{float(images.min()):g}..{float(images.max()):g}; for 0..255 "
                         "pictures use images.float() / 255")
    check_tensor(labels, labels_name, ndim=1, dims=f"({len(images)},)")
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{labels_name}: expected an integer tensor of digits 0..9, "
                        f"got {describe(labels)}")
    if len(labels) != len(images):
        raise ValueError(f"{labels_name}: expected one label per digit ({len(images)}), "
                         f"got {describe(labels)}")
    check_class_indices(labels, labels_name, 10)


def _check_digit_size(digit_size) -> tuple[int, int]:
    """``digit_size`` as a range (low, high) of side lengths, 8 <= low <= high."""
    if isinstance(digit_size, (tuple, list)) and len(digit_size) == 2:
        low = check_int(digit_size[0], "digit_size[0]", low=8)
        high = check_int(digit_size[1], "digit_size[1]", low=low)
        return low, high
    if isinstance(digit_size, (tuple, list)):
        raise ValueError(f"digit_size: expected an int or a (low, high) pair, "
                         f"got {describe(digit_size)}")
    side = check_int(digit_size, "digit_size", low=8)
    return side, side


def _check_layout(size, min_digits, max_digits, digit_size, gap, tries, overlap):
    """The knobs of a scene, checked once: (size, min_digits, max_digits, (low, high),
    gap, tries, overlap)."""
    digit_size = _check_digit_size(digit_size)
    size = check_int(size, "size", low=digit_size[1])      # the largest digit must fit
    max_digits = check_int(max_digits, "max_digits", low=1)
    min_digits = check_int(min_digits, "min_digits", low=1, high=max_digits)
    gap = check_int(gap, "gap", low=0)
    tries = check_int(tries, "tries", low=1)
    check_bool(overlap, "overlap")
    if overlap and gap:
        raise ValueError(f"gap: expected 0 with overlap=True (digits on top of each other "
                         f"cannot keep apart), got {gap}")
    return size, min_digits, max_digits, digit_size, gap, tries, overlap


def compose(digit_images, digit_labels, size: int = 64, max_digits: int = 3,
            generator: torch.Generator | None = None, tries: int = 20, overlap: bool = False,
            min_digits: int = 1, digit_size=28, gap: int = 0):
    """One scene from a pool of digits: (image, semantic, instances, digits).

    digit_images: (M, 28, 28) float in [0, 1], M >= 1 (``images[:, 0]`` of MNIST's
    (M, 1, 28, 28)); digit_labels:
    (M,) digits 0..9, any integer dtype; size: an int, at least the largest digit;
    min_digits <= max_digits, tries: ints >= 1. Picks ``min_digits`` to ``max_digits``
    digits at random and places each where its ink lands on no other digit's ink, though
    it may touch it (a digit that finds no such place in ``tries`` attempts is left out,
    and so is a digit without ink). overlap: a bool; True places every digit at its first
    random place, ink on ink allowed: the image keeps the brighter pixel, labels and
    instances the later digit's where its ink lies, and each ``Digit``'s box is that of
    its whole ink, hidden parts included. digit_size: an int, the side in pixels each
    28x28 digit is resized to (28: as it is), or (low, high) to draw each digit's side
    from low..high; 8 <= side <= size. gap: an int >= 0; a digit's ink keeps at least
    this many pixels (in rows and columns) from any other digit's ink (0: it may touch);
    not with overlap.
    """
    _check_pool(digit_images, digit_labels, "digit_images", "digit_labels")
    layout = _check_layout(size, min_digits, max_digits, digit_size, gap, tries, overlap)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {describe(generator)}")
    return _compose(digit_images, digit_labels, generator, *layout)


def _resized(picture: torch.Tensor, side: int) -> torch.Tensor:
    """A (28, 28) digit as (side, side), bilinear with antialiasing, values in [0, 1]."""
    if side == picture.shape[-1]:
        return picture
    out = F.interpolate(picture[None, None], size=(side, side), mode="bilinear",
                        antialias=True, align_corners=False)
    return out[0, 0].clamp(0, 1)


def _compose(digit_images, digit_labels, generator, size, min_digits, max_digits,
             digit_size, gap, tries, overlap):
    """``compose`` without the checks (``MNISTScenes`` checks its pool once, not per scene)."""
    count = int(torch.randint(min_digits, max_digits + 1, (1,), generator=generator))
    image = torch.zeros(size, size)
    semantic = torch.zeros(size, size, dtype=torch.int64)
    instances = torch.zeros(size, size, dtype=torch.int64)
    kept_away = torch.zeros(size, size, dtype=torch.bool)  # ink of the digits placed, grown
    digits = []                                             # by ``gap`` pixels
    picks = torch.randint(len(digit_images), (count,), generator=generator).tolist()
    for index in picks:
        side = int(torch.randint(digit_size[0], digit_size[1] + 1, (1,),
                                 generator=generator)) if digit_size[0] < digit_size[1] \
            else digit_size[0]
        picture, label = _resized(digit_images[index], side), int(digit_labels[index])
        ink = picture > INK
        if not ink.any():
            continue                                   # nothing to label, no box
        for _ in range(tries):
            top, left = torch.randint(size - side + 1, (2,), generator=generator).tolist()
            window = (slice(top, top + side), slice(left, left + side))
            if overlap or not kept_away[window][ink].any():  # no ink on (or near) ink
                break
        else:
            continue
        image[window] = torch.maximum(image[window], picture)
        semantic[window][ink] = label + 1
        instances[window][ink] = len(digits) + 1
        placed = torch.zeros(size, size, dtype=torch.bool)
        placed[window] = ink
        if gap:
            placed = F.max_pool2d(placed[None, None].float(), 2 * gap + 1, stride=1,
                                  padding=gap)[0, 0] > 0
        kept_away |= placed
        rows, cols = ink.nonzero(as_tuple=True)
        box = (left + int(cols.min()), top + int(rows.min()),
               left + int(cols.max()), top + int(rows.max()))
        digits.append(Digit(label, top, left, box))
    return image[None], semantic, instances, digits


class MNISTScenes(Dataset):
    """``count`` MNIST scenes, made once, in memory: ``dataset[i]`` is (image, semantic).

    image: (1, size, size) float; semantic: (size, size) int64, 0..10. Also kept for
    every scene: ``instances[i]`` (size, size) and ``digits[i]`` (list of Digit).
    count: an int >= 1; size: an int >= 28; max_digits: an int >= 1; train: True for
    MNIST's training digits, False for its test digits; seed: an int >= 0, the same
    seed gives the same scenes. digits_pool: (images, labels) to use instead of loading
    MNIST (for tests), as ``compose`` takes them: images (M, 28, 28) float in [0, 1],
    labels (M,) digits 0..9. overlap: a bool, as for ``compose``: False (the default)
    keeps every ink pixel to one digit, True lets digits lie on top of each other.
    min_digits, digit_size, gap: as for ``compose`` (how many digits at least, their size
    in pixels, how far apart their ink keeps).
    """

    def __init__(self, count: int, train: bool = True, size: int = 64, max_digits: int = 3,
                 seed: int = 0, digits_pool=None, overlap: bool = False, min_digits: int = 1,
                 digit_size=28, gap: int = 0):
        count = check_int(count, "count", low=1)
        layout = _check_layout(size, min_digits, max_digits, digit_size, gap, 20, overlap)
        size = layout[0]
        seed = check_int(seed, "seed", low=0)
        check_bool(train, "train")
        if digits_pool is None:
            pictures, labels = data.as_tensors(data.mnist(train=train))
            pictures = pictures[:, 0]                          # (M, 28, 28)
        elif isinstance(digits_pool, (tuple, list)) and len(digits_pool) == 2:
            pictures, labels = digits_pool
        else:
            raise TypeError(f"digits_pool: expected (images, labels) or None, "
                            f"got {describe(digits_pool)}")
        _check_pool(pictures, labels, "digits_pool images", "digits_pool labels")
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.empty(count, 1, size, size)
        self.semantic = torch.empty(count, size, size, dtype=torch.int64)
        self.instances = torch.empty(count, size, size, dtype=torch.int64)
        self.digits = []
        for i in range(count):
            image, semantic, instances, digits = _compose(pictures, labels, generator,
                                                          *layout)
            self.images[i], self.semantic[i], self.instances[i] = image, semantic, instances
            self.digits.append(digits)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.semantic[index]


def digit_counts(digits_of_scenes, classes: int = 10) -> torch.Tensor:
    """How many of each digit every scene holds: a list of N lists of ``Digit`` (as
    ``MNISTScenes.digits``) -> (N, classes) int64. Each digit's label is an int
    0..classes - 1."""
    if not isinstance(digits_of_scenes, (list, tuple)):
        raise TypeError(f"digits_of_scenes: expected a list of lists of Digit (as "
                        f"MNISTScenes.digits), got {describe(digits_of_scenes)}")
    classes = check_int(classes, "classes", low=1)
    counts = torch.zeros(len(digits_of_scenes), classes, dtype=torch.int64)
    for i, digits in enumerate(digits_of_scenes):
        if not isinstance(digits, (list, tuple)):
            raise TypeError(f"digits_of_scenes[{i}]: expected a list of Digit (one scene's "
                            f"digits), got {describe(digits)}")
        for j, digit in enumerate(digits):
            if not isinstance(digit, Digit):
                raise TypeError(f"digits_of_scenes[{i}]: expected Digit entries, got "
                                f"{describe(digit)}")
            label = check_int(digit.label, f"digits_of_scenes[{i}][{j}].label", low=0,
                              high=classes - 1)
            counts[i, label] += 1
    return counts
