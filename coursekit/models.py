"""The course's classification networks, with their shapes checked.

- ``MnistCNN``: two conv blocks and a small classifier; >= 99 % on MNIST in two epochs.
- ``ResNet9``: a residual CIFAR-10 network (the DAWNBench "ResNet-9" plan, with a
  ``width`` knob: 64 for a GPU, 16-32 for a CPU budget).
- ``A1Net`` and ``A2Net``: the networks of two source articles, same layer plan, their
  bugs fixed (see the comments), so that chapter 3 can show before and after.
- ``Normalize``: per-channel normalisation as a first layer.
- ``pretrained_resnet18``: torchvision's ImageNet ResNet-18 for transfer learning, or, where
  its weights cannot be downloaded, a clear message and a randomly initialised one.
- ``pretrained_maskrcnn``: torchvision's COCO Mask R-CNN (chapter 9), the same way.

Every ``forward`` takes ``images: (N, C, H, W)`` of any float dtype (converted to the
weights' dtype; channels-last memory format too) and returns ``logits: (N, classes)``;
an image of the wrong shape or dtype gets an error naming what was expected (a single
image (C, H, W) needs its batch dimension: ``image[None]``; uint8 images in 0..255 need
``images.float() / 255``).
"""

import contextlib
import io
import textwrap

import torch
from torch import nn

from coursekit._checks import check_bool, check_finite, check_int, check_tensor, describe


def check_images(images, channels: int, size: int | None, name: str = "images") -> None:
    """Fail clearly unless ``images`` is a float (N, channels, size, size) tensor (any
    size if None). channels, size: ints >= 1."""
    channels = check_int(channels, "channels", low=1)
    if size is not None:
        size = check_int(size, "size", low=1)
    check_tensor(images, name, ndim=4, dims="(N, C, H, W)", kind="float")
    ok = images.shape[1] == channels and (size is None or images.shape[2:] == (size, size))
    if not ok:
        wanted = f"(N, {channels}, {size}, {size})" if size else f"(N, {channels}, H, W)"
        raise ValueError(f"{name}: expected shape {wanted}, got {tuple(images.shape)}")


def _like_weights(images: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """``images`` in the dtype of ``model``'s weights (float16 images into a float32 model)."""
    return images.to(next(model.parameters()).dtype)


class Normalize(nn.Module):
    """``(images - mean) / std`` per channel, as a layer, so a model takes raw [0, 1] images.

    mean, std: (C,) finite numbers (a sequence, array or tensor), std > 0. images:
    (N, C, H, W), any float dtype -> the same shape (float32, or float64 for float64).
    """

    def __init__(self, mean, std):
        super().__init__()
        mean, std = _channel_values(mean, "mean"), _channel_values(std, "std")
        if mean.shape != std.shape:
            raise ValueError(f"std: expected {len(mean)} numbers like mean, got {describe(std)}")
        if (std <= 0).any():
            raise ValueError(f"std: expected standard deviations > 0, got {std.tolist()}")
        self.register_buffer("mean", mean.float()[:, None, None])
        self.register_buffer("std", std.float()[:, None, None])

    def forward(self, images):
        channels = len(self.mean)
        check_tensor(images, "images", ndim=4, dims=f"(N, {channels}, H, W)", kind="float")
        if images.shape[1] != channels:
            raise ValueError(f"images: expected {channels} channels, (N, {channels}, H, W), "
                             f"got {describe(images)}")
        return (images - self.mean) / self.std


def _channel_values(values, name: str) -> torch.Tensor:
    """``values``: one finite number per channel, as a (C,) float64 tensor."""
    try:
        values = torch.as_tensor(values, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name}: expected numbers, one per channel, "
                        f"got {describe(values)}") from None
    if values.dim() != 1 or len(values) == 0:
        raise ValueError(f"{name}: expected a (C,) sequence of numbers, one per channel, "
                         f"got {describe(values)}")
    return check_finite(values, name)


def conv_bn(c_in: int, c_out: int, batch_norm: bool = True) -> nn.Sequential:
    """3x3 convolution (same size), batch norm, ReLU: (N, c_in, H, W) -> (N, c_out, H, W).

    c_in, c_out: ints >= 1. ``batch_norm=False`` (for ablations): convolution with a
    bias, then ReLU."""
    c_in, c_out = check_int(c_in, "c_in", low=1), check_int(c_out, "c_out", low=1)
    if not check_bool(batch_norm, "batch_norm"):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True))
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class MnistCNN(nn.Module):
    """A small CNN for 28x28 grey images: (N, 1, 28, 28) -> (N, 10) logits.

    conv 16 -> pool (14x14) -> conv 32 -> pool (7x7) -> flatten 32*7*7 -> 128 -> 10.
    classes, width: ints >= 1; ``batch_norm=False`` leaves batch norm out (an ablation).
    """

    def __init__(self, classes: int = 10, width: int = 16, batch_norm: bool = True):
        super().__init__()
        classes, width = check_int(classes, "classes", low=1), check_int(width, "width", low=1)
        batch_norm = check_bool(batch_norm, "batch_norm")
        self.features = nn.Sequential(
            conv_bn(1, width, batch_norm), nn.MaxPool2d(2),           # (N, w, 14, 14)
            conv_bn(width, 2 * width, batch_norm), nn.MaxPool2d(2),   # (N, 2w, 7, 7)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                 # (N, 2w * 7 * 7)
            nn.Linear(2 * width * 7 * 7, 128), nn.ReLU(inplace=True),
            nn.Linear(128, classes),
        )

    def forward(self, images):
        check_images(images, 1, 28)
        return self.classifier(self.features(_like_weights(images, self)))


class Residual(nn.Module):
    """``x + block(x)``: the block learns a correction to its input. channels: an int >= 1;
    x: (N, channels, H, W) -> the same shape."""

    def __init__(self, channels: int):
        super().__init__()
        channels = check_int(channels, "channels", low=1)
        self.block = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x):
        check_images(x, self.block[0][0].in_channels, None, name="x")
        x = _like_weights(x, self)
        return x + self.block(x)


class ResNet9(nn.Module):
    """A residual network for 32x32 colour images: (N, 3, 32, 32) -> (N, 10) logits.

    prep (w, 32x32) -> conv 2w, pool, residual (16x16) -> conv 4w, pool (8x8)
    -> conv 8w, pool, residual (4x4) -> global max pool -> linear. ``width`` w = 64
    is the GPU recipe (about 6.5 M parameters); 24 is the CPU recipe. Any image
    size of at least 8x8 works (the global max pool); classes, width: ints >= 1.
    """

    def __init__(self, classes: int = 10, width: int = 64):
        super().__init__()
        classes, width = check_int(classes, "classes", low=1), check_int(width, "width", low=1)
        w = width
        self.features = nn.Sequential(
            conv_bn(3, w),
            conv_bn(w, 2 * w), nn.MaxPool2d(2), Residual(2 * w),
            conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),
            conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),        # (N, 8w)
        )
        self.classifier = nn.Linear(8 * w, classes)
        self.scale = 0.125                                # smaller logits train better

    def forward(self, images):
        check_images(images, 3, None)
        if min(images.shape[2:]) < 8:
            raise ValueError(f"images: expected at least 8x8 pixels (three 2x2 poolings), "
                             f"got {describe(images)}")
        return self.classifier(self.features(_like_weights(images, self))) * self.scale


class CountNet(nn.Module):
    """How many of each class an image holds, read from the whole image:
    (N, in_channels, H, W) -> (N, max_count + 1, classes) logits.

    ``logits[n, j, c]`` scores "image n holds j digits of class c", j = 0..max_count.
    Train it with ``nn.CrossEntropyLoss`` on targets (N, classes) of counts (cross-entropy
    takes the class dimension second, then any further dimensions); the predicted counts
    are ``logits.argmax(1)``. ResNet9's layers, ending in a global *average* pool: a count
    needs how much of a feature there is, which a global max pool (ResNet9's) throws away.
    Any image of at least 8x8 pixels; max_count, classes, width, in_channels: ints >= 1.
    """

    def __init__(self, max_count: int = 5, classes: int = 10, width: int = 16,
                 in_channels: int = 1):
        super().__init__()
        self.max_count = check_int(max_count, "max_count", low=1)
        self.classes = check_int(classes, "classes", low=1)
        self.in_channels = check_int(in_channels, "in_channels", low=1)
        w = check_int(width, "width", low=1)
        self.features = nn.Sequential(
            conv_bn(self.in_channels, w),
            conv_bn(w, 2 * w), nn.MaxPool2d(2), Residual(2 * w),
            conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),
            conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),        # (N, 8w)
        )
        self.classifier = nn.Linear(8 * w, (self.max_count + 1) * self.classes)

    def forward(self, images):
        check_images(images, self.in_channels, None)
        if min(images.shape[2:]) < 8:
            raise ValueError(f"images: expected at least 8x8 pixels (three 2x2 poolings), "
                             f"got {describe(images)}")
        logits = self.classifier(self.features(_like_weights(images, self)))
        return logits.view(len(images), self.max_count + 1, self.classes)


class A1Net(nn.Module):
    """Source article A1's MNIST network, fixed: (N, 1, 28, 28) -> (N, 10).

    Its bugs: images loaded as 3 channels into a 1-channel network (here: 1 channel,
    checked), and a flatten of 64*4*4 after three 2x2 poolings of 28x28, which give
    28 -> 14 -> 7 -> 3, so 64*3*3.
    """

    def __init__(self, classes: int = 10):
        super().__init__()
        classes = check_int(classes, "classes", low=1)
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14x14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 3x3 (not 4x4)
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(),
                                        nn.Linear(128, classes))

    def forward(self, images):
        check_images(images, 1, 28)
        return self.classifier(self.features(_like_weights(images, self)))


class A2Net(nn.Module):
    """Source article A2's CIFAR-10 network, fixed: (N, 3, 32, 32) -> (N, 10) logits.

    Its bugs: ``x.view(-1, 128)`` after three poolings of 32x32 (128 x 4 x 4 values per
    image) turned a batch of N into 16 N rows; here ``flatten(1)`` keeps N rows of 2048.
    And a ReLU on the logits before ``nll_loss``: here the logits stay raw, for
    ``cross_entropy``.
    """

    def __init__(self, classes: int = 10):
        super().__init__()
        classes = check_int(classes, "classes", low=1)
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 16x16
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x8
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 4x4
        )
        self.fc1 = nn.Linear(128 * 4 * 4, 256)
        self.fc2 = nn.Linear(256, classes)

    def forward(self, images):
        check_images(images, 3, 32)
        images = _like_weights(images, self)
        x = self.features(images).flatten(1)              # (N, 2048), not view(-1, 128)
        return self.fc2(torch.relu(self.fc1(x)))          # raw logits: no ReLU here


def download_quietly(make):
    """``make()``, a torchvision constructor that may download weights, with what torch.hub
    prints meanwhile (a "Downloading ... to <cache folder>" line on stdout, a progress bar
    on stderr) kept off the notebook: the line names this machine's folders. The download
    (a few seconds in Colab) happens as usual; errors come through unchanged."""
    if not callable(make):
        raise TypeError(f"make: expected a function that builds the model, got {describe(make)}")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return make()


def download_failure(error: BaseException) -> str:
    """Why a download failed, in a reader's words (no exception text): "there is no
    internet connection here", "the server answered 404", "it timed out", ..."""
    import socket
    import urllib.error

    if not isinstance(error, BaseException):
        raise TypeError(f"error: expected an exception, got {describe(error)}")
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(error, urllib.error.HTTPError):
        return f"the server answered {error.code} ({error.msg or 'no reason given'})"
    if isinstance(cause, socket.gaierror):
        return "there is no internet connection here (the server's name could not be looked up)"
    if isinstance(cause, TimeoutError | socket.timeout):
        return "the download timed out"
    if isinstance(cause, ConnectionError):
        return "the connection to the server was refused or broken"
    if isinstance(cause, OSError) and cause.strerror:
        return f"it could not be fetched or saved ({cause.strerror.lower()})"
    return "it could not be downloaded"


def _pretrained_or_random(name: str, make_pretrained, make_random, pretrained: bool,
                         caveat: str = "", then: str = "") -> tuple[nn.Module, bool]:
    """(model, loaded): ``make_pretrained()`` (downloading its weights, quietly) when
    ``pretrained`` and the weights can be had, else ``make_random()``, after a message
    that says why and what the notebook does without them (offline, no internet):
    ``then``, a sentence, where given, else that the cell goes on with the random one."""
    if pretrained:
        try:
            return download_quietly(make_pretrained), True
        except Exception as error:  # no internet: URLError, socket errors, ...
            then = then or (f"This cell goes on with a randomly initialised {name} "
                            f"instead{', ' + caveat if caveat else ''}.")
            message = (f"The pretrained {name} weights could not be downloaded: "
                       f"{download_failure(error)}. {then} In "
                       "Colab (online) the weights download by themselves.")
            print(textwrap.fill(message, width=88))       # the book's column
    return make_random(), False


def pretrained_resnet18(classes: int = 10, pretrained: bool = True) -> tuple[nn.Module, bool]:
    """torchvision's ResNet-18 with a new ``classes``-way last layer; (model, loaded).

    With ``pretrained`` it loads the ImageNet weights (downloaded once, e.g. in Colab).
    Where they cannot be had (offline) it says so, and that the cell skips the comparison
    that needs them; it then returns a randomly initialised network with ``loaded =
    False``, for the cell to test. classes: an int >= 1; pretrained: True or False.
    """
    classes = check_int(classes, "classes", low=1)
    check_bool(pretrained, "pretrained")
    from torchvision.models import ResNet18_Weights, resnet18

    model, loaded = _pretrained_or_random(
        "ResNet-18", lambda: resnet18(weights=ResNet18_Weights.IMAGENET1K_V1),
        lambda: resnet18(weights=None), pretrained,
        then="Without them there is nothing to transfer, so this cell skips the "
             "comparison that needs them.")
    model.fc = nn.Linear(model.fc.in_features, classes)
    return model, loaded


def pretrained_maskrcnn(pretrained: bool = True, version: int = 2) -> tuple[nn.Module, bool]:
    """torchvision's Mask R-CNN (ResNet-50 with FPN), trained on COCO; (model, loaded).

    version: 2 (``maskrcnn_resnet50_fpn_v2``, the improved recipe: COCO val2017 mask AP
    41.8, box AP 47.4) or 1 (``maskrcnn_resnet50_fpn``, the paper's recipe: 34.6 and
    37.9, about 2.5 times fewer operations). With ``pretrained`` it loads the COCO
    weights (about 170 MB, downloaded once, e.g. in Colab; 91 category slots, names in
    ``weights.meta["categories"]``). Where they cannot be had (offline) it says so and
    returns the same network randomly initialised with ``loaded = False``: it runs, but
    finds nothing meaningful. The model is in eval mode. pretrained: True or False.
    """
    check_bool(pretrained, "pretrained")
    version = check_int(version, "version", low=1, high=2)
    from torchvision.models import detection

    make, weights = ((detection.maskrcnn_resnet50_fpn_v2,
                      detection.MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1) if version == 2
                     else (detection.maskrcnn_resnet50_fpn,
                           detection.MaskRCNN_ResNet50_FPN_Weights.COCO_V1))
    model, loaded = _pretrained_or_random(   # random: no backbone weights either
        "Mask R-CNN", lambda: make(weights=weights),
        lambda: make(weights=None, weights_backbone=None,
                     num_classes=len(weights.meta["categories"])),
        pretrained, then="It returns a randomly initialised Mask R-CNN instead "
        "(loaded = False), which finds nothing meaningful: test loaded before using it.")
    return model.eval(), loaded
