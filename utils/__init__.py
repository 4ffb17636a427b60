"""Shared code of the course "CNNs beyond classification".

Importing the package is cheap: TensorFlow and Keras load only in the modules that need them,
so that `python -m utils.course list` answers at once.
"""

__version__ = "0.1.0"
