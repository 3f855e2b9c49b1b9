"""Stand-ins that tests hand to a student's code: a clock that moves only when told to, a
function whose first calls are slow, an asynchronous device, a real sleep; the slow way to
augment a batch, as a reference that a speed check times; and ``Probe``, a layer that notes
whether the autograd graph passed through it.

Under the sandboxed grader a stand-in stays in the grader's process, never in the
submission's: the answer gets, in its place, a function of no arguments whose calls come
back to the grader (``remote``, ``worker.StandIn``), so that what a stand-in counts, how far
its clock moved and what it was made with cannot be read or changed by the answer; the test
reads them here. Only callable stand-ins (``callable_stand_in``) can be handed to an answer:
a clock, ``SlowFirstCalls``, a sleep, an ``AsyncDevice``'s ``launch`` and ``sync``. ``Probe``
is the exception: a layer, rebuilt over there from this class as a mirror of the test's.
"""

import inspect
import time

import torch


class Clock:
    """A clock reading ``now`` seconds, which only the other stand-ins move.

    ``clock()`` returns the time, like ``time.perf_counter()``.
    """

    def __init__(self, now=0.0):
        self.now = float(now)

    def __call__(self):
        return self.now


class SlowFirstCalls:
    """``fn()`` for a timer: moves ``clock`` by ``slow`` seconds on each of its first
    ``slow_calls`` calls (one-off work, like a model's first calls), by ``fast`` after.
    ``calls`` counts the calls."""

    def __init__(self, clock, slow_calls=3, slow=1.0, fast=0.01):
        self.clock, self.slow_calls = clock, int(slow_calls)
        self.slow, self.fast = float(slow), float(fast)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        self.clock.now += self.slow if self.calls <= self.slow_calls else self.fast


class AsyncDevice:
    """A fake GPU. ``launch()`` queues ``work`` seconds of work and returns after
    ``launch_cost`` seconds, as a CUDA kernel launch does; ``sync()`` waits until all the
    queued work is done, as ``torch.cuda.synchronize()`` does. ``busy_until`` is when the
    queue empties (set it ahead of the clock for work someone else queued earlier)."""

    def __init__(self, clock, work=0.05, launch_cost=1e-6, busy_until=0.0):
        self.clock, self.work, self.launch_cost = clock, float(work), float(launch_cost)
        self.busy_until = float(busy_until)
        self.launches = 0

    def launch(self):
        self.launches += 1
        self.busy_until = max(self.busy_until, self.clock.now) + self.work
        self.clock.now += self.launch_cost

    def sync(self):
        self.clock.now = max(self.clock.now, self.busy_until)


class Sleep:
    """``fn()`` that sleeps ``seconds`` of real time (for a timer's default clock)."""

    def __init__(self, seconds):
        self.seconds = float(seconds)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        time.sleep(self.seconds)


class PilAugment:
    """The slow way to augment a batch of MNIST digits, one image at a time through PIL:
    to a picture, mirrored where ``flip`` is True, back to a tensor, normalised with
    ``mean`` and ``std``. ``self(images, flip)``: images (N, 1, 28, 28) uint8, flip (N,)
    bool -> (N, 1, 28, 28) float32 (exercise 8's ``augment_slow``)."""

    def __init__(self, mean=0.1307, std=0.3081):
        self.mean, self.std = float(mean), float(std)

    def __call__(self, images, flip):
        from torchvision.transforms import functional as TF

        out = []
        for image, mirror in zip(images, flip, strict=True):
            picture = TF.to_pil_image(image)
            if mirror:
                picture = TF.hflip(picture)
            out.append(TF.normalize(TF.to_tensor(picture), [self.mean], [self.std]))
        return torch.stack(out)


class Probe(torch.nn.Module):
    """A layer that passes its input on and remembers, in its buffer ``grad_seen``, whether
    that input was in the autograd graph: put it in a model a test passes to an answer to
    see whether the answer evaluated under ``torch.no_grad()`` (a hook could not travel to
    the submission's process; this layer does, rebuilt there from this class)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("grad_seen", torch.zeros((), dtype=torch.bool))

    def forward(self, x):
        if x.requires_grad:
            self.grad_seen.fill_(True)
        return x


FAKES = {cls.__name__: cls for cls in (Clock, SlowFirstCalls, AsyncDevice, Sleep, PilAugment)}
"""The stand-ins a test may ask for, by name."""

_CALLABLE = (Clock, SlowFirstCalls, Sleep, AsyncDevice)


def callable_stand_in(value):
    """True for a stand-in a test may hand to an answer as a function of no arguments: a
    ``Clock``, ``SlowFirstCalls`` or ``Sleep``, or a bound method (``launch``, ``sync``) of
    one of these classes or of an ``AsyncDevice``."""
    owner = value.__self__ if inspect.ismethod(value) else value
    return callable(value) and type(owner) in _CALLABLE
