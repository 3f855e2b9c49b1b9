"""Boundary metrics: how far a predicted outline lies from the true one.

Dice and IoU count pixels, so a prediction can score well while its outline is wrong in
a few places far from the object (a stray blob across the image costs a few pixels, not
a few hundred). The metrics of this module measure *distances between outlines*, as
medical-imaging papers and MONAI report them beside Dice:

1. the surface (boundary) of a mask: its object pixels that touch the background through
   an edge (4-neighbours) or touch the image border; ``boundary_pixels``. The pixels left
   after removing these are the mask eroded by a 3x3 cross (``scipy.ndimage.binary_erosion``,
   with the outside of the image counted as background), as in MONAI's ``get_mask_edges``;
2. surface distances: for every boundary pixel of the prediction, the Euclidean distance
   to the nearest boundary pixel of the target, and the other way round
   (``surface_distances``), with the pixel size ``spacing`` = (row height, column width)
   so that distances come in millimetres (or whatever unit spacing is in);
3. from these two lists of distances, d(P->T) and d(T->P):

   - Hausdorff distance: the largest of all, max(max d(P->T), max d(T->P)): the worst
     place of the outline (``hausdorff_distance``);
   - HD95: the same with the 95th percentile of each list instead of its maximum,
     max(q95 d(P->T), q95 d(T->P)), so that the worst 5 % of boundary pixels (one stray
     pixel) do not decide the score alone (``hd95``); percentiles interpolate linearly
     between the sorted distances (as ``torch.quantile`` and ``numpy.percentile`` do);
   - average symmetric surface distance: the mean of both lists pooled together,
     (sum d(P->T) + sum d(T->P)) / (|P| + |T|) (``average_surface_distance``);
   - normalised surface Dice at tolerance tau (Nikolov et al. 2021, "Clinically applicable
     segmentation of head and neck anatomy for radiotherapy", J. Med. Internet Res.
     23(7):e26151): the share of boundary pixels, of both outlines, that lie within tau
     of the other outline: (#{d(P->T) <= tau} + #{d(T->P) <= tau}) / (|P| + |T|); 1 when
     every boundary pixel is within tolerance (``surface_dice``).

   The distances are lower for better predictions; surface Dice is higher for better.

Every function takes binary masks, one image (H, W) or a batch (N, H, W), of any integer
dtype or bool with values 0 and 1 (for class c of a label map pass ``labels == c``). A
batch is scored image by image, then averaged over the images (``per_image=True``
returns the (N,) float64 values instead).

Empty masks, as MONAI has them: an image whose prediction and target are both empty has
no outline to measure: NaN per image, left out of the mean (and an error when no image is
left: nothing to measure). An image where only one of the two is empty has distances of
infinity (a missed or invented object is infinitely wrong) and surface Dice 0; the mean
over images is then infinite too: report such images separately (``per_image=True``).

Against MONAI 1.6 (``compute_hausdorff_distance`` with ``percentile`` None or 95,
``compute_average_surface_distance``, ``compute_surface_dice`` on one-hot (N, 1, H, W)
masks with ``include_background=True``), checked in tests/test_metrics_boundary.py:
the same values within 1e-6 (relative above 1), except

- HD95 when exactly one mask is empty: inf here; MONAI gives NaN (``torch.quantile`` of
  infinities interpolates inf - inf), and its mean then skips that image, which would
  hide a missed object;
- HD95 (and any percentile below 100): MONAI's ``torch.quantile`` works in float32, where
  q = 0.95 is 0.949999988, so its interpolation rank is (n - 1) * 1.2e-8 too low (n
  distances): its value is lower by up to that times the gap between the two distances
  interpolated between (a few 1e-6 on the test cases); here the percentile is in float64;
- distances here are float64; MONAI rounds them, and the tolerance it compares them
  with, to float32. Surface Dice can therefore differ where a distance lies within
  float32 rounding of ``tolerance``: sqrt(5) = 2.2360679775 is beyond a tolerance of
  2.23606797 here; in MONAI both become 2.2360680 in float32, and the pixel counts;
- ``percentile`` must be in (0, 100]; MONAI reads ``percentile=0`` as the maximum;
- the mean over images where every image has both masks empty is an error here, 0 in
  MONAI;
- ``surface_distances`` of an empty prediction and a non-empty target lists no distance
  from the prediction (it has no boundary pixel); MONAI lists infinity once per *target*
  boundary pixel, which gives the same scores.

Other tools differ: medpy's ``hd95`` takes the 95th percentile of both lists pooled
together, and DeepMind's surface-distance package (and MONAI with ``use_subvoxels=True``)
weights each boundary element by its length rather than counting pixels.
"""

import math

import numpy as np
import torch

from coursekit._checks import (
    check_bool,
    check_indices,
    check_number,
    check_pixels,
    check_same_shape,
    check_spacing,
)

MASKS = "(N, H, W) or (H, W)"


def _masks(value, name: str, ndim=(2, 3)) -> torch.Tensor:
    """Binary masks of any integer dtype or bool, as a bool tensor on the CPU."""
    layout = MASKS if ndim == (2, 3) else "(H, W)"
    masks = check_indices(value, name, ndim=ndim, dims=layout, low=0, high=1,
                          wanted="mask values", hint=" (0 = background, 1 = object; for "
                          "class c of a label map pass labels == c)")
    check_pixels(masks, name)
    if masks.dim() == 3 and len(masks) == 0:
        raise ValueError(f"{name}: no image (N = 0): nothing to measure")
    return masks.bool().cpu()


def _pair(prediction, target, ndim=(2, 3)) -> tuple[np.ndarray, np.ndarray]:
    """Checked prediction and target as bool arrays (N, H, W)."""
    prediction, target = _masks(prediction, "prediction", ndim), _masks(target, "target", ndim)
    check_same_shape(prediction, "prediction", target, "target")
    if prediction.dim() == 2:
        prediction, target = prediction[None], target[None]
    return prediction.numpy(), target.numpy()


def _boundary(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) bool: object pixels that the 3x3-cross erosion removes."""
    from scipy import ndimage

    return mask & ~ndimage.binary_erosion(mask)


def boundary_pixels(mask: torch.Tensor) -> torch.Tensor:
    """The surface of binary masks: (N, H, W) or (H, W) -> bool of the same shape.

    mask: 0/1 values, any integer dtype or bool. A pixel is on the boundary when it is
    an object pixel with a background pixel above, below, left or right of it, or on the
    edge of the image. A single pixel is its own boundary; an empty mask has none.
    """
    masks = _masks(mask, "mask")
    flat = masks.numpy().reshape(-1, *masks.shape[-2:])
    edges = np.stack([_boundary(m) for m in flat]).reshape(masks.shape)
    return torch.from_numpy(edges)


def _directed(edges_from: np.ndarray, edges_to: np.ndarray, spacing) -> torch.Tensor:
    """Distance from each pixel of ``edges_from`` to the nearest of ``edges_to`` (float64,
    in reading order); infinity each when ``edges_to`` is empty."""
    from scipy import ndimage

    count = int(edges_from.sum())
    if not edges_to.any():
        return torch.full((count,), math.inf, dtype=torch.float64)
    # distance of every pixel to the nearest pixel of edges_to (where ~edges_to is 0)
    to_nearest = ndimage.distance_transform_edt(~edges_to, sampling=spacing)
    return torch.from_numpy(to_nearest[edges_from])


def surface_distances(prediction: torch.Tensor, target: torch.Tensor,
                      spacing=1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The two lists of boundary distances of one image: (from_prediction, from_target).

    prediction, target: (H, W) binary masks (0/1, any integer dtype or bool).
    spacing: the pixel size, one number or (row height, column width); distances come in
    its unit. Returns two float64 tensors: (|P|,) the distance from each boundary pixel
    of the prediction to the nearest boundary pixel of the target, and (|T|,) the other
    way round, in reading order (row by row). A boundary pixel facing an empty mask is
    infinitely far; an empty mask has no boundary pixel, so its list is empty.
    """
    spacing = check_spacing(spacing)
    predicted, true = _pair(prediction, target, ndim=(2,))
    edges_p, edges_t = _boundary(predicted[0]), _boundary(true[0])
    return _directed(edges_p, edges_t, spacing), _directed(edges_t, edges_p, spacing)


def _scores(prediction, target, spacing, score, empty_one: float) -> torch.Tensor:
    """(N,) float64: ``score(d(P->T), d(T->P))`` per image; NaN where both masks are
    empty, ``empty_one`` where only one is."""
    spacing = check_spacing(spacing)
    predicted, true = _pair(prediction, target)
    values = torch.empty(len(predicted), dtype=torch.float64)
    for i, (p, t) in enumerate(zip(predicted, true, strict=True)):
        if not p.any() and not t.any():
            values[i] = math.nan                  # no outline on either side
        elif not p.any() or not t.any():
            values[i] = empty_one                 # a missed or an invented object
        else:
            edges_p, edges_t = _boundary(p), _boundary(t)
            values[i] = score(_directed(edges_p, edges_t, spacing),
                              _directed(edges_t, edges_p, spacing))
    return values


def _reduce(values: torch.Tensor, per_image: bool):
    """(N,) per-image values, or their mean over the images with something to measure."""
    if per_image:
        return values
    measured = values[~values.isnan()]
    if measured.numel() == 0:
        raise ValueError("target: prediction and target are both empty in every image: "
                         "there is no outline to measure")
    return float(measured.mean())


def hausdorff_distance(prediction: torch.Tensor, target: torch.Tensor, percentile=100,
                       spacing=1.0, per_image: bool = False):
    """The (percentile) Hausdorff distance between predicted and true outlines.

    prediction, target: (N, H, W) or (H, W) binary masks (0/1, any integer dtype or
    bool), the same shape. percentile: in (0, 100]; 100 (default) is the Hausdorff
    distance, max(max d(P->T), max d(T->P)); p < 100 takes the p-th percentile of each
    list instead, max(q_p d(P->T), q_p d(T->P)) (``hd95`` is p = 95). spacing: pixel
    size (one number, or row height and column width); the distance is in its unit.
    Returns the mean over images (a float), or with ``per_image`` a (N,) float64 tensor
    ((1,) for one image): NaN where both masks are empty, inf where only one is.
    """
    percentile = check_number(percentile, "percentile", low=0, high=100, low_open=True)
    per_image = check_bool(per_image, "per_image")

    def worst(from_prediction, from_target):
        # linear interpolation between the sorted distances, as torch.quantile (which
        # refuses more than 2^24 values) and MONAI
        return max(float(np.percentile(d.numpy(), percentile))
                   for d in (from_prediction, from_target))

    return _reduce(_scores(prediction, target, spacing, worst, math.inf), per_image)


def hd95(prediction: torch.Tensor, target: torch.Tensor, spacing=1.0,
         per_image: bool = False):
    """The 95th-percentile Hausdorff distance: ``hausdorff_distance(..., percentile=95)``.

    prediction, target: (N, H, W) or (H, W) binary masks, the same shape. Returns the
    mean over images (a float) or, with ``per_image``, (N,) float64.
    """
    return hausdorff_distance(prediction, target, 95, spacing=spacing, per_image=per_image)


def average_surface_distance(prediction: torch.Tensor, target: torch.Tensor, spacing=1.0,
                             symmetric: bool = True, per_image: bool = False):
    """The average surface distance between predicted and true outlines.

    prediction, target: (N, H, W) or (H, W) binary masks, the same shape. symmetric
    (default): the mean of both lists pooled, (sum d(P->T) + sum d(T->P)) / (|P| + |T|)
    (MONAI's ``symmetric=True``; not the mean of the two means); False: the mean of
    d(P->T) only. spacing: pixel size. Returns the mean over images (a float) or, with
    ``per_image``, (N,) float64: NaN where both masks are empty, inf where only one is.
    """
    symmetric = check_bool(symmetric, "symmetric")
    per_image = check_bool(per_image, "per_image")

    def mean(from_prediction, from_target):
        pooled = torch.cat([from_prediction, from_target]) if symmetric else from_prediction
        return float(pooled.mean())

    return _reduce(_scores(prediction, target, spacing, mean, math.inf), per_image)


def surface_dice(prediction: torch.Tensor, target: torch.Tensor, tolerance, spacing=1.0,
                 per_image: bool = False):
    """Normalised surface Dice: the share of boundary pixels within ``tolerance``.

    prediction, target: (N, H, W) or (H, W) binary masks, the same shape. tolerance:
    the distance (>= 0, in the unit of ``spacing``) at which a boundary pixel still
    counts as right, e.g. the spread between two human annotators. Per image:
    (#{d(P->T) <= tolerance} + #{d(T->P) <= tolerance}) / (|P| + |T|), in [0, 1].
    Returns the mean over images (a float) or, with ``per_image``, (N,) float64: NaN
    where both masks are empty, 0 where only one is.
    """
    tolerance = check_number(tolerance, "tolerance", low=0)
    per_image = check_bool(per_image, "per_image")

    def share_within(from_prediction, from_target):
        pooled = torch.cat([from_prediction, from_target])
        return float((pooled <= tolerance).double().mean())

    return _reduce(_scores(prediction, target, spacing, share_within, 0.0), per_image)
