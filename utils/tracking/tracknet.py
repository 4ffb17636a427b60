"""TrackNet (Li, Dobler, Feng, Wang 2019) scaled to a laptop: Faster R-CNN from boxes in frames to tubes in clips.

A clip of T frames goes through two feature extractors: a 2-D one applied to every frame (the
stride-8 map of `utils.nn.backbones.detection_backbone` plus its stride-16 map upsampled, exactly
the backbone of the Faster R-CNN in `utils.detection.rcnn`) and a 3-D one over the clip (C3D-like
3 x 3 x 3 convolutions that downsample space, not time), fused by a 1 x 1 convolution into one map
per frame ("2d+3d"; "3d" and "2d" keep one of them, the slide's ablation). The tube proposal
network sees the T maps of a cell stacked and scores every anchor tube (an anchor box repeated over
the T frames) with an objectness and 4T offsets (`utils.tracking.tubes`); proposal tubes are pooled
frame by frame with RoIAlign (`utils.detection.roi_ops`), and the tube head classifies each one,
refines its T boxes and says in which frames the vehicle is visible. The losses are Faster
R-CNN's four, extended to tubes (a tube's box loss is the mean over the frames where its vehicle
is present), plus one we add: the per-frame presence (binary cross-entropy), so that a tube drops
its boxes where its vehicle is hidden or gone, instead of inventing them.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import keras.ops as K
import numpy as np

from utils.course.checks import number_in, one_of, positive_int
from utils.detection.anchors import grid_anchors
from utils.detection.roi_ops import RoIAlign
from utils.detection.rpn import sampled_mean_losses, smooth_l1
from utils.detection.sampling import sample_balanced
from utils.nn.training import JointLossModel
from utils.tracking.tubes import anchor_tubes, decode_tubes, tube_nms, tube_targets

STRIDE = 8                                   # 16 x 16 cells over a 128 x 128 frame
ANCHOR_SIZES = (5.0, 8.0, 13.0, 21.0, 34.0)  # the vehicles' visible parts: about 4-40 px at 128 x 128
ASPECT_RATIOS = (0.5, 1.0, 2.0, 3.0)         # width / height: motorbikes to buses
FEATURES = ("2d+3d", "3d", "2d")
RPN_IOU = (0.5, 0.3)                         # an anchor tube is an object at mean IoU >= 0.5, background below 0.3
LOSSES = ("rpn_objectness", "rpn_tube", "roi_class", "roi_tube", "roi_presence")


def tracknet_anchors(image_size: int, length: int, anchor_sizes: Sequence[float] = ANCHOR_SIZES,
                     aspect_ratios: Sequence[float] = ASPECT_RATIOS) -> np.ndarray:
    """The (A, T, 4) anchor tubes of a square frame: each cell's anchors (row-major cells), repeated over T frames."""
    cells = positive_int(image_size, "image_size") // STRIDE
    return anchor_tubes(grid_anchors((cells, cells), STRIDE, anchor_sizes, aspect_ratios), length)


def frame_features(image_size: int, channels: int, name: str = "frame_features") -> keras.Model:
    """uint8 frame -> stride-8 features: `detection_backbone`'s stride-8 map plus its stride-16 map upsampled."""
    from keras import layers

    from utils.nn.backbones import detection_backbone

    frame = keras.Input((image_size, image_size, 3), dtype="uint8", name="frame")
    f8, f16, _ = detection_backbone(frame)
    x = layers.Add()([f8, layers.UpSampling2D(2)(layers.Conv2D(int(f8.shape[-1]), 1)(f16))])
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="features")(x)
    return keras.Model(frame, x, name=name)


def clip_features(clip: keras.KerasTensor, widths: Sequence[int] = (8, 16, 32, 48)) -> keras.KerasTensor:
    """C3D-like features of a uint8 clip (B, T, H, W, 3): 3x3x3 conv-BN-ReLU blocks, stride 2 in space only."""
    from keras import layers

    x = layers.Rescaling(1 / 255)(clip)
    for i, width in enumerate(widths):
        step = (1, 2, 2) if i < 3 else (1, 1, 1)
        x = layers.Conv3D(positive_int(width, f"widths[{i}]"), 3, strides=step, padding="same", use_bias=False,
                          name=f"c3d_{i}")(x)
        x = layers.ReLU()(layers.BatchNormalization(name=f"c3d_{i}_bn")(x))
    return x


def features_model(image_size: int, length: int, features: str, channels: int) -> keras.Model:
    """uint8 clips (B, T, H, W, 3) -> fused per-frame features (B, T, H/8, W/8, channels)."""
    from keras import layers

    clip = keras.Input((length, image_size, image_size, 3), dtype="uint8", name="clips")
    parts = []
    if features in ("2d+3d", "2d"):
        parts.append(layers.TimeDistributed(frame_features(image_size, channels), name="per_frame_2d")(clip))
    if features in ("2d+3d", "3d"):
        parts.append(clip_features(clip))
    x = parts[0] if len(parts) == 1 else layers.Concatenate()(parts)
    x = layers.Conv3D(channels, 1, activation="relu", name="fuse")(x)
    return keras.Model(clip, x, name=f"features_{features.replace('+', '_')}")


def tube_rpn(length: int, cells: int, channels: int, per_cell: int) -> keras.Model:
    """Per-frame features (B, T, h, w, C) -> objectness logits (B, h*w*A) and offsets (B, h*w*A, T, 4)."""
    from keras import layers

    feats = keras.Input((length, cells, cells, channels), name="features")
    x = layers.Reshape((cells, cells, length * channels))(layers.Permute((2, 3, 1, 4))(feats))
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="rpn_conv")(x)
    logits = layers.Reshape((-1,), name="rpn_logits")(layers.Conv2D(per_cell, 1, name="rpn_objectness")(x))
    deltas = layers.Conv2D(per_cell * length * 4, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                           name="rpn_tube_deltas")(x)
    return keras.Model(feats, [logits, layers.Reshape((-1, length, 4), name="rpn_tubes")(deltas)], name="tube_rpn")


def tube_head(length: int, pool_size: int, channels: int, num_classes: int, hidden: int) -> keras.Model:
    """Pooled tubes (B, S, T, P, P, C) -> class logits (B, S, C + 1), offsets (B, S, T, 4), presence logits (B, S, T)"""
    from keras import layers

    pooled = keras.Input((None, length, pool_size, pool_size, channels), name="pooled")
    x = layers.Dense(16, activation="relu", name="head_reduce")(pooled)         # 1x1: 16 channels a frame
    x = layers.Reshape((-1, length * pool_size * pool_size * 16))(x)
    x = layers.Dense(hidden, activation="relu", name="head_fc1")(x)
    x = layers.Dense(hidden, activation="relu", name="head_fc2")(x)
    logits = layers.Dense(num_classes + 1, name="head_logits")(x)
    deltas = layers.Dense(4 * length, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                          name="head_deltas")(x)
    presence = layers.Dense(length, name="head_presence")(x)
    return keras.Model(pooled, [logits, layers.Reshape((-1, length, 4))(deltas), presence], name="tube_head")


def propose_tubes(logits, deltas, anchors, image_size: tuple[int, int], pre_nms_top_n: int, post_nms_top_n: int,
                  nms_iou: float = 0.7) -> dict:
    """Proposal tubes of a batch: {"tubes" (B, post, T, 4), "scores" (B, post), "valid" (B,)}, padding rows zero."""
    scores = K.sigmoid(K.cast(logits, "float32"))
    tubes = decode_tubes(deltas, anchors, image_size)                         # (B, A, T, 4)
    top_scores, top = K.top_k(scores, min(pre_nms_top_n, int(scores.shape[1])))
    top_tubes = K.take_along_axis(tubes, top[:, :, None, None], axis=1)
    idx, valid = tube_nms(top_tubes, top_scores, post_nms_top_n, nms_iou, score_threshold=1e-6)
    real = K.arange(post_nms_top_n)[None, :] < valid[:, None]
    kept = K.where(real[..., None, None], K.take_along_axis(top_tubes, idx[:, :, None, None], axis=1), 0.0)
    return {"tubes": kept, "scores": K.where(real, K.take_along_axis(top_scores, idx, axis=1), 0.0), "valid": valid}


def sample_tubes(proposals, valid, gt_tubes, gt_present, gt_labels, num_samples: int, positive_fraction: float,
                 iou_threshold: float = 0.5, seed=None) -> tuple:
    """Training RoI tubes (B, S, T, 4), labels (B, S) (-1 unused), offsets (B, S, T, 4), frame weights (B, S, T).

    As `utils.detection.roi_heads.sample_proposals`, for tubes: the ground-truth tubes join the proposals.
    """
    n_props = K.shape(proposals)[1]
    labels = K.cast(gt_labels, "int32")
    rois = K.concatenate([proposals, K.cast(gt_tubes, "float32")], axis=1)
    usable = K.concatenate([K.arange(n_props)[None, :] < K.cast(valid, "int32")[:, None], labels >= 0], axis=1)
    cls, deltas, weights = tube_targets(rois, gt_tubes, gt_present, labels, iou_threshold, iou_threshold,
                                        best_for_each_gt=False)
    cls = K.where(usable, cls, -1)
    chosen = sample_balanced(cls, num_samples, positive_fraction, seed=seed)
    _, order = K.top_k(K.cast(chosen, "float32") * (2.0 + K.cast(cls > 0, "float32")), num_samples)
    picked = K.take_along_axis(chosen, order, axis=1)
    out_labels = K.where(picked, K.take_along_axis(cls, order, axis=1), -1)
    take = order[:, :, None, None]
    return (K.take_along_axis(rois, take, axis=1), out_labels, K.take_along_axis(deltas, take, axis=1),
            K.take_along_axis(weights, order[:, :, None], axis=1))


def tube_box_loss(delta_targets, deltas, weights):
    """Per-row smooth L1 of a tube's offsets: summed over a box's 4 numbers, averaged over the weighted frames."""
    per_frame = K.sum(smooth_l1(K.cast(deltas, "float32") - K.cast(delta_targets, "float32")), axis=-1)
    return K.sum(per_frame * weights, axis=-1) / K.maximum(K.sum(weights, axis=-1), 1.0)


class TrackNet(JointLossModel):
    """Tubes of vehicles in clips of `length` uint8 frames of image_size x image_size (see the module docstring)."""

    def __init__(self, num_classes: int = 3, image_size: int = 128, length: int = 4, features: str = "2d+3d",
                 channels: int = 64, anchor_sizes: Sequence[float] = ANCHOR_SIZES,
                 aspect_ratios: Sequence[float] = ASPECT_RATIOS, rpn_samples: int = 256,
                 train_proposals: tuple[int, int] = (600, 128), test_proposals: tuple[int, int] = (300, 64),
                 roi_samples: int = 64, roi_positive_fraction: float = 0.25, pool_size: int = 7, hidden: int = 256,
                 score_threshold: float = 0.05, nms_iou: float = 0.5, max_detections: int = 30,
                 seed: int | None = None, **kwargs):
        kwargs.setdefault("name", f"tracknet_{features.replace('+', '_')}" if isinstance(features, str) else None)
        super().__init__(**kwargs)
        self.num_classes = positive_int(num_classes, "num_classes")
        self.image_size = positive_int(image_size, "image_size")
        if self.image_size % 32:
            raise ValueError(f"image_size={image_size!r}: expected a multiple of 32, the 2-D backbone's largest stride")
        self.length = positive_int(length, "length")
        self.features = one_of(features, "features", FEATURES)
        self.rpn_samples, self.roi_samples = positive_int(rpn_samples, "rpn_samples"), positive_int(
            roi_samples, "roi_samples")
        self.roi_positive_fraction = number_in(roi_positive_fraction, "roi_positive_fraction", 0.0, 1.0,
                                               low_open=True)
        self.train_proposals = tuple(positive_int(v, "train_proposals") for v in train_proposals)
        self.test_proposals = tuple(positive_int(v, "test_proposals") for v in test_proposals)
        self.score_threshold = number_in(score_threshold, "score_threshold", 0.0, 1.0)
        self.nms_iou = number_in(nms_iou, "nms_iou", 0.0, 1.0, low_open=True)
        self.max_detections = positive_int(max_detections, "max_detections")
        cells = self.image_size // STRIDE
        self.anchors = tracknet_anchors(self.image_size, self.length, anchor_sizes, aspect_ratios)  # (A, T, 4)
        channels, pool_size = positive_int(channels, "channels"), positive_int(pool_size, "pool_size")
        self.backbone = features_model(self.image_size, self.length, self.features, channels)
        self.rpn = tube_rpn(self.length, cells, channels, len(self.anchors) // (cells * cells))
        self.head = tube_head(self.length, pool_size, channels, self.num_classes, positive_int(hidden, "hidden"))
        self.pooler = RoIAlign(pool_size, 1.0 / STRIDE, sampling_ratio=2)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.make_trackers(LOSSES)

    @property
    def loss_names(self) -> tuple[str, ...]:
        """The losses trained jointly, in the order they are logged."""
        return LOSSES

    def pool(self, features, tubes):
        """RoIAlign of each tube's box in each frame: (B, T, h, w, C) and (B, S, T, 4) -> (B, S, T, P, P, C)."""
        b, t = K.shape(features)[0], self.length
        f = K.reshape(features, (-1, *features.shape[2:]))                       # (B*T, h, w, C)
        r = K.reshape(K.transpose(tubes, (0, 2, 1, 3)), (-1, K.shape(tubes)[1], 4))  # (B*T, S, 4)
        pooled = self.pooler([f, r])                                             # (B*T, S, P, P, C)
        pooled = K.reshape(pooled, (b, t, K.shape(tubes)[1], *pooled.shape[2:]))
        return K.transpose(pooled, (0, 2, 1, 3, 4, 5))

    def _check_clips(self, clips) -> None:
        want = (self.length, self.image_size, self.image_size, 3)
        if len(clips.shape) != 5 or tuple(clips.shape[1:]) != want:
            raise ValueError(f"clips has shape {tuple(clips.shape)}: expected (B, {', '.join(map(str, want))}), "
                             f"batches of {self.length}-frame uint8 clips")

    def call(self, clips, training: bool = False) -> dict:
        """Padded tube detections: {"tubes" (B, K, T, 4), "scores", "labels", "presence" (B, K, T), "valid" (B,)}."""
        self._check_clips(clips)
        size = (self.image_size, self.image_size)
        features = self.backbone(clips, training=training)
        logits, deltas = self.rpn(features, training=training)
        props = propose_tubes(logits, deltas, self.anchors, size, *self.test_proposals)
        class_logits, tube_deltas, presence = self.head(self.pool(features, props["tubes"]), training=training)
        probs = K.softmax(class_logits)[..., 1:]
        real = K.arange(K.shape(probs)[1])[None, :] < props["valid"][:, None]
        scores = K.where(real, K.max(probs, axis=-1), 0.0)
        tubes = decode_tubes(tube_deltas, props["tubes"], size)
        idx, valid = tube_nms(tubes, scores, self.max_detections, self.nms_iou, self.score_threshold)
        keep = K.arange(self.max_detections)[None, :] < valid[:, None]

        def pick(x):  # the kept rows of x (B, N, ...): idx broadcast over x's trailing axes
            index = idx
            for _ in range(len(x.shape) - 2):
                index = K.expand_dims(index, -1)
            return K.take_along_axis(x, index, axis=1)

        return {"tubes": pick(tubes), "scores": K.where(keep, pick(scores), 0.0),
                "labels": K.where(keep, pick(K.cast(K.argmax(probs, axis=-1), "int32") + 1), -1),
                "presence": pick(K.sigmoid(presence)), "valid": valid}

    def compute_losses(self, clips, targets: dict, training: bool = True) -> dict:
        """The five losses of a batch; targets {"tubes" (B, M, T, 4), "present" (B, M, T), "labels" (B, M), -1 pads}."""
        self._check_clips(clips)
        gt, present, labels = K.cast(targets["tubes"], "float32"), targets["present"], targets["labels"]
        size = (self.image_size, self.image_size)
        features = self.backbone(clips, training=training)
        logits, deltas = self.rpn(features, training=training)
        cls, rpn_deltas, rpn_weights = tube_targets(self.anchors, gt, present, K.where(labels > 0, 1, labels),
                                                    *RPN_IOU)
        sampled = sample_balanced(cls, self.rpn_samples, 0.5, seed=self.seed_generator)
        objectness = K.where(sampled, cls, -1)
        bce = K.binary_crossentropy(K.cast(K.maximum(objectness, 0), "float32"), logits, from_logits=True)
        losses = dict(zip(LOSSES[:2], sampled_mean_losses(objectness, bce,
                                                          tube_box_loss(rpn_deltas, deltas, rpn_weights))))
        props = propose_tubes(K.stop_gradient(logits), K.stop_gradient(deltas), self.anchors, size,
                              *self.train_proposals)
        rois, roi_labels, roi_deltas, roi_weights = sample_tubes(
            props["tubes"], props["valid"], gt, present, labels, self.roi_samples, self.roi_positive_fraction,
            seed=self.seed_generator)
        rois = K.stop_gradient(rois)
        class_logits, tube_deltas, presence = self.head(self.pool(features, rois), training=training)
        ce = K.sparse_categorical_crossentropy(K.maximum(roi_labels, 0), class_logits, from_logits=True)
        losses.update(zip(LOSSES[2:4], sampled_mean_losses(roi_labels, ce,
                                                           tube_box_loss(roi_deltas, tube_deltas, roi_weights))))
        seen = K.mean(K.binary_crossentropy(roi_weights, presence, from_logits=True), axis=-1)
        positive = K.cast(roi_labels > 0, "float32")
        losses["roi_presence"] = K.sum(seen * positive) / K.maximum(K.sum(positive), 1.0)
        return losses


def tracknet(num_classes: int = 3, image_size: int = 128, length: int = 4, features: str = "2d+3d",
             seed: int | None = None, **kwargs) -> TrackNet:
    """A built TrackNet (weights created, ready to load a checkpoint or to train)."""
    model = TrackNet(num_classes, image_size, length, features, seed=seed, **kwargs)
    model(np.zeros((1, model.length, model.image_size, model.image_size, 3), np.uint8))
    return model
