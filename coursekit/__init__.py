"""coursekit: the companion package of the course
"Deep learning for image classification and segmentation with PyTorch".

One module per concern; import the one you need, e.g. ``from coursekit import setup``.
Which module serves which chapter (the README has the same map):

======================  ==========  ====================================================
module                  chapters    what it holds
======================  ==========  ====================================================
``course``              all         the repository URL, the version and its git ref
``setup``               all         device, seeds, fast mode, data root, the set-up line
``data``                1-5, 8, 9   MNIST, Fashion-MNIST, CIFAR-10: found offline or
                                    downloaded; tensors from data sets
``conv``                2, 4        convolution, pooling, output sizes, receptive fields
``widgets``             2, 6-8      the interactive explorers (live, and replays for the
                                    book)
``viz``                 1-7, 9      image grids, feature maps, masks and overlays,
                                    curves, confusion matrices
``models``              1-3, 8, 9   the chapter 3 CNNs, the residual network, and the
                                    whole-image digit counter
``device_loader``       3, 8, 9     a loader that keeps a small data set on the GPU
``train``               1-7, 9      the training and evaluation loops
``fcn``                 4, 5, 7, 8  FCN-32s/16s/8s, bilinear upsampling, skip fusion
``scenes``              4-9         MNIST scenes: digits on a canvas, labelled per pixel
``losses``              4-7, 9      cross-entropy, BCE, soft Dice, Jaccard, focal, ...
``metrics``             4-7, 9      one confusion matrix and every score read from it;
                                    ``metrics.cells``: ISBI 2012's V_Rand and V_Info;
                                    ``metrics.multisets``: scoring the digits of a
                                    scene; ``metrics.boundary``: Hausdorff distance,
                                    HD95, surface Dice; ``metrics.calibration``: ECE,
                                    reliability bins, temperature scaling
``unet``                5-9         U-Net
``joint_transforms``    5           crops, flips, turns and warps of image and mask
                                    together
``membranes``           5, 7        ISBI 2012 (downloaded from the course repository),
                                    crops, tiled and 8-view prediction
``pets``                4, 5, 9     Oxford-IIIT Pet (Colab)
``prediction_browser``  4, 5        step through predictions, epoch by epoch
``profiling``           3, 5, 8, 9  the one timer (warm-up, synchronised, median),
                                    latency and throughput, parameters, FLOPs, speed-ups
``regions``             9           regions of a mask, their boxes, votes and RoI crops
``instances``           9           MNIST-scene instances for Mask R-CNN, a small one
``grading``             2-9         the exercises' checks and the instructors' grading
======================  ==========  ====================================================

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
