"""Where the course runs: device, seeds, fast mode, data root, Colab.

Every notebook starts with ``device = setup.start(seed=0)``, which picks the
device, seeds every random generator and prints one line saying where it runs.

Two environment variables steer the course:

- ``COURSEKIT_FAST=1`` shrinks data and epochs (never the logic) so that the whole
  course runs on two CPU cores in minutes; the test suite sets it.
- ``COURSEKIT_DATA=DIR`` is where data sets are found (and downloaded to).
"""

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

from coursekit._checks import check_int, describe
from coursekit.course import VERSION

DEFAULT_DATA_ROOT = Path.home() / "coursekit-data"


def get_device(prefer: str | None = None) -> torch.device:
    """The best device available: CUDA, then Apple MPS, then CPU.

    ``prefer`` ("cuda", "mps" or "cpu", in any case) asks for one explicitly; an
    unavailable one is an error.
    """
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": hasattr(torch.backends, "mps") and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        if not isinstance(prefer, str):
            raise TypeError(f"prefer: expected 'cuda', 'mps', 'cpu' or None, "
                            f"got {describe(prefer)}")
        name = prefer.strip().lower()            # "CUDA" and "cuda " mean "cuda"
        if name not in available:
            raise ValueError(
                f"prefer: expected one of 'cuda', 'mps', 'cpu' or None, got {prefer!r}")
        if not available[name]:
            raise RuntimeError(f"prefer: device {name!r} was asked for but is not available here")
        return torch.device(name)
    for name in ("cuda", "mps", "cpu"):
        if available[name]:
            return torch.device(name)
    raise AssertionError("unreachable: the CPU is always available")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device) so that a CPU run repeats exactly.

    seed: an int (NumPy ints too) from 0 to 2 ** 32 - 1, the range NumPy takes."""
    seed = check_int(seed, "seed", low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def fast_mode() -> bool:
    """True when ``COURSEKIT_FAST`` is set to 1/true/yes: small data, few epochs."""
    value = os.environ.get("COURSEKIT_FAST", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"COURSEKIT_FAST: expected 0 or 1 (or true/false), got {value!r}")


def budget(full, fast):
    """``full`` normally, ``fast`` in fast mode: one code path, two budgets.

    >>> epochs = budget(full=10, fast=1)
    """
    return fast if fast_mode() else full


def data_root() -> Path:
    """Where data sets live: ``$COURSEKIT_DATA`` if set, else ``~/coursekit-data``."""
    value = os.environ.get("COURSEKIT_DATA")
    return Path(value).expanduser() if value else DEFAULT_DATA_ROOT


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def describe_device(device: torch.device) -> str:
    """A human name for a device, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'.

    device: a ``torch.device`` or its name ("cpu", "cuda:0", ...)."""
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError:
            raise ValueError(f"device: expected a device name such as 'cpu' or 'cuda', "
                             f"got {device!r}") from None
    if not isinstance(device, torch.device):
        raise TypeError(f"device: expected a torch.device, got {describe(device)}")
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def _data_root_label() -> str:
    """Where data sets are looked for, named without this machine's folders (committed
    outputs must not show them): "$COURSEKIT_DATA" when it is set, else "~/coursekit-data".
    ``data_root()`` gives the folder itself."""
    return "$COURSEKIT_DATA" if os.environ.get("COURSEKIT_DATA") else "~/coursekit-data"


def start(seed: int = 0, prefer: str | None = None) -> torch.device:
    """Seed everything, pick the device and print two short lines saying where we run
    (short enough for the book's column).

    seed: as for ``seed_everything``; prefer: as for ``get_device``."""
    seed_everything(seed)
    device = get_device(prefer)
    place = "Colab" if in_colab() else "local"
    print(f"coursekit {VERSION} | {place} | device: {describe_device(device)} | seed: {seed}\n"
          f"fast mode: {'on' if fast_mode() else 'off'} | data: {_data_root_label()}")
    return device
