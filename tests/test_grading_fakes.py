"""The stand-ins tests hand to answers (coursekit.grading.fakes), ``checks.fake`` and
``checks.cpu_seconds`` (here, in the test's own process)."""

import time

import pytest
import torch
from torchvision.transforms import functional as TF

from coursekit import grading
from coursekit.grading import fake, fakes


def test_clock_moves_only_when_told():
    clock = fake("Clock", now=2.5)
    assert clock() == 2.5
    model = fake("SlowFirstCalls", clock, slow_calls=2, slow=1.0, fast=0.01)
    for _ in range(4):
        model()
    assert model.calls == 4
    assert clock() == pytest.approx(2.5 + 2 * 1.0 + 2 * 0.01)


def test_async_device_queues_work_and_sync_waits():
    clock = fake("Clock")
    gpu = fake("AsyncDevice", clock, work=0.05, launch_cost=1e-6, busy_until=3.0)
    gpu.launch()
    assert clock() == pytest.approx(1e-6)            # the launch returns at once
    assert gpu.busy_until == pytest.approx(3.05)       # queued behind earlier work
    gpu.sync()
    assert clock() == pytest.approx(3.05)
    gpu.launch()
    gpu.sync()
    assert clock() == pytest.approx(3.10)
    assert gpu.launches == 2


def test_sleep_reads_real_time():
    nap = fake("Sleep", 0.01)
    start = time.perf_counter()
    nap()
    assert time.perf_counter() - start >= 0.01 and nap.calls == 1


def test_only_callable_stand_ins_can_be_handed_to_an_answer():
    """Under the grader these stay in the grader; an answer gets a function to call."""
    clock = fake("Clock")
    gpu = fake("AsyncDevice", clock)
    for value in (clock, fake("SlowFirstCalls", clock), fake("Sleep", 0.01), gpu.launch,
                  gpu.sync):
        assert fakes.callable_stand_in(value), value
    for value in (gpu, fake("PilAugment"), print, lambda: 0, fakes.Clock):
        assert not fakes.callable_stand_in(value), value


def test_cpu_seconds_counts_this_threads_work_on_one_thread():
    """A sleep costs no CPU time; a busy loop does; torch's threads are as they were."""
    before = torch.get_num_threads()
    slept, result = grading.cpu_seconds(lambda: time.sleep(0.05) or 1, "nap")
    assert result == 1 and slept < 0.03
    busy, _ = grading.cpu_seconds(lambda: sum(range(2_000_000)), "busy")
    assert busy > 0.01
    assert torch.get_num_threads() == before


def test_pil_augment_is_the_per_image_pipeline():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8, generator=g)
    flip = torch.tensor([True, False, True])
    got = fake("PilAugment", mean=0.5, std=0.25)(images, flip)
    x = images.float() / 255
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    torch.testing.assert_close(got, (x - 0.5) / 0.25, atol=1e-6, rtol=0)
    mirrored = TF.hflip(images[0].float())
    assert not torch.equal(mirrored, images[0].float())   # the test image is not symmetric


def test_fake_names_the_stand_ins_it_knows():
    with pytest.raises(ValueError, match="fake: name must be one of .*Clock.*got 'Timer'"):
        fake("Timer")
    assert set(fakes.FAKES) == {"Clock", "SlowFirstCalls", "AsyncDevice", "Sleep",
                                "PilAugment"}
