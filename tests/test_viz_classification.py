import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from coursekit import viz


def test_confusion_matrix_agrees_with_scikit_learn():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (200,), generator=g)
    predicted = torch.where(torch.rand(200, generator=g) < 0.7, target,
                            torch.randint(0, 4, (200,), generator=g))
    fig = viz.show_confusion_matrix(predicted, target, list("abcd"), normalize=False)
    shown = fig.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(shown), confusion_matrix(target, predicted))
    accuracy = (predicted == target).float().mean().item()
    assert f"accuracy {accuracy:.2%}" in fig.axes[0].get_title()
    fig = viz.show_confusion_matrix(predicted, target, list("abcd"))
    assert np.allclose(np.asarray(fig.axes[0].images[0].get_array()).sum(1), 1)
    with pytest.raises(ValueError, match="predicted: expected class indices in 0..2, found"):
        viz.show_confusion_matrix(predicted, target, list("abc"))


def test_confusion_matrix_never_prints_a_nonzero_share_as_zero():
    target = torch.tensor([0] * 400 + [1] * 10)
    predicted = target.clone()
    predicted[0] = 1                                    # 1 of 400: a share of 0.0025
    fig = viz.show_confusion_matrix(predicted, target, ["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1.00", "<.01", ">.99"]             # empty cells print nothing


def test_misclassified_shows_only_mistakes_with_both_labels():
    images = torch.rand(6, 1, 8, 8)
    predicted, target = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0, 2, 2, 1, 1, 0])
    fig = viz.show_misclassified(images, predicted, target, ["zero", "one", "two"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["two\n→ one", "one\n→ zero", "zero\n→ two"]
    with pytest.raises(ValueError, match="every prediction is right"):
        viz.show_misclassified(images, target, target, ["zero", "one", "two"])


def test_history_has_a_legend_in_both_panels():
    rows = [{"epoch": 1, "loss": 0.9, "accuracy": 0.6, "test_loss": 1.0, "test_accuracy": 0.5},
            {"epoch": 2, "loss": 0.5, "accuracy": 0.8, "test_loss": 0.7, "test_accuracy": 0.7}]
    fig = viz.show_history(rows)
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["training (while learning)", "held-out"]


def test_history_needs_rows():
    with pytest.raises(ValueError, match="history: expected a non-empty list"):
        viz.show_history([])


def test_confusion_matrix_figure_counts_uint8_labels_of_many_classes():
    """uint8 labels with 21 classes: target * 21 + predicted wrapped around in uint8."""
    g = torch.Generator().manual_seed(0)
    target = torch.randint(21, (500,), generator=g)
    names = [str(c) for c in range(21)]
    fig = viz.show_confusion_matrix(target.to(torch.uint8), target.to(torch.uint8), names,
                                    normalize=False)
    assert fig.axes[0].get_title() == "accuracy 100.00% on 500 images"
    shown = fig.axes[0].images[0].get_array()
    assert np.array_equal(shown, confusion_matrix(target, target, labels=range(21)))
