"""MNIST scenes, shapes, ISBI membranes, joint transforms, Oxford-IIIT Pet offline."""

import pytest
import torch

from coursekit import joint_transforms, membranes, pets, scenes
from coursekit.data import DataNotFoundError
from tests import shapes


@pytest.fixture(scope="module")
def pool():
    """A few fake 28x28 digits: a filled square of ink, labelled 0..9."""
    images = torch.zeros(10, 28, 28)
    images[:, 8:20, 10:18] = 0.9
    return images, torch.arange(10)


def test_scenes_are_consistent_and_repeat_by_seed(pool):
    a = scenes.MNISTScenes(20, size=64, max_digits=3, seed=5, digits_pool=pool)
    b = scenes.MNISTScenes(20, size=64, max_digits=3, seed=5, digits_pool=pool)
    c = scenes.MNISTScenes(20, size=64, max_digits=3, seed=6, digits_pool=pool)
    assert torch.equal(a.images, b.images) and torch.equal(a.semantic, b.semantic)
    assert not torch.equal(a.semantic, c.semantic)
    image, semantic = a[0]
    assert image.shape == (1, 64, 64) and semantic.shape == (64, 64)
    assert semantic.dtype == torch.int64 and semantic.max() <= 10
    for i in range(len(a)):
        ink = a.images[i, 0] > scenes.INK
        assert torch.equal(ink, a.semantic[i] > 0) and torch.equal(ink, a.instances[i] > 0)
        assert 1 <= len(a.digits[i]) <= 3
        for k, digit in enumerate(a.digits[i], start=1):
            mine = a.instances[i] == k
            assert (a.semantic[i][mine] == digit.label + 1).all()   # its class, everywhere
            rows, cols = mine.nonzero(as_tuple=True)
            assert digit.box == (int(cols.min()), int(rows.min()), int(cols.max()),
                                 int(rows.max()))


def test_scenes_from_real_mnist_use_the_split():
    train = scenes.MNISTScenes(3, train=True, seed=0)
    test = scenes.MNISTScenes(3, train=False, seed=0)
    assert not torch.equal(train.images, test.images)
    assert scenes.NUM_CLASSES == len(scenes.CLASS_NAMES) == 11


def test_scenes_bad_arguments(pool):
    with pytest.raises(ValueError, match="size: expected an int >= 28"):
        scenes.MNISTScenes(2, size=20, digits_pool=pool)
    with pytest.raises(ValueError, match="count: expected a positive int"):
        scenes.MNISTScenes(0, digits_pool=pool)


def test_shapes():
    images, masks = shapes.make_shapes(8, size=32, seed=3)
    assert images.shape == (8, 1, 32, 32) and masks.shape == (8, 32, 32)
    assert 0 <= images.min() and images.max() <= 1
    assert set(masks.unique().tolist()) <= {0, 1, 2, 3} and (masks > 0).any()
    assert torch.equal(shapes.make_shapes(8, 32, seed=3)[1], masks)


def test_joint_transforms_keep_image_and_mask_aligned():
    image = torch.arange(36.0).reshape(1, 6, 6)
    mask = torch.arange(36).reshape(6, 6)            # mask == image: alignment is visible
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        i, m = joint_transforms.random_crop(image, mask, 4, g)
        i, m = joint_transforms.random_flip_rotate(i, m, g)
        assert i.shape == (1, 4, 4) and torch.equal(i[0].long(), m)
    augment = joint_transforms.RandomCropFlipRotate(4, seed=1)
    seen = {tuple(augment(image, mask)[1].flatten().tolist()) for _ in range(60)}
    assert len(seen) > 20  # crops, flips and turns all vary


def test_elastic_warp_moves_image_and_mask_together():
    mask = torch.zeros(48, 48, dtype=torch.long)
    mask[12:36, 16:30] = 3                           # a rectangle of class 3
    image = mask[None].float() / 3                   # the image shows the same rectangle
    g = torch.Generator().manual_seed(0)
    warped_image, warped_mask = joint_transforms.random_elastic(image, mask, 4.0, generator=g)
    assert warped_image.shape == (1, 48, 48) and warped_mask.dtype == torch.int64
    assert set(warped_mask.unique().tolist()) == {0, 3}       # labels only, never blends
    assert not torch.equal(warped_mask, mask)                 # it did move
    # away from the rectangle's edge the image (bilinear) and the mask (nearest) agree
    clear = (warped_image[0] < 0.1) | (warped_image[0] > 0.9)
    assert clear.float().mean() > 0.9
    assert torch.equal(warped_mask[clear], (warped_image[0][clear] > 0.5).long() * 3)
    same_image, same_mask = joint_transforms.random_elastic(image, mask, 0.0, generator=g)
    assert torch.equal(same_mask, mask) and torch.allclose(same_image, image, atol=1e-5)
    with pytest.raises(ValueError, match="sigma: expected a number >= 0"):
        joint_transforms.random_elastic(image, mask, -1.0)
    with pytest.raises(ValueError, match="grid: expected an int >= 2"):
        joint_transforms.random_elastic(image, mask, 4.0, grid=1)
    a = joint_transforms.RandomCropFlipRotate(32, seed=5, elastic_sigma=4.0)(image, mask)
    b = joint_transforms.RandomCropFlipRotate(32, seed=5, elastic_sigma=4.0)(image, mask)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])    # a seed repeats it


def test_resize_never_invents_a_label():
    mask = torch.zeros(10, 10, dtype=torch.long)
    mask[:, 5:] = 3                                  # classes 0 and 3 side by side
    image = mask[None].float()
    small_image, small_mask = joint_transforms.resize(image, mask, 7)
    assert set(small_mask.unique().tolist()) == {0, 3}      # never 1 or 2 in between
    assert small_mask.dtype == torch.int64 and small_image.shape == (1, 7, 7)
    with pytest.raises(ValueError, match="mask: expected an integer tensor"):
        joint_transforms.resize(image, mask.float(), 7)
    with pytest.raises(ValueError, match=r"mask: expected the image's size \(10, 10\)"):
        joint_transforms.random_crop(image, mask[:5], 4)


def test_membranes_split_and_crops():
    train_images, train_labels = membranes.load("train")
    val_images, val_labels = membranes.load("validation")
    assert train_images.shape == (25, 1, 512, 512) and val_labels.shape == (5, 512, 512)
    assert set(train_labels.unique().tolist()) == {0, 1}
    interior = train_labels.float().mean().item()
    assert 0.6 < interior < 0.9   # most pixels are cell interior, membranes are thin
    crops = membranes.MembraneCrops(val_images, val_labels, size=64, crops_per_epoch=10)
    image, label = crops[3]
    assert len(crops) == 10 and image.shape == (1, 64, 64) and label.shape == (64, 64)
    with pytest.raises(ValueError, match="split: expected"):
        membranes.load("test")


def test_membranes_missing_says_where_and_how(tmp_path):
    with pytest.raises(DataNotFoundError, match="(?s)ISBI 2012 membranes is not available.*"
                       "COURSEKIT_DATA"):
        membranes.load(root=tmp_path)


def test_tiled_prediction_equals_whole_image_for_a_local_model():
    model = torch.nn.Conv2d(1, 2, 1)   # a per-pixel model: tiling must change nothing
    image = torch.randn(1, 1, 100, 70)
    tiled = membranes.predict_tiled(model, image, tile=32, overlap=8)
    assert tiled.shape == (1, 2, 100, 70)
    assert torch.allclose(tiled, model(image), atol=1e-5)
    with pytest.raises(ValueError, match="tile, overlap"):
        membranes.predict_tiled(model, image, tile=32, overlap=32)


def test_symmetric_prediction_averages_the_eight_views():
    torch.manual_seed(0)
    local = torch.nn.Conv2d(1, 2, 1)   # per-pixel: every view gives the same answer
    image = torch.randn(1, 1, 48, 48)
    averaged = membranes.predict_symmetric(local, image, tile=32, overlap=8)
    assert averaged.shape == (1, 2, 48, 48)
    assert torch.allclose(averaged, local(image).softmax(1), atol=1e-5)
    # a model that sees orientation: the result is the mean of the 8 views, turned back
    shifted = torch.nn.Conv2d(1, 2, 3, padding=1)
    views = []
    for flip in (False, True):
        for turns in range(4):
            view = (image.flip(-1) if flip else image).rot90(turns, (-2, -1))
            back = shifted(view).softmax(1).rot90(-turns, (-2, -1))
            views.append(back.flip(-1) if flip else back)
    expected = torch.stack(views).mean(0)
    got = membranes.predict_symmetric(shifted, image, tile=48, overlap=0)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, shifted(image).softmax(1), atol=1e-3)
    with pytest.raises(ValueError, match="image: expected a square image"):
        membranes.predict_symmetric(local, torch.randn(1, 1, 48, 32), tile=32, overlap=8)


def test_oxford_pet_offline_says_so(tmp_path):
    with pytest.raises(DataNotFoundError, match="(?s)Oxford-IIIT Pet is not available.*Colab"):
        pets.oxford_pet(root=tmp_path, download=False)
