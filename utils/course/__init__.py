"""Running the course: session start, modes, paths, results, the runner, checks and checkpoints.

`python -m utils.course list | run [--quick] [NN ...] | results` (see `utils.course.runner`).
"""
