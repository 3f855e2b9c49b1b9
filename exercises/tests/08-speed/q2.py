# Public tests written by otter assign from solutions/08-speed.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_bottleneck(bottleneck):
    """the stage that takes the most time"""
    from coursekit.grading import NOT_ANSWERED, _fail
    stages = ('augment', 'forward', 'backward', 'step')
    if bottleneck is Ellipsis or bottleneck is None:
        raise AssertionError(f"{NOT_ANSWERED}: set bottleneck to one of {', '.join(stages)}")
    if bottleneck not in stages:
        _fail(f"bottleneck is {bottleneck!r}, expected one of {', '.join(map(repr, stages))}")

