"""Input checks shared by every public function of coursekit (internal).

Each check names the argument, says what was expected and what came, in one style:

    >>> check_int(0, "epochs", low=1)
    Traceback (most recent call last):
    ...
    ValueError: epochs: expected an int >= 1, got 0

A wrong *type* raises ``TypeError``, a right type with a wrong value or shape raises
``ValueError``. Every check returns the value it accepted (converted where it says so),
so a caller can write ``epochs = check_int(epochs, "epochs", low=1)``.

The choices made once, here, for the whole package:

- a ``bool`` is not an int (``True`` as a batch size is a mistake, not 1);
- NumPy integers and floats count as Python ones; NaN and infinity are refused where a
  number is expected;
- a tensor of class indices is any integer dtype (uint8 masks read from PNG files
  included); functions that compute with it convert it to int64 themselves
  (``check_indices`` does both, bool included);
- counts are finite and >= 0, never bool (``check_counts``); boxes are float, finite,
  in pixel edges with x2 > x1 and y2 > y1, and an image index is a whole number that
  names an image (``check_boxes``): torchvision's RoI operators read memory outside the
  images or crash on anything else.
"""

import math
import numbers

import torch

INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def describe(value) -> str:
    """A short description of what came: 'a float16 tensor of shape (2, 3)', "'abc' (str)"."""
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # a NumPy array
        return f"a {type(value).__name__} of {value.dtype} with shape {tuple(value.shape)}"
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return text if isinstance(value, (int, float, str)) else f"{text} ({type(value).__name__})"


def _range_text(low, high, low_open=False, high_open=False) -> str:
    if low is not None and high is not None:
        return (f" {'>' if low_open else '>='} {low} and {'<' if high_open else '<='} {high}")
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in [low, high] (either bound optional), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int{_range_text(low, high)}, got {describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}: expected an int{_range_text(low, high)}, got {value}")
    return value


def check_number(value, name: str, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the range (bounds optional, open or closed)."""
    wanted = f"a number{_range_text(low, high, low_open, high_open)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {wanted}, got {describe(value)}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name}: expected {wanted}, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` if it is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected True or False, got {describe(value)}")
    return value


def check_choice(value, name: str, choices) -> object:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str | int) or isinstance(value, bool) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: expected one of {options}, got {describe(value)}")
    return value


def check_optional_int(value, name: str, low: int | None = None) -> int | None:
    """None, or an int >= low."""
    return None if value is None else check_int(value, name, low=low)


def check_tensor(value, name: str, ndim=None, dims: str | None = None,
                 kind: str | None = None) -> torch.Tensor:
    """``value`` if it is a tensor with ``ndim`` dimensions (an int or a tuple of allowed
    counts) and of ``kind`` "float", "integer" or "bool" (None: any). ``dims`` names the
    layout in messages, e.g. "(N, C, H, W)"."""
    layout = f" {dims}" if dims else ""
    if not isinstance(value, torch.Tensor):
        hint = "; convert it with torch.as_tensor(...)" if hasattr(value, "__len__") else ""
        raise TypeError(f"{name}: expected a tensor{layout}, got {describe(value)}{hint}")
    if kind is not None:
        ok = {"float": value.is_floating_point(), "integer": value.dtype in INTEGER_DTYPES,
              "bool": value.dtype == torch.bool}[kind]
        if not ok:
            wanted = {"float": "a float tensor", "integer": "an integer tensor",
                      "bool": "a bool tensor"}[kind]
            hint = ""
            if kind == "float" and value.dtype in INTEGER_DTYPES + (torch.bool,):
                hint = "; for uint8 images in 0..255 use images.float() / 255"
            if kind == "integer" and value.is_floating_point():
                hint = "; for scores or logits take .argmax(dim=1) first"
            raise TypeError(f"{name}: expected {wanted}{layout}, got {describe(value)}{hint}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and value.dim() not in allowed:
        raise ValueError(f"{name}: expected a tensor{layout or f' with {ndim} dimensions'}, "
                         f"got {describe(value)}")
    return value


def check_finite(value: torch.Tensor, name: str) -> torch.Tensor:
    """``value`` if it holds no NaN or infinity (float tensors; others pass)."""
    if value.is_floating_point() and value.numel() and not torch.isfinite(value).all():
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name}: expected finite numbers, got {bad} NaN or infinite "
                         f"value{'s' if bad > 1 else ''} in {describe(value)}")
    return value


def check_same_shape(value: torch.Tensor, name: str, reference: torch.Tensor,
                     reference_name: str) -> None:
    """A clear error unless ``value`` has the shape of ``reference``."""
    if value.shape != reference.shape:
        raise ValueError(f"{name}: expected the shape of {reference_name} "
                         f"{tuple(reference.shape)}, got {tuple(value.shape)}")


def check_class_indices(labels: torch.Tensor, name: str, num_classes: int,
                        ignore_index: int | None = None) -> torch.Tensor:
    """The mask (bool, shape of labels) of labels that count, after checking that every
    label is a class index in 0..num_classes-1 or ``ignore_index``."""
    valid = labels != ignore_index if ignore_index is not None else torch.ones_like(
        labels, dtype=torch.bool)
    counted = labels[valid]
    if counted.numel() and (counted.min() < 0 or counted.max() >= num_classes):
        also = f" or {ignore_index} (ignored)" if ignore_index is not None else ""
        raise ValueError(f"{name}: expected class indices in 0..{num_classes - 1}{also}, "
                         f"found values {int(counted.min())}..{int(counted.max())}")
    return valid


def check_ignore_index(value, name: str = "ignore_index") -> int | None:
    """None, or an int (any sign: -100 and 255 are both in use)."""
    return None if value is None else check_int(value, name)


def check_device(value, name: str = "device") -> torch.device:
    """``value`` ("cpu", "cuda", "cuda:1" or a torch.device) as a torch.device; a CUDA
    device where there is no GPU is an error here rather than deep inside torch later."""
    if isinstance(value, torch.device):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a device such as 'cpu' or 'cuda', "
                        f"got {describe(value)}")
    try:
        device = torch.device(value)
    except RuntimeError:
        raise ValueError(f"{name}: expected a device such as 'cpu' or 'cuda', "
                         f"got {value!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}: {value!r} was asked for, but no CUDA GPU is available "
                         "here; use setup.get_device() to pick what there is")
    return device


def check_module(value, name: str = "model") -> torch.nn.Module:
    """``value`` if it is a torch.nn.Module."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {describe(value)}")
    return value


def check_loader(value, name: str = "loader"):
    """``value`` if it can be iterated over (a DataLoader, a list of batches); not a tensor
    (iterating over a tensor gives its rows, not (images, labels) batches)."""
    if isinstance(value, torch.Tensor | str | bytes) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a data loader (an iterable of (images, labels) "
                        f"batches), got {describe(value)}")
    return value


def check_probabilities(value, name: str, dims: str | None = None) -> torch.Tensor:
    """``value`` if it is a float tensor of probabilities: finite, in [0, 1]."""
    check_tensor(value, name, dims=dims, kind="float")
    check_finite(value, name)
    if value.numel() and (value.min() < 0 or value.max() > 1):
        raise ValueError(f"{name}: expected probabilities in [0, 1], found values "
                         f"{float(value.min()):.4g}..{float(value.max()):.4g}; for logits "
                         "take .sigmoid() or .softmax(dim=1) first")
    return value


def check_path(value, name: str = "path"):
    """``value`` if it is a file path (str or pathlib.Path)."""
    from pathlib import Path

    if not isinstance(value, str | Path):
        raise TypeError(f"{name}: expected a file path (str or Path), got {describe(value)}")
    return Path(value)


def check_indices(value, name: str, ndim=None, dims: str | None = None,
                  low: int | None = 0, high: int | None = None,
                  wanted: str = "values", hint: str = "") -> torch.Tensor:
    """``value`` as an int64 tensor of indices (class indices, region numbers, instance
    ids): any integer dtype or bool (uint8 masks read from PNG files, bool masks), every
    value in [low, high] (either bound None: open). ``wanted`` names the values in
    messages ("classes", "region numbers"); ``hint`` ends the message of a value out of
    range."""
    check_tensor(value, name, ndim=ndim, dims=dims)
    if value.is_floating_point() or value.is_complex():
        raise TypeError(f"{name}: expected an integer tensor{f' {dims}' if dims else ''} "
                        f"(or bool), got {describe(value)}; for scores or logits take "
                        ".argmax(dim=1) first")
    value = value.long()      # uint8 arithmetic would wrap around past 255
    if value.numel():
        smallest, largest = int(value.min()), int(value.max())
        if (low is not None and smallest < low) or (high is not None and largest > high):
            span = (f"{low}..{high}" if low is not None and high is not None
                    else f">= {low}" if low is not None else f"<= {high}")
            raise ValueError(f"{name}: expected {wanted + ' ' if wanted else ''}{span}, got "
                             f"{smallest}..{largest}{hint}")
    return value


def check_region_labels(value, name: str = "labels") -> torch.Tensor:
    """Region labels (H, W) as int64: 0 for background, 1..K for K regions, each number
    labelling at least one pixel (as ``regions.label_regions`` makes them): a missing
    number would be a region without a box or a vote."""
    labels = check_indices(value, name, ndim=2, dims="(H, W)", low=0,
                           wanted="region numbers", hint=" (0 for background)")
    count = int(labels.max()) if labels.numel() else 0
    if count:
        present = torch.bincount(labels.flatten(), minlength=count + 1)[1:] > 0
        if not present.all():
            missing = int((~present).nonzero()[0]) + 1
            raise ValueError(f"{name}: region {missing} has no pixel; expected regions "
                             f"numbered 1..{count} without gaps (use regions.label_regions)")
    return labels


def check_counts(value, name: str, ndim=None, dims: str | None = None,
                 integer: bool = False) -> torch.Tensor:
    """``value`` if it is a tensor of counts: real numbers, finite and >= 0 (not bool, not
    complex; ``integer``: an integer dtype, as counts of things are)."""
    check_tensor(value, name, ndim=ndim, dims=dims)
    layout = f" {dims}" if dims else ""
    if value.dtype == torch.bool or value.is_complex() or (
            integer and value.is_floating_point()):
        kind = "integer counts" if integer else "counts (real numbers >= 0)"
        raise TypeError(f"{name}: expected {kind}{layout}, got {describe(value)}")
    check_finite(value, name)
    if value.numel() and value.min() < 0:
        raise ValueError(f"{name}: expected counts >= 0, got {value.min().item():g}")
    return value


def check_boxes(value, name: str = "boxes", columns: int = 4, images: int | None = None,
                wanted: str | None = None, fits: torch.dtype | None = None) -> torch.Tensor:
    """``value`` if it is a float tensor (K, columns) of boxes whose last four columns are
    (x1, y1, x2, y2) in pixel edges: finite, x2 > x1 and y2 > y1 in every box. With
    ``images`` (and 5 columns) the first column is each box's image index, a whole number
    in 0..images - 1 (torchvision's RoI format). With ``fits``, every number must stay
    finite in that dtype (float64 boxes of 1e300 are infinite in float32)."""
    wanted = wanted or f"(K, {columns}) boxes" + (
        " (x1, y1, x2, y2)" if columns == 4 else " (image index, x1, y1, x2, y2)")
    check_tensor(value, name, ndim=2, dims=f"(K, {columns})")
    if not value.is_floating_point():
        raise TypeError(f"{name}: expected a float tensor (K, {columns}) of boxes, got "
                        f"{describe(value)}; convert it with .float()")
    if value.shape[1] != columns:
        raise ValueError(f"{name}: expected {wanted}, got {describe(value)}")
    check_finite(value, name)
    if fits is not None and value.numel() and value.abs().max() > torch.finfo(fits).max:
        raise ValueError(f"{name}: expected coordinates a {str(fits).removeprefix('torch.')} "
                         f"can hold (up to {torch.finfo(fits).max:.3g}), got "
                         f"{value.abs().max().item():.3g}")
    corners = value[:, -4:]
    if len(value) and ((corners[:, 2] <= corners[:, 0])
                       | (corners[:, 3] <= corners[:, 1])).any():
        raise ValueError(f"{name}: expected x2 > x1 and y2 > y1 in every box (pixel edges, "
                         f"as from region_boxes), got an empty box")
    if images is not None and len(value):
        index = value[:, 0]
        if (index != index.round()).any() or index.min() < 0 or index.max() > images - 1:
            bad = index[(index != index.round()) | (index < 0) | (index > images - 1)][0]
            raise ValueError(f"{name}: expected image indices (column 0) that are whole "
                             f"numbers 0..{images - 1}, got {bad.item():g}")
    return value


def check_per_instance(values: dict, name: str, count: int) -> None:
    """A clear error unless every tensor in ``values`` (a dict of per-instance entries:
    boxes, scores, labels, masks) has ``count`` rows, one per instance."""
    for key, value in values.items():
        if isinstance(value, torch.Tensor) and (value.dim() == 0 or len(value) != count):
            raise ValueError(f"{name}[{key!r}]: expected one entry per instance ({count}, "
                             f"as boxes), got {describe(value)}")


def check_unit_range(value: torch.Tensor, name: str) -> torch.Tensor:
    """``value`` (a float tensor) if it is finite and in [0, 1], as images to draw are."""
    check_finite(value, name)
    if value.numel() and (value.min() < 0 or value.max() > 1):
        raise ValueError(f"{name}: expected values in [0, 1], found "
                         f"{float(value.min()):.4g}..{float(value.max()):.4g}; for 0..255 "
                         "pictures use images.float() / 255")
    return value


def check_count_matrices(value, name: str = "cms") -> torch.Tensor:
    """``value`` if it holds confusion matrices of multiset answers, as
    ``metrics.count_confusion`` makes them: (N, K + 1, K + 1), N >= 1, or one summed
    (K + 1, K + 1), K >= 1; counts (finite, >= 0); class 0 "nothing" first, with
    [0, 0] = 0, and no count between two real classes off the diagonal (a count answer
    says which digits, not which was read as which: a plain confusion matrix of classes
    is not one of these)."""
    check_tensor(value, name, ndim=(2, 3), dims="(N, K + 1, K + 1) or (K + 1, K + 1)")
    if value.shape[-1] != value.shape[-2] or value.shape[-1] < 2:
        raise ValueError(f"{name}: expected square matrices with class 0 'nothing' first "
                         f"(from count_confusion), got {describe(value)}")
    if value.dim() == 3 and len(value) == 0:
        raise ValueError(f"{name}: no scene to score")
    check_counts(value, name)
    summed = value.sum(0) if value.dim() == 3 else value
    between = summed[1:, 1:] - torch.diag_embed(summed[1:, 1:].diagonal())
    if summed[0, 0] != 0 or between.any():
        found = (f"[0, 0] = {summed[0, 0].item():g}" if summed[0, 0]
                 else "counts between two classes")
        raise ValueError(f"{name}: expected matrices from count_confusion ([0, 0] = 0, and "
                         f"off the diagonal counts only in row and column 0), got {found}; "
                         "a confusion matrix of classes is not a count answer")
    return value


def check_names(value, name: str, at_least: int = 0) -> tuple:
    """``value`` as a tuple if it is a list or tuple of at least ``at_least`` strings (class
    names, captions)."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name}: expected a list or tuple of names (str), "
                        f"got {describe(value)}")
    if len(value) < at_least:
        raise ValueError(f"{name}: expected at least {at_least} names, got {len(value)}")
    return tuple(value)


def check_pixels(value: torch.Tensor, name: str, at_least: int = 1) -> torch.Tensor:
    """``value`` (a tensor (..., H, W)) if H and W are both at least ``at_least``."""
    if value.dim() < 2 or min(value.shape[-2:]) < at_least:
        raise ValueError(f"{name}: expected at least {at_least}x{at_least} pixels, got "
                         f"{describe(value)}")
    return value


def check_weights(value, name: str, ndim=None, dims: str | None = None) -> torch.Tensor:
    """``value`` if it is a float tensor of weights (per class, per pixel): finite and
    >= 0."""
    check_tensor(value, name, ndim=ndim, dims=dims, kind="float")
    check_finite(value, name)
    if value.numel() and value.min() < 0:
        raise ValueError(f"{name}: expected weights >= 0, got {value.min().item():g}")
    return value


def check_spacing(value, name: str = "spacing", dims: int = 2) -> tuple:
    """``value`` as a tuple of ``dims`` floats, the size of a pixel along each axis in
    array order ((row height, column width) for (H, W) images): one positive number for
    square pixels, or a sequence of ``dims`` positive numbers (finite)."""
    wanted = f"a number > 0 or {dims} numbers > 0 (one per axis)"
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):   # a 0-d tensor or array
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return (check_number(value, name, low=0, low_open=True),) * dims
    if isinstance(value, str | bytes | bool) or not hasattr(value, "__len__"):
        raise TypeError(f"{name}: expected {wanted}, got {describe(value)}")
    if len(value) != dims or getattr(value, "ndim", 1) != 1:
        raise ValueError(f"{name}: expected {wanted}, got {describe(value)}")
    return tuple(check_number(v.item() if hasattr(v, "item") else v, name, low=0,
                              low_open=True) for v in value)


def check_class_probabilities(value, name: str, dims: str | None = None) -> torch.Tensor:
    """``value`` if it holds probabilities over classes along dim 1 ((N, C) or
    (N, C, H, W), as ``softmax(dim=1)`` gives them): finite, in [0, 1] and summing to 1
    over the classes within 0.01 (a float16 or bfloat16 softmax, converted to float32 or
    not, strays by up to about 0.004; per-class sigmoids or unnormalised scores by far
    more)."""
    check_probabilities(value, name, dims=dims)
    if value.dim() >= 2 and value.numel():
        stray = (value.double().sum(1) - 1).abs().max().item()
        if stray > 0.01:
            raise ValueError(f"{name}: expected probabilities that sum to 1 over the classes "
                             f"(dim 1), found sums off by up to {stray:.3g}; for logits take "
                             ".softmax(dim=1) first")
    return value


def check_detections(value, name: str, keys: tuple) -> list:
    """``value`` as a list if it is a list or tuple of dicts, one per image, each holding
    ``keys`` (torchvision's detection models take targets and return predictions so: boxes,
    labels, scores, masks); the entries themselves are checked by the caller."""
    if not isinstance(value, list | tuple):
        raise TypeError(f"{name}: expected a list of dicts (one per image) with "
                        f"{', '.join(keys)}, got {describe(value)}")
    for i, found in enumerate(value):
        if not isinstance(found, dict):
            raise TypeError(f"{name}[{i}]: expected a dict with {', '.join(keys)}, "
                            f"got {describe(found)}")
        missing = [key for key in keys if key not in found]
        if missing:
            raise ValueError(f"{name}[{i}]: expected a dict with {', '.join(keys)}, got "
                             f"one without {', '.join(repr(key) for key in missing)}")
    return list(value)


def check_instance_masks(value, name: str, threshold: float = 0.5) -> torch.Tensor:
    """One mask per instance, (K, 1, H, W) or (K, H, W), as (K, H, W) bool: probabilities
    (float in [0, 1], the instance where > ``threshold``, as torchvision's Mask R-CNN
    returns them) or 0/1 (any integer dtype, or bool, as targets hold them)."""
    check_tensor(value, name, ndim=(3, 4), dims="(K, 1, H, W) or (K, H, W)")
    if value.dim() == 4 and value.shape[1] != 1:
        raise ValueError(f"{name}: expected one mask per instance (K, 1, H, W) or (K, H, W), "
                         f"got {describe(value)}")
    masks = value[:, 0] if value.dim() == 4 else value
    if masks.is_floating_point():
        return check_probabilities(masks, name) > threshold
    return check_indices(masks, name, low=0, high=1,
                         wanted="0/1 masks (or probabilities): values") > 0
