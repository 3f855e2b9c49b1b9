"""coursekit.regions against independent references: scikit-image's connected components
and region boxes, a Counter-based vote, closed forms, torchvision's roi_align / roi_pool
called directly, and hand computations; every function's bad inputs."""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import measure
from torchvision import ops

from coursekit import regions

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def masks(draw, max_side=9):
    """A small random (H, W) bool mask, sometimes empty or full."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    density = draw(st.sampled_from([0.0, 0.2, 0.45, 0.7, 1.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    return torch.rand(h, w, generator=g) < density


def reading_order(labels: np.ndarray) -> np.ndarray:
    """labels renumbered 1..K in reading order of each region's first pixel (0 stays 0)."""
    out = np.zeros_like(labels)
    seen = {}
    for value in labels.flatten():
        if value and value not in seen:
            seen[value] = len(seen) + 1
    for value, number in seen.items():
        out[labels == value] = number
    return out


def reference_regions(mask: torch.Tensor, min_area: int = 1) -> np.ndarray:
    """scikit-image's 8-connected components, small ones dropped, in reading order."""
    found = measure.label(mask.numpy(), connectivity=2, background=0)
    for region in measure.regionprops(found):
        if region.area < min_area:
            found[found == region.label] = 0
    return reading_order(found)


# ------------------------------------------------------------------------ label_regions


@SETTINGS
@given(masks(), st.sampled_from([1, 1, 2, 3, 5]))
def test_label_regions_equals_scikit_image(mask, min_area):
    labels, count = regions.label_regions(mask, min_area=min_area)
    expected = reference_regions(mask, min_area)
    assert labels.dtype == torch.int64 and labels.shape == mask.shape
    assert isinstance(count, int) and count == int(expected.max(initial=0))
    np.testing.assert_array_equal(labels.numpy(), expected)


def test_label_regions_by_hand():
    mask = torch.tensor([[1, 0, 0, 0, 1],
                         [0, 1, 0, 0, 1],      # (0, 0) and (1, 1) touch at a corner: one
                         [0, 0, 0, 0, 0],
                         [1, 1, 0, 1, 0]], dtype=torch.bool)
    labels, count = regions.label_regions(mask)
    assert count == 4
    assert labels.tolist() == [[1, 0, 0, 0, 2],
                               [0, 1, 0, 0, 2],
                               [0, 0, 0, 0, 0],
                               [3, 3, 0, 4, 0]]
    labels, count = regions.label_regions(mask, min_area=2)     # the speck at (3, 3) goes
    assert count == 3 and labels[3, 3] == 0 and labels.max() == 3
    labels, count = regions.label_regions(mask, min_area=3)
    assert count == 0 and not labels.any()


def test_label_regions_empty_full_and_other_dtypes():
    labels, count = regions.label_regions(torch.zeros(4, 5, dtype=torch.bool))
    assert count == 0 and labels.shape == (4, 5) and not labels.any()
    labels, count = regions.label_regions(torch.ones(3, 3, dtype=torch.bool))
    assert count == 1 and (labels == 1).all()
    labels, count = regions.label_regions(torch.zeros(0, 4, dtype=torch.bool))
    assert count == 0 and labels.shape == (0, 4)
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(9, 7, generator=g) < 0.4
    expected = regions.label_regions(mask)[0]
    for variant in (mask.to(torch.uint8), mask.int(), mask.long(),
                    mask.t().contiguous().t(),                 # a non-contiguous view
                    torch.as_strided(mask.repeat(1, 2), mask.shape, (14, 1))):
        assert torch.equal(regions.label_regions(variant)[0], expected)
    wide = mask.repeat(1, 2)[:, ::2]                              # every other column
    assert torch.equal(regions.label_regions(wide)[0],
                       torch.from_numpy(reference_regions(wide.contiguous())))


def test_label_regions_bad_inputs():
    with pytest.raises(TypeError, match="mask: expected a tensor"):
        regions.label_regions(np.ones((3, 3), bool))
    with pytest.raises(ValueError, match=r"mask: expected a tensor \(H, W\)"):
        regions.label_regions(torch.ones(1, 3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask: expected an integer tensor"):
        regions.label_regions(torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"mask: expected a foreground mask of 0 and 1"):
        regions.label_regions(torch.tensor([[0, 2], [1, 0]]))
    with pytest.raises(ValueError, match=r"mask: expected a foreground mask of 0 and 1"):
        regions.label_regions(torch.tensor([[0, -1], [1, 0]]))
    mask = torch.ones(3, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="min_area: expected an int >= 1, got 0"):
        regions.label_regions(mask, min_area=0)
    with pytest.raises(TypeError, match="min_area: expected an int >= 1"):
        regions.label_regions(mask, min_area=2.0)
    with pytest.raises(TypeError, match="min_area: expected an int >= 1"):
        regions.label_regions(mask, min_area=True)


# ------------------------------------------------------------------ label_class_regions


@st.composite
def class_maps(draw, max_side=10):
    """A small random (H, W) int64 class map 0..num_classes - 1 (0 background), with
    num_classes: sometimes all background, sometimes without background."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    num_classes = draw(st.integers(2, 5))
    density = draw(st.sampled_from([0.0, 0.3, 0.6, 0.9, 1.0]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    ink = torch.rand(h, w, generator=g) < density
    return torch.randint(1, num_classes, (h, w), generator=g) * ink, num_classes


def reference_class_regions(classes: torch.Tensor, num_classes: int, min_area: int = 1,
                            label=None):
    """Each class's 8-connected components by ``label`` (scikit-image's by default), small
    ones dropped, numbered together in reading order: (labels, region classes)."""
    label = label or (lambda mask: measure.label(mask, connectivity=2, background=0))
    found = np.zeros(tuple(classes.shape), dtype=np.int64)
    owner = {}
    for c in range(1, num_classes):
        part = label((classes == c).numpy())
        for k in range(1, int(part.max(initial=0)) + 1):
            if (part == k).sum() >= min_area:
                owner[len(owner) + 1] = c
                found[part == k] = len(owner)
    ordered = reading_order(found)
    classes_of = {}
    for old, new in zip(found.flatten(), ordered.flatten(), strict=True):
        if old:
            classes_of[int(new)] = owner[int(old)]
    return ordered, [classes_of[k] for k in sorted(classes_of)]


@SETTINGS
@given(class_maps(), st.sampled_from([1, 1, 2, 4]))
def test_label_class_regions_equal_scikit_image_per_class(drawn, min_area):
    classes, num_classes = drawn
    labels, region_classes = regions.label_class_regions(classes, num_classes, min_area)
    expected, expected_classes = reference_class_regions(classes, num_classes, min_area)
    assert labels.dtype == torch.int64 and region_classes.dtype == torch.int64
    np.testing.assert_array_equal(labels.numpy(), expected)
    assert region_classes.tolist() == expected_classes
    if len(region_classes):       # a region of one class: the vote agrees
        assert torch.equal(regions.majority_classes(classes, labels, num_classes),
                           region_classes)


def test_label_class_regions_equal_scipy_per_class():
    from scipy import ndimage

    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        classes = torch.randint(0, 4, (16, 16), generator=g)
        labels, region_classes = regions.label_class_regions(classes, 4)
        expected, expected_classes = reference_class_regions(
            classes, 4, label=lambda m: ndimage.label(m, structure=np.ones((3, 3)))[0])
        np.testing.assert_array_equal(labels.numpy(), expected)
        assert region_classes.tolist() == expected_classes


def test_label_class_regions_by_hand():
    touching = torch.tensor([[3, 3, 7, 7, 0],       # a 3 touching a 7 along an edge
                             [3, 3, 7, 7, 0],
                             [0, 0, 0, 0, 5],       # a 5 touching the 7 at a corner
                             [2, 2, 0, 2, 2]])      # two 2s apart
    labels, region_classes = regions.label_class_regions(touching, 11)
    assert labels.tolist() == [[1, 1, 2, 2, 0],
                               [1, 1, 2, 2, 0],
                               [0, 0, 0, 0, 3],
                               [4, 4, 0, 5, 5]]
    assert region_classes.tolist() == [3, 7, 5, 2, 2]
    assert regions.label_regions(touching > 0)[1] == 2     # as foreground: 3, 7, 5, 2 one
    same = torch.tensor([[3, 3, 0, 0],                     # two 3s touching at a corner
                         [3, 3, 0, 0],
                         [0, 0, 3, 3],
                         [0, 0, 3, 3]])
    labels, region_classes = regions.label_class_regions(same, 11)
    assert (labels == same.bool().long()).all() and region_classes.tolist() == [3]
    labels, region_classes = regions.label_class_regions(touching, 11, min_area=3)
    assert labels.max() == 2 and region_classes.tolist() == [3, 7]


def test_label_class_regions_with_two_classes_is_label_regions():
    g = torch.Generator().manual_seed(1)
    for min_area in (1, 3):
        mask = torch.rand(12, 9, generator=g) < 0.5
        labels, region_classes = regions.label_class_regions(mask, 2, min_area)
        expected, count = regions.label_regions(mask, min_area)
        assert torch.equal(labels, expected) and region_classes.tolist() == [1] * count


def test_label_class_regions_empty_ignored_and_other_dtypes():
    labels, region_classes = regions.label_class_regions(torch.zeros(4, 5, dtype=torch.long), 3)
    assert labels.shape == (4, 5) and not labels.any() and region_classes.shape == (0,)
    labels, region_classes = regions.label_class_regions(torch.zeros(0, 4, dtype=torch.long), 3)
    assert labels.shape == (0, 4) and region_classes.shape == (0,)
    unlabelled = torch.tensor([[1, 255, 1],        # an unlabelled pixel between two 1s
                               [255, 255, 255],
                               [2, 2, 255]])
    labels, region_classes = regions.label_class_regions(unlabelled, 3, ignore_index=255)
    assert labels.tolist() == [[1, 0, 2], [0, 0, 0], [3, 3, 0]]
    assert region_classes.tolist() == [1, 1, 2]
    with pytest.raises(ValueError, match=r"classes: expected class indices in 0..2"):
        regions.label_class_regions(unlabelled, 3)
    minus = unlabelled.where(unlabelled != 255, -100)
    assert torch.equal(regions.label_class_regions(minus, 3, ignore_index=-100)[0], labels)
    g = torch.Generator().manual_seed(2)
    classes = torch.randint(0, 4, (9, 7), generator=g)
    expected = regions.label_class_regions(classes, 4)
    for variant in (classes.to(torch.uint8), classes.int(), classes.to(torch.int8),
                    classes.t().contiguous().t(), classes.repeat_interleave(2, 1)[:, ::2]):
        found = regions.label_class_regions(variant, 4)
        assert torch.equal(found[0], expected[0]) and torch.equal(found[1], expected[1])


def test_label_class_regions_bad_inputs():
    classes = torch.tensor([[0, 1], [2, 0]])
    with pytest.raises(TypeError, match="classes: expected a tensor"):
        regions.label_class_regions(classes.numpy(), 3)
    with pytest.raises(TypeError, match="classes: expected an integer tensor"):
        regions.label_class_regions(classes.float(), 3)
    with pytest.raises(ValueError, match=r"classes: expected a tensor \(H, W\)"):
        regions.label_class_regions(classes[None], 3)
    with pytest.raises(ValueError, match=r"classes: expected class indices in 0..1"):
        regions.label_class_regions(classes, 2)
    with pytest.raises(ValueError, match=r"classes: expected class indices"):
        regions.label_class_regions(-classes, 3)
    with pytest.raises(ValueError, match="num_classes: expected an int >= 2, got 1"):
        regions.label_class_regions(classes, 1)
    with pytest.raises(TypeError, match="num_classes: expected an int"):
        regions.label_class_regions(classes, 3.0)
    with pytest.raises(ValueError, match="min_area: expected an int >= 1, got 0"):
        regions.label_class_regions(classes, 3, min_area=0)
    with pytest.raises(TypeError, match="ignore_index: expected an int"):
        regions.label_class_regions(classes, 3, ignore_index=True)


# ------------------------------------------------------------------------ region_boxes


@SETTINGS
@given(masks(), st.sampled_from([1, 2]))
def test_region_boxes_equal_scikit_image(mask, min_area):
    labels, count = regions.label_regions(mask, min_area=min_area)
    boxes = regions.region_boxes(labels)
    assert boxes.shape == (count, 4) and boxes.dtype == torch.float32
    expected = np.zeros((count, 4), np.float32)
    for region in measure.regionprops(labels.numpy()):
        top, left, bottom, right = region.bbox                 # rows, columns; ends open
        expected[region.label - 1] = (left, top, right, bottom)
    np.testing.assert_array_equal(boxes.numpy(), expected)


def test_region_boxes_by_hand():
    labels = torch.zeros(6, 8, dtype=torch.long)
    labels[3, 5] = 1                                   # one pixel: (5, 3, 6, 4)
    labels[0:2, 0:3] = 2                               # touching the border
    labels[5, 7] = 3                                   # the corner
    boxes = regions.region_boxes(labels)
    assert boxes.tolist() == [[5, 3, 6, 4], [0, 0, 3, 2], [7, 5, 8, 6]]
    assert regions.region_boxes(torch.zeros(3, 3, dtype=torch.long)).shape == (0, 4)
    assert regions.region_boxes(torch.zeros(0, 3, dtype=torch.long)).shape == (0, 4)
    assert torch.equal(regions.region_boxes(labels.to(torch.uint8)), boxes)
    assert torch.equal(regions.region_boxes(labels.t().contiguous().t()), boxes)


def test_region_boxes_bad_inputs():
    with pytest.raises(TypeError, match="labels: expected an integer tensor"):
        regions.region_boxes(torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"labels: expected a tensor \(H, W\)"):
        regions.region_boxes(torch.zeros(2, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels: expected region numbers >= 0"):
        regions.region_boxes(torch.tensor([[0, -1]]))
    with pytest.raises(ValueError, match="labels: region 2 has no pixel"):
        regions.region_boxes(torch.tensor([[1, 0, 3]]))


# -------------------------------------------------------------------- majority_classes


def reference_majority(classes: torch.Tensor, labels: torch.Tensor) -> list[int]:
    """Per region: the most common class other than 0 (0 if there is none), ties to the
    smaller class."""
    out = []
    count = int(labels.max()) if labels.numel() else 0
    for k in range(1, count + 1):
        votes = Counter(int(c) for c in classes[labels == k].tolist() if c != 0)
        if not votes:
            out.append(0)
            continue
        most = max(votes.values())
        out.append(min(c for c, n in votes.items() if n == most))
    return out


@SETTINGS
@given(masks(), st.integers(2, 5), st.integers(0, 2**31 - 1))
def test_majority_classes_equal_a_counter_vote(mask, num_classes, seed):
    labels, count = regions.label_regions(mask)
    g = torch.Generator().manual_seed(seed)
    classes = torch.randint(0, num_classes, mask.shape, generator=g)
    got = regions.majority_classes(classes, labels, num_classes)
    assert got.dtype == torch.int64 and got.shape == (count,)
    assert got.tolist() == reference_majority(classes, labels)


def test_majority_classes_by_hand():
    labels = torch.tensor([[1, 1, 1, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4, 4]])
    classes = torch.tensor([[0, 0, 0, 5, 7, 0, 0, 1, 4, 2, 9, 3, 2, 3]])
    # region 1: three background pixels and one 5: background does not vote -> 5;
    # region 2: background alone -> 0; region 3: a tie of 4 and 2 -> 2; region 4: 3 twice
    assert regions.majority_classes(classes, labels, 10).tolist() == [5, 0, 2, 3]
    assert regions.majority_classes(classes.to(torch.uint8), labels.int(), 10).tolist() == \
        [5, 0, 2, 3]
    empty = regions.majority_classes(torch.zeros(2, 2, dtype=torch.long),
                                     torch.zeros(2, 2, dtype=torch.long), 3)
    assert empty.shape == (0,) and empty.dtype == torch.int64


def test_majority_classes_bad_inputs():
    labels = torch.tensor([[1, 0], [0, 2]])
    classes = torch.tensor([[3, 0], [0, 1]])
    with pytest.raises(TypeError, match="classes: expected an integer tensor"):
        regions.majority_classes(classes.float(), labels, 4)
    with pytest.raises(TypeError, match="labels: expected an integer tensor"):
        regions.majority_classes(classes, labels.float(), 4)
    with pytest.raises(ValueError, match="classes: expected the shape of labels"):
        regions.majority_classes(classes[:1], labels, 4)
    with pytest.raises(ValueError, match=r"classes: expected a tensor \(H, W\)"):
        regions.majority_classes(classes[None], labels, 4)
    with pytest.raises(ValueError, match=r"classes: expected classes 0..2, got 0..3"):
        regions.majority_classes(classes, labels, 3)
    with pytest.raises(ValueError, match=r"classes: expected classes 0..3, got -1..3"):
        regions.majority_classes(torch.tensor([[3, -1], [0, 1]]), labels, 4)
    with pytest.raises(ValueError, match="num_classes: expected an int >= 2, got 1"):
        regions.majority_classes(classes, labels, 1)
    with pytest.raises(TypeError, match="num_classes: expected an int >= 2"):
        regions.majority_classes(classes, labels, 4.0)


# ------------------------------------------------------------------------ square_boxes


@SETTINGS
@given(st.lists(st.tuples(st.floats(-20, 20), st.floats(-20, 20), st.floats(0.5, 30),
                          st.floats(0.5, 30)), max_size=5),
       st.floats(0.05, 1.0))
def test_square_boxes_closed_form(raw, fill):
    boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in raw], dtype=torch.float32
                         ).reshape(-1, 4)
    got = regions.square_boxes(boxes, fill=fill)
    assert got.shape == boxes.shape and got.is_floating_point()
    for (x1, y1, x2, y2), (a1, b1, a2, b2) in zip(boxes.tolist(), got.tolist(), strict=True):
        side = max(x2 - x1, y2 - y1) / fill
        assert a2 - a1 == pytest.approx(side, rel=1e-5, abs=1e-4)
        assert b2 - b1 == pytest.approx(side, rel=1e-5, abs=1e-4)
        assert (a1 + a2) / 2 == pytest.approx((x1 + x2) / 2, rel=1e-5, abs=1e-4)
        assert (b1 + b2) / 2 == pytest.approx((y1 + y2) / 2, rel=1e-5, abs=1e-4)


def test_square_boxes_by_hand():
    boxes = torch.tensor([[4.0, 2.0, 24.0, 12.0], [0.0, 0.0, 1.0, 1.0]])
    # 20 wide, 10 high, centre (14, 7): with fill 20/28 a square of side 28
    assert torch.allclose(regions.square_boxes(boxes),
                          torch.tensor([[0.0, -7.0, 28.0, 21.0], [-0.2, -0.2, 1.2, 1.2]]))
    assert regions.square_boxes(boxes, fill=1).tolist() == [[4, -3, 24, 17], [0, 0, 1, 1]]
    assert regions.square_boxes(torch.zeros(0, 4)).shape == (0, 4)


def test_square_boxes_bad_inputs():
    boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    for fill in (0, 1.5, -0.5):
        with pytest.raises(ValueError, match="fill: expected a number > 0 and <= 1"):
            regions.square_boxes(boxes, fill=fill)
    with pytest.raises(TypeError, match="fill: expected a number"):
        regions.square_boxes(boxes, fill="0.5")
    with pytest.raises(TypeError, match=r"boxes: expected a float tensor \(K, 4\) .*\.float"):
        regions.square_boxes(boxes.long())
    with pytest.raises(ValueError, match=r"boxes: expected \(K, 4\) boxes"):
        regions.square_boxes(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"boxes: expected a tensor \(K, 4\)"):
        regions.square_boxes(torch.zeros(4))
    with pytest.raises(ValueError, match="boxes: expected x2 > x1 and y2 > y1"):
        regions.square_boxes(torch.tensor([[3.0, 0.0, 3.0, 4.0]]))


# ------------------------------------------------------------------------ crop_regions


def _cell(value: float) -> int:
    """value rounded to a whole cell, halves away from zero (C's round, as roi_pool)."""
    return int(np.sign(value) * np.floor(abs(value) + 0.5))


def pool_reference(images, boxes, size, spatial_scale):
    """RoI max pooling with the far edges as edges, by slicing and torch's adaptive max
    pooling (whose bins, floor(i L / size) to ceil((i + 1) L / size), are roi_pool's): box
    (x1, y1, x2, y2) covers map cells round(x1 s) .. round(x2 s) - 1 (boxes inside the map)."""
    crops = []
    for image, image_boxes in zip(images, boxes, strict=True):
        for x1, y1, x2, y2 in image_boxes.tolist():
            c0, r0 = _cell(x1 * spatial_scale), _cell(y1 * spatial_scale)
            c1 = max(_cell(x2 * spatial_scale), c0 + 1)
            r1 = max(_cell(y2 * spatial_scale), r0 + 1)
            crops.append(F.adaptive_max_pool2d(image[None, :, r0:r1, c0:c1], size))
    return torch.cat(crops)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 16, 20, generator=g)


@pytest.mark.parametrize("method", ["align", "pool"])
@pytest.mark.parametrize("spatial_scale", [1.0, 0.25])
def test_crop_regions_equals_torchvision(images, method, spatial_scale):
    boxes = [torch.tensor([[1.0, 2.0, 9.5, 11.0], [0.0, 0.0, 20.0, 16.0]]),
             torch.tensor([[5.0, 3.0, 17.0, 15.0]])]
    got = regions.crop_regions(images, boxes, size=5, method=method,
                               spatial_scale=spatial_scale, sampling_ratio=3)
    if method == "align":
        expected = ops.roi_align(images, boxes, 5, spatial_scale, 3, aligned=True)
    else:
        expected = pool_reference(images, boxes, 5, spatial_scale)
    assert got.shape == (3, 3, 5, 5)
    assert torch.equal(got, expected)
    indexed = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1)
                         for i, b in enumerate(boxes)])         # (K, 5): image index first
    assert torch.equal(regions.crop_regions(images, indexed, size=5, method=method,
                                            spatial_scale=spatial_scale, sampling_ratio=3),
                       expected)


def test_crop_regions_of_a_constant_patch_by_hand():
    image = torch.zeros(1, 1, 16, 16)
    image[0, 0, 4:12, 6:14] = 0.7                 # rows 4..11, columns 6..13
    box = [torch.tensor([[6.0, 4.0, 14.0, 12.0]])]  # exactly the patch, in pixel edges
    # 4 bins of 2 pixels, 2 x 2 samples each: the samples fall on pixel centres in the patch
    aligned = regions.crop_regions(image, box, size=4, method="align", sampling_ratio=2)
    assert torch.allclose(aligned, torch.full((1, 1, 4, 4), 0.7))
    pooled = regions.crop_regions(image, box, size=4, method="pool")
    assert torch.allclose(pooled, torch.full((1, 1, 4, 4), 0.7))
    # the 2-pixel frame of zeros around the patch: the crop's edge cells see it
    wider = regions.crop_regions(image, [torch.tensor([[4.0, 2.0, 16.0, 14.0]])], size=3,
                                 method="align", sampling_ratio=2)
    assert wider[0, 0, 1, 1] == pytest.approx(0.7) and wider[0, 0, 0, 0] < 0.7


def test_crop_regions_pool_rounds_to_whole_cells():
    features = torch.arange(64.0).reshape(1, 1, 8, 8)   # a map of stride 4: image 32x32
    crop = [regions.crop_regions(features, [torch.tensor([box])], size=1, method="pool",
                                 spatial_scale=0.25)
            for box in ([4.0, 4.0, 12.0, 12.0], [5.0, 5.0, 13.0, 13.0], [6.0, 6.0, 14.0, 14.0])]
    # (4, 12) * 0.25 = (1, 3), (5, 13) * 0.25 = (1.25, 3.25) rounds to the same cells
    # 1..2 (the far edge 3 is an edge, not a cell): the max is map[2, 2] = 18;
    # (6, 14) -> (1.5, 3.5) -> edges 2 and 4, cells 2..3: map[3, 3] = 27. (torchvision's
    # roi_pool on these boxes as they are reads the far edge as a cell: 27, 27, 36.)
    assert [float(c) for c in crop] == [18.0, 18.0, 27.0]
    align = [regions.crop_regions(features, [torch.tensor([box])], size=1, method="align",
                                  spatial_scale=0.25)
             for box in ([4.0, 4.0, 12.0, 12.0], [5.0, 5.0, 13.0, 13.0])]
    # align samples at the exact, fractional positions: a shift of a quarter cell shows
    assert float(align[1] - align[0]) == pytest.approx(0.25 * 9)


def test_crop_regions_other_forms_of_input(images):
    boxes = [torch.tensor([[1.0, 2.0, 9.0, 11.0]]), torch.zeros(0, 4)]
    expected = regions.crop_regions(images, boxes, size=4)
    assert expected.shape == (1, 3, 4, 4)
    assert torch.equal(regions.crop_regions(images.transpose(2, 3).contiguous()
                                            .transpose(2, 3), boxes, size=4), expected)
    assert torch.equal(regions.crop_regions(images, tuple(boxes), size=4), expected)
    assert torch.allclose(regions.crop_regions(images.double(), boxes, size=4).float(),
                          expected, atol=1e-6)
    assert regions.crop_regions(images, [torch.zeros(0, 4)] * 2, size=4).shape == (0, 3, 4, 4)


def test_crop_regions_bad_inputs(images):
    boxes = [torch.tensor([[1.0, 2.0, 9.0, 11.0]]), torch.zeros(0, 4)]
    with pytest.raises(TypeError, match="images: expected a float tensor"):
        regions.crop_regions(images.long(), boxes)
    with pytest.raises(ValueError, match=r"images: expected a tensor \(N, C, H, W\)"):
        regions.crop_regions(images[0], boxes)
    with pytest.raises(ValueError, match="boxes: expected one tensor of boxes per image"):
        regions.crop_regions(images, boxes[:1])
    with pytest.raises(TypeError, match=r"boxes\[0\]: expected a float tensor"):
        regions.crop_regions(images, [boxes[0].long(), boxes[1]])
    with pytest.raises(ValueError, match=r"boxes\[1\]: expected \(K, 4\) boxes"):
        regions.crop_regions(images, [boxes[0], torch.zeros(1, 5)])
    with pytest.raises(ValueError, match=r"boxes\[0\]: expected x2 > x1"):
        regions.crop_regions(images, [torch.tensor([[9.0, 2.0, 1.0, 11.0]]), boxes[1]])
    with pytest.raises(ValueError, match=r"boxes: expected a list of \(K_i, 4\) tensors or"):
        regions.crop_regions(images, torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"boxes: expected x2 > x1"):
        regions.crop_regions(images, torch.tensor([[0.0, 5.0, 1.0, 5.0, 2.0]]))
    with pytest.raises(TypeError, match="boxes: expected a tensor"):
        regions.crop_regions(images, "boxes")
    for name, bad, error in [("size", 0, ValueError), ("size", 4.0, TypeError),
                             ("sampling_ratio", 0, ValueError),
                             ("spatial_scale", 0, ValueError),
                             ("spatial_scale", "1", TypeError),
                             ("method", "nearest", ValueError)]:
        with pytest.raises(error, match=f"{name}: expected"):
            regions.crop_regions(images, boxes, **{name: bad})


# ------------------------------------------------------------------------ count_classes


@SETTINGS
@given(st.lists(st.integers(0, 10), max_size=30), st.integers(11, 13))
def test_count_classes_equals_bincount(classes, num_classes):
    classes = torch.tensor(classes, dtype=torch.long)
    got = regions.count_classes(classes, num_classes)
    assert got.dtype == torch.int64 and got.shape == (num_classes,)
    assert torch.equal(got, torch.bincount(classes, minlength=num_classes))
    assert got.tolist() == [Counter(classes.tolist())[c] for c in range(num_classes)]
    assert torch.equal(regions.count_classes(classes.to(torch.uint8), num_classes), got)


def test_count_classes_bad_inputs():
    with pytest.raises(TypeError, match="classes: expected an integer tensor"):
        regions.count_classes(torch.tensor([1.0]), 3)
    with pytest.raises(ValueError, match=r"classes: expected a tensor \(K,\)"):
        regions.count_classes(torch.tensor([[1]]), 3)
    with pytest.raises(ValueError, match=r"classes: expected classes 0..2, got 1..3"):
        regions.count_classes(torch.tensor([1, 3]), 3)
    with pytest.raises(ValueError, match=r"classes: expected classes 0..2, got -1..1"):
        regions.count_classes(torch.tensor([1, -1]), 3)
    with pytest.raises(ValueError, match="num_classes: expected an int >= 1, got 0"):
        regions.count_classes(torch.tensor([0]), 0)
