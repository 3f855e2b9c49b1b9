"""Train chapter 3's MNIST and CIFAR-10 recipes here; print and save the figures.

    COURSEKIT_DATA=... python benchmarks/classification.py [--cifar-epochs 3 --cifar-width 16]

For each data set: the device, which copy of the data (official or JPEG), the final
test accuracy, the training time until the test accuracy first reached the target
(checked after every epoch), and images per second of training with the
device-resident loader (``coursekit.device_loader``) against a standard ``DataLoader``
with PIL transforms (same model, same batch size, ``--compare-batches`` batches each),
and of the loaders alone. Writes ``benchmarks/results/classification-<device>.json``.
GPU recipe: ``--cifar-width 64 --cifar-epochs 12`` (not run here: no GPU).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from coursekit import data, models, setup, train
from coursekit.device_loader import DeviceLoader

RESULTS = Path(__file__).resolve().parent / "results"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(model, loader, device, batches, train_step=True):
    """Throughput of ``batches`` batches (after 2 warm-up batches), with or without training."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    seen, start = 0, None
    for i, (images, labels) in enumerate(loader):
        if i == 2:
            sync(device)
            start, seen = time.perf_counter(), 0
        if i == batches + 2:
            break
        images, labels = images.to(device, non_blocking=True), labels.to(device)
        if train_step:
            model.train()
            loss = loss_fn(model(images.float()), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seen += len(labels)
    sync(device)
    return seen / (time.perf_counter() - start)


def run(name, dataset_fn, make_model, epochs, lr, target, batch_size, device, augment,
        plain_transform, compare_batches, loss_fn):
    setup.seed_everything(0)
    train_set, test_set = dataset_fn(True), dataset_fn(False)
    source = getattr(train_set, "source", "official")
    x, y = data.as_tensors(train_set)
    xt, yt = data.as_tensors(test_set)
    mean, std = data.channel_stats(x)
    train_loader = DeviceLoader(x, y, batch_size, device, mean, std, shuffle=True,
                                drop_last=True, **augment)
    test_loader = DeviceLoader(xt, yt, 1000, device, mean, std)
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    scheduler = train.one_cycle(optimizer, lr, epochs, len(train_loader))
    history = train.fit(model, train_loader, optimizer, epochs, device, loss_fn=loss_fn,
                        test_loader=test_loader, scheduler=scheduler, amp=True, log=True)
    seconds, time_to_target = 0.0, None
    for row in history:
        seconds += row["seconds"]
        if time_to_target is None and row["test_accuracy"] >= target:
            time_to_target = seconds

    # the same model and batch size, fed by a standard DataLoader with PIL transforms
    plain_set = dataset_fn(True)
    plain_set.transform = transforms.Compose(
        [*plain_transform, transforms.ToTensor(), transforms.Normalize(mean.tolist(),
                                                                       std.tolist())])
    plain_loader = DataLoader(plain_set, batch_size=batch_size, shuffle=True,
                              num_workers=2, pin_memory=device.type == "cuda",
                              persistent_workers=False)
    fresh = make_model().to(device)
    device_ips = images_per_second(fresh, train_loader, device, compare_batches)
    plain_ips = images_per_second(fresh, plain_loader, device, compare_batches)
    device_only = images_per_second(fresh, train_loader, device, compare_batches, False)
    plain_only = images_per_second(fresh, plain_loader, device, compare_batches, False)
    return {
        "data set": name, "data source": source, "epochs": epochs,
        "final test accuracy": history[-1]["test_accuracy"],
        "target test accuracy": target,
        "training seconds to reach target": time_to_target,
        "training seconds in all": seconds,
        "train images/s, device loader (from the full run)":
            epochs * len(train_loader) * batch_size / seconds,
        f"train images/s over {compare_batches} batches, device loader": device_ips,
        f"train images/s over {compare_batches} batches, DataLoader + PIL": plain_ips,
        "training speed-up, device loader / DataLoader": device_ips / plain_ips,
        "loader-only images/s, device loader": device_only,
        "loader-only images/s, DataLoader + PIL (2 workers)": plain_only,
        "loader-only speed-up": device_only / plain_only,
        "history": list(history),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-epochs", type=int, default=3)
    parser.add_argument("--cifar-epochs", type=int, default=3)
    parser.add_argument("--cifar-width", type=int, default=16)
    parser.add_argument("--cifar-target", type=float, default=0.80)
    parser.add_argument("--compare-batches", type=int, default=20)
    parser.add_argument("--only", choices=["mnist", "cifar10"], default=None)
    args = parser.parse_args()
    device = setup.get_device()
    results = {"device": setup.describe_device(device), "torch": torch.__version__,
               "cpu": platform.processor() or platform.machine(), "runs": []}
    if args.only in (None, "mnist"):
        results["runs"].append(run(
            "MNIST", lambda t: data.mnist(t), models.MnistCNN, args.mnist_epochs, 0.2, 0.99,
            256, device, {"crop_padding": 2}, [transforms.RandomCrop(28, padding=2)],
            args.compare_batches, nn.CrossEntropyLoss()))
    if args.only in (None, "cifar10"):
        results["runs"].append(run(
            "CIFAR-10", lambda t: data.cifar10(t), lambda: models.ResNet9(width=args.cifar_width),
            args.cifar_epochs, 0.4, args.cifar_target, 256, device,
            {"crop_padding": 4, "flip": True},
            [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()],
            args.compare_batches, nn.CrossEntropyLoss(label_smoothing=0.2)))
    for r in results["runs"]:
        print(f"\n{r['data set']} ({r['data source']}) on {results['device']}:")
        for key, value in r.items():
            if key != "history":
                print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"classification-{device.type}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
