# Public tests written by otter assign from solutions/03-cnn-classifier.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = 1

@test_case(points=None, hidden=False)
def test_one_row_per_image(CifarNet):
    """a batch of 5 images gives logits of shape (5, 10)"""
    import torch
    from coursekit.grading import NOT_ANSWERED
    try:
        model = CifarNet()
        out = model(torch.zeros(5, 3, 32, 32))
    except (TypeError, NotImplementedError) as error:
        raise AssertionError(f'{NOT_ANSWERED}: CifarNet() could not be used ({error})') from None
    except Exception as error:
        raise AssertionError(f'CifarNet()(images of shape (5, 3, 32, 32)) raised {type(error).__name__}: {str(error).splitlines()[0]}') from None
    if tuple(out.shape) != (5, 10):
        hint = " — view(-1, 128) cut each image's 128 x 4 x 4 values into 16 rows: use x.flatten(1) and a Linear(128 * 4 * 4, 10)" if out.shape[0] == 80 else ''
        raise AssertionError(f'CifarNet() gave shape {tuple(out.shape)} for 5 images, expected (5, 10){hint}')

