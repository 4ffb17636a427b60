"""Data-parallel training (utils.nn.distribution) on the CPU split into two logical devices: one training step on
a global batch gives on 2 replicas the weights it gives on 1 device, and a model trained on 2 loads on 1."""

import json
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
tf.distribute.experimental_set_strategy(None)
three = build()
three.load_weights(path)
print(json.dumps({
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
