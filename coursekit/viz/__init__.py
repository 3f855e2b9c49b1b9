"""Figures: image grids, feature maps, one convolution step, a receptive field,
segmentation masks and their errors, training curves and confusion matrices.

Every function draws one matplotlib figure and returns it, so that a test or a
chapter can look inside (``fig.axes``, titles, ...) or save it. The figures are made
with pyplot, like ``plt.subplots()`` in a notebook: in Jupyter or Colab the figure
appears at the end of the cell without ``plt.show()``. The one thing to remember:
if the call is the *last line* of a cell, Jupyter would also show the returned
Figure, i.e. twice. End that line with ``;`` or assign it (``fig = show_images(x)``).

The drawing functions that the widgets animate take ``fig=``: they clear that
figure and draw into it instead of making a new one.

The figures live in four modules, all importable from here (``viz.show_images``):
``pictures`` (tensors as pictures, image grids, feature maps), ``convolution``
(chapter 2), ``segmentation`` and ``classification``.
"""

from coursekit.viz.classification import show_confusion_matrix, show_history, show_misclassified
from coursekit.viz.convolution import show_conv_step, show_receptive_field
from coursekit.viz.pictures import show_feature_maps, show_images
from coursekit.viz.segmentation import (
    ERROR_COLOURS,
    SEGMENTATION_PALETTE,
    class_colours,
    mask_overlay,
    show_class_errors,
    show_photo_segmentation,
    show_predictions,
    show_segmentation,
)

__all__ = [
    "ERROR_COLOURS",
    "SEGMENTATION_PALETTE",
    "class_colours",
    "mask_overlay",
    "show_class_errors",
    "show_confusion_matrix",
    "show_conv_step",
    "show_feature_maps",
    "show_history",
    "show_images",
    "show_misclassified",
    "show_photo_segmentation",
    "show_predictions",
    "show_receptive_field",
    "show_segmentation",
]
