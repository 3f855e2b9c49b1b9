"""coursekit.viz's segmentation figures and the prediction browser (chapters 4 and 5)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from coursekit import metrics, viz  # noqa: E402
from coursekit.prediction_browser import Frame, PredictionBrowser  # noqa: E402
from tests import shapes  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_palette_is_fixed_and_background_uncoloured():
    colours = viz.class_colours(11)
    assert colours.shape == (11, 3) and tuple(colours[0]) == (0, 0, 0)
    assert tuple(colours[1]) == to_rgb("#E69F00")      # Okabe-Ito orange, always class 1
    assert len({tuple(c) for c in colours}) == 11      # all distinct
    with pytest.raises(ValueError, match="num_classes: the palette has colours for up to 11"):
        viz.class_colours(12)


def test_mask_overlay_tints_only_labelled_pixels():
    image = torch.full((1, 4, 4), 0.5)
    mask = torch.zeros(4, 4, dtype=torch.long)
    mask[0, 0], mask[1, 1] = 2, 255
    out = viz.mask_overlay(image, mask, 3, alpha=1.0, ignore_index=255)
    assert out.shape == (4, 4, 3)
    assert np.allclose(out[0, 0], to_rgb(viz.SEGMENTATION_PALETTE[1]))   # class 2
    assert np.allclose(out[1, 1], 1.0)                                   # ignored: white
    assert np.allclose(out[2, 2], out[3, 3])                             # background: grey
    with pytest.raises(ValueError, match=r"mask: expected class indices in 0..2, found values"):
        viz.mask_overlay(image, mask.clamp(max=5), 3)
    uint8 = viz.mask_overlay(image, mask.to(torch.uint8), 3, alpha=1.0, ignore_index=255)
    assert np.array_equal(uint8, out)                                    # PNG masks: uint8
    with pytest.raises(TypeError, match="mask: expected an integer mask"):
        viz.mask_overlay(image, mask.float(), 3)


def test_show_segmentation_columns_errors_and_legend():
    images, masks = shapes.make_shapes(3, 24, seed=0)
    predictions = masks.clone()
    predictions[0, :6] = 1                       # row 0 has errors, rows 1 and 2 none
    fig = viz.show_segmentation(images, masks, predictions, shapes.CLASS_NAMES)
    assert len(fig.axes) == 12                    # 3 rows x (input, truth, prediction, errors)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["input", "truth", "prediction"]
    wrong = (predictions[0] != masks[0]).float().mean().item()
    assert titles[3] == f"errors ({1 - wrong:.1%} right)" and titles[7] == "errors (100.0% right)"
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["circle", "square", "triangle"]
    assert len(viz.show_segmentation(images, masks, class_names=shapes.CLASS_NAMES).axes) == 6
    with pytest.raises(ValueError, match=r"truths: expected one mask per image \(3\), got 2"):
        viz.show_segmentation(images, masks[:2], class_names=shapes.CLASS_NAMES)


def test_show_class_errors_colours_and_iou():
    truth = torch.zeros(6, 6, dtype=torch.long)
    truth[:3] = 1
    prediction = torch.zeros(6, 6, dtype=torch.long)
    prediction[1:4] = 1              # rows 1-2 found, row 0 missed, row 3 wrongly claimed
    fig = viz.show_class_errors(truth, prediction, ("background", "thing"))
    (ax,) = [a for a in fig.axes if a.get_images()]
    assert ax.get_title() == "thing: IoU 0.50"
    picture = ax.get_images()[0].get_array()
    assert np.allclose(picture[0, 0], to_rgb(viz.ERROR_COLOURS["missed"]))
    assert np.allclose(picture[1, 0], to_rgb(viz.ERROR_COLOURS["right"]))
    assert np.allclose(picture[3, 0], to_rgb(viz.ERROR_COLOURS["extra"]))
    assert np.allclose(picture[5, 0], 1.0)
    batch = viz.show_class_errors(truth[None].repeat(2, 1, 1), prediction[None].repeat(2, 1, 1),
                                  ("background", "thing"))
    assert [a for a in batch.axes if a.get_images()][0].get_images()[0].get_array().shape[:2] \
        == (6, 12)


def test_show_predictions_names_each_model():
    images, masks = shapes.make_shapes(1, 16, seed=1)
    fig = viz.show_predictions(images[0], masks[0], {"perfect": masks[0],
                                                      "empty": torch.zeros_like(masks[0])},
                               shapes.CLASS_NAMES)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "input" and titles[2].startswith("perfect\n100.0% px, mIoU 1.00")
    assert titles[3].startswith("empty\n")


def test_prediction_browser_live_and_replayed():
    images, masks = shapes.make_shapes(3, 16, seed=2)
    frames = [Frame(images[i], masks[i], {"model": masks[i]}, f"frame {i}") for i in range(3)]
    browser = PredictionBrowser(frames, shapes.CLASS_NAMES, caption="the frame")
    browser.controls["frame"].value = 2
    assert browser.index == 2
    bundle = browser._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    html = bundle["text/html"]
    assert html.count("data:image/png;base64") == 3 and "the frame" in html
    with pytest.raises(ValueError, match="frames: expected at least one Frame"):
        PredictionBrowser([], shapes.CLASS_NAMES)


def test_prediction_browser_can_paint_one_flat_colour_per_class_in_readable_frames():
    """Chapter 4's replay (s13 read): off the ink, mask_overlay's default darkening turned
    a predicted 3 (yellow) into the olive of class 9, and the 72-dpi frames' 9-point
    titles showed at 6 points in the column. PredictionBrowser(panel, fontsize, alpha)
    now sizes the frames and paints each class in its own colour on ink and off it."""
    image = torch.zeros(1, 8, 8)
    image[0, :, :4] = 1.0                               # ink on the left half only
    truth = torch.zeros(8, 8, dtype=torch.long)
    truth[:, :4] = 3
    predicted = torch.full((8, 8), 3, dtype=torch.long)   # also claims the dark half
    names = [str(c) for c in range(11)]
    browser = PredictionBrowser([Frame(image, truth, {"FCN-8s": predicted}, "a scene")],
                                names, panel=1.9, fontsize=12, alpha=1.0)
    fig = browser.draw(0)
    assert np.allclose(fig.get_size_inches()[0], 3 * 1.9)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert all(ax.title.get_fontsize() == 12 for ax in shown)
    painted = shown[2].get_images()[0].get_array()
    three = to_rgb(viz.SEGMENTATION_PALETTE[2])
    assert np.allclose(painted[0, 0], three) and np.allclose(painted[0, 7], three)
    # the default is unchanged: the prediction off the ink darkened to 0.6 of the colour
    default = [ax for ax in PredictionBrowser(browser.frames, names).draw(0).axes
               if ax.get_images()]
    assert default[2].title.get_fontsize() == 9
    assert np.allclose(default[2].get_images()[0].get_array()[0, 7], 0.6 * np.array(three))
    with pytest.raises(ValueError, match="alpha"):
        PredictionBrowser(browser.frames, names, alpha=1.5)


def test_show_predictions_breaks_titles_to_their_panel():
    image, truth = torch.rand(1, 8, 8), torch.ones(8, 8, dtype=torch.long)
    names = ("background", "thing")
    narrow = viz.show_predictions(image, truth, {"net": truth}, names, panel=1.9,
                                  fontsize=12)
    assert narrow.axes[2].get_title() == "net\n100.0% px\nmIoU 1.00"
    wide = viz.show_predictions(image, truth, {"net": truth}, names)
    assert wide.axes[2].get_title() == "net\n100.0% px, mIoU 1.00"


def test_figures_read_their_scores_off_the_metrics_confusion_matrix():
    """show_predictions' and show_class_errors' figures: uint8 masks of 11 classes and
    ignored pixels give the numbers coursekit.metrics gives."""
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(11, (16, 16), generator=g)
    guess = torch.where(torch.rand(16, 16, generator=g) < 0.7, truth,
                        torch.randint(11, (16, 16), generator=g))
    truth[:4] = 255
    cm = metrics.confusion_matrix(guess, truth, 11, ignore_index=255)
    names = [str(c) for c in range(11)]
    fig = viz.show_predictions(torch.rand(1, 16, 16), truth.to(torch.uint8),
                               {"model": guess.to(torch.uint8)}, names, ignore_index=255)
    title = fig.axes[2].get_title()
    assert f"{metrics.pixel_accuracy(cm):.1%} px" in title
    assert f"mIoU {metrics.mean_iou(cm):.2f}" in title
    fig = viz.show_class_errors(truth, guess, names, classes=[3], ignore_index=255)
    assert fig.axes[0].get_title() == f"3: IoU {metrics.iou_per_class(cm)[3]:.2f}"


def test_mask_overlay_keeps_each_class_in_one_hue():
    """Issue 13: the colour was mixed with the image's grey, so a class showed light on ink
    and dark on the background: two hues. Now only the brightness follows the image."""
    import colorsys

    image = torch.zeros(1, 2, 4)
    image[0, 0] = 1.0                                    # top row white ink, bottom black
    mask = torch.ones(2, 4, dtype=torch.long)            # every pixel class 1
    out = viz.mask_overlay(image, mask, 2)
    hues = {round(colorsys.rgb_to_hsv(*pixel)[0], 6) for pixel in out.reshape(-1, 3)}
    saturations = {round(colorsys.rgb_to_hsv(*pixel)[1], 6) for pixel in out.reshape(-1, 3)}
    assert len(hues) == 1 and len(saturations) == 1
    assert np.allclose(out[0, 0], to_rgb(viz.SEGMENTATION_PALETTE[0]))       # on white: itself
    assert np.allclose(out[1, 0], 0.6 * np.array(to_rgb(viz.SEGMENTATION_PALETTE[0])))


def test_the_legend_names_an_uncoloured_class_0_that_is_not_background():
    """Issue 13: ISBI's figures had a legend with 'cell interior' only; membrane, class 0,
    is left uncoloured and the legend now says so."""
    image = torch.rand(1, 8, 8)
    mask = (torch.rand(8, 8) > 0.5).long()
    fig = viz.show_segmentation(image[None], mask[None], class_names=("membrane", "cell"))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "membrane (not coloured)", "cell"]
