"""Stand-ins that tests hand to a student's code: a clock that moves only when told to, a
function whose first calls are slow, an asynchronous device, a real sleep; for a speed
check, a stopwatch and a slow reference that run next to the answer; and ``Probe``, a layer
that notes whether the autograd graph passed through it.

Code cannot travel to the sandboxed grader's submission process (``codec`` carries data
only), so a test asks for a stand-in by name with ``checks.fake("Clock")``: under the grader
it is built over there, from these classes, and the test reaches it through a proxy
(reading ``clock.now`` brings the number back); in a student's notebook it is built here.
The student's code can reach these objects, so a test never trusts what they report about
themselves more than it would trust the answer: it checks the readings the answer returns
against values it knows.
"""

import time

import torch

_perf_counter = time.perf_counter  # taken when the grader's worker starts, before any
# student code runs: rebinding time.perf_counter later does not reach the stopwatch


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


class Stopwatch:
    """Times a function where it runs (under the grader, next to the answer, so that the
    requests to the submission's process are not counted): ``median(fn, *args)`` is the
    median seconds of ``repeats`` calls after ``warmup``, with torch on ``threads``
    threads (one: a timing that other work on the machine disturbs least)."""

    def __init__(self, threads=1):
        self.threads = int(threads)

    def median(self, fn, *args, warmup=1, repeats=5):
        from coursekit import profiling

        saved = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            timing = profiling.time_callable(fn, args, warmup=warmup, repeats=repeats,
                                             clock=_perf_counter)
        finally:
            torch.set_num_threads(saved)
        return timing.median


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


FAKES = {cls.__name__: cls for cls in (Clock, SlowFirstCalls, AsyncDevice, Sleep, Stopwatch,
                                       PilAugment)}
"""The stand-ins a test may ask for, by name."""
