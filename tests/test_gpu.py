"""GPU smoke test: every CUDA branch of coursekit, run on a real GPU.

Skipped where there is no CUDA device (CI, a laptop). With a GPU, one command:

    COURSEKIT_FAST=1 python -m pytest tests/test_gpu.py -v

Each test runs the same thing on the CPU and on the GPU and compares, so a device
mismatch, a dtype error under autocast or a result that differs between devices fails.
"""

import pytest
import torch
from torch import nn

from coursekit import losses, membranes, metrics, models, setup, train, unet
from coursekit.device_loader import DeviceLoader

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def test_setup_picks_and_names_the_gpu():
    assert setup.get_device().type == "cuda"
    assert setup.describe_device(CUDA).startswith("cuda (")


def test_device_loader_on_the_gpu_repeats_exactly_and_matches_its_labels():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(100, 3, 8, 8, generator=g), torch.randint(10, (100,), generator=g)
    loader = DeviceLoader(x, y, 32, device=CUDA, mean=[0.5] * 3, std=[0.25] * 3,
                          shuffle=True, crop_padding=2, flip=True, cutout_size=3,
                          dtype=torch.float16, seed=1)
    state = loader.state_dict()
    first = [(images.clone(), labels.clone()) for images, labels in loader]
    loader.load_state_dict(state)
    for (a, la), (b, lb) in zip(first, loader, strict=True):
        assert a.device.type == "cuda" and a.dtype == torch.float16
        assert torch.equal(a, b) and torch.equal(la, lb)
    assert sorted(torch.cat([labels for _, labels in first]).tolist()) == sorted(y.tolist())


@pytest.mark.parametrize("amp", [False, True])
def test_fit_learns_on_the_gpu_with_and_without_mixed_precision(amp, tmp_path):
    setup.seed_everything(0)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(2, (256,), generator=g)
    x = torch.rand(256, 3, 16, 16, generator=g) * 0.5 + y[:, None, None, None] * 0.5
    loader = DeviceLoader(x, y, 64, device=CUDA, shuffle=True, flip=True)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    history = train.fit(model, loader, optimizer, 5, CUDA, test_loader=loader, amp=amp,
                        clip_grad_norm=5.0, checkpoint=tmp_path / "run.pt")
    assert history[-1]["test_accuracy"] > 0.9
    state = torch.load(tmp_path / "run.pt", weights_only=True, map_location="cpu")
    assert "cuda" in state["random"]


def test_evaluate_counts_the_same_on_the_gpu_with_ignored_and_binary_labels():
    torch.manual_seed(0)
    x, y = torch.randn(6, 1, 8, 8), torch.randint(3, (6, 8, 8))
    y[:, 0] = 255
    loader = [(x[:4], y[:4]), (x[4:], y[4:])]
    model = nn.Conv2d(1, 3, 1)
    loss_fn = nn.CrossEntropyLoss(ignore_index=255)
    on_cpu = train.evaluate(model, loader, "cpu", loss_fn)
    on_gpu = train.evaluate(model.to(CUDA), loader, CUDA, loss_fn, amp=True)
    assert on_gpu["accuracy"] == pytest.approx(on_cpu["accuracy"], abs=0.02)
    binary = nn.Conv2d(1, 1, 1).to(CUDA)
    accuracy = train.evaluate(binary, [(x, (y == 1).long())], CUDA)["accuracy"]
    assert 0 <= accuracy <= 1


def test_metrics_take_gpu_tensors():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(21, (2, 32, 32), generator=g).to(torch.uint8)
    prediction = torch.randint(21, (2, 32, 32), generator=g).to(torch.uint8)
    on_cpu = metrics.confusion_matrix(prediction, target, 21)
    on_gpu = metrics.confusion_matrix(prediction.to(CUDA), target.to(CUDA), 21)
    assert torch.equal(on_cpu, on_gpu)
    model = unet.UNet(1, 3, depth=2, width=4).to(CUDA)
    loader = [(torch.rand(2, 1, 16, 16), torch.randint(3, (2, 16, 16)))]
    cm = metrics.evaluate_segmentation(model, loader, 3, device=CUDA)
    assert cm.sum() == 2 * 16 * 16 and cm.device.type == "cpu"


def test_boundary_and_calibration_metrics_take_gpu_tensors():
    g = torch.Generator().manual_seed(4)
    prediction, target = torch.rand(2, 2, 12, 10, generator=g) < 0.5
    logits = torch.randn(3, 4, 6, 5, generator=g) * 3
    labels = torch.multinomial((logits / 3).softmax(1).movedim(1, -1).reshape(-1, 4), 1,
                               generator=g).view(3, 6, 5)
    for name in ("hausdorff_distance", "hd95", "average_surface_distance"):
        function = getattr(metrics, name)
        assert function(prediction.to(CUDA), target.to(CUDA)) == function(prediction, target)
    assert metrics.surface_dice(prediction.to(CUDA), target.to(CUDA), 1.0) == \
        metrics.surface_dice(prediction, target, 1.0)
    probabilities = logits.softmax(1)
    assert metrics.expected_calibration_error(probabilities.to(CUDA), labels.to(CUDA)) == \
        pytest.approx(metrics.expected_calibration_error(probabilities, labels), abs=1e-6)
    assert metrics.fit_temperature(logits.to(CUDA), labels.to(CUDA)) == pytest.approx(
        metrics.fit_temperature(logits, labels), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_losses_under_autocast_are_finite_and_close_to_float32(dtype):
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 3, 64, 64, generator=g) * 4).to(CUDA)
    target = torch.randint(3, (8, 64, 64), generator=g).to(CUDA)
    for loss in (losses.cross_entropy, losses.soft_dice_loss, losses.cross_entropy_dice):
        full = loss(logits, target)
        low = loss(logits.to(dtype), target)
        assert torch.isfinite(low) and low.item() == pytest.approx(full.item(), abs=2e-2)


def test_unet_in_bfloat16_and_channels_last_is_close_to_float32():
    torch.manual_seed(0)
    model = unet.UNet(1, 2, depth=3, width=8).to(CUDA).eval()
    x = torch.rand(2, 1, 64, 64, device=CUDA)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            low = model(x).float()
        fast = model.to(memory_format=torch.channels_last)(
            x.to(memory_format=torch.channels_last))
    assert (low - reference).abs().max() < 0.1
    assert torch.allclose(fast, reference, atol=1e-3)


def test_tiled_and_symmetric_prediction_match_the_cpu():
    torch.manual_seed(0)
    model = unet.UNet(1, 2, depth=2, width=4).eval()
    image = torch.rand(1, 1, 96, 96)
    on_cpu = membranes.predict_tiled(model, image, tile=64, overlap=16)
    on_gpu = membranes.predict_tiled(model.to(CUDA), image, tile=64, overlap=16, device=CUDA)
    assert on_gpu.device.type == "cpu" and torch.allclose(on_cpu, on_gpu, atol=1e-4)
    symmetric = membranes.predict_symmetric(model, image, tile=64, overlap=16, device=CUDA)
    assert torch.allclose(symmetric.sum(1), torch.ones(1, 96, 96), atol=1e-5)


@pytest.mark.parametrize("make_model, size", [(models.MnistCNN, 28), (models.ResNet9, 32)])
def test_predict_gathers_gpu_logits_on_the_cpu(make_model, size):
    torch.manual_seed(0)
    model = make_model()
    channels = 1 if size == 28 else 3
    images = torch.rand(10, channels, size, size)
    on_cpu = train.predict(model, images, "cpu", batch_size=4)
    logits = train.predict(model.to(CUDA), images, CUDA, batch_size=4)
    assert logits.shape == (10, 10) and logits.device.type == "cpu"
    assert torch.allclose(logits, on_cpu, atol=1e-3)


def test_cuda_graph_replays_the_eager_forward_on_new_inputs():
    """A recorded graph gives eager's output for an input it never saw (it copies the input
    into its own tensor), and refuses another shape with a clear error."""
    from coursekit import profiling

    setup.seed_everything(0)
    model = unet.UNet(1, 2, depth=2, width=4).eval()
    example = torch.randn(2, 1, 32, 32)
    for variant in ("cudagraph", "channels_last+fp16+cudagraph"):
        run, _, note = profiling.make_variant(model, example, variant, CUDA)
        assert note == ""
        fresh = torch.randn(2, 1, 32, 32)
        with torch.inference_mode():
            expected = model(fresh)
        got = run(fresh.to(CUDA)).cpu()
        assert (got - expected).abs().max() < (2e-2 if "fp16" in variant else 1e-4)
        with pytest.raises(ValueError, match="x: a CUDA graph replays the shape"):
            run(torch.randn(1, 1, 32, 32, device=CUDA))
