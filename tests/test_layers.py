import keras
import numpy as np

from utils.layers import conv_bn_relu


def test_conv_bn_relu_shape_nonnegative_and_momentum():
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, conv_bn_relu(inputs, 8, strides=2, kernel=5))
    out = model.predict(np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32"), verbose=0)
    assert out.shape == (2, 8, 8, 8) and out.min() >= 0
    conv, bn = model.layers[1], model.layers[2]
    assert conv.kernel_size == (5, 5) and not conv.use_bias and bn.momentum == 0.9
