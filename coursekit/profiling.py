"""Speed, measured right: the one place the course times things (chapter 8).

Timing code goes wrong in four usual ways, and ``time_callable`` avoids each:

1. **No warm-up.** The first calls of a model pay for one-off work (memory allocation,
   cuDNN's choice of algorithm, ``torch.compile``'s compilation, lazy initialisation).
   ``warmup`` calls run first and are not counted (the first one is kept aside, as
   ``Timing.first``, because it is instructive).
2. **No synchronisation.** On a GPU, a call returns as soon as its work is *queued*; the
   clock must be read after the work is done. On CUDA the timer records CUDA events around
   the calls and waits for the last one; any other asynchronous device can pass ``sync``.
   (On a CPU every call is synchronous, so there is nothing to wait for.)
3. **One measurement.** A single reading is at the mercy of whatever else the machine was
   doing; ``repeats`` readings give a median and a spread.
4. **The mean.** One reading that another process slowed down tenfold moves the mean, not
   the median. The median and the inter-quartile range are reported.

Everything else here is built on that timer: latency and throughput per batch size
(``latency_throughput``), the speed-ups of chapter 8 each with its largest output
difference from eager float32 (``compare_variants``: ``channels_last``, bf16/fp16
autocast, ``torch.compile``, ONNX Runtime), the parameter and FLOP counts, the peak GPU
memory, and ``torch.profiler``'s top operators as a short table.

    timing = profiling.time_callable(model, args=(x,), device=device)
    print(timing)          # '4.12 ms (median of 20, IQR 4.05-4.30 ms)'

Where something cannot be measured on a device (peak memory on a CPU; fp16 autocast on a
CPU; ONNX Runtime when it is not installed) the functions say so (None, or a row whose
``status`` says why) rather than report a number that means something else.
"""

import contextlib
import math
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from coursekit._checks import (
    check_bool,
    check_device,
    check_int,
    check_module,
    check_tensor,
    describe,
)

# --------------------------------------------------------------------------------------
# 1. The timer
# --------------------------------------------------------------------------------------


@dataclass
class Timing:
    """What ``time_callable`` measured. All times in seconds, per call.

    times: the ``repeats`` readings (each the mean of ``number`` back-to-back calls);
    first: the first warm-up call alone (None without warm-up); method: how the clock was
    read ("perf_counter", "perf_counter + sync", "CUDA events"); device: where it ran;
    threads: ``torch.get_num_threads()`` at the time.
    """

    times: list
    first: float | None
    warmup: int
    number: int
    method: str
    device: str
    threads: int = field(default_factory=torch.get_num_threads)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def max(self) -> float:
        return max(self.times)

    @property
    def quartiles(self) -> tuple[float, float]:
        """(25th, 75th) percentile of the readings (equal to the one reading if only one)."""
        if len(self.times) == 1:
            return self.times[0], self.times[0]
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[0], q[2]

    @property
    def spread(self) -> float:
        """The inter-quartile range relative to the median (0.05: readings within about
        +-2.5% of the median): differences smaller than this are not differences."""
        low, high = self.quartiles
        return (high - low) / self.median if self.median > 0 else 0.0

    def __str__(self):
        low, high = self.quartiles
        unit, scale = _unit(self.median)
        return (f"{self.median * scale:.3g} {unit} (median of {len(self.times)}, "
                f"IQR {low * scale:.3g}-{high * scale:.3g} {unit})")


def _unit(seconds: float) -> tuple[str, float]:
    if seconds >= 1:
        return "s", 1.0
    if seconds >= 1e-3:
        return "ms", 1e3
    return "us", 1e6


def _check_callable(value, name):
    if not callable(value):
        raise TypeError(f"{name}: expected a callable, got {describe(value)}")
    return value


def _check_args(args):
    if not isinstance(args, tuple | list):
        raise TypeError(f"args: expected a tuple of arguments, e.g. (x,), got {describe(args)}")
    return tuple(args)


def time_callable(fn, args=(), warmup: int = 3, repeats: int = 20, number: int = 1,
                  device="cpu", sync=None, clock=None) -> Timing:
    """Time ``fn(*args)``: ``warmup`` uncounted calls, then ``repeats`` readings of
    ``number`` calls each; returns a ``Timing`` (median, quartiles, spread, first call).

    fn: any callable; args: a tuple of its arguments; warmup: an int >= 0; repeats,
    number: ints >= 1 (``number`` > 1 for calls of a few microseconds, where reading the
    clock costs as much as the call); device: where ``fn`` does its work. On CUDA the
    readings come from CUDA events recorded around the calls (the GPU's own clock), after
    a ``torch.cuda.synchronize()`` so that earlier work is not counted. sync: a callable
    that waits until the device has finished its queued work, for any other asynchronous
    device (called before and after each reading); clock: a callable returning seconds
    (default ``time.perf_counter``), e.g. a fake clock in tests.
    """
    fn = _check_callable(fn, "fn")
    args = _check_args(args)
    warmup = check_int(warmup, "warmup", low=0)
    repeats = check_int(repeats, "repeats", low=1)
    number = check_int(number, "number", low=1)
    device = check_device(device)
    if sync is not None:
        _check_callable(sync, "sync")
    if clock is not None:
        _check_callable(clock, "clock")
    events = device.type == "cuda" and sync is None and clock is None
    if device.type == "cuda" and sync is None:
        sync = lambda: torch.cuda.synchronize(device)  # noqa: E731
    clock = clock or time.perf_counter
    wait = sync or (lambda: None)

    first = None
    for i in range(warmup):
        wait()
        start = clock()
        fn(*args)
        wait()
        if i == 0:
            first = clock() - start
    times = []
    for _ in range(repeats):
        wait()                                   # earlier work is not ours to count
        if events:
            begin, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            begin.record()
            for _ in range(number):
                fn(*args)
            end.record()
            end.synchronize()
            times.append(begin.elapsed_time(end) / 1000 / number)
        else:
            start = clock()
            for _ in range(number):
                fn(*args)
            wait()                               # the work is done, not only queued
            times.append((clock() - start) / number)
    method = "CUDA events" if events else ("perf_counter + sync" if sync else "perf_counter")
    return Timing(times, first, warmup, number, method, str(device))


def _check_inputs(inputs, name="inputs"):
    check_tensor(inputs, name, ndim=(2, 3, 4, 5), kind="float")
    return inputs


def time_forward(model, inputs, device="cpu", warmup: int = 3, repeats: int = 20,
                 number: int = 1) -> Timing:
    """Time one forward pass of ``model`` on ``inputs`` (moved to ``device``), in eval
    mode and under ``torch.inference_mode``. model: an ``nn.Module`` (moved to
    ``device``); inputs: a float tensor, e.g. (N, C, H, W); the rest as for
    ``time_callable``."""
    model = check_module(model)
    inputs = _check_inputs(inputs)
    device = check_device(device)
    model = model.eval().to(device)
    inputs = inputs.to(device)

    def forward():
        with torch.inference_mode():
            return model(inputs)

    return time_callable(forward, (), warmup, repeats, number, device)


def latency_throughput(model, image_shape, batch_sizes, device="cpu", warmup: int = 3,
                       repeats: int = 10) -> list[dict]:
    """For each batch size: the median latency of a forward pass (ms), the images per
    second it gives, and its spread; random inputs of ``image_shape`` (C, H, W).

    Latency is what one request waits; throughput is images per second when requests are
    batched; a video needs both (a frame every 1/fps seconds, each done in time). Returns
    one dict per batch size: batch, latency_ms, ms_per_image, images_per_second, spread.
    """
    model = check_module(model)
    if (not isinstance(image_shape, tuple | list) or len(image_shape) != 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1
                       for s in image_shape)):
        raise ValueError(f"image_shape: expected (C, H, W), three ints >= 1, "
                         f"got {describe(image_shape)}")
    if not isinstance(batch_sizes, tuple | list) or not batch_sizes:
        raise TypeError(f"batch_sizes: expected a non-empty list of ints >= 1, "
                        f"got {describe(batch_sizes)}")
    batch_sizes = [check_int(b, "batch_sizes", low=1) for b in batch_sizes]
    device = check_device(device)
    rows = []
    for batch in batch_sizes:
        x = torch.randn(batch, *image_shape)
        timing = time_forward(model, x, device, warmup, repeats)
        rows.append({"batch": batch, "latency_ms": timing.median * 1e3,
                     "ms_per_image": timing.median * 1e3 / batch,
                     "images_per_second": batch / timing.median, "spread": timing.spread})
    return rows


# --------------------------------------------------------------------------------------
# 2. Size: parameters, FLOPs, memory
# --------------------------------------------------------------------------------------


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters of an ``nn.Module`` (only those that train, by default)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}")
    trainable_only = check_bool(trainable_only, "trainable_only")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model, inputs) -> int:
    """Floating-point operations of one forward pass of ``model`` on ``inputs``, counted
    by ``torch.utils.flop_counter`` (a multiply-add counts 2; convolutions, matrix products
    and attention are counted, cheap element-wise operations are not). inputs: a float
    tensor on the model's device, e.g. (N, C, H, W); the count is for the whole batch."""
    from torch.utils.flop_counter import FlopCounterMode

    model = check_module(model)
    inputs = _check_inputs(inputs)
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with counter, torch.no_grad():
            model(inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def peak_memory(fn, args=(), device="cuda") -> int | None:
    """The most GPU memory (bytes) tensors held while ``fn(*args)`` ran, counted from
    zero at the call (memory already held before it is not counted), or None where it
    cannot be measured: PyTorch tracks its allocations only on CUDA."""
    fn = _check_callable(fn, "fn")
    args = _check_args(args)
    device = check_device(device)
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn(*args)
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device) - before)


# --------------------------------------------------------------------------------------
# 3. Where the time goes: torch.profiler
# --------------------------------------------------------------------------------------


def top_operators(fn, args=(), device="cpu", row_limit: int = 10, calls: int = 3) -> list[dict]:
    """Run ``fn(*args)`` ``calls`` times under ``torch.profiler`` (after one warm-up call)
    and return the operators that took the most time, most first: one dict each with
    name, calls, self_ms (time in the operator itself, not in operators it calls, summed
    over the calls) and percent (of all self time). On CUDA the GPU's time is used."""
    from torch.profiler import ProfilerActivity, profile

    fn = _check_callable(fn, "fn")
    args = _check_args(args)
    device = check_device(device)
    row_limit = check_int(row_limit, "row_limit", low=1)
    calls = check_int(calls, "calls", low=1)
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    fn(*args)
    if cuda:
        torch.cuda.synchronize(device)
    with _quiet_native_stderr(), profile(activities=activities) as prof:
        for _ in range(calls):
            fn(*args)
        if cuda:
            torch.cuda.synchronize(device)
    rows = []
    for event in prof.key_averages():
        self_us = (getattr(event, "self_device_time_total", 0) if cuda
                   else event.self_cpu_time_total)
        if self_us > 0:
            rows.append({"name": event.key, "calls": int(event.count),
                         "self_ms": self_us / 1e3})
    total = sum(row["self_ms"] for row in rows) or 1.0
    rows.sort(key=lambda row: -row["self_ms"])
    for row in rows:
        row["percent"] = 100 * row["self_ms"] / total
    return rows[:row_limit]


@contextlib.contextmanager
def _quiet_native_stderr():
    """The profiler's C++ library logs its start and stop (and, without a GPU, a failed
    GPU count) straight to file descriptor 2, under any Python-level redirection: send
    that descriptor to /dev/null for the block."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def format_operators(rows, width: int = 78) -> str:
    """``top_operators``' rows as a text table that fits ``width`` characters."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"rows: expected the list of dicts top_operators returns, "
                        f"got {describe(rows)}")
    width = check_int(width, "width", low=40)
    name_width = width - 28
    lines = [f"{'operator':{name_width}s}{'calls':>7s}{'self ms':>11s}{'share':>10s}"]
    for row in rows:
        name = row["name"] if len(row["name"]) <= name_width - 1 else \
            row["name"][:name_width - 4] + "..."
        lines.append(f"{name:{name_width}s}{row['calls']:7d}{row['self_ms']:11.2f}"
                     f"{row['percent']:9.1f}%")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# 4. Speed-ups, each measured against eager float32
# --------------------------------------------------------------------------------------

PARTS = ("channels_last", "bf16", "fp16", "compile", "cudagraph", "onnxruntime")
"""What a variant is made of, joined by '+': "eager" alone, or e.g. "channels_last+bf16",
"compile+bf16", "fp16+cudagraph" (the forward recorded once as a CUDA graph and replayed:
one launch instead of one per kernel; GPUs only, not with "compile"), "onnxruntime" (ONNX
Runtime on the CPU; alone)."""


def max_difference(output, reference) -> float:
    """The largest absolute difference between two tensors of one shape (in float32)."""
    check_tensor(output, "output")
    check_tensor(reference, "reference")
    if output.shape != reference.shape:
        raise ValueError(f"output: expected the shape of reference {tuple(reference.shape)}, "
                         f"got {tuple(output.shape)}")
    if output.numel() == 0:
        return 0.0
    return float((output.detach().float().cpu() - reference.detach().float().cpu())
                 .abs().max())


def _parse_variant(variant):
    if not isinstance(variant, str):
        raise TypeError(f"variant: expected a name such as 'eager' or 'channels_last+bf16', "
                        f"got {describe(variant)}")
    if variant == "eager":
        return set()
    parts = variant.split("+")
    unknown = [p for p in parts if p not in PARTS]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"variant: expected 'eager' or parts of {', '.join(PARTS)} joined by "
                         f"'+', got {variant!r}")
    if {"bf16", "fp16"} <= set(parts):
        raise ValueError(f"variant: bf16 and fp16 cannot both be used, got {variant!r}")
    if {"compile", "cudagraph"} <= set(parts):
        raise ValueError(f"variant: 'cudagraph' records the eager forward; torch.compile "
                         f"makes its own CUDA graphs (mode='reduce-overhead'), got {variant!r}")
    if "onnxruntime" in parts and len(parts) > 1:
        raise ValueError(f"variant: 'onnxruntime' runs the exported model as it is; use it "
                         f"alone, got {variant!r}")
    return set(parts)


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime (and the ``onnx`` package the export needs) can be imported:
    ``pip install "dlvision-coursekit[speed]"`` installs them."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def _onnx_session(model, example):
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        with contextlib.redirect_stdout(None), _quiet_warnings():
            try:       # torch >= 2.5: the dynamo exporter (needs onnxscript)
                torch.onnx.export(model, (example,), str(path), dynamo=True,
                                  input_names=["images"], output_names=["scores"])
            except Exception:  # older torch, or onnxscript missing: TorchScript exporter
                torch.onnx.export(model, (example,), str(path), dynamo=False,
                                  input_names=["images"], output_names=["scores"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
    return session


@contextlib.contextmanager
def _quiet_warnings():
    import logging
    import warnings

    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "torch.export")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def make_variant(model, example, variant: str = "eager", device="cpu"):
    """A ready-to-time version of ``model`` for ``variant`` (see ``PARTS``).

    Returns (run, setup_seconds, note): ``run(x)`` gives the float32 scores of a float32
    batch ``x`` already on ``device``; setup_seconds is what making it cost before the
    first timed call (export, compilation: ``torch.compile`` compiles on its first two
    calls, which are made here); note is why it cannot run here, or "" (then run is None).
    The model is not changed (a copy is converted).
    """
    import copy

    model = check_module(model)
    example = _check_inputs(example, "example")
    parts = _parse_variant(variant)
    device = check_device(device)
    if "fp16" in parts and device.type != "cuda":
        return None, 0.0, "fp16 autocast is for GPUs (on a CPU it is emulated, and slow)"
    if "cudagraph" in parts and device.type != "cuda":
        return None, 0.0, "CUDA graphs are for NVIDIA GPUs"
    if "onnxruntime" in parts:
        if device.type != "cpu":
            return None, 0.0, "ONNX Runtime is measured on the CPU here"
        if not onnxruntime_available():
            return None, 0.0, ("ONNX Runtime is not installed: "
                               "pip install onnxruntime onnx onnxscript")
    if "compile" in parts and device.type == "cpu":
        import shutil
        if not (shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")):
            return None, 0.0, "torch.compile needs a C++ compiler on a CPU, and none is here"
    start = time.perf_counter()
    net = copy.deepcopy(model).eval().to(device)
    example = example.to(device)
    if "onnxruntime" in parts:
        session = _onnx_session(net, example.cpu())

        def run(x):
            return torch.from_numpy(session.run(None, {"images": x.cpu().numpy()})[0])

        run(example)
        return run, time.perf_counter() - start, ""
    layout = torch.channels_last if "channels_last" in parts else torch.contiguous_format
    net = net.to(memory_format=layout)
    dtype = torch.bfloat16 if "bf16" in parts else torch.float16 if "fp16" in parts else None
    if "compile" in parts:
        torch._dynamo.reset()
        net = torch.compile(net)

    # Autocast keeps the weights it casts for the rest of its block; inside a CUDA graph
    # those copies would be freed while the graph still reads them (PyTorch's CUDA-graph
    # notes ask for cache_enabled=False).
    cache = "cudagraph" not in parts

    def run(x):
        if x.dim() == 4:
            x = x.contiguous(memory_format=layout)
        with torch.inference_mode():
            if dtype is None:
                return net(x).float()
            with torch.autocast(device.type, dtype=dtype, cache_enabled=cache):
                return net(x).float()

    if "cudagraph" in parts:
        run = _record_cuda_graph(run, example.contiguous(memory_format=layout), device)
    if "compile" in parts:
        run(example)
        run(example)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return run, time.perf_counter() - start, ""


def _record_cuda_graph(forward, example, device):
    """``forward`` recorded once as a CUDA graph: calling the result copies x into the
    graph's own input tensor and replays every kernel with one launch. Only inputs of
    ``example``'s shape can be replayed (a graph holds fixed shapes and addresses)."""
    static_input = example.clone()
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):        # warm up off the default stream, as PyTorch asks:
        for _ in range(3):               # cuDNN chooses its algorithms here, not in the graph
            forward(static_input)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_output = forward(static_input)

    def replay(x):
        if x.shape != static_input.shape:
            raise ValueError(f"x: a CUDA graph replays the shape it recorded, "
                             f"{tuple(static_input.shape)}, got {tuple(x.shape)}")
        static_input.copy_(x)
        graph.replay()
        return static_output.clone()

    return replay


def compare_variants(model, example, variants=("eager", "channels_last", "bf16"),
                     device="cpu", warmup: int = 3, repeats: int = 20) -> list[dict]:
    """Time each variant of ``model`` on the batch ``example`` (the same timer, the same
    input) and compare its output with eager float32's.

    Returns one dict per variant: variant, status ("ok" or why it was skipped), ms
    (median latency), spread (relative IQR), speedup (eager's median / this one's),
    max_diff (largest absolute output difference from eager float32), setup_s (export
    or compilation time). "eager" is always measured first, as the reference.
    """
    model = check_module(model)
    example = _check_inputs(example, "example")
    device = check_device(device)
    if isinstance(variants, str) or not isinstance(variants, tuple | list):
        raise TypeError(f"variants: expected a list of variant names, got {describe(variants)}")
    for variant in variants:
        _parse_variant(variant)
    names = ["eager"] + [v for v in variants if v != "eager"]
    reference, eager_ms, rows = None, None, []
    x = example.to(device)
    for name in names:
        run, setup_s, note = make_variant(model, example, name, device)
        if run is None:
            rows.append({"variant": name, "status": f"skipped: {note}", "ms": math.nan,
                         "spread": math.nan, "speedup": math.nan, "max_diff": math.nan,
                         "setup_s": math.nan})
            continue
        output = run(x)
        if reference is None:
            reference = output.detach().cpu()
        timing = time_callable(run, (x,), warmup, repeats, 1, device)
        ms = timing.median * 1e3
        eager_ms = eager_ms or ms
        rows.append({"variant": name, "status": "ok", "ms": ms, "spread": timing.spread,
                     "speedup": eager_ms / ms, "max_diff": max_difference(output, reference),
                     "setup_s": setup_s})
        del run
    if any("compile" in name for name in names):
        torch._dynamo.reset()
    return rows


# --------------------------------------------------------------------------------------
# 5. The benchmarks' committed figures
# --------------------------------------------------------------------------------------


def benchmark_results(name: str) -> dict:
    """The figures a benchmark script wrote, e.g. ``benchmark_results("classification-cpu")``
    for ``benchmarks/results/classification-cpu.json``: read from this copy of the
    repository when there is one, else downloaded from the repository at the book's
    version (in Colab, where only the package is installed)."""
    import json
    import re
    import urllib.request

    from coursekit import course

    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError(f"name: expected the name of a results file without '.json', such "
                         f"as 'classification-cpu', got {describe(name)}")
    local = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / f"{name}.json"
    if local.exists():
        return json.loads(local.read_text())
    url = course.raw_url(f"benchmarks/results/{name}.json")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))
    except Exception as error:
        raise FileNotFoundError(f"name: benchmarks/results/{name}.json is neither in this copy "
                                f"of the repository nor downloadable ({error})") from None
