"""The GPU pass's tools (tools/gpu_prepare.py, tools/gpu_pass.sh) on the CPU: the data
subsets they carry read back as the loaders read them, and bad arguments are refused."""

import gzip
import importlib.util
import io
import subprocess
import tarfile

import numpy as np
import pytest
import torch
from torchvision.datasets.mnist import read_image_file, read_label_file

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("gpu_prepare", ROOT / "tools" / "gpu_prepare.py")
gpu_prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_prepare)


def idx_gz(path, array):
    """``array`` (uint8) written as a gzipped IDX file, MNIST's format."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        size.to_bytes(4, "big") for size in array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def test_truncated_idx_keeps_the_first_items_and_says_how_many(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, (50,), dtype=np.uint8)
    idx_gz(tmp_path / "images.gz", images)
    idx_gz(tmp_path / "labels.gz", labels)
    gpu_prepare.truncated_idx(tmp_path / "images.gz", tmp_path / "few-images.gz", 7)
    gpu_prepare.truncated_idx(tmp_path / "labels.gz", tmp_path / "few-labels.gz", 7)
    for name in ("few-images", "few-labels"):
        (tmp_path / name).write_bytes(gzip.decompress((tmp_path / f"{name}.gz").read_bytes()))
    read_images = read_image_file(str(tmp_path / "few-images"))   # torchvision's own reader
    read_labels = read_label_file(str(tmp_path / "few-labels"))
    assert read_images.shape == (7, 28, 28)
    assert torch.equal(read_images, torch.from_numpy(images[:7]))
    assert torch.equal(read_labels, torch.from_numpy(labels[:7]).long())
    with pytest.raises(ValueError, match="count: images.gz holds 50 items, asked for 51"):
        gpu_prepare.truncated_idx(tmp_path / "images.gz", tmp_path / "x.gz", 51)


def cifar_tar(path, per_class, classes=10):
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            for c in range(classes):
                for i in range(per_class):
                    data = f"{split}/{c}/{i}".encode()
                    info = tarfile.TarInfo(f"cifar10-jpg/{split}/class{c}/{i:04d}.jpg")
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))


def test_cifar_subset_takes_the_first_images_of_each_class_and_split(tmp_path):
    cifar_tar(tmp_path / "full.tar.gz", per_class=5)
    gpu_prepare.cifar_subset(tmp_path / "full.tar.gz", tmp_path / "subset.tar.gz",
                             {"train": 3, "test": 2})
    with tarfile.open(tmp_path / "subset.tar.gz") as subset:
        names = sorted(member.name for member in subset if member.isfile())
        first = subset.extractfile("cifar10-jpg/train/class4/0000.jpg").read()
    assert len(names) == 10 * (3 + 2)
    assert "cifar10-jpg/train/class4/0002.jpg" in names
    assert "cifar10-jpg/train/class4/0003.jpg" not in names
    assert "cifar10-jpg/test/class0/0002.jpg" not in names
    assert first == b"train/4/0"
    cifar_tar(tmp_path / "nine.tar.gz", per_class=2, classes=9)
    with pytest.raises(ValueError, match="expected 10 classes in each of train and test"):
        gpu_prepare.cifar_subset(tmp_path / "nine.tar.gz", tmp_path / "s.tar.gz",
                                 {"train": 1, "test": 1})


@pytest.mark.parametrize("args, message", [
    ([], "expected a stage, measure, smoke or all; got ''"),
    (["everything"], "expected a stage, measure, smoke or all; got 'everything'"),
    (["smoke", "--device", "tpu"], "--device: expected cuda or cpu, got 'tpu'"),
    (["smoke", "--fast"], "unknown option --fast"),
])
def test_gpu_pass_refuses_bad_arguments_before_doing_anything(tmp_path, args, message):
    out = tmp_path / "out"
    result = subprocess.run(["bash", str(ROOT / "tools" / "gpu_pass.sh"), *args],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "OUT": str(out)})
    assert result.returncode == 2
    assert message in result.stderr
    assert not out.exists()                # refused before writing anything
