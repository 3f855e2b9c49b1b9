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
    with pytest.raises(ValueError, match="epochs: expected a positive int, got 0"):
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
