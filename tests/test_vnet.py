"""utils.segmentation.vnet and utils.nn.blocks.conv3d: shapes, parameter counts by hand, training, bad input."""

import keras
import numpy as np
import pytest

from utils.data.volumes import ultrasound_volumes
from utils.nn.blocks import conv3d
from utils.segmentation.losses import SoftDiceLoss
from utils.segmentation.vnet import stage_convolutions, vnet


def conv_params(k: int, c_in: int, c_out: int, separable: bool, cross: bool = False) -> int:
    """A k³ convolution with bias, the constrained k×1×1, 1×k×1, 1×1×k sequence (each with bias), or the same
    three kernels in parallel, summed (one bias)."""
    if separable:
        return (k * c_in * c_out + c_out) + 2 * (k * c_out * c_out + c_out)
    if cross:
        return 3 * k * c_in * c_out + c_out
    return k**3 * c_in * c_out + c_out


def vnet_params_by_hand(levels: int, base: int, k: int, separable: bool, c_in: int = 1, n_classes: int = 2,
                        batch_norm: bool = False, cross: bool = False) -> int:
    """V-Net's parameters counted from the paper's drawing (module docstring), layer by layer."""
    bn = 4 if batch_norm else 0  # γ, β and the two running statistics per channel, after every convolution

    def stage(c_in, filters, n_convs):
        total = (conv_params(k, c_in, filters, separable, cross)
                 + (n_convs - 1) * conv_params(k, filters, filters, separable, cross))
        projection = 0 if filters % c_in == 0 else c_in * filters + filters  # repeated channels have no weights
        return total + n_convs * (1 + bn) * filters + projection  # one PReLU slope per channel after each convolution

    filters = [base * 2**i for i in range(levels + 1)]
    total, channels = 0, c_in
    for i in range(levels):
        total += stage(channels, filters[i], min(i + 1, 3))
        total += 8 * filters[i] * filters[i + 1] + (2 + bn) * filters[i + 1]  # down-conv 2³ stride 2, PReLU
        channels = filters[i + 1]
    total += stage(filters[levels], filters[levels], min(levels + 1, 3))
    for i in reversed(range(levels)):
        total += 8 * channels * filters[i] + (2 + bn) * filters[i]  # up-conv 2³ stride 2, PReLU
        total += stage(2 * filters[i], 2 * filters[i], min(i + 1, 3))  # after the skip's concatenation
        channels = 2 * filters[i]
    return total + 2 * filters[0] * n_classes + n_classes


def test_stages_have_the_papers_numbers_of_convolutions():
    assert [stage_convolutions(i) for i in range(5)] == [1, 2, 3, 3, 3]
    model = vnet((32, 32, 32, 1), levels=4, base_filters=2)
    convs = {name: sum(1 for layer in model.layers if layer.name.startswith(f"{name}_conv"))
             for name in ("enc0", "enc1", "enc2", "enc3", "bottom", "dec3", "dec2", "dec1", "dec0")}
    assert convs == dict(enc0=1, enc1=2, enc2=3, enc3=3, bottom=3, dec3=3, dec2=3, dec1=2, dec0=1)


@pytest.mark.parametrize("separable, cross, batch_norm",
                         [(False, False, False), (True, False, False), (True, False, True), (False, True, True)])
@pytest.mark.parametrize("levels, base, k, c_in", [(2, 4, 3, 1), (3, 3, 5, 2)])
def test_parameter_count_by_hand_matches_count_params(separable, cross, batch_norm, levels, base, k, c_in):
    model = vnet((None, None, None, c_in), 2, base, levels, k, separable, batch_norm=batch_norm, cross=cross)
    assert model.count_params() == vnet_params_by_hand(levels, base, k, separable, c_in, batch_norm=batch_norm,
                                                       cross=cross)
    assert model.name == ("vnet_separable" if separable else "vnet_cross" if cross else "vnet")


def test_the_constrained_filter_saves_weights_at_the_papers_size():
    full = vnet(base_filters=16, levels=4, kernel_size=3).count_params()
    separable = vnet(base_filters=16, levels=4, kernel_size=3, separable=True).count_params()
    assert (full, separable) == (vnet_params_by_hand(4, 16, 3, False), vnet_params_by_hand(4, 16, 3, True))
    assert separable < 0.4 * full


def test_output_shapes_and_probabilities():
    model = vnet((16, 16, 16, 1), n_classes=3, base_filters=2, levels=2)
    out = model(np.random.default_rng(0).random((2, 16, 16, 16, 1), np.float32))
    assert tuple(out.shape) == (2, 16, 16, 16, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out).sum(-1), 1, rtol=1e-5)
    free = vnet((None, None, None, 1), 1, base_filters=2, levels=2, separable=True, final_activation="sigmoid")
    assert tuple(free(np.zeros((1, 8, 12, 16, 1), np.float32)).shape) == (1, 8, 12, 16, 1)
    logits = vnet((8, 8, 8, 2), base_filters=2, levels=1, final_activation=None)
    assert logits.layers[-1].name == "scores" and logits.name == "vnet"
    for name in ("enc0", "enc1", "down1", "down2", "bottom", "up1", "up0", "skip0", "dec0", "probabilities"):
        assert model.get_layer(name) is not None
    normalized = vnet((8, 8, 8, 1), base_filters=2, levels=1, batch_norm=True)
    assert {"enc0_bn1", "down1_bn", "bottom_bn2", "up0_bn", "dec0_bn1"} <= {layer.name for layer in normalized.layers}


def test_conv3d_block_counts_and_field_of_view():
    x = keras.Input((9, 9, 9, 2))
    full = keras.Model(x, conv3d(x, 4, 3))
    separable = keras.Model(x, conv3d(x, 4, 3, separable=True, name="c"))
    assert full.count_params() == 27 * 2 * 4 + 4
    assert separable.count_params() == (3 * 2 * 4 + 4) + 2 * (3 * 4 * 4 + 4)
    assert [layer.name for layer in separable.layers[1:]] == ["c_d", "c_h", "c_w"]
    for layer in separable.layers[1:]:  # all-ones weights: an impulse spreads over the whole k×k×k cube
        layer.set_weights([np.ones_like(w) if w.ndim > 1 else np.zeros_like(w) for w in layer.get_weights()])
    impulse = np.zeros((1, 9, 9, 9, 2), np.float32)
    impulse[0, 4, 4, 4, 0] = 1
    reach = keras.ops.convert_to_numpy(separable(impulse))[0, ..., 0] != 0
    assert reach.sum() == 27 and reach[3:6, 3:6, 3:6].all()


def test_the_cross_form_is_the_sum_of_three_one_dimensional_correlations():
    """Checked against scipy.ndimage.correlate1d along each axis: the cross reaches 3k − 2 voxels, not k³."""
    from scipy import ndimage

    x = keras.Input((9, 9, 9, 1))
    cross = keras.Model(x, conv3d(x, 1, 3, cross=True, name="c"))
    assert cross.count_params() == 3 * 3 + 1
    assert [layer.name for layer in cross.layers[1:]] == ["c_d", "c_h", "c_w", "c"]
    rng = np.random.default_rng(0)
    kernels = {}
    for axis, suffix in enumerate("dhw"):
        layer = cross.get_layer(f"c_{suffix}")
        kernels[axis] = rng.normal(size=3).astype(np.float32)
        weights = [kernels[axis].reshape(layer.get_weights()[0].shape)]
        layer.set_weights(weights + ([np.float32([0.5])] if axis == 0 else []))
    volume = rng.random((9, 9, 9)).astype(np.float32)
    expected = 0.5 + sum(ndimage.correlate1d(volume, kernels[a], axis=a, mode="constant") for a in range(3))
    got = keras.ops.convert_to_numpy(cross(volume[None, ..., None]))[0, ..., 0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    impulse = np.zeros((1, 9, 9, 9, 1), np.float32)
    impulse[0, 4, 4, 4, 0] = 1
    reach = np.abs(keras.ops.convert_to_numpy(cross(impulse))[0, ..., 0] - 0.5) > 1e-6
    assert reach.sum() == 3 * 3 - 2 and reach[4, 4, 3:6].all() and reach[3:6, 4, 4].all() and not reach[3, 3, 4]


def test_a_few_steps_reduce_the_soft_dice_loss_on_tiny_volumes():
    keras.utils.set_random_seed(0)
    volumes = ultrasound_volumes(2, 16, seed=0)
    x = np.stack([v.image for v in volumes])[..., None]
    y = np.stack([v.body for v in volumes])[..., None].astype(np.float32)
    model = vnet((16, 16, 16, 1), n_classes=1, base_filters=4, levels=2, separable=True, final_activation="sigmoid")
    loss = SoftDiceLoss(spatial_dims=3)
    # Eagerly: tracing a training step of a 3-D network costs CPU seconds that this short run would not repay.
    model.compile(keras.optimizers.Adam(1e-2), loss, run_eagerly=True)
    before = float(loss(y, model(x)))
    model.fit(x, y, epochs=8, batch_size=2, verbose=0)
    after = float(loss(y, model(x)))
    assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("kwargs, match", [
    (dict(input_shape=(15, 16, 16, 1), levels=2), r"the depth 15 is not divisible by 2\*\*levels = 4"),
    (dict(input_shape=(16, 16, 20, 1), levels=3), "the width 20 is not divisible by 2"),
    (dict(input_shape=(16, 16, 16)), r"input_shape=\(16, 16, 16\): expected \(depth, height, width, channels\)"),
    (dict(input_shape=(16, 16, 16, 0)), "channels"),
    (dict(input_shape=(16.0, 16, 16, 1)), "the depth 16.0"),
    (dict(levels=0), "levels=0"),
    (dict(base_filters=-1), "base_filters=-1"),
    (dict(n_classes=0), "n_classes=0"),
    (dict(kernel_size=4), "kernel_size=4: expected an odd size"),
    (dict(kernel_size=0), "kernel_size=0"),
    (dict(separable="yes"), "separable='yes'"),
    (dict(cross=0), "cross=0"),
    (dict(separable=True, cross=True), "expected one constrained form"),
    (dict(batch_norm=1), "batch_norm=1"),
    (dict(final_activation="relu"), "final_activation='relu'"),
    (dict(n_classes=1), "n_classes=1 with final_activation='softmax'"),
])
def test_bad_arguments_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vnet(**kwargs)


def test_conv3d_refuses_bad_input_by_name():
    with pytest.raises(ValueError, match="x has shape"):
        conv3d(keras.Input((8, 8, 1)), 4)
    with pytest.raises(ValueError, match="filters=0"):
        conv3d(keras.Input((8, 8, 8, 1)), 0)
    with pytest.raises(ValueError, match="separable=1"):
        conv3d(keras.Input((8, 8, 8, 1)), 4, separable=1)
    with pytest.raises(ValueError, match=r"separable=True and cross=True: expected one constrained form"):
        conv3d(keras.Input((8, 8, 8, 1)), 4, separable=True, cross=True)
