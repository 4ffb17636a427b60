"""How fast this machine is right now, so that a slow day is a number and not a story (COURSE.md, Time budgets).

A fixed benchmark, float32 matrix products through the course's backend (`keras.ops.matmul`),
gives `cpu_gflops`; a wall time t measured alongside it is reported as
`wall_s_normalized = t x cpu_gflops / 144`, the time the same work would take on this machine kind
on a quiet day (144 GFLOP/s). On a GPU the CPU's speed says little about the run, so nothing is
normalized there.
"""

from __future__ import annotations

import statistics
import time

from utils.course.checks import number_in, positive_float, positive_int

REFERENCE_GFLOPS = 144.0  # this machine kind (2 cores) on a quiet day: what every budget is stated for
BENCHMARK_SIZE = 1024     # one product of two 1024 x 1024 float32 matrices: 2.1 GFLOP


def cpu_gflops(seconds: float = 1.0, size: int = BENCHMARK_SIZE) -> float:
    """The median speed, in GFLOP/s, of repeated size x size float32 matrix products on the CPU for about `seconds`.

    The median (not the best) of the repetitions, so that a CPU shared with other work shows as slower,
    which is what the times measured beside it feel.
    """
    seconds = positive_float(seconds, "seconds")
    size = positive_int(size, "size")
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (keras.ops.convert_to_tensor(rng.standard_normal((size, size), dtype=np.float32)) for _ in range(2))
    flop = 2.0 * size**3

    def timed() -> float:
        t0 = time.perf_counter()
        np.asarray(keras.ops.matmul(a, b))  # to NumPy: the product is computed, not only scheduled
        return time.perf_counter() - t0

    timed()  # the first call pays for kernel selection and thread start-up
    times, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 3:
        times.append(timed())
    return flop / statistics.median(times) / 1e9


def accelerator() -> str | None:
    """The GPU Keras will use, in words, or None on a CPU."""
    from utils.course.session import device_description

    device = device_description()
    return device if device.startswith("GPU") else None


def normalized(wall_s: float, gflops: float) -> float:
    """wall_s as it would be on the reference machine: wall_s x gflops / REFERENCE_GFLOPS."""
    return number_in(wall_s, "wall_s", 0.0) * positive_float(gflops, "gflops") / REFERENCE_GFLOPS
