# Public tests written by otter assign from solutions/03-cnn-classifier.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1

@test_case(points=None, hidden=False)
def test_train_epochs(train_epochs):
    """two epochs give the weights of a correct loop with momentum"""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from coursekit.grading import call
    for seed in (0, 1):
        g = torch.Generator().manual_seed(seed)
        loader = [(torch.randn(8, 1, 4, 4, generator=g), torch.randint(0, 3, (8,), generator=g)) for _ in range(3)]

        def make(seed=seed):
            torch.manual_seed(seed)
            return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
        ours, theirs = (make(), make())
        optimizer = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
        for _ in range(2):
            for images, labels in loader:
                loss = F.cross_entropy(ours(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        call(train_epochs, 'train_epochs', theirs, loader, 2, 0.1)
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
            if not torch.allclose(a, b, atol=1e-06):
                raise AssertionError(f"after training, weight {name} differs from a correct loop's (largest difference {(a - b).abs().max().item():.3g}) — an optimizer made inside the loop forgets its momentum at every step: make it once, before the loops")

