"""How sure is a score? Percentile bootstrap intervals over test images.

A score measured on a test set of N images is one draw: other test images from the same
source would give another number. The bootstrap imitates drawing new test sets by
drawing N images *with replacement* from the N we have (some twice, some not at all),
computing the score on each such resample, many times, and reading the spread:

- ``bootstrap_interval(cms, score)``: the score on all images, and the central
  ``confidence`` share of the resampled scores (the 2.5 % and 97.5 % percentiles for
  95 %), the *percentile* interval of Efron;
- ``paired_bootstrap(cms_a, cms_b, score)``: two models scored on the same images; each
  resample takes the same images for both, and the interval is that of the difference
  score(a) - score(b). Pairing removes the image-to-image variation both models share
  (a hard image is hard for both), so it is much narrower than two separate intervals.

What it assumes, and what it does not cover:

- the test images are independent draws from the images you care about. Resample
  *images*, never pixels: neighbouring pixels are not independent, and an interval over
  pixels would be far too narrow. Neighbouring slices of one stack are not independent
  either (ISBI's 5 validation slices are 5 neighbours: the interval is optimistic);
- N is not tiny: with 5 images there are only 126 distinct resamples, and the
  percentile interval undercovers (it contains the truth less often than it says);
- it measures the spread due to *which test images*, not due to training: another
  training seed gives another model, and that spread needs several trainings;
- a score that is a smooth function of counts (accuracy, IoU) behaves well; extreme
  quantiles of heavy-tailed per-image scores do not.

The resamples are drawn with a ``torch.Generator`` seeded by ``seed``: the same seed
gives exactly the same interval.
"""

import torch

from coursekit._checks import check_int, check_number, check_tensor, describe


def _check_cms(cms, name: str) -> torch.Tensor:
    check_tensor(cms, name, ndim=3, dims="(N, C, C)")
    if cms.shape[0] < 2 or cms.shape[1] != cms.shape[2] or cms.shape[1] < 2:
        raise ValueError(f"{name}: expected per-image confusion matrices (N, C, C) with "
                         f"N >= 2 images and C >= 2, got {describe(cms)}")
    return cms


def _check_score(score):
    if not callable(score):
        raise TypeError(f"score: expected a function of per-image confusion matrices "
                        f"(N, C, C) -> float, e.g. per_image.data_set_mean_iou, "
                        f"got {describe(score)}")
    return score


def _resample_indices(n: int, n_resamples: int, seed: int) -> torch.Tensor:
    """(n_resamples, n) image indices drawn with replacement, the same for the same seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(n, (n_resamples, n), generator=generator)


def _percentiles(values: torch.Tensor, confidence: float) -> tuple[float, float]:
    """The (1 - confidence) / 2 and (1 + confidence) / 2 quantiles (linear interpolation)."""
    low, high = torch.quantile(values, torch.tensor([(1 - confidence) / 2,
                                                     (1 + confidence) / 2],
                                                    dtype=torch.float64))
    return float(low), float(high)


def _float_score(score, cms, name: str) -> float:
    value = score(cms)
    try:
        value = float(value)
    except (TypeError, ValueError, RuntimeError):    # a tensor of several numbers, a dict...
        raise TypeError(f"score: expected a function returning one number, it returned "
                        f"{describe(value)} for {name}") from None
    return value


def bootstrap_interval(cms: torch.Tensor, score, n_resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> dict:
    """A percentile bootstrap confidence interval of ``score`` over test images.

    cms: (N, C, C) per-image confusion matrices (``per_image_confusion_matrices``), N >= 2.
    score: a function of such a stack -> float, e.g. ``per_image.data_set_mean_iou``,
    ``per_image.per_image_mean_iou`` or ``lambda cms: scores.accuracy(cms.sum(0))``.
    n_resamples: how many resamples (1000 is usual; at least 100); confidence: in (0, 1);
    seed: the resamples' seed (an int >= 0).

    Returns a dict: ``score`` (on all N images), ``low`` and ``high`` (the interval),
    ``resamples`` ((n_resamples,) float64, the score of each resample; NaN where a
    resample left nothing to measure, e.g. every drawn image all ignored: those are
    left out of the percentiles).
    """
    cms = _check_cms(cms, "cms")
    score = _check_score(score)
    n_resamples = check_int(n_resamples, "n_resamples", low=100)
    confidence = check_number(confidence, "confidence", low=0, high=1, low_open=True,
                              high_open=True)
    seed = check_int(seed, "seed", low=0)
    estimate = _float_score(score, cms, "all images")
    values = torch.empty(n_resamples, dtype=torch.float64)
    for r, images in enumerate(_resample_indices(len(cms), n_resamples, seed)):
        try:
            values[r] = _float_score(score, cms[images], "a resample")
        except ValueError:           # e.g. "cm: no pixel was counted"
            values[r] = torch.nan
    kept = values[~torch.isnan(values)]
    if kept.numel() < n_resamples // 2:
        raise ValueError(f"cms: the score could be measured on only {kept.numel()} of "
                         f"{n_resamples} resamples: too few counted pixels")
    low, high = _percentiles(kept, confidence)
    return {"score": estimate, "low": low, "high": high, "resamples": values}


def paired_bootstrap(cms_a: torch.Tensor, cms_b: torch.Tensor, score, n_resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0, truth_from: int = 0) -> dict:
    """A paired percentile bootstrap of score(model a) - score(model b) on the same images.

    cms_a, cms_b: (N, C, C) per-image confusion matrices of two models on the same N
    images, in the same order (the truth of image i is the same in both: its rows sum to
    the same counts). score, n_resamples, confidence, seed: as for ``bootstrap_interval``.
    truth_from: an int >= 0, the first row that holds truth (0: every row); 1 for
    ``multisets.count_confusion``'s matrices, whose row 0 ("nothing") holds each model's
    own false positives.

    Returns a dict: ``difference`` (score(a) - score(b) on all images), ``low`` and
    ``high`` (its interval), ``a_better`` (the share of resamples in which a scored
    higher: a description of the resamples, not a p-value) and ``resamples``
    ((n_resamples,) float64 differences). An interval that contains 0 says the test
    images cannot tell the two models apart at this confidence.
    """
    cms_a, cms_b = _check_cms(cms_a, "cms_a"), _check_cms(cms_b, "cms_b")
    if cms_a.shape != cms_b.shape:
        raise ValueError(f"cms_b: expected the shape of cms_a {tuple(cms_a.shape)} (the "
                         f"same images, the same classes), got {tuple(cms_b.shape)}")
    truth_from = check_int(truth_from, "truth_from", low=0, high=cms_a.shape[1] - 1)
    if not torch.equal(cms_a[:, truth_from:].sum(2), cms_b[:, truth_from:].sum(2)):
        raise ValueError("cms_b: expected the same images as cms_a (each image's true "
                         "counts, the row sums, must match), got different truths")
    score = _check_score(score)
    n_resamples = check_int(n_resamples, "n_resamples", low=100)
    confidence = check_number(confidence, "confidence", low=0, high=1, low_open=True,
                              high_open=True)
    seed = check_int(seed, "seed", low=0)
    difference = (_float_score(score, cms_a, "all images")
                  - _float_score(score, cms_b, "all images"))
    values = torch.empty(n_resamples, dtype=torch.float64)
    for r, images in enumerate(_resample_indices(len(cms_a), n_resamples, seed)):
        try:
            values[r] = (_float_score(score, cms_a[images], "a resample")
                         - _float_score(score, cms_b[images], "a resample"))
        except ValueError:
            values[r] = torch.nan
    kept = values[~torch.isnan(values)]
    if kept.numel() < n_resamples // 2:
        raise ValueError(f"cms_a: the score could be measured on only {kept.numel()} of "
                         f"{n_resamples} resamples: too few counted pixels")
    low, high = _percentiles(kept, confidence)
    return {"difference": difference, "low": low, "high": high,
            "a_better": float((kept > 0).double().mean()), "resamples": values}
