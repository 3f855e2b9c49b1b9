import pytest
import torch

from coursekit import data
from coursekit.device_loader import DeviceLoader, cutout, random_crop, random_flip


def numbered(n=10, c=2, size=6):
    """Images whose pixels are all different: (n, c, size, size) float."""
    return torch.arange(n * c * size * size, dtype=torch.float32).reshape(n, c, size, size)


def test_random_crop_is_a_shift_of_the_padded_image():
    images = numbered()
    g = torch.Generator().manual_seed(0)
    out = random_crop(images, 2, g)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(len(images)):   # each output is one 6x6 window of its padded image
        windows = [padded[i, :, y:y + 6, x:x + 6] for y in range(5) for x in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert not torch.equal(out, images)  # 10 images all at shift (2, 2): 1 in 25**10


def test_flip_mirrors_about_half_and_cutout_zeroes_one_square():
    images = numbered(n=400) + 1
    flipped = random_flip(images, torch.Generator().manual_seed(0))
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    same = (flipped == images).flatten(1).all(1)
    assert bool((mirrored | same).all()) and 150 < int(mirrored.sum()) < 250
    holes = cutout(images, 3, torch.Generator().manual_seed(0))
    assert ((holes == 0).sum(dim=(1, 2, 3)) == 2 * 3 * 3).all()


def test_loader_gives_every_example_once_per_epoch_normalised():
    images, labels = torch.rand(50, 1, 4, 4), torch.arange(50)
    mean, std = data.channel_stats(images)
    loader = DeviceLoader(images, labels, 16, mean=mean, std=std, shuffle=True, seed=1)
    assert len(loader) == 4
    batches = list(loader)
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(50)) and seen.tolist() != list(range(50))
    for batch_images, batch_labels in batches:
        assert torch.allclose(batch_images, data.normalize(images[batch_labels], mean, std))
    assert len(DeviceLoader(images, labels, 16, drop_last=True)) == 3


def test_loader_state_repeats_the_same_epoch():
    images, labels = torch.rand(30, 3, 8, 8), torch.arange(30)
    loader = DeviceLoader(images, labels, 8, shuffle=True, crop_padding=2, flip=True)
    state = loader.state_dict()
    first = [b for b in loader]
    loader.load_state_dict(state)
    again = [b for b in loader]
    for (a_images, a_labels), (b_images, b_labels) in zip(first, again, strict=True):
        assert torch.equal(a_images, b_images) and torch.equal(a_labels, b_labels)


def test_loader_rejects_bad_input():
    images, labels = torch.zeros(5, 1, 2, 2), torch.zeros(5, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"images: expected a tensor \(N, C, H, W\), "
                                         r"got a float32 tensor of shape \(5, 4\)"):
        DeviceLoader(torch.zeros(5, 4), labels, 2)
    with pytest.raises(TypeError, match=r"images: expected a float tensor.*images.float\(\) / 255"):
        DeviceLoader(images.to(torch.uint8), labels, 2)
    with pytest.raises(ValueError, match=r"labels: expected \(5,\) integer class indices"):
        DeviceLoader(images, labels[:4], 2)
    with pytest.raises(TypeError, match=r"labels: expected \(5,\) integer class indices"):
        DeviceLoader(images, labels.float(), 2)
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1, got 0"):
        DeviceLoader(images, labels, 0)
    with pytest.raises(TypeError, match="batch_size: expected an int >= 1, got True"):
        DeviceLoader(images, labels, True)
    with pytest.raises(ValueError, match="cutout_size: expected an int >= 0 and <= 2, got 3"):
        DeviceLoader(images, labels, 2, cutout_size=3)
