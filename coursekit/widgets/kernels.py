"""What chapter 2's widgets compute on: the named 3x3 kernels and the sample images.

Plain functions, usable and tested without any widget.
"""

import math
from numbers import Integral

import torch

# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------

KERNELS = {
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
    "box blur": ((1 / 9,) * 3,) * 3,
    "gaussian blur": ((1 / 16, 2 / 16, 1 / 16), (2 / 16, 4 / 16, 2 / 16), (1 / 16, 2 / 16, 1 / 16)),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "sobel x": ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)),     # brightness rising to the right
    "sobel y": ((-1, -2, -1), (0, 0, 0), (1, 2, 1)),     # brightness rising downwards
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),     # second derivative: edges, spots
}
"""The named 3x3 kernels, row by row. As in ``F.conv2d``, they are not flipped."""

KERNEL_NAMES = tuple(KERNELS)


def _lookup(name, names, what: str) -> str:
    """``name`` normalised ('Sobel_X' -> 'sobel x'), or an error listing ``names``."""
    key = name
    if isinstance(name, str):
        key = name.strip().lower().replace("_", " ").replace("-", " ")
    if key not in names:
        raise ValueError(f"{what}: unknown name {name!r}; expected one of "
                         f"{', '.join(repr(n) for n in names)}")
    return key


def named_kernel(name: str) -> torch.Tensor:
    """One of ``KERNEL_NAMES`` as a (3, 3) float32 tensor, e.g. ``named_kernel("sobel x")``."""
    return torch.tensor(KERNELS[_lookup(name, KERNEL_NAMES, "kernel")], dtype=torch.float32)


def parse_kernel(text: str) -> torch.Tensor:
    """Nine numbers, row by row, separated by spaces, commas or semicolons -> (3, 3) tensor.

    >>> parse_kernel("0 -1 0; -1 5 -1; 0 -1 0").tolist()[1]
    [-1.0, 5.0, -1.0]
    """
    parts = text.replace(",", " ").replace(";", " ").split() if isinstance(text, str) else None
    if parts is None:
        raise TypeError(f"custom kernel: expected a string of 9 numbers, got {type(text).__name__}")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"custom kernel: expected 9 numbers (3x3, row by row), "
                         f"got {text!r}") from None
    if len(numbers) != 9:
        raise ValueError(f"custom kernel: expected 9 numbers (3x3, row by row), "
                         f"got {len(numbers)} in {text!r}")
    if not all(math.isfinite(number) for number in numbers):
        raise ValueError(f"custom kernel: expected 9 finite numbers, got {text!r}")
    return torch.tensor(numbers, dtype=torch.float32).reshape(3, 3)


# ---------------------------------------------------------------------------
# Sample images
# ---------------------------------------------------------------------------

IMAGE_NAMES = ("digit", "checkerboard", "gradient", "square")


def _digit_two(H: int, W: int) -> torch.Tensor:
    """A handwritten-looking "2": a pen stroke along a polyline, about 3 pixels wide at 28x28."""
    angles = torch.linspace(200, -40, 13) * torch.pi / 180  # the top arc, drawn clockwise
    arc = torch.stack([0.5 + 0.19 * torch.cos(angles), 0.36 - 0.17 * torch.sin(angles)], dim=1)
    tail = torch.tensor([[0.27, 0.78], [0.75, 0.78]])          # down to the left, then the base
    points = torch.cat([arc, tail])                             # (P, 2) as (x, y) in [0, 1]
    starts, ends = points[:-1], points[1:]                      # (S, 2) segments

    scale = min(H, W)
    ys, xs = torch.meshgrid((torch.arange(H) + 0.5) / scale, (torch.arange(W) + 0.5) / scale,
                            indexing="ij")
    pixels = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (H*W, 2)
    along = ends - starts
    t = ((pixels[:, None] - starts) * along).sum(-1) / (along * along).sum(-1)  # (H*W, S)
    nearest = starts + t.clamp(0, 1)[..., None] * along
    distance = (pixels[:, None] - nearest).norm(dim=-1).min(dim=1).values * scale  # in pixels
    half_width = 1.6 * scale / 28
    return (half_width - distance + 0.5).clamp(0, 1).reshape(H, W)


def sample_image(name: str, size=28) -> torch.Tensor:
    """A built-in grayscale image in [0, 1], shape (H, W); size: int or (H, W).

    "digit": a procedurally drawn "2", MNIST-like; "checkerboard": squares of size/7;
    "gradient": dark on the left to bright on the right; "square": a bright square.
    """
    key = _lookup(name, IMAGE_NAMES, "image")
    pair = (size, size) if isinstance(size, Integral) else size
    ok = (isinstance(pair, tuple | list) and len(pair) == 2
          and all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 3
                  for v in pair))
    if not ok:
        error = TypeError if not isinstance(pair, tuple | list) else ValueError
        raise error(f"size: expected an int >= 3 or a pair (H, W) of them, got {size!r}")
    H, W = int(pair[0]), int(pair[1])
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    if key == "digit":
        return _digit_two(H, W)
    if key == "checkerboard":
        cell = max(1, min(H, W) // 7)
        return ((rows // cell + cols // cell) % 2).float()
    if key == "gradient":
        return (cols / (W - 1)).float()
    inside = (rows >= H // 4) & (rows < H - H // 4) & (cols >= W // 4) & (cols < W - W // 4)
    return inside.float()


def _as_image(image) -> torch.Tensor:
    """A caller's image as a (H, W) float tensor: accepts (H, W), (1, H, W), (1, 1, H, W)."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image: expected a torch.Tensor (H, W), got {type(image).__name__}")
    picture = image.detach().cpu().float()
    while picture.dim() > 2 and picture.shape[0] == 1:
        picture = picture[0]
    if picture.dim() != 2 or min(picture.shape) < 3:
        raise ValueError(f"image: expected a grayscale image (H, W), (1, H, W) or (1, 1, H, W) "
                         f"of at least 3x3 pixels, got shape {tuple(image.shape)}")
    return picture
