"""One call at the top of every notebook: quiet TensorFlow, fix the seeds, report versions, device and mode."""

from __future__ import annotations

import os
import platform
import time

from utils.course.checks import int_at_least
from utils.course.modes import by_mode, mode

_STATE: dict[str, object] = {}


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ and Python log noise; call it before TensorFlow is first imported.

    TensorFlow 2.21 writes its start-up lines (oneDNN, CUDA probing) through absl before any
    environment variable can stop them, so the import itself runs with file descriptor 2
    pointed at /dev/null; errors raised by the import still surface as Python exceptions.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import logging
    import sys

    if os.environ["KERAS_BACKEND"] == "tensorflow" and "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def device_description() -> str:
    """The accelerator Keras will use, or the CPU with its core count, in words."""
    import keras

    backend = keras.backend.backend()
    gpus: list[str] = []
    if backend == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            gpus.append(details.get("device_name", gpu.name))
    elif backend == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    if gpus:
        return f"GPU: {', '.join(gpus)}"
    return f"CPU: {platform.machine()}, {os.cpu_count()} cores"


def start(notebook: str, seed: int = 0, logical_cpus: int = 1) -> dict[str, str]:
    """Start a notebook: quiet TF, fix all seeds, remember the start time, print versions, device, mode.

    logical_cpus > 1 shows TensorFlow's CPU as that many logical devices (`utils.nn.distribution.split_cpu`),
    before anything runs on it: notebook 15 trains data-parallel on them.

    On a CPU it also measures the machine's speed (`utils.course.speed.cpu_gflops`, about a second
    in full mode), which `utils.course.results.record` writes beside the notebook's wall time.
    """
    from utils.course.speed import REFERENCE_GFLOPS, cpu_gflops

    quiet_tensorflow()
    import keras

    if int_at_least(logical_cpus, "logical_cpus", 1) > 1:
        from utils.nn.distribution import split_cpu

        split_cpu(logical_cpus)
    _STATE.clear()
    _STATE.update(notebook=notebook, t0=time.perf_counter())
    info = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "device": device_description(),
        "mode": mode(),
    }
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
    _STATE["device"] = info["device"]
    versions = f"Python {info['python']} | Keras {info['keras']} ({info['backend']})"
    if "tensorflow" in info:
        versions += f" | TensorFlow {info['tensorflow']}"
    print(versions)
    print(f"device: {info['device']} | mode: {info['mode']} | seed: {seed}")
    if not info["device"].startswith("GPU"):
        _STATE["cpu_gflops"] = cpu_gflops(by_mode(1.0, 0.25))
        print(f"CPU speed now: {_STATE['cpu_gflops']:.0f} GFLOP/s (float32 matmul; the course's time budgets "
              f"are stated for {REFERENCE_GFLOPS:.0f})")
    keras.utils.set_random_seed(seed)  # after the benchmark, so that the notebook's random numbers do not depend on it
    if info["mode"] == "quick":
        print("quick mode: tiny sizes that prove every cell runs; its numbers are not representative.")
    return info


def elapsed() -> float:
    """Seconds since start() in this kernel."""
    if "t0" not in _STATE:
        raise RuntimeError("utils.course.session.start(notebook) has not been called in this kernel")
    return time.perf_counter() - float(_STATE["t0"])  # type: ignore[arg-type]


def current() -> dict[str, object]:
    """The notebook name, device and (on a CPU) cpu_gflops recorded by start()."""
    if "notebook" not in _STATE:
        raise RuntimeError("utils.course.session.start(notebook) has not been called in this kernel")
    return dict(_STATE)
