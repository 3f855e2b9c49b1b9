"""Oxford-IIIT Pet: photos of 37 breeds of cats and dogs with pet/background masks.

torchvision downloads it (about 800 MB; in Colab). Offline and without a copy,
``oxford_pet`` raises ``DataNotFoundError`` saying so; a chapter catches it and goes on.
The masks ("trimaps") mark pet, background and an uncertain border; here they become
1 = pet, 0 = background, 255 = border (ignored by the loss and the metrics).
"""

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import datasets

from coursekit import setup
from coursekit._checks import check_bool, check_choice, check_int, describe
from coursekit.data import DataNotFoundError
from coursekit.joint_transforms import resize
from coursekit.models import download_failure

CLASS_NAMES = ("background", "pet")
IGNORE = 255  # the trimap's uncertain border


class PetSegmentation(Dataset):
    """Pet images resized to ``size`` x ``size``: (3, size, size) float in [0, 1] and
    masks (size, size) int64 with 0, 1 and 255 (see the module's docstring).

    pets: torchvision's ``OxfordIIITPet`` with ``target_types="segmentation"`` (or any
    data set of (PIL image, PIL trimap) pairs); size: an int >= 1."""

    def __init__(self, pets, size: int = 128):
        if not (hasattr(pets, "__getitem__") and hasattr(pets, "__len__")):
            raise TypeError(f"pets: expected a data set of (image, trimap) pairs, "
                            f"got {describe(pets)}")
        self.pets, self.size = pets, check_int(size, "size", low=1)

    def __len__(self) -> int:
        return len(self.pets)

    def __getitem__(self, index):
        picture, trimap = self.pets[index]
        image = torch.from_numpy(np.array(picture.convert("RGB"))).permute(2, 0, 1).float() / 255
        trimap = torch.from_numpy(np.array(trimap)).long()        # 1 pet, 2 background, 3 border
        mask = torch.full_like(trimap, IGNORE)
        mask[trimap == 1], mask[trimap == 2] = 1, 0
        return resize(image, mask, self.size)


def oxford_pet(split: str = "trainval", size: int = 128, root=None, download: bool = True):
    """Oxford-IIIT Pet with segmentation masks, as a ``PetSegmentation`` data set.

    split: "trainval" (3,680 images) or "test" (3,669); size: an int >= 1; root: a
    folder (str or Path) or None for the data root; download: True or False.
    """
    check_choice(split, "split", ("trainval", "test"))
    size = check_int(size, "size", low=1)
    check_bool(download, "download")
    if root is not None and not isinstance(root, str | Path):
        raise TypeError(f"root: expected a folder (str or Path) or None, got {describe(root)}")
    place = f"{root}/oxford-iiit-pet" if root is not None else (
        f"{setup._data_root_label()}/oxford-iiit-pet")       # no folder of this machine
    root = Path(root) if root is not None else setup.data_root()
    try:
        pets = datasets.OxfordIIITPet(root, split=split, target_types="segmentation",
                                      download=download)
    except Exception as error:  # no internet, or not on disk with download=False
        why = download_failure(error) if download else "it is not on disk (download=False)"
        raise DataNotFoundError(
            f"Oxford-IIIT Pet is not available here: {why}.\n"
            f"Searched: {place}\n"
            "Fix: run this in Colab or online, where torchvision downloads it (about 800 MB); "
            "the course keeps no offline copy.") from None
    return PetSegmentation(pets, size)
