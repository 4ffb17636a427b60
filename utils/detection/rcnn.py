"""Faster R-CNN and Mask R-CNN assembled from the pieces, with their losses trained jointly in one step.

As torchvision's `generalized_rcnn.py`: a backbone gives one feature map (stride 8 here: the
stride-8 features plus the upsampled stride-16 ones, as notebook 11's SSD); the region proposal
network (`rpn`) scores anchors of several sizes and aspect ratios at every cell and proposes
boxes; RoIAlign or RoI pooling (`roi_ops`) cuts a fixed-size feature for each proposal; the box
head (`roi_heads`) classifies it and refines its box; with `masks=True` the mask branch
(`mask_head`) predicts one 28 x 28 mask per class for each box — Mask R-CNN.

Training is the approximate joint training of Ren et al.: one optimizer step on the sum of the
lecture's four losses (RPN object/not object, RPN box regression, final classification, final box
regression; plus the mask loss for Mask R-CNN), the proposals treated as constants. `train_step`
uses TensorFlow's GradientTape, as NMS (`tf.image.combined_non_max_suppression`) does: the model
runs wherever TensorFlow runs, on CPU or GPU. `call(images)` is the whole inference path, images
(uint8) -> padded detections {"boxes", "scores", "labels", "valid"} (and "masks": each detection's
28 x 28 mask probabilities), so a detector is timed and evaluated as it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import keras.ops as K
import numpy as np

from utils.course.checks import number_in, one_of, positive_int
from utils.data.pixels import to_uint8
from utils.detection.anchors import grid_anchors
from utils.detection.mask_head import mask_head, mask_loss, mask_targets
from utils.detection.roi_heads import box_head, box_head_losses, detect, sample_proposals
from utils.detection.roi_ops import RoIAlign, RoIPool
from utils.detection.rpn import propose, rpn_head, rpn_losses, rpn_targets
from utils.nn.training import JointLossModel

STRIDE = 8                                 # the feature map's stride: 16 x 16 cells over a 128 x 128 image
ANCHOR_SIZES = (16.0, 24.0, 36.0, 54.0)    # anchor sides: 1.5x apart, covering the scenes' 13-63 px objects
ASPECT_RATIOS = (0.5, 1.0, 2.0)            # width / height, as in the paper
POOLERS = ("align", "pool")
LOSSES = ("rpn_objectness", "rpn_box", "roi_class", "roi_box")


def _backbone(image_size: int, channels: int) -> keras.Model:
    """uint8 images -> the stride-8 map of `detection_backbone` plus its stride-16 map upsampled, as SSD in 11."""
    from keras import layers

    from utils.nn.backbones import detection_backbone

    images = keras.Input((image_size, image_size, 3), dtype="uint8", name="images")
    f8, f16, _ = detection_backbone(images)
    x = layers.Add()([f8, layers.UpSampling2D(2)(layers.Conv2D(int(f8.shape[-1]), 1)(f16))])
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="features")(x)
    return keras.Model(images, x, name="backbone")


class RCNN(JointLossModel):
    """A two-stage detector: Faster R-CNN (masks=False) or Mask R-CNN (masks=True) on square uint8 images.

    pooler: "align" (RoIAlign, Mask R-CNN's; torchvision's Faster R-CNN uses it too) or "pool"
    (Fast/Faster R-CNN's RoI max pooling), for the box and the mask branch alike. Proposals:
    (pre-NMS, post-NMS) counts in training and at test time. roi_samples RoIs per image train the
    box head, at most roi_positive_fraction of them foreground; the first mask_rois of those
    foreground RoIs train the mask head (the scenes hold at most four objects).
    """

    def __init__(self, num_classes: int = 3, image_size: int = 128, masks: bool = False, pooler: str = "align",
                 channels: int = 64, anchor_sizes: Sequence[float] = ANCHOR_SIZES,
                 aspect_ratios: Sequence[float] = ASPECT_RATIOS, rpn_samples: int = 256,
                 train_proposals: tuple[int, int] = (600, 128), test_proposals: tuple[int, int] = (300, 64),
                 roi_samples: int = 64, roi_positive_fraction: float = 0.25, pool_size: int = 7, hidden: int = 256,
                 mask_rois: int = 8, score_threshold: float = 0.05, max_detections: int = 20, seed: int | None = None,
                 **kwargs):
        kwargs.setdefault("name", "mask_rcnn" if masks else "faster_rcnn")
        super().__init__(**kwargs)
        self.num_classes = positive_int(num_classes, "num_classes")
        self.image_size = positive_int(image_size, "image_size")
        if self.image_size % 32:
            raise ValueError(f"image_size={image_size!r}: expected a multiple of 32, the backbone's largest stride")
        self.masks, self.pooler_kind = bool(masks), one_of(pooler, "pooler", POOLERS)
        self.rpn_samples = positive_int(rpn_samples, "rpn_samples")
        self.roi_samples = positive_int(roi_samples, "roi_samples")
        self.roi_positive_fraction = number_in(roi_positive_fraction, "roi_positive_fraction", 0.0, 1.0,
                                               low_open=True)
        self.train_proposals = tuple(positive_int(v, "train_proposals") for v in train_proposals)
        self.test_proposals = tuple(positive_int(v, "test_proposals") for v in test_proposals)
        self.mask_rois = positive_int(mask_rois, "mask_rois")
        self.score_threshold = number_in(score_threshold, "score_threshold", 0.0, 1.0)
        self.max_detections = positive_int(max_detections, "max_detections")
        cells = self.image_size // STRIDE
        self.anchors = grid_anchors((cells, cells), STRIDE, anchor_sizes, aspect_ratios)
        per_cell = len(self.anchors) // (cells * cells)
        self.pool_size = positive_int(pool_size, "pool_size")

        self.backbone = _backbone(self.image_size, positive_int(channels, "channels"))
        features = keras.Input((cells, cells, channels), name="features")
        self.rpn = keras.Model(features, rpn_head(features, per_cell), name="rpn")
        pooled = keras.Input((None, self.pool_size, self.pool_size, channels), name="pooled")
        self.box_head = keras.Model(pooled, box_head(pooled, self.num_classes, hidden), name="box_head")
        scale = 1.0 / STRIDE
        self.pooler = (RoIAlign(self.pool_size, scale, sampling_ratio=2) if self.pooler_kind == "align"
                       else RoIPool(self.pool_size, scale))
        if self.masks:  # 14 x 14 features -> 28 x 28 logits, the paper's sizes
            mask_in = keras.Input((None, 2 * self.pool_size, 2 * self.pool_size, channels), name="mask_pooled")
            self.mask_head = keras.Model(mask_in, mask_head(mask_in, self.num_classes), name="mask_head")
            self.mask_pooler = (RoIAlign(2 * self.pool_size, scale, sampling_ratio=2) if self.pooler_kind == "align"
                                else RoIPool(2 * self.pool_size, scale))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.make_trackers(self.loss_names)

    @property
    def loss_names(self) -> tuple[str, ...]:
        """The losses trained jointly, in the order they are logged."""
        return (*LOSSES, *(("mask",) if self.masks else ()))

    # -------------------------------------------------------------------------------- inference

    def call(self, images, training: bool = False) -> dict:
        """Padded detections of a uint8 batch (see the module docstring); proposals in "proposals"."""
        size = (self.image_size, self.image_size)
        features = self.backbone(images, training=training)
        logits, deltas = self.rpn(features, training=training)
        props = propose(logits, deltas, self.anchors, size, *self.test_proposals)
        class_logits, box_deltas = self.box_head(self.pooler([features, props["boxes"]]), training=training)
        dets = detect(props["boxes"], class_logits, box_deltas, size, score_threshold=self.score_threshold,
                      max_detections=self.max_detections, valid=props["valid"])
        if self.masks:
            mask_logits = self.mask_head(self.mask_pooler([features, dets["boxes"]]), training=training)
            own = K.take_along_axis(mask_logits, K.maximum(dets["labels"] - 1, 0)[:, :, None, None, None], axis=-1)
            dets["masks"] = K.sigmoid(own[..., 0])
        dets["proposals"] = props["boxes"]
        dets["proposal_scores"] = props["scores"]
        return dets

    # -------------------------------------------------------------------------------- training

    def compute_losses(self, images, targets: dict, training: bool = True) -> dict:
        """The four losses (five with masks) of one batch; targets {"boxes", "labels"[, "masks"]} padded with -1."""
        gt_boxes = K.cast(targets["boxes"], "float32")
        gt_labels = K.cast(targets["labels"], "int32")
        size = (self.image_size, self.image_size)
        if tuple(images.shape[1:3]) != size:
            raise ValueError(f"images has shape {tuple(images.shape)}: expected (B, {size[0]}, {size[1]}, 3)")
        if self.masks and tuple(targets["masks"].shape[2:]) != size:
            raise ValueError(f"masks has shape {tuple(targets['masks'].shape)}: expected (B, M, {size[0]}, {size[1]}), "
                             "one mask of the image's size per box")
        features = self.backbone(images, training=training)
        logits, deltas = self.rpn(features, training=training)
        objectness, rpn_deltas = rpn_targets(self.anchors, gt_boxes, gt_labels, self.rpn_samples,
                                             seed=self.seed_generator)
        losses = dict(zip(LOSSES[:2], rpn_losses(objectness, rpn_deltas, logits, deltas)))
        props = propose(K.stop_gradient(logits), K.stop_gradient(deltas), self.anchors, size, *self.train_proposals)
        rois, labels, roi_deltas = sample_proposals(props["boxes"], gt_boxes, gt_labels, self.roi_samples,
                                                    self.roi_positive_fraction, valid=props["valid"],
                                                    seed=self.seed_generator)
        rois = K.stop_gradient(rois)
        class_logits, box_deltas = self.box_head(self.pooler([features, rois]), training=training)
        losses.update(zip(LOSSES[2:], box_head_losses(labels, roi_deltas, class_logits, box_deltas)))
        if self.masks:  # sample_proposals puts the foreground rows first
            n_fg = min(max(int(self.roi_samples * self.roi_positive_fraction), 1), self.mask_rois)
            fg_rois, fg_labels = rois[:, :n_fg], labels[:, :n_fg]
            mask_logits = self.mask_head(self.mask_pooler([features, fg_rois]), training=training)
            side = int(mask_logits.shape[2])
            truth = mask_targets(fg_rois, fg_labels, gt_boxes, gt_labels, K.cast(targets["masks"], "float32"), side)
            losses["mask"] = mask_loss(fg_labels, truth, mask_logits)
        return losses


def faster_rcnn(num_classes: int = 3, image_size: int = 128, pooler: str = "align", seed: int | None = None,
                **kwargs) -> RCNN:
    """A built Faster R-CNN (weights created, ready to load a checkpoint or to train)."""
    return _built(RCNN(num_classes, image_size, masks=False, pooler=pooler, seed=seed, **kwargs))


def mask_rcnn(num_classes: int = 3, image_size: int = 128, pooler: str = "align", seed: int | None = None,
              **kwargs) -> RCNN:
    """A built Mask R-CNN: Faster R-CNN plus the mask branch."""
    return _built(RCNN(num_classes, image_size, masks=True, pooler=pooler, seed=seed, **kwargs))


def _built(model: RCNN) -> RCNN:
    model(np.zeros((1, model.image_size, model.image_size, 3), np.uint8))
    return model


def rcnn_dataset(data, batch_size: int, masks: bool = False, shuffle: bool = True, augment: bool = True,
                 seed: int | None = None, max_boxes: int | None = None):
    """(uint8 images, {"boxes", "labels"[, "masks"]}) batches of scenes, flipped at random (`scene_dataset`)."""
    import tensorflow as tf

    from utils.data.scenes import scene_dataset

    ds = scene_dataset(data, batch_size, shuffle=shuffle, augment=augment, seed=seed,
                       targets="instances" if masks else "boxes", max_boxes=max_boxes)
    return ds.map(lambda x, y: (tf.cast(tf.round(x * 255.0), tf.uint8), y), num_parallel_calls=tf.data.AUTOTUNE)


def rcnn_detector(model: RCNN):
    """images (uint8 batch) -> the model's padded detections, as one tf.function (for `detect_all` and timing)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def run(images):
        return model(images, training=False)

    return run


def detect_scenes(model: RCNN, images: np.ndarray, batch_size: int = 50, run=None) -> dict[str, list[np.ndarray]]:
    """Per-image lists {"boxes", "scores", "labels"} (and "masks": (N_i, H, W) bool, pasted into the image).

    run: the compiled detector (`rcnn_detector(model)`) to reuse across calls, e.g. when timing; made here if None.

    images: (n, H, W, 3) uint8, or float in [0, 1] (scenes' images), rounded to uint8 as in training
    (`utils.data.pixels.to_uint8`: NaN, a 0-255 float image and an empty batch are refused).
    """
    from utils.detection.mask_head import paste_masks

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (model.image_size, model.image_size, 3):
        raise ValueError(f"images has shape {images.shape}: expected (n, {model.image_size}, {model.image_size}, 3)")
    images = to_uint8(images, name="images")  # uint8 as is; floats rounded as in training (`rcnn_dataset`)
    run = run or rcnn_detector(model)
    batch_size = positive_int(batch_size, "batch_size")
    out: dict[str, list[np.ndarray]] = {"boxes": [], "scores": [], "labels": [], **({"masks": []} if model.masks
                                                                                    else {})}
    for start in range(0, len(images), batch_size):
        dets = {k: np.asarray(v) for k, v in run(images[start:start + batch_size]).items()}
        for i, n in enumerate(dets["valid"]):
            for key in ("boxes", "scores", "labels"):
                out[key].append(dets[key][i, :n])
            if model.masks:
                out["masks"].append(paste_masks(dets["masks"][i, :n], dets["boxes"][i, :n], images.shape[1:3]))
    return out
