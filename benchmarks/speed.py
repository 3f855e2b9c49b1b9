"""Chapter 8's measurements on this device: print them and save them.

    .venv/bin/python benchmarks/speed.py [--quick] [--out FILE] [--only NAME]

1. The timer (``coursekit.profiling.time_callable``) against ``torch.utils.benchmark.Timer``
   on the same operations, the same thread count and the same number of calls per
   reading: their medians should agree within 5%.
2. For each of the course's models (chapter 3's MnistCNN and ResNet9, chapter 5's U-Net on
   256x256): parameters, FLOPs, latency and throughput per batch size, and each speed-up
   (channels_last, bf16 autocast, fp16 autocast on a GPU, torch.compile, CUDA graphs on a
   GPU, combinations of them on a GPU, ONNX Runtime on the CPU; on a GPU the U-Net at
   batch 64 too): median latency, spread, speed-up over
   eager float32, largest output difference from eager float32, set-up (export,
   compilation) time.
3. Real time: for U-Net on one 256x256 image, frames per second of each configuration.

Writes ``benchmarks/results/speed-<device>.json`` (device, threads, torch version, date).
``--quick`` is a smoke test with tiny settings (seconds).
"""

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils import benchmark

from coursekit import models, profiling, setup, unet

RESULTS = Path(__file__).resolve().parent / "results"

MODELS = {
    # name: (make, one image's shape, batch sizes for latency/throughput, timing batch)
    "MnistCNN (ch. 3)": (lambda: models.MnistCNN(), (1, 28, 28), [1, 8, 64, 256], 64),
    "ResNet9 width 24 (ch. 3, CPU recipe)": (lambda: models.ResNet9(width=24), (3, 32, 32),
                                             [1, 8, 64, 256], 64),
    "ResNet9 width 64 (ch. 3, GPU recipe)": (lambda: models.ResNet9(width=64), (3, 32, 32),
                                             [1, 8, 64, 256], 64),
    "U-Net depth 4 width 8 (ch. 5), 256x256": (lambda: unet.UNet(1, 2, depth=4, width=8),
                                               (1, 256, 256), [1, 4, 16, 64], 1),
    "U-Net depth 4 width 8 (ch. 5), 256x256, batch 64": (
        lambda: unet.UNet(1, 2, depth=4, width=8), (1, 256, 256), [64], 64),
}
GPU_ONLY = {"U-Net depth 4 width 8 (ch. 5), 256x256, batch 64"}   # minutes on a CPU
REAL_TIME_MODEL = "U-Net depth 4 width 8 (ch. 5), 256x256"        # batch 1: one frame a call
# On a GPU: the models in order of what their figures are for (the U-Net's frames per
# second, then chapter 3's GPU recipe), so that a run cut short keeps the important ones;
# the two CPU-recipe models without torch.compile (each cold compilation costs tens of
# seconds, and the GPU pass has minutes).
GPU_ORDER = [REAL_TIME_MODEL, "ResNet9 width 64 (ch. 3, GPU recipe)",
             "U-Net depth 4 width 8 (ch. 5), 256x256, batch 64", "MnistCNN (ch. 3)",
             "ResNet9 width 24 (ch. 3, CPU recipe)"]
NOT_COMPILED_ON_GPU = {"MnistCNN (ch. 3)", "ResNet9 width 24 (ch. 3, CPU recipe)"}


def variants_for(device):
    if device.type == "cuda":
        return ["eager", "channels_last", "bf16", "fp16", "cudagraph",
                "channels_last+fp16+cudagraph", "channels_last+bf16+cudagraph", "compile",
                "compile+channels_last+bf16", "compile+channels_last+fp16"]
    return ["eager", "channels_last", "bf16", "compile", "onnxruntime"]


def timer_agreement(device, quick):
    """Our timer and torch.utils.benchmark.Timer on the same operations."""
    a, b = (torch.randn(512, 512, device=device) for _ in range(2))
    x = torch.randn(64, 16, 32, 32, device=device)
    conv = torch.nn.Conv2d(16, 32, 3, padding=1).to(device)
    cnn = models.MnistCNN().eval().to(device)
    images = torch.randn(64, 1, 28, 28, device=device)
    net = unet.UNet(1, 2, depth=4, width=8).eval().to(device)
    slice_ = torch.randn(1, 1, 256, 256, device=device)

    def no_grad(model, inputs):
        def forward():
            with torch.inference_mode():
                return model(inputs)
        return forward

    operations = {
        "torch.mm 512x512": lambda: torch.mm(a, b),
        "conv2d 16->32, 64x32x32": no_grad(conv, x),
        "MnistCNN forward, batch 64": no_grad(cnn, images),
        "U-Net forward, 1x256x256": no_grad(net, slice_),
    }
    rows = []
    rounds = 1 if quick else 5
    for name, fn in operations.items():
        # Alternate the two timers, round by round, and compare them within each round: a
        # burst of other work on the machine then spoils one round, not the comparison.
        ratios, ours_ms, theirs_ms = [], [], []
        for _ in range(rounds):
            theirs = benchmark.Timer("fn()", globals={"fn": fn},
                                     num_threads=torch.get_num_threads()).blocked_autorange(
                min_run_time=0.2 if quick else 0.5)
            number, repeats = theirs.number_per_run, max(len(theirs.times), 5)
            ours = profiling.time_callable(fn, warmup=3, repeats=repeats, number=number,
                                           device=device)
            ratios.append(ours.median / theirs.median)
            ours_ms.append(ours.median * 1e3)
            theirs_ms.append(theirs.median * 1e3)
        ratio = statistics.median(ratios)
        rows.append({"operation": name, "ours_ms": statistics.median(ours_ms),
                     "torch_benchmark_ms": statistics.median(theirs_ms),
                     "ratio_median_of_rounds": ratio, "ratios": ratios,
                     "calls_per_reading": number, "method": ours.method,
                     "within_5_percent": abs(ratio - 1) <= 0.05})
        print(f"  {name:30s} ours {statistics.median(ours_ms):9.4f} ms   "
              f"torch.utils.benchmark {statistics.median(theirs_ms):9.4f} ms   "
              f"ratio {ratio:.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)})",
              flush=True)
    return rows


def measure_model(name, make, shape, batch_sizes, batch, device, quick):
    setup.seed_everything(0)
    model = make().eval()
    example = torch.randn(batch, *shape)
    repeats = 3 if quick else 20
    row = {"parameters": profiling.count_parameters(model),
           "gflops_per_image": profiling.count_flops(model, example[:1]) / 1e9,
           "timing_batch": batch}
    row["latency_throughput"] = profiling.latency_throughput(
        model, shape, batch_sizes[:2] if quick else batch_sizes, device,
        repeats=3 if quick else 10)
    variants = variants_for(device)
    if quick or device.type == "cuda" and name in NOT_COMPILED_ON_GPU:
        variants = [v for v in variants if "compile" not in v]
    row["variants"] = profiling.compare_variants(model, example, variants, device,
                                                 repeats=repeats)
    ok = [v for v in row["variants"] if v["status"] == "ok"]
    best = min(ok, key=lambda v: v["ms"])
    row["best"] = {"variant": best["variant"], "speedup": best["speedup"],
                   "ms": best["ms"], "max_diff": best["max_diff"]}
    on_device, inputs = model.to(device), example.to(device)

    def forward():
        with torch.inference_mode():
            return on_device(inputs)

    memory = profiling.peak_memory(forward, (), device)     # None on a CPU: not tracked
    row["peak_memory_mb"] = None if memory is None else memory / 2 ** 20
    print(f"\n{name}: {row['parameters']:,} parameters, {row['gflops_per_image']:.3f} "
          f"GFLOPs per image; batch {batch}:")
    print(f"  {'variant':28s}{'ms':>10s}{'spread':>8s}{'speed-up':>9s}{'max diff':>10s}"
          f"{'set-up s':>9s}")
    for v in row["variants"]:
        if v["status"] != "ok":
            print(f"  {v['variant']:28s}{v['status']}")
            continue
        print(f"  {v['variant']:28s}{v['ms']:10.3f}{v['spread']:8.1%}{v['speedup']:9.2f}"
              f"{v['max_diff']:10.2g}{v['setup_s']:9.1f}")
    for r in row["latency_throughput"]:
        print(f"  batch {r['batch']:4d}: {r['latency_ms']:9.3f} ms, "
              f"{r['images_per_second']:10.0f} images/s")
    return row


def clean(value):
    """NaN (a skipped variant's figures) as null in JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test")
    parser.add_argument("--out", type=Path, default=None, help="the JSON file to write")
    parser.add_argument("--only", default=None, help="measure only models whose name has this")
    args = parser.parse_args(argv)
    device = setup.get_device()
    torch._inductor.config.force_disable_caches = True   # set-up time: a cold compilation
    began = time.perf_counter()
    report = {"device": setup.describe_device(device), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "python": platform.python_version(),
              "cpu": platform.processor() or platform.machine(), "quick": args.quick,
              "date": time.strftime("%Y-%m-%d %H:%M"),
              "onnxruntime": profiling.onnxruntime_available()}
    print(f"device: {report['device']}, torch {torch.__version__}, "
          f"{report['threads']} threads", flush=True)
    print("\nThe timer against torch.utils.benchmark.Timer (median per call):", flush=True)
    out = args.out or RESULTS / f"speed-{device.type}.json"
    report["timer_agreement"] = timer_agreement(device, args.quick)
    report["models"] = {}
    report["complete"] = False            # until every model is measured (see save)
    save(report, out, began)
    for name in GPU_ORDER if device.type == "cuda" else MODELS:
        make, shape, batch_sizes, batch = MODELS[name]
        if args.only and args.only not in name:
            continue
        if args.quick and "width 64" in name or name in GPU_ONLY and device.type != "cuda":
            continue
        report["models"][name] = measure_model(name, make, shape, batch_sizes, batch, device,
                                               args.quick)
        save(report, out, began)
    if REAL_TIME_MODEL in report["models"]:
        rows = report["models"][REAL_TIME_MODEL]["variants"]
        report["real_time"] = {
            "model": REAL_TIME_MODEL, "batch": 1,
            "fps": {v["variant"]: 1e3 / v["ms"] for v in rows if v["status"] == "ok"}}
        print("\nU-Net, one 256x256 image: frames per second")
        for variant, fps in report["real_time"]["fps"].items():
            print(f"  {variant:28s}{fps:8.1f}")
    report["complete"] = True
    save(report, out, began)
    print(f"\nwrote {out} ({report['seconds']:.0f} s)")
    return 0


def save(report, out, began):
    """Write what is measured so far: a run stopped by a time limit keeps its figures."""
    report["seconds"] = round(time.perf_counter() - began, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(clean(report), indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
