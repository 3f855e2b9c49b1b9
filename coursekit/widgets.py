"""Chapter 2's widgets: the convolution explorer and the receptive-field viewer.

Each widget lives in two places:

- **Live**, in Jupyter or Colab: ipywidgets controls (dropdowns, sliders) whose
  every change recomputes the figure.
- **Replayed**, in the rendered book, where no Python runs and the ipywidgets
  JavaScript is not loaded: a self-contained HTML slider over a few frames
  precomputed with ``matplotlib.animation`` (images inline, no script from the web).

A widget object carries both. Its ``_repr_mimebundle_`` hands Jupyter the live
widget view *and* the HTML replay; Jupyter and Colab show the live one, and the
book's configuration tells it to show the HTML.

The computation behind the widgets is plain functions, usable and tested without
any widget: ``named_kernel``, ``parse_kernel``, ``sample_image``, ``layer_stack``.
"""

import base64
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display
from matplotlib.animation import FuncAnimation

from coursekit import viz
from coursekit.conv import output_size, receptive_field, receptive_region

# ---------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------

KERNELS = {
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
    "box blur": ((1 / 9,) * 3,) * 3,
    "gaussian blur": ((1 / 16, 2 / 16, 1 / 16), (2 / 16, 4 / 16, 2 / 16), (1 / 16, 2 / 16, 1 / 16)),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "sobel x": ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)),     # brightness rising to the right
    "sobel y": ((-1, -2, -1), (0, 0, 0), (1, 2, 1)),     # brightness rising downwards
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),     # second derivative: edges, spots
}
"""The named 3x3 kernels, row by row. As in ``F.conv2d``, they are not flipped."""

KERNEL_NAMES = tuple(KERNELS)


def _lookup(name, names, what: str) -> str:
    """``name`` normalised ('Sobel_X' -> 'sobel x'), or an error listing ``names``."""
    key = name
    if isinstance(name, str):
        key = name.strip().lower().replace("_", " ").replace("-", " ")
    if key not in names:
        raise ValueError(f"{what}: unknown name {name!r}; expected one of "
                         f"{', '.join(repr(n) for n in names)}")
    return key


def named_kernel(name: str) -> torch.Tensor:
    """One of ``KERNEL_NAMES`` as a (3, 3) float32 tensor, e.g. ``named_kernel("sobel x")``."""
    return torch.tensor(KERNELS[_lookup(name, KERNEL_NAMES, "kernel")], dtype=torch.float32)


def parse_kernel(text: str) -> torch.Tensor:
    """Nine numbers, row by row, separated by spaces, commas or semicolons -> (3, 3) tensor.

    >>> parse_kernel("0 -1 0; -1 5 -1; 0 -1 0").tolist()[1]
    [-1.0, 5.0, -1.0]
    """
    parts = text.replace(",", " ").replace(";", " ").split() if isinstance(text, str) else None
    if parts is None:
        raise TypeError(f"custom kernel: expected a string of 9 numbers, got {type(text).__name__}")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ValueError(f"custom kernel: expected 9 numbers (3x3, row by row), "
                         f"got {text!r}") from None
    if len(numbers) != 9:
        raise ValueError(f"custom kernel: expected 9 numbers (3x3, row by row), "
                         f"got {len(numbers)} in {text!r}")
    return torch.tensor(numbers, dtype=torch.float32).reshape(3, 3)


# ---------------------------------------------------------------------------
# Sample images
# ---------------------------------------------------------------------------

IMAGE_NAMES = ("digit", "checkerboard", "gradient", "square")


def _digit_two(H: int, W: int) -> torch.Tensor:
    """A handwritten-looking "2": a pen stroke along a polyline, about 3 pixels wide at 28x28."""
    angles = torch.linspace(200, -40, 13) * torch.pi / 180  # the top arc, drawn clockwise
    arc = torch.stack([0.5 + 0.19 * torch.cos(angles), 0.36 - 0.17 * torch.sin(angles)], dim=1)
    tail = torch.tensor([[0.27, 0.78], [0.75, 0.78]])          # down to the left, then the base
    points = torch.cat([arc, tail])                             # (P, 2) as (x, y) in [0, 1]
    starts, ends = points[:-1], points[1:]                      # (S, 2) segments

    scale = min(H, W)
    ys, xs = torch.meshgrid((torch.arange(H) + 0.5) / scale, (torch.arange(W) + 0.5) / scale,
                            indexing="ij")
    pixels = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (H*W, 2)
    along = ends - starts
    t = ((pixels[:, None] - starts) * along).sum(-1) / (along * along).sum(-1)  # (H*W, S)
    nearest = starts + t.clamp(0, 1)[..., None] * along
    distance = (pixels[:, None] - nearest).norm(dim=-1).min(dim=1).values * scale  # in pixels
    half_width = 1.6 * scale / 28
    return (half_width - distance + 0.5).clamp(0, 1).reshape(H, W)


def sample_image(name: str, size=28) -> torch.Tensor:
    """A built-in grayscale image in [0, 1], shape (H, W); size: int or (H, W).

    "digit": a procedurally drawn "2", MNIST-like; "checkerboard": squares of size/7;
    "gradient": dark on the left to bright on the right; "square": a bright square.
    """
    key = _lookup(name, IMAGE_NAMES, "image")
    H, W = (size, size) if isinstance(size, int) else tuple(size)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 3 for v in (H, W)):
        raise ValueError(f"size: expected an int >= 3 or a pair of them, got {size!r}")
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    if key == "digit":
        return _digit_two(H, W)
    if key == "checkerboard":
        cell = max(1, min(H, W) // 7)
        return ((rows // cell + cols // cell) % 2).float()
    if key == "gradient":
        return (cols / (W - 1)).float()
    inside = (rows >= H // 4) & (rows < H - H // 4) & (cols >= W // 4) & (cols < W - W // 4)
    return inside.float()


def _as_image(image) -> torch.Tensor:
    """A caller's image as a (H, W) float tensor: accepts (H, W), (1, H, W), (1, 1, H, W)."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image: expected a torch.Tensor (H, W), got {type(image).__name__}")
    picture = image.detach().cpu().float()
    while picture.dim() > 2 and picture.shape[0] == 1:
        picture = picture[0]
    if picture.dim() != 2 or min(picture.shape) < 3:
        raise ValueError(f"image: expected a grayscale image (H, W), (1, H, W) or (1, 1, H, W) "
                         f"of at least 3x3 pixels, got shape {tuple(image.shape)}")
    return picture


# ---------------------------------------------------------------------------
# The HTML replay
# ---------------------------------------------------------------------------

_BUTTON_ICONS = {
    # to_jshtml draws its buttons with Font Awesome from a CDN; we use plain characters
    '<i class="fa fa-play fa-flip-horizontal"></i>': "&#9664;",  # play backwards
    '<i class="fa fa-minus"></i>': "&minus;",
    '<i class="fa fa-fast-backward"></i>': "|&#9664;&#9664;",
    '<i class="fa fa-step-backward"></i>': "|&#9664;",
    '<i class="fa fa-pause"></i>': "||",
    '<i class="fa fa-play"></i>': "&#9654;",
    '<i class="fa fa-step-forward"></i>': "&#9654;|",
    '<i class="fa fa-fast-forward"></i>': "&#9654;&#9654;|",
    '<i class="fa fa-plus"></i>': "+",
}
_FONT_AWESOME = ('<link rel="stylesheet"\n'
                 'href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css">')

DPI = 72
"""Resolution of the replay frames: small, so that the committed notebook stays small."""


def replay_html(fig, draw, n_frames: int, caption: str) -> str:
    """A self-contained HTML slider over ``n_frames`` frames; closes ``fig``.

    draw(i) redraws ``fig`` for frame i. The frames are PNG images inline in the page
    (``FuncAnimation.to_jshtml``), with the caption below them.
    """
    try:
        animation = FuncAnimation(fig, draw, frames=n_frames, repeat=False)
        with plt.rc_context({"savefig.dpi": DPI}):
            html = animation.to_jshtml(fps=2, default_mode="once")
    finally:
        plt.close(fig)  # so that the notebook shows no stray static copy of it
    html = html.replace(_FONT_AWESOME, "")
    for icon, text in _BUTTON_ICONS.items():
        html = html.replace(icon, text)
    return (f'<div class="coursekit-replay">{html}'
            f'<p style="font-size: 90%"><em>{caption}</em></p></div>')


def _png_html(fig) -> str:
    """A figure as an inline <img>; closes ``fig``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="figure">'


LIVE_NOTE = ("This is a precomputed replay: drag the slider or press &#9654;. "
             "Run the notebook in Colab or Jupyter for the live widget, where you choose ")


# ---------------------------------------------------------------------------
# The convolution explorer
# ---------------------------------------------------------------------------


class ConvExplorer:
    """Pick an image and a kernel, see the feature map and how one pixel of it is made.

    Read the current state from ``image`` (H, W), ``kernel`` (3, 3), ``feature_map``
    (H-2, W-2; a "valid" convolution, stride 1), ``position`` (row, col) and ``message``
    (the last error, e.g. a custom kernel that is not 9 numbers; "" if none). Change it
    through ``controls``: the widgets "image", "kernel", "custom", "row" and "col".
    """

    def __init__(self, image=None, kernel="sobel x"):
        kernel = _lookup(kernel, KERNEL_NAMES + ("custom",), "kernel")
        if image is None:
            self.images = {name: sample_image(name) for name in IMAGE_NAMES}
        else:
            picture = _as_image(image)
            self.images = {"your image": picture}
            self.images.update({name: sample_image(name, tuple(picture.shape))
                                for name in IMAGE_NAMES})
        H, W = next(iter(self.images.values())).shape
        self.controls = {
            "image": widgets.Dropdown(options=list(self.images), description="image"),
            "kernel": widgets.Dropdown(options=[*KERNEL_NAMES, "custom"], value=kernel,
                                       description="kernel"),
            "custom": widgets.Text(value="0 -1 0  -1 5 -1  0 -1 0", description="custom",
                                   placeholder="9 numbers, row by row"),
            "row": widgets.IntSlider(value=(H - 2) // 2, min=0, max=H - 3, description="row"),
            "col": widgets.IntSlider(value=(W - 2) // 2, min=0, max=W - 3, description="col"),
        }
        self.message = ""
        output = widgets.interactive_output(self._update, self.controls)
        c = self.controls
        self.widget = widgets.VBox([widgets.HBox([c["image"], c["kernel"], c["custom"]]),
                                    widgets.HBox([c["row"], c["col"]]), output])

    def _update(self, image, kernel, custom, row, col):
        """Recompute from the control values and draw (called on every change)."""
        try:
            self.kernel = parse_kernel(custom) if kernel == "custom" else named_kernel(kernel)
        except ValueError as error:
            self.message = str(error)
            print(self.message)
            return
        self.message = ""
        self.image = self.images[image]
        self.feature_map = F.conv2d(self.image[None, None], self.kernel[None, None])[0, 0]
        self.position = (row, col)
        fig = viz.show_conv_step(self.image, self.kernel, self.position)
        display(fig)
        plt.close(fig)

    def replay(self, n_frames: int = 13) -> str:
        """The HTML replay: the window slides along the middle row, with the current
        image and kernel; below it, the image under every named kernel."""
        H_out, W_out = self.feature_map.shape
        cols = sorted({round(i * (W_out - 1) / max(n_frames - 1, 1)) for i in range(n_frames)})
        row = H_out // 2
        fig = plt.figure(figsize=(11, 3))
        animation = replay_html(
            fig, lambda i: viz.show_conv_step(self.image, self.kernel, (row, cols[i]), fig=fig),
            len(cols),
            caption=LIVE_NOTE + "the image (or pass your own), the kernel (or type your own "
            "nine numbers) and the window position.")
        maps = [F.conv2d(self.image[None, None], named_kernel(name)[None, None])[0, 0]
                for name in KERNEL_NAMES]
        grid = viz.show_images([self.image, *maps], labels=["image", *KERNEL_NAMES], ncols=8)
        return animation + "<p>The same image under each named kernel:</p>" + _png_html(grid)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle["text/html"] = self.replay()
        return bundle


def conv_explorer(image=None, kernel="sobel x") -> ConvExplorer:
    """The convolution explorer; image: your own (H, W) image, or None for the built-ins."""
    return ConvExplorer(image, kernel)


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
    for name, value in [("convs_per_block", convs_per_block), ("poolings", poolings)]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {value!r}")
    if poolings == 0:
        return [CONV3] * convs_per_block
    return ([CONV3] * convs_per_block + [POOL2]) * poolings


def describe_stack(layers) -> str:
    """'conv3x3 conv3x3 pool2x2' for a stack of CONV3 and POOL2 layers."""
    names = []
    for kernel_size, stride, _ in layers:
        kind = "pool" if stride == kernel_size else "conv"
        names.append(f"{kind}{kernel_size}x{kernel_size}")
    return " ".join(names) or "no layers"


class ReceptiveFieldViewer:
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

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle["text/html"] = self.replay()
        return bundle


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
