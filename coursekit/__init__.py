"""coursekit: the companion package of the course
"Deep learning for image classification and segmentation with PyTorch".

One module per concern; import the one you need, e.g. ``from coursekit import setup``.

Every public function is right on what it accepts and refuses the rest with a
``TypeError`` or ``ValueError`` that names the argument ("num_classes: expected an int
>= 2, got 1"); the checks are written once, in ``coursekit._checks``. The rules, the
same everywhere:

- class indices (targets, predictions, masks) may be any integer dtype or bool: uint8
  masks read from PNG files give the right numbers for any number of classes;
- images to compute with are float (float16, bfloat16, float32, float64); integer images
  are refused rather than wrapped around (``images.float() / 255``); figures show uint8
  as 0..255;
- ``ignore_index`` reaches every path that sees labels: losses, the confusion matrix, the
  accuracy ``train.fit``/``evaluate`` report, the figures that print a score;
- a binary model gives one logit per pixel, (N, 1, H, W), and predicts class 1 where it
  is above 0;
- a bool is never an int, NaN and infinity are never numbers; nothing to measure (an
  empty loader, every pixel ignored) is an error, not a 0 or a NaN score.
"""

from coursekit.course import VERSION as __version__

__all__ = ["__version__"]
