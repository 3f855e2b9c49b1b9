"""What the sandbox withholds from the course data: the labels a hidden check scores with.

Exercise 3's question 7 scores the student's model on Fashion-MNIST's test set in the
grader's process: the grader reads the test labels, the submission only sees the images it
is asked to classify. Inside the sandbox the test-label file is replaced by one of the same
format and length that says 0 for every image (``hidden_in``), so that a lookup table built
from it (no training, 100 %) is worth nothing, and an honest notebook that evaluates itself
on the test set still runs (its own printed accuracy is then meaningless; the grader's is
not)."""

import struct
from pathlib import Path

WITHHELD_LABELS = ("FashionMNIST/raw/t10k-labels-idx1-ubyte",)
"""Label files (IDX, under the course data) the submission sees as all zeros."""


def zero_labels(path):
    """The bytes of an IDX label file like ``path`` (magic 2049, its count) whose labels
    are all 0."""
    with open(path, "rb") as file:
        magic, count = struct.unpack(">II", file.read(8))
    if magic != 2049:
        raise ValueError(f"{path}: not an IDX label file (magic {magic})")
    return struct.pack(">II", magic, count) + bytes(count)


def hidden_in(argv, binds, data_dir):
    """bwrap's ``argv`` with each withheld file under ``data_dir`` (a Path, or None: no
    data mounted) shown as its stand-in: read-only, from a file descriptor added to
    ``binds`` (``binds.pass_file``), mounted after every other mount (before
    ``--clearenv``, where ``sandbox`` ends its mounts)."""
    if data_dir is None:
        return argv
    extra = []
    for relative in WITHHELD_LABELS:
        path = Path(data_dir) / relative
        if path.is_file():
            fd = binds.pass_file(zero_labels(path))
            extra += ["--perms", "0444", "--ro-bind-data", str(fd), str(path)]
    at = argv.index("--clearenv")
    return argv[:at] + extra + argv[at:]
