"""Tests for coursekit.widgets: kernels, images, the two widgets live and replayed."""

import doctest
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from coursekit import widgets  # noqa: E402
from coursekit.conv import receptive_region  # noqa: E402
from coursekit.widgets import (  # noqa: E402
    IMAGE_NAMES,
    KERNEL_NAMES,
    conv_explorer,
    describe_stack,
    layer_stack,
    named_kernel,
    parse_kernel,
    receptive_field_viewer,
    sample_image,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _conv(image, kernel):
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


def test_doctests():
    for module in (widgets.kernels, widgets.receptive_field):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# --- kernels ---------------------------------------------------------------------------


def test_named_kernels():
    assert KERNEL_NAMES == ("identity", "box blur", "gaussian blur", "sharpen", "sobel x",
                            "sobel y", "laplacian")
    for name in KERNEL_NAMES:
        kernel = named_kernel(name)
        assert kernel.shape == (3, 3) and kernel.dtype == torch.float32
    for name in ("identity", "box blur", "gaussian blur", "sharpen"):
        assert named_kernel(name).sum().item() == pytest.approx(1.0)  # keeps the brightness
    for name in ("sobel x", "sobel y", "laplacian"):
        assert named_kernel(name).sum().item() == 0.0  # flat regions give 0
    assert torch.equal(named_kernel("sobel y"), named_kernel("sobel x").T)
    assert torch.equal(named_kernel(" Sobel_X "), named_kernel("sobel x"))
    image = sample_image("digit")
    assert torch.equal(_conv(image, named_kernel("identity")), image[1:-1, 1:-1])


def test_kernels_do_what_their_names_say():
    ramp = sample_image("gradient", 10)  # brightness rises to the right
    assert (_conv(ramp, named_kernel("sobel x")) > 0).all()
    assert torch.allclose(_conv(ramp, named_kernel("sobel y")), torch.zeros(8, 8), atol=1e-6)
    assert torch.allclose(_conv(ramp, named_kernel("laplacian")), torch.zeros(8, 8), atol=1e-6)


def test_unknown_kernel_lists_the_names():
    with pytest.raises(ValueError, match=r"kernel: unknown name 'blur'; expected one of "
                                         r"'identity', 'box blur', .*'laplacian'"):
        named_kernel("blur")
    with pytest.raises(ValueError, match=r"kernel: unknown name 'edges'; .*'custom'"):
        conv_explorer(kernel="edges")


def test_parse_kernel():
    assert parse_kernel("1 2 3\n4 5 6\n7 8 9").tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert torch.equal(parse_kernel("0,-1,0; -1,5,-1; 0,-1,0"), named_kernel("sharpen"))
    assert parse_kernel("1e-1 0 0 0 0 0 0 0 -.5")[2, 2].item() == -0.5
    with pytest.raises(ValueError, match=r"custom kernel: expected 9 numbers \(3x3, row by row\), "
                                         r"got 4 in '1 2 3 4'"):
        parse_kernel("1 2 3 4")
    with pytest.raises(ValueError, match=r"custom kernel: expected 9 numbers .*got '1 2 x'"):
        parse_kernel("1 2 x")
    with pytest.raises(TypeError, match=r"custom kernel: expected a string of 9 numbers"):
        parse_kernel([1, 2, 3])


# --- images ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", IMAGE_NAMES)
@pytest.mark.parametrize("size, shape", [(28, (28, 28)), ((20, 32), (20, 32))])
def test_sample_images(name, size, shape):
    image = sample_image(name, size)
    assert image.shape == shape and image.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1 and image.max() > image.min()
    assert torch.equal(image, sample_image(name, size))  # no randomness


def test_sample_images_look_right():
    digit = sample_image("digit")
    ink = (digit > 0.5).float().mean().item()
    assert 0.08 < ink < 0.3  # a stroke, like an MNIST digit (about 19% ink)
    assert digit[0].sum() == 0 and digit[:, 0].sum() == 0  # a clear border
    board = sample_image("checkerboard")
    assert board[0, 0] != board[0, 4] and board[0, 0] == board[4, 4]
    ramp = sample_image("gradient")
    assert (ramp[:, 1:] > ramp[:, :-1]).all() and ramp[0, 0] == 0 and ramp[0, -1] == 1
    square = sample_image("square")
    assert square[14, 14] == 1 and square[0, 0] == 0


def test_sample_image_errors():
    with pytest.raises(ValueError, match=r"image: unknown name 'cat'; expected one of "
                                         r"'digit', 'checkerboard', 'gradient', 'square'"):
        sample_image("cat")
    with pytest.raises(ValueError, match=r"size: expected an int >= 3 or a pair \(H, W\)"):
        sample_image("digit", 2)


# --- layer stacks ----------------------------------------------------------------------


def test_layer_stack_and_description():
    assert layer_stack(0, 0) == []
    assert layer_stack(3, 0) == [(3, 1, 1)] * 3
    assert layer_stack(1, 2) == [(3, 1, 1), (2, 2, 0)] * 2
    assert describe_stack(layer_stack(2, 1)) == "conv3x3 conv3x3 pool2x2"
    assert describe_stack([]) == "no layers"
    with pytest.raises(ValueError, match=r"poolings: expected an int >= 0, got -1"):
        layer_stack(2, -1)


# --- the convolution explorer ----------------------------------------------------------


def test_conv_explorer_updates_when_controls_change():
    explorer = conv_explorer()
    digit = sample_image("digit")
    assert torch.equal(explorer.image, digit)
    assert torch.equal(explorer.feature_map, _conv(digit, named_kernel("sobel x")))
    assert explorer.feature_map.shape == (26, 26)
    assert explorer.position == (13, 13)

    explorer.controls["kernel"].value = "gaussian blur"
    assert torch.equal(explorer.feature_map, _conv(digit, named_kernel("gaussian blur")))
    explorer.controls["image"].value = "checkerboard"
    assert torch.equal(explorer.feature_map,
                       _conv(sample_image("checkerboard"), named_kernel("gaussian blur")))
    explorer.controls["row"].value = 3
    explorer.controls["col"].value = 20
    assert explorer.position == (3, 20)

    explorer.controls["custom"].value = "1 0 0 0 0 0 0 0 -1"
    explorer.controls["kernel"].value = "custom"
    assert torch.equal(explorer.kernel, parse_kernel("1 0 0 0 0 0 0 0 -1"))
    before = explorer.feature_map
    explorer.controls["custom"].value = "1 2 3"  # not 9 numbers: a message, the old state kept
    assert explorer.message.startswith("custom kernel: expected 9 numbers")
    assert explorer.feature_map is before
    explorer.controls["custom"].value = "0 0 0 0 2 0 0 0 0"
    assert explorer.message == ""
    assert torch.equal(explorer.feature_map, 2 * sample_image("checkerboard")[1:-1, 1:-1])
    assert plt.get_fignums() == []  # every live figure was shown and closed


def test_conv_explorer_with_your_image():
    image = torch.rand(1, 1, 12, 16)
    explorer = conv_explorer(image, kernel="laplacian")
    assert explorer.controls["image"].options[0] == "your image"
    assert torch.equal(explorer.image, image[0, 0])
    assert explorer.feature_map.shape == (10, 14)
    assert explorer.controls["row"].max == 9 and explorer.controls["col"].max == 13
    assert explorer.images["digit"].shape == (12, 16)  # the built-ins fit your image's size
    with pytest.raises(ValueError, match=r"image: expected a grayscale image \(H, W\), .*"
                                         r"got shape \(3, 28, 28\)"):
        conv_explorer(torch.rand(3, 28, 28))
    with pytest.raises(TypeError, match=r"image: expected a torch.Tensor \(H, W\), got list"):
        conv_explorer([[0.0]])


def _frame_count(html):
    declared = int(re.search(r"var frames = new Array\((\d+)\)", html).group(1))
    assert len(re.findall(r'frames\[\d+\] = "data:image/png;base64,', html)) == declared
    return declared


def _check_offline(html):
    assert "http" not in html  # no script, stylesheet or image from the web
    assert 'class="fa' not in html  # no Font Awesome icons (their CSS would come from a CDN)
    assert "precomputed replay" in html and "Colab or Jupyter" in html
    assert len(html) < 1_500_000


def test_conv_explorer_mimebundle():
    figures_before = plt.get_fignums()
    bundle = conv_explorer()._repr_mimebundle_()
    assert plt.get_fignums() == figures_before  # no stray static figure
    assert WIDGET_VIEW in bundle and "model_id" in bundle[WIDGET_VIEW]
    assert bundle["text/plain"].startswith("VBox(")
    html = bundle["text/html"]
    assert _frame_count(html) == 13
    assert html.count('<img src="data:image/png;base64,') == 1  # the grid of all kernels
    _check_offline(html)


# --- the receptive-field viewer --------------------------------------------------------


def test_receptive_field_viewer_updates_when_controls_change():
    viewer = receptive_field_viewer()
    assert viewer.layers == layer_stack(2, 2)
    assert viewer.output_size == (7, 7) and viewer.position == (3, 3)
    assert viewer.field == 16
    assert viewer.region == receptive_region(viewer.layers, (3, 3), (28, 28)) == (6, 6, 22, 22)

    viewer.controls["poolings"].value = 3  # 28 -> 14 -> 7 -> 3: A1's 3x3, not 4x4
    assert viewer.output_size == (3, 3) and viewer.position == (1, 1)
    assert viewer.controls["row"].max == 2
    assert viewer.field == 36 and viewer.region == (0, 0, 28, 28)

    viewer.controls["col"].value = 0
    assert viewer.region == receptive_region(layer_stack(2, 3), (1, 0), (28, 28))

    viewer.controls["convs"].value = 3  # same output size: the unit stays where it is
    assert viewer.position == (1, 0) and viewer.field == 50

    viewer.controls["poolings"].value = 0
    viewer.controls["convs"].value = 1
    assert viewer.output_size == (28, 28) and viewer.position == (13, 13)
    assert viewer.field == 3 and viewer.region == (12, 12, 15, 15)
    viewer.controls["convs"].value = 0
    assert viewer.field == 1 and viewer.region == (13, 13, 14, 14)
    assert plt.get_fignums() == []


def test_receptive_field_viewer_with_your_image():
    viewer = receptive_field_viewer(torch.rand(40, 24))
    assert viewer.output_size == (10, 6) and viewer.position == (4, 2)
    with pytest.raises(ValueError, match=r"image: expected a grayscale image"):
        receptive_field_viewer(torch.rand(2, 8, 8))


def test_receptive_field_viewer_mimebundle():
    figures_before = plt.get_fignums()
    bundle = receptive_field_viewer()._repr_mimebundle_()
    assert plt.get_fignums() == figures_before
    assert WIDGET_VIEW in bundle and "text/plain" in bundle
    html = bundle["text/html"]
    assert _frame_count(html) == 10  # no layers, then one more layer per frame: 9 layers
    assert html.count("<tr>") == 1 + 9  # the table: a header and one row per layer
    assert "<td>3x3</td><td>36</td><td>8</td>" in html  # the last layer
    _check_offline(html)


def test_the_phone_layout_reaches_every_part_of_a_replay():
    """book/_static/custom.css lays replays out for a 390 px screen (checked by eye with
    headless Chromium); its rules name the classes of matplotlib's to_jshtml page: this
    fails if a matplotlib release renames one, instead of the phone layout going quietly."""
    from coursekit.widgets.replay import replay_html
    from tests.conftest import ROOT

    fig = plt.figure(figsize=(2, 1))
    html = replay_html(fig, lambda i: None, 2, "a caption")
    css = (ROOT / "book" / "_static" / "custom.css").read_text()
    narrow = re.search(r"@media \(max-width: (\d+)px\) \{(.*?)\n\}", css, re.S)
    assert narrow and int(narrow[1]) >= 390, "no narrow-screen rule for replays"
    for part in ("animation", "anim-controls", "anim-slider", "anim-buttons"):
        assert f'class="{part}"' in html, f"matplotlib's replay has no {part!r} any more"
        assert f".coursekit-replay .{part}" in narrow[2] or (
            f".coursekit-replay input[type=range].{part}" in narrow[2]), part
    assert html.startswith('<div class="coursekit-replay">')
