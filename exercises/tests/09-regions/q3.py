# Public tests written by otter assign from solutions/09-regions.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(score_scene):
    """two 3s and a 7, read as a 3, an 8 and a 7"""
    import torch
    from coursekit import metrics
    from coursekit.grading import _fail, call, computed_by_hand
    rule = 'per digit d: TP = min(predicted[d], true[d]), FP = predicted[d] - TP, FN = true[d] - TP; sum each over the digits'

    def reference(predicted, true):
        cm = metrics.count_confusion(predicted[None], true[None])[0]
        return (int(cm.diagonal()[1:].sum()), int(cm[0, 1:].sum()), int(cm[1:, 0].sum()))

    def check(answer, expected, what, hint=''):
        what = f'score_scene on {what}'
        if not isinstance(answer, (tuple, list)) or len(answer) != 3:
            _fail(f'{what} returned {answer!r}, expected a tuple (tp, fp, fn)', 'return tp, fp, fn')
        if not all((type(value) is int for value in answer)):
            kinds = ', '.join((type(value).__name__ for value in answer))
            _fail(f'{what} returned ({kinds}), expected three Python ints', 'return int(...) of each sum')
        answer = tuple(answer)
        if answer != expected:
            if answer == (expected[0], expected[2], expected[1]):
                hint = 'FP are digits predicted but not there, FN digits there but not predicted: return (tp, fp, fn) in that order'
            _fail(f'{what} returned {answer}, expected {expected}', hint or rule)
    true = torch.tensor([0, 0, 0, 2, 0, 0, 0, 1, 0, 0])
    predicted = torch.tensor([0, 0, 0, 1, 0, 0, 0, 1, 1, 0])
    expected = reference(predicted, true)
    with computed_by_hand():
        got = call(score_scene, 'score_scene', predicted, true)
    check(got, expected, 'the example')

@test_case(points=None, hidden=False)
def test_f1(f1):
    """three scenes: the example, one read right, one with a digit missed"""
    import torch
    from coursekit import metrics
    from coursekit.grading import _fail, call, computed_by_hand
    rule = 'pool over all scenes and digits: TP, FP and FN summed first, then F1 = 2 TP / (2 TP + FP + FN); 1.0 when no digit is there and none was predicted'

    def reference(scenes):
        predicted = torch.stack([p.long() for p, _ in scenes])
        true = torch.stack([t.long() for _, t in scenes])
        return metrics.digit_f1(metrics.count_confusion(predicted, true))

    def mean_of_scenes(scenes):
        return sum((reference([scene]) for scene in scenes)) / len(scenes)

    def check(answer, expected, what, scenes, hint=''):
        what = f'f1 on {what}'
        if isinstance(answer, torch.Tensor) or not isinstance(answer, float):
            _fail(f'{what} returned {answer!r}, expected a Python float', 'return float(...) of the score')
        if not abs(answer - expected) <= 1e-09:
            if abs(answer - mean_of_scenes(scenes)) <= 1e-09:
                hint = "that is the mean of the scenes' F1 scores; pool instead: sum TP, FP and FN over all scenes, then one F1"
            _fail(f'{what} returned {answer:.4f}, expected {expected:.4f}', hint or rule)

    def counts(*digits):
        return torch.bincount(torch.tensor(digits, dtype=torch.long), minlength=10)
    scenes = [(counts(3, 8, 7), counts(3, 3, 7)), (counts(1, 1), counts(1, 1)), (counts(5), counts(5, 0, 9, 9))]
    expected = reference(scenes)
    with computed_by_hand():
        got = call(f1, 'f1', scenes)
    check(got, expected, 'three scenes', scenes)

