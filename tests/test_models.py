import pytest
import torch

from coursekit import models


@pytest.mark.parametrize("make, shape", [
    (models.MnistCNN, (3, 1, 28, 28)),
    (models.A1Net, (3, 1, 28, 28)),
    (models.A2Net, (3, 3, 32, 32)),
    (lambda: models.ResNet9(width=8), (3, 3, 32, 32)),
])
def test_one_row_of_logits_per_image(make, shape):
    torch.manual_seed(0)
    model = make()
    assert model(torch.randn(*shape)).shape == (3, 10)
    assert model(torch.randn(1, *shape[1:])).shape == (1, 10)   # batch size is kept


def test_wrong_images_get_a_clear_error():
    with pytest.raises(ValueError, match=r"images: expected shape \(N, 1, 28, 28\), "
                                         r"got \(2, 3, 28, 28\)"):
        models.A1Net()(torch.zeros(2, 3, 28, 28))   # article A1's 3-channel MNIST
    with pytest.raises(ValueError, match=r"expected shape \(N, 3, 32, 32\), got \(2, 3, 16, 16\)"):
        models.A2Net()(torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"expected a \(N, C, H, W\) tensor, got \(3, 32, 32\)"):
        models.ResNet9(width=8)(torch.zeros(3, 32, 32))


def test_the_articles_flatten_sizes_are_fixed():
    assert models.A1Net().classifier[1].in_features == 64 * 3 * 3   # 28 -> 14 -> 7 -> 3
    assert models.A2Net().fc1.in_features == 128 * 4 * 4            # 32 -> 16 -> 8 -> 4


def test_residual_block_adds_its_input():
    block = models.Residual(4)
    for parameter in block.block.parameters():
        torch.nn.init.zeros_(parameter)                # the block now outputs 0 ...
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(block(x), x)                    # ... so x + 0 = x


def test_resnet18_offline_says_so_and_continues(monkeypatch, capsys):
    import torchvision.models.resnet as resnet

    def no_internet(self, *args, **kwargs):
        raise OSError("no internet")

    monkeypatch.setattr(resnet.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict",
                        no_internet)
    model, loaded = models.pretrained_resnet18(classes=10)
    assert loaded is False and model.fc.out_features == 10
    assert "Continuing WITHOUT them" in capsys.readouterr().out


def test_normalize_layer_matches_data_normalize():
    from coursekit import data

    images = torch.rand(4, 3, 5, 5)
    mean, std = data.channel_stats(images)
    assert torch.allclose(models.Normalize(mean, std)(images), data.normalize(images, mean, std))
