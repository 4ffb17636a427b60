import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.nn.training import StepLog, TimeLimit, Trained, optimizer, train


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1)(inputs))


def data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)


def test_arrays_cosine_schedule_spans_the_whole_run():
    x, y = data()
    model = tiny_model()
    run = train(model, x, y, loss="mse", epochs=3, batch_size=10, learning_rate=0.05)
    assert isinstance(run, Trained) and run.epochs == 3 and run.steps == 3 * 7 and run.seconds > 0
    assert run.last() < run.history["loss"][0]
    # after the last of the 21 steps the cosine has reached alpha * learning_rate = 0: it spanned the run
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-7)


def test_the_optimizer_is_adam_with_the_hand_written_cosine_decay():
    x, y = data()
    by_hand = tiny_model()
    by_hand.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.05, 2 * 4)), loss="mse")
    by_hand.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    helper = tiny_model()
    helper.compile(optimizer=optimizer(0.05, 2 * 4), loss="mse")
    helper.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(by_hand.get_weights(), helper.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_fresh_data_each_epoch_validation_and_constant_rate():
    x_val, y_val = data(16, seed=9)
    drawn = []

    def epoch_pairs(epoch):
        drawn.append(epoch)
        return data(32, seed=epoch)

    model = tiny_model()
    run = train(model, epoch_pairs, loss="mse", epochs=3, batch_size=8, learning_rate=0.01, schedule="constant",
                validation_data=(x_val, y_val))
    assert drawn == [0, 1, 2] and run.epochs == 3 and len(run.history["val_loss"]) == 3
    assert run.steps == 12 and float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_drawing_ahead_overlaps_sampling_with_training_and_keeps_the_same_pairs():
    import threading
    import time

    weights = {}

    def runs(ahead: bool):
        rng = np.random.default_rng(0)    # one generator, as the samplers use: the pairs depend on the call order
        log = []

        def epoch_pairs(epoch):
            log.append((epoch, "start", time.perf_counter(), threading.current_thread().name))
            time.sleep(0.3)               # a slow sampler
            x = rng.normal(size=(32, 4)).astype(np.float32)
            log.append((epoch, "end", time.perf_counter(), None))
            return x, x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)

        class Slow(keras.callbacks.Callback):           # a slow training epoch
            def on_epoch_end(self, epoch, logs=None):
                log.append((epoch, "trained", time.perf_counter(), None))

            def on_epoch_begin(self, epoch, logs=None):
                time.sleep(0.3)

        model = tiny_model()
        train(model, epoch_pairs, loss="mse", epochs=3, batch_size=8, callbacks=[Slow()], ahead=ahead)
        weights[ahead] = model.get_weights()
        return log

    alone, overlapped = runs(False), runs(True)
    for a, b in zip(weights[False], weights[True]):
        np.testing.assert_array_equal(a, b)                   # the same pairs, so the same weights
    assert [e for e, what, *_ in overlapped if what == "start"] == [0, 1, 2]   # each epoch drawn once, in order
    started = {e: t for e, what, t, _ in overlapped if what == "start"}
    trained = {e: t for e, what, t, _ in overlapped if what == "trained"}
    assert started[1] < trained[0] and started[2] < trained[1]  # drawn while the previous epoch trained
    assert {name for *_, name in overlapped if name} - {threading.current_thread().name}  # in another thread
    started_alone = {e: t for e, what, t, _ in alone if what == "start"}
    trained_alone = {e: t for e, what, t, _ in alone if what == "trained"}
    assert started_alone[1] > trained_alone[0]                # without: drawn only after the epoch ended


class StopAfter(keras.callbacks.Callback):
    """Stops a run after `epochs` epochs, as a killed or time-limited run stops."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


@pytest.mark.parametrize("kind", ["function", "dataset"])
def test_a_stopped_run_continues_from_its_resume_file_as_if_never_stopped(tmp_path, kind):
    def epoch_pairs(epoch):      # each epoch's data depends on the epoch alone
        return data(32, seed=epoch)

    x, y = data(48)
    source = epoch_pairs if kind == "function" else tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    kwargs = dict(loss="mse", epochs=4, batch_size=8, learning_rate=0.05, progress=False)
    whole = tiny_model()
    train(whole, source, **kwargs)
    state = tmp_path / "run.weights.h5"
    first = train(tiny_model(), source, callbacks=[StopAfter(2)], state=state, **kwargs)
    assert first.epochs == 2 and state.exists()
    continued = tiny_model()                                  # a fresh process would build it from scratch
    second = train(continued, source, state=state, **kwargs)
    assert second.epochs == 2 and second.steps == 2 * first.steps         # the step count went on
    for a, b in zip(whole.get_weights(), continued.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # Adam's moments and the schedule carried over
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no partial file left behind
    again = train(tiny_model(), source, state=state, **kwargs)           # a finished run: nothing left to do
    assert again.epochs == 0


def test_a_resume_file_of_another_run_is_refused(tmp_path):
    x, y = data(48)
    state = tmp_path / "run.weights.h5"
    train(tiny_model(), x, y, loss="mse", epochs=1, batch_size=16, progress=False, state=state)  # 3 steps
    with pytest.raises(ValueError, match="holds 3 optimizer steps: expected whole epochs of 2 steps"):
        train(tiny_model(), x, y, loss="mse", epochs=2, batch_size=32, progress=False, state=state)
    with pytest.raises(ValueError, match="expected a file name ending in .weights.h5"):
        train(tiny_model(), x, y, loss="mse", epochs=1, state=tmp_path / "run.h5")


def test_a_finite_dataset_and_callbacks_see_every_epoch():
    x, y = data()
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    run = train(tiny_model(), ds, loss="mse", epochs=2, learning_rate=0.01, callbacks=[callback])
    assert seen == [0, 1] and run.steps == 8


def test_time_limit_stops_after_the_epoch_that_would_pass_it():
    def epoch_pairs(epoch):
        return data(32, seed=epoch)

    run = train(tiny_model(), epoch_pairs, loss="mse", epochs=50, batch_size=8, max_seconds=1e-3)
    assert run.epochs == 1
    assert TimeLimit(5.0).max_seconds == 5.0


def test_bad_arguments_are_named():
    x, y = data()
    model = tiny_model()
    for kwargs, message in (({"epochs": 0}, "epochs=0: expected a positive integer"),
                            ({"epochs": 1, "schedule": "step"}, "schedule='step': expected one of"),
                            ({"epochs": 1, "learning_rate": -1.0}, "learning_rate=-1.0"),
                            ({"epochs": 1, "validation_split": 1.0}, "validation_split=1.0"),
                            ({"epochs": 1, "batch_size": 2.5}, "batch_size=2.5")):
        with pytest.raises(ValueError, match=message):
            train(model, x, y, loss="mse", **kwargs)
    with pytest.raises(ValueError, match="y is given but x is a dataset or a function"):
        train(model, lambda e: (x, y), y, loss="mse", epochs=1)
    with pytest.raises(ValueError, match="ahead=True draws the next epoch"):
        train(model, x, y, loss="mse", epochs=1, ahead=True)
    with pytest.raises(ValueError, match="jit_compile='yes'"):
        train(model, x, y, loss="mse", epochs=1, jit_compile="yes")
    with pytest.raises(ValueError, match="unknown or infinite length"):
        train(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat(), loss="mse", epochs=1)
    with pytest.raises(KeyError, match="key='accuracy'"):
        Trained(history={"loss": [1.0]}).last("accuracy")


def test_step_log_recovers_each_steps_loss_from_the_running_means():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = np.zeros((40, 1), "float32")
    log = StepLog(["loss"])
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)        # fixed batches, in order
    train(model, data, loss="mse", epochs=2, learning_rate=1e-12, schedule="constant", callbacks=[log])
    # a learning rate of 1e-12 leaves the model as it is: each step's loss is its batch's MSE
    batch_mse = [float(np.mean(model.predict(x[i:i + 10], verbose=0) ** 2)) for i in range(0, 40, 10)]
    assert np.allclose(log.steps["loss"], batch_mse * 2, rtol=1e-4)
    with pytest.raises(ValueError, match="names='loss'"):
        StepLog("loss")
    with pytest.raises(KeyError, match="mae"):
        StepLog(["mae"]).on_train_batch_end(0, {"loss": 1.0})
