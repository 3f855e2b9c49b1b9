"""Chapter 2's receptive-field viewer: which input pixels one output unit of a stack of
layers sees, and the VGG-like stacks it is shown on.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from coursekit import viz
from coursekit._checks import check_int, describe
from coursekit.conv import _layer_spec, output_size, receptive_field, receptive_region
from coursekit.widgets.kernels import _as_image, sample_image
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, replay_html

# ---------------------------------------------------------------------------
# The receptive-field viewer
# ---------------------------------------------------------------------------

CONV3 = (3, 1, 1)  # a 3x3 convolution, stride 1, padding 1: keeps the size
POOL2 = (2, 2, 0)  # 2x2 max pooling, stride 2: halves the size


def layer_stack(convs_per_block: int, poolings: int) -> list[tuple[int, int, int]]:
    """A VGG-like stack as (kernel_size, stride, padding) per layer.

    ``poolings`` blocks of ``convs_per_block`` 3x3 convolutions followed by a 2x2
    pooling; with no pooling, just the convolutions.

    >>> layer_stack(2, 1)
    [(3, 1, 1), (3, 1, 1), (2, 2, 0)]
    """
    convs_per_block = check_int(convs_per_block, "convs_per_block", low=0)
    poolings = check_int(poolings, "poolings", low=0)
    if poolings == 0:
        return [CONV3] * convs_per_block
    return ([CONV3] * convs_per_block + [POOL2]) * poolings


def describe_stack(layers) -> str:
    """'conv3x3 conv3x3 pool2x2' for a stack of (kernel_size, stride, padding) layers,
    e.g. CONV3 and POOL2; a layer whose stride equals its kernel size is a pooling."""
    if not isinstance(layers, list | tuple):
        raise TypeError(f"layers: expected a list of (kernel_size, stride, padding), "
                        f"got {describe(layers)}")
    names = []
    for index, layer in enumerate(layers):
        kernel_size, stride, _ = _layer_spec(layer, index)
        kind = "pool" if stride == kernel_size else "conv"
        names.append(f"{kind}{kernel_size}x{kernel_size}")
    return " ".join(names) or "no layers"


class ReceptiveFieldViewer(ReplayWidget):
    """Pick a stack of layers and one output unit, see which input pixels it sees.

    Read the current state from ``layers`` (see ``layer_stack``), ``position`` (row,
    col of the unit), ``output_size`` (H_out, W_out), ``region`` (top, left, bottom,
    right: the pixels it sees, half-open) and ``field`` (its receptive field size).
    Change it through ``controls``: "convs" (3x3 convs per block), "poolings", "row", "col".
    """

    def __init__(self, image=None):
        self.image = sample_image("digit") if image is None else _as_image(image)
        H, W = self.image.shape
        self.controls = {
            "convs": widgets.IntSlider(value=2, min=0, max=3, description="3x3 convs"),
            "poolings": widgets.IntSlider(value=2, min=0, max=3, description="poolings"),
            "row": widgets.IntSlider(value=0, min=0, max=H - 1, description="unit row"),
            "col": widgets.IntSlider(value=0, min=0, max=W - 1, description="unit col"),
        }
        for name in ("convs", "poolings"):  # registered first: runs before the redraw
            self.controls[name].observe(self._resize_sliders, "value")
        self._resize_sliders()
        output = widgets.interactive_output(self._update, self.controls)
        c = self.controls
        self.widget = widgets.VBox([widgets.HBox([c["convs"], c["poolings"]]),
                                    widgets.HBox([c["row"], c["col"]]), output])

    def _resize_sliders(self, change=None):
        """Fit the unit sliders to the output size of the chosen stack.

        When the output size changes, the viewer moves to the centre unit.
        """
        layers = layer_stack(self.controls["convs"].value, self.controls["poolings"].value)
        H_out, W_out = output_size(layers, tuple(self.image.shape))
        for name, size in [("row", H_out), ("col", W_out)]:
            slider = self.controls[name]
            if slider.max != size - 1:
                slider.max = size - 1
                slider.value = (size - 1) // 2

    def _update(self, convs, poolings, row, col):
        """Recompute from the control values and draw (called on every change)."""
        self.layers = layer_stack(convs, poolings)
        self.output_size = output_size(self.layers, tuple(self.image.shape))
        if row >= self.output_size[0] or col >= self.output_size[1]:
            return  # a slider is being resized; its own update follows
        self.position = (row, col)
        self.region = receptive_region(self.layers, self.position, tuple(self.image.shape))
        self.field = receptive_field(self.layers)[-1].size if self.layers else 1
        fig = viz.show_receptive_field(self.image, self.layers, self.position,
                                       title=describe_stack(self.layers))
        display(fig)
        plt.close(fig)

    def replay(self) -> str:
        """The HTML replay: a VGG-like stack (2 convs per block, 3 poolings) grows layer
        by layer, following the centre unit; below it, a table of the stack."""
        stack = layer_stack(2, 3)
        size = tuple(self.image.shape)

        def draw(i):
            layers = stack[:i]
            H_out, W_out = output_size(layers, size)
            title = f"after {i} layers: {describe_stack(layers)}"
            viz.show_receptive_field(self.image, layers, (H_out // 2, W_out // 2),
                                     title=title, fig=fig)

        fig = plt.figure(figsize=(8, 4))
        animation = replay_html(fig, draw, len(stack) + 1, caption=LIVE_NOTE +
                                "the number of 3x3 convolutions per block, the number of "
                                "poolings and the output unit.")
        return animation + _stack_table(stack, size)


def _stack_table(layers, input_size) -> str:
    """An HTML table: after each layer, the output size, receptive field and jump."""
    rows = []
    for i, field in enumerate(receptive_field(layers)):
        H_out, W_out = output_size(layers[: i + 1], input_size)
        rows.append(f"<tr><td>{i + 1}</td><td>{describe_stack([layers[i]])}</td>"
                    f"<td>{H_out}x{W_out}</td><td>{field.size}</td><td>{field.jump}</td></tr>")
    header = ("<tr><th>layer</th><th>type</th><th>output</th><th>receptive field</th>"
              "<th>jump</th></tr>")
    return f'<table class="coursekit-table">{header}{"".join(rows)}</table>'


def receptive_field_viewer(image=None) -> ReceptiveFieldViewer:
    """The receptive-field viewer; image: your own (H, W) image, or None for a digit."""
    return ReceptiveFieldViewer(image)
