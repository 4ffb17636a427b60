"""The one training helper of the course: Adam, a cosine (or constant) learning rate, a timed `fit`, the history.

Every notebook that trains and `python -m utils.train` go through `train`, so that a change of
optimizer or schedule is made once. The data may be arrays, a `tf.data.Dataset`, or a function
`epoch -> (x, y)` that draws fresh training pairs for each epoch (fresh noise, new patches).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from utils.course.checks import number_in, one_of, positive_float, positive_int
from utils.course.progress import LiveLine, duration

SCHEDULES = ("cosine", "constant")


@dataclass
class Trained:
    """What a training run leaves: the per-epoch history, the wall time and the number of optimizer steps."""

    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0
    start_epoch: int = 0  # the epoch this call started from (after a resume file's epochs; 0 otherwise)

    @property
    def epochs(self) -> int:
        """Epochs actually run (a time limit may stop a run early)."""
        return len(self.history.get("loss", []))

    def last(self, key: str = "loss") -> float:
        """The last epoch's value of a logged quantity (loss, val_loss, a metric)."""
        if key not in self.history:
            raise KeyError(f"key={key!r}: expected one of {sorted(self.history)}")
        return float(self.history[key][-1])


def _n_samples(x: Any) -> int:
    """Number of samples in an array, a list/tuple of arrays (several inputs) or a dict of arrays."""
    first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, (list, tuple)) else x
    return len(first)


def _steps_per_epoch(x: Any, batch_size: int, validation_split: float) -> int:
    """Optimizer steps in one epoch of x (arrays: ceil(training samples / batch); a dataset: its length)."""
    if is_dataset(x):
        steps = int(x.cardinality())
        if steps < 1:
            raise ValueError("x is a tf.data.Dataset of unknown or infinite length: expected a finite dataset, so "
                             "that the learning-rate schedule knows how many steps the run has")
        return steps
    n = _n_samples(x)
    n_train = n - int(n * validation_split)  # Keras holds out the last fraction
    if n_train < 1:
        raise ValueError(f"x has {n} samples: expected at least one training sample after validation_split")
    return math.ceil(n_train / batch_size)


class TimeLimit(keras.callbacks.Callback):
    """Stop after the epoch at which one more epoch, at the mean pace so far, would pass max_seconds."""

    def __init__(self, max_seconds: float):
        super().__init__()
        self.max_seconds = positive_float(max_seconds, "max_seconds")
        self.t0, self.ends = time.perf_counter(), []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Ask the model to stop when the next epoch would end past the limit."""
        self.ends.append(time.perf_counter() - self.t0)
        if self.ends[-1] * (len(self.ends) + 1) / len(self.ends) > self.max_seconds:
            self.model.stop_training = True


class JointLossModel(keras.Model):
    """A model trained on the sum of the losses its `compute_losses(x, targets, training)` returns, each logged.

    The R-CNNs of notebooks 10 and 12 and TrackNet of notebook 13: one optimizer step on the sum
    (approximate joint training), every loss tracked by name in `self.trackers` ("loss": the sum),
    which the subclass makes with `make_trackers(loss_names)`. TensorFlow's GradientTape, because
    their proposals come from TensorFlow's NMS.
    """

    def make_trackers(self, loss_names: Sequence[str]) -> None:
        """One running mean per loss and one for their sum, logged by fit() under the same names."""
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("loss", *loss_names)}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compute_losses(self, x, targets, training: bool = True) -> dict:
        """The named losses of a batch (the subclass's)."""
        raise NotImplementedError(f"{type(self).__name__} must define compute_losses")

    def _log(self, losses: dict, total) -> dict:
        for name, value in {"loss": total, **losses}.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf

        x, targets = data
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, targets, training=True)
            total = tf.add_n(list(losses.values()))
            scaled = self.optimizer.scale_loss(total)  # mixed_float16: Keras's loss scale (1 otherwise)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._log(losses, total)

    def test_step(self, data):
        x, targets = data
        losses = self.compute_losses(x, targets, training=False)
        return self._log(losses, sum(losses.values()))


class StepLog(keras.callbacks.Callback):
    """Each training step's value of the logged quantities (`steps[name]`), not Keras' running mean of the epoch.

    After batch k of an epoch Keras logs the mean m_k of its first k values, so step k's own value
    is k m_k - (k - 1) m_(k-1).
    """

    def __init__(self, names: Sequence[str]):
        super().__init__()
        if isinstance(names, str) or not names:
            raise ValueError(f"names={names!r}: expected a non-empty sequence of logged names, e.g. ['loss']")
        self.steps: dict[str, list[float]] = {str(n): [] for n in names}
        self._previous: dict[str, float] = {}

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Recover this step's values from the running means."""
        logs = logs or {}
        missing = [n for n in self.steps if n not in logs]
        if missing:
            raise KeyError(f"{missing} not in the logs: expected among {sorted(logs)}")
        k = batch + 1
        for name, values in self.steps.items():
            mean = float(logs[name])
            values.append(mean * k - (self._previous[name] * (k - 1) if k > 1 else 0.0))
        self._previous = {name: float(logs[name]) for name in self.steps}


class Progress(keras.callbacks.Callback):
    """One live line while a run trains (epoch k/n, its loss, the time so far and left), then one summary line.

    `train` adds it to every run, so a training cell is never silent and its committed output holds
    the summary, not an epoch-by-epoch log (`utils.course.progress.LiveLine`).
    """

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = positive_int(epochs, "epochs")
        self.t0 = time.perf_counter()
        self.line = LiveLine()
        self._epoch = 0

    def _status(self, logs: dict | None, step: int | None = None) -> str:
        elapsed = time.perf_counter() - self.t0
        done = self._epoch + (0 if step is None else (step + 1) / max(self.params.get("steps") or 1, 1))
        where = f"epoch {self._epoch + 1}/{self.epochs}" if step is not None else f"epoch {self._epoch}/{self.epochs}"
        if step is not None and self.params.get("steps"):
            where += f", step {step + 1}/{self.params['steps']}"
        values = "".join(f" | {k} {float(v):.4g}" for k, v in (logs or {}).items())
        left = f", about {duration(elapsed / done * (self.epochs - done))} left" if done > 0 else ""
        return f"{where}{values} | {duration(elapsed)}{left}"

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Redraw the line mid-epoch (at most twice a second: reading the logs waits for the step)."""
        if self.line.due():
            self.line.update(self._status(logs, batch))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        self.line.update(self._status(logs), force=self.line.in_place)

    def finish(self, run: Trained) -> None:
        """Replace the live line with the run's summary."""
        planned = "" if run.epochs == self.epochs else f" of {self.epochs} planned"
        values = ", ".join(f"{k} {v[-1]:.4g}" for k, v in run.history.items() if v)
        self.line.close(f"trained {run.epochs} epoch(s){planned}, {run.steps:,} steps, in {duration(run.seconds)}"
                        + (f": {values}" if values else ""))


class SaveState(keras.callbacks.Callback):
    """After every epoch, the weights and the optimizer's state (its step, Adam's moments) to one resume file.

    Written to a temporary name and renamed over the old file, so a run stopped mid-write leaves the last
    epoch's state. `train(state=PATH)` writes it and continues from it.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = resume_path(path)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name.removesuffix('.weights.h5')}.partial.weights.h5")
        self.model.save_weights(partial)
        os.replace(partial, self.path)


def resume_path(path: str | Path) -> Path:
    """A resume file's path, which Keras wants to end in .weights.h5."""
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"state={str(path)!r}: expected a file name ending in .weights.h5")
    return path


def _continue(model: keras.Model, path: Path, steps_per_epoch: int, epochs: int) -> int:
    """Load a resume file's weights and optimizer state into the compiled model; return the epochs it had done."""
    if not path.exists():
        return 0
    model.optimizer.build(model.trainable_variables)
    model.load_weights(path)
    steps_done = int(keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(model.optimizer.iterations)))
    if steps_done % steps_per_epoch or steps_done > epochs * steps_per_epoch:
        raise ValueError(f"{path} holds {steps_done} optimizer steps: expected whole epochs of {steps_per_epoch} "
                         f"steps, at most {epochs} (another run's state?)")
    return steps_done // steps_per_epoch


def is_dataset(x: Any) -> bool:
    """Whether x is a tf.data.Dataset (which batches and shuffles itself); False wherever TensorFlow is not loaded."""
    tf = sys.modules.get("tensorflow")  # under the JAX backend TensorFlow may not even be installed
    return tf is not None and isinstance(x, tf.data.Dataset)


def optimizer(learning_rate: float, total_steps: int, schedule: str = "cosine", alpha: float = 0.0,
              clipnorm: float | None = None) -> keras.optimizers.Optimizer:
    """Adam with a learning rate that decays along a cosine to alpha * learning_rate over total_steps (or stays)."""
    rate = positive_float(learning_rate, "learning_rate")
    if one_of(schedule, "schedule", SCHEDULES) == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, positive_int(total_steps, "total_steps"),
                                                      alpha=number_in(alpha, "alpha", 0.0, 1.0))
    return keras.optimizers.Adam(rate, clipnorm=None if clipnorm is None else positive_float(clipnorm, "clipnorm"))


def train(model: keras.Model, x: Any, y: Any = None, *, loss: Any, epochs: int, batch_size: int = 32,
          learning_rate: float = 1e-3, schedule: str = "cosine", alpha: float = 0.0, clipnorm: float | None = None,
          loss_weights: Any = None, metrics: Any = None, validation_data: Any = None, validation_split: float = 0.0,
          callbacks: Sequence[keras.callbacks.Callback] = (), max_seconds: float | None = None,
          progress: bool = True, ahead: bool = False, jit_compile: bool | str = "auto",
          state: str | Path | None = None) -> Trained:
    """Compile model with Adam (see `optimizer`) and fit it for `epochs`; return its history and wall time.

    x: arrays (with targets y), a finite tf.data.Dataset (y None), or a function epoch -> (x, y) of
    fresh training pairs for each epoch. The cosine schedule spans every step of the run. With
    max_seconds, the run stops after the epoch at which one more epoch (at the mean pace) would pass it.
    progress=False drops the live line and the summary (for a fit that is a step of a measurement, such as
    a linear probe, not a training the reader waits for).
    ahead=True (x a function of the epoch): epoch k + 1 is drawn in a background thread while epoch k
    trains, so that the host's sampling overlaps the device's training (tf.data's prefetch, at the grain of
    an epoch). x is still called once per epoch, in order, never twice at once: the same pairs as without.
    jit_compile: Keras's; "auto" compiles with XLA on a GPU and not on a CPU (where it measured slower).
    state: a resume file (NAME.weights.h5), kept apart from the shipped checkpoint, that holds the weights
    and the optimizer's state after each epoch. If it exists, the run continues from it: the weights, Adam's
    moments and its step are loaded, and the remaining epochs of the same `epochs` follow on the same
    schedule, so a run stopped and continued takes the steps an uninterrupted run takes (the same weights
    where each epoch's data depends on the epoch alone). The returned history covers this call's epochs.
    """
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    validation_split = number_in(validation_split, "validation_split", 0.0, 1.0, high_open=True)
    fresh = callable(x) and not is_dataset(x)
    if (fresh or is_dataset(x)) and y is not None:
        raise ValueError("y is given but x is a dataset or a function epoch -> (x, y): expected x to hold the targets")
    if ahead and not fresh:
        raise ValueError("ahead=True draws the next epoch while this one trains: expected x to be a function "
                         "epoch -> (x, y)")
    if not (jit_compile == "auto" or isinstance(jit_compile, bool)):
        raise ValueError(f"jit_compile={jit_compile!r}: expected True, False or 'auto'")
    t0 = time.perf_counter()
    first = x(0) if fresh else None
    steps = epochs * _steps_per_epoch(first[0] if fresh else x, batch_size, validation_split)
    model.compile(optimizer=optimizer(learning_rate, steps, schedule, alpha, clipnorm), loss=loss,
                  loss_weights=loss_weights, metrics=metrics, jit_compile=jit_compile)
    done = 0 if state is None else _continue(model, resume_path(state), steps // epochs, epochs)
    shown = Progress(epochs) if progress else None
    callbacks = [*callbacks, *([SaveState(state)] if state is not None else []),
                 *([TimeLimit(max_seconds)] if max_seconds is not None else []), *([shown] if shown else [])]
    kwargs = {"validation_data": validation_data, "validation_split": validation_split, "callbacks": callbacks,
              "verbose": 0}
    run = Trained(start_epoch=done)
    if not fresh:
        # a dataset batches and shuffles itself (fit's batch_size and shuffle apply only to arrays)
        kwargs.update(batch_size=None, shuffle=False) if is_dataset(x) else kwargs.update(batch_size=batch_size)
        fitted = model.fit(x, y, epochs=epochs, initial_epoch=done, **kwargs) if done < epochs else None
        run.history = {k: [float(v) for v in vs] for k, vs in (fitted.history.items() if fitted else ())}
    drawing, following = ThreadPoolExecutor(1) if ahead else None, None
    try:
        for epoch in range(done, epochs if fresh else 0):
            data = first if epoch == 0 else following.result() if following else x(epoch)
            following = drawing.submit(x, epoch + 1) if drawing and epoch + 1 < epochs else None
            hist = model.fit(*data, batch_size=batch_size, initial_epoch=epoch, epochs=epoch + 1, **kwargs)
            for key, values in hist.history.items():
                run.history.setdefault(key, []).extend(float(v) for v in values)
            if model.stop_training:
                break
    finally:
        if drawing:
            drawing.shutdown(cancel_futures=True)
    run.seconds = time.perf_counter() - t0
    # through a tensor: under a distribution strategy the variable is mirrored, and NumPy cannot read it directly
    run.steps = int(keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(model.optimizer.iterations)))
    if shown:
        shown.finish(run)
    return run
