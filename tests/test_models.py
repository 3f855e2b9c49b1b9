import socket
import urllib.error

import numpy as np
import pytest
import torch
from torch import nn

from coursekit import models, train

CLASSIFIERS = [
    (models.MnistCNN, (3, 1, 28, 28)),
    (models.A1Net, (3, 1, 28, 28)),
    (models.A2Net, (3, 3, 32, 32)),
    (lambda: models.ResNet9(width=8), (3, 3, 32, 32)),
]


@pytest.mark.parametrize("make, shape", CLASSIFIERS)
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
    with pytest.raises(ValueError, match=r"images: expected a tensor \(N, C, H, W\), "
                                         r"got a float32 tensor of shape \(3, 32, 32\)"):
        models.ResNet9(width=8)(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match=r"images: expected at least 8x8 pixels"):
        models.ResNet9(width=8)(torch.zeros(1, 3, 4, 4))           # was an error inside torch


@pytest.mark.parametrize("make, shape", CLASSIFIERS)
def test_integer_images_are_refused_with_the_fix(make, shape):
    """uint8 images in 0..255 reached the first convolution: "expected scalar type Byte
    but found Float", from inside torch."""
    for dtype in (torch.uint8, torch.int64, torch.bool):
        with pytest.raises(TypeError, match=r"images: expected a float tensor .*"
                                            r"images.float\(\) / 255"):
            make()(torch.zeros(*shape, dtype=dtype))
    with pytest.raises(TypeError, match=r"images: expected a tensor .*got a ndarray"):
        make()(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("make, shape", CLASSIFIERS)
def test_layouts_and_float_dtypes_give_the_float32_logits(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    images = torch.rand(*shape)
    expected = model(images)
    torch.testing.assert_close(model(images.contiguous(memory_format=torch.channels_last)),
                               expected)
    torch.testing.assert_close(model(images.transpose(2, 3).contiguous().transpose(2, 3)),
                               expected)                               # a non-contiguous view
    torch.testing.assert_close(model(images.double()), expected)   # was an error inside torch
    half = images.half()
    torch.testing.assert_close(model(half), model(half.float()))


@pytest.mark.parametrize("make, kwargs, error, match", [
    (models.MnistCNN, {"width": True}, TypeError, "width: expected an int >= 1, got True"),
    (models.MnistCNN, {"classes": 0}, ValueError, "classes: expected an int >= 1, got 0"),
    (models.ResNet9, {"width": 8.0}, TypeError, "width: expected an int >= 1, got 8.0"),
    (models.A1Net, {"classes": 2.0}, TypeError, "classes: expected an int >= 1, got 2.0"),
    (models.A2Net, {"classes": -1}, ValueError, "classes: expected an int >= 1, got -1"),
    (models.Residual, {"channels": 0}, ValueError, "channels: expected an int >= 1, got 0"),
    (models.pretrained_resnet18, {"classes": 10, "pretrained": 1}, TypeError,
     "pretrained: expected True or False, got 1"),
])
def test_constructor_arguments(make, kwargs, error, match):
    with pytest.raises(error, match=match):
        make(**kwargs)


def test_numpy_ints_are_ints():
    model = models.MnistCNN(classes=np.int64(3), width=np.int32(4))
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 3)
    models.check_images(torch.zeros(1, 1, 28, 28), np.int64(1), np.int64(28))


def test_the_articles_flatten_sizes_are_fixed():
    assert models.A1Net().classifier[1].in_features == 64 * 3 * 3   # 28 -> 14 -> 7 -> 3
    assert models.A2Net().fc1.in_features == 128 * 4 * 4            # 32 -> 16 -> 8 -> 4


def test_residual_block_adds_its_input():
    block = models.Residual(4)
    for parameter in block.block.parameters():
        torch.nn.init.zeros_(parameter)                # the block now outputs 0 ...
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(block(x), x)                    # ... so x + 0 = x
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 4, H, W\), got \(2, 3, 5, 5\)"):
        block(torch.randn(2, 3, 5, 5))


def test_resnet18_offline_says_so_and_continues(monkeypatch, capsys):
    import torchvision.models.resnet as resnet

    def no_internet(self, *args, **kwargs):
        raise OSError("no internet")

    monkeypatch.setattr(resnet.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict",
                        no_internet)
    model, loaded = models.pretrained_resnet18(classes=10)
    assert loaded is False and model.fc.out_features == 10
    printed = " ".join(capsys.readouterr().out.split())
    assert "this cell skips the comparison" in printed
    assert "goes on with" not in printed


def test_normalize_layer_matches_data_normalize():
    from coursekit import data

    images = torch.rand(4, 3, 5, 5)
    mean, std = data.channel_stats(images)
    assert torch.allclose(models.Normalize(mean, std)(images), data.normalize(images, mean, std))
    by_hand = (images - mean[:, None, None]) / std[:, None, None]
    for same in (images.contiguous(memory_format=torch.channels_last), images.double()):
        torch.testing.assert_close(models.Normalize(mean.numpy(), std.tolist())(same).float(),
                                   by_hand)


def test_normalize_refuses_what_it_would_get_wrong():
    """uint8 images came out in 0..255 units minus a [0, 1] mean; a std of 0 gave inf."""
    layer = models.Normalize([0.5, 0.4], [0.2, 0.1])
    with pytest.raises(TypeError, match=r"images: expected a float tensor .*images.float\(\)"):
        layer(torch.full((1, 2, 3, 3), 200, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"images: expected 2 channels, \(N, 2, H, W\)"):
        layer(torch.rand(1, 3, 3, 3))
    with pytest.raises(ValueError, match=r"std: expected standard deviations > 0, "
                                         r"got \[0.2, 0.0\]"):
        models.Normalize([0.5, 0.4], [0.2, 0.0])
    with pytest.raises(ValueError, match=r"std: expected finite numbers"):
        models.Normalize([0.5], [float("nan")])
    with pytest.raises(ValueError, match=r"std: expected 2 numbers like mean"):
        models.Normalize([0.5, 0.4], [0.2])
    with pytest.raises(TypeError, match=r"mean: expected numbers, one per channel"):
        models.Normalize("0.5", [0.2])


def test_download_quietly_keeps_torch_hub_lines_off_the_notebook(capsys):
    import sys

    def make():
        sys.stdout.write('Downloading: "https://x" to /root/.cache/torch/hub/w.pth\n')
        sys.stderr.write("100%|##########| 44.7M/44.7M\n")
        return "model"

    assert models.download_quietly(make) == "model"
    printed = capsys.readouterr()
    assert "/root/" not in printed.out and "44.7M" not in printed.err


def test_mnist_cnn_without_batch_norm_has_biases_and_no_batch_norm():
    with_bn, without = models.MnistCNN(), models.MnistCNN(batch_norm=False)
    assert any(isinstance(m, nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in without.modules())
    convs = [m for m in without.modules() if isinstance(m, nn.Conv2d)]
    assert [c.bias is not None for c in convs] == [True, True]
    assert without(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_fit_with_amp_on_a_cpu_runs_in_bfloat16_and_learns():
    """amp=True on a CPU: bfloat16 autocast (the logits come out in bfloat16), and the
    loss still falls on a tiny problem."""
    torch.manual_seed(0)
    images, labels = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    model = models.MnistCNN(width=4)
    seen = []
    model.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    loader = [(images, labels)] * 8
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = train.fit(model, loader, optimizer, 2, "cpu", amp=True)
    assert seen[0] == torch.bfloat16
    assert history[-1]["loss"] < history[0]["loss"]


@pytest.mark.parametrize("error, reason", [
    (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
     "there is no internet connection here"),
    (urllib.error.HTTPError("https://x", 404, "Not Found", {}, None),
     "the server answered 404 (Not Found)"),
    (urllib.error.URLError(TimeoutError("timed out")), "the download timed out"),
    (ConnectionResetError(104, "Connection reset by peer"),
     "the connection to the server was refused or broken"),
    (OSError(28, "No space left on device"),
     "it could not be fetched or saved (no space left on device)"),
    (RuntimeError("File not found or corrupted."), "it could not be downloaded"),
])
def test_a_failed_download_is_said_in_a_readers_words(error, reason):
    said = models.download_failure(error)
    assert said.startswith(reason)
    assert "Error" not in said and "Errno" not in said and "urlopen" not in said


def test_download_failure_refuses_what_is_not_an_exception():
    with pytest.raises(TypeError, match="error: expected an exception, got"):
        models.download_failure("offline")


def test_offline_messages_quote_no_exception(monkeypatch, capsys):
    import torchvision.models.resnet as resnet

    def no_internet(self, *args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(resnet.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict",
                        no_internet)
    models.pretrained_resnet18(classes=10)
    printed = " ".join(capsys.readouterr().out.split())
    assert "could not be downloaded: there is no internet connection here" in printed
    assert "URLError" not in printed and "Errno" not in printed
