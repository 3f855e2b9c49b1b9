# Public tests written by otter assign from solutions/07-evaluation.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(confusion_matrix):
    """the example above, 4 classes: the table of counts"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail, computed_by_hand
    formula = 'cm[i, j] counts the pixels whose true class is i and predicted class j: rows are the truth, columns the prediction'
    size = 'the matrix is (num_classes, num_classes) even when a class appears nowhere: torch.bincount(..., minlength=num_classes ** 2)'
    prediction = torch.tensor([[0, 0, 1, 1], [0, 2, 2, 1]])
    target = torch.tensor([[0, 0, 1, 2], [0, 2, 2, 2]])
    expected = metrics.confusion_matrix(prediction, target, 4)
    with computed_by_hand():
        got = call(confusion_matrix, 'confusion_matrix', prediction, target, 4)
    hint = formula
    if isinstance(got, torch.Tensor) and torch.equal(got.cpu().long(), expected.t()):
        hint = 'rows are the truth, columns the prediction: cm[true class, predicted class]'

    def check(answer, reference, what, hint=''):
        what = f'confusion_matrix on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor')
        if tuple(answer.shape) != tuple(reference.shape):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected {tuple(reference.shape)}', size)
        if answer.dtype != torch.int64:
            _fail(f'{what}: dtype {answer.dtype}, expected torch.int64', 'counts are whole numbers: torch.bincount gives int64, keep it')
        answer = answer.cpu()
        if not torch.equal(answer, reference):
            i, j = (int(k) for k in (answer != reference).nonzero()[0])
            _fail(f'{what}: cm[{i}, {j}] is {int(answer[i, j])}, expected {int(reference[i, j])}', hint or formula)
    check(got, expected, 'the example', hint)

@test_case(points=None, hidden=False)
def test_uint8_masks(confusion_matrix):
    """uint8 masks of 21 classes (as Pascal VOC's): every pair counted right"""
    import torch
    from coursekit import metrics
    from coursekit.grading import call, _fail
    formula = 'cm[i, j] counts the pixels whose true class is i and predicted class j: rows are the truth, columns the prediction'
    size = 'the matrix is (num_classes, num_classes) even when a class appears nowhere: torch.bincount(..., minlength=num_classes ** 2)'
    wraps = 'in uint8, target * num_classes + prediction wraps around past 255: convert to int64 (.long()) first'
    g = torch.Generator().manual_seed(0)
    prediction = torch.randint(0, 21, (2, 16, 16), generator=g).to(torch.uint8)
    target = torch.randint(0, 21, (2, 16, 16), generator=g).to(torch.uint8)
    expected = metrics.confusion_matrix(prediction, target, 21)
    got = call(confusion_matrix, 'confusion_matrix', prediction, target, 21)

    def check(answer, reference, what, hint=''):
        what = f'confusion_matrix on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor')
        if tuple(answer.shape) != tuple(reference.shape):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected {tuple(reference.shape)}', size)
        if answer.dtype != torch.int64:
            _fail(f'{what}: dtype {answer.dtype}, expected torch.int64', 'counts are whole numbers: torch.bincount gives int64, keep it')
        answer = answer.cpu()
        if not torch.equal(answer, reference):
            i, j = (int(k) for k in (answer != reference).nonzero()[0])
            _fail(f'{what}: cm[{i}, {j}] is {int(answer[i, j])}, expected {int(reference[i, j])}', hint or formula)
    check(got, expected, 'uint8 masks of 21 classes', wraps)

@test_case(points=None, hidden=False)
def test_ignore_index(confusion_matrix):
    """pixels marked 255 in a uint8 target are not counted"""
    import torch
    from coursekit import metrics
    from coursekit.grading import NOT_ANSWERED, call, _fail
    formula = 'cm[i, j] counts the pixels whose true class is i and predicted class j: rows are the truth, columns the prediction'
    size = 'the matrix is (num_classes, num_classes) even when a class appears nowhere: torch.bincount(..., minlength=num_classes ** 2)'
    ignored = 'leave out the pixels whose target is ignore_index, in the prediction too: keep = target != ignore_index'
    prediction = torch.tensor([[0, 0, 1, 1], [0, 2, 2, 1]], dtype=torch.uint8)
    target = torch.tensor([[0, 255, 1, 2], [255, 2, 2, 255]], dtype=torch.uint8)
    expected = metrics.confusion_matrix(prediction, target, 4, ignore_index=255)
    try:
        got = call(confusion_matrix, 'confusion_matrix', prediction, target, 4, ignore_index=255)
    except AssertionError as error:
        if str(error).startswith(NOT_ANSWERED):
            raise
        _fail(str(error), ignored)

    def check(answer, reference, what, hint=''):
        what = f'confusion_matrix on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor')
        if tuple(answer.shape) != tuple(reference.shape):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected {tuple(reference.shape)}', size)
        if answer.dtype != torch.int64:
            _fail(f'{what}: dtype {answer.dtype}, expected torch.int64', 'counts are whole numbers: torch.bincount gives int64, keep it')
        answer = answer.cpu()
        if not torch.equal(answer, reference):
            i, j = (int(k) for k in (answer != reference).nonzero()[0])
            _fail(f'{what}: cm[{i}, {j}] is {int(answer[i, j])}, expected {int(reference[i, j])}', hint or formula)
    check(got, expected, 'a target with 3 pixels ignored', ignored)

