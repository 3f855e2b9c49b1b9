# Public tests written by otter assign from solutions/03-cnn-classifier.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = 3

@test_case(points=None, hidden=False)
def test_fashion_accuracy(fashion_model):
    """at least 90 % on the Fashion-MNIST test set (75 % on 2,000 images in fast mode)"""
    import torch
    from coursekit import data, setup
    from coursekit.grading import NOT_ANSWERED
    if fashion_model is None or fashion_model is Ellipsis:
        raise AssertionError(f'{NOT_ANSWERED}: fashion_model is {fashion_model!r}; train a model and assign it to fashion_model.')
    n, bar = setup.budget(full=(10000, 0.9), fast=(2000, 0.75))
    images, labels = data.as_tensors(data.fashion_mnist(train=False), limit=n)
    device = next(fashion_model.parameters()).device
    fashion_model.eval()
    with torch.no_grad():
        logits = torch.cat([fashion_model(images[i:i + 500].to(device)).cpu() for i in range(0, n, 500)])
    if tuple(logits.shape) != (n, 10):
        raise AssertionError(f'fashion_model gave logits of shape {tuple(logits.shape)} for {n} images, expected ({n}, 10)')
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    if accuracy < bar:
        raise AssertionError(f'test accuracy {accuracy:.2%}, below the {bar:.0%} bar — if it is far below, check that the model normalises its input inside (models.Normalize) and that it was trained enough (epochs, learning rate)')

