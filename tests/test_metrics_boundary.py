"""coursekit.metrics.boundary: Hausdorff distance, HD95, average surface distance and
normalised surface Dice, against MONAI's compute_hausdorff_distance,
compute_average_surface_distance and compute_surface_dice (one-hot (N, 1, H, W) masks,
include_background=True) on random masks and blobs, on the edge cases (empty masks, one
pixel, objects on the image border, non-square images, spacing != 1), and on closed forms;
with each documented difference from MONAI tested as such."""

import functools
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from coursekit import metrics

monai_metrics = pytest.importorskip("monai.metrics")
monai_utils = pytest.importorskip("monai.metrics.utils")

# MONAI warns on every empty mask (the empty cases below are there on purpose), and about
# an argument its own get_edge_surface_distance passes
pytestmark = [pytest.mark.filterwarnings("ignore:the (ground truth|prediction) of class"),
              pytest.mark.filterwarnings("ignore:.*always_return_as_numpy:FutureWarning")]

RTOL = ATOL = 1e-6   # MONAI's distances are float32 (relative rounding 6e-8), ours float64;
# its HD95 also interpolates at q = 0.95 in float32 (see quantile_slack)


def monai(name, prediction, target, spacing, **kwargs):
    """(N,) float64: MONAI's per-image values on (N, H, W) masks (one foreground channel)."""
    function = {"hd": monai_metrics.compute_hausdorff_distance,
                "asd": monai_metrics.compute_average_surface_distance,
                "nsd": monai_metrics.compute_surface_dice}[name]
    p, t = prediction[:, None].float(), target[:, None].float()
    return function(p, t, include_background=True, spacing=list(spacing), **kwargs)[:, 0].double()


def ours(prediction, target, spacing, tolerance):
    """Ours, per image, with the MONAI call each is compared with."""
    return {
        "hausdorff": (metrics.hausdorff_distance(prediction, target, spacing=spacing,
                                                 per_image=True), ("hd", {})),
        "hd95": (metrics.hd95(prediction, target, spacing=spacing, per_image=True),
                 ("hd", {"percentile": 95})),
        "assd": (metrics.average_surface_distance(prediction, target, spacing=spacing,
                                                  per_image=True), ("asd", {"symmetric": True})),
        "asd directed": (metrics.average_surface_distance(
            prediction, target, spacing=spacing, symmetric=False, per_image=True),
            ("asd", {"symmetric": False})),
        "surface dice": (metrics.surface_dice(prediction, target, tolerance, spacing=spacing,
                                              per_image=True), ("nsd",
                                                                {"class_thresholds": [tolerance]})),
    }


def float32_rank_error(n):
    """How far torch.quantile's rank for q = 0.95 over n values may be from 0.95 (n - 1)
    when the input is float32: q is rounded to float32 (0.949999988, 1.2e-8 low), and
    torch 2.11 also rounds the product q (n - 1) to float32 (for n = 40, 37.05 becomes
    37.0499992, 7.6e-7 low; torch 2.14 keeps it exact). The larger of the two."""
    q32 = torch.tensor(0.95, dtype=torch.float32)
    rank32 = float(q32 * torch.tensor(n - 1, dtype=torch.float32))
    return max(abs(0.95 * (n - 1) - float(q32) * (n - 1)), abs(0.95 * (n - 1) - rank32))


def quantile_slack(prediction, target, spacing):
    """(N,) how far MONAI's HD95 may be from ours: its torch.quantile interpolates at a
    rank float32_rank_error(n) off ours, times the gap between the two sorted distances it
    interpolates between."""
    slack = torch.zeros(len(prediction), dtype=torch.float64)
    for i, (p, t) in enumerate(zip(prediction, target, strict=True)):
        if p.any() and t.any():
            for d in metrics.surface_distances(p, t, spacing):
                d = d.sort().values
                k = int(0.95 * (len(d) - 1))
                gap = float(d[min(k + 1, len(d) - 1)] - d[k])
                slack[i] = max(slack[i], float32_rank_error(len(d)) * gap)
    return slack


def one_empty(prediction, target):
    p, t = prediction.flatten(1).any(1), target.flatten(1).any(1)
    return p ^ t


def assert_agrees(prediction, target, spacing=(1.0, 1.0), tolerance=1.5):
    """Every metric equal to MONAI's image by image (NaN where MONAI has NaN), except
    HD95 where exactly one mask is empty: inf here, NaN in MONAI (the documented
    difference). Returns the largest difference (relative above 1) and the count."""
    worst, count = 0.0, 0
    for name, (values, (function, kwargs)) in ours(prediction, target, spacing,
                                                   tolerance).items():
        reference = monai(function, prediction, target, spacing, **kwargs)
        if name == "hd95":
            differs = one_empty(prediction, target)
            assert reference[differs].isnan().all() and values[differs].isinf().all()
            slack = quantile_slack(prediction, target, spacing)[~differs]
            values, reference = values[~differs], reference[~differs]
            finite = reference.isfinite()
            assert ((values - reference).abs()[finite]
                    <= ATOL + RTOL * reference.abs()[finite] + 1.01 * slack[finite]).all()
            assert torch.equal(values.isnan(), reference.isnan())
            continue
        torch.testing.assert_close(values, reference, rtol=RTOL, atol=ATOL, equal_nan=True,
                                   msg=lambda m, name=name: f"{name}: {m}")
        finite = reference.isfinite()
        gap = ((values - reference).abs() / reference.abs().clamp(min=1))[finite]
        worst, count = max(worst, float(gap.max()) if gap.numel() else 0.0), count + len(values)
    return worst, count


# ------------------------------------------------------------------ random masks and blobs


def random_case(seed):
    """A batch of 3 random masks of a random size, density and spacing, one with blobs."""
    g = torch.Generator().manual_seed(seed)
    h, w = torch.randint(1, 24, (2,), generator=g).tolist()
    density = float(torch.rand(1, generator=g))
    prediction = (torch.rand(3, h, w, generator=g) < density).long()
    target = (torch.rand(3, h, w, generator=g) < density).long()
    # image 0: blobs (a smoothed field thresholded), more like real predictions
    field = torch.nn.functional.avg_pool2d(torch.rand(2, 1, h + 4, w + 4, generator=g), 5, 1)
    prediction[0], target[0] = (field[0, 0] > 0.5).long(), (field[1, 0] > 0.5).long()
    spacing = tuple((torch.rand(2, generator=g) * 2 + 0.2).tolist())
    return prediction, target, spacing


@pytest.mark.parametrize("seed", range(12))
def test_random_masks_agree_with_monai(seed):
    prediction, target, spacing = random_case(seed)
    worst, _ = assert_agrees(prediction, target, spacing)
    assert worst < 1e-6


def test_blobs_and_tolerances_agree_with_monai():
    g = torch.Generator().manual_seed(7)
    field = torch.nn.functional.avg_pool2d(torch.rand(8, 1, 40, 36, generator=g), 7, 1)
    prediction, target = (field[:4, 0] > 0.5).long(), (field[4:, 0] > 0.5).long()
    for tolerance in (0.0, 1.0, 2.0, 3.7):
        assert_agrees(prediction, target, (0.8, 1.3), tolerance)


small_masks = st.tuples(st.integers(1, 9), st.integers(1, 9)).flatmap(
    lambda hw: st.tuples(hnp.arrays(bool, (2, *hw)), hnp.arrays(bool, (2, *hw))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masks=small_masks, spacing=st.tuples(st.sampled_from([0.5, 1.0, 1.75]),
                                            st.sampled_from([0.25, 1.0, 2.0])),
       tolerance=st.sampled_from([0.0, 1.0, 1.5, 2.5]))
def test_any_small_masks_agree_with_monai(masks, spacing, tolerance):
    """Whatever hypothesis finds (empty, full, one pixel, one row, one column). Spacings
    that are binary fractions: every squared distance is exact, so a distance is either
    the tolerance exactly or at least 1e-3 away from it (no float32 tie, see
    test_surface_dice_at_a_tolerance_within_float32_rounding)."""
    prediction, target = (torch.from_numpy(m.copy()) for m in masks)
    assert_agrees(prediction, target, spacing, tolerance)


# ------------------------------------------------------------------ edge cases


def square(h, w, top, left, size):
    mask = torch.zeros(h, w, dtype=torch.long)
    mask[top:top + size, left:left + size] = 1
    return mask


def test_empty_masks():
    empty, blob = torch.zeros(5, 6, dtype=torch.long), square(5, 6, 1, 1, 3)
    prediction, target = torch.stack([empty, empty, blob]), torch.stack([empty, blob, empty])
    assert_agrees(prediction, target)
    hd = metrics.hausdorff_distance(prediction, target, per_image=True)
    assert hd[0].isnan() and hd[1:].isinf().all()
    assert metrics.hd95(prediction, target, per_image=True)[1:].isinf().all()   # MONAI: NaN
    assert metrics.surface_dice(prediction, target, 1.0, per_image=True)[1:].tolist() == [0, 0]
    # the mean skips the image with nothing to measure, as MONAI's reduction does
    assert metrics.hausdorff_distance(prediction, target) == math.inf
    both = torch.stack([empty, blob])
    assert metrics.average_surface_distance(both, both) == 0.0
    assert metrics.surface_dice(both, both, 0.0) == 1.0


@pytest.mark.parametrize("function", [metrics.hausdorff_distance, metrics.hd95,
                                      metrics.average_surface_distance,
                                      functools.partial(metrics.surface_dice, tolerance=1.0)])
def test_nothing_to_measure_is_an_error(function):
    """Both masks empty in every image: MONAI's mean gives 0; ours refuses."""
    empty = torch.zeros(2, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="target: .*empty in every image"):
        function(empty, empty)
    with pytest.raises(ValueError, match="target"):
        function(empty[0], empty[0])
    assert function(empty, empty, per_image=True).isnan().all()
    metric = monai_metrics.HausdorffDistanceMetric(include_background=True, reduction="mean")
    metric(empty[:, None].float(), empty[:, None].float())
    assert float(metric.aggregate()) == 0.0


def test_one_pixel_masks():
    h, w = 6, 9
    prediction = torch.zeros(3, h, w, dtype=torch.long)
    target = torch.zeros(3, h, w, dtype=torch.long)
    prediction[0, 2, 3] = target[0, 2, 3] = 1                 # the same pixel
    prediction[1, 0, 0], target[1, 5, 8] = 1, 1               # opposite corners
    prediction[2, 1, 1], target[2] = 1, square(h, w, 0, 0, 4)
    assert_agrees(prediction, target, (1.0, 2.5), tolerance=2.0)
    assert metrics.boundary_pixels(prediction[1]).sum() == 1


def test_objects_on_the_image_border():
    """Pixels on the image's edge are boundary pixels: the outside counts as background."""
    full = torch.ones(5, 7, dtype=torch.long)
    assert metrics.boundary_pixels(full).sum() == 5 * 7 - 3 * 5
    prediction = torch.stack([full, square(5, 7, 0, 0, 5), square(5, 7, 0, 3, 4)])
    target = torch.stack([square(5, 7, 1, 1, 3), full, square(5, 7, 2, 2, 3)])
    assert_agrees(prediction, target, (0.7, 1.1))


def test_non_square_images_and_anisotropic_spacing():
    g = torch.Generator().manual_seed(3)
    for h, w in ((1, 17), (23, 2), (5, 40)):
        prediction = (torch.rand(2, h, w, generator=g) < 0.4).long()
        target = (torch.rand(2, h, w, generator=g) < 0.4).long()
        assert_agrees(prediction, target, (3.0, 0.25), tolerance=1.0)


def test_boundary_pixels_are_monais_edges():
    g = torch.Generator().manual_seed(5)
    for _ in range(5):
        prediction, target = (torch.rand(2, 9, 13, generator=g) < 0.6)
        ours = metrics.boundary_pixels(torch.stack([prediction, target]))
        edges = monai_utils.get_mask_edges(prediction, target, crop=False)
        assert torch.equal(ours[0], torch.as_tensor(edges[0]))
        assert torch.equal(ours[1], torch.as_tensor(edges[1]))


def test_surface_distances_are_monais():
    g = torch.Generator().manual_seed(11)
    prediction, target = (torch.rand(2, 12, 10, generator=g) < 0.5)
    from_prediction, from_target = metrics.surface_distances(prediction, target, (1.5, 0.5))
    _, (m_p, m_t), _ = monai_utils.get_edge_surface_distance(
        prediction, target, spacing=(1.5, 0.5), symmetric=True)
    torch.testing.assert_close(from_prediction, m_p.double(), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(from_target, m_t.double(), rtol=RTOL, atol=ATOL)


def test_surface_distances_of_empty_masks():
    """No boundary pixel, no distance; MONAI lists inf once per boundary pixel of the
    *other* mask here (the same scores follow)."""
    empty, blob = torch.zeros(5, 5, dtype=torch.long), square(5, 5, 1, 1, 3)
    from_prediction, from_target = metrics.surface_distances(empty, blob)
    assert from_prediction.numel() == 0 and from_target.isinf().all()
    assert len(from_target) == 8
    both = metrics.surface_distances(empty, empty)
    assert both[0].numel() == both[1].numel() == 0


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("dy, dx, spacing", [(0, 5, (1.0, 1.0)), (3, 4, (1.0, 1.0)),
                                             (3, 4, (2.0, 0.5)), (7, 0, (0.3, 9.0))])
def test_two_single_pixels(dy, dx, spacing):
    prediction, target = torch.zeros(2, 9, 8, dtype=torch.long)
    prediction[1, 2], target[1 + dy, 2 + dx] = 1, 1
    d = math.hypot(dy * spacing[0], dx * spacing[1])
    assert metrics.hausdorff_distance(prediction, target, spacing=spacing) == pytest.approx(d)
    assert metrics.hd95(prediction, target, spacing=spacing) == pytest.approx(d)
    assert metrics.average_surface_distance(prediction, target,
                                            spacing=spacing) == pytest.approx(d)
    assert metrics.surface_dice(prediction, target, d, spacing=spacing) == 1.0
    assert metrics.surface_dice(prediction, target, d * 0.999, spacing=spacing) == (d == 0)


def test_a_shifted_square():
    """A 4x4 square moved 2 columns right: each outline has 12 pixels."""
    prediction, target = square(10, 12, 3, 2, 4), square(10, 12, 3, 4, 4)
    assert metrics.hausdorff_distance(prediction, target) == 2.0
    # d(P->T): rows 3 and 6, columns 2..5: 2, 1, 0, 0 each (T's top and bottom edges);
    # rows 4 and 5: column 2 at 2, column 5 at 1 (from T's left edge, column 4): sum 12,
    # four of them (the 2s) beyond 1. The same from T by symmetry.
    assert metrics.average_surface_distance(prediction, target) == pytest.approx(24 / 24)
    assert metrics.surface_dice(prediction, target, 1.0) == pytest.approx(16 / 24)
    assert metrics.hausdorff_distance(prediction, prediction) == 0.0


def test_hd95_ignores_a_stray_pixel_that_hausdorff_sees():
    target = square(40, 40, 5, 5, 20)
    prediction = target.clone()
    prediction[38, 38] = 1                                   # one stray pixel far away
    assert metrics.hausdorff_distance(prediction, target) == pytest.approx(math.hypot(14, 14))
    assert metrics.hd95(prediction, target) == 0.0
    assert_agrees(prediction[None], target[None])


def test_percentile_of_each_list_not_of_the_pooled_distances():
    """HD95 is max(q95 d(P->T), q95 d(T->P)), MONAI's; medpy pools both lists."""
    g = torch.Generator().manual_seed(2)
    prediction, target = (torch.rand(2, 15, 15, generator=g) < 0.3)
    a, b = metrics.surface_distances(prediction, target)
    expected = max(torch.quantile(a, 0.95), torch.quantile(b, 0.95))
    assert metrics.hd95(prediction, target) == pytest.approx(float(expected))
    for q in (50, 99.5):
        assert metrics.hausdorff_distance(prediction, target, q) == pytest.approx(float(
            max(torch.quantile(a, q / 100), torch.quantile(b, q / 100))))


# ------------------------------------------------------------------ documented differences


def test_surface_dice_at_a_tolerance_within_float32_rounding():
    """sqrt(5) = 2.2360679775 (float64) is beyond 2.23606797; MONAI compares in float32,
    where both are 2.2360680103."""
    prediction, target = torch.zeros(2, 6, 6, dtype=torch.long)
    prediction[0, 0], target[1, 2] = 1, 1
    assert metrics.surface_dice(prediction, target, 2.23606797) == 0.0
    assert metrics.surface_dice(prediction, target, 2.2360680) == 1.0
    nsd = monai_metrics.compute_surface_dice(prediction[None, None].float(),
                                             target[None, None].float(), [2.23606797],
                                             include_background=True)
    assert float(nsd) == 1.0


def test_hd95_differs_from_monai_by_its_float32_quantile_only():
    """MONAI's HD95 is torch.quantile of its float32 distances at q = 0.95 (0.949999988 in
    float32): exactly that, and ours the float64 percentile of the same distances."""
    prediction, target, spacing = random_case(1083)           # 40 distances, gap 1.55
    p, t = prediction[2], target[2]
    from_p, from_t = metrics.surface_distances(p, t, spacing)
    reference = float(monai("hd", p[None], t[None], spacing, percentile=95))
    in_float32 = max(float(torch.quantile(d.float(), 0.95)) for d in (from_p, from_t))
    assert reference == in_float32
    ours = metrics.hd95(p, t, spacing)
    assert ours == max(float(torch.quantile(d, 0.95)) for d in (from_p, from_t))
    assert 1e-7 < abs(ours - reference) <= float(quantile_slack(p[None], t[None], spacing)[0])


def test_percentile_zero():
    """MONAI reads percentile=0 as the maximum; ours refuses it."""
    prediction, target = square(8, 8, 0, 0, 3), square(8, 8, 4, 4, 3)
    with pytest.raises(ValueError, match="percentile"):
        metrics.hausdorff_distance(prediction, target, 0)
    m = monai_metrics.compute_hausdorff_distance(prediction[None, None].float(),
                                                 target[None, None].float(),
                                                 include_background=True, percentile=0)
    assert float(m) == pytest.approx(metrics.hausdorff_distance(prediction, target))


def test_mean_over_images_is_monais_mean_reduction():
    prediction, target, spacing = random_case(4)
    prediction[1] = target[1] = 0                     # an image with nothing to measure
    target[2] = prediction[2].roll(2, 0)              # (keep both non-empty elsewhere)
    prediction[0] = target[0] = square(*target.shape[1:], 0, 0, 1)
    metric = monai_metrics.SurfaceDistanceMetric(include_background=True, symmetric=True,
                                                 reduction="mean")
    metric(prediction[:, None].float(), target[:, None].float(), spacing=list(spacing))
    expected = float(metric.aggregate())
    assert metrics.average_surface_distance(prediction, target, spacing) == pytest.approx(
        expected, rel=RTOL)


def test_input_kinds_give_the_same_numbers():
    prediction, target, spacing = random_case(9)
    reference = metrics.hd95(prediction, target, spacing, per_image=True)
    for p, t in ((prediction.bool(), target.to(torch.uint8)),
                 (prediction.int(), target.short()),
                 (prediction.repeat_interleave(2, -1)[..., ::2], target)):
        torch.testing.assert_close(metrics.hd95(p, t, spacing, per_image=True), reference,
                                   equal_nan=True)
    one = metrics.hd95(prediction[2], target[2], spacing, per_image=True)
    assert one.shape == (1,)
