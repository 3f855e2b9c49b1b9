import pytest
import torch
from sklearn.metrics import accuracy_score, log_loss
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from coursekit import setup, train


def blobs(n=256, seed=0):
    """Two separable Gaussian blobs in 2-D: x (n, 2) float, y (n,) int64."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2.0 - 1.0) * 1.5
    return x, y


def run(seed=0):
    setup.seed_everything(seed)
    x, y = blobs()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train.fit(model, loader, optimizer, epochs=3, device="cpu", test_loader=loader)
    return model, history


def test_fit_learns_and_reports_every_epoch():
    model, history = run()
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_accuracy"] > 0.95


def test_fit_repeats_exactly_with_the_same_seed():
    (model_a, history_a), (model_b, history_b) = run(seed=3), run(seed=3)
    assert torch.equal(model_a.weight, model_b.weight)
    assert [r["loss"] for r in history_a] == [r["loss"] for r in history_b]


def test_evaluate_agrees_with_scikit_learn():
    setup.seed_everything(0)
    x, y = blobs(n=200, seed=1)
    model = nn.Linear(2, 2)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    ours = train.evaluate(model, loader, "cpu", loss_fn=nn.CrossEntropyLoss())
    with torch.no_grad():
        logits = model(x)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y, logits.argmax(1)))
    assert ours["loss"] == pytest.approx(log_loss(y, logits.softmax(1).numpy()), rel=1e-5)


def test_fit_and_evaluate_reject_bad_arguments():
    model = nn.Linear(2, 2)
    loader = DataLoader(TensorDataset(*blobs(n=8)), batch_size=4)
    with pytest.raises(ValueError, match="epochs: expected an int >= 1, got 0"):
        train.fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 0, "cpu")
    empty = DataLoader(TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.int64)))
    with pytest.raises(ValueError, match="loader: expected at least one batch"):
        train.evaluate(model, empty, "cpu")


def test_evaluate_counts_pixels_for_segmentation():
    setup.seed_everything(0)
    model = nn.Conv2d(1, 3, 1)                       # (N, 1, H, W) -> (N, 3, H, W) logits
    x = torch.randn(5, 1, 4, 6)
    y = torch.randint(0, 3, (5, 4, 6))
    loader = DataLoader(TensorDataset(x, y), batch_size=2)   # uneven last batch on purpose
    ours = train.evaluate(model, loader, "cpu")
    with torch.no_grad():
        predicted = model(x).argmax(1)
    assert ours["accuracy"] == pytest.approx(accuracy_score(y.flatten(), predicted.flatten()))


def small_run(tmp_path, stop_epoch=None, resume=False, epochs=4):
    """A CNN with dropout and batch norm on a device loader, with a schedule and clipping."""
    from coursekit.device_loader import DeviceLoader

    setup.seed_everything(5)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(96, 1, 8, 8, generator=g), torch.randint(0, 3, (96,), generator=g)
    loader = DeviceLoader(x, y, 16, shuffle=True, crop_padding=1, flip=True, seed=2)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                          nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = train.one_cycle(optimizer, 0.2, epochs, len(loader))
    history = train.fit(model, loader, optimizer, epochs, "cpu", test_loader=loader,
                        scheduler=scheduler, clip_grad_norm=1.0,
                        checkpoint=tmp_path / "run.pt", resume=resume, stop_epoch=stop_epoch)
    return model, history


def test_an_interrupted_run_resumes_to_bitwise_the_same_weights(tmp_path):
    straight, history = small_run(tmp_path / "a")
    small_run(tmp_path / "b", stop_epoch=2)               # a Colab disconnect after epoch 2
    setup.seed_everything(123)                            # the new session's state differs
    resumed, resumed_history = small_run(tmp_path / "b", resume=True)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [r["loss"] for r in history] == [r["loss"] for r in resumed_history]
    assert len(resumed_history) == 4


def test_checkpoints_load_with_weights_only(tmp_path):
    small_run(tmp_path, stop_epoch=1)
    state = torch.load(tmp_path / "run.pt", weights_only=True)
    assert set(state) >= {"model", "optimizer", "history", "random", "scheduler", "loader"}


def test_history_plots_and_finds_its_best_epoch():
    _, history = run()
    assert isinstance(history, train.History) and history.best()["epoch"] in (1, 2, 3)
    fig = history.plot()
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[1].lines) == 2


def test_one_cycle_rises_then_falls():
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    scheduler = train.one_cycle(optimizer, 0.4, epochs=2, steps_per_epoch=10)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = rates.index(max(rates))
    assert max(rates) == pytest.approx(0.4) and 0 < peak < 19 and rates[-1] < 0.05


def test_predict_matches_the_model():
    model = nn.Linear(4, 3)
    x = torch.randn(25, 4)
    with torch.no_grad():
        assert torch.allclose(train.predict(model, x, "cpu", batch_size=7), model(x))


# --- mixed precision: which half-precision dtype on which device --------------------

def test_amp_dtype_is_bfloat16_on_a_cpu_and_none_where_there_is_no_autocast():
    assert train.amp_dtype("cpu") == torch.bfloat16
    assert train.amp_dtype(torch.device("cpu")) == torch.bfloat16
    assert train.amp_dtype("meta") is None


def _fake_gpu(monkeypatch, native_bf16):
    """A CUDA device that has bfloat16 in hardware (native_bf16) or only emulates it,
    as Colab's T4 does: is_bf16_supported() says True there unless emulation is
    excluded."""
    asked = []

    def is_bf16_supported(including_emulation=True):
        asked.append(including_emulation)
        return native_bf16 or including_emulation

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    return asked


def test_amp_dtype_is_float16_on_a_gpu_that_only_emulates_bfloat16(monkeypatch):
    asked = _fake_gpu(monkeypatch, native_bf16=False)
    assert train.amp_dtype("cuda") == torch.float16
    assert asked == [False]                    # emulation was excluded when asking


def test_amp_dtype_is_bfloat16_on_a_gpu_that_has_it(monkeypatch):
    _fake_gpu(monkeypatch, native_bf16=True)
    assert train.amp_dtype("cuda:0") == torch.bfloat16


def test_amp_dtype_names_the_argument_when_it_is_not_a_device():
    with pytest.raises(TypeError, match="device: expected a device"):
        train.amp_dtype(3)


def test_autocast_uses_amp_dtype_and_nothing_without_amp():
    with train._autocast("cpu", True):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    with train._autocast("cpu", False):
        assert not torch.is_autocast_enabled("cpu")


def test_fast_bf16_cpu_is_false_when_torch_cannot_tell(monkeypatch):
    assert isinstance(train.fast_bf16_cpu(), bool)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, probe, raising=False)
    assert train.fast_bf16_cpu() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert train.fast_bf16_cpu() is True
