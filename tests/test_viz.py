"""Tests for coursekit.viz: which shapes are drawn, what the figures contain."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from coursekit import viz  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def no_files_left(tmp_path, monkeypatch):
    """Drawing must not write files: run in an empty folder and check it stays empty."""
    monkeypatch.chdir(tmp_path)
    yield
    assert list(tmp_path.iterdir()) == []


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images()]


# --- show_images -----------------------------------------------------------------------


@pytest.mark.parametrize("images, n", [
    (torch.rand(5, 1, 8, 8), 5),
    (torch.rand(3, 3, 8, 8), 3),
    (torch.rand(4, 8, 8), 4),               # (N, H, W)
    (torch.rand(8, 8), 1),                  # one image
    ([torch.rand(8, 8), torch.rand(3, 6, 6), torch.rand(1, 5, 5)], 3),
    ([np.random.rand(8, 8, 3), np.zeros((4, 4), dtype=np.uint8)], 2),  # channels last, uint8
    (torch.randn(2, 3, 8, 8) * 3, 2),       # normalised RGB, stretched to [0, 1]
])
def test_show_images_accepts_shapes(images, n):
    fig = viz.show_images(images)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == n == len(_image_axes(fig))
    for ax in fig.axes:
        array = ax.get_images()[0].get_array()
        assert array.ndim == 2 or array.shape[2] == 3


def test_show_images_grid_labels_and_title():
    fig = viz.show_images(torch.rand(10, 1, 8, 8), labels=torch.arange(10), ncols=4,
                          title="ten digits")
    assert len(fig.axes) == 10  # the two unused cells of the 3x4 grid are removed
    assert [ax.get_title() for ax in fig.axes] == [str(i) for i in range(10)]
    assert fig.get_suptitle() == "ten digits"
    rows = sorted({round(ax.get_position().y0, 3) for ax in fig.axes})
    cols = sorted({round(ax.get_position().x0, 3) for ax in fig.axes})
    assert (len(rows), len(cols)) == (3, 4)
    fig = viz.show_images([torch.rand(4, 4)] * 2, labels=["cat", "dog"], ncols=8)
    assert [ax.get_title() for ax in fig.axes] == ["cat", "dog"]
    assert len({round(ax.get_position().y0, 3) for ax in fig.axes}) == 1


def test_show_images_captions_stay_readable_in_the_column():
    """A grid wider than the book's column is shrunk to it: its captions are made larger
    so that they show at CAPTION_POINTS there; two-line captions get room for two."""
    from coursekit.viz import pictures

    for ncols in (2, 4, 8, 16):
        fig = viz.show_images(torch.rand(16, 1, 8, 8), labels=["a\nb"] * 16, ncols=ncols)
        width = fig.get_figwidth()
        shown = min(1.0, pictures.COLUMN_INCHES / width)       # the shrink in the column
        for ax in fig.axes:
            assert ax.title.get_fontsize() * shown == pytest.approx(pictures.CAPTION_POINTS)
        fig.canvas.draw()
        for upper, lower in zip(fig.axes[:ncols], fig.axes[ncols:2 * ncols], strict=False):
            # a caption of the second row stays below the image above it
            assert lower.title.get_window_extent().y1 <= upper.get_window_extent().y0 + 1
        plt.close(fig)


def test_long_captions_are_wrapped_to_their_panel_and_do_not_touch():
    """Eight panels captioned "found [0, 5, 7, 8]" ran into each other once the
    captions were enlarged for the column (chapter 9b); they are wrapped instead."""
    captions = ["found [0, 5, 7, 8]", "true [2, 6, 7, 7]", "5", "a\nb"] * 2
    fig = viz.show_images(torch.rand(8, 1, 8, 8), labels=captions, ncols=8)
    fig.canvas.draw()
    boxes = [ax.title.get_window_extent() for ax in fig.axes]
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 <= right.x0, "two captions overlap"
    assert fig.axes[0].get_title().replace("\n", " ") == "found [0, 5, 7, 8]"
    assert fig.axes[3].get_title() == "a\nb"
    plt.close(fig)


def test_show_images_grayscale_scale():
    fig = viz.show_images([torch.full((4, 4), 0.5), torch.full((4, 4), 5.0)])
    first, second = (ax.get_images()[0] for ax in fig.axes)
    assert first.get_clim() == (0.0, 1.0)  # an image in [0, 1] keeps 0 black, 1 white
    assert second.get_clim() == (5.0, 5.0)  # others on their own range


@pytest.mark.parametrize("images, kwargs, error, match", [
    (torch.rand(2, 2, 8, 8), {}, ValueError,
     r"images\[0\]: expected an image \(H, W\), \(1, H, W\) or \(3, H, W\), got shape \(2, 8, 8\)"),
    (torch.rand(1, 1, 1, 8, 8), {}, ValueError,
     r"images: expected a tensor \(N, C, H, W\), \(N, H, W\) or \(H, W\), got shape"),
    ([], {}, ValueError, r"images: expected at least one image, got none"),
    ("cat.png", {}, TypeError, r"images: expected a tensor or a list of images, got str"),
    ([torch.rand(4, 4), "x"], {}, TypeError, r"images\[1\]: expected a tensor or array of numbers"),
    (torch.rand(3, 8, 8), {"labels": [1, 2]}, ValueError,
     r"labels: expected one label per image \(3\), got 2"),
    (torch.rand(3, 8, 8), {"ncols": 0}, ValueError, r"ncols: expected an int >= 1, got 0"),
])
def test_show_images_errors(images, kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.show_images(images, **kwargs)


# --- show_feature_maps -----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 5, 5), (1, 6, 5, 5)])
def test_show_feature_maps(shape):
    maps = torch.randn(*shape)
    maps[0, ...] *= 100  # a loud channel must not wash out the others
    fig = viz.show_feature_maps(maps, ncols=4, title="conv1")
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 6 and len(fig.axes) == 12     # each map with its own colour bar
    assert fig.get_suptitle() == "conv1"
    flat = maps.reshape(6, 5, 5)
    for index, ax in enumerate(panels):
        assert [t.get_text() for t in ax.texts] == [str(index)]
        low, high = ax.get_images()[0].get_clim()  # each map on its own colour scale
        assert (low, high) == pytest.approx((flat[index].min().item(), flat[index].max().item()))


def test_show_feature_maps_names_its_maps_and_shows_each_scale():
    """Issue 13: the maps had no colour bar, though each has a scale of its own."""
    maps = torch.randn(2, 5, 5)
    maps[1] *= 50
    fig = viz.show_feature_maps(maps, labels=["blur", "edges"])
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.texts[0].get_text() for ax in panels] == ["blur", "edges"]
    bars = [ax for ax in fig.axes if not ax.get_images()]
    assert len(bars) == 2
    assert bars[1].get_ylim()[1] > 10 * bars[0].get_ylim()[1]      # its own scale
    with pytest.raises(ValueError, match=r"labels: expected one label per map \(2\)"):
        viz.show_feature_maps(maps, labels=["one"])


def test_show_feature_maps_errors():
    with pytest.raises(ValueError, match=r"maps: expected a tensor \(C, H, W\) or \(1, C, H, W\), "
                                         r"got shape \(2, 4, 5, 5\); pick one image"):
        viz.show_feature_maps(torch.rand(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"got shape \(5, 5\)"):
        viz.show_feature_maps(torch.rand(5, 5))
    with pytest.raises(TypeError, match=r"maps: expected a tensor \(C, H, W\), got list"):
        viz.show_feature_maps([[1.0]])


# --- show_conv_step --------------------------------------------------------------------


def test_show_conv_step_contents():
    image = torch.arange(36.0).reshape(6, 6) / 36
    kernel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    fig = viz.show_conv_step(image, kernel, (1, 2))
    ax_image, ax_kernel, ax_products, ax_output = fig.axes
    expected = (image[1:4, 2:5] * kernel).sum().item()
    assert f"sum = {expected:.2f}" in ax_products.get_title()
    assert ax_output.get_title() == f"output 4x4: [1, 2] = {expected:.2f}"
    assert ax_image.get_title() == "input 6x6: rows 1..3, cols 2..4"
    assert [t.get_text() for t in ax_kernel.texts] == ["1", "0", "-1", "2", "0", "-2",
                                                       "1", "0", "-1"]
    assert len(ax_products.texts) == 9
    window = [p for p in ax_image.patches if isinstance(p, Rectangle)][0]
    assert (window.get_x(), window.get_y(), window.get_width()) == (1.5, 0.5, 3)
    pixel = ax_output.patches[0]
    assert (pixel.get_x(), pixel.get_y(), pixel.get_width()) == (1.5, 0.5, 1)


def test_show_conv_step_with_padding_and_reused_figure():
    image = torch.ones(5, 5)
    fig = viz.show_conv_step(image, torch.ones(3, 3), (0, 0), padding=1)
    assert fig.axes[3].get_title() == "output 5x5: [0, 0] = 4.00"  # a corner sees 4 ones
    again = viz.show_conv_step(image, torch.ones(3, 3), (2, 2), padding=1, fig=fig)
    assert again is fig and len(fig.axes) == 4
    assert fig.axes[3].get_title() == "output 5x5: [2, 2] = 9.00"


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((torch.rand(1, 8, 8), torch.rand(3, 3), (0, 0)), {}, ValueError,
     r"image: expected a 2-D tensor \(H, W\), got shape \(1, 8, 8\)"),
    ((torch.rand(8, 8), [[1.0]], (0, 0)), {}, TypeError, r"kernel: expected a torch.Tensor"),
    ((torch.rand(8, 8), torch.rand(3, 3), (6, 0)), {}, ValueError,
     r"position: expected \(row, col\) inside the 6x6 output, got \(6, 0\)"),
    ((torch.rand(8, 8), torch.rand(3, 3), 3), {}, ValueError, r"position: expected \(row, col\)"),
    ((torch.rand(2, 2), torch.rand(3, 3), (0, 0)), {}, ValueError,
     r"kernel: a 3x3 kernel is larger than the padded image 2x2"),
    ((torch.rand(8, 8), torch.rand(3, 3), (0, 0)), {"padding": -1}, ValueError,
     r"padding: expected an int >= 0, got -1"),
])
def test_show_conv_step_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.show_conv_step(*args, **kwargs)


# --- show_receptive_field --------------------------------------------------------------


def test_show_receptive_field_contents():
    layers = [(3, 1, 1), (3, 1, 1), (2, 2, 0)]
    fig = viz.show_receptive_field(torch.rand(28, 28), layers, (0, 6), title="block 1")
    ax_image, ax_output = fig.axes
    assert fig.get_suptitle() == "block 1"
    assert ax_output.get_title() == "output 14x14: unit (0, 6)"
    assert "unit sees 4x6 pixels" in ax_image.get_title()   # rows 0..3, cols 10..15
    assert "receptive field 6, jump 2" in ax_image.get_title()
    full, seen = ax_image.patches
    assert (full.get_y(), full.get_height()) == (-2.5, 6)     # reaches into the padding
    assert (seen.get_x(), seen.get_y(), seen.get_width(), seen.get_height()) == (9.5, -0.5, 6, 4)
    assert ax_image.get_ylim()[1] < -2.5  # the view shows the padding it reaches into


def test_show_receptive_field_no_layers_and_errors():
    fig = viz.show_receptive_field(torch.rand(8, 8), [], (3, 4))
    assert "unit sees 1x1 pixels" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match=r"position: expected \(row, col\) inside the 4x4 output"):
        viz.show_receptive_field(torch.rand(8, 8), [(2, 2)], (4, 0))
    with pytest.raises(ValueError, match=r"image: expected a 2-D tensor"):
        viz.show_receptive_field(torch.rand(1, 1, 8, 8), [(2, 2)], (0, 0))
