"""Bad and tricky inputs for every public callable of coursekit, as one table (issue 9).

A teaching package gives the right answer on every input it accepts and a clear error on
the rest. Each case below calls one callable of coursekit with one input a student might
plausibly pass, and says what must happen (see /work/notes/decisions.md):

- ``error("name")``: a TypeError or ValueError raised by coursekit's own code (not from
  inside torch or NumPy) whose message names the argument, e.g. ``size: expected an int
  >= 1, got 0``;
- ``equals(reference)``: the call returns the reference, computed independently (a closed
  form, torch, scikit-learn, torchmetrics) or by ``same_call(...)``: the same callable on
  the plain version of the input (int64 labels, float32 contiguous images, a Python int);
- ``either(error(...), equals(...))``: the few places where the decisions leave both
  answers right (each says why in a comment).

A case's id reads ``module.callable[what is tried]``, e.g.
``metrics.confusion_matrix[uint8 labels, 21 classes]``. The repetitive cases are made by
small loops over what goes wrong with an int, a number, a flag, an image tensor or a
tensor of class indices (``bad_ints``, ``bad_numbers``, ``bad_images``, ...).

The table imports no coursekit: callables are named by a dotted path and looked up when a
case runs, so that tools/sweep_inputs.py can run the same table against any checkout.
``run_case`` runs one case and classifies what happened; tests/test_bad_inputs.py and
tools/sweep_inputs.py both use it.
"""

import atexit
import contextlib
import copy
import importlib
import io
import linecache
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MODULES = ("conv", "course", "data", "device_loader", "fcn", "joint_transforms", "losses",
           "instances", "membranes", "metrics", "models", "pets", "profiling", "regions", "scenes",
           "setup",
           "train",
           "unet",
           "viz", "widgets", "prediction_browser", "grading")
GRADING_HELPERS = ("describe", "call", "expect_equal", "expect_tensor", "forbidden",
                   "expect_result", "Probe")
"""grading's helpers that the tests in the masters import are covered; its instructor side
(assign, grade, the sandbox) is tested by tests/test_grading*.py."""

NOT_CALLED = {
    "data.DataNotFoundError": "an exception class: it takes any message, nothing to check",
    "widgets.ReplayWidget": "a base class without arguments; the widgets' cases cover it",
    "profiling.Timing": "a record that time_callable fills; the cases of time_callable "
                        "and tests/test_profiling.py cover it",
}
"""Public callables that get no case, each with the reason."""

# ===================================================================== the table's vocabulary


class Fresh:
    """A value made anew each time a case runs (a model, an optimizer, a generator)."""

    def __init__(self, make):
        self.make = make


class Call:
    """A call of a coursekit callable, made when the case runs: the object whose method is
    tried, or an input computed by coursekit (its errors are the case's outcome)."""

    def __init__(self, target: str, *args, **kwargs):
        self.target, self.args, self.kwargs, self.after = target, args, kwargs, None

    def then(self, after):
        """The same call, then ``after(result)`` (e.g. ``eval_mode``)."""
        new = copy.copy(self)
        new.after = after
        return new


class SameCall:
    """The reference of an ``equals`` case: the case's own callable (on a freshly built
    object, for a method) called with these plainer arguments."""

    def __init__(self, *args, build=None, **kwargs):
        self.args, self.kwargs, self.build = args, kwargs, build


def same_call(*args, build=None, **kwargs) -> SameCall:
    return SameCall(*args, build=build, **kwargs)


@dataclass(frozen=True)
class Error:
    names: tuple
    also: tuple = ()            # other exception class names that are right here
    data_missing: bool = False  # a DataNotFoundError (which names the folder) is right too
    says: tuple = ()            # regular expressions the message must match, instead of a name

    def __str__(self):
        return f"error({', '.join(self.names)})"


@dataclass(frozen=True)
class Equals:
    reference: object
    post: object = None          # applied to the result (and to a same_call reference)
    atol: float = 1e-5
    rtol: float = 1e-4
    of_object: bool = False      # post gets the method's object after the call

    def __str__(self):
        return "equals(reference)"


@dataclass(frozen=True)
class Either:
    """Where the decisions leave two answers right: a clear error or the right value."""

    options: tuple

    def __str__(self):
        return " or ".join(str(option) for option in self.options)


def error(*names, also=(), data_missing=False, says=()) -> Error:
    """A TypeError or ValueError (or one of ``also``) from coursekit naming one of ``names``
    (or, with ``says``, whose message matches each of those regular expressions)."""
    return Error(tuple(names), tuple(also), data_missing, tuple(says))


def equals(reference, post=None, atol=1e-5, rtol=1e-4, of_object=False) -> Equals:
    return Equals(reference, post, atol, rtol, of_object)


def either(*options) -> Either:
    return Either(tuple(options))


@dataclass
class Case:
    id: str
    target: str                  # "metrics.confusion_matrix" or "train.History.best"
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expect: object = None
    obj: object = None           # for a method: a Call that builds the object
    build: object = None         # or build(kit) -> (args, kwargs), for co-dependent inputs
    env: dict | None = None      # environment variables set during the call

    @property
    def module(self) -> str:
        return self.target.split(".")[0]


CASES: list[Case] = []


def cases_for(target: str, obj=None):
    """A function adding cases of ``target``: ``add(what, *args, expect=..., **kwargs)``."""

    def add(what, *args, expect, obj=obj, build=None, env=None, **kwargs):
        CASES.append(Case(f"{target}[{what}]", target, args, kwargs, expect, obj, build, env))

    return add


# ------------------------------------------------------------------ inputs, small and fixed

_G = torch.Generator().manual_seed(1234)


def rand(*shape):
    return torch.rand(*shape, generator=_G)


def randn(*shape):
    return torch.randn(*shape, generator=_G)


def randint(high, *shape):
    return torch.randint(high, shape, generator=_G)


def strided(x):
    """The same values as ``x`` as a non-contiguous view (every other column of a wider one)."""
    return x.repeat_interleave(2, dim=-1)[..., ::2]


def channels_last(x):
    return x.contiguous(memory_format=torch.channels_last)


def with_value(t, value, index=0):
    """A copy of ``t`` with its ``index``-th element (flat order) set to ``value``."""
    t = t.clone()
    t.view(-1)[index] = value
    return t


def bad_ints(low, *, full=False, optional=False):
    """What a student passes for an int argument >= low, as (label, value) pairs: a bool,
    a float, the value below the minimum (``full``: also -1, a str and None)."""
    out = [("True", True), (f"{low + 1}.0", float(low + 1)), (str(low - 1), low - 1)]
    if full:
        out += [("-1", -1)] if low - 1 > -1 else []
        out += [("a str", str(low + 1))] + ([] if optional else [("None", None)])
    return out


def bad_numbers(*, low=None, high=None, open_low=False, full=False):
    """What a student passes for a real-number argument in [low, high] ((low, high] if
    open_low): a bool, NaN, a value just outside (``full``: also infinity, a str, None)."""
    out = [("True", True), ("nan", math.nan)]
    if full:
        out += [("inf", math.inf), ("a str", "0.5"), ("None", None)]
    if low is not None:
        below = low if open_low else low - 1
        out.append((f"{below:g}", below))
    if high is not None:
        out.append((f"{high + 1:g}", high + 1))
    return out


def bad_flags():
    """True/False arguments given as 1 or the (truthy) string 'no'."""
    return [("1", 1), ("'no'", "no")]


def bad_images(x, *, batched=True, full=False):
    """What goes wrong with a float image tensor (N, C, H, W): a list, uint8 pixels, a
    missing batch dimension (``full``: also a NumPy array, None, bool pixels, an extra dim)."""
    out = [("a list", x.tolist()), ("uint8 0..255", (x.clamp(0, 1) * 255).to(torch.uint8))]
    if full:
        out += [("a NumPy array", x.numpy()), ("None", None), ("bool", x > 0.5)]
    if batched:
        out.append(("missing batch dim", x[0]))
        if full:
            out.append(("5-D", x[None]))
    return out


def bad_indices(t, classes, *, full=False):
    """What goes wrong with a tensor of class indices in 0..classes-1: float (logits or
    probabilities not argmaxed), a list, values out of range (``full``: also None, NumPy)."""
    out = [("float", t.float()), ("a list", t.tolist())]
    if full:
        out += [("None", None), ("a NumPy array", t.numpy())]
    out += [(f"value {classes} out of range", with_value(t, classes)),
            ("value -1", with_value(t, -1))]
    return out


def int_dtypes(t, *, full=False):
    """``t`` as uint8 (masks read from PNGs) and int32 (``full``: also int8, int16), and as
    bool when it holds only 0 and 1."""
    dtypes = ((torch.uint8, torch.int8, torch.int16, torch.int32) if full
              else (torch.uint8, torch.int32))
    out = [(str(d).removeprefix("torch."), t.to(d)) for d in dtypes
           if int(t.min()) >= torch.iinfo(d).min and int(t.max()) <= torch.iinfo(d).max]
    if int(t.min()) >= 0 and int(t.max()) <= 1:
        out.append(("bool", t.bool()))
    return out


def pick(pairs, *labels):
    """The (label, value) pairs of ``pairs`` with these labels, e.g.
    ``pick(bad_ints(1), "True", "0")``."""
    chosen = [pair for pair in pairs if pair[0] in labels]
    assert len(chosen) == len(labels), f"pick: no {set(labels) - {k for k, _ in chosen}}"
    return chosen


def ops_roi_align(images, boxes, size):
    """torchvision's roi_align (aligned: boxes in pixel edges), sampling_ratio 2."""
    from torchvision import ops

    return ops.roi_align(images, boxes, size, 1.0, 2, aligned=True)


def eval_mode(module):
    return module.eval()


def param_shapes(module):
    return [(name, tuple(p.shape)) for name, p in module.named_parameters()]


def shown(fig):
    """What a figure's images show: one array per image drawn, intensities in [0, 1] (a
    grey image mapped through its colour limits, an RGB image as drawn)."""
    out = []
    for ax in fig.axes:
        for image in ax.get_images():
            raw = image.get_array()
            array = np.ma.filled(np.ma.asarray(raw).astype(float), np.nan)
            if array.ndim == 2:
                low, high = image.get_clim()
                array = (np.clip((array - low) / (high - low), 0, 1) if high > low
                         else np.zeros_like(array))
            elif np.asarray(raw).dtype == np.uint8:
                array = array / 255
            else:
                array = np.clip(array, 0, 1)
            out.append(array)
    return out


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


def first_matrix(fig):
    """The numbers a confusion-matrix figure colours (its first image)."""
    return np.asarray(fig.axes[0].get_images()[0].get_array(), dtype=float)


def fixed_conv(c_in, c_out, seed):
    """A 1x1 convolution with fixed weights (pointwise: tiling and turning commute with it)."""
    g = torch.Generator().manual_seed(seed)
    weight, bias = torch.randn(c_out, c_in, 1, 1, generator=g), torch.randn(c_out, generator=g)

    def make():
        model = nn.Conv2d(c_in, c_out, 1)
        with torch.no_grad():
            model.weight.copy_(weight)
            model.bias.copy_(bias)
        return model

    return make


# ========================================================================= conv

x5, w3, b3 = randn(1, 2, 5, 5), randn(3, 2, 3, 3), randn(3)
for name in ("conv2d_loops", "conv2d_unfold"):
    add = cases_for(f"conv.{name}")
    loops = name == "conv2d_loops"
    for label, bad in bad_images(x5) + ([("None", None)] if loops else []):
        add(f"x {label}", bad, w3, b3, expect=error("x"))
    add("weight for 3 input channels, x has 2", x5, randn(3, 3, 3, 3), b3, expect=error("weight"))
    add("float64 weight, float32 x", x5, w3.double(), b3, expect=error("weight"))
    if loops:
        add("weight 3-D", x5, w3[..., 0], b3, expect=error("weight"))
        add("7x7 kernel on a 5x5 x", x5, randn(3, 2, 7, 7), b3, expect=error("weight"))
    add("bias of 4 values for 3 kernels", x5, w3, randn(4), expect=error("bias"))
    for label, bad in [("0", 0), ("1.5", 1.5), ("True", True), ("(1, 0)", (1, 0))][:4 if loops
                                                                                  else 2]:
        add(f"stride={label}", x5, w3, b3, stride=bad, expect=error("stride"))
    add("padding=-1", x5, w3, b3, padding=-1, expect=error("padding"))
    add("stride a NumPy int", x5, w3, b3, stride=np.int64(2),
        expect=equals(F.conv2d(x5, w3, b3, stride=2)))
    add("non-contiguous x", strided(x5), w3, b3, expect=equals(F.conv2d(x5, w3, b3)))
    add("channels_last x", channels_last(x5), w3, b3, expect=equals(F.conv2d(x5, w3, b3)))
    if loops:
        add("stride (2, 1), padding (1, 0)", x5, w3, b3, stride=(2, 1), padding=(1, 0),
            expect=equals(F.conv2d(x5, w3, b3, stride=(2, 1), padding=(1, 0))))
        add("float64 x and weight", x5.double(), w3.double(), None,
            expect=equals(F.conv2d(x5.double(), w3.double())))

# conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1)
add = cases_for("conv.conv_output_size")
good = dict(size=9, kernel_size=3, stride=2, padding=1, dilation=1)   # (9 + 2 - 3) // 2 + 1
for name, low in [("size", 1), ("kernel_size", 1), ("stride", 1), ("padding", 0),
                  ("dilation", 1)]:
    some = bad_ints(low) if name == "size" else pick(bad_ints(low), "True", str(low - 1))
    for label, bad in some:
        add(f"{name}={label}", **{**good, name: bad}, expect=error(name))
    if name in ("size", "stride"):
        add(f"{name} a NumPy int", **{**good, name: np.int64(good[name])}, expect=equals(5))
add("5-wide kernel on 2 pixels", 2, 5, expect=error("kernel_size"))
add("dilation 2", 10, 3, dilation=2, expect=equals(6))

# max_pool2d_loops(x, kernel_size, stride=None)
add = cases_for("conv.max_pool2d_loops")
x6 = randn(1, 2, 6, 6)
for label, bad in bad_images(x6):
    add(f"x {label}", bad, 2, expect=error("x"))
for label, bad in [("0", 0), ("2.5", 2.5), ("7 on a 6x6 x", 7)]:
    add(f"kernel_size={label}", x6, bad, expect=error("kernel_size"))
for label, bad in [("0", 0), ("1.5", 1.5)]:
    add(f"stride={label}", x6, 2, stride=bad, expect=error("stride"))
add("kernel_size a NumPy int", x6, np.int64(3), expect=equals(F.max_pool2d(x6, 3)))
add("kernel (2, 3), stride 1", x6, (2, 3), stride=1, expect=equals(F.max_pool2d(x6, (2, 3), 1)))
add("odd 7x7 input", x7 := randn(1, 1, 7, 7), 2, expect=equals(F.max_pool2d(x7, 2)))
add("non-contiguous x", strided(x6), 2, expect=equals(F.max_pool2d(x6, 2)))
add("channels_last x", channels_last(x6), 2, expect=equals(F.max_pool2d(x6, 2)))

# ReceptiveField(size, jump): a record
cases_for("conv.ReceptiveField")("size 3, jump 1", 3, 1, expect=equals((3, 1)))

# receptive_field(layers)
add = cases_for("conv.receptive_field")
for label, bad in [("None", None), ("[(3,)]", [(3,)]), ("kernel 0", [(0, 1)]),
                   ("float stride", [(3, 1.0)]), ("padding -1", [(3, 1, -1)])]:
    add(f"layers {label}", bad, expect=error("layers"))
add("conv3, conv3, pool2", [(3, 1), (3, 1), (2, 2)], expect=equals([(3, 1), (5, 1), (6, 2)]))
add("no layers", [], expect=equals([]))
add("NumPy ints", [(np.int64(3), np.int64(2))], expect=equals([(3, 2)]))
add("lists, with padding", ([3, 2, 1], [3, 1]), expect=equals([(3, 2), (7, 2)]))

# output_size(layers, input_size)
add = cases_for("conv.output_size")
for label, bad in [("None", None), ("[(3,)]", [(3,)])]:
    add(f"layers {label}", bad, (8, 8), expect=error("layers"))
for label, bad in [("0", 0), ("28.0", 28.0), ("(28,)", (28,))]:
    add(f"input_size={label}", [(2, 2)], bad, expect=error("input_size"))
add("5x5 kernel on 3x3 input", [(5, 1)], (3, 3), expect=error("layers"))
add("three 2x2 poolings of 28x28", [(2, 2)] * 3, (28, 28), expect=equals((3, 3)))
add("input_size an int", [(2, 2)] * 3, 28, expect=equals((3, 3)))
add("input_size NumPy ints", [(2, 2)], (np.int64(6), np.int64(4)), expect=equals((3, 2)))
add("same conv then strided conv", [(3, 1, 1), (3, 2, 1)], (10, 10), expect=equals((5, 5)))

# receptive_region(layers, position, input_size=None)
add = cases_for("conv.receptive_region")
stack = [(3, 1, 1), (2, 2)]
for label, bad in [("(-1, 0)", (-1, 0)), ("None", None), ("(0.0, 0)", (0.0, 0))]:
    add(f"position={label}", stack, bad, expect=error("position"))
add("position outside the 4x4 output", stack, (4, 0), (8, 8), expect=error("position"))
add("input_size=0", stack, (0, 0), 0, expect=error("input_size"))
add("unclipped", stack, (0, 0), expect=equals((-1, -1, 3, 3)))
add("clipped to 8x8", stack, (0, 0), (8, 8), expect=equals((0, 0, 3, 3)))
add("unit (1, 2)", stack, (1, 2), (8, 8), expect=equals((1, 3, 5, 7)))
add("NumPy int position", stack, (np.int64(1), np.int64(2)), expect=equals((1, 3, 5, 7)))

# layers_of(model)
add = cases_for("conv.layers_of")
add("model None", None, expect=error("model"))
add("model a str", "vgg", expect=error("model"))
add("a 3x5 kernel", nn.Conv2d(1, 1, (3, 5)), expect=error("model"))
add("conv, relu, pool, strided conv, avg pool",
    nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(2, 2, 3, stride=2), nn.AvgPool2d(2)),
    expect=equals([(3, 1, 1), (2, 2, 0), (3, 2, 0), (2, 2, 0)]))
add("no conv", nn.Linear(3, 2), expect=equals([]))
# a dilated 3x3 kernel spans 5 pixels: report it as such, or refuse it; never as a 3x3
add("dilated conv", nn.Conv2d(1, 1, 3, padding=2, dilation=2),
    expect=either(error("model"), equals([(5, 1, 2)])))

# ======================================================================= course

add = cases_for("course.install_spec")
for label, bad in [("3", 3), ("a list", ["book"])]:
    add(f"extras={label}", bad, expect=error("extras"))
add("extras 'book'", "book", expect=equals(True, post=lambda s: s.startswith(
    "dlvision-coursekit[book] @ git+https://github.com/")))
add = cases_for("course.colab_url")
for label, bad in [("None", None), ("3", 3)]:
    add(f"notebook_path={label}", bad, expect=error("notebook_path"))
add("a book path", "book/intro.ipynb", expect=equals(True, post=lambda s: s.startswith(
    "https://colab.research.google.com/github/") and s.endswith("/book/intro.ipynb")))
add = cases_for("course.raw_url")
for label, bad in [("None", None), ("3", 3)]:
    add(f"path={label}", bad, expect=error("path"))
add("a file", "book/logo.png", expect=equals(True, post=lambda s: s.startswith(
    "https://raw.githubusercontent.com/") and s.endswith("/book/logo.png")))
add = cases_for("course.setup_cell_source")
add("extras=3", 3, expect=error("extras"))
add("extras 'book'", "book", expect=equals(True, post=lambda s: "dlvision-coursekit[book]" in s))

# ========================================================================= data

NOWHERE = "/nonexistent/coursekit-data"
for name in ("mnist", "fashion_mnist", "cifar10"):   # bad arguments only: they must fail
    add = cases_for(f"data.{name}")                   # before any data is read
    for label, bad in [("1", 1), ("'test'", "test")]:
        add(f"train={label}", bad, root=NOWHERE, download=False, expect=error("train"))
    add("download='no'", root=NOWHERE, download="no", expect=error("download"))
    add("root=3", root=3, download=False, expect=error("root"))
    add("root missing, download=False", root=NOWHERE, download=False,
        expect=error("root", data_missing=True))

mnist_pixels, mnist_targets = randint(256, 5, 28, 28).to(torch.uint8), randint(10, 5)
cifar_pixels, cifar_targets = randint(256, 4, 32, 32, 3).to(torch.uint8), [3, 1, 4, 1]


def fake_mnist():
    """A torchvision MNIST object holding 5 made-up digits, built without reading a file."""
    from torchvision import datasets

    dataset = object.__new__(datasets.MNIST)
    dataset.data, dataset.targets = mnist_pixels, mnist_targets
    return dataset


def fake_cifar():
    from torchvision import datasets

    dataset = object.__new__(datasets.CIFAR10)
    dataset.data, dataset.targets = cifar_pixels.numpy(), list(cifar_targets)
    return dataset


add = cases_for("data.as_tensors")
for label, bad in [("None", None), ("a list of pairs", [(rand(1, 28, 28), 0)]),
                   ("a tensor", rand(5, 1, 28, 28))]:
    add(f"dataset {label}", bad, expect=error("dataset"))
for label, bad in bad_ints(1):
    add(f"limit={label}", Fresh(fake_mnist), limit=bad, expect=error("limit"))
first3 = (mnist_pixels[:3, None].float() / 255, mnist_targets[:3])
add("MNIST, limit 3", Fresh(fake_mnist), limit=3, expect=equals(first3))
add("MNIST, limit a NumPy int", Fresh(fake_mnist), limit=np.int64(3), expect=equals(first3))
add("CIFAR-10, no limit", Fresh(fake_cifar), expect=equals(
    (cifar_pixels.permute(0, 3, 1, 2).float() / 255, torch.tensor(cifar_targets))))

# channel_stats(images) -> mean, std per channel


def stats(x):
    """Per-channel mean and (n - 1) standard deviation, in float64 with NumPy."""
    a = x.double().numpy()
    return torch.tensor(a.mean(axis=(0, 2, 3))), torch.tensor(a.std(axis=(0, 2, 3), ddof=1))


add = cases_for("data.channel_stats")
im = rand(3, 2, 4, 4)
for label, bad in bad_images(im, full=True):
    add(f"images {label}", bad, expect=error("images"))
add("images empty (0, 2, 4, 4)", im[:0], expect=error("images"))
add("float64 images", im.double(), expect=equals(stats(im)))
add("float16 images", im.half(), expect=equals(stats(im.half()), atol=1e-3))
add("non-contiguous images", strided(im), expect=equals(stats(im)))
add("channels_last images", channels_last(im), expect=equals(stats(im)))

# normalize(images, mean, std)
add = cases_for("data.normalize")
mean, std = [0.5, 0.4], [0.25, 0.2]
normalized = (im.double() - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
for label, bad in bad_images(im):
    add(f"images {label}", bad, mean, std, expect=error("images"))
for label, m, s, name in [("3 means for 2 channels", [0.5] * 3, std, "mean"),
                          ("1 std for 2 channels", mean, [0.2], "std"),
                          ("a std of 0", mean, [0.25, 0.0], "std"),
                          ("a NaN std", mean, [0.25, math.nan], "std")]:
    add(label, im, m, s, expect=error(name))
add("float64 images", im.double(), mean, std, expect=equals(normalized))
add("float16 images", im.half(), mean, std, expect=equals(normalized, atol=5e-3))
add("mean, std as tensors", im, torch.tensor(mean), torch.tensor(std), expect=equals(normalized))
add("non-contiguous images", strided(im), mean, std, expect=equals(normalized))
add("channels_last images", channels_last(im), mean, std, expect=equals(normalized))

# split(images, labels, fraction, seed=0)
add = cases_for("data.split")
im10, lab10 = rand(10, 1, 2, 2), randint(3, 10)
for label, bad in bad_numbers(low=0, high=1, open_low=True) + [("1", 1), ("a str", "0.2")]:
    add(f"fraction={label}", im10, lab10, bad, expect=error("fraction"))
add("9 labels for 10 images", im10, lab10[:9], 0.2, expect=error("labels"))
add("images a list", im10.tolist(), lab10, 0.2, expect=error("images"))
for label, bad in [("True", True), ("-1", -1)]:
    add(f"seed={label}", im10, lab10, 0.2, seed=bad, expect=error("seed"))
add("seed a NumPy int", im10, lab10, 0.2, seed=np.int64(3),
    expect=equals(same_call(im10, lab10, 0.2, seed=3)))
add("uint8 labels", im10, lab10.to(torch.uint8), 0.2, expect=equals(same_call(im10, lab10, 0.2)))

# ================================================================ device_loader

xb = rand(4, 3, 4, 4)
for name, extra in [("random_crop", (1,)), ("random_flip", ()), ("cutout", (2,))]:
    add = cases_for(f"device_loader.{name}")
    for label, bad in pick(bad_images(xb), "a list", "uint8 0..255"):
        add(f"images {label}", bad, *extra, expect=error("images"))
    add("generator a str", xb, *extra, generator="seed", expect=error("generator"))
    add("channels_last images", channels_last(xb), *extra, expect=equals(same_call(xb, *extra)))
add = cases_for("device_loader.random_crop")
for label, bad in pick(bad_ints(0), "True", "1.0") + [("-1", -1)]:
    add(f"padding={label}", xb, bad, expect=error("padding"))
add("padding 0", xb, 0, expect=equals(xb))
add("padding a NumPy int", xb, np.int64(1), expect=equals(same_call(xb, 1)))
add = cases_for("device_loader.cutout")
for label, bad in pick(bad_ints(0), "True", "1.0") + [("-1", -1), ("5 on a 4x4 image", 5)]:
    add(f"size={label}", xb, bad, expect=error("size"))
add("size 0", xb, 0, expect=equals(xb))
add("size a NumPy int", xb, np.int64(2), expect=equals(same_call(xb, 2)))

# DeviceLoader(images, labels, batch_size, device, mean, std, shuffle, crop_padding, flip,
#              cutout_size, drop_last, dtype, seed)
add = cases_for("device_loader.DeviceLoader")
yb = randint(10, 4)


def batches(loader):
    return list(loader)


for label, bad in bad_images(xb):
    add(f"images {label}", bad, yb, 2, expect=error("images"))
for label, bad in pick(bad_indices(yb, 10), "float", "a list") + [("3 for 4 images", yb[:3])]:
    add(f"labels {label}", xb, bad, 2, expect=error("labels"))
for label, bad in bad_ints(1) + [("None", None)]:
    add(f"batch_size={label}", xb, yb, bad, expect=error("batch_size"))
add("2 means for 3 channels", xb, yb, 2, mean=[0.5, 0.5], std=[0.2] * 3, expect=error("mean"))
add("mean without std", xb, yb, 2, mean=[0.5] * 3, expect=error("std"))
for name, label, bad in [("crop_padding", "-1", -1), ("crop_padding", "1.5", 1.5),
                         ("cutout_size", "5 on 4x4", 5)]:
    add(f"{name}={label}", xb, yb, 2, **{name: bad}, expect=error(name))
for name in ("shuffle", "flip"):
    add(f"{name}='no'", xb, yb, 2, **{name: "no"}, expect=error(name))
add("dtype int64", xb, yb, 2, dtype=torch.int64, expect=error("dtype"))
add("device 'gpu'", xb, yb, 2, device="gpu", expect=error("device"))
add("seed=-1", xb, yb, 2, seed=-1, expect=error("seed"))
add("uint8 labels", xb, yb.to(torch.uint8), 2, expect=equals(same_call(xb, yb, 2), post=batches))
augmenting = dict(shuffle=True, crop_padding=1, flip=True, cutout_size=2)
add("non-contiguous images, augmented", strided(xb), yb, 2, **augmenting,
    expect=equals(same_call(xb, yb, 2, **augmenting), post=batches))
add("float64 images", xb.double(), yb, 2, expect=equals(same_call(xb, yb, 2), post=batches))
add("batch_size a NumPy int", xb, yb, np.int64(3),
    expect=equals(same_call(xb, yb, 3), post=batches))
add("len, batch_size 3 of 4, drop_last", xb, yb, 3, drop_last=True, expect=equals(1, post=len))

loader = Call("device_loader.DeviceLoader", xb, yb, 2, crop_padding=1, flip=True)
add = cases_for("device_loader.DeviceLoader.augment", obj=loader)
for label, bad in pick(bad_images(xb), "uint8 0..255", "missing batch dim"):
    add(f"images {label}", bad, expect=error("images"))
add("non-contiguous images", strided(xb), expect=equals(same_call(xb)))
add = cases_for("device_loader.DeviceLoader.state_dict", obj=loader)
add("fresh loader, seed 0", expect=equals(
    {"generator": torch.Generator().manual_seed(0).get_state()}))
add = cases_for("device_loader.DeviceLoader.load_state_dict", obj=loader)
for label, bad in [("None", None), ("{}", {}), ("generator a str", {"generator": "x"})]:
    add(f"state {label}", bad, expect=error("state"))
state5 = torch.Generator().manual_seed(5).get_state()
add("a saved state", {"generator": state5}, expect=equals(
    state5, post=lambda loader: loader.generator.get_state(), of_object=True))

# ========================================================================== fcn

add = cases_for("fcn.bilinear_kernel")
tent2 = torch.tensor([0.25, 0.75, 0.75, 0.25])
for label, bad in bad_ints(1):
    add(f"factor={label}", bad, expect=error("factor"))
add("factor 2", 2, expect=equals(tent2[:, None] * tent2[None, :]))
add("factor a NumPy int", np.int64(2), expect=equals(tent2[:, None] * tent2[None, :]))
tent3 = torch.tensor([1, 2, 3, 2, 1]) / 3
add("factor 3", 3, expect=equals(tent3[:, None] * tent3[None, :]))

add = cases_for("fcn.bilinear_upsampler")
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"channels={label}", bad, 2, expect=error("channels"))
add("factor=0", 2, 0, expect=error("factor"))
add("channels a NumPy int", np.int64(2), 2, expect=equals(
    (tent2[:, None] * tent2[None, :]).expand(2, 1, 4, 4), post=lambda m: m.weight.detach()))

add = cases_for("fcn.SkipFusion")
add("skip_channels=0", 0, 3, expect=error("skip_channels"))
add("num_classes=True", 4, True, expect=error("num_classes"))
add("NumPy ints", np.int64(4), np.int64(3), expect=equals(same_call(4, 3), post=param_shapes))

coarse, features = randn(1, 3, 2, 2), randn(1, 4, 4, 4)
add = cases_for("fcn.SkipFusion.forward", obj=Call("fcn.SkipFusion", 4, 3).then(eval_mode))
for label, bad in [("3-D", coarse[0]), ("a list", coarse.tolist()),
                   ("2 classes for 3", coarse[:, :2])]:
    add(f"coarse {label}", bad, features, expect=error("coarse"))
for label, bad in [("6x6 for a 2x2 coarse", randn(1, 4, 6, 6)), ("5 channels for 4",
                                                                   randn(1, 5, 4, 4))]:
    add(f"features {label}", coarse, bad, expect=error("features"))
add("non-contiguous coarse", strided(coarse), features, expect=equals(same_call(coarse, features)))

add = cases_for("fcn.FCN")
for label, bad in [("'4s'", "4s"), ("8", 8), ("None", None)]:
    add(f"variant={label}", 1, 3, bad, 2, expect=error("variant"))
for name, label, bad in [("in_channels", "0", 0), ("num_classes", "True", True),
                         ("num_classes", "0", 0), ("width", "2.0", 2.0)]:
    add(f"{name}={label}", **{"in_channels": 1, "num_classes": 3, "width": 2, name: bad},
        expect=error(name))
add("num_classes 1 (binary)", 1, 1, width=2, expect=equals(
    (1, 1, 32, 32), post=lambda m: tuple(m.eval()(torch.zeros(1, 1, 32, 32)).shape)))
add("width a NumPy int", 1, 3, width=np.int64(2),
    expect=equals(same_call(1, 3, width=2), post=param_shapes))

x32 = rand(1, 1, 32, 32)
add = cases_for("fcn.FCN.forward", obj=Call("fcn.FCN", 1, 3, width=2).then(eval_mode))
for label, bad in bad_images(x32):
    add(f"x {label}", bad, expect=error("x"))
add("x 30x30 (not divisible by 32)", rand(1, 1, 30, 30), expect=error("x"))
add("x with 3 channels for in_channels 1", rand(1, 3, 32, 32), expect=error("x"))
add("non-contiguous x", strided(x32), expect=equals(same_call(x32)))
add("channels_last x", channels_last(x32), expect=equals(same_call(x32)))

add = cases_for("fcn.pretrained_fcn_resnet50")   # must refuse before any download
for label, bad in bad_ints(1):
    add(f"num_classes={label}", bad, expect=error("num_classes"))

add = cases_for("fcn.transposed_output_size")
for name, low in [("size", 1), ("kernel_size", 1), ("stride", 1), ("dilation", 1)]:
    for label, bad in bad_ints(low):
        add(f"{name}={label}", **{"size": 4, "kernel_size": 3, name: bad}, expect=error(name))
for name in ("padding", "output_padding"):
    add(f"{name}=-1", 4, 3, **{name: -1}, expect=error(name))
add("output_padding 2 with stride 2", 4, 3, stride=2, output_padding=2,
    expect=error("output_padding"))
add("padding 2 crops a 1-pixel output away", 1, 1, padding=2, expect=error("padding"))
add("FCN's x2 upsampling: 4 -> 8", 4, 4, 2, 1, expect=equals(8))
add("NumPy ints", np.int64(4), np.int64(4), np.int64(2), np.int64(1), expect=equals(8))
add("every argument, against torch", 5, 3, 2, 1, 1, 2, expect=equals(nn.ConvTranspose2d(
    1, 1, 3, stride=2, padding=1, output_padding=1, dilation=2)(
        torch.zeros(1, 1, 5, 5)).shape[-1]))

add = cases_for("fcn.conv_matrix")
w_cm, x_cm = randn(1, 1, 3, 3), randn(1, 1, 4, 4)
for label, bad in [("a list", w_cm.tolist()), ("3-D", w_cm[0]), ("int64", w_cm.long()),
                   ("NaN", w_cm.masked_fill(w_cm > 0, float("nan"))),
                   ("a 5x5 kernel on 4x4", randn(1, 1, 5, 5))]:
    add(f"weight {label}", bad, (4, 4), expect=error("weight"))
for label, bad in [("(4,)", (4,)), ("0", 0), ("True", True), ("(4, 4.0)", (4, 4.0)),
                   ("100x100, too big", (100, 100))]:
    add(f"input_size {label}", w_cm, bad, expect=error("input_size", "input_size[1]"))
add("stride=0", w_cm, 4, stride=0, expect=error("stride"))
add("padding=-1", w_cm, 4, padding=-1, expect=error("padding"))
add("C @ x is F.conv2d", w_cm, (4, 4), expect=equals(
    F.conv2d(x_cm, w_cm).flatten(), post=lambda C: C @ x_cm.flatten()))
add("stride 2, padding 1: C @ x is F.conv2d", w_cm, 4, 2, 1, expect=equals(
    F.conv2d(x_cm, w_cm, stride=2, padding=1).flatten(), post=lambda C: C @ x_cm.flatten()))
add("two channels in, three out", randn(3, 2, 2, 2), (3, 3), expect=equals(
    (12, 18), post=lambda C: tuple(C.shape)))
add("non-contiguous weight, NumPy ints", strided(w_cm.repeat(1, 1, 1, 1)),
    (np.int64(4), np.int64(4)), expect=equals(same_call(w_cm, (4, 4))))


class TinySegmenter(nn.Module):
    """A stand-in for a torchvision segmentation model: {"out": (N, 4, H, W)}."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(4, 3, 3, 3, generator=torch.Generator()
                                               .manual_seed(0)))

    def forward(self, x):
        return {"out": self.conv(x)}


def small_preset():
    from torchvision.transforms._presets import SemanticSegmentation

    return SemanticSegmentation(resize_size=12)


photo = rand(3, 9, 7)
add = cases_for("fcn.segment_photo")
add("model None", None, photo, Fresh(small_preset), expect=error("model"))
add("preprocess None", Fresh(TinySegmenter), photo, None, expect=error("preprocess"))
for label, bad in [("a list", photo.tolist()), ("1 channel", photo[:1]),
                   ("4-D", photo[None]), ("int32", (photo * 255).int()),
                   ("NaN", photo.masked_fill(photo > 0.5, float("nan")))]:
    add(f"photo {label}", Fresh(TinySegmenter), bad, Fresh(small_preset),
        expect=error("photo"))
add("uint8 photo, the photo's own size", Fresh(TinySegmenter),
    (photo * 255).round().to(torch.uint8), Fresh(small_preset),
    expect=equals((9, 7), post=lambda labels: tuple(labels.shape)))
add("the photo's own size", Fresh(TinySegmenter), photo, Fresh(small_preset),
    expect=equals((9, 7), post=lambda labels: tuple(labels.shape)))

# ============================================================= joint_transforms

img, msk = rand(1, 6, 6), randint(3, 6, 6)
bad_pair_images = [("a list", img.tolist()), ("4-D", img[None]), ("None", None)]
bad_pair_masks = [("float", msk.float()), ("5x6 for a 6x6 image", msk[:5]),
                  ("a list", msk.tolist())]
for name, extra in [("random_crop", (4,)), ("random_flip_rotate", ()), ("random_elastic", ()),
                    ("resize", (4,))]:
    add = cases_for(f"joint_transforms.{name}")
    every = name == "random_crop"           # all of them once, the first few for the others
    for label, bad in bad_pair_images if every else bad_pair_images[:2]:
        add(f"image {label}", bad, msk, *extra, expect=error("image"))
    for label, bad in bad_pair_masks if every else bad_pair_masks[:2]:
        add(f"mask {label}", img, bad, *extra, expect=error("mask"))
    for label, mask in int_dtypes(msk) if every else int_dtypes(msk)[:1]:
        add(f"{label} mask", img, mask, *extra, expect=equals(same_call(img, msk, *extra)))
    add("non-contiguous image", strided(img), msk, *extra,
        expect=equals(same_call(img, msk, *extra)))
add = cases_for("joint_transforms.random_crop")
for label, bad in bad_ints(1) + [("7 on 6x6", 7)]:
    add(f"size={label}", img, msk, bad, expect=error("size"))
add("size a NumPy int", img, msk, np.int64(4), expect=equals(same_call(img, msk, 4)))
add("generator a str", img, msk, 4, generator="0", expect=error("generator"))
add = cases_for("joint_transforms.random_elastic")
for label, bad in pick(bad_numbers(low=0), "nan", "-1") + [("inf", math.inf), ("a str", "10")]:
    add(f"sigma={label}", img, msk, sigma=bad, expect=error("sigma"))
for label, bad in [("1", 1), ("2.5", 2.5)]:
    add(f"grid={label}", img, msk, grid=bad, expect=error("grid"))
add("sigma 0 (no warp)", img, msk, sigma=0.0, expect=equals((img, msk)))
add = cases_for("joint_transforms.resize")
for label, bad in [("0", 0), ("4.0", 4.0), ("(4,)", (4,))]:
    add(f"size={label}", img, msk, bad, expect=error("size"))
add("size a NumPy int", img, msk, np.int64(4), expect=equals(same_call(img, msk, 4)))
add("size (6, 6): unchanged", img, msk, (6, 6), expect=equals((img, msk)))

add = cases_for("joint_transforms.RandomCropFlipRotate")


def transformed(transform):
    return transform(img, msk)


for label, bad in bad_ints(1):
    add(f"size={label}", bad, expect=error("size"))
add("seed=-1", 4, seed=-1, expect=error("seed"))
for label, bad in bad_numbers(low=0):
    add(f"elastic_sigma={label}", 4, elastic_sigma=bad, expect=error("elastic_sigma"))
add("size a NumPy int", np.int64(4), expect=equals(same_call(4), post=transformed))
add = cases_for("joint_transforms.RandomCropFlipRotate.__call__",
                obj=Call("joint_transforms.RandomCropFlipRotate", 4))
add("image a list", img.tolist(), msk, expect=error("image"))
add("float mask", img, msk.float(), expect=error("mask"))
add("image 3x3 for a size-4 crop", img[:, :3, :3], msk[:3, :3], expect=error("size"))
add("uint8 mask", img, msk.to(torch.uint8), expect=equals(same_call(img, msk)))

# ======================================================================= losses


def dice_loss(logits, target, mode="multiclass", smooth=1.0, ignore_index=None):
    """The soft Dice loss by the formula of losses.soft_dice_loss's docstring, in float64."""
    z, t = logits.double(), target.long()
    if mode == "binary":
        z = z[:, 0] if z.dim() == 4 else z
        t = t[:, 0] if t.dim() == 4 else t
        valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
        p, y = torch.sigmoid(z) * valid, ((t == 1) & valid).double()
        return 1 - (2 * (p * y).sum() + smooth) / (p.sum() + y.sum() + smooth)
    valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
    p = z.softmax(dim=1) * valid[:, None]
    y = F.one_hot(t.where(valid, 0), z.shape[1]).permute(0, 3, 1, 2).double() * valid[:, None]
    dice = (2 * (p * y).sum((0, 2, 3)) + smooth) / (p.sum((0, 2, 3)) + y.sum((0, 2, 3)) + smooth)
    present = y.sum((0, 2, 3)) > 0
    return 1 - (dice[present].mean() if present.any() else dice.mean())


logits, target = randn(2, 3, 4, 4), randint(3, 2, 4, 4)
ignored = target.clone()
ignored[:, 0] = 255                                   # the first row of each image: unlabelled
logits21, target21 = randn(1, 21, 4, 4), randint(21, 1, 4, 4)
blogits, btarget = randn(2, 1, 4, 4), randint(2, 2, 1, 4, 4)
bignored = btarget.clone()
bignored[:, :, 0] = 255

add = cases_for("losses.cross_entropy")
ce = F.cross_entropy(logits, target)
for label, bad in bad_images(logits) + [("None", None), ("(N, C) scores", logits[:, :, 0, 0])]:
    add(f"logits {label}", bad, target, expect=error("logits"))
for label, bad in bad_indices(target, 3) + [("(2, 4, 5) for (2, 3, 4, 4) logits",
                                             randint(3, 2, 4, 5))]:
    add(f"target {label}", logits, bad, expect=error("target"))
for label, t in int_dtypes(target):
    add(f"{label} target", logits, t, expect=equals(ce))
add("uint8 target, 21 classes", logits21, target21.to(torch.uint8),
    expect=equals(F.cross_entropy(logits21, target21)))
weight = torch.tensor([1.0, 2.0, 0.5])
add("weight of 4 values for 3 classes", logits, target, weight=torch.ones(4),
    expect=error("weight"))
add("weight a list", logits, target, weight=weight.tolist(), expect=either(
    error("weight"), equals(F.cross_entropy(logits, target, weight=weight))))
add("ignore_index=True", logits, ignored, ignore_index=True, expect=error("ignore_index"))
add("ignore_index 255", logits, ignored, ignore_index=255,
    expect=equals(F.cross_entropy(logits, ignored, ignore_index=255)))
add("target 255 without ignore_index", logits, ignored, expect=error("target"))
add("float16 logits", logits.half(), target, expect=equals(ce, atol=5e-3))
add("bfloat16 logits", logits.bfloat16(), target, expect=equals(ce, atol=3e-2))
add("non-contiguous logits", strided(logits), target, expect=equals(ce))
add("channels_last logits", channels_last(logits), target, expect=equals(ce))
add("NaN logits (follow torch: NaN)", with_value(logits, math.nan), target,
    expect=equals(math.nan))

add = cases_for("losses.binary_cross_entropy")
bce = F.binary_cross_entropy_with_logits(blogits, btarget.float())
for label, bad in bad_images(blogits) + [("(N, 2, H, W)", randn(2, 2, 4, 4))]:
    # logits (1, 4, 4) could be one (N, H, W) image: then it is the target that does not fit
    names = ("logits", "target") if label == "missing batch dim" else ("logits",)
    add(f"logits {label}", bad, btarget, expect=error(*names))
for label, bad in [("value 2", with_value(btarget, 2)),
                   ("(2, 4, 5) for (2, 1, 4, 4) logits", randint(2, 2, 4, 5))]:
    add(f"target {label}", blogits, bad, expect=error("target"))
for label, t in int_dtypes(btarget):
    add(f"{label} target", blogits, t, expect=equals(bce))
add("target (N, H, W), logits (N, 1, H, W)", blogits, btarget[:, 0], expect=equals(bce))
add("logits (N, H, W), target (N, 1, H, W)", blogits[:, 0], btarget, expect=equals(bce))
add("pos_weight 3", blogits, btarget, pos_weight=torch.tensor([3.0]), expect=equals(
    F.binary_cross_entropy_with_logits(blogits, btarget.float(), pos_weight=torch.tensor([3.0]))))
add("pos_weight of 2 values", blogits, btarget, pos_weight=torch.ones(2),
    expect=error("pos_weight"))
add("float16 logits", blogits.half(), btarget, expect=equals(bce, atol=5e-3))
add("non-contiguous logits", strided(blogits), btarget, expect=equals(bce))

add = cases_for("losses.soft_dice_loss")
dice = dice_loss(logits, target)
for label, bad in bad_images(logits):
    add(f"logits {label}", bad, target, expect=error("logits"))
for label, bad in bad_indices(target, 3):
    add(f"target {label}", logits, bad, expect=error("target"))
add("mode='multi'", logits, target, mode="multi", expect=error("mode"))
for label, bad in pick(bad_numbers(low=0), "nan", "-1"):
    add(f"smooth={label}", logits, target, smooth=bad, expect=error("smooth"))
add("ignore_index True", logits, ignored, ignore_index=True, expect=error("ignore_index"))
for label, t in int_dtypes(target)[:1]:
    add(f"{label} target", logits, t, expect=equals(dice))
add("uint8 target, 21 classes", logits21, target21.to(torch.uint8),
    expect=equals(dice_loss(logits21, target21)))
add("ignore_index 255", logits, ignored, ignore_index=255,
    expect=equals(dice_loss(logits, ignored, ignore_index=255)))
big_logits, big_target = randn(1, 2, 256, 256), randint(2, 1, 256, 256)   # sums > 65504
add("float16 logits, sums beyond float16's range", big_logits.half(), big_target,
    expect=equals(dice_loss(big_logits.half(), big_target), atol=2e-3))
add("bfloat16 logits, 131k pixels", big_logits.bfloat16(), big_target,
    expect=equals(dice_loss(big_logits.bfloat16(), big_target), atol=1e-2))
add("non-contiguous logits", strided(logits), target, expect=equals(dice))
add("NaN logits (follow torch: NaN)", with_value(logits, math.nan), target,
    expect=equals(math.nan))
add("binary, bool target", blogits, btarget.bool(), mode="binary",
    expect=equals(dice_loss(blogits, btarget, "binary")))
add("binary, ignore_index 255", blogits, bignored, mode="binary", ignore_index=255,
    expect=equals(dice_loss(blogits, bignored, "binary", ignore_index=255)))
add("binary, logits (N, 2, H, W)", randn(2, 2, 4, 4), btarget[:, 0], mode="binary",
    expect=error("logits"))

add = cases_for("losses.cross_entropy_dice")
for label, bad in pick(bad_images(logits), "a list", "uint8 0..255"):
    add(f"logits {label}", bad, target, expect=error("logits"))
for label, bad in pick(bad_indices(target, 3), "float", "value -1"):
    add(f"target {label}", logits, bad, expect=error("target"))
for label, bad in bad_numbers(low=0):
    add(f"dice_weight={label}", logits, target, dice_weight=bad, expect=error("dice_weight"))
add("uint8 target", logits, target.to(torch.uint8), expect=equals(ce + dice))
add("ignore_index 255", logits, ignored, ignore_index=255, expect=equals(
    F.cross_entropy(logits, ignored, ignore_index=255) + dice_loss(logits, ignored,
                                                                   ignore_index=255)))
add("float16 logits", logits.half(), target, expect=equals(ce + dice, atol=1e-2))


# ------------------------------------------------------------------ losses added in chapter 6


def overlap_loss(logits, target, mode="multiclass", alpha=0.5, beta=0.5, smooth=1.0,
                 ignore_index=None):
    """1 - the Tversky index (tp + smooth) / (tp + alpha fp + beta fn + smooth) per class over
    the batch, by the formulas of losses.tversky_loss's docstring, in float64: averaged over
    the classes present (multiclass) or every channel (binary, multilabel). Jaccard is
    alpha = beta = 1; Dice is alpha = beta = 1/2 with smooth doubled."""
    z, t = logits.double(), target.long()
    if mode == "binary":
        z, t = z.reshape(z.shape[0], 1, -1), t.reshape(t.shape[0], 1, -1)
    valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
    if mode == "multiclass":
        p = z.softmax(dim=1)
        y = F.one_hot(t.where(valid, 0), z.shape[1]).movedim(-1, 1).double()
        valid = valid[:, None]
    else:
        p, y = torch.sigmoid(z), t.where(valid, 0).double()
    p, y = p * valid, y * valid
    dims = [0] + list(range(2, p.dim()))
    tp, fp, fn = (p * y).sum(dims), (p * (1 - y)).sum(dims), ((1 - p) * y).sum(dims)
    score = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    present = y.sum(dims) > 0
    return 1 - (score[present].mean() if mode == "multiclass" else score.mean())


def focal(logits, target, mode="multiclass", gamma=2.0, alpha=None, ignore_index=None):
    """-alpha_t (1 - p_t)^gamma log p_t over the pixels that count, in float64: multiclass
    from F.cross_entropy (p_t = exp(-ce)), binary from torchvision's sigmoid_focal_loss."""
    from torchvision.ops import sigmoid_focal_loss

    z, t = logits.double(), target.long()
    valid = (t != ignore_index) if ignore_index is not None else torch.ones_like(t).bool()
    if mode == "binary":
        t = t.reshape(z.shape)
        valid = valid.reshape(z.shape)
        per_pixel = sigmoid_focal_loss(z, t.where(valid, 0).double(), gamma=gamma,
                                       alpha=-1 if alpha is None else alpha)
        return per_pixel[valid].mean()
    ce = F.cross_entropy(z, t.where(valid, 0), reduction="none")
    weight = 1.0 if alpha is None else alpha.double()[t.where(valid, 0)]
    return (weight * (1 - torch.exp(-ce)) ** gamma * ce)[valid].mean()


def all_ignored(t):
    return torch.full_like(t, 255)


mlogits, mtarget = randn(2, 3, 4, 4), randint(2, 2, 3, 4, 4)     # multilabel: 0/1 per class
mignored = mtarget.clone()
mignored[:, :, 0] = 255
logits2, target2 = randn(2, 2, 4, 4), randint(2, 2, 4, 4)         # two classes: bool targets

for name in ("soft_jaccard_loss", "tversky_loss"):
    add = cases_for(f"losses.{name}")
    ab = (1.0, 1.0) if name == "soft_jaccard_loss" else (0.5, 0.5)   # the reference's alpha, beta
    expected = overlap_loss(logits, target, "multiclass", *ab)
    for label, bad in bad_images(logits):
        add(f"logits {label}", bad, target, expect=error("logits"))
    for label, bad in bad_indices(target, 3):
        add(f"target {label}", logits, bad, expect=error("target"))
    add("target 255 without ignore_index", logits, ignored, expect=error("target"))
    add("mode='multi'", logits, target, mode="multi", expect=error("mode"))
    for label, bad in bad_numbers(low=0):
        add(f"smooth={label}", logits, target, smooth=bad, expect=error("smooth"))
    for label, bad in bad_numbers(low=0, open_low=True):
        add(f"eps={label}", logits, target, eps=bad, expect=error("eps"))
    add("ignore_index True", logits, ignored, ignore_index=True, expect=error("ignore_index"))
    for label, t in int_dtypes(target):
        add(f"{label} target", logits, t, expect=equals(expected))
    add("bool target, 2 classes", logits2, target2.bool(),
        expect=equals(overlap_loss(logits2, target2, "multiclass", *ab)))
    add("uint8 target, 21 classes", logits21, target21.to(torch.uint8),
        expect=equals(overlap_loss(logits21, target21, "multiclass", *ab)))
    add("ignore_index 255", logits, ignored, ignore_index=255,
        expect=equals(overlap_loss(logits, ignored, "multiclass", *ab, ignore_index=255)))
    add("every pixel ignored: 0", logits, all_ignored(target), ignore_index=255,
        expect=equals(0.0))
    add("empty batch: 0", logits[:0], target[:0], expect=equals(0.0))
    add("batch of one", logits[:1], target[:1],
        expect=equals(overlap_loss(logits[:1], target[:1], "multiclass", *ab)))
    add("float16 logits, sums beyond float16's range", big_logits.half(), big_target,
        expect=equals(overlap_loss(big_logits.half(), big_target, "multiclass", *ab),
                      atol=2e-3))
    add("bfloat16 logits, 131k pixels", big_logits.bfloat16(), big_target,
        expect=equals(overlap_loss(big_logits.bfloat16(), big_target, "multiclass", *ab),
                      atol=1e-2))
    add("non-contiguous logits", strided(logits), target, expect=equals(expected))
    add("channels_last logits", channels_last(logits), target, expect=equals(expected))
    add("NaN logits (follow torch: NaN)", with_value(logits, math.nan), target,
        expect=equals(math.nan))
    add("binary, bool target", blogits, btarget.bool(), mode="binary",
        expect=equals(overlap_loss(blogits, btarget, "binary", *ab)))
    add("binary, target (N, H, W)", blogits, btarget[:, 0], mode="binary",
        expect=equals(overlap_loss(blogits, btarget, "binary", *ab)))
    add("binary, ignore_index 255", blogits, bignored, mode="binary", ignore_index=255,
        expect=equals(overlap_loss(blogits, bignored, "binary", *ab, ignore_index=255)))
    add("binary, empty mask", blogits, btarget * 0, mode="binary",
        expect=equals(overlap_loss(blogits, btarget * 0, "binary", *ab)))
    add("binary, logits (N, 2, H, W)", randn(2, 2, 4, 4), btarget[:, 0], mode="binary",
        expect=error("logits"))
    add("binary, target value 2", blogits, with_value(btarget, 2), mode="binary",
        expect=error("target"))
    for label, t in int_dtypes(mtarget) + [("float32", mtarget.float())]:
        add(f"multilabel, {label} target", mlogits, t, mode="multilabel",
            expect=equals(overlap_loss(mlogits, mtarget, "multilabel", *ab)))
    add("multilabel, ignore_index 255", mlogits, mignored, mode="multilabel", ignore_index=255,
        expect=equals(overlap_loss(mlogits, mignored, "multilabel", *ab, ignore_index=255)))
    add("multilabel, target (N, H, W) class indices", mlogits, target, mode="multilabel",
        expect=error("target"))
    add("multilabel, target 0.5", mlogits, mtarget * 0.5, mode="multilabel",
        expect=error("target"))

add = cases_for("losses.tversky_loss")
for name in ("alpha", "beta"):
    for label, bad in bad_numbers(low=0):
        add(f"{name}={label}", logits, target, **{name: bad}, expect=error(name))
add("alpha=0, beta=0", logits, target, alpha=0, beta=0, expect=error("alpha", "beta"))
add("alpha 0.2, beta 0.8", logits, target, alpha=0.2, beta=0.8,
    expect=equals(overlap_loss(logits, target, "multiclass", 0.2, 0.8)))
add("alpha = beta = 1/2 is Dice with smooth doubled", logits, target, smooth=0.5,
    expect=equals(dice_loss(logits, target, smooth=1.0)))

add = cases_for("losses.focal_loss")
expected = focal(logits, target)
weight3 = torch.tensor([0.25, 1.0, 2.0])
for label, bad in bad_images(logits) + [("None", None)]:
    add(f"logits {label}", bad, target, expect=error("logits"))
for label, bad in bad_indices(target, 3):
    add(f"target {label}", logits, bad, expect=error("target"))
add("target 255 without ignore_index", logits, ignored, expect=error("target"))
for label, bad in [("'multilabel'", "multilabel"), ("None", None)]:
    add(f"mode={label}", logits, target, mode=bad, expect=error("mode"))
for label, bad in bad_numbers(low=0, full=True):
    add(f"gamma={label}", logits, target, gamma=bad, expect=error("gamma"))
add("multiclass, alpha 0.25 (a number)", logits, target, alpha=0.25, expect=error("alpha"))
add("multiclass, alpha of 2 values for 3 classes", logits, target, alpha=torch.ones(2),
    expect=error("alpha"))
add("multiclass, alpha -1 for a class", logits, target, alpha=torch.tensor([1.0, -1.0, 1.0]),
    expect=error("alpha"))
add("multiclass, alpha per class", logits, target, alpha=weight3,
    expect=equals(focal(logits, target, alpha=weight3)))
add("ignore_index True", logits, ignored, ignore_index=True, expect=error("ignore_index"))
for label, t in int_dtypes(target):
    add(f"{label} target", logits, t, expect=equals(expected))
add("bool target, 2 classes", logits2, target2.bool(), expect=equals(focal(logits2, target2)))
add("uint8 target, 21 classes", logits21, target21.to(torch.uint8),
    expect=equals(focal(logits21, target21)))
add("ignore_index 255", logits, ignored, ignore_index=255,
    expect=equals(focal(logits, ignored, ignore_index=255)))
add("every pixel ignored: 0", logits, all_ignored(target), ignore_index=255, expect=equals(0.0))
add("empty batch: 0", logits[:0], target[:0], expect=equals(0.0))
add("gamma 0 is cross-entropy", logits, target, gamma=0, expect=equals(ce))
add("gamma a NumPy float", logits, target, gamma=np.float64(2.0), expect=equals(expected))
add("float16 logits", logits.half(), target, expect=equals(expected, atol=5e-3))
add("bfloat16 logits", logits.bfloat16(), target, expect=equals(expected, atol=3e-2))
add("non-contiguous logits", strided(logits), target, expect=equals(expected))
add("channels_last logits", channels_last(logits), target, expect=equals(expected))
add("NaN logits (follow torch: NaN)", with_value(logits, math.nan), target,
    expect=equals(math.nan))
add("binary, torchvision's alpha 0.25", blogits, btarget, mode="binary", alpha=0.25,
    expect=equals(focal(blogits, btarget, "binary", alpha=0.25)))
for label, t in int_dtypes(btarget) + [("float32", btarget.float())]:
    add(f"binary, {label} target", blogits, t, mode="binary",
        expect=equals(focal(blogits, btarget, "binary")))
add("binary, target (N, H, W)", blogits, btarget[:, 0], mode="binary",
    expect=equals(focal(blogits, btarget, "binary")))
add("binary, ignore_index 255", blogits, bignored, mode="binary", ignore_index=255,
    expect=equals(focal(blogits, bignored, "binary", ignore_index=255)))
for label, bad in bad_numbers(low=0, high=1):
    add(f"binary, alpha={label}", blogits, btarget, mode="binary", alpha=bad,
        expect=error("alpha"))
add("binary, logits (N, 2, H, W)", randn(2, 2, 4, 4), btarget[:, 0], mode="binary",
    expect=error("logits"))
add("binary, target value 2", blogits, with_value(btarget, 2), mode="binary",
    expect=error("target"))

add = cases_for("losses.cross_entropy")
for label, bad in bad_numbers(low=0, high=1):
    add(f"label_smoothing={label}", logits, target, label_smoothing=bad,
        expect=error("label_smoothing"))
add("label_smoothing 0.1, weight, ignore_index 255", logits, ignored, weight=weight,
    label_smoothing=0.1, ignore_index=255, expect=equals(F.cross_entropy(
        logits, ignored, weight=weight, label_smoothing=0.1, ignore_index=255)))
add("every counted pixel of weight 0: 0", logits, torch.zeros_like(target),
    weight=torch.tensor([0.0, 1.0, 1.0]), expect=equals(0.0))

add = cases_for("losses.weighted_cross_entropy")
pixel_w = rand(2, 4, 4) * 5
wce = (F.cross_entropy(logits, target, reduction="none") * pixel_w).mean()
for label, bad in bad_images(logits) + [("None", None)]:
    add(f"logits {label}", bad, target, pixel_w, expect=error("logits"))
for label, bad in bad_indices(target, 3):
    add(f"target {label}", logits, bad, pixel_w, expect=error("target"))
for label, bad in [("None", None), ("a list", pixel_w.tolist()),
                   ("int64", pixel_w.long()), ("negative", with_value(pixel_w, -1.0)),
                   ("NaN", with_value(pixel_w, math.nan)), ("inf", with_value(pixel_w, math.inf)),
                   ("(N, 1, H, W)", pixel_w[:, None]), ("(2, 4, 3)", pixel_w[..., :3])]:
    add(f"pixel_weight {label}", logits, target, bad, expect=error("pixel_weight"))
add("ignore_index=True", logits, ignored, pixel_w, ignore_index=True,
    expect=error("ignore_index"))
add("w * cross-entropy, summed, over the pixel count", logits, target, pixel_w,
    expect=equals(wce))
for label, t in int_dtypes(target):
    add(f"{label} target", logits, t, pixel_w, expect=equals(wce))
add("every weight 1: cross-entropy", logits, target, torch.ones(2, 4, 4),
    expect=equals(F.cross_entropy(logits, target)))
add("ignore_index 255: ignored pixels count for nothing", logits, ignored,
    with_value(pixel_w, 1e6), ignore_index=255, expect=equals(
        (F.cross_entropy(logits, ignored, reduction="none", ignore_index=255)
         * pixel_w)[ignored != 255].sum() / (ignored != 255).sum()))
add("every pixel ignored: 0", logits, torch.full_like(target, 255), pixel_w, ignore_index=255,
    expect=equals(0.0))
add("float16 logits and weights", logits.half(), target, pixel_w.half(),
    expect=equals(wce, atol=2e-2))
add("non-contiguous weights", logits, target, strided(pixel_w), expect=equals(wce))
add("float64 weights", logits, target, pixel_w.double(), expect=equals(wce))

add = cases_for("losses.binary_cross_entropy")
add("pos_weight 3 (a number)", blogits, btarget, pos_weight=3, expect=equals(
    F.binary_cross_entropy_with_logits(blogits, btarget.float(), pos_weight=torch.tensor([3.0]))))
add("pos_weight 0", blogits, btarget, pos_weight=0, expect=error("pos_weight"))


def weighted(*terms):
    """build(kit) for losses.WeightedSum from (weight, loss, settings) terms, the loss named
    'cross_entropy' (a coursekit loss, given its settings by functools.partial) or a torch
    loss object."""
    import functools

    def build(kit):
        return [(w, functools.partial(kit(f"losses.{f}"), **kw) if isinstance(f, str) else f)
                for w, f, kw in terms], {}

    return build


def loss_on_ignored(total):
    return total(logits, ignored)


def loss_on_plain(total):
    return total(logits, target)


def its_ignore_index(total):
    return total.ignore_index


ce_dice_255 = weighted((1.0, "cross_entropy", {"ignore_index": 255}),
                       (0.5, "soft_dice_loss", {"ignore_index": 255}))
add = cases_for("losses.WeightedSum")
add("no terms", expect=error("terms"))
add("a bare loss function", F.cross_entropy, expect=error("terms"))
add("(loss, weight), the wrong way round", (F.cross_entropy, 1.0), expect=error("terms"))
add("a (weight, loss, extra) triple", (1.0, F.cross_entropy, 2), expect=error("terms"))
for label, bad in bad_numbers(low=0, full=True):
    add(f"weight {label}", (bad, F.cross_entropy), expect=error("terms"))
add("terms ignoring 255 and -100", build=weighted((1, "cross_entropy", {"ignore_index": 255}),
                                                  (1, nn.CrossEntropyLoss(), {})),
    expect=error("terms"))
add("cross_entropy + 0.5 soft_dice_loss, ignore_index 255", build=ce_dice_255,
    expect=equals(F.cross_entropy(logits, ignored, ignore_index=255)
                  + 0.5 * dice_loss(logits, ignored, ignore_index=255), post=loss_on_ignored))
add("its ignore_index, for train.fit", build=ce_dice_255, expect=equals(255,
                                                                        post=its_ignore_index))
add("a torch loss, weight a NumPy float", (np.float64(0.5), nn.CrossEntropyLoss()),
    expect=equals(0.5 * ce, post=loss_on_plain))
add = cases_for("losses.WeightedSum.__call__", obj=Fresh(lambda: resolve("losses.WeightedSum")(
    (1.0, resolve("losses.cross_entropy")), (0.5, resolve("losses.soft_dice_loss")))))
add("uint8 target", logits, target.to(torch.uint8), expect=equals(ce + 0.5 * dice))
add("float target", logits, target.float(), expect=error("target"))
add("logits a list", logits.tolist(), target, expect=error("logits"))
add("float16 logits", logits.half(), target, expect=equals(ce + 0.5 * dice, atol=1e-2))


def prior(target, num_classes, ignore_index=None):
    """log((count + 1) / (total + num_classes)) per class, counted by hand."""
    t = target.long().flatten()
    t = t[t != ignore_index] if ignore_index is not None else t
    counts = torch.tensor([(t == c).sum() for c in range(num_classes)]).double()
    return ((counts + 1) / (counts.sum() + num_classes)).log()


add = cases_for("losses.class_prior_bias")
for label, bad in pick(bad_indices(target, 3), "float", "value 3 out of range"):
    add(f"target {label}", bad, 3, expect=error("target"))
add("target 255 without ignore_index", ignored, 3, expect=error("target"))
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"num_classes={label}", target, bad, expect=error("num_classes"))
add("ignore_index True", ignored, 3, ignore_index=True, expect=error("ignore_index"))
add("ignore_index 255", ignored, 3, ignore_index=255, expect=equals(prior(ignored, 3, 255)))
add("uint8 target with 255, 21 classes", with_value(target21, 255).to(torch.uint8), 21,
    ignore_index=255, expect=equals(prior(with_value(target21, 255), 21, 255)))
for label, t in int_dtypes(btarget):
    add(f"{label} target", t, 2, expect=equals(prior(btarget, 2)))
add("num_classes a NumPy int", target, np.int64(3), expect=equals(prior(target, 3)))

# ==================================================================== membranes

add = cases_for("membranes.load")
for label, bad in [("'val'", "val"), ("None", None)]:
    add(f"split={label}", bad, expect=error("split"))
add("root=3", root=3, expect=error("root"))
add("root missing", root=NOWHERE, expect=error("root", data_missing=True))

slices, slice_labels = rand(2, 1, 16, 16), randint(2, 2, 16, 16)
add = cases_for("membranes.MembraneCrops")


def two_crops(dataset):
    return [dataset[0], dataset[1]]


for label, bad in [("uint8", (slices * 255).to(torch.uint8)), ("3-D", slices[0])]:
    add(f"images {label}", bad, slice_labels, 8, expect=error("images"))
for label, bad in [("float", slice_labels.float()), ("(2, 16, 15)", slice_labels[..., :15])]:
    add(f"labels {label}", slices, bad, 8, expect=error("labels"))
for label, bad in pick(bad_ints(1), "2.0", "0") + [("17 on 16x16", 17)]:
    add(f"size={label}", slices, slice_labels, bad, expect=error("size"))
add("crops_per_epoch=0", slices, slice_labels, 8, crops_per_epoch=0,
    expect=error("crops_per_epoch"))
add("seed=-1", slices, slice_labels, 8, seed=-1, expect=error("seed"))
add("elastic_sigma=-1", slices, slice_labels, 8, elastic_sigma=-1, expect=error("elastic_sigma"))
add("uint8 labels", slices, slice_labels.to(torch.uint8), 8,
    expect=equals(same_call(slices, slice_labels, 8), post=two_crops))
add("size a NumPy int", slices, slice_labels, np.int64(8),
    expect=equals(same_call(slices, slice_labels, 8), post=two_crops))
add("len is crops_per_epoch", slices, slice_labels, 8, crops_per_epoch=7,
    expect=equals(7, post=len))
slice_weights = rand(2, 16, 16) * 10
for label, bad in [("a list", slice_weights.tolist()), ("int64", slice_weights.long()),
                   ("negative", with_value(slice_weights, -1.0)),
                   ("NaN", with_value(slice_weights, math.nan)),
                   ("(2, 16, 15)", slice_weights[..., :15]), ("(16, 16)", slice_weights[0])]:
    add(f"pixel_weights {label}", slices, slice_labels, 8, pixel_weights=bad,
        expect=error("pixel_weights"))


def two_crops_without_weights(dataset):
    return [dataset[0][:2], dataset[1][:2]]


add("pixel_weights: the same images and labels", slices, slice_labels, 8,
    pixel_weights=slice_weights, elastic_sigma=2.0,
    expect=equals(same_call(slices, slice_labels, 8, elastic_sigma=2.0),
                  post=two_crops_without_weights))


def labels_from_their_own_pixels(dataset):
    """Whether each crop's label is the slice's label at the pixel its weight names (an
    item is a fresh random crop each time: take it once)."""
    items = [dataset[i] for i in range(4)]
    return all(torch.equal(slice_labels[i % 2].flatten()[weight.long()], label)
               for i, (_, label, weight) in enumerate(items))


add("pixel_weights of the slices' pixel numbers: each label's own pixel", slices,
    slice_labels, 8, pixel_weights=torch.arange(256.0).view(16, 16).expand(2, 16, 16),
    elastic_sigma=2.0, expect=equals(True, post=labels_from_their_own_pixels))

add = cases_for("membranes.weight_map")
cell_map = (rand(2, 10, 12) > 0.4).long()
gap_map = torch.ones(6, 14, dtype=torch.int64)
gap_map[:, 6:8] = 0                                   # two cells, a gap of 2 membrane columns
for label, bad in bad_indices(cell_map, 2) + [("None", None), ("1-D", cell_map[0, 0]),
                                              ("4-D", cell_map[None])]:
    add(f"labels {label}", bad, expect=error("labels"))
for label, bad in bad_numbers(low=0, full=True):
    add(f"w0={label}", cell_map, w0=bad, expect=error("w0"))
for label, bad in bad_numbers(low=0, open_low=True, full=True):
    add(f"sigma={label}", cell_map, sigma=bad, expect=error("sigma"))
for label, bad in [("'uniform'", "uniform"), ("None", None), ("a list", [1.0, 2.0]),
                   ("3 values", torch.ones(3)), ("int64", torch.tensor([1, 2])),
                   ("negative", torch.tensor([-1.0, 1.0])),
                   ("NaN", torch.tensor([math.nan, 1.0])), ("(1, 2)", torch.ones(1, 2))]:
    add(f"class_weights {label}", cell_map, class_weights=bad, expect=error("class_weights"))
for label, bad in int_dtypes(cell_map) + [("non-contiguous", strided(cell_map))]:
    add(f"{label} labels", bad, expect=equals(same_call(cell_map)))
add("w0 a NumPy float, sigma an int", cell_map, w0=np.float64(10), sigma=5,
    expect=equals(same_call(cell_map)))
add("a gap of 2 between two cells: 1 + 10 exp(-3^2 / 50) on the gap", gap_map,
    class_weights=torch.tensor([1.0, 1.0]), expect=equals(
        torch.where(gap_map == 0, 1 + 10 * math.exp(-9 / 50), 1.0)))
add("no cell: the class weight", torch.zeros(5, 5, dtype=torch.int64),
    class_weights=torch.tensor([3.0, 1.0]), expect=equals(torch.full((5, 5), 3.0)))
add("one cell, balanced: n / (2 n_c)", torch.tensor([[1, 1], [1, 0]]),
    expect=equals(torch.tensor([[4 / 6, 4 / 6], [4 / 6, 2.0]])))
add("empty (0, 0) map", torch.zeros(0, 0, dtype=torch.int64),
    expect=either(error("labels"), equals(torch.zeros(0, 0))))

pointwise = fixed_conv(1, 2, seed=7)
slice1 = rand(1, 1, 16, 16)
slice_logits = pointwise()(slice1).detach()
add = cases_for("membranes.predict_tiled")
for label, bad in [("None", None), ("a str", "unet")]:
    add(f"model {label}", bad, slice1, 8, 4, expect=error("model"))
for label, bad in bad_images(slice1, batched=False) + [("2-D", slice1[0, 0])]:  # (C, H, W) is fine
    add(f"image {label}", Fresh(pointwise), bad, 8, 4, expect=error("image"))
for label, bad in pick(bad_ints(1), "True", "2.0") + [("17 on 16x16", 17)]:
    add(f"tile={label}", Fresh(pointwise), slice1, bad, 0, expect=error("tile"))
for label, bad in [("-1", -1), ("8 = tile", 8)]:
    add(f"overlap={label}", Fresh(pointwise), slice1, 8, bad, expect=error("overlap"))
add("device 'gpu'", Fresh(pointwise), slice1, 8, 4, device="gpu", expect=error("device"))
add("8x8 tiles overlapping by 4", Fresh(pointwise), slice1, 8, 4, expect=equals(slice_logits))
add("image (C, H, W)", Fresh(pointwise), slice1[0], 8, 4, expect=equals(slice_logits))
add("tile a NumPy int", Fresh(pointwise), slice1, np.int64(8), 4, expect=equals(slice_logits))
add("non-contiguous image", Fresh(pointwise), strided(slice1), 8, 4, expect=equals(slice_logits))
add = cases_for("membranes.predict_symmetric")
add("model None", None, slice1, 8, 4, expect=error("model"))
add("image a list", Fresh(pointwise), slice1.tolist(), 8, 4, expect=error("image"))
# turning back restores a non-square image's shape: refusing it or answering right are both fine
add("image 16x12, not square", Fresh(pointwise), slice1[..., :12], 8, 4, expect=either(
    error("image"), equals(slice_logits[..., :12].softmax(dim=1))))
add("8 views of a pointwise model", Fresh(pointwise), slice1, 8, 4,
    expect=equals(slice_logits.softmax(dim=1)))
add("image (C, H, W)", Fresh(pointwise), slice1[0], 8, 4,
    expect=equals(slice_logits.softmax(dim=1)))

# ====================================================================== metrics


def sk_confusion(prediction, target, num_classes, ignore_index=None):
    """scikit-learn's confusion matrix (rows: truth), pixels of ignore_index left out."""

    def make():
        from sklearn.metrics import confusion_matrix

        t, p = target.flatten().long().numpy(), prediction.flatten().long().numpy()
        keep = t != ignore_index if ignore_index is not None else np.ones(t.shape, bool)
        return torch.as_tensor(confusion_matrix(t[keep], p[keep], labels=range(num_classes)))

    return Fresh(make)


prediction = randint(3, 2, 4, 4)
add = cases_for("metrics.confusion_matrix")
for label, bad in bad_indices(prediction, 3):
    add(f"prediction {label}", bad, target, 3, expect=error("prediction"))
add("prediction (N, C, H, W) logits", logits, target, 3, expect=error("prediction"))
for label, bad in bad_indices(target, 3, full=True):
    add(f"target {label}", prediction, bad, 3, expect=error("target"))
add("target 255 without ignore_index", prediction, ignored, 3, expect=error("target"))
add("shapes (2, 4, 4) and (2, 4, 3)", prediction, target[..., :3], 3,
    expect=error("prediction", "target"))
for label, bad in bad_ints(1) + [("None", None)]:
    add(f"num_classes={label}", prediction, target, bad, expect=error("num_classes"))
for label, bad in [("True", True), ("a str", "255")]:
    add(f"ignore_index={label}", prediction, ignored, 3, ignore_index=bad,
        expect=error("ignore_index"))
prediction21 = randint(21, 1, 4, 4)
for label, p in int_dtypes(prediction21, full=True):
    add(f"{label} labels, 21 classes", p, target21.to(p.dtype), 21,
        expect=equals(sk_confusion(prediction21, target21, 21)))
add("bool labels, 2 classes", btarget.flip(0).bool(), btarget.bool(), 2,
    expect=equals(sk_confusion(btarget.flip(0), btarget, 2)))
add("ignore_index 255", prediction, ignored, 3, ignore_index=255,
    expect=equals(sk_confusion(prediction, ignored, 3, 255)))
add("uint8 labels with 255, 21 classes", prediction21.to(torch.uint8),
    with_value(target21, 255).to(torch.uint8), 21, ignore_index=255,
    expect=equals(sk_confusion(prediction21, with_value(target21, 255), 21, 255)))
add("empty tensors: nothing counted yet", prediction[:0], target[:0], 3,
    expect=equals(torch.zeros(3, 3)))
add("non-contiguous", strided(prediction), strided(target), 3,
    expect=equals(sk_confusion(prediction, target, 3)))
add("num_classes a NumPy int", prediction, target, np.int64(3),
    expect=equals(sk_confusion(prediction, target, 3)))

# metrics read from a confusion matrix (rows truth, columns prediction); class 2 is absent
cm = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
iou, dice_c = torch.tensor([5 / 8, 3 / 6, math.nan]), torch.tensor([10 / 13, 6 / 9, math.nan])
by_hand = {"pixel_accuracy": 8 / 11, "iou_per_class": iou, "dice_per_class": dice_c,
           "mean_iou": (5 / 8 + 3 / 6) / 2, "mean_dice": (10 / 13 + 6 / 9) / 2}
perfect21 = Call("metrics.confusion_matrix", target21.to(torch.uint8), target21.to(torch.uint8),
                 21)
for name, value in by_hand.items():
    add = cases_for(f"metrics.{name}")
    bad_cms = [("all zeros (no pixel counted)", torch.zeros(3, 3, dtype=torch.int64)),
               ("a list", cm.tolist()), ("2x3", cm[:2]), ("a NumPy array", cm.numpy()),
               ("a negative count", with_value(cm, -1))]
    for label, bad in bad_cms if name in ("pixel_accuracy", "mean_iou") else bad_cms[:3]:
        add(f"cm {label}", bad, expect=error("cm"))
    add("class 2 absent", cm, expect=equals(value))
    if name == "mean_iou":
        add("int32 cm", cm.int(), expect=equals(value))
add = cases_for("metrics.mean_iou")
add("perfect uint8 prediction, 21 classes", perfect21, expect=equals(1.0))
for label, t in [("int32", target21.int()), ("bool, 2 classes", btarget.bool())]:
    classes = 2 if label.startswith("bool") else 21
    add(f"perfect {label} prediction", Call("metrics.confusion_matrix", t, t, classes),
        expect=equals(1.0))
add("perfect prediction, ignored pixels", Call("metrics.confusion_matrix", target, ignored, 3,
                                               ignore_index=255), expect=equals(1.0))
add = cases_for("metrics.iou_per_class")


def tm_iou(prediction, target, num_classes):
    def make():
        from torchmetrics.functional.classification import multiclass_jaccard_index

        return multiclass_jaccard_index(prediction.flatten(), target.flatten(), num_classes,
                                        average="none")

    return Fresh(make)


add("every class present, vs torchmetrics", Call("metrics.confusion_matrix", prediction, target,
                                                 3), expect=equals(tm_iou(prediction, target, 3)))
add = cases_for("metrics.summary")
for label, bad in [("a list", cm.tolist()), ("all zeros", torch.zeros(2, 2, dtype=torch.int64))]:
    add(f"cm {label}", bad, expect=error("cm"))
add("2 names for 3 classes", cm, ["a", "b"], expect=error("class_names"))
add("class_names a str", cm, "abc", expect=error("class_names"))
add("class 2 absent", cm, ["a", "b", "c"], expect=equals({
    "pixel_accuracy": 8 / 11, "miou": (5 / 8 + 3 / 6) / 2, "mean_dice": (10 / 13 + 6 / 9) / 2,
    "iou": dict(zip("abc", iou.tolist(), strict=True)),
    "dice": dict(zip("abc", dice_c.tolist(), strict=True))}))

# evaluate_segmentation(model, loader, num_classes, device="cpu", ignore_index=None)
add = cases_for("metrics.evaluate_segmentation")
seg_images = rand(4, 1, 3, 3)
seg_labels = randint(3, 4, 3, 3)
seg_ignored = seg_labels.clone()
seg_ignored[:2, 0] = 255            # unlabelled pixels, more in the first batch
seg3, seg1 = fixed_conv(1, 3, seed=3), fixed_conv(1, 1, seed=4)
seg_pred = seg3()(seg_images).argmax(dim=1)
bin_labels = randint(2, 4, 3, 3)
bin_pred = (seg1()(seg_images)[:, 0] > 0).long()


def in_batches(images, labels):
    return [(images[:2], labels[:2]), (images[2:], labels[2:])]


for label, bad in [("None", None), ("a str", "unet")]:
    add(f"model {label}", bad, in_batches(seg_images, seg_labels), 3, expect=error("model"))
add("loader None", Fresh(seg3), None, 3, expect=error("loader"))
for label, bad in pick(bad_ints(2), "True", "1"):
    add(f"num_classes={label}", Fresh(seg3), in_batches(seg_images, seg_labels), bad,
        expect=error("num_classes"))
add("device 'gpu'", Fresh(seg3), in_batches(seg_images, seg_labels), 3, device="gpu",
    expect=error("device"))
add("3-class model", Fresh(seg3), in_batches(seg_images, seg_labels), 3,
    expect=equals(sk_confusion(seg_pred, seg_labels, 3)))
add("uint8 targets", Fresh(seg3), in_batches(seg_images, seg_labels.to(torch.uint8)), 3,
    expect=equals(sk_confusion(seg_pred, seg_labels, 3)))
add("ignore_index 255", Fresh(seg3), in_batches(seg_images, seg_ignored), 3, ignore_index=255,
    expect=equals(sk_confusion(seg_pred, seg_ignored, 3, 255)))
add("binary model (N, 1, H, W)", Fresh(seg1), in_batches(seg_images, bin_labels), 2,
    expect=equals(sk_confusion(bin_pred, bin_labels, 2)))
add("binary model, targets (N, 1, H, W)", Fresh(seg1),
    in_batches(seg_images, bin_labels[:, None]), 2,
    expect=equals(sk_confusion(bin_pred, bin_labels, 2)))

# ---------------------------------------------- ConfusionMatrix: update, compute, reset


def updated(*batches):
    """after(cm): cm with these (prediction, target) batches counted."""

    def after(cm):
        for p, t in batches:
            cm.update(p, t)
        return cm

    return after


add = cases_for("metrics.ConfusionMatrix")
for label, bad in pick(bad_ints(2), "True", "3.0", "1") + [("None", None)]:
    add(f"num_classes={label}", bad, expect=error("num_classes"))
for label, bad in [("True", True), ("a str", "255"), ("255.0", 255.0)]:
    add(f"ignore_index={label}", 3, ignore_index=bad, expect=error("ignore_index"))
add("NumPy ints", np.int64(3), ignore_index=np.int64(255),
    expect=equals((3, 255), post=lambda cm: (cm.num_classes, cm.ignore_index)))

streaming = Call("metrics.ConfusionMatrix", 3, ignore_index=255)
add = cases_for("metrics.ConfusionMatrix.update", obj=streaming)
for label, bad in [("float", prediction.float()), ("a list", prediction.tolist()),
                   ("value 3 on a counted pixel", with_value(prediction, 3, index=5)),
                   ("logits (N, C, H, W)", logits)]:
    add(f"prediction {label}", bad, ignored, expect=error("prediction"))
add("prediction 3 where the target is ignored: not looked at", with_value(prediction, 3),
    ignored, expect=equals(sk_confusion(prediction, ignored, 3, 255)))
for label, bad in [("float", ignored.float()), ("value 3", with_value(target, 3)),
                   ("shape (2, 4, 3)", ignored[..., :3])]:
    add(f"target {label}", prediction, bad, expect=error("target", "prediction"))
add("uint8 labels, 255 ignored: the batch's counts", prediction.to(torch.uint8),
    ignored.to(torch.uint8), expect=equals(sk_confusion(prediction, ignored, 3, 255)))
add("non-contiguous", strided(prediction), strided(ignored),
    expect=equals(sk_confusion(prediction, ignored, 3, 255)))
add("empty batch", prediction[:0], ignored[:0], expect=equals(torch.zeros(3, 3)))
add("bool labels, 2 classes", btarget.flip(0).bool(), btarget.bool(),
    obj=Call("metrics.ConfusionMatrix", 2), expect=equals(sk_confusion(btarget.flip(0),
                                                                        btarget, 2)))
add = cases_for("metrics.ConfusionMatrix.compute", obj=streaming)
add("before any update", expect=equals(torch.zeros(3, 3)))
add("two batches (one uint8) = one call on both", obj=streaming.then(updated(
    (prediction[:1], ignored[:1]), (prediction[1:].to(torch.uint8), ignored[1:].to(torch.uint8)))),
    expect=equals(sk_confusion(prediction, ignored, 3, 255)))
add = cases_for("metrics.ConfusionMatrix.reset", obj=streaming.then(updated((prediction,
                                                                             ignored))))
add("after an update", expect=equals(torch.zeros(3, 3), post=lambda cm: cm.compute(),
                                      of_object=True))

# ---------------------------------------------- scores: accuracy, precision, recall, F1


def sk_average(prediction, target, average, which):
    """scikit-learn's precision (0), recall (1) or F1 (2), with its default labels (the
    classes that occur) and zero_division=0."""

    def make():
        from sklearn.metrics import precision_recall_fscore_support

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = precision_recall_fscore_support(
                target.flatten().numpy(), prediction.flatten().numpy(), average=average,
                zero_division=0)
        return float(scores[which])

    return Fresh(make)


measured = Call("metrics.confusion_matrix", prediction, target, 3)
bad_cms = [("all zeros (no pixel counted)", torch.zeros(3, 3, dtype=torch.int64)),
           ("a list", cm.tolist()), ("2x3", cm[:2]), ("a NumPy array", cm.numpy()),
           ("a negative count", with_value(cm, -1)), ("a NaN", with_value(cm.double(), math.nan))]
add = cases_for("metrics.accuracy")
for label, bad in bad_cms:
    add(f"cm {label}", bad, expect=error("cm"))
add("class 2 absent", cm, expect=equals(8 / 11))
add("float counts", cm.double(), expect=equals(8 / 11))
add("vs a hand count", measured, expect=equals(Fresh(lambda: float(
    (prediction == target).double().mean()))))
for which, name in enumerate(("precision", "recall", "f1_score")):
    add = cases_for(f"metrics.{name}")
    for label, bad in bad_cms[:3]:
        add(f"cm {label}", bad, expect=error("cm"))
    for label, bad in [("'binary'", "binary"), ("None", None), ("1", 1)]:
        add(f"average={label}", cm, bad, expect=error("average"))
    for average in ("macro", "micro", "weighted"):
        add(f"{average}, vs scikit-learn", measured, average,
            expect=equals(sk_average(prediction, target, average, which)))
by_class = {"precision_per_class": [5 / 7, 3 / 4, math.nan],
            "recall_per_class": [5 / 6, 3 / 5, math.nan],
            "f1_per_class": [10 / 13, 6 / 9, math.nan]}
for name, value in by_class.items():
    add = cases_for(f"metrics.{name}")
    for label, bad in bad_cms[:3]:
        add(f"cm {label}", bad, expect=error("cm"))
    add("class 2 absent: NaN", cm, expect=equals(torch.tensor(value)))
add = cases_for("metrics.precision_per_class")
add("class never predicted: 0", torch.tensor([[3, 0], [2, 0]]), expect=equals(
    torch.tensor([3 / 5, 0.0])))

# ---------------------------------------------- curves


prob, ptarget = rand(2, 4, 4), with_value(randint(2, 2, 4, 4), 1)
pignored = with_value(ptarget, 255, 3)


def sk_curve(probability, target, ignore_index=None):
    def make():
        from sklearn.metrics import precision_recall_curve

        t, p = target.flatten().long().numpy(), probability.flatten().double().numpy()
        keep = t != ignore_index if ignore_index is not None else np.ones(t.shape, bool)
        return precision_recall_curve(t[keep], p[keep])

    return Fresh(make)


def tm_curve(probability, target, thresholds):
    def make():
        from torchmetrics.functional.classification import binary_precision_recall_curve

        return binary_precision_recall_curve(probability, target, thresholds=thresholds)

    return Fresh(make)


for name in ("precision_recall_curve", "best_f1_threshold"):
    add = cases_for(f"metrics.{name}")
    for label, bad in [("None", None), ("a list", prob.tolist()), ("uint8", (prob * 255).byte()),
                       ("NaN", with_value(prob, math.nan)), ("logits", prob * 4 - 2)]:
        add(f"probability {label}", bad, ptarget, expect=error("probability"))
    for label, bad in [("float", ptarget.float()), ("value 2", with_value(ptarget, 2)),
                       ("shape (2, 4, 3)", ptarget[..., :3]),
                       ("no positive pixel", torch.zeros_like(ptarget)),
                       ("255 without ignore_index", pignored),
                       ("empty", ptarget[:0])]:
        add(f"target {label}", prob if label != "empty" else prob[:0], bad,
            expect=error("target"))
    for label, bad in [("1.5 in a list", [0.5, 1.5]), ("1", 1), ("0.5 alone", 0.5),
                       ("True", True), ("a str", "0.5"), ("[]", []), ("NaN", [math.nan])]:
        add(f"thresholds {label}", prob, ptarget, thresholds=bad, expect=error("thresholds"))
    add("ignore_index=True", prob, pignored, ignore_index=True, expect=error("ignore_index"))
add = cases_for("metrics.precision_recall_curve")
add("every threshold, vs scikit-learn", prob, ptarget, expect=equals(sk_curve(prob, ptarget)))
add("bool target", prob, ptarget.bool(), expect=equals(sk_curve(prob, ptarget)))
add("uint8 target, 255 ignored", prob, pignored.to(torch.uint8), ignore_index=255,
    expect=equals(sk_curve(prob, pignored, 255)))
add("float64, non-contiguous", strided(prob.double()), strided(ptarget),
    expect=equals(sk_curve(prob, ptarget)))
grid = torch.linspace(0, 1, 5)
add("5 thresholds, vs torchmetrics", prob, ptarget, thresholds=grid,
    expect=equals(tm_curve(prob, ptarget, grid)))
add("thresholds=5 (an int)", prob, ptarget, thresholds=5,
    expect=equals(tm_curve(prob, ptarget, grid)))
add = cases_for("metrics.best_f1_threshold")
small_p, small_t = torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])
best = {"threshold": 0.35, "f1": 0.8, "precision": 2 / 3, "recall": 1.0}
add("hand-checked", small_p, small_t, expect=equals(best))
add("uint8 target", small_p, small_t.to(torch.uint8), expect=equals(best))
add("thresholds a NumPy array", small_p, small_t, thresholds=np.array([0.3, 0.9]),
    expect=equals({**best, "threshold": 0.3}))

# ---------------------------------------------- per image: the two meanings of mIoU


def sk_per_image(prediction, target, num_classes, ignore_index=None):
    def make():
        return torch.stack([sk_confusion(p, t, num_classes, ignore_index).make()
                            for p, t in zip(prediction, target, strict=True)])

    return Fresh(make)


def tm_per_image(prediction, target, num_classes, mean=False):
    def make():
        from torchmetrics.functional.segmentation import mean_iou

        scores = mean_iou(prediction.long(), target.long(), num_classes=num_classes,
                          input_format="index")
        return float(scores.mean()) if mean else scores

    return Fresh(make)


add = cases_for("metrics.per_image_confusion_matrices")
for label, bad in bad_indices(prediction, 3)[:3]:
    add(f"prediction {label}", bad, target, 3, expect=error("prediction"))
for label, bad in [("float", target.float()), ("value 3", with_value(target, 3)),
                   ("shape (2, 4, 3)", target[..., :3]), ("0-D", target[0, 0, 0])]:
    add(f"target {label}", prediction, bad, 3, expect=error("target", "prediction"))
for label, bad in pick(bad_ints(2), "True", "1"):
    add(f"num_classes={label}", prediction, target, bad, expect=error("num_classes"))
add("one per image, vs scikit-learn", prediction, target, 3,
    expect=equals(sk_per_image(prediction, target, 3)))
add("uint8 labels, 255 ignored", prediction.to(torch.uint8), ignored.to(torch.uint8), 3,
    ignore_index=255, expect=equals(sk_per_image(prediction, ignored, 3, 255)))
add("bool masks", btarget[:, 0].flip(0).bool(), btarget[:, 0].bool(), 2,
    expect=equals(sk_per_image(btarget[:, 0].flip(0), btarget[:, 0], 2)))
per_image = Call("metrics.per_image_confusion_matrices", prediction, target, 3)
bad_stacks = [("(C, C)", cm), ("a list", cm[None].tolist()), ("no image", cm[None][:0]),
              ("(N, 3, 2)", cm[None][:, :, :2])]
for name in ("data_set_mean_iou", "per_image_iou", "per_image_mean_iou"):
    add = cases_for(f"metrics.{name}")
    for label, bad in bad_stacks:
        add(f"cms {label}", bad, expect=error("cms"))
add = cases_for("metrics.data_set_mean_iou")
add("vs torchmetrics (every class present)", per_image,
    expect=equals(Fresh(lambda: float(tm_iou(prediction, target, 3).make().mean()))))
add = cases_for("metrics.per_image_iou")
add("vs torchmetrics", per_image, expect=equals(tm_per_image(prediction, target, 3)))
add = cases_for("metrics.per_image_mean_iou")
add("vs torchmetrics", per_image, expect=equals(tm_per_image(prediction, target, 3, mean=True)))
add("every pixel ignored", torch.zeros(2, 3, 3, dtype=torch.int64), expect=error("cms"))

# ---------------------------------------------- bootstrap

same_images = cm[None].repeat(4, 1, 1)               # 4 identical images: no spread at all
varied = torch.stack([cm, cm.flip(0), cm * 2, cm.flip(1)])


def interval(result):
    return (result["low"], result["high"])


for name in ("bootstrap_interval", "paired_bootstrap"):
    add = cases_for(f"metrics.{name}")
    both = (varied, varied) if name == "paired_bootstrap" else (varied,)
    first = "cms_a" if name == "paired_bootstrap" else "cms"
    for label, bad in [("(C, C)", cm), ("one image", varied[:1]), ("a list", varied.tolist())]:
        add(f"{first} {label}", bad, *both[1:], Fresh(lambda: lambda cms: 0.5),
            expect=error(first))
    for label, bad in [("a str", "miou"), ("None", None)]:
        add(f"score {label}", *both, bad, expect=error("score"))
    add("score returning a tensor", *both, Fresh(lambda: lambda cms: cms.sum(0)),
        expect=error("score"))
    for label, bad in pick(bad_ints(100), "True", "101.0", "99") + [("10", 10)]:
        add(f"n_resamples={label}", *both, Fresh(lambda: lambda cms: 0.5), n_resamples=bad,
            expect=error("n_resamples"))
    for label, bad in [("0", 0), ("1", 1), ("95", 95), ("nan", math.nan), ("True", True)]:
        add(f"confidence={label}", *both, Fresh(lambda: lambda cms: 0.5), confidence=bad,
            expect=error("confidence"))
    for label, bad in [("-1", -1), ("True", True), ("1.0", 1.0)]:
        add(f"seed={label}", *both, Fresh(lambda: lambda cms: 0.5), seed=bad,
            expect=error("seed"))


def trace_share(cms):
    """accuracy of the summed matrices, written out (no coursekit)."""
    total = cms.sum(0).double()
    return float(total.trace() / total.sum())


add = cases_for("metrics.bootstrap_interval")
add("identical images: the interval is the score", same_images, trace_share,
    expect=equals((8 / 11, 8 / 11), post=interval))
add("seed a NumPy int", varied, trace_share, seed=np.int64(1), expect=equals(same_call(
    varied, trace_share, seed=1), post=lambda r: r["resamples"]))
add("int32 cms", varied.int(), trace_share, expect=equals(same_call(varied, trace_share),
                                                          post=interval))
add = cases_for("metrics.paired_bootstrap")
add("different images (truths)", varied, varied.flip(0), trace_share, expect=error("cms_b"))
add("4 images for 3", varied, varied[:3], trace_share, expect=error("cms_b", "cms_a"))
add("a model against itself", varied, varied, trace_share,
    expect=equals((0.0, 0.0, 0.0), post=lambda r: (r["difference"], r["low"], r["high"])))

# truth_from (chapter 9): count matrices, whose row 0 holds each reader's false positives
reader_a = torch.tensor([[1, 0], [0, 1], [2, 0], [0, 0]])       # counts of 2 classes
reader_b = torch.tensor([[1, 0], [1, 1], [1, 0], [0, 1]])
reader_truth = torch.tensor([[1, 0], [0, 1], [1, 0], [0, 1]])
# exact: a gets scenes 0, 1 (2 of 4), b scenes 0, 2, 3 (3 of 4): difference -1/4
cms_reader_a = Call("metrics.count_confusion", reader_a, reader_truth)
cms_reader_b = Call("metrics.count_confusion", reader_b, reader_truth)
exact_share = Fresh(lambda: lambda cms: float(((cms[:, 0, 1:].sum(1) + cms[:, 1:, 0].sum(1))
                                               == 0).double().mean()))
for label, bad in [("True", True), ("-1", -1), ("3 (past the last row)", 3), ("1.0", 1.0)]:
    add(f"truth_from={label}", cms_reader_a, cms_reader_b, exact_share, truth_from=bad,
        expect=error("truth_from"))
add("count matrices without truth_from", cms_reader_a, cms_reader_b, exact_share,
    expect=error("cms_b"))
add("count matrices, truth_from=1", cms_reader_a, cms_reader_b, exact_share, truth_from=1,
    expect=equals(-0.25, post=lambda r: r["difference"]))
add("truth_from a NumPy int", cms_reader_a, cms_reader_b, exact_share,
    truth_from=np.int64(1), expect=equals(-0.25, post=lambda r: r["difference"]))

# ---------------------------------------------- ISBI 2012 cell scores

two_cells = torch.ones(5, 5, dtype=torch.long)
two_cells[:, 2] = 0                                   # a membrane between two cells
two_cells_labels = torch.tensor([[1, 1, 0, 2, 2]] * 5)
merged = with_value(two_cells, 1, 12)                 # a one-pixel gap in the membrane
membrane_map = (1 - two_cells.double()) * 0.9
membrane_map[2, 2] = 0.3                              # the gap, at threshold 0.5

add = cases_for("metrics.label_cells")
for label, bad in [("float", two_cells.float()), ("a list", two_cells.tolist()),
                   ("None", None), ("(1, H, W)", two_cells[None]),
                   ("uint8 0/255", (two_cells * 255).to(torch.uint8))]:
    add(f"cell_mask {label}", bad, expect=error("cell_mask"))
add("two cells", two_cells, expect=equals(two_cells_labels))
add("bool mask", two_cells.bool(), expect=equals(two_cells_labels))
add("uint8 mask, non-contiguous", strided(two_cells.to(torch.uint8)),
    expect=equals(two_cells_labels))
add("corners do not connect", torch.eye(3, dtype=torch.long),
    expect=equals(torch.diag(torch.tensor([1, 2, 3]))))

add = cases_for("metrics.cells_from_membrane_probability")
for label, bad in [("NaN", with_value(membrane_map, math.nan)), ("above 1", membrane_map + 1),
                   ("int64", two_cells), ("(1, H, W)", membrane_map[None]), ("None", None)]:
    add(f"membrane_probability {label}", bad, expect=error("membrane_probability"))
for label, bad in [("1.5", 1.5), ("True", True), ("nan", math.nan), ("a str", "0.5")]:
    add(f"threshold={label}", membrane_map, bad, expect=error("threshold"))
add("threshold 0.5: the gap merges", membrane_map,
    expect=equals(torch.where(merged.bool(), 1, 0)))
add("threshold 0.2: two cells", membrane_map, 0.2, expect=equals(two_cells_labels))
add("float32, threshold a NumPy float", membrane_map.float(), np.float64(0.2),
    expect=equals(two_cells_labels))

merged_labels = torch.where(merged.bool(), 1, 0)
gap_rand = {"v_rand": 2 / 3, "split": 1.0, "merge": 0.5}
gap_info = {"v_info": 0.0, "split": 1.0, "merge": 0.0, "h_truth": math.log(2),
            "h_proposed": 0.0, "mutual_information": 0.0}
for name, value in (("rand_scores", gap_rand), ("information_scores", gap_info)):
    add = cases_for(f"metrics.{name}")
    add("truth_cells all membrane", torch.zeros(5, 5, dtype=torch.long), two_cells_labels,
        expect=error("truth_cells"))
    for label, bad in [("float", two_cells_labels.float()), ("a list", two_cells_labels.tolist()),
                       ("(1, H, W)", two_cells_labels[None])]:
        add(f"truth_cells {label}", bad, two_cells_labels, expect=error("truth_cells"))
    for label, bad in [("float", merged_labels.float()), ("5x4", merged_labels[:, :4]),
                       ("negative labels", merged_labels - 1)]:
        add(f"proposed_cells {label}", two_cells_labels, bad, expect=error("proposed_cells"))
    add("a one-pixel gap merges two cells", two_cells_labels, merged_labels,
        expect=equals(value))
    add("int16 labels, non-contiguous", strided(two_cells_labels.short()),
        strided(merged_labels.int()), expect=equals(value))
    perfect = {key: (value[key] if key.startswith("h_") else 1.0) for key in value}
    if name == "information_scores":
        perfect["h_proposed"] = perfect["mutual_information"] = math.log(2)
    add("perfect", two_cells_labels, two_cells_labels.to(torch.uint8), expect=equals(perfect))

gap_scores = {"v_rand": 2 / 3, "v_rand_split": 1.0, "v_rand_merge": 0.5, "v_info": 0.0,
              "v_info_split": 1.0, "v_info_merge": 0.0}
add = cases_for("metrics.isbi_scores")
for label, bad in [("float", merged.float()), ("value 2", with_value(merged, 2)),
                   ("4-D", merged[None, None]), ("5x4", merged[:, :4])]:
    add(f"predicted_cell_mask {label}", bad, two_cells, expect=error("predicted_cell_mask"))
for label, bad in [("uint8 0/255", (two_cells * 255).to(torch.uint8)), ("a list",
                                                                         two_cells.tolist()),
                   ("no slice", two_cells[None][:0]), ("all membrane", two_cells * 0)]:
    add(f"cell_mask {label}", merged if label != "no slice" else merged[None][:0], bad,
        expect=error("cell_mask", "truth_cells"))
add("a one-pixel gap", merged, two_cells, expect=equals(gap_scores))
add("bool masks, a stack of 2", torch.stack([merged, two_cells]).bool(),
    torch.stack([two_cells, two_cells]).bool(),
    expect=equals({key: (value + 1) / 2 for key, value in gap_scores.items()}))

add = cases_for("metrics.isbi_scores_at_thresholds")
for label, bad in [("NaN", with_value(membrane_map, math.nan)), ("above 1", membrane_map + 1),
                   ("a list", membrane_map.tolist()), ("4-D", membrane_map[None, None])]:
    add(f"membrane_probability {label}", bad, two_cells, expect=error("membrane_probability"))
add("cell_mask 5x4", membrane_map, two_cells[:, :4], expect=error("cell_mask"))
add("cell_mask float", membrane_map, two_cells.float(), expect=error("cell_mask"))
for label, bad in [("[1.5]", [1.5]), ("1", 1), ("a str", "0.5")]:
    add(f"thresholds {label}", membrane_map, two_cells, thresholds=bad,
        expect=error("thresholds"))
add("thresholds 0.2 and 0.5", membrane_map, two_cells, thresholds=[0.5, 0.2],
    expect=equals({"threshold": torch.tensor([0.2, 0.5]), "v_rand": torch.tensor([1.0, 2 / 3]),
                   "v_info": torch.tensor([1.0, 0.0]),
                   "pixel_accuracy": torch.tensor([1.0, 24 / 25]),
                   "membrane_f1": torch.tensor([1.0, 8 / 9])}))

# ---------------------------------------------- answers that are counts (multisets)

true_counts = torch.tensor([[0, 2, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
predicted_counts = torch.tensor([[0, 1, 1, 1], [1, 0, 0, 0], [0, 0, 2, 0]])
# TP 1 + 1 + 1 + 0 = 3, FP 1 + 0 + 2 = 3, FN 1: precision 1/2, recall 3/4, F1 6/10
add = cases_for("metrics.count_confusion")
for label, bad in [("float", predicted_counts.float()), ("a list", predicted_counts.tolist()),
                   ("bool", predicted_counts > 0), ("(K,)", predicted_counts[0]),
                   ("negative", with_value(predicted_counts, -1)),
                   ("3 classes for 4", predicted_counts[:, :3])]:
    add(f"predicted {label}", bad, true_counts, expect=error("predicted"))
for label, bad in [("float", true_counts.float()), ("None", None),
                   ("negative", with_value(true_counts, -2))]:
    add(f"true {label}", predicted_counts, bad, expect=error("true"))
add("uint8 and int32, non-contiguous", strided(predicted_counts.to(torch.uint8)),
    strided(true_counts.int()), expect=equals(same_call(predicted_counts, true_counts)))
add("no scene", predicted_counts[:0], true_counts[:0],
    expect=equals(torch.zeros(0, 5, 5, dtype=torch.long)))

count_cms = Call("metrics.count_confusion", predicted_counts, true_counts)
for name, value in (("exact_match", 1 / 3), ("digit_precision", 1 / 2),
                    ("digit_recall", 3 / 4), ("digit_f1", 6 / 10)):
    add = cases_for(f"metrics.{name}")
    add("three scenes", count_cms, expect=equals(value))
    add("int32 matrices", count_cms.then(lambda cms: cms.int()), expect=equals(value))
    for label, bad in [("a list", [[0, 1], [1, 0]]), ("(K + 1,)", torch.zeros(5)),
                       ("not square", torch.zeros(2, 5, 4, dtype=torch.long)),
                       ("one class in all", torch.zeros(2, 1, 1, dtype=torch.long)),
                       ("no scene", torch.zeros(0, 5, 5, dtype=torch.long))]:
        add(f"cms {label}", bad, expect=error("cms"))
    # issue 23: counts that are no counts, and matrices that are no count answers
    plain_cm = torch.tensor([[0, 0, 0], [0, 1, 1], [0, 0, 1]])   # 1 read as 2, once
    for label, bad in [("negative", count_cms.then(lambda cms: cms - 2)),
                       ("NaN", count_cms.then(lambda cms: with_value(cms.double(), math.nan,
                                                                     1))),
                       ("infinite", count_cms.then(lambda cms: with_value(cms.double(),
                                                                          math.inf, 1))),
                       ("bool", count_cms.then(lambda cms: cms > 0)),
                       ("complex", count_cms.then(lambda cms: cms.to(torch.complex64))),
                       ("a plain confusion matrix", plain_cm),
                       ("[0, 0] = 1", count_cms.then(lambda cms: with_value(cms, 1, 0)))]:
        add(f"cms {label}", bad, expect=error("cms"))
    add("float64 matrices", count_cms.then(lambda cms: cms.double()), expect=equals(value))
    add("uint8 matrices, non-contiguous", count_cms.then(
        lambda cms: strided(cms.to(torch.uint8))), expect=equals(value))
    add("summed (K + 1, K + 1)", count_cms.then(lambda cms: cms.sum(0)),
        expect=equals(value if name != "exact_match" else 0.0))

add = cases_for("metrics.count_confusion")
add("no class (N, 0)", predicted_counts[:, :0], true_counts[:, :0], expect=error("predicted"))
add("int8 counts", predicted_counts.to(torch.int8), true_counts.to(torch.int8),
    expect=equals(same_call(predicted_counts, true_counts)))
add("uint8 counts of 200 and 100", torch.tensor([[200]], dtype=torch.uint8),
    torch.tensor([[100]], dtype=torch.uint8), expect=equals(torch.tensor([[[0, 100],
                                                                             [0, 100]]])))

# ---------------------------------------------- detection: COCO's average precision (chapter 9)
# (tests/test_metrics_detection.py checks the numbers against pycocotools on random scenes)

det_a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 7.5]])
det_b = torch.tensor([[1.0, 0.0, 3.0, 2.0], [0.5, 0.5, 2.5, 2.5]])
add = cases_for("metrics.box_iou")
for name in ("boxes_a", "boxes_b"):
    for label, bad in [("int64", det_a.long()), ("a list", det_a.tolist()), ("None", None),
                       ("(K, 3)", det_a[:, :3]), ("(4,)", det_a[0]),
                       ("NaN", with_value(det_a, math.nan, 2)),
                       ("inf", with_value(det_a, math.inf, 3)),
                       ("x2 < x1", with_value(det_a, -1.0, 2))]:
        args = (bad, det_b) if name == "boxes_a" else (det_b, bad)
        add(f"{name} {label}", *args, expect=error(name))
add("three boxes by two", det_a, det_b,
    expect=equals(torch.tensor([[1 / 3, 2.25 / 5.75], [1.0, 2.25 / 5.75], [0.0, 0.0]],
                               dtype=torch.float64)))
add("float16 and float64, non-contiguous", strided(det_a.half()), det_b.double(),
    expect=equals(same_call(det_a, det_b)))
add("no box", det_a[:0], det_b, expect=equals(torch.zeros(0, 2, dtype=torch.float64)))

det_masks_a = torch.tensor([[[1, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]], dtype=torch.bool)
det_masks_b = torch.tensor([[[0, 1, 1], [0, 0, 0]]], dtype=torch.uint8)
det_probabilities = torch.tensor([[[[0.9, 0.6, 0.5], [0.1, 0.0, 0.2]]]])
add = cases_for("metrics.mask_iou")
for name in ("masks_a", "masks_b"):
    for label, bad in [("a list", det_masks_b.tolist()), ("(H, W)", det_masks_b[0]),
                       ("(K, 2, H, W)", det_probabilities.expand(1, 2, 2, 3)),
                       ("logits", det_probabilities * 4 - 2),
                       ("NaN", with_value(det_probabilities, math.nan)),
                       ("value 2", with_value(det_masks_b, 2)),
                       ("value -1", with_value(det_masks_b.long(), -1)),
                       ("complex", det_masks_b.to(torch.complex64))]:
        args = (bad, det_masks_b) if name == "masks_a" else (det_masks_b, bad)
        add(f"{name} {label}", *args, expect=error(name))
add("masks_b of another size", det_masks_a, det_masks_b[:, :, :2], expect=error("masks_b"))
for label, bad in bad_numbers(low=0, high=1, full=True):
    add(f"mask_threshold={label}", det_masks_a, det_masks_b, mask_threshold=bad,
        expect=error("mask_threshold"))
add("by hand, an empty mask", det_masks_a, det_masks_b,
    expect=equals(torch.tensor([[1 / 3], [0.0]], dtype=torch.float64)))
add("probabilities (K, 1, H, W), > 0.5", det_probabilities, det_masks_b,
    expect=equals(torch.tensor([[1 / 3]], dtype=torch.float64)))
add("mask_threshold=0.4", det_probabilities, det_masks_b, mask_threshold=0.4,
    expect=equals(torch.tensor([[2 / 3]], dtype=torch.float64)))
for label, same_masks in int_dtypes(det_masks_b.long(), full=True) + [
        ("float 0/1", det_masks_b.float()), ("non-contiguous", strided(det_masks_b))]:
    add(f"masks_b {label}", det_masks_a, same_masks,
        expect=equals(torch.tensor([[1 / 3], [0.0]], dtype=torch.float64)))
add("two empty masks: 0 (as pycocotools)", det_masks_a[1:], det_masks_a[1:],
    expect=equals(torch.zeros(1, 1, dtype=torch.float64)))
add("no mask", det_masks_a[:0], det_masks_b, expect=equals(torch.zeros(0, 1,
                                                                         dtype=torch.float64)))

det_ious = torch.tensor([[0.6, 0.7, 0.0], [0.6, 0.9, 0.0], [0.8, 0.8, 0.4], [0.0, 0.0, 0.5]])
add = cases_for("metrics.match_detections")
for label, bad in [("int64", det_ious.long()), ("a list", det_ious.tolist()), ("None", None),
                   ("(G,)", det_ious[0]), ("NaN", with_value(det_ious, math.nan)),
                   ("1.5", with_value(det_ious, 1.5)), ("-0.1", with_value(det_ious, -0.1)),
                   ("bool", det_ious > 0.5)]:
    add(f"ious {label}", bad, expect=error("ious"))
for label, bad in bad_numbers(low=0, high=1, full=True):
    add(f"iou_threshold={label}", det_ious, bad, expect=error("iou_threshold"))
add("greedy by score, IoU at the threshold a match", det_ious, 0.5,
    expect=equals(torch.tensor([1, 0, -1, 2])))
add("iou_threshold=0.75", det_ious, 0.75, expect=equals(torch.tensor([-1, 1, 0, -1])))
add("a tie goes to the later truth", torch.tensor([[0.6, 0.6]]),
    expect=equals(torch.tensor([1])))
add("float16, non-contiguous", strided(det_ious.half()), 0.5,
    expect=equals(torch.tensor([1, 0, -1, 2])))
add("no truth", torch.zeros(2, 0), expect=equals(torch.tensor([-1, -1])))
add("no detection", torch.zeros(0, 3), expect=equals(torch.zeros(0, dtype=torch.long)))

det_scores = torch.tensor([0.6, 0.9, 0.7, 0.8])
det_hits = torch.tensor([False, True, True, False])
det_curve = (torch.tensor([1, 1 / 2, 2 / 3, 1 / 2], dtype=torch.float64),
             torch.tensor([1 / 3, 1 / 3, 2 / 3, 2 / 3], dtype=torch.float64),
             torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=torch.float64))
add = cases_for("metrics.detection_precision_recall")
for label, bad in [("int64", det_scores.long()), ("a list", det_scores.tolist()),
                   ("NaN", with_value(det_scores, math.nan)), ("(1, D)", det_scores[None]),
                   ("None", None)]:
    add(f"scores {label}", bad, det_hits, 3, expect=error("scores"))
for label, bad in [("float", det_hits.float()), ("value 2", with_value(det_hits.long(), 2)),
                   ("3 for 4 scores", det_hits[:3]), ("a list", det_hits.tolist())]:
    add(f"true_positive {label}", det_scores, bad, 3, expect=error("true_positive"))
for label, bad in bad_ints(1, full=True) + [("1, fewer than 2 true positives", 1)]:
    add(f"num_truths={label}", det_scores, det_hits, bad, expect=error("num_truths"))
add("sorted by score: precision, recall, scores", det_scores, det_hits, 3,
    expect=equals(det_curve))
for label, same_hits in int_dtypes(det_hits.long(), full=True):
    add(f"true_positive {label}", strided(det_scores.double()), same_hits, np.int64(3),
        expect=equals(det_curve))
add("no detection", torch.zeros(0), torch.zeros(0, dtype=torch.bool), 2,
    expect=equals((torch.zeros(0),) * 3))

add = cases_for("metrics.average_precision")
for name in ("precision", "recall"):
    for label, bad in [("a list", [0.5]), ("int64", torch.tensor([1])), ("NaN",
                                                                        torch.tensor([math.nan])),
                       ("1.5", torch.tensor([1.5])), ("(1, D)", torch.tensor([[0.5]]))]:
        args = (bad, torch.tensor([0.5])) if name == "precision" else (torch.tensor([0.5]), bad)
        add(f"{name} {label}", *args, expect=error(name))
add("recall falling", torch.tensor([1.0, 0.5]), torch.tensor([0.5, 0.2]),
    expect=error("recall"))
add("recall of another length", torch.tensor([1.0, 0.5]), torch.tensor([0.5]),
    expect=error("recall"))
add("101-point interpolation by hand", det_curve[0], det_curve[1],
    expect=equals((34 * 1 + 33 * 2 / 3) / 101, atol=1e-12))
add("float32, non-contiguous", strided(det_curve[0].float()), strided(det_curve[1].float()),
    expect=equals((34 * 1 + 33 * 2 / 3) / 101))
add("no detection: 0", torch.zeros(0), torch.zeros(0), expect=equals(0.0))
add("every object found first: 1", torch.ones(3), torch.tensor([0.5, 0.9, 1.0]),
    expect=equals(1.0))

# five objects of class 1, three found first (recall 3/5 reaches the level 0.6: AP 61/101 at
# every IoU threshold); an object of class 2 not found (AP 0); class 9 only predicted
det_truth = torch.tensor([[10.0 * i, 0.0, 10.0 * i + 5, 5.0] for i in range(5)])
det_found = [{"boxes": torch.cat([det_truth[:3], det_truth[:1]]),
              "labels": torch.tensor([1, 1, 1, 9]),
              "scores": torch.tensor([0.9, 0.8, 0.7, 0.95])},
             {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long),
              "scores": torch.zeros(0)}]
det_true = [{"boxes": det_truth, "labels": torch.ones(5, dtype=torch.long)},
            {"boxes": det_truth[:1], "labels": torch.tensor([2])}]
det_mask_truth = torch.zeros(5, 6, 50, dtype=torch.uint8)
for i in range(5):
    det_mask_truth[i, 0:5, 10 * i:10 * i + 5] = 1
det_found_masks = [{**det_found[0], "masks": torch.cat([det_mask_truth[:3],
                                                        det_mask_truth[:1]]).float()[:, None]},
                   {**det_found[1], "masks": torch.zeros(0, 1, 6, 50)}]
det_true_masks = [{**det_true[0], "masks": det_mask_truth},
                  {**det_true[1], "masks": det_mask_truth[:1]}]
det_expected = {"map": 61 / 202, "map_50": 61 / 202, "map_75": 61 / 202,
                "classes": torch.tensor([1, 2])}


def det_summary(result):
    return {key: result[key] for key in ("map", "map_50", "map_75", "classes")}


def det_replaced(found, i=0, **entries):
    out = [dict(f) for f in found]
    out[i].update(entries)
    return out


add = cases_for("metrics.class_precision_recall")
det_class_curve = (torch.ones(3, dtype=torch.float64),
                   torch.tensor([0.2, 0.4, 0.6], dtype=torch.float64),
                   torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64))
add("class 1, boxes", det_found, det_true, 1, expect=equals(det_class_curve))
add("class 1, masks, iou_threshold=0.95", det_found_masks, det_true_masks, 1, 0.95, "segm",
    expect=equals(det_class_curve))
add("class 2: found nowhere", det_found, det_true, 2, expect=equals((torch.zeros(0),) * 3))
add("max_detections=2", det_found, det_true, 1, max_detections=2,
    expect=equals(tuple(part[:2] for part in det_class_curve)))
add("label a NumPy int", det_found, det_true, np.int64(1), expect=equals(det_class_curve))
for label, bad in [("9: only predicted", 9), ("3: nowhere", 3)] + bad_ints(0, full=True):
    add(f"label={label}", det_found, det_true, bad, expect=error("label"))
for label, bad in bad_numbers(low=0, high=1, full=True):
    add(f"iou_threshold={label}", det_found, det_true, 1, bad, expect=error("iou_threshold"))
add("iou_type 'segm' without masks", det_found, det_true, 1, iou_type="segm",
    expect=error("predictions"))
add("predictions a dict", det_found[0], det_true, 1, expect=error("predictions"))
add("targets one image for two", det_found, det_true[:1], 1, expect=error("targets"))
for label, bad in bad_ints(1):
    add(f"max_detections={label}", det_found, det_true, 1, max_detections=bad,
        expect=error("max_detections"))

add = cases_for("metrics.mean_average_precision")
add("boxes, by hand", det_found, det_true, expect=equals(det_expected, post=det_summary))
add("masks, by hand", det_found_masks, det_true_masks, "segm",
    expect=equals(det_expected, post=det_summary))
add("tuples, uint8 labels, float64 boxes, non-contiguous",
    tuple(det_replaced(det_found, labels=det_found[0]["labels"].to(torch.uint8),
                       boxes=strided(det_found[0]["boxes"].double()))),
    tuple(det_replaced(det_true, labels=det_true[0]["labels"].int())),
    expect=equals(det_expected, post=det_summary))
add("masks (K, H, W) 0/1 and bool truths", det_replaced(
    det_found_masks, masks=det_found_masks[0]["masks"][:, 0].to(torch.uint8)),
    det_replaced(det_true_masks, masks=det_mask_truth.bool()), "segm",
    expect=equals(det_expected, post=det_summary))
add("max_detections=2: the 0.7 past the limit", det_found, det_true, max_detections=2,
    expect=equals({**det_expected, "map": 41 / 202, "map_50": 41 / 202, "map_75": 41 / 202},
                  post=det_summary))
for label, bad in [("a dict", det_found[0]), ("None", None), ("a list of tensors",
                                                              [det_truth]),
                   ("without scores", [{"boxes": det_truth, "labels": det_true[0]["labels"]}]),
                   ("scores NaN", det_replaced(det_found, scores=torch.tensor(
                       [0.9, math.nan, 0.7, 0.9]))),
                   ("scores int", det_replaced(det_found, scores=torch.tensor([9, 8, 7, 9]))),
                   ("scores of 3 for 4 boxes", det_replaced(det_found,
                                                            scores=torch.tensor([0.9, 0.8, 0.7]))),
                   ("labels float", det_replaced(det_found,
                                                 labels=det_found[0]["labels"].float())),
                   ("labels -1", det_replaced(det_found, labels=torch.tensor([1, 1, -1, 9]))),
                   ("boxes NaN", det_replaced(det_found, boxes=with_value(
                       det_found[0]["boxes"], math.nan))),
                   ("boxes inverted", det_replaced(det_found, boxes=det_found[0]["boxes"][
                       :, [2, 3, 0, 1]])),
                   ("boxes int", det_replaced(det_found, boxes=det_found[0]["boxes"].long()))]:
    add(f"predictions {label}", bad, det_true, expect=error("predictions"))
for label, bad in [("one image for two", det_true[:1]), ("a dict", det_true[0]),
                   ("labels float", det_replaced(det_true, labels=torch.ones(5))),
                   ("no object in any image", [{"boxes": torch.zeros(0, 4),
                                                "labels": torch.zeros(0, dtype=torch.long)}] * 2),
                   ("without boxes", [{"labels": t["labels"]} for t in det_true])]:
    add(f"targets {label}", det_found, bad, expect=error("targets"))
add("no image", [], [], expect=error("targets"))
for label, bad in [("logits", det_replaced(det_found_masks, masks=det_found_masks[0]["masks"]
                                           * 10 - 5)),
                   ("(K, 2, H, W)", det_replaced(det_found_masks, masks=det_found_masks[0][
                       "masks"].expand(4, 2, 6, 50))),
                   ("without masks", det_found)]:
    add(f"segm: predictions masks {label}", bad, det_true_masks, "segm",
        expect=error("predictions"))
add("segm: targets masks of another size", det_found_masks,
    det_replaced(det_true_masks, masks=det_mask_truth[:, :, :40]), "segm",
    expect=error("targets"))
add("iou_type 'box'", det_found, det_true, "box", expect=error("iou_type"))
for label, bad in bad_ints(1, full=True):
    add(f"max_detections={label}", det_found, det_true, max_detections=bad,
        expect=error("max_detections"))
for label, bad in bad_numbers(low=0, high=1):
    add(f"mask_threshold={label}", det_found_masks, det_true_masks, "segm",
        mask_threshold=bad, expect=error("mask_threshold"))

# paired bootstrap of mAP (chapter 9b): det_found against a reading that finds nothing
# (AP 0): the difference is det_found's 61/202, and each resample's lies in 0..61/101
# (tests/test_detection_bootstrap.py checks each resample against mean_average_precision)
det_nothing = [det_found[1], det_found[1]]
det_nothing_masks = [det_found_masks[1], det_found_masks[1]]


def det_paired(result):
    return (result["difference"], result["map_a"], result["map_b"])


add = cases_for("metrics.paired_bootstrap_map")
add("boxes against nothing, by hand", det_found, det_nothing, det_true, n_resamples=100,
    expect=equals((61 / 202, 61 / 202, 0.0), post=det_paired))
add("masks against nothing, by hand", det_found_masks, det_nothing_masks, det_true_masks,
    "segm", n_resamples=100, expect=equals((61 / 202, 61 / 202, 0.0), post=det_paired))
add("a reading against itself", det_found, det_found, det_true, n_resamples=100,
    expect=equals((0.0, 0.0, 0.0, 0.0), post=lambda r: (r["difference"], r["low"], r["high"],
                                                         r["b_better"])))
add("the resamples within 0..61/101", det_found, det_nothing, det_true, n_resamples=100,
    expect=equals(True, post=lambda r: bool(((r["resamples"] >= 0)
                                             & (r["resamples"] <= 61 / 101)).all())))
add("tuples, seed a NumPy int", tuple(det_found), tuple(det_nothing), tuple(det_true),
    n_resamples=100, seed=np.int64(1), expect=equals(same_call(
        det_found, det_nothing, det_true, n_resamples=100, seed=1),
        post=lambda r: r["resamples"]))
add("max_detections=2", det_found, det_nothing, det_true, n_resamples=100,
    max_detections=2, expect=equals((41 / 202, 41 / 202, 0.0), post=det_paired))
for label, bad in [("a dict", det_found[0]), ("None", None),
                   ("scores NaN", det_replaced(det_found, scores=torch.tensor(
                       [0.9, math.nan, 0.7, 0.9])))]:
    add(f"predictions_a {label}", bad, det_nothing, det_true, expect=error("predictions_a"))
    add(f"predictions_b {label}", det_found, bad, det_true, expect=error("predictions_b"))
add("predictions_b one image for two", det_found, det_nothing[:1], det_true,
    expect=error("predictions_b"))
add("targets one image for two", det_found, det_nothing, det_true[:1],
    expect=error("targets"))
add("one image: nothing to resample", det_found[:1], det_nothing[:1], det_true[:1],
    expect=error("targets"))
add("targets: no object in any image", det_found, det_nothing,
    [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}] * 2,
    expect=error("targets"))
add("iou_type 'box'", det_found, det_nothing, det_true, "box", expect=error("iou_type"))
add("segm without masks", det_found, det_nothing, det_true_masks, "segm",
    expect=error("predictions_a"))
for label, bad in pick(bad_ints(100), "True", "101.0", "99") + [("0", 0)]:
    add(f"n_resamples={label}", det_found, det_nothing, det_true, n_resamples=bad,
        expect=error("n_resamples"))
for label, bad in [("0", 0), ("1", 1), ("95", 95), ("nan", math.nan), ("True", True)]:
    add(f"confidence={label}", det_found, det_nothing, det_true, confidence=bad,
        expect=error("confidence"))
for label, bad in [("-1", -1), ("True", True), ("1.0", 1.0)]:
    add(f"seed={label}", det_found, det_nothing, det_true, seed=bad, expect=error("seed"))
for label, bad in bad_ints(1):
    add(f"max_detections={label}", det_found, det_nothing, det_true, max_detections=bad,
        expect=error("max_detections"))
for label, bad in bad_numbers(low=0, high=1):
    add(f"mask_threshold={label}", det_found_masks, det_nothing_masks, det_true_masks,
        "segm", mask_threshold=bad, expect=error("mask_threshold"))

# ---------------------------------------------- boundary: Hausdorff, HD95, ASSD, surface Dice
# (issue 23) closed forms: one pixel in each image, 3 rows and 4 columns apart (d = 5; with
# spacing (2, 0.5): sqrt(6^2 + 2^2)); MONAI's values where a formula would be long

far_p, far_t = torch.zeros(2, 6, 7, dtype=torch.long), torch.zeros(2, 6, 7, dtype=torch.long)
far_p[:, 1, 1], far_t[:, 4, 5] = 1, 1
blob_g = torch.Generator().manual_seed(23)
blob_p = (torch.rand(2, 7, 9, generator=blob_g) < 0.5).long()
blob_t = (torch.rand(2, 7, 9, generator=blob_g) < 0.5).long()


def monai_boundary(which, prediction, target, spacing=None, **kwargs):
    """MONAI's mean over the images (one foreground channel), as a float."""
    def make():
        import monai.metrics

        function = {"hd": monai.metrics.compute_hausdorff_distance,
                    "asd": monai.metrics.compute_average_surface_distance,
                    "nsd": monai.metrics.compute_surface_dice}[which]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = function(prediction[:, None].float(), target[:, None].float(),
                              include_background=True, spacing=spacing, **kwargs)
        return float(values.double().mean())

    return Fresh(make)


def bad_masks(masks):
    """What goes wrong with binary masks (N, H, W): float (probabilities or logits), a
    list, None, a value 2 (a label map), 255 (a PNG mask), 4-D, 1-D, no image, no pixel."""
    return [("float", masks.float()), ("a list", masks.tolist()), ("None", None),
            ("value 2", with_value(masks, 2)), ("uint8 0/255", masks.to(torch.uint8) * 255),
            ("value -1", with_value(masks, -1)), ("4-D", masks[None]),
            ("1-D", masks[0, 0]), ("no image", masks[:0]), ("no column", masks[..., :0])]


bad_spacings = [("0", 0), ("-1", -1.0), ("nan", math.nan), ("inf", math.inf), ("True", True),
                ("a str", "1"), ("None", None), ("(1,)", (1.0,)), ("(1, 1, 1)", (1, 1, 1)),
                ("(1, 0)", (1.0, 0.0)), ("(1, nan)", (1.0, math.nan))]
boundary_calls = {
    "hausdorff_distance": ((), 5.0, monai_boundary("hd", blob_p, blob_t)),
    "hd95": ((), 5.0, monai_boundary("hd", blob_p, blob_t, percentile=95)),
    "average_surface_distance": ((), 5.0, monai_boundary("asd", blob_p, blob_t,
                                                          symmetric=True)),
    "surface_dice": ((1.0,), 0.0, monai_boundary("nsd", blob_p, blob_t, class_thresholds=[1.0])),
}
for name, (extra, far, reference) in boundary_calls.items():
    add = cases_for(f"metrics.{name}")
    for label, bad in bad_masks(far_p):
        add(f"prediction {label}", bad, far_t, *extra, expect=error("prediction"))
    for label, bad in bad_masks(far_t)[:4]:
        add(f"target {label}", far_p, bad, *extra, expect=error("target"))
    for label, bad in [("6x6", far_t[..., :6]), ("one image of two", far_t[0])]:
        add(f"target {label}", far_p, bad, *extra, expect=error("target", "prediction"))
    for label, bad in bad_spacings:
        add(f"spacing={label}", far_p, far_t, *extra, spacing=bad, expect=error("spacing"))
    for label, bad in bad_flags():
        add(f"per_image={label}", far_p, far_t, *extra, per_image=bad,
            expect=error("per_image"))
    add("two pixels 5 apart", far_p, far_t, *extra, expect=equals(far))
    add("vs MONAI, random masks", blob_p, blob_t, *extra, expect=equals(reference, rtol=1e-6))
    add("bool and uint8 masks, non-contiguous", strided(blob_p.bool()),
        strided(blob_t.to(torch.uint8)), *extra, expect=equals(same_call(blob_p, blob_t,
                                                                          *extra)))
    add("int32 masks, one image (H, W)", blob_p[0].int(), blob_t[0].short(), *extra,
        expect=equals(same_call(blob_p[:1], blob_t[:1], *extra)))
    add("spacing a NumPy array", far_p, far_t, *extra, spacing=np.array([2.0, 0.5]),
        expect=equals(same_call(far_p, far_t, *extra, spacing=(2.0, 0.5))))
    add("spacing NumPy floats, a list", blob_p, blob_t, *extra,
        spacing=[np.float32(0.5), np.float64(1.5)],
        expect=equals(same_call(blob_p, blob_t, *extra, spacing=(0.5, 1.5))))
    add("spacing one number", blob_p, blob_t, *extra, spacing=np.float64(2.0),
        expect=equals(same_call(blob_p, blob_t, *extra, spacing=(2.0, 2.0))))
    add("spacing a 0-d tensor", blob_p, blob_t, *extra, spacing=torch.tensor(2.0),
        expect=equals(same_call(blob_p, blob_t, *extra, spacing=(2.0, 2.0))))
    add("both masks empty everywhere: nothing to measure", far_p * 0, far_t * 0, *extra,
        expect=error("target"))
    add("per image: NaN where both are empty", torch.stack([far_p[0], far_p[0] * 0]),
        torch.stack([far_t[0], far_t[0] * 0]), *extra, per_image=True,
        expect=equals(torch.tensor([far, math.nan])))
    add("only the prediction empty", far_p * 0, far_t, *extra,
        expect=equals(0.0 if name == "surface_dice" else math.inf))

add = cases_for("metrics.hausdorff_distance")
for label, bad in bad_numbers(low=0, high=100, open_low=True, full=True):
    add(f"percentile={label}", far_p, far_t, bad, expect=error("percentile"))
add("spacing (2, 0.5)", far_p, far_t, spacing=(2.0, 0.5), expect=equals(math.hypot(6, 2)))
add("percentile 95 is hd95", blob_p, blob_t, 95, expect=equals(Call("metrics.hd95", blob_p,
                                                                   blob_t)))
add("percentile a NumPy int", blob_p, blob_t, np.int64(50),
    expect=equals(same_call(blob_p, blob_t, 50)))
add("vs MONAI, percentile 50, spacing (1.5, 0.7)", blob_p, blob_t, 50, spacing=(1.5, 0.7),
    expect=equals(monai_boundary("hd", blob_p, blob_t, percentile=50, spacing=[1.5, 0.7]),
                  rtol=1e-6))

add = cases_for("metrics.average_surface_distance")
for label, bad in bad_flags():
    add(f"symmetric={label}", far_p, far_t, symmetric=bad, expect=error("symmetric"))
add("vs MONAI, directed", blob_p, blob_t, symmetric=False,
    expect=equals(monai_boundary("asd", blob_p, blob_t, symmetric=False), rtol=1e-6))

add = cases_for("metrics.surface_dice")
for label, bad in bad_numbers(low=0, full=True):
    add(f"tolerance={label}", far_p, far_t, bad, expect=error("tolerance"))
add("tolerance 5: every boundary pixel", far_p, far_t, 5, expect=equals(1.0))
add("tolerance a NumPy float", blob_p, blob_t, np.float32(1.5),
    expect=equals(same_call(blob_p, blob_t, 1.5)))
add("vs MONAI, spacing (0.6, 1.3), tolerance 1.2", blob_p, blob_t, 1.2, spacing=(0.6, 1.3),
    expect=equals(monai_boundary("nsd", blob_p, blob_t, spacing=[0.6, 1.3],
                                 class_thresholds=[1.2]), rtol=1e-6))

add = cases_for("metrics.boundary_pixels")
for label, bad in bad_masks(far_p):
    add(f"mask {label}", bad, expect=error("mask"))
ring = torch.ones(4, 5, dtype=torch.long)
ring_edges = ring.bool().clone()
ring_edges[1:3, 1:4] = False
add("a full image: its outer ring", ring, expect=equals(ring_edges))
add("one pixel is its own boundary", far_p, expect=equals(far_p.bool()))
add("uint8, non-contiguous, a batch", strided(torch.stack([ring, ring * 0]).to(torch.uint8)),
    expect=equals(torch.stack([ring_edges, ring_edges * False])))
add("vs MONAI's edges", blob_p[0], expect=equals(Fresh(lambda: torch.as_tensor(
    __import__("monai.metrics.utils", fromlist=["x"]).get_mask_edges(
        blob_p[0].bool(), blob_t[0].bool(), crop=False)[0]))))

add = cases_for("metrics.surface_distances")
for label, bad in bad_masks(far_p)[:6] + [("a batch (N, H, W)", far_p)]:
    add(f"prediction {label}", bad if label != "a batch (N, H, W)" else far_p, far_t[0],
        expect=error("prediction"))
add("target float", far_p[0], far_t[0].float(), expect=error("target"))
add("target 6x6", far_p[0], far_t[0, :, :6], expect=error("target", "prediction"))
for label, bad in bad_spacings[:5]:
    add(f"spacing={label}", far_p[0], far_t[0], spacing=bad, expect=error("spacing"))
add("two pixels 5 apart", far_p[0], far_t[0],
    expect=equals((torch.tensor([5.0]), torch.tensor([5.0]))))
add("an empty prediction: no distance from it", far_p[0] * 0, far_t[0],
    expect=equals((torch.zeros(0), torch.tensor([math.inf]))))
add("bool masks, spacing (2, 0.5)", far_p[0].bool(), far_t[0].bool(), (2, 0.5),
    expect=equals((torch.tensor([math.hypot(6, 2)]),) * 2))

# ---------------------------------------------- calibration: ECE, reliability bins, temperature
# (issue 23) references: torchmetrics' calibration errors, a hand count, closed forms

cal_g = torch.Generator().manual_seed(2023)
cal_logits = torch.randn(2, 3, 4, 5, generator=cal_g) * 3
cal_probs = cal_logits.softmax(1)
# targets drawn from softmax(logits / 3): the logits are over-confident, T about 3
cal_target = torch.multinomial((cal_logits / 3).softmax(1).movedim(1, -1).reshape(-1, 3), 1,
                               generator=cal_g).view(2, 4, 5)
cal_ignored = with_value(cal_target, 255, 7)
bin_p = torch.rand(2, 4, 5, generator=cal_g)
bin_t = (torch.rand(2, 4, 5, generator=cal_g) < bin_p).long()


def tm_calibration(probabilities, target, n_bins=15, ignore_index=None, binary=False):
    def make():
        from torchmetrics.functional.classification import (
            binary_calibration_error,
            multiclass_calibration_error,
        )

        if binary:
            return float(binary_calibration_error(probabilities, target, n_bins,
                                                  ignore_index=ignore_index))
        return float(multiclass_calibration_error(probabilities, target, probabilities.shape[1],
                                                  n_bins, ignore_index=ignore_index))

    return Fresh(make)


def bad_probabilities(p):
    """Probabilities (N, C, ...) that are not: logits, NaN, int, a list, None, not summing
    to 1, 0-D."""
    return [("logits", p * 6 - 3), ("NaN", with_value(p, math.nan)),
            ("inf", with_value(p, math.inf)), ("int64", (p > 0.5).long()),
            ("a list", p.tolist()), ("None", None), ("0-D", p[0, 0, 0, 0])]


for name in ("expected_calibration_error", "reliability_bins"):
    add = cases_for(f"metrics.{name}")
    for label, bad in bad_probabilities(cal_probs) + [("not summing to 1", cal_probs * 0.5),
                                                       ("(N, C, H) for (N, H, W)",
                                                        cal_probs[..., 0])]:
        add(f"probabilities {label}", bad, cal_target, expect=error("probabilities"))
    for label, bad in [("float", cal_target.float()), ("a list", cal_target.tolist()),
                       ("None", None), ("value 3", with_value(cal_target, 3)),
                       ("value -1", with_value(cal_target, -1)),
                       ("255 without ignore_index", cal_ignored),
                       ("every pixel ignored", cal_target * 0 + 255),
                       ("(N, H) ", cal_target[..., 0])]:
        kwargs = {"ignore_index": 255} if label == "every pixel ignored" else {}
        add(f"target {label}", cal_probs, bad, expect=error("target", "probabilities"),
            **kwargs)
    add("binary target value 2", bin_p, with_value(bin_t, 2), expect=error("target"))
    one_hot = F.one_hot(cal_target, 3).movedim(-1, 1)
    add("one-hot target (N, C, H, W)", cal_probs, one_hot, expect=error("target"))
    add("one-hot target (N, C)", cal_probs[:, :, 0, 0], one_hot[:, :, 0, 0],
        expect=error("target"))
    add("nothing (N = 0)", cal_probs[:0], cal_target[:0], expect=error("target"))
    for label, bad in bad_ints(1, full=True):
        add(f"n_bins={label}", cal_probs, cal_target, bad, expect=error("n_bins"))
    add("ignore_index=True", cal_probs, cal_ignored, ignore_index=True,
        expect=error("ignore_index"))
    add("ignore_index 1.5", cal_probs, cal_ignored, ignore_index=1.5,
        expect=error("ignore_index"))

add = cases_for("metrics.expected_calibration_error")
add("vs torchmetrics, (N, C, H, W)", cal_probs, cal_target,
    expect=equals(tm_calibration(cal_probs, cal_target), atol=1e-6))
add("vs torchmetrics, 255 ignored, uint8 target, 7 bins", cal_probs,
    cal_ignored.to(torch.uint8), 7, 255,
    expect=equals(tm_calibration(cal_probs, cal_ignored, 7, 255), atol=1e-6))
add("vs torchmetrics, (N, C)", cal_probs[:, :, 0, 0], cal_target[:, 0, 0],
    expect=equals(tm_calibration(cal_probs[:, :, 0, 0], cal_target[:, 0, 0]), atol=1e-6))
add("binary (N, H, W), vs torchmetrics", bin_p, bin_t,
    expect=equals(tm_calibration(bin_p, bin_t, binary=True), atol=1e-6))
add("binary (N, 1, H, W), bool target", bin_p[:, None], bin_t.bool(),
    expect=equals(tm_calibration(bin_p, bin_t, binary=True), atol=1e-6))
add("binary (N,), 3 bins", bin_p.flatten(), bin_t.flatten(), 3,
    expect=equals(tm_calibration(bin_p.flatten(), bin_t.flatten(), 3, binary=True), atol=1e-6))
add("float64, non-contiguous, n_bins a NumPy int", strided(cal_probs.double()),
    strided(cal_target), np.int64(15), expect=equals(same_call(cal_probs, cal_target)))
add("float16 probabilities", cal_probs.half(), cal_target,
    expect=equals(same_call(cal_probs.half().float(), cal_target)))
add("one bin: |accuracy - mean confidence|", torch.tensor([[0.9, 0.1], [0.6, 0.4]]),
    torch.tensor([0, 1]), 1, expect=equals(abs(0.5 - 0.75)))

add = cases_for("metrics.reliability_bins")
add("hand-counted, 4 bins", torch.tensor([[0.9, 0.1], [0.65, 0.35], [0.3, 0.7], [1.0, 0.0]]),
    torch.tensor([0, 1, 1, 1]), 4,
    expect=equals({"edges": torch.tensor([0, 0.25, 0.5, 0.75, 1]),
                   "count": torch.tensor([0, 0, 2, 2]),
                   "confidence": torch.tensor([math.nan, math.nan, 0.675, 0.95]),
                   "accuracy": torch.tensor([math.nan, math.nan, 0.5, 0.5])}))
add("binary: the share of class 1 per bin", torch.tensor([0.05, 0.1, 0.8, 1.0]),
    torch.tensor([0, 1, 1, 1]), 2,
    expect=equals({"edges": torch.tensor([0, 0.5, 1]), "count": torch.tensor([2, 2]),
                   "confidence": torch.tensor([0.075, 0.9]),
                   "accuracy": torch.tensor([0.5, 1.0])}))

# fit_temperature(logits, target, ignore_index=None, max_iter=100)
# closed form: one logit 2 everywhere, 3 of 4 positive: sigmoid(2 / T) = 3/4, T = 2 / log 3
one_logit, one_target = torch.full((1, 1, 2, 2), 2.0), torch.tensor([[[1, 1], [1, 0]]])
add = cases_for("metrics.fit_temperature")
for label, bad in [("int64", cal_logits.long()), ("NaN", with_value(cal_logits, math.nan)),
                   ("inf", with_value(cal_logits, -math.inf)), ("a list", cal_logits.tolist()),
                   ("None", None), ("(N, C, H) for (N, H, W)", cal_logits[..., 0])]:
    add(f"logits {label}", bad, cal_target, expect=error("logits"))
for label, bad in [("float", cal_target.float()), ("value 3", with_value(cal_target, 3)),
                   ("255 without ignore_index", cal_ignored), ("None", None)]:
    add(f"target {label}", cal_logits, bad, expect=error("target"))
add("every pixel ignored", cal_logits, cal_target * 0 - 1, ignore_index=-1,
    expect=error("target"))
add("one-hot target", cal_logits, F.one_hot(cal_target, 3).movedim(-1, 1),
    expect=error("target"))
add("every prediction right: T -> 0", cal_logits, cal_logits.argmax(1), expect=error("logits"))
add("logits against the target: T -> infinity", torch.tensor([[2.0, 0.0], [0.0, 2.0]]),
    torch.tensor([1, 0]), expect=error("logits"))
for label, bad in bad_ints(1, full=True):
    add(f"max_iter={label}", cal_logits, cal_target, max_iter=bad, expect=error("max_iter"))
add("ignore_index=True", cal_logits, cal_ignored, ignore_index=True,
    expect=error("ignore_index"))
add("one logit (N, 1, H, W): T = 2 / log 3", one_logit, one_target,
    expect=equals(2 / math.log(3), rtol=1e-6))
add("one logit, the target's shape, bool target", one_logit[:, 0], one_target.bool(),
    expect=equals(2 / math.log(3), rtol=1e-6))
add("logits [4, 0, 0], class 0 in 60 %: T = 4 / log 3",
    torch.tensor([[4.0, 0.0, 0.0]]).repeat(10, 1), torch.tensor([0] * 6 + [1, 2, 2, 1]),
    expect=equals(4 / math.log(3), rtol=1e-6))
add("float16 logits, uint8 target, 255 ignored", cal_logits.half(), cal_ignored.to(torch.uint8),
    ignore_index=255, expect=equals(same_call(cal_logits.half().float(), cal_ignored,
                                              ignore_index=255)))
add("non-contiguous, max_iter a NumPy int", strided(cal_logits), strided(cal_target),
    max_iter=np.int64(100), expect=equals(same_call(cal_logits, cal_target)))

# ======================================================================= models

add = cases_for("models.download_quietly")
add("make None", None, expect=error("make"))
add("a constructor: its result", lambda: [1, 2], expect=equals([1, 2]))

add = cases_for("models.download_failure")
add("error a str", "offline", expect=error("error"))
add("error None", None, expect=error("error"))
add("error the class, not an instance", OSError, expect=error("error"))
add("a refused connection", ConnectionRefusedError(111, "Connection refused"),
    expect=equals("the connection to the server was refused or broken"))
add("an OSError without words", OSError(), expect=equals("it could not be downloaded"))
add("KeyboardInterrupt", KeyboardInterrupt(), expect=equals("it could not be downloaded"))

add = cases_for("models.check_images")
im28 = rand(2, 1, 28, 28)
for label, bad in bad_images(im28):
    add(f"images {label}", bad, 1, 28, expect=error("images"))
add("name='x', images 3-D", im28[0], 1, 28, name="x", expect=error("x"))
add("3 channels for 1", rand(2, 3, 28, 28), 1, 28, expect=error("images"))
add("32x32 for 28", rand(2, 1, 32, 32), 1, 28, expect=error("images"))
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"channels={label}", im28, bad, 28, expect=error("channels"))
add("size=0", im28, 1, 0, expect=error("size"))
add("right shape", im28, 1, 28, expect=equals(None))
add("NumPy int channels and size", im28, np.int64(1), np.int64(28), expect=equals(None))
add("any size", im28, 1, None, expect=equals(None))

add = cases_for("models.Normalize")
nmean, nstd = [0.5, 0.4, 0.3], [0.2, 0.25, 0.5]
im3 = rand(2, 3, 4, 4)
norm3 = (im3.double() - torch.tensor(nmean)[:, None, None]) / torch.tensor(nstd)[:, None, None]
for label, m, s, name in [("mean None", None, nstd, "mean"), ("std None", nmean, None, "std"),
                          ("a std of 0", nmean, [0.2, 0.0, 0.5], "std"),
                          ("a NaN std", nmean, [0.2, math.nan, 0.5], "std"),
                          ("2 std for 3 means", nmean, nstd[:2], "std")]:
    add(label, m, s, expect=error(name))
for label, m, s in [("lists", nmean, nstd), ("NumPy arrays", np.array(nmean), np.array(nstd))]:
    add(f"mean, std as {label}", m, s, expect=equals(norm3, post=lambda layer: layer(im3)))
add = cases_for("models.Normalize.forward", obj=Call("models.Normalize", nmean, nstd))
for label, bad in bad_images(im3):
    add(f"images {label}", bad, expect=error("images"))
add("1 channel for 3", im3[:, :1], expect=error("images"))
add("float64 images", im3.double(), expect=equals(norm3))
add("non-contiguous images", strided(im3), expect=equals(norm3))
add("channels_last images", channels_last(im3), expect=equals(norm3))

add = cases_for("models.conv_bn")
add("c_in=0", 0, 3, expect=error("c_in"))
add("c_out=2.0", 2, 2.0, expect=error("c_out"))
add("NumPy ints", np.int64(2), np.int64(3), expect=equals(same_call(2, 3), post=param_shapes))
for label, bad in bad_flags():
    add(f"batch_norm={label}", 2, 3, batch_norm=bad, expect=error("batch_norm"))

add = cases_for("models.Residual")
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"channels={label}", bad, expect=error("channels"))
add = cases_for("models.Residual.forward", obj=Call("models.Residual", 2).then(eval_mode))
xr = randn(1, 2, 4, 4)
for label, bad in pick(bad_images(xr), "uint8 0..255", "missing batch dim") + [
        ("3 channels for 2", randn(1, 3, 4, 4))]:
    add(f"x {label}", bad, expect=error("x"))
add("non-contiguous x", strided(xr), expect=equals(same_call(xr)))

# the classifiers: constructor arguments, then forward
classifiers = [("MnistCNN", dict(width=2), (2, 1, 28, 28), [("3 channels", (2, 3, 28, 28)),
                                                           ("32x32", (2, 1, 32, 32))]),
               ("ResNet9", dict(width=2), (1, 3, 8, 8), [("1 channel", (1, 1, 8, 8)),
                                                        ("4x4, too small", (1, 3, 4, 4))]),
               ("A1Net", {}, (1, 1, 28, 28), [("32x32", (1, 1, 32, 32))]),
               ("A2Net", {}, (1, 3, 32, 32), [("28x28", (1, 3, 28, 28))])]
for name, options, shape, wrong_shapes in classifiers:
    add = cases_for(f"models.{name}")
    for arg in ("classes", *options):
        few = arg == "classes" and name != "MnistCNN"
        for label, bad in pick(bad_ints(1), "2.0", "0") if few else bad_ints(1):
            add(f"{arg}={label}", **{**options, arg: bad}, expect=error(arg))
    add("classes a NumPy int", **options, classes=np.int64(3),
        expect=equals(same_call(**options, classes=3), post=param_shapes))
    if name == "MnistCNN":
        for label, bad in bad_flags():
            add(f"batch_norm={label}", **options, batch_norm=bad, expect=error("batch_norm"))
    add = cases_for(f"models.{name}.forward", obj=Call(f"models.{name}", **options)
                    .then(eval_mode))
    xs = rand(*shape)
    for label, bad in bad_images(xs, full=name == "MnistCNN"):
        add(f"images {label}", bad, expect=error("images"))
    for label, wrong in wrong_shapes:
        add(f"images {label}", rand(*wrong), expect=error("images"))
    add("non-contiguous images", strided(xs), expect=equals(same_call(xs)))
    if name in ("MnistCNN", "ResNet9"):
        add("channels_last images", channels_last(xs), expect=equals(same_call(xs)))

add = cases_for("models.CountNet")
for arg in ("max_count", "classes", "width", "in_channels"):
    for label, bad in pick(bad_ints(1), "2.0", "0"):
        add(f"{arg}={label}", **{arg: bad, "width": 2} if arg != "width" else {arg: bad},
            expect=error(arg))
add("max_count a NumPy int", max_count=np.int64(3), width=2,
    expect=equals(same_call(max_count=3, width=2), post=param_shapes))
add = cases_for("models.CountNet.forward", obj=Call("models.CountNet", max_count=3, width=2)
                .then(eval_mode))
xs = rand(2, 1, 16, 16)
for label, bad in bad_images(xs):
    add(f"images {label}", bad, expect=error("images"))
for label, wrong in [("3 channels", (2, 3, 16, 16)), ("4x4, too small", (2, 1, 4, 4))]:
    add(f"images {label}", rand(*wrong), expect=error("images"))
add("non-contiguous images", strided(xs), expect=equals(same_call(xs)))
add("channels_last images", channels_last(xs), expect=equals(same_call(xs)))
add("(N, max_count + 1, classes) logits", xs,
    expect=equals((2, 4, 10), post=lambda logits: tuple(logits.shape)))
for dtype in (torch.float16, torch.bfloat16, torch.float64):   # read in the weights' dtype
    add(f"{str(dtype).removeprefix('torch.')} images", xs.to(dtype),
        expect=equals(same_call(xs.to(dtype).float())))
add("one image of 8x8, the smallest", xs[:1, :, :8, :8],
    expect=equals((1, 4, 10), post=lambda logits: tuple(logits.shape)))
add("no image", xs[:0], expect=equals((0, 4, 10), post=lambda logits: tuple(logits.shape)))

add = cases_for("models.pretrained_resnet18")
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"classes={label}", bad, pretrained=False, expect=error("classes"))
for label, bad in bad_flags():
    add(f"pretrained={label}", 3, pretrained=bad, expect=error("pretrained"))
add("classes a NumPy int, not pretrained", np.int64(3), pretrained=False,
    expect=equals((3, False), post=lambda result: (result[0].fc.out_features, result[1])))

add = cases_for("models.pretrained_maskrcnn")  # bad arguments only: refused before building
for label, bad in bad_flags():
    add(f"pretrained={label}", pretrained=bad, expect=error("pretrained"))
for label, bad in [("3", 3), ("True", True), ("'2'", "2"), ("2.0", 2.0), ("0", 0)]:
    add(f"version={label}", pretrained=False, version=bad, expect=error("version"))

# ==================================================================== instances

ids_map = torch.zeros(6, 6, dtype=torch.int64)
ids_map[1:3, 1:3], ids_map[3:5, 3:6] = 1, 2
sem_map = torch.where(ids_map > 0, 4, 0)
add = cases_for("instances.scene_targets")
for label, bad in [("float", ids_map.float()), ("3-D", ids_map[None]), ("None", None),
                   ("a negative id", with_value(ids_map, -1))]:
    add(f"instances {label}", bad, sem_map, expect=error("instances"))
for label, bad in [("5x6", sem_map[:5]), ("class 11", with_value(sem_map, 11)),
                   ("background under an instance", with_value(sem_map, 0, 7))]:
    add(f"semantic {label}", ids_map, bad, expect=error("semantic"))
add("two instances of one class", ids_map, sem_map, expect=equals(
    [[1.0, 1, 3, 3], [3, 3, 6, 5]], post=lambda targets: targets["boxes"].tolist()))
add("int32 maps", ids_map.int(), sem_map.int(), expect=equals(
    same_call(ids_map, sem_map), post=lambda targets: targets["masks"]))

add = cases_for("instances.InstanceScenes")
for label, bad in [("None", None), ("a tensor", rand(2, 1, 8, 8))]:
    add(f"scenes {label}", bad, expect=error("scenes"))

add = cases_for("instances.collate")
add("batch a tensor", rand(2, 3), expect=error("batch"))
add("two pairs", [(1, "a"), (2, "b")], expect=equals(([1, 2], ["a", "b"])))

add = cases_for("instances.tiny_maskrcnn")
for label, bad in pick(bad_ints(2), "True", "1"):
    add(f"num_classes={label}", num_classes=bad, expect=error("num_classes"))
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"width={label}", width=bad, expect=error("width"))
add("size=8", size=8, expect=error("size"))
for label, bad in [("an int", 16), ("empty", ()), ("a 0", (16, 0))]:
    add(f"anchor_sizes {label}", anchor_sizes=bad, expect=error("anchor_sizes"))
add("NumPy ints", num_classes=np.int64(3), width=np.int64(2),
    expect=equals(same_call(num_classes=3, width=2), post=param_shapes))

add = cases_for("instances.train_detector")
for label, bad in [("None", None), ("empty", [])]:
    add(f"dataset {label}", Fresh(lambda: nn.Conv2d(1, 1, 1)), bad, 1,
        expect=error("dataset"))
add("model None", None, [(rand(1, 8, 8), {})], 1, expect=error("model"))
for name, bad in [("steps", 0), ("batch_size", 1.5), ("lr", 0.0), ("seed", -1),
                  ("progress", "no")]:
    arguments = {"steps": 1, name: bad}
    add(f"{name}={bad!r}", Fresh(lambda: nn.Conv2d(1, 1, 1)), [(rand(1, 8, 8), {})],
        **arguments, expect=error(name))

# issue 23: each drawn sample checked (before: errors from deep inside torchvision, or
# training on 0..255 images and background labels without a word)
square_mask = torch.zeros(1, 32, 32, dtype=torch.uint8)
square_mask[0, 4:20, 4:20] = 1
square_targets = {"boxes": torch.tensor([[4.0, 4.0, 20.0, 20.0]]),
                  "labels": torch.tensor([3]), "masks": square_mask}
square_image = rand(1, 32, 32)
tiny_detector = Call("instances.tiny_maskrcnn", width=2, size=32)
for label, sample in [
        ("uint8 images", ((square_image * 255).to(torch.uint8), square_targets)),
        ("3-channel images", (square_image.expand(3, -1, -1), square_targets)),
        ("batched images", (square_image[None], square_targets)),
        ("NaN images", (square_image * math.nan, square_targets)),
        ("0..255 float images", (square_image * 255, square_targets)),
        ("label 11 of 11 classes", (square_image, {**square_targets,
                                                   "labels": torch.tensor([11])})),
        ("label 0, the background", (square_image, {**square_targets,
                                                    "labels": torch.tensor([0])})),
        ("float labels", (square_image, {**square_targets, "labels": torch.tensor([3.0])})),
        ("a NaN box", (square_image, {**square_targets,
                                      "boxes": torch.tensor([[4.0, math.nan, 20, 20]])})),
        ("masks of another size", (square_image, {**square_targets,
                                                  "masks": square_mask[:, :16]})),
        ("two labels for one box", (square_image, {**square_targets,
                                                   "labels": torch.tensor([3, 4])})),
        ("an image, not a pair", square_image)]:
    add(f"dataset with {label}", tiny_detector, [sample], 1, progress=False,
        expect=error("dataset"))
add("uint8 labels: the same losses as int64", tiny_detector,
    [(square_image, {**square_targets, "labels": torch.tensor([3], dtype=torch.uint8)})], 2,
    batch_size=1, progress=False, expect=equals(same_call(tiny_detector, [(
        square_image, square_targets)], 2, batch_size=1, progress=False)))

detections = [{"boxes": torch.tensor([[0.0, 0, 4, 4], [1, 0, 4, 4]]),
               "scores": torch.tensor([0.6, 0.9]), "labels": torch.tensor([2, 5]),
               "masks": torch.zeros(2, 1, 6, 6)}]
add = cases_for("instances.one_class_per_place")
add("detections a dict", detections[0], expect=error("detections"))
add("no scores", [{"boxes": torch.zeros(1, 4)}], expect=error("detections"))
add("boxes (1, 3)", [{"boxes": torch.zeros(1, 3), "scores": torch.ones(1)}],
    expect=error("detections"))
for label, bad in bad_numbers(low=0, high=1):
    add(f"iou_threshold={label}", detections, iou_threshold=bad,
        expect=error("iou_threshold"))
add("two readings of one place", detections,
    expect=equals([5], post=lambda kept: kept[0]["labels"].tolist()))

add = cases_for("instances.digit_counts")
add("detections a dict", detections[0], expect=error("detections"))
add("labels float", [{"labels": torch.tensor([1.0])}], expect=error("detections"))
add("label 11", [{"labels": torch.tensor([11])}], expect=error("detections"))
for label, bad in bad_numbers(low=0, high=1):
    add(f"score_threshold={label}", detections, score_threshold=bad,
        expect=error("score_threshold"))
add("num_classes=0", detections, num_classes=0, expect=error("num_classes"))
add("threshold 0.7", detections, score_threshold=0.7,
    expect=equals(torch.tensor([[0, 0, 0, 0, 1, 0, 0, 0, 0, 0]])))

add = cases_for("instances.draw_instances")
for label, bad in pick(bad_images(rand(1, 6, 6), batched=False), "uint8 0..255") + [
        ("2 channels", rand(2, 6, 6))]:
    add(f"image {label}", bad, detections[0], expect=error("image"))
add("detections a list", rand(1, 6, 6), detections, expect=error("detections"))
add("image 8x8 for 6x6 masks", rand(1, 8, 8), detections[0], expect=error("detections"))
add("score_threshold=2", rand(1, 6, 6), detections[0], score_threshold=2,
    expect=error("score_threshold"))
add("scale=0", rand(1, 6, 6), detections[0], scale=0, expect=error("scale"))
add("colour_by='label'", rand(1, 6, 6), detections[0], colour_by="label",
    expect=error("colour_by"))
add("two names for label 5", rand(1, 6, 6), detections[0], class_names=("a", "b"),
    expect=error("class_names"))
add("scale 2", rand(1, 6, 6), detections[0], scale=2,
    expect=equals((3, 12, 12), post=lambda picture: tuple(picture.shape)))

# issue 23: what each of instances' callables drew, counted or kept wrong without a word


def replaced(found, **entries):
    """A copy of a detections dict with some entries replaced."""
    return {**found, **entries}


three = {"boxes": torch.tensor([[0.0, 0, 4, 4], [1, 0, 4, 4], [6, 6, 9, 9]]),
         "scores": torch.tensor([0.6, 0.9, 0.8]), "labels": torch.tensor([2, 5, 7]),
         "masks": rand(3, 1, 10, 10)}
nan_box = torch.tensor([[math.nan, 0, 4, 4], [1, 0, 4, 4], [6, 6, 9, 9]])
inf_box = torch.tensor([[0.0, 0, math.inf, 4], [1, 0, 4, 4], [6, 6, 9, 9]])
inverted_box = torch.tensor([[4.0, 4, 0, 0], [1, 0, 4, 4], [6, 6, 9, 9]])
nan_scores = torch.tensor([math.nan, 0.9, 0.8])

add = cases_for("instances.one_class_per_place")
for label, bad in [("a NaN box", replaced(three, boxes=nan_box)),
                   ("an infinite box", replaced(three, boxes=inf_box)),
                   ("an inverted box", replaced(three, boxes=inverted_box)),
                   ("a NaN score", replaced(three, scores=nan_scores)),
                   ("4 labels for 3 boxes", replaced(three, labels=torch.tensor([2, 5, 7, 1]))),
                   ("2 masks for 3 boxes", replaced(three, masks=rand(2, 1, 10, 10))),
                   ("3 scores for no box", {"boxes": torch.zeros(0, 4),
                                            "scores": torch.ones(3)})]:
    add(f"detections with {label}", [bad], expect=error("detections"))
add("three places, two overlapping: torchvision's nms", [three],
    expect=equals([5, 7], post=lambda kept: kept[0]["labels"].tolist()))
add("float16 boxes and scores", [replaced(three, boxes=three["boxes"].half(),
                                          scores=three["scores"].half())],
    expect=equals([5, 7], post=lambda kept: kept[0]["labels"].tolist()))
add("non-contiguous boxes", [replaced(three, boxes=strided(three["boxes"]))],
    expect=equals([5, 7], post=lambda kept: kept[0]["labels"].tolist()))
add("no detection", [{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0)}],
    expect=equals(0, post=lambda kept: len(kept[0]["boxes"])))

add = cases_for("instances.digit_counts")
add("a NaN score", [replaced(three, scores=nan_scores)], score_threshold=0.5,
    expect=error("detections"))
add("label -1 below the threshold", [replaced(three, labels=torch.tensor([-1, 5, 7]))],
    score_threshold=0.7, expect=error("detections"))
add("labels (1, K)", [{"labels": torch.tensor([[1, 2]])}], expect=error("detections"))
add("bool labels (background, digit 0)", [{"labels": torch.tensor([True, False, True])}],
    expect=equals(torch.tensor([[2, 0, 0, 0, 0, 0, 0, 0, 0, 0]])))
add("uint8 labels, non-contiguous", [{"labels": strided(torch.tensor([1, 3, 3],
                                                                     dtype=torch.uint8))}],
    expect=equals(torch.tensor([[1, 0, 2, 0, 0, 0, 0, 0, 0, 0]])))
add("float16 scores", [replaced(three, scores=three["scores"].half())], score_threshold=0.7,
    expect=equals(torch.tensor([[0, 0, 0, 0, 1, 0, 1, 0, 0, 0]])))

add = cases_for("instances.draw_instances")
for label, bad in [("label -1", replaced(three, labels=torch.tensor([-1, 5, 7]))),
                   ("float labels", replaced(three, labels=torch.tensor([2.0, 5.0, 7.0]))),
                   ("a NaN box", replaced(three, boxes=nan_box)),
                   ("an inverted box", replaced(three, boxes=inverted_box)),
                   ("masks (K, 2, H, W)", replaced(three, masks=rand(3, 2, 10, 10))),
                   ("masks of logits", replaced(three, masks=randn(3, 1, 10, 10) * 3)),
                   ("uint8 masks of 0/255", replaced(three, masks=(rand(3, 10, 10) > 0.5)
                                                     .to(torch.uint8) * 255)),
                   ("NaN masks", replaced(three, masks=torch.full((3, 1, 10, 10), math.nan))),
                   ("a NaN score", replaced(three, scores=nan_scores)),
                   ("4 labels for 3 boxes", replaced(three, labels=torch.tensor([2, 5, 7, 1]))),
                   ("2 scores for 3 boxes", replaced(three, scores=torch.ones(2)))]:
    add(f"detections with {label}", rand(1, 10, 10), bad, expect=error("detections"))
for label, bad in [("0..255", rand(1, 10, 10) * 255), ("NaN", torch.full((1, 10, 10), math.nan)),
                   ("negative", rand(1, 10, 10) - 1)]:
    add(f"image {label}", bad, three, expect=error("image"))
for label, bad in [("ints", list(range(11))), ("a str", "0123456789x"), ("None", None)]:
    add(f"class_names {label}", rand(1, 10, 10), three, class_names=bad,
        expect=error("class_names"))
add("bool masks, float16 image, non-contiguous",
    strided(rand(1, 10, 10)).half(), replaced(three, masks=three["masks"][:, 0] > 0.5),
    expect=equals((3, 10, 10), post=lambda picture: tuple(picture.shape)))
picture_10 = rand(1, 10, 10)
add("masks of 0/1 probabilities equal bool masks", picture_10,
    replaced(three, masks=(three["masks"] > 0.5).float()),
    expect=equals(same_call(picture_10, replaced(three, masks=three["masks"] > 0.5))))

add = cases_for("instances.scene_targets")
bool_ids = ids_map > 0                  # the two instances as one object
add("bool instances over two classes", bool_ids, torch.where(ids_map == 2, 7, sem_map),
    expect=error("semantic"))
add("bool instances over one class", bool_ids, torch.where(bool_ids, 4, 0), expect=equals(
    [[1.0, 1, 6, 5]], post=lambda targets: targets["boxes"].tolist()))
add("uint8 maps, non-contiguous", strided(ids_map.to(torch.uint8)),
    strided(sem_map.to(torch.uint8)), expect=equals(same_call(ids_map, sem_map),
                                                    post=lambda targets: targets["boxes"]))
add("semantic -1 (int8)", ids_map, with_value(sem_map.to(torch.int8), -1),
    expect=error("semantic"))
add("an empty scene", torch.zeros(4, 4, dtype=torch.long), torch.zeros(4, 4, dtype=torch.long),
    expect=equals(((0, 4), (0,), (0, 4, 4)), post=lambda targets: tuple(
        tuple(targets[k].shape) for k in ("boxes", "labels", "masks"))))


def fake_scenes(images):
    """Something shaped like MNISTScenes: two 6x6 scenes with the given images."""
    import types

    maps = torch.zeros(2, 6, 6, dtype=torch.long)
    maps[:, 1:3, 1:3] = 1
    return types.SimpleNamespace(images=images, semantic=maps * 4, instances=maps)


add = cases_for("instances.InstanceScenes")
for label, bad in [("3 channels", rand(2, 3, 6, 6)), ("NaN", torch.full((2, 1, 6, 6), math.nan)),
                   ("0..255 floats", rand(2, 1, 6, 6) * 255),
                   ("uint8", (rand(2, 1, 6, 6) * 255).to(torch.uint8)),
                   ("5 for 2 maps", rand(5, 1, 6, 6))]:
    add(f"scenes with images {label}", Fresh(lambda bad=bad: fake_scenes(bad)),
        expect=error("scenes"))
add("two scenes", Fresh(lambda: fake_scenes(torch.ones(2, 1, 6, 6) * 0.5)),
    expect=equals([[1.0, 1, 3, 3]], post=lambda dataset: dataset[1][1]["boxes"].tolist()))

# ========================================================================= pets

pet_rgb, trimap = randint(256, 6, 6, 3).to(torch.uint8), randint(3, 6, 6) + 1


def fake_pets():
    """Oxford-IIIT Pet as a list of (photo, trimap) PIL images: 1 pet, 2 background, 3 border."""
    from PIL import Image

    return [(Image.fromarray(pet_rgb.numpy()), Image.fromarray(trimap.to(torch.uint8).numpy()))]


pet_mask = torch.where(trimap == 1, 1, torch.where(trimap == 2, 0, 255))
add = cases_for("pets.PetSegmentation")
for label, bad in [("None", None), ("5", 5)]:
    add(f"pets {label}", bad, expect=error("pets"))
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"size={label}", Fresh(fake_pets), bad, expect=error("size"))
add("size 6, as the photo", Fresh(fake_pets), 6, expect=equals(
    (pet_rgb.permute(2, 0, 1).float() / 255, pet_mask), post=lambda dataset: dataset[0]))
add("size a NumPy int", Fresh(fake_pets), np.int64(4),
    expect=equals(same_call(Fresh(fake_pets), 4), post=lambda dataset: dataset[0]))

add = cases_for("pets.oxford_pet")            # bad arguments only: refused before any download
add("split='train'", "train", root=NOWHERE, download=False, expect=error("split"))
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"size={label}", size=bad, root=NOWHERE, download=False, expect=error("size"))
add("root=3", root=3, download=False, expect=error("root"))
add("download='no'", root=NOWHERE, download="no", expect=error("download"))
add("root missing, download=False", root=NOWHERE, download=False,
    expect=error("root", data_missing=True))

# ====================================================================== regions

region_mask = torch.tensor([[1, 0, 0, 0, 1],
                            [0, 1, 0, 0, 1],     # (0, 0) and (1, 1) meet at a corner
                            [0, 0, 0, 0, 0],
                            [1, 1, 0, 1, 0]])
region_labels = torch.tensor([[1, 0, 0, 0, 2], [0, 1, 0, 0, 2], [0, 0, 0, 0, 0],
                              [3, 3, 0, 4, 0]])
add = cases_for("regions.label_regions")
for label, bad in [("float", region_mask.float()), ("a list", region_mask.tolist()),
                   ("None", None), ("(1, H, W)", region_mask[None]),
                   ("value 2", with_value(region_mask, 2)),
                   ("uint8 0/255", (region_mask * 255).to(torch.uint8))]:
    add(f"mask {label}", bad, expect=error("mask"))
for label, bad in bad_ints(1, full=True):
    add(f"min_area={label}", region_mask, min_area=bad, expect=error("min_area"))
add("8-connected regions", region_mask, expect=equals((region_labels, 4)))
for label, same in int_dtypes(region_mask) + [("non-contiguous", strided(region_mask))]:
    add(f"mask {label}", same, expect=equals((region_labels, 4)))
add("min_area=2 drops the speck", region_mask, min_area=2,
    expect=equals((region_labels.where(region_labels != 4, 0), 3)))
add("min_area a NumPy int", region_mask, min_area=np.int64(2),
    expect=equals(same_call(region_mask, min_area=2)))
add("empty mask", torch.zeros(3, 4, dtype=torch.bool),
    expect=equals((torch.zeros(3, 4, dtype=torch.long), 0)))

# issue 23: regions per class (a 3 touching a 7 is two regions; the 5 meets the 7 and a 2
# at corners: a region of its own)
class_map = torch.tensor([[3, 3, 7, 7, 0],
                          [3, 3, 7, 7, 0],
                          [0, 0, 0, 0, 5],
                          [2, 2, 0, 2, 2]])
class_labels = torch.tensor([[1, 1, 2, 2, 0], [1, 1, 2, 2, 0], [0, 0, 0, 0, 3],
                             [4, 4, 0, 5, 5]])
class_regions = (class_labels, torch.tensor([3, 7, 5, 2, 2]))
add = cases_for("regions.label_class_regions")
for label, bad in bad_indices(class_map, 11, full=True) + [("(1, H, W)", class_map[None]),
                                                           ("255, no ignore_index",
                                                            with_value(class_map, 255))]:
    add(f"classes {label}", bad, 11, expect=error("classes"))
for label, bad in bad_ints(2, full=True):
    add(f"num_classes={label}", class_map, bad, expect=error("num_classes", "classes"))
for label, bad in bad_ints(1, full=True):
    add(f"min_area={label}", class_map, 11, min_area=bad, expect=error("min_area"))
for label, bad in [("True", True), ("1.0", 1.0), ("a str", "255")]:
    add(f"ignore_index={label}", class_map, 11, ignore_index=bad, expect=error("ignore_index"))
add("regions per class", class_map, 11, expect=equals(class_regions))
for label, same in int_dtypes(class_map, full=True) + [("non-contiguous", strided(class_map))]:
    add(f"classes {label}", same, 11, expect=equals(class_regions))
add("min_area=3 drops the 5 and the 2s", class_map, 11, min_area=3,
    expect=equals((class_labels.where(class_labels <= 2, 0), torch.tensor([3, 7]))))
add("ignore_index=255 belongs to no region", with_value(class_map, 255, 4), 11,
    ignore_index=255, expect=equals(class_regions))
add("ignore_index=-100 on a 3", with_value(class_map, -100, 1), 11, ignore_index=-100,
    expect=equals((class_labels.where(class_map != 0, 0).index_put((torch.tensor([0]),
                                                                    torch.tensor([1])),
                                                                   torch.tensor(0)),
                   class_regions[1])))
add("ignore_index=-100 on a 2", with_value(class_map, -100, 15), 11,
    ignore_index=-100, expect=equals((torch.tensor([[1, 1, 2, 2, 0], [1, 1, 2, 2, 0],
                                                    [0, 0, 0, 0, 3], [0, 4, 0, 5, 5]]),
                                      torch.tensor([3, 7, 5, 2, 2]))))
add("bool classes, two classes: label_regions' regions", region_mask.bool(), 2,
    expect=equals((region_labels, torch.ones(4, dtype=torch.long))))
add("all background", torch.zeros(3, 4, dtype=torch.uint8), 11,
    expect=equals((torch.zeros(3, 4, dtype=torch.long), torch.zeros(0, dtype=torch.long))))
add("no pixel", torch.zeros(0, 4, dtype=torch.long), 11,
    expect=equals((torch.zeros(0, 4, dtype=torch.long), torch.zeros(0, dtype=torch.long))))

add = cases_for("regions.region_boxes")
region_boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [4.0, 0.0, 5.0, 2.0], [0.0, 3.0, 2.0, 4.0],
                             [3.0, 3.0, 4.0, 4.0]])
for label, bad in [("float", region_labels.float()), ("a list", region_labels.tolist()),
                   ("(1, H, W)", region_labels[None]), ("negative", region_labels - 1),
                   ("a gap in the numbers", region_labels.where(region_labels != 2, 0))]:
    add(f"labels {label}", bad, expect=error("labels"))
add("four regions", region_labels, expect=equals(region_boxes))
for label, same in int_dtypes(region_labels) + [("non-contiguous", strided(region_labels))]:
    add(f"labels {label}", same, expect=equals(region_boxes))
add("no region", torch.zeros(3, 3, dtype=torch.long), expect=equals(torch.zeros(0, 4)))

add = cases_for("regions.majority_classes")
region_classes = torch.tensor([[2, 0, 0, 0, 7], [0, 0, 0, 0, 5], [0, 0, 0, 0, 0],
                               [3, 1, 0, 0, 0]])
# region 1: a 2 and background -> 2; region 2: a 7 and a 5, a tie -> 5; region 3: a tie of
# 3 and 1 -> 1; region 4: background alone -> 0
for label, bad in bad_indices(region_classes, 10):
    add(f"classes {label}", bad, region_labels, 10, expect=error("classes"))
add("classes (1, H, W)", region_classes[None], region_labels, 10, expect=error("classes"))
add("classes 4x4", region_classes[:, :4], region_labels, 10, expect=error("classes"))
add("labels float", region_classes, region_labels.float(), 10, expect=error("labels"))
for label, bad in bad_ints(2, full=True):
    add(f"num_classes={label}", region_classes, region_labels, bad,
        expect=error("num_classes", "classes"))
add("votes, ties and background", region_classes, region_labels, 10,
    expect=equals(torch.tensor([2, 5, 1, 0])))
add("uint8 classes, int32 labels, non-contiguous", strided(region_classes.to(torch.uint8)),
    strided(region_labels.int()), 10, expect=equals(torch.tensor([2, 5, 1, 0])))

add = cases_for("regions.square_boxes")
for label, bad in [("int64", region_boxes.long()), ("a list", region_boxes.tolist()),
                   ("(K, 3)", region_boxes[:, :3]), ("(4,)", region_boxes[0]),
                   ("empty box", with_value(region_boxes, 2.0, 0))]:
    add(f"boxes {label}", bad, expect=error("boxes"))
for label, bad in bad_numbers(low=0, high=1, open_low=True, full=True):
    add(f"fill={label}", region_boxes, fill=bad, expect=error("fill"))
add("fill=1", torch.tensor([[4.0, 2.0, 24.0, 12.0]]), fill=1,
    expect=equals(torch.tensor([[4.0, -3.0, 24.0, 17.0]])))
add("no box", torch.zeros(0, 4), expect=equals(torch.zeros(0, 4)))

add = cases_for("regions.crop_regions")
crop_images = rand(2, 3, 12, 12)
crop_boxes = [torch.tensor([[1.0, 2.0, 9.0, 11.0]]), torch.tensor([[0.0, 0.0, 12.0, 12.0]])]
for label, bad in bad_images(crop_images):
    add(f"images {label}", bad, crop_boxes, expect=error("images"))
add("boxes one list for two images", crop_images, crop_boxes[:1], expect=error("boxes"))
add("boxes int64", crop_images, [b.long() for b in crop_boxes],
    expect=error(says=(r"boxes\[0\]: expected a float tensor",)))
add("boxes an empty box", crop_images, [crop_boxes[0], torch.tensor([[3.0, 3.0, 3.0, 5.0]])],
    expect=error(says=(r"boxes\[1\]: expected x2 > x1",)))
add("boxes (K, 4) for (K, 5)", crop_images, torch.zeros(1, 4), expect=error("boxes"))
add("boxes (K, 5) int64", crop_images, torch.tensor([[0, 1, 2, 9, 11]]), expect=error("boxes"))
for label, bad in bad_ints(1, full=True):
    add(f"size={label}", crop_images, crop_boxes, size=bad, expect=error("size"))
add("method 'bilinear'", crop_images, crop_boxes, method="bilinear", expect=error("method"))
for label, bad in bad_numbers(low=0, open_low=True):
    add(f"spatial_scale={label}", crop_images, crop_boxes, spatial_scale=bad,
        expect=error("spatial_scale"))
add("sampling_ratio=0", crop_images, crop_boxes, sampling_ratio=0,
    expect=error("sampling_ratio"))
for method in ("align", "pool"):
    add(f"{method}: (K, 5) boxes", crop_images,
        torch.tensor([[0.0, 1.0, 2.0, 9.0, 11.0], [1.0, 0.0, 0.0, 12.0, 12.0]]), size=4,
        method=method, expect=equals(same_call(crop_images, crop_boxes, size=4, method=method)))
    add(f"{method}: non-contiguous images", strided(crop_images), crop_boxes, size=4,
        method=method, expect=equals(same_call(crop_images.clone(), crop_boxes, size=4,
                                               method=method)))


# issue 23: boxes that are no boxes, image indices that are no image, RoI Pool's far edges


def pool_by_slicing(feature_map, image, box, size, scale):
    """RoI max pooling of one box in pixel edges, by hand: the map cells round(x1 s) ..
    round(x2 s) - 1 (C's rounding) max-pooled by torch's adaptive max pooling (roi_pool's
    bins)."""
    def cell(v):
        return int(math.copysign(math.floor(abs(v) + 0.5), v))

    x1, y1, x2, y2 = (v * scale for v in box)
    rows = slice(cell(y1), max(cell(y2), cell(y1) + 1))
    cols = slice(cell(x1), max(cell(x2), cell(x1) + 1))
    return F.adaptive_max_pool2d(feature_map[image:image + 1, :, rows, cols], size)


pool_map = rand(2, 2, 16, 16)
add = cases_for("regions.crop_regions")
for label, bad in [("NaN", math.nan), ("inf", math.inf), ("-inf", -math.inf)]:
    add(f"boxes with a {label} coordinate", crop_images,
        [torch.tensor([[1.0, 2.0, bad, 11.0]]), crop_boxes[1]], expect=error("boxes"))
    add(f"(K, 5) boxes with a {label} coordinate", crop_images,
        torch.tensor([[0.0, bad, 2.0, 9.0, 11.0]]), method="pool", expect=error("boxes"))
for label, index in [("2, past the last", 2.0), ("-1", -1.0), ("0.5", 0.5), ("NaN", math.nan)]:
    add(f"(K, 5) boxes, image index {label}", crop_images,
        torch.tensor([[index, 1.0, 2.0, 9.0, 11.0]]), expect=error("boxes"))
for scale, box in [(1.0, (4.0, 8.0, 12.0, 16.0)), (0.5, (3.0, 5.0, 21.0, 30.0)),
                   (0.25, (5.0, 5.0, 13.0, 13.0))]:
    side = int(16 / scale)
    add(f"pool: box {box} at spatial_scale {scale}: its cells, no more", pool_map,
        [torch.tensor([box]), torch.zeros(0, 4)], size=3, method="pool", spatial_scale=scale,
        expect=equals(pool_by_slicing(pool_map, 0, box, 3, scale)))
ink_past = torch.zeros(1, 1, 12, 12)
ink_past[0, 0, :, 7] = ink_past[0, 0, 9, :] = 1.0
add("pool: ink just past the far edges is not in the crop", ink_past,
    [torch.tensor([[2.0, 3.0, 7.0, 9.0]])], size=5, method="pool",
    expect=equals(torch.zeros(1, 1, 5, 5)))
add("pool: a 4x4 box at size 4 is itself", ink_past + pool_map[:1, :1, :12, :12],
    [torch.tensor([[2.0, 3.0, 6.0, 7.0]])], size=4, method="pool",
    expect=equals((ink_past + pool_map[:1, :1, :12, :12])[:, :, 3:7, 2:6]))
far_box = [torch.tensor([[257.3, 250.1, 301.7, 290.9]])]
far_image = rand(1, 1, 320, 320)
for dtype, atol in [(torch.float16, 5e-4), (torch.bfloat16, 4e-3)]:
    add(f"{str(dtype).removeprefix('torch.')} images, boxes past 256", far_image.to(dtype),
        far_box, size=6, expect=equals(ops_roi_align(far_image.to(dtype).float(), far_box, 6),
                                       atol=atol))
add("channels_last images", channels_last(crop_images), crop_boxes, size=4,
    expect=equals(same_call(crop_images, crop_boxes, size=4)))
add("images of 0x0 pixels", torch.zeros(2, 3, 0, 0), crop_boxes, expect=error("images"))
add("float64 boxes of 1e300 for float32 images", crop_images,
    [crop_boxes[0], torch.tensor([[0.0, 0.0, 1e300, 1e300]], dtype=torch.float64)],
    expect=error("boxes"))
add("no image, no boxes", torch.zeros(0, 3, 8, 8), [], size=5,
    expect=equals(torch.zeros(0, 3, 5, 5)))
add("float64 boxes for float32 images", crop_images, [b.double() for b in crop_boxes], size=4,
    expect=equals(same_call(crop_images, crop_boxes, size=4)))

add = cases_for("regions.square_boxes")
for label, bad in [("NaN", math.nan), ("inf", math.inf)]:
    add(f"boxes with a {label} coordinate", with_value(region_boxes, bad, 5),
        expect=error("boxes"))

add = cases_for("regions.majority_classes")
add("labels with a gap (no region 2)", region_classes,
    region_labels.where(region_labels != 2, 0), 10, expect=error("labels"))
add("bool classes (2 classes)", region_classes > 0, region_labels, 2,
    expect=equals(torch.tensor([1, 1, 1, 0])))

add = cases_for("regions.region_boxes")
add("bool labels: one region", region_mask.bool(), expect=equals(torch.tensor(
    [[0.0, 0.0, 5.0, 4.0]])))

add = cases_for("regions.count_classes")
add("bool classes", torch.tensor([True, False, True]), 2, expect=equals(torch.tensor([1, 2])))
add = cases_for("regions.count_classes")
for label, bad in bad_indices(torch.tensor([1, 3, 3]), 10, full=True):
    add(f"classes {label}", bad, 10, expect=error("classes"))
add("classes (1, K)", torch.tensor([[1, 3]]), 10, expect=error("classes"))
for label, bad in bad_ints(1, full=True):
    add(f"num_classes={label}", torch.tensor([0]), bad, expect=error("num_classes"))
add("two 3s and a 1", torch.tensor([1, 3, 3]), 5, expect=equals(torch.tensor([0, 1, 0, 2, 0])))
add("uint8, none", torch.zeros(0, dtype=torch.uint8), 3,
    expect=equals(torch.zeros(3, dtype=torch.long)))

# ======================================================================= scenes

digits = torch.zeros(6, 28, 28)
digits[:, 9:19, 9:19] = rand(6, 10, 10) * 0.5 + 0.5      # a 10x10 blob of ink per digit
digit_labels = randint(10, 6)
add = cases_for("scenes.compose")
for label, bad in pick(bad_images(digits, batched=False), "uint8 0..255") + [
        ("(M, 1, 28, 28)", digits[:, None]), ("empty pool", digits[:0])]:
    labels_for = digit_labels[:0] if label == "empty pool" else digit_labels
    add(f"digit_images {label}", bad, labels_for, 40, expect=error("digit_images"))
for label, bad in [("float", digit_labels.float()), ("5 for 6 images", digit_labels[:5]),
                   ("value 10", with_value(digit_labels, 10))]:
    add(f"digit_labels {label}", digits, bad, 40, expect=error("digit_labels"))
for label, bad in pick(bad_ints(28), "29.0", "27"):
    add(f"size={label}", digits, digit_labels, bad, expect=error("size"))
for name, label, bad in [("max_digits", "0", 0), ("max_digits", "True", True), ("tries", "0", 0)]:
    add(f"{name}={label}", digits, digit_labels, 40, **{name: bad}, expect=error(name))
add("generator a str", digits, digit_labels, 40, generator="0", expect=error("generator"))
for label, bad in bad_flags():
    add(f"overlap={label}", digits, digit_labels, 40, overlap=bad, expect=error("overlap"))
add("uint8 labels", digits, digit_labels.to(torch.uint8), 40,
    expect=equals(same_call(digits, digit_labels, 40)))
add("non-contiguous images", strided(digits), digit_labels, 40,
    expect=equals(same_call(digits, digit_labels, 40)))

add = cases_for("scenes.compose")
for name, label, bad in [("min_digits", "0", 0), ("min_digits", "4 > max_digits", 4),
                         ("min_digits", "2.0", 2.0), ("gap", "-1", -1), ("gap", "True", True),
                         ("digit_size", "7", 7), ("digit_size", "28.0", 28.0),
                         ("digit_size", "a triple", (8, 12, 16)),
                         ("digit_size", "None", None), ("size", "below digit_size", 30)]:
    kwargs = {"size": 40, "digit_size": 36} if label == "below digit_size" else {}
    kwargs = {**kwargs, name: bad} if name != "size" else {**kwargs, "size": bad}
    add(f"{name}={label}", digits, digit_labels, **kwargs, expect=error(name))
add("digit_size=(20, 10)", digits, digit_labels, 40, digit_size=(20, 10),
    expect=error(says=(r"digit_size\[1\]: expected an int >= 20",)))
add("digit_size=(7, 10)", digits, digit_labels, 40, digit_size=(7, 10),
    expect=error(says=(r"digit_size\[0\]: expected an int >= 8",)))
add("gap with overlap", digits, digit_labels, 40, gap=2, overlap=True, expect=error("gap"))
add("digit_size a NumPy int", digits, digit_labels, 40, digit_size=np.int64(20),
    expect=equals(same_call(digits, digit_labels, 40, digit_size=20)))

add = cases_for("scenes.MNISTScenes")
pool = (digits, digit_labels)


def scenes_made(dataset):
    return dataset.images, dataset.semantic, dataset.instances


for label, bad in bad_ints(1):
    add(f"count={label}", bad, digits_pool=pool, expect=error("count"))
add("size=27", 2, size=27, digits_pool=pool, expect=error("size"))
add("max_digits=0", 2, max_digits=0, digits_pool=pool, expect=error("max_digits"))
for label, bad in pick(bad_ints(0), "True", "-1"):
    add(f"seed={label}", 2, seed=bad, digits_pool=pool, expect=error("seed"))
add("train='no'", 2, train="no", size=40, digits_pool=pool, expect=error("train"))
for label, bad in bad_flags():
    add(f"overlap={label}", 2, size=40, digits_pool=pool, overlap=bad, expect=error("overlap"))
for label, bad in [("one tensor", digits), ("float labels", (digits, digit_labels.float()))]:
    add(f"digits_pool {label}", 2, size=40, digits_pool=bad, expect=error("digits_pool"))
add("count a NumPy int", np.int64(2), size=40, digits_pool=pool,
    expect=equals(same_call(2, size=40, digits_pool=pool), post=scenes_made))
add("uint8 labels in the pool", 2, size=40, digits_pool=(digits, digit_labels.to(torch.uint8)),
    expect=equals(same_call(2, size=40, digits_pool=pool), post=scenes_made))

add = cases_for("scenes.digit_counts")
from coursekit.scenes import Digit  # noqa: E402  (a record, to build the input)

two_scenes = [[Digit(3, 0, 0, (1, 1, 5, 5)), Digit(3, 9, 9, (9, 9, 12, 12)),
               Digit(7, 20, 20, (20, 20, 30, 30))], []]
add("two 3s and a 7, then nothing", two_scenes, expect=equals(
    [[0, 0, 0, 2, 0, 0, 0, 1, 0, 0], [0] * 10], post=lambda counts: counts.tolist()))
add("no scene", [], expect=equals((0, 10), post=lambda counts: tuple(counts.shape)))
for label, bad in [("a tensor", torch.zeros(2, 10)), ("None", None)]:
    add(f"digits_of_scenes {label}", bad, expect=error("digits_of_scenes"))
add("a scene of ints", [[3, 7]], expect=error("digits_of_scenes"))
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"classes={label}", two_scenes, classes=bad, expect=error("classes"))

add = cases_for("scenes.digit_counts")          # issue 23: labels that are no digit
for label, bad in [("-1", -1), ("10", 10), ("True", True), ("3.0", 3.0), ("None", None)]:
    add(f"a Digit of label {label}", [[Digit(2, 0, 0, (0, 0, 1, 1)),
                                       Digit(bad, 0, 0, (0, 0, 1, 1))]],
        expect=error("digits_of_scenes"))
add("a label past classes=3", [[Digit(5, 0, 0, (0, 0, 1, 1))]], classes=3,
    expect=error("digits_of_scenes"))
add("one scene's digits, not a list of scenes", two_scenes[0], expect=error("digits_of_scenes"))
add("a NumPy int label, scenes as tuples", ((Digit(np.int64(4), 0, 0, (0, 0, 1, 1)),),),
    expect=equals([[0, 0, 0, 0, 1, 0, 0, 0, 0, 0]], post=lambda counts: counts.tolist()))

cases_for("scenes.Digit")("a record", 3, 1, 2, (10, 11, 20, 21),
                          expect=equals(3, post=lambda digit: digit.label))

# ======================================================================== setup

add = cases_for("setup.get_device")
for label, bad in [("'gpu'", "gpu"), ("1", 1)]:
    add(f"prefer={label}", bad, expect=error("prefer"))
add("prefer 'cpu'", "cpu", expect=equals(torch.device("cpu")))
add = cases_for("setup.seed_everything")
for label, bad in bad_ints(0, full=True) + [("2**32", 2**32)]:
    add(f"seed={label}", bad, expect=error("seed"))
add("seed a NumPy int", np.int64(7), expect=equals(7, post=lambda _: torch.initial_seed()))
add = cases_for("setup.fast_mode")
add("COURSEKIT_FAST=maybe", env={"COURSEKIT_FAST": "maybe"}, expect=error("COURSEKIT_FAST"))
add("COURSEKIT_FAST=1", env={"COURSEKIT_FAST": "1"}, expect=equals(True))
add = cases_for("setup.budget")
add("fast mode", full=10, fast=1, env={"COURSEKIT_FAST": "1"}, expect=equals(1))
add("full mode", full=10, fast=1, env={"COURSEKIT_FAST": "0"}, expect=equals(10))
add("COURSEKIT_FAST=maybe", full=10, fast=1, env={"COURSEKIT_FAST": "maybe"},
    expect=error("COURSEKIT_FAST"))
add = cases_for("setup.data_root")
add("COURSEKIT_DATA=~/d", env={"COURSEKIT_DATA": "~/d"}, expect=equals(Path.home() / "d"))
cases_for("setup.in_colab")("here", expect=equals(False))
add = cases_for("setup.describe_device")
for label, bad in [("None", None), ("3", 3)]:
    add(f"device {label}", bad, expect=error("device"))
add("cpu", torch.device("cpu"), expect=equals(True, post=lambda text: text.startswith("cpu (")))
add = cases_for("setup.start")
add("seed=-1", -1, "cpu", expect=error("seed"))
add("prefer 'gpu'", 0, "gpu", expect=error("prefer"))
add("seed 0 on the CPU", 0, "cpu", expect=equals(torch.device("cpu")))

# ======================================================================== train
#
# A fixed model and lr 0: the weights do not move, so the accuracy that fit, evaluate and
# train_one_epoch report can be counted by hand.

cls_images, cls_labels = rand(6, 1, 2, 2), randint(3, 6)
classifier_weights = (randn(3, 4), randn(3))


def classifier():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.copy_(classifier_weights[0])
        model[1].bias.copy_(classifier_weights[1])
    return model


cls_logits = classifier()(cls_images).detach()
cls_accuracy = (cls_logits.argmax(1) == cls_labels).float().mean().item()
seg_logits = seg3()(seg_images).detach()
valid = seg_ignored != 255
seg_accuracy = ((seg_logits.argmax(1) == seg_ignored) & valid).sum().item() / valid.sum().item()
bin_accuracy = (bin_pred == bin_labels).float().mean().item()


def nan_model():
    model = fixed_conv(1, 3, seed=3)()
    with torch.no_grad():
        model.bias[0] = math.nan
    return model


def bce(logits, labels):
    return F.binary_cross_entropy_with_logits(logits, labels.reshape(logits.shape).float())


MODELS = {"classify": (classifier, in_batches(cls_images[:4], cls_labels[:4])
                       + [(cls_images[4:], cls_labels[4:])]),
          "segment": (seg3, in_batches(seg_images, seg_ignored)),
          "binary": (seg1, in_batches(seg_images, bin_labels)),
          "nan": (nan_model, in_batches(seg_images, seg_labels))}


def trainer(function, kind="classify", **changes):
    """build(kit) -> (args, kwargs) for train.fit, train_one_epoch or evaluate, on a fixed
    model (MODELS[kind]) with SGD at lr 0; ``changes`` replace or add arguments."""
    make_model, data = MODELS[kind]

    def build(kit):
        model = make_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        if function == "fit":
            names = ("model", "train_loader", "optimizer", "epochs", "device")
            values = dict(model=model, train_loader=data, optimizer=optimizer, epochs=1,
                          device="cpu")
        elif function == "train_one_epoch":
            names = ("model", "loader", "loss_fn", "optimizer", "device")
            values = dict(model=model, loader=data, loss_fn=nn.CrossEntropyLoss(),
                          optimizer=optimizer, device="cpu")
        else:
            names = ("model", "loader", "device")
            values = dict(model=model, loader=data, device="cpu")
        values.update(changes)
        return tuple(values.pop(n) for n in names), values

    return build


def figures(history):
    """A history without its timings."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


ignore_loss = nn.CrossEntropyLoss(ignore_index=255)
add = cases_for("train.fit")
for label, bad in bad_ints(1) + [("None", None)]:
    add(f"epochs={label}", build=trainer("fit", epochs=bad), expect=error("epochs"))
add("empty train_loader", build=trainer("fit", train_loader=[]), expect=error("train_loader"))
add("empty test_loader", build=trainer("fit", test_loader=[]), expect=error("test_loader"))
for label, bad in bad_numbers(low=0, open_low=True):
    add(f"clip_grad_norm={label}", build=trainer("fit", clip_grad_norm=bad),
        expect=error("clip_grad_norm"))
add("resume without checkpoint", build=trainer("fit", resume=True),
    expect=error("resume", "checkpoint"))
add("checkpoint=3", build=trainer("fit", checkpoint=3), expect=error("checkpoint"))
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"stop_epoch={label}", build=trainer("fit", stop_epoch=bad), expect=error("stop_epoch"))
for name, (label, bad) in zip(("amp", "log"), bad_flags(), strict=True):
    add(f"{name}={label}", build=trainer("fit", **{name: bad}), expect=error(name))
add("model None", build=trainer("fit", model=None), expect=error("model"))
add("optimizer None", build=trainer("fit", optimizer=None), expect=error("optimizer"))
add("device 'gpu'", build=trainer("fit", device="gpu"), expect=error("device"))
add("loss becomes NaN", build=trainer("fit", "nan"), expect=error(   # which epoch, which batch
    "epoch", also=("FloatingPointError", "RuntimeError"), says=(r"epoch \d", r"batch \d")))
add("epochs a NumPy int", build=trainer("fit", epochs=np.int64(1)),
    expect=equals(same_call(build=trainer("fit")), post=figures))
add("uint8 labels", build=trainer("fit", train_loader=in_batches(cls_images, cls_labels.to(
    torch.uint8))), expect=equals(same_call(build=trainer("fit", train_loader=in_batches(
        cls_images, cls_labels))), post=figures))
add("ignored pixels: accuracy over labelled ones", build=trainer(
    "fit", "segment", loss_fn=ignore_loss), expect=equals(seg_accuracy,
                                                          post=lambda h: h[-1]["accuracy"]))
add("ignored pixels: held-out accuracy", build=trainer(
    "fit", "segment", loss_fn=ignore_loss, test_loader=in_batches(seg_images, seg_ignored)),
    expect=equals(seg_accuracy, post=lambda h: h[-1]["test_accuracy"]))
add("binary model (N, 1, H, W), labels (N, 1, H, W)", build=trainer(
    "fit", "binary", train_loader=in_batches(seg_images, bin_labels[:, None]), loss_fn=bce),
    expect=equals(bin_accuracy, post=lambda h: h[-1]["accuracy"]))

add = cases_for("train.train_one_epoch")
add("empty loader", build=trainer("train_one_epoch", loader=[]), expect=error("loader"))
add("model None", build=trainer("train_one_epoch", model=None), expect=error("model"))
add("loss_fn None", build=trainer("train_one_epoch", loss_fn=None), expect=error("loss_fn"))
add("clip_grad_norm=0", build=trainer("train_one_epoch", clip_grad_norm=0),
    expect=error("clip_grad_norm"))
add("amp=1", build=trainer("train_one_epoch", amp=1), expect=error("amp"))
add("device 'gpu'", build=trainer("train_one_epoch", device="gpu"), expect=error("device"))
add("classifier accuracy", build=trainer("train_one_epoch", loader=in_batches(
    cls_images, cls_labels)), expect=equals(cls_accuracy, post=lambda r: r["accuracy"]))
add("uint8 labels", build=trainer("train_one_epoch", loader=in_batches(
    cls_images, cls_labels.to(torch.uint8))), expect=equals(cls_accuracy,
                                                            post=lambda r: r["accuracy"]))
add("ignored pixels (loss_fn's ignore_index)", build=trainer(
    "train_one_epoch", "segment", loss_fn=ignore_loss),
    expect=equals(seg_accuracy, post=lambda r: r["accuracy"]))
add("binary model (N, 1, H, W)", build=trainer(
    "train_one_epoch", "binary", loader=in_batches(seg_images, bin_labels[:, None]),
    loss_fn=bce), expect=equals(bin_accuracy, post=lambda r: r["accuracy"]))

add = cases_for("train.evaluate")
add("empty loader", build=trainer("evaluate", loader=[]), expect=error("loader"))
add("loader None", build=trainer("evaluate", loader=None), expect=error("loader"))
add("model None", build=trainer("evaluate", model=None), expect=error("model"))
add("device 'gpu'", build=trainer("evaluate", device="gpu"), expect=error("device"))
add("amp=1", build=trainer("evaluate", amp=1), expect=error("amp"))
add("ignore_index True", build=trainer("evaluate", "segment", ignore_index=True),
    expect=error("ignore_index"))
add("classifier accuracy and loss", build=trainer(
    "evaluate", loader=in_batches(cls_images, cls_labels), loss_fn=nn.CrossEntropyLoss()),
    expect=equals({"accuracy": cls_accuracy, "loss": F.cross_entropy(cls_logits, cls_labels)}))
add("uint8 labels", build=trainer("evaluate", loader=in_batches(
    cls_images, cls_labels.to(torch.uint8)), loss_fn=nn.CrossEntropyLoss()),
    expect=equals({"accuracy": cls_accuracy, "loss": F.cross_entropy(cls_logits, cls_labels)}))
add("ignored pixels (loss_fn's ignore_index): accuracy and loss", build=trainer(
    "evaluate", "segment", loss_fn=ignore_loss), expect=equals({
        "accuracy": seg_accuracy,
        "loss": F.cross_entropy(seg_logits, seg_ignored, ignore_index=255)}))
add("ignored pixels (ignore_index=255)", build=trainer("evaluate", "segment", ignore_index=255),
    expect=equals(seg_accuracy, post=lambda r: r["accuracy"]))
add("binary model (N, 1, H, W), labels (N, H, W)", build=trainer("evaluate", "binary"),
    expect=equals(bin_accuracy, post=lambda r: r["accuracy"]))
add("binary model, labels (N, 1, H, W)", build=trainer(
    "evaluate", "binary", loader=in_batches(seg_images, bin_labels[:, None])),
    expect=equals(bin_accuracy, post=lambda r: r["accuracy"]))



def pixel_weighted_ce(logits, labels, pixel_weight):
    return (F.cross_entropy(logits, labels, reduction="none") * pixel_weight).mean()


seg_weights = rand(4, 3, 3) * 4
three_part = [(seg_images[:2], seg_labels[:2], seg_weights[:2]),
              (seg_images[2:], seg_labels[2:], seg_weights[2:])]
add("batches (images, labels, pixel_weight): the weights go to the loss", build=trainer(
    "evaluate", "segment", loader=three_part, loss_fn=pixel_weighted_ce),
    expect=equals({"accuracy": (seg_logits.argmax(1) == seg_labels).float().mean().item(),
                   "loss": pixel_weighted_ce(seg_logits, seg_labels, seg_weights)}))
add("batches of one part", build=trainer("evaluate", loader=[(cls_images,)]),
    expect=error("loader"))
add = cases_for("train.train_one_epoch")
add("batches (images, labels, pixel_weight): the weights go to the loss", build=trainer(
    "train_one_epoch", "segment", loader=three_part, loss_fn=pixel_weighted_ce),
    expect=equals(pixel_weighted_ce(seg_logits, seg_labels, seg_weights),
                  post=lambda r: r["loss"]))
add("batches of four parts", build=trainer(
    "train_one_epoch", loader=[(cls_images, cls_labels, cls_labels, cls_labels)]),
    expect=error("loader"))

add = cases_for("train.predict")
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"batch_size={label}", Fresh(classifier), cls_images, "cpu", bad,
        expect=error("batch_size"))
for label, bad in bad_images(cls_images) + [("empty", cls_images[:0])]:
    add(f"images {label}", Fresh(classifier), bad, "cpu", expect=error("images"))
add("model None", None, cls_images, "cpu", expect=error("model"))
add("device 'gpu'", Fresh(classifier), cls_images, "gpu", expect=error("device"))
add("batches of 4", Fresh(classifier), cls_images, "cpu", 4, expect=equals(cls_logits))
add("batch_size a NumPy int", Fresh(classifier), cls_images, "cpu", np.int64(4),
    expect=equals(cls_logits))
add("non-contiguous images", Fresh(classifier), strided(cls_images), "cpu",
    expect=equals(cls_logits))


def sgd():
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)


def rates(scheduler, steps=8):
    """The learning rate at each of ``steps`` steps."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            out.append(scheduler.get_last_lr()[0])
            scheduler.optimizer.step()
            scheduler.step()
    return out


add = cases_for("train.amp_dtype")
add("cpu", "cpu", expect=equals(torch.bfloat16))
add("a torch.device", torch.device("cpu"), expect=equals(torch.bfloat16))
add("meta: no autocast", "meta", expect=equals(None))
add("device None", None, expect=error("device"))
add("device 3", 3, expect=error("device"))
add("device 'gpu'", "gpu", expect=error("device"))

add = cases_for("train.fast_bf16_cpu")
add("no arguments", expect=equals(any(  # the CPU's own answer, asked directly
    getattr(torch.cpu, probe, lambda: False)()
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))))

add = cases_for("train.one_cycle")
add("optimizer None", None, 0.1, 2, 4, expect=error("optimizer"))
for label, bad in pick(bad_numbers(low=0, open_low=True), "nan", "0"):
    add(f"max_lr={label}", Fresh(sgd), bad, 2, 4, expect=error("max_lr"))
for name, position in [("epochs", 2), ("steps_per_epoch", 3)]:
    args = [Fresh(sgd), 0.1, 2, 4]
    args[position] = 2.0
    add(f"{name}=2.0", *args, expect=error(name))
add("1 epoch of 2 steps", Fresh(sgd), 0.1, 1, 2, expect=error("epochs", "steps_per_epoch"))
for label, bad in pick(bad_numbers(low=0, high=1, open_low=True), "nan", "0", "2"):
    add(f"pct_start={label}", Fresh(sgd), 0.1, 2, 4, pct_start=bad, expect=error("pct_start"))
add("epochs a NumPy int", Fresh(sgd), 0.1, np.int64(2), 4,
    expect=equals(same_call(Fresh(sgd), 0.1, 2, 4), post=rates))

CHECKPOINTS = Path(tempfile.gettempdir()) / f"coursekit-input-cases-{os.getpid()}"
saved_history = [{"epoch": 1, "loss": 0.5, "accuracy": 0.75}]


def checkpoint_path(name):
    return str(CHECKPOINTS / name)


def saver(name, **changes):
    """build(kit) for save_checkpoint(path, model, optimizer, history)."""

    def build(kit):
        model = classifier()
        values = dict(path=checkpoint_path(name), model=model, history=saved_history,
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        values.update(changes)
        return tuple(values.pop(n) for n in ("path", "model", "optimizer", "history")), values

    return build


def loader_of(name, save=True, **changes):
    """build(kit) for load_checkpoint(path, model, optimizer), after saving a checkpoint
    with coursekit's own save_checkpoint."""

    def build(kit):
        if save:
            kit("train.save_checkpoint")(*saver(name)(kit)[0])
        model = classifier()
        values = dict(path=checkpoint_path(name), model=model,
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        values.update(changes)
        return tuple(values.pop(n) for n in ("path", "model", "optimizer")), values

    return build


add = cases_for("train.save_checkpoint")
for label, bad in [("None", None), ("3", 3)]:
    add(f"path {label}", build=saver("bad.pt", path=bad), expect=error("path"))
for name, label, bad in [("model", "None", None), ("optimizer", "None", None),
                         ("history", "None", None), ("history", "a list of ints", [1, 2])]:
    add(f"{name} {label}", build=saver("bad.pt", **{name: bad}), expect=error(name))
add("history saved", build=saver("saved.pt"), expect=equals(
    saved_history, post=lambda _: torch.load(checkpoint_path("saved.pt"),
                                             weights_only=True)["history"]))
add = cases_for("train.load_checkpoint")
add("no such file", build=loader_of("missing.pt", save=False),
    expect=error("path", also=("FileNotFoundError",)))
add("path None", build=loader_of("x.pt", save=False, path=None), expect=error("path"))
add("model None", build=loader_of("round.pt", model=None), expect=error("model"))
add("optimizer None", build=loader_of("round.pt", optimizer=None), expect=error("optimizer"))
add("another architecture", build=loader_of("round.pt", model=nn.Linear(2, 2)),
    expect=error("model"))
add("round trip", build=loader_of("round.pt"), expect=equals(saved_history, post=list))

add = cases_for("train.History")
add("rows", [{"epoch": 1, "loss": 0.5}], expect=equals([{"epoch": 1, "loss": 0.5}]))

add = cases_for("metrics.predicted_classes")
for label, bad in [("a list", logits.tolist()), ("int64 scores", target),
                   ("(N,) scores", randn(4))]:
    add(f"logits {label}", bad, expect=error("logits"))
add("multiclass: the argmax", logits, expect=equals(logits.argmax(1)))
add("binary (N, 1, H, W): logit > 0", logits[:, :1], expect=equals((logits[:, 0] > 0).long()))
add("float16 logits", logits.half(), expect=equals(logits.half().argmax(1)))

add = cases_for("train.count_correct")
add("logits a list", logits.tolist(), target, expect=error("logits"))
add("labels a list", logits, target.tolist(), expect=error("labels"))
add("labels (N, H) for logits (N, C, H, W)", logits, target[:, 0], expect=error("labels"))
add("multiclass pixels", logits, target,
    expect=equals((int((logits.argmax(1) == target).sum()), target.numel())))
add("uint8 labels", logits, target.to(torch.uint8),
    expect=equals((int((logits.argmax(1) == target).sum()), target.numel())))
add("ignore_index 255", logits, with_value(target, 255), ignore_index=255,
    expect=equals((int(((logits.argmax(1) == target) & (with_value(target, 255) != 255)).sum()),
                   int((with_value(target, 255) != 255).sum()))))
add("binary model, labels (N, 1, H, W) float", logits[:, :1], (target[:, None] > 0).float(),
    expect=equals((int(((logits[:, 0] > 0) == (target > 0)).sum()), target.numel())))

rows = [{"epoch": 1, "loss": 0.9, "accuracy": 0.5}, {"epoch": 2, "loss": 0.5, "accuracy": 0.75}]
add = cases_for("train.History.plot", obj=Call("train.History", rows))
add("empty history", obj=Call("train.History", []), expect=error("history"))
add("rows without accuracy", obj=Call("train.History", [{"epoch": 1, "loss": 0.5}]),
    expect=error("history"))
add("two epochs: the loss curve", expect=equals(
    [0.9, 0.5], post=lambda fig: list(fig.axes[0].get_lines()[0].get_ydata())))
add = cases_for("train.History.best", obj=Call("train.History", rows))
add("empty history", obj=Call("train.History", []), expect=error("history"))
for label, bad in [("'nope'", "nope"), ("3", 3)]:
    add(f"key={label}", bad, expect=error("key"))
add("key 'accuracy'", "accuracy", expect=equals(rows[1]))

# ========================================================================= unet

for name in ("DoubleConv", "Down"):
    add = cases_for(f"unet.{name}")
    for label, bad in bad_ints(1):
        add(f"in_channels={label}", bad, 4, expect=error("in_channels"))
    add("out_channels=0", 2, 0, expect=error("out_channels"))
    add("batch_norm='no'", 2, 4, batch_norm="no", expect=error("batch_norm"))
    add("NumPy ints", np.int64(2), np.int64(4), expect=equals(same_call(2, 4), post=param_shapes))
add = cases_for("unet.Up")
for label, bad in bad_ints(1) + [("3 (odd: the skip has in_channels // 2)", 3)]:
    add(f"in_channels={label}", bad, 2, expect=error("in_channels"))
add("out_channels=0", 4, 0, expect=error("out_channels"))
for label, bad in [("'nearest'", "nearest"), ("None", None)]:
    add(f"upsampling={label}", 4, 2, upsampling=bad, expect=error("upsampling"))
add("batch_norm='no'", 4, 2, batch_norm="no", expect=error("batch_norm"))
add("NumPy ints", np.int64(4), np.int64(2), expect=equals(same_call(4, 2), post=param_shapes))
xu, skip = randn(1, 4, 2, 2), randn(1, 2, 4, 4)
add = cases_for("unet.Up.forward", obj=Call("unet.Up", 4, 2).then(eval_mode))
for label, bad in [("3-D", xu[0]), ("a list", xu.tolist()), ("uint8", xu.abs().to(torch.uint8))]:
    add(f"x {label}", bad, skip, expect=error("x"))
for label, bad in [("6x6 for a 2x2 x", randn(1, 2, 6, 6)), ("3 channels for 2",
                                                            randn(1, 3, 4, 4))]:
    add(f"skip {label}", xu, bad, expect=error("skip"))
add("non-contiguous x", strided(xu), skip, expect=equals(same_call(xu, skip)))
add = cases_for("unet.UNet")
for name, (label, bad) in zip(("in_channels", "num_classes", "depth", "width"),
                              bad_ints(1) + [("None", None)], strict=True):
    add(f"{name}={label}", **{"depth": 1, "width": 2, name: bad}, expect=error(name))
add("upsampling='nearest'", depth=1, width=2, upsampling="nearest", expect=error("upsampling"))
add("batch_norm=1", depth=1, width=2, batch_norm=1, expect=error("batch_norm"))
add("depth a NumPy int", depth=np.int64(2), width=2,
    expect=equals(same_call(depth=2, width=2), post=param_shapes))
add("num_classes 1 (binary)", 1, 1, depth=1, width=2, expect=equals(
    (1, 1, 4, 4), post=lambda m: tuple(m.eval()(torch.zeros(1, 1, 4, 4)).shape)))
x8 = rand(1, 1, 8, 8)
add = cases_for("unet.UNet.forward", obj=Call("unet.UNet", depth=2, width=2).then(eval_mode))
for label, bad in bad_images(x8):
    add(f"x {label}", bad, expect=error("x"))
add("x 6x6 (depth 2 needs multiples of 4)", rand(1, 1, 6, 6), expect=error("x"))
add("x with 3 channels for in_channels 1", rand(1, 3, 8, 8), expect=error("x"))
add("non-contiguous x", strided(x8), expect=equals(same_call(x8)))
add("channels_last x", channels_last(x8), expect=equals(same_call(x8)))
add = cases_for("unet.check_input")
for label, bad in [("a list", x8.tolist()), ("None", None), ("3-D", x8[0])]:
    add(f"x {label}", bad, 2, expect=error("x"))
for label, bad in [("True", True), ("-1", -1)]:
    add(f"depth={label}", x8, bad, expect=error("depth"))
add("8x8 at depth 3", x8, 3, expect=equals(None))
add("depth a NumPy int", x8, np.int64(2), expect=equals(None))
add = cases_for("unet.count_parameters")
for label, bad in [("None", None), ("a str", "unet")]:
    add(f"model {label}", bad, expect=error("model"))
add("Linear(3, 2)", nn.Linear(3, 2), expect=equals(8))
frozen = nn.Linear(3, 2)
frozen.weight.requires_grad_(False)
add("frozen weight", frozen, expect=equals(2))

# ==================================================================== profiling

def _tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


x44 = rand(2, 1, 4, 4)
add = cases_for("profiling.time_callable")
for label, bad in [("None", None), ("a str", "model"), ("a tensor", x44)]:
    add(f"fn {label}", bad, expect=error("fn"))
add("args a tensor, not a tuple", torch.sin, x44, expect=error("args"))
add("args None", torch.sin, None, expect=error("args"))
for name, low in (("warmup", 0), ("repeats", 1), ("number", 1)):
    for label, bad in bad_ints(low):
        add(f"{name}={label}", torch.sin, (x44,), **{name: bad}, expect=error(name))
add("device 'gpu'", torch.sin, (x44,), device="gpu", expect=error("device"))
add("device 3", torch.sin, (x44,), device=3, expect=error("device"))
add("sync not callable", torch.sin, (x44,), sync=1, expect=error("sync"))
add("clock a float", torch.sin, (x44,), clock=0.5, expect=error("clock"))
add("3 readings of a fake clock", lambda: None, (), warmup=0, repeats=3,
    clock=Fresh(lambda: iter(range(0, 100, 2)).__next__),
    expect=equals([2.0, 2.0, 2.0], post=lambda t: t.times))
add("repeats a NumPy int", torch.sin, (x44,), warmup=0, repeats=np.int64(2),
    expect=equals(2, post=lambda t: len(t.times)))
add = cases_for("profiling.time_forward")
for label, bad in [("None", None), ("a function", torch.sin)]:
    add(f"model {label}", bad, x44, expect=error("model"))
for label, bad in bad_images(x44, full=True):
    if label not in ("missing batch dim", "5-D"):
        add(f"inputs {label}", Fresh(_tiny_net), bad, expect=error("inputs"))
add("repeats=0", Fresh(_tiny_net), x44, repeats=0, expect=error("repeats"))
add("device 'gpu'", Fresh(_tiny_net), x44, device="gpu", expect=error("device"))
add("channels_last inputs", Fresh(_tiny_net), channels_last(x44), repeats=2,
    expect=equals(2, post=lambda t: len(t.times)))
add = cases_for("profiling.latency_throughput")
add("model None", None, (1, 4, 4), [1], expect=error("model"))
for label, bad in [("2 numbers", (4, 4)), ("a float", (1, 4.0, 4)), ("a 0", (1, 0, 4)),
                   ("a tensor", x44), ("None", None)]:
    add(f"image_shape {label}", Fresh(_tiny_net), bad, [1], expect=error("image_shape"))
for label, bad in [("an int", 4), ("empty", []), ("None", None)]:
    add(f"batch_sizes {label}", Fresh(_tiny_net), (1, 4, 4), bad, expect=error("batch_sizes"))
for label, bad in [("with a 0", [1, 0]), ("with a float", [2.0]), ("with True", [True])]:
    add(f"batch_sizes {label}", Fresh(_tiny_net), (1, 4, 4), bad, expect=error("batch_sizes"))
add("batch sizes 1 and 3", Fresh(_tiny_net), [1, 4, 4], [1, np.int64(3)], repeats=2,
    expect=equals([1, 3], post=lambda rows: [r["batch"] for r in rows]))
add = cases_for("profiling.count_parameters")
for label, bad in [("None", None), ("a state dict", nn.Linear(3, 2).state_dict())]:
    add(f"model {label}", bad, expect=error("model"))
add("trainable_only=1", nn.Linear(3, 2), trainable_only=1, expect=error("trainable_only"))
frozen2 = nn.Linear(3, 2)
frozen2.weight.requires_grad_(False)
add("frozen weight, all counted", frozen2, trainable_only=False, expect=equals(8))
add = cases_for("profiling.count_flops")
add("model None", None, x44, expect=error("model"))
for label, bad in bad_images(x44, full=True):
    if label not in ("missing batch dim", "5-D"):
        add(f"inputs {label}", Fresh(_tiny_net), bad, expect=error("inputs"))
add("Linear(5, 3) on 4 rows", nn.Linear(5, 3), rand(4, 5), expect=equals(2 * 4 * 5 * 3))
add("Conv2d(1, 2, 3) on 2x1x4x4", nn.Conv2d(1, 2, 3, padding=1), x44,
    expect=equals(2 * 2 * 2 * 16 * 9))
add = cases_for("profiling.peak_memory")
add("fn None", None, expect=error("fn"))
add("args an int", torch.sin, 3, device="cpu", expect=error("args"))
add("device 'gpu'", torch.sin, (x44,), device="gpu", expect=error("device"))
add("on the CPU: cannot be measured", torch.sin, (x44,), device="cpu", expect=equals(None))
add = cases_for("profiling.top_operators")
add("fn None", None, expect=error("fn"))
add("args a tensor", torch.sin, x44, expect=error("args"))
for name, low in (("row_limit", 1), ("calls", 1)):
    for label, bad in bad_ints(low):
        add(f"{name}={label}", torch.sin, (x44,), **{name: bad}, expect=error(name))
add("one operator", torch.sin, (x44,), row_limit=1, calls=1,
    expect=equals(["aten::sin"], post=lambda rows: [r["name"] for r in rows]))
add = cases_for("profiling.format_operators")
for label, bad in [("None", None), ("a str", "aten::sin"), ("a list of str", ["aten::sin"])]:
    add(f"rows {label}", bad, expect=error("rows"))
add("width=30", [], width=30, expect=error("width"))
add("no rows: the header, 40 wide", [], width=40, expect=equals(
    (["operator", "calls", "self", "ms", "share"], 40), post=lambda t: (t.split(), len(t))))
add = cases_for("profiling.max_difference")
for label, bad in [("a list", [1.0]), ("None", None)]:
    add(f"output {label}", bad, torch.ones(1), expect=error("output"))
    add(f"reference {label}", torch.ones(1), bad, expect=error("reference"))
add("shapes differ", torch.ones(2), torch.ones(3), expect=error("output"))
add("float16 against float32", torch.tensor([1.0, 2.0]).half(), torch.tensor([1.0, 2.5]),
    expect=equals(0.5))
add("empty", torch.ones(0), torch.ones(0), expect=equals(0.0))
add = cases_for("profiling.onnxruntime_available")
add("a bool", expect=equals(True, post=lambda b: isinstance(b, bool)))
add = cases_for("profiling.make_variant")
add("model None", None, x44, expect=error("model"))
for label, bad in [("a list", x44.tolist()), ("uint8", (x44 * 255).to(torch.uint8))]:
    add(f"example {label}", Fresh(_tiny_net), bad, expect=error("example"))
for label, bad in [("'fast'", "fast"), ("'bf16+fp16'", "bf16+fp16"),
                   ("'onnxruntime+bf16'", "onnxruntime+bf16"), ("None", None),
                   ("'bf16+bf16'", "bf16+bf16")]:
    add(f"variant {label}", Fresh(_tiny_net), x44, bad, expect=error("variant"))
add("device 'gpu'", Fresh(_tiny_net), x44, "eager", device="gpu", expect=error("device"))
add("fp16 on the CPU: not run, with the reason", Fresh(_tiny_net), x44, "fp16",
    expect=equals(True, post=lambda r: r[0] is None and "GPU" in r[2]))
add("channels_last gives eager's numbers", Fresh(_tiny_net), x44, "channels_last",
    expect=equals(True, post=lambda r: bool(torch.allclose(
        r[0](x44), _tiny_net().eval()(x44), atol=1e-5))))
add = cases_for("profiling.compare_variants")
add("model None", None, x44, expect=error("model"))
add("example None", Fresh(_tiny_net), None, expect=error("example"))
add("variants a str", Fresh(_tiny_net), x44, "bf16", expect=error("variants"))
add("variants with a typo", Fresh(_tiny_net), x44, ["channel_last"], expect=error("variant"))
add("repeats=0", Fresh(_tiny_net), x44, ["eager"], repeats=0, expect=error("repeats"))
add("eager first, then the rest", Fresh(_tiny_net), x44, ["bf16", "eager"], repeats=1,
    expect=equals(["eager", "bf16"], post=lambda rows: [r["variant"] for r in rows]))
add = cases_for("profiling.benchmark_results")
for label, bad in [("None", None), ("a path", "../secrets"), ("with .json", "speed.json")]:
    add(f"name {label}", bad, expect=error("name"))
add("classification-cpu", "classification-cpu",
    expect=equals(True, post=lambda d: "MNIST, chapter 3 recipe" in
                  [run["data set"] for run in d["runs"]]))

# ========================================================================== viz

add = cases_for("viz.show_images")
pics = rand(3, 1, 4, 4) * 0.8 + 0.1
pics8 = (pics * 255).to(torch.uint8)                 # 25..230: not the full 0..255 range
for label, bad in [("None", None), ("an empty list", []), ("an empty tensor", pics[:0]),
                   ("an image (2, 4, 4)", [rand(2, 4, 4)])]:
    add(f"images {label}", bad, expect=error("images"))
add("2 labels for 3 images", pics, ["a", "b"], expect=error("labels"))
for label, bad in pick(bad_ints(1), "2.0", "0"):
    add(f"ncols={label}", pics, ncols=bad, expect=error("ncols"))
add("cmap 'nope'", pics, cmap="nope", expect=error("cmap"))
add("uint8 tensor, shown as 0..255", pics8, expect=equals(same_call(pics8.float() / 255),
                                                          post=shown))
add("uint8 NumPy arrays", list(pics8.numpy()), expect=equals(same_call(pics8.float() / 255),
                                                             post=shown))
rgb8 = (rand(2, 3, 4, 4) * 200 + 20).to(torch.uint8)
add("uint8 RGB tensor", rgb8, expect=equals(same_call(rgb8.float() / 255), post=shown))
add("non-contiguous tensor", strided(pics), expect=equals(same_call(pics), post=shown))
add("labels a tensor", pics, torch.tensor([1, 2, 3]), expect=equals(["1", "2", "3"], post=titles))

add = cases_for("viz.show_feature_maps")
maps = randn(3, 4, 4)
for label, bad in [("a list", maps.tolist()), ("2-D", maps[0]),
                   ("4-D with 2 images", maps[None].expand(2, 3, 4, 4)),
                   ("empty (0, 4, 4)", maps[:0])]:
    add(f"maps {label}", bad, expect=error("maps"))
add("ncols=0", maps, ncols=0, expect=error("ncols"))
for label, bad in [("a str", "abc"), ("2 for 3 maps", ["a", "b"]), ("3", 3)]:
    add(f"labels {label}", maps, labels=bad, expect=error("labels"))
add("uint8 maps", maps8 := (rand(3, 4, 4) * 255).to(torch.uint8),
    expect=equals(same_call(maps8.float()), post=shown))
add("(1, C, H, W)", maps[None], expect=equals(same_call(maps), post=shown))

add = cases_for("viz.show_conv_step")
pic, kernel = rand(5, 5), randn(3, 3)
for label, bad in [("a list", pic.tolist()), ("3-D", pic[None].expand(2, 5, 5))]:
    add(f"image {label}", bad, kernel, (0, 0), expect=error("image"))
for label, bad in [("3-D", kernel[None]), ("7x7 on 5x5", randn(7, 7))]:
    add(f"kernel {label}", pic, bad, (0, 0), expect=error("kernel"))
for label, bad in [("(3, 0) outside 3x3", (3, 0)), ("(-1, 0)", (-1, 0)), ("None", None)]:
    add(f"position={label}", pic, kernel, bad, expect=error("position"))
for label, bad in [("-1", -1), ("True", True)]:
    add(f"padding={label}", pic, kernel, (0, 0), padding=bad, expect=error("padding"))
add("position NumPy ints", pic, kernel, (np.int64(1), np.int64(2)),
    expect=equals(same_call(pic, kernel, (1, 2)), post=titles))
add("non-contiguous image", strided(pic), kernel, (1, 1),
    expect=equals(same_call(pic, kernel, (1, 1)), post=titles))

add = cases_for("viz.show_receptive_field")
pic8 = rand(8, 8)
for label, bad in [("a list", pic8.tolist()), ("3-D", pic8[None].expand(2, 8, 8))]:
    add(f"image {label}", bad, stack, (0, 0), expect=error("image"))
for label, bad in [("None", None), ("[(3,)]", [(3,)])]:
    add(f"layers {label}", pic8, bad, (0, 0), expect=error("layers"))
for label, bad in [("(4, 0) outside 4x4", (4, 0)), ("None", None)]:
    add(f"position={label}", pic8, stack, bad, expect=error("position"))
add("position NumPy ints", pic8, stack, (np.int64(1), np.int64(2)),
    expect=equals(same_call(pic8, stack, (1, 2)), post=titles))

add = cases_for("viz.class_colours")
for label, bad in pick(bad_ints(1), "True", "0") + [("12 (beyond the palette)", 12)]:
    add(f"num_classes={label}", bad, expect=error("num_classes"))
add("1 class: black", 1, expect=equals(np.zeros((1, 3))))
add("num_classes a NumPy int", np.int64(3), expect=equals(same_call(3)))

add = cases_for("viz.mask_overlay")
ov_image, ov_mask = rand(6, 6), randint(3, 6, 6)
for label, bad in [("float", ov_mask.float()), ("5x6 for a 6x6 image", ov_mask[:5]),
                   ("value 3 out of range", with_value(ov_mask, 3))]:
    add(f"mask {label}", ov_image, bad, 3, expect=error("mask"))
for label, bad in [("True", True), ("0", 0)]:
    add(f"num_classes={label}", ov_image, ov_mask, bad, expect=error("num_classes"))
for label, bad in pick(bad_numbers(low=0, high=1), "nan", "-1", "2"):
    add(f"alpha={label}", ov_image, ov_mask, 3, alpha=bad, expect=error("alpha"))
add("image a str", "photo.png", ov_mask, 3, expect=error("image"))
for label, mask in int_dtypes(ov_mask)[:1] + [("bool", ov_mask.clamp(max=1).bool())]:
    plain = ov_mask.clamp(max=1) if label == "bool" else ov_mask
    add(f"{label} mask", ov_image, mask, 3, expect=equals(same_call(ov_image, plain, 3)))
add("uint8 mask with 255, ignore_index 255", ov_image, with_value(ov_mask, 255).to(torch.uint8),
    3, ignore_index=255, expect=equals(same_call(ov_image, with_value(ov_mask, 255), 3,
                                                 ignore_index=255)))
ov_rgb8 = (rand(3, 6, 6) * 200 + 20).to(torch.uint8)
add("uint8 RGB image, as 0..255", ov_rgb8, ov_mask, 3,
    expect=equals(same_call(ov_rgb8.float() / 255, ov_mask, 3)))
add("non-contiguous image", strided(ov_image), ov_mask, 3,
    expect=equals(same_call(ov_image, ov_mask, 3)))

# figures with masks: a truth whose last row is unlabelled (255) is compared with the same
# figure of the image without that row: accuracies and IoUs in titles must be the same
names3 = ("background", "a", "b")
fig_images, fig_truth, fig_pred = rand(2, 1, 4, 4), randint(3, 2, 4, 4), randint(3, 2, 4, 4)
fig_ignored = fig_truth.clone()
fig_ignored[:, -1] = 255

add = cases_for("viz.show_segmentation")
for label, bad in [("an empty list", []), ("None", None)]:
    add(f"images {label}", bad, [] if bad == [] else fig_truth, class_names=names3,
        expect=error("images"))
add("1 truth for 2 images", fig_images, fig_truth[:1], class_names=names3,
    expect=error("truths"))
add("1 prediction for 2 images", fig_images, fig_truth, fig_pred[:1], class_names=names3,
    expect=error("predictions"))
add("class_names None", fig_images, fig_truth, expect=error("class_names"))
add("float truths", fig_images, fig_truth.float(), class_names=names3, expect=error("truths"))
add("3 titles for 2 rows", fig_images, fig_truth, class_names=names3, titles=["a", "b", "c"],
    expect=error("titles"))
add("panel=0", fig_images, fig_truth, class_names=names3, panel=0, expect=error("panel"))
add("uint8 masks", fig_images, fig_truth.to(torch.uint8), fig_pred.to(torch.uint8),
    class_names=names3, expect=equals(same_call(fig_images, fig_truth, fig_pred,
                                                class_names=names3), post=shown))
add("uint8 images, as 0..255", fig8 := (fig_images * 255).to(torch.uint8), fig_truth,
    class_names=names3, expect=equals(same_call(fig8.float() / 255, fig_truth,
                                                class_names=names3), post=shown))
add("ignore_index 255: accuracy over labelled pixels", fig_images, fig_ignored, fig_pred,
    class_names=names3, ignore_index=255, expect=equals(same_call(
        fig_images[..., :-1, :], fig_truth[:, :-1], fig_pred[:, :-1], class_names=names3),
        post=titles))

add = cases_for("viz.show_class_errors")
t0, p0 = fig_truth[0], fig_pred[0]
add("shapes (4, 4) and (4, 3)", t0, p0[:, :3], names3, expect=error("prediction", "truth"))
add("float prediction", t0, p0.float(), names3, expect=error("prediction"))
for label, bad in [("[5] (3 classes)", [5]), ("an int", 1)]:
    add(f"classes={label}", t0, p0, names3, classes=bad, expect=error("classes"))
add("truth 255 without ignore_index", fig_ignored[0], p0, names3, expect=error("truth"))
add("ignore_index 255: IoU over labelled pixels", fig_ignored[0], p0, names3, ignore_index=255,
    classes=[1, 2], expect=equals(same_call(t0[:-1], p0[:-1], names3, classes=[1, 2]),
                                  post=titles))
for label, (t, p) in [("uint8", (t0.to(torch.uint8), p0.to(torch.uint8))),
                      ("bool", (t0.clamp(max=1).bool(), p0.clamp(max=1).bool()))]:
    plain = (t0.clamp(max=1), p0.clamp(max=1)) if label == "bool" else (t0, p0)
    add(f"{label} masks", t, p, names3, expect=equals(same_call(*plain, names3), post=titles))

add = cases_for("viz.show_predictions")
add("predictions a tensor", fig_images[0], t0, p0, names3, expect=error("predictions"))
add("fontsize 0", fig_images[0], t0, {"net": p0}, names3, fontsize=0, expect=error("fontsize"))
add("alpha 2", fig_images[0], t0, {"net": p0}, names3, alpha=2, expect=error("alpha"))
add("float truth", fig_images[0], t0.float(), {"net": p0}, names3, expect=error("truth"))
add("prediction (4, 3) for a (4, 4) truth", fig_images[0], t0, {"net": p0[:, :3]}, names3,
    expect=error("predictions"))
add("class_names None", fig_images[0], t0, {"net": p0}, None, expect=error("class_names"))
add("truth 255 without ignore_index", fig_images[0], fig_ignored[0], {"net": p0}, names3,
    expect=error("truth"))
add("ignore_index 255: accuracy and IoU over labelled pixels", fig_images[0], fig_ignored[0],
    {"net": p0}, names3, ignore_index=255, expect=equals(same_call(
        fig_images[0][..., :-1, :], t0[:-1], {"net": p0[:-1]}, names3), post=titles))
add("uint8 masks", fig_images[0], t0.to(torch.uint8), {"net": p0.to(torch.uint8)}, names3,
    expect=equals(same_call(fig_images[0], t0, {"net": p0}, names3), post=titles))
add("uint8 image, as 0..255", fig8[0], t0, {"net": p0}, names3,
    expect=equals(same_call(fig8[0].float() / 255, t0, {"net": p0}, names3), post=shown))

add = cases_for("viz.show_photo_segmentation")
labels44 = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0], [2, 2, 2, 1], [2, 2, 2, 1]])
add("labels float", fig_images[0], labels44.float(), names3, expect=error("labels"))
add("labels (4, 3) for a 4x4 photo", fig_images[0], labels44[:, :3], names3,
    expect=error("labels"))
add("label 3 with 3 names", fig_images[0], labels44 + 1, names3, expect=error("labels"))
add("class_names None", fig_images[0], labels44, None, expect=error("class_names"))
add("photo a str", "photo.jpg", labels44, names3, expect=error("photo"))
add("the legend names the classes found, largest first", fig_images[0], labels44,
    ("__background__", "a", "b"), expect=equals(
        ["background 50.0% (not coloured)", "b 37.5%", "a 12.5%"],
        post=lambda fig: [t.get_text() for t in fig.legends[0].get_texts()]))
add("uint8 labels", fig_images[0], labels44.to(torch.uint8), names3,
    expect=equals(same_call(fig_images[0], labels44, names3), post=shown))

add = cases_for("viz.show_history")
for label, bad in [("[]", []), ("None", None), ("rows without epoch", [{"loss": 1.0}]),
                   ("rows without accuracy", [{"epoch": 1, "loss": 1.0}])]:
    add(f"history {label}", bad, expect=error("history"))
add("two epochs: the loss curve", rows, expect=equals(
    [0.9, 0.5], post=lambda fig: list(fig.axes[0].get_lines()[0].get_ydata())))

add = cases_for("viz.show_confusion_matrix")
names21 = [str(c) for c in range(21)]
labels21, guesses21 = randint(21, 60), randint(21, 60)


def sk_shares(guesses, labels, num_classes):
    """scikit-learn's confusion matrix, each row divided by its sum (0 for an empty row)."""

    def make():
        from sklearn.metrics import confusion_matrix

        counts = confusion_matrix(labels.numpy(), guesses.numpy(), labels=range(num_classes))
        return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

    return Fresh(make)


add("float predicted (scores)", rand(6, 3), cls_labels, names3, expect=error("predicted"))
add("5 predicted for 6 targets", cls_labels[:5], cls_labels, names3,
    expect=error("predicted", "target"))
add("a class beyond class_names", with_value(cls_labels, 3), cls_labels, names3,
    expect=error("predicted"))
add("class_names None", cls_labels, cls_labels, None, expect=error("class_names"))
add("normalize='no'", cls_labels, cls_labels, names3, normalize="no", expect=error("normalize"))
for label, (p, t) in [("uint8", (guesses21.to(torch.uint8), labels21.to(torch.uint8))),
                      ("NumPy uint8", (guesses21.to(torch.uint8).numpy(),
                                       labels21.to(torch.uint8).numpy())),
                      ("lists", (guesses21.tolist(), labels21.tolist()))]:
    add(f"{label} labels, 21 classes", p, t, names21,
        expect=equals(sk_shares(guesses21, labels21, 21), post=first_matrix))
add("bool labels, 2 classes", btarget.flatten().flip(0).bool(), btarget.flatten().bool(),
    ["no", "yes"], expect=equals(sk_shares(btarget.flatten().flip(0), btarget.flatten(), 2),
                                 post=first_matrix))

add = cases_for("viz.show_misclassified")
mis_images = rand(6, 1, 4, 4) * 0.8 + 0.1
mis_pred = (cls_labels + 1) % 3                       # every one wrong
for label, bad in bad_ints(1):
    add(f"n={label}", mis_images, mis_pred, cls_labels, names3, n=bad, expect=error("n"))
add("ncols=0", mis_images, mis_pred, cls_labels, names3, ncols=0, expect=error("ncols"))
add("float predicted", mis_images, mis_pred.float(), cls_labels, names3,
    expect=error("predicted"))
add("5 predicted for 6 targets", mis_images, mis_pred[:5], cls_labels, names3,
    expect=error("predicted", "target"))
add("every prediction right", mis_images, cls_labels, cls_labels, names3,
    expect=error("predicted"))
add("uint8 images, as 0..255", mis8 := (mis_images * 255).to(torch.uint8), mis_pred, cls_labels,
    names3, expect=equals(same_call(mis8.float() / 255, mis_pred, cls_labels, names3),
                          post=shown))
add("uint8 labels", mis_images, mis_pred.to(torch.uint8), cls_labels.to(torch.uint8), names3,
    expect=equals(same_call(mis_images, mis_pred, cls_labels, names3), post=titles))

# ====================================================================== widgets

add = cases_for("widgets.named_kernel")
for label, bad in [("'blur'", "blur"), ("None", None)]:
    add(f"name={label}", bad, expect=error("name", "kernel"))
sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
add("'Sobel_X'", "Sobel_X", expect=equals(sobel_x))
add = cases_for("widgets.parse_kernel")
for label, bad in [("3 numbers", "1 2 3"), ("words", "a b c d e f g h i"), ("None", None),
                   ("a NaN", "1 1 1 1 nan 1 1 1 1")]:
    add(f"text {label}", bad, expect=error("text", "kernel"))
add("commas and semicolons", "-1,0,1; -2,0,2; -1,0,1", expect=equals(sobel_x))
add = cases_for("widgets.sample_image")
for label, bad in [("'dog'", "dog"), ("None", None)]:
    add(f"name={label}", bad, expect=error("name", "image"))
for label, bad in pick(bad_ints(3), "4.0", "2") + [("(28,)", (28,))]:
    add(f"size={label}", "square", bad, expect=error("size"))
add("size a NumPy int", "checkerboard", np.int64(14), expect=equals(same_call("checkerboard", 14)))
add("'Gradient', (3, 5)", "Gradient", (3, 5), expect=equals(
    torch.tensor([0, 0.25, 0.5, 0.75, 1.0]).expand(3, 5)))


def draw_nothing(i):
    return None


def new_figure():
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(1, 1))


add = cases_for("widgets.replay_html")
add("fig None", None, draw_nothing, 2, "c", expect=error("fig"))
add("draw None", Fresh(new_figure), None, 2, "c", expect=error("draw"))
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"n_frames={label}", Fresh(new_figure), draw_nothing, bad, "c", expect=error("n_frames"))
add("one frame", Fresh(new_figure), draw_nothing, 1, "a caption",
    expect=equals(True, post=lambda html: "coursekit-replay" in html and "a caption" in html))
for label, bad in [("1", 1), ("257", 257), ("True", True), ("8.0", 8.0), ("'256'", "256")]:
    add(f"colours={label}", Fresh(new_figure), draw_nothing, 1, "c", colours=bad,
        expect=error("colours"))
add("colours a NumPy int: palette frames", Fresh(new_figure), draw_nothing, 2, "c",
    colours=np.int64(16), expect=equals([2], post=lambda html: [
        int(n) for n in re.findall(r"var frames = new Array\((\d+)\)", html)]))

user_image = rand(7, 7)
bad_user_images = [("a list", user_image.tolist()), ("2x2", user_image[:2, :2]),
                   ("2 channels", user_image[None].expand(2, 7, 7))]
for name in ("ConvExplorer", "conv_explorer"):     # the class, and the function making one
    add = cases_for(f"widgets.{name}")
    for label, bad in bad_user_images if name == "ConvExplorer" else bad_user_images[:1]:
        add(f"image {label}", bad, expect=error("image"))
    add("kernel='blur'", user_image, "blur", expect=error("kernel"))
    add("image (1, 1, H, W)", user_image[None, None], expect=equals(
        F.conv2d(user_image[None, None], sobel_x[None, None])[0, 0],
        post=lambda explorer: explorer.feature_map))
add = cases_for("widgets.ConvExplorer.replay", obj=Call("widgets.ConvExplorer", user_image))
for label, bad in pick(bad_ints(1), "True", "0"):
    add(f"n_frames={label}", bad, expect=error("n_frames"))
add("2 frames", 2, expect=equals(True, post=lambda html: "coursekit-replay" in html))

add = cases_for("widgets.layer_stack")
for label, bad in bad_ints(0):
    add(f"convs_per_block={label}", bad, 1, expect=error("convs_per_block"))
add("poolings=-1", 2, -1, expect=error("poolings"))
add("2 convs, 1 pooling", 2, 1, expect=equals([(3, 1, 1), (3, 1, 1), (2, 2, 0)]))
add("NumPy ints", np.int64(1), np.int64(0), expect=equals([(3, 1, 1)]))
add = cases_for("widgets.describe_stack")
for label, bad in [("None", None), ("an int", 5), ("a layer of 4 numbers", [(3, 1, 1, 1)])]:
    add(f"layers {label}", bad, expect=error("layers"))
add("(kernel_size, stride) pairs, as conv takes", [(3, 1)], expect=equals("conv3x3"))
add("conv and pool", [(3, 1, 1), (2, 2, 0)], expect=equals("conv3x3 pool2x2"))
add("no layers", [], expect=equals("no layers"))

for name in ("ReceptiveFieldViewer", "receptive_field_viewer"):
    add = cases_for(f"widgets.{name}")
    for label, bad in bad_user_images if name == "ReceptiveFieldViewer" else bad_user_images[:1]:
        add(f"image {label}", bad, expect=error("image"))
    add("image (1, H, W)", user_image[None], expect=equals(
        same_call(user_image), post=lambda viewer: (viewer.layers, viewer.position,
                                                    viewer.region)))
add = cases_for("widgets.ReceptiveFieldViewer.replay",
                obj=Call("widgets.ReceptiveFieldViewer", rand(12, 12)))
add("the replay", expect=equals(True, post=lambda html: "coursekit-table" in html))

# chapters 6 and 7: the loss, threshold and overlap explorers


def frame_counts(html):
    """The number of frames of each replay in an HTML page, in order."""
    return [int(n) for n in re.findall(r"var frames = new Array\((\d+)\)", html)]


add = cases_for("widgets.loss_values")
for label, bad in bad_numbers(low=0, high=1, open_low=True, full=True) + [("1.0", 1.0)]:
    add(f"p_object={label}", bad, 0.1, expect=error("p_object"))
for label, bad in pick(bad_numbers(low=0, high=1, open_low=True), "True", "nan", "0"):
    add(f"p_background={label}", 0.5, bad, expect=error("p_background"))
for label, bad in bad_ints(1, full=True):
    add(f"object_pixels={label}", 0.5, 0.1, bad, expect=error("object_pixels"))
add("total_pixels = object_pixels (no background)", 0.5, 0.1, 4, 4,
    expect=error("total_pixels"))
add("total_pixels=32.0", 0.5, 0.1, 4, 32.0, expect=error("total_pixels"))
add("p 0.5 everywhere: BCE is log 2", 0.5, 0.5, expect=equals(math.log(2),
                                                             post=lambda v: v["bce"]))
add("soft Dice by its formula", 0.5, 0.1, 4, 32,   # 1 - (2 tp + 1) / (sum p + sum y + 1)
    expect=equals(1 - 5 / 9.8, post=lambda v: v["dice"]))
add("NumPy numbers", np.float32(0.25), np.float64(0.1), np.int64(4), np.int32(32),
    expect=equals(same_call(0.25, 0.1, 4, 32)))
add = cases_for("widgets.loss_gradients")
add("p_object=1.0", 1.0, 0.1, expect=error("p_object"))
add("p_background=nan", 0.5, math.nan, expect=error("p_background"))
add("object_pixels=0", 0.5, 0.1, 0, expect=error("object_pixels"))
add("BCE: sum of (p - y) / N over each group", 0.5, 0.5, 4, 32,
    expect=equals({"object": 4 * 0.5 / 32, "background": 28 * 0.5 / 32},
                  post=lambda g: g["bce"]))
add("NumPy numbers", np.float64(0.3), 0.1, np.int64(2), np.int64(10),
    expect=equals(same_call(0.3, 0.1, 2, 10)))
add = cases_for("widgets.object_strip")
for label, bad in bad_ints(1):
    add(f"object_pixels={label}", bad, 8, expect=error("object_pixels"))
add("total_pixels=3 for 3 object pixels", 3, 3, expect=error("total_pixels"))
add("2 of 6", 2, 6, expect=equals(torch.tensor([0, 0, 1, 1, 0, 0])))
add("NumPy ints", np.int64(1), np.int64(3), expect=equals(torch.tensor([0, 1, 0])))
add = cases_for("widgets.draw_losses")
add("p_object=0", 0, 0.1, expect=error("p_object"))
add("total_pixels=True", 0.5, 0.1, 1, True, expect=error("total_pixels"))
add("the title names the strip", 0.3, 0.1, 4, 32,
    expect=equals(True, post=lambda fig: "4 object pixels of 32" in titles(fig)[0]))
add = cases_for("widgets.LossExplorer")
add("object_pixels=0", 0, expect=error("object_pixels"))
add("total_pixels=4.0", 4, 4.0, expect=error("total_pixels"))
add("p_object=0.001 (below the slider)", p_object=0.001, expect=error("p_object"))
add("p_background=1", p_background=1, expect=error("p_background"))
add("NumPy ints", np.int64(2), np.int64(10), expect=equals(same_call(2, 10),
                                                           post=lambda e: e.values))
add("its values", 2, 10, p_object=0.5, p_background=0.5,
    expect=equals(math.log(2), post=lambda e: e.values["bce"]))
add = cases_for("widgets.LossExplorer.replay", obj=Call("widgets.LossExplorer", 1, 6))
add("two sweeps", expect=equals([9, 5], post=frame_counts))

_T = torch.Generator().manual_seed(77)       # its own generator: later cases keep their inputs
thr_truth = (torch.rand(6, 5, generator=_T) < 0.4).long()
thr_truth[0, 0] = 1
thr_prob = 0.4 * thr_truth + 0.6 * torch.rand(6, 5, generator=_T)
SCORES = ("precision", "recall", "f1", "iou", "accuracy")


def sk_threshold(probabilities, truth, threshold):
    """scikit-learn's precision, recall, F1, IoU (Jaccard) and accuracy of p >= threshold."""

    def make():
        from sklearn import metrics as sk

        y = truth.flatten().numpy()
        p = (probabilities.flatten() >= threshold).long().numpy()
        return [sk.precision_score(y, p, zero_division=0), sk.recall_score(y, p),
                sk.f1_score(y, p), sk.jaccard_score(y, p), sk.accuracy_score(y, p)]

    return Fresh(make)


def five_scores(scores):
    return [scores[k] for k in SCORES]


add = cases_for("widgets.threshold_scores")
for label, bad in bad_images(thr_prob, batched=False, full=True):
    add(f"probabilities {label}", bad, thr_truth, 0.5, expect=error("probabilities"))
add("probabilities in 0..2", thr_prob * 2, thr_truth, 0.5, expect=error("probabilities"))
add("a NaN probability", with_value(thr_prob, math.nan), thr_truth, 0.5,
    expect=error("probabilities"))
add("truth float", thr_prob, thr_truth.float(), 0.5, expect=error("truth"))
add("truth a list", thr_prob, thr_truth.tolist(), 0.5, expect=error("truth"))
add("truth with a 2", thr_prob, with_value(thr_truth, 2), 0.5, expect=error("truth"))
add("truth (5, 5) for (6, 5)", thr_prob, thr_truth[:5], 0.5, expect=error("truth"))
for label, bad in bad_numbers(low=0, high=1, full=True):
    add(f"threshold={label}", thr_prob, thr_truth, bad, expect=error("threshold"))
for label, truth in [("int64", thr_truth)] + int_dtypes(thr_truth):
    add(f"{label} truth, against scikit-learn", thr_prob, truth, 0.5,
        expect=equals(sk_threshold(thr_prob, thr_truth, 0.5), post=five_scores))
add("threshold 0: every pixel predicted", thr_prob, thr_truth, 0,
    expect=equals(sk_threshold(thr_prob, thr_truth, 0.0), post=five_scores))
add("threshold 1: nothing predicted", thr_prob, thr_truth, 1,
    expect=equals(sk_threshold(thr_prob, thr_truth, 1.0), post=five_scores))
add("threshold a NumPy float", thr_prob, thr_truth, np.float32(0.5),
    expect=equals(same_call(thr_prob, thr_truth, 0.5)))
add("float64, non-contiguous probabilities", strided(thr_prob.double()), thr_truth, 0.5,
    expect=equals(same_call(thr_prob, thr_truth, 0.5)))
add("a batch (N, H, W)", thr_prob[None], thr_truth[None], 0.5,
    expect=equals(same_call(thr_prob, thr_truth, 0.5)))

add = cases_for("widgets.ThresholdExplorer")
add("probabilities (1, H, W)", thr_prob[None], thr_truth[None], expect=error("probabilities"))
add("probabilities uint8", (thr_prob * 255).to(torch.uint8), thr_truth,
    expect=error("probabilities"))
add("truth None", thr_prob, None, expect=error("truth"))
add("truth without a 1", thr_prob, thr_truth * 0, expect=error("truth"))
add("truth float", thr_prob, thr_truth.float(), expect=error("truth"))
add("image 5x5 for 6x5", thr_prob, thr_truth, torch.zeros(5, 5), expect=error("image"))
add("threshold=2", thr_prob, thr_truth, threshold=2, expect=error("threshold"))
add("uint8 truth, image (3, H, W)", thr_prob, thr_truth.to(torch.uint8), torch.zeros(3, 6, 5),
    expect=equals(sk_threshold(thr_prob, thr_truth, 0.5),
                  post=lambda e: five_scores(e.scores)))
add("no arguments: the example", expect=equals((48, 48),
                                               post=lambda e: tuple(e.probabilities.shape)))
thresholder = Call("widgets.ThresholdExplorer", thr_prob, thr_truth)
add = cases_for("widgets.ThresholdExplorer.draw", obj=thresholder)
for label, bad in bad_numbers(low=0, high=1, full=True):
    add(f"threshold={label}", bad, expect=error("threshold"))
add("threshold a NumPy float", np.float64(0.5), expect=equals(same_call(0.5), post=titles))
add = cases_for("widgets.ThresholdExplorer.replay", obj=thresholder)
add("9 thresholds", expect=equals([9], post=frame_counts))

ovl_truth, ovl_pred = torch.zeros(6, 6, dtype=torch.int64), torch.zeros(6, 6, dtype=torch.int64)
ovl_truth[1:4, 1:4], ovl_pred[2:5, 2:6] = 1, 1     # 9 and 12 pixels, 4 in both, 17 in either


def sk_overlap(truth, prediction):
    """scikit-learn's Jaccard and F1 (Dice) of two 0/1 masks."""

    def make():
        from sklearn import metrics as sk

        y, p = truth.flatten().numpy(), prediction.flatten().numpy()
        return [sk.jaccard_score(y, p), sk.f1_score(y, p)]

    return Fresh(make)


def iou_dice(scores):
    return [scores["iou"], scores["dice"]]


add = cases_for("widgets.overlap_scores")
for label, bad in bad_indices(ovl_truth, 2, full=True):
    add(f"truth {label}", bad, ovl_pred, expect=error("truth"))
    add(f"prediction {label}", ovl_truth, bad, expect=error("prediction"))
add("prediction (5, 6) for (6, 6)", ovl_truth, ovl_pred[:5], expect=error("prediction"))
add("by hand: 4 of 17", ovl_truth, ovl_pred, expect=equals(
    {"iou": 4 / 17, "dice": 8 / 21, "intersection": 4, "union": 17, "truth": 9,
     "prediction": 12}))
for label, truth in int_dtypes(ovl_truth, full=True):
    add(f"{label} masks, against scikit-learn", truth, ovl_pred.to(truth.dtype),
        expect=equals(sk_overlap(ovl_truth, ovl_pred), post=iou_dice))
add("non-contiguous masks", strided(ovl_truth), strided(ovl_pred),
    expect=equals(same_call(ovl_truth, ovl_pred)))
add("a batch (N, H, W)", ovl_truth[None], ovl_pred[None],
    expect=equals(same_call(ovl_truth, ovl_pred)))
add("two empty masks: nothing to measure", ovl_truth * 0, ovl_pred * 0,
    expect=equals([math.nan, math.nan], post=iou_dice))

add = cases_for("widgets.overlap_masks")
for name in ("dx", "dy"):
    for label, bad in [("1.5", 1.5), ("True", True), ("100 (past the grid)", 100), ("None", None)]:
        add(f"{name}={label}", **{name: bad}, expect=error(name))
for label, bad in pick(bad_ints(1), "True", "2.0", "0") + [("41 (past the grid)", 41)]:
    add(f"size={label}", size=bad, expect=error("size"))
for label, bad in [("'circle'", "circle"), ("None", None)]:
    add(f"shape={label}", shape=bad, expect=error("shape"))
for label, bad in pick(bad_ints(2), "True", "3.0", "1"):
    add(f"grid={label}", grid=bad, expect=error("grid"))
add("truth_size=50 on a grid of 40", truth_size=50, expect=error("truth_size"))
add("shifted by 2: half of a 4x4 square", dx=2, size=4, grid=8, truth_size=4,
    expect=equals((16, 8), post=lambda m: (int(m[0].sum()), int((m[0] & m[1]).sum()))))
add("NumPy ints", np.int64(3), np.int32(-1), np.int64(5), "disc", np.int64(12), np.int64(6),
    expect=equals(same_call(3, -1, 5, "disc", 12, 6)))

add = cases_for("widgets.OverlapExplorer")
for label, bad in pick(bad_ints(4), "True", "5.0", "3"):
    add(f"grid={label}", bad, expect=error("grid"))
add("truth_size=0", 16, 0, expect=error("truth_size"))
add("truth_size=17 on a grid of 16", 16, 17, expect=error("truth_size"))
add("NumPy ints", np.int64(16), np.int64(8),
    expect=equals(same_call(16, 8), post=lambda e: e.scores))
overlapper = Call("widgets.OverlapExplorer", 16, 8)
add = cases_for("widgets.OverlapExplorer.draw", obj=overlapper)
add("dx=1.5", 1.5, 0, 8, expect=error("dx"))
add("size=0", 0, 0, 0, expect=error("size"))
add("shape='circle'", 0, 0, 8, "circle", expect=error("shape"))
add("half of the square: IoU 1/3", -4, 0, 8, expect=equals(
    True, post=lambda fig: "IoU 32/96 = 0.33" in titles(fig)[1]))
add = cases_for("widgets.OverlapExplorer.replay", obj=overlapper)
add("slide, then resize", expect=equals([9], post=frame_counts))

add = cases_for("widgets.stream_budget")
for label, bad in bad_numbers(low=0, open_low=True, full=True):
    add(f"latency_ms={label}", bad, 30, 1, expect=error("latency_ms"))
    add(f"fps={label}", 10.0, bad, 1, expect=error("fps"))
for label, bad in bad_ints(1, full=True):
    add(f"batch={label}", 10.0, 30, bad, expect=error("batch"))
add("25 fps, batch 2, 20 ms", 20.0, 25, 2, expect=equals(
    {"interval_ms": 40.0, "load": 0.25, "keeps_up": True, "delay_ms": 60.0}))
add("too slow: 50 ms at 30 fps", 50.0, 30, 1, expect=equals(False, post=lambda b: b["keeps_up"]))
add("NumPy numbers", np.float32(20.0), np.int64(25), np.int64(2),
    expect=equals(same_call(20.0, 25, 2)))
stream_curves = {"a": [{"batch": 1, "latency_ms": 5.0}, {"batch": 4, "latency_ms": 8.0}],
                 "b": [{"batch": 1, "latency_ms": 50.0}, {"batch": 4, "latency_ms": 150.0}]}
add = cases_for("widgets.StreamBudgetExplorer")
for label, bad in [("None", None), ("empty", {}), ("a list", [1, 2])]:
    add(f"curves {label}", bad, expect=error("curves"))
add("curves of numbers", {"a": [1.0, 2.0]}, expect=error("curves"))
add("no batch size in common", {"a": [{"batch": 1, "latency_ms": 1.0}],
                                "b": [{"batch": 2, "latency_ms": 1.0}]}, expect=error("curves"))
add("two models", stream_curves, expect=equals([1, 4], post=lambda e: e.batches))
streamer = Call("widgets.StreamBudgetExplorer", stream_curves)
add = cases_for("widgets.StreamBudgetExplorer.budgets", obj=streamer)
add("batch 2, not measured", 30, 2, expect=error("batch"))
add("fps=0", 0, 1, expect=error("fps"))
add("30 fps, batch 4", 30, 4, expect=equals([True, False],
    post=lambda b: [b["a"]["keeps_up"], b["b"]["keeps_up"]]))
add = cases_for("widgets.StreamBudgetExplorer.draw", obj=streamer)
add("batch 3, not measured", 30, 3, expect=error("batch"))
add("30 fps, batch 1: one of two keeps up", 30, 1, expect=equals(
    True, post=lambda fig: "1 of 2 models keep up" in fig._suptitle.get_text()))
add = cases_for("widgets.StreamBudgetExplorer.replay", obj=streamer)
add("one frame per batch size", expect=equals([2], post=frame_counts))

# =========================================================== prediction_browser

def make_frames():
    Frame = resolve("prediction_browser.Frame")
    return [Frame(fig_images[i], fig_truth[i], {"net": fig_pred[i]}, f"frame {i}")
            for i in range(2)]


cases_for("prediction_browser.Frame")("a record", fig_images[0], t0, {"net": p0}, "f",
                                      expect=equals("f", post=lambda frame: frame.title))
add = cases_for("prediction_browser.PredictionBrowser")
for label, bad in [("[]", []), ("None", None), ("[1, 2]", [1, 2]), ("5", 5)]:
    add(f"frames {label}", bad, names3, expect=error("frames"))
add("class_names None", Fresh(make_frames), None, expect=error("class_names"))
for key, bad in [("panel", 0), ("fontsize", -1), ("alpha", 1.5), ("alpha", "1")]:
    add(f"{key}={bad!r}", Fresh(make_frames), names3, **{key: bad}, expect=error(key))
browser = Call("prediction_browser.PredictionBrowser", Fresh(make_frames), names3)
add = cases_for("prediction_browser.PredictionBrowser.draw", obj=browser)
for label, bad in [("5 (2 frames)", 5), ("True", True), ("1.0", 1.0), ("a str", "0")]:
    add(f"index={label}", bad, expect=error("index"))
add("index a NumPy int", np.int64(1), expect=equals(same_call(1), post=titles))
add = cases_for("prediction_browser.PredictionBrowser.replay", obj=browser)
add("two frames", expect=equals(True, post=lambda html: "coursekit-replay" in html))

# ====================================================================== grading (light)

cases_for("grading.describe")("a tensor and a keyword", "f", torch.zeros(2, 3), k=1,
                              expect=equals("f(a tensor of shape (2, 3), k=1)"))
cases_for("grading.call")("an answer", lambda a: a + 1, "f", 1, expect=equals(2))
cases_for("grading.expect_equal")("equal ints", 3, 3, "x", expect=equals(None))
cases_for("grading.expect_tensor")("equal tensors", torch.ones(2), torch.ones(2), "x",
                                   expect=equals(None))


def refused_inside(context):
    with context:
        try:
            torch.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 1, 1))
        except AssertionError as refusal:
            return type(refusal).__name__
    return "allowed"


cases_for("grading.forbidden")("conv2d", "conv2d",
                               expect=equals("ForbiddenCall", post=refused_inside))
cases_for("grading.expect_result")("a right answer", lambda a: a + 1, "f", {"a": 1}, 2,
                                   expect=equals(None))
cases_for("grading.Probe")("no arguments", expect=equals(False, post=lambda probe: bool(
    probe.grad_seen)))
add = cases_for("grading.Probe.forward", obj=Call("grading.Probe"))
add("a tensor outside the graph", torch.ones(2), expect=equals(torch.ones(2)))
add("a tensor in the graph", torch.ones(2, requires_grad=True),
    expect=equals(torch.ones(2), post=lambda out: out.detach()))

_ids = [case.id for case in CASES]
assert len(_ids) == len(set(_ids)), "duplicate case ids"

# ===================================================================== running one case

CLEAR, DEEP, SILENT, RIGHT, HANG, BROKEN = ("clear error", "deep error", "silent wrong",
                                            "handled right", "hang", "broken case")
CATEGORIES = (CLEAR, DEEP, SILENT, RIGHT, HANG, BROKEN)


@dataclass
class Outcome:
    category: str
    passed: bool
    detail: str = ""


class _Broken(Exception):
    """The table itself failed (a Fresh value or a reference), not coursekit."""


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException, so that ``except Exception`` lets it through."""


def resolve(path: str):
    """``"viz.show_images"`` -> the object ``coursekit.viz.show_images``."""
    module, *names = path.split(".")
    obj = importlib.import_module(f"coursekit.{module}")
    for name in names:
        obj = getattr(obj, name)
    return obj


def _value(value):
    if isinstance(value, Fresh):
        try:
            return value.make()
        except Exception as failure:
            raise _Broken(f"making an input failed: {type(failure).__name__}: {failure}") from None
    if isinstance(value, Call):
        result = resolve(value.target)(*[_value(a) for a in value.args],
                                       **{k: _value(v) for k, v in value.kwargs.items()})
        return value.after(result) if value.after is not None else result
    return value


def _call(case, args, kwargs, build):
    """(object or None, result) of calling the case's callable."""
    torch.manual_seed(0)
    if build is not None:
        args, kwargs = build(resolve)
    args = [_value(a) for a in args]
    kwargs = {k: _value(v) for k, v in kwargs.items()}
    if case.obj is not None:
        obj = _value(case.obj)
        method = case.target.rsplit(".", 1)[1]
        function = obj if method in ("forward", "__call__") else getattr(obj, method)
        return obj, function(*args, **kwargs)
    return None, resolve(case.target)(*args, **kwargs)


def _raise_site(failure) -> tuple[str, int, str]:
    tb = failure.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    return filename, tb.tb_lineno, linecache.getline(filename, tb.tb_lineno).strip()


def names_argument(message: str, names) -> bool:
    """Whether ``message`` names one of ``names``: "name: expected ..." (the text before
    the first colon holds the name, e.g. "images[0]", "tile, overlap"), or starts with it."""
    head = message.split(":", 1)[0] if ":" in message else ""
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", head)) if len(head) <= 60 else set()
    return any(name in tokens or re.match(rf"{re.escape(name)}\b", message) for name in names)


def _short(value, limit=160) -> str:
    text = repr(value) if not isinstance(value, torch.Tensor) else (
        f"tensor{tuple(value.shape)} {str(value.dtype).removeprefix('torch.')} "
        f"{value.flatten()[:6].tolist()}")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _classify_failure(failure, expect, kit_dir: Path) -> Outcome:
    filename, line, text = _raise_site(failure)
    inside = Path(filename).resolve().is_relative_to(kit_dir) and text.startswith("raise")
    where = f"{Path(filename).name}:{line}"
    message = str(failure).split("\n")[0]
    detail = f"{type(failure).__name__}: {message[:200]} (at {where})"
    kinds = {c.__name__ for c in type(failure).__mro__}
    if isinstance(expect, Either):
        errors = [o for o in expect.options if isinstance(o, Error)]
        expect = errors[0] if errors else expect.options[0]
    if isinstance(expect, Error):
        data = expect.data_missing and "DataNotFoundError" in kinds
        type_ok = bool(kinds & {"TypeError", "ValueError", *expect.also}) or data
        named = data or (all(re.search(p, str(failure)) for p in expect.says) if expect.says
                         else names_argument(message, expect.names))
        if type_ok and named and inside:
            return Outcome(CLEAR, True, detail)
        why = ("not raised by coursekit's own code" if not inside
               else "wrong exception type" if not type_ok
               else f"the message does not say {' and '.join(expect.says)}" if expect.says
               else "the message does not name " + " or ".join(expect.names))
        return Outcome(DEEP, False, f"{why}: {detail}")
    if kinds & {"TypeError", "ValueError"} and inside:
        return Outcome(CLEAR, False, f"refused an input it should accept: {detail}")
    return Outcome(DEEP, False, f"failed on an input it should accept: {detail}")


def same(got, want, atol=1e-5, rtol=1e-4) -> bool:
    """Equal within tolerance: tensors and arrays by value (NaN equals NaN), numbers,
    sequences and dicts element by element, anything else by ==."""
    if isinstance(got, torch.Tensor | np.ndarray) or isinstance(want, torch.Tensor | np.ndarray):
        try:
            a = (got.detach().cpu().double().numpy() if isinstance(got, torch.Tensor)
                 else np.asarray(got, dtype=float))
            b = (want.detach().cpu().double().numpy() if isinstance(want, torch.Tensor)
                 else np.asarray(want, dtype=float))
        except (TypeError, ValueError):
            return False
        return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol,
                                                       equal_nan=True))
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, int | float) and isinstance(got, int | float):
        if math.isnan(want) or math.isnan(got):
            return math.isnan(want) and math.isnan(got)
        return math.isclose(got, want, rel_tol=rtol, abs_tol=atol)
    if isinstance(want, dict):
        return (isinstance(got, dict) and set(got) == set(want)
                and all(same(got[k], want[k], atol, rtol) for k in want))
    if isinstance(want, list | tuple) and not isinstance(want, str):
        return (isinstance(got, list | tuple) and len(got) == len(want)
                and all(same(g, w, atol, rtol) for g, w in zip(got, want, strict=True)))
    return got == want


@contextlib.contextmanager
def _environment(env):
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _alarm(seconds):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _reference(case, expect: Equals):
    """The value a case must return; a same_call reference runs the case's callable."""
    reference = expect.reference
    if isinstance(reference, SameCall):
        obj, result = _call(case, reference.args, reference.kwargs, reference.build)
        if expect.post is None:
            return result
        return expect.post(obj if expect.of_object else result)
    try:
        return _value(reference)
    except Exception as failure:
        raise _Broken(f"the reference failed: {type(failure).__name__}: {failure}") from None


def run_case(case: Case, timeout: float | None = None) -> Outcome:
    """Run one case (quietly, with a time limit) and classify what happened."""
    import coursekit

    kit_dir = Path(coursekit.__file__).resolve().parent
    expect = case.expect
    equal = (expect if isinstance(expect, Equals) else next(
        (o for o in getattr(expect, "options", ()) if isinstance(o, Equals)), None))
    quiet = io.StringIO()
    try:
        with _environment(case.env), _alarm(timeout), warnings.catch_warnings(), \
                contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            try:
                want = _reference(case, equal) if equal is not None else None
            except _Broken as broken:
                return Outcome(BROKEN, False, str(broken))
            except Exception as failure:
                outcome = _classify_failure(failure, equal, kit_dir)
                return Outcome(outcome.category, False, "the reference call (same call on plain "
                               f"inputs) failed: {outcome.detail}")
            try:
                obj, result = _call(case, case.args, case.kwargs, case.build)
            except _Broken as broken:
                return Outcome(BROKEN, False, str(broken))
            except Exception as failure:
                return _classify_failure(failure, expect, kit_dir)
            if equal is None:
                return Outcome(SILENT, False, f"returned {_short(result)} instead of an error")
            try:
                got = result if equal.post is None else equal.post(
                    obj if equal.of_object else result)
            except Exception as failure:   # e.g. a transform built fine that then fails
                outcome = _classify_failure(failure, equal, kit_dir)
                return Outcome(outcome.category, False, f"using the result: {outcome.detail}")
            if same(got, want, equal.atol, equal.rtol):
                return Outcome(RIGHT, True)
            return Outcome(SILENT, False, f"returned {_short(got)}, expected {_short(want)}")
    except _Timeout:
        return Outcome(HANG, False, f"no answer within {timeout} s")
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def warm_up() -> dict:
    """Import what the cases use (so that no case pays for a first import), make the
    checkpoint folder; returns {module: error text} for coursekit modules that fail to import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sklearn.metrics  # noqa: F401
    import torchmetrics.functional.classification  # noqa: F401
    import torchvision.models  # noqa: F401

    plt.close(plt.figure())
    CHECKPOINTS.mkdir(parents=True, exist_ok=True)
    atexit.register(shutil.rmtree, CHECKPOINTS, ignore_errors=True)
    failures = {}
    for module in MODULES:
        try:
            importlib.import_module(f"coursekit.{module}")
        except Exception as failure:
            failures[module] = f"{type(failure).__name__}: {failure}"
    return failures
