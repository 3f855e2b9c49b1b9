"""What the tests in a master notebook import: one-sentence checks of a student's answer.

A test fails by raising AssertionError with one plain sentence; ``grader.check`` shows it to
the student, and the instructor's grader writes it in the notes (for a public test; a hidden
test is named by its title only). The same helpers run in two places:

- in the student's notebook (public checks): the answer is a local function;
- in the instructor's grader: the answer lives in the submission's sandboxed process and is
  reached through ``coursekit.grading.remote`` proxies, while these checks, the inputs and
  the expected values stay in the grader's own process. ``forbidden`` and
  ``computed_by_hand`` then act in the submission's process, around each call of its answer.
"""

import contextlib
import time

import torch

from coursekit.grading import fakes, remote
from coursekit.grading.failures import NOT_ANSWERED, ForbiddenCall
from coursekit.grading.fakes import Probe
from coursekit.grading.guards import refusing, watching

__all__ = ["NOT_ANSWERED", "OWN_IMPLEMENTATIONS", "ForbiddenCall", "Probe", "call",
           "computed_by_hand", "cpu_seconds", "describe", "expect_equal", "expect_result",
           "expect_tensor", "fake", "forbidden", "watching"]


def _argument_text(key, value):
    """One argument of ``describe``: tensors by their shape, anything else by its repr."""
    if isinstance(value, torch.Tensor):
        return f"{key or 'a tensor'} of shape {tuple(value.shape)}"
    return f"{key}={value!r}" if key else repr(value)


def describe(name, *args, **kwargs):
    """A short text for a call, tensors shown by their shape.

    >>> describe("conv2d_loops", x=torch.zeros(1, 1, 4, 4), padding=1)
    'conv2d_loops(x of shape (1, 1, 4, 4), padding=1)'
    """
    parts = [_argument_text(None, value) for value in args]
    parts += [_argument_text(key, value) for key, value in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def call(function, name, *args, **kwargs):
    """Call a student's ``function(*args, **kwargs)`` and return its result.

    ``name`` is the function's name in the notebook (``function`` is None when it is not
    defined). An untouched stub (body ``...``, so it returns None) fails with "not answered
    yet"; an exception inside the answer fails with one line naming it, not a stack trace.
    """
    if function is None:
        raise AssertionError(
            f"{NOT_ANSWERED}: `{name}` is not defined. Run the cell that defines it, "
            "then run this check again."
        )
    try:
        result = function(*args, **kwargs)
    except remote.SubmissionGone as error:
        raise AssertionError(f"{describe(name, *args, **kwargs)}: {error}") from None
    except ForbiddenCall:
        raise
    except NotImplementedError:
        raise AssertionError(f"{NOT_ANSWERED}: {name} raised NotImplementedError.") from None
    except Exception as error:
        raise AssertionError(
            f"{describe(name, *args, **kwargs)} raised {type(error).__name__}: {error}"
        ) from None
    if result is None or result is Ellipsis:
        raise AssertionError(
            f"{NOT_ANSWERED}: {name} returned {result!r}. Replace the `...` in its body with "
            "your code (and `return` the result), run that cell, then this check again."
        )
    return result


def fake(name, *args, **kwargs):
    """The stand-in ``coursekit.grading.fakes.<name>(*args, **kwargs)``, made here, in the
    test's process. Under the sandboxed grader it stays here too: an answer it is passed to
    gets a function of no arguments whose calls come back to it (``remote``), so what it
    counts and how far its clock moved (``model.calls``, ``clock.now``), read by the test,
    are out of the answer's reach."""
    if name not in fakes.FAKES:
        raise ValueError(f"fake: name must be one of {sorted(fakes.FAKES)}, got {name!r}")
    return fakes.FAKES[name](*args, **kwargs)


def cpu_seconds(function, name, *args, **kwargs):
    """(seconds, result): the CPU time of one call ``function(*args, **kwargs)`` on one
    torch thread (``call``: the same checks), and what it returned.

    A function of the test's own (a reference) runs here: this thread's CPU time, which
    other work on the machine, a submission's included, does not add to. A student's answer
    under the grader runs in its sandbox: the CPU time of the whole sandbox from the request
    to the reply, as the kernel counts it for its control group and the grader reads it,
    from outside (``remote.counting_cpu``); where the machine does not count it, the
    request's wall-clock time, which also counts the transfer (more than the answer's own
    work). Nothing in the answer's process can make either reading smaller.
    """
    if type(function) is remote.Remote:
        with remote.counting_cpu() as count:
            result = call(function, name, *args, **kwargs)
        return count.seconds, remote.materialise(result)
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.thread_time()
        result = call(function, name, *args, **kwargs)
        return time.thread_time() - start, result
    finally:
        torch.set_num_threads(saved)


def _fail(message, hint=""):
    """Raise the AssertionError of a failed test: the message, then the hint if any."""
    raise AssertionError(f"{message} — {hint}" if hint else message)


def expect_equal(got, expected, what, hint=""):
    """Fail unless ``got == expected`` and both have the same type (so 26.0 is not 26).

    ``what`` names the value in the message, e.g. "conv_output_size(28, 3)".
    """
    got = remote.materialise(got)
    if type(got) is not type(expected):
        _fail(
            f"{what} returned {got!r} ({type(got).__name__}), "
            f"expected {expected!r} ({type(expected).__name__})",
            hint,
        )
    if got != expected:
        _fail(f"{what} returned {got!r}, expected {expected!r}", hint)


def expect_tensor(got, expected, what, hint="", shape_hints=None, atol=1e-4, rtol=1e-4):
    """Fail unless ``got`` is a tensor of ``expected``'s shape with close values.

    got, expected: tensors of any shape (compared in float64). ``what`` names the value
    in the message. ``hint`` is added to any failure; ``shape_hints`` maps a wrong shape
    (a tuple) to the hint for it, e.g. ``{(1, 2, 3, 3): "did you forget the padding?"}``.
    """
    got = remote.materialise(got)
    if not isinstance(got, torch.Tensor):
        _fail(f"{what} returned a {type(got).__name__}, expected a torch.Tensor", hint)
    got_shape, expected_shape = tuple(got.shape), tuple(expected.shape)
    if got_shape != expected_shape:
        shape_hint = (shape_hints or {}).get(got_shape, hint)
        _fail(f"{what}: output shape {got_shape}, expected {expected_shape}", shape_hint)
    got64 = got.detach().to("cpu", torch.float64)
    expected64 = expected.detach().to("cpu", torch.float64)
    close = torch.isclose(got64, expected64, atol=atol, rtol=rtol)
    if not bool(close.all()):
        first = tuple(int(i) for i in (~close).nonzero()[0])
        worst = float((got64 - expected64).abs().max())
        _fail(
            f"{what}: wrong values, e.g. at index {first} got {float(got64[first]):.4g}, "
            f"expected {float(expected64[first]):.4g} (largest difference {worst:.3g})",
            hint,
        )


@contextlib.contextmanager
def forbidden(*names):
    """Within this block, torch's own ``names`` (e.g. "conv2d") fail with a plain message.

    Patches ``torch.<name>`` and ``torch.nn.functional.<name>`` (``nn.Conv2d`` and
    ``nn.MaxPool2d`` call those too). Compute the reference result before the block.
    """
    if remote.active():  # grading: the answer runs elsewhere; switch them off there
        with remote.context(forbid=names):
            yield
        return
    with refusing(names):
        yield


OWN_IMPLEMENTATIONS = ("coursekit/losses.py", "coursekit/metrics/", "torchmetrics/",
                       "sklearn/metrics/", "torchvision/ops/", "segmentation_models_pytorch/",
                       "monai/")
"""Where ready-made losses and metrics live: an answer that calls into them is not the
student's own computation (``computed_by_hand``)."""


@contextlib.contextmanager
def computed_by_hand(off_limits=OWN_IMPLEMENTATIONS):
    """Within this block, watch every Python call; when it ends, fail the check if the
    student's answer called a function whose file lies under one of ``off_limits`` (or a
    compiled function of a module named so, e.g. "cv2/" for ``cv2.connectedComponents``).

    Unlike ``forbidden``, this also catches an implementation imported under another
    name before the test ran (``from coursekit.losses import soft_dice_loss as mine``).
    Compute the reference result before the block. While grading, the watch runs in the
    submission's process around each call of its answer, and coursekit's own implementation
    of the function a question asks for is a tripwire there as well (see ``worker``).
    """
    if remote.active():
        with remote.context(watch=tuple(off_limits)) as seen:
            yield
        if seen:
            _fail(f"your answer calls {seen[0]}: this question asks you to compute it yourself",
                  "write it yourself, with torch")
        return
    calls = []
    with watching(off_limits, calls):
        yield
    if calls:
        _fail(f"your answer calls {calls[0]}: this question asks you to compute it yourself",
              "write it yourself, with torch")


def expect_result(function, name, kwargs, expected, hint="", shape_hints=None, forbid=()):
    """The usual test: call ``function(**kwargs)`` and compare its result with ``expected``.

    function: the student's function (None if undefined); name: its name in the notebook;
    kwargs: its arguments by name; expected: a tensor (compared by ``expect_tensor``) or a
    plain value (``expect_equal``); forbid: torch functions the answer may not call, e.g.
    ["conv2d"].
    """
    with forbidden(*forbid):
        got = call(function, name, **kwargs)
    what = describe(name, **kwargs)
    if isinstance(expected, torch.Tensor):
        expect_tensor(got, expected, what, hint=hint, shape_hints=shape_hints)
    else:
        expect_equal(got, expected, what, hint=hint)
