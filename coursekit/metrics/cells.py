"""The ISBI 2012 challenge's own scores: how well a membrane map cuts the tissue into cells.

A membrane segmentation is used to find cells (neurites): the connected regions of cell
interior between membranes. One missing membrane pixel can merge two cells, a serious
error for tracing neurons that pixel accuracy hardly sees. So the ISBI 2012 challenge
(Arganda-Carreras et al. 2015, "Crowdsourcing the creation of image segmentation
algorithms for connectomics", Front. Neuroanat. 9:142) scores the *cells*:

1. cells: threshold the map, then label the connected regions of cell interior with
   4-connectivity (pixels touch through an edge, not a corner: two cells meeting only
   at a corner stay two), as the challenge's Fiji scripts do (``scipy.ndimage.label``
   here); label 0 is membrane;
2. foreground restriction: only pixels inside a true cell count (n of them): where the
   true membrane lies is not judged, only how the cells are split; a predicted membrane
   pixel inside a true cell is a cell of its own (a singleton), as in the challenge;
3. V_Rand: draw two pixels at random (independently, with replacement: the challenge's
   "n^2 normalisation"). With p_ij the share of pixels in true cell i and predicted
   cell j, t_i and s_j the shares in true cell i and in predicted cell j,
   split score = sum p_ij^2 / sum t_i^2 (two pixels of one true cell are kept together),
   merge score = sum p_ij^2 / sum s_j^2 (two pixels of one predicted cell belong
   together), V_Rand = their harmonic mean = 2 sum p_ij^2 / (sum t_i^2 + sum s_j^2);
4. V_Info: the same with information instead of pair counts. With the entropies H(T),
   H(S) of the true and predicted cell labels of a random pixel and their mutual
   information I(S; T): split score = I / H(S), merge score = I / H(T),
   V_Info = 2 I / (H(S) + H(T)).

Both are 1 for a perfect cell segmentation and fall towards 0; higher is better. Where
an entropy is 0 (one cell only) its ratio is 0 / 0 and is taken as 1, no error of that
kind being possible: a single true cell cannot be merged, a single predicted cell cannot
be split (the challenge's code gives V_Info 0 when both are single cells; 1 is the limit
and what the variation of information, 0, says). A slice with no true cell pixel is an
error: there is nothing to measure.

Differences from the challenge's final leaderboard: it also thinned the predicted
membranes to one pixel with a watershed before scoring ("after thinning"), which this
module does not do; and it took the best score over the thresholds 0, 0.1, ..., 1 of
its non-membrane probability (``isbi_scores_at_thresholds`` scores several). Its stack
score is the mean over slices; so is ours. Against scikit-image:
``1 - skimage.metrics.adapted_rand_error(truth, proposal_with_singletons)[0]`` counts
pairs of *distinct* pixels (n(n-1), the SNEMI3D definition) and treats a proposal's
label 0 as one region: with singletons it agrees with V_Rand to about n / sum t_i^2;
``skimage.metrics.variation_of_information`` gives H(S|T) and H(T|S), from which V_Info
follows exactly.
"""

import math

import torch

from coursekit._checks import (
    check_class_indices,
    check_number,
    check_probabilities,
    check_same_shape,
    check_tensor,
    describe,
)
from coursekit.metrics.confusion import _as_class_indices, confusion_matrix
from coursekit.metrics.curves import _check_thresholds
from coursekit.metrics.scores import f1_per_class, pixel_accuracy

FOUR_CONNECTED = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
"""The neighbours a pixel is connected to: up, down, left and right (not diagonals)."""


def _check_mask(mask, name: str, dims=(2,), layout="(H, W)") -> torch.Tensor:
    """A cell-interior mask: 1 = cell, 0 = membrane, any integer dtype or bool, as int64."""
    mask = _as_class_indices(mask, name)
    check_tensor(mask, name, ndim=dims, dims=layout)
    check_class_indices(mask, name, 2)
    return mask


def label_cells(cell_mask: torch.Tensor) -> torch.Tensor:
    """Cells as connected regions: (H, W) mask -> (H, W) int64 labels.

    cell_mask: (H, W), 1 (or True) for cell interior, 0 for membrane, any integer dtype
    or bool. Returns 0 on membrane and 1, 2, ..., K on the K cells, each a region of
    4-connected cell pixels (through edges, not corners), numbered in reading order.
    """
    from scipy import ndimage

    mask = _check_mask(cell_mask, "cell_mask")
    labels, _ = ndimage.label(mask.cpu().numpy() > 0, structure=FOUR_CONNECTED)
    return torch.from_numpy(labels).long()


def cells_from_membrane_probability(membrane_probability: torch.Tensor,
                                    threshold: float = 0.5) -> torch.Tensor:
    """Cells of a membrane probability map: (H, W) float -> (H, W) int64 labels.

    A pixel is cell interior where its membrane probability is below ``threshold`` (in
    [0, 1]), then ``label_cells``. The challenge thresholded the probability of *not*
    membrane, q = 1 - p, keeping q > t: the same cells as p < 1 - t. For a two-class
    course model, the membrane probability is ``1 - probabilities[:, 1]``.
    """
    check_probabilities(membrane_probability, "membrane_probability", dims="(H, W)")
    check_tensor(membrane_probability, "membrane_probability", ndim=2, dims="(H, W)")
    threshold = check_number(threshold, "threshold", low=0, high=1)
    return label_cells(membrane_probability < threshold)


def _contingency(truth_cells, proposed_cells):
    """The counts both scores are read from, over the pixels inside true cells:
    (n, true cell sizes, predicted cell sizes, overlap counts, singletons), as float64."""
    truth = _as_class_indices(truth_cells, "truth_cells")
    proposed = _as_class_indices(proposed_cells, "proposed_cells")
    check_tensor(truth, "truth_cells", ndim=2, dims="(H, W)")
    check_same_shape(proposed, "proposed_cells", truth, "truth_cells")
    for labels, name in ((truth, "truth_cells"), (proposed, "proposed_cells")):
        if labels.numel() and labels.min() < 0:
            raise ValueError(f"{name}: expected cell labels >= 0 (0 = membrane), "
                             f"found {int(labels.min())}")
    inside = truth > 0                        # the foreground restriction
    t, s = truth[inside].cpu(), proposed[inside].cpu()
    if t.numel() == 0:
        raise ValueError("truth_cells: no cell pixel (every pixel is membrane): "
                         "there is nothing to measure")
    on_membrane = s == 0                      # predicted membrane inside a true cell
    singletons = float(on_membrane.sum())     # each such pixel is a cell of its own
    t_in, s_in = t[~on_membrane], s[~on_membrane]
    truth_sizes = torch.unique(t, return_counts=True)[1].double()
    proposed_sizes = torch.unique(s_in, return_counts=True)[1].double()
    overlaps = torch.unique(t_in * (int(s.max()) + 1) + s_in, return_counts=True)[1].double()
    return float(t.numel()), truth_sizes, proposed_sizes, overlaps, singletons


def rand_scores(truth_cells: torch.Tensor, proposed_cells: torch.Tensor) -> dict:
    """The challenge's foreground-restricted Rand scores: {"v_rand", "split", "merge"}.

    truth_cells, proposed_cells: (H, W) cell labels (``label_cells``): 0 = membrane,
    1..K = cells, any integer dtype. See the module's text for the definitions; all
    three are in (0, 1], 1 being perfect.
    """
    _, truth_sizes, proposed_sizes, overlaps, singletons = _contingency(truth_cells,
                                                                         proposed_cells)
    together_both = float((overlaps ** 2).sum()) + singletons    # pairs (with replacement)
    together_truth = float((truth_sizes ** 2).sum())
    together_proposed = float((proposed_sizes ** 2).sum()) + singletons
    return {"v_rand": 2 * together_both / (together_truth + together_proposed),
            "split": together_both / together_truth,
            "merge": together_both / together_proposed}


def _entropy(counts: torch.Tensor, n: float) -> float:
    """-sum p log p of the shares counts / n (natural log; the scores are ratios)."""
    p = counts / n
    return float(-(p * p.log()).sum())


def information_scores(truth_cells: torch.Tensor, proposed_cells: torch.Tensor) -> dict:
    """The challenge's foreground-restricted information scores: {"v_info", "split",
    "merge"}, plus the entropies they come from, in nats ("h_truth", "h_proposed",
    "mutual_information").

    Arguments as for ``rand_scores``. 0 / 0 (a single true or predicted cell) is 1.
    """
    n, truth_sizes, proposed_sizes, overlaps, singletons = _contingency(truth_cells,
                                                                        proposed_cells)
    singleton_entropy = singletons / n * math.log(n)   # each singleton has share 1 / n
    h_truth = _entropy(truth_sizes, n)
    h_proposed = _entropy(proposed_sizes, n) + singleton_entropy
    h_joint = _entropy(overlaps, n) + singleton_entropy
    mutual = min(max(h_truth + h_proposed - h_joint, 0.0), h_truth, h_proposed)
    one_truth_cell = len(truth_sizes) == 1
    one_proposed_cell = len(proposed_sizes) + singletons == 1
    split = 1.0 if one_proposed_cell else mutual / h_proposed
    merge = 1.0 if one_truth_cell else mutual / h_truth
    both_single = one_truth_cell and one_proposed_cell
    v_info = 1.0 if both_single else 2 * mutual / (h_truth + h_proposed)
    return {"v_info": v_info, "split": split, "merge": merge, "h_truth": h_truth,
            "h_proposed": h_proposed, "mutual_information": mutual}


def isbi_scores(predicted_cell_mask: torch.Tensor, cell_mask: torch.Tensor) -> dict:
    """V_Rand and V_Info of a predicted mask, mean over slices as in the challenge.

    predicted_cell_mask, cell_mask: (N, H, W) or (H, W), 1 = cell interior, 0 =
    membrane (the course's ISBI labels; any integer dtype or bool), e.g.
    ``predicted_classes(logits)`` and the true labels. Each slice's cells are labelled
    on their own (``label_cells``); returns floats {"v_rand", "v_rand_split",
    "v_rand_merge", "v_info", "v_info_split", "v_info_merge"}, each the mean over slices.
    """
    layout = "(N, H, W) or (H, W)"
    truth = _check_mask(cell_mask, "cell_mask", dims=(2, 3), layout=layout)
    predicted = _check_mask(predicted_cell_mask, "predicted_cell_mask", dims=(2, 3),
                            layout=layout)
    check_same_shape(predicted, "predicted_cell_mask", truth, "cell_mask")
    if truth.dim() == 2:
        truth, predicted = truth[None], predicted[None]
    if len(truth) == 0:
        raise ValueError(f"cell_mask: expected at least one slice, got {describe(truth)}")
    keys = ("v_rand", "v_rand_split", "v_rand_merge", "v_info", "v_info_split",
            "v_info_merge")
    total = dict.fromkeys(keys, 0.0)
    for true_slice, predicted_slice in zip(truth, predicted, strict=True):
        true_cells, predicted_cells = label_cells(true_slice), label_cells(predicted_slice)
        rand = rand_scores(true_cells, predicted_cells)
        info = information_scores(true_cells, predicted_cells)
        scores = {"v_rand": rand["v_rand"], "v_rand_split": rand["split"],
                  "v_rand_merge": rand["merge"], "v_info": info["v_info"],
                  "v_info_split": info["split"], "v_info_merge": info["merge"]}
        for key in keys:
            total[key] += scores[key] / len(truth)
    return total


def isbi_scores_at_thresholds(membrane_probability: torch.Tensor, cell_mask: torch.Tensor,
                              thresholds=None) -> dict:
    """Cell scores and pixel scores of a membrane probability map at several thresholds.

    The threshold best for V_Rand is usually not the one best for pixel accuracy: a
    lower membrane threshold draws more (thicker) membrane, which costs pixels but closes
    the one-pixel gaps that merge cells. membrane_probability: (N, H, W) or (H, W) float
    in [0, 1]; cell_mask: the same shape, 1 = cell interior, 0 = membrane; thresholds:
    None for 0.1, 0.2, ..., 0.9, an int k >= 2 for k evenly spaced in [0, 1], or a
    sequence of values in [0, 1]. A pixel is predicted cell where its membrane
    probability is below the threshold.

    Returns a dict of (T,) float64 tensors: "threshold", "v_rand", "v_info" (means over
    slices, ``isbi_scores``), "pixel_accuracy" and "membrane_f1" (read off one
    confusion matrix over all slices, membrane = class 0).
    """
    layout = "(N, H, W) or (H, W)"
    check_probabilities(membrane_probability, "membrane_probability", dims=layout)
    check_tensor(membrane_probability, "membrane_probability", ndim=(2, 3), dims=layout)
    truth = _check_mask(cell_mask, "cell_mask", dims=(2, 3), layout=layout)
    check_same_shape(truth, "cell_mask", membrane_probability, "membrane_probability")
    if thresholds is None:
        thresholds = torch.linspace(0.1, 0.9, 9, dtype=torch.float64)
    thresholds = _check_thresholds(thresholds)
    rows = {"threshold": thresholds, "v_rand": [], "v_info": [], "pixel_accuracy": [],
            "membrane_f1": []}
    for threshold in thresholds.tolist():
        predicted = (membrane_probability < threshold).long()
        cells = isbi_scores(predicted, truth)
        cm = confusion_matrix(predicted, truth, 2)
        rows["v_rand"].append(cells["v_rand"])
        rows["v_info"].append(cells["v_info"])
        rows["pixel_accuracy"].append(pixel_accuracy(cm))
        rows["membrane_f1"].append(float(f1_per_class(cm)[0]))
    for key in ("v_rand", "v_info", "pixel_accuracy", "membrane_f1"):
        rows[key] = torch.tensor(rows[key], dtype=torch.float64)
    return rows
