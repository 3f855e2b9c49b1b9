"""Chapter 3's recipes, made fast, next to the recipe most people start from; prints and
saves the figures.

    COURSEKIT_DATA=... python benchmarks/classification.py [--only mnist|classic|cifar10]

Three runs on the current device, in one process, one after the other:

- **classic**: the PyTorch MNIST example (the pytorch "examples" repository, mnist/main.py): two
  convolutions (32 and 64 channels), dropout, a 9216 -> 128 -> 10 classifier, Adadelta at
  lr 1.0, batch 64, StepLR (gamma 0.7), a standard ``DataLoader`` with ``ToTensor`` and
  ``Normalize``; ``--classic-epochs`` of its 14 (2 by default: on a 2-core CPU each takes
  minutes).
- **mnist**: chapter 3's recipe (``MnistCNN``, channels_last, bfloat16 autocast where it is
  faster, SGD Nesterov + one-cycle to 0.1, label smoothing 0.1, shifts of 2 pixels, batch
  256, the device-resident loader), ``--mnist-epochs`` (4).
- **cifar10**: chapter 3's CIFAR-10 recipe (``ResNet9``, the same settings with crops and
  flips, one-cycle to 0.4, label smoothing 0.2); ``--cifar-width``/``--cifar-epochs``
  (24/18 on a CPU: at one CPU budget a wider network for fewer epochs beat width 16 for
  32; 64/18 on a GPU, as chapter 3 trains); also the accuracy with test-time flips.
  ``--cifar-seeds`` N trains N-1 more seeds of the same recipe and records each one's
  accuracy and seconds, with the mean and standard deviation over all N (the loader
  comparison runs once).

For each: the final test accuracy, the training seconds until the test accuracy first
reached the target (checked after every epoch; evaluation not counted), and the training
seconds in all. For the two fast recipes, also the training images per second with the
device-resident loader against a standard ``DataLoader`` with PIL transforms (same model,
same batch size), and of the loaders alone: the median of readings of 10 batches in a row
(``--compare-batches`` in all), after 3 uncounted ones (``coursekit.profiling.time_callable``;
the DataLoader's worker start-up is reported apart). ``--loaders-only`` redoes just those.
Writes ``benchmarks/results/classification-<device>.json``, or ``--out``
(runs given with ``--only`` replace their own entry and keep the others).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from coursekit import data, models, profiling, setup, train
from coursekit.device_loader import DeviceLoader

RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------------------
# The classic recipe: the PyTorch MNIST example, as written there
# --------------------------------------------------------------------------------------

class ClassicNet(nn.Module):
    """The PyTorch MNIST example's network: (N, 1, 28, 28) -> (N, 10) log-probabilities."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def classic_mnist(device, epochs, target, n=None):
    setup.seed_everything(1)                             # the example's default seed
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train_set, test_set = data.mnist(True), data.mnist(False)
    train_set.transform = test_set.transform = transform
    if n is not None:
        train_set = torch.utils.data.Subset(train_set, range(n))
        test_set = torch.utils.data.Subset(test_set, range(n))
    cuda = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True, **cuda)
    test_loader = DataLoader(test_set, batch_size=1000, **cuda)
    model = ClassicNet().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = F.nll_loss(model(images), labels)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        scheduler.step()
        held_out = train.evaluate(model, test_loader, device)
        history.append({"epoch": epoch, "seconds": seconds,
                        "test_accuracy": held_out["accuracy"]})
        print(f"classic epoch {epoch}: {seconds:.1f} s, test {held_out['accuracy']:.2%}",
              flush=True)
    return summarise("MNIST, classic (PyTorch example)", "official", history, target,
                     {"model": "ClassicNet (PyTorch MNIST example)", "batch size": 64,
                      "optimizer": "Adadelta lr 1.0, StepLR gamma 0.7",
                      "loader": "DataLoader + ToTensor/Normalize",
                      "epochs": f"{epochs} of the example's 14"})


# --------------------------------------------------------------------------------------
# The course's recipes
# --------------------------------------------------------------------------------------

def autocast(device, enabled):
    """Mixed precision as ``train.fit(amp=True)`` does it: bfloat16 on a CPU and recent
    GPUs, float16 on older ones."""
    half = (torch.bfloat16 if device.type == "cpu" or torch.cuda.is_bf16_supported()
            else torch.float16)
    return torch.autocast(device.type, dtype=half, enabled=enabled)


def bf16_is_faster(model, images, labels, device) -> bool:
    """Whether a bfloat16-autocast training step is at least 5% faster than float32 here
    (both in channels_last), as chapter 3 decides."""
    medians = {}
    for amp in (False, True):
        trial = model().to(device).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(trial.parameters(), lr=0.01, momentum=0.9)

        def step(trial=trial, optimizer=optimizer, amp=amp):
            with autocast(device, amp):
                loss = F.cross_entropy(trial(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        medians[amp] = profiling.time_callable(step, warmup=5, repeats=20,
                                               device=device).median
    return medians[True] < 0.95 * medians[False]


def fast_recipe(name, images, labels, test_images, test_labels, make_model, epochs, lr,
                label_smoothing, augment, target, device, source, seed=0, amp=None):
    """Train one seed of a recipe; ``amp`` None decides bfloat16 by timing it here."""
    setup.seed_everything(seed)
    mean, std = data.channel_stats(images)
    train_loader = DeviceLoader(images, labels, 256, device, mean, std, shuffle=True,
                                drop_last=True, seed=seed, **augment)
    test_loader = DeviceLoader(test_images, test_labels, 1000, device, mean, std)
    if amp is None:
        batch = next(iter(train_loader))
        amp = bf16_is_faster(make_model, *batch, device)
    setup.seed_everything(seed)
    model = make_model().to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    scheduler = train.one_cycle(optimizer, lr, epochs, len(train_loader))
    history = train.fit(model, train_loader, optimizer, epochs, device,
                        loss_fn=nn.CrossEntropyLoss(label_smoothing=label_smoothing),
                        test_loader=test_loader, scheduler=scheduler, amp=amp, log=True)
    settings = {"model": f"{type(model).__name__}, {profiling.count_parameters(model):,} "
                         "parameters",
                "batch size": 256, "epochs": epochs,
                "optimizer": f"SGD Nesterov, one-cycle to {lr}, weight decay 5e-4",
                "label smoothing": label_smoothing, "augmentation": augment,
                "channels_last": True, "bfloat16 autocast": amp,
                "loader": "DeviceLoader"}
    run = summarise(name, source, list(history), target, settings)
    run["seed"] = seed
    if augment.get("flip"):
        run["final test accuracy, flip TTA"] = flip_tta_accuracy(model, test_loader, device,
                                                                 amp)
    return run, (mean, std, amp)


@torch.no_grad()
def flip_tta_accuracy(model, loader, device, amp):
    """Test accuracy with test-time augmentation: the logits of each image and of its
    mirror image, added."""
    model.eval()
    correct = total = 0
    for images, labels in loader:
        with autocast(device, amp):
            logits = model(images).float() + model(images.flip(3)).float()
        correct += (logits.argmax(1) == labels).sum().item()
        total += len(labels)
    return correct / total


def loader_comparison(dataset_fn, plain_transform, make_model, images, labels, stats,
                      augment, device, batches):
    """Training and loading images/s: the device loader against DataLoader + PIL."""
    mean, std, amp = stats
    resident = DeviceLoader(images, labels, 256, device, mean, std, shuffle=True,
                            drop_last=True, **augment)
    plain_set = dataset_fn(True)
    plain_set.transform = transforms.Compose(
        [*plain_transform, transforms.ToTensor(),
         transforms.Normalize(mean.tolist(), std.tolist())])
    plain = DataLoader(plain_set, batch_size=256, shuffle=True, num_workers=2,
                       pin_memory=device.type == "cuda")
    model = make_model().to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    figures = {}
    for loader_name, loader in [("device loader", resident),
                                ("DataLoader + PIL (2 workers)", plain)]:
        for train_step in (True, False):
            start = time.perf_counter()
            iterator = iter(loader)
            next(iterator)
            startup = time.perf_counter() - start

            def step(iterator=iterator, train_step=train_step):
                images, labels = next(iterator)
                images, labels = images.to(device), labels.to(device)
                if train_step:
                    with autocast(device, amp):
                        loss = F.cross_entropy(model(images), labels)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()

            # each reading is 10 batches in a row: a DataLoader's workers prefetch, so
            # most single batches come at once and a few wait; the median of single
            # batches would hide the waits
            number = min(10, len(resident) - 4)          # fewer on --quick's 7 batches
            timing = profiling.time_callable(step, warmup=3,
                                             repeats=max(batches // number, 1),
                                             number=number, device=device)
            what = "training" if train_step else "loading only"
            figures[f"{what} images/s, {loader_name}"] = 256 / timing.median
            figures[f"{what} spread (IQR / median), {loader_name}"] = timing.spread
            if not train_step:
                figures[f"seconds to the first batch, {loader_name}"] = startup
    for what in ("training", "loading only"):
        figures[f"{what} speed-up, device loader / DataLoader"] = (
            figures[f"{what} images/s, device loader"]
            / figures[f"{what} images/s, DataLoader + PIL (2 workers)"])
    return figures


def loaders_only(args, device, runs):
    """Redo the loader comparison of the fast recipes in ``runs`` (same settings)."""
    for name, dataset_fn, plain, make, augment in [
            ("MNIST, chapter 3 recipe", data.mnist, [transforms.RandomCrop(28, padding=2)],
             models.MnistCNN, {"crop_padding": 2}),
            ("CIFAR-10, chapter 3 recipe", data.cifar10,
             [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()],
             lambda: models.ResNet9(width=runs["CIFAR-10, chapter 3 recipe"]["width"]),
             {"crop_padding": 4, "flip": True})]:
        if name not in runs or args.only not in (None, name.split(",")[0].lower()
                                                  .replace("-", "")):
            continue
        x, y = data.as_tensors(dataset_fn(True))
        mean, std = data.channel_stats(x)
        amp = runs[name]["settings"]["bfloat16 autocast"]
        runs[name]["loaders"] = loader_comparison(dataset_fn, plain, make, x, y,
                                                  (mean, std, amp), augment, device,
                                                  args.compare_batches)
        runs[name]["loaders run"] = {"date": time.strftime("%Y-%m-%d"),
                                     "device": setup.describe_device(device)}


def seed_spread(first, recipe, seeds, amp, seconds_left=None, first_wall_seconds=0.0):
    """Seeds 1..seeds-1 of ``recipe`` next to ``first`` (seed 0): each one's final
    accuracy (with and without flip TTA) and training seconds, and the mean and standard
    deviation of each over all seeds.

    seconds_left: None, or the wall-clock seconds the extra seeds may take: a seed is not
    started when the one before it (``first_wall_seconds`` for seed 0) took longer than
    what is left, and the summary says how many were asked for."""
    def row(run):
        return {"seed": run["seed"], "final test accuracy": run["final test accuracy"],
                "final test accuracy, flip TTA": run.get("final test accuracy, flip TTA"),
                "training seconds in all": run["training seconds in all"]}

    rows, last_wall = [row(first)], first_wall_seconds
    began = time.perf_counter()
    for seed in range(1, seeds):
        if seconds_left is not None and time.perf_counter() - began + last_wall > seconds_left:
            print(f"  seeds: stopping after {len(rows)} of {seeds}: the time budget is spent")
            break
        start = time.perf_counter()
        rows.append(row(fast_recipe(*recipe, seed=seed, amp=amp)[0]))
        last_wall = time.perf_counter() - start
    summary = {"runs": rows, "seeds asked for": seeds}
    for key in ("final test accuracy", "final test accuracy, flip TTA",
                "training seconds in all"):
        values = torch.tensor([r[key] for r in rows if r[key] is not None],
                              dtype=torch.float64)
        if len(values):
            summary[f"{key}, mean"] = values.mean().item()
            summary[f"{key}, sd"] = values.std().item() if len(values) > 1 else 0.0
    return summary


def summarise(name, source, history, target, settings):
    seconds, time_to_target = 0.0, None
    for row in history:
        seconds += row["seconds"]
        if time_to_target is None and row["test_accuracy"] >= target:
            time_to_target = seconds
    return {"data set": name, "data source": source, "settings": settings,
            "final test accuracy": history[-1]["test_accuracy"],
            "target test accuracy": target,
            "training seconds to reach target": time_to_target,
            "training seconds in all": seconds, "history": history}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["classic", "mnist", "cifar10"], default=None)
    parser.add_argument("--classic-epochs", type=int, default=2)
    parser.add_argument("--mnist-epochs", type=int, default=4)
    parser.add_argument("--cifar-epochs", type=int, default=18)
    parser.add_argument("--cifar-width", type=int, default=None,
                        help="ResNet9 width (default: 64 on a GPU, 24 on a CPU)")
    parser.add_argument("--cifar-seeds", type=int, default=1,
                        help="seeds of the CIFAR-10 recipe to train (0, 1, ...)")
    parser.add_argument("--cifar-target", type=float, default=0.88)
    parser.add_argument("--time-budget", type=float, default=None,
                        help="seconds the CIFAR-10 seeds may take in all, wall clock; extra "
                             "seeds that would not fit are not started (and the file says so)")
    parser.add_argument("--compare-batches", type=int, default=50)
    parser.add_argument("--loaders-only", action="store_true",
                        help="redo only the loader comparison of the runs chosen")
    parser.add_argument("--out", default=None,
                        help="the JSON file to write (default: "
                             "benchmarks/results/classification-<device>.json)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 2,000 training and 2,000 test images, 1 epoch "
                             "each, nothing written")
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else None
    if args.quick:
        args.classic_epochs = args.mnist_epochs = args.cifar_epochs = 1
        args.compare_batches = 3
    device = setup.get_device()
    out = Path(args.out) if args.out else RESULTS / f"classification-{device.type}.json"
    keep = args.only or args.loaders_only
    old = json.loads(out.read_text()) if out.exists() and keep else {"runs": []}
    runs = {run["data set"]: run for run in old.get("runs", [])}
    results = {"device": setup.describe_device(device), "torch": torch.__version__,
               "cpu": platform.processor() or platform.machine(),
               "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}

    if args.loaders_only:
        loaders_only(args, device, runs)
    elif args.only in (None, "classic"):
        run = classic_mnist(device, args.classic_epochs, 0.99, n)
        run["run"] = {"device": results["device"], "date": results["date"]}
        runs[run["data set"]] = run
    if args.only in (None, "mnist") and not args.loaders_only:
        x, y = data.as_tensors(data.mnist(True), limit=n)
        xt, yt = data.as_tensors(data.mnist(False), limit=n)
        run, stats = fast_recipe("MNIST, chapter 3 recipe", x, y, xt, yt, models.MnistCNN,
                                 args.mnist_epochs, 0.1, 0.1, {"crop_padding": 2}, 0.99,
                                 device, "official")
        run["loaders"] = loader_comparison(
            data.mnist, [transforms.RandomCrop(28, padding=2)], models.MnistCNN, x, y,
            stats, {"crop_padding": 2}, device, args.compare_batches)
        run["run"] = {"device": results["device"], "date": results["date"]}
        runs[run["data set"]] = run
    if args.only in (None, "cifar10") and not args.loaders_only:
        width = args.cifar_width or (64 if device.type == "cuda" else 24)
        epochs = args.cifar_epochs
        train_set = data.cifar10(True)
        x, y = data.as_tensors(train_set, limit=n)
        xt, yt = data.as_tensors(data.cifar10(False), limit=n)
        augment = {"crop_padding": 4, "flip": True}
        make = lambda: models.ResNet9(width=width)  # noqa: E731
        recipe = ("CIFAR-10, chapter 3 recipe", x, y, xt, yt, make, epochs, 0.4, 0.2,
                  augment, args.cifar_target, device,
                  getattr(train_set, "source", "official"))
        began = time.perf_counter()
        run, stats = fast_recipe(*recipe)
        first_wall = time.perf_counter() - began
        run["width"] = width
        if args.cifar_seeds > 1:
            left = None if args.time_budget is None else args.time_budget - first_wall
            run["seeds"] = seed_spread(run, recipe, args.cifar_seeds, amp=stats[2],
                                       seconds_left=left, first_wall_seconds=first_wall)
        run["loaders"] = loader_comparison(
            data.cifar10, [transforms.RandomCrop(32, padding=4),
                           transforms.RandomHorizontalFlip()], make, x, y, stats, augment,
            device, args.compare_batches)
        run["run"] = {"device": results["device"], "date": results["date"]}
        runs[run["data set"]] = run

    results["runs"] = list(runs.values())
    for r in results["runs"]:
        print(f"\n{r['data set']} ({r['data source']}) on {results['device']}:")
        for key, value in r.items():
            if key in ("history", "settings", "loaders", "seeds"):
                continue
            print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
        for key, value in r.get("seeds", {}).items():
            if key not in ("runs", "seeds asked for"):
                print(f"  seeds, {key}: {value:.4g}")
        for key, value in r.get("loaders", {}).items():
            print(f"  {key}: {value:,.4g}")
    if args.quick:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
