# Public tests written by otter assign from solutions/07-evaluation.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(mean_iou):
    """the example's matrix: class 3 occurs nowhere and is left out"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'IoU = TP / (TP + FP + FN) per class, NaN for a class absent from both truth and prediction; mIoU = the mean over the other classes (torch.nanmean)'
    absent = 'a class absent from both truth and prediction should be left out, not counted as 0'
    cm = torch.tensor([[3, 0, 0, 0], [0, 1, 0, 0], [0, 2, 2, 0], [0, 0, 0, 0]])
    expected = metrics.mean_iou(cm)
    with computed_by_hand():
        got = call(mean_iou, 'mean_iou', cm)
    iou = metrics.iou_per_class(cm)
    known_mistakes = [(float(iou.nan_to_num(0.0).mean()), absent), (float(iou[:3].mean() * 3 / 4), absent)]
    hint = formula
    if isinstance(got, float):
        hint = next((h for wrong, h in known_mistakes if abs(got - wrong) < 0.0001), hint)

    def check(answer, reference, what, hint=''):
        what = f'mean_iou on {what}'
        if isinstance(answer, torch.Tensor) or not isinstance(answer, float):
            _fail(f'{what} returned {answer!r}, expected a Python float', 'return float(...) of the mean')
        if not abs(answer - reference) <= 1e-06:
            _fail(f'{what} returned {answer:.4f}, expected {reference:.4f}', hint or formula)
    check(got, expected, 'the example', hint)

@test_case(points=None, hidden=False)
def test_predicted_only(mean_iou):
    """a class predicted but never true has IoU 0 and counts in the mean"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail
    formula = 'IoU = TP / (TP + FP + FN) per class, NaN for a class absent from both truth and prediction; mIoU = the mean over the other classes (torch.nanmean)'
    predicted = 'a class that was predicted but is absent from the truth has IoU 0 and counts in the mean: leave out only the classes absent from both'
    cm = torch.tensor([[6, 1, 2, 0], [1, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    expected = metrics.mean_iou(cm)
    got = call(mean_iou, 'mean_iou', cm)

    def check(answer, reference, what, hint=''):
        what = f'mean_iou on {what}'
        if isinstance(answer, torch.Tensor) or not isinstance(answer, float):
            _fail(f'{what} returned {answer!r}, expected a Python float', 'return float(...) of the mean')
        if not abs(answer - reference) <= 1e-06:
            _fail(f'{what} returned {answer:.4f}, expected {reference:.4f}', hint or formula)
    check(got, expected, 'a class predicted, never true', predicted)

