# Public tests written by otter assign from solutions/03-cnn-classifier.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=None, hidden=False)
def test_one_step(train_step):
    """one step gives the same weights and loss as a correct step"""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from coursekit.grading import call
    seed = 0
    g = torch.Generator().manual_seed(seed)
    loader = [(torch.randn(8, 1, 4, 4, generator=g), torch.randint(0, 3, (8,), generator=g)) for _ in range(3)]

    def make(seed=seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    images, labels = loader[0]
    ours, theirs = (make(), make())
    optimizer = torch.optim.SGD(ours.parameters(), lr=0.1)
    loss = F.cross_entropy(ours(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    got = call(train_step, 'train_step', theirs, images, labels, torch.optim.SGD(theirs.parameters(), lr=0.1))
    if not isinstance(got, float):
        raise AssertionError(f'train_step returned a {type(got).__name__}, expected a float — return loss.item(), not the tensor')
    if abs(got - loss.item()) > 1e-05:
        raise AssertionError(f'train_step returned {got:.5f}, expected the loss {loss.item():.5f} — use F.cross_entropy on the raw logits')
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        if not torch.allclose(a, b, atol=1e-06):
            raise AssertionError(f"after training, weight {name} differs from a correct loop's (largest difference {(a - b).abs().max().item():.3g}) — forward, loss, zero_grad, backward, step, in this order")

@test_case(points=None, hidden=False)
def test_three_steps(train_step):
    """three steps in a row with one optimizer: gradients are cleared each time"""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from coursekit.grading import call
    seed = 1
    g = torch.Generator().manual_seed(seed)
    loader = [(torch.randn(8, 1, 4, 4, generator=g), torch.randint(0, 3, (8,), generator=g)) for _ in range(3)]

    def make(seed=seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    ours, theirs = (make(), make())
    optimizer = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    for images, labels in loader:
        loss = F.cross_entropy(ours(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    their_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for images, labels in loader:
        call(train_step, 'train_step', theirs, images, labels, their_optimizer)
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        if not torch.allclose(a, b, atol=1e-06):
            raise AssertionError(f"after training, weight {name} differs from a correct loop's (largest difference {(a - b).abs().max().item():.3g}) — did you forget optimizer.zero_grad()? Gradients add up until cleared")

