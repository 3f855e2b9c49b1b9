"""ISBI 2012 EM membrane segmentation: the data set of the original U-Net paper.

30 electron-microscope slices of a fruit fly's nerve tissue, 512x512 grayscale, each
with a label image: 1 for cell interior, 0 for membrane (the files store 255 and 0).
The 30 test slices come without labels, so the course holds out the last
``VALIDATION_SLICES`` of the labelled 30 for evaluation: a fixed split, and a
contiguous block, because neighbouring slices of the stack look alike.

Training uses random crops with flips and quarter turns (``MembraneCrops``);
``predict_tiled`` segments a whole slice tile by tile. ``weight_map`` makes the U-Net
paper's pixel weights, heavy on the thin membranes between neighbouring cells.

torchvision does not provide this data set, so the course repository carries it as one
archive, ``datasets/isbi2012-membrane.tar.gz`` (attribution and citation in
``datasets/README.md``). ``load`` downloads it from the repository at the book's version
(``coursekit.course.raw_url``) when the slices are not in the data root, and checks its
SHA-256 before unpacking anything.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch.utils.data import Dataset

from coursekit import course, setup
from coursekit._checks import (
    check_choice,
    check_indices,
    check_int,
    check_number,
    check_same_shape,
    check_tensor,
    check_weights,
    describe,
)
from coursekit.data import DataNotFoundError
from coursekit.joint_transforms import RandomCropFlipRotate

FOLDER = "isbi2012-membrane"
CLASS_NAMES = ("membrane", "cell interior")
NUM_SLICES = 30
VALIDATION_SLICES = tuple(range(25, 30))   # held out: slices 25..29
TRAIN_SLICES = tuple(range(0, 25))
ARCHIVE = "datasets/isbi2012-membrane.tar.gz"
"""The archive's path in the course repository: 30 labelled training slices, 30 test slices."""
ARCHIVE_SHA256 = "3acbccbb650095dc9b3c5600d9d973655b3e58f75beb3f86bd945644380c4af8"
"""Its SHA-256 (``tools/make_isbi_archive.py`` rebuilds the same bytes from the slices)."""


def _download_archive(folder: Path) -> None:
    """Download the course's ISBI 2012 archive, check its SHA-256 and unpack its slices
    into ``folder``; raise OSError (or ValueError for a damaged download) on failure,
    leaving nothing half-written behind."""
    url = course.raw_url(ARCHIVE)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".isbi-download-") as scratch:
        archive = Path(scratch) / "archive.tar.gz"
        digest = hashlib.sha256()
        print("Downloading ISBI 2012 membranes (13 MB) from the course repository ...")
        with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != ARCHIVE_SHA256:
            raise ValueError(f"the download from {url} is damaged or not the course's archive "
                             f"(SHA-256 {digest.hexdigest()[:16]}..., expected "
                             f"{ARCHIVE_SHA256[:16]}...); it was deleted")
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if (not member.isfile() or len(parts) < 2 or parts[0] != FOLDER
                        or ".." in parts or member.name.startswith("/")):
                    raise ValueError(f"the archive from {url} holds an unexpected entry "
                                     f"{member.name!r}")
                target = unpacked.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
        if folder.exists():                  # a partial copy: complete it, keep what is there
            for path in unpacked.rglob("*.png"):
                destination = folder / path.relative_to(unpacked)
                if not destination.exists():
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, destination)
        else:
            os.replace(unpacked, folder)


def load(split: str = "train", root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The labelled slices of one split: images (S, 1, 512, 512) float in [0, 1] and
    labels (S, 512, 512) int64 (1 = cell interior, 0 = membrane).

    split: "train" (slices 0-24), "validation" (25-29) or "all" (0-29). root: the
    folder (str or Path) that holds ``train/image/N.png`` and ``train/label/N.png``;
    None: ``isbi2012-membrane`` in the data root, downloaded there from the course
    repository (``ARCHIVE``, checked against ``ARCHIVE_SHA256``) when it is missing. A
    folder given as ``root`` is only read, never downloaded into.
    """
    slices = {"train": TRAIN_SLICES, "validation": VALIDATION_SLICES,
              "all": TRAIN_SLICES + VALIDATION_SLICES}
    check_choice(split, "split", tuple(slices))
    if root is not None and not isinstance(root, str | Path):
        raise TypeError(f"root: expected a folder (str or Path) or None, got {describe(root)}")
    folder = Path(root) if root is not None else setup.data_root() / FOLDER
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"root: expected a folder, got the file {folder}")

    def missing():
        return [folder / "train" / sub / f"{index}.png" for index in slices[split]
                for sub in ("image", "label")
                if not (folder / "train" / sub / f"{index}.png").is_file()]

    download_failed = ""
    if missing() and root is None:
        try:
            _download_archive(folder)
        except (OSError, ValueError, tarfile.TarError) as error:
            download_failed = (f"Downloading it from the course repository failed: {error}\n")
    if missing():
        raise DataNotFoundError(
            f"ISBI 2012 membranes is not available: {missing()[0]} is missing.\n"
            f"Searched: {folder}\n" + download_failed +
            "Fix: connect to the internet (the course downloads it from its repository: "
            f"{course.raw_url(ARCHIVE)}), or set COURSEKIT_DATA to a folder holding "
            "isbi2012-membrane/train/{image,label}/N.png (offline copies: run "
            "`../shared/data/prepare.sh DIR` and `export COURSEKIT_DATA=DIR`).")
    images, labels = [], []
    for index in slices[split]:
        image = np.array(Image.open(folder / "train" / "image" / f"{index}.png").convert("L"))
        label = np.array(Image.open(folder / "train" / "label" / f"{index}.png").convert("L"))
        images.append(torch.from_numpy(image).float()[None] / 255)
        labels.append(torch.from_numpy(label > 127).long())
    return torch.stack(images), torch.stack(labels)


# ============================================================ the U-Net paper's weight map

CELL_CONNECTIVITY = ndimage.generate_binary_structure(2, 1)
"""Cells are 4-connected: two interior pixels that touch only at a corner are two cells.
A membrane drawn one pixel wide along a diagonal leaves its two sides touching at the
corners; 8-connectivity would join them across it into one cell."""
BORDER_TOLERANCE = 1e-6
"""``weight_map`` leaves out border terms smaller than this (see ``_border_reach``)."""


def _cells(label: np.ndarray) -> tuple[np.ndarray, int]:
    """The cells of one label map (H, W) (1 = cell interior, 0 = membrane): (H, W) int32,
    0 on the membrane and 1..K on the K connected regions of the interior; and K."""
    return ndimage.label(label == 1, structure=CELL_CONNECTIVITY)


def _class_weights_of(label: np.ndarray, class_weights) -> np.ndarray:
    """w_c of one label map (H, W): (H, W) float64, the weight of each pixel's class.

    "balanced": n / (k n_c) for a pixel of class c, with n pixels, n_c of them in class c
    and k the number of classes present, so that w_c averages 1 over the map and each
    class present weighs the same in all (scikit-learn's "balanced", over the classes
    present); otherwise the (2,) tensor (membrane, cell interior) as given.
    """
    if isinstance(class_weights, torch.Tensor):
        return class_weights.double().numpy()[label]
    counts = np.bincount(label.ravel(), minlength=2).astype(np.float64)
    present = counts > 0
    per_class = np.zeros(2)
    per_class[present] = label.size / (present.sum() * counts[present])
    return per_class[label]


def _border_reach(w0: float, sigma: float) -> float:
    """The distance r beyond which the border term w0 exp(-r^2 / (2 sigma^2)) is below
    ``BORDER_TOLERANCE`` (0 when w0 itself is)."""
    if w0 <= BORDER_TOLERANCE:
        return 0.0
    return sigma * float(np.sqrt(2 * np.log(w0 / BORDER_TOLERANCE)))


def _two_nearest(cells: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """d1, d2: (H, W) float64, each pixel's Euclidean distance (between pixel centres) to
    the nearest pixel of its nearest and of its second-nearest cell; 0 inside a cell for
    d1; inf where fewer than two cells lie within ``reach``.

    One distance transform per cell, on the cell's bounding box widened by ``reach``: a
    pixel outside that window is farther than ``reach`` from every pixel of the cell, so
    d1 and d2 are exact wherever they are within ``reach``, and larger than ``reach``
    wherever they are not. Each cell's distances update the two smallest so far.
    """
    shape = cells.shape
    d1, d2 = np.full(shape, np.inf), np.full(shape, np.inf)
    margin = int(np.ceil(reach))
    for number, box in enumerate(ndimage.find_objects(cells), start=1):
        window = tuple(slice(max(s.start - margin, 0), min(s.stop + margin, n))
                       for s, n in zip(box, shape, strict=True))
        distance = ndimage.distance_transform_edt(cells[window] != number)
        nearest, second = d1[window], d2[window]           # views: updated in place
        np.minimum(second, np.maximum(nearest, distance), out=second)
        np.minimum(nearest, distance, out=nearest)
    return d1, d2


def _weight_map_2d(label: np.ndarray, w0: float, sigma: float, class_weights) -> np.ndarray:
    """``weight_map`` of one label map (H, W) of 0 and 1: (H, W) float64."""
    cells, _ = _cells(label)
    d1, d2 = _two_nearest(cells, _border_reach(w0, sigma))
    border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma ** 2)) * (cells == 0)
    return _class_weights_of(label, class_weights) + border


def weight_map(labels, w0: float = 10.0, sigma: float = 5.0, class_weights="balanced"):
    """The U-Net paper's pixel weights (Ronneberger et al. 2015, section 3):
    (H, W) or (N, H, W) float32 on the CPU, the shape of ``labels``.

        w(x) = w_c(x) + w0 exp(-(d1(x) + d2(x))^2 / (2 sigma^2))

    The second term is heavy on the thin membranes between two cells that nearly touch, the
    few pixels whose class decides whether the two come out separate or merged, and fades
    within a few sigma of them. labels: (H, W) or (N, H, W), 1 = cell interior, 0 =
    membrane, any integer dtype or bool; each map is weighed on its own. The cells are the
    connected regions of the interior, 4-connected (``CELL_CONNECTIVITY`` says why). d1, d2:
    the distance from the pixel's centre to the nearest pixel centre of the nearest and of
    the second-nearest cell; so across a straight gap of g membrane pixels between two
    cells, d1 + d2 = g + 1 at every pixel of the gap. The border term is given to membrane
    pixels only (inside a cell d1 = 0 and the cell is its own nearest; the paper's figure 3d
    and most implementations put it on the background between cells), and it is 0 where
    fewer than two cells exist (nothing to keep apart). Terms below ``BORDER_TOLERANCE``
    (1e-6) are left out: each cell's distances are computed only within reach of it
    (``_two_nearest``). A 512x512 ISBI slice (96 to 137 cells) takes 0.04-0.1 s on one core
    of the course's 2-core CPU (median 0.097 s over the 30 slices on a busy machine,
    2026-12-03), against 0.86 s with every cell's distances over the whole slice;
    tests/test_weight_map.py checks that the two agree.

    w0: a finite number >= 0 (10 in the paper); sigma: a finite number > 0, in pixels
    (about 5 in the paper); class_weights: w_c, "balanced" (n / (k n_c) for a pixel of a
    class with n_c of the map's n pixels, k the classes present: it averages 1 over the
    map) or a (2,) float tensor of weights >= 0 (membrane, cell interior).
    """
    labels = check_indices(labels, "labels", ndim=(2, 3), dims="(H, W) or (N, H, W)",
                           low=0, high=1, wanted="labels (0 membrane, 1 cell interior)")
    w0 = check_number(w0, "w0", low=0)
    sigma = check_number(sigma, "sigma", low=0, low_open=True)
    if isinstance(class_weights, torch.Tensor):
        check_weights(class_weights, "class_weights", ndim=1, dims="(2,)")
        if class_weights.shape != (2,):
            raise ValueError(f"class_weights: expected a (2,) tensor (membrane, cell "
                             f"interior), got {describe(class_weights)}")
        class_weights = class_weights.detach().cpu()
    else:
        check_choice(class_weights, "class_weights", ("balanced",))
    if labels.numel() == 0:
        return torch.zeros(labels.shape)
    maps = labels.cpu().numpy().reshape(-1, *labels.shape[-2:])
    weights = [_weight_map_2d(label, w0, sigma, class_weights) for label in maps]
    return torch.from_numpy(np.stack(weights)).float().reshape(labels.shape)


class MembraneCrops(Dataset):
    """Random ``size`` x ``size`` crops of the given slices, randomly flipped and turned,
    and elastically warped by ``elastic_sigma`` pixels if it is above 0.

    images: (S, C, H, W), any float dtype, S >= 1; labels: (S, H, W) class indices, any
    integer dtype or bool. size: an int from 1 to min(H, W); crops_per_epoch: an int
    >= 1; seed: an int >= 0; elastic_sigma: a finite number >= 0. ``len`` is
    ``crops_per_epoch``; item i (0 <= i < len) is a fresh random crop of slice i % S
    (image (C, size, size), label (size, size) int64), so every epoch sees new crops.
    The same seed repeats the crops.

    pixel_weights: None, or (S, H, W) float weights >= 0 of the slices (e.g.
    ``weight_map(labels)``): then item i is (image, label, weight), the weight (size,
    size) float32 moved exactly as the label (the same crop, flip, turns and warp, by
    nearest neighbour: each pixel's weight comes from the pixel its label comes from, so
    a border weight never slides onto a cell's interior, nor is blended with it), and
    the image and label are those it would be without weights.
    """

    def __init__(self, images, labels, size: int = 128, crops_per_epoch: int = 400,
                 seed: int = 0, elastic_sigma: float = 0.0, pixel_weights=None):
        check_tensor(images, "images", ndim=4, dims="(S, C, H, W)", kind="float")
        check_tensor(labels, "labels", ndim=3, dims="(S, H, W)")
        if labels.is_floating_point() or labels.is_complex():
            raise TypeError(f"labels: expected an integer tensor (S, H, W) of class indices, "
                            f"got {describe(labels)}")
        if labels.shape != (images.shape[0], *images.shape[2:]) or len(images) == 0:
            raise ValueError(f"labels: expected (S, H, W) matching images (S, C, H, W), S >= 1,"
                             f" got images {tuple(images.shape)} and labels {tuple(labels.shape)}")
        if pixel_weights is not None:
            check_weights(pixel_weights, "pixel_weights", ndim=3, dims="(S, H, W)")
            check_same_shape(pixel_weights, "pixel_weights", labels, "labels")
        self.images, self.labels, self.pixel_weights = images, labels, pixel_weights
        self.size = check_int(size, "size", low=1, high=min(images.shape[2:]))
        self.crops_per_epoch = check_int(crops_per_epoch, "crops_per_epoch", low=1)
        self.augment = RandomCropFlipRotate(size, seed, elastic_sigma)
        # each pixel's number in its slice, made once (per item it cost more than the rest)
        self._numbers = torch.arange(labels[0].numel()).view(labels.shape[1:])

    def __len__(self) -> int:
        return self.crops_per_epoch

    def __getitem__(self, index):
        # IndexError past the end: that is how ``for image, label in crops`` stops
        index = check_int(index, "index")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index: expected an int from 0 to {len(self) - 1}, got {index}")
        s = index % len(self) % len(self.images)
        if self.pixel_weights is None:
            image, label = self.augment(self.images[s], self.labels[s])
            return image.contiguous(), label.contiguous()
        # the transforms move a mask exactly; moved, a mask of pixel numbers says which
        # pixel of the slice each pixel of the crop comes from (same random draws)
        image, source = self.augment(self.images[s], self._numbers)
        # gathered in NumPy: torch's indexing took ~10 ms here with two busy threads
        source = source.cpu().numpy()
        label = self.labels[s].cpu().numpy().reshape(-1)[source]
        weight = self.pixel_weights[s].detach().float().cpu().numpy().reshape(-1)[source]
        label = torch.from_numpy(label).long().to(self.labels.device)
        weight = torch.from_numpy(weight).to(self.pixel_weights.device)
        return image.contiguous(), label.contiguous(), weight.contiguous()


def _check_image(image) -> torch.Tensor:
    """``image`` (N, C, H, W) or (C, H, W) float, as (N, C, H, W)."""
    check_tensor(image, "image", ndim=(3, 4), dims="(N, C, H, W) or (C, H, W)", kind="float")
    return image[None] if image.dim() == 3 else image


@torch.no_grad()
def predict_tiled(model, image: torch.Tensor, tile: int = 128, overlap: int = 32,
                  device="cpu") -> torch.Tensor:
    """Logits for a whole image, computed tile by tile: (N, num_classes, H, W) float32.

    image: (N, C, H, W) or (C, H, W), any float dtype the model takes. Tiles of ``tile``
    x ``tile`` pixels (an int from 1 to min(H, W)) overlap by ``overlap`` (an int from
    0 to tile - 1); where tiles overlap their logits are averaged, which hides the seams
    (a tile's border pixels see less context than its centre). The last tile of a row
    or column is moved back to end at the image's edge. device: where the model is
    ("cpu", "cuda" or a torch.device); the result comes back to the CPU. The model must
    give logits (N, num_classes, tile, tile) for a tile; it runs in eval mode, and is put
    back in the mode it was in.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}")
    image = _check_image(image)
    if not isinstance(device, str | torch.device):
        raise TypeError(f"device: expected a device such as 'cpu' or 'cuda', "
                        f"got {describe(device)}")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device: expected a device such as 'cpu' or 'cuda', "
                         f"got {device!r}") from None
    N, _, H, W = image.shape
    tile = check_int(tile, "tile", low=1, high=min(H, W))
    overlap = check_int(overlap, "overlap", low=0, high=tile - 1)
    step = tile - overlap

    def starts(length):
        positions = list(range(0, length - tile + 1, step))
        if positions[-1] != length - tile:
            positions.append(length - tile)   # one more tile, flush with the edge
        return positions

    was_training = model.training
    model.eval()
    try:
        total, count = None, torch.zeros(1, 1, H, W)
        for top in starts(H):
            for left in starts(W):
                window = image[:, :, top:top + tile, left:left + tile].to(device)
                logits = model(window).float().cpu()            # (N, classes, tile, tile)
                if logits.dim() != 4 or logits.shape[0] != N or logits.shape[2:] != (tile, tile):
                    raise ValueError(f"model: expected logits (N, classes, {tile}, {tile}) for "
                                     f"a tile of shape {tuple(window.shape)}, "
                                     f"got {describe(logits)}")
                if total is None:
                    total = torch.zeros(N, logits.shape[1], H, W)
                total[:, :, top:top + tile, left:left + tile] += logits
                count[:, :, top:top + tile, left:left + tile] += 1
    finally:
        model.train(was_training)
    return total / count


@torch.no_grad()
def predict_symmetric(model, image: torch.Tensor, tile: int = 128, overlap: int = 32,
                      device="cpu") -> torch.Tensor:
    """Class probabilities averaged over the 8 symmetries of the square: (N, classes, H, W).

    Test-time augmentation: the image is flipped or not and turned 0-3 quarter turns,
    each view is segmented with ``predict_tiled``, its probabilities are turned back to
    the original orientation, and the 8 are averaged. Membranes look the same in every
    orientation, so the 8 views are 8 honest opinions; their mean is steadier than one.
    image: (N, C, H, W) or (C, H, W), any float dtype the model takes, square or not (a
    view turned a quarter is W x H; turned back it is H x W again); tile, overlap: as
    for ``predict_tiled``, with tile <= min(H, W). Probabilities are the softmax of the
    logits; for a binary model (one logit per pixel) the sigmoid: (N, 1, H, W), the
    probability of class 1.
    """
    image = _check_image(image)
    total = 0
    for flip in (False, True):
        view = image.flip(-1) if flip else image
        for turns in range(4):
            logits = predict_tiled(model, view.rot90(turns, (-2, -1)), tile, overlap, device)
            probabilities = logits.sigmoid() if logits.shape[1] == 1 else logits.softmax(dim=1)
            probabilities = probabilities.rot90(-turns, (-2, -1))   # turn back
            total = total + (probabilities.flip(-1) if flip else probabilities)
    return total / 8
