"""What chapter 7's widgets share (internal): checks of 0/1 masks and of probability maps,
and the picture of a predicted mask against the truth."""

import torch

from coursekit._checks import INTEGER_DTYPES, check_probabilities, check_tensor, describe
from coursekit.viz.segmentation import ERROR_COLOURS


def binary_mask(value, name: str, ndim=None, dims: str = "(H, W)") -> torch.Tensor:
    """``value`` as an int64 tensor of 0 and 1, after checking that it is a tensor (of
    ``ndim`` dimensions, if given) of any integer dtype or bool holding only 0 and 1."""
    check_tensor(value, name, ndim=ndim, dims=dims)
    if value.dtype not in INTEGER_DTYPES + (torch.bool,):
        hint = ("; for probabilities take (probabilities >= threshold) first"
                if value.is_floating_point() else "")
        raise TypeError(f"{name}: expected an integer or bool mask {dims} of 0 and 1, "
                        f"got {describe(value)}{hint}")
    value = value.detach().cpu().long()
    if value.numel() and not ((value == 0) | (value == 1)).all():
        found = sorted(value.unique().tolist())
        raise ValueError(f"{name}: expected a mask of 0 and 1 only, found values "
                         f"{found[:6]}{' ...' if len(found) > 6 else ''}")
    return value


def probability_map(value, name: str = "probabilities") -> torch.Tensor:
    """``value`` as a float64 (H, W) CPU tensor, after checking that it is an (H, W) float
    tensor of probabilities in [0, 1]."""
    check_tensor(value, name, ndim=2, dims="(H, W)")
    check_probabilities(value, name, dims="(H, W)")
    return value.detach().cpu().double()



def error_picture(truth: torch.Tensor, predicted: torch.Tensor):
    """(H, W, 3) RGB NumPy array of two (H, W) 0/1 masks: in both grey, in the truth only
    blue (missed), in the prediction only orange (extra), as ``viz.ERROR_COLOURS``; in
    neither white."""
    from matplotlib.colors import to_rgb

    picture = torch.ones(*truth.shape, 3, dtype=torch.float64)
    for key, where in [("right", (truth == 1) & (predicted == 1)),
                       ("missed", (truth == 1) & (predicted == 0)),
                       ("extra", (truth == 0) & (predicted == 1))]:
        picture[where] = torch.tensor(to_rgb(ERROR_COLOURS[key]), dtype=torch.float64)
    return picture.numpy()
