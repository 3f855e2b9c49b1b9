"""Instance segmentation on MNIST scenes with torchvision's Mask R-CNN (chapter 9).

A semantic map says which class each pixel is; two touching 3s make one region of
class 3. An instance map also says *which* 3: MNIST scenes carry one
(``MNISTScenes.instances``: 0 background, k for the k-th digit). Mask R-CNN predicts
instances: for each object a box, a class, a score and a mask of its own.

- ``scene_targets``: one scene's maps as the targets torchvision's detection models
  train on (boxes, labels, masks);
- ``InstanceScenes`` and ``collate``: MNIST scenes as (image, targets) pairs, in
  batches of lists (detection models take lists: each image has its own number of
  objects);
- ``tiny_maskrcnn``: a Mask R-CNN small enough to train on a laptop CPU in minutes: a
  few convolutions as backbone (one feature map, stride 4), anchors sized for digits of
  about 20 pixels, narrow heads;
- ``train_detector``: a number of training steps, with a progress bar and the losses;
- ``one_class_per_place``: overlapping instances of different classes reduced to the
  best-scored one (one digit, one reading);
- ``digit_counts``: instances (predicted, score above a threshold, or true) as counts
  per digit, the answer ``metrics.count_confusion`` scores;
- ``draw_instances``: an image with boxes, class names, scores and masks drawn on it.

Labels: class 0 is the background; digit d is label d + 1 (as in the semantic maps).
The model's outputs and ``scene_targets``' dicts go as they are into
``metrics.mean_average_precision`` (COCO's box and mask AP).
"""

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from coursekit._checks import (
    check_bool,
    check_boxes,
    check_device,
    check_finite,
    check_indices,
    check_int,
    check_module,
    check_names,
    check_number,
    check_per_instance,
    check_pixels,
    check_probabilities,
    check_tensor,
    check_unit_range,
    describe,
)
from coursekit.models import conv_bn

NUM_DIGITS = 10
DIGIT_NAMES = ("background",) + tuple(str(d) for d in range(NUM_DIGITS))


def scene_targets(instances: torch.Tensor, semantic: torch.Tensor) -> dict:
    """One scene's maps as Mask R-CNN targets: a dict of

    - ``boxes``: (K, 4) float32, (x1, y1, x2, y2) around each instance's pixels, x2 and
      y2 one past the last column and row (a one-pixel instance has a 1x1 box);
    - ``labels``: (K,) int64, the instance's class in ``semantic`` (digit d: d + 1);
    - ``masks``: (K, H, W) uint8, 1 on the instance's pixels.

    instances: (H, W) integers (any integer dtype, or bool for one object), 0 background,
    k > 0 the k-th object (ids need not be consecutive; an id hidden by later objects is
    simply absent); semantic: (H, W) integers (or bool), the class of each pixel, 0
    background, 1..10 the digits; every pixel of an instance must have one class > 0. K
    is the number of ids present (0 for an empty scene: boxes (0, 4), masks (0, H, W)).
    """
    instances = check_indices(instances, "instances", ndim=2, dims="(H, W)", low=0,
                              wanted="instance ids")
    semantic = check_indices(semantic, "semantic", ndim=2, dims="(H, W)", low=0,
                             high=NUM_DIGITS, wanted="classes")
    if semantic.shape != instances.shape:
        raise ValueError(f"semantic: expected the shape of instances "
                         f"{tuple(instances.shape)}, got {tuple(semantic.shape)}")
    ids = [int(i) for i in instances.unique() if i > 0]
    height, width = instances.shape
    boxes, labels = torch.zeros(len(ids), 4), torch.zeros(len(ids), dtype=torch.int64)
    masks = torch.zeros(len(ids), height, width, dtype=torch.uint8)
    for k, index in enumerate(ids):
        mask = instances == index
        classes = semantic[mask].unique()
        if len(classes) != 1 or classes[0] == 0:
            raise ValueError(f"semantic: expected one class > 0 on the pixels of instance "
                             f"{index}, found classes {classes.tolist()}")
        rows, cols = mask.nonzero(as_tuple=True)
        boxes[k] = torch.tensor([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1],
                                dtype=torch.float32)
        labels[k], masks[k] = classes[0], mask.to(torch.uint8)
    return {"boxes": boxes, "labels": labels, "masks": masks}


class InstanceScenes(Dataset):
    """MNIST scenes for detection: ``dataset[i]`` is (image (1, S, S) float, targets
    dict as from ``scene_targets``).

    scenes: an ``MNISTScenes`` (or anything with ``images`` (N, 1, S, S) float in [0, 1],
    ``semantic`` and ``instances`` (N, S, S) integer tensors). The targets are made once,
    here."""

    def __init__(self, scenes):
        for attr in ("images", "semantic", "instances"):
            if not isinstance(getattr(scenes, attr, None), torch.Tensor):
                raise TypeError(f"scenes: expected MNISTScenes (with images, semantic and "
                                f"instances tensors), got {describe(scenes)}")
        check_tensor(scenes.images, "scenes.images", ndim=4, dims="(N, 1, S, S)",
                     kind="float")
        if scenes.images.shape[1] != 1:
            raise ValueError(f"scenes.images: expected grey scenes (N, 1, S, S), got "
                             f"{describe(scenes.images)}")
        check_unit_range(scenes.images, "scenes.images")
        n, _, height, width = scenes.images.shape
        for attr in ("semantic", "instances"):
            if getattr(scenes, attr).shape != (n, height, width):
                raise ValueError(f"scenes.{attr}: expected ({n}, {height}, {width}) like "
                                 f"scenes.images, got {describe(getattr(scenes, attr))}")
        self.images = scenes.images
        self.targets = [scene_targets(scenes.instances[i], scenes.semantic[i])
                        for i in range(n)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.targets[index]


def collate(batch):
    """A list of (image, targets) pairs -> (list of images, list of targets): what a
    ``DataLoader(..., collate_fn=collate)`` gives a detection model."""
    if not isinstance(batch, list | tuple) or not all(
            isinstance(pair, list | tuple) and len(pair) == 2 for pair in batch):
        raise TypeError(f"batch: expected a list of (image, targets) pairs, "
                        f"got {describe(batch)}")
    return [image for image, _ in batch], [targets for _, targets in batch]


class _TinyBackbone(nn.Sequential):
    """(N, 1, S, S) -> (N, 2 * width, S / 4, S / 4): four 3x3 conv-BN-ReLU, two poolings."""

    def __init__(self, width: int):
        super().__init__(conv_bn(1, width), nn.MaxPool2d(2),            # S / 2
                         conv_bn(width, 2 * width), nn.MaxPool2d(2),    # S / 4
                         conv_bn(2 * width, 2 * width), conv_bn(2 * width, 2 * width))
        self.out_channels = 2 * width     # what torchvision's detection models read


def tiny_maskrcnn(num_classes: int = NUM_DIGITS + 1, width: int = 16, size: int = 64,
                  anchor_sizes=(12, 20, 28)):
    """A small torchvision ``MaskRCNN`` for grey ``size`` x ``size`` scenes.

    Backbone: four 3x3 convolutions (``width``, then 2 * ``width`` channels) and two 2x2
    poolings: one feature map at stride 4 (16x16 for 64x64). Anchors of ``anchor_sizes``
    pixels (a few ints >= 1) with height/width ratios 0.5, 1 and 2 at every position;
    RoI Align to 7x7 for the box head (two linear layers of 128) and to 14x14 for the mask
    head (two convolutions, then a 28x28 mask per class). Images are not resized (the
    model's transform keeps ``size``) and are normalised with mean 0.1, std 0.3.
    num_classes: an int >= 2, with the background; width, size: ints >= 1 (size >= 16).
    In training mode ``model(images, targets)`` returns a dict of five losses; in eval
    mode ``model(images)`` returns one dict per image: boxes (K, 4), labels (K,),
    scores (K,), masks (K, 1, H, W) probabilities.
    """
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    num_classes = check_int(num_classes, "num_classes", low=2)
    width = check_int(width, "width", low=1)
    size = check_int(size, "size", low=16)
    if not isinstance(anchor_sizes, list | tuple) or not anchor_sizes:
        raise TypeError(f"anchor_sizes: expected a few ints (pixels), "
                        f"got {describe(anchor_sizes)}")
    anchor_sizes = tuple(check_int(a, "anchor_sizes", low=1) for a in anchor_sizes)
    backbone = _TinyBackbone(width)
    channels = backbone.out_channels
    anchors = AnchorGenerator(sizes=(anchor_sizes,), aspect_ratios=((0.5, 1.0, 2.0),))
    box_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    mask_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=14, sampling_ratio=2)
    return MaskRCNN(
        backbone, num_classes=None, min_size=size, max_size=size,
        image_mean=[0.1], image_std=[0.3],
        rpn_anchor_generator=anchors, rpn_pre_nms_top_n_train=300,
        rpn_post_nms_top_n_train=100, rpn_pre_nms_top_n_test=150,
        rpn_post_nms_top_n_test=50, rpn_batch_size_per_image=64,
        box_roi_pool=box_pool, box_head=TwoMLPHead(channels * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, num_classes), box_batch_size_per_image=64,
        box_detections_per_img=20,
        mask_roi_pool=mask_pool, mask_head=MaskRCNNHeads(channels, [channels] * 2, 1),
        mask_predictor=MaskRCNNPredictor(channels, channels, num_classes))


def _check_sample(sample, k: int, channels: int | None, num_classes: int | None) -> None:
    """dataset[k] as ``InstanceScenes`` gives it: an image (C, H, W) float in [0, 1] with
    the model's C channels, and targets: boxes (K, 4), labels (K,) 1..num_classes - 1,
    masks (K, H, W) of the image's size."""
    name = f"dataset[{k}]"
    if not isinstance(sample, list | tuple) or len(sample) != 2:
        raise TypeError(f"{name}: expected an (image, targets) pair, got {describe(sample)}")
    image, targets = sample
    check_tensor(image, f"{name} image", ndim=3, dims="(C, H, W)", kind="float")
    if channels is not None and image.shape[0] != channels:
        raise ValueError(f"{name} image: expected {channels} channel(s), as the model reads, "
                         f"got {describe(image)}")
    check_pixels(image, f"{name} image")
    check_unit_range(image, f"{name} image")
    if not isinstance(targets, dict) or not {"boxes", "labels", "masks"} <= set(targets):
        raise TypeError(f"{name}: expected (image, targets) with targets a dict of "
                        f"boxes, labels and masks, got targets {describe(targets)}")
    boxes = check_boxes(targets["boxes"], f"{name} targets['boxes']")
    check_indices(targets["labels"], f"{name} targets['labels']", ndim=1, dims="(K,)",
                  low=1, high=None if num_classes is None else num_classes - 1,
                  wanted="labels", hint="; 0 is the background, not an object")
    masks = check_tensor(targets["masks"], f"{name} targets['masks']", ndim=3,
                         dims="(K, H, W)")
    if masks.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"{name} targets['masks']: expected masks of the image's size "
                         f"{tuple(image.shape[-2:])}, got {describe(masks)}")
    check_per_instance(targets, f"{name} targets", len(boxes))


def train_detector(model, dataset, steps: int, device="cpu", batch_size: int = 8,
                   lr: float = 1e-3, seed: int = 0, progress: bool = True) -> list[dict]:
    """``steps`` steps of AdamW, its learning rate rising to ``lr`` then falling to almost
    0 (one-cycle), on batches drawn at random from ``dataset``; returns one
    dict of losses per step (the five Mask R-CNN losses and their sum, "loss", floats).

    model: a torchvision detection model (``tiny_maskrcnn``), left in training mode on
    ``device``; dataset: (image, targets) pairs (``InstanceScenes``): images (C, H, W)
    float in [0, 1] with the model's channels, targets with boxes (K, 4), labels (K,)
    1..num_classes - 1 (any integer dtype) and masks (K, H, W), each drawn sample
    checked; steps, batch_size: ints >= 1; lr: a float > 0; seed: an int >= 0, the order
    of the batches (the same seed, the same batches); progress: a bool, a progress bar
    with the latest loss.
    """
    model = check_module(model)
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise TypeError(f"dataset: expected (image, targets) pairs, e.g. InstanceScenes, "
                        f"got {describe(dataset)}")
    if len(dataset) == 0:
        raise ValueError("dataset: expected at least one scene, got an empty data set")
    steps = check_int(steps, "steps", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_number(lr, "lr", low=0, low_open=True)
    seed = check_int(seed, "seed", low=0)
    progress = check_bool(progress, "progress")
    device = check_device(device)
    channels = getattr(getattr(model, "transform", None), "image_mean", None)
    channels = len(channels) if channels is not None else None
    predictor = getattr(getattr(model, "roi_heads", None), "box_predictor", None)
    num_classes = getattr(getattr(predictor, "cls_score", None), "out_features", None)
    _check_sample(dataset[0], 0, channels, num_classes)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    history = []
    with tqdm(total=steps, desc="training", unit="step", disable=not progress) as bar:
        for _ in range(steps):
            picks = torch.randint(len(dataset), (batch_size,), generator=generator)
            samples = [dataset[int(i)] for i in picks]
            for i, sample in zip(picks.tolist(), samples, strict=True):
                _check_sample(sample, i, channels, num_classes)
            images, targets = collate(samples)
            images = [image.to(device) for image in images]
            targets = [{key: (value.long() if key == "labels" else value).to(device)
                        for key, value in t.items()} for t in targets]
            losses = model(images, targets)
            loss = sum(losses.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {float(loss)} at step "
                                         f"{len(history) + 1}; try a smaller lr")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            history.append({"loss": float(loss.detach()),
                            **{key: float(value.detach()) for key, value in losses.items()}})
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
            bar.update()
    return history


def one_class_per_place(detections, iou_threshold: float = 0.5) -> list[dict]:
    """Class-agnostic non-maximum suppression: of instances whose boxes overlap by more
    than ``iou_threshold`` (intersection over union), whatever their classes, keep the
    highest-scored. Mask R-CNN suppresses overlaps only within a class, so one digit
    read as a 3 (0.8) and as an 8 (0.6) stays two instances; here it becomes one 3.

    detections: a list of dicts with boxes (K, 4) (x1, y1, x2, y2), finite, x2 > x1 and
    y2 > y1, scores (K,) finite, and any other per-instance entries (labels, masks), each
    with K rows, as the model returns them; iou_threshold: a float in [0, 1].
    Returns new dicts, the kept instances in order of falling score.
    """
    from torchvision.ops import nms

    if not isinstance(detections, list | tuple):
        raise TypeError(f"detections: expected a list of dicts (one per image), "
                        f"got {describe(detections)}")
    iou_threshold = check_number(iou_threshold, "iou_threshold", low=0, high=1)
    kept = []
    for i, found in enumerate(detections):
        if not isinstance(found, dict) or not {"boxes", "scores"} <= set(found):
            raise TypeError(f"detections[{i}]: expected a dict with boxes and scores, "
                            f"got {describe(found)}")
        boxes = check_boxes(found["boxes"], f"detections[{i}]['boxes']")
        scores = check_tensor(found["scores"], f"detections[{i}]['scores']", ndim=1,
                              dims="(K,)", kind="float")
        check_finite(scores, f"detections[{i}]['scores']")
        check_per_instance(found, f"detections[{i}]", len(boxes))
        keep = nms(boxes.float(), scores.float(), iou_threshold)
        kept.append({key: value[keep] if isinstance(value, torch.Tensor) else value
                     for key, value in found.items()})
    return kept


def digit_counts(detections, score_threshold: float | None = None,
                 num_classes: int = NUM_DIGITS) -> torch.Tensor:
    """How many instances of each class every image has: a list of N dicts -> (N, K) int64.

    detections: one dict per image with ``labels`` (K_i,) integers (any integer dtype or
    bool), 0..num_classes (0, the background, is not counted), and, with a threshold,
    ``scores`` (K_i,) finite floats: Mask R-CNN's outputs, or targets. score_threshold:
    None (count every instance) or a float in [0, 1] (count those with score >
    threshold); num_classes: an int >= 1, K.
    Column c counts label c + 1 (digit c).
    """
    if not isinstance(detections, list | tuple):
        raise TypeError(f"detections: expected a list of dicts (one per image), "
                        f"got {describe(detections)}")
    num_classes = check_int(num_classes, "num_classes", low=1)
    if score_threshold is not None:
        score_threshold = check_number(score_threshold, "score_threshold", low=0, high=1)
    counts = torch.zeros(len(detections), num_classes, dtype=torch.int64)
    for i, found in enumerate(detections):
        if not isinstance(found, dict) or "labels" not in found:
            raise TypeError(f"detections[{i}]: expected a dict with labels, "
                            f"got {describe(found)}")
        labels = check_indices(found["labels"], f"detections[{i}]['labels']", ndim=1,
                               dims="(K,)", low=0, high=num_classes, wanted="").cpu()
        if score_threshold is not None:
            scores = found.get("scores")
            check_tensor(scores, f"detections[{i}]['scores']", ndim=1, dims="(K,)",
                         kind="float")
            check_finite(scores, f"detections[{i}]['scores']")
            if scores.shape != labels.shape:
                raise ValueError(f"detections[{i}]['scores']: expected one per label "
                                 f"{tuple(labels.shape)}, got {describe(scores)}")
            labels = labels[scores.cpu() > score_threshold]
        labels = labels[labels > 0] - 1
        counts[i] = torch.bincount(labels, minlength=num_classes)
    return counts


def _instance_colour(k: int) -> tuple[int, int, int]:
    """The k-th instance's colour, (R, G, B) in 0..255, from the course's palette."""
    from matplotlib.colors import to_rgb

    from coursekit.viz.segmentation import SEGMENTATION_PALETTE

    colour = to_rgb(SEGMENTATION_PALETTE[k % len(SEGMENTATION_PALETTE)])
    return tuple(round(255 * c) for c in colour)


def draw_instances(image: torch.Tensor, detections: dict, class_names=DIGIT_NAMES,
                   score_threshold: float = 0.5, mask_threshold: float = 0.5,
                   scale: int = 1, colour_by: str = "instance") -> torch.Tensor:
    """``image`` with the detections drawn: masks in colour, boxes, "name score" labels.

    image: (C, H, W) float in [0, 1], C = 1 or 3; detections: a dict with boxes (K, 4)
    (finite, x2 > x1, y2 > y1), labels (K,) integers >= 0, masks (K, 1, H, W) or (K, H,
    W), probabilities or 0/1, and optionally scores (K,) finite floats (targets have
    none); only those with score > ``score_threshold`` are drawn. class_names: a list or
    tuple with a name (str) per label; mask_threshold: a float in [0, 1]; scale: an int
    >= 1, the image enlarged this many times first (small scenes); colour_by:
    "instance" (one colour per instance: two 3s are two colours) or "class" (label L in
    the colour ``viz.mask_overlay`` gives class L: two 3s share a colour). Labels are
    written in black on a white box in DejaVu Sans (shipped with matplotlib), about 1/32
    of the picture's side and at least 6 * scale pixels high. Returns (3, H * scale,
    W * scale) uint8, for ``viz.show_images`` or ``plt.imshow(x.permute(1, 2, 0))``.
    """
    from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

    check_tensor(image, "image", ndim=3, dims="(C, H, W)", kind="float")
    if image.shape[0] not in (1, 3):
        raise ValueError(f"image: expected 1 or 3 channels, got {describe(image)}")
    check_unit_range(image, "image")
    if not isinstance(detections, dict) or not {"boxes", "labels", "masks"} <= set(detections):
        raise TypeError(f"detections: expected a dict with boxes, labels and masks, "
                        f"got {describe(detections)}")
    class_names = check_names(class_names, "class_names", at_least=1)
    score_threshold = check_number(score_threshold, "score_threshold", low=0, high=1)
    mask_threshold = check_number(mask_threshold, "mask_threshold", low=0, high=1)
    scale = check_int(scale, "scale", low=1)
    if colour_by not in ("instance", "class"):
        raise ValueError(f'colour_by: expected "instance" or "class", '
                         f"got {colour_by!r}")
    boxes = check_boxes(detections["boxes"], "detections['boxes']").detach().cpu()
    labels = check_indices(detections["labels"], "detections['labels']", ndim=1,
                           dims="(K,)", low=0, wanted="labels").cpu()
    masks = check_tensor(detections["masks"], "detections['masks']", ndim=(3, 4),
                         dims="(K, 1, H, W) or (K, H, W)").detach().cpu()
    if masks.dim() == 4 and masks.shape[1] != 1:
        raise ValueError(f"detections['masks']: expected one mask per instance (K, 1, H, "
                         f"W), got {describe(masks)}")
    masks = masks[:, 0] if masks.dim() == 4 else masks
    if masks.is_floating_point():
        check_probabilities(masks, "detections['masks']")
    else:
        masks = check_indices(masks, "detections['masks']", low=0, high=1,
                              wanted="0/1 masks (or probabilities): values")
    if masks.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"detections['masks']: expected masks of the image's size "
                         f"{tuple(image.shape[-2:])}, got {describe(masks)}")
    scores = detections.get("scores")
    keep = torch.ones(len(labels), dtype=torch.bool)
    if scores is not None:
        scores = check_tensor(scores, "detections['scores']", ndim=1, dims="(K,)",
                              kind="float").detach().cpu()
        check_finite(scores, "detections['scores']")
        keep = scores > score_threshold
    check_per_instance({"labels": labels, "masks": masks, "scores": scores}, "detections",
                       len(boxes))
    if labels.numel() and labels.max() >= len(class_names):
        raise ValueError(f"class_names: expected a name for every label up to "
                         f"{int(labels.max())}, got {len(class_names)} names")
    picture = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    picture = picture.expand(3, -1, -1) if picture.shape[0] == 1 else picture
    masks = masks[keep].float()
    if scale > 1:
        picture = picture.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        masks = masks.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
        boxes = boxes * scale
    names = [class_names[int(label)] + (f" {float(s):.2f}" if scores is not None else "")
             for label, s in zip(labels[keep], scores[keep] if scores is not None
                                 else labels[keep], strict=True)]
    if keep.any():
        if colour_by == "instance":
            colours = [_instance_colour(k) for k in range(int(keep.sum()))]
        else:                   # class L >= 1 in SEGMENTATION_PALETTE[L - 1], as maps
            colours = [_instance_colour(max(int(label) - 1, 0)) for label in labels[keep]]
        font_size = max(6 * scale, round(max(picture.shape[-2:]) / 32))
        picture = draw_segmentation_masks(picture, masks > mask_threshold, alpha=0.5,
                                          colors=colours)
        picture = draw_bounding_boxes(picture, boxes[keep], labels=names, colors=colours,
                                      width=max(1, scale // 2), font=_label_font(),
                                      font_size=font_size, fill_labels=True,
                                      label_colors="black",   # black on white, readable
                                      label_background_colors="white")  # on any mask
    return picture


def _label_font() -> str:
    """The path of DejaVu Sans, the TrueType font matplotlib ships (so every machine with
    the course installed has it); torchvision's default bitmap font is a few pixels high."""
    from pathlib import Path

    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
