# Public tests written by otter assign from solutions/03-cnn-classifier.ipynb
# (python -m coursekit.grading assign): do not edit.
# ruff: noqa

from otter.test_files import test_case

OK_FORMAT = False

name = "q8"
points = 2

@test_case(points=None, hidden=False)
def test_training_mode(batch_norm_2d):
    """training mode: y and the running averages of nn.BatchNorm2d on one batch"""
    import torch
    from torch import nn
    from coursekit.grading import call, computed_by_hand, expect_tensor, _fail
    BATCH_NORMS = ('torch/nn/functional.py', 'torch/nn/modules/batchnorm.py')
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5) * 2 + 1
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
        gamma, beta = (bn.weight.clone(), bn.bias.clone())
        mean0, var0 = (bn.running_mean.clone(), bn.running_var.clone())
        expected = bn.train()(x)
    with computed_by_hand(BATCH_NORMS):
        got = call(batch_norm_2d, 'batch_norm_2d', x, gamma, beta, mean0, var0, True)
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        _fail(f'batch_norm_2d returned {type(got).__name__}, expected a tuple (y, new_running_mean, new_running_var)')
    y, new_mean, new_var = got
    expect_tensor(y, expected, 'y (training mode)', hint='one mean and one biased variance per channel, over N, H and W (dim=(0, 2, 3)), then gamma * (x - mean) / sqrt(var + eps) + beta')
    expect_tensor(new_mean, bn.running_mean, 'new_running_mean', hint="(1 - momentum) * running_mean + momentum * the batch's mean")
    biased = (1 - bn.momentum) * var0 + bn.momentum * x.var(dim=(0, 2, 3), unbiased=False)
    if isinstance(new_var, torch.Tensor) and torch.allclose(new_var.double(), biased.double(), atol=1e-06):
        _fail('new_running_var used the biased batch variance', 'PyTorch updates the running variance with the unbiased one (divided by N*H*W - 1), while it normalises with the biased one')
    expect_tensor(new_var, bn.running_var, 'new_running_var', hint="(1 - momentum) * running_var + momentum * the batch's unbiased variance")

@test_case(points=None, hidden=False)
def test_evaluation_mode(batch_norm_2d):
    """evaluation mode: y from the running averages, which come back unchanged"""
    import torch
    from torch import nn
    from coursekit.grading import call, computed_by_hand, expect_tensor, _fail
    BATCH_NORMS = ('torch/nn/functional.py', 'torch/nn/modules/batchnorm.py')
    torch.manual_seed(1)
    x = torch.randn(2, 2, 3, 4) * 3
    bn = nn.BatchNorm2d(2).eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25]))
        bn.weight.copy_(torch.tensor([1.5, 1.0]))
        bn.bias.copy_(torch.tensor([0.0, 2.0]))
        expected = bn(x)
        batch_stats = bn.train()(x)
        bn.eval()
    mean0, var0 = (torch.tensor([0.5, -1.0]), torch.tensor([4.0, 0.25]))
    with computed_by_hand(BATCH_NORMS):
        got = call(batch_norm_2d, 'batch_norm_2d', x, bn.weight.detach().clone(), bn.bias.detach().clone(), mean0.clone(), var0.clone(), False)
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        _fail(f'batch_norm_2d returned {type(got).__name__}, expected a tuple (y, new_running_mean, new_running_var)')
    y, new_mean, new_var = got
    if isinstance(y, torch.Tensor) and y.shape == batch_stats.shape and torch.allclose(y.double(), batch_stats.double(), atol=1e-05):
        _fail("in evaluation mode y was normalised with the batch's own statistics", 'with training=False use running_mean and running_var instead')
    expect_tensor(y, expected, 'y (evaluation mode)', hint='gamma * (x - running_mean) / sqrt(running_var + eps) + beta')
    expect_tensor(new_mean, mean0, 'new_running_mean (evaluation mode)', hint='in evaluation mode the running averages do not change')
    expect_tensor(new_var, var0, 'new_running_var (evaluation mode)', hint='in evaluation mode the running averages do not change')

