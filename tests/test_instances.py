"""coursekit.instances (chapter 9's Mask R-CNN on MNIST scenes) and
models.pretrained_maskrcnn offline. Fast: no MNIST, no download, a few training steps."""

import pytest
import torch

from coursekit import instances, models, scenes


def pool(n=12):
    generator = torch.Generator().manual_seed(0)
    digits = torch.zeros(n, 28, 28)
    digits[:, 5:23, 9:19] = 0.6 + 0.4 * torch.rand(n, 18, 10, generator=generator)
    return digits, torch.arange(n) % 10


def test_scene_targets_two_touching_digits_of_one_class_are_two_instances():
    semantic = torch.zeros(8, 8, dtype=torch.int64)
    semantic[2:4, 1:3] = 4           # digit 3 ...
    semantic[2:4, 3:6] = 4           # ... and another 3 touching it: one semantic region
    semantic[6, 7] = 8               # a one-pixel 7
    ids = torch.zeros_like(semantic)
    ids[2:4, 1:3], ids[2:4, 3:6], ids[6, 7] = 1, 2, 5      # ids need not be consecutive
    targets = instances.scene_targets(ids, semantic)
    assert targets["labels"].tolist() == [4, 4, 8]
    assert targets["boxes"].tolist() == [[1, 2, 3, 4], [3, 2, 6, 4], [7, 6, 8, 7]]
    assert targets["masks"].dtype == torch.uint8 and targets["masks"].shape == (3, 8, 8)
    assert torch.equal(targets["masks"].sum(0).bool(), semantic > 0)
    assert torch.equal(targets["masks"][1].bool(), ids == 2)


def test_scene_targets_of_an_empty_scene():
    empty = torch.zeros(5, 6, dtype=torch.int64)
    targets = instances.scene_targets(empty, empty)
    assert targets["boxes"].shape == (0, 4) and targets["masks"].shape == (0, 5, 6)
    assert targets["labels"].shape == (0,)


@pytest.mark.parametrize("ids, semantic, message", [
    (torch.zeros(4, 4), torch.zeros(4, 4, dtype=torch.int64), "instances: expected an int"),
    (torch.zeros(4, 4, dtype=torch.int64), torch.zeros(4, 5, dtype=torch.int64),
     r"semantic: expected the shape of instances \(4, 4\)"),
    (torch.ones(4, 4, dtype=torch.int64), torch.zeros(4, 4, dtype=torch.int64),
     "one class > 0 on the pixels of instance 1"),
    (torch.zeros(4, 4, dtype=torch.int64), torch.full((4, 4), 11), "classes 0..10"),
    (torch.zeros(4, dtype=torch.int64), torch.zeros(4, dtype=torch.int64), r"\(H, W\)"),
])
def test_scene_targets_bad_input(ids, semantic, message):
    with pytest.raises((TypeError, ValueError), match=message):
        instances.scene_targets(ids, semantic)


def test_instance_scenes_match_the_scenes_digits():
    made = scenes.MNISTScenes(6, size=48, max_digits=3, seed=3, digits_pool=pool())
    dataset = instances.InstanceScenes(made)
    assert len(dataset) == 6
    for i in range(6):
        image, targets = dataset[i]
        assert image.shape == (1, 48, 48)
        digits = made.digits[i]
        assert sorted(targets["labels"].tolist()) == sorted(d.label + 1 for d in digits)
        boxes = sorted(tuple(b) for b in targets["boxes"].int().tolist())
        # Digit.box is (left, top, right, bottom) inclusive; the targets' ends are one past
        assert boxes == sorted((a, b, c + 1, d + 1) for a, b, c, d in
                               (digit.box for digit in digits))
    with pytest.raises(TypeError, match="scenes: expected MNISTScenes"):
        instances.InstanceScenes(made.images)


def test_collate_keeps_lists():
    dataset = instances.InstanceScenes(
        scenes.MNISTScenes(3, size=40, seed=0, digits_pool=pool()))
    images, targets = instances.collate([dataset[0], dataset[1]])
    assert len(images) == len(targets) == 2 and targets[1] is dataset[1][1]
    with pytest.raises(TypeError, match="batch: expected a list of"):
        instances.collate(torch.zeros(2, 3))


def test_tiny_maskrcnn_trains_and_predicts_in_the_documented_shapes():
    torch.manual_seed(0)
    dataset = instances.InstanceScenes(
        scenes.MNISTScenes(8, size=64, seed=1, digits_pool=pool()))
    model = instances.tiny_maskrcnn(width=4)
    history = instances.train_detector(model, dataset, steps=2, batch_size=2,
                                       progress=False)
    assert len(history) == 2 and model.training
    assert set(history[0]) == {"loss", "loss_classifier", "loss_box_reg", "loss_mask",
                               "loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(torch.tensor(list(row.values()))).all() for row in history)
    model.eval()
    with torch.inference_mode():
        outputs = model([dataset[0][0], dataset[1][0]])
    assert len(outputs) == 2
    for found in outputs:
        k = len(found["labels"])
        assert found["boxes"].shape == (k, 4) and found["scores"].shape == (k,)
        assert found["masks"].shape == (k, 1, 64, 64)
        assert ((found["labels"] >= 1) & (found["labels"] <= 10)).all()


def test_train_detector_repeats_with_a_seed():
    dataset = instances.InstanceScenes(
        scenes.MNISTScenes(6, size=64, seed=1, digits_pool=pool()))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = instances.tiny_maskrcnn(width=4)
        runs.append(instances.train_detector(model, dataset, 2, batch_size=2,
                                             progress=False))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps: expected an int >= 1"),
    ({"lr": 0.0}, "lr"),
    ({"batch_size": 1.5}, "batch_size"),
])
def test_train_detector_bad_input(kwargs, message):
    dataset = instances.InstanceScenes(
        scenes.MNISTScenes(2, size=40, seed=1, digits_pool=pool()))
    arguments = {"steps": 1, **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        instances.train_detector(instances.tiny_maskrcnn(width=2, size=40), dataset,
                                 **arguments)
    with pytest.raises(TypeError, match="dataset: expected"):
        instances.train_detector(instances.tiny_maskrcnn(width=2, size=40), 3, 1)


def test_tiny_maskrcnn_bad_input():
    with pytest.raises(ValueError, match="num_classes"):
        instances.tiny_maskrcnn(num_classes=1)
    with pytest.raises(TypeError, match="anchor_sizes"):
        instances.tiny_maskrcnn(anchor_sizes=16)
    with pytest.raises((TypeError, ValueError), match="anchor_sizes"):
        instances.tiny_maskrcnn(anchor_sizes=(16, 0))


def test_digit_counts_feed_the_count_confusion():
    predicted = [{"labels": torch.tensor([4, 4, 8, 1]),
                  "scores": torch.tensor([0.9, 0.6, 0.4, 0.8])},
                 {"labels": torch.zeros(0, dtype=torch.int64), "scores": torch.zeros(0)}]
    counts = instances.digit_counts(predicted, score_threshold=0.5)
    assert counts.shape == (2, 10) and counts.dtype == torch.int64
    assert counts[0].tolist() == [1, 0, 0, 2, 0, 0, 0, 0, 0, 0] and counts[1].sum() == 0
    assert instances.digit_counts(predicted)[0, 7] == 1            # no threshold: all
    truth = instances.digit_counts([{"labels": torch.tensor([4, 8])},
                                    {"labels": torch.tensor([2])}])
    assert truth.tolist() == [[0, 0, 0, 1, 0, 0, 0, 1, 0, 0], [0, 1] + [0] * 8]


@pytest.mark.parametrize("detections, kwargs, message", [
    (torch.zeros(3), {}, "detections: expected a list"),
    ([{"boxes": torch.zeros(0, 4)}], {}, r"detections\[0\]: expected a dict with labels"),
    ([{"labels": torch.tensor([1.0])}], {}, "an integer tensor"),
    ([{"labels": torch.tensor([11])}], {}, "expected 0..10"),
    ([{"labels": torch.tensor([1])}], {"score_threshold": 0.5}, r"\['scores'\]"),
    ([{"labels": torch.tensor([1]), "scores": torch.tensor([0.5, 0.2])}],
     {"score_threshold": 0.5}, "one per label"),
    ([], {"score_threshold": 1.5}, "score_threshold"),
])
def test_digit_counts_bad_input(detections, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        instances.digit_counts(detections, **kwargs)


def test_draw_instances():
    image = torch.zeros(1, 10, 12)
    masks = torch.zeros(2, 1, 10, 12)
    masks[0, 0, 2:5, 2:5], masks[1, 0, 6:9, 6:9] = 0.9, 0.9
    found = {"boxes": torch.tensor([[2.0, 2, 5, 5], [6, 6, 9, 9]]),
             "labels": torch.tensor([4, 8]), "scores": torch.tensor([0.9, 0.3]),
             "masks": masks}
    picture = instances.draw_instances(image, found, scale=2)
    assert picture.shape == (3, 20, 24) and picture.dtype == torch.uint8
    assert picture[:, 6, 6].sum() > 0              # inside the first mask: coloured
    first_only = {key: value[:1] for key, value in found.items()}
    assert torch.equal(picture, instances.draw_instances(image, first_only, scale=2))
    assert not torch.equal(picture,                # the second is below the threshold
                           instances.draw_instances(image, found, scale=2,
                                                    score_threshold=0.2))
    truth = {key: value for key, value in found.items() if key != "scores"}
    assert instances.draw_instances(image, truth)[:, 7, 7].sum() > 0
    with pytest.raises(ValueError, match="image: expected 1 or 3 channels"):
        instances.draw_instances(torch.zeros(2, 10, 12), found)
    with pytest.raises(ValueError, match="masks of the image's size"):
        instances.draw_instances(torch.zeros(1, 8, 8), found)
    with pytest.raises(TypeError, match="detections: expected a dict"):
        instances.draw_instances(image, [found])


def test_draw_instances_colours_by_class_or_by_instance():
    """Two 3s: two colours by instance, one by class (the colour a semantic map gives
    class 4, that is digit 3); a 5 keeps its own class colour."""
    from matplotlib.colors import to_rgb

    from coursekit.viz.segmentation import SEGMENTATION_PALETTE

    image = torch.zeros(1, 40, 120)
    masks = torch.zeros(3, 40, 120)
    masks[0, 2:38, 1:38], masks[1, 2:38, 41:78], masks[2, 2:38, 81:118] = 1.0, 1.0, 1.0
    found = {"boxes": torch.tensor([[1.0, 2, 38, 38], [41, 2, 78, 38], [81, 2, 118, 38]]),
             "labels": torch.tensor([4, 4, 6]), "masks": masks}
    by_class = instances.draw_instances(image, found, colour_by="class")
    by_instance = instances.draw_instances(image, found)
    centre = [by_class[:, 30, x].tolist() for x in (30, 70, 110)]   # below the labels
    assert centre[0] == centre[1] != centre[2]
    expected = [round(0.5 * 255 * c) for c in to_rgb(SEGMENTATION_PALETTE[3])]
    assert all(abs(a - b) <= 1 for a, b in zip(centre[0], expected, strict=True))
    assert by_instance[:, 30, 30].tolist() != by_instance[:, 30, 70].tolist()
    with pytest.raises(ValueError, match='colour_by: expected "instance" or "class"'):
        instances.draw_instances(image, found, colour_by="label")


def test_draw_instances_labels_readable():
    """The label text is drawn in a TrueType font scaled with the picture, not in
    torchvision's 11-pixel bitmap default: at scale 4 its ink is > 11 pixels high."""
    image = torch.zeros(1, 64, 64)
    masks = torch.zeros(1, 64, 64)
    found = {"boxes": torch.tensor([[10.0, 20, 40, 50]]), "labels": torch.tensor([4]),
             "masks": masks}
    picture = instances.draw_instances(image, found, scale=4)
    inside = picture[:, 20 * 4 + 3:50 * 4 - 3, 10 * 4 + 3:40 * 4 - 3].amax(0)
    rows = (inside > 0).any(1).nonzero().flatten()
    assert rows.numel() and int(rows.max() - rows.min()) + 1 > 11


def test_pretrained_maskrcnn_offline_says_so_and_continues(monkeypatch, capsys):
    from torchvision.models import detection

    def no_internet(self, *args, **kwargs):
        raise OSError("no internet")

    weights = detection.MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1
    monkeypatch.setattr(weights.__class__, "get_state_dict", no_internet)
    model, loaded = models.pretrained_maskrcnn()
    assert loaded is False and not model.training
    assert model.roi_heads.box_predictor.cls_score.out_features == 91
    printed = capsys.readouterr().out
    said = " ".join(printed.split())
    assert "It returns a randomly initialised Mask R-CNN instead (loaded = False)" in said
    assert "goes on" not in said          # the caller decides what its cell does
    assert all(len(line) <= 88 for line in printed.splitlines())


@pytest.mark.parametrize("kwargs, message", [
    ({"pretrained": 1}, "pretrained"), ({"version": 3}, "version: expected an int >= 1 and <= 2"),
    ({"version": 2.0}, "version: expected an int"),
    ({"version": True}, "version"),
])
def test_pretrained_maskrcnn_bad_input(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        models.pretrained_maskrcnn(**kwargs)


def test_one_class_per_place_keeps_the_best_reading_of_a_place():
    found = {"boxes": torch.tensor([[0.0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 30, 30]]),
             "scores": torch.tensor([0.6, 0.8, 0.7]), "labels": torch.tensor([9, 4, 4]),
             "masks": torch.zeros(3, 1, 32, 32)}
    kept = instances.one_class_per_place([found])[0]
    assert kept["labels"].tolist() == [4, 4]
    assert kept["scores"].tolist() == pytest.approx([0.8, 0.7])
    assert kept["masks"].shape == (2, 1, 32, 32)
    assert len(instances.one_class_per_place([found], iou_threshold=1.0)[0]["labels"]) == 3
    with pytest.raises(TypeError, match=r"detections\[0\]: expected a dict with boxes"):
        instances.one_class_per_place([{"labels": torch.tensor([1])}])
    with pytest.raises(ValueError, match="iou_threshold"):
        instances.one_class_per_place([found], iou_threshold=2.0)
