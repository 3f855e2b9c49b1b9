import pytest
import torch

from coursekit import data


def test_missing_data_names_the_set_the_places_and_the_fix(tmp_path):
    with pytest.raises(data.DataNotFoundError) as info:
        data.mnist(root=tmp_path, download=False)
    message = str(info.value)
    assert message.startswith("MNIST is not available")
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "COURSEKIT_DATA" in message


def test_mnist_from_the_data_root_has_the_official_sizes():
    train, test = data.mnist(train=True), data.mnist(train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    images, labels = data.as_tensors(test, limit=100)
    assert images.shape == (100, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (100,) and labels.dtype == torch.int64
    assert 0.0 <= images.min() and images.max() <= 1.0
    # the first test digits of the official MNIST test set are 7, 2, 1, 0, 4
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    # every class is present in the training labels, in the official proportions (about 10 %)
    counts = torch.bincount(data.as_tensors(train)[1], minlength=10)
    assert counts.sum() == 60_000 and counts.min() > 5_000


def test_as_tensors_rejects_bad_limits():
    test = data.mnist(train=False)
    with pytest.raises(ValueError, match="limit: expected an int >= 1, got 0"):
        data.as_tensors(test, limit=0)


def test_mnist_rejects_a_non_boolean_split():
    with pytest.raises(TypeError, match="train: expected True or False, got 'test'"):
        data.mnist(train="test")


def test_fashion_mnist_and_cifar10_have_the_official_sizes_and_say_their_source():
    images, labels = data.as_tensors(data.fashion_mnist(train=False))
    assert images.shape == (10_000, 1, 28, 28) and labels.bincount().tolist() == [1000] * 10
    cifar = data.cifar10(train=False)
    assert cifar.source in ("official", "JPEG copy") and len(cifar) == 10_000
    images, labels = data.as_tensors(cifar, limit=50)
    assert images.shape == (50, 3, 32, 32) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and labels.max() <= 9
    assert len(labels.unique()) >= 8   # mixed classes, even in the JPEG copy's first 50


def test_missing_cifar10_names_both_places(tmp_path):
    with pytest.raises(data.DataNotFoundError) as info:
        data.cifar10(root=tmp_path, download=False)
    message = str(info.value)
    assert message.startswith("CIFAR-10 is not available")
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert str(tmp_path / "cifar10-jpg" / "train") in message


def test_channel_stats_are_computed_per_channel():
    g = torch.Generator().manual_seed(0)
    images = torch.stack([torch.rand(20, 8, 8, generator=g) * s + m
                          for m, s in ((0.1, 1.0), (0.5, 2.0), (2.0, 0.5))], dim=1)
    mean, std = data.channel_stats(images)
    flat = images.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(mean, flat.mean(1)) and torch.allclose(std, flat.std(1))
    normalized = data.normalize(images, mean, std)
    again_mean, again_std = data.channel_stats(normalized)
    assert torch.allclose(again_mean, torch.zeros(3), atol=1e-5)
    assert torch.allclose(again_std, torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match="mean: expected 3 finite numbers, one per channel"):
        data.normalize(images, [0.5], [0.5])


def test_split_keeps_every_example_once():
    images, labels = torch.arange(100.0).reshape(100, 1, 1, 1), torch.arange(100)
    xt, yt, xv, yv = data.split(images, labels, 0.2, seed=1)
    assert len(yv) == 20 and len(yt) == 80
    assert sorted(torch.cat([yt, yv]).tolist()) == list(range(100))
    assert torch.equal(xv.flatten().long(), yv)
    with pytest.raises(ValueError, match="fraction: expected a number > 0 and < 1"):
        data.split(images, labels, 1.5)
