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
    """a batch of 256: augment_slow's output, at least 5 times faster"""
    import torch
    from torchvision.transforms import functional as TF
    from coursekit import profiling
    from coursekit.grading import _fail, call, expect_tensor
    MEAN, STD = (0.1307, 0.3081)

    def reference(images, flip):
        out = []
        for image, mirror in zip(images, flip, strict=True):
            picture = TF.to_pil_image(image)
            if mirror:
                picture = TF.hflip(picture)
            out.append(TF.normalize(TF.to_tensor(picture), [MEAN], [STD]))
        return torch.stack(out)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=g)
    flip = torch.rand(256, generator=g) < 0.5
    expected = reference(images, flip)
    got = call(augment_fast, 'augment_fast', images, flip)
    expect_tensor(got, expected, 'augment_fast(images, flip)', hint='scale to 0..1 (/ 255), mirror where flip is True (.flip(-1) mirrors left-right), then (x - MEAN) / STD', atol=1e-06, rtol=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rounds = []
        for _ in range(3):
            slow = profiling.time_callable(reference, (images, flip), warmup=1, repeats=5)
            fast = profiling.time_callable(augment_fast, (images, flip), warmup=1, repeats=5)
            rounds.append((slow.median / fast.median, slow.median, fast.median))
    finally:
        torch.set_num_threads(threads)
    ratio, slow_s, fast_s = max(rounds)
    if ratio < 5:
        _fail(f'augment_fast takes {fast_s * 1000.0:.2f} ms, augment_slow {slow_s * 1000.0:.2f} ms: less than 5 times faster', 'no loop over the images and no PIL: whole-batch tensor operations')

