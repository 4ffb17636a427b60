"""Notebook 04's networks: completion, super-resolution, a quantized-latent codec, a feature autoencoder.

Each is the encoder-decoder of the lecture with a different pair, bottleneck or loss; the notebook shows
their source. Every builder returns one Keras model (so a checkpoint can name it); the codec's encoder and
decoder are its two sub-models (`codec_parts`). Built from `keras.layers` and `keras.ops` only, except
`ssim_loss` (TensorFlow's SSIM: Keras has none).
"""

from __future__ import annotations

import keras
import numpy as np

from utils.course.checks import int_at_least, one_of, positive_int, rng_from

LAST_INITS = ("near_zero", "glorot_uniform")
QUANTIZERS = ("ste", "noise")


def conv(filters: int, **kwargs) -> keras.layers.Conv2D:
    """A 3x3 'same' convolution with ReLU, the building block of every network here."""
    return keras.layers.Conv2D(filters, 3, padding="same", activation="relu", **kwargs)


def random_holes(shape: tuple[int, int], n_holes: tuple[int, int], side: tuple[int, int],
                 rng: np.random.Generator | int) -> np.ndarray:
    """A float mask (shape) with 1 inside n_holes[0]..n_holes[1] rectangles of side[0]..side[1] pixels."""
    rng = rng_from(rng, "rng")
    h, w = (positive_int(s, "shape") for s in shape)
    low, high = (positive_int(n, "n_holes") for n in n_holes)
    small, big = (positive_int(s, "side") for s in side)
    if low > high or small > big or big > min(h, w):
        raise ValueError(f"n_holes={n_holes}, side={side} for shape={shape}: expected (low, high) pairs with "
                         "low <= high and holes no larger than the image")
    mask = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(low, high + 1)):
        hh, ww = rng.integers(small, big + 1, size=2)
        y0, x0 = rng.integers(0, h - hh + 1), rng.integers(0, w - ww + 1)
        mask[y0:y0 + hh, x0:x0 + ww] = 1.0
    return mask


def completion_net(sees_mask: bool = True) -> keras.Model:
    """Inputs (holed image, mask), output the image with the network's fill inside the holes only.

    Encoder: two stride-2 steps, then dilated convolutions (rates 2, 4, 6) so that a pixel deep in a hole
    sees real pixels; decoder: two transposed convolutions with U-Net-style skips. sees_mask=False feeds
    the holed image alone (the mask still decides where the fill is used)."""
    image, mask = keras.Input((None, None, 1), name="holed_image"), keras.Input((None, None, 1), name="mask")
    full = conv(24)(keras.layers.Concatenate()([image, mask]) if sees_mask else image)
    half = conv(32, strides=2)(full)
    h = conv(48, strides=2)(half)
    for rate in (2, 4, 6):
        h = conv(48, dilation_rate=rate)(h)
    h = keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Concatenate()([h, half])
    h = keras.layers.Conv2DTranspose(24, 4, strides=2, padding="same", activation="relu")(h)
    h = conv(24)(keras.layers.Concatenate()([h, full]))
    filled = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h)
    # the known pixels pass through; the network's output is used only inside the holes
    composite = keras.layers.Add()([image, keras.layers.Multiply()([filled, mask])])
    return keras.Model([image, mask], composite, name="completion" if sees_mask else "completion_no_mask")


def super_resolution_net(scale: int, width: int = 32, last_init: str = "near_zero") -> keras.Model:
    """Features at low resolution, log2(scale) learned x2 upsamplings (linear transposed convolutions,
    kernel 4, stride 2), and a detail image added to the bicubic upsampling.

    last_init "near_zero": the detail's convolution starts from N(0, 1e-3), so the untrained network is
    (almost) bicubic; "glorot_uniform": Keras's default instead."""
    scale = one_of(scale, "scale", (2, 4, 8))
    init = one_of(last_init, "last_init", LAST_INITS)
    small = keras.Input((None, None, 1))
    bicubic = keras.layers.UpSampling2D(scale, interpolation="bicubic")(small)
    h = conv(positive_int(width, "width"))(small)
    h = conv(width)(h)
    for _ in range(int(np.log2(scale))):
        h = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same")(h)   # linear: learned interpolation
    start = keras.initializers.RandomNormal(0.0, 1e-3) if init == "near_zero" else "glorot_uniform"
    detail = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer=start)(h)
    return keras.Model(small, keras.layers.Add()([bicubic, detail]), name=f"sr_x{scale}")


def upscale(model: keras.Model | None, image: np.ndarray, scale: int) -> np.ndarray:
    """Shrink a grey image (H, W) by `scale` (block means), then enlarge it with the model, or bicubic when None."""
    from utils.data.patches import downscale_mean

    small = downscale_mean(np.asarray(image, np.float32)[None, ..., None], scale)
    if model is None:
        model = keras.layers.UpSampling2D(scale, interpolation="bicubic")
    # an eager call: the bicubic layer needs the image's actual size, which predict() would leave symbolic
    return keras.ops.convert_to_numpy(model(small, training=False))[0, ..., 0]


def ssim_loss(y_true, y_pred):
    """1 - SSIM per image (tf.image.ssim on the output clipped to [0, 1]: Keras has no SSIM)."""
    import tensorflow as tf

    return 1.0 - tf.image.ssim(y_true, tf.clip_by_value(y_pred, 0.0, 1.0), max_val=1.0)


class Quantize(keras.layers.Layer):
    """Round values in [0, 1] to `levels` levels; the gradient passes straight through (the STE)."""

    def __init__(self, levels: int, **kwargs):
        super().__init__(**kwargs)
        self.levels = int_at_least(levels, "levels", 2)

    def call(self, y):
        q = keras.ops.round(y * (self.levels - 1)) / (self.levels - 1)
        return y + keras.ops.stop_gradient(q - y)


class NoisyQuantize(keras.layers.Layer):
    """Training: add uniform noise one quantization step wide (Ballé et al.); inference: round, as Quantize."""

    def __init__(self, levels: int, **kwargs):
        super().__init__(**kwargs)
        self.levels = int_at_least(levels, "levels", 2)
        self.noise_seed = keras.random.SeedGenerator(0)

    def call(self, y, training=None):
        step = 1.0 / (self.levels - 1)
        if training:
            return y + keras.random.uniform(keras.ops.shape(y), -step / 2, step / 2, seed=self.noise_seed)
        return keras.ops.round(y / step) * step


def codec(channels: int, levels: int = 8, quantizer: str = "ste") -> keras.Model:
    """Encoder (three stride-2 steps: 8x smaller, `channels` sigmoid maps, quantized to `levels` levels) and
    decoder (three x2 transposed convolutions), chained; `codec_parts` gives the two halves."""
    channels = positive_int(channels, "channels")
    layer = {"ste": Quantize, "noise": NoisyQuantize}[one_of(quantizer, "quantizer", QUANTIZERS)]
    image = keras.Input((None, None, 1))
    h = conv(48, strides=2)(conv(32, strides=2)(conv(24, strides=2)(image)))
    code = layer(levels, name="quantize")(keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid")(h))
    encoder = keras.Model(image, code, name="encoder")
    latent = keras.Input((None, None, channels))
    h = conv(48)(latent)
    for width in (48, 32, 24):
        h = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", activation="relu")(h)
    decoder = keras.Model(latent, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h), name="decoder")
    return keras.Model(image, decoder(encoder(image)), name=f"codec_{channels}")


def codec_parts(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The (encoder, decoder) of a model built by `codec`."""
    return model.get_layer("encoder"), model.get_layer("decoder")


def empirical_bpp(code: np.ndarray, levels: int = 8, pixels_per_symbol: int = 64) -> float:
    """Bits per image pixel of an ideal entropy coder for a quantized code (H, W, C) in [0, 1]: the sum over
    channels of each channel's symbol entropy (its own histogram), each code position standing for
    `pixels_per_symbol` image pixels (8x8 for `codec`)."""
    code = np.asarray(code, np.float64)
    if code.ndim != 3 or not np.isfinite(code).all() or code.min() < 0 or code.max() > 1:
        raise ValueError(f"code of shape {code.shape}: expected finite values in [0, 1] of shape (H, W, C)")
    symbols = np.round(code * (int_at_least(levels, "levels", 2) - 1)).astype(int)
    bits = 0.0
    for c in range(symbols.shape[-1]):
        p = np.bincount(symbols[..., c].ravel(), minlength=levels) / symbols[..., c].size
        p = p[p > 0]
        bits += float(-(p * np.log2(p)).sum()) * symbols[..., c].size
    return bits / (symbols.shape[0] * symbols.shape[1] * positive_int(pixels_per_symbol, "pixels_per_symbol"))


def feature_autoencoder(side: int = 24) -> keras.Model:
    """A tiny autoencoder of (side, side, 1) images whose layer "code" (two poolings: side/4 squared x 8) is
    the learned representation."""
    side = positive_int(side, "side")
    if side % 4:
        raise ValueError(f"side={side}: expected a multiple of 4 (two exact 2x2 poolings)")
    image = keras.Input((side, side, 1))
    h = keras.layers.MaxPooling2D()(conv(16)(image))
    code = keras.layers.MaxPooling2D(name="code")(conv(8)(h))
    h = keras.layers.Conv2DTranspose(16, 2, strides=2, activation="relu")(code)
    h = keras.layers.Conv2DTranspose(16, 2, strides=2, activation="relu")(h)
    return keras.Model(image, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h), name="features")


def encoder_of(model: keras.Model) -> keras.Model:
    """The feature autoencoder's input-to-code half."""
    return keras.Model(model.inputs, model.get_layer("code").output)


def linear_probe(features: np.ndarray, labels: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray,
                 passes: int = 300) -> np.ndarray:
    """Whether a logistic regression fit on the training images' features (standardized by the training
    half, L2 1e-3, `passes` passes in one epoch of repeated data) labels each test image right (0/1)."""
    from utils.nn.training import train

    f = np.asarray(features, np.float32).reshape(len(features), -1)
    labels = np.asarray(labels, np.float32)
    if len(labels) != len(f) or not set(np.unique(labels)) <= {0.0, 1.0}:
        raise ValueError(f"labels of length {len(labels)} for {len(f)} feature rows: expected one 0/1 label each")
    train_idx, test_idx = (np.asarray(i, int) for i in (train_idx, test_idx))
    if len(train_idx) < 2 or len(test_idx) < 1 or np.intersect1d(train_idx, test_idx).size:
        raise ValueError("train_idx and test_idx: expected at least 2 training and 1 test image, disjoint")
    mu, sd = f[train_idx].mean(0), f[train_idx].std(0) + 1e-6
    f = (f - mu) / sd
    keras.utils.set_random_seed(0)
    clf = keras.Sequential([keras.Input((f.shape[1],)), keras.layers.Dense(
        1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(1e-3))])
    n = len(train_idx)
    train(clf, np.tile(f[train_idx], (positive_int(passes, "passes"), 1)), np.tile(labels[train_idx], passes),
          loss="binary_crossentropy", epochs=1, batch_size=n, learning_rate=1e-2, schedule="constant",
          progress=False)
    predicted = clf.predict(f[test_idx], verbose=0)[:, 0] > 0.5
    return (predicted == (labels[test_idx] > 0.5)).astype(np.float64)
