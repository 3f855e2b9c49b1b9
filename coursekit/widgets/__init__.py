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

Modules: ``kernels`` (named kernels, sample images), ``replay`` (the HTML replay and
``ReplayWidget``, the widgets' base class), ``convolution`` (the convolution explorer),
``receptive_field`` (the receptive-field viewer) and ``prediction_browser`` (chapters
4 and 5, imported as ``coursekit.prediction_browser``).
"""

from coursekit.widgets.convolution import ConvExplorer, conv_explorer
from coursekit.widgets.kernels import (
    IMAGE_NAMES,
    KERNEL_NAMES,
    KERNELS,
    named_kernel,
    parse_kernel,
    sample_image,
)
from coursekit.widgets.receptive_field import (
    CONV3,
    POOL2,
    ReceptiveFieldViewer,
    describe_stack,
    layer_stack,
    receptive_field_viewer,
)
from coursekit.widgets.replay import DPI, LIVE_NOTE, ReplayWidget, replay_html

__all__ = [
    "CONV3",
    "DPI",
    "IMAGE_NAMES",
    "KERNELS",
    "KERNEL_NAMES",
    "LIVE_NOTE",
    "POOL2",
    "ConvExplorer",
    "ReceptiveFieldViewer",
    "ReplayWidget",
    "conv_explorer",
    "describe_stack",
    "layer_stack",
    "named_kernel",
    "parse_kernel",
    "receptive_field_viewer",
    "replay_html",
    "sample_image",
]
