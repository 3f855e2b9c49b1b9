# Public tests written by otter assign from solutions/08-speed.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_same_output_and_faster(augment_fast):
    """a batch of 256: augment_slow's output, at least 3 times faster"""
    import torch
    from coursekit.grading import _fail, call, cpu_seconds, expect_tensor
    from coursekit.grading.fakes import PilAugment
    augment_slow = PilAugment(mean=0.1307, std=0.3081)
    g = torch.Generator().manual_seed(1)

    def batch():
        images = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=g)
        return (images, torch.rand(256, generator=g) < 0.5)

    def check(got, expected):
        expect_tensor(got, expected, 'augment_fast(images, flip)', hint='scale to 0..1 (/ 255), mirror where flip is True (.flip(-1) mirrors left-right), then (x - MEAN) / STD', atol=1e-06, rtol=0)
    images, flip = batch()
    check(call(augment_fast, 'augment_fast', images, flip), augment_slow(images, flip))
    rounds = []
    for _ in range(3):
        images, flip = batch()
        slow, expected = cpu_seconds(augment_slow, 'augment_slow', images, flip)
        fast, got = cpu_seconds(augment_fast, 'augment_fast', images, flip)
        check(got, expected)
        rounds.append((slow / max(fast, 1e-09), slow, fast))
    ratio, slow_s, fast_s = max(rounds)
    if ratio < 3:
        _fail(f'augment_fast takes {fast_s * 1000.0:.2f} ms, augment_slow {slow_s * 1000.0:.2f} ms: less than 3 times faster', 'no loop over the images and no PIL: whole-batch tensor operations')

