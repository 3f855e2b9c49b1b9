"""Shapes: procedural circles, squares and triangles with their masks, made in an instant.

For tests and widgets that need a segmentation task without loading any data: each
image is a noisy grey canvas with a few filled shapes, and its mask says which shape
covers each pixel (0 background, 1 circle, 2 square, 3 triangle; a later shape covers
an earlier one). Deterministic by seed.
"""

import torch

CLASS_NAMES = ("background", "circle", "square", "triangle")
NUM_CLASSES = len(CLASS_NAMES)


def _shape_mask(kind: int, size: int, center, radius) -> torch.Tensor:
    """(size, size) bool: the pixels of one shape (kind 1, 2 or 3)."""
    rows, cols = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5,
                                indexing="ij")
    dy, dx = rows - center[0], cols - center[1]
    if kind == 1:                                        # circle
        return dx ** 2 + dy ** 2 <= radius ** 2
    if kind == 2:                                        # square (axis-aligned)
        return (dx.abs() <= radius * 0.85) & (dy.abs() <= radius * 0.85)
    # triangle pointing up: below the two slanted sides, above the base
    return (dy <= radius * 0.7) & (dy >= -radius + 2 * dx.abs() * 0.9)


def make_shapes(count: int, size: int = 32, max_shapes: int = 3, noise: float = 0.1,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images (count, 1, size, size) float in [0, 1] and masks (count, size,
    size) int64 with values 0..3."""
    for name, value, low in [("count", count, 1), ("size", size, 8), ("max_shapes", max_shapes, 1)]:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(count, 1, size, size)
    masks = torch.zeros(count, size, size, dtype=torch.int64)
    for i in range(count):
        n = int(torch.randint(1, max_shapes + 1, (1,), generator=generator))
        for _ in range(n):
            kind = int(torch.randint(1, 4, (1,), generator=generator))
            radius = float(torch.empty(1).uniform_(size / 8, size / 4, generator=generator))
            center = torch.empty(2).uniform_(radius, size - radius, generator=generator)
            brightness = float(torch.empty(1).uniform_(0.5, 1.0, generator=generator))
            inside = _shape_mask(kind, size, center.tolist(), radius)
            images[i, 0][inside] = brightness
            masks[i][inside] = kind
    images += noise * torch.randn(images.shape, generator=generator)
    return images.clamp(0, 1), masks
