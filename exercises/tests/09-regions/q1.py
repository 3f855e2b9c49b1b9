# Public tests written by otter assign from solutions/09-regions.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_example(label_regions):
    """the example above: 4 regions, two pixels that meet at a corner are one"""
    import torch
    from coursekit import regions
    from coursekit.grading import OWN_IMPLEMENTATIONS, _fail, call, computed_by_hand
    shortcuts = (*OWN_IMPLEMENTATIONS, 'coursekit/regions.py', 'scipy/ndimage/', 'skimage/', 'cv2/')
    corner = 'pixels that touch only at a corner belong to one region (8-connectivity): look at all 8 neighbours of a pixel, diagonals included'
    order = 'number the regions 1, 2, 3, ... in reading order: scan the rows top to bottom, each left to right, and give the next number to each unlabelled foreground pixel you meet, then to all of its region'

    def check(answer, reference, what, hint=''):
        what = f'label_regions on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor', 'return the labels, an (H, W) int64 tensor')
        if tuple(answer.shape) != tuple(reference.shape):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected {tuple(reference.shape)}', 'one label per pixel: the shape of the mask')
        if answer.dtype != torch.int64:
            _fail(f'{what}: dtype {answer.dtype}, expected torch.int64', 'make the labels with torch.zeros(H, W, dtype=torch.int64)')
        answer = answer.detach().cpu()
        if torch.equal(answer, reference):
            return
        wrong = ((answer > 0) != (reference > 0)) | (answer < 0)
        if wrong.any():
            r, c = (int(i) for i in wrong.nonzero()[0])
            _fail(f'{what}: pixel (row {r}, column {c}) is {int(answer[r, c])}, expected {int(reference[r, c])}', '0 on the background, a region number >= 1 on every foreground pixel')
        inside = reference > 0
        pairs = set(zip(answer[inside].tolist(), reference[inside].tolist(), strict=True))
        found = len({a for a, _ in pairs})
        there = len({b for _, b in pairs})
        if found == there == len(pairs):
            _fail(f'{what}: the regions are right but numbered {sorted(answer.unique().tolist())} in another order', order)
        if found > there:
            _fail(f'{what}: {found} regions, expected {there}: a region was split', hint or corner)
        _fail(f'{what}: {found} regions, expected {there}: regions that do not touch got one number', 'only neighbouring foreground pixels join a region')
    mask = torch.tensor([[1, 0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0, 1], [1, 1, 0, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    expected = regions.label_regions(mask)[0]
    with computed_by_hand(shortcuts):
        got = call(label_regions, 'label_regions', mask)
    check(got, expected, 'the example')

@test_case(points=None, hidden=False)
def test_boxes(region_boxes):
    """the example's 4 regions: their boxes in pixel edges"""
    import torch
    from coursekit import regions
    from coursekit.grading import OWN_IMPLEMENTATIONS, _fail, call, computed_by_hand
    shortcuts = (*OWN_IMPLEMENTATIONS, 'coursekit/regions.py', 'scipy/ndimage/', 'skimage/', 'cv2/')
    edges = 'boxes are in pixel edges: a region whose pixels span columns c0..c1 and rows r0..r1 has the box (c0, r0, c1 + 1, r1 + 1)'

    def check(answer, reference, what, hint=''):
        what = f'region_boxes on {what}'
        if not isinstance(answer, torch.Tensor):
            _fail(f'{what} returned a {type(answer).__name__}, expected a torch.Tensor', 'return a (K, 4) tensor, one row per region')
        if tuple(answer.shape) != tuple(reference.shape):
            _fail(f'{what}: shape {tuple(answer.shape)}, expected {tuple(reference.shape)}', 'one row (x1, y1, x2, y2) for each region 1..K, K = labels.max(); (0, 4) when there is none')
        if not answer.is_floating_point():
            _fail(f'{what}: dtype {answer.dtype}, expected a float tensor', "boxes are float, as torchvision's: torch.zeros(K, 4)")
        answer = answer.detach().cpu().double()
        reference = reference.double()
        if torch.equal(answer, reference):
            return
        k = int((answer != reference).any(1).nonzero()[0])
        if torch.equal(answer[:, 2:] + 1, reference[:, 2:]):
            hint = edges
        elif torch.equal(answer, reference[:, [1, 0, 3, 2]]):
            hint = 'x is the column and y the row: (x1, y1, x2, y2) = (first column, first row, last column + 1, last row + 1)'
        _fail(f"{what}: region {k + 1}'s box is {answer[k].tolist()}, expected {reference[k].tolist()}", hint or edges)
    labels = torch.tensor([[1, 0, 0, 0, 0, 2, 2], [0, 1, 0, 0, 0, 0, 2], [0, 0, 0, 3, 0, 0, 2], [4, 4, 0, 3, 3, 0, 0], [4, 0, 0, 0, 0, 0, 0]])
    expected = regions.region_boxes(labels)
    with computed_by_hand(shortcuts):
        got = call(region_boxes, 'region_boxes', labels)
    check(got, expected, "the example's labels")

