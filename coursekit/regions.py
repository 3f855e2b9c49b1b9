"""Regions of a segmentation: connected components, their boxes, their class, their crops.

Segment first, then classify (chapter 9): a model labels every pixel, the pixels of the
foreground are grouped into regions, and each region gets one class. The steps:

- ``label_regions(mask)``: the connected regions of a foreground mask, numbered 1..K
  (8-connectivity: a digit's strokes often meet only at a corner), regions smaller than
  ``min_area`` pixels dropped as specks;
- ``region_boxes(labels)``: each region's box (x1, y1, x2, y2) in torchvision's
  convention: pixel edges, so pixel column c spans [c, c + 1) and a one-pixel region at
  (row 3, column 5) has the box (5, 3, 6, 4);
- ``majority_classes(classes, labels)``: a region's class by majority vote of the
  classes a segmentation gave its pixels;
- ``square_boxes(boxes, fill)``: squares centred on the boxes, large enough that the
  box's longer side fills ``fill`` of the square (MNIST digits fill 20 of their 28 pixels);
- ``crop_regions(images, boxes, size)``: the square crops resampled to ``size`` x ``size``
  with ``torchvision.ops.roi_align`` (bilinear samples) or ``roi_pool`` (max over bins whose
  edges are rounded to whole pixels of the map);
- ``count_classes(classes, num_classes)``: how many regions of each class.
"""

import torch
from torchvision import ops

from coursekit._checks import (
    check_choice,
    check_int,
    check_number,
    check_tensor,
    describe,
)
from coursekit.metrics.confusion import _as_class_indices

EIGHT_CONNECTED = [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
"""A pixel's neighbours for regions: the 8 around it, corners included."""

METHODS = ("align", "pool")


def _check_mask(mask, name: str = "mask") -> torch.Tensor:
    """A foreground mask (H, W): bool, or integers 0/1, as bool."""
    check_tensor(mask, name, ndim=2, dims="(H, W)")
    if mask.dtype != torch.bool:
        mask = _as_class_indices(mask, name)
        if mask.numel() and (mask.min() < 0 or mask.max() > 1):
            raise ValueError(f"{name}: expected a foreground mask of 0 and 1 (or bool), got "
                             f"values {int(mask.min())}..{int(mask.max())}; for a class map "
                             f"use classes > 0")
        mask = mask > 0
    return mask


def _check_labels(labels, name: str = "labels") -> torch.Tensor:
    """Region labels (H, W): 0 for background, 1..K for the regions, as int64."""
    labels = _as_class_indices(labels, name)
    check_tensor(labels, name, ndim=2, dims="(H, W)")
    if labels.numel() and labels.min() < 0:
        raise ValueError(f"{name}: expected region numbers >= 0 (0 for background), got "
                         f"{int(labels.min())}")
    return labels


def label_regions(mask: torch.Tensor, min_area: int = 1) -> tuple[torch.Tensor, int]:
    """The connected regions of a foreground mask: (labels (H, W) int64, K).

    mask: (H, W) bool (or 0/1 integers), True on the foreground; min_area: an int >= 1,
    regions of fewer pixels are dropped (they become background). labels is 0 on the
    background and 1..K on the K regions kept, each a set of 8-connected foreground pixels
    (through edges and corners), numbered in reading order of their first pixel.
    """
    from scipy import ndimage

    mask = _check_mask(mask)
    min_area = check_int(min_area, "min_area", low=1)
    found, count = ndimage.label(mask.cpu().numpy(), structure=EIGHT_CONNECTED)
    labels = torch.from_numpy(found).long()
    if min_area > 1 and count:
        areas = torch.bincount(labels.flatten(), minlength=count + 1)
        keep = areas >= min_area
        keep[0] = False
        renumber = torch.zeros(count + 1, dtype=torch.long)
        renumber[keep] = torch.arange(1, int(keep.sum()) + 1)
        labels, count = renumber[labels], int(keep.sum())
    return labels.to(mask.device), int(count)


def region_boxes(labels: torch.Tensor) -> torch.Tensor:
    """Each region's box: (H, W) labels 0..K -> (K, 4) float32 (x1, y1, x2, y2).

    Boxes are in pixel edges (torchvision's convention): a region whose pixels span
    columns c0..c1 and rows r0..r1 has the box (c0, r0, c1 + 1, r1 + 1). Region k is row
    k - 1; every number 1..K must label at least one pixel (``label_regions`` ensures it).
    """
    labels = _check_labels(labels)
    count = int(labels.max()) if labels.numel() else 0
    boxes = torch.zeros(count, 4)
    for k in range(1, count + 1):
        rows, cols = (labels == k).nonzero(as_tuple=True)
        if len(rows) == 0:
            raise ValueError(f"labels: region {k} has no pixel; expected regions numbered "
                             f"1..{count} without gaps (use label_regions)")
        boxes[k - 1] = torch.tensor([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1],
                                    dtype=torch.float32)
    return boxes.to(labels.device)


def majority_classes(classes: torch.Tensor, labels: torch.Tensor,
                     num_classes: int) -> torch.Tensor:
    """Each region's class by majority vote: -> (K,) int64.

    classes: (H, W) the class a segmentation gave each pixel, 0..num_classes - 1 (any
    integer dtype); labels: (H, W) regions 0..K, as from ``label_regions``. Region k's
    class is the most common class among its pixels, background (class 0) not voting
    unless the region holds nothing else; a tie goes to the smaller class number.
    """
    labels = _check_labels(labels)
    classes = _as_class_indices(classes, "classes")
    check_tensor(classes, "classes", ndim=2, dims="(H, W)")
    num_classes = check_int(num_classes, "num_classes", low=2)
    if classes.shape != labels.shape:
        raise ValueError(f"classes: expected the shape of labels {tuple(labels.shape)}, "
                         f"got {describe(classes)}")
    if classes.numel() and (classes.min() < 0 or classes.max() >= num_classes):
        raise ValueError(f"classes: expected classes 0..{num_classes - 1}, got "
                         f"{int(classes.min())}..{int(classes.max())}")
    count = int(labels.max()) if labels.numel() else 0
    votes = torch.zeros(count + 1, num_classes, dtype=torch.long, device=labels.device)
    votes.index_put_((labels.flatten(), classes.flatten().to(labels.device)),
                     torch.ones(labels.numel(), dtype=torch.long, device=labels.device),
                     accumulate=True)
    votes = votes[1:]
    votes[:, 0] = torch.where(votes[:, 1:].sum(1) > 0, 0, votes[:, 0])
    return votes.argmax(1)                     # argmax returns the first of equal counts


def _check_boxes(boxes, name: str = "boxes", columns: int = 4,
                 wanted: str = "(K, 4) boxes (x1, y1, x2, y2)") -> torch.Tensor:
    """Float boxes (K, columns) whose last four columns are (x1, y1, x2, y2), each box
    not empty."""
    check_tensor(boxes, name, ndim=2, dims=f"(K, {columns})")
    if not boxes.is_floating_point():
        raise TypeError(f"{name}: expected a float tensor (K, {columns}) of boxes, got "
                        f"{describe(boxes)}; convert it with .float()")
    if boxes.shape[1] != columns:
        raise ValueError(f"{name}: expected {wanted}, got {describe(boxes)}")
    corners = boxes[:, -4:]
    if len(boxes) and ((corners[:, 2] <= corners[:, 0])
                       | (corners[:, 3] <= corners[:, 1])).any():
        raise ValueError(f"{name}: expected x2 > x1 and y2 > y1 in every box (pixel edges, "
                         f"as from region_boxes), got an empty box")
    return boxes


def square_boxes(boxes: torch.Tensor, fill: float = 20 / 28) -> torch.Tensor:
    """Squares around boxes: (K, 4) -> (K, 4) float, same centres.

    fill: a number in (0, 1]; the box's longer side is ``fill`` of the square's side
    (20 / 28: an MNIST digit's 20-pixel box in its 28-pixel picture). The squares may
    reach past the image; crops sample zeros there.
    """
    boxes = _check_boxes(boxes)
    fill = check_number(fill, "fill", low=0, high=1, low_open=True)
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    half = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / fill / 2
    return torch.stack([centre_x - half, centre_y - half, centre_x + half, centre_y + half], 1)


def crop_regions(images: torch.Tensor, boxes, size: int = 28, method: str = "align",
                 spatial_scale: float = 1.0, sampling_ratio: int = 2) -> torch.Tensor:
    """The regions of images resampled to a fixed size: -> (K, C, size, size).

    images: (N, C, H, W) float, images or feature maps; boxes: a list of N tensors (K_i,
    4), the boxes of image i in the coordinates of the *image* (x1, y1, x2, y2), or one
    (K, 5) tensor whose first column is the image index (torchvision's format); size: an
    int >= 1; method: "align" (``roi_align``: each output cell is the mean of
    ``sampling_ratio`` x ``sampling_ratio`` bilinear samples at exact, fractional
    positions) or "pool" (``roi_pool``: the box is rounded to whole cells of the map, cut
    into size x size bins with rounded edges, the maximum of each); spatial_scale: the
    map's size over the image's (1/4 for a map of stride 4).
    """
    check_tensor(images, "images", ndim=4, dims="(N, C, H, W)", kind="float")
    size = check_int(size, "size", low=1)
    method = check_choice(method, "method", METHODS)
    spatial_scale = check_number(spatial_scale, "spatial_scale", low=0, low_open=True)
    sampling_ratio = check_int(sampling_ratio, "sampling_ratio", low=1)
    if isinstance(boxes, (list, tuple)):
        if len(boxes) != len(images):
            raise ValueError(f"boxes: expected one tensor of boxes per image "
                             f"({len(images)}), got {len(boxes)}")
        for i, image_boxes in enumerate(boxes):
            _check_boxes(image_boxes, f"boxes[{i}]")
        boxes = [b.to(images.device, images.dtype) for b in boxes]
    else:
        _check_boxes(boxes, "boxes", columns=5,
                     wanted="a list of (K_i, 4) tensors or one (K, 5) tensor")
        boxes = boxes.to(images.device, images.dtype)
    if method == "align":
        return ops.roi_align(images, boxes, size, spatial_scale, sampling_ratio,
                             aligned=True)
    return ops.roi_pool(images, boxes, size, spatial_scale)


def count_classes(classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """How many regions of each class: (K,) class indices -> (num_classes,) int64."""
    classes = _as_class_indices(classes, "classes")
    check_tensor(classes, "classes", ndim=1, dims="(K,)")
    num_classes = check_int(num_classes, "num_classes", low=1)
    if classes.numel() and (classes.min() < 0 or classes.max() >= num_classes):
        raise ValueError(f"classes: expected classes 0..{num_classes - 1}, got "
                         f"{int(classes.min())}..{int(classes.max())}")
    return torch.bincount(classes, minlength=num_classes)
