"""coursekit: the companion package of the course
"Deep learning for image classification and segmentation with PyTorch".

One module per concern; import the one you need, e.g. ``from coursekit import setup``.
"""

from coursekit.course import VERSION as __version__

__all__ = ["__version__"]
