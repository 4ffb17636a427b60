"""Data-parallel training (utils.nn.distribution) on the CPU split into two logical devices: one training step on
a global batch gives on 2 replicas the weights it gives on 1 device, and a model trained on 2 loads on 1; the same
for two worker processes on localhost (MultiWorkerMirroredStrategy from TF_CONFIG)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from utils.course.paths import repo_root

# Logical devices must be set before TensorFlow first uses a device: each case runs in a fresh Python.
SCRIPT = """
import json, sys
import numpy as np
from utils.course.session import quiet_tensorflow
quiet_tensorflow()
from utils.nn.distribution import split_cpu, use_distribution
split_cpu(2)
import keras
import tensorflow as tf
from utils.nn.training import train

def build():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])

rng = np.random.default_rng(0)
x, y = rng.normal(size=(16, 8, 8, 1)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
kwargs = dict(loss="mse", epochs=1, batch_size=8, learning_rate=1e-2, schedule="constant")  # 2 steps of 8
start = [w.copy() for w in build().get_weights()]
one = build()
train(one, x, y, **kwargs)
replicas = use_distribution("mirrored")
two = build()
mirrored = isinstance(two.weights[0].value, tf.distribute.DistributedValues)
train(two, x, y, **kwargs)
path = sys.argv[1]
two.save_weights(path)
predicted_two = np.asarray(two.predict(x, verbose=0))
use_distribution("none")                    # one device again
single_again = not tf.distribute.has_strategy()
three = build()
three.load_weights(path)
use_distribution("mirrored")                # a second mirrored run in the same process (notebook 15)
four = build()
train(four, x, y, **kwargs)
use_distribution("none")
print(json.dumps({
    "single_again": single_again,
    "second_run": float(max(np.abs(a - b).max() for a, b in zip(one.get_weights(), four.get_weights()))),
    "replicas": replicas, "mirrored": bool(mirrored),
    "moved": float(max(np.abs(a - b).max() for a, b in zip(start, one.get_weights()))),
    "one_vs_two": float(max(np.abs(a - b).max() for a, b in zip(one.get_weights(), two.get_weights()))),
    "reloaded": float(np.abs(np.asarray(three.predict(x, verbose=0)) - predicted_two).max()),
}))
"""


def test_two_replicas_take_the_same_steps_as_one_device_and_their_model_loads_on_one(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "two.weights.h5")], cwd=repo_root(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["mirrored"]                # two replicas, variables mirrored on both
    assert result["moved"] > 1e-3                                         # the steps changed the weights ...
    assert result["one_vs_two"] < 1e-5                                    # ... the same way on 1 and on 2 replicas
    assert result["reloaded"] < 1e-6
    assert result["single_again"]                                         # "none" leaves the strategy
    assert result["second_run"] < 1e-5                                    # a second strategy run agrees too


# Two steps of a global batch of 8, on one device ("none") or as one of two workers ("multi_worker").
WORKER = """
import sys
import numpy as np
from utils.course.session import quiet_tensorflow
quiet_tensorflow()
import keras
from utils.nn.distribution import use_distribution
from utils.nn.training import train

replicas = use_distribution(sys.argv[1])
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                          keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])
start = model.get_weights()
rng = np.random.default_rng(0)
x, y = rng.normal(size=(16, 8, 8, 1)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
train(model, x, y, loss="mse", epochs=1, batch_size=8, learning_rate=1e-2, schedule="constant", progress=False)
np.savez(sys.argv[2], replicas=replicas, *start, *model.get_weights())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_on_localhost_take_the_same_steps_as_one_device(tmp_path):
    import numpy as np

    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    runs = {}
    for name, kind, index in (("worker0", "multi_worker", 0), ("worker1", "multi_worker", 1), ("one", "none", None)):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        if index is None:
            env.pop("TF_CONFIG")
        runs[name] = subprocess.Popen([sys.executable, "-c", WORKER, kind, str(tmp_path / f"{name}.npz")],
                                      cwd=repo_root(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
    for name, run in runs.items():
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, f"{name}: {err[-3000:]}"
    saved = {name: np.load(tmp_path / f"{name}.npz") for name in runs}
    assert [int(saved[n]["replicas"]) for n in runs] == [2, 2, 1]        # each worker one replica of two
    weights = {n: [saved[n][f"arr_{i}"] for i in range(8)] for n in runs}  # 4 arrays before, 4 after
    moved = max(np.abs(a - b).max() for a, b in zip(weights["one"][:4], weights["one"][4:]))
    assert moved > 1e-3                                                   # the steps changed the weights ...
    for worker in ("worker0", "worker1"):                                 # ... alike on 2 workers and on 1 device
        assert max(np.abs(a - b).max() for a, b in zip(weights[worker][4:], weights["one"][4:])) < 1e-5


def test_bad_distributions_are_refused(monkeypatch):
    from utils.nn.distribution import use_distribution

    with pytest.raises(ValueError, match="distribution='ring'"):
        use_distribution("ring")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        use_distribution("multi_worker")


def test_every_training_command_takes_the_distribution(capsys):
    from utils.train import main

    for model in ("dncnn", "vnet", "faster_rcnn", "tracknet", "scene_losses"):
        with pytest.raises(SystemExit):
            main([model, "--distribution", "ring"])
        assert "--distribution: invalid choice: 'ring'" in capsys.readouterr().err   # known, with its choices
        if model == "scene_losses":
            continue                    # a study of several runs: float32, as the notebooks compare them
        with pytest.raises(SystemExit):
            main([model, "--precision", "half"])
        assert "--precision: invalid choice: 'half'" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main([model, "--jit-compile", "yes"])
        assert "--jit-compile: invalid choice: 'yes'" in capsys.readouterr().err
