"""The course's widgets: chapter 2's convolution explorer and receptive-field viewer,
chapter 6's loss explorer, chapter 7's threshold and overlap explorers, chapter 8's
stream budget.

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
any widget: ``named_kernel``, ``parse_kernel``, ``sample_image``, ``layer_stack``,
``loss_values``, ``loss_gradients``, ``threshold_scores``, ``overlap_masks``,
``overlap_scores``.

Modules: ``kernels`` (named kernels, sample images), ``replay`` (the HTML replay and
``ReplayWidget``, the widgets' base class), ``convolution`` (the convolution explorer),
``receptive_field`` (the receptive-field viewer), ``prediction_browser`` (chapters
4 and 5, imported as ``coursekit.prediction_browser``), ``loss_explorer`` (chapter 6:
how each loss of ``coursekit.losses`` responds as a prediction moves),
``threshold_explorer`` (chapter 7: a probability map under a moving threshold, with its
precision-recall curve) and ``overlap_explorer`` (chapter 7: IoU and Dice of two masks as
one moves) and ``stream_budget`` (chapter 8: which models keep up with a video, and how
late their answers come, as the frame rate and the batch size change).
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
from coursekit.widgets.loss_explorer import (
    LOSS_NAMES,
    LossExplorer,
    draw_losses,
    loss_gradients,
    loss_values,
    object_strip,
)
from coursekit.widgets.overlap_explorer import (
    SHAPES,
    OverlapExplorer,
    overlap_masks,
    overlap_scores,
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
from coursekit.widgets.stream_budget import StreamBudgetExplorer, stream_budget
from coursekit.widgets.threshold_explorer import (
    ThresholdExplorer,
    threshold_scores,
)

__all__ = [
    "CONV3",
    "DPI",
    "IMAGE_NAMES",
    "KERNELS",
    "KERNEL_NAMES",
    "LIVE_NOTE",
    "LOSS_NAMES",
    "POOL2",
    "SHAPES",
    "ConvExplorer",
    "LossExplorer",
    "OverlapExplorer",
    "ReceptiveFieldViewer",
    "ReplayWidget",
    "StreamBudgetExplorer",
    "ThresholdExplorer",
    "conv_explorer",
    "describe_stack",
    "draw_losses",
    "layer_stack",
    "loss_gradients",
    "loss_values",
    "named_kernel",
    "overlap_masks",
    "overlap_scores",
    "parse_kernel",
    "receptive_field_viewer",
    "replay_html",
    "sample_image",
    "stream_budget",
    "object_strip",
    "threshold_scores",
]
