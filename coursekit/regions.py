"""Regions of a segmentation: connected components, their boxes, their class, their crops.

Segment first, then classify (chapter 9): a model labels every pixel, the pixels of the
foreground are grouped into regions, and each region gets one class. The steps:

- ``label_regions(mask)``: the connected regions of a foreground mask, numbered 1..K
  (8-connectivity: a digit's strokes often meet only at a corner), regions smaller than
  ``min_area`` pixels dropped as specks;
- ``label_class_regions(classes, num_classes)``: the connected regions of each class of a
  class map, each with its class: two touching digits read as different classes become two
  regions, two touching digits of one class stay one;
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
    check_boxes,
    check_choice,
    check_class_indices,
    check_ignore_index,
    check_indices,
    check_int,
    check_number,
    check_pixels,
    check_region_labels,
    check_tensor,
    describe,
)

EIGHT_CONNECTED = [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
"""A pixel's neighbours for regions: the 8 around it, corners included."""

METHODS = ("align", "pool")


def _check_mask(mask, name: str = "mask") -> torch.Tensor:
    """A foreground mask (H, W): bool, or integers 0/1, as bool."""
    if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
        return check_tensor(mask, name, ndim=2, dims="(H, W)")
    return check_indices(mask, name, ndim=2, dims="(H, W)", low=0, high=1,
                         wanted="a foreground mask of 0 and 1 (or bool): values",
                         hint="; for a class map use classes > 0") > 0


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
    labels, kept = _number_regions(torch.from_numpy(found).long(), count, min_area)
    return labels.to(mask.device), len(kept)


def _number_regions(found: torch.Tensor, count: int,
                    min_area: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Regions 1..count of ``found`` (H, W) int64 (0: background) with fewer than
    ``min_area`` pixels made background, the rest numbered 1..K in reading order of their
    first pixel: -> (labels (H, W) int64, kept (K,) int64, the old number of each new one)."""
    flat = found.flatten()
    areas = torch.bincount(flat, minlength=count + 1)
    first = torch.full((count + 1,), flat.numel(), dtype=torch.long)
    first.scatter_reduce_(0, flat, torch.arange(flat.numel()), "amin")
    keep = areas >= min_area
    keep[0] = False
    kept = keep.nonzero().flatten()
    kept = kept[first[kept].argsort()]
    renumber = torch.zeros(count + 1, dtype=torch.long)
    renumber[kept] = torch.arange(1, len(kept) + 1)
    return renumber[found], kept


def label_class_regions(classes: torch.Tensor, num_classes: int, min_area: int = 1,
                        ignore_index: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The connected regions of each class: -> (labels (H, W) int64, region_classes (K,)
    int64).

    classes: (H, W) the class a segmentation gave each pixel, 0..num_classes - 1 (any
    integer dtype, or bool for two classes), 0 the background; num_classes: an int >= 2;
    min_area: an int >= 1, regions of fewer pixels are dropped (they become background);
    ignore_index: None, or a value of ``classes`` that belongs to no region (unlabelled
    pixels of a ground truth), like the background.

    A region is a set of pixels of *one* class, 8-connected (through edges and corners, as
    in ``label_regions``): where ``label_regions(classes > 0)`` makes one region of a 3
    touching a 7, this makes two, one of class 3 and one of class 7; two touching 3s stay
    one region of class 3. labels is 0 on the background (and ignored pixels) and 1..K on
    the K regions kept, numbered in reading order of their first pixel, as
    ``label_regions`` numbers them; region k's class is ``region_classes[k - 1]`` (what
    ``majority_classes(classes, labels, num_classes)`` would vote, each region being of
    one class). With two classes it is ``label_regions(classes > 0, min_area)`` with every
    region of class 1.
    """
    from scipy import ndimage

    num_classes = check_int(num_classes, "num_classes", low=2)
    ignore_index = check_ignore_index(ignore_index)
    classes = check_indices(classes, "classes", ndim=2, dims="(H, W)", low=None,
                            wanted="classes")
    counted = check_class_indices(classes, "classes", num_classes, ignore_index)
    min_area = check_int(min_area, "min_area", low=1)
    plain = torch.where(counted, classes, 0).cpu()
    found = torch.zeros(plain.shape, dtype=torch.long)
    owner = [0]                                 # the class of each region found, 0 first
    for c in plain.unique().tolist():
        if c == 0:
            continue
        part, count = ndimage.label((plain == c).numpy(), structure=EIGHT_CONNECTED)
        part = torch.from_numpy(part).long()
        found = torch.where(part > 0, part + len(owner) - 1, found)
        owner += [c] * count
    labels, kept = _number_regions(found, len(owner) - 1, min_area)
    return labels.to(classes.device), torch.tensor(owner)[kept].to(classes.device)


def region_boxes(labels: torch.Tensor) -> torch.Tensor:
    """Each region's box: (H, W) labels 0..K -> (K, 4) float32 (x1, y1, x2, y2).

    Boxes are in pixel edges (torchvision's convention): a region whose pixels span
    columns c0..c1 and rows r0..r1 has the box (c0, r0, c1 + 1, r1 + 1). Region k is row
    k - 1; every number 1..K must label at least one pixel (``label_regions`` ensures it).
    """
    labels = check_region_labels(labels)
    count = int(labels.max()) if labels.numel() else 0
    boxes = torch.zeros(count, 4)
    for k in range(1, count + 1):
        rows, cols = (labels == k).nonzero(as_tuple=True)
        boxes[k - 1] = torch.tensor([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1],
                                    dtype=torch.float32)
    return boxes.to(labels.device)


def majority_classes(classes: torch.Tensor, labels: torch.Tensor,
                     num_classes: int) -> torch.Tensor:
    """Each region's class by majority vote: -> (K,) int64.

    classes: (H, W) the class a segmentation gave each pixel, 0..num_classes - 1 (any
    integer dtype or bool); labels: (H, W) regions 0..K, every number 1..K labelling at
    least one pixel, as from ``label_regions``. Region k's class is the most common class
    among its pixels, background (class 0) not voting unless the region holds nothing
    else; a tie goes to the smaller class number.
    """
    labels = check_region_labels(labels)
    num_classes = check_int(num_classes, "num_classes", low=2)
    classes = check_indices(classes, "classes", ndim=2, dims="(H, W)", low=0,
                            high=num_classes - 1, wanted="classes")
    if classes.shape != labels.shape:
        raise ValueError(f"classes: expected the shape of labels {tuple(labels.shape)}, "
                         f"got {describe(classes)}")
    count = int(labels.max()) if labels.numel() else 0
    votes = torch.zeros(count + 1, num_classes, dtype=torch.long, device=labels.device)
    votes.index_put_((labels.flatten(), classes.flatten().to(labels.device)),
                     torch.ones(labels.numel(), dtype=torch.long, device=labels.device),
                     accumulate=True)
    votes = votes[1:]
    votes[:, 0] = torch.where(votes[:, 1:].sum(1) > 0, 0, votes[:, 0])
    return votes.argmax(1)                     # argmax returns the first of equal counts


def square_boxes(boxes: torch.Tensor, fill: float = 20 / 28) -> torch.Tensor:
    """Squares around boxes: (K, 4) -> (K, 4) float, same centres.

    fill: a number in (0, 1]; the box's longer side is ``fill`` of the square's side
    (20 / 28: an MNIST digit's 20-pixel box in its 28-pixel picture). The squares may
    reach past the image; crops sample zeros there.
    """
    boxes = check_boxes(boxes)
    fill = check_number(fill, "fill", low=0, high=1, low_open=True)
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    half = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / fill / 2
    return torch.stack([centre_x - half, centre_y - half, centre_x + half, centre_y + half], 1)


def crop_regions(images: torch.Tensor, boxes, size: int = 28, method: str = "align",
                 spatial_scale: float = 1.0, sampling_ratio: int = 2) -> torch.Tensor:
    """The regions of images resampled to a fixed size: -> (K, C, size, size).

    images: (N, C, H, W) float, images or feature maps, H, W >= 1; boxes: a list of N
    tensors (K_i, 4), the boxes of image i in the coordinates of the *image* (x1, y1, x2,
    y2) in pixel edges (as from ``region_boxes``: x2 and y2 one past the last column and
    row), or one (K, 5) tensor whose first column is the image index, a whole number
    0..N - 1 (torchvision's format); every coordinate finite, x2 > x1 and y2 > y1. size: an int
    >= 1; method: "align" (``roi_align``: each output cell is the mean of
    ``sampling_ratio`` x ``sampling_ratio`` bilinear samples at exact, fractional
    positions) or "pool" (``roi_pool``: the box is rounded to whole cells of the map, cut
    into size x size bins with rounded edges, the maximum of each); spatial_scale: the
    map's size over the image's (1/4 for a map of stride 4).

    Both read the box's far edges as edges: with "pool" a box (x1, y1, x2, y2) covers map
    columns round(x1 * s) to round(x2 * s) - 1, s the spatial_scale, rounding halves
    away from zero (torchvision's ``roi_pool`` reads x2 and y2 as the last column and row,
    included, so this function hands it (round(x2 * s) - 1) / s and the same for y2).
    float16 and bfloat16 images are cropped in float32 (box coordinates keep their
    precision) and the crops returned in their dtype.
    """
    check_tensor(images, "images", ndim=4, dims="(N, C, H, W)", kind="float")
    check_pixels(images, "images")
    size = check_int(size, "size", low=1)
    method = check_choice(method, "method", METHODS)
    spatial_scale = check_number(spatial_scale, "spatial_scale", low=0, low_open=True)
    sampling_ratio = check_int(sampling_ratio, "sampling_ratio", low=1)
    work = torch.float64 if images.dtype == torch.float64 else torch.float32
    if isinstance(boxes, (list, tuple)):
        if len(boxes) != len(images):
            raise ValueError(f"boxes: expected one tensor of boxes per image "
                             f"({len(images)}), got {len(boxes)}")
        for i, image_boxes in enumerate(boxes):
            check_boxes(image_boxes, f"boxes[{i}]", fits=work)
        rois = torch.cat([torch.zeros(0, 5, dtype=work, device=images.device)] + [
            torch.cat([torch.full((len(b), 1), i, dtype=work, device=images.device),
                       b.to(images.device, work)], 1) for i, b in enumerate(boxes)])
    else:
        check_boxes(boxes, "boxes", columns=5, images=len(images), fits=work,
                    wanted="a list of (K_i, 4) tensors or one (K, 5) tensor")
        rois = boxes.to(images.device, work)
    if method == "align":
        crops = ops.roi_align(images.to(work), rois, size, spatial_scale, sampling_ratio,
                              aligned=True)
    else:
        # roi_pool rounds each coordinate to a cell (half away from zero) and includes
        # the far ones: hand it the cell before the far edge's, at a whole cell
        far = rois[:, 3:].double() * spatial_scale
        far = torch.sign(far) * torch.floor(far.abs() + 0.5) - 1
        rois = torch.cat([rois[:, :3], (far / spatial_scale).to(work)], 1)
        crops = ops.roi_pool(images.to(work), rois, size, spatial_scale)
    return crops.to(images.dtype)


def count_classes(classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """How many regions of each class: (K,) class indices -> (num_classes,) int64."""
    num_classes = check_int(num_classes, "num_classes", low=1)
    classes = check_indices(classes, "classes", ndim=1, dims="(K,)", low=0,
                            high=num_classes - 1, wanted="classes")
    return torch.bincount(classes, minlength=num_classes)
