"""ISBI 2012 EM membrane segmentation: the data set of the original U-Net paper.

30 electron-microscope slices of a fruit fly's nerve tissue, 512x512 grayscale, each
with a label image: 1 for cell interior, 0 for membrane (the files store 255 and 0).
The 30 test slices come without labels, so the course holds out the last
``VALIDATION_SLICES`` of the labelled 30 for evaluation: a fixed split, and a
contiguous block, because neighbouring slices of the stack look alike.

Training uses random crops with flips and quarter turns (``MembraneCrops``);
``predict_tiled`` segments a whole slice tile by tile.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from coursekit import setup
from coursekit.data import DataNotFoundError
from coursekit.joint_transforms import RandomCropFlipRotate

FOLDER = "isbi2012-membrane"
CLASS_NAMES = ("membrane", "cell interior")
NUM_SLICES = 30
VALIDATION_SLICES = tuple(range(25, 30))   # held out: slices 25..29
TRAIN_SLICES = tuple(range(0, 25))


def load(split: str = "train", root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The labelled slices of one split: images (S, 1, 512, 512) float in [0, 1] and
    labels (S, 512, 512) int64 (1 = cell interior, 0 = membrane).

    split: "train" (slices 0-24), "validation" (25-29) or "all" (0-29).
    """
    slices = {"train": TRAIN_SLICES, "validation": VALIDATION_SLICES,
              "all": TRAIN_SLICES + VALIDATION_SLICES}
    if split not in slices:
        raise ValueError(f"split: expected 'train', 'validation' or 'all', got {split!r}")
    folder = Path(root) if root is not None else setup.data_root() / FOLDER
    missing = [folder / sub / "0.png" for sub in ("train/image", "train/label")
               if not (folder / sub / "0.png").is_file()]
    if missing:
        raise DataNotFoundError(
            f"ISBI 2012 membranes is not available: {missing[0]} is missing.\n"
            f"Searched: {folder}\n"
            "Fix: set COURSEKIT_DATA to a folder holding isbi2012-membrane/train/{image,label}/"
            "N.png (offline copies: run `../shared/data/prepare.sh DIR` and "
            "`export COURSEKIT_DATA=DIR`). torchvision does not download this data set.")
    images, labels = [], []
    for index in slices[split]:
        image = np.array(Image.open(folder / "train" / "image" / f"{index}.png").convert("L"))
        label = np.array(Image.open(folder / "train" / "label" / f"{index}.png").convert("L"))
        images.append(torch.from_numpy(image).float()[None] / 255)
        labels.append(torch.from_numpy(label > 127).long())
    return torch.stack(images), torch.stack(labels)


class MembraneCrops(Dataset):
    """Random ``size`` x ``size`` crops of the given slices, randomly flipped and turned,
    and elastically warped by ``elastic_sigma`` pixels if it is above 0.

    images: (S, 1, H, W) float; labels: (S, H, W) int64. ``len`` is ``crops_per_epoch``;
    item i is a fresh random crop of slice i % S (image (1, size, size), label (size,
    size)), so every epoch sees new crops. seed: the same seed repeats the crops.
    """

    def __init__(self, images, labels, size: int = 128, crops_per_epoch: int = 400,
                 seed: int = 0, elastic_sigma: float = 0.0):
        if images.dim() != 4 or labels.shape != (images.shape[0], *images.shape[2:]):
            raise ValueError(f"labels: expected (S, H, W) matching images (S, C, H, W), got "
                             f"images {tuple(images.shape)} and labels {tuple(labels.shape)}")
        self.images, self.labels = images, labels
        self.crops_per_epoch = crops_per_epoch
        self.augment = RandomCropFlipRotate(size, seed, elastic_sigma)

    def __len__(self) -> int:
        return self.crops_per_epoch

    def __getitem__(self, index):
        s = index % len(self.images)
        image, label = self.augment(self.images[s], self.labels[s])
        return image.contiguous(), label.contiguous()


@torch.no_grad()
def predict_tiled(model, image: torch.Tensor, tile: int = 128, overlap: int = 32,
                  device="cpu") -> torch.Tensor:
    """Logits for a whole image, computed tile by tile: (N, num_classes, H, W).

    image: (N, C, H, W) or (C, H, W). Tiles of ``tile`` x ``tile`` pixels overlap by
    ``overlap``; where tiles overlap their logits are averaged, which hides the seams
    (a tile's border pixels see less context than its centre). The last tile of a row
    or column is moved back to end at the image's edge. Needs H and W >= tile.
    """
    if image.dim() == 3:
        image = image[None]
    N, _, H, W = image.shape
    if not 0 <= overlap < tile <= min(H, W):
        raise ValueError(f"tile, overlap: expected 0 <= overlap < tile <= {min(H, W)}, "
                         f"got tile={tile}, overlap={overlap}")
    step = tile - overlap

    def starts(length):
        positions = list(range(0, length - tile + 1, step))
        if positions[-1] != length - tile:
            positions.append(length - tile)   # one more tile, flush with the edge
        return positions

    model.eval()
    total, count = None, torch.zeros(1, 1, H, W)
    for top in starts(H):
        for left in starts(W):
            window = image[:, :, top:top + tile, left:left + tile].to(device)
            logits = model(window).float().cpu()            # (N, classes, tile, tile)
            if total is None:
                total = torch.zeros(N, logits.shape[1], H, W)
            total[:, :, top:top + tile, left:left + tile] += logits
            count[:, :, top:top + tile, left:left + tile] += 1
    return total / count


@torch.no_grad()
def predict_symmetric(model, image: torch.Tensor, tile: int = 128, overlap: int = 32,
                      device="cpu") -> torch.Tensor:
    """Class probabilities averaged over the 8 symmetries of the square: (N, classes, H, W).

    Test-time augmentation: the image is flipped or not and turned 0-3 quarter turns,
    each view is segmented with ``predict_tiled``, its softmax is turned back to the
    original orientation, and the 8 are averaged. Membranes look the same in every
    orientation, so the 8 views are 8 honest opinions; their mean is steadier than one.
    image: (N, C, H, W) or (C, H, W), square for the quarter turns to keep its shape.
    """
    if image.dim() == 3:
        image = image[None]
    if image.shape[-1] != image.shape[-2]:
        raise ValueError(f"image: expected a square image, got {tuple(image.shape[-2:])}")
    total = 0
    for flip in (False, True):
        view = image.flip(-1) if flip else image
        for turns in range(4):
            logits = predict_tiled(model, view.rot90(turns, (-2, -1)), tile, overlap, device)
            probabilities = logits.softmax(dim=1).rot90(-turns, (-2, -1))   # turn back
            total = total + (probabilities.flip(-1) if flip else probabilities)
    return total / 8
