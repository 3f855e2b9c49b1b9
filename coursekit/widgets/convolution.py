"""Chapter 2's convolution explorer: an image, a kernel, the feature map, one step."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch.nn.functional as F
from IPython.display import display

from coursekit import viz
from coursekit._checks import check_int
from coursekit.widgets.kernels import (
    IMAGE_NAMES,
    KERNEL_NAMES,
    _as_image,
    _lookup,
    named_kernel,
    parse_kernel,
    sample_image,
)
from coursekit.widgets.replay import LIVE_NOTE, ReplayWidget, _png_html, replay_html

# ---------------------------------------------------------------------------
# The convolution explorer
# ---------------------------------------------------------------------------


class ConvExplorer(ReplayWidget):
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
        n_frames = check_int(n_frames, "n_frames", low=1)
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


def conv_explorer(image=None, kernel="sobel x") -> ConvExplorer:
    """The convolution explorer; image: your own (H, W) image, or None for the built-ins."""
    return ConvExplorer(image, kernel)
