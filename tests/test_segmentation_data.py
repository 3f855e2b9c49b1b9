"""MNIST scenes, shapes, ISBI membranes, joint transforms, Oxford-IIIT Pet offline."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

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
    with pytest.raises(ValueError, match="size: expected an int >= 28, got 20"):
        scenes.MNISTScenes(2, size=20, digits_pool=pool)
    with pytest.raises(ValueError, match="count: expected an int >= 1, got 0"):
        scenes.MNISTScenes(0, digits_pool=pool)
    with pytest.raises(TypeError, match="count: expected an int >= 1, got True"):
        scenes.MNISTScenes(True, digits_pool=pool)
    with pytest.raises(TypeError, match="train: expected True or False, got 1"):
        scenes.MNISTScenes(2, train=1, digits_pool=pool)
    with pytest.raises(TypeError, match=r"digits_pool: expected \(images, labels\) or None"):
        scenes.MNISTScenes(2, digits_pool=pool[0])


def test_scenes_take_numpy_ints_and_any_integer_labels(pool):
    images, labels = pool
    reference = scenes.MNISTScenes(4, size=40, seed=3, digits_pool=pool)
    for same in [scenes.MNISTScenes(np.int64(4), size=np.int32(40), seed=np.int64(3),
                                    digits_pool=pool),
                 scenes.MNISTScenes(4, size=40, seed=3,
                                    digits_pool=(images, labels.to(torch.uint8))),
                 scenes.MNISTScenes(4, size=40, seed=3, digits_pool=[images.double(), labels])]:
        assert torch.equal(same.images, reference.images)
        assert torch.equal(same.semantic, reference.semantic)


@pytest.mark.parametrize("images, labels, error, match", [
    # uint8 pictures: every pixel above 0 counted as ink, the image in 0..255
    (lambda i: (i * 255).to(torch.uint8), None, TypeError,
     r"digit_images: expected a float tensor .*images.float\(\) / 255"),
    (lambda i: i * 255, None, ValueError,
     r"digit_images: expected values in \[0, 1\], got 0..229.5; .*images.float\(\) / 255"),
    (lambda i: i[:, None], None, ValueError, r"digit_images: expected a tensor \(M, 28, 28\)"),
    (lambda i: i[:, :20, :20], None, ValueError, r"digit_images: expected \(M, 28, 28\)"),
    (lambda i: i[:0], lambda t: t[:0], ValueError, r"digit_images: .*at least one digit"),
    (lambda i: i.numpy(), None, TypeError, r"digit_images: expected a tensor"),
    (lambda i: i.index_fill(1, torch.tensor([0]), float("nan")), None, ValueError,
     r"digit_images: expected finite numbers"),
    # a label 10 made semantic class 11, beyond NUM_CLASSES
    (None, lambda t: t + 1, ValueError,
     r"digit_labels: expected class indices in 0..9, found values 1..10"),
    (None, lambda t: t.float(), TypeError, r"digit_labels: expected an integer tensor"),
    (None, lambda t: t[:5], ValueError, r"digit_labels: expected one label per digit \(10\)"),
])
def test_compose_refuses_a_wrong_pool(pool, images, labels, error, match):
    digit_images = images(pool[0]) if images else pool[0]
    digit_labels = labels(pool[1]) if labels else pool[1]
    with pytest.raises(error, match=match):
        scenes.compose(digit_images, digit_labels, size=40)


def test_compose_arguments(pool):
    with pytest.raises(ValueError, match="max_digits: expected an int >= 1, got 0"):
        scenes.compose(*pool, max_digits=0)            # was an error inside torch.randint
    with pytest.raises(ValueError, match="tries: expected an int >= 1, got 0"):
        scenes.compose(*pool, tries=0)
    with pytest.raises(TypeError, match="generator: expected a torch.Generator or None"):
        scenes.compose(*pool, generator=0)
    image, semantic, instances, digits = scenes.compose(*pool, size=np.int64(40),
                                                        generator=torch.Generator())
    assert image.shape == (1, 40, 40) and semantic.shape == instances.shape == (40, 40)


def test_a_digit_without_ink_is_left_out(pool):
    """It has no pixel to label and no box (it crashed on ``cols.min()`` of nothing)."""
    images, labels = pool[0].clone(), pool[1]
    images[3] = 0.4                                    # grey, below the ink threshold
    for seed in range(10):
        g = torch.Generator().manual_seed(seed)
        image, semantic, instances, digits = scenes.compose(images, labels, max_digits=5,
                                                            generator=g)
        assert all(digit.label != 3 for digit in digits)
        assert torch.equal(instances.unique()[1:], torch.arange(1, len(digits) + 1))


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
    with pytest.raises(TypeError, match="mask: expected an integer tensor"):
        joint_transforms.resize(image, mask.float(), 7)
    with pytest.raises(ValueError, match=r"mask: expected the image's size \(10, 10\)"):
        joint_transforms.random_crop(image, mask[:5], 4)


MASK_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.bool]
TRANSFORMS = {
    "random_crop": lambda image, mask, g: joint_transforms.random_crop(image, mask, 5, g),
    "random_flip_rotate": joint_transforms.random_flip_rotate,
    "random_elastic": lambda image, mask, g: joint_transforms.random_elastic(
        image, mask, 3.0, generator=g),
    "resize": lambda image, mask, g: joint_transforms.resize(image, mask, (5, 11)),
}


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("dtype", MASK_DTYPES)
def test_joint_transforms_take_masks_of_any_integer_dtype(name, dtype):
    """uint8 masks from PNG files (class 255 too), int8..int32 and bool masks give the
    labels an int64 mask gives, as int64."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 8, 9, generator=g)
    mask = torch.randint(2 if dtype == torch.bool else 3, (8, 9), generator=g)
    if dtype == torch.uint8:
        mask[2:5, 3:6] = 255                           # the "ignore" label of a PNG mask
    expected_image, expected_mask = TRANSFORMS[name](image, mask, torch.Generator().manual_seed(1))
    got_image, got_mask = TRANSFORMS[name](image, mask.to(dtype), torch.Generator().manual_seed(1))
    assert got_mask.dtype == torch.int64 and torch.equal(got_mask, expected_mask)
    assert torch.equal(got_image, expected_image)


@pytest.mark.parametrize("name", ["random_elastic", "resize"])
def test_large_labels_stay_exact(name):
    """A label above 2 ** 24 went through float32 and came back as its neighbour."""
    mask = torch.zeros(8, 8, dtype=torch.int64)
    mask[2:6, 2:6] = 2**24 + 1
    _, got = TRANSFORMS[name](torch.rand(1, 8, 8), mask, torch.Generator().manual_seed(0))
    assert set(got.unique().tolist()) <= {0, 2**24 + 1} and (got == 2**24 + 1).any()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_resize_and_elastic_keep_the_image_dtype(dtype):
    """They returned float32 for every image (float64 precision lost, float16 doubled)."""
    g = torch.Generator().manual_seed(2)
    image, mask = torch.rand(3, 10, 12, generator=g), torch.randint(4, (10, 12), generator=g)
    small, small_mask = joint_transforms.resize(image.to(dtype), mask, (7, 5))
    reference = F.interpolate(image[None].double(), size=(7, 5), mode="bilinear",
                              align_corners=False, antialias=True)[0]
    tolerance = {torch.float16: 2e-3, torch.bfloat16: 1e-2, torch.float64: 1e-12}[dtype]
    assert small.dtype == dtype
    torch.testing.assert_close(small.double(), reference, atol=tolerance, rtol=0)
    assert torch.equal(small_mask, F.interpolate(mask[None, None].double(), size=(7, 5),
                                                 mode="nearest-exact")[0, 0].long())
    warped, warped_mask = joint_transforms.random_elastic(
        image.to(dtype), mask, 2.0, generator=torch.Generator().manual_seed(3))
    warped32, warped_mask32 = joint_transforms.random_elastic(
        image, mask, 2.0, generator=torch.Generator().manual_seed(3))
    assert warped.dtype == dtype and torch.equal(warped_mask, warped_mask32)
    torch.testing.assert_close(warped.double(), warped32.double(), atol=tolerance + 1e-6, rtol=0)


def test_joint_transforms_refuse_what_they_would_get_wrong():
    image, mask = torch.rand(1, 6, 6), torch.zeros(6, 6, dtype=torch.long)
    resize, elastic = joint_transforms.resize, joint_transforms.random_elastic
    # sigma inf warped every pixel to NaN coordinates: one constant image, a blank mask
    with pytest.raises(ValueError, match=r"sigma: expected a number >= 0, got inf"):
        elastic(image, mask, float("inf"))
    with pytest.raises(ValueError, match=r"sigma: expected a number >= 0, got nan"):
        elastic(image, mask, float("nan"))
    with pytest.raises(TypeError, match=r"sigma: expected a number >= 0, got '2'"):
        elastic(image, mask, "2")
    # elastic_sigma NaN: "NaN > 0" is False, so the warp was silently skipped
    with pytest.raises(ValueError, match=r"elastic_sigma: expected a number >= 0, got nan"):
        joint_transforms.RandomCropFlipRotate(4, elastic_sigma=float("nan"))
    with pytest.raises(TypeError, match=r"size: expected an int >= 1, got 4.0"):
        joint_transforms.RandomCropFlipRotate(4.0)
    for size, error, match in [(0, ValueError, r"size: expected an int >= 1, got 0"),
                               (-3, ValueError, r"size: expected an int >= 1, got -3"),
                               (2.5, TypeError, r"size: expected an int >= 1, got 2.5"),
                               ((4, 0), ValueError, r"size\[1\]: expected an int >= 1, got 0"),
                               ((4,), ValueError, r"size: expected an int or \(H, W\)")]:
        with pytest.raises(error, match=match):
            resize(image, mask, size)                  # 0 and -3 failed inside F.interpolate
    assert resize(image, mask, np.int64(4))[1].shape == (4, 4)
    assert joint_transforms.random_crop(image, mask, np.int64(4))[1].shape == (4, 4)
    with pytest.raises(ValueError, match=r"size: expected an int >= 1 and <= 6, got 7"):
        joint_transforms.random_crop(image, mask, 7)
    with pytest.raises(TypeError, match=r"generator: expected a torch.Generator or None"):
        joint_transforms.random_crop(image, mask, 4, 0)
    with pytest.raises(TypeError, match=r"image: expected a float tensor .*images.float\(\)"):
        resize((image * 255).to(torch.uint8), mask, 4)  # came back as float in 0..255
    with pytest.raises(ValueError, match=r"image: expected a tensor \(C, H, W\)"):
        resize(image[0], mask, 4)
    with pytest.raises(ValueError, match=r"image: expected at least 1 channel, row and column"):
        resize(image[:0], mask, 4)


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
    with pytest.raises(ValueError, match=r"root: expected a folder, got the file"):
        membranes.load(root=__file__)
    with pytest.raises(TypeError, match=r"root: expected a folder \(str or Path\) or None"):
        membranes.load(root=3)                          # was a TypeError from pathlib
    with pytest.raises(ValueError, match=r"split: expected one of 'train', 'validation', 'all'"):
        membranes.load("Train")


def test_membranes_with_one_slice_missing_names_it(tmp_path):
    """Only slice 0 was looked for: a missing slice 27 failed inside PIL."""
    from coursekit import setup

    source = setup.data_root() / membranes.FOLDER / "train"
    for sub in ("image", "label"):
        (tmp_path / "train" / sub).mkdir(parents=True)
        for index in range(membranes.NUM_SLICES):
            name = f"{sub}/{index}.png"
            if name != "label/27.png":
                (tmp_path / "train" / name).symlink_to(source / name)
    assert membranes.load("train", root=tmp_path)[0].shape == (25, 1, 512, 512)
    with pytest.raises(DataNotFoundError, match=r"label/27.png is missing"):
        membranes.load("validation", root=tmp_path)


def small_slices():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 1, 16, 16, generator=g), torch.randint(2, (2, 16, 16), generator=g)


def test_membrane_crops_check_their_arguments_when_made():
    images, labels = small_slices()
    with pytest.raises(ValueError, match=r"size: expected an int >= 1 and <= 16, got 64"):
        membranes.MembraneCrops(images, labels, size=64)  # failed at the first crop only
    with pytest.raises(ValueError, match=r"crops_per_epoch: expected an int >= 1, got 0"):
        membranes.MembraneCrops(images, labels, size=8, crops_per_epoch=0)
    with pytest.raises(ValueError, match=r"labels: expected \(S, H, W\) matching images .*S >= 1"):
        membranes.MembraneCrops(images[:0], labels[:0], size=8)  # was a ZeroDivisionError
    with pytest.raises(TypeError, match=r"images: expected a float tensor .*images.float\(\)"):
        membranes.MembraneCrops((images * 255).to(torch.uint8), labels, size=8)
    with pytest.raises(TypeError, match=r"labels: expected an integer tensor \(S, H, W\)"):
        membranes.MembraneCrops(images, labels.float(), size=8)
    with pytest.raises(ValueError, match=r"elastic_sigma: expected a number >= 0, got inf"):
        membranes.MembraneCrops(images, labels, size=8, elastic_sigma=float("inf"))


def test_membrane_crops_end_where_their_length_says():
    """``for image, label in crops`` never ended: __getitem__ took any index."""
    import itertools

    crops = membranes.MembraneCrops(*small_slices(), size=8, crops_per_epoch=5)
    assert len(list(itertools.islice(iter(crops), 20))) == 5
    with pytest.raises(IndexError, match=r"index: expected an int from 0 to 4, got 5"):
        crops[5]
    assert crops[-1][0].shape == (1, 8, 8)


def test_membrane_crops_of_uint8_labels_are_the_int64_crops():
    images, labels = small_slices()
    a = membranes.MembraneCrops(images, labels, size=8, crops_per_epoch=4, seed=3)
    b = membranes.MembraneCrops(images, labels.to(torch.uint8), size=np.int64(8),
                                crops_per_epoch=4, seed=3)
    for i in range(4):
        (image_a, label_a), (image_b, label_b) = a[i], b[i]   # each call draws a new crop
        assert torch.equal(image_a, image_b) and torch.equal(label_a, label_b)
        assert label_b.dtype == torch.int64


def test_tiled_prediction_refuses_clearly():
    model = torch.nn.Conv2d(1, 2, 1)
    image = torch.randn(1, 1, 50, 40)
    with pytest.raises(ValueError, match=r"tile: expected an int >= 1 and <= 40, got 128"):
        membranes.predict_tiled(model, image)
    with pytest.raises(ValueError, match=r"image: expected a tensor \(N, C, H, W\) or "
                                         r"\(C, H, W\), got a float32 tensor of shape \(50, 40\)"):
        membranes.predict_tiled(model, image[0, 0], tile=16)        # was "not enough values"
    with pytest.raises(TypeError, match=r"image: expected a float tensor .*images.float\(\)"):
        membranes.predict_tiled(model, image.to(torch.uint8), tile=16)
    with pytest.raises(ValueError, match=r"device: expected a device such as 'cpu'"):
        membranes.predict_tiled(model, image, tile=16, device="gpu")
    with pytest.raises(TypeError, match=r"model: expected an nn.Module, got None"):
        membranes.predict_tiled(None, image, tile=16)
    valid = torch.nn.Conv2d(1, 2, 3)                   # no padding: 14x14 logits for 16x16
    with pytest.raises(ValueError, match=r"model: expected logits \(N, classes, 16, 16\)"):
        membranes.predict_tiled(valid, image, tile=16, overlap=4)


def test_tiled_prediction_leaves_the_model_in_its_mode():
    """It left a model in eval mode: batch norm stopped learning in the epochs after."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2)).train()
    membranes.predict_tiled(model, torch.randn(1, 1, 16, 16), tile=8, overlap=0)
    assert model.training
    model.eval()
    membranes.predict_tiled(model, torch.randn(1, 1, 16, 16), tile=8, overlap=0)
    assert not model.training


def test_symmetric_prediction_of_a_binary_model_is_its_sigmoid():
    """One logit per pixel: the softmax over that one channel was 1 everywhere."""
    torch.manual_seed(0)
    binary = torch.nn.Conv2d(1, 1, 1)
    image = torch.randn(1, 1, 16, 16)
    got = membranes.predict_symmetric(binary, image, tile=8, overlap=2)
    assert got.shape == (1, 1, 16, 16)
    torch.testing.assert_close(got, binary(image).sigmoid().detach(), atol=1e-6, rtol=1e-5)


def test_pets_arguments(tmp_path):
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    photo = torch.randint(256, (6, 6, 3), generator=g, dtype=torch.uint8)
    trimap = torch.randint(1, 4, (6, 6), generator=g, dtype=torch.uint8)
    fake = [(Image.fromarray(photo.numpy()), Image.fromarray(trimap.numpy()))]
    image, mask = pets.PetSegmentation(fake, size=np.int64(6))[0]
    assert torch.allclose(image, photo.permute(2, 0, 1).float() / 255, atol=1e-6)
    expected = torch.where(trimap == 1, 1, torch.where(trimap == 2, 0, 255)).long()
    assert torch.equal(mask, expected)
    with pytest.raises(TypeError, match=r"pets: expected a data set"):
        pets.PetSegmentation(None)
    with pytest.raises(ValueError, match=r"size: expected an int >= 1, got 0"):
        pets.PetSegmentation(fake, size=0)
    with pytest.raises(ValueError, match=r"split: expected one of 'trainval', 'test'"):
        pets.oxford_pet("train", root=tmp_path, download=False)
    with pytest.raises(TypeError, match=r"root: expected a folder"):
        pets.oxford_pet(root=3, download=False)
    with pytest.raises(TypeError, match=r"download: expected True or False, got 0"):
        pets.oxford_pet(root=tmp_path, download=0)


def test_tiled_prediction_equals_whole_image_for_a_local_model():
    model = torch.nn.Conv2d(1, 2, 1)   # a per-pixel model: tiling must change nothing
    image = torch.randn(1, 1, 100, 70)
    tiled = membranes.predict_tiled(model, image, tile=32, overlap=8)
    assert tiled.shape == (1, 2, 100, 70)
    assert torch.allclose(tiled, model(image), atol=1e-5)
    with pytest.raises(ValueError, match=r"overlap: expected an int >= 0 and <= 31, got 32"):
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
    # not square (it was refused): a quarter-turned view is 32x48, turned back it is 48x32
    rectangle = torch.randn(1, 1, 48, 32)
    views = []
    for flip in (False, True):
        for turns in range(4):
            view = (rectangle.flip(-1) if flip else rectangle).rot90(turns, (-2, -1))
            tiled = membranes.predict_tiled(shifted, view, tile=32, overlap=0)
            assert tiled.shape[2:] == view.shape[2:]
            back = tiled.softmax(1).rot90(-turns, (-2, -1))
            views.append(back.flip(-1) if flip else back)
    got = membranes.predict_symmetric(shifted, rectangle, tile=32, overlap=0)
    torch.testing.assert_close(got, torch.stack(views).mean(0), atol=1e-5, rtol=1e-5)


def test_oxford_pet_offline_says_so(tmp_path):
    with pytest.raises(DataNotFoundError, match="(?s)Oxford-IIIT Pet is not available.*Colab"):
        pets.oxford_pet(root=tmp_path, download=False)


def test_scenes_with_overlap_put_ink_on_ink_and_the_default_does_not():
    """Issue 13: the generator had no way to make digits overlap; the default never does.
    Each digit here is a 10x10 square of ink, so a digit whose instance shows on fewer
    than 100 pixels is partly hidden under another."""
    pictures = torch.zeros(8, 28, 28)
    pictures[:, 9:19, 9:19] = 1.0
    pool = (pictures, torch.arange(8))
    kwargs = dict(count=60, size=32, max_digits=4, seed=3, digits_pool=pool)
    apart = scenes.MNISTScenes(**kwargs)
    assert torch.equal(apart.images, scenes.MNISTScenes(**kwargs, overlap=False).images)
    crowded = scenes.MNISTScenes(**kwargs, overlap=True)

    def hidden(dataset):
        return sum(int((instances == k).sum()) < 100
                   for instances, digits in zip(dataset.instances, dataset.digits, strict=True)
                   for k in range(1, len(digits) + 1))

    assert hidden(apart) == 0
    assert hidden(crowded) > 0
    assert sum(map(len, crowded.digits)) > sum(map(len, apart.digits))  # none left out
    assert set(crowded.semantic.unique().tolist()) <= set(range(9))


# ------------------------------------------------ scene knobs: min_digits, digit_size, gap


def _varied_pool():
    """12 digits of random ink at random places (a seeded generator: the same every run)."""
    g = torch.Generator().manual_seed(3)
    images = torch.zeros(12, 28, 28)
    for i in range(12):
        top, left = torch.randint(0, 14, (2,), generator=g).tolist()
        images[i, top:top + 12, left:left + 10] = torch.rand(12, 10, generator=g)
    return images, torch.arange(12) % 10


def _scenes_digest(dataset):
    import hashlib

    h = hashlib.sha256()
    for tensor in (dataset.images, dataset.semantic, dataset.instances):
        h.update(tensor.contiguous().numpy().tobytes())
    h.update(repr([[(d.label, d.box) for d in digits] for digits in dataset.digits]).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("kwargs, digest", [
    # computed with coursekit/scenes.py as committed before the knobs (c14ba8b)
    ({}, "bbb6cd0a7d7b21b7"),
    ({"size": 48, "max_digits": 5}, "ff1a40bbd49ba2a1"),
    ({"overlap": True, "max_digits": 4}, "30e8b8a55184fbfc"),
])
def test_default_scenes_are_those_made_before_the_knobs(kwargs, digest):
    dataset = scenes.MNISTScenes(6, seed=1, digits_pool=_varied_pool(), **kwargs)
    assert _scenes_digest(dataset) == digest


def test_default_mnist_scenes_are_those_made_before_the_knobs():
    dataset = scenes.MNISTScenes(3, train=False, max_digits=4, seed=0)
    assert _scenes_digest(dataset) == "0b96054fe2211e41"        # as at c14ba8b


def _check_consistent(dataset, low, high):
    """Ink, semantic, instances and boxes agree; every scene holds low..high digits."""
    for i in range(len(dataset)):
        ink = dataset.images[i, 0] > scenes.INK
        assert torch.equal(ink, dataset.semantic[i] > 0)
        assert torch.equal(ink, dataset.instances[i] > 0)
        assert low <= len(dataset.digits[i]) <= high
        for k, digit in enumerate(dataset.digits[i], start=1):
            mine = dataset.instances[i] == k
            assert (dataset.semantic[i][mine] == digit.label + 1).all()
            rows, cols = mine.nonzero(as_tuple=True)
            assert digit.box == (int(cols.min()), int(rows.min()), int(cols.max()),
                                 int(rows.max()))


@pytest.mark.parametrize("low, high", [(3, 4), (2, 2), (1, 5)])
def test_min_digits_is_respected(pool, low, high):
    dataset = scenes.MNISTScenes(30, size=80, min_digits=low, max_digits=high, seed=0,
                                 digits_pool=pool)          # room enough: every digit fits
    _check_consistent(dataset, low, high)
    counts = {len(digits) for digits in dataset.digits}
    assert counts == set(range(low, high + 1))              # every count from low to high


def test_digit_size_scales_the_ink(pool):
    # the pool's ink is 12 rows by 8 columns of 28: at side s, about 12 s / 28 by 8 s / 28
    for side in (14, 42):
        dataset = scenes.MNISTScenes(8, size=64, digit_size=side, seed=0, digits_pool=pool)
        _check_consistent(dataset, 1, 3)
        for digits in dataset.digits:
            for digit in digits:
                x1, y1, x2, y2 = digit.box
                assert abs((y2 - y1 + 1) - 12 * side / 28) <= 1.5
                assert abs((x2 - x1 + 1) - 8 * side / 28) <= 1.5
    dataset = scenes.MNISTScenes(20, size=64, digit_size=(10, 40), seed=0, digits_pool=pool)
    _check_consistent(dataset, 1, 3)
    heights = {d.box[3] - d.box[1] + 1 for digits in dataset.digits for d in digits}
    assert min(heights) >= 12 * 10 / 28 - 1.5 and max(heights) <= 12 * 40 / 28 + 1.5
    assert len(heights) >= 5                                # the sides vary
    small = scenes.MNISTScenes(4, size=16, digit_size=(8, 16), seed=0, digits_pool=pool)
    assert small.images.shape == (4, 1, 16, 16)             # a scene as small as its digits


def _closest_ink(instances, gap_checked):
    """Whether any two instances' ink comes within ``gap_checked`` pixels (rows and
    columns): grow each instance's ink by that many pixels and look for another's ink."""
    ids = [int(k) for k in instances.unique() if k > 0]
    for k in ids:
        mine = (instances == k).float()[None, None]
        grown = F.max_pool2d(mine, 2 * gap_checked + 1, stride=1, padding=gap_checked)[0, 0]
        others = (instances > 0) & (instances != k)
        if (grown.bool() & others).any():
            return True
    return False


@pytest.mark.parametrize("gap", [1, 3])
def test_gap_keeps_the_ink_of_digits_apart(gap):
    images, labels = _varied_pool()
    dataset = scenes.MNISTScenes(20, size=48, max_digits=5, gap=gap, seed=0,
                                 digits_pool=(images, labels), digit_size=(16, 28))
    _check_consistent(dataset, 1, 5)
    assert sum(len(d) for d in dataset.digits) > 40         # the check has pairs to look at
    for instances in dataset.instances:
        assert not _closest_ink(instances, gap)             # gap pixels between the inks
    # the check has teeth: without the gap, digits touch or come closer in some scenes
    tight = scenes.MNISTScenes(20, size=48, max_digits=5, seed=0, digits_pool=(images, labels),
                               digit_size=(16, 28))
    assert any(_closest_ink(instances, gap) for instances in tight.instances)


def test_compose_takes_the_knobs(pool):
    g = torch.Generator().manual_seed(0)
    image, semantic, instances, digits = scenes.compose(*pool, size=50, min_digits=2,
                                                        max_digits=2, digit_size=(10, 20),
                                                        gap=2, generator=g)
    assert image.shape == (1, 50, 50) and len(digits) == 2
    assert not _closest_ink(instances, 2)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"gap": 1, "overlap": True}, ValueError, r"gap: expected 0 with overlap=True \(.*\), got 1"),
    ({"gap": -1}, ValueError, "gap: expected an int >= 0, got -1"),
    ({"gap": 1.0}, TypeError, "gap: expected an int >= 0"),
    ({"min_digits": 0}, ValueError, "min_digits: expected an int >= 1"),
    ({"min_digits": 4, "max_digits": 3}, ValueError,
     "min_digits: expected an int >= 1 and <= 3, got 4"),
    ({"min_digits": "2"}, TypeError, "min_digits: expected an int"),
    ({"digit_size": 7}, ValueError, "digit_size: expected an int >= 8, got 7"),
    ({"digit_size": 28.0}, TypeError, "digit_size: expected an int >= 8"),
    ({"digit_size": (7, 20)}, ValueError, r"digit_size\[0\]: expected an int >= 8, got 7"),
    ({"digit_size": (20, 10)}, ValueError, r"digit_size\[1\]: expected an int >= 20, got 10"),
    ({"digit_size": (8, 12, 16)}, ValueError,
     r"digit_size: expected an int or a \(low, high\) pair"),
    ({"digit_size": 48, "size": 40}, ValueError, "size: expected an int >= 48, got 40"),
    ({"digit_size": (10, 41), "size": 40}, ValueError, "size: expected an int >= 41, got 40"),
])
def test_scene_knobs_refuse_bad_values(pool, kwargs, error, match):
    kwargs = {"size": 40, **kwargs}
    with pytest.raises(error, match=match):
        scenes.MNISTScenes(2, digits_pool=pool, **kwargs)
    with pytest.raises(error, match=match):
        scenes.compose(*pool, **kwargs)
