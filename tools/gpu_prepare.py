"""Make what tools/gpu_pass.sh carries to a lent GPU machine, and check it fits.

    python3 tools/gpu_prepare.py [--shared ../shared/data] [--python-version 3.12]

The GPU machine gets a copy of the checkout and nothing of ``../shared``; each call may
carry ignored folders, all of it together at most 64 MiB. This writes, under
``build/gpu-carry/`` (ignored by git):

- ``wheels/``: the packages of ``tools/gpu_wheels.txt`` for the GPU machine's Python
  (Jupyter's kernel and client, for running notebooks there);
- ``measure-data/``: MNIST and the CIFAR-10 JPEG copy, whole (the speed benchmark, chapter
  3's CIFAR-10 recipe, chapter 8 run for real);
- ``smoke-data/``: MNIST whole, and for the fast-mode smoke test of every notebook a
  labelled subset of Fashion-MNIST (the first 6,000 training and 2,000 test images) and of
  the CIFAR-10 JPEG copy (the first 500 training and 100 test images of each class: fast
  mode uses 2,000 and 1,000, chapter 3 2,000 of five classes).
  ISBI 2012 needs nothing: its archive is in the repository (``datasets/``).

Both data folders have ``../shared/data``'s layout, so gpu_pass.sh lays them out the same
way. Then it adds up what each call would send (every file git tracks or would add, plus
the carried folders) and fails if a call is over 64 MiB, and prints the two calls to make.
"""

import argparse
import gzip
import io
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / "build" / "gpu-carry"
LIMIT = 64 * 2**20                      # bytes a device call may send, checkout included
FASHION_SUBSET = {"train": 6_000, "t10k": 2_000}
CIFAR_SUBSET = {"train": 500, "test": 100}   # images of each class: fast mode uses 2,000 + 1,000
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_26_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_12_x86_64",
             "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64", "any"]


def fetch_wheels(python_version: str, dest: Path) -> None:
    """tools/gpu_wheels.txt as wheels for CPython ``python_version`` on x86-64 Linux."""
    if dest.exists():                     # one version of each: two stop the install
        for wheel in dest.glob("*.whl"):
            wheel.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for name in PLATFORMS for arg in ("--platform", name)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "--python-version", python_version,
                    "--implementation", "cp", *platforms, "-d", str(dest),
                    "-r", str(ROOT / "tools" / "gpu_wheels.txt")], check=True)


def truncated_idx(source: Path, dest: Path, count: int) -> None:
    """The first ``count`` items of a gzipped IDX file (MNIST's format), with its header's
    item count set to ``count``."""
    raw = gzip.decompress(source.read_bytes())
    dims = raw[3]                                  # the magic number's last byte
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    if count > shape[0]:
        raise ValueError(f"count: {source.name} holds {shape[0]} items, asked for {count}")
    item = 1
    for size in shape[1:]:
        item *= size
    header = raw[:4] + count.to_bytes(4, "big") + raw[8: 4 + 4 * dims]
    body = raw[4 + 4 * dims: 4 + 4 * dims + count * item]
    dest.write_bytes(gzip.compress(header + body, mtime=0))


def cifar_subset(source: Path, dest: Path, per_class: dict) -> None:
    """The first images of each class and split of the CIFAR-10 JPEG archive, same layout."""
    taken = {}
    with tarfile.open(source) as full, tarfile.open(dest, "w:gz") as subset:
        for member in full:
            parts = Path(member.name).parts        # cifar10-jpg/<split>/<class>/NNNN.jpg
            if not member.isfile() or len(parts) != 4 or parts[1] not in per_class:
                continue
            key = parts[1:3]
            if taken.get(key, 0) >= per_class[parts[1]]:
                continue
            taken[key] = taken.get(key, 0) + 1
            data = full.extractfile(member).read()
            subset.addfile(member, io.BytesIO(data))
    if len(taken) != 20:
        raise ValueError(f"source: expected 10 classes in each of train and test, found "
                         f"{len(taken)} class folders in {source}")


def copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(source.read_bytes())


def make_data(shared: Path) -> None:
    measure, smoke = CARRY / "measure-data", CARRY / "smoke-data"
    for folder in (measure, smoke):
        for gz in sorted((shared / "mnist").glob("*-ubyte.gz")):
            copy(gz, folder / "mnist" / gz.name)
    copy(shared / "cifar10-jpg.tar.gz", measure / "cifar10-jpg.tar.gz")
    (smoke / "fashion-mnist").mkdir(parents=True, exist_ok=True)
    for gz in sorted((shared / "fashion-mnist").glob("*-ubyte.gz")):
        split = gz.name.split("-")[0]
        truncated_idx(gz, smoke / "fashion-mnist" / gz.name, FASHION_SUBSET[split])
    cifar_subset(shared / "cifar10-jpg.tar.gz", smoke / "cifar10-jpg.tar.gz", CIFAR_SUBSET)
    (smoke / "SUBSET.txt").write_text(
        "A smoke-test subset, not the data sets: Fashion-MNIST's first "
        f"{FASHION_SUBSET['train']:,} training and {FASHION_SUBSET['t10k']:,} test images; "
        f"the CIFAR-10 JPEG copy's first {CIFAR_SUBSET['train']} training and "
        f"{CIFAR_SUBSET['test']} test images of each class. MNIST is whole.\n")


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def checkout_bytes() -> int:
    """What every device call sends anyway: tracked files and untracked, unignored ones."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True,
                            check=True).stdout.split(b"\0")
    paths = [ROOT / name.decode() for name in listed if name]
    return sum(path.stat().st_size for path in paths if path.is_file())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the offline data sets (default: ../shared/data)")
    parser.add_argument("--python-version", default="3.12",
                        help="the GPU machine's Python, for its wheels (default: 3.12)")
    args = parser.parse_args(argv)
    for name in ("mnist", "fashion-mnist", "cifar10-jpg.tar.gz"):
        if not (args.shared / name).exists():
            parser.error(f"--shared: {args.shared / name} is missing (the offline data sets, "
                         f"../shared/data/README.md)")
    print(f"wheels for Python {args.python_version} ...", flush=True)
    fetch_wheels(args.python_version, CARRY / "wheels")
    print("data ...", flush=True)
    make_data(args.shared)
    base = checkout_bytes()
    calls = {"measure": ["build/gpu-carry/wheels", "build/gpu-carry/measure-data"],
             "smoke": ["build/gpu-carry/wheels", "build/gpu-carry/smoke-data"]}
    over = False
    print(f"\nthe checkout sends {base / 2**20:.1f} MiB on every call")
    for stage, carry in calls.items():
        total = base + sum(folder_bytes(ROOT / path) for path in carry)
        over |= total > LIMIT
        print(f"{stage}: {total / 2**20:.1f} MiB of 64 "
              f"({'OVER THE LIMIT' if total > LIMIT else 'fits'})\n"
              f"  run(command='bash tools/gpu_pass.sh {stage}', carry={carry}, "
              f"timeout_s=600)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
