import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.segmentation.losses import (
    DiceCrossEntropyLoss,
    FgBgDiceLoss,
    FocalLoss,
    SoftDiceLoss,
    WeightedCategoricalCrossentropy,
    dice_cross_entropy,
    fg_bg_dice,
    fg_bg_dice_loss,
    focal_loss,
    prior_bias,
    soft_dice,
    soft_dice_gradient_wrt_logits,
    soft_dice_loss,
    weighted_categorical_crossentropy,
)

# The lecture's example, one 2 x 2 image: S = Σpg = 1.5, Σp² + Σg² = 1.25 + 2.
P = np.array([[[1.0, 0.5], [0.0, 0.0]]])
G = np.array([[[1.0, 1.0], [0.0, 0.0]]])


def value(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


def reference_dice(g: np.ndarray, p: np.ndarray, axes: tuple[int, ...], smooth: float = 0.0) -> np.ndarray:
    return (2 * np.sum(p * g, axis=axes) + smooth) / (np.sum(p**2, axis=axes) + np.sum(g**2, axis=axes) + smooth)


def test_hand_computed_value_and_smoothing():
    assert value(soft_dice(G, P, smooth=0)) == pytest.approx(3 / 3.25)  # 0.923
    assert value(soft_dice(G, P)) == pytest.approx(4 / 4.25)  # default smooth = 1
    assert value(soft_dice_loss(G, P, smooth=0)) == pytest.approx([1 - 3 / 3.25])
    # With or without the channel axis, a binary mask is the same problem.
    assert value(soft_dice(G[..., None], P[..., None], smooth=0)) == pytest.approx(3 / 3.25)


def test_perfect_disjoint_and_empty():
    g = np.zeros((2, 4, 4, 1))
    g[:, :2] = 1
    np.testing.assert_allclose(value(soft_dice_loss(g, g, smooth=0)), 0.0, atol=1e-12)
    assert value(soft_dice(g, 1 - g, smooth=0)) == 0.0
    empty = np.zeros((1, 4, 4))
    assert value(soft_dice(empty, empty)) == 1.0  # smooth > 0 defines empty vs empty as perfect
    assert np.isnan(value(soft_dice(empty, empty, smooth=0)))  # the exact formula is 0/0 there


def test_per_image_averages_images_and_per_batch_pools_pixels():
    g = np.concatenate([G, [[[1.0, 0.0], [0.0, 0.0]]]])
    p = np.concatenate([P, [[[0.0, 0.0], [0.0, 1.0]]]])
    np.testing.assert_allclose(value(soft_dice_loss(g, p, smooth=0)), [1 - 3 / 3.25, 1.0])
    assert value(soft_dice(g, p, smooth=0)) == pytest.approx((3 / 3.25 + 0) / 2)
    assert value(soft_dice(g, p, per_image=False, smooth=0)) == pytest.approx(3 / 5.25)
    assert value(soft_dice_loss(g, p, per_image=False, smooth=0)).shape == ()


def test_multiclass_averages_classes_and_can_exclude_background():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (2, 5, 6))
    g = np.eye(3)[labels]
    p = rng.dirichlet(np.ones(3), size=(2, 5, 6))
    per_class = reference_dice(g, p, axes=(1, 2), smooth=1.0)  # shape (B, C)
    np.testing.assert_allclose(value(soft_dice(g, p)), per_class.mean(), rtol=1e-12)
    np.testing.assert_allclose(value(soft_dice(g, p, exclude_background=True)), per_class[:, 1:].mean(), rtol=1e-12)
    pooled = reference_dice(g, p, axes=(0, 1, 2), smooth=1.0)
    np.testing.assert_allclose(value(soft_dice(g, p, per_image=False)), pooled.mean(), rtol=1e-12)
    # Integer label maps, with or without a class axis of 1, are one-hot encoded.
    for sparse in (labels, labels[..., None]):
        np.testing.assert_allclose(value(soft_dice_loss(sparse, p)), value(soft_dice_loss(g, p)), rtol=1e-12)


def test_volumes_need_spatial_dims_3():
    rng = np.random.default_rng(1)
    g = (rng.random((2, 3, 4, 5, 1)) > 0.5).astype(float)
    p = rng.random((2, 3, 4, 5, 1))
    expected = reference_dice(g, p, axes=(1, 2, 3, 4), smooth=1.0).mean()
    assert value(soft_dice(g, p, spatial_dims=3)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="spatial_dims=2"):
        soft_dice(g, p)


def test_coincides_with_keras_dice_for_binary_predictions():
    rng = np.random.default_rng(2)
    g = (rng.random((3, 8, 8, 1)) > 0.6).astype(np.float64)
    p = (rng.random((3, 8, 8, 1)) > 0.5).astype(np.float64)  # p ∈ {0, 1}, so Σp² = Σp
    # keras.losses.dice = 1 − 2Σpg/(Σg + Σp + 1e-7): it agrees up to its ε in the denominator.
    keras_batch = 1 - value(keras.losses.dice(g, p))  # axis=None: every axis, the batch pooled
    np.testing.assert_allclose(value(soft_dice(g, p, per_image=False, smooth=0)), keras_batch, rtol=1e-6)
    keras_images = 1 - value(keras.losses.dice(g, p, axis=(1, 2, 3)))
    np.testing.assert_allclose(1 - value(soft_dice_loss(g, p, smooth=0)), keras_images, rtol=1e-6)
    np.testing.assert_allclose(value(SoftDiceLoss(smooth=0)(g, p)), value(keras.losses.Dice(axis=(1, 2, 3))(g, p)),
                               rtol=1e-6)


def test_differs_from_keras_dice_for_soft_predictions():
    rng = np.random.default_rng(3)
    g = (rng.random((3, 8, 8, 1)) > 0.6).astype(np.float64)
    p = rng.uniform(0.05, 0.95, (3, 8, 8, 1))  # p² < p strictly, so the lecture's denominator is smaller
    ours = 1 - value(soft_dice_loss(g, p, smooth=0))
    theirs = 1 - value(keras.losses.dice(g, p, axis=(1, 2, 3)))
    assert np.all(ours > theirs + 1e-3)
    np.testing.assert_allclose(ours, reference_dice(g, p, axes=(1, 2, 3)), rtol=1e-12)


def test_foreground_background_dice():
    # D_fg = 3/3.25; background 1 − p = [0, .5, 1, 1] against 1 − g = [0, 0, 1, 1]: 2·2/(2.25 + 2).
    expected = (3 / 3.25 + 4 / 4.25) / 2
    assert value(fg_bg_dice(G, P, smooth=0)) == pytest.approx(expected)
    assert value(fg_bg_dice_loss(G, P, smooth=0)) == pytest.approx([1 - expected])
    # It is the two-class Soft Dice of [1 − p, p] against [1 − g, g].
    rng = np.random.default_rng(4)
    g = (rng.random((2, 6, 6, 1)) > 0.7).astype(float)
    p = rng.random((2, 6, 6, 1))
    two = np.concatenate([1 - g, g], -1), np.concatenate([1 - p, p], -1)
    np.testing.assert_allclose(value(fg_bg_dice_loss(g, p)), value(soft_dice_loss(*two)), rtol=1e-12)
    with pytest.raises(ValueError, match="expected one channel"):
        fg_bg_dice(*two)


def test_dice_cross_entropy_adds_the_weighted_terms():
    rng = np.random.default_rng(5)
    g = (rng.random((2, 6, 6, 1)) > 0.7).astype(float)
    p = rng.uniform(0.01, 0.99, (2, 6, 6, 1))
    bce = -(g * np.log(p) + (1 - g) * np.log(1 - p)).mean(axis=(1, 2, 3))
    dice_loss = 1 - reference_dice(g, p, axes=(1, 2, 3), smooth=1.0)
    np.testing.assert_allclose(value(dice_cross_entropy(g, p, 0.3, 2.0)), 0.3 * dice_loss + 2.0 * bce, rtol=1e-6)
    labels = rng.integers(0, 3, (2, 6, 6))
    q = rng.dirichlet(np.ones(3), size=(2, 6, 6))
    cce = -np.log(np.take_along_axis(q, labels[..., None], -1)).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(value(dice_cross_entropy(labels, q, dice_weight=0)), cce, rtol=1e-6)


def test_weighted_categorical_crossentropy():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 3, (2, 5, 5))
    g = np.eye(3)[labels]
    p = rng.dirichlet(np.ones(3), size=(2, 5, 5))
    w = np.array([0.2, 1.0, 5.0])
    expected = -(w * g * np.log(p)).sum(-1).mean(axis=(1, 2))
    np.testing.assert_allclose(value(weighted_categorical_crossentropy(g, p, w)), expected, rtol=1e-6)
    np.testing.assert_allclose(value(weighted_categorical_crossentropy(labels, p, w)), expected, rtol=1e-6)
    # Equal weights of 1 give Keras's categorical cross-entropy.
    keras_cce = value(keras.losses.categorical_crossentropy(g, p)).mean(axis=(1, 2))
    np.testing.assert_allclose(value(weighted_categorical_crossentropy(g, p, [1, 1, 1])), keras_cce, rtol=1e-6)
    with pytest.raises(ValueError, match="class_weights has 2 weights but y_pred has 3 classes"):
        weighted_categorical_crossentropy(g, p, [1, 2])


def sigmoid_dice(z: tf.Variable, g: np.ndarray, smooth: float) -> np.ndarray:
    with tf.GradientTape() as tape:
        d = soft_dice(g, tf.sigmoid(z), per_image=False, smooth=smooth)
    return tape.gradient(d, z).numpy()


@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_closed_form_gradient_matches_autodiff(smooth):
    rng = np.random.default_rng(7)
    z = rng.normal(0, 2, (2, 5, 5, 1))
    g = (rng.random(z.shape) > 0.6).astype(np.float64)
    taped = sigmoid_dice(tf.Variable(z), g, smooth)
    np.testing.assert_allclose(soft_dice_gradient_wrt_logits(z, g, smooth=smooth), taped, rtol=0, atol=1e-10)
    z3 = rng.normal(0, 2, (2, 4, 4, 3))
    g3 = np.eye(3)[rng.integers(0, 3, (2, 4, 4))]
    var = tf.Variable(z3)
    with tf.GradientTape() as tape:
        d = soft_dice(g3, tf.nn.softmax(var), per_image=False, smooth=smooth)
    closed = soft_dice_gradient_wrt_logits(z3, g3, activation="softmax", smooth=smooth)
    np.testing.assert_allclose(closed, tape.gradient(d, var).numpy(), rtol=0, atol=1e-10)


def test_focal_loss_by_hand_and_against_keras():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, (3, 6, 6, 1))
    g = (rng.random((3, 6, 6, 1)) < 0.1).astype(np.float64)
    g[0, 0, 0, 0] = 1.0
    p_t = np.where(g > 0, p, 1 - p)
    alpha_t = np.where(g > 0, 0.25, 0.75)
    by_hand = -alpha_t * (1 - p_t) ** 2 * np.log(p_t)               # Lin et al., eq. (5)
    per_image = value(focal_loss(g, p))
    # each image's sum over the batch's mean positives per image: the batch's mean is sum / positives
    np.testing.assert_allclose(per_image, by_hand.sum(axis=(1, 2, 3)) / (g.sum() / 3), rtol=1e-6)
    np.testing.assert_allclose(per_image.mean(), by_hand.sum() / g.sum(), rtol=1e-6)
    keras_focal = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0)
    # Keras averages the same per-pixel term over every pixel: N / positives times smaller
    np.testing.assert_allclose(value(FocalLoss()(g, p)), value(keras_focal(g, p)) * g.size / g.sum(), rtol=1e-5)


def test_focal_loss_without_positives_divides_by_one():
    p = np.full((2, 4, 4, 1), 0.2)
    g = np.zeros_like(p)
    expected = -0.75 * 0.2**2 * np.log(0.8) * 16                       # each image's sum, over max(0, 1)
    np.testing.assert_allclose(value(focal_loss(g, p)), [expected, expected], rtol=1e-6)


def test_prior_bias_gives_the_prior_through_a_sigmoid():
    assert 1 / (1 + np.exp(-prior_bias(0.01))) == pytest.approx(0.01)
    assert prior_bias(0.5) == 0.0


@pytest.mark.parametrize("loss, channels", [
    (FocalLoss(alpha=0.5, gamma=1.0), 1),
    (SoftDiceLoss(), 1),
    (FgBgDiceLoss(per_image=False), 1),
    (DiceCrossEntropyLoss(dice_weight=0.5, exclude_background=True), 3),
    (WeightedCategoricalCrossentropy([0.5, 1.0, 2.0]), 3),
])
def test_losses_train_and_serialize(loss, channels):
    keras.utils.set_random_seed(0)
    activation = "sigmoid" if channels == 1 else "softmax"
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(channels, 3, padding="same",
                                                                          activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    x = np.random.default_rng(8).random((4, 8, 8, 1)).astype("float32")
    y = (x > 0.5).astype("float32") if channels == 1 else (x[..., 0] * 3).astype("int32")
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(clone) is type(loss) and clone.get_config() == loss.get_config()
    np.testing.assert_allclose(value(clone(y, model(x))), value(loss(y, model(x))), rtol=1e-6)


def test_plain_function_compiles_with_channelless_targets():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, padding="same",
                                                                          activation="sigmoid")])
    model.compile(optimizer="sgd", loss=soft_dice_loss)
    x = np.random.default_rng(9).random((2, 8, 8, 1)).astype("float32")
    assert np.isfinite(model.train_on_batch(x, (x[..., 0] > 0.5).astype("float32")))


@pytest.mark.parametrize("call, match", [
    (lambda: soft_dice(G, P, smooth=-1), r"smooth=-1: expected a finite number in \[0, inf\)"),
    (lambda: soft_dice(G, P, smooth=True), "smooth=True"),
    (lambda: soft_dice(G, P, spatial_dims=2.0), "spatial_dims=2.0: expected one of 1, 2, 3"),
    (lambda: dice_cross_entropy(G, P, dice_weight=float("inf")), "dice_weight=inf"),
    (lambda: DiceCrossEntropyLoss(ce_weight="1"), "ce_weight='1'"),
    (lambda: soft_dice(G, P, spatial_dims=4), "spatial_dims=4"),
    (lambda: soft_dice(G, P[:, :1]), r"y_true has shape \(1, 2, 2\) but y_pred has \(1, 1, 2\)"),
    (lambda: soft_dice(G[0], P[0]), r"y_pred has shape \(2, 2\): expected \(batch, 2 spatial axes"),
    (lambda: soft_dice(G, P, exclude_background=True), "exclude_background=True but y_pred has 1 channel"),
    (lambda: dice_cross_entropy(G, P, ce_weight=-2), "ce_weight=-2"),
    (lambda: WeightedCategoricalCrossentropy([1.0]), r"class_weights=\[1.0\]"),
    (lambda: WeightedCategoricalCrossentropy(["a", "b"]), "class_weights="),
    (lambda: WeightedCategoricalCrossentropy([0, 0]), "at least one weight > 0"),
    (lambda: SoftDiceLoss(smooth=float("nan")), "smooth=nan"),
    (lambda: soft_dice_gradient_wrt_logits(np.zeros(3), np.zeros(3), activation="relu"), "activation='relu'"),
    (lambda: FocalLoss(alpha=1.5), r"alpha=1.5: expected a number in \[0, 1\]"),
    (lambda: focal_loss(G, P, gamma=-1), "gamma=-1"),
    (lambda: focal_loss(np.zeros((1, 2, 2, 2)), np.full((1, 2, 2, 2), 0.5)), "focal_loss expects a binary mask"),
    (lambda: prior_bias(0.0), r"prior=0.0: expected a number in \(0, 1\)"),
    (lambda: prior_bias(1), "prior=1"),
    (lambda: soft_dice_gradient_wrt_logits(np.zeros(3), np.zeros(4)), r"g has shape \(4,\) but z has \(3,\)"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
