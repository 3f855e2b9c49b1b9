"""coursekit.metrics.ConfusionMatrix: counted batch by batch it equals one call on all the
data, on random shapes, class counts, ignore masks, dtypes and batch splits; and
train.fit/evaluate read their accuracy off it."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torchmetrics.classification import MulticlassConfusionMatrix

from coursekit import metrics, train


@st.composite
def batches(draw):
    """(list of (prediction, target) batches, classes, ignore_index)."""
    classes = draw(st.integers(2, 12))
    n = draw(st.integers(0, 9))
    pixels = tuple(draw(st.lists(st.integers(1, 5), min_size=0, max_size=2)))
    dtype = draw(st.sampled_from([torch.uint8, torch.int16, torch.int32, torch.int64]
                                 + ([torch.bool] if classes == 2 else [])))
    ignore = draw(st.sampled_from([None, 255, -100] if dtype in (torch.int32, torch.int64)
                                  else [None, 255] if dtype != torch.bool else [None]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 16)))
    target = torch.randint(classes, (n, *pixels), generator=g)
    prediction = torch.where(torch.rand(target.shape, generator=g) < 0.5, target,
                             torch.randint(classes, target.shape, generator=g))
    if ignore is not None:
        target = torch.where(torch.rand(target.shape, generator=g) < 0.3, ignore, target)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    edges = [0, *cuts, n]
    split = [(prediction[a:b].to(dtype), target[a:b].to(dtype))
             for a, b in zip(edges, edges[1:], strict=False)]
    return split, prediction, target, classes, ignore


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_streaming_equals_one_call_on_all_data(case):
    split, prediction, target, classes, ignore = case
    cm = metrics.ConfusionMatrix(classes, ignore_index=ignore)
    seen = 0
    for p, t in split:
        seen += int(cm.update(p, t).sum())           # each batch's own counts
    total = cm.compute()
    assert total.dtype == torch.int64 and total.device.type == "cpu"
    assert torch.equal(total, metrics.confusion_matrix(prediction, target, classes, ignore))
    assert int(total.sum()) == seen
    if prediction.numel():
        reference = MulticlassConfusionMatrix(classes, ignore_index=ignore)(
            prediction.flatten(), target.flatten())
        assert torch.equal(total, reference)


def test_compute_returns_a_copy_and_reset_starts_again():
    cm = metrics.ConfusionMatrix(3)
    assert torch.equal(cm.compute(), torch.zeros(3, 3, dtype=torch.int64))
    cm.update(torch.tensor([0, 1]), torch.tensor([0, 2]))
    first = cm.compute()
    first += 100                                     # changing the copy changes nothing
    assert cm.compute().tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    cm.reset()
    assert cm.compute().sum() == 0
    assert "num_classes=3" in repr(cm)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_counts_on_the_device_of_the_first_update():
    cm = metrics.ConfusionMatrix(4, ignore_index=255)
    g = torch.Generator().manual_seed(0)
    target = torch.randint(4, (3, 8, 8), generator=g).to(torch.uint8)
    prediction = torch.randint(4, (3, 8, 8), generator=g)
    cm.update(prediction[:2].cuda(), target[:2].cuda())
    assert cm.matrix.device.type == "cuda"
    cm.update(prediction[2:], target[2:])            # a CPU batch is added on the GPU
    assert torch.equal(cm.compute(), metrics.confusion_matrix(prediction, target, 4))


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="num_classes: expected an int >= 2, got 1"):
        metrics.ConfusionMatrix(1)
    with pytest.raises(TypeError, match="num_classes"):
        metrics.ConfusionMatrix(3.0)
    with pytest.raises(TypeError, match="ignore_index"):
        metrics.ConfusionMatrix(3, ignore_index="255")
    cm = metrics.ConfusionMatrix(3)
    t = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(TypeError, match="prediction: expected an integer tensor.*argmax"):
        cm.update(torch.zeros(2, 3, 4), t)
    with pytest.raises(ValueError, match="target: expected class indices in 0..2"):
        cm.update(t, t + 3)
    with pytest.raises(ValueError, match="prediction: expected the shape of target"):
        cm.update(t[0], t)
    assert cm.compute().sum() == 0                   # a refused batch counts nothing


# ------------------------------------------------------------- train reads accuracy off it


class Fixed(nn.Module):
    """A model whose logits are its input (the batches hold the logits themselves)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + 0 * self.weight


def test_evaluate_and_train_accuracy_are_the_confusion_matrix_accuracy():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(6, 4, 5, 5, generator=g)
    labels = torch.randint(4, (6, 5, 5), generator=g)
    labels[0, :2] = 255
    loader = [(logits[:3], labels[:3]), (logits[3:], labels[3:])]
    cm = metrics.confusion_matrix(logits.argmax(1), labels, 4, ignore_index=255)
    expected = metrics.accuracy(cm)
    loss_fn = nn.CrossEntropyLoss(ignore_index=255)
    assert train.evaluate(Fixed(), loader, "cpu", loss_fn)["accuracy"] == expected
    model = Fixed()
    result = train.train_one_epoch(model, loader, loss_fn,
                                   torch.optim.SGD(model.parameters(), lr=0.0), "cpu")
    assert result["accuracy"] == expected
    assert train.count_correct(logits, labels, 255) == (int(cm.trace()), int(cm.sum()))


def test_binary_model_accuracy_counts_two_classes():
    logits = torch.tensor([[[[2.0, -1.0], [0.5, -3.0]]]])          # (1, 1, 2, 2)
    labels = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])              # float, as for BCE
    assert train.count_correct(logits, labels) == (2, 4)
    result = train.evaluate(Fixed(), [(logits, labels[:, None])], "cpu")
    assert result["accuracy"] == 0.5


def test_train_names_labels_out_of_range():
    logits = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="labels: expected class indices in 0..2"):
        train.count_correct(logits, torch.tensor([0, 5]))
