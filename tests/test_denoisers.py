import numpy as np
import pytest

from utils.data.noise import add_blind_noise, add_gaussian_noise
from utils.data.photos import load_photo
from utils.denoising.classical import CLASSICAL_FACTORS, classical_denoisers, tune_classical
from utils.denoising.models import (
    denoise_image,
    dncnn,
    drunet,
    lecture_autoencoder,
    size_multiple,
)
from utils.denoising.quality import psnr


def test_lecture_autoencoder_matches_the_lecture():
    model = lecture_autoencoder()
    assert model.count_params() == 19_779
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 32, 32, 3)
    assert model.get_layer("encoded_layer").output.shape == (None, 8, 8, 32)
    assert model.layers[-1].activation.__name__ == "sigmoid"
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Conv2D", "MaxPooling2D", "BatchNormalization", "Conv2D", "MaxPooling2D",
                     "BatchNormalization", "Conv2D", "UpSampling2D", "BatchNormalization", "Conv2D",
                     "UpSampling2D", "BatchNormalization", "Conv2D"]


def test_the_slides_dropouts_follow_each_batch_normalization():
    # the slide's four commented lines `# x = Dropout(0.25)(x)` come right after a BatchNormalization
    kinds = [type(layer).__name__ for layer in lecture_autoencoder(dropout=0.25).layers[1:]]
    after_bn = [kinds[i + 1] for i, k in enumerate(kinds) if k == "BatchNormalization"]
    assert after_bn == ["Dropout"] * 4 and kinds.count("Dropout") == 4
    dropped = lecture_autoencoder(dropout=0.25)
    assert dropped.count_params() == 19_779 and dropped.get_layer(index=4).rate == 0.25
    plain = lecture_autoencoder(batch_norm=False)
    assert "BatchNormalization" not in {type(layer).__name__ for layer in plain.layers}
    assert plain.count_params() == 19_779 - 4 * (16 + 32 + 32 + 16)     # 4 numbers per channel per BN



def test_dncnn_parameter_count_matches_the_formula():
    depth, c = 17, 64
    # first conv (+bias), D-2 middle convs without bias + BN (4 per channel), last conv (+bias)
    expected = (9 * c + c) + (depth - 2) * (9 * c * c + 4 * c) + (9 * c + 1)
    assert dncnn(depth, c).count_params() == expected


def test_residual_dncnn_starts_as_the_identity():
    model = dncnn(4, 8)
    x = np.random.default_rng(0).random((1, 16, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)
    assert dncnn(4, 8, residual=False).get_layer("clean") is not None


def test_dncnn_variants_change_one_thing():
    c = 8
    no_bn = dncnn(4, c, batch_norm=False)
    assert "BatchNormalization" not in {type(layer).__name__ for layer in no_bn.layers}
    # each of the 2 middle layers trades its batch normalization (4 per channel) for biases (1 per channel)
    assert no_bn.count_params() == dncnn(4, c).count_params() - 2 * 3 * c
    x = np.random.default_rng(0).random((1, 16, 16, 1)).astype(np.float32)
    random_last = dncnn(4, c, last_init="glorot_uniform")
    assert np.abs(random_last.get_layer("noise").get_weights()[0]).max() > 0
    assert np.abs(random_last.predict(x, verbose=0) - x).max() > 1e-3      # no longer the identity at the start
    assert np.abs(dncnn(4, c, residual=False).predict(x, verbose=0)).max() == 0.0   # zeros: a black image


def test_dncnn_rejects_bad_sizes():
    with pytest.raises(ValueError, match="depth=2"):
        dncnn(2, 8)
    with pytest.raises(ValueError, match="channels=0"):
        dncnn(5, 0)


@pytest.mark.parametrize("shape", [(30, 45), (32, 32, 3), (2, 20, 22, 3)])
def test_denoise_image_keeps_any_shape(shape):
    model = lecture_autoencoder((None, None, 3)) if len(shape) > 2 else dncnn(3, 4)
    out = denoise_image(model, np.random.default_rng(0).random(shape).astype(np.float32))
    assert out.shape == shape


def test_denoise_image_rejects_wrong_channels():
    with pytest.raises(ValueError, match="channels"):
        denoise_image(dncnn(3, 4), np.zeros((8, 8, 3), np.float32))


def test_classical_denoisers_improve_a_noisy_photo():
    clean = load_photo("camera")[100:228, 100:228]
    noisy = add_gaussian_noise(clean, 25, rng=0)
    for name, denoise in classical_denoisers().items():
        out = denoise(noisy, 25)
        assert out.shape == clean.shape, name
        assert psnr(clean, out) > psnr(clean, noisy) + 3, name
    colour = add_gaussian_noise(load_photo("astronaut", "rgb")[:64, :64], 25, rng=0)
    assert all(f(colour, 25).shape == colour.shape for f in classical_denoisers().values())


def test_tune_classical_picks_from_the_grid_and_restores_factors():
    before = dict(CLASSICAL_FACTORS)
    image = load_photo("brick")[:64, :64]
    grids = {"Gaussian": (0.001, 0.05), "TV": (0.8,), "NL-means": (0.5,)}
    best = tune_classical([image], sigmas=(25,), grids=grids)
    assert best == {"Gaussian": 0.05, "TV": 0.8, "NL-means": 0.5}
    assert CLASSICAL_FACTORS == before


def test_blind_noise_has_one_sigma_per_image():
    clean = np.full((200, 32, 32, 1), 0.5, np.float32)
    noisy = add_blind_noise(clean, 55, rng=0, clip=False)
    stds = (noisy - clean).reshape(200, -1).std(axis=1) * 255
    assert 0 <= stds.min() < 5 and 50 < stds.max() < 58
    assert abs(stds.mean() - 27.5) < 4
    with pytest.raises(ValueError, match="sigma_max=0"):
        add_blind_noise(clean, 0)


def test_bm3d_is_the_reference_implementation_with_the_true_sigma():
    import bm3d

    from utils.denoising.classical import bm3d_denoise

    clean = load_photo("camera")[100:164, 100:164]
    noisy = add_gaussian_noise(clean, 25, rng=0, clip=False)       # unclipped noise leaves [0, 1]: accepted
    # bm3d itself is not bit-reproducible (its aggregation varies by up to ~4e-4 from run to run): compare to 1e-3
    ours, reference = bm3d_denoise(noisy, 25), bm3d.bm3d(noisy, 25 / 255)
    np.testing.assert_allclose(ours, reference, atol=1e-3)
    assert abs(psnr(clean, ours) - psnr(clean, reference)) < 0.01
    assert psnr(clean, bm3d_denoise(noisy, 25)) > psnr(clean, classical_denoisers()["Gaussian"](noisy, 25))
    for bad, message in ((0, "sigma=0"), (float("nan"), "sigma=nan"), (True, "sigma=True")):
        with pytest.raises(ValueError, match=message):
            bm3d_denoise(noisy, bad)
    with pytest.raises(ValueError, match=r"expected a grey \(H, W\) or an RGB"):
        bm3d_denoise(np.zeros((8, 8, 4), np.float32), 25)


def test_the_shipped_dncnn_gives_under_tensorflow_what_it_gave_where_it_was_trained():
    from utils.course.checkpoints import load_checkpoint, read_provenance
    from utils.course.paths import weights_dir

    reference = np.load(weights_dir() / "dncnn.reference.npz")
    model = load_checkpoint("dncnn")
    out = model.predict(reference["noisy"], verbose=0)
    # trained and saved under the backend its provenance names (JAX on a GPU), loaded here under TensorFlow
    assert read_provenance("dncnn")["backend"] == "jax"
    np.testing.assert_allclose(out, reference["denoised"], atol=1e-5)


def test_drunet_starts_as_the_identity_and_sees_the_noise_level_map():
    model = drunet((4, 8, 16), blocks=1)
    assert model.name == "drunet_4-8-16x1" and size_multiple(model) == 4
    assert [tuple(t.shape) for t in model.inputs] == [(None, None, None, 1), (None, 1)]
    x = np.random.default_rng(0).random((2, 16, 24, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict([x, np.array([[0.1], [0.2]], np.float32)], verbose=0), x, atol=1e-6)
    import keras

    probe = keras.Model(model.inputs, model.get_layer("noise_level_map").output)
    got = probe.predict([x, np.array([[0.1], [0.2]], np.float32)], verbose=0)
    assert got.shape == (2, 16, 24, 1) and np.allclose(got[0], 0.1) and np.allclose(got[1], 0.2)


def test_drunet_rejects_bad_sizes():
    with pytest.raises(ValueError, match="at least two scales"):
        drunet((8,))
    with pytest.raises(ValueError, match=r"channels\[1\]=0"):
        drunet((8, 0))
    with pytest.raises(ValueError, match="blocks=0"):
        drunet((4, 8), blocks=0)


def test_size_multiple_counts_the_downsamplings():
    assert size_multiple(dncnn(3, 4)) == 1
    assert size_multiple(lecture_autoencoder((None, None, 3))) == 4
    assert size_multiple(drunet((4, 8, 16, 32), blocks=1)) == 8


def test_denoise_image_pads_for_the_model_and_needs_sigma_exactly_when_the_model_is_told_it():
    model = drunet((4, 8, 16, 32), blocks=1)
    image = np.random.default_rng(0).random((30, 45)).astype(np.float32)
    assert denoise_image(model, image, sigma=25).shape == (30, 45)      # padded to multiples of 8, cropped back
    with pytest.raises(ValueError, match="sigma=None: model 'drunet_4-8-16-32x1' is told the noise level"):
        denoise_image(model, image)
    with pytest.raises(ValueError, match="sigma=25: model 'dncnn_3x4' is blind"):
        denoise_image(dncnn(3, 4), image, sigma=25)
    with pytest.raises(ValueError, match="sigma=-1"):
        denoise_image(model, image, sigma=-1)
    with pytest.raises(ValueError, match="sigma=0.1: expected sigma on the 0-255 scale"):
        denoise_image(model, image, sigma=0.1)


def test_the_shipped_drunet_gives_under_tensorflow_what_it_gave_where_it_was_trained():
    from utils.course.checkpoints import load_checkpoint, read_provenance
    from utils.course.paths import weights_dir

    reference = np.load(weights_dir() / "drunet.reference.npz")
    model = load_checkpoint("drunet")
    out = model.predict([reference["noisy"], reference["noise_level"]], verbose=0)
    # trained in bfloat16 under JAX on a GPU; the reference is its float32 output there, the weights are float32
    record = read_provenance("drunet")
    assert record["backend"] == "jax" and record["device"].startswith("GPU")
    assert len(record["command"].split(" && ")) == record["command"].count("python -m utils.train")
    np.testing.assert_allclose(out, reference["denoised"], atol=1e-5)
