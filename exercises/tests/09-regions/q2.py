# Public tests written by otter assign from solutions/09-regions.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(classify_regions):
    """4 regions: a clear vote, background around a digit, background alone, a tie"""
    import torch
    from coursekit import regions
    from coursekit.grading import OWN_IMPLEMENTATIONS, _fail, call, computed_by_hand
    shortcuts = (*OWN_IMPLEMENTATIONS, 'coursekit/regions.py')
    rule = "each region's class is the most common class among its pixels, background (0) not voting unless the region holds nothing else; a tie goes to the smaller class"

    def votes_of(classes, labels, with_background):
        """What a vote with or without the rules' details gives: (K,) int64."""
        count = int(labels.max()) if labels.numel() else 0
        out = []
        for k in range(1, count + 1):
            votes = torch.bincount(classes[labels == k].long(), minlength=11)
            if not with_background and votes[1:].sum() > 0:
                votes[0] = 0
            out.append(int(votes.argmax()))
        return torch.tensor(out, dtype=torch.int64)

    def largest_wins_ties(classes, labels):
        count = int(labels.max()) if labels.numel() else 0
        out = []
        for k in range(1, count + 1):
            votes = torch.bincount(classes[labels == k].long(), minlength=11)
            if votes[1:].sum() > 0:
                votes[0] = 0
            out.append(int(len(votes) - 1 - votes.flip(0).argmax()))
        return torch.tensor(out, dtype=torch.int64)

    def check(answer, reference, what, classes, labels, hint=''):
        what = f'classify_regions on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor', 'return a (K,) int64 tensor, one class per region')
        if tuple(answer.shape) != tuple(reference.shape):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected {tuple(reference.shape)}', 'one class for each region 1..K, K = labels.max(); (0,) when there is none')
        if answer.dtype != torch.int64:
            _fail(f'{what}: dtype {answer.dtype}, expected torch.int64', 'classes are whole numbers: torch.zeros(K, dtype=torch.int64)')
        answer = answer.detach().cpu()
        if torch.equal(answer, reference):
            return
        k = int((answer != reference).nonzero()[0])
        if torch.equal(answer, votes_of(classes, labels, with_background=True)):
            hint = "the background (class 0) does not vote, unless the region holds nothing else: the segmentation's edges often miss a region's pixels"
        elif torch.equal(answer, largest_wins_ties(classes, labels)):
            hint = 'a tie goes to the smaller class'
        _fail(f'{what}: region {k + 1} is class {int(answer[k])}, expected {int(reference[k])}', hint or rule)
    labels = torch.tensor([[1, 1, 1, 0, 2, 2, 0], [1, 1, 0, 0, 2, 2, 0], [0, 0, 0, 3, 0, 0, 4], [0, 0, 3, 3, 0, 4, 4]])
    classes = torch.tensor([[4, 4, 9, 0, 0, 0, 0], [4, 0, 0, 0, 8, 0, 0], [0, 0, 0, 0, 0, 0, 6], [0, 0, 0, 0, 0, 3, 0]])
    expected = regions.majority_classes(classes, labels, 11)
    with computed_by_hand(shortcuts):
        got = call(classify_regions, 'classify_regions', classes, labels)
    check(got, expected, 'the example', classes, labels)

@test_case(points=None, hidden=False)
def test_count(count_digits):
    """regions of classes [4, 0, 8, 4]: two 3s and a 7"""
    import torch
    from coursekit import regions
    from coursekit.grading import OWN_IMPLEMENTATIONS, _fail, call, computed_by_hand
    shortcuts = (*OWN_IMPLEMENTATIONS, 'coursekit/regions.py')
    rule = 'class c (1..10) is digit c - 1; regions of class 0 (background) are no digit: counts[d] = how many regions have class d + 1, for d = 0..9'

    def reference_counts(region_classes):
        return regions.count_classes(region_classes, 11)[1:]

    def check(answer, reference, what, region_classes, hint=''):
        what = f'count_digits on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor', 'return a (10,) int64 tensor, one count per digit 0..9')
        if tuple(answer.shape) != (10,):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected (10,)', 'one count per digit 0..9, also for digits that do not occur: torch.bincount(..., minlength=...)')
        if answer.dtype != torch.int64:
            _fail(f'{what}: dtype {answer.dtype}, expected torch.int64', 'counts are whole numbers: torch.bincount gives int64')
        answer = answer.detach().cpu()
        if torch.equal(answer, reference):
            return
        d = int((answer != reference).nonzero()[0])
        shifted = regions.count_classes(region_classes, 11)[:10]
        if torch.equal(answer, shifted):
            hint = 'class c is digit c - 1: class 0 is the background, not the digit 0'
        _fail(f'{what}: counts[{d}] is {int(answer[d])}, expected {int(reference[d])}', hint or rule)
    region_classes = torch.tensor([4, 0, 8, 4])
    expected = reference_counts(region_classes)
    with computed_by_hand(shortcuts):
        got = call(count_digits, 'count_digits', region_classes)
    check(got, expected, '[4, 0, 8, 4]', region_classes)

