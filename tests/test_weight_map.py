"""The U-Net paper's weight map (membranes.weight_map): against a brute-force reference,
closed forms, edge cases; the weighted loss it feeds; the crops that carry it."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from coursekit import losses, membranes

FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def brute_force_weight_map(label, w0=10.0, sigma=5.0, class_weights=None):
    """Every pixel's distance to every pixel of every cell, in NumPy: (H, W) float64.

    label: (H, W) NumPy array of 0 (membrane) and 1 (cell interior); class_weights: None
    for "balanced", or (membrane, interior)."""
    cells, count = ndimage.label(label == 1, structure=FOUR_CONNECTED)
    H, W = label.shape
    ys, xs = np.mgrid[0:H, 0:W]
    pixels = np.stack([ys.ravel(), xs.ravel()], 1).astype(np.float64)      # (H W, 2)
    per_cell = []
    for number in range(1, count + 1):
        members = pixels[cells.ravel() == number]                           # (M, 2)
        gaps = np.sqrt(((pixels[:, None, :] - members[None]) ** 2).sum(-1))  # (H W, M)
        per_cell.append(gaps.min(1))
    border = np.zeros(H * W)
    if count >= 2:
        nearest = np.sort(np.stack(per_cell, 1), axis=1)
        d1, d2 = nearest[:, 0], nearest[:, 1]
        border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma ** 2)) * (cells.ravel() == 0)
    if class_weights is None:
        counts = np.bincount(label.ravel(), minlength=2)
        present = counts > 0
        per_class = np.where(present, label.size / (present.sum() * np.maximum(counts, 1)), 0)
    else:
        per_class = np.asarray(class_weights, dtype=np.float64)
    return per_class[label] + border.reshape(H, W)


def random_labels(seed, shape, interior=0.6):
    """A random label map: blobs of interior (smoothed noise) over membrane."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.random(shape), 1.0)
    return (noise > np.quantile(noise, 1 - interior)).astype(np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_brute_force_on_random_maps(seed):
    label = random_labels(seed, (14, 17))
    assert ndimage.label(label)[1] >= 2                    # something to keep apart
    got = membranes.weight_map(torch.from_numpy(label))
    assert got.dtype == torch.float32 and got.shape == (14, 17)
    np.testing.assert_allclose(got.numpy(), brute_force_weight_map(label), rtol=1e-6,
                               atol=1e-6)


@pytest.mark.parametrize("w0, sigma", [(10.0, 2.0), (3.0, 1.0), (10.0, 0.7)])
def test_agrees_with_brute_force_where_the_windows_cut(w0, sigma):
    """Small sigma on a larger map: each cell's distances stop short of the map's edges,
    and what is left out is below membranes.BORDER_TOLERANCE."""
    label = random_labels(10, (40, 44), interior=0.5)
    assert membranes._border_reach(w0, sigma) < 20
    got = membranes.weight_map(torch.from_numpy(label), w0=w0, sigma=sigma)
    want = brute_force_weight_map(label, w0, sigma)
    assert np.abs(got.numpy() - want).max() <= membranes.BORDER_TOLERANCE + 1e-6


def test_batch_is_each_map_on_its_own():
    labels = torch.from_numpy(np.stack([random_labels(s, (12, 13)) for s in range(3)]))
    got = membranes.weight_map(labels, class_weights=torch.tensor([2.0, 0.5]))
    assert got.shape == (3, 12, 13)
    for i in range(3):
        want = brute_force_weight_map(labels[i].numpy(), class_weights=(2.0, 0.5))
        np.testing.assert_allclose(got[i].numpy(), want, rtol=1e-6, atol=1e-6)


def test_by_hand_three_cells_in_a_row():
    """The paper's formula worked out by hand on one row, 1 = cell, 0 = membrane:
    [1 0 0 1 0 1 1]: cells A = {0}, B = {3}, C = {5, 6}. Pixel 1: A at 1, B at 2, C at 4,
    so d1 + d2 = 1 + 2 = 3; pixel 2: A 2, B 1, C 3: 3 again; pixel 4: B 1, C 1: 2 (the
    second-nearest is the second-nearest *cell*, not pixel). Balanced w_c: n = 7 pixels,
    3 membrane and 4 cell, k = 2 classes: 7 / 6 and 7 / 8."""
    label = torch.tensor([[1, 0, 0, 1, 0, 1, 1]])
    membrane, cell = 7 / 6, 7 / 8
    three, two = 10 * np.exp(-9 / 50), 10 * np.exp(-4 / 50)
    want = [cell, membrane + three, membrane + three, cell, membrane + two, cell, cell]
    got = membranes.weight_map(label, w0=10.0, sigma=5.0)
    np.testing.assert_allclose(got.numpy(), [want], rtol=1e-6)


def test_by_hand_diagonal_distances():
    """Two one-pixel cells at opposite corners of a 3x3 map: distances are Euclidean
    between pixel centres. Centre: sqrt 2 to each, d1 + d2 = 2 sqrt 2; (0, 1): 1 and
    sqrt 5; (0, 2): 2 and 2. w_c: 9 / (2 * 7) for the 7 membrane pixels, 9 / 4 for the
    2 cell pixels; w0 = 2, sigma = 3 (2 sigma^2 = 18)."""
    label = torch.tensor([[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    got = membranes.weight_map(label, w0=2.0, sigma=3.0).numpy()

    def border(total):
        return 9 / 14 + 2 * np.exp(-total ** 2 / 18)

    assert got[0, 0] == pytest.approx(9 / 4) and got[2, 2] == pytest.approx(9 / 4)
    assert got[1, 1] == pytest.approx(border(2 * np.sqrt(2)), rel=1e-6)
    for y, x in ((0, 1), (1, 0), (1, 2), (2, 1)):
        assert got[y, x] == pytest.approx(border(1 + np.sqrt(5)), rel=1e-6)
    for y, x in ((0, 2), (2, 0)):
        assert got[y, x] == pytest.approx(border(4.0), rel=1e-6)


@pytest.mark.parametrize("gap", [1, 2, 3, 5, 8])
def test_a_straight_gap_between_two_cells(gap):
    """Two cells (touching the image's borders) side by side with a gap of ``gap``
    membrane columns: at every gap pixel d1 + d2 = gap + 1 (distances between pixel
    centres, to the first cell pixel on each side), so w = w_c + w0 exp(-(gap+1)^2/2s^2);
    the cells keep w_c."""
    label = torch.ones(9, 20 + gap, dtype=torch.int64)
    label[:, 10:10 + gap] = 0
    w = membranes.weight_map(label, w0=10.0, sigma=5.0, class_weights=torch.tensor([1.0, 1.0]))
    expected = 1 + 10 * np.exp(-(gap + 1) ** 2 / 50)
    torch.testing.assert_close(w[:, 10:10 + gap], torch.full((9, gap), expected,
                                                             dtype=torch.float32))
    assert (w[:, :10] == 1).all() and (w[:, 10 + gap:] == 1).all()


def test_cells_are_four_connected():
    """Two interior pixels that touch only at a corner (a one-pixel diagonal membrane
    between them) are two cells: the membrane pixels next to both get the border term."""
    label = torch.tensor([[1, 0], [0, 1]])
    w = membranes.weight_map(label, class_weights=torch.tensor([1.0, 1.0]))
    d1, d2 = 1.0, 1.0                                     # each membrane pixel: one step to each
    expected = 1 + 10 * np.exp(-((d1 + d2) ** 2) / 50)
    torch.testing.assert_close(w, torch.tensor([[1.0, expected], [expected, 1.0]],
                                               dtype=torch.float32))


def test_fewer_than_two_cells_have_only_class_weights():
    one_cell = torch.zeros(8, 8, dtype=torch.int64)
    one_cell[2:5, 2:6] = 1
    w = membranes.weight_map(one_cell)
    n, cell = 64, 12
    torch.testing.assert_close(w[one_cell == 1], torch.full((cell,), n / (2 * cell)))
    torch.testing.assert_close(w[one_cell == 0], torch.full((n - cell,), n / (2 * (n - cell))))
    for label in (torch.zeros(8, 8, dtype=torch.int64), torch.ones(8, 8, dtype=torch.int64)):
        assert torch.equal(membranes.weight_map(label), torch.ones(8, 8))   # one class: 1
    as_given = membranes.weight_map(torch.zeros(8, 8, dtype=torch.int64),
                                    class_weights=torch.tensor([3.0, 1.0]))
    assert torch.equal(as_given, torch.full((8, 8), 3.0))


def test_balanced_class_weights_average_one_and_bool_uint8_labels_work():
    label = torch.from_numpy(random_labels(3, (16, 16)))
    balanced = membranes.weight_map(label, w0=0.0)
    assert balanced.mean().item() == pytest.approx(1.0)
    for other in (label.bool(), label.to(torch.uint8)):
        assert torch.equal(membranes.weight_map(other), membranes.weight_map(label))


def test_w0_zero_is_w_c_and_a_wide_sigma_reaches_everywhere():
    label = torch.from_numpy(random_labels(4, (12, 12)))
    ones = torch.tensor([1.0, 1.0])
    assert torch.equal(membranes.weight_map(label, w0=0.0, class_weights=ones),
                       torch.ones(12, 12))
    wide = membranes.weight_map(label, sigma=1e4, class_weights=ones)
    assert torch.allclose(wide[label == 0], torch.tensor(11.0))     # exp(-small) ~ 1


def test_on_an_isbi_slice_the_cut_changes_nothing():
    """On a real slice (its 256x256 corner, ~40 cells), the map with every cell's
    distances computed over the whole corner agrees within BORDER_TOLERANCE."""
    label = membranes.load("validation")[1][0, :256, :256]
    got = membranes.weight_map(label)
    cells, _ = membranes._cells(label.numpy())
    d1, d2 = membranes._two_nearest(cells, reach=1e9)
    whole = membranes._class_weights_of(label.numpy(), "balanced") + 10 * np.exp(
        -((d1 + d2) ** 2) / 50) * (cells == 0)
    assert np.abs(got.numpy() - whole).max() <= membranes.BORDER_TOLERANCE + 1e-6
    assert got.max() > 8 and (got[label == 0] > got[label == 1].max()).float().mean() > 0.5


# ------------------------------------------------------------------ the weighted loss


def test_weighted_cross_entropy_is_the_weighted_sum_over_the_pixel_count():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, 6, generator=g)
    target = torch.randint(3, (2, 5, 6), generator=g)
    w = torch.rand(2, 5, 6, generator=g) * 10
    by_hand = (F.cross_entropy(logits, target, reduction="none") * w).sum() / target.numel()
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, target, w), by_hand)
    ones = torch.ones(2, 5, 6)
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, target, ones),
                               losses.cross_entropy(logits, target))


def test_weighted_cross_entropy_ignores_pixels_whatever_their_weight():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 2, 4, 4, generator=g, requires_grad=True)
    target = torch.randint(2, (2, 4, 4), generator=g)
    target[:, 0] = 255
    w = torch.rand(2, 4, 4, generator=g)
    w[:, 0] = 1e6                                    # ignored: must not count
    counted = target != 255
    per_pixel = F.cross_entropy(logits, target, reduction="none", ignore_index=255)
    by_hand = (per_pixel * w)[counted].sum() / counted.sum()
    got = losses.weighted_cross_entropy(logits, target, w, ignore_index=255)
    torch.testing.assert_close(got, by_hand)
    got.backward()
    assert logits.grad[:, :, 0].abs().max() == 0     # no gradient from an ignored pixel
    everything_ignored = torch.full((2, 4, 4), 255)
    assert losses.weighted_cross_entropy(logits, everything_ignored, w,
                                         ignore_index=255).item() == 0


def test_weighted_cross_entropy_takes_float16_logits_and_the_weight_map():
    label = torch.from_numpy(np.stack([random_labels(s, (16, 16)) for s in range(2)]))
    w = membranes.weight_map(label)
    logits = torch.randn(2, 2, 16, 16)
    want = (F.cross_entropy(logits, label, reduction="none") * w).mean()
    torch.testing.assert_close(losses.weighted_cross_entropy(logits.half(), label, w.half()),
                               want, atol=5e-3, rtol=5e-3)


def test_training_gives_a_third_batch_part_to_the_loss():
    """train.train_one_epoch and train.evaluate hand (images, labels, pixel_weight)
    batches' weights to the loss as its third argument; zero weights: no step."""
    from coursekit import train

    g = torch.Generator().manual_seed(2)
    images = torch.rand(4, 1, 8, 8, generator=g)
    labels = torch.randint(2, (4, 8, 8), generator=g)
    seen = []

    def loss_fn(logits, target, pixel_weight):
        seen.append(pixel_weight.clone())
        return losses.weighted_cross_entropy(logits, target, pixel_weight)

    model = torch.nn.Conv2d(1, 2, 3, padding=1)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    zeros = torch.zeros(4, 8, 8)
    train.train_one_epoch(model, [(images, labels, zeros)], loss_fn, optimizer, "cpu")
    assert torch.equal(seen[0], zeros)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    weights = torch.rand(4, 8, 8, generator=g)
    result = train.evaluate(model, [[images, labels, weights]], "cpu", loss_fn=loss_fn)
    assert torch.equal(seen[1], weights)
    want = losses.weighted_cross_entropy(model(images), labels, weights).item()
    assert result["loss"] == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="loader: expected batches"):
        train.evaluate(model, [(images,)], "cpu")


# ------------------------------------------------------------------ crops with their weights


@pytest.mark.parametrize("elastic_sigma", [0.0, 3.0])
def test_crops_carry_their_weights_moved_as_the_labels(elastic_sigma):
    g = torch.Generator().manual_seed(3)
    images = torch.rand(2, 1, 20, 24, generator=g)
    labels = torch.randint(2, (2, 20, 24), generator=g).to(torch.uint8)
    # weights that say where they come from: the pixel's number in its slice
    numbers = torch.arange(20 * 24, dtype=torch.float32).view(20, 24).expand(2, 20, 24)
    plain = membranes.MembraneCrops(images, labels, 12, 10, seed=4, elastic_sigma=elastic_sigma)
    weighed = membranes.MembraneCrops(images, labels, 12, 10, seed=4,
                                      elastic_sigma=elastic_sigma, pixel_weights=numbers)
    for i in range(10):
        image, label = plain[i]
        image_w, label_w, weight = weighed[i]
        assert torch.equal(image, image_w) and torch.equal(label, label_w)  # unchanged
        assert weight.shape == (12, 12) and weight.dtype == torch.float32
        source = weight.long()
        assert torch.equal(labels[i % 2].flatten()[source].long(), label)   # same pixel
        if elastic_sigma == 0:
            assert torch.equal(images[i % 2, 0].flatten()[source], image[0])
    assert any(not torch.equal(weighed[i][2], weighed[i + 1][2]) for i in range(0, 8, 2))


def test_crops_of_the_weight_map_hold_its_values():
    labels = torch.from_numpy(np.stack([random_labels(s, (24, 24)) for s in range(2)]))
    maps = membranes.weight_map(labels)
    crops = membranes.MembraneCrops(torch.rand(2, 1, 24, 24), labels, 16, 6, seed=0,
                                    elastic_sigma=4.0, pixel_weights=maps)
    for i in range(6):
        _, label, weight = crops[i]
        for c in (0, 1):                                   # a weight of that class's pixels
            allowed = maps[i % 2][labels[i % 2] == c].unique()
            assert torch.isin(weight[label == c], allowed).all()
