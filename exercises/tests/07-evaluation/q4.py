# Public tests written by otter assign from solutions/07-evaluation.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(hd95):
    """the chapter's example: a 3x3 square moved one pixel, and a stray pixel"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail, computed_by_hand
    formula = "boundary pixels: object pixels with a background pixel above, below, left or right (outside the image counts as background); for each boundary pixel, the distance to the nearest boundary pixel of the other mask; HD95 = the larger of the two lists' 95th percentiles (torch.quantile(d, 0.95))"

    def check(answer, reference, what, hint=''):
        what = f'hd95 on {what}'
        if isinstance(answer, torch.Tensor) or not isinstance(answer, float):
            _fail(f'{what} returned {answer!r}, expected a Python float', 'return float(...) or .item() of the result')
        if not abs(answer - reference) <= 1e-06 + 1e-06 * abs(reference):
            _fail(f'{what} returned {answer:.4f}, expected {reference:.4f}', hint or formula)
    target = torch.zeros(6, 7, dtype=torch.long)
    target[1:4, 1:4] = 1
    prediction = torch.zeros(6, 7, dtype=torch.long)
    prediction[1:4, 2:5] = 1
    prediction[5, 6] = 1
    expected = metrics.hd95(prediction, target)
    with computed_by_hand():
        got = call(hd95, 'hd95', prediction, target)
    from_p = torch.tensor([0, 0, 1, 1, 1, 0, 0, 1, 13 ** 0.5], dtype=torch.float64)
    from_t = torch.tensor([1, 0, 0, 1, 1, 1, 0, 0], dtype=torch.float64)
    known_mistakes = [(13 ** 0.5, 'that is the largest distance (the Hausdorff distance): take the 95th percentile of each list, torch.quantile(d, 0.95)'), (float(torch.cat([from_p, from_t]).quantile(0.95)), 'take the 95th percentile of each list separately, then the larger of the two, not the percentile of both lists pooled'), (float(min(from_p.quantile(0.95), from_t.quantile(0.95))), 'HD95 is the larger of the two percentiles, not the smaller')]
    hint = formula
    if isinstance(got, float):
        hint = next((h for wrong, h in known_mistakes if abs(got - wrong) < 0.0001), hint)
    check(got, expected, 'the example (expected 2.5633)', hint)

@test_case(points=None, hidden=False)
def test_image_edge(hd95):
    """masks that touch the image's edge: their pixels there are boundary pixels"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail, computed_by_hand
    formula = "boundary pixels: object pixels with a background pixel above, below, left or right (outside the image counts as background); for each boundary pixel, the distance to the nearest boundary pixel of the other mask; HD95 = the larger of the two lists' 95th percentiles (torch.quantile(d, 0.95))"
    edge = "object pixels on the image's edge are boundary pixels: pad the mask with background (0), not with object"

    def check(answer, reference, what, hint=''):
        what = f'hd95 on {what}'
        if isinstance(answer, torch.Tensor) or not isinstance(answer, float):
            _fail(f'{what} returned {answer!r}, expected a Python float', 'return float(...) or .item() of the result')
        if not abs(answer - reference) <= 1e-06 + 1e-06 * abs(reference):
            _fail(f'{what} returned {answer:.4f}, expected {reference:.4f}', hint or formula)
    target = torch.zeros(6, 8, dtype=torch.long)
    target[:, :3] = 1
    prediction = torch.zeros(6, 8, dtype=torch.long)
    prediction[1:5, :3] = 1
    expected = metrics.hd95(prediction, target)
    with computed_by_hand():
        got = call(hd95, 'hd95', prediction, target)
    check(got, expected, 'two bands along the left edge of a 6x8 image', edge)

