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
    with pytest.raises(ValueError, match="limit: expected a positive int or None, got 0"):
        data.as_tensors(test, limit=0)


def test_mnist_rejects_a_non_boolean_split():
    with pytest.raises(TypeError, match="train: expected True or False, got 'test'"):
        data.mnist(train="test")
