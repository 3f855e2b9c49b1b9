# Public tests written by otter assign from solutions/07-evaluation.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(precision_recall_f1):
    """the example's matrix: precision (1, 1/3, 1, nan), recall (1, 1, 1/2, nan)"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'precision = TP / (TP + FP), the diagonal over the column sums; recall = TP / (TP + FN), over the row sums; F1 = 2 TP / (2 TP + FP + FN)'
    absent = 'a class absent from both truth and prediction has nothing to measure: NaN, not 0'
    occurs = 'only a class absent from both truth and prediction is NaN; one that occurs but was never predicted (or is never true) scores 0 where its denominator is 0'
    cm = torch.tensor([[3, 0, 0, 0], [0, 1, 0, 0], [0, 2, 2, 0], [0, 0, 0, 0]])
    expected = (metrics.precision_per_class(cm), metrics.recall_per_class(cm), metrics.f1_per_class(cm))
    with computed_by_hand():
        got = call(precision_recall_f1, 'precision_recall_f1', cm)
    hint = formula
    if isinstance(got, (tuple, list)) and len(got) == 3 and all((isinstance(t, torch.Tensor) for t in got)) and torch.allclose(got[0].double(), expected[1], equal_nan=True):
        hint = 'precision and recall are swapped: precision divides by the column sums cm.sum(0) (all predicted c), recall by the row sums cm.sum(1) (all truly c)'

    def check(answer, reference, what, hint=''):
        """answer: what precision_recall_f1 returned; reference: the three right tensors."""
        what = f'precision_recall_f1 on {what}'
        if not isinstance(answer, (tuple, list)) or len(answer) != 3:
            _fail(f'{what} returned {type(answer).__name__}, expected a tuple of three tensors', 'return precision, recall, f1')
        for name, got, expected in zip(('precision', 'recall', 'F1'), answer, reference, strict=True):
            if not isinstance(got, torch.Tensor):
                _fail(f'{what}: {name} is a {type(got).__name__}, expected a torch.Tensor')
            if tuple(got.shape) != tuple(expected.shape):
                _fail(f'{what}: {name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}', 'one score per class: (C,)')
            if not got.is_floating_point():
                _fail(f'{what}: {name} has dtype {got.dtype}, expected a float tensor', 'divide as floats: cm.double() first')
            got = got.detach().cpu().double()
            if not torch.equal(got.isnan(), expected.isnan()):
                c = int((got.isnan() != expected.isnan()).nonzero()[0])
                _fail(f'{what}: {name}[{c}] is {float(got[c]):.4g}, expected {float(expected[c]):.4g}', absent if expected[c].isnan() else occurs)
            close = torch.isclose(got.nan_to_num(0.0), expected.nan_to_num(0.0), rtol=1e-06, atol=1e-09)
            if not close.all():
                c = int((~close).nonzero()[0])
                _fail(f'{what}: {name}[{c}] is {float(got[c]):.4g}, expected {float(expected[c]):.4g}', hint or formula)
    check(got, expected, 'the example', hint)

@test_case(points=None, hidden=False)
def test_zero_divisions(precision_recall_f1):
    """a class never predicted scores 0, a class absent from both is NaN"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail
    formula = 'precision = TP / (TP + FP), the diagonal over the column sums; recall = TP / (TP + FN), over the row sums; F1 = 2 TP / (2 TP + FP + FN)'
    absent = 'a class absent from both truth and prediction has nothing to measure: NaN, not 0'
    occurs = 'only a class absent from both truth and prediction is NaN; one that occurs but was never predicted (or is never true) scores 0 where its denominator is 0'
    cm = torch.tensor([[5, 0, 1, 0], [3, 0, 0, 0], [0, 0, 4, 0], [0, 0, 0, 0]])
    expected = (metrics.precision_per_class(cm), metrics.recall_per_class(cm), metrics.f1_per_class(cm))
    got = call(precision_recall_f1, 'precision_recall_f1', cm)

    def check(answer, reference, what, hint=''):
        """answer: what precision_recall_f1 returned; reference: the three right tensors."""
        what = f'precision_recall_f1 on {what}'
        if not isinstance(answer, (tuple, list)) or len(answer) != 3:
            _fail(f'{what} returned {type(answer).__name__}, expected a tuple of three tensors', 'return precision, recall, f1')
        for name, got, expected in zip(('precision', 'recall', 'F1'), answer, reference, strict=True):
            if not isinstance(got, torch.Tensor):
                _fail(f'{what}: {name} is a {type(got).__name__}, expected a torch.Tensor')
            if tuple(got.shape) != tuple(expected.shape):
                _fail(f'{what}: {name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}', 'one score per class: (C,)')
            if not got.is_floating_point():
                _fail(f'{what}: {name} has dtype {got.dtype}, expected a float tensor', 'divide as floats: cm.double() first')
            got = got.detach().cpu().double()
            if not torch.equal(got.isnan(), expected.isnan()):
                c = int((got.isnan() != expected.isnan()).nonzero()[0])
                _fail(f'{what}: {name}[{c}] is {float(got[c]):.4g}, expected {float(expected[c]):.4g}', absent if expected[c].isnan() else occurs)
            close = torch.isclose(got.nan_to_num(0.0), expected.nan_to_num(0.0), rtol=1e-06, atol=1e-09)
            if not close.all():
                c = int((~close).nonzero()[0])
                _fail(f'{what}: {name}[{c}] is {float(got[c]):.4g}, expected {float(expected[c]):.4g}', hint or formula)
    check(got, expected, 'a class never predicted and one absent', occurs)

