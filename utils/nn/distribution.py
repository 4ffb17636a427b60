"""Data-parallel training on the backend's own engine: TensorFlow's distribution strategies, Keras's under JAX.

One choice for a whole training process (`python -m utils.train MODEL --distribution mirrored`), made before
any model is built:

- "none": one device, as everywhere in the notebooks (and again after another choice: notebook 15 trains
  the same model on one device and on two);
- "mirrored": every GPU of this machine (every logical device where there is none), one replica each:
  `tf.distribute.MirroredStrategy` under TensorFlow, `keras.distribution.DataParallel` under JAX;
- "multi_worker": several machines, each with its replicas, described by the `TF_CONFIG` environment
  variable (`tf.distribute.MultiWorkerMirroredStrategy`; TensorFlow only).

The batch size given to `utils.nn.training.train` is then the *global* batch, split across the replicas, and
the learning rate and its schedule are stated per global batch: the same command on 1 or 2 replicas takes the
same optimizer steps on the same data, so its checkpoints are comparable.
"""

from __future__ import annotations

import os
import sys

from utils.course.checks import one_of

DISTRIBUTIONS = ("none", "mirrored", "multi_worker")
_MIRRORED: dict = {}  # the MirroredStrategy of each set of devices, made once per process


def use_distribution(kind: str, devices: list[str] | None = None) -> int:
    """Make `kind` (DISTRIBUTIONS) the distribution of every model built and trained from now on in this process;
    return the number of replicas that share each global batch. devices: the devices to mirror over (default:
    the GPUs, or the CPU's logical devices where there is no GPU)."""
    kind = one_of(kind, "distribution", DISTRIBUTIONS)
    import keras

    backend = keras.backend.backend()
    if kind == "none":  # one device again, where an earlier call of this process chose another distribution
        if backend == "jax" and keras.distribution.distribution() is not None:
            keras.distribution.set_distribution(None)
        if backend == "tensorflow" and "tensorflow" in sys.modules:
            sys.modules["tensorflow"].distribute.experimental_set_strategy(None)
        return 1
    if backend == "jax":
        if kind == "multi_worker":
            raise ValueError("distribution='multi_worker' runs on TensorFlow's engine: set KERAS_BACKEND=tensorflow "
                             "(under JAX, start jax.distributed and use 'mirrored' on each process)")
        chosen = keras.distribution.list_devices("gpu") or keras.distribution.list_devices("cpu")
        data_parallel = keras.distribution.DataParallel(devices=devices or chosen)
        keras.distribution.set_distribution(data_parallel)
        return len(devices or chosen)
    if backend != "tensorflow":
        raise ValueError(f"distribution={kind!r} under the {backend} backend: expected tensorflow or jax")
    import tensorflow as tf

    if kind == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("distribution='multi_worker' needs TF_CONFIG, the cluster and this worker's place in "
                             "it (README: Several GPUs or machines)")
        strategy = _reduce_scalars_and_tuples(tf.distribute.MultiWorkerMirroredStrategy())
    else:
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        chosen = tuple(devices or gpus or cpus)
        # one strategy per set of devices and process: a second MirroredStrategy over the same devices aborted
        # its all-reduce with a collective shape mismatch (measured; one likely reason, not tested: its
        # collective keys clash with the first one's)
        if chosen not in _MIRRORED:
            _MIRRORED[chosen] = tf.distribute.MirroredStrategy(devices=list(chosen))
        strategy = _MIRRORED[chosen]
    tf.distribute.experimental_set_strategy(strategy)
    return int(strategy.num_replicas_in_sync)


def _reduce_scalars_and_tuples(strategy):
    """`strategy.reduce` as Keras 3 calls it under MultiWorkerMirroredStrategy, which as shipped fails in `fit`.

    Keras reduces a whole (x, y) batch at once before the first step (the strategy's reduce takes one
    value, not a tuple) and each step's scalar losses with axis=0 (a scalar has no axis 0); keras-team/keras
    issue 20585, open. This reduces each value of a structure alone, along axis 0 only where it has one. The
    test with two workers on localhost checks that the weights then equal those of one device.
    """
    import tensorflow as tf

    reduce = strategy.reduce

    def rank(value) -> int:
        return (value.values[0] if hasattr(value, "values") else value).shape.rank

    def each(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda v: reduce(reduce_op, v, axis if rank(v) else None), value)

    strategy.reduce = each
    return strategy


def split_cpu(count: int) -> None:
    """Show TensorFlow's CPU as `count` logical devices (a stand-in for several GPUs, to test and teach data
    parallelism on a laptop). Must run before TensorFlow first uses a device."""
    from utils.course.checks import int_at_least

    count = int_at_least(count, "count", 1)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def description(kind: str, replicas: int) -> dict:
    """The provenance entry of a run's distribution: {"strategy", "replicas"}."""
    import keras

    engine = {"none": "one device", "mirrored": "MirroredStrategy" if keras.backend.backend() == "tensorflow"
              else "keras.distribution.DataParallel", "multi_worker": "MultiWorkerMirroredStrategy"}[kind]
    return {"strategy": engine, "replicas": replicas}
