"""coursekit.metrics.per_image: per-image confusion matrices and the two meanings of mIoU,
against torchmetrics' per-image mIoU, its MeanIoU class, and a hand-made case where the
two meanings disagree."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torchmetrics.functional.segmentation import mean_iou as tm_mean_iou
from torchmetrics.segmentation import MeanIoU

from coursekit import metrics


@st.composite
def segmentations(draw):
    classes = draw(st.integers(2, 6))
    n, h, w = draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 16)))
    target = torch.randint(classes, (n, h, w), generator=g)
    prediction = torch.where(torch.rand(n, h, w, generator=g) < 0.5, target,
                             torch.randint(classes, (n, h, w), generator=g))
    dtype = draw(st.sampled_from([torch.uint8, torch.int64]))
    return prediction.to(dtype), target.to(dtype), classes


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segmentations())
def test_per_image_matrices_sum_to_the_data_set_matrix_and_equal_one_call_each(case):
    prediction, target, classes = case
    cms = metrics.per_image_confusion_matrices(prediction, target, classes)
    assert cms.shape == (len(target), classes, classes) and cms.dtype == torch.int64
    assert torch.equal(cms.sum(0), metrics.confusion_matrix(prediction, target, classes))
    for i in range(len(target)):
        assert torch.equal(cms[i], metrics.confusion_matrix(prediction[i], target[i], classes))
    assert metrics.data_set_mean_iou(cms) == metrics.mean_iou(cms.sum(0))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segmentations())
def test_per_image_miou_equals_torchmetrics(case):
    prediction, target, classes = case
    cms = metrics.per_image_confusion_matrices(prediction, target, classes)
    reference = tm_mean_iou(prediction.long(), target.long(), num_classes=classes,
                            input_format="index")
    assert torch.allclose(metrics.per_image_iou(cms), reference.double(), atol=1e-6)
    assert metrics.per_image_mean_iou(cms) == pytest.approx(reference.mean().item(), abs=1e-6)
    present = ((cms.sum(1) + cms.sum(2)) > 0).sum(1)         # classes present per image
    if (present == present[0]).all():                        # the same number everywhere:
        pooled = MeanIoU(num_classes=classes, input_format="index")(   # MeanIoU agrees
            prediction.long(), target.long())
        assert metrics.per_image_mean_iou(cms) == pytest.approx(pooled.item(), abs=1e-6)


def test_the_two_meanings_of_miou_differ_and_torchmetrics_meaniou_is_a_third():
    # image 0: big, two classes, perfect; image 1: small, three classes, class 2 missed
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[0, :, 2:] = 1
    target[1, :2, :2] = 1
    target[1, 3, 3] = 2
    prediction = target.clone()
    prediction[1, 3, 3] = 0
    cms = metrics.per_image_confusion_matrices(prediction, target, 3)
    # data set: class 0 IoU 19 / 20, class 1 IoU 1, class 2 IoU 0 -> mean of the three
    assert metrics.data_set_mean_iou(cms) == pytest.approx((19 / 20 + 1 + 0) / 3)
    # per image: image 0 mIoU 1 (2 classes); image 1: (11/12 + 1 + 0) / 3
    image1 = (11 / 12 + 1 + 0) / 3
    assert metrics.per_image_mean_iou(cms) == pytest.approx((1 + image1) / 2)
    # torchmetrics' MeanIoU pools the 5 (image, class) pairs present: (1 + 1 + 11/12 + 1 + 0) / 5
    pooled = MeanIoU(num_classes=3, input_format="index")(prediction, target).item()
    assert pooled == pytest.approx((3 + 11 / 12) / 5, abs=1e-6)
    assert pooled != pytest.approx(metrics.per_image_mean_iou(cms), abs=1e-3)


def test_ignored_pixels_and_an_all_ignored_image():
    target = torch.tensor([[[0, 1], [1, 255]], [[255, 255], [255, 255]]])
    prediction = torch.tensor([[[0, 1], [0, 1]], [[0, 0], [0, 0]]])
    cms = metrics.per_image_confusion_matrices(prediction, target, 2, ignore_index=255)
    assert cms[1].sum() == 0 and cms[0].tolist() == [[1, 0], [1, 1]]
    assert torch.isnan(metrics.per_image_iou(cms)[1])
    assert metrics.per_image_mean_iou(cms) == pytest.approx((1 / 2 + 1 / 2) / 2)
    with pytest.raises(ValueError, match="cms: no pixel was counted in any image"):
        metrics.per_image_mean_iou(cms[1:])


def test_bad_input_gets_a_clear_error():
    t = torch.zeros(2, 3, 3, dtype=torch.long)
    with pytest.raises(TypeError, match="prediction: expected an integer tensor.*argmax"):
        metrics.per_image_confusion_matrices(torch.zeros(2, 2, 3, 3), t, 2)
    with pytest.raises(ValueError, match="target: expected a batch of images"):
        metrics.per_image_confusion_matrices(t[0, 0, 0], t[0, 0, 0], 2)
    with pytest.raises(ValueError, match="num_classes: expected an int >= 2"):
        metrics.per_image_confusion_matrices(t, t, 1)
    with pytest.raises(ValueError, match=r"cms: expected a tensor \(N, C, C\)"):
        metrics.data_set_mean_iou(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="cms: expected per-image confusion matrices"):
        metrics.per_image_mean_iou(torch.zeros(0, 2, 2))
