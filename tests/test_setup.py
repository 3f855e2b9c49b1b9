from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit import setup


def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert setup.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert setup.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert setup.get_device() == torch.device("cuda")


def test_get_device_rejects_unknown_and_unavailable(monkeypatch):
    with pytest.raises(ValueError, match=r"prefer: expected one of .* got 'tpu'"):
        setup.get_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="prefer: device 'cuda' .* not available"):
        setup.get_device("cuda")
    assert setup.get_device("cpu") == torch.device("cpu")


def test_get_device_reads_the_name_in_any_case(monkeypatch):
    """'CUDA' and 'CPU' were refused as unknown devices."""
    assert setup.get_device("CPU") == setup.get_device(" cpu ") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert setup.get_device("CUDA") == torch.device("cuda")
    with pytest.raises(TypeError, match=r"prefer: expected 'cuda', 'mps', 'cpu' or None, got 1"):
        setup.get_device(1)
    with pytest.raises(ValueError, match=r"prefer: expected one of .* got 'GPU'"):
        setup.get_device("GPU")


def test_seed_makes_a_cpu_run_repeat_exactly():
    def run():
        setup.seed_everything(123)
        model = torch.nn.Linear(4, 2)
        x = torch.randn(8, 4)
        return model(x).detach()

    assert torch.equal(run(), run())
    setup.seed_everything(124)
    assert not torch.equal(run(), torch.nn.Linear(4, 2)(torch.randn(8, 4)).detach())


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**32, ValueError),
                                         (1.5, TypeError), ("0", TypeError), (True, TypeError)])
def test_seed_rejects_bad_values(seed, error):
    # 2 ** 32 passed the check and failed inside NumPy ("Seed must be between 0 and 2**32 - 1")
    with pytest.raises(error, match=r"seed: expected an int >= 0 and <= 4294967295"):
        setup.seed_everything(seed)


def test_seed_takes_numpy_ints():
    """A NumPy int (e.g. from np.arange) was refused as not an int."""
    setup.seed_everything(np.int64(7))
    assert torch.initial_seed() == 7
    first = torch.rand(3)
    setup.seed_everything(7)
    assert torch.equal(torch.rand(3), first)


def test_describe_device_takes_a_name():
    assert setup.describe_device("cpu") == setup.describe_device(torch.device("cpu"))
    with pytest.raises(TypeError, match=r"device: expected a torch.device, got None"):
        setup.describe_device(None)
    with pytest.raises(ValueError, match=r"device: expected a device name such as 'cpu'"):
        setup.describe_device("gpu")


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("false", False),
                                             ("1", True), ("true", True), ("YES", True)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COURSEKIT_FAST", value)
    assert setup.fast_mode() is expected
    assert setup.budget(full=10, fast=1) == (1 if expected else 10)


def test_fast_mode_rejects_garbage(monkeypatch):
    monkeypatch.setenv("COURSEKIT_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSEKIT_FAST: expected 0 or 1"):
        setup.fast_mode()


def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    assert setup.data_root() == tmp_path
    monkeypatch.delenv("COURSEKIT_DATA")
    assert setup.data_root() == setup.DEFAULT_DATA_ROOT


def test_colab_detection(monkeypatch):
    import sys
    import types

    assert setup.in_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert setup.in_colab() is True


def test_start_prints_two_short_lines_and_returns_the_device(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_FAST", "1")
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    device = setup.start(seed=7)
    out = capsys.readouterr().out.strip()
    assert isinstance(device, torch.device)
    assert len(out.splitlines()) == 2
    assert all(len(line) <= 88 for line in out.splitlines()), "wider than the book's column"
    assert f"device: {setup.describe_device(device)}" in out
    assert "fast mode: on" in out and "data: $COURSEKIT_DATA" in out and "seed: 7" in out
    assert str(tmp_path) not in out                   # no folder of this machine


def test_start_names_the_default_data_root_without_the_home_folder(capsys, monkeypatch):
    monkeypatch.delenv("COURSEKIT_DATA", raising=False)
    setup.start(seed=0)
    out = capsys.readouterr().out
    assert "data: ~/coursekit-data" in out and str(Path.home()) not in out
