"""Benchmark: FCN-8s and U-Net trained on MNIST scenes and on ISBI 2012 membranes.

    flock /tmp/coursekit-heavy.lock .venv/bin/python benchmarks/segmentation.py

Each model trains for the same wall-clock budget on the same data (whole epochs, as many
as fit in the budget), then is evaluated on held-out data: MNIST scenes made from
MNIST's *test* digits, and ISBI slices 25-29 (never trained on), segmented whole with
tiled inference. Prints a table and writes every figure, with the device and the
settings, to benchmarks/results/segmentation-<device>.json. ``--only isbi`` (or
``scenes``) reruns one task and updates its part of that file; each task records the
run (device, date) it comes from. ``--quick`` is a smoke test with tiny budgets.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from coursekit import data, losses, membranes, metrics, scenes, setup, train
from coursekit.fcn import FCN
from coursekit.unet import UNet, count_parameters

RESULTS = Path(__file__).resolve().parent / "results"

# Settings shared with chapters 4 and 5
SCENES = dict(size=64, max_digits=6)
SCENE_MODELS = {
    "FCN-8s": lambda: FCN(1, scenes.NUM_CLASSES, "8s", width=16),
    "U-Net": lambda: UNet(1, scenes.NUM_CLASSES, depth=3, width=8),
}
MEMBRANE_MODELS = {
    "FCN-8s": lambda: FCN(1, 2, "8s", width=16),
    "U-Net": lambda: UNet(1, 2, depth=4, width=8),
}
LR = 5e-3


def last_layer(model):
    """The 1x1 convolution that makes the class scores."""
    return model.head if isinstance(model, UNet) else model.classifier[-1]


def train_for(model, loader, seconds, device, loss_fn, lr):
    """Whole epochs of Adam until the next one would overrun ``seconds`` (the learning
    rate divided by 5 after 60% of the time); returns (epochs, seconds spent)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start, epochs, last = time.perf_counter(), 0, 0.0
    while time.perf_counter() - start + last <= seconds:
        if time.perf_counter() - start > 0.6 * seconds:
            for group in optimizer.param_groups:
                group["lr"] = lr / 5
        history = train.fit(model, loader, optimizer, 1, device, loss_fn=loss_fn)
        last, epochs = history[-1]["seconds"], epochs + 1
    return epochs, time.perf_counter() - start


@torch.no_grad()
def ms_per_image(model, shape, device, repeats=20):
    """Median milliseconds of one forward pass of one image, after a warm-up."""
    model.eval().to(device)
    x = torch.randn(1, *shape, device=device)
    times = []
    for i in range(repeats + 3):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def figures(cm, class_names):
    result = metrics.summary(cm, class_names)
    return {"miou": round(result["miou"], 4), "mean_dice": round(result["mean_dice"], 4),
            "pixel_accuracy": round(result["pixel_accuracy"], 4),
            "iou": {k: round(v, 4) for k, v in result["iou"].items()},
            "dice": {k: round(v, 4) for k, v in result["dice"].items()}}


def mnist_scenes(budget, n_train, n_test, device):
    setup.seed_everything(0)
    train_set = scenes.MNISTScenes(n_train, train=True, seed=1, **SCENES)
    test_set = scenes.MNISTScenes(n_test, train=False, seed=2, **SCENES)
    rows = {}
    for name, make in SCENE_MODELS.items():
        setup.seed_everything(0)
        model = make()
        with torch.no_grad():
            last_layer(model).bias.copy_(losses.class_prior_bias(train_set.semantic, 11))
        model.to(device)
        loader = DataLoader(train_set, batch_size=32, shuffle=True)
        epochs, seconds = train_for(model, loader, budget, device,
                                    losses.cross_entropy_dice, lr=LR)
        cm = metrics.evaluate_segmentation(model, DataLoader(test_set, batch_size=100),
                                           scenes.NUM_CLASSES, device)
        rows[name] = {"parameters": count_parameters(model), "epochs": epochs,
                      "training_seconds": round(seconds, 1),
                      "ms_per_image": round(ms_per_image(model, (1, 64, 64), device), 2),
                      **figures(cm, scenes.CLASS_NAMES)}
        print(f"MNIST scenes, {name}: {rows[name]['miou']:.3f} mIoU, {epochs} epochs in "
              f"{seconds:.0f} s", flush=True)
    return {"data": f"MNIST scenes 64x64, 1-6 digits: {n_train} training scenes from MNIST "
                    f"train digits, {n_test} held-out scenes from MNIST test digits",
            "budget_seconds": budget, "loss": "cross-entropy + soft Dice", "models": rows}


def scene_generation(count):
    """How fast MNIST scenes are made (MNIST already loaded): scenes per second."""
    digits, labels = data.as_tensors(data.mnist(train=True))
    start = time.perf_counter()
    scenes.MNISTScenes(count, seed=1, digits_pool=(digits[:, 0], labels), **SCENES)
    seconds = time.perf_counter() - start
    print(f"MNIST scenes: {count} made in {seconds:.2f} s", flush=True)
    return {"scenes": count, "seconds": round(seconds, 2),
            "scenes_per_second": round(count / seconds)}


def isbi(budget, crops, device):
    setup.seed_everything(0)
    train_images, train_labels = membranes.load("train")
    val_images, val_labels = membranes.load("validation")
    rows = {}
    for name, make in MEMBRANE_MODELS.items():
        setup.seed_everything(0)
        model = make()
        with torch.no_grad():
            last_layer(model).bias.copy_(losses.class_prior_bias(train_labels, 2))
        model.to(device)
        crop_set = membranes.MembraneCrops(train_images, train_labels, size=128,
                                           crops_per_epoch=crops, seed=0)
        loader = DataLoader(crop_set, batch_size=16, shuffle=True)
        epochs, seconds = train_for(model, loader, budget, device,
                                    losses.cross_entropy_dice, lr=LR)
        cm = torch.zeros(2, 2, dtype=torch.int64)
        for image, label in zip(val_images, val_labels, strict=True):
            logits = membranes.predict_tiled(model, image, tile=256, overlap=64, device=device)
            cm += metrics.confusion_matrix(logits.argmax(1)[0], label, 2)
        rows[name] = {"parameters": count_parameters(model), "epochs": epochs,
                      "training_seconds": round(seconds, 1),
                      "ms_per_image": round(ms_per_image(model, (1, 512, 512), device, 5), 1),
                      **figures(cm, membranes.CLASS_NAMES)}
        print(f"ISBI 2012, {name}: pixel accuracy {rows[name]['pixel_accuracy']:.3f}, "
              f"Dice (cell interior) {rows[name]['dice']['cell interior']:.3f}, "
              f"{epochs} epochs in {seconds:.0f} s", flush=True)
    return {"data": "ISBI 2012 membranes: random 128x128 crops (flips, quarter turns) of "
                    "slices 0-24; evaluated on the whole held-out slices 25-29 "
                    "(tiles of 256, overlap 64)",
            "budget_seconds": budget, "crops_per_epoch": crops,
            "loss": "cross-entropy + soft Dice", "models": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes-budget", type=float, default=170,
                        help="seconds of training per model on MNIST scenes (default 170)")
    parser.add_argument("--isbi-budget", type=float, default=150,
                        help="seconds of training per model on ISBI (default 150)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test")
    parser.add_argument("--out", type=Path, default=None, help="the JSON file to write")
    parser.add_argument("--only", choices=["scenes", "isbi", "generation"], default=None,
                        help="run one task and update its part of an existing JSON file")
    args = parser.parse_args(argv)
    device = setup.get_device()
    quick = args.quick
    out = args.out or RESULTS / f"segmentation-{device.type}.json"
    report = json.loads(out.read_text()) if args.only and out.is_file() else {}
    run = {"device": setup.describe_device(device),
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
           "torch": torch.__version__, "python": platform.python_version(),
           "threads": torch.get_num_threads(), "quick": quick,
           "date": time.strftime("%Y-%m-%d %H:%M")}
    report.update(run)
    report["scene_generation"] = {**scene_generation(200 if quick else 6000), "run": run}
    if args.only in (None, "scenes"):
        report["mnist_scenes"] = {**mnist_scenes(
            5 if quick else args.scenes_budget, 200 if quick else 6000,
            100 if quick else 1000, device), "run": run}
    if args.only in (None, "isbi"):
        report["isbi2012"] = {**isbi(5 if quick else args.isbi_budget,
                                     32 if quick else 400, device), "run": run}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    if args.only == "generation":
        return 0
    print(f"\n{'':28s}{'mIoU':>7s}{'px acc':>8s}{'Dice':>7s}{'params':>10s}{'train s':>9s}"
          f"{'ms/img':>8s}")
    for task in ("mnist_scenes", "isbi2012"):
        for name, row in report[task]["models"].items():
            print(f"{task + ' ' + name:28s}{row['miou']:7.3f}{row['pixel_accuracy']:8.3f}"
                  f"{row['mean_dice']:7.3f}{row['parameters']:10,d}"
                  f"{row['training_seconds']:9.0f}{row['ms_per_image']:8.1f}")
    print(f"device: {report['device']}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
