# Public tests written by otter assign from solutions/03-cnn-classifier.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 1

@test_case(points=None, hidden=False)
def test_evaluation_mode(test_accuracy):
    """with batch norm and dropout: the eval-mode accuracy, and the model left unchanged"""
    import copy
    import torch
    from torch import nn
    from coursekit.grading import call, expect_equal
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 4, 4, generator=g) * 3 + 1
    model.train()
    for _ in range(5):
        model(x)
    loader = [(x[i:i + 16], model.eval()(x[i:i + 16]).argmax(1)) for i in range(0, 64, 16)]
    before = copy.deepcopy(model.state_dict())
    model.train()
    got = call(test_accuracy, 'test_accuracy', model, loader)
    expect_equal(got, 1.0, 'test_accuracy(model, loader)', hint="call model.eval() first: in training mode dropout drops units at random and batch norm uses each batch's own statistics")
    for name, value in model.state_dict().items():
        if not torch.equal(value, before[name]):
            raise AssertionError(f"test_accuracy changed the model's {name} — in training mode batch norm updates its running averages: model.eval()")

