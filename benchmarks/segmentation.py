"""Benchmark: FCN-8s and U-Net trained on MNIST scenes and on ISBI 2012 membranes.

    flock /tmp/coursekit-heavy.lock .venv/bin/python benchmarks/segmentation.py

Both models train for the same number of epochs on the same data, seeded, so a CPU run
repeats exactly; the training time is measured and reported. They are then evaluated on
held-out data: MNIST scenes made from MNIST's *test* digits, and ISBI slices 25-29
(never trained on), segmented whole with tiled inference, once as is and once averaged
over the 8 flips and quarter turns of each slice (test-time augmentation). Prints a
table and writes every figure, with the device and the settings, to
benchmarks/results/segmentation-<device>.json. ``--only isbi`` (or ``scenes``) reruns
one task and updates its part of that file; each task records the run (device, date) it
comes from. ``--only isbi-seeds`` trains the ISBI U-Net unchanged, with elastic warps and
with the U-Net paper's weight map, from seeds 0, 1 and 2 each (``--seeds`` to change),
and scores every run by pixel accuracy, membrane F1, V_Rand and V_Info, with one view
and with eight. ``--quick`` is a smoke test with tiny settings.
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from coursekit import data, losses, membranes, metrics, profiling, scenes, setup, train
from coursekit.fcn import FCN
from coursekit.profiling import count_parameters
from coursekit.unet import UNet

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
SCHEDULE = "Adam, lr 5e-3, divided by 5 for the last quarter of the epochs"
SCENES_EPOCHS = 4
ISBI_EPOCHS = 20


def last_layer(model):
    """The 1x1 convolution that makes the class scores."""
    return model.head if isinstance(model, UNet) else model.classifier[-1]


def train_epochs(model, loader, epochs, device, loss_fn, lr):
    """``epochs`` epochs of Adam, the learning rate divided by 5 for the last quarter of
    them (at least the last one); returns the seconds spent training (one reading of
    ``profiling.time_callable``: no warm-up, since training cannot be repeated as is)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def run():
        for epoch in range(epochs):
            if epoch >= epochs - max(1, epochs // 4):
                for group in optimizer.param_groups:
                    group["lr"] = lr / 5
            train.fit(model, loader, optimizer, 1, device, loss_fn=loss_fn)

    return profiling.time_callable(run, warmup=0, repeats=1, device=device).median


def ms_per_image(model, shape, device, repeats=20):
    """Median milliseconds of one forward pass of one image, after 3 warm-up passes
    (``profiling.time_forward``: synchronised on a GPU)."""
    x = torch.randn(1, *shape)
    return profiling.time_forward(model, x, device, warmup=3, repeats=repeats).median * 1e3


def figures(cm, class_names):
    result = metrics.summary(cm, class_names)
    return {"miou": round(result["miou"], 4), "mean_dice": round(result["mean_dice"], 4),
            "pixel_accuracy": round(result["pixel_accuracy"], 4),
            "iou": {k: round(v, 4) for k, v in result["iou"].items()},
            "dice": {k: round(v, 4) for k, v in result["dice"].items()}}


def mnist_scenes(epochs, n_train, n_test, device):
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
        seconds = train_epochs(model, loader, epochs, device, losses.cross_entropy_dice, LR)
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
            "epochs": epochs, "loss": "cross-entropy + soft Dice", "schedule": SCHEDULE,
            "models": rows}


def scene_generation(count):
    """How fast MNIST scenes are made (MNIST already loaded): scenes per second."""
    digits, labels = data.as_tensors(data.mnist(train=True))
    seconds = profiling.time_callable(
        lambda: scenes.MNISTScenes(count, seed=1, digits_pool=(digits[:, 0], labels), **SCENES),
        warmup=0, repeats=1).median
    print(f"MNIST scenes: {count} made in {seconds:.2f} s", flush=True)
    return {"scenes": count, "seconds": round(seconds, 2),
            "scenes_per_second": round(count / seconds)}


def slice_figures(model, images, labels, device, symmetric):
    """Figures over whole held-out slices: tiled, and averaged over 8 views if asked.
    Besides the pixel figures: membrane F1 (the Dice of the membrane class, one
    confusion matrix over the slices) and the ISBI challenge's cell scores V_Rand and
    V_Info (``metrics.isbi_scores``: mean over slices)."""
    cm = torch.zeros(2, 2, dtype=torch.int64)
    predicted = []
    for image, label in zip(images, labels, strict=True):
        if symmetric:
            scores = membranes.predict_symmetric(model, image, tile=256, overlap=64,
                                                 device=device)
        else:
            scores = membranes.predict_tiled(model, image, tile=256, overlap=64, device=device)
        predicted.append(scores.argmax(1)[0].cpu())
        cm += metrics.confusion_matrix(predicted[-1], label, 2)
    result = figures(cm, membranes.CLASS_NAMES)
    cells = metrics.isbi_scores(torch.stack(predicted), labels)
    return {**result, "membrane_f1": result["dice"]["membrane"],
            "v_rand": round(cells["v_rand"], 4), "v_info": round(cells["v_info"], 4)}


def weight_map_loss(logits, target, pixel_weight):
    """The recipe's loss, cross-entropy + soft Dice, with the U-Net paper's weight map on
    its cross-entropy term (``losses.weighted_cross_entropy``); the Dice term unchanged."""
    return (losses.weighted_cross_entropy(logits, target, pixel_weight)
            + losses.soft_dice_loss(logits, target))


def train_on_membranes(model, images, labels, device, epochs, crop=128,
                       crops_per_epoch=400, batch_size=16, elastic_sigma=0.0,
                       loss_fn=losses.cross_entropy_dice, weight_map=False, seed=0):
    """Train on random crops of the training slices; returns the seconds spent.
    weight_map: crops carry the U-Net paper's weight map of their slice
    (``membranes.weight_map``, w0 10, sigma 5, balanced w_c: made before the clock
    starts) and ``weight_map_loss`` replaces ``loss_fn``. seed: the crops' seed (the
    caller seeds the weights and the shuffling with ``setup.seed_everything``)."""
    with torch.no_grad():
        last_layer(model).bias.copy_(losses.class_prior_bias(labels, 2))
    model.to(device)
    pixel_weights = membranes.weight_map(labels) if weight_map else None
    loss_fn = weight_map_loss if weight_map else loss_fn
    crop_set = membranes.MembraneCrops(images, labels, size=crop,
                                       crops_per_epoch=crops_per_epoch, seed=seed,
                                       elastic_sigma=elastic_sigma,
                                       pixel_weights=pixel_weights)
    loader = DataLoader(crop_set, batch_size=batch_size, shuffle=True)
    return train_epochs(model, loader, epochs, device, loss_fn, LR)


def isbi_row(model, seconds, epochs, val_images, val_labels, device):
    row = {"parameters": count_parameters(model), "epochs": epochs,
           "training_seconds": round(seconds, 1),
           "ms_per_image": round(ms_per_image(model, (1, 512, 512), device, 5), 1),
           **slice_figures(model, val_images, val_labels, device, False),
           "eight_views": slice_figures(model, val_images, val_labels, device, True)}
    for views, figures_ in (("1 view", row), ("8 views", row["eight_views"])):
        print(f"  {views}: pixel accuracy {figures_['pixel_accuracy']:.4f}, "
              f"Dice (cell interior) {figures_['dice']['cell interior']:.4f}, "
              f"membrane F1 {figures_['membrane_f1']:.4f}, V_Rand {figures_['v_rand']:.4f}, "
              f"V_Info {figures_['v_info']:.4f}", flush=True)
    print(f"  {epochs} epochs in {seconds:.0f} s", flush=True)
    return row


ISBI_DATA = ("ISBI 2012 membranes: random crops (flips, quarter turns) of slices 0-24; "
             "evaluated on the whole held-out slices 25-29 (tiles of 256, overlap 64); "
             "eight_views: probabilities averaged over the 8 flips and quarter turns of "
             "each slice")


def held_out_slices(quick):
    """The held-out slices 25-29 (for a quick smoke test only the top-left 256x256 pixels
    of slice 25: evaluating every recipe with eight views on whole slices took most of
    the smoke test's time)."""
    images, labels = membranes.load("validation")
    if quick:
        return images[:1, ..., :256, :256], labels[:1, ..., :256, :256]
    return images, labels


def isbi(epochs, crops, device, quick=False):
    train_images, train_labels = membranes.load("train")
    val_images, val_labels = held_out_slices(quick)
    rows = {}
    for name, make in MEMBRANE_MODELS.items():
        print(f"ISBI 2012, {name}:", flush=True)
        setup.seed_everything(0)
        model = make()
        seconds = train_on_membranes(model, train_images, train_labels, device, epochs,
                                     crops_per_epoch=crops)
        rows[name] = isbi_row(model, seconds, epochs, val_images, val_labels, device)
    return {"data": ISBI_DATA, "epochs": epochs, "crops_per_epoch": crops, "crop": 128,
            "loss": "cross-entropy + soft Dice", "schedule": SCHEDULE, "models": rows}


def isbi_recipes(epochs, crops, device, quick=False):
    """The U-Net of ``isbi`` trained with one change at a time: what helps? (The
    unchanged recipe is the U-Net row of ``isbi``: same seed, same figures.) The weight
    map recipe weighs each pixel's cross-entropy by the U-Net paper's map of its slice
    (``train_on_membranes(weight_map=True)``)."""
    recipes = {
        "width 16 (4x the parameters)": {"width": 16},
        "elastic warps, sigma 10 px": {"elastic_sigma": 10.0},
        "256x256 crops (same pixels per epoch)": {"crop": 256, "crops_per_epoch": crops // 4,
                                                  "batch_size": 4},
        "cross-entropy only": {"loss_fn": losses.cross_entropy},
        "twice the epochs": {"epochs": 2 * epochs},
        "U-Net weight map (w0 10, sigma 5 px)": {"weight_map": True},
    }
    train_images, train_labels = membranes.load("train")
    val_images, val_labels = held_out_slices(quick)
    rows = {}
    for name, change in recipes.items():
        print(f"ISBI 2012 recipe, U-Net, {name}:", flush=True)
        change = {"crops_per_epoch": crops, "epochs": epochs, **change}
        setup.seed_everything(0)
        model = UNet(1, 2, depth=4, width=change.pop("width", 8))
        seconds = train_on_membranes(model, train_images, train_labels, device, **change)
        rows[name] = isbi_row(model, seconds, change["epochs"], val_images, val_labels,
                              device)
    return {"data": ISBI_DATA, "baseline": "U-Net depth 4, width 8, 128x128 crops, "
            f"{crops} per epoch, batch 16, cross-entropy + soft Dice, {epochs} epochs",
            "recipes": rows}


SEEDED_ARMS = {
    "unchanged": {},
    "elastic warps, sigma 10 px": {"elastic_sigma": 10.0},
    "U-Net weight map (w0 10, sigma 5 px)": {"weight_map": True},
}
SEEDS = (0, 1, 2)
SCORES = ("pixel_accuracy", "membrane_f1", "v_rand", "v_info")


def spread(values):
    """Mean, min and max of a list of figures, rounded to 4 digits."""
    return {"mean": round(sum(values) / len(values), 4), "min": min(values),
            "max": max(values)}


def isbi_seeds(epochs, crops, device, seeds, quick=False):
    """The unchanged recipe against the U-Net paper's two tools, elastic warps and the
    weight map, one change at a time, each trained from every seed in ``seeds`` (the
    seed sets the weights, the shuffling and the crops). Each run is scored on the
    held-out slices with one view and with eight, by pixel accuracy, membrane F1, V_Rand
    and V_Info; each arm gets the mean, min and max over its seeds."""
    train_images, train_labels = membranes.load("train")
    val_images, val_labels = held_out_slices(quick)
    arms = {}
    for name, change in SEEDED_ARMS.items():
        runs = {}
        for seed in seeds:
            print(f"ISBI 2012 seeded, U-Net, {name}, seed {seed}:", flush=True)
            setup.seed_everything(seed)
            model = UNet(1, 2, depth=4, width=8)
            seconds = train_on_membranes(model, train_images, train_labels, device, epochs,
                                         crops_per_epoch=crops, seed=seed, **change)
            one = slice_figures(model, val_images, val_labels, device, False)
            eight = slice_figures(model, val_images, val_labels, device, True)
            runs[str(seed)] = {"training_seconds": round(seconds, 1),
                               "one_view": {k: one[k] for k in SCORES},
                               "eight_views": {k: eight[k] for k in SCORES}}
            for views in ("one_view", "eight_views"):
                print(f"  {views}: " + ", ".join(f"{k} {runs[str(seed)][views][k]:.4f}"
                                                 for k in SCORES), flush=True)
            print(f"  {epochs} epochs in {seconds:.0f} s", flush=True)
        arms[name] = {"seeds": runs, **{
            views: {k: spread([run[views][k] for run in runs.values()]) for k in SCORES}
            for views in ("one_view", "eight_views")},
            "training_seconds": spread([run["training_seconds"] for run in runs.values()])}
    return {"data": ISBI_DATA, "baseline": "U-Net depth 4, width 8, 128x128 crops, "
            f"{crops} per epoch, batch 16, cross-entropy + soft Dice, {epochs} epochs",
            "seeds": list(seeds), "scores": "pixel accuracy and membrane F1 (Dice of the "
            "membrane class) from one confusion matrix over the slices; V_Rand and V_Info "
            "(metrics.isbi_scores) the mean over slices; higher is better for all four",
            "arms": arms}


def print_seeded(seeded):
    print(f"\nISBI 2012 U-Net, seeds {seeded['seeds']}: mean [min, max]")
    for views in ("one_view", "eight_views"):
        print(f"{views:40s}" + "".join(f"{k:>22s}" for k in SCORES))
        for name, arm in seeded["arms"].items():
            print(f"{name:40s}" + "".join(
                f"{arm[views][k]['mean']:8.4f} [{arm[views][k]['min']:.3f}, "
                f"{arm[views][k]['max']:.3f}]" for k in SCORES))


def print_tables(report):
    print(f"\n{'':28s}{'mIoU':>7s}{'px acc':>8s}{'8 views':>8s}{'Dice':>7s}{'params':>10s}"
          f"{'train s':>9s}{'ms/img':>8s}")
    for task in ("mnist_scenes", "isbi2012"):
        for name, row in report.get(task, {}).get("models", {}).items():
            views = row.get("eight_views", {}).get("pixel_accuracy")
            print(f"{task + ' ' + name:28s}{row['miou']:7.3f}{row['pixel_accuracy']:8.3f}"
                  + (f"{views:8.3f}" if views is not None else f"{'':8s}")
                  + f"{row['mean_dice']:7.3f}{row['parameters']:10,d}"
                  f"{row['training_seconds']:9.0f}{row['ms_per_image']:8.1f}")
    recipes = report.get("isbi2012_recipes", {}).get("recipes", {})
    baseline = report.get("isbi2012", {}).get("models", {}).get("U-Net")
    if recipes and baseline:
        recipes = {"unchanged (isbi2012 U-Net)": baseline, **recipes}
    if recipes:
        print(f"\nISBI 2012 U-Net recipes{'':17s}{'px acc':>8s}{'8 views':>8s}"
              f"{'Dice (cell)':>12s}{'train s':>9s}")
        for name, row in recipes.items():
            print(f"{name:40s}{row['pixel_accuracy']:8.4f}"
                  f"{row['eight_views']['pixel_accuracy']:8.4f}"
                  f"{row['dice']['cell interior']:12.4f}{row['training_seconds']:9.0f}")
    if "isbi2012_seeds" in report:
        print_seeded(report["isbi2012_seeds"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes-epochs", type=int, default=SCENES_EPOCHS,
                        help=f"epochs per model on MNIST scenes (default {SCENES_EPOCHS})")
    parser.add_argument("--isbi-epochs", type=int, default=ISBI_EPOCHS,
                        help=f"epochs per model on ISBI (default {ISBI_EPOCHS})")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test")
    parser.add_argument("--out", type=Path, default=None, help="the JSON file to write")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS),
                        help="seeds of the seeded comparison (default 0 1 2; --quick: 0)")
    parser.add_argument("--only", choices=["scenes", "isbi", "isbi-recipes", "isbi-seeds",
                                           "generation"],
                        default=None,
                        help="run one task and update its part of an existing JSON file")
    args = parser.parse_args(argv)
    device = setup.get_device()
    quick = args.quick
    default = RESULTS / f"segmentation-{device.type}.json"
    if quick:   # a smoke test never overwrites the measured figures
        default = Path(tempfile.gettempdir()) / f"segmentation-{device.type}-quick.json"
    out = args.out or default
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
            1 if quick else args.scenes_epochs, 200 if quick else 6000,
            100 if quick else 1000, device), "run": run}
    if args.only in (None, "isbi"):
        report["isbi2012"] = {**isbi(1 if quick else args.isbi_epochs,
                                     32 if quick else 400, device, quick), "run": run}
    if args.only in (None, "isbi-recipes"):
        report["isbi2012_recipes"] = {**isbi_recipes(1 if quick else args.isbi_epochs,
                                                     32 if quick else 400, device, quick),
                                      "run": run}
    if args.only in (None, "isbi-seeds"):
        report["isbi2012_seeds"] = {**isbi_seeds(
            1 if quick else args.isbi_epochs, 16 if quick else 400, device,
            [0] if quick else args.seeds, quick), "run": run}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    if args.only == "generation":
        return 0
    print_tables(report)
    print(f"device: {report['device']}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
