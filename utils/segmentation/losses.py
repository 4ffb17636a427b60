"""Segmentation losses in keras.ops (so they run on any Keras backend): the lecture's Soft Dice and its relatives.

Shapes. Predictions are probabilities (a sigmoid or softmax output) of shape (B, *spatial, C), channels last, with
spatial_dims (2 for images, 3 for volumes) spatial axes. C = 1 is a binary problem, C > 1 one-hot classes. A binary
problem may also drop the channel axis, (B, *spatial). Targets have the prediction's shape, or, when C > 1, may be
integer label maps (B, *spatial) or (B, *spatial, 1), which are one-hot encoded here. Values are checked where they
are known (NumPy input, eager tensors; not inside a traced training step): predictions must be probabilities in
[0, 1], targets in [0, 1] or labels 0..C−1, and a batch must hold at least one pixel.

Soft Dice is the lecture's (and V-Net's, Milletari et al. 2016) formula, with squares in the denominator:

    D = (2 Σᵢ pᵢgᵢ + smooth) / (Σᵢ pᵢ² + Σᵢ gᵢ² + smooth)

computed for each class c over the pixels i of one image (per_image=True, then averaged over the images) or over the
pixels of the whole batch (per_image=False), and averaged over the classes (optionally leaving out background class
0). smooth=0 is the exact formula; the default smooth=1 keeps D defined (= 1) when prediction and target are both
empty and gives an image with an empty target a useful gradient, pushing its false positives down (with a tiny
smooth, D ≈ 0 there whatever the prediction, and the gradient vanishes).

keras.losses.Dice is a different formula: 1 − 2Σpg / (Σg + Σp + ε), without squares and with ε = 1e-7 in the
denominator only. For binary predictions p ∈ {0, 1}, p² = p and the two agree; for soft p ∈ [0, 1], Σp² ≤ Σp, so the
lecture's D is at least Keras's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from utils.course.checks import class_labels, concrete_array, finite_in, not_empty, number_in, one_of

_SMOOTH = 1.0
Tensor = Any  # a NumPy array or a tensor of the Keras backend (TensorFlow, JAX or torch)


def _check_options(spatial_dims: object, smooth: object, **flags: object) -> None:
    one_of(spatial_dims, "spatial_dims", (1, 2, 3), note="2 for images, 3 for volumes")
    number_in(smooth, "smooth", 0, note="0 gives the exact Dice formula")
    for name, flag in flags.items():  # per_image="no" would otherwise count as True
        one_of(flag, name, (True, False))


def _check_values(y_true, y_pred, n_classes: int | None) -> None:
    """Refuse what is not probabilities and targets (a 0-255 image gives a Dice loss near 1 without a word).

    Only values known now are checked (NumPy input, eager tensors), not those of a traced training step.
    n_classes: the number of classes when y_true holds integer labels, None when it is a mask or one-hot.
    """
    p = concrete_array(y_pred)
    if p is not None:
        finite_in(p, "y_pred", 0, 1, expected="probabilities in [0, 1] (a sigmoid or softmax output, not logits)")
    g = concrete_array(y_true)
    if g is not None and n_classes is not None:
        class_labels(g, "y_true", n_classes, note=f"integer labels of y_pred's {n_classes} classes")
    elif g is not None:
        finite_in(g, "y_true", 0, 1, expected="a binary mask or a one-hot target in [0, 1]")


def _prepare(y_true, y_pred, spatial_dims: int):
    """Return (g, p) as float tensors of the same shape (B, *spatial, C), one-hot encoding sparse targets."""
    p = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(p.dtype):
        p = ops.cast(p, keras.backend.floatx())
    g = ops.convert_to_tensor(y_true)
    given = (tuple(g.shape), tuple(p.shape))
    rank = 1 + spatial_dims
    if len(p.shape) == rank:  # a binary prediction without its channel axis
        p = ops.expand_dims(p, -1)
    if len(p.shape) != rank + 1:
        raise ValueError(
            f"y_pred has shape {given[1]}: expected (batch, {spatial_dims} spatial axes[, channels]) "
            f"for spatial_dims={spatial_dims}"
        )
    n_channels = p.shape[-1]
    if len(g.shape) == rank:
        g = ops.expand_dims(g, -1)
    sparse = len(g.shape) == rank + 1 and g.shape[-1] == 1 and n_channels is not None and n_channels > 1
    _check_values(y_true, y_pred, n_channels if sparse else None)
    if any(side == 0 for side in p.shape):
        raise ValueError(f"y_pred has shape {given[1]}: expected at least one image and one pixel (no mean of nothing)")
    if sparse:
        # Sparse integer labels: one-hot them, as SparseCategoricalCrossentropy would.
        labels = ops.cast(ops.squeeze(g, -1), "int32")
        g = ops.one_hot(labels, n_channels, dtype=keras.backend.standardize_dtype(p.dtype))
    mismatch = any(a is not None and b is not None and a != b for a, b in zip(g.shape, p.shape))
    if len(g.shape) != len(p.shape) or mismatch:
        raise ValueError(
            f"y_true has shape {given[0]} but y_pred has {given[1]}: "
            "expected the same shape, or integer labels without the class axis"
        )
    return ops.cast(g, p.dtype), p


def _two_channels(g, p):
    """Binary (…, 1) target and prediction as two classes [background, foreground]."""
    if g.shape[-1] != 1:
        raise ValueError(f"y_pred has {g.shape[-1]} channels: expected one channel (a binary sigmoid output)")
    return ops.concatenate([1.0 - g, g], axis=-1), ops.concatenate([1.0 - p, p], axis=-1)


def _dice_per_item(g, p, per_image: bool, smooth: float, exclude_background: bool):
    """Class-averaged Soft Dice, one value per image (shape (B,)) or one for the batch (shape ())."""
    spatial = tuple(range(1, len(p.shape) - 1))
    axes = spatial if per_image else (0, *spatial)
    overlap = ops.sum(p * g, axis=axes)
    total = ops.sum(ops.square(p), axis=axes) + ops.sum(ops.square(g), axis=axes)
    dice = (2.0 * overlap + smooth) / (total + smooth)
    if exclude_background:
        if p.shape[-1] is not None and p.shape[-1] < 2:
            raise ValueError(
                f"exclude_background=True but y_pred has {p.shape[-1]} channel: expected >= 2 classes, "
                "channel 0 being the background"
            )
        dice = dice[..., 1:]
    return ops.mean(dice, axis=-1)


def soft_dice(
    y_true: Tensor, y_pred: Tensor, per_image: bool = True, smooth: float = _SMOOTH, exclude_background: bool = False,
    spatial_dims: int = 2,
) -> Tensor:
    """Soft Dice (2Σpg + smooth)/(Σp² + Σg² + smooth), class-averaged, as a scalar (mean over images if per_image)."""
    return 1.0 - ops.mean(soft_dice_loss(y_true, y_pred, per_image, smooth, exclude_background, spatial_dims))


def soft_dice_loss(
    y_true: Tensor, y_pred: Tensor, per_image: bool = True, smooth: float = _SMOOTH, exclude_background: bool = False,
    spatial_dims: int = 2,
) -> Tensor:
    """1 − Soft Dice, one value per image (shape (B,)) if per_image else one for the batch: a Keras loss function."""
    _check_options(spatial_dims, smooth, per_image=per_image, exclude_background=exclude_background)
    g, p = _prepare(y_true, y_pred, spatial_dims)
    # Per-image values, not their mean, so that Keras's reduction averages them and sample_weight weights images.
    return 1.0 - _dice_per_item(g, p, per_image, smooth, exclude_background)


def fg_bg_dice(
    y_true: Tensor, y_pred: Tensor, per_image: bool = True, smooth: float = _SMOOTH, spatial_dims: int = 2
) -> Tensor:
    """½(D_fg + D_bg) of a binary mask: Soft Dice of (p, g) plus Soft Dice of (1 − p, 1 − g), halved (Deep BV)."""
    return 1.0 - ops.mean(fg_bg_dice_loss(y_true, y_pred, per_image, smooth, spatial_dims))


def fg_bg_dice_loss(
    y_true: Tensor, y_pred: Tensor, per_image: bool = True, smooth: float = _SMOOTH, spatial_dims: int = 2
) -> Tensor:
    """1 − ½(D_fg + D_bg) for a binary mask, one value per image if per_image: the Deep BV loss as a Keras loss."""
    _check_options(spatial_dims, smooth, per_image=per_image)
    g, p = _two_channels(*_prepare(y_true, y_pred, spatial_dims))
    return 1.0 - _dice_per_item(g, p, per_image, smooth, exclude_background=False)


def _cross_entropy_per_image(g, p):
    """Mean over the pixels of each image of binary (C = 1) or categorical (C > 1) cross-entropy, shape (B,)."""
    if p.shape[-1] == 1:
        per_pixel = keras.losses.binary_crossentropy(g, p)
    else:
        per_pixel = keras.losses.categorical_crossentropy(g, p)
    return ops.mean(per_pixel, axis=tuple(range(1, len(per_pixel.shape))))


def dice_cross_entropy(
    y_true: Tensor, y_pred: Tensor, dice_weight: float = 1.0, ce_weight: float = 1.0, per_image: bool = True,
    smooth: float = _SMOOTH, exclude_background: bool = False, spatial_dims: int = 2,
) -> Tensor:
    """dice_weight·(1 − Soft Dice) + ce_weight·(pixel-mean cross-entropy), one value per image, as a Keras loss."""
    _check_options(spatial_dims, smooth, per_image=per_image, exclude_background=exclude_background)
    number_in(dice_weight, "dice_weight", 0)
    number_in(ce_weight, "ce_weight", 0)
    g, p = _prepare(y_true, y_pred, spatial_dims)
    dice_loss = 1.0 - _dice_per_item(g, p, per_image, smooth, exclude_background)
    return dice_weight * dice_loss + ce_weight * _cross_entropy_per_image(g, p)


def focal_loss(
    y_true: Tensor, y_pred: Tensor, alpha: float = 0.25, gamma: float = 2.0, spatial_dims: int = 2,
) -> Tensor:
    """The focal loss of Lin et al. (2017) for a binary mask, as the paper defines it, one value per image.

    FL(p_t) = −α_t (1 − p_t)^γ log p_t at each pixel, with p_t = p and α_t = α on the foreground, p_t = 1 − p and
    α_t = 1 − α on the background (the paper: α = 0.25, γ = 2). The paper sums FL over all anchors and divides by
    the number of positive (foreground) ones, not by the number of anchors; here each image's sum is divided by
    the batch's mean number of foreground pixels per image (at least 1), so that Keras' mean over the images gives
    Σ FL / (foreground pixels of the batch). The per-pixel term is keras.losses.BinaryFocalCrossentropy's with
    apply_class_balancing=True, which averages over the pixels instead.
    """
    number_in(alpha, "alpha", 0.0, 1.0)
    number_in(gamma, "gamma", 0.0)
    _check_options(spatial_dims, 0.0)
    g, p = _prepare(y_true, y_pred, spatial_dims)
    if p.shape[-1] != 1:
        raise ValueError(f"y_pred has {p.shape[-1]} channels: focal_loss expects a binary mask, one sigmoid channel")
    eps = keras.config.epsilon()
    p = ops.clip(p, eps, 1.0 - eps)
    p_t = g * p + (1.0 - g) * (1.0 - p)
    alpha_t = g * alpha + (1.0 - g) * (1.0 - alpha)
    per_pixel = -alpha_t * ops.power(1.0 - p_t, gamma) * ops.log(p_t)
    axes = tuple(range(1, len(per_pixel.shape)))
    positives_per_image = ops.maximum(ops.sum(g) / ops.cast(ops.shape(g)[0], g.dtype), 1.0)
    return ops.sum(per_pixel, axis=axes) / positives_per_image


def prior_bias(prior: float) -> float:
    """The bias b with sigmoid(b) = prior: Lin et al.'s initialization of the last layer (π = 0.01), so that an
    untrained network calls every pixel background with probability 1 − π instead of 1/2."""
    prior = number_in(prior, "prior", 0.0, 1.0, low_open=True, high_open=True)
    return float(-np.log((1.0 - prior) / prior))


def _class_weights(class_weights: object) -> list[float]:
    try:
        weights = np.asarray(class_weights, dtype=float) if not isinstance(class_weights, str) else np.array([])
    except (TypeError, ValueError):
        weights = np.array([])
    if weights.ndim != 1 or weights.size < 2 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"class_weights={class_weights!r}: expected a list of >= 2 finite weights >= 0, one per class")
    if not np.any(weights > 0):
        raise ValueError(f"class_weights={class_weights!r}: expected at least one weight > 0")
    return weights.tolist()


def weighted_categorical_crossentropy(
    y_true: Tensor, y_pred: Tensor, class_weights: Sequence[float], spatial_dims: int = 2
) -> Tensor:
    """Per-image mean over pixels of −Σ_c w_c g_c log p_c (softmax p; one-hot or integer g), shape (B,)."""
    weights = _class_weights(class_weights)
    _check_options(spatial_dims, 0.0)
    g, p = _prepare(y_true, y_pred, spatial_dims)
    if p.shape[-1] == 1:
        g, p = _two_channels(g, p)
    if p.shape[-1] != len(weights):
        raise ValueError(
            f"class_weights has {len(weights)} weights but y_pred has {p.shape[-1]} classes: expected one per class"
        )
    eps = keras.config.epsilon()
    log_p = ops.log(ops.clip(p, eps, 1.0 - eps))
    per_pixel = -ops.sum(ops.convert_to_tensor(weights, dtype=p.dtype) * g * log_p, axis=-1)
    # A mean over pixels (not over the weights of the pixels) so that the weights change the balance between
    # classes, not the scale of the loss.
    return ops.mean(per_pixel, axis=tuple(range(1, len(per_pixel.shape))))


class _SegmentationLoss(keras.losses.Loss):
    """Shared plumbing: keyword options stored for get_config and passed to the loss function."""

    _fn = staticmethod(soft_dice_loss)

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size", **options) -> None:
        super().__init__(name=name, reduction=reduction)
        self._options = options
        # Validate now, at compile time, rather than at the first training step.
        if "class_weights" in options:
            options["class_weights"] = _class_weights(options["class_weights"])
        for weight in ("dice_weight", "ce_weight"):
            if weight in options:
                number_in(options[weight], weight, 0)
        flags = {k: options[k] for k in ("per_image", "exclude_background") if k in options}
        _check_options(options.get("spatial_dims", 2), options.get("smooth", 0.0), **flags)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return type(self)._fn(y_true, y_pred, **self._options)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._options}


@keras.saving.register_keras_serializable(package="course")
class SoftDiceLoss(_SegmentationLoss):
    """1 − Soft Dice (the lecture's formula, squares in the denominator) as a keras.losses.Loss."""

    _fn = staticmethod(soft_dice_loss)

    def __init__(
        self, per_image: bool = True, smooth: float = _SMOOTH, exclude_background: bool = False,
        spatial_dims: int = 2, name: str = "soft_dice_loss", reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(name, reduction, per_image=per_image, smooth=smooth, exclude_background=exclude_background,
                         spatial_dims=spatial_dims)


@keras.saving.register_keras_serializable(package="course")
class FgBgDiceLoss(_SegmentationLoss):
    """1 − ½(D_fg + D_bg), the foreground-plus-background Soft Dice of a binary mask, as a keras.losses.Loss."""

    _fn = staticmethod(fg_bg_dice_loss)

    def __init__(
        self, per_image: bool = True, smooth: float = _SMOOTH, spatial_dims: int = 2,
        name: str = "fg_bg_dice_loss", reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(name, reduction, per_image=per_image, smooth=smooth, spatial_dims=spatial_dims)


@keras.saving.register_keras_serializable(package="course")
class DiceCrossEntropyLoss(_SegmentationLoss):
    """dice_weight·(1 − Soft Dice) + ce_weight·cross-entropy as a keras.losses.Loss."""

    _fn = staticmethod(dice_cross_entropy)

    def __init__(
        self, dice_weight: float = 1.0, ce_weight: float = 1.0, per_image: bool = True, smooth: float = _SMOOTH,
        exclude_background: bool = False, spatial_dims: int = 2, name: str = "dice_cross_entropy",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(name, reduction, dice_weight=dice_weight, ce_weight=ce_weight, per_image=per_image,
                         smooth=smooth, exclude_background=exclude_background, spatial_dims=spatial_dims)


@keras.saving.register_keras_serializable(package="course")
class FocalLoss(_SegmentationLoss):
    """The focal loss of Lin et al. (2017), α-balanced and normalized by the foreground pixels, as a Loss."""

    _fn = staticmethod(focal_loss)

    def __init__(
        self, alpha: float = 0.25, gamma: float = 2.0, spatial_dims: int = 2, name: str = "focal_loss",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        number_in(alpha, "alpha", 0.0, 1.0)
        number_in(gamma, "gamma", 0.0)
        super().__init__(name, reduction, alpha=alpha, gamma=gamma, spatial_dims=spatial_dims)


@keras.saving.register_keras_serializable(package="course")
class WeightedCategoricalCrossentropy(_SegmentationLoss):
    """Class-weighted pixel cross-entropy (Keras's fit(class_weight=...) does not weight pixels) as a Loss."""

    _fn = staticmethod(weighted_categorical_crossentropy)

    def __init__(
        self, class_weights: Sequence[float], spatial_dims: int = 2, name: str = "weighted_categorical_crossentropy",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(name, reduction, class_weights=class_weights, spatial_dims=spatial_dims)


def soft_dice_gradient_wrt_logits(
    z: np.ndarray, g: np.ndarray, activation: str = "sigmoid", smooth: float = 0.0
) -> np.ndarray:
    """∂D/∂z in closed form (numpy, float64) for p = sigmoid(z) or softmax(z) over the last axis, D over all pixels."""
    z = np.asarray(z, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if z.shape != g.shape:
        raise ValueError(f"g has shape {g.shape} but z has {z.shape}: expected the same shape")
    _check_options(2, smooth)
    not_empty(z, "z", note="expected at least one pixel (Dice of nothing is undefined)")
    finite_in(z, "z", expected="finite logits")
    finite_in(g, "g", 0, 1, expected="a binary mask or a one-hot target in [0, 1]")
    if activation == "sigmoid":
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid without overflow in exp for large |z|
        axes = None
        n_classes = 1
    elif activation == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        axes = tuple(range(z.ndim - 1))  # one Dice per class, over every pixel of every image
        n_classes = z.shape[-1]
    else:
        raise ValueError(f"activation={activation!r}: expected 'sigmoid' or 'softmax'")
    s = np.sum(p * g, axis=axes)
    t = np.sum(p**2, axis=axes) + np.sum(g**2, axis=axes) + smooth
    # D = (2S + smooth)/T with smooth in T too:  ∂D/∂pⱼ = 2gⱼ/T − 2(2S + smooth)pⱼ/T²  (= 2gⱼ/T − 4S pⱼ/T² at 0).
    d_p = (2.0 * g / t - 2.0 * (2.0 * s + smooth) * p / t**2) / n_classes
    if activation == "sigmoid":
        return d_p * p * (1.0 - p)  # ∂pⱼ/∂zⱼ = pⱼ(1 − pⱼ)
    # ∂pₖ/∂z_l = pₖ(δₖₗ − p_l), so ∂D/∂z_l = p_l (∂D/∂p_l − Σₖ pₖ ∂D/∂pₖ).
    return p * (d_p - np.sum(d_p * p, axis=-1, keepdims=True))
